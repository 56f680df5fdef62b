//! Bearer-token authentication and role-based authorization.
//!
//! The configuration is a JSON file (`provindex serve --auth FILE`):
//!
//! ```json
//! {
//!   "tokens": {
//!     "admin-secret-token":   {"role": "admin", "name": "ops"},
//!     "sha256:9f86d08...":    {"role": "rightholder", "name": "Gov",
//!                              "scopes": ["data.gov.uk", "https://www.gov.uk/government/"]},
//!     "auditor-token":        {"role": "reader", "name": "auditor"}
//!   }
//! }
//! ```
//!
//! A key is either the token itself or `sha256:` and the hex SHA-256 of the
//! token (so the file need not hold secrets in clear). A key listed twice is
//! refused (a JSON object would silently keep only the last one). Only SHA-256 digests
//! are kept in memory; a presented token is hashed and compared with every
//! digest in constant time.
//!
//! Roles: `admin` may do everything; `rightholder` may register and revoke
//! opt-outs within its `scopes` (a bare host such as `data.gov.uk` grants the
//! domain and all its subdomains; a URL grants every URL under its SURT
//! prefix, up to path-segment boundaries: see
//! [`provindex_signals::url_prefix_covers`]) and list its own; `reader` may read (list opt-outs, and
//! ProvenanceService when reads are gated) but never write.
//!
//! Tokens travel in clear unless the server runs with TLS ([`TlsIdentity`],
//! `provindex serve --tls-cert --tls-key`).

use std::path::Path;
use std::sync::Arc;

use provindex_signals::MatchMode;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::task::{Context, Poll};

use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;

// Roles, grants and principals are policy's (who may write which scope is a
// rule): this module authenticates and parses the configuration.
pub use provindex_policy::authorization::{Grant, Principal, Role};

/// A role as written in the configuration.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RoleText {
    Admin,
    Rightholder,
    Reader,
}

impl From<RoleText> for Role {
    fn from(role: RoleText) -> Self {
        match role {
            RoleText::Admin => Role::Admin,
            RoleText::Rightholder => Role::Rightholder,
            RoleText::Reader => Role::Reader,
        }
    }
}

/// A configured scope (`data.gov.uk`, `https://www.gov.uk/government/`),
/// canonicalized to a [`Grant`].
fn parse_grant(text: &str) -> Result<Grant, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty scope".into());
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "scope {}: contains a control character",
            shown(text)
        ));
    }
    let is_url = text.contains("://") || text.contains('/');
    let host = provindex_signals::surt(text)
        .map_err(|e| format!("scope {}: {e}", shown(text)))?
        .host;
    if let Some(problem) = provindex_signals::hostname_problem(&host) {
        return Err(format!("scope {}: {problem}", shown(text)));
    }
    let mode = if is_url {
        MatchMode::Prefix
    } else {
        MatchMode::Domain
    };
    let surt = provindex_signals::surt_scan_prefix(text, mode)
        .map_err(|e| format!("scope {}: {e}", shown(text)))?;
    Ok(if is_url {
        Grant::UrlPrefix {
            given: text.to_owned(),
            surt,
        }
    } else {
        Grant::Domain {
            given: text.to_owned(),
            surt,
        }
    })
}

/// The token table and the read-gating switch.
pub struct Auth {
    tokens: Vec<([u8; 32], Arc<Principal>)>,
    gate_reads: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print token digests.
        f.debug_struct("Auth")
            .field("principals", &self.tokens.len())
            .field("gate_reads", &self.gate_reads)
            .finish()
    }
}

/// Why a request is not let in: UNAUTHENTICATED, whatever the reason.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing `authorization: Bearer <token>` metadata")]
    MissingToken,
    #[error("`authorization` metadata is not a Bearer token")]
    NotBearer,
    #[error("unknown token")]
    UnknownToken,
    /// A service that needs tokens on a server without `--auth`.
    #[error("this server has no --auth configuration: {0} accepts no calls")]
    NotConfigured(&'static str),
}

impl provindex_errors::ErrorExt for AuthError {
    fn status_code(&self) -> provindex_errors::StatusCode {
        provindex_errors::StatusCode::Unauthenticated
    }
}

/// Why an auth configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("auth configuration: {0}")]
    Invalid(String),
}

