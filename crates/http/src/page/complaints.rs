//! The web page's complaints and claims (issue 20 over issue 19's
//! AuditService): file a complaint about a content id, a URL or a work's
//! text and look it up by id; claim a content a match found and see the
//! claims covering it. Only translation: [`provindex_rpc::AuditApi`]'s
//! `*_as` operations check, store and audit exactly as FileComplaint,
//! GetComplaint and ClaimContent do over gRPC.

use askama::Template;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use provindex_proto::v1::{self as pb, OptOutScope, file_complaint_request::Target, opt_out_scope};
use provindex_rpc::{ApiError, AuditApi};

use super::{
    Form, Lang, PageError, Session, SessionView, Texts, WebState, format_date, format_time, html,
    iso_time, query_param, see_other, writer_form,
};

#[derive(Template)]
#[template(path = "complaints.html")]
struct ComplaintsPage {
    t: &'static Texts,
    lang: &'static str,
    html_lang: &'static str,
    path: &'static str,
    session: Option<SessionView>,
    /// Prefilled from a match's "file a complaint" link.
    content_id: String,
}

#[derive(Template)]
#[template(path = "complaint.html")]
struct ComplaintPage {
    t: &'static Texts,
    lang: &'static str,
    html_lang: &'static str,
    path: &'static str,
    session: Option<SessionView>,
    notice: String,
    complaint: ComplaintView,
}

#[derive(Template)]
#[template(path = "claims.html")]
struct ClaimsPage {
    t: &'static Texts,
    lang: &'static str,
    html_lang: &'static str,
    path: &'static str,
    session: Option<SessionView>,
    notice: String,
    content_id: String,
    claims: Vec<ClaimView>,
}

struct ComplaintView {
    id: String,
    kind: String,
    target_kind: String,
    target: String,
    contents: Vec<String>,
    state_code: String,
    state: String,
    filed: String,
    filed_iso: String,
    due: String,
    due_iso: String,
    overdue: bool,
    decided: String,
    decision_note: String,
    remedy: String,
    registry_entry_id: String,
    history: Vec<StepView>,
}

struct StepView {
    at: String,
    actor: String,
    state: String,
    note: String,
}

/// A claim as a match and the claims page list it.
pub(super) struct ClaimView {
    pub(super) id: String,
    pub(super) rightholder: String,
    pub(super) claimant: String,
    pub(super) scope: String,
    pub(super) created: String,
    /// The signed-in caller claimed it or is paid by it: the claims page
    /// offers to revoke it (the service decides who may).
    pub(super) revocable: bool,
}

impl ClaimView {
    pub(super) fn of(claim: &pb::Claim) -> Self {
        Self {
            id: claim.id.clone(),
            rightholder: claim.rightholder.clone(),
            claimant: claim.claimant.clone(),
            scope: format!("{} {}", claim.scope_kind, claim.scope_key),
            created: format_date(claim.created_at),
            revocable: false,
        }
    }
}

