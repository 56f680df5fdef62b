//! Complaints in `AuditService` (issue 19): `FileComplaint` by anyone
//! authenticated, `GetComplaint` for the complainant (or an admin),
//! `ReviewComplaint` for reviewers (admins). The rules — states, due dates,
//! remedies, who may see and review — are [`provindex_policy::complaint`]'s;
//! complaints are stored in the registry's `complaints` table and every step
//! (refusals included) is appended to its audit log. Upholding writes the
//! registry entry in the same batch as the complaint's new state, so an
//! upheld complaint's remedy applies to CheckOptOut and exports at once.

use std::sync::Arc;

use provindex_index::IndexReader;
use provindex_index::registry::{
    Actor, ComplaintRecord, ComplaintStep, NewRegistration, RegistryError, Scope,
};
use provindex_policy::complaint::{
    self, ComplaintKind, ComplaintState, Remedy, ReviewStep, TargetKind,
};
use provindex_proto::v1::{self as pb, file_complaint_request::Target};
use provindex_sketch::MinHasher;
use serde_json::json;
use tonic::Request;

use super::AuditApi;
use crate::ApiError;
use crate::auth::{AuthError, Principal};

/// Longest description, reviewer note or work text's description, in bytes.
const MAX_NOTE_BYTES: usize = 8192;
/// Longest rightholder name, in bytes (as OptOutService).
const MAX_NAME_BYTES: usize = 256;
/// Contents a work text's complaint records (best matches first).
const MAX_MATCHES: u32 = 100;
/// Captures examined for the earliest capture of a content (source blocks).
const MAX_CAPTURES: usize = 100_000;

fn actor(principal: &Principal) -> Actor {
    Actor {
        name: principal.name.clone(),
        role: principal.role.as_str().into(),
    }
}

fn parse_complaint_id(text: &str) -> Result<u64, ApiError> {
    crate::convert::decimal_u64(text)
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::invalid(
                "id",
                format!(
                    "{:?} is not a complaint id (a decimal number from 1)",
                    crate::echo(text)
                ),
            )
        })
}

/// A filed target, resolved against the index.
struct Resolved {
    target_kind: &'static str,
    target: String,
    content_ids: Vec<u128>,
    work_signature: Vec<u32>,
    sketch_spec: String,
    work_token_count: u64,
    work_content_id: Option<u128>,
}

