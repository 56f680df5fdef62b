//! The rightholder web page (issue 20): find a work (pasted text or an
//! uploaded .txt/.html file) with its matches, sources, capture dates,
//! licenses and opt-out verdicts; signed in with a rightholder token, list,
//! register and revoke opt-outs, claim a match for payment, and file and
//! look up complaints ([`complaints`]).
//!
//! Server-rendered with askama (HTML auto-escaped), usable without
//! JavaScript, in English and Chinese (`?lang=en|zh`, else Accept-Language).
//! Like the rest of this crate it only translates: matches come from
//! FindWork and verdicts from CheckOptOut of a [`WorkLookups`] — `serve`'s
//! [`ProvenanceApi`] (with the registry's entries) or a router's, so a router
//! shows what one server over the whole index shows — and opt-outs go
//! through [`OptOutApi`]'s `*_as` operations, the same
//! authorization and audit path as the gRPC OptOutService; complaints and
//! claims through [`AuditApi`]'s, as the gRPC AuditService.
//!
//! Session: the token is kept (hex) in an HttpOnly, SameSite=Strict cookie
//! and authenticated on every request; POST forms that change anything carry
//! a CSRF token, SHA-256 of a per-process random key and the session token.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use provindex_index::{IndexReader, Registry};
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, FindWorkRequest, ListOptOutsRequest,
    OptOutRegistration, OptOutScope, RegisterOptOutRequest, RevokeOptOutRequest,
    check_opt_out_request::Target, opt_out_scope,
};
use provindex_rpc::auth::{Auth, Principal};
use provindex_rpc::{ApiError, AuditApi, OptOutApi, ProvenanceApi, RegistryCheck};
use tonic::Status;

use crate::WorkLookups;
use sha2::{Digest, Sha256};

mod complaints;

/// Largest request body a form may send: a FindWork text at its maximum plus
/// room for the multipart framing and the other fields.
pub const MAX_FORM_BYTES: usize = provindex_rpc::MAX_WORK_TEXT_BYTES + 64 * 1024;
/// Matches shown, and sources listed per match.
const MATCHES_SHOWN: u32 = 10;
const SOURCES_SHOWN: u32 = 20;
const SESSION_COOKIE: &str = "provindex_session";

/// What the page serves besides the index: the opt-out registry and the
/// token table (both `None` on a server without `--registry` / `--auth`).
#[derive(Clone, Default)]
pub struct Backends {
    pub registry: Option<Arc<Registry>>,
    pub auth: Option<Arc<Auth>>,
    /// The registry service (`serve --registry-url`) when `registry` is
    /// `None`: verdicts consult it; the page's opt-out forms are not served.
    pub remote_registry: Option<Arc<dyn provindex_rpc::OptOutRegistry>>,
    /// `serve --complaint-due-days`, so complaints filed on the page are due
    /// when gRPC ones are (`None`: the default, 15).
    pub complaint_due_days: Option<u32>,
}

#[derive(Clone)]
pub(crate) struct WebState {
    /// FindWork and CheckOptOut: the served index's ProvenanceApi (with the
    /// registry's verdicts), or a router's.
    works: Arc<dyn WorkLookups>,
    /// Registry and token table; `None` without `--registry`.
    optouts: Option<OptOutApi>,
    /// Complaints and claims (AuditService's operations); `None` without
    /// `--registry`.
    audit: Option<AuditApi>,
    /// A router's page: the forms needing a registry say where they are
    /// served instead of that this server has none.
    registry_elsewhere: bool,
    csrf_key: Arc<[u8; 32]>,
}

impl WebState {
    /// The page of `serve` over `index`, and the ProvenanceApi its search
    /// goes through (the one `/cdx` and `/record` use).
    pub(crate) fn new(
        index: Arc<IndexReader>,
        backends: Backends,
    ) -> Result<(Self, Arc<ProvenanceApi>), String> {
        let (optouts, audit, check) = match backends.registry {
            Some(registry) => (
                Some(OptOutApi::new(
                    Arc::clone(&registry),
                    Arc::clone(&index),
                    backends.auth.clone(),
                )?),
                // As `serve` builds AuditService (no PII key: the page does
                // no personal-data look-ups).
                Some(
                    AuditApi::new(
                        Arc::clone(&index),
                        Some(Arc::clone(&registry)),
                        backends.auth,
                        None,
                    )
                    .with_complaint_due_days(
                        backends
                            .complaint_due_days
                            .unwrap_or(provindex_rpc::DEFAULT_COMPLAINT_DUE_DAYS),
                    ),
                ),
                Some(Arc::new(RegistryCheck::new(registry, Arc::clone(&index)))
                    as Arc<dyn provindex_rpc::OptOutRegistry>),
            ),
            None => (None, None, backends.remote_registry),
        };
        let mut api = ProvenanceApi::new(index);
        if let Some(check) = check {
            api = api.with_registry(check);
        }
        let api = Arc::new(api);
        let web = Self {
            works: Arc::clone(&api) as Arc<dyn WorkLookups>,
            optouts,
            audit,
            registry_elsewhere: false,
            csrf_key: Arc::new(csrf_key()?),
        };
        Ok((web, api))
    }

    /// A router's page: search through `works`, no registry.
    pub(crate) fn searching(works: Arc<dyn WorkLookups>) -> Result<Self, String> {
        Ok(Self {
            works,
            optouts: None,
            audit: None,
            registry_elsewhere: true,
            csrf_key: Arc::new(csrf_key()?),
        })
    }

