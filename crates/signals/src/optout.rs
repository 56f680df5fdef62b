//! Opt-out / rights-reservation signals seen at capture time.
//!
//! Every extractor returns [`Signal`]s carrying the kind, the normalized
//! value, the stance it expresses, the user-agent scope, the exact evidence
//! (header line, tag, rule lines) and the source. Capture time is the
//! caller's: stamp it with [`stamp`].
//!
//! | source | function | signals |
//! |---|---|---|
//! | HTTP headers | [`header_signals`] | `tdm-reservation`, `tdm-policy`, `X-Robots-Tag` (`noai`, `noimageai`, agent-scoped `GPTBot: noai`), `Content-Usage`, `Content-Signal` |
//! | HTML | [`html_signals`] | `<meta name="tdm-reservation">`, `<meta name="tdm-policy">`, `<meta name="robots"\|"<bot>" content="noai, noimageai">`, `<meta http-equiv="X-Robots-Tag">` |
//! | robots.txt | [`robots_reservations`] | `Disallow` covering the path in a group naming an AI crawler token ([`AI_CRAWLER_TOKENS`]), `Content-Usage` and `Content-Signal` lines |
//! | `/.well-known/tdmrep.json` | [`tdmrep_json_signals`] | the first rule whose `location` matches the path |
//! | ai.txt (Spawning) | [`ai_txt_reservations`] | `Disallow` covering the path |
//!
//! # Stances
//!
//! * `Reserved`: an explicit reservation of AI training / TDM use:
//!   `tdm-reservation: 1`; `noai` / `noimageai` (image-AI reservations count:
//!   the verdict is conservative); `Content-Usage` `train-ai=n`,
//!   `train-genai=n`, `bots=n` (and the older `ai`, `genai`, `tdm` keys);
//!   `Content-Signal` `ai-train=no`; a robots.txt `Disallow` covering the path
//!   in a group that names an AI crawler token; an ai.txt `Disallow` covering
//!   the path.
//! * `NotReserved`: an explicit statement that TDM/training is allowed:
//!   `tdm-reservation: 0`, `Content-Usage` `train-ai=y` (etc.),
//!   `Content-Signal` `ai-train=yes`.
//! * `Info`: recorded but not a training preference: `tdm-policy`,
//!   `search=…`, `ai-input=…`, a `User-agent: *` disallow in robots.txt (a
//!   crawl restriction, not an AI-specific reservation).
//! * `Malformed`: a value that violates the syntax (`tdm-reservation: yes`,
//!   `train-ai=maybe`, unparseable tdmrep.json). Never a reservation.
//!
//! # TDMRep precedence
//!
//! The TDMRep Final Community Group Report (2024), §"Processing priority":
//! the agent checks `tdmrep.json` first; values from the HTTP header
//! *supersede* it; values from HTML `<meta>` *supersede previous values*.
//! So the effective TDMRep value is **HTML meta > HTTP header > tdmrep.json**
//! (the HTML meta is the most specific statement). Note this differs from
//! the "header beats meta" reading; we follow the report's text. Malformed
//! values are "unset" per the report and do not supersede anything.
//!
//! # Verdict ([`combine`])
//!
//! 1. TDMRep signals are resolved first: only the effective (highest
//!    precedence, valid) `tdm-reservation` takes part; the others are
//!    superseded. Within one source, a reservation beats a non-reservation.
//! 2. Any remaining `Reserved` signal → [`Verdict::Reserved`] (deciding
//!    signal: the effective TDMRep one if it reserves, else the first
//!    reserved signal in input order). Agent-scoped reservations
//!    (`GPTBot: noai`, a GPTBot robots group) count: the verdict is
//!    agent-agnostic; the deciding signal says for whom.
//! 3. Else any `NotReserved` (effective `tdm-reservation: 0`, `train-ai=y`,
//!    `ai-train=yes`) → [`Verdict::NotReserved`].
//! 4. Else [`Verdict::Unknown`] (no signal, only `Info`/`Malformed`).

use serde::{Deserialize, Serialize};

use crate::html::{self, PageScan};
use crate::robots;

/// Where a signal was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    HttpHeader,
    HtmlMeta,
    RobotsTxt,
    TdmrepJson,
    AiTxt,
}

impl SignalSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalSource::HttpHeader => "http_header",
            SignalSource::HtmlMeta => "html_meta",
            SignalSource::RobotsTxt => "robots_txt",
            SignalSource::TdmrepJson => "tdmrep_json",
            SignalSource::AiTxt => "ai_txt",
        }
    }
}