/// The indexed contents a target names; NOT_FOUND naming the target when
/// nothing indexed matches it.
fn resolve(index: &IndexReader, target: Option<&Target>) -> Result<Resolved, ApiError> {
    let plain = |target_kind, target: &str, content_ids| Resolved {
        target_kind,
        target: target.to_owned(),
        content_ids,
        work_signature: Vec::new(),
        sketch_spec: String::new(),
        work_token_count: 0,
        work_content_id: None,
    };
    match target {
        None => Err(ApiError::invalid(
            "target",
            "set one of content_id, url or work_text",
        )),
        Some(Target::ContentId(text)) => {
            let id = crate::provenance::parse_id("content_id", text)?;
            if index.content(id)?.is_none() {
                return Err(ApiError::NotFound(format!(
                    "content_id: no content {id:032x} is indexed: a complaint must name indexed content"
                )));
            }
            Ok(plain("content_id", text, vec![id]))
        }
        Some(Target::Url(url)) => {
            if url.trim().is_empty() {
                return Err(ApiError::invalid("url", "is empty"));
            }
            let prefixes = crate::provenance::url_prefixes(url, pb::UrlMatch::Exact)?;
            let page = index.scan_urls(&provindex_index::UrlScan {
                prefixes,
                from_time: None,
                to_time: None,
                after: None,
                limit: 1,
                reverse: true,
            })?;
            let newest = page.hits.first().ok_or_else(|| {
                ApiError::NotFound(format!(
                    "url: no capture of {} is indexed: a complaint must name indexed content",
                    crate::echo(url)
                ))
            })?;
            let content = index
                .capture(newest.capture_id)?
                .and_then(|c| c.content_id())
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "url: the newest capture of {} has no text content in the index",
                        crate::echo(url)
                    ))
                })?;
            Ok(plain("url", url, vec![content]))
        }
        Some(Target::WorkText(text)) => {
            let search = crate::WorkSearch::for_index(index);
            let found = crate::find_work(
                index,
                &search,
                &pb::FindWorkRequest {
                    text: text.clone(),
                    // What a work opt-out covers (the registry's default).
                    min_similarity: Some(provindex_index::registry::DEFAULT_WORK_THRESHOLD),
                    max_results: MAX_MATCHES,
                    page_token: String::new(),
                    captures_per_match: 1,
                },
            )
            .map_err(|error| match error {
                ApiError::InvalidArgument { reason, .. } => ApiError::invalid("work_text", reason),
                other => other,
            })?;
            let content_ids: Vec<u128> = found
                .matches
                .iter()
                .filter_map(|m| m.content.as_ref())
                .filter_map(|c| crate::convert::hex_u128(&c.content_id))
                .collect();
            if content_ids.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "work_text: no indexed content has this text or one near it (estimated Jaccard ≥ {})",
                    provindex_index::registry::DEFAULT_WORK_THRESHOLD
                )));
            }
            // The work's own sketch, for the opt-out upholding creates.
            let spec = crate::findwork::index_sketch_spec(index.manifest());
            let hasher = MinHasher::new(&spec)
                .map_err(|e| ApiError::FailedPrecondition(format!("index sketch spec: {e}")))?;
            let (version, normalized) = crate::findwork::normalize_query(index.manifest(), text)
                .map_err(|reason| ApiError::invalid("work_text", reason))?;
            let signature = hasher
                .signature(&normalized)
                .ok_or_else(|| ApiError::invalid("work_text", "has no words to sketch"))?;
            Ok(Resolved {
                target_kind: "work_text",
                target: String::new(),
                content_ids,
                work_signature: signature.0,
                sketch_spec: hasher.spec().to_string(),
                work_token_count: provindex_sketch::token_count_with(version, &normalized) as u64,
                work_content_id: Some(provindex_sketch::content_id(&normalized).0),
            })
        }
    }
}

fn target_kind(record: &ComplaintRecord) -> TargetKind {
    match record.target_kind.as_str() {
        "work_text" => TargetKind::WorkText,
        "url" => TargetKind::Url,
        _ => TargetKind::ContentId,
    }
}

/// The registration upholding `record` with `remedy` creates.
fn registration(
    index: &IndexReader,
    record: &ComplaintRecord,
    remedy: Remedy,
    reviewer: &Principal,
    note: &str,
    now: i64,
) -> Result<NewRegistration, ApiError> {
    let corrupt = |what: &str| {
        ApiError::Internal(format!(
            "complaint {} has no {what}: the registry is inconsistent",
            record.id
        ))
    };
    let content = record
        .content_ids
        .first()
        .and_then(|hex| crate::convert::hex_u128(hex))
        .ok_or_else(|| corrupt("content"))?;
    let earliest = || -> Result<provindex_index::records::CaptureRecord, ApiError> {
        let (captures, _) = index.content_captures(content, None, MAX_CAPTURES)?;
        let mut best: Option<(i64, u128, provindex_index::records::CaptureRecord)> = None;
        for (id, capture) in captures {
            let key = (capture.capture_time, id);
            if best.as_ref().is_none_or(|(t, i, _)| key < (*t, *i)) {
                best = Some((key.0, key.1, capture));
            }
        }
        best.map(|(_, _, c)| c).ok_or_else(|| {
            ApiError::FailedPrecondition(format!(
                "content {content:032x} has no captures in this index to block the source of"
            ))
        })
    };
    let mut new = NewRegistration {
        // Removals are the operator's; opt-outs the rightholder's.
        rightholder: reviewer.name.clone(),
        scope: Scope::ErasedContent(content),
        submitted: format!("complaint {}", record.id),
        work_signature: Vec::new(),
        sketch_spec: String::new(),
        work_token_count: 0,
        effective_from: now,
        evidence: format!("complaint {} upheld: {note}", record.id),
    };
    let rightholder = if record.rightholder.is_empty() {
        record.complainant.clone()
    } else {
        record.rightholder.clone()
    };
    match remedy {
        Remedy::ContentErasure => {}
        Remedy::ContentOptOut => {
            new.rightholder = rightholder;
            new.scope = Scope::Content(content);
        }
        Remedy::WorkOptOut => {
            let work = crate::convert::hex_u128(&record.work_content_id)
                .ok_or_else(|| corrupt("work content id"))?;
            new.rightholder = rightholder;
            new.scope = Scope::Work(work);
            new.work_signature = record.work_signature.clone();
            new.sketch_spec = record.sketch_spec.clone();
            new.work_token_count = record.work_token_count;
        }
        Remedy::BlockDomain => {
            let capture = earliest()?;
            if capture.registered_domain.is_empty() {
                return Err(ApiError::FailedPrecondition(format!(
                    "the earliest capture of {content:032x} ({}) has no registered domain; block its host",
                    crate::echo(&capture.url)
                )));
            }
            new.scope = Scope::BlockedDomain(capture.registered_domain.to_ascii_lowercase());
        }
        Remedy::BlockHost => {
            new.scope = Scope::BlockedHost(earliest()?.host.to_ascii_lowercase());
        }
        Remedy::BlockInput => new.scope = Scope::BlockedInput(earliest()?.location_uri),
    }
    Ok(new)
}