    /// The refusal of a page that needs the opt-out registry this server
    /// does not hold.
    fn no_registry(&self, t: &Texts) -> PageError {
        let message = if self.registry_elsewhere {
            t.err_registry_elsewhere
        } else {
            t.err_no_registry
        };
        PageError::new(StatusCode::NOT_FOUND, message)
    }

    fn csrf_token(&self, token: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.csrf_key.as_slice());
        hasher.update(b"provindex web csrf\0");
        hasher.update(token.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// The signed-in principal, if the request has a session cookie with a
    /// token the auth configuration knows.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let token = session_token(headers)?;
        let principal = self.optouts.as_ref()?.authenticate_token(&token).ok()?;
        Some(Session {
            csrf: self.csrf_token(&token),
            principal,
        })
    }
}

fn csrf_key() -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("CSRF key: {e}"))?;
    Ok(key)
}

struct Session {
    principal: Arc<Principal>,
    csrf: String,
}

/// What the header shows of a session.
struct SessionView {
    name: String,
    role: &'static str,
    grants: String,
    csrf: String,
}

impl Session {
    fn view(&self) -> SessionView {
        SessionView {
            name: self.principal.name.clone(),
            role: self.principal.role.as_str(),
            grants: self.principal.grant_list(),
            csrf: self.csrf.clone(),
        }
    }
}

/// The page's routes.
pub(crate) fn routes(state: WebState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/page.css", get(stylesheet))
        .route("/find", post(find))
        .route("/signin", post(sign_in))
        .route("/signout", post(sign_out))
        .route("/optouts", get(optouts))
        .route("/optouts/register", post(register))
        .route("/optouts/revoke", post(revoke))
        .route(
            "/complaints",
            get(complaints::form_page).post(complaints::file),
        )
        .route("/complaints/status", get(complaints::status))
        .route("/claims", get(complaints::claims).post(complaints::claim))
        .route("/claims/revoke", post(complaints::revoke_claim))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state)
}

// ---------------------------------------------------------------- language

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    En,
    Zh,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    fn html_lang(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }

    /// `?lang=` when given (en or zh), else the preferred of the two in
    /// Accept-Language, else English.
    fn pick(query: Option<&str>, headers: &HeaderMap) -> Lang {
        match query.and_then(|q| query_param(q, "lang")).as_deref() {
            Some("zh") => return Lang::Zh,
            Some("en") => return Lang::En,
            _ => {}
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        accept_language(accept)
    }
}

