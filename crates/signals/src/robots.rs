//! robots.txt-style files (robots.txt, Spawning ai.txt): parsing into groups
//! and RFC 9309 matching.
//!
//! * A group is one or more `User-agent` lines followed by rules; a
//!   `User-agent` line after a rule starts a new group. Several groups naming
//!   the same agent are combined (RFC 9309 §2.2.1). Agent names compare
//!   case-insensitively; a `/version` suffix on the line is ignored.
//! * Rules: `Allow` / `Disallow` with `*` (any run of chars) and a trailing
//!   `$` (end of path). The longest matching pattern (in octets, after
//!   normalization) wins; on a tie `Allow` wins; an empty `Disallow:` matches
//!   nothing. Patterns and paths are compared after percent-encoding
//!   normalization (unreserved chars decoded, other escapes uppercased,
//!   non-ASCII encoded as UTF-8 escapes).
//! * Lines: `#` starts a comment; keys are case-insensitive; the common
//!   misspellings `useragent`, `user agent`, `dissallow`, `disalow` are accepted.
//! * `Content-Usage` (IETF aipref) and `Content-Signal` (Cloudflare) lines are
//!   kept per group with an optional leading path pattern.
//! * Only the first 512 KiB are parsed (RFC 9309 asks for at least 500 KiB).

pub(crate) const MAX_ROBOTS_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub allow: bool,
    /// Normalized pattern.
    pub pattern: String,
    /// The line as written (trimmed).
    pub line: String,
}

/// A `Content-Usage` / `Content-Signal` line.
#[derive(Debug, Clone)]
pub(crate) struct PrefLine {
    /// Normalized path pattern, `None` = whole site.
    pub path: Option<String>,
    /// The preference list after the optional path.
    pub prefs: String,
    pub line: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    /// Lowercased product tokens.
    pub agents: Vec<String>,
    /// The `User-agent` lines as written.
    pub agent_lines: Vec<String>,
    pub rules: Vec<Rule>,
    pub content_usage: Vec<PrefLine>,
    pub content_signal: Vec<PrefLine>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RobotsFile {
    pub groups: Vec<Group>,
    /// Preference lines before any `User-agent` line (apply to everyone).
    pub global: Group,
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encoding normalization used on both patterns and paths.
pub(crate) fn normalize_for_match(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            let v = h * 16 + l;
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(v as char);
            } else {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(v >> 4)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(v & 15)]));
            }
            i += 3;
            continue;
        }
        if !(0x20..0x80).contains(&c) || c == b' ' {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(c >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(c & 15)]));
        } else {
            out.push(c as char);
        }
        i += 1;
    }
    out
}

/// Whether normalized `pattern` (with `*` and a trailing `$`) matches the
/// start of normalized `path` (or all of it with `$`). Linear-ish glob
/// matching with single-star backtracking: no exponential blow-up.
pub(crate) fn pattern_matches(pattern: &str, path: &str) -> bool {
    let (pat, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p.as_bytes(), true),
        None => (pattern.as_bytes(), false),
    };
    let s = path.as_bytes();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi == pat.len() {
            if !anchored || si == s.len() {
                return true;
            }
        } else if pat[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
            continue;
        } else if si < s.len() && pat[pi] == s[si] {
            pi += 1;
            si += 1;
            continue;
        }
        // mismatch (or anchored end not reached): backtrack to the last star
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp + 1;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

fn split_line(line: &str) -> Option<(String, &str)> {
    let line = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    };
    let (k, v) = line.split_once(':')?;
    let key = k.trim().to_ascii_lowercase();
    Some((key, v.trim()))
}

fn pref_line(value: &str, line: &str) -> PrefLine {
    let (path, prefs) = if value.starts_with('/') || value.starts_with('*') {
        match value.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((p, rest)) => (Some(normalize_for_match(p)), rest.trim()),
            None => (Some(normalize_for_match(value)), ""),
        }
    } else {
        (None, value)
    };
    PrefLine {
        path,
        prefs: prefs.to_string(),
        line: line.trim().to_string(),
    }
}

