//! `OptOutService`: register, revoke and list opt-out registrations in the
//! writable registry next to the published index. Every call is
//! authenticated ([`crate::auth`]); every write attempt by an authenticated
//! caller, accepted or refused, lands in the registry's audit log.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use provindex_errors::ErrorExt;
use provindex_index::registry::{
    Actor, AuditRecord, ListFilter, NewRegistration, Registry, RegistryError, Scope, ScopeKind,
};
use provindex_index::{IndexReader, OptOutEntry};
use provindex_proto::v1::{
    ListOptOutsRequest, ListOptOutsResponse, OptOutRegistration, OptOutScope,
    RegisterOptOutRequest, RegisterOptOutResponse, RevokeOptOutRequest, RevokeOptOutResponse,
    opt_out_scope, opt_out_service_server::OptOutService,
};
use provindex_signals::MatchMode;
use provindex_sketch::MinHasher;
use serde_json::json;
use tonic::{Code, Request, Response, Status};

use crate::auth::{Auth, AuthError, Principal};
use crate::error::ApiError;
use provindex_policy::authorization::{self, RequestedScope};

/// Page size when the request leaves it 0.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Longest evidence note / revocation reason, in bytes.
pub const MAX_NOTE_BYTES: usize = 8192;
/// Longest rightholder name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest `scope.domain` as submitted, in bytes: room for an IDN in UTF-8
/// whose punycode form still has to fit the 253-byte hostname limit.
pub const MAX_DOMAIN_INPUT_BYTES: usize = 1024;
/// Longest `scope.url_prefix` as submitted, in bytes (the sitemap protocol's
/// URL limit; a scope is a site section, not a page with a long query).
pub const MAX_URL_PREFIX_BYTES: usize = 2048;
/// Longest id / content id text copied into the audit log of a refusal.
const MAX_ID_TEXT_BYTES: usize = 64;
/// Captures of a content examined to decide whether a rightholder's grants
/// cover it.
const MAX_CAPTURES_CHECKED: usize = 10_000;

/// The registry service.
#[derive(Clone)]
pub struct OptOutApi {
    registry: Arc<Registry>,
    index: Arc<IndexReader>,
    auth: Option<Arc<Auth>>,
    hasher: Arc<MinHasher>,
}

/// A scope as canonicalized from a request.
pub(crate) struct Canonical {
    pub(crate) scope: Scope,
    submitted: String,
    /// Domain SURT prefix (domain scopes) or SURT prefix (URL scopes), for grants.
    surt: String,
    work_signature: Vec<u32>,
    work_token_count: u64,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn invalid(field: &'static str, reason: impl std::fmt::Display) -> crate::ApiError {
    crate::ApiError::invalid(field, reason.to_string())
}

/// At most 100 characters of client text, quoted, for error messages.
fn shown(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &text[..end], text.len()),
    }
}

/// Client text as recorded in the audit log: whole up to `max` bytes (what an
/// accepted request may hold), else its first `max` bytes and its length, so
/// a refused megabyte input does not land in the log.
fn audit_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated, {} bytes]", &text[..end], text.len())
}

/// Bounds and control characters of a submitted domain or URL, checked
/// before anything else so no longer text is parsed, echoed or logged.
fn check_scope_text(field: &'static str, text: &str, max: usize) -> Result<(), crate::ApiError> {
    if text.len() > max {
        return Err(invalid(
            field,
            format!("is {} bytes, longer than {max}", text.len()),
        ));
    }
    // The URL parser would silently drop tabs and newlines.
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(invalid(
            field,
            format!("contains the control character {c:?}"),
        ));
    }
    Ok(())
}

/// Refuses a host the WHATWG parser accepts but DNS does not; a SURT key
/// (`org,example)/`) submitted as a URL gets a message saying so.
fn check_host(field: &'static str, text: &str, host: &str) -> Result<(), crate::ApiError> {
    match provindex_signals::hostname_problem(host) {
        None => Ok(()),
        Some(_) if host.contains([',', ')']) => Err(invalid(
            field,
            format!(
                "{} looks like a SURT key; submit the URL or domain itself (e.g. https://example.org/ or example.org)",
                shown(text)
            ),
        )),
        Some(problem) => Err(invalid(field, format!("{}: {problem}", shown(text)))),
    }
}