/// What kind of signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// W3C TDMRep `tdm-reservation`.
    TdmReservation,
    /// W3C TDMRep `tdm-policy`.
    TdmPolicy,
    /// `noai` robots directive (X-Robots-Tag / meta robots).
    NoAi,
    /// `noimageai` robots directive.
    NoImageAi,
    /// IETF aipref `Content-Usage` (one signal per category).
    ContentUsage,
    /// Cloudflare `Content-Signal` (one signal per key).
    ContentSignal,
    /// robots.txt `Disallow` for an AI crawler token (or `*`, as `Info`).
    RobotsDisallow,
    /// Spawning ai.txt `Disallow`.
    AiTxtDisallow,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::TdmReservation => "tdm_reservation",
            SignalKind::TdmPolicy => "tdm_policy",
            SignalKind::NoAi => "noai",
            SignalKind::NoImageAi => "noimageai",
            SignalKind::ContentUsage => "content_usage",
            SignalKind::ContentSignal => "content_signal",
            SignalKind::RobotsDisallow => "robots_disallow",
            SignalKind::AiTxtDisallow => "ai_txt_disallow",
        }
    }
}

/// What the signal says about AI training / TDM use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    Reserved,
    NotReserved,
    Info,
    Malformed,
}

/// One opt-out / reservation signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub kind: SignalKind,
    pub source: SignalSource,
    pub stance: Stance,
    /// Normalized value: `1`, `0`, `yes` (malformed), a policy URL, `noai`,
    /// `train-ai=n`, `ai-train=no`, the matched rule pattern.
    pub value: String,
    /// User-agent scope (`GPTBot`), `None` = every agent.
    pub agent: Option<String>,
    /// Exact evidence: `Name: value` header line, the tag, or the rule lines.
    pub evidence: String,
    /// Capture time (seconds since the Unix epoch), set by the caller.
    pub captured_at: Option<i64>,
}

impl Signal {
    fn new(
        kind: SignalKind,
        source: SignalSource,
        stance: Stance,
        value: &str,
        evidence: &str,
    ) -> Signal {
        Signal {
            kind,
            source,
            stance,
            value: value.to_string(),
            agent: None,
            evidence: html::cap(evidence.trim().to_string(), 1000),
            captured_at: None,
        }
    }

    fn scoped(mut self, agent: Option<&str>) -> Signal {
        self.agent = agent.map(str::to_string);
        self
    }
}

/// Sets the capture time on every signal.
pub fn stamp(signals: &mut [Signal], captured_at: i64) {
    for s in signals {
        s.captured_at = Some(captured_at);
    }
}

/// Per-capture verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Reserved,
    NotReserved,
    Unknown,
}

/// AI crawler product tokens checked in robots.txt (case-insensitive).
pub const AI_CRAWLER_TOKENS: &[&str] = &[
    "GPTBot",
    "ChatGPT-User",
    "OAI-SearchBot",
    "CCBot",
    "Google-Extended",
    "GoogleOther",
    "ClaudeBot",
    "Claude-Web",
    "Claude-User",
    "Claude-SearchBot",
    "anthropic-ai",
    "Applebot-Extended",
    "Meta-ExternalAgent",
    "Meta-ExternalFetcher",
    "FacebookBot",
    "Bytespider",
    "cohere-ai",
    "cohere-training-data-crawler",
    "PerplexityBot",
    "Perplexity-User",
    "Amazonbot",
    "omgili",
    "omgilibot",
    "Diffbot",
    "ImagesiftBot",
    "YouBot",
    "AI2Bot",
    "Ai2Bot-Dolma",
    "Timpibot",
    "Webzio-Extended",
    "img2dataset",
    "DuckAssistBot",
    "PetalBot",
    "Kangaroo Bot",
    "MistralAI-User",
    "Scrapy",
];

// ---------------------------------------------------------------- TDMRep

fn tdm_reservation(value: &str, source: SignalSource, evidence: &str) -> Signal {
    let v = value.trim();
    let stance = match v {
        "1" => Stance::Reserved,
        "0" => Stance::NotReserved,
        _ => Stance::Malformed,
    };
    Signal::new(SignalKind::TdmReservation, source, stance, v, evidence)
}