fn accept_language(accept: &str) -> Lang {
    let mut best: Option<(f32, Lang)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag == "zh" || tag.starts_with("zh-") {
            Lang::Zh
        } else if tag == "en" || tag.starts_with("en-") {
            Lang::En
        } else {
            continue;
        };
        // The first of equal weights wins.
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map_or(Lang::En, |(_, lang)| lang)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Every text of the page, per language.
struct Texts {
    site_title: &'static str,
    lang_nav: &'static str,
    find_heading: &'static str,
    find_intro: &'static str,
    text_label: &'static str,
    file_label: &'static str,
    find_button: &'static str,
    results_heading: &'static str,
    matches_total: &'static str,
    no_matches: &'static str,
    similarity: &'static str,
    exact: &'static str,
    near: &'static str,
    content_id: &'static str,
    content_language: &'static str,
    work_verdict: &'static str,
    captures: &'static str,
    col_url: &'static str,
    col_date: &'static str,
    col_license: &'static str,
    col_optout: &'static str,
    col_crawl: &'static str,
    verdict_reserved: &'static str,
    verdict_not_reserved: &'static str,
    verdict_unknown: &'static str,
    by_registry: &'static str,
    by_signal: &'static str,
    license_none: &'static str,
    signin_heading: &'static str,
    token_label: &'static str,
    signin_button: &'static str,
    signed_in_as: &'static str,
    signout_button: &'static str,
    manage_link: &'static str,
    optouts_heading: &'static str,
    grants_label: &'static str,
    none_registered: &'static str,
    col_id: &'static str,
    col_scope: &'static str,
    col_effective: &'static str,
    col_evidence: &'static str,
    col_status: &'static str,
    status_active: &'static str,
    status_revoked: &'static str,
    register_heading: &'static str,
    kind_label: &'static str,
    kind_domain: &'static str,
    kind_url_prefix: &'static str,
    kind_work: &'static str,
    scope_value_label: &'static str,
    work_text_label: &'static str,
    effective_label: &'static str,
    evidence_label: &'static str,
    register_button: &'static str,
    revoke_reason_label: &'static str,
    revoke_button: &'static str,
    registered_notice: &'static str,
    revoked_notice: &'static str,
    error_heading: &'static str,
    status_label: &'static str,
    back_link: &'static str,
    err_too_large: &'static str,
    err_no_text: &'static str,
    err_file_type: &'static str,
    err_not_utf8: &'static str,
    err_not_signed_in: &'static str,
    err_csrf: &'static str,
    err_no_registry: &'static str,
    err_registry_elsewhere: &'static str,
    err_bad_form: &'static str,
    err_effective: &'static str,
    err_kind: &'static str,
    complaints_link: &'static str,
    complaint_heading: &'static str,
    complaint_intro: &'static str,
    signin_to_complain: &'static str,
    complaint_kind_label: &'static str,
    kind_copyright: &'static str,
    kind_unlawful: &'static str,
    kind_personal: &'static str,
    target_label: &'static str,
    target_content_id: &'static str,
    target_url: &'static str,
    target_work: &'static str,
    complaint_content_id_label: &'static str,
    complaint_url_label: &'static str,
    complaint_work_label: &'static str,
    description_label: &'static str,
    file_button: &'static str,
    lookup_heading: &'static str,
    lookup_label: &'static str,
    lookup_button: &'static str,
    complaint_title: &'static str,
    filed_notice: &'static str,
    col_kind: &'static str,
    col_target: &'static str,
    col_contents: &'static str,
    col_state: &'static str,
    col_filed: &'static str,
    col_due: &'static str,
    overdue_label: &'static str,
    col_decided: &'static str,
    col_decision: &'static str,
    col_remedy: &'static str,
    col_entry: &'static str,
    history_caption: &'static str,
    col_at: &'static str,
    col_actor: &'static str,
    state_received: &'static str,
    state_under_review: &'static str,
    state_upheld: &'static str,
    state_rejected: &'static str,
    complain_link: &'static str,
    claims_heading: &'static str,
    no_claims: &'static str,
    claim_intro: &'static str,
    claim_evidence_label: &'static str,
    claim_button: &'static str,
    claimed_notice: &'static str,
    col_rightholder: &'static str,
    col_claimant: &'static str,
    col_created: &'static str,
    err_target: &'static str,
    revoke_claim_reason_label: &'static str,
    revoke_claim_button: &'static str,
    claim_revoked_notice: &'static str,
}

static EN: Texts = Texts {
    site_title: "provindex — rightholder page",
    lang_nav: "Language",
    find_heading: "Find where a work appears",
    find_intro: "Paste the text of a work or upload a .txt or .html file. The index is searched for the same text and for near-duplicates.",
    text_label: "Text of the work",
    file_label: "Or upload a file (.txt, .html)",
    find_button: "Find matches",
    results_heading: "Matches",
    matches_total: "Matches found:",
    no_matches: "No matches in the index.",
    similarity: "Similarity",
    exact: "exact match",
    near: "near-duplicate",
    content_id: "Content id",
    content_language: "Language",
    work_verdict: "Opt-out status of this content",
    captures: "Sources",
    col_url: "Source URL",
    col_date: "Capture date",
    col_license: "License",
    col_optout: "Opt-out status",
    col_crawl: "Crawl",
    verdict_reserved: "Opted out (rights reserved)",
    verdict_not_reserved: "Not opted out",
    verdict_unknown: "Unknown",
    by_registry: "registry entry",
    by_signal: "crawl signal",
    license_none: "none found",
    signin_heading: "Rightholders: sign in",
    token_label: "Rightholder token",
    signin_button: "Sign in",
    signed_in_as: "Signed in as",
    signout_button: "Sign out",
    manage_link: "Manage opt-outs",
    optouts_heading: "Your opt-outs",
    grants_label: "Scopes you may register",
    none_registered: "No opt-outs registered.",
    col_id: "Id",
    col_scope: "Scope",
    col_effective: "Effective from",
    col_evidence: "Evidence",
    col_status: "Status",
    status_active: "active",
    status_revoked: "revoked",
    register_heading: "Register an opt-out",
    kind_label: "Scope type",
    kind_domain: "Domain (e.g. example.org)",
    kind_url_prefix: "URL prefix",
    kind_work: "Work (the text below)",
    scope_value_label: "Domain or URL prefix",
    work_text_label: "Work text (for a work opt-out)",
    effective_label: "Effective date (empty: now)",
    evidence_label: "Evidence (required for a work)",
    register_button: "Register",
    revoke_reason_label: "Reason for revoking",
    revoke_button: "Revoke",
    registered_notice: "Opt-out registered: #",
    revoked_notice: "Opt-out revoked: #",
    error_heading: "Error",
    status_label: "HTTP status",
    back_link: "Back",
    err_too_large: "The submitted form is too large: a work may have at most 4 MiB of text.",
    err_no_text: "Paste a text or choose a file.",
    err_file_type: "Only .txt and .html files can be uploaded.",
    err_not_utf8: "The file is not UTF-8 text.",
    err_not_signed_in: "Sign in with a rightholder token first.",
    err_csrf: "The form did not come from this page or your session changed (CSRF check failed). Reload the page and try again.",
    err_no_registry: "This server has no opt-out registry.",
    err_registry_elsewhere: "This server searches the index through its partitions and holds no opt-out registry: sign in, register opt-outs, claim matches and file complaints on the server that holds the registry (provindex serve --registry).",
    err_bad_form: "The form could not be read",
    err_effective: "Effective date: expected a date such as 2025-01-31.",
    err_kind: "Scope type: choose domain, URL prefix or work.",
    complaints_link: "Complaints",
    complaint_heading: "File a complaint",
    complaint_intro: "Complain about indexed content: name it by its content id, by a URL, or by the text of a work. A reviewer decides by the due date; upholding a copyright complaint opts the content out.",
    signin_to_complain: "Sign in with your token to file a complaint, look one up or claim content.",
    complaint_kind_label: "Kind of complaint",
    kind_copyright: "Copyright infringement",
    kind_unlawful: "Unlawful content",
    kind_personal: "Personal information",
    target_label: "The complaint is about",
    target_content_id: "a content id (below)",
    target_url: "a URL (below)",
    target_work: "the text of a work (below)",
    complaint_content_id_label: "Content id (32 hex characters)",
    complaint_url_label: "URL",
    complaint_work_label: "Text of the work (for a complaint about a work)",
    description_label: "What is wrong",
    file_button: "File the complaint",
    lookup_heading: "My complaint",
    lookup_label: "Complaint id",
    lookup_button: "Show its state",
    complaint_title: "Complaint #",
    filed_notice: "Complaint filed. Keep its id to look it up: #",
    col_kind: "Kind",
    col_target: "About",
    col_contents: "Indexed contents",
    col_state: "State",
    col_filed: "Filed",
    col_due: "Decision due by",
    overdue_label: "overdue",
    col_decided: "Decided",
    col_decision: "Reviewer's note",
    col_remedy: "Remedy",
    col_entry: "Registry entry",
    history_caption: "History",
    col_at: "When",
    col_actor: "By",
    state_received: "received",
    state_under_review: "under review",
    state_upheld: "upheld",
    state_rejected: "rejected",
    complain_link: "File a complaint about this content",
    claims_heading: "Claims for payment",
    no_claims: "No claims.",
    claim_intro: "A claim leaves the content in the training data and asks to be paid for it.",
    claim_evidence_label: "Ground of your claim (licence, mandate)",
    claim_button: "Claim this content",
    claimed_notice: "Claim registered: #",
    col_rightholder: "Rightholder (paid)",
    col_claimant: "Claimed by",
    col_created: "Claimed on",
    err_target: "The complaint is about: choose a content id, a URL or the text of a work.",
    revoke_claim_reason_label: "Reason for revoking the claim",
    revoke_claim_button: "Revoke claim",
    claim_revoked_notice: "Claim revoked: #",
};

static ZH: Texts = Texts {
    site_title: "provindex — 权利人页面",
    lang_nav: "语言",
    find_heading: "查找作品出现的位置",
    find_intro: "粘贴作品文本，或上传 .txt 或 .html 文件。系统将在索引中查找相同的文本及近似重复的内容。",
    text_label: "作品文本",
    file_label: "或上传文件（.txt、.html）",
    find_button: "查找匹配",
    results_heading: "匹配结果",
    matches_total: "找到的匹配数：",
    no_matches: "索引中没有匹配。",
    similarity: "相似度",
    exact: "完全匹配",
    near: "近似重复",
    content_id: "内容编号",
    content_language: "语言",
    work_verdict: "此内容的选择退出状态",
    captures: "来源",
    col_url: "来源网址",
    col_date: "抓取日期",
    col_license: "许可协议",
    col_optout: "选择退出状态",
    col_crawl: "抓取批次",
    verdict_reserved: "已选择退出（保留权利）",
    verdict_not_reserved: "未选择退出",
    verdict_unknown: "未知",
    by_registry: "登记条目",
    by_signal: "抓取信号",
    license_none: "未发现",
    signin_heading: "权利人登录",
    token_label: "权利人令牌",
    signin_button: "登录",
    signed_in_as: "已登录：",
    signout_button: "退出登录",
    manage_link: "管理选择退出",
    optouts_heading: "您的选择退出登记",
    grants_label: "您可以登记的范围",
    none_registered: "尚无选择退出登记。",
    col_id: "编号",
    col_scope: "范围",
    col_effective: "生效日期",
    col_evidence: "证明材料",
    col_status: "状态",
    status_active: "有效",
    status_revoked: "已撤销",
    register_heading: "登记选择退出",
    kind_label: "范围类型",
    kind_domain: "域名（例如 example.org）",
    kind_url_prefix: "网址前缀",
    kind_work: "作品（下方文本）",
    scope_value_label: "域名或网址前缀",
    work_text_label: "作品文本（用于作品选择退出）",
    effective_label: "生效日期（留空：立即生效）",
    evidence_label: "证明材料（作品必填）",
    register_button: "登记",
    revoke_reason_label: "撤销原因",
    revoke_button: "撤销",
    registered_notice: "已登记选择退出：#",
    revoked_notice: "已撤销选择退出：#",
    error_heading: "错误",
    status_label: "HTTP 状态码",
    back_link: "返回",
    err_too_large: "提交的表单过大：作品文本最多 4 MiB。",
    err_no_text: "请粘贴文本或选择文件。",
    err_file_type: "只能上传 .txt 和 .html 文件。",
    err_not_utf8: "该文件不是 UTF-8 文本。",
    err_not_signed_in: "请先使用权利人令牌登录。",
    err_csrf: "表单并非来自本页面，或会话已变更（CSRF 校验失败）。请刷新页面后重试。",
    err_no_registry: "此服务器没有选择退出登记库。",
    err_registry_elsewhere: "此服务器通过分区检索索引，不持有选择退出登记库：请在持有登记库的服务器（provindex serve --registry）上登录、登记选择退出、认领匹配和提交投诉。",
    err_bad_form: "无法读取表单",
    err_effective: "生效日期：应为 2025-01-31 这样的日期。",
    err_kind: "范围类型：请选择域名、网址前缀或作品。",
    complaints_link: "投诉",
    complaint_heading: "提交投诉",
    complaint_intro: "对索引中的内容提出投诉：可通过内容编号、网址或作品文本指明内容。审核人员将在处理期限前作出决定；著作权投诉成立后，该内容即被选择退出。",
    signin_to_complain: "请使用令牌登录后提交投诉、查询投诉或主张内容。",
    complaint_kind_label: "投诉类型",
    kind_copyright: "著作权侵权",
    kind_unlawful: "违法内容",
    kind_personal: "个人信息",
    target_label: "投诉对象",
    target_content_id: "内容编号（见下方）",
    target_url: "网址（见下方）",
    target_work: "作品文本（见下方）",
    complaint_content_id_label: "内容编号（32 位十六进制字符）",
    complaint_url_label: "网址",
    complaint_work_label: "作品文本（针对作品的投诉）",
    description_label: "问题描述",
    file_button: "提交投诉",
    lookup_heading: "我的投诉",
    lookup_label: "投诉编号",
    lookup_button: "查看状态",
    complaint_title: "投诉 #",
    filed_notice: "投诉已提交。请保存投诉编号以便查询：#",
    col_kind: "类型",
    col_target: "投诉对象",
    col_contents: "索引中的内容",
    col_state: "状态",
    col_filed: "提交时间",
    col_due: "处理期限",
    overdue_label: "已逾期",
    col_decided: "处理时间",
    col_decision: "审核意见",
    col_remedy: "处理措施",
    col_entry: "登记条目",
    history_caption: "处理记录",
    col_at: "时间",
    col_actor: "操作人",
    state_received: "已受理",
    state_under_review: "审核中",
    state_upheld: "投诉成立",
    state_rejected: "已驳回",
    complain_link: "投诉此内容",
    claims_heading: "付酬主张",
    no_claims: "尚无付酬主张。",
    claim_intro: "付酬主张不会将内容移出训练数据，而是要求为其获得报酬。",
    claim_evidence_label: "主张依据（许可、授权）",
    claim_button: "主张此内容",
    claimed_notice: "付酬主张已登记：#",
    col_rightholder: "权利人（收款方）",
    col_claimant: "主张人",
    col_created: "主张日期",
    err_target: "投诉对象：请选择内容编号、网址或作品文本。",
    revoke_claim_reason_label: "撤销主张的原因",
    revoke_claim_button: "撤销主张",
    claim_revoked_notice: "付酬主张已撤销：#",
};

// ---------------------------------------------------------------- templates

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    t: &'static Texts,
    lang: &'static str,
    html_lang: &'static str,
    path: &'static str,
    session: Option<SessionView>,
    text: String,
    results: Option<Results>,
    /// A router's page: where to sign in instead of the sign-in form.
    registry_elsewhere: bool,
}