/// A label without its parenthesised note ("Content id (32 hex …)").
fn short(label: &'static str) -> &'static str {
    let label = label.split(" (").next().unwrap_or(label);
    label.split('（').next().unwrap_or(label)
}

fn state_label(state: &str, t: &Texts) -> String {
    match state {
        "received" => t.state_received,
        "under_review" => t.state_under_review,
        "upheld" => t.state_upheld,
        "rejected" => t.state_rejected,
        other => other,
    }
    .to_owned()
}

fn complaint_view(c: &pb::Complaint, t: &Texts) -> ComplaintView {
    let kind = match c.kind.as_str() {
        "copyright" => t.kind_copyright,
        "unlawful_content" => t.kind_unlawful,
        "personal_information" => t.kind_personal,
        other => other,
    };
    let target_kind = match c.target_kind.as_str() {
        "content_id" => short(t.complaint_content_id_label),
        "url" => t.complaint_url_label,
        "work_text" => short(t.complaint_work_label),
        other => other,
    };
    ComplaintView {
        id: c.id.clone(),
        kind: kind.to_owned(),
        target_kind: target_kind.to_owned(),
        target: c.target.clone(),
        contents: c.content_ids.clone(),
        state_code: c.state.clone(),
        state: state_label(&c.state, t),
        filed: format_time(c.filed_at),
        filed_iso: iso_time(c.filed_at),
        due: format_time(c.due_at),
        due_iso: iso_time(c.due_at),
        overdue: c.overdue,
        decided: c.decided_at.map(format_time).unwrap_or_default(),
        decision_note: c.decision_note.clone(),
        remedy: c.remedy.clone(),
        registry_entry_id: c.registry_entry_id.clone(),
        history: c
            .history
            .iter()
            .map(|s| StepView {
                at: format_time(s.at),
                actor: s.actor.clone(),
                state: state_label(&s.state, t),
                note: s.note.clone(),
            })
            .collect(),
    }
}

/// The complaint and claim operations, or the page saying the server has
/// no registry to keep them in.
fn audit_api(web: &WebState, t: &Texts) -> Result<AuditApi, PageError> {
    web.audit.clone().ok_or_else(|| web.no_registry(t))
}

/// The signed-in session of a page that shows a caller's own records: 401
/// without one.
fn reader_session(web: &WebState, headers: &HeaderMap, t: &Texts) -> Result<Session, PageError> {
    // No one signs in on a router's page: say where instead of 401.
    if web.registry_elsewhere {
        return Err(web.no_registry(t));
    }
    web.session(headers)
        .ok_or_else(|| PageError::new(StatusCode::UNAUTHORIZED, t.err_not_signed_in))
}

/// `GET /complaints`: the complaint form (signed in) and the look-up form.
pub(super) async fn form_page(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(query.as_deref(), &headers);
    if web.registry_elsewhere {
        // Filing and looking up complaints both need the registry.
        return web.no_registry(lang.texts()).render(lang, None);
    }
    let session = web.session(&headers);
    let content_id = query
        .as_deref()
        .and_then(|q| query_param(q, "content_id"))
        .unwrap_or_default();
    html(
        StatusCode::OK,
        &ComplaintsPage {
            t: lang.texts(),
            lang: lang.code(),
            html_lang: lang.html_lang(),
            path: "/complaints",
            session: session.as_ref().map(Session::view),
            content_id,
        },
    )
}

/// The form as a FileComplaint request; the service checks the rest.
fn complaint_request(form: &Form, t: &Texts) -> Result<pb::FileComplaintRequest, PageError> {
    let target = match form.get("target") {
        "content_id" => Target::ContentId(form.get("content_id").trim().to_owned()),
        "url" => Target::Url(form.get("url").trim().to_owned()),
        "work_text" => Target::WorkText(form.get("work_text").to_owned()),
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, t.err_target)),
    };
    Ok(pb::FileComplaintRequest {
        kind: form.get("kind").to_owned(),
        target: Some(target),
        description: form.get("description").to_owned(),
        rightholder: String::new(),
    })
}