fn tdm_policy(value: &str, source: SignalSource, evidence: &str) -> Signal {
    let v = value.trim();
    let stance = match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Stance::Info,
        _ => Stance::Malformed,
    };
    Signal::new(SignalKind::TdmPolicy, source, stance, v, evidence)
}

/// Signals from `/.well-known/tdmrep.json` for the resource at `path` (a
/// path or a full URL). The file is a JSON array of rules `{"location",
/// "tdm-reservation", "tdm-policy"}`; `location` is a robots.txt-style
/// pattern (`*`, trailing `$`, prefix match, case-sensitive); **the first
/// matching rule in array order applies** ("the most specific match is the
/// first in sequence"); no match → no signal (unset). `tdm-reservation` must
/// be the integer 1 or 0 (the strings "1"/"0" are accepted leniently);
/// anything else is `Malformed`. An unparseable file or a non-array yields
/// one `Malformed` signal. `tdm-policy` is reported (as `Info`) only with a
/// reservation of 1, as the report says to ignore it otherwise.
pub fn tdmrep_json_signals(json: &str, path: &str) -> Vec<Signal> {
    let src = SignalSource::TdmrepJson;
    let malformed = |why: &str| {
        vec![Signal::new(
            SignalKind::TdmReservation,
            src,
            Stance::Malformed,
            why,
            &html::cap(json.trim().to_string(), 300),
        )]
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json.trim_start_matches('\u{feff}'))
    else {
        return malformed("invalid json");
    };
    let Some(rules) = v.as_array() else {
        return malformed("not a json array");
    };
    let target = robots::match_path(path);
    for rule in rules {
        let Some(obj) = rule.as_object() else {
            continue;
        };
        let Some(loc) = obj.get("location").and_then(|l| l.as_str()) else {
            continue;
        };
        let pattern = robots::normalize_for_match(loc.trim());
        if pattern.is_empty() || !robots::pattern_matches(&pattern, &target) {
            continue;
        }
        let evidence = serde_json::to_string(rule).unwrap_or_default();
        let raw = obj.get("tdm-reservation");
        let value = match raw {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "missing".to_string(),
        };
        let mut res = tdm_reservation(&value, src, &evidence);
        if matches!(raw, Some(serde_json::Value::Number(n)) if n.as_u64().is_none()) {
            res.stance = Stance::Malformed;
        }
        let reserved = res.stance == Stance::Reserved;
        let mut out = vec![res];
        if reserved && let Some(p) = obj.get("tdm-policy").and_then(|p| p.as_str()) {
            out.push(tdm_policy(p, src, &evidence));
        }
        return out;
    }
    Vec::new()
}

// --------------------------------------------------------- robots directives

/// Robots directives that may appear in X-Robots-Tag / meta robots values
/// (used to tell `GPTBot: noai` from `max-snippet: 20`).
const KNOWN_DIRECTIVES: &[&str] = &[
    "all",
    "none",
    "index",
    "noindex",
    "follow",
    "nofollow",
    "noarchive",
    "nosnippet",
    "noimageindex",
    "notranslate",
    "nocache",
    "noodp",
    "noydir",
    "indexifembedded",
    "max-snippet",
    "max-image-preview",
    "max-video-preview",
    "unavailable_after",
    "noai",
    "noimageai",
];

/// Parses a robots directive list (`noai, noimageai`, `GPTBot: noai`,
/// `googlebot: noindex, otherbot: noai`) into `(agent, directive)` pairs
/// (directives lowercased).
fn robots_directives(value: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut agent: Option<String> = None;
    for part in value.split(',') {
        let mut part = part.trim();
        if let Some((left, right)) = part.split_once(':') {
            let l = left.trim();
            let ll = l.to_ascii_lowercase();
            if !l.is_empty()
                && !l.contains(char::is_whitespace)
                && !KNOWN_DIRECTIVES.contains(&ll.as_str())
            {
                agent = Some(l.to_string());
                part = right.trim();
            }
        }
        for d in part.split_ascii_whitespace() {
            out.push((agent.clone(), d.to_ascii_lowercase()));
        }
    }
    out
}

