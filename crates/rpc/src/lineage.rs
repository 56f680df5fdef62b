//! `LedgerService.Lineage` and `provindex lineage`: the question (a content
//! id, a URL's captures' contents, or a work's text with its near-duplicates
//! found by [`find_work`]) resolved to contents here; the answer is
//! [`provindex_disclosure::lineage::content_lineage`]'s, with each ledger
//! manifest's digest computed by `provindex-ledger`.

use provindex_corpus::store::CorpusStore;
use provindex_disclosure::Sources;
use provindex_disclosure::lineage::{self, LineageAnswer, LineageSubject};
use provindex_index::{IndexReader, Registry, UrlScan};
use provindex_proto::v1::{
    self as pb, FindWorkRequest, LineageRequest, LineageResponse, UrlMatch,
    lineage_request::Subject,
};

use crate::findwork::{DEFAULT_MIN_SIMILARITY, MAX_MAX_RESULTS, WorkSearch, find_work};
use crate::{ApiError, echo};

/// Captures of one URL examined at most.
pub const MAX_URL_CAPTURES: usize = 10_000;
/// Contents one question may resolve to (a work's matches, a URL's contents).
pub const MAX_LINEAGE_CONTENTS: usize = 1_000;

/// The contents `request` asks about.
pub fn subjects(
    index: &IndexReader,
    request: &LineageRequest,
) -> Result<Vec<LineageSubject>, ApiError> {
    match &request.subject {
        None => Err(ApiError::invalid(
            "subject",
            "set one of content_id, url or work_text",
        )),
        Some(Subject::ContentId(text)) => Ok(vec![LineageSubject {
            content_id: crate::provenance::parse_id("content_id", text)?,
            matched: "content_id".into(),
            similarity: None,
        }]),
        Some(Subject::Url(url)) => url_subjects(index, url),
        Some(Subject::WorkText(text)) => work_subjects(index, text, request.min_similarity),
    }
}

