//! One crawl record → the rows it contributes to the index. Pure computation.

use provindex_corpus::html::{Extracted, TagView, TokenObserver, TokenSinkResult};
use provindex_corpus::{DocKind, Framing, ReaderOptions, SourceDoc};
use provindex_index::NewContent;
use provindex_index::records::{self, CaptureRecord, LicenseRecord, SignalRecord};
use provindex_signals::{HtmlScanner, HtmlTag, LicenseClass, LicenseFinding, Signal, Verdict};
use provindex_sketch::{MinHasher, SketchSpec};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Bytes of normalized text kept as a content preview (cut at a character
/// boundary): enough to recognize a text — about 64 Latin or 21 Chinese
/// characters, ten words or so — without the index holding the text itself.
/// 64, not 120 (index format 9): the preview was most of `contents`.
const PREVIEW_BYTES: usize = 64;

/// What one record contributes, computed off the writer thread.
#[derive(Debug, Clone)]
pub struct PreparedCapture {
    pub capture_id: u128,
    pub record: CaptureRecord,
    /// The distinct text, when the record had any after normalization.
    pub content: Option<NewContent>,
    /// For revisits: how to find the original (resolved after all input is read).
    pub revisit: Option<RevisitRef>,
    /// Why the URL has no SURT key, when it has none.
    pub url_error: Option<String>,
    /// robots.txt / tdmrep.json / ai.txt body, for the site-signal pass.
    pub site_file: Option<crate::site_signals::SiteFile>,
    /// The content's MinHash signature and LSH band keys (with `content`,
    /// when the normalized text has at least one word).
    pub sketch: Option<PreparedSketch>,
}

/// A content's near-duplicate sketch, computed in the reader threads.
#[derive(Debug, Clone)]
pub struct PreparedSketch {
    /// [`provindex_sketch::Signature::to_bytes`]: K values, 4 bytes big-endian each.
    pub signature: Vec<u8>,
    /// One key per LSH band, in band order.
    pub band_keys: Vec<u64>,
}

/// The hasher for the default [`SketchSpec`] (normalization version 2 since
/// issue 16), built once per process. Its spec's `normalization_version` is
/// the one [`prepare_with`] normalizes with and the manifest records.
pub fn default_hasher() -> &'static MinHasher {
    static HASHER: OnceLock<MinHasher> = OnceLock::new();
    HASHER.get_or_init(|| {
        // The default spec is valid by construction (a sketch crate test checks it).
        MinHasher::new(&SketchSpec::default()).expect("the default sketch spec is valid")
    })
}

/// What a revisit record says about the record it repeats.
#[derive(Debug, Clone, Default)]
pub struct RevisitRef {
    /// capture_id of WARC-Refers-To, when present.
    pub refers_to_capture: Option<u128>,
    pub payload_digest: Option<String>,
    /// SURT of WARC-Refers-To-Target-URI (or the revisit's own URL) and the
    /// original's capture time from WARC-Refers-To-Date, when parseable.
    pub target: Option<(String, Option<i64>)>,
}

/// `capture_id` = xxh3-128 of the WARC-Record-ID (or of `url date` for inputs without one).
pub fn capture_id_for(record_id: Option<&str>, url: &str, date_raw: &str) -> u128 {
    match record_id {
        Some(id) if !id.is_empty() => xxhash_rust::xxh3::xxh3_128(id.as_bytes()),
        _ => xxhash_rust::xxh3::xxh3_128(format!("{url} {date_raw}").as_bytes()),
    }
}

/// What a scan task extracts besides text and sketches; part of each task's
/// job spec, so two jobs in one worker never see each other's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// License and opt-out extraction (HTTP headers, `analyze_html`, site
    /// files). Off only for `provindex index --no-signals`, which measures
    /// what extraction costs: every capture then says `unknown`.
    pub extract_signals: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            extract_signals: true,
        }
    }
}

/// Reader options for [`prepare_with`]. With signal extraction on, the
/// reader leaves HTML payloads to `prepare_with`, which extracts their text
/// and scans them for the license and opt-out signals in one tokenizer pass
/// ([`extract_html`]); with it off, the reader extracts the text itself.
pub fn reader_options(options: ScanOptions) -> ReaderOptions {
    ReaderOptions {
        html_text: !options.extract_signals,
        keep_html: false,
        ..ReaderOptions::default()
    }
}