struct Results {
    total: u32,
    matches: Vec<MatchView>,
}

struct MatchView {
    content_id: String,
    similarity: String,
    exact: bool,
    language: String,
    preview: String,
    capture_count: u64,
    verdict: VerdictView,
    captures: Vec<CaptureView>,
    /// Claims covering the content (shown signed in).
    claims: Vec<complaints::ClaimView>,
}

struct CaptureView {
    url: String,
    /// Only http(s) URLs are links (never `javascript:`).
    link: Option<String>,
    date: String,
    date_iso: String,
    license: String,
    verdict: VerdictView,
    crawl: String,
}

#[derive(Clone)]
struct VerdictView {
    code: String,
    label: &'static str,
    detail: String,
}

#[derive(Template)]
#[template(path = "optouts.html")]
struct OptOutsPage {
    t: &'static Texts,
    lang: &'static str,
    html_lang: &'static str,
    path: &'static str,
    session: Option<SessionView>,
    notice: String,
    entries: Vec<EntryView>,
}

struct EntryView {
    id: String,
    kind: String,
    scope: String,
    effective: String,
    evidence: String,
    active: bool,
    revoked: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: &'static Texts,
    lang: &'static str,
    html_lang: &'static str,
    path: &'static str,
    session: Option<SessionView>,
    status: u16,
    message: String,
    back: String,
}

