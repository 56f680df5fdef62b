//! URL canonicalization into SURT keys (Sort-friendly URI Reordering Transform).
//!
//! # Rules (what [`surt`] does, in order)
//!
//! The key follows the Internet Archive canonicalizer as used by CDX servers
//! (python `surt` with `DefaultIAURLCanonicalizer`, i.e. what pywb and the
//! Common Crawl CDX index produce), so keys can be compared with CC index keys:
//!
//! 1. Input is trimmed; tab/CR/LF are removed. An input without a scheme
//!    (`example.com/path`, `example.com:8080/x`) is treated as `http://`.
//! 2. Only `http`, `https` and `ftp` are accepted; anything else (`dns:`,
//!    `whois:`, `mailto:`, `data:` ...) is [`UrlError::UnsupportedScheme`].
//!    The scheme is not part of the key.
//! 3. Parsing follows the WHATWG URL standard (`url` crate): host lowercased,
//!    IDNA → punycode, IPv4 shorthand normalized (`0x7f.1` → `127.0.0.1`),
//!    user/password dropped, default port dropped (80 http, 443 https, 21 ftp;
//!    note python-surt keeps `:21` for ftp), dot segments resolved.
//! 4. Host: trailing dots removed, empty labels collapsed, a leading
//!    `www.` / `www\d+.` stripped (only if something remains), labels reversed
//!    and comma-joined, then `:port` if non-default, then `)`.
//!    **IP hosts are not reversed** (`http://10.0.0.1/` → `10.0.0.1)/`,
//!    `[::1])/` for IPv6) — this deliberately differs from python-surt's default
//!    (which reverses IPv4 octets); IP captures are rare in training crawls and
//!    a reversed IP is meaningless as a prefix.
//! 5. Path: percent-escapes decoded repeatedly, dot segments and empty segments
//!    (`//`) removed, then re-escaped minimally (only bytes ≤ 0x20, `#`, `%`,
//!    0x7F and non-ASCII are escaped), empty path → `/`, a trailing `/` is
//!    removed unless the path is just `/` (IA `stripTrailingSlashUnlessEmpty`).
//! 6. Query: same minimal re-escaping; session ids dropped (parameters
//!    `jsessionid`/`phpsessid`/`sid` with a 32-char alphanumeric value,
//!    `aspsessionid<8 letters>` with a 24-letter value); an empty query is
//!    dropped; arguments are sorted by `(name, value)` (an argument without `=`
//!    sorts before the same name with `=`), as python-surt does.
//! 7. Fragment dropped.
//! 8. **The whole key is lowercased** (path and query included), as the IA
//!    canonicalizer and the Common Crawl / pywb CDX keys do. Consequence:
//!    percent-escapes appear with lowercase hex (`caf%c3%a9`), and `/A` and
//!    `/a` share a key — a lookup key, not a fetchable URL; the original URL is
//!    kept beside it in the capture record.
//!
//! Examples: `http://www.Example.com:80/A/b?b=2&a=1#frag` → `com,example)/a/b?a=1&b=2`;
//! `https://example.com` → `com,example)/`; `http://example.com:8080/x` →
//! `com,example:8080)/x`.

use std::fmt;

/// A SURT-canonicalized URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Surt {
    /// The SURT key, e.g. `com,example)/a/b?a=1&b=2`.
    pub key: String,
    /// Canonical host: lowercase, punycode, no trailing dot, `www.` kept
    /// (e.g. `www.example.com`, `10.0.0.1`, `[::1]`).
    pub host: String,
    /// Registered domain (public suffix + 1 label) of `host`; `None` for IP
    /// hosts and hosts that are themselves public suffixes.
    pub registered_domain: Option<String>,
    /// `http`, `https` or `ftp`.
    pub scheme: String,
    /// Non-default port, if any.
    pub port: Option<u16>,
    /// Whether the host is an IPv4/IPv6 literal.
    pub is_ip: bool,
}

