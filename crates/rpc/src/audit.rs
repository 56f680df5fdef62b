//! `AuditService` (issue 19): reproducible audit samples per source,
//! reviewers' labels in the registry's audit log, per-source failure rates,
//! and data subjects' personal-data look-ups by keyed hash. The rules
//! (sampling rank, Wilson interval, TC260 thresholds, PII canonical forms
//! and HMAC) are `provindex_policy`'s; this adapter walks the index and
//! translates.
//!
//! A content belongs to a source when any of its captures does. Drawing a
//! sample walks the source's rows once (all captures for a crawl, input,
//! domain or host; all contents for the whole index) and keeps the n
//! smallest ranks ([`BottomN`]): O(n) memory beyond the set of the
//! source's content ids (to count them).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};

use provindex_corpus::store::CorpusStore;
use provindex_index::partition::Partitioning;
use provindex_index::records::CaptureRecord;
use provindex_index::registry::{Actor, AuditRecord};
use provindex_index::{IndexReader, Registry};
use provindex_policy::pii::{self, PiiKind};
use provindex_policy::sampling::{self, BottomN, SampleVerdict};
use provindex_proto::v1 as pb;
use provindex_proto::v1::audit_service_server::AuditService;
use serde_json::json;
use tonic::{Request, Response, Status};

use crate::ApiError;
use crate::auth::{Auth, AuthError, Principal};

mod claims;
mod complaints;

/// Largest sample one request draws.
pub const MAX_SAMPLE: u32 = 10_000;
/// Largest sample drawn with texts (each read back from its object).
pub const MAX_SAMPLE_WITH_TEXT: u32 = 1_000;
/// Characters of extracted text returned per item.
const MAX_TEXT_CHARS: usize = 4_096;
/// Contents listed by FindPersonalData.
const MAX_PII_CONTENTS: usize = 10_000;
/// Captures of one content examined for its evidence.
const MAX_EVIDENCE_CAPTURES: usize = 100_000;

/// The audit service over one index, its registry and the server's PII key.
#[derive(Clone)]
pub struct AuditApi {
    index: Arc<IndexReader>,
    registry: Option<Arc<Registry>>,
    auth: Option<Arc<Auth>>,
    pii_key: Option<Arc<Vec<u8>>>,
    /// The registry as CheckOptOut consults it.
    opt_outs: Option<Arc<dyn crate::OptOutRegistry>>,
    store: Arc<OnceLock<Arc<CorpusStore>>>,
    /// Days from receipt by which a complaint is due.
    complaint_due_days: u32,
}

/// A validated source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Source {
    kind: pb::SourceKind,
    value: String,
}

impl Source {
    fn parse(source: Option<pb::Source>) -> Result<Self, ApiError> {
        let source = source.ok_or_else(|| ApiError::invalid("source", "is required"))?;
        let kind = pb::SourceKind::try_from(source.kind).map_err(|_| {
            ApiError::invalid("source.kind", format!("unknown kind {}", source.kind))
        })?;
        let value = source.value.trim();
        match kind {
            pb::SourceKind::Unspecified => Err(ApiError::invalid(
                "source.kind",
                "is required: index, crawl, input, domain or host",
            )),
            pb::SourceKind::Index if !value.is_empty() => Err(ApiError::invalid(
                "source.value",
                "must be empty for the whole index",
            )),
            pb::SourceKind::Index => Ok(Self {
                kind,
                value: String::new(),
            }),
            _ if value.is_empty() => Err(ApiError::invalid(
                "source.value",
                format!("is empty; a {} source names one", kind_name(kind)),
            )),
            _ if value.len() > 2048 => Err(ApiError::invalid(
                "source.value",
                "is longer than 2048 bytes",
            )),
            pb::SourceKind::Domain | pb::SourceKind::Host => Ok(Self {
                kind,
                value: value.trim_end_matches('.').to_ascii_lowercase(),
            }),
            _ => Ok(Self {
                kind,
                value: value.to_owned(),
            }),
        }
    }

    fn from_names(kind: &str, value: &str) -> Option<Self> {
        let kind = [
            pb::SourceKind::Index,
            pb::SourceKind::Crawl,
            pb::SourceKind::Input,
            pb::SourceKind::Domain,
            pb::SourceKind::Host,
        ]
        .into_iter()
        .find(|k| kind_name(*k) == kind)?;
        Some(Self {
            kind,
            value: value.to_owned(),
        })
    }