fn url_subjects(index: &IndexReader, url: &str) -> Result<Vec<LineageSubject>, ApiError> {
    if url.trim().is_empty() {
        return Err(ApiError::invalid("url", "is empty"));
    }
    let prefixes = crate::provenance::url_prefixes(url, UrlMatch::Exact)?;
    let mut after = None;
    let mut captures = 0usize;
    let mut ids = std::collections::BTreeSet::new();
    loop {
        let page = index.scan_urls(&UrlScan {
            prefixes: prefixes.clone(),
            from_time: None,
            to_time: None,
            after,
            limit: 1000,
            reverse: false,
        })?;
        let capture_ids: Vec<u128> = page.hits.iter().map(|hit| hit.capture_id).collect();
        captures += capture_ids.len();
        if captures > MAX_URL_CAPTURES {
            return Err(ApiError::ResourceExhausted(format!(
                "{} has more than {MAX_URL_CAPTURES} captures: ask by content_id",
                echo(url)
            )));
        }
        for record in index.captures(&capture_ids)?.into_iter().flatten() {
            if let Some(content_id) = record.content_id() {
                ids.insert(content_id);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if captures == 0 {
        return Err(ApiError::NotFound(format!("no captures for {}", echo(url))));
    }
    if ids.is_empty() {
        return Err(ApiError::FailedPrecondition(format!(
            "the {captures} captures of {} hold no text, so no content",
            echo(url)
        )));
    }
    Ok(ids
        .into_iter()
        .map(|content_id| LineageSubject {
            content_id,
            matched: "url".into(),
            similarity: None,
        })
        .collect())
}

/// The work's exact content (whether the served index holds it or not) and
/// its near-duplicates, as FindWork ranks them.
fn work_subjects(
    index: &IndexReader,
    text: &str,
    min_similarity: Option<f64>,
) -> Result<Vec<LineageSubject>, ApiError> {
    // FindWork names its own fields; the question's is `work_text`.
    let rename = |error: ApiError| match error {
        ApiError::InvalidArgument {
            field: "text",
            reason,
        } => ApiError::invalid("work_text", reason),
        other => other,
    };
    if text.trim().is_empty() {
        return Err(ApiError::invalid("work_text", "is empty"));
    }
    let search = WorkSearch::for_index(index);
    let mut request = FindWorkRequest {
        text: text.to_owned(),
        min_similarity: Some(min_similarity.unwrap_or(DEFAULT_MIN_SIMILARITY)),
        max_results: MAX_MAX_RESULTS,
        captures_per_match: 1,
        ..Default::default()
    };
    let mut out: Vec<LineageSubject> = Vec::new();
    loop {
        let page = find_work(index, &search, &request).map_err(rename)?;
        if out.is_empty() {
            let exact = crate::provenance::parse_id("content_id", &page.content_id)
                .map_err(|e| ApiError::Internal(format!("FindWork's content_id: {e}")))?;
            out.push(LineageSubject {
                content_id: exact,
                matched: "exact".into(),
                similarity: Some(1.0),
            });
        }
        for found in page.matches.iter().filter(|m| !m.exact) {
            let Some(content) = &found.content else {
                continue;
            };
            out.push(LineageSubject {
                content_id: crate::provenance::parse_id("content_id", &content.content_id)
                    .map_err(|e| ApiError::Internal(format!("FindWork's match: {e}")))?,
                matched: "near_duplicate".into(),
                similarity: Some(found.similarity),
            });
        }
        if out.len() > MAX_LINEAGE_CONTENTS {
            return Err(ApiError::ResourceExhausted(format!(
                "the work has more than {MAX_LINEAGE_CONTENTS} near-duplicates: raise min_similarity"
            )));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    Ok(out)
}

/// SHA-256 of a signed ledger manifest's canonical bytes (hex), `None` when
/// the document is not one.
fn manifest_digest(signed_manifest: &serde_json::Value) -> Option<String> {
    provindex_ledger::wire::signed_manifest_from_json(&signed_manifest.to_string())
        .ok()
        .map(|signed| hex::encode(signed.manifest.digest()))
}

/// The lineage of what `request` asks about, from the served `index` and
/// the lineage log of `registry`. Blocking.
pub fn lineage(
    store: &CorpusStore,
    index: &IndexReader,
    registry: Option<&Registry>,
    request: &LineageRequest,
) -> Result<LineageAnswer, ApiError> {
    let subjects = subjects(index, request)?;
    let mut answer = lineage::content_lineage(
        store,
        Sources {
            reader: index.into(),
            registry,
            at: 0,
        },
        &subjects,
    )?;
    for version in &mut answer.versions {
        if let Some(ledger) = &version.ledger {
            version.manifest_digest = manifest_digest(&ledger.signed_manifest);
        }
    }
    Ok(answer)
}

fn presence(present: Option<bool>) -> String {
    match present {
        Some(true) => "present",
        Some(false) => "absent",
        None => "unknown",
    }
    .to_owned()
}

/// The answer as a protobuf message.
pub fn to_response(answer: LineageAnswer) -> LineageResponse {
    let digest_of = |index_digest: &str| {
        answer
            .versions
            .iter()
            .find(|v| v.index_digest == index_digest && !index_digest.is_empty())
            .and_then(|v| v.manifest_digest.clone())
            .unwrap_or_default()
    };
    let exports = answer
        .exports
        .iter()
        .map(|e| pb::LineageExport {
            summary_uri: e.summary.clone(),
            manifest_uri: e.manifest.clone(),
            exclusions_uri: e.exclusions.clone(),
            format: e.format.clone(),
            exported_at: e.exported_at,
            at: e.at,
            index_digest: e.index_digest.clone(),
            manifest_digest: digest_of(&e.index_digest),
            registry_audit_seq: e.registry_audit_seq.unwrap_or(0),
            registry_last_entry_id: e.registry_last_entry_id.unwrap_or(0),
        })
        .collect();
    let versions = answer
        .versions
        .iter()
        .map(|v| pb::LineageVersion {
            relation: v.relation.clone(),
            index_digest: v.index_digest.clone(),
            uri: v.uri.clone(),
            built_at: v.built_at.unwrap_or(0),
            content_root: v
                .ledger
                .as_ref()
                .map(|l| l.content_root.clone())
                .unwrap_or_default(),
            manifest_digest: v.manifest_digest.clone().unwrap_or_default(),
            manifest_signature: v
                .ledger
                .as_ref()
                .map(|l| l.signature.clone())
                .unwrap_or_default(),
        })
        .collect();
    let contents = answer
        .contents
        .into_iter()
        .map(|c| pb::ContentLineage {
            content_id: c.content_id,
            matched: c.matched,
            similarity: c.similarity.unwrap_or(0.0),
            versions: c
                .versions
                .into_iter()
                .map(|v| pb::ContentInVersion {
                    index_digest: v.index_digest,
                    presence: presence(v.present),
                })
                .collect(),
            exports: c
                .exports
                .into_iter()
                .map(|e| pb::ContentInExport {
                    summary_uri: e.summary,
                    exported_at: e.exported_at,
                    inclusion: e.inclusion,
                    reason: e.reason,
                    detail: e.detail,
                    coverage_known: e.covered.is_some(),
                    covered: e.covered.unwrap_or(false),
                    covering: e
                        .covering
                        .into_iter()
                        .map(|c| pb::LineageCovering {
                            entry_id: c.entry_id,
                            rightholder: c.rightholder,
                            scope: format!("{}:{}", c.scope_kind, c.scope_value),
                            how: c.how,
                            since: c.since,
                        })
                        .collect(),
                    verdict: e.verdict,
                })
                .collect(),
        })
        .collect();
    LineageResponse {
        versions,
        exports,
        contents,
        registry_checked: answer.registry.is_some(),
    }
}