/// Whether every directive [`robots_directives`] reads in `value` is one of
/// [`KNOWN_DIRECTIVES`] for every agent, without collecting them (asked of
/// most `<meta name>` contents: descriptions, keywords, ...; the first word
/// most often tells).
fn only_known_directives(value: &str) -> bool {
    // (`KNOWN_DIRECTIVES` are lowercase ASCII: a test checks.)
    let known = |w: &str| KNOWN_DIRECTIVES.iter().any(|k| k.eq_ignore_ascii_case(w));
    let mut agent = false;
    for part in value.split(',') {
        let mut part = part.trim();
        if let Some((left, right)) = part.split_once(':') {
            let l = left.trim();
            if !l.is_empty() && !l.contains(char::is_whitespace) && !known(l) {
                agent = true;
                part = right.trim();
            }
        }
        if part.split_ascii_whitespace().any(|d| agent || !known(d)) {
            return false;
        }
    }
    true
}

fn noai_signals(
    value: &str,
    source: SignalSource,
    evidence: &str,
    scope: Option<&str>,
) -> Vec<Signal> {
    let mut out = Vec::new();
    for (agent, d) in robots_directives(value) {
        let kind = match d.as_str() {
            "noai" => SignalKind::NoAi,
            "noimageai" => SignalKind::NoImageAi,
            _ => continue,
        };
        let agent = agent.as_deref().or(scope);
        out.push(Signal::new(kind, source, Stance::Reserved, &d, evidence).scoped(agent));
    }
    out
}

// ------------------------------------------------------ aipref / Content-Signal

const TRAINING_USAGE_KEYS: &[&str] = &[
    "train-ai",
    "train-genai",
    "bots",
    "ai",
    "genai",
    "tdm",
    "ai-use",
];

/// `Content-Usage` (IETF aipref, a Structured Fields dictionary of `key=y|n`).
fn content_usage_signals(
    prefs: &str,
    source: SignalSource,
    evidence: &str,
    agent: Option<&str>,
) -> Vec<Signal> {
    let mut out = Vec::new();
    for item in prefs.split(',') {
        let item = item.split(';').next().unwrap_or("").trim();
        if item.is_empty() {
            continue;
        }
        // Structured Fields keys are lowercase (RFC 9651 §3.2): `Train-AI` is malformed.
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), Some(v.trim().trim_matches('"'))),
            None => (item.to_string(), None),
        };
        let training = TRAINING_USAGE_KEYS.contains(&key.as_str());
        let valid_key = !key.is_empty()
            && key.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'-' | b'_' | b'.' | b'*')
            });
        let stance = match (valid_key, value) {
            (true, Some("n")) if training => Stance::Reserved,
            (true, Some("y")) if training => Stance::NotReserved,
            (true, Some("n" | "y")) => Stance::Info,
            _ => Stance::Malformed,
        };
        let v = match value {
            Some(v) => format!("{key}={v}"),
            None => key.clone(),
        };
        out.push(Signal::new(SignalKind::ContentUsage, source, stance, &v, evidence).scoped(agent));
    }
    if out.is_empty() {
        out.push(
            Signal::new(
                SignalKind::ContentUsage,
                source,
                Stance::Malformed,
                prefs.trim(),
                evidence,
            )
            .scoped(agent),
        );
    }
    out
}

/// Cloudflare `Content-Signal: search=yes, ai-input=yes, ai-train=no`.
fn content_signal_signals(
    prefs: &str,
    source: SignalSource,
    evidence: &str,
    agent: Option<&str>,
) -> Vec<Signal> {
    let mut out = Vec::new();
    for item in prefs.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (
                k.trim().to_ascii_lowercase(),
                Some(v.trim().to_ascii_lowercase()),
            ),
            None => (item.to_ascii_lowercase(), None),
        };
        let stance = match (key.as_str(), value.as_deref()) {
            ("ai-train", Some("no")) => Stance::Reserved,
            ("ai-train", Some("yes")) => Stance::NotReserved,
            (_, Some("yes" | "no")) if !key.is_empty() => Stance::Info,
            _ => Stance::Malformed,
        };
        let v = match &value {
            Some(v) => format!("{key}={v}"),
            None => key.clone(),
        };
        out.push(
            Signal::new(SignalKind::ContentSignal, source, stance, &v, evidence).scoped(agent),
        );
    }
    if out.is_empty() {
        out.push(
            Signal::new(
                SignalKind::ContentSignal,
                source,
                Stance::Malformed,
                prefs.trim(),
                evidence,
            )
            .scoped(agent),
        );
    }
    out
}

// ------------------------------------------------------------- HTTP headers