    fn holds(&self, record: &CaptureRecord) -> bool {
        match self.kind {
            pb::SourceKind::Unspecified => false,
            pb::SourceKind::Index => true,
            pb::SourceKind::Crawl => record.crawl == self.value,
            pb::SourceKind::Input => record.location_uri == self.value,
            pb::SourceKind::Domain => record.registered_domain == self.value,
            pb::SourceKind::Host => record.host == self.value,
        }
    }

    fn to_proto(&self) -> pb::Source {
        pb::Source {
            kind: self.kind.into(),
            value: self.value.clone(),
        }
    }

    fn describe(&self) -> String {
        match self.kind {
            pb::SourceKind::Index => "the whole index".into(),
            kind => format!("{} {:?}", kind_name(kind), crate::echo(&self.value)),
        }
    }
}

fn kind_name(kind: pb::SourceKind) -> &'static str {
    match kind {
        pb::SourceKind::Unspecified => "unspecified",
        pb::SourceKind::Index => "index",
        pb::SourceKind::Crawl => "crawl",
        pb::SourceKind::Input => "input",
        pb::SourceKind::Domain => "domain",
        pb::SourceKind::Host => "host",
    }
}

/// A drawn sample: (content id, rank) by ascending rank, and the number of
/// contents in the source.
struct Drawn {
    items: Vec<(u128, u64)>,
    source_contents: u64,
}

fn check_size(n: u32) -> Result<usize, ApiError> {
    if n == 0 {
        return Err(ApiError::invalid("n", "must be at least 1"));
    }
    if n > MAX_SAMPLE {
        return Err(ApiError::invalid(
            "n",
            format!("{n} is more than {MAX_SAMPLE} items; draw several samples with other seeds"),
        ));
    }
    Ok(n as usize)
}

/// The sample of `n` contents of `source` under `seed` (policy::sampling)
/// over the whole index: NOT_FOUND or FAILED_PRECONDITION when the source
/// cannot give `n` ([`check_drawn`]).
fn draw(index: &IndexReader, source: &Source, seed: u64, n: usize) -> Result<Drawn, ApiError> {
    let drawn = draw_share(index, source, seed, n)?;
    check_drawn(source, n, drawn.source_contents)?;
    Ok(drawn)
}

/// The index's own contents of `source` (their count) and the `n` smallest
/// ranks among them, however few. A partition of a partitioned index owns
/// the contents of its chunks and holds every capture of them (copies of
/// those owned elsewhere; `provindex_index::partition`), so whether its
/// content is in a source is decided on it alone; the captures it owns of
/// other partitions' contents are left to those. The whole index's sample
/// is the `n` smallest of the partitions' shares (`router::merge`).
fn draw_share(
    index: &IndexReader,
    source: &Source,
    seed: u64,
    n: usize,
) -> Result<Drawn, ApiError> {
    let owns = owned_contents(index)?;
    let mut selector = BottomN::new(seed, n);
    let mut source_contents = 0u64;
    if source.kind == pb::SourceKind::Index {
        index.for_each_content::<ApiError>(|id, _| {
            if owns(id) {
                source_contents += 1;
                selector.offer(id);
            }
            Ok(())
        })?;
    } else {
        let mut seen = HashSet::new();
        index.for_each_capture_of_held_contents::<ApiError>(|_, record| {
            if let Some(content) = record.content_id()
                && source.holds(&record)
                && seen.insert(content)
            {
                selector.offer(content);
            }
            Ok(())
        })?;
        source_contents = seen.len() as u64;
    }
    let items = selector
        .sample()
        .into_iter()
        .map(|id| (id, sampling::sample_rank(seed, id)))
        .collect();
    Ok(Drawn {
        items,
        source_contents,
    })
}

/// Whether a content is the index's own: every content of an unpartitioned
/// index, a partition's by its chunk.
fn owned_contents(index: &IndexReader) -> Result<impl Fn(u128) -> bool, ApiError> {
    let manifest = index.manifest();
    let partition = manifest.partition;
    let partitioning = Partitioning::new(manifest.partitions.max(1)).map_err(|reason| {
        ApiError::Internal(format!(
            "{}: partition {partition} of {}: {reason}",
            index.path().display(),
            manifest.partitions
        ))
    })?;
    Ok(move |content_id| partitioning.of_content(content_id) == partition)
}