impl OptOutApi {
    pub fn new(
        registry: Arc<Registry>,
        index: Arc<IndexReader>,
        auth: Option<Arc<Auth>>,
    ) -> Result<Self, String> {
        // Work sketches use the index's spec (and so its normalization version).
        let hasher = MinHasher::new(&crate::findwork::index_sketch_spec(index.manifest()))
            .map_err(|e| format!("index sketch spec: {e}"))?;
        Ok(Self {
            registry,
            index,
            auth,
            hasher: Arc::new(hasher),
        })
    }

    fn authenticate<T>(&self, request: &Request<T>) -> Result<Arc<Principal>, AuthError> {
        match &self.auth {
            Some(auth) => auth.authenticate(request.metadata()),
            None => Err(AuthError::NotConfigured("the opt-out registry")),
        }
    }

    /// Runs blocking registry / index work off the async workers.
    async fn blocking<T, F>(&self, work: F) -> Result<T, crate::ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Registry, &IndexReader) -> Result<T, crate::ApiError> + Send + 'static,
    {
        let registry = Arc::clone(&self.registry);
        let index = Arc::clone(&self.index);
        tokio::task::spawn_blocking(move || work(&registry, &index))
            .await
            .map_err(|join| crate::ApiError::Internal(format!("registry task failed: {join}")))?
    }

    /// Records a refused write in the audit log, then returns the refusal.
    async fn refuse(
        &self,
        principal: &Principal,
        action: &'static str,
        entry_id: Option<u64>,
        request: serde_json::Value,
        error: crate::ApiError,
    ) -> crate::ApiError {
        // The code and message the caller is answered with.
        let status = crate::status_of(&error);
        let record = AuditRecord {
            seq: 0,
            at: now(),
            actor: actor(principal),
            action: action.into(),
            entry_id,
            request,
            result: code_name(status.code()).into(),
            message: status.message().to_owned(),
        };
        let logged = self
            .blocking(move |registry, _| {
                registry
                    .audit_rejection(record)
                    .map_err(|e| crate::ApiError::Internal(format!("audit log: {e}")))
            })
            .await;
        match logged {
            Ok(_) => error,
            Err(logging) => {
                tracing::error!(error = %logging, "could not record a refused write in the audit log");
                logging
            }
        }
    }

    /// Turns a request scope into a registry scope; INVALID_ARGUMENT names the field.
    pub(crate) fn canonical_scope(
        &self,
        scope: Option<&OptOutScope>,
    ) -> Result<Canonical, crate::ApiError> {
        let scope = scope.and_then(|s| s.scope.as_ref()).ok_or_else(|| {
            invalid(
                "scope",
                "set one of domain, url_prefix, content_id, work_text, source_block or erasure",
            )
        })?;
        match scope {
            opt_out_scope::Scope::Domain(given) => {
                let field = "scope.domain";
                let (registered, domain_surt) =
                    registered_domain(field, given, "use url_prefix for a single host")?;
                Ok(Canonical {
                    scope: Scope::Domain(registered),
                    submitted: given.clone(),
                    surt: domain_surt,
                    work_signature: Vec::new(),
                    work_token_count: 0,
                })
            }
            opt_out_scope::Scope::UrlPrefix(given) => {
                let field = "scope.url_prefix";
                check_scope_text(field, given, MAX_URL_PREFIX_BYTES)?;
                if given.trim().is_empty() {
                    return Err(invalid(field, "is empty"));
                }
                // The host as surt_scan_prefix sees it (it ignores a trailing `*`).
                let text = given.trim();
                let text = text.strip_suffix('*').unwrap_or(text);
                let host = provindex_signals::surt(text)
                    .map_err(|e| invalid(field, e))?
                    .host;
                check_host(field, text, &host)?;
                let prefix = provindex_signals::surt_scan_prefix(given, MatchMode::Prefix)
                    .map_err(|e| invalid(field, e))?;
                Ok(Canonical {
                    scope: Scope::UrlPrefix(prefix.clone()),
                    submitted: given.clone(),
                    surt: prefix,
                    work_signature: Vec::new(),
                    work_token_count: 0,
                })
            }
            opt_out_scope::Scope::ContentId(given) => {
                let id = parse_content_id("scope.content_id", given)?;
                Ok(Canonical {
                    scope: Scope::Content(id),
                    submitted: given.clone(),
                    surt: String::new(),
                    work_signature: Vec::new(),
                    work_token_count: 0,
                })
            }
            opt_out_scope::Scope::WorkText(text) => {
                let field = "scope.work_text";
                let (version, normalized) =
                    crate::findwork::normalize_query(self.index.manifest(), text)
                        .map_err(|reason| invalid(field, reason))?;
                if normalized.is_empty() {
                    return Err(invalid(field, "is empty after normalization"));
                }
                let signature = self
                    .hasher
                    .signature(&normalized)
                    .ok_or_else(|| invalid(field, "has no words to sketch"))?;
                Ok(Canonical {
                    scope: Scope::Work(provindex_sketch::content_id(&normalized).0),
                    submitted: String::new(),
                    surt: String::new(),
                    work_signature: signature.0,
                    work_token_count: provindex_sketch::token_count_with(version, &normalized)
                        as u64,
                })
            }
            opt_out_scope::Scope::SourceBlock(block) => {
                use provindex_proto::v1::source_block_scope::Source;
                let (scope, submitted) = match block.source.as_ref() {
                    None => {
                        return Err(invalid(
                            "scope.source_block",
                            "set one of domain, host or input",
                        ));
                    }
                    Some(Source::Domain(given)) => {
                        let (registered, _) = registered_domain(
                            "scope.source_block.domain",
                            given,
                            "use host for a single host",
                        )?;
                        (Scope::BlockedDomain(registered), given)
                    }
                    Some(Source::Host(given)) => (
                        Scope::BlockedHost(bare_host("scope.source_block.host", given)?),
                        given,
                    ),
                    Some(Source::Input(given)) => {
                        let field = "scope.source_block.input";
                        check_scope_text(field, given, MAX_URL_PREFIX_BYTES)?;
                        if given.trim().is_empty() {
                            return Err(invalid(field, "is empty"));
                        }
                        if given.trim() != given {
                            return Err(invalid(
                                field,
                                format!(
                                    "{} has surrounding spaces; give the location URI exactly as stored",
                                    shown(given)
                                ),
                            ));
                        }
                        (Scope::BlockedInput(given.clone()), given)
                    }
                };
                Ok(Canonical {
                    scope,
                    submitted: submitted.clone(),
                    surt: String::new(),
                    work_signature: Vec::new(),
                    work_token_count: 0,
                })
            }
            opt_out_scope::Scope::Erasure(erasure) => {
                use provindex_proto::v1::erasure_scope::Target;
                let (scope, submitted) = match erasure.target.as_ref() {
                    None => {
                        return Err(invalid(
                            "scope.erasure",
                            "set one of content_id or pii_hmac",
                        ));
                    }
                    Some(Target::ContentId(given)) => (
                        Scope::ErasedContent(parse_content_id("scope.erasure.content_id", given)?),
                        given,
                    ),
                    Some(Target::PiiHmac(given)) => {
                        let hmac = provindex_index::registry::parse_hmac(given).ok_or_else(|| {
                            invalid(
                                "scope.erasure.pii_hmac",
                                format!(
                                    "expected 64 hex characters (FindPersonalData's keyed hash), got {}",
                                    shown(given)
                                ),
                            )
                        })?;
                        (Scope::ErasedPii(hmac), given)
                    }
                };
                Ok(Canonical {
                    scope,
                    submitted: submitted.clone(),
                    surt: String::new(),
                    work_signature: Vec::new(),
                    work_token_count: 0,
                })
            }
        }
    }
}

