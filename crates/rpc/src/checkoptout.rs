//! `CheckOptOut`: opt-out verdicts from the crawl signals stored with every
//! capture, plus — through the [`OptOutRegistry`] seam — rightholders'
//! registry entries (issue 8 implements the registry; this file only asks it).

use provindex_index::records::CaptureRecord;
use provindex_index::{IndexReader, UrlScan};
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, OptOutFinding, UrlMatch, check_opt_out_request::Target,
};

use crate::{ApiError, convert};

/// A content's captures examined at most (the answer says how many were).
pub const MAX_CAPTURES_CHECKED: usize = 100_000;
/// Reserving findings listed at most.
pub const MAX_RESERVING_LISTED: usize = 100;

/// One opt-out registry entry covering the thing asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEntry {
    pub id: String,
    /// e.g. `domain:example.org`, `url_prefix:...`, `content:<id>`, `work:<id>`.
    pub scope: String,
    /// Unix seconds from which the reservation applies.
    pub effective_from: i64,
}

/// The seam for the opt-out registry (issue 8): entries in force now that
/// cover a URL or a content. `CheckOptOut` treats any returned entry as a
/// reservation. Without a registry, answers come from crawl signals alone and
/// say `registry_checked: false`.
pub trait OptOutRegistry: Send + Sync + 'static {
    /// Entries covering one URL, given with its SURT key.
    fn entries_for_url(&self, url: &str, surt: &str) -> Result<Vec<RegistryEntry>, ApiError>;
    /// Entries covering a content, given with the SURT keys of its captures
    /// (so domain and URL-prefix entries can match).
    fn entries_for_content(
        &self,
        content_id: u128,
        capture_surts: &[String],
    ) -> Result<Vec<RegistryEntry>, ApiError>;
}

fn verdict_of(record: &CaptureRecord) -> &str {
    if record.optout_verdict.is_empty() {
        "unknown"
    } else {
        &record.optout_verdict
    }
}

fn capture_finding(capture_id: u128, record: &CaptureRecord) -> OptOutFinding {
    let status = convert::capture(capture_id, record.clone()).optout;
    OptOutFinding {
        origin: "crawl_signal".to_owned(),
        capture_id: format!("{capture_id:032x}"),
        url: record.url.clone(),
        verdict: verdict_of(record).to_owned(),
        signal: status.and_then(|s| s.deciding_signal),
        since: record.capture_time,
        registry_entry_id: String::new(),
        scope: String::new(),
    }
}

fn registry_finding(entry: RegistryEntry) -> OptOutFinding {
    OptOutFinding {
        origin: "registry".to_owned(),
        verdict: "reserved".to_owned(),
        since: entry.effective_from,
        registry_entry_id: entry.id,
        scope: entry.scope,
        ..Default::default()
    }
}

pub(crate) fn check_opt_out(
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
    let capture = capture_finding(newest.capture_id, &record);
    let mut response = CheckOptOutResponse {
        verdict: capture.verdict.clone(),
        deciding: Some(capture.clone()),
        reserving: Vec::new(),
        content_id: record
            .content_id()
            .map(|id| format!("{id:032x}"))
            .unwrap_or_default(),
        captures_checked: 1,
        registry_checked: registry.is_some(),
    };
    if capture.verdict == "reserved" {
        response.reserving.push(capture);
    }
    if let Some(registry) = registry {
        let mut entries = registry.entries_for_url(url, &newest.surt)?;
        entries.sort_by(|a, b| {
            a.effective_from
                .cmp(&b.effective_from)
                .then(a.id.cmp(&b.id))
        });
        if let Some(first) = entries.first() {
            // A registry entry reserves the URL whatever its captures said.
            response.verdict = "reserved".to_owned();
            if response.reserving.is_empty() {
                response.deciding = Some(registry_finding(first.clone()));
            }
        }
        response
            .reserving
            .extend(entries.into_iter().map(registry_finding));
        response.reserving.sort_by_key(|f| f.since);
        response.reserving.truncate(MAX_RESERVING_LISTED);
    }
    Ok(response)
}

fn check_content(
    index: &IndexReader,
    registry: Option<&dyn OptOutRegistry>,
    content_id: u128,
) -> Result<CheckOptOutResponse, ApiError> {
    if index.content(content_id)?.is_none() {
        return Err(ApiError::NotFound(format!("no content {content_id:032x}")));
    }
    let mut reserving: Vec<OptOutFinding> = Vec::new();
    let mut newest: Option<OptOutFinding> = None;
    let mut any_not_reserved = false;
    let mut checked = 0usize;
    let mut surts = Vec::new();
    let mut after = None;
    loop {
        let (ids, more) = index.content_captures(content_id, after, 1000)?;
        for capture_id in &ids {
            let Some(record) = index.capture(*capture_id)? else {
                continue;
            };
            checked += 1;
            if registry.is_some() && !record.surt.is_empty() && !surts.contains(&record.surt) {
                surts.push(record.surt.clone());
            }
            let finding = capture_finding(*capture_id, &record);
            match finding.verdict.as_str() {
                "reserved" => reserving.push(finding.clone()),
                "not_reserved" => any_not_reserved = true,
                _ => {}
            }
            if newest.as_ref().is_none_or(|n| finding.since > n.since) {
                newest = Some(finding);
            }
        }
        after = ids.last().copied();
        if !more || checked >= MAX_CAPTURES_CHECKED || after.is_none() {
            break;
        }
    }
    if let Some(registry) = registry {
        reserving.extend(
            registry
                .entries_for_content(content_id, &surts)?
                .into_iter()
                .map(registry_finding),
        );
    }
    reserving.sort_by(|a, b| {
        a.since
            .cmp(&b.since)
            .then(a.capture_id.cmp(&b.capture_id))
            .then(a.registry_entry_id.cmp(&b.registry_entry_id))
    });
    let verdict = if !reserving.is_empty() {
        "reserved"
    } else if any_not_reserved {
        "not_reserved"
    } else {
        "unknown"
    };
    // The earliest reservation decides (since when); otherwise the newest capture.
    let deciding = reserving.first().cloned().or(newest);
    reserving.truncate(MAX_RESERVING_LISTED);
    Ok(CheckOptOutResponse {
        verdict: verdict.to_owned(),
        deciding,
        reserving,
        content_id: format!("{content_id:032x}"),
        captures_checked: checked as u64,
        registry_checked: registry.is_some(),
    })
}