/// Signals from HTTP response headers (names case-insensitive; every header
/// line gives its own signals, in order).
pub fn header_signals(headers: &[(String, String)]) -> Vec<Signal> {
    let src = SignalSource::HttpHeader;
    let mut out = Vec::new();
    for (name, value) in headers {
        let evidence = format!("{}: {}", name.trim(), value.trim());
        match name.trim().to_ascii_lowercase().as_str() {
            "tdm-reservation" => out.push(tdm_reservation(value, src, &evidence)),
            "tdm-policy" => out.push(tdm_policy(value, src, &evidence)),
            "x-robots-tag" => out.extend(noai_signals(value, src, &evidence, None)),
            "content-usage" => out.extend(content_usage_signals(value, src, &evidence, None)),
            "content-signal" => out.extend(content_signal_signals(value, src, &evidence, None)),
            _ => {}
        }
    }
    out
}

// --------------------------------------------------------------------- HTML

/// Meta names treated as crawler names for `noai` even though they are not
/// in [`AI_CRAWLER_TOKENS`].
const OTHER_BOT_NAMES: &[&str] = &[
    "robots",
    "googlebot",
    "bingbot",
    "googlebot-news",
    "slurp",
    "yandex",
    "baiduspider",
];

/// Signals from the HTML `<meta>` elements (see the module docs).
pub fn html_signals(html: &str) -> Vec<Signal> {
    if !html_may_have_signals(html) {
        return Vec::new();
    }
    // (No page URL: anchors, which only licenses use, are left out.)
    from_scan(&html::scan(html, false))
}

fn html_may_have_signals(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    ["tdm-", "noai", "noimageai", "x-robots-tag"]
        .iter()
        .any(|n| memchr::memmem::find(lower.as_bytes(), n.as_bytes()).is_some())
}

/// Whether a `<meta>` of another name than [`from_scan`]'s own is read as
/// robots directives: its name is a crawler's, or its content is only
/// known directives.
fn names_a_bot_or_directives(name: &str, content: &str) -> bool {
    let is_bot = OTHER_BOT_NAMES.contains(&name)
        || AI_CRAWLER_TOKENS
            .iter()
            .any(|t| t.eq_ignore_ascii_case(name));
    is_bot || (!content.trim().is_empty() && only_known_directives(content))
}

/// Whether [`from_scan`] or the license scan may read a `<meta>`'s tag
/// (the evidence of what they find), from its lowercased name and
/// http-equiv and its content: the page scan renders no other's (issue 17:
/// most `<meta>`s are read by neither).
pub(crate) fn meta_tag_may_be_read(name: &str, http_equiv: &str, content: &str) -> bool {
    matches!(http_equiv, "x-robots-tag" | "tdm-reservation")
        || matches!(name, "tdm-reservation" | "tdm-policy" | "robots")
        || (!name.is_empty() && names_a_bot_or_directives(name, content))
        || crate::license::meta_may_state_a_license(name, content)
}

pub(crate) fn from_scan(scan: &PageScan) -> Vec<Signal> {
    let src = SignalSource::HtmlMeta;
    let mut out = Vec::new();
    for m in &scan.metas {
        if m.http_equiv == "x-robots-tag" {
            out.extend(noai_signals(&m.content, src, &m.tag, None));
            continue;
        }
        if m.http_equiv == "tdm-reservation" {
            out.push(tdm_reservation(&m.content, src, &m.tag));
            continue;
        }
        match m.name.as_str() {
            "" => {}
            "tdm-reservation" => out.push(tdm_reservation(&m.content, src, &m.tag)),
            "tdm-policy" => out.push(tdm_policy(&m.content, src, &m.tag)),
            "robots" => out.extend(noai_signals(&m.content, src, &m.tag, None)),
            name => {
                if names_a_bot_or_directives(name, &m.content) {
                    let original = m
                        .tag
                        .split("name=\"")
                        .nth(1)
                        .and_then(|s| s.split('"').next())
                        .unwrap_or(name);
                    out.extend(noai_signals(&m.content, src, &m.tag, Some(original)));
                }
            }
        }
    }
    out
}

// ------------------------------------------------------------ robots.txt

fn group_evidence(g: &robots::Group, line: &str) -> String {
    let mut e = g.agent_lines.join("\n");
    e.push('\n');
    e.push_str(line);
    e
}