/// A submitted registered domain (`example.org`, not a host under it, a URL
/// or an IP address): the domain and its domain SURT prefix.
/// `single_host` says what to use for one host instead.
fn registered_domain(
    field: &'static str,
    given: &str,
    single_host: &str,
) -> Result<(String, String), crate::ApiError> {
    check_scope_text(field, given, MAX_DOMAIN_INPUT_BYTES)?;
    let text = given.trim();
    if text.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if text.contains(['/', ':', '@', '?', '#', ' ']) {
        return Err(invalid(
            field,
            format!(
                "{} is not a bare domain such as example.org (use url_prefix for URLs)",
                shown(text)
            ),
        ));
    }
    let surt = provindex_signals::surt(text).map_err(|e| invalid(field, e))?;
    if surt.is_ip {
        return Err(invalid(field, format!("{} is an IP address", shown(text))));
    }
    check_host(field, text, &surt.host)?;
    let host = surt.host.trim_end_matches('.').to_owned();
    let registered = provindex_signals::registered_domain(&host).ok_or_else(|| {
        invalid(
            field,
            format!("{text:?} is a public suffix, not a registered domain"),
        )
    })?;
    if registered != host {
        return Err(invalid(
            field,
            format!(
                "{text:?} is not a registered domain (its registered domain is {registered}); {single_host}"
            ),
        ));
    }
    let domain_surt = provindex_signals::surt_scan_prefix(&host, MatchMode::Domain)
        .map_err(|e| invalid(field, e))?;
    Ok((registered, domain_surt))
}