/// Feeds the HTML→text extractor's tokens to the signals scanner.
struct SignalsObserver(HtmlScanner);

impl TokenObserver for SignalsObserver {
    fn start_tag(&mut self, tag: &TagView<'_>, next: &TokenSinkResult<()>) {
        self.0.start_tag(&ScanTag(tag), next);
    }
    fn end_tag(&mut self, tag: &TagView<'_>) {
        self.0.end_tag(&ScanTag(tag));
    }
    fn text(&mut self, text: &str) {
        self.0.text(text);
    }
    fn end(&mut self) {}
}

/// The extractor's tag as the signals scanner reads it (borrowed: no
/// attribute is decoded unless the scanner asks for it).
struct ScanTag<'t, 'a>(&'t TagView<'a>);

impl HtmlTag for ScanTag<'_, '_> {
    fn name(&self) -> &str {
        self.0.name
    }
    fn self_closing(&self) -> bool {
        self.0.self_closing
    }
    fn attr(&self, name: &str) -> Option<Cow<'_, str>> {
        self.0.attr(name)
    }
    fn for_each_attr(&self, f: &mut dyn FnMut(&str, &str)) {
        for (name, value) in self.0.attrs() {
            f(&name, &value);
        }
    }
    fn for_role_id_class(&self, f: &mut dyn FnMut(usize, &str)) {
        self.0
            .for_each_named(["role", "id", "class"], |k, value| f(k, &value));
    }
}

/// One tokenizer pass over an HTML page: its text (as
/// [`provindex_corpus::html::extract`] gives it) and its license and HTML
/// opt-out signals (as [`provindex_signals::analyze_html`] gives them).
pub fn extract_html(
    html: &str,
    page_url: Option<&str>,
) -> (Extracted, LicenseFinding, Vec<Signal>) {
    let mut observer = SignalsObserver(HtmlScanner::new(page_url));
    let extracted = provindex_corpus::html::extract_observed(html, &mut observer);
    let (finding, signals) = observer.0.finish();
    (extracted, finding, signals)
}

/// [`prepare_with`] the default sketch spec's hasher and signals extracted.
pub fn prepare(doc: SourceDoc, crawl: &str) -> PreparedCapture {
    prepare_with(doc, crawl, default_hasher(), ScanOptions::default())
}

/// One record → its rows, with MinHash sketches made by `hasher`.
pub fn prepare_with(
    doc: SourceDoc,
    crawl: &str,
    hasher: &MinHasher,
    options: ScanOptions,
) -> PreparedCapture {
    prepare_keyed(doc, crawl, hasher, options, None)
}

