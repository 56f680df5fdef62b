//! `CheckOptOut`: opt-out verdicts from the crawl signals stored with every
//! capture, plus — through the [`OptOutRegistry`] seam — rightholders'
//! registry entries (issue 8 implements the registry; this file only asks it).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use provindex_index::records::CaptureRecord;
use provindex_index::{IndexReader, UrlScan};
use provindex_policy::{
    CaptureSignal, Cover, Reason, RegistryCover, Reservation, Subject, Verdict, reservation,
};
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, OptOutFinding, UrlMatch, check_opt_out_request::Target,
};

use crate::{ApiError, convert};

/// A content's captures examined at most (the answer says how many were).
pub const MAX_CAPTURES_CHECKED: usize = 100_000;
/// Reserving findings listed at most.
pub const MAX_RESERVING_LISTED: usize = 100;

/// The seam for the opt-out registry (issue 8): the registry entries found
/// covering a URL or a content, as facts for [`provindex_policy::reservation`]
/// (which decides which of them reserve: in force now, the sketch-spec
/// guard). Without a registry, answers come from crawl signals alone and say
/// `registry_checked: false`.
pub trait OptOutRegistry: Send + Sync + 'static {
    /// Entries covering one URL, given with its SURT key.
    fn covers_for_url(&self, url: &str, surt: &str) -> Result<Vec<RegistryCover>, ApiError>;
    /// Entries covering a content, given with (SURT key, registered domain)
    /// of its captures (so domain and URL-prefix entries can match).
    fn covers_for_content(
        &self,
        content_id: u128,
        captures: &[(&str, &str)],
    ) -> Result<Vec<RegistryCover>, ApiError>;
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn capture_finding(capture_id: u128, record: &CaptureRecord) -> OptOutFinding {
    let status = convert::capture(capture_id, record.clone()).optout;
    OptOutFinding {
        origin: "crawl_signal".to_owned(),
        capture_id: format!("{capture_id:032x}"),
        url: record.url.clone(),
        verdict: record.optout_verdict().as_str().to_owned(),
        signal: status.and_then(|s| s.deciding_signal),
        since: record.capture_time,
        registry_entry_id: String::new(),
        scope: String::new(),
    }
}

/// `scope` text of a registry finding: `domain:data.gov.uk`,
/// `url_prefix:uk,gov,data)/x`, `content:<id>`, `work:<id>` (exact) or
/// `work:<id>~0.86` (near-duplicate, estimated Jaccard).
fn registry_finding(cover: &RegistryCover) -> OptOutFinding {
    let scope = match cover.cover {
        Cover::WorkNear { jaccard } => {
            format!("{}:{}~{jaccard:.2}", cover.scope_kind, cover.scope_value)
        }
        _ => format!("{}:{}", cover.scope_kind, cover.scope_value),
    };
    OptOutFinding {
        origin: "registry".to_owned(),
        verdict: "reserved".to_owned(),
        since: cover.effective_from,
        registry_entry_id: cover.entry_id.to_string(),
        scope,
        ..Default::default()
    }
}

/// The policy's decision as an answer: every reason as a finding, earliest
/// first (ties: crawl signals, then by entry id); the earliest decides, else
/// the `newest` capture.
fn answer(
    decision: &Reservation,
    captures: &BTreeMap<u128, OptOutFinding>,
    newest: Option<OptOutFinding>,
    content_id: String,
    checked: usize,
    registry_checked: bool,
) -> CheckOptOutResponse {
    let mut reserving: Vec<OptOutFinding> = decision
        .by
        .iter()
        .filter_map(|reason| match reason {
            Reason::CrawlSignal { capture_id, .. } => captures.get(capture_id).cloned(),
            Reason::Registry(cover) => Some(registry_finding(cover)),
        })
        .collect();
    // Stable: crawl signals (by capture time) stay before registry entries
    // (by id) with the same `since`.
    reserving.sort_by_key(|f| f.since);
    let deciding = reserving.first().cloned().or(newest);
    reserving.truncate(MAX_RESERVING_LISTED);
    CheckOptOutResponse {
        verdict: decision.verdict.as_str().to_owned(),
        deciding,
        reserving,
        content_id,
        captures_checked: checked as u64,
        registry_checked,
    }
}