/// A submitted host (`www.example.org`, no scheme, path or port), lowercase.
fn bare_host(field: &'static str, given: &str) -> Result<String, crate::ApiError> {
    check_scope_text(field, given, MAX_DOMAIN_INPUT_BYTES)?;
    let text = given.trim();
    if text.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if text.contains(['/', ':', '@', '?', '#', ' ']) {
        return Err(invalid(
            field,
            format!("{} is not a bare host such as www.example.org", shown(text)),
        ));
    }
    let surt = provindex_signals::surt(text).map_err(|e| invalid(field, e))?;
    check_host(field, text, &surt.host)?;
    Ok(surt.host.trim_end_matches('.').to_ascii_lowercase())
}

fn parse_content_id(field: &'static str, text: &str) -> Result<u128, crate::ApiError> {
    if text.len() != 32 {
        return Err(invalid(
            field,
            format!("expected 32 hex characters, got {}", text.len()),
        ));
    }
    crate::convert::hex_u128(text)
        .ok_or_else(|| invalid(field, format!("{text:?} is not 32 hex digits")))
}

fn parse_entry_id(field: &'static str, text: &str) -> Result<u64, crate::ApiError> {
    if text.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    crate::convert::decimal_u64(text)
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            invalid(
                field,
                format!(
                    "{} is not a registry id (a decimal number from 1, digits only)",
                    shown(text)
                ),
            )
        })
}

fn actor(principal: &Principal) -> Actor {
    Actor {
        name: principal.name.clone(),
        role: principal.role.as_str().into(),
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Unauthenticated => "UNAUTHENTICATED",
        _ => "INTERNAL",
    }
}

/// Registry entry → API message.
pub fn registration(entry: &OptOutEntry) -> OptOutRegistration {
    OptOutRegistration {
        id: entry.id.to_string(),
        rightholder: entry.rightholder.clone(),
        scope_kind: entry.scope.kind().as_str().into(),
        scope_key: entry.scope.value(),
        submitted: entry.submitted.clone(),
        effective_from: entry.effective_from,
        evidence: entry.evidence.clone(),
        created_at: entry.created_at,
        created_by: entry.created_by.clone(),
        revoked_at: entry.revoked_at,
        revoked_by: entry.revoked_by.clone(),
        revocation_reason: entry.revocation_reason.clone(),
        sketch_spec: entry.sketch_spec.clone(),
        work_token_count: entry.work_token_count,
    }
}