/// A stored complaint as the API shows it.
fn to_proto(record: &ComplaintRecord, now: i64) -> pb::Complaint {
    let state = ComplaintState::parse(&record.state).unwrap_or(ComplaintState::Received);
    pb::Complaint {
        id: record.id.to_string(),
        kind: record.kind.clone(),
        target_kind: record.target_kind.clone(),
        target: record.target.clone(),
        content_ids: record.content_ids.clone(),
        complainant: record.complainant.clone(),
        description: record.description.clone(),
        state: record.state.clone(),
        filed_at: record.filed_at,
        due_at: record.due_at,
        overdue: complaint::overdue(state, record.due_at, now),
        decided_at: record.decided_at,
        reviewer: record.reviewer.clone(),
        decision_note: record.decision_note.clone(),
        registry_entry_id: record
            .registry_entry_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        remedy: record.remedy.clone(),
        history: record
            .history
            .iter()
            .map(|s| pb::ComplaintStep {
                at: s.at,
                actor: s.actor.clone(),
                state: s.state.clone(),
                note: s.note.clone(),
            })
            .collect(),
        rightholder: record.rightholder.clone(),
    }
}

fn step_name(action: pb::ReviewAction) -> Option<ReviewStep> {
    match action {
        pb::ReviewAction::StartReview => Some(ReviewStep::StartReview),
        pb::ReviewAction::Uphold => Some(ReviewStep::Uphold),
        pb::ReviewAction::Reject => Some(ReviewStep::Reject),
        pb::ReviewAction::Unspecified => None,
    }
}

impl AuditApi {
    /// Any authenticated caller.
    pub(super) fn caller<T>(
        &self,
        request: &Request<T>,
        method: &'static str,
    ) -> Result<Arc<Principal>, ApiError> {
        let auth = self.auth.as_ref().ok_or(AuthError::NotConfigured(method))?;
        Ok(auth.authenticate(request.metadata())?)
    }