impl provindex_errors::ErrorExt for AuthConfigError {
    /// Only at startup; the deployment's to fix either way.
    fn status_code(&self) -> provindex_errors::StatusCode {
        provindex_errors::StatusCode::FailedPrecondition
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    tokens: TokenList,
}

/// The `tokens` object in file order, keeping repeated keys (a map would keep
/// only the last, silently turning e.g. an admin into a reader).
struct TokenList(Vec<(String, TokenEntry)>);

impl<'de> Deserialize<'de> for TokenList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = TokenList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object mapping tokens to {role, name, scopes}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TokenList, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, TokenEntry>()? {
                    entries.push(entry);
                }
                Ok(TokenList(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// At most 64 characters of `text`, quoted, for messages (never megabytes).
fn shown(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &text[..end], text.len()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    role: RoleText,
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality without an early exit, so timing does not reveal how many
/// leading bytes matched.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

impl Auth {
    /// Loads the JSON configuration at `path`.
    pub fn load(path: &Path, gate_reads: bool) -> Result<Self, AuthConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text, gate_reads)
    }

    /// Parses a configuration (see the module docs for the format).
    pub fn from_json(text: &str, gate_reads: bool) -> Result<Self, AuthConfigError> {
        let file: FileFormat = serde_json::from_str(text)
            .map_err(|e| AuthConfigError::Invalid(format!("not a valid auth file: {e}")))?;
        let entries = file.tokens.0;
        // Named by position and name, never by the key: it may be the secret.
        for (i, (key, entry)) in entries.iter().enumerate() {
            if let Some(first) = entries[..i].iter().position(|(k, _)| k == key) {
                return Err(AuthConfigError::Invalid(format!(
                    "token #{} ({}) has the same key as token #{} ({}): every token key must be listed once",
                    i + 1,
                    shown(entry.name.trim()),
                    first + 1,
                    shown(entries[first].1.name.trim()),
                )));
            }
        }
        let mut tokens: Vec<([u8; 32], Arc<Principal>)> = Vec::with_capacity(entries.len());
        for (key, entry) in entries {
            let name = entry.name.trim().to_owned();
            if name.is_empty() {
                return Err(AuthConfigError::Invalid(
                    "every token needs a non-empty name".into(),
                ));
            }
            let hash = match key.strip_prefix("sha256:") {
                Some(hex_digest) => {
                    let mut out = [0u8; 32];
                    hex::decode_to_slice(hex_digest, &mut out).map_err(|_| {
                        AuthConfigError::Invalid(format!(
                            "{name}: sha256: must be followed by 64 hex characters"
                        ))
                    })?;
                    out
                }
                None if key.len() < 16 => {
                    return Err(AuthConfigError::Invalid(format!(
                        "{name}: tokens must be at least 16 characters"
                    )));
                }
                None => digest(&key),
            };
            if let Some((_, other)) = tokens.iter().find(|(h, _)| h == &hash) {
                return Err(AuthConfigError::Invalid(format!(
                    "{name}: the same token is listed twice, also for {} (in clear and as sha256:, or as two digests)",
                    other.name
                )));
            }
            let grants = entry
                .scopes
                .iter()
                .map(|s| parse_grant(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AuthConfigError::Invalid(format!("{name}: {e}")))?;
            let role = Role::from(entry.role);
            match role {
                Role::Rightholder if grants.is_empty() => {
                    return Err(AuthConfigError::Invalid(format!(
                        "{name}: a rightholder needs at least one scope"
                    )));
                }
                Role::Admin | Role::Reader if !grants.is_empty() => {
                    return Err(AuthConfigError::Invalid(format!(
                        "{name}: scopes only apply to rightholders"
                    )));
                }
                _ => {}
            }
            tokens.push((hash, Arc::new(Principal { name, role, grants })));
        }
        Ok(Self { tokens, gate_reads })
    }

    /// Whether ProvenanceService (reads) needs a token too.
    pub fn gates_reads(&self) -> bool {
        self.gate_reads
    }

    /// The principal of the request's bearer token: UNAUTHENTICATED when the
    /// `authorization` metadata is missing, malformed or names no known token.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<Arc<Principal>, AuthError> {
        let value = metadata
            .get("authorization")
            .ok_or(AuthError::MissingToken)?;
        let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        let token = value
            .trim_start()
            .split_once([' ', '\t'])
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::NotBearer)?;
        self.authenticate_token(token)
    }

    /// The principal of a bearer token itself (no `Bearer ` scheme), e.g.
    /// one the web page keeps in its session cookie.
    pub fn authenticate_token(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        let presented = digest(token);
        let mut found = None;
        // Look at every entry whatever matches, so the time taken does not
        // depend on where (or whether) the token is.
        for (hash, principal) in &self.tokens {
            if constant_time_eq(hash, &presented) {
                found = Some(principal);
            }
        }
        found.cloned().ok_or(AuthError::UnknownToken)
    }
}

/// The server's TLS certificate chain and private key (PEM).
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("TlsIdentity")
            .field("cert_pem_bytes", &self.cert_pem.len())
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// The tonic server configuration for this identity.
    pub fn server_config(&self) -> tonic::transport::ServerTlsConfig {
        tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
            &self.cert_pem,
            &self.key_pem,
        ))
    }
}