/// Why a URL cannot be turned into a SURT key. [`UrlError::kind`] gives a
/// stable short label for counting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The input is empty or whitespace only.
    #[error("empty URL")]
    Empty,
    /// The URL cannot be parsed.
    #[error("unparseable URL {url:?}: {reason}")]
    Parse { url: String, reason: String },
    /// The scheme is not http, https or ftp.
    #[error("unsupported URL scheme {scheme:?} (only http, https, ftp)")]
    UnsupportedScheme { scheme: String },
    /// The URL parses but has no (or an empty) host.
    #[error("URL has no host: {url:?}")]
    MissingHost { url: String },
}

impl UrlError {
    /// Stable label for metrics: `empty`, `parse`, `unsupported_scheme`, `missing_host`.
    pub fn kind(&self) -> &'static str {
        match self {
            UrlError::Empty => "empty",
            UrlError::Parse { .. } => "parse",
            UrlError::UnsupportedScheme { .. } => "unsupported_scheme",
            UrlError::MissingHost { .. } => "missing_host",
        }
    }
}

/// Which captures a URL lookup covers (CDX `matchType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchMode {
    /// Exactly this URL (after canonicalization).
    Exact,
    /// Every URL whose key starts with this URL's key.
    Prefix,
    /// Every URL on this host (and port).
    Host,
    /// Every URL on this host and all its subdomains.
    Domain,
}

impl fmt::Display for MatchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchMode::Exact => "exact",
            MatchMode::Prefix => "prefix",
            MatchMode::Host => "host",
            MatchMode::Domain => "domain",
        })
    }
}

/// Registered domain (eTLD+1) of a host via the compiled-in public suffix
/// list. Input may be mixed case or have a trailing dot; IP literals and
/// public suffixes themselves (`co.uk`) give `None`. Non-ASCII hosts must be
/// punycode already (as [`Surt::host`] is).
pub fn registered_domain(host: &str) -> Option<String> {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if h.is_empty() || is_ip_literal(&h) {
        return None;
    }
    use psl::Psl as _;
    let d = psl::List.domain(h.as_bytes())?;
    std::str::from_utf8(d.as_bytes()).ok().map(str::to_string)
}