/// The request as recorded in the audit log (work texts are not stored, only
/// their length).
fn register_audit_json(request: &RegisterOptOutRequest) -> serde_json::Value {
    let scope = match request.scope.as_ref().and_then(|s| s.scope.as_ref()) {
        None => json!(null),
        Some(opt_out_scope::Scope::Domain(d)) => {
            json!({"domain": audit_text(d, MAX_DOMAIN_INPUT_BYTES)})
        }
        Some(opt_out_scope::Scope::UrlPrefix(u)) => {
            json!({"url_prefix": audit_text(u, MAX_URL_PREFIX_BYTES)})
        }
        Some(opt_out_scope::Scope::ContentId(c)) => {
            json!({"content_id": audit_text(c, MAX_ID_TEXT_BYTES)})
        }
        Some(opt_out_scope::Scope::WorkText(t)) => json!({"work_text_bytes": t.len()}),
        Some(opt_out_scope::Scope::SourceBlock(block)) => {
            use provindex_proto::v1::source_block_scope::Source;
            match &block.source {
                None => json!({"source_block": null}),
                Some(Source::Domain(d)) => {
                    json!({"source_block": {"domain": audit_text(d, MAX_DOMAIN_INPUT_BYTES)}})
                }
                Some(Source::Host(h)) => {
                    json!({"source_block": {"host": audit_text(h, MAX_DOMAIN_INPUT_BYTES)}})
                }
                Some(Source::Input(i)) => {
                    json!({"source_block": {"input": audit_text(i, MAX_URL_PREFIX_BYTES)}})
                }
            }
        }
        Some(opt_out_scope::Scope::Erasure(erasure)) => {
            use provindex_proto::v1::erasure_scope::Target;
            match &erasure.target {
                None => json!({"erasure": null}),
                Some(Target::ContentId(c)) => {
                    json!({"erasure": {"content_id": audit_text(c, MAX_ID_TEXT_BYTES)}})
                }
                // A keyed hash, not the identifier: it may be logged.
                Some(Target::PiiHmac(h)) => {
                    json!({"erasure": {"pii_hmac": audit_text(h, MAX_ID_TEXT_BYTES)}})
                }
            }
        }
    };
    json!({
        "rightholder": audit_text(&request.rightholder, MAX_NAME_BYTES),
        "scope": scope,
        "effective_from": request.effective_from,
        "evidence": audit_text(&request.evidence, MAX_NOTE_BYTES),
    })
}

/// A revocation request as recorded in the audit log.
fn revoke_audit_json(request: &RevokeOptOutRequest) -> serde_json::Value {
    json!({
        "id": audit_text(&request.id, MAX_ID_TEXT_BYTES),
        "reason": audit_text(&request.reason, MAX_NOTE_BYTES),
    })
}

/// The SURT keys of a content's captures (the first `MAX_CAPTURES_CHECKED`),
/// for [`authorization::authorize_scope`].
fn capture_surts(index: &IndexReader, content_id: u128) -> Result<Vec<String>, crate::ApiError> {
    let internal = crate::ApiError::Index;
    let (captures, _) = index
        .content_captures(content_id, None, MAX_CAPTURES_CHECKED)
        .map_err(internal)?;
    Ok(captures
        .into_iter()
        .map(|(_, capture)| capture.surt)
        .collect())
}

impl OptOutApi {
    /// Whether `principal` may cover this scope (its grants; for a
    /// content, one of its captures inside them).
    pub(crate) async fn authorize(
        &self,
        principal: &Principal,
        canonical: &Canonical,
    ) -> Result<(), crate::ApiError> {
        let surts = match &canonical.scope {
            Scope::Content(content_id) if principal.needs_captures_for_content() => {
                let content_id = *content_id;
                self.blocking(move |_, index| capture_surts(index, content_id))
                    .await?
            }
            _ => Vec::new(),
        };
        let shown_prefix = shown(&canonical.submitted);
        let requested = match &canonical.scope {
            Scope::Domain(domain) => RequestedScope::Domain {
                domain,
                surt: &canonical.surt,
            },
            Scope::UrlPrefix(_) => RequestedScope::UrlPrefix {
                shown: &shown_prefix,
                surt: &canonical.surt,
            },
            Scope::Content(content_id) => RequestedScope::Content {
                content_id: *content_id,
                capture_surts: &surts,
            },
            _ => RequestedScope::Work,
        };
        authorization::authorize_scope(principal, requested).map_err(ApiError::from)?;
        Ok(())
    }