/// A template as an HTML answer with `status`; never cached (pages may
/// show a session), scripts and framing refused by policy.
fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered\n",
            )
                .into_response()
        }
    }
}

/// A refusal or failure, shown as a page with its HTTP status.
struct PageError {
    status: StatusCode,
    message: String,
    /// Where "back" leads.
    back: &'static str,
}

impl PageError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            back: "/",
        }
    }

    fn api(error: &ApiError) -> Self {
        Self::new(
            crate::http_status(provindex_rpc::status_of(error).code()),
            error.to_string(),
        )
    }

    /// A ProvenanceService call's error (its message is the domain error's,
    /// as [`PageError::api`] shows it).
    fn status(status: &Status) -> Self {
        Self::new(crate::http_status(status.code()), status.message())
    }

    fn back(mut self, back: &'static str) -> Self {
        self.back = back;
        self
    }

    fn render(self, lang: Lang, session: Option<&Session>) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(message = %self.message, "web page request failed");
        }
        html(
            self.status,
            &ErrorPage {
                t: lang.texts(),
                lang: lang.code(),
                html_lang: lang.html_lang(),
                path: "/",
                session: session.map(Session::view),
                status: self.status.as_u16(),
                message: self.message,
                back: format!("{}?lang={}", self.back, lang.code()),
            },
        )
    }
}

// ---------------------------------------------------------------- forms

/// A submitted form: its text fields and at most one uploaded file.
#[derive(Default)]
struct Form {
    fields: HashMap<String, String>,
    file: Option<(String, Bytes)>,
}

impl Form {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// Reads a urlencoded or multipart body within [`MAX_FORM_BYTES`]; a larger
/// one is 413 with a message saying so.
async fn read_form(request: Request, t: &Texts) -> Result<Form, PageError> {
    let too_large = || PageError::new(StatusCode::PAYLOAD_TOO_LARGE, t.err_too_large);
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut form = Form::default();
    if !is_multipart {
        let body = Bytes::from_request(request, &())
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    PageError::new(
                        rejection.status(),
                        format!("{}: {}", t.err_bad_form, rejection.body_text()),
                    )
                }
            })?;
        for (name, value) in url::form_urlencoded::parse(&body) {
            form.fields.insert(name.into_owned(), value.into_owned());
        }
        return Ok(form);
    }
    let bad = |error: axum::extract::multipart::MultipartError| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("{}: {}", t.err_bad_form, error.body_text()),
            )
        }
    };
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|r| {
        PageError::new(r.status(), format!("{}: {}", t.err_bad_form, r.body_text()))
    })?;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                let bytes = field.bytes().await.map_err(bad)?;
                // A file input left empty still sends a part with no name.
                if !file_name.is_empty() || !bytes.is_empty() {
                    form.file = Some((file_name, bytes));
                }
            }
            None => {
                let text = field.text().await.map_err(bad)?;
                form.fields.insert(name, text);
            }
        }
    }
    Ok(form)
}