/// A read service behind the read gate: everything passes when reads are
/// open (no auth configured, or configured without `--auth-reads`); else a
/// known token of any role is required (UNAUTHENTICATED otherwise).
#[derive(Clone)]
pub struct ReadGated<S> {
    inner: S,
    auth: Option<Arc<Auth>>,
}

impl<S> ReadGated<S> {
    pub fn new(inner: S, auth: Option<Arc<Auth>>) -> Self {
        Self {
            inner,
            auth: auth.filter(|a| a.gates_reads()),
        }
    }
}

impl<S: NamedService> NamedService for ReadGated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for ReadGated<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if let Some(auth) = &self.auth {
            let metadata = MetadataMap::from_headers(request.headers().clone());
            if let Err(error) = auth.authenticate(&metadata) {
                let status: Status = error.into();
                return Box::pin(async move { Ok(status.into_http()) });
            }
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Auth {
        let hashed = hex::encode(digest("rightholder-token-2"));
        Auth::from_json(
            &format!(
                r#"{{"tokens": {{
                    "admin-token-0000001": {{"role": "admin", "name": "ops"}},
                    "rightholder-token-1": {{"role": "rightholder", "name": "Gov",
                        "scopes": ["data.gov.uk", "https://www.iana.org/domains/"]}},
                    "sha256:{hashed}": {{"role": "rightholder", "name": "Other", "scopes": ["example.org"]}},
                    "reader-token-000001": {{"role": "reader", "name": "auditor"}}
                }}}}"#
            ),
            false,
        )
        .expect("config")
    }

    fn with_token(token: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
        metadata
    }

    #[test]
    fn tokens_map_to_principals() {
        let auth = config();
        assert_eq!(
            auth.authenticate(&with_token("admin-token-0000001"))
                .expect("admin")
                .role,
            Role::Admin
        );
        assert_eq!(
            auth.authenticate(&with_token("rightholder-token-2"))
                .expect("hashed")
                .name,
            "Other"
        );
        for metadata in [MetadataMap::new(), with_token("nope-nope-nope-nope")] {
            assert_eq!(
                Status::from(auth.authenticate(&metadata).expect_err("unknown")).code(),
                tonic::Code::Unauthenticated
            );
        }
    }

    #[test]
    fn rightholder_scopes() {
        let auth = config();
        let gov = auth
            .authenticate(&with_token("rightholder-token-1"))
            .expect("gov");
        assert!(gov.may_cover_domain("uk,gov,data"));
        assert!(gov.may_cover_domain("uk,gov,data,beta"));
        assert!(!gov.may_cover_domain("uk,gov"));
        assert!(!gov.may_cover_domain("uk,gov,datab"));
        assert!(gov.may_cover_url("uk,gov,data)/dataset"));
        assert!(gov.may_cover_url("uk,gov,data,www2)/x"));
        assert!(!gov.may_cover_url("uk,gov,database)/x"));
        assert!(gov.may_cover_url("org,iana)/domains/root"));
        assert!(!gov.may_cover_url("org,iana)/about"));
        assert!(!gov.may_cover_domain("org,iana"));
    }

    /// The scope-escape cases of issue 14: a URL grant admits only URLs under
    /// it, at path-segment boundaries, on the same host and port.
    #[test]
    fn url_grants_respect_segment_boundaries() {
        let auth = Auth::from_json(
            r#"{"tokens": {
                "gov-token-000000001": {"role": "rightholder", "name": "Gov",
                    "scopes": ["https://www.gov.uk/government/", "https://www.iana.org/domains/",
                               "http://example.org:8080/app", "data.gov.uk"]}
            }}"#,
            false,
        )
        .expect("config");
        let gov = auth
            .authenticate(&with_token("gov-token-000000001"))
            .expect("gov");
        let key =
            |url: &str| provindex_signals::surt_scan_prefix(url, MatchMode::Prefix).expect("url");
        for (url, allowed) in [
            ("https://www.gov.uk/government/", true),
            ("https://www.gov.uk/government", true),
            ("https://www.gov.uk/government/organisations/", true),
            ("https://www.gov.uk/government?page=2", true),
            ("https://WWW.GOV.UK/government/x", true),
            ("https://www.gov.uk:443/government/x", true),
            ("https://www.gov.uk/governmental-other/", false),
            ("https://www.gov.uk/government-admin/", false),
            ("https://www.gov.uk/government/%2e%2e/other", false),
            ("https://www.gov.uk/government/%252E%252E/other", false),
            ("https://www.gov.uk:8443/government/x", false),
            ("https://www.gov.uk.evil.example/government/", false),
            ("https://www.iana.org/domains/root", true),
            ("https://www.iana.org/domainsX/evil", false),
            ("https://www.iana.org/domains-admin/", false),
            ("https://www.iana.org/domains.json", false),
            ("http://example.org:8080/app/x", true),
            ("http://example.org/app/x", false),
            ("http://example.org:8081/app/x", false),
            ("http://example.org:8080/apple", false),
            ("https://beta.data.gov.uk/x", true),
            ("https://evildata.gov.uk/x", false),
        ] {
            assert_eq!(gov.may_cover_url(&key(url)), allowed, "{url}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let auth = config();
        for header in [
            "Bearer admin-token-0000001",
            "bearer admin-token-0000001",
            "BEARER admin-token-0000001",
            "bEaReR  admin-token-0000001",
        ] {
            let mut metadata = MetadataMap::new();
            metadata.insert("authorization", header.parse().expect("ascii"));
            assert_eq!(
                auth.authenticate(&metadata).expect(header).role,
                Role::Admin,
                "{header}"
            );
        }
        for header in [
            "Basic admin-token-0000001",
            "Bearer",
            "Bearer   ",
            "Beareradmin-token-0000001",
        ] {
            let mut metadata = MetadataMap::new();
            metadata.insert("authorization", header.parse().expect("ascii"));
            assert_eq!(
                Status::from(auth.authenticate(&metadata).expect_err(header)).code(),
                tonic::Code::Unauthenticated,
                "{header}"
            );
        }
    }

    #[test]
    fn duplicate_token_keys_are_refused_without_naming_the_secret() {
        let text = r#"{"tokens": {
            "shared-secret-token-1": {"role": "admin", "name": "ops"},
            "reader-token-000001": {"role": "reader", "name": "auditor"},
            "shared-secret-token-1": {"role": "reader", "name": "intern"}
        }}"#;
        let error = Auth::from_json(text, false)
            .expect_err("duplicate key")
            .to_string();
        assert!(error.contains("#3") && error.contains("intern"), "{error}");
        assert!(error.contains("#1") && error.contains("ops"), "{error}");
        assert!(!error.contains("shared-secret-token-1"), "{error}");

        // The same token in clear and as its digest is a duplicate too.
        let hashed = hex::encode(digest("shared-secret-token-1"));
        let text = format!(
            r#"{{"tokens": {{
                "shared-secret-token-1": {{"role": "admin", "name": "ops"}},
                "sha256:{hashed}": {{"role": "reader", "name": "intern"}}
            }}}}"#
        );
        let error = Auth::from_json(&text, false)
            .expect_err("same digest")
            .to_string();
        assert!(error.contains("ops") && error.contains("intern"), "{error}");
        assert!(!error.contains("shared-secret-token-1"), "{error}");
    }

    #[test]
    fn bad_configurations_are_refused() {
        for text in [
            "{}",
            r#"{"tokens": {"short": {"role": "admin", "name": "x"}}}"#,
            r#"{"tokens": {"long-enough-token-1": {"role": "rightholder", "name": "x"}}}"#,
            r#"{"tokens": {"long-enough-token-1": {"role": "reader", "name": "x", "scopes": ["a.org"]}}}"#,
            r#"{"tokens": {"long-enough-token-1": {"role": "owner", "name": "x"}}}"#,
            r#"{"tokens": {"sha256:zz": {"role": "admin", "name": "x"}}}"#,
            r#"{"tokens": {"long-enough-token-1": {"role": "rightholder", "name": "x", "scopes": ["http://[bad"]}}}"#,
            // A SURT key is not a URL (it would become the host `org,example)`).
            r#"{"tokens": {"long-enough-token-1": {"role": "rightholder", "name": "x", "scopes": ["org,example)/"]}}}"#,
            r#"{"tokens": {"long-enough-token-1": {"role": "rightholder", "name": "x", "scopes": ["exa\tmple.org"]}}}"#,
        ] {
            assert!(Auth::from_json(text, false).is_err(), "{text}");
        }
    }
}