fn is_ip_literal(h: &str) -> bool {
    h.starts_with('[') || h.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Puts `http://` in front of scheme-less input (`example.com/x`,
/// `example.com:8080/x`, `//example.com/x`).
fn with_scheme(input: &str) -> String {
    if let Some(rest) = input.strip_prefix("//") {
        return format!("http://{rest}");
    }
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let ok = if i == 0 {
            c.is_ascii_alphabetic()
        } else {
            c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')
        };
        if !ok {
            break;
        }
        i += 1;
    }
    if i > 0 && i < bytes.len() && bytes[i] == b':' {
        // `host:8080/...` is a host with a port, not a scheme.
        let after = &bytes[i + 1..];
        let looks_like_port = after.first().is_some_and(u8::is_ascii_digit)
            && !input[..i].eq_ignore_ascii_case("http")
            && !input[..i].eq_ignore_ascii_case("https");
        if !looks_like_port {
            return input.to_string();
        }
    }
    format!("http://{input}")
}

fn parse(input: &str) -> Result<url::Url, UrlError> {
    let trimmed: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    if trimmed.is_empty() {
        return Err(UrlError::Empty);
    }
    let full = with_scheme(&trimmed);
    let parsed = url::Url::parse(&full).map_err(|e| match e {
        url::ParseError::EmptyHost => UrlError::MissingHost {
            url: trimmed.clone(),
        },
        other => UrlError::Parse {
            url: trimmed.clone(),
            reason: other.to_string(),
        },
    })?;
    match parsed.scheme() {
        "http" | "https" | "ftp" => {}
        other => {
            return Err(UrlError::UnsupportedScheme {
                scheme: other.to_string(),
            });
        }
    }
    match parsed.host() {
        None => Err(UrlError::MissingHost { url: trimmed }),
        Some(url::Host::Domain(d)) if d.trim_matches('.').is_empty() => {
            Err(UrlError::MissingHost { url: trimmed })
        }
        Some(_) => Ok(parsed),
    }
}

/// Canonicalizes `url` into a SURT key (see the module docs for the rules).
pub fn surt(url: &str) -> Result<Surt, UrlError> {
    let parsed = parse(url)?;
    let (host, is_ip) = match parsed.host() {
        Some(url::Host::Domain(d)) => {
            let labels: Vec<&str> = d.split('.').filter(|l| !l.is_empty()).collect();
            (labels.join("."), false)
        }
        Some(url::Host::Ipv4(a)) => (a.to_string(), true),
        Some(url::Host::Ipv6(a)) => (format!("[{a}]"), true),
        None => {
            return Err(UrlError::MissingHost {
                url: url.to_string(),
            });
        }
    };
    let host = host.to_ascii_lowercase();
    let port = parsed.port();

    let mut key = String::with_capacity(url.len() + 8);
    key.push_str(&host_key(&host, is_ip));
    if let Some(p) = port {
        key.push(':');
        key.push_str(&p.to_string());
    }
    key.push(')');
    key.push_str(&canonical_path(parsed.path()));
    if let Some(q) = parsed.query().and_then(canonical_query) {
        key.push('?');
        key.push_str(&q);
    }
    let key = key.to_ascii_lowercase();

    Ok(Surt {
        key,
        registered_domain: if is_ip {
            None
        } else {
            registered_domain(&host)
        },
        host,
        scheme: parsed.scheme().to_string(),
        port,
        is_ip,
    })
}

/// The host part of a key without port and `)`: `com,example` for
/// `www.example.com`, unchanged for IP literals.
fn host_key(host: &str, is_ip: bool) -> String {
    if is_ip {
        return host.to_string();
    }
    let stripped = strip_www(host);
    let mut labels: Vec<&str> = stripped.split('.').collect();
    labels.reverse();
    labels.join(",")
}

/// Strips a leading `www.` or `www<digits>.` (only if a label remains).
fn strip_www(host: &str) -> &str {
    let Some(rest) = host.strip_prefix("www") else {
        return host;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    match rest.strip_prefix('.') {
        Some(r) if !r.is_empty() => r,
        _ => host,
    }
}

/// Decodes `%XX` escapes until nothing changes (invalid escapes stay literal).
fn unescape_repeatedly(input: &[u8]) -> Vec<u8> {
    let mut cur = input.to_vec();
    // Every round that changes something shortens the input, so this ends;
    // the bound is only a belt-and-braces guard.
    for _ in 0..64 {
        let next = unescape_once(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unescape_once(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && i + 2 < input.len()
            && let (Some(h), Some(l)) = (hex_val(input[i + 1]), hex_val(input[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// Escapes bytes outside printable ASCII plus `#` and `%` (python-surt
/// `escapeOnce`); uppercase hex here, lowercased with the whole key later.
fn escape_once(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b > 0x20 && b < 0x7f && b != b'#' && b != b'%' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

fn canonical_path(path: &str) -> String {
    let decoded = unescape_repeatedly(path.as_bytes());
    // Resolve dot segments and drop empty segments (python-surt normalizePath).
    let mut kept: Vec<&[u8]> = Vec::new();
    let segments: Vec<&[u8]> = decoded.split(|&b| b == b'/').skip(1).collect();
    for seg in segments {
        match seg {
            b"" | b"." => {}
            b".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let mut out = Vec::with_capacity(decoded.len() + 1);
    for seg in &kept {
        out.push(b'/');
        out.extend_from_slice(seg);
    }
    // Empty segments are dropped, so a trailing `/` disappears too (IA strips
    // the trailing slash unless the path is just `/`).
    if out.is_empty() {
        out.push(b'/');
    }
    escape_once(&out)
}

fn is_session_param(name: &str, value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    let name = name.to_ascii_lowercase();
    let alnum = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let alpha = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphabetic());
    match name.as_str() {
        "jsessionid" | "phpsessid" | "sid" => alnum(v, 32),
        n => n.len() == 20 && n.starts_with("aspsessionid") && alpha(&n[12..], 8) && alpha(v, 24),
    }
}

fn canonical_query(query: &str) -> Option<String> {
    let escaped = escape_once(&unescape_repeatedly(query.as_bytes())).to_ascii_lowercase();
    if escaped.is_empty() {
        return None;
    }
    let mut args: Vec<(&str, Option<&str>)> = escaped
        .split('&')
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (a, None),
        })
        .filter(|(k, v)| !is_session_param(k, *v))
        .collect();
    if args.is_empty() {
        return None;
    }
    args.sort();
    let mut out = String::with_capacity(escaped.len());
    for (i, (k, v)) in args.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

/// The key prefix to scan in the SURT-sorted `urls` table for a lookup.
///
/// Accepts input with or without scheme (`example.com/path` is http); a
/// trailing `*` (CDX style `example.com/docs*`) is ignored except in `Exact`
/// mode, where it belongs to the URL.
///
/// * `Exact` → the full key (`com,example)/a?b=1`). Caller must still require
///   the stored key to equal it (the `urls` key has `\0` after the SURT).
/// * `Prefix` → the full key of the URL, whose path has no trailing `/`, so
///   `example.com/docs/` → `com,example)/docs`, which covers `/docs`,
///   `/docs/...` **and** `/docs2` (plain byte-prefix semantics, as CDX
///   servers). Callers wanting "directory only" filter further.
/// * `Host` → `com,example)/` (with `:port` before `)` if the input had a
///   non-default port); `www.` is stripped like in every key.
/// * `Domain` → `com,example` — the host part without `)`; covers
///   `com,example)/...`, `com,example:8080)/...` and `com,example,sub)/...`.
///   **The caller must check the boundary**: a byte-prefix scan on
///   `com,example` also hits `com,examples)/`; keep only keys where
///   [`domain_key_matches`] is true (the next char after the prefix is `)`,
///   `,` or `:`). The domain is the given host (`sub.example.com` → only
///   `com,example,sub...`), not its registered domain.
pub fn surt_scan_prefix(url: &str, mode: MatchMode) -> Result<String, UrlError> {
    let input = url.trim();
    // In exact mode `*` is part of the URL (MediaWiki's `load.php?…&*`).
    let input = match mode {
        MatchMode::Exact => input,
        _ => input.strip_suffix('*').unwrap_or(input),
    };
    let s = surt(input)?;
    let close = s.key.find(')').ok_or_else(|| UrlError::MissingHost {
        url: url.to_string(),
    })?;
    Ok(match mode {
        MatchMode::Exact | MatchMode::Prefix => s.key,
        MatchMode::Host => format!("{})/", &s.key[..close]),
        MatchMode::Domain => host_key(&s.host, s.is_ip).to_ascii_lowercase(),
    })
}

/// Same as [`surt_scan_prefix`] (name used in docs/CONTRACTS.md).
pub fn surt_prefix(url: &str, mode: MatchMode) -> Result<String, UrlError> {
    surt_scan_prefix(url, mode)
}

/// Whether the SURT `key` (or a `urls` table key starting with it) belongs
/// to the domain whose [`MatchMode::Domain`] prefix is `prefix`: `key` starts
/// with `prefix` and the next char is `)` (the host itself), `:` (the host
/// with a port) or `,` (a subdomain).
pub fn domain_key_matches(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.bytes().next())
        .is_some_and(|b| matches!(b, b')' | b',' | b':'))
}

/// Whether `key` is covered by the scan `prefix` for `mode` (the complete
/// check a caller does on each scanned key).
pub fn key_matches(key: &str, prefix: &str, mode: MatchMode) -> bool {
    match mode {
        MatchMode::Exact => key == prefix,
        MatchMode::Prefix | MatchMode::Host => key.starts_with(prefix),
        MatchMode::Domain => domain_key_matches(key, prefix),
    }
}

/// Whether the SURT key `key` lies inside the URL-prefix scope `prefix` (a
/// [`MatchMode::Prefix`] key such as `uk,gov)/government`). This is the one
/// containment rule for opt-out scopes: it decides both what a rightholder's
/// URL grant admits and what a registered URL prefix covers. `key` may be a
/// capture's key or a narrower prefix; a prefix contained in another covers a
/// subset of it.
///
/// Unlike a CDX byte-prefix scan, containment stops at path-segment
/// boundaries: the prefix covers its own key, keys continuing it with `/`
/// (below it) or `?` (its query strings), never `/governmental`. Keys drop
/// the trailing slash, so `.../government/` and `.../government` are the same
/// scope. A prefix ending in `/` (a host root) already ends on a boundary. A
/// prefix with a query covers that key and keys adding whole arguments after
/// it (`?a=1` covers `?a=1&b=2`, not `?a=10`). Host, port and `)` are
/// compared exactly, so another port, a subdomain or a look-alike host
/// (`com,example,evil`, `com,examples`) is never inside.
pub fn url_prefix_covers(prefix: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(prefix) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    if !prefix.contains(')') {
        // Not a URL key (no host part ends in it): only the key itself.
        return false;
    }
    if prefix.contains('?') {
        return rest.starts_with('&');
    }
    prefix.ends_with('/') || rest.starts_with(['/', '?'])
}

/// Longest DNS hostname, in bytes (RFC 1035, without the trailing dot).
pub const MAX_HOSTNAME_BYTES: usize = 253;
/// Longest DNS label, in bytes (RFC 1035).
pub const MAX_LABEL_BYTES: usize = 63;

/// Why a canonical host (as in [`Surt::host`]: lowercase ASCII, IDNA already
/// turned into punycode) is not a DNS hostname; `None` when it is one or is an
/// IP literal. Labels are 1–63 bytes of letters, digits, `-` and `_` (seen in
/// real subdomains), at most 253 bytes in all. The WHATWG parser accepts far
/// more (`org,example)` is a valid "host" to it), which is harmless for
/// crawled URLs but not for opt-out scopes and grants.
pub fn hostname_problem(host: &str) -> Option<String> {
    if is_ip_literal(host) {
        return None;
    }
    if host.is_empty() {
        return Some("the host is empty".into());
    }
    if host.len() > MAX_HOSTNAME_BYTES {
        return Some(format!(
            "the host is {} bytes, longer than {MAX_HOSTNAME_BYTES}",
            host.len()
        ));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Some("the host has an empty label".into());
        }
        if label.len() > MAX_LABEL_BYTES {
            return Some(format!(
                "a host label is {} bytes, longer than {MAX_LABEL_BYTES}",
                label.len()
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Some(format!(
                "{bad:?} is not allowed in a hostname (letters, digits, '-', '_' and '.' only)"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(u: &str) -> String {
        match surt(u) {
            Ok(s) => s.key,
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn brief_examples() {
        assert_eq!(
            k("http://www.Example.com:80/A/b?b=2&a=1#frag"),
            "com,example)/a/b?a=1&b=2"
        );
        assert_eq!(k("https://example.com"), "com,example)/");
        assert_eq!(k("http://example.com:8080/x"), "com,example:8080)/x");
    }

    #[test]
    fn host_rules() {
        assert_eq!(k("http://www2.example.com/"), "com,example)/");
        assert_eq!(k("http://www.sub.example.co.uk/"), "uk,co,example,sub)/");
        assert_eq!(k("http://wwwx.example.com/"), "com,example,wwwx)/");
        assert_eq!(k("http://example.com./"), "com,example)/");
        assert_eq!(k("http://EXAMPLE.COM/"), "com,example)/");
        assert_eq!(k("http://münchen.de/"), "de,xn--mnchen-3ya)/");
        assert_eq!(k("https://example.com:443/"), "com,example)/");
        assert_eq!(k("https://example.com:80/"), "com,example:80)/");
        assert_eq!(k("http://user:pw@example.com/"), "com,example)/");
        assert_eq!(k("http://192.168.1.20/x"), "192.168.1.20)/x");
        assert_eq!(k("http://[::1]:81/x"), "[::1]:81)/x");
        assert_eq!(k("http://www.com/"), "com)/");
    }

    #[test]
    fn path_and_query_rules() {
        assert_eq!(k("http://example.com/a/./b/../c"), "com,example)/a/c");
        assert_eq!(k("http://example.com//a//b/"), "com,example)/a/b");
        assert_eq!(k("http://example.com/docs/"), "com,example)/docs");
        assert_eq!(k("http://example.com/%7Efoo"), "com,example)/~foo");
        assert_eq!(k("http://example.com/caf%C3%A9"), "com,example)/caf%c3%a9");
        assert_eq!(k("http://example.com/café"), "com,example)/caf%c3%a9");
        assert_eq!(k("http://example.com/a b"), "com,example)/a%20b");
        assert_eq!(k("http://example.com/%2541"), "com,example)/a");
        assert_eq!(k("http://example.com/?"), "com,example)/");
        assert_eq!(
            k("http://example.com/x?b&a=2&a=1&a"),
            "com,example)/x?a&a=1&a=2&b"
        );
        assert_eq!(
            k("http://example.com/x?jsessionid=0123456789abcdef0123456789abcdef&q=1"),
            "com,example)/x?q=1"
        );
        assert_eq!(k("ftp://ftp.example.org/pub/"), "org,example,ftp)/pub");
    }

    #[test]
    fn scheme_less_and_errors() {
        assert_eq!(k("example.com/path"), "com,example)/path");
        assert_eq!(k("example.com:8080/x"), "com,example:8080)/x");
        assert_eq!(k("//example.com/x"), "com,example)/x");
        assert_eq!(surt("").unwrap_err(), UrlError::Empty);
        assert_eq!(
            surt("dns:example.com").unwrap_err().kind(),
            "unsupported_scheme"
        );
        assert_eq!(
            surt("whois://whois.example.com/x").unwrap_err().kind(),
            "unsupported_scheme"
        );
        assert_eq!(
            surt("mailto:a@b.c").unwrap_err().kind(),
            "unsupported_scheme"
        );
        assert_eq!(surt("http://").unwrap_err().kind(), "missing_host");
        assert_eq!(surt("http://exa mple.com/").unwrap_err().kind(), "parse");
        assert_eq!(
            surt("http://example.com:99999/").unwrap_err().kind(),
            "parse"
        );
        assert!(surt("http://[::1/").is_err());
    }

    #[test]
    fn registered_domains() {
        assert_eq!(
            registered_domain("www.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(
            registered_domain("a.b.Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(registered_domain("co.uk"), None);
        assert_eq!(registered_domain("10.1.2.3"), None);
        assert_eq!(registered_domain("[::1]"), None);
        let s = surt("http://www.blog.example.com/").unwrap();
        assert_eq!(s.host, "www.blog.example.com");
        assert_eq!(s.registered_domain.as_deref(), Some("example.com"));
        assert_eq!(surt("http://10.0.0.1/").unwrap().registered_domain, None);
    }

    #[test]
    fn scan_prefixes() {
        let p = |u, m| surt_scan_prefix(u, m).unwrap();
        assert_eq!(
            p("http://www.example.com/a?x=1", MatchMode::Exact),
            "com,example)/a?x=1"
        );
        assert_eq!(
            p("example.com/docs/", MatchMode::Prefix),
            "com,example)/docs"
        );
        assert_eq!(
            p("example.com/docs*", MatchMode::Prefix),
            "com,example)/docs"
        );
        assert_eq!(
            p("https://www.example.com/x/y", MatchMode::Host),
            "com,example)/"
        );
        assert_eq!(
            p("example.com:8080/x", MatchMode::Host),
            "com,example:8080)/"
        );
        assert_eq!(p("www.example.com", MatchMode::Domain), "com,example");
        assert_eq!(
            p("sub.example.com:81", MatchMode::Domain),
            "com,example,sub"
        );
        assert_eq!(
            surt_prefix("example.com", MatchMode::Host).unwrap(),
            "com,example)/"
        );

        let docs = p("example.com/docs", MatchMode::Prefix);
        for key in [
            "com,example)/docs",
            "com,example)/docs/a",
            "com,example)/docs2",
        ] {
            assert!(key_matches(key, &docs, MatchMode::Prefix), "{key}");
        }
        assert!(!key_matches("com,example)/doc", &docs, MatchMode::Prefix));

        let d = p("example.com", MatchMode::Domain);
        assert!(domain_key_matches("com,example)/", &d));
        assert!(domain_key_matches("com,example,sub)/x", &d));
        assert!(domain_key_matches("com,example:8080)/x", &d));
        assert!(!domain_key_matches("com,examples)/", &d));
        assert!(!domain_key_matches("com,example", &d));
        assert!(!domain_key_matches("org,example)/", &d));
    }

    #[test]
    fn url_prefix_containment_stops_at_segment_boundaries() {
        let gov = p_prefix("https://www.gov.uk/government/");
        assert_eq!(gov, "uk,gov)/government");
        assert_eq!(gov, p_prefix("https://www.gov.uk/government"));
        for (url, inside) in [
            ("https://www.gov.uk/government", true),
            ("https://www.gov.uk/government/", true),
            ("https://www.gov.uk/government/organisations/x", true),
            ("https://www.gov.uk/government?page=2", true),
            ("https://www.gov.uk/government/?page=2", true),
            ("HTTPS://WWW.GOV.UK/Government/X", true),
            ("https://www.gov.uk:443/government/x", true),
            ("https://www.gov.uk/a/../government/x", true),
            ("https://www.gov.uk/governmental-other/", false),
            ("https://www.gov.uk/governmentx", false),
            ("https://www.gov.uk/government-admin", false),
            ("https://www.gov.uk/government.json", false),
            ("https://www.gov.uk/government%2e%2e/x", false),
            ("https://www.gov.uk/government/%2e%2e/secret", false),
            ("https://www.gov.uk/government/%252e%252e/secret", false),
            ("https://www.gov.uk/government/../secret", false),
            ("https://www.gov.uk:8443/government/x", false),
            ("http://www.gov.uk:443/government/x", false),
            ("https://sub.gov.uk/government/x", false),
            ("https://www.gov.uk.evil.example/government/x", false),
            ("https://evil.example/government/x", false),
            ("https://www.gov.uk/", false),
        ] {
            let key = surt(url).unwrap().key;
            assert_eq!(url_prefix_covers(&gov, &key), inside, "{url} ({key})");
        }

        let root = p_prefix("https://example.org/");
        assert_eq!(root, "org,example)/");
        assert!(url_prefix_covers(&root, "org,example)/"));
        assert!(url_prefix_covers(&root, "org,example)/a/b?c"));
        assert!(url_prefix_covers(&root, "org,example)/?q=1"));
        assert!(!url_prefix_covers(&root, "org,example,sub)/"));
        assert!(!url_prefix_covers(&root, "org,example:8080)/"));
        assert!(!url_prefix_covers(&root, "org,examples)/"));

        let port = p_prefix("http://example.org:8080/app/");
        assert_eq!(port, "org,example:8080)/app");
        assert!(url_prefix_covers(&port, "org,example:8080)/app/x"));
        assert!(!url_prefix_covers(&port, "org,example:80801)/app/x"));
        assert!(!url_prefix_covers(&port, "org,example)/app/x"));

        let query = p_prefix("https://example.org/search?a=1");
        assert!(url_prefix_covers(&query, "org,example)/search?a=1"));
        assert!(url_prefix_covers(&query, "org,example)/search?a=1&b=2"));
        assert!(!url_prefix_covers(&query, "org,example)/search?a=10"));

        // Not a URL key, or empty: only itself.
        assert!(!url_prefix_covers("org,example", "org,example,evil)/"));
        assert!(url_prefix_covers("org,example", "org,example"));
        assert!(!url_prefix_covers("org,example)/a", ""));
    }

    #[test]
    fn hostnames() {
        for ok in [
            "example.org",
            "xn--mnchen-3ya.de",
            "a-b_c.example",
            "10.0.0.1",
            "[::1]",
        ] {
            assert_eq!(hostname_problem(ok), None, "{ok}");
        }
        let long_label = format!("{}.org", "a".repeat(64));
        let long_host = format!("{}org", "abcdefghi.".repeat(26));
        for bad in [
            "org,example)",
            "a b.org",
            "a\tb.org",
            "",
            "a..b",
            &long_label,
            &long_host,
        ] {
            assert!(hostname_problem(bad).is_some(), "{bad:?}");
        }
        // The WHATWG parser takes a SURT key as a host; the hostname rules do not.
        let s = surt("org,example)/").unwrap();
        assert!(hostname_problem(&s.host).is_some(), "{}", s.host);
    }

    fn p_prefix(url: &str) -> String {
        surt_scan_prefix(url, MatchMode::Prefix).unwrap()
    }

    #[test]
    fn a_nul_byte_in_a_url_is_escaped_or_refused() {
        // Raw and percent-encoded (once or twice): one key, NUL escaped.
        for url in [
            "http://example.com/a\0b?q=\0x",
            "http://example.com/a%00b?q=%00x",
            "http://example.com/a%2500b?q=%2500x",
        ] {
            assert_eq!(k(url), "com,example)/a%00b?q=%00x", "{url:?}");
        }
        // A raw one at either end is trimmed, as the URL parser trims C0
        // controls; an escaped one stays.
        assert_eq!(k("http://example.com/a?q=\0"), "com,example)/a?q=");
        assert_eq!(k("http://example.com/a?q=%00"), "com,example)/a?q=%00");
        // In the host it is no URL.
        for url in ["http://exa\0mple.com/", "http://exa%00mple.com/"] {
            assert!(surt(url).is_err(), "{url:?}");
        }
    }

    proptest::proptest! {
        /// No SURT key holds a NUL byte, whatever the URL holds: the
        /// `urls` key and the build's sorted runs end a SURT with one
        /// (`provindex_index::keys::SURT_TERMINATOR`).
        #[test]
        fn surt_keys_never_hold_a_nul_byte(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-z./?=&]{1,3}",
                    proptest::strategy::Just("\0".to_string()),
                    proptest::strategy::Just("%00".to_string()),
                    proptest::strategy::Just("%2500".to_string()),
                    proptest::strategy::Just("%".to_string()),
                ],
                0..12,
            ),
            host_nul in proptest::bool::ANY,
        ) {
            let host = if host_nul { "exa\0mple.com" } else { "example.com" };
            let url = format!("http://{host}/{}", parts.concat());
            if let Ok(s) = surt(&url) {
                proptest::prop_assert!(!s.key.contains('\0'), "{url:?} -> {:?}", s.key);
            }
        }
    }
}