/// The work's text: the uploaded file's (an .html file's visible text, as
/// the index extracts it), else the pasted text.
fn work_text(form: &Form, t: &Texts) -> Result<String, PageError> {
    if let Some((name, bytes)) = &form.file {
        let lower = name.to_ascii_lowercase();
        let is_html = lower.ends_with(".html") || lower.ends_with(".htm");
        if !is_html && !lower.ends_with(".txt") {
            return Err(PageError::new(StatusCode::BAD_REQUEST, t.err_file_type));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            PageError::new(StatusCode::BAD_REQUEST, format!("{} ({e})", t.err_not_utf8))
        })?;
        return Ok(if is_html {
            provindex_corpus::html::extract(text).text
        } else {
            text.to_owned()
        });
    }
    let text = form.get("text");
    if text.trim().is_empty() {
        return Err(PageError::new(StatusCode::BAD_REQUEST, t.err_no_text));
    }
    Ok(text.to_owned())
}

// ---------------------------------------------------------------- cookies

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| hex::decode(value).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|token| !token.is_empty())
}

fn set_cookie(value: &str, max_age: Option<u32>) -> HeaderValue {
    let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
    // Hex only: always a valid header value.
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("provindex_session=; Max-Age=0"))
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Whether a POST may come from where its `Origin` says: this server
/// (scheme aside) or no Origin at all (non-browser clients). Guards the
/// sign-in form, which has no session to tie a CSRF token to yet.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The equality of two CSRF tokens, without an early exit.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The session of a request that changes something: 401 without one, 403
/// when the form's CSRF token is not the session's.
fn writer_session(
    web: &WebState,
    headers: &HeaderMap,
    form: &Form,
    t: &Texts,
) -> Result<Session, PageError> {
    if web.optouts.is_none() {
        return Err(web.no_registry(t));
    }
    let session = web
        .session(headers)
        .ok_or_else(|| PageError::new(StatusCode::UNAUTHORIZED, t.err_not_signed_in))?;
    if !same_token(form.get("csrf"), &session.csrf) || !same_origin(headers) {
        return Err(PageError::new(StatusCode::FORBIDDEN, t.err_csrf).back("/optouts"));
    }
    Ok(session)
}

/// The language, form and session of a request that changes something, or
/// the error page to answer with.
async fn writer_form(
    web: &WebState,
    query: Option<&str>,
    request: Request,
) -> Result<(Lang, Form, Session), Response> {
    let headers = request.headers().clone();
    let lang = Lang::pick(query, &headers);
    let t = lang.texts();
    let form = read_form(request, t)
        .await
        .map_err(|error| error.render(lang, web.session(&headers).as_ref()))?;
    let session = writer_session(web, &headers, &form, t)
        .map_err(|error| error.render(lang, web.session(&headers).as_ref()))?;
    Ok((lang, form, session))
}

// ---------------------------------------------------------------- handlers

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../templates/page.css"),
    )
        .into_response()
}

async fn home(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(query.as_deref(), &headers);
    let session = web.session(&headers);
    html(
        StatusCode::OK,
        &HomePage {
            t: lang.texts(),
            lang: lang.code(),
            html_lang: lang.html_lang(),
            path: "/",
            session: session.as_ref().map(Session::view),
            text: String::new(),
            results: None,
            registry_elsewhere: web.registry_elsewhere,
        },
    )
}

async fn find(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let lang = Lang::pick(query.as_deref(), &headers);
    let t = lang.texts();
    let session = web.session(&headers);
    let text = match read_form(request, t)
        .await
        .and_then(|form| work_text(&form, t))
    {
        Ok(text) => text,
        Err(error) => return error.render(lang, session.as_ref()),
    };
    if text.len() > provindex_rpc::MAX_WORK_TEXT_BYTES {
        return PageError::new(StatusCode::PAYLOAD_TOO_LARGE, t.err_too_large)
            .render(lang, session.as_ref());
    }
    let request = FindWorkRequest {
        text: text.clone(),
        min_similarity: None,
        max_results: MATCHES_SHOWN,
        page_token: String::new(),
        captures_per_match: SOURCES_SHOWN,
    };
    let results = find_results(&web, request, t, session.is_some()).await;
    match results {
        Ok(results) => html(
            StatusCode::OK,
            &HomePage {
                t,
                lang: lang.code(),
                html_lang: lang.html_lang(),
                path: "/",
                session: session.as_ref().map(Session::view),
                text,
                results: Some(results),
                registry_elsewhere: web.registry_elsewhere,
            },
        ),
        Err(error) => error.render(lang, session.as_ref()),
    }
}