    async fn register(
        &self,
        principal: &Principal,
        request: RegisterOptOutRequest,
    ) -> Result<OptOutEntry, crate::ApiError> {
        authorization::may_write(principal, "register").map_err(ApiError::from)?;
        let canonical = self.canonical_scope(request.scope.as_ref())?;
        let removal = canonical.scope.kind().is_removal();
        if removal {
            authorization::may_remove(principal, canonical.scope.kind().as_str())
                .map_err(ApiError::from)?;
        }
        let rightholder = request.rightholder.trim();
        let rightholder = if removal && rightholder.is_empty() {
            // A removal is the operator's: its name stands for the rightholder.
            principal.name.clone()
        } else {
            authorization::registrant(principal, rightholder, &shown(rightholder))
                .map_err(ApiError::from)?
        };
        if rightholder.len() > MAX_NAME_BYTES {
            return Err(invalid(
                "rightholder",
                format!("longer than {MAX_NAME_BYTES} bytes"),
            ));
        }
        if request.evidence.len() > MAX_NOTE_BYTES {
            return Err(invalid(
                "evidence",
                format!("longer than {MAX_NOTE_BYTES} bytes"),
            ));
        }
        if canonical.scope.kind() == ScopeKind::Work && request.evidence.trim().is_empty() {
            return Err(invalid(
                "evidence",
                "is required for a work (what makes the submitter its rightholder)",
            ));
        }
        if removal && request.evidence.trim().is_empty() {
            return Err(invalid(
                "evidence",
                format!(
                    "is required for a {} (its ground: an audit result, a complaint, a data subject's request)",
                    canonical.scope.kind().as_str()
                ),
            ));
        }
        let effective_from = match request.effective_from {
            Some(time) if time < 0 => {
                return Err(invalid("effective_from", format!("{time} is before 1970")));
            }
            Some(time) => time,
            None => now(),
        };
        self.authorize(principal, &canonical).await?;
        let new = NewRegistration {
            rightholder,
            scope: canonical.scope,
            submitted: canonical.submitted,
            work_signature: canonical.work_signature,
            sketch_spec: if canonical.work_token_count > 0 {
                self.hasher.spec().to_string()
            } else {
                String::new()
            },
            work_token_count: canonical.work_token_count,
            effective_from,
            evidence: request.evidence.clone(),
        };
        let who = actor(principal);
        let audit = register_audit_json(&request);
        self.blocking(move |registry, _| {
            registry
                .register(new, &who, now(), audit)
                .map_err(crate::ApiError::from)
        })
        .await
    }

    async fn revoke(
        &self,
        principal: &Principal,
        request: &RevokeOptOutRequest,
    ) -> Result<OptOutEntry, crate::ApiError> {
        authorization::may_write(principal, "revoke").map_err(ApiError::from)?;
        let id = parse_entry_id("id", &request.id)?;
        if request.reason.len() > MAX_NOTE_BYTES {
            return Err(invalid(
                "reason",
                format!("longer than {MAX_NOTE_BYTES} bytes"),
            ));
        }
        let entry = self
            .registry
            .get(id)
            .map_err(ApiError::from)?
            .ok_or(crate::ApiError::Registry(RegistryError::NotFound(id)))?;
        authorization::may_revoke(principal, id, &entry.rightholder).map_err(ApiError::from)?;
        let who = actor(principal);
        let reason = request.reason.clone();
        let audit = revoke_audit_json(request);
        self.blocking(move |registry, _| {
            registry
                .revoke(id, &who, &reason, now(), audit)
                .map_err(crate::ApiError::from)
        })
        .await
    }

