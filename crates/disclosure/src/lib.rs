//! Export, report and compensation: the filtered training manifest, the
//! transparency summary and the pro-rata compensation statement, each
//! computed by one walk over the index (I/O: the index, the registry, the
//! export's object store; no tonic). Shared by the `provindex export` /
//! `report` / `compensation` subcommands and the gRPC `ReportService`
//! (`provindex_rpc::ReportApi`); the outputs are typed (serde) so that the
//! JSON files and the protobuf answers carry the same numbers. Every rule
//! (reserved or not, keeper, export reasons, shares) is `provindex_policy`'s;
//! this crate gathers the facts and adds up. Rendering (HTML with SVG charts,
//! CSV) is apart, in [`render`].
//!
//! Deduplication is exact, then by near-duplicate cluster: one distinct
//! normalized text (`content_id`) is one content, and of each near-duplicate
//! cluster (built by the index) only its keeper counts as a sample. Which
//! contents count as their cluster's keeper is decided in one place,
//! [`is_keeper`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use provindex_corpus::store::{CorpusStore, StoreError};
use provindex_index::records::{self, CaptureRecord, ContentRecord, Verdict};
use provindex_index::registry::{CaptureSource, Coverage, Registry};
use provindex_index::{IndexError, IndexParts, IndexReader};
use provindex_policy::arithmetic::{
    in_period, largest_remainder, pro_rata, share, split_equally, top_domain_count,
};
use provindex_policy::removal::{Removal, RemovalCover, removal};
use provindex_policy::{CaptureSignal, Reason, Reservation, Subject, reservation};
use serde::Serialize;

pub mod aiact;
mod export;
pub mod lineage;
pub mod render;
mod render_aiact;
pub use aiact::{AiActOptions, AiActSummary, build_aiact_summary};
pub use export::{
    ExportNames, ExportOptions, ExportSummary, RegistryState, build_export, build_export_observed,
    export_names, summary_uri,
};
pub use provindex_corpus::upload::UploadOptions;
pub use provindex_manifest::{ManifestFormat, WriterOptions};
pub use render::{compensation_csv, render_html};
pub use render_aiact::render_aiact_html;

/// The dedup rule, as stated in every output.
pub const DEDUP_RULE: &str = "exact deduplication: each distinct normalized text (content_id) \
     counts once; a content that is not its near-duplicate cluster's keeper is excluded as near_duplicate";

/// One reason per excluded content, as stated in the export summary.
pub use provindex_policy::export::REASON_RULE;

/// How compensation is distributed per registered domain.
pub const DOMAIN_RULE: &str = "pro rata by tokens after deduplication: each distinct content that is its near-duplicate cluster's keeper counts once, attributed to the registered domain of its earliest capture, and only when that capture falls in [from, to]; a cluster's keeper is its member with the earliest first capture time, ties by the smallest content_id";

/// How amounts become integer minor units.
pub const MINOR_UNITS_RULE: &str = "amounts in integer minor units (hundredths of the pool's unit): the pool rounded to the nearest minor unit is split over the rows in proportion to their tokens by largest remainder (each row gets the floor of its exact share, the units left go one each to the largest remainders, ties to the earlier row), so the domain rows, and the rightholder rows with the unclaimed row, each sum to the pool exactly";

/// How compensation is distributed per rightholder.
pub const RIGHTHOLDER_RULE: &str = "the same pool and the same counted contents as the domain rows, seen by rightholder: a content claimed for payment (claims in the registry, by a rightholder or a CMO for a member; one claimant per content) goes to its claimant; any other content's tokens go to the rightholders named by registry entries in force at `at` that cover it (any scope: domain, URL prefix, content, work incl. near-duplicates), split equally among the distinct rightholders covering it; contents no entry covers are unclaimed; rightholder rows plus the unclaimed row sum to the pool";

/// Whether a content is its near-duplicate cluster's keeper, i.e. whether it
/// counts in the training manifest, the report's token totals and the
/// compensation statement: the build's keeper rule (earliest first capture
/// time, ties by the smallest content_id: [`provindex_policy::keeper`]).
pub fn is_keeper(content_id: u128, record: &ContentRecord) -> bool {
    record.is_keeper(content_id)
}