/// [`prepare_with`], also hashing each personal identifier in the text
/// under `pii_key` (the job's `--pii-key`) into the content's
/// [`NewContent::pii_keys`]. PII counts are detected with or without a key.
pub fn prepare_keyed(
    mut doc: SourceDoc,
    crawl: &str,
    hasher: &MinHasher,
    options: ScanOptions,
    pii_key: Option<&[u8]>,
) -> PreparedCapture {
    let url = doc.url.clone().unwrap_or_default();
    let extract_signals = options.extract_signals;
    // An HTML page the reader left to us ([`reader_options`]): text, license
    // and HTML signals from one tokenizer pass.
    let mut html_findings = None;
    // (`html` stays: a site file served as HTML is kept with its markup.)
    let extracted = match doc.html.as_deref() {
        Some(html) if doc.text.is_none() => Some(if extract_signals {
            let (extracted, finding, signals) = extract_html(html, Some(&url));
            html_findings = Some((finding, signals));
            extracted
        } else {
            provindex_corpus::html::extract(html)
        }),
        _ => None,
    };
    if let Some(extracted) = extracted {
        doc.text = Some(extracted.text);
        doc.title = extracted.title;
        if doc.language.is_none() {
            doc.language = extracted.lang;
        }
    }
    let date_raw = doc.date_raw.clone().unwrap_or_default();
    let capture_id = capture_id_for(doc.record_id.as_deref(), &url, &date_raw);
    let (surt, url_error) = match provindex_signals::surt(&url) {
        Ok(surt) => (Some(surt), None),
        Err(error) => (None, Some(format!("{url:?}: {error}"))),
    };
    let site_file = extract_signals
        .then(|| crate::site_signals::site_file(&doc, surt.as_ref()))
        .flatten();

    let mut sketch = None;
    let content = doc.text.as_deref().and_then(|text| {
        // The spec's version drives normalization, token counting and (for
        // version 2, by folding) the signature: one version per index.
        let version = hasher.spec().normalization_version;
        let normalized = provindex_sketch::normalize_with(version, text);
        if normalized.is_empty() {
            return None;
        }
        sketch = hasher
            .signature(&normalized)
            .map(|signature| PreparedSketch {
                band_keys: hasher.band_keys(&signature),
                signature: signature.to_bytes(),
            });
        // PII is detected in the extracted text, not the normalized one:
        // normalization turns `@`, `+` and `-` into separators.
        let mut pii_keys = Vec::new();
        let findings = provindex_policy::pii::detect_each(text, |kind, canonical| {
            if let Some(key) = pii_key {
                pii_keys.push(provindex_policy::pii::pii_key(key, kind, canonical));
            }
        });
        Some(NewContent {
            pii: (&findings).into(),
            pii_keys,
            content_id: provindex_sketch::content_id(&normalized).0,
            sha256: provindex_sketch::sha256(&normalized),
            length_bytes: normalized.len() as u64,
            token_count: u64::from(provindex_sketch::token_count_with(version, &normalized)),
            preview: preview(&normalized).to_owned(),
            // From the text alone, so every capture of a content agrees.
            language: provindex_sketch::detect_language(text)
                .unwrap_or_default()
                .to_owned(),
            // Known at the build stage, from the components stage's clusters.
            cluster: None,
        })
    });

    // The preview is stored: never with an identifier in clear. Redacted
    // text, cut to no more bytes than the unredacted preview.
    let content = content.map(|mut content| {
        if let Some(text) = doc.text.as_deref()
            && content.pii != provindex_index::records::PiiCounts::default()
        {
            let version = hasher.spec().normalization_version;
            let redacted = provindex_sketch::normalized_prefix(
                version,
                &provindex_policy::pii::redact(text),
                content.preview.len(),
            );
            let mut end = redacted.len().min(content.preview.len());
            while !redacted.is_char_boundary(end) {
                end -= 1;
            }
            content.preview = redacted[..end].to_owned();
        }
        content
    });

    let revisit = (doc.kind == DocKind::Revisit).then(|| {
        let target_url = doc.refers_to_target_uri.as_deref().unwrap_or(&url);
        let target_time = doc
            .refers_to_date
            .as_deref()
            .and_then(|raw| provindex_corpus::date::parse_warc_date(raw).ok());
        RevisitRef {
            refers_to_capture: doc
                .refers_to
                .as_deref()
                .map(|id| capture_id_for(Some(id), "", "")),
            payload_digest: doc.payload_digest.clone(),
            target: provindex_signals::surt(target_url)
                .ok()
                .map(|surt| (surt.key, target_time)),
        }
    });

    let capture_time = doc.date_unix.unwrap_or(0);
    let mut signals = if extract_signals {
        provindex_signals::header_signals(&doc.http_headers)
    } else {
        Vec::new()
    };
    // A doc read with the HTML kept and the text extracted (other reader
    // options than [`reader_options`]): a second tokenizer pass.
    if html_findings.is_none()
        && extract_signals
        && let Some(html) = doc.html.as_deref()
    {
        html_findings = Some(provindex_signals::analyze_html(html, Some(&url)));
    }
    let license = html_findings.and_then(|(finding, html_signals)| {
        signals.extend(html_signals);
        (finding.class != LicenseClass::Unknown || finding.id.is_some()).then(|| LicenseRecord {
            class: records::LicenseClass::from(finding.class).into(),
            id: finding.id.unwrap_or_default(),
            spdx: finding.spdx.unwrap_or_default(),
            location: finding
                .location
                .map_or(records::LicenseLocation::Unspecified, Into::into)
                .into(),
            evidence: finding.evidence.unwrap_or_default(),
            conflict: finding.conflict,
        })
    });
    provindex_signals::stamp(&mut signals, capture_time);
    let (verdict, decider) = provindex_signals::combine(&signals);

    // The detected language, else the declared one (issue 16).
    let content_language = content
        .as_ref()
        .map(|c| c.language.as_str())
        .filter(|l| !l.is_empty())
        .or(doc.language.as_deref())
        .unwrap_or_default()
        .to_owned();
    let mut record = CaptureRecord {
        url,
        surt: surt.as_ref().map(|s| s.key.clone()).unwrap_or_default(),
        capture_time,
        capture_time_raw: date_raw,
        http_status: doc.http_status.map(u32::from).unwrap_or(0),
        content_type: doc.content_type.unwrap_or_default(),
        language: doc.language.unwrap_or_default(),
        location_uri: doc.location.uri,
        location_offset: doc.location.offset,
        location_length: doc.location.length,
        payload_digest: doc.payload_digest.unwrap_or_default(),
        content_id: content
            .as_ref()
            .map(|c| c.content_id.to_be_bytes().to_vec())
            .unwrap_or_default(),
        record_id: doc.record_id.unwrap_or_default(),
        record_kind: record_kind(doc.kind).into(),
        crawl: crawl.to_owned(),
        host: surt.as_ref().map(|s| s.host.clone()).unwrap_or_default(),
        registered_domain: surt.and_then(|s| s.registered_domain).unwrap_or_default(),
        refers_to: doc.refers_to.unwrap_or_default(),
        location_framing: framing(doc.location.framing).into(),
        license,
        signals: signals.iter().map(signal_record).collect(),
        optout_verdict: stored_verdict(verdict).into(),
        optout_decider: decider.map(|i| i as u32),
        // Set at the end of the build, once clusters are known.
        cluster_id: Vec::new(),
        content_language,
        // Set in the stored form only (`CaptureRecord::compacted`).
        url_keys_derived: false,
        time_raw_derived: false,
        site_file_body: site_file.as_ref().and_then(|f| f.body.clone()),
        site_file_truncated: site_file.as_ref().is_some_and(|f| f.truncated),
        revisit_target_surt: None,
        revisit_target_time: None,
    };
    if let Some(revisit) = &revisit {
        crate::rescan::store_revisit_target(&mut record, revisit);
    }
    PreparedCapture {
        capture_id,
        record,
        content,
        revisit,
        url_error,
        sketch,
        site_file,
    }
}