pub fn check_opt_out(
    index: &IndexReader,
    registry: Option<&dyn OptOutRegistry>,
    request: &CheckOptOutRequest,
) -> Result<CheckOptOutResponse, ApiError> {
    match &request.target {
        None => Err(ApiError::invalid("target", "set one of url or content_id")),
        Some(Target::Url(url)) => check_url(index, registry, url),
        Some(Target::ContentId(hex_id)) => {
            let content_id = crate::provenance::parse_id("content_id", hex_id)?;
            check_content(index, registry, content_id)
        }
    }
}

fn check_url(
    index: &IndexReader,
    registry: Option<&dyn OptOutRegistry>,
    url: &str,
) -> Result<CheckOptOutResponse, ApiError> {
    if url.trim().is_empty() {
        return Err(ApiError::invalid("url", "is empty"));
    }
    let prefixes = crate::provenance::url_prefixes(url, UrlMatch::Exact)?;
    let page = index.scan_urls(&UrlScan {
        prefixes,
        from_time: None,
        to_time: None,
        after: None,
        limit: 1,
        reverse: true,
    })?;
    let newest = page
        .hits
        .first()
        .ok_or_else(|| ApiError::NotFound(format!("no captures for {}", crate::echo(url))))?;
    let record = index
        .capture(newest.capture_id)?
        .ok_or_else(|| ApiError::NotFound(format!("capture {:032x}", newest.capture_id)))?;
    // The page's own content counts too: content and work entries (exact or
    // near-duplicate) reserve a URL whose newest capture holds what they cover.
    let covers = match (registry, record.content_id()) {
        (Some(registry), Some(content_id)) => registry.covers_for_content(
            content_id,
            &[(newest.surt.as_str(), record.registered_domain.as_str())],
        )?,
        (Some(registry), None) => registry.covers_for_url(url, &newest.surt)?,
        (None, _) => Vec::new(),
    };
    let signal = record.crawl_signal(newest.capture_id);
    let decision = reservation(Subject {
        captures: std::slice::from_ref(&signal),
        covers: &covers,
        at: now(),
        index_sketch_spec: &index.manifest().sketch_spec,
    });
    let finding = capture_finding(newest.capture_id, &record);
    let captures = BTreeMap::from([(newest.capture_id, finding.clone())]);
    let content_id = record
        .content_id()
        .map(|id| format!("{id:032x}"))
        .unwrap_or_default();
    Ok(answer(
        &decision,
        &captures,
        Some(finding),
        content_id,
        1,
        registry.is_some(),
    ))
}

fn check_content(
    index: &IndexReader,
    registry: Option<&dyn OptOutRegistry>,
    content_id: u128,
) -> Result<CheckOptOutResponse, ApiError> {
    if index.content(content_id)?.is_none() {
        return Err(ApiError::NotFound(format!("no content {content_id:032x}")));
    }
    let mut signals: Vec<CaptureSignal> = Vec::new();
    let mut findings: BTreeMap<u128, OptOutFinding> = BTreeMap::new();
    let mut newest: Option<OptOutFinding> = None;
    let mut checked = 0usize;
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut after = None;
    loop {
        let (captures, more) = index.content_captures(content_id, after, 1000)?;
        after = captures.last().map(|(id, _)| *id);
        for (capture_id, record) in captures {
            checked += 1;
            let key = (record.surt.clone(), record.registered_domain.clone());
            if registry.is_some() && !record.surt.is_empty() && !keys.contains(&key) {
                keys.push(key);
            }
            let signal = record.crawl_signal(capture_id);
            let finding = capture_finding(capture_id, &record);
            if newest.as_ref().is_none_or(|n| finding.since > n.since) {
                newest = Some(finding.clone());
            }
            if signal.verdict == Verdict::Reserved {
                findings.insert(capture_id, finding);
            }
            signals.push(signal);
        }
        if !more || checked >= MAX_CAPTURES_CHECKED || after.is_none() {
            break;
        }
    }
    let covers = match registry {
        Some(registry) => {
            let keys: Vec<(&str, &str)> = keys
                .iter()
                .map(|(surt, domain)| (surt.as_str(), domain.as_str()))
                .collect();
            registry.covers_for_content(content_id, &keys)?
        }
        None => Vec::new(),
    };
    let decision = reservation(Subject {
        captures: &signals,
        covers: &covers,
        at: now(),
        index_sketch_spec: &index.manifest().sketch_spec,
    });
    Ok(answer(
        &decision,
        &findings,
        newest,
        format!("{content_id:032x}"),
        checked,
        registry.is_some(),
    ))
}