/// Signals from robots.txt for the resource at `path` (path + query, or a
/// full URL), following RFC 9309 (see [`crate::robots`] docs):
///
/// * For every token in [`AI_CRAWLER_TOKENS`] that robots.txt names
///   explicitly: its groups are combined and the longest matching rule
///   decides; a `Disallow` → `RobotsDisallow`, `Reserved`, agent = token.
///   Tokens only covered by `User-agent: *` are not reported per token.
/// * The `*` group's decisive `Disallow` → one `RobotsDisallow` with agent
///   `*` and stance `Info` (a crawl restriction, not an AI reservation).
/// * `Content-Usage` / `Content-Signal` lines (global or in any group; the
///   one with the longest matching path per group) → their signals, scoped
///   to the group's agents (`None` when the group includes `*`).
pub fn robots_reservations(robots_txt: &str, path: &str) -> Vec<Signal> {
    RobotsTxt::parse(robots_txt).robots_reservations(path)
}

/// A parsed robots.txt or ai.txt, to evaluate many paths against one file
/// without parsing it again: [`RobotsTxt::robots_reservations`] and
/// [`RobotsTxt::ai_txt_reservations`] give exactly what
/// [`robots_reservations`] and [`ai_txt_reservations`] give for its text.
#[derive(Debug, Clone)]
pub struct RobotsTxt(robots::RobotsFile);

impl RobotsTxt {
    pub fn parse(text: &str) -> RobotsTxt {
        RobotsTxt(robots::parse(text))
    }

    /// [`robots_reservations`] for this file.
    pub fn robots_reservations(&self, path: &str) -> Vec<Signal> {
        robots_file_reservations(&self.0, path)
    }

    /// [`ai_txt_reservations`] for this file.
    pub fn ai_txt_reservations(&self, path: &str) -> Vec<Signal> {
        ai_txt_file_reservations(&self.0, path)
    }
}

fn robots_file_reservations(file: &robots::RobotsFile, path: &str) -> Vec<Signal> {
    let src = SignalSource::RobotsTxt;
    let target = robots::match_path(path);
    let mut out = Vec::new();
    if target == "/robots.txt" {
        return out;
    }
    for token in AI_CRAWLER_TOKENS {
        let groups = robots::groups_for(file, token);
        if groups.is_empty() {
            continue;
        }
        let rules = groups.iter().flat_map(|g| g.rules.iter());
        if let Some(rule) = robots::decide(rules, &target)
            && !rule.allow
        {
            let g = groups
                .iter()
                .find(|g| g.rules.iter().any(|r| std::ptr::eq(r, rule)))
                .copied()
                .unwrap_or(groups[0]);
            out.push(
                Signal::new(
                    SignalKind::RobotsDisallow,
                    src,
                    Stance::Reserved,
                    &rule.pattern,
                    &group_evidence(g, &rule.line),
                )
                .scoped(Some(token)),
            );
        }
    }
    let star = robots::groups_for(file, "*");
    if let Some(rule) = robots::decide(star.iter().flat_map(|g| g.rules.iter()), &target)
        && !rule.allow
    {
        let g = star
            .iter()
            .find(|g| g.rules.iter().any(|r| std::ptr::eq(r, rule)))
            .copied()
            .unwrap_or(star[0]);
        out.push(
            Signal::new(
                SignalKind::RobotsDisallow,
                src,
                Stance::Info,
                &rule.pattern,
                &group_evidence(g, &rule.line),
            )
            .scoped(Some("*")),
        );
    }
    for g in std::iter::once(&file.global).chain(file.groups.iter()) {
        let agent = if g.agents.is_empty() || g.agents.iter().any(|a| a == "*") {
            None
        } else {
            Some(
                g.agent_lines
                    .iter()
                    .map(|l| l.split_once(':').map_or(l.as_str(), |(_, v)| v.trim()))
                    .collect::<Vec<_>>()
                    .join(","),
            )
        };
        if let Some(l) = robots::best_pref(&g.content_usage, &target) {
            out.extend(content_usage_signals(
                &l.prefs,
                src,
                &l.line,
                agent.as_deref(),
            ));
        }
        if let Some(l) = robots::best_pref(&g.content_signal, &target) {
            out.extend(content_signal_signals(
                &l.prefs,
                src,
                &l.line,
                agent.as_deref(),
            ));
        }
    }
    out
}

/// Signals from a Spawning `ai.txt` for the resource at `path`. Same syntax
/// and matching as robots.txt; the file is AI-specific, so the `*` group's
/// decisive `Disallow` is a reservation for every agent (agent `None`), and a
/// named group's is a reservation for that agent. Patterns such as `*.jpg`
/// match by extension.
pub fn ai_txt_reservations(ai_txt: &str, path: &str) -> Vec<Signal> {
    RobotsTxt::parse(ai_txt).ai_txt_reservations(path)
}