    fn list(
        &self,
        principal: &Principal,
        request: &ListOptOutsRequest,
    ) -> Result<ListOptOutsResponse, crate::ApiError> {
        let requested = request.rightholder.trim();
        let rightholder =
            authorization::list_filter(principal, requested).map_err(ApiError::from)?;
        let kind = match request.scope_kind.trim() {
            "" => None,
            text => Some(ScopeKind::parse(text).ok_or_else(|| {
                invalid(
                    "scope_kind",
                    format!(
                        "{} is not one of domain, url_prefix, content, work, source_block, erasure",
                        shown(text)
                    ),
                )
            })?),
        };
        let scope = match &request.scope {
            Some(scope) if scope.scope.is_some() => Some(self.canonical_scope(Some(scope))?.scope),
            _ => None,
        };
        let limit = match request.page_size {
            0 => DEFAULT_PAGE_SIZE as usize,
            n if n <= MAX_PAGE_SIZE => n as usize,
            n => {
                return Err(invalid(
                    "page_size",
                    format!("{n} is larger than the maximum {MAX_PAGE_SIZE}"),
                ));
            }
        };
        let after = if request.page_token.is_empty() {
            None
        } else {
            Some(parse_entry_id("page_token", &request.page_token)?)
        };
        let filter = ListFilter {
            rightholder,
            kind,
            scope,
            include_revoked: request.include_revoked,
        };
        let (entries, next) = self
            .registry
            .list(&filter, after, limit)
            .map_err(ApiError::from)?;
        Ok(ListOptOutsResponse {
            registrations: entries.iter().map(|e| registration(e)).collect(),
            next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
        })
    }
}

/// The operations of OptOutService for an authenticated principal: the one
/// path the gRPC service and the web page (`provindex-http`) share, so both
/// apply the same authorization rules and audit the same refusals.
impl OptOutApi {
    /// The principal of a bearer token presented outside gRPC metadata (the
    /// web page's session cookie); UNAUTHENTICATED like a gRPC call.
    pub fn authenticate_token(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        match &self.auth {
            Some(auth) => auth.authenticate_token(token),
            None => Err(AuthError::NotConfigured("the opt-out registry")),
        }
    }

    /// RegisterOptOut as `principal`. A refusal (anything but the server's
    /// own failure) is recorded in the audit log before it is returned.
    pub async fn register_as(
        &self,
        principal: &Principal,
        request: RegisterOptOutRequest,
    ) -> Result<OptOutEntry, crate::ApiError> {
        let audit = register_audit_json(&request);
        match self.register(principal, request).await {
            Ok(entry) => {
                tracing::info!(id = entry.id, actor = %principal.name, scope = ?entry.scope, "opt-out registered");
                Ok(entry)
            }
            Err(error) if error.status_code().is_internal() => Err(error),
            Err(error) => Err(self.refuse(principal, "register", None, audit, error).await),
        }
    }

    /// RevokeOptOut as `principal`; refusals are audited like [`Self::register_as`]'s.
    pub async fn revoke_as(
        &self,
        principal: &Principal,
        request: &RevokeOptOutRequest,
    ) -> Result<OptOutEntry, crate::ApiError> {
        match self.revoke(principal, request).await {
            Ok(entry) => {
                tracing::info!(id = entry.id, actor = %principal.name, "opt-out revoked");
                Ok(entry)
            }
            Err(error) if error.status_code().is_internal() => Err(error),
            Err(error) => {
                let id = crate::convert::decimal_u64(&request.id);
                Err(self
                    .refuse(principal, "revoke", id, revoke_audit_json(request), error)
                    .await)
            }
        }
    }

    /// ListOptOuts as `principal` (a rightholder sees only its own entries).
    pub fn list_as(
        &self,
        principal: &Principal,
        request: &ListOptOutsRequest,
    ) -> Result<ListOptOutsResponse, crate::ApiError> {
        self.list(principal, request)
    }
}

#[tonic::async_trait]
impl OptOutService for OptOutApi {
    async fn register_opt_out(
        &self,
        request: Request<RegisterOptOutRequest>,
    ) -> Result<Response<RegisterOptOutResponse>, Status> {
        let principal = self.authenticate(&request)?;
        let entry = self.register_as(&principal, request.into_inner()).await?;
        Ok(Response::new(RegisterOptOutResponse {
            registration: Some(registration(&entry)),
        }))
    }

    async fn revoke_opt_out(
        &self,
        request: Request<RevokeOptOutRequest>,
    ) -> Result<Response<RevokeOptOutResponse>, Status> {
        let principal = self.authenticate(&request)?;
        let entry = self.revoke_as(&principal, request.get_ref()).await?;
        Ok(Response::new(RevokeOptOutResponse {
            registration: Some(registration(&entry)),
        }))
    }