/// The one-server answer for a source of `source_contents` contents asked
/// for `n`: NOT_FOUND for none, FAILED_PRECONDITION for fewer than `n`.
fn check_drawn(source: &Source, n: usize, source_contents: u64) -> Result<(), ApiError> {
    if source_contents == 0 {
        return Err(ApiError::NotFound(format!(
            "{} has no contents in this index",
            source.describe()
        )));
    }
    if (n as u64) > source_contents {
        return Err(ApiError::FailedPrecondition(format!(
            "a sample of {n} from {}, which has only {source_contents} contents",
            source.describe()
        )));
    }
    Ok(())
}

/// [`check_drawn`] for the router, on the source as the partitions
/// answered it (already normalized) and their summed count.
pub(crate) fn check_merged_sample(
    source: Option<pb::Source>,
    n: u32,
    source_contents: u64,
) -> Result<(), ApiError> {
    check_drawn(&Source::parse(source)?, n as usize, source_contents)
}

/// The content's earliest capture in the source (ties by capture id) and
/// how many of its captures the source holds.
fn evidence(
    index: &IndexReader,
    source: &Source,
    content_id: u128,
) -> Result<(Option<(u128, CaptureRecord)>, u64), ApiError> {
    let (captures, _) = index.content_captures(content_id, None, MAX_EVIDENCE_CAPTURES)?;
    let mut best: Option<(u128, CaptureRecord)> = None;
    let mut count = 0;
    for (id, record) in captures {
        if !source.holds(&record) {
            continue;
        }
        count += 1;
        let better = best.as_ref().is_none_or(|(best_id, best_record)| {
            (record.capture_time, id) < (best_record.capture_time, *best_id)
        });
        if better {
            best = Some((id, record));
        }
    }
    Ok((best, count))
}

fn sample_item(
    index: &IndexReader,
    source: &Source,
    content_id: u128,
    rank: u64,
) -> Result<(pb::SampleItem, Option<CaptureRecord>), ApiError> {
    let content = index.content(content_id)?;
    let (best, source_captures) = evidence(index, source, content_id)?;
    let mut item = pb::SampleItem {
        content_id: format!("{content_id:032x}"),
        rank,
        source_captures,
        ..Default::default()
    };
    if let Some(content) = &content {
        item.language = content.language.clone();
        item.pii = PiiKind::ALL
            .into_iter()
            .map(|kind| (kind, content.pii_count(kind)))
            .filter(|&(_, count)| count > 0)
            .map(|(kind, count)| pb::PiiCount {
                kind: kind.name().into(),
                count,
            })
            .collect();
    }
    let Some((capture_id, record)) = best else {
        return Ok((item, None));
    };
    item.capture_id = format!("{capture_id:032x}");
    item.url = record.url.clone();
    item.capture_time = record.capture_time;
    item.capture_time_raw = record.capture_time_raw.clone();
    item.location_uri = record.location_uri.clone();
    item.location_offset = record.location_offset;
    item.location_length = record.location_length;
    if let Some(license) = &record.license {
        item.license_class = license.class().as_str().into();
        item.license_id = license.id.clone();
    } else {
        item.license_class = "unknown".into();
    }
    item.optout_verdict = record.optout_verdict().as_str().into();
    Ok((item, Some(record)))
}

/// The text of an original record: the first document it holds, read
/// exactly as the build's reader reads it (HTML → text).
fn record_text(bytes: &[u8], uri: &str) -> Result<String, String> {
    let mut docs = provindex_corpus::open_docs(
        std::io::Cursor::new(bytes),
        uri,
        provindex_corpus::ReaderOptions::default(),
    );
    match docs.next() {
        Some(Ok(doc)) => Ok(doc
            .text
            .unwrap_or_default()
            .chars()
            .take(MAX_TEXT_CHARS)
            .collect()),
        Some(Err(error)) => Err(format!("reading the record: {error}")),
        None => Err("the record holds no document".into()),
    }
}