/// The longest prefix of `text` of at most [`PREVIEW_BYTES`] bytes that ends
/// at a character boundary.
fn preview(text: &str) -> &str {
    let mut end = text.len().min(PREVIEW_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn framing(framing: Framing) -> records::Framing {
    match framing {
        Framing::Plain => records::Framing::Plain,
        Framing::GzipMember => records::Framing::GzipMember,
        Framing::Decompressed => records::Framing::Decompressed,
    }
}

fn record_kind(kind: DocKind) -> records::RecordKind {
    match kind {
        DocKind::Response => records::RecordKind::Response,
        DocKind::Resource => records::RecordKind::Resource,
        DocKind::Revisit => records::RecordKind::Revisit,
        DocKind::Conversion => records::RecordKind::Conversion,
        DocKind::JsonDoc => records::RecordKind::JsonDoc,
    }
}

pub(crate) fn stored_verdict(verdict: Verdict) -> records::Verdict {
    match verdict {
        Verdict::Reserved => records::Verdict::Reserved,
        Verdict::NotReserved => records::Verdict::NotReserved,
        Verdict::Unknown => records::Verdict::Unknown,
    }
}

pub(crate) fn signal_record(signal: &provindex_signals::Signal) -> SignalRecord {
    SignalRecord {
        kind: records::SignalKind::from(signal.kind).into(),
        source: records::SignalSource::from(signal.source).into(),
        stance: records::Stance::from(signal.stance).into(),
        value: signal.value.clone(),
        agent: signal.agent.clone().unwrap_or_default(),
        evidence: signal.evidence.clone(),
        captured_at: signal.captured_at.unwrap_or_default(),
    }
}