/// FindWork, with every match's and source URL's CheckOptOut verdict (the
/// registry's entries included when the server has one), through
/// [`WebState::works`]: one server's index or a router's partitions.
async fn find_results(
    web: &WebState,
    request: FindWorkRequest,
    t: &'static Texts,
    signed_in: bool,
) -> Result<Results, PageError> {
    let answer = web
        .works
        .find_work(request)
        .await
        .map_err(|s| PageError::status(&s))?;
    let check = |target: Target| async move {
        web.works
            .check_opt_out(CheckOptOutRequest {
                target: Some(target),
            })
            .await
            .map(|answer| verdict_view(&answer, t))
            .map_err(|s| PageError::status(&s))
    };
    let mut by_url: HashMap<String, VerdictView> = HashMap::new();
    let mut matches = Vec::new();
    for m in answer.matches {
        let content = m.content.unwrap_or_default();
        let verdict = check(Target::ContentId(content.content_id.clone())).await?;
        let mut captures = Vec::new();
        for capture in m.captures {
            let verdict = match by_url.get(&capture.url) {
                Some(v) => v.clone(),
                None => {
                    let v = check(Target::Url(capture.url.clone())).await?;
                    by_url.insert(capture.url.clone(), v.clone());
                    v
                }
            };
            let license = match &capture.license {
                Some(l) if !l.spdx.is_empty() => format!("{} ({})", l.spdx, l.class),
                Some(l) if !l.id.is_empty() => format!("{} ({})", l.id, l.class),
                _ => t.license_none.to_owned(),
            };
            let link = (capture.url.starts_with("http://") || capture.url.starts_with("https://"))
                .then(|| capture.url.clone());
            captures.push(CaptureView {
                date: format_time(capture.capture_time),
                date_iso: iso_time(capture.capture_time),
                link,
                url: capture.url,
                license,
                verdict,
                crawl: capture.crawl,
            });
        }
        let claims = match (&web.audit, signed_in) {
            (Some(audit), true) => {
                // A registry read: off the async workers.
                let (audit, content_id) = (audit.clone(), content.content_id.clone());
                tokio::task::spawn_blocking(move || audit.claims_covering(&content_id))
                    .await
                    .map_err(|join| ApiError::Internal(format!("registry task failed: {join}")))
                    .and_then(|r| r)
                    .map_err(|e| PageError::api(&e))?
                    .iter()
                    .map(complaints::ClaimView::of)
                    .collect()
            }
            _ => Vec::new(),
        };
        matches.push(MatchView {
            claims,
            similarity: format!("{:.0}%", m.similarity * 100.0),
            exact: m.exact,
            language: content.language,
            preview: content.preview,
            capture_count: m.capture_count,
            content_id: content.content_id,
            verdict,
            captures,
        });
    }
    Ok(Results {
        total: answer.total_matches,
        matches,
    })
}

fn verdict_view(answer: &CheckOptOutResponse, t: &Texts) -> VerdictView {
    let label = match answer.verdict.as_str() {
        "reserved" => t.verdict_reserved,
        "not_reserved" => t.verdict_not_reserved,
        _ => t.verdict_unknown,
    };
    let detail = match &answer.deciding {
        Some(f) if answer.verdict == "reserved" && f.origin == "registry" => {
            format!("{} #{} ({})", t.by_registry, f.registry_entry_id, f.scope)
        }
        Some(f) if answer.verdict == "reserved" => match &f.signal {
            Some(s) => format!("{}: {} ({})", t.by_signal, s.kind, s.source),
            None => t.by_signal.to_owned(),
        },
        _ => String::new(),
    };
    VerdictView {
        code: answer.verdict.clone(),
        label,
        detail,
    }
}

fn datetime(unix: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(unix).ok()
}