    pub(super) async fn file_complaint(
        &self,
        principal: &Principal,
        request: pb::FileComplaintRequest,
    ) -> Result<pb::Complaint, ApiError> {
        let registry = self.registry()?;
        let kind = ComplaintKind::parse(request.kind.trim()).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                format!(
                    "{:?} is not one of copyright, unlawful_content, personal_information",
                    crate::echo(&request.kind)
                ),
            )
        })?;
        if request.description.trim().is_empty() {
            return Err(ApiError::invalid(
                "description",
                "is required (what is wrong with the content)",
            ));
        }
        if request.description.len() > MAX_NOTE_BYTES {
            return Err(ApiError::invalid(
                "description",
                format!("longer than {MAX_NOTE_BYTES} bytes"),
            ));
        }
        let rightholder = request.rightholder.trim().to_owned();
        if !rightholder.is_empty() && kind != ComplaintKind::Copyright {
            return Err(ApiError::invalid(
                "rightholder",
                "is for copyright complaints only",
            ));
        }
        if rightholder.len() > MAX_NAME_BYTES {
            return Err(ApiError::invalid(
                "rightholder",
                format!("longer than {MAX_NAME_BYTES} bytes"),
            ));
        }
        let target = request.target.clone();
        let resolved = self
            .blocking(move |index| resolve(index, target.as_ref()))
            .await?;
        let now = provindex_disclosure::now();
        let record = ComplaintRecord {
            id: 0,
            kind: kind.as_str().into(),
            target_kind: resolved.target_kind.into(),
            target: resolved.target,
            content_ids: resolved
                .content_ids
                .iter()
                .map(|id| format!("{id:032x}"))
                .collect(),
            complainant: principal.name.clone(),
            complainant_role: principal.role.as_str().into(),
            rightholder,
            description: request.description.clone(),
            state: ComplaintState::Received.as_str().into(),
            filed_at: now,
            due_at: complaint::due_at(now, self.complaint_due_days),
            decided_at: None,
            reviewer: String::new(),
            decision_note: String::new(),
            registry_entry_id: None,
            remedy: String::new(),
            work_signature: resolved.work_signature,
            sketch_spec: resolved.sketch_spec,
            work_token_count: resolved.work_token_count,
            work_content_id: resolved
                .work_content_id
                .map(|id| format!("{id:032x}"))
                .unwrap_or_default(),
            history: vec![ComplaintStep {
                at: now,
                actor: principal.name.clone(),
                state: ComplaintState::Received.as_str().into(),
                note: String::new(),
            }],
        };
        let who = actor(principal);
        let logged = file_json(&request);
        let filed =
            tokio::task::spawn_blocking(move || registry.file_complaint(record, &who, now, logged))
                .await
                .map_err(|join| ApiError::Internal(format!("complaint task failed: {join}")))??;
        tracing::info!(id = filed.id, kind = filed.kind, complainant = %principal.name, "complaint filed");
        Ok(to_proto(&filed, now))
    }

    pub(super) fn get_complaint(
        &self,
        principal: &Principal,
        request: &pb::GetComplaintRequest,
    ) -> Result<pb::Complaint, ApiError> {
        let registry = self.registry()?;
        let id = parse_complaint_id(&request.id)?;
        let record = registry
            .complaint(id)?
            .ok_or(RegistryError::ComplaintNotFound(id))?;
        complaint::may_read_complaint(principal, id, &record.complainant)?;
        Ok(to_proto(&record, provindex_disclosure::now()))
    }

    pub(super) async fn review_complaint(
        &self,
        principal: &Principal,
        request: pb::ReviewComplaintRequest,
    ) -> Result<pb::Complaint, ApiError> {
        complaint::may_review(principal)?;
        let registry = self.registry()?;
        let id = parse_complaint_id(&request.id)?;
        let step = pb::ReviewAction::try_from(request.action)
            .ok()
            .and_then(step_name)
            .ok_or_else(|| {
                ApiError::invalid(
                    "action",
                    format!(
                        "{} is not one of REVIEW_ACTION_START_REVIEW, REVIEW_ACTION_UPHOLD, REVIEW_ACTION_REJECT",
                        request.action
                    ),
                )
            })?;
        if request.note.len() > MAX_NOTE_BYTES {
            return Err(ApiError::invalid(
                "note",
                format!("longer than {MAX_NOTE_BYTES} bytes"),
            ));
        }
        if step == ReviewStep::Reject && request.note.trim().is_empty() {
            return Err(ApiError::invalid(
                "note",
                "is required to reject (the reasons the complainant is told)",
            ));
        }
        if step != ReviewStep::Uphold && !request.remedy.is_empty() {
            return Err(ApiError::invalid("remedy", "is for upholding only"));
        }
        let current = registry
            .complaint(id)?
            .ok_or(RegistryError::ComplaintNotFound(id))?;
        let kind = ComplaintKind::parse(&current.kind).ok_or_else(|| {
            ApiError::Internal(format!(
                "complaint {id} has the unknown kind {:?}",
                current.kind
            ))
        })?;
        let now = provindex_disclosure::now();
        // The remedy and its registration: from the complaint's fixed facts,
        // so computing them before taking the writer lock is safe.
        let upheld = if step == ReviewStep::Uphold {
            let remedy = complaint::remedy(kind, target_kind(&current), request.remedy.trim())?;
            let reviewer = principal.clone();
            let note = request.note.clone();
            let record = current.clone();
            let new = self
                .blocking(move |index| registration(index, &record, remedy, &reviewer, &note, now))
                .await?;
            Some((remedy, new))
        } else {
            None
        };
        let who = actor(principal);
        let note = request.note.clone();
        let reviewer = principal.name.clone();
        let action = format!("complaint_{}", step.as_str());
        let logged = json!({
            "action": step.as_str(),
            "note": note,
            "remedy": request.remedy,
        });
        let (record, _created) = tokio::task::spawn_blocking(move || {
            registry.step_complaint(id, &who, now, &action, logged, |record| {
                let state = ComplaintState::parse(&record.state).ok_or_else(|| {
                    RegistryError::Precondition(format!(
                        "complaint {id} is in the unknown state {:?}",
                        record.state
                    ))
                })?;
                let next =
                    complaint::transition(id, state, step).map_err(RegistryError::Precondition)?;
                record.state = next.as_str().into();
                record.reviewer = reviewer.clone();
                record.history.push(ComplaintStep {
                    at: now,
                    actor: reviewer,
                    state: next.as_str().into(),
                    note: note.clone(),
                });
                if next.decided() {
                    record.decided_at = Some(now);
                    record.decision_note = note;
                }
                Ok(upheld.map(|(remedy, new)| {
                    record.remedy = remedy.as_str().into();
                    new
                }))
            })
        })
        .await
        .map_err(|join| ApiError::Internal(format!("complaint task failed: {join}")))??;
        tracing::info!(id, state = record.state, reviewer = %principal.name, "complaint reviewed");
        Ok(to_proto(&record, now))
    }
}