/// Why an export, report or statement could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    /// A bad argument; `field` names it (`pool`, `output_uri`, ...).
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// The index has nothing to summarize or distribute.
    #[error("{0}")]
    Empty(String),
    /// The output exists already (create-only writes).
    #[error("{0} already exists: exports never replace an object")]
    AlreadyExists(String),
    /// The index contradicts itself (a content without captures, totals that
    /// do not reconcile).
    #[error("{0}")]
    Inconsistent(String),
    #[error("index error: {0}")]
    Index(#[from] IndexError),
    #[error("writing the export: {0}")]
    Store(StoreError),
}

impl DisclosureError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}

impl provindex_errors::ErrorExt for DisclosureError {
    fn status_code(&self) -> provindex_errors::StatusCode {
        use provindex_errors::StatusCode;
        match self {
            DisclosureError::InvalidArgument { .. } => StatusCode::InvalidArgument,
            DisclosureError::Empty(_) => StatusCode::FailedPrecondition,
            DisclosureError::AlreadyExists(_) => StatusCode::AlreadyExists,
            // A refused write is the deployment's to fix, anything else may pass.
            DisclosureError::Store(store) if store.is_refusal() => StatusCode::FailedPrecondition,
            DisclosureError::Store(_) => StatusCode::Unavailable,
            DisclosureError::Inconsistent(_) | DisclosureError::Index(_) => StatusCode::Internal,
        }
    }
}

pub type Result<T> = std::result::Result<T, DisclosureError>;

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One content with its captures, earliest first (capture time, then id).
struct ContentView {
    id: u128,
    record: ContentRecord,
    captures: Vec<(u128, CaptureRecord)>,
}

impl ContentView {
    fn earliest(&self) -> Result<&CaptureRecord> {
        self.captures.first().map(|(_, c)| c).ok_or_else(|| {
            DisclosureError::Inconsistent(format!(
                "content {:032x} has no captures: the index is inconsistent",
                self.id
            ))
        })
    }

    fn keeper(&self) -> bool {
        is_keeper(self.id, &self.record)
    }
}

/// How far a long walk (export, report) has got, for a caller that shows
/// it (the CLI's `--progress`); the library itself never prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkProgress<'a> {
    /// What is walked: `captures` or `contents`.
    pub step: &'static str,
    pub done: u64,
    /// The index manifest's count of what is walked.
    pub total: u64,
    /// Running counts, named (`kept`, `excluded`, `keepers`).
    pub counts: &'a [(&'static str, u64)],
}

/// Items walked between two progress calls (and once more at the end).
pub const PROGRESS_EVERY: u64 = 1024;

/// Walks every content with its captures, in content-id order over every
/// partition ([`IndexParts::for_each_content`]); returns the number visited.
fn walk_contents(
    index: IndexParts<'_>,
    mut visit: impl FnMut(ContentView) -> Result<()>,
) -> Result<u64> {
    let mut visited = 0u64;
    index.for_each_content(|part, id, record| -> Result<()> {
        visited += 1;
        visit(view_of(part, id, record)?)
    })?;
    Ok(visited)
}