/// Reviewers' labels from the audit log: per source, per content, the
/// latest (verdict is fail, category).
type Labels = BTreeMap<Source, BTreeMap<u128, (bool, String)>>;

fn read_labels(registry: &Registry) -> Result<Labels, ApiError> {
    let mut labels = Labels::new();
    let mut after = 0;
    loop {
        let page = registry.audit_log(after, 1000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in page {
            if record.action != "label" || record.result != "ok" {
                continue;
            }
            let request = &record.request;
            let text = |field: &str| request.get(field).and_then(|v| v.as_str());
            let (Some(kind), Some(value), Some(content), Some(verdict)) = (
                text("source_kind"),
                text("source"),
                text("content_id"),
                text("verdict"),
            ) else {
                continue;
            };
            let (Some(source), Ok(content)) = (
                Source::from_names(kind, value),
                u128::from_str_radix(content, 16),
            ) else {
                continue;
            };
            let category = text("category").unwrap_or_default().to_owned();
            labels
                .entry(source)
                .or_default()
                .insert(content, (verdict == "fail", category));
        }
    }
    Ok(labels)
}

fn rate(source: &Source, labels: &BTreeMap<u128, (bool, String)>) -> pb::SourceRate {
    let labelled = labels.len() as u64;
    let mut failed_by_category = std::collections::HashMap::new();
    for (failed, category) in labels.values() {
        if *failed {
            *failed_by_category.entry(category.clone()).or_insert(0u64) += 1;
        }
    }
    let failed: u64 = failed_by_category.values().sum();
    let interval = sampling::wilson_interval(failed, labelled, sampling::Z_95);
    let verdict = match sampling::tc260_sample_verdict(labelled - failed, labelled) {
        SampleVerdict::Acceptable => "acceptable",
        SampleVerdict::Unacceptable => "unacceptable",
        SampleVerdict::TooFewItems => "too_few_items",
    };
    #[allow(clippy::cast_precision_loss)]
    let point = if labelled == 0 {
        0.0
    } else {
        failed as f64 / labelled as f64
    };
    pb::SourceRate {
        source: Some(source.to_proto()),
        labelled,
        failed,
        rate: point,
        interval_low: interval.low,
        interval_high: interval.high,
        tc260_sample_verdict: verdict.into(),
        tc260_source_usable: sampling::tc260_source_usable(failed, labelled),
        failed_by_category,
    }
}

fn valid_category(category: &str) -> bool {
    !category.is_empty()
        && category.len() <= 64
        && category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl AuditApi {
    pub fn new(
        index: Arc<IndexReader>,
        registry: Option<Arc<Registry>>,
        auth: Option<Arc<Auth>>,
        pii_key: Option<Arc<Vec<u8>>>,
    ) -> Self {
        let opt_outs = registry.as_ref().map(|registry| {
            Arc::new(crate::RegistryCheck::new(
                Arc::clone(registry),
                Arc::clone(&index),
            )) as Arc<dyn crate::OptOutRegistry>
        });
        Self {
            index,
            registry,
            auth,
            pii_key,
            opt_outs,
            store: Arc::default(),
            complaint_due_days: provindex_policy::complaint::DEFAULT_DUE_DAYS,
        }
    }

    /// Complaints are due `days` after receipt (default 15).
    #[must_use]
    pub fn with_complaint_due_days(mut self, days: u32) -> Self {
        self.complaint_due_days = days;
        self
    }

    /// Samples' opt-out verdicts consult `opt_outs` (the registry service of
    /// `serve --registry-url`) when the server holds no registry itself.
    #[must_use]
    pub fn with_opt_outs(mut self, opt_outs: Option<Arc<dyn crate::OptOutRegistry>>) -> Self {
        if self.opt_outs.is_none() {
            self.opt_outs = opt_outs;
        }
        self
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&IndexReader) -> Result<T, ApiError> + Send + 'static,
    {
        let index = Arc::clone(&self.index);
        tokio::task::spawn_blocking(move || work(&index))
            .await
            .map_err(|join| ApiError::Internal(format!("audit task failed: {join}")))?
    }

    fn registry(&self) -> Result<Arc<Registry>, ApiError> {
        self.registry.clone().ok_or_else(|| {
            ApiError::FailedPrecondition(
                "the server has no registry: labels live in its audit log".into(),
            )
        })
    }

    /// The admin behind the request (policy::authorization::may_audit).
    fn admin<T>(
        &self,
        request: &Request<T>,
        method: &'static str,
    ) -> Result<Arc<Principal>, ApiError> {
        let auth = self.auth.as_ref().ok_or(AuthError::NotConfigured(method))?;
        let principal = auth.authenticate(request.metadata())?;
        provindex_policy::authorization::may_audit(&principal, method)?;
        Ok(principal)
    }

    /// Appends an audit record; a log that cannot be written fails the call.
    async fn log(
        &self,
        principal: &Principal,
        action: &str,
        request: serde_json::Value,
        outcome: Result<String, &ApiError>,
    ) -> Result<u64, ApiError> {
        let registry = self.registry()?;
        let (result, message) = match outcome {
            Ok(message) => ("ok".to_owned(), message),
            Err(error) => {
                let status = crate::status_of(error);
                (format!("{:?}", status.code()), status.message().to_owned())
            }
        };
        let record = AuditRecord {
            seq: 0,
            at: provindex_disclosure::now(),
            actor: Actor {
                name: principal.name.clone(),
                role: principal.role.as_str().into(),
            },
            action: action.into(),
            entry_id: None,
            request,
            result,
            message,
        };
        tokio::task::spawn_blocking(move || registry.audit_rejection(record))
            .await
            .map_err(|join| ApiError::Internal(format!("audit log task failed: {join}")))?
            .map_err(|e| ApiError::Internal(format!("writing the audit log: {e}")))
    }

    /// Records a refused complaint step in the audit log (when the server
    /// has a registry), then returns the refusal; the server's own failures
    /// are returned as they are.
    async fn refused(
        &self,
        principal: &Principal,
        action: &str,
        request: serde_json::Value,
        error: ApiError,
    ) -> ApiError {
        use provindex_errors::ErrorExt;
        if self.registry.is_none() || error.status_code().is_internal() {
            return error;
        }
        match self.log(principal, action, request, Err(&error)).await {
            Ok(_) => error,
            Err(logging) => {
                tracing::error!(error = %logging, "could not record a refused complaint step in the audit log");
                logging
            }
        }
    }

    /// DrawSample over the whole index this server holds.
    async fn draw_sample(
        &self,
        request: pb::DrawSampleRequest,
    ) -> Result<pb::DrawSampleResponse, ApiError> {
        self.sample(request, true).await
    }

    /// DrawSample as one partition's share (a router's call naming the
    /// partition): its own contents of the source with the smallest ranks,
    /// at most n, and their count, which is no error when it is 0 or less
    /// than n — only the merged count says. The request is validated as
    /// [`Self::draw_sample`] does.
    pub async fn draw_sample_share(
        &self,
        request: pb::DrawSampleRequest,
    ) -> Result<pb::DrawSampleResponse, ApiError> {
        self.sample(request, false).await
    }

    async fn sample(
        &self,
        request: pb::DrawSampleRequest,
        whole: bool,
    ) -> Result<pb::DrawSampleResponse, ApiError> {
        let source = Source::parse(request.source)?;
        let n = check_size(request.n)?;
        if request.include_text && request.n > MAX_SAMPLE_WITH_TEXT {
            return Err(ApiError::invalid(
                "n",
                format!(
                    "{} items with texts: at most {MAX_SAMPLE_WITH_TEXT} (draw without \
                     include_text, or page with GetCapture include_record)",
                    request.n
                ),
            ));
        }
        let seed = request.seed;
        let src = source.clone();
        let opt_outs = self.opt_outs.clone();
        let (drawn, items) = self
            .blocking(move |index| {
                let drawn = if whole {
                    draw(index, &src, seed, n)?
                } else {
                    draw_share(index, &src, seed, n)?
                };
                let items = drawn
                    .items
                    .iter()
                    .map(|&(id, rank)| {
                        let (mut item, record) = sample_item(index, &src, id, rank)?;
                        item.content_optout_verdict = crate::check_opt_out(
                            index,
                            opt_outs.as_deref(),
                            &pb::CheckOptOutRequest {
                                target: Some(pb::check_opt_out_request::Target::ContentId(
                                    item.content_id.clone(),
                                )),
                            },
                        )?
                        .verdict;
                        Ok((item, record))
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?;
                Ok((drawn.source_contents, items))
            })
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for (mut item, record) in items {
            if request.include_text {
                match record {
                    Some(record) => match self.text(&record).await {
                        Ok(text) => item.text = text,
                        Err(error) => item.text_error = error,
                    },
                    None => item.text_error = "no capture of the content in the source".into(),
                }
            }
            out.push(item);
        }
        Ok(pb::DrawSampleResponse {
            source: Some(source.to_proto()),
            seed,
            source_contents: drawn,
            items: out,
        })
    }

    /// The capture's original record read back (as GetCapture include_record
    /// and `/record/{id}` read it), and its text extracted.
    async fn text(&self, record: &CaptureRecord) -> Result<String, String> {
        let store =
            Arc::clone(self.store.get_or_init(|| {
                Arc::new(CorpusStore::with_handle(tokio::runtime::Handle::current()))
            }));
        let bytes = crate::read_original_record(&store, record)
            .await
            .map_err(|e| e.to_string())?;
        let uri = record.location_uri.clone();
        tokio::task::spawn_blocking(move || record_text(&bytes, &uri))
            .await
            .map_err(|e| format!("text task failed: {e}"))?
    }

    async fn record_label(
        &self,
        principal: &Principal,
        request: pb::RecordLabelRequest,
    ) -> Result<u64, ApiError> {
        let source = Source::parse(request.source.clone())?;
        let n = check_size(request.n)?;
        let content_id = crate::provenance::parse_id("content_id", &request.content_id)?;
        let fail = match pb::LabelVerdict::try_from(request.verdict) {
            Ok(pb::LabelVerdict::Pass) => false,
            Ok(pb::LabelVerdict::Fail) => true,
            _ => return Err(ApiError::invalid("verdict", "must be PASS or FAIL")),
        };
        let category = request.category.trim();
        if fail && !valid_category(category) {
            return Err(ApiError::invalid(
                "category",
                "a FAIL label needs a category of [a-z0-9_], 1-64 characters (e.g. unlawful, \
                 harmful, personal_information, copyright)",
            ));
        }
        if !fail && !category.is_empty() {
            return Err(ApiError::invalid(
                "category",
                "must be empty for a PASS label",
            ));
        }
        if request.note.chars().count() > 1000 {
            return Err(ApiError::invalid("note", "is longer than 1000 characters"));
        }
        let seed = request.seed;
        let src = source.clone();
        self.blocking(move |index| {
            let drawn = draw(index, &src, seed, n)?;
            if drawn.items.iter().any(|&(id, _)| id == content_id) {
                Ok(())
            } else {
                Err(ApiError::FailedPrecondition(format!(
                    "content {content_id:032x} is not in the sample of {n} from {} with seed {seed}",
                    src.describe()
                )))
            }
        })
        .await?;
        let logged = json!({
            "source_kind": kind_name(source.kind),
            "source": source.value,
            "n": request.n,
            "seed": seed.to_string(),
            "content_id": format!("{content_id:032x}"),
            "verdict": if fail { "fail" } else { "pass" },
            "category": category,
            "note": request.note,
        });
        self.log(principal, "label", logged, Ok(String::new()))
            .await
    }

    async fn failure_rates(
        &self,
        request: pb::SourceFailureRateRequest,
    ) -> Result<pb::SourceFailureRateResponse, ApiError> {
        let only = request.source.map(|s| Source::parse(Some(s))).transpose()?;
        let registry = self.registry()?;
        let labels = tokio::task::spawn_blocking(move || read_labels(&registry))
            .await
            .map_err(|join| ApiError::Internal(format!("audit task failed: {join}")))??;
        let sources = match only {
            Some(source) => {
                let empty = BTreeMap::new();
                vec![rate(&source, labels.get(&source).unwrap_or(&empty))]
            }
            None => labels.iter().map(|(s, l)| rate(s, l)).collect(),
        };
        Ok(pb::SourceFailureRateResponse { sources })
    }

    async fn find_personal_data(
        &self,
        request: &pb::FindPersonalDataRequest,
    ) -> Result<pb::FindPersonalDataResponse, ApiError> {
        let key = self.pii_key.clone().ok_or_else(|| {
            ApiError::FailedPrecondition(
                "the server has no PII key: serve --pii-key FILE with the key the index was \
                 built with (index --pii-key)"
                    .into(),
            )
        })?;
        let kind = PiiKind::from_name(request.kind.trim()).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                format!(
                    "{:?} is not a kind; one of email, phone, cn_resident_id, payment_card",
                    crate::echo(&request.kind)
                ),
            )
        })?;
        // The error never repeats the value (policy::pii::PiiError).
        let canonical = pii::canonical_query(kind, &request.value)
            .map_err(|e| ApiError::invalid("value", e.to_string()))?;
        let hmac = pii::pii_key(&key, kind, &canonical);
        let (ids, truncated) = self
            .blocking(move |index| Ok(index.pii_contents(&hmac, MAX_PII_CONTENTS)?))
            .await?;
        Ok(pb::FindPersonalDataResponse {
            kind: kind.name().into(),
            content_ids: ids.iter().map(|id| format!("{id:032x}")).collect(),
            truncated,
            pii_hmac: hmac.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// The complaint and claim operations for an authenticated principal: the
/// one path the gRPC service and the web page (`provindex-http`) share, so
/// both apply the same rules and audit the same refusals.
impl AuditApi {
    /// FileComplaint as `principal`; a refusal is recorded in the audit log
    /// (action complaint_file_rejected) before it is returned.
    pub async fn file_complaint_as(
        &self,
        principal: &Principal,
        request: pb::FileComplaintRequest,
    ) -> Result<pb::Complaint, ApiError> {
        let logged = complaints::file_json(&request);
        match self.file_complaint(principal, request).await {
            Ok(complaint) => Ok(complaint),
            Err(error) => Err(self
                .refused(principal, "complaint_file_rejected", logged, error)
                .await),
        }
    }

    /// GetComplaint as `principal` (its complainant, or an admin).
    pub fn get_complaint_as(
        &self,
        principal: &Principal,
        request: &pb::GetComplaintRequest,
    ) -> Result<pb::Complaint, ApiError> {
        self.get_complaint(principal, request)
    }

    /// ClaimContent as `principal`; a refusal is recorded in the audit log
    /// (action claim_rejected) before it is returned.
    pub async fn claim_content_as(
        &self,
        principal: &Principal,
        request: pb::ClaimContentRequest,
    ) -> Result<pb::Claim, ApiError> {
        let logged = json!({
            "member": crate::echo(&request.member),
            "evidence_bytes": request.evidence.len(),
        });
        match self.claim_content(principal, request).await {
            Ok(claim) => Ok(claim),
            Err(error) => Err(self
                .refused(principal, "claim_rejected", logged, error)
                .await),
        }
    }

    /// RevokeClaim as `principal`; a refusal is recorded in the audit log
    /// (action claim_revoke_rejected) before it is returned.
    pub async fn revoke_claim_as(
        &self,
        principal: &Principal,
        request: pb::RevokeClaimRequest,
    ) -> Result<pb::Claim, ApiError> {
        let logged = json!({
            "claim_id": crate::echo(&request.id),
            "reason_bytes": request.reason.len(),
        });
        match self.revoke_claim(principal, request).await {
            Ok(claim) => Ok(claim),
            Err(error) => Err(self
                .refused(principal, "claim_revoke_rejected", logged, error)
                .await),
        }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn draw_sample(
        &self,
        request: Request<pb::DrawSampleRequest>,
    ) -> Result<Response<pb::DrawSampleResponse>, Status> {
        Ok(Response::new(self.draw_sample(request.into_inner()).await?))
    }

    async fn record_label(
        &self,
        request: Request<pb::RecordLabelRequest>,
    ) -> Result<Response<pb::RecordLabelResponse>, Status> {
        let principal = self.admin(&request, "RecordLabel")?;
        let request = request.into_inner();
        let logged = json!({
            "source_kind": request.source.as_ref().map(|s| s.kind),
            "source": request.source.as_ref().map(|s| crate::echo(&s.value)),
            "n": request.n,
            "seed": request.seed.to_string(),
            "content_id": crate::echo(&request.content_id),
            "verdict": request.verdict,
        });
        match self.record_label(&principal, request).await {
            Ok(seq) => Ok(Response::new(pb::RecordLabelResponse { seq })),
            Err(error) => {
                // A refused label is in the log too (action label_rejected,
                // so rates never count it).
                if self.registry.is_some()
                    && self
                        .log(&principal, "label_rejected", logged, Err(&error))
                        .await
                        .is_err()
                {
                    tracing::error!("could not record a refused label in the audit log");
                }
                Err(error.into())
            }
        }
    }

    async fn source_failure_rate(
        &self,
        request: Request<pb::SourceFailureRateRequest>,
    ) -> Result<Response<pb::SourceFailureRateResponse>, Status> {
        Ok(Response::new(
            self.failure_rates(request.into_inner()).await?,
        ))
    }

    async fn find_personal_data(
        &self,
        request: Request<pb::FindPersonalDataRequest>,
    ) -> Result<Response<pb::FindPersonalDataResponse>, Status> {
        let principal = self.admin(&request, "FindPersonalData")?;
        let request = request.into_inner();
        let outcome = self.find_personal_data(&request).await;
        // The look-up is logged with its kind and result size, never the value.
        let logged = json!({ "kind": crate::echo(&request.kind) });
        let summary = outcome
            .as_ref()
            .map(|r| format!("{} contents", r.content_ids.len()));
        if self.registry.is_some()
            && self
                .log(&principal, "find_personal_data", logged, summary)
                .await
                .is_err()
        {
            return Err(ApiError::Internal(
                "could not record the personal-data look-up in the audit log".into(),
            )
            .into());
        }
        Ok(Response::new(outcome?))
    }

    async fn file_complaint(
        &self,
        request: Request<pb::FileComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        let principal = self.caller(&request, "FileComplaint")?;
        let complaint = self
            .file_complaint_as(&principal, request.into_inner())
            .await?;
        Ok(Response::new(pb::ComplaintResponse {
            complaint: Some(complaint),
        }))
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        let principal = self.caller(&request, "GetComplaint")?;
        let complaint = self.get_complaint(&principal, request.get_ref())?;
        Ok(Response::new(pb::ComplaintResponse {
            complaint: Some(complaint),
        }))
    }

    async fn review_complaint(
        &self,
        request: Request<pb::ReviewComplaintRequest>,
    ) -> Result<Response<pb::ComplaintResponse>, Status> {
        let principal = self.caller(&request, "ReviewComplaint")?;
        let request = request.into_inner();
        let logged = json!({
            "complaint_id": crate::echo(&request.id),
            "action": request.action,
            "remedy": crate::echo(&request.remedy),
        });
        match self.review_complaint(&principal, request).await {
            Ok(complaint) => Ok(Response::new(pb::ComplaintResponse {
                complaint: Some(complaint),
            })),
            Err(error) => Err(self
                .refused(&principal, "complaint_review_rejected", logged, error)
                .await
                .into()),
        }
    }

    async fn claim_content(
        &self,
        request: Request<pb::ClaimContentRequest>,
    ) -> Result<Response<pb::ClaimContentResponse>, Status> {
        let principal = self.caller(&request, "ClaimContent")?;
        let claim = self
            .claim_content_as(&principal, request.into_inner())
            .await?;
        Ok(Response::new(pb::ClaimContentResponse {
            claim: Some(claim),
        }))
    }

    async fn register_mandate(
        &self,
        request: Request<pb::RegisterMandateRequest>,
    ) -> Result<Response<pb::RegisterMandateResponse>, Status> {
        let principal = self.caller(&request, "RegisterMandate")?;
        let id = self
            .register_mandate(&principal, request.into_inner())
            .await?;
        Ok(Response::new(pb::RegisterMandateResponse { id }))
    }

    async fn revoke_claim(
        &self,
        request: Request<pb::RevokeClaimRequest>,
    ) -> Result<Response<pb::ClaimContentResponse>, Status> {
        let principal = self.caller(&request, "RevokeClaim")?;
        let claim = self
            .revoke_claim_as(&principal, request.into_inner())
            .await?;
        Ok(Response::new(pb::ClaimContentResponse {
            claim: Some(claim),
        }))
    }
}