/// Parses a robots.txt / ai.txt file. Never fails: unknown lines are ignored.
pub(crate) fn parse(text: &str) -> RobotsFile {
    let mut end = text.len().min(MAX_ROBOTS_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = text[..end].trim_start_matches('\u{feff}');
    let mut file = RobotsFile::default();
    let mut current: Option<Group> = None;
    let mut in_rules = false;
    for raw in text.lines() {
        let Some((key, value)) = split_line(raw) else {
            continue;
        };
        match key.as_str() {
            "user-agent" | "useragent" | "user agent" => {
                if in_rules || current.is_none() {
                    if let Some(g) = current.take() {
                        file.groups.push(g);
                    }
                    current = Some(Group::default());
                    in_rules = false;
                }
                if let Some(g) = current.as_mut() {
                    let token = value
                        .split('/')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    g.agents.push(token);
                    g.agent_lines.push(raw.trim().to_string());
                }
            }
            "allow" | "disallow" | "dissallow" | "disalow" | "dissalow" => {
                in_rules = true;
                if let Some(g) = current.as_mut()
                    && !value.is_empty()
                {
                    g.rules.push(Rule {
                        allow: key == "allow",
                        pattern: normalize_for_match(value),
                        line: raw.trim().to_string(),
                    });
                }
            }
            "content-usage" | "content-signal" => {
                let p = pref_line(value, raw);
                let g = match current.as_mut() {
                    Some(g) => {
                        in_rules = true;
                        g
                    }
                    None => &mut file.global,
                };
                if key == "content-usage" {
                    g.content_usage.push(p);
                } else {
                    g.content_signal.push(p);
                }
            }
            _ => {
                // crawl-delay, sitemap, ... : other records end the agent list
                if current.is_some() && key != "sitemap" {
                    in_rules = true;
                }
            }
        }
    }
    if let Some(g) = current.take() {
        file.groups.push(g);
    }
    file
}

/// The decisive rule for `path` among `rules` (longest match, allow on tie).
pub(crate) fn decide<'a>(rules: impl Iterator<Item = &'a Rule>, path: &str) -> Option<&'a Rule> {
    let mut best: Option<&Rule> = None;
    for r in rules {
        if !pattern_matches(&r.pattern, path) {
            continue;
        }
        best = match best {
            None => Some(r),
            Some(b) => {
                let (lr, lb) = (r.pattern.len(), b.pattern.len());
                if lr > lb || (lr == lb && r.allow && !b.allow) {
                    Some(r)
                } else {
                    Some(b)
                }
            }
        };
    }
    best
}

/// Groups naming `token` explicitly (case-insensitive).
pub(crate) fn groups_for<'a>(file: &'a RobotsFile, token: &str) -> Vec<&'a Group> {
    let t = token.to_ascii_lowercase();
    file.groups
        .iter()
        .filter(|g| g.agents.contains(&t))
        .collect()
}

/// The path (plus query) to match: a full URL is reduced to its path.
pub(crate) fn match_path(path_or_url: &str) -> String {
    let p = path_or_url.trim();
    let lower = p.get(..8).unwrap_or(p).to_ascii_lowercase();
    let p = if lower.starts_with("http://") || lower.starts_with("https://") {
        match url::Url::parse(p) {
            Ok(u) => match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            },
            Err(_) => p.to_string(),
        }
    } else if p.is_empty() {
        "/".to_string()
    } else {
        p.to_string()
    };
    normalize_for_match(&p)
}

/// The applicable preference line: longest matching path; a line without a
/// path matches everything with length 0.
pub(crate) fn best_pref<'a>(lines: &'a [PrefLine], path: &str) -> Option<&'a PrefLine> {
    let mut best: Option<(&PrefLine, usize)> = None;
    for l in lines {
        let len = match &l.path {
            None => 0,
            Some(p) if pattern_matches(p, path) => p.len(),
            Some(_) => continue,
        };
        if best.is_none_or(|(_, b)| len >= b) {
            best = Some((l, len));
        }
    }
    best.map(|(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9309_matching() {
        let m =
            |p: &str, s: &str| pattern_matches(&normalize_for_match(p), &normalize_for_match(s));
        assert!(m("/", "/anything"));
        assert!(m("/fish", "/fish.html"));
        assert!(m("/fish", "/fishheads/yummy.html"));
        assert!(!m("/fish", "/Fish.asp"));
        assert!(m("/fish*", "/fish?id=1"));
        assert!(m("/*.php", "/folder/filename.php?parameters"));
        assert!(m("/*.php$", "/filename.php"));
        assert!(!m("/*.php$", "/filename.php?parameters"));
        assert!(!m("/*.php$", "/filename.php5"));
        assert!(m("/fish*.php", "/fishheads/catfish.php?parameters"));
        assert!(m("*.jpg", "/a/b.jpg"));
        assert!(m("/%7Ejoe", "/~joe/x"));
        assert!(m("/a%3cd", "/a%3Cd"));
        assert!(m("/ä", "/%C3%A4"));
        // pathological pattern stays fast
        let pat = "/*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!m(pat, &format!("/{}", "a".repeat(5000))));
    }

    #[test]
    fn groups_and_precedence() {
        let f = parse(
            "User-agent: a\nUser-agent: b\nDisallow: /x\nAllow: /x/y\n\nuser-agent: a\ndisallow: /z\n# c\nUser-agent: *\nDisallow:\n",
        );
        assert_eq!(f.groups.len(), 3);
        let ga = groups_for(&f, "A");
        assert_eq!(ga.len(), 2);
        let rules = || ga.iter().flat_map(|g| g.rules.iter());
        assert!(!decide(rules(), "/x/a").unwrap().allow);
        assert!(decide(rules(), "/x/y").unwrap().allow);
        assert!(!decide(rules(), "/z").unwrap().allow);
        assert!(decide(rules(), "/q").is_none());
        let star = groups_for(&f, "*");
        assert!(star[0].rules.is_empty());
        // tie: allow wins
        let f = parse("User-agent: x\nDisallow: /p\nAllow: /p\n");
        assert!(decide(f.groups[0].rules.iter(), "/p").unwrap().allow);
    }
}