    async fn list_opt_outs(
        &self,
        request: Request<ListOptOutsRequest>,
    ) -> Result<Response<ListOptOutsResponse>, Status> {
        let principal = self.authenticate(&request)?;
        Ok(Response::new(self.list_as(&principal, request.get_ref())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_are_strict_decimal() {
        assert_eq!(parse_entry_id("id", "1").ok(), Some(1));
        assert_eq!(parse_entry_id("id", "42").ok(), Some(42));
        for bad in [
            "+1",
            "-1",
            " 1",
            "1 ",
            "01",
            "0",
            "",
            "1.0",
            "0x1",
            "99999999999999999999",
        ] {
            let status = Status::from(parse_entry_id("id", bad).expect_err(bad));
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
            assert!(status.message().starts_with("id: "), "{status:?}");
        }
    }

    #[test]
    fn content_ids_are_exactly_32_hex_digits() {
        let id = format!("{:032x}", 0xabcdef_u128);
        assert_eq!(
            parse_content_id("scope.content_id", &id).ok(),
            Some(0xabcdef)
        );
        for bad in [
            format!("+{}", "0".repeat(31)),
            format!("-{}", "0".repeat(31)),
            format!("{} ", "0".repeat(31)),
            "0".repeat(31),
            "z".repeat(32),
        ] {
            let status = Status::from(parse_content_id("scope.content_id", &bad).expect_err(&bad));
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn scope_texts_are_bounded_and_free_of_control_characters() {
        assert!(check_scope_text("scope.domain", "example.org", MAX_DOMAIN_INPUT_BYTES).is_ok());
        for bad in [
            "exa\tmple.org",
            "example.org\n",
            "exa\u{7f}mple.org",
            "a\u{85}b.org",
        ] {
            let status = Status::from(
                check_scope_text("scope.domain", bad, MAX_DOMAIN_INPUT_BYTES).expect_err(bad),
            );
            assert!(status.message().contains("control character"), "{status:?}");
        }
        let huge = format!("https://example.org/{}", "a".repeat(1 << 20));
        let status = Status::from(
            check_scope_text("scope.url_prefix", &huge, MAX_URL_PREFIX_BYTES).expect_err("1 MB"),
        );
        assert!(
            status
                .message()
                .starts_with("scope.url_prefix: is 1048596 bytes")
        );
        assert!(status.message().len() < 200, "{status:?}");
    }

    #[test]
    fn hosts_must_be_hostnames_and_surt_keys_are_named() {
        let host = |text: &str| provindex_signals::surt(text).expect(text).host;
        assert!(
            check_host(
                "scope.url_prefix",
                "https://example.org/",
                &host("https://example.org/")
            )
            .is_ok()
        );
        let status = Status::from(
            check_host("scope.url_prefix", "org,example)/", &host("org,example)/"))
                .expect_err("SURT key"),
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("SURT key"), "{status:?}");
        let long_label = format!("{}.org", "a".repeat(64));
        let status = Status::from(
            check_host("scope.domain", &long_label, &host(&long_label)).expect_err("long label"),
        );
        assert!(status.message().contains("longer than 63"), "{status:?}");
        assert!(status.message().len() < 300, "{status:?}");
    }

    #[test]
    fn audit_copies_of_refused_requests_are_bounded() {
        let huge = "d".repeat(1 << 20);
        let json = register_audit_json(&RegisterOptOutRequest {
            rightholder: huge.clone(),
            scope: Some(OptOutScope {
                scope: Some(opt_out_scope::Scope::Domain(huge.clone())),
            }),
            effective_from: None,
            evidence: huge.clone(),
        });
        assert!(
            json.to_string().len() < 16 * 1024,
            "{} bytes",
            json.to_string().len()
        );
        assert!(
            json["scope"]["domain"]
                .as_str()
                .expect("domain")
                .contains("1048576 bytes")
        );
        let json = revoke_audit_json(&RevokeOptOutRequest {
            id: huge.clone(),
            reason: huge,
        });
        assert!(json.to_string().len() < 16 * 1024);
        // What an accepted request may hold is kept whole.
        let evidence = "e".repeat(MAX_NOTE_BYTES);
        assert_eq!(audit_text(&evidence, MAX_NOTE_BYTES), evidence);
        assert_eq!(audit_text("ééé", 3), "é… [truncated, 6 bytes]");
    }
}