fn format_time(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    datetime(unix)
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn iso_time(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    datetime(unix)
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

fn format_date(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    datetime(unix)
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

async fn sign_in(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let lang = Lang::pick(query.as_deref(), request.headers());
    let t = lang.texts();
    if !same_origin(request.headers()) {
        return PageError::new(StatusCode::FORBIDDEN, t.err_csrf).render(lang, None);
    }
    let form = match read_form(request, t).await {
        Ok(form) => form,
        Err(error) => return error.render(lang, None),
    };
    let Some(optouts) = &web.optouts else {
        return web.no_registry(t).render(lang, None);
    };
    let token = form.get("token").trim();
    if let Err(error) = optouts.authenticate_token(token) {
        return PageError::api(&ApiError::from(error)).render(lang, None);
    }
    let mut response = see_other(&format!("/optouts?lang={}", lang.code()));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&hex::encode(token), None));
    response
}

async fn sign_out(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let lang = Lang::pick(query.as_deref(), &headers);
    let t = lang.texts();
    let session = web.session(&headers);
    let checked = match read_form(request, t).await {
        Ok(form) => writer_session(&web, &headers, &form, t),
        Err(error) => Err(error),
    };
    if let Err(error) = checked {
        return error.render(lang, session.as_ref());
    }
    let mut response = see_other(&format!("/?lang={}", lang.code()));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", Some(0)));
    response
}

async fn optouts(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(query.as_deref(), &headers);
    let t = lang.texts();
    let Some(api) = web.optouts.clone() else {
        return web.no_registry(t).render(lang, None);
    };
    let Some(session) = web.session(&headers) else {
        return PageError::new(StatusCode::UNAUTHORIZED, t.err_not_signed_in).render(lang, None);
    };
    let query = query.unwrap_or_default();
    let id_of = |name| {
        query_param(&query, name).filter(|v| v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty())
    };
    let notice = match (id_of("registered"), id_of("revoked")) {
        (Some(id), _) => format!("{}{id}", t.registered_notice),
        (None, Some(id)) => format!("{}{id}", t.revoked_notice),
        _ => String::new(),
    };
    let principal = Arc::clone(&session.principal);
    let listed = tokio::task::spawn_blocking(move || {
        api.list_as(
            &principal,
            &ListOptOutsRequest {
                include_revoked: true,
                page_size: 1000,
                ..Default::default()
            },
        )
    })
    .await
    .map_err(|join| ApiError::Internal(format!("registry task failed: {join}")))
    .and_then(|r| r);
    let entries = match listed {
        Ok(list) => list
            .registrations
            .iter()
            .map(|r| entry_view(r, t))
            .collect(),
        Err(error) => return PageError::api(&error).render(lang, Some(&session)),
    };
    html(
        StatusCode::OK,
        &OptOutsPage {
            t,
            lang: lang.code(),
            html_lang: lang.html_lang(),
            path: "/optouts",
            session: Some(session.view()),
            notice,
            entries,
        },
    )
}

fn entry_view(r: &OptOutRegistration, t: &Texts) -> EntryView {
    let kind = match r.scope_kind.as_str() {
        "domain" => t.kind_domain.split(" (").next().unwrap_or(t.kind_domain),
        "url_prefix" => t.kind_url_prefix,
        "work" => t.kind_work.split(" (").next().unwrap_or(t.kind_work),
        other => other,
    };
    // Chinese labels carry their note in full-width parentheses.
    let kind = kind.split('（').next().unwrap_or(kind).to_owned();
    let scope = if r.submitted.is_empty() {
        r.scope_key.clone()
    } else {
        r.submitted.clone()
    };
    EntryView {
        id: r.id.clone(),
        kind,
        scope,
        effective: format_date(r.effective_from),
        evidence: r.evidence.clone(),
        active: r.revoked_at.is_none(),
        revoked: r.revoked_at.map(format_date).unwrap_or_default(),
    }
}

async fn register(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let (lang, form, session) = match writer_form(&web, query.as_deref(), request).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let t = lang.texts();
    let request = match register_request(&form, t) {
        Ok(request) => request,
        Err(error) => return error.back("/optouts").render(lang, Some(&session)),
    };
    let Some(api) = &web.optouts else {
        return web.no_registry(t).render(lang, Some(&session));
    };
    match api.register_as(&session.principal, request).await {
        Ok(entry) => see_other(&format!(
            "/optouts?lang={}&registered={}",
            lang.code(),
            entry.id
        )),
        Err(error) => PageError::api(&error)
            .back("/optouts")
            .render(lang, Some(&session)),
    }
}

/// The form as a RegisterOptOut request; the registry checks the rest.
fn register_request(form: &Form, t: &Texts) -> Result<RegisterOptOutRequest, PageError> {
    let scope = match form.get("kind") {
        "domain" => opt_out_scope::Scope::Domain(form.get("value").to_owned()),
        "url_prefix" => opt_out_scope::Scope::UrlPrefix(form.get("value").to_owned()),
        "work" => opt_out_scope::Scope::WorkText(form.get("work_text").to_owned()),
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, t.err_kind)),
    };
    let effective = form.get("effective").trim();
    let effective_from = if effective.is_empty() {
        None
    } else {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(effective, &format)
            .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, t.err_effective))?;
        Some(date.midnight().assume_utc().unix_timestamp())
    };
    Ok(RegisterOptOutRequest {
        rightholder: String::new(),
        scope: Some(OptOutScope { scope: Some(scope) }),
        effective_from,
        evidence: form.get("evidence").to_owned(),
    })
}

async fn revoke(
    State(web): State<WebState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let (lang, form, session) = match writer_form(&web, query.as_deref(), request).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let t = lang.texts();
    let Some(api) = &web.optouts else {
        return web.no_registry(t).render(lang, Some(&session));
    };
    let request = RevokeOptOutRequest {
        id: form.get("id").trim().to_owned(),
        reason: form.get("reason").to_owned(),
    };
    match api.revoke_as(&session.principal, &request).await {
        Ok(entry) => see_other(&format!(
            "/optouts?lang={}&revoked={}",
            lang.code(),
            entry.id
        )),
        Err(error) => PageError::api(&error)
            .back("/optouts")
            .render(lang, Some(&session)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_of_english_and_chinese() {
        assert_eq!(accept_language(""), Lang::En);
        assert_eq!(accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(accept_language("en-GB,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(accept_language("fr, zh-TW;q=0.5, en;q=0.4"), Lang::Zh);
        assert_eq!(accept_language("de, zh;q=0"), Lang::En);
    }

    #[test]
    fn templates_escape_user_text() {
        let page = ErrorPage {
            t: &EN,
            lang: "en",
            html_lang: "en",
            path: "/",
            session: None,
            status: 400,
            message: "<script>alert(1)</script> & \"quoted\"".into(),
            back: "/?lang=en".into(),
        };
        let body = page.render().expect("render");
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(
            body.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || body.contains("&lt;script&gt;"),
            "{body}"
        );
    }

    #[test]
    fn posts_from_another_origin_are_told_apart() {
        let headers = |origin: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
            if let Some(o) = origin {
                h.insert(header::ORIGIN, HeaderValue::from_str(o).expect("origin"));
            }
            h
        };
        assert!(same_origin(&headers(None)));
        assert!(same_origin(&headers(Some("http://127.0.0.1:8080"))));
        assert!(same_origin(&headers(Some("https://127.0.0.1:8080"))));
        assert!(!same_origin(&headers(Some("http://evil.example"))));
        assert!(!same_origin(&headers(Some("http://127.0.0.1:8081"))));
        assert!(!same_origin(&headers(Some("null"))));
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", "abcd"));
    }
}