fn ai_txt_file_reservations(file: &robots::RobotsFile, path: &str) -> Vec<Signal> {
    let src = SignalSource::AiTxt;
    let target = robots::match_path(path);
    let mut out = Vec::new();
    let mut agents: Vec<&str> = Vec::new();
    for g in &file.groups {
        for a in &g.agents {
            if !agents.contains(&a.as_str()) {
                agents.push(a);
            }
        }
    }
    for agent in agents {
        let groups = robots::groups_for(file, agent);
        if let Some(rule) = robots::decide(groups.iter().flat_map(|g| g.rules.iter()), &target)
            && !rule.allow
        {
            let g = groups
                .iter()
                .find(|g| g.rules.iter().any(|r| std::ptr::eq(r, rule)))
                .copied()
                .unwrap_or(groups[0]);
            let scope = (agent != "*").then_some(agent);
            out.push(
                Signal::new(
                    SignalKind::AiTxtDisallow,
                    src,
                    Stance::Reserved,
                    &rule.pattern,
                    &group_evidence(g, &rule.line),
                )
                .scoped(scope),
            );
        }
    }
    out
}

// ------------------------------------------------------------------ verdict

fn tdm_precedence(s: SignalSource) -> u8 {
    match s {
        SignalSource::HtmlMeta => 3,
        SignalSource::HttpHeader => 2,
        SignalSource::TdmrepJson => 1,
        _ => 0,
    }
}

/// Index of the effective TDMRep `tdm-reservation` signal, if any.
pub fn effective_tdm(signals: &[Signal]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, s) in signals.iter().enumerate() {
        if s.kind != SignalKind::TdmReservation
            || !matches!(s.stance, Stance::Reserved | Stance::NotReserved)
        {
            continue;
        }
        best = match best {
            None => Some(i),
            Some(b) => {
                let (pb, pi) = (tdm_precedence(signals[b].source), tdm_precedence(s.source));
                if pi > pb
                    || (pi == pb
                        && s.stance == Stance::Reserved
                        && signals[b].stance != Stance::Reserved)
                {
                    Some(i)
                } else {
                    Some(b)
                }
            }
        };
    }
    best
}

/// Combines a capture's signals into a verdict and the index of the deciding
/// signal (rules in the module docs).
pub fn combine(signals: &[Signal]) -> (Verdict, Option<usize>) {
    let tdm = effective_tdm(signals);
    let live = |i: usize, s: &Signal| s.kind != SignalKind::TdmReservation || Some(i) == tdm;
    if let Some(t) = tdm
        && signals[t].stance == Stance::Reserved
    {
        return (Verdict::Reserved, Some(t));
    }
    if let Some(i) = signals
        .iter()
        .enumerate()
        .position(|(i, s)| live(i, s) && s.stance == Stance::Reserved)
    {
        return (Verdict::Reserved, Some(i));
    }
    if let Some(t) = tdm {
        return (Verdict::NotReserved, Some(t));
    }
    if let Some(i) = signals
        .iter()
        .enumerate()
        .position(|(i, s)| live(i, s) && s.stance == Stance::NotReserved)
    {
        return (Verdict::NotReserved, Some(i));
    }
    (Verdict::Unknown, None)
}

/// One pass over an HTML page for both the license and the HTML signals.
pub fn analyze_html(
    html: &str,
    page_url: Option<&str>,
) -> (crate::license::LicenseFinding, Vec<Signal>) {
    let base = crate::license::PageUrl::new(page_url);
    analyze_scan(&html::scan(html, base.may_be_cc()), &base)
}

fn analyze_scan(
    scan: &PageScan,
    base: &crate::license::PageUrl<'_>,
) -> (crate::license::LicenseFinding, Vec<Signal>) {
    (crate::license::from_scan(scan, base), from_scan(scan))
}