/// One content with its captures read from the index (the partition
/// holding the content: it has each of its captures, as copies in
/// `content_captures` when owned elsewhere).
fn view_of(reader: &IndexReader, id: u128, record: ContentRecord) -> Result<ContentView> {
    let mut captures = Vec::new();
    let mut after = None;
    loop {
        let (page, more) = reader.content_captures(id, after, 1000)?;
        after = page.last().map(|(capture_id, _)| *capture_id);
        captures.extend(page);
        if !more || after.is_none() {
            break;
        }
    }
    captures.sort_by_key(|(cid, c)| (c.capture_time, *cid));
    Ok(ContentView {
        id,
        record,
        captures,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn license_of(capture: &CaptureRecord) -> String {
    capture
        .license
        .as_ref()
        .and_then(|l| {
            [&l.spdx, &l.id]
                .into_iter()
                .find(|s| !s.is_empty())
                .cloned()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn license_class(capture: &CaptureRecord) -> String {
    capture
        .license
        .as_ref()
        .map_or(records::LicenseClass::Unknown, |l| l.class())
        .as_str()
        .to_owned()
}

fn domain_of(capture: &CaptureRecord) -> String {
    if capture.registered_domain.is_empty() {
        "(none)".into()
    } else {
        capture.registered_domain.clone()
    }
}

/// The policy's reservation decision for a content
/// ([`provindex_policy::reservation`]): its captures' crawl signals, and the
/// registry entries covering it (by its id and stored MinHash signature, and
/// by each capture's SURT key and registered domain) judged at `sources.at`
/// under the index's sketch spec. Without a registry, crawl signals alone.
fn reservation_of(sources: &Sources<'_>, view: &ContentView) -> Result<Reservation> {
    let covers = registry_covers(sources, view)?;
    Ok(reservation_with(sources, view, &covers))
}

/// The registry entries found covering a content (not yet judged).
fn registry_covers(
    sources: &Sources<'_>,
    view: &ContentView,
) -> Result<Vec<provindex_policy::RegistryCover>> {
    let Some(registry) = sources.registry else {
        return Ok(Vec::new());
    };
    let signature = sources.reader.signature(view.id)?;
    let keys: Vec<(&str, &str)> = view
        .captures
        .iter()
        .map(|(_, c)| (c.surt.as_str(), c.registered_domain.as_str()))
        .collect();
    Ok(registry
        .covering_content(view.id, signature.as_deref(), &keys)?
        .iter()
        .map(Coverage::to_policy)
        .collect())
}

/// The policy's decision over a content's crawl signals and `covers` at
/// `sources.at`.
fn reservation_with(
    sources: &Sources<'_>,
    view: &ContentView,
    covers: &[provindex_policy::RegistryCover],
) -> Reservation {
    let signals: Vec<CaptureSignal> = view
        .captures
        .iter()
        .map(|(id, capture)| capture.crawl_signal(*id))
        .collect();
    reservation(Subject {
        captures: &signals,
        covers,
        at: sources.at,
        index_sketch_spec: &sources.reader.manifest().sketch_spec,
    })
}

/// The removal facts of an export (issue 19): the registry's source blocks
/// and erasures, with its erasures by personal identifier resolved through
/// the index's `pii_keys` table to the contents holding each.
struct Removals<'a> {
    registry: Option<&'a Registry>,
    by_pii: BTreeMap<u128, Vec<RemovalCover>>,
}

impl<'a> Removals<'a> {
    fn gather(sources: &Sources<'a>) -> Result<Self> {
        let mut by_pii: BTreeMap<u128, Vec<RemovalCover>> = BTreeMap::new();
        let Some(registry) = sources.registry else {
            return Ok(Self {
                registry: None,
                by_pii,
            });
        };
        // Every content could hold it: the limit never truncates.
        let limit = usize::try_from(sources.reader.manifest().contents)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        for (entry, hmac) in registry.pii_erasures()? {
            let (contents, more) = sources.reader.pii_contents(&hmac, limit)?;
            if more {
                return Err(DisclosureError::Inconsistent(format!(
                    "erasure {}: more contents hold the identifier than the index has",
                    entry.id
                )));
            }
            for content in contents {
                by_pii.entry(content).or_default().push(entry.to_removal());
            }
        }
        Ok(Self {
            registry: Some(registry),
            by_pii,
        })
    }

    /// The policy's removal decision for a content at `at`
    /// ([`provindex_policy::removal`]).
    fn of(&self, view: &ContentView, at: i64) -> Result<Removal> {
        let Some(registry) = self.registry else {
            return Ok(Removal::default());
        };
        let captures: Vec<CaptureSource<'_>> = view
            .captures
            .iter()
            .map(|(_, c)| CaptureSource {
                registered_domain: &c.registered_domain,
                host: &c.host,
                input: &c.location_uri,
            })
            .collect();
        let mut covers: Vec<RemovalCover> = registry
            .removals_covering(view.id, &captures)?
            .iter()
            .map(|entry| entry.to_removal())
            .collect();
        covers.extend(self.by_pii.get(&view.id).into_iter().flatten().cloned());
        Ok(removal(&covers, at))
    }
}

/// What the index, registry and time of a computation are.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// The whole index: one directory (`reader.into()`) or every partition
    /// of a partitioned one ([`provindex_index::PartitionedIndex`]).
    pub reader: IndexParts<'a>,
    /// Opt-out registry to honour (`None`: only crawl signals apply).
    pub registry: Option<&'a Registry>,
    /// Registry entries in force at this time apply (unix seconds).
    pub at: i64,
}

impl Sources<'_> {
    fn index_label(&self) -> String {
        self.reader.path().display().to_string()
    }

    fn registry_label(&self) -> Option<String> {
        self.registry.map(|r| r.path().display().to_string())
    }
}

// ---------------------------------------------------------------- export

fn destination_error(error: StoreError, field: &'static str) -> DisclosureError {
    match error {
        StoreError::InvalidUri { uri, reason } => {
            DisclosureError::invalid(field, format!("{uri:?}: {reason}"))
        }
        error @ StoreError::Unwritable { .. } => DisclosureError::invalid(field, error.to_string()),
        StoreError::AlreadyExists(uri) => DisclosureError::AlreadyExists(uri),
        other => DisclosureError::Store(other),
    }
}

/// Refuses an export destination that cannot be written before the export
/// is computed.
pub async fn check_destination(store: &CorpusStore, out: &str, field: &'static str) -> Result<()> {
    store
        .check_writable_async(out)
        .await
        .map_err(|error| destination_error(error, field))
}

// ---------------------------------------------------------------- report

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionPeriod {
    pub from: i64,
    pub to: i64,
    pub from_utc: String,
    pub to_utc: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub captures: u64,
    pub captures_with_text: u64,
    pub contents: u64,
    /// Contents that are their near-duplicate cluster's keeper ([`is_keeper`]).
    pub keepers: u64,
    /// Tokens of the keepers.
    pub tokens_after_exact_dedup: u64,
    pub registered_domains: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainTokens {
    pub domain: String,
    pub tokens: u64,
    pub contents: u64,
    pub share_of_tokens: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopDomains {
    pub rule: String,
    pub count: u64,
    pub share_of_tokens: f64,
    pub domains: Vec<DomainTokens>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LicenseClass {
    pub class: String,
    pub contents: u64,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LicenseMix {
    pub rule: String,
    pub classes: Vec<LicenseClass>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReservationSignals {
    pub contents_with_reservation: u64,
    pub share_of_contents: f64,
    pub captures_reserved: u64,
    pub by_signal_kind: BTreeMap<String, u64>,
    pub honoured: String,
    pub excluded_from_export: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duplicates {
    pub captures_with_text: u64,
    pub contents: u64,
    /// Exact duplicates: 1 - contents / captures with text.
    pub duplicate_rate: f64,
    pub rule: String,
    /// The near-duplicate rule (how `near_duplicate_rate` is computed).
    pub near_duplicates: String,
    /// Contents that are not their near-duplicate cluster's keeper
    /// (contents - keepers): excluded from the export as `near_duplicate`.
    pub near_duplicate_contents: u64,
    /// near_duplicate_contents / contents.
    pub near_duplicate_rate: f64,
}

/// The transparency summary of the indexed corpus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransparencyReport {
    pub title: String,
    pub index: String,
    pub index_digest: String,
    pub built_at: i64,
    pub generated_at: i64,
    pub crawls: Vec<String>,
    pub collection_period: CollectionPeriod,
    pub totals: Totals,
    pub top_domains: TopDomains,
    pub license_mix: LicenseMix,
    pub reservation_signals: ReservationSignals,
    pub duplicates: Duplicates,
    pub dedup: String,
    /// Contents per detected language (ISO 639-3; `und` when not detected).
    pub languages: BTreeMap<String, u64>,
    /// Contents holding personal identifiers (issue 19).
    pub personal_data: PersonalData,
}

/// Contents with personal identifiers detected at build time, by kind
/// (`policy::pii`; counts only, the index holds no values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonalData {
    pub contents_with_any: u64,
    pub share_of_contents: f64,
    /// Per kind (email, phone, cn_resident_id, payment_card): contents with
    /// at least one, and their share of all contents.
    pub contents_by_kind: BTreeMap<String, u64>,
    pub share_by_kind: BTreeMap<String, f64>,
    pub rule: String,
}

/// Builds the transparency summary; [`DisclosureError::Empty`] on an index
/// without contents.
pub fn build_report<'a>(index: impl Into<IndexParts<'a>>) -> Result<TransparencyReport> {
    build_report_observed(index, &mut |_| {})
}

/// [`build_report`], telling `observe` how far its two walks (captures,
/// then contents) have got: every [`PROGRESS_EVERY`] items and at the end.
pub fn build_report_observed<'a>(
    index: impl Into<IndexParts<'a>>,
    observe: &mut dyn FnMut(&WalkProgress<'_>),
) -> Result<TransparencyReport> {
    let reader: IndexParts<'a> = index.into();
    let manifest = reader.manifest();
    let index = reader.path().display().to_string();
    let mut captures = 0u64;
    let mut captures_with_text = 0u64;
    let mut captures_reserved = 0u64;
    let mut crawls: BTreeSet<String> = manifest.crawls.iter().cloned().collect();
    let mut period: Option<(i64, i64)> = None;
    let mut domains_with_text: BTreeSet<String> = BTreeSet::new();
    // Aggregates only: the walk's order across partitions does not matter.
    reader.for_each_owned_capture(|_, capture| -> Result<()> {
        captures += 1;
        if captures.is_multiple_of(PROGRESS_EVERY) {
            observe(&WalkProgress {
                step: "captures",
                done: captures,
                total: manifest.captures,
                counts: &[],
            });
        }
        if !capture.crawl.is_empty() {
            crawls.insert(capture.crawl.clone());
        }
        if capture.capture_time > 0 {
            let t = capture.capture_time;
            period = Some(period.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
        }
        if !capture.content_id.is_empty() {
            captures_with_text += 1;
            domains_with_text.insert(domain_of(&capture));
        }
        if capture.optout_verdict() == Verdict::Reserved {
            captures_reserved += 1;
        }
        Ok(())
    })?;
    observe(&WalkProgress {
        step: "captures",
        done: captures,
        total: manifest.captures,
        counts: &[],
    });
    let mut contents = 0u64;
    let mut keepers = 0u64;
    let mut tokens = 0u64;
    let mut domain_tokens: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut licenses: BTreeMap<String, u64> = BTreeMap::new();
    let mut reserved_contents = 0u64;
    let mut reserved_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut languages: BTreeMap<String, u64> = BTreeMap::new();
    let mut pii_contents = 0u64;
    let mut pii_by_kind: BTreeMap<String, u64> = provindex_policy::pii::PiiKind::ALL
        .iter()
        .map(|k| (k.name().to_owned(), 0))
        .collect();
    let walked = walk_contents(reader, |view| {
        let mut any_pii = false;
        for kind in provindex_policy::pii::PiiKind::ALL {
            if view.record.pii_count(kind) > 0 {
                any_pii = true;
                *pii_by_kind.entry(kind.name().to_owned()).or_default() += 1;
            }
        }
        pii_contents += u64::from(any_pii);
        let earliest = view.earliest()?;
        contents += 1;
        *languages.entry(language_of(&view.record)).or_default() += 1;
        *licenses.entry(license_class(earliest)).or_default() += 1;
        // Crawl signals only: the report describes the corpus as crawled.
        let crawl = reservation_of(
            &Sources {
                reader,
                registry: None,
                at: 0,
            },
            &view,
        )?;
        if let Some(Reason::CrawlSignal { kind, .. }) = crawl.crawl_signal() {
            reserved_contents += 1;
            *reserved_by_kind.entry(kind.clone()).or_default() += 1;
        }
        if view.keeper() {
            keepers += 1;
            tokens += view.record.token_count;
            let slot = domain_tokens.entry(domain_of(earliest)).or_default();
            slot.0 += view.record.token_count;
            slot.1 += 1;
        }
        if contents.is_multiple_of(PROGRESS_EVERY) {
            observe(&WalkProgress {
                step: "contents",
                done: contents,
                total: manifest.contents,
                counts: &[("keepers", keepers)],
            });
        }
        Ok(())
    })?;
    observe(&WalkProgress {
        step: "contents",
        done: walked,
        total: manifest.contents,
        counts: &[("keepers", keepers)],
    });
    if walked == 0 {
        return Err(DisclosureError::Empty(format!(
            "index {index} holds no contents ({captures} captures, none with text): nothing to summarize"
        )));
    }
    if captures_with_text == 0 {
        return Err(DisclosureError::Inconsistent(format!(
            "index {index} has {walked} contents but no capture with text: the index is inconsistent"
        )));
    }
    let domain_count = domains_with_text.len().max(domain_tokens.len());
    let top_n = top_domain_count(domain_count);
    let mut ranked: Vec<(&String, &(u64, u64))> = domain_tokens.iter().collect();
    ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    let top: Vec<DomainTokens> = ranked
        .iter()
        .take(top_n)
        .map(|(domain, (t, c))| DomainTokens {
            domain: (*domain).clone(),
            tokens: *t,
            contents: *c,
            share_of_tokens: share(*t, tokens),
        })
        .collect();
    let top_tokens: u64 = top.iter().map(|d| d.tokens).sum();
    let (from, to) = period.unwrap_or((0, 0));
    Ok(TransparencyReport {
        title: "Summary of the content used for training (provenance index)".into(),
        index,
        index_digest: manifest.digest.clone(),
        built_at: manifest.built_at,
        generated_at: now(),
        crawls: crawls.into_iter().collect(),
        collection_period: CollectionPeriod {
            from,
            to,
            from_utc: utc(from),
            to_utc: utc(to),
        },
        totals: Totals {
            captures,
            captures_with_text,
            contents,
            keepers,
            tokens_after_exact_dedup: tokens,
            registered_domains: domain_count as u64,
        },
        top_domains: TopDomains {
            rule: "top 10% of registered domains (rounded up, at least 1) by tokens after deduplication (keepers only); a content's tokens go to the registered domain of its earliest capture".into(),
            count: top.len() as u64,
            share_of_tokens: share(top_tokens, tokens),
            domains: top,
        },
        license_mix: LicenseMix {
            rule: "share of contents by the license class of the earliest capture; unknown = no license stated".into(),
            classes: licenses
                .iter()
                .map(|(class, n)| LicenseClass {
                    class: class.clone(),
                    contents: *n,
                    share: share(*n, contents),
                })
                .collect(),
        },
        reservation_signals: ReservationSignals {
            contents_with_reservation: reserved_contents,
            share_of_contents: share(reserved_contents, contents),
            captures_reserved,
            by_signal_kind: reserved_by_kind,
            honoured: "a content with a reserved crawl-signal verdict on any capture is excluded from `provindex export` (reason crawl_signal:KIND); registry opt-outs are excluded as well".into(),
            excluded_from_export: reserved_contents,
        },
        duplicates: Duplicates {
            captures_with_text,
            contents,
            duplicate_rate: 1.0 - share(contents, captures_with_text),
            rule: "1 - contents / captures with text (exact duplicates)".into(),
            near_duplicates: "near-duplicate contents / contents: a near-duplicate content is a distinct content that is not its near-duplicate cluster's keeper (MinHash LSH clusters; keeper = earliest first capture time, ties by the smallest content_id); it counts in neither the tokens nor the export".into(),
            near_duplicate_contents: contents - keepers,
            near_duplicate_rate: share(contents - keepers, contents),
        },
        dedup: DEDUP_RULE.into(),
        languages,
        personal_data: PersonalData {
            contents_with_any: pii_contents,
            share_of_contents: share(pii_contents, contents),
            share_by_kind: pii_by_kind
                .iter()
                .map(|(k, n)| (k.clone(), share(*n, contents)))
                .collect(),
            contents_by_kind: pii_by_kind,
            rule: "contents whose extracted text holds at least one e-mail address, phone number, checksum-valid Chinese resident identity number or Luhn-valid payment card number, detected at build time (counts only; indexes built before issue 19 count none)".into(),
        },
    })
}

/// A content's detected language for the report and export (`und` when none).
fn language_of(record: &provindex_index::records::ContentRecord) -> String {
    match record.language.as_str() {
        "" => "und".to_owned(),
        code => code.to_owned(),
    }
}

pub use provindex_signals::utc;

// ---------------------------------------------------------------- compensation

/// The pool and period of a statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompensationTerms {
    pub pool: f64,
    /// Count contents first seen at or after this time (unix seconds).
    pub from: Option<i64>,
    /// Count contents first seen at or before this time (unix seconds).
    pub to: Option<i64>,
}

impl CompensationTerms {
    /// INVALID_ARGUMENT-style checks; the error names `pool`, `from` or `to`.
    pub fn validate(&self) -> Result<()> {
        if !(self.pool.is_finite() && self.pool >= 0.0) {
            return Err(DisclosureError::invalid(
                "pool",
                format!("must be a finite amount >= 0, got {}", self.pool),
            ));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(DisclosureError::invalid(
                "from",
                format!("{from} is after to {to}"),
            ));
        }
        Ok(())
    }
}

/// One registered domain's share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainShare {
    pub registered_domain: String,
    pub contents: u64,
    pub tokens: u64,
    pub share: f64,
    pub amount: f64,
    /// The amount in integer minor units ([`MINOR_UNITS_RULE`]).
    pub amount_minor_units: u64,
}

/// One rightholder's share (tokens may be fractional: a content covered by
/// several rightholders is split equally among them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RightholderShare {
    pub rightholder: String,
    /// Counted contents any of its entries covers (shared ones included).
    pub contents: u64,
    pub tokens: f64,
    pub share: f64,
    pub amount: f64,
    /// The registry entries (in force at `at`) through which it is credited.
    pub entry_ids: Vec<u64>,
    /// The claims through which it is credited.
    pub claim_ids: Vec<u64>,
    pub amount_minor_units: u64,
}

/// The part of the pool no rightholder claims.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unclaimed {
    pub contents: u64,
    pub tokens: u64,
    pub share: f64,
    pub amount: f64,
    pub amount_minor_units: u64,
}

/// The compensation statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompensationStatement {
    pub index: String,
    pub registry: Option<String>,
    pub pool: f64,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Registry entries in force at this time name the rightholders.
    pub at: i64,
    pub contents: u64,
    pub tokens: u64,
    pub rule: String,
    pub rightholder_rule: String,
    /// The pool in integer minor units, and how rows get theirs.
    pub pool_minor_units: u64,
    pub minor_units_rule: String,
    /// Per registered domain, by tokens descending (then name).
    pub shares: Vec<DomainShare>,
    /// Per rightholder, by tokens descending (then name).
    pub rightholder_shares: Vec<RightholderShare>,
    pub unclaimed: Unclaimed,
}

/// One rightholder's credit while the statement is computed.
#[derive(Default)]
struct Holder {
    contents: u64,
    tokens: f64,
    /// Tokens of contents shared `k` ways, by `k` (for exact integer weights).
    by_ways: BTreeMap<usize, u64>,
    entry_ids: BTreeSet<u64>,
    claim_ids: BTreeSet<u64>,
}

impl Holder {
    fn credit(&mut self, tokens: u64, ways: usize) {
        self.contents += 1;
        self.tokens += split_equally(tokens, ways);
        *self.by_ways.entry(ways).or_default() += tokens;
    }

    /// Σ tokens · scale / k: `scale` is a multiple of every k.
    fn weight(&self, scale: u64) -> u64 {
        self.by_ways
            .iter()
            .map(|(&k, &tokens)| tokens.saturating_mul(scale / k as u64))
            .fold(0u64, u64::saturating_add)
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    (a / gcd(a, b)).saturating_mul(b)
}

/// Distributes `terms.pool` pro rata over the deduplicated tokens of the
/// keepers first seen in `[from, to]`, per registered domain and per
/// rightholder ([`DOMAIN_RULE`], [`RIGHTHOLDER_RULE`]).
pub fn build_compensation(
    sources: Sources<'_>,
    terms: CompensationTerms,
) -> Result<CompensationStatement> {
    terms.validate()?;
    let reader = sources.reader;
    let mut domains: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut holders: BTreeMap<String, Holder> = BTreeMap::new();
    let claims_on = sources.registry.is_some_and(Registry::has_claims);
    let mut unclaimed = (0u64, 0u64);
    let mut total_tokens = 0u64;
    let mut counted = 0u64;
    walk_contents(reader, |view| {
        if !view.keeper() {
            return Ok(());
        }
        let earliest = view.earliest()?;
        let first_seen = earliest.capture_time;
        if !in_period(first_seen, terms.from, terms.to) {
            return Ok(());
        }
        let tokens = view.record.token_count;
        let slot = domains.entry(domain_of(earliest)).or_default();
        slot.0 += 1;
        slot.1 += tokens;
        counted += 1;
        total_tokens += tokens;
        // Claims first: a claimed content is paid to its claimant.
        let mut claimed: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        if claims_on && let Some(registry) = sources.registry {
            let keys: Vec<(&str, &str)> = view
                .captures
                .iter()
                .map(|(_, c)| (c.surt.as_str(), c.registered_domain.as_str()))
                .collect();
            for claim in registry.claims_covering(view.id, &keys)? {
                claimed.entry(claim.rightholder).or_default().push(claim.id);
            }
        }
        if !claimed.is_empty() {
            let ways = claimed.len();
            for (holder, ids) in claimed {
                let slot = holders.entry(holder).or_default();
                slot.credit(tokens, ways);
                slot.claim_ids.extend(ids);
            }
            return Ok(());
        }
        let decision = match sources.registry {
            Some(_) => Some(reservation_of(&sources, &view)?),
            None => None,
        };
        let mut covering: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for entry in decision.iter().flat_map(Reservation::registry_entries) {
            covering
                .entry(entry.rightholder.as_str())
                .or_default()
                .push(entry.entry_id);
        }
        if covering.is_empty() {
            unclaimed.0 += 1;
            unclaimed.1 += tokens;
            return Ok(());
        }
        let ways = covering.len();
        for (holder, ids) in covering {
            let slot = holders.entry(holder.to_owned()).or_default();
            slot.credit(tokens, ways);
            slot.entry_ids.extend(ids);
        }
        Ok(())
    })?;
    if total_tokens == 0 {
        return Err(DisclosureError::Empty(format!(
            "no tokens in contents first seen in the period ({counted} contents): nothing to distribute"
        )));
    }
    // The pool is finite and ≥ 0 (validated); an absurdly large one saturates.
    let pool_minor_units = (terms.pool * 100.0).round() as u64;
    let domain_minor = largest_remainder(
        pool_minor_units,
        &domains
            .values()
            .map(|(_, tokens)| *tokens)
            .collect::<Vec<_>>(),
    );
    let mut shares: Vec<DomainShare> = domains
        .into_iter()
        .zip(domain_minor)
        .map(|((domain, (contents, tokens)), amount_minor_units)| {
            let (share, amount) = pro_rata(terms.pool, tokens as f64, total_tokens);
            DomainShare {
                registered_domain: domain,
                contents,
                tokens,
                share,
                amount,
                amount_minor_units,
            }
        })
        .collect();
    shares.sort_by(|a, b| {
        b.tokens
            .cmp(&a.tokens)
            .then_with(|| a.registered_domain.cmp(&b.registered_domain))
    });
    // Exact integer weights: tokens split k ways, scaled by the lcm of the k.
    let scale = holders
        .values()
        .flat_map(|h| h.by_ways.keys())
        .fold(1u64, |l, &k| lcm(l, k as u64));
    let mut weights: Vec<u64> = holders.values().map(|h| h.weight(scale)).collect();
    weights.push(unclaimed.1.saturating_mul(scale));
    let mut minor = largest_remainder(pool_minor_units, &weights);
    let unclaimed_minor = minor.pop().unwrap_or(0);
    let mut rightholder_shares: Vec<RightholderShare> = holders
        .into_iter()
        .zip(minor)
        .map(|((rightholder, holder), amount_minor_units)| {
            let (share, amount) = pro_rata(terms.pool, holder.tokens, total_tokens);
            RightholderShare {
                rightholder,
                contents: holder.contents,
                tokens: holder.tokens,
                share,
                amount,
                entry_ids: holder.entry_ids.into_iter().collect(),
                claim_ids: holder.claim_ids.into_iter().collect(),
                amount_minor_units,
            }
        })
        .collect();
    rightholder_shares.sort_by(|a, b| {
        b.tokens
            .total_cmp(&a.tokens)
            .then_with(|| a.rightholder.cmp(&b.rightholder))
    });
    let (unclaimed_share, unclaimed_amount) =
        pro_rata(terms.pool, unclaimed.1 as f64, total_tokens);
    Ok(CompensationStatement {
        index: sources.index_label(),
        registry: sources.registry_label(),
        pool: terms.pool,
        from: terms.from,
        to: terms.to,
        at: sources.at,
        contents: counted,
        tokens: total_tokens,
        rule: DOMAIN_RULE.into(),
        rightholder_rule: RIGHTHOLDER_RULE.into(),
        pool_minor_units,
        minor_units_rule: MINOR_UNITS_RULE.into(),
        shares,
        rightholder_shares,
        unclaimed: Unclaimed {
            contents: unclaimed.0,
            tokens: unclaimed.1,
            share: unclaimed_share,
            amount: unclaimed_amount,
            amount_minor_units: unclaimed_minor,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_checked() {
        let ok = CompensationTerms {
            pool: 10.0,
            from: Some(1),
            to: Some(2),
        };
        assert!(ok.validate().is_ok());
        for (terms, field) in [
            (
                CompensationTerms {
                    pool: f64::NAN,
                    ..ok
                },
                "pool",
            ),
            (CompensationTerms { pool: -1.0, ..ok }, "pool"),
            (
                CompensationTerms {
                    from: Some(3),
                    ..ok
                },
                "from",
            ),
        ] {
            match terms.validate() {
                Err(DisclosureError::InvalidArgument { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