/// `POST /complaints`: FileComplaint as the signed-in caller, then its page.
pub(super) async fn file(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let (lang, form, session) = match writer_form(&web, query.as_deref(), request).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let t = lang.texts();
    let filed = match (audit_api(&web, t), complaint_request(&form, t)) {
        (Ok(api), Ok(request)) => api
            .file_complaint_as(&session.principal, request)
            .await
            .map_err(|error| PageError::api(&error)),
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    match filed {
        Ok(complaint) => see_other(&format!(
            "/complaints/status?lang={}&id={}&filed=1",
            lang.code(),
            complaint.id
        )),
        Err(error) => error.back("/complaints").render(lang, Some(&session)),
    }
}

/// `GET /complaints/status?id=N`: GetComplaint as the signed-in caller.
pub(super) async fn status(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(query.as_deref(), &headers);
    let t = lang.texts();
    let query = query.unwrap_or_default();
    let session = match reader_session(&web, &headers, t) {
        Ok(session) => session,
        Err(error) => return error.back("/complaints").render(lang, None),
    };
    let request = pb::GetComplaintRequest {
        id: query_param(&query, "id")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    };
    let complaint = audit_api(&web, t).and_then(|api| {
        api.get_complaint_as(&session.principal, &request)
            .map_err(|error| PageError::api(&error))
    });
    let complaint = match complaint {
        Ok(complaint) => complaint,
        Err(error) => return error.back("/complaints").render(lang, Some(&session)),
    };
    let notice = if query_param(&query, "filed").is_some() {
        format!("{}{}", t.filed_notice, complaint.id)
    } else {
        String::new()
    };
    html(
        StatusCode::OK,
        &ComplaintPage {
            t,
            lang: lang.code(),
            html_lang: lang.html_lang(),
            path: "/complaints",
            session: Some(session.view()),
            notice,
            complaint: complaint_view(&complaint, t),
        },
    )
}

/// `POST /claims`: ClaimContent of a match's content as the signed-in
/// caller, then the claims covering it.
pub(super) async fn claim(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let (lang, form, session) = match writer_form(&web, query.as_deref(), request).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let t = lang.texts();
    let api = match audit_api(&web, t) {
        Ok(api) => api,
        Err(error) => return error.render(lang, Some(&session)),
    };
    let content_id = form.get("content_id").trim().to_owned();
    let request = pb::ClaimContentRequest {
        member: String::new(),
        scope: Some(OptOutScope {
            scope: Some(opt_out_scope::Scope::ContentId(content_id.clone())),
        }),
        evidence: form.get("evidence").to_owned(),
    };
    match api.claim_content_as(&session.principal, request).await {
        Ok(claim) => {
            // The content id was accepted by the service: plain hex.
            see_other(&format!(
                "/claims?lang={}&content_id={content_id}&claimed={}",
                lang.code(),
                claim.id
            ))
        }
        Err(error) => PageError::api(&error).render(lang, Some(&session)),
    }
}

/// `POST /claims/revoke`: RevokeClaim as the signed-in caller, then the
/// claims covering the content the form came from.
pub(super) async fn revoke_claim(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let (lang, form, session) = match writer_form(&web, query.as_deref(), request).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let t = lang.texts();
    let api = match audit_api(&web, t) {
        Ok(api) => api,
        Err(error) => return error.render(lang, Some(&session)),
    };
    let request = pb::RevokeClaimRequest {
        id: form.get("id").trim().to_owned(),
        reason: form.get("reason").to_owned(),
    };
    match api.revoke_claim_as(&session.principal, request).await {
        Ok(claim) => {
            let content: String =
                url::form_urlencoded::byte_serialize(form.get("content_id").as_bytes()).collect();
            see_other(&format!(
                "/claims?lang={}&content_id={content}&revoked={}",
                lang.code(),
                claim.id
            ))
        }
        Err(error) => PageError::api(&error).render(lang, Some(&session)),
    }
}

/// `GET /claims?content_id=X`: the active claims covering a content.
pub(super) async fn claims(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(query.as_deref(), &headers);
    let t = lang.texts();
    let query = query.unwrap_or_default();
    let session = match reader_session(&web, &headers, t) {
        Ok(session) => session,
        Err(error) => return error.render(lang, None),
    };
    let api = match audit_api(&web, t) {
        Ok(api) => api,
        Err(error) => return error.render(lang, Some(&session)),
    };
    let content_id = query_param(&query, "content_id").unwrap_or_default();
    let id = content_id.clone();
    let listed = tokio::task::spawn_blocking(move || api.claims_covering(&id))
        .await
        .map_err(|join| ApiError::Internal(format!("claims task failed: {join}")))
        .and_then(|r| r);
    let name = &session.principal.name;
    let claims = match listed {
        Ok(claims) => claims
            .iter()
            .map(|c| ClaimView {
                revocable: &c.claimant == name || &c.rightholder == name,
                ..ClaimView::of(c)
            })
            .collect(),
        Err(error) => return PageError::api(&error).render(lang, Some(&session)),
    };
    let id_of = |name| {
        query_param(&query, name).filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    };
    let notice = match (id_of("claimed"), id_of("revoked")) {
        (Some(id), _) => format!("{}{id}", t.claimed_notice),
        (None, Some(id)) => format!("{}{id}", t.claim_revoked_notice),
        _ => String::new(),
    };
    html(
        StatusCode::OK,
        &ClaimsPage {
            t,
            lang: lang.code(),
            html_lang: lang.html_lang(),
            path: "/claims",
            session: Some(session.view()),
            notice,
            content_id,
            claims,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{EN, ZH};

    fn form(fields: &[(&str, &str)]) -> Form {
        Form {
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            file: None,
        }
    }

    #[test]
    fn the_chosen_target_is_the_one_sent() {
        let request = complaint_request(
            &form(&[
                ("kind", "copyright"),
                ("target", "url"),
                ("url", " https://a.example/x "),
                ("content_id", "ignored"),
                ("description", "d"),
            ]),
            &EN,
        )
        .unwrap_or_else(|e| panic!("{}: {}", e.status, e.message));
        assert_eq!(
            request.target,
            Some(Target::Url("https://a.example/x".into()))
        );
        assert_eq!(request.kind, "copyright");
        let refused = complaint_request(&form(&[("target", "email")]), &EN).err();
        assert_eq!(refused.map(|e| e.status), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn labels_lose_their_notes_in_both_languages() {
        assert_eq!(short(EN.complaint_content_id_label), "Content id");
        assert_eq!(short(ZH.complaint_content_id_label), "内容编号");
        assert_eq!(state_label("under_review", &ZH), "审核中");
        assert_eq!(state_label("odd", &EN), "odd");
    }
}