impl html::HtmlScanner {
    /// The end of the document: the page's license and HTML signals, as
    /// [`analyze_html`] gives them for the page URL given to
    /// [`new`](html::HtmlScanner::new).
    pub fn finish(self) -> (crate::license::LicenseFinding, Vec<Signal>) {
        let (scan, page_url) = self.end();
        analyze_scan(&scan, &crate::license::PageUrl::new(page_url.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    proptest::proptest! {
        /// A `<meta>` whose tag `meta_tag_may_be_read` says is not read
        /// (the page scan leaves it empty) changes neither the signals nor
        /// the license found.
        #[test]
        fn unread_meta_tags_change_nothing(
            metas in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "", "robots", "googlebot", "gptbot", "ccbot", "description", "viewport",
                        "dc.rights", "license", "copyright", "og:license", "tdm-reservation",
                        "tdm-policy", "keywords", "x", "rights",
                    ]),
                    proptest::sample::select(vec![
                        "", "x-robots-tag", "tdm-reservation", "content-type", "refresh",
                    ]),
                    proptest::sample::select(vec![
                        "", " ", "noai", "noindex, nofollow", "NoImageAI", "1", "0", "a b",
                        "https://creativecommons.org/licenses/by/4.0/", "CC BY-SA 4.0",
                        "All rights reserved", "width=device-width", "googlebot: noai",
                        "gptbot: noindex", "https://example.org/policy.json",
                    ]),
                ),
                0..6,
            ),
        ) {
            let full: Vec<html::MetaTag> = metas
                .iter()
                .enumerate()
                .map(|(i, (name, http_equiv, content))| html::MetaTag {
                    name: name.to_string(),
                    http_equiv: http_equiv.to_string(),
                    content: content.to_string(),
                    section: Some(html::Section::Head),
                    tag: format!("<meta name=\"{}\" content=\"{content}\" n=\"{i}\">", name.to_uppercase()),
                })
                .collect();
            let lazy: Vec<html::MetaTag> = full
                .iter()
                .cloned()
                .map(|mut m| {
                    if !meta_tag_may_be_read(&m.name, &m.http_equiv, &m.content) {
                        m.tag.clear();
                    }
                    m
                })
                .collect();
            let page = crate::license::PageUrl::new(None);
            let full = analyze_scan(&PageScan { metas: full, ..PageScan::default() }, &page);
            let lazy = analyze_scan(&PageScan { metas: lazy, ..PageScan::default() }, &page);
            proptest::prop_assert_eq!(full, lazy);
        }
    }

    proptest::proptest! {
        /// `only_known_directives` is the test on `robots_directives` it
        /// replaces.
        #[test]
        fn only_known_directives_equals_the_collected_test(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "noindex", "NoFollow", "ALL", "none", "googlebot", "GPTBot", "max-snippet",
                    "20", ":", ",", " ", "\t", "\u{a0}", "x", "é", "noai", "unavailable_after",
                    "index", "follow ", " :", ": ", "a b",
                ]),
                0..12,
            ),
        ) {
            let value: String = parts.concat();
            let old = robots_directives(&value)
                .iter()
                .all(|(a, d)| a.is_none() && KNOWN_DIRECTIVES.contains(&d.as_str()));
            proptest::prop_assert_eq!(only_known_directives(&value), old, "{:?}", value);
        }
    }

    #[test]
    fn known_directives_are_lowercase_ascii() {
        for d in KNOWN_DIRECTIVES {
            assert!(d.is_ascii() && d.to_ascii_lowercase() == *d, "{d}");
        }
    }

    #[test]
    fn directive_parsing() {
        assert_eq!(robots_directives("noai, noimageai").len(), 2);
        let d = robots_directives("GPTBot: noai");
        assert_eq!(d, vec![(Some("GPTBot".into()), "noai".into())]);
        let d = robots_directives("max-snippet: 20, noai");
        assert!(d.iter().all(|(a, _)| a.is_none()));
        let d = robots_directives("googlebot: noindex, CCBot: noai");
        assert_eq!(d[1], (Some("CCBot".into()), "noai".into()));
        let d = robots_directives("unavailable_after: 25 Jun 2010 15:00:00 PST");
        assert!(d.iter().all(|(a, _)| a.is_none()));
    }

    #[test]
    fn headers() {
        let s = header_signals(&h(&[
            ("TDM-Reservation", "1"),
            ("tdm-policy", "https://p.example/policy.json"),
        ]));
        assert_eq!(s[0].stance, Stance::Reserved);
        assert_eq!(s[0].evidence, "TDM-Reservation: 1");
        assert_eq!(s[1].stance, Stance::Info);
        let s = header_signals(&h(&[("tdm-reservation", "yes")]));
        assert_eq!(s[0].stance, Stance::Malformed);
        assert_eq!(combine(&s).0, Verdict::Unknown);
    }
}