/// A complaint as recorded in the audit log: the target and description
/// bounded (a work text only by its length).
pub(super) fn file_json(request: &pb::FileComplaintRequest) -> serde_json::Value {
    let bounded = |text: &str| -> String {
        if text.len() <= MAX_NOTE_BYTES {
            return text.to_owned();
        }
        let mut end = MAX_NOTE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… [truncated, {} bytes]", &text[..end], text.len())
    };
    let target = match &request.target {
        None => json!(null),
        Some(Target::ContentId(id)) => json!({"content_id": bounded(id)}),
        Some(Target::Url(url)) => json!({"url": bounded(url)}),
        Some(Target::WorkText(text)) => json!({"work_text_bytes": text.len()}),
    };
    json!({
        "kind": bounded(&request.kind),
        "target": target,
        "description": bounded(&request.description),
        "rightholder": bounded(&request.rightholder),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaint_ids_are_strict_decimal() {
        assert_eq!(parse_complaint_id("12").ok(), Some(12));
        for bad in ["0", "", "-1", "+1", "01", "1 ", "x"] {
            let status = crate::status_of(&parse_complaint_id(bad).expect_err(bad));
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bad:?}");
            assert!(status.message().starts_with("id: "), "{status:?}");
        }
    }

    #[test]
    fn logged_complaints_are_bounded_and_hold_no_work_text() {
        let huge = "x".repeat(1 << 20);
        let json = file_json(&pb::FileComplaintRequest {
            kind: huge.clone(),
            target: Some(Target::WorkText(huge.clone())),
            description: huge.clone(),
            rightholder: huge,
        });
        let text = json.to_string();
        assert!(text.len() < 40 * 1024, "{} bytes", text.len());
        assert_eq!(json["target"]["work_text_bytes"], 1 << 20);
    }
}
