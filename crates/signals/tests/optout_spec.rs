//! Spec test vectors for every opt-out signal, precedence and malformed values.

use provindex_signals::*;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn stances(s: &[Signal]) -> Vec<(SignalKind, Stance, String, Option<String>)> {
    s.iter()
        .map(|x| (x.kind, x.stance, x.value.clone(), x.agent.clone()))
        .collect()
}

// ------------------------------------------------------------------ TDMRep

#[test]
fn tdmrep_http_headers() {
    // TDMRep report §"TDM Header Field in HTTP Responses" examples
    let s = header_signals(&h(&[
        ("Content-type", "text/html"),
        ("tdm-reservation", "1"),
        ("tdm-policy", "https://provider.com/policies/policy.json"),
    ]));
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].kind, SignalKind::TdmReservation);
    assert_eq!(s[0].stance, Stance::Reserved);
    assert_eq!(s[0].source, SignalSource::HttpHeader);
    assert_eq!(s[0].evidence, "tdm-reservation: 1");
    assert_eq!(s[1].kind, SignalKind::TdmPolicy);
    assert_eq!(s[1].value, "https://provider.com/policies/policy.json");
    assert_eq!(combine(&s), (Verdict::Reserved, Some(0)));

    let s = header_signals(&h(&[("TDM-Reservation", " 0 ")]));
    assert_eq!(s[0].stance, Stance::NotReserved);
    assert_eq!(combine(&s), (Verdict::NotReserved, Some(0)));
}

#[test]
fn tdmrep_malformed_values_are_not_reservations() {
    for bad in ["yes", "true", "2", "", "1.0", "01", "1, 1", "reserved"] {
        let s = header_signals(&h(&[("tdm-reservation", bad)]));
        assert_eq!(s[0].stance, Stance::Malformed, "{bad:?}");
        assert_eq!(combine(&s).0, Verdict::Unknown, "{bad:?}");
    }
    let s = header_signals(&h(&[("tdm-policy", "not a url")]));
    assert_eq!(s[0].stance, Stance::Malformed);
    let s = html_signals(r#"<meta name="tdm-reservation" content="yes">"#);
    assert_eq!(s[0].stance, Stance::Malformed);
}

#[test]
fn tdmrep_html_meta() {
    // TDMRep report §"TDM Metadata in HTML Content" example
    let html = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
        <meta name="tdm-reservation" content="1">
        <meta name="tdm-policy" content="https://provider.com/policies/policy.json">
        <title>Document title</title></head><body>...</body></html>"#;
    let s = html_signals(html);
    assert_eq!(
        stances(&s),
        vec![
            (
                SignalKind::TdmReservation,
                Stance::Reserved,
                "1".into(),
                None
            ),
            (
                SignalKind::TdmPolicy,
                Stance::Info,
                "https://provider.com/policies/policy.json".into(),
                None
            ),
        ]
    );
    assert_eq!(s[0].source, SignalSource::HtmlMeta);
    assert_eq!(
        s[0].evidence,
        r#"<meta name="tdm-reservation" content="1">"#
    );
}

#[test]
fn tdmrep_json_location_matching() {
    // TDMRep report §"TDM File on the Origin Server" example
    let json = r#"[
        {"location": "/directory-a/", "tdm-reservation": 1},
        {"location": "/directory-b/html/", "tdm-reservation": 1,
         "tdm-policy": "https://provider.com/policies/policy.json"},
        {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0}
    ]"#;
    let s = tdmrep_json_signals(json, "/directory-a/file.pdf");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].stance, Stance::Reserved);
    assert_eq!(s[0].source, SignalSource::TdmrepJson);
    let s = tdmrep_json_signals(json, "https://provider.com/directory-b/html/page.html");
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].kind, SignalKind::TdmPolicy);
    let s = tdmrep_json_signals(json, "/directory-b/images/cat.jpg");
    assert_eq!(s[0].stance, Stance::NotReserved);
    // no rule matches -> unset
    assert!(tdmrep_json_signals(json, "/directory-b/images/cat.png").is_empty());
    assert!(tdmrep_json_signals(json, "/other").is_empty());
    // case-sensitive
    assert!(tdmrep_json_signals(json, "/Directory-A/x").is_empty());
    // site-wide
    let s = tdmrep_json_signals(r#"[{"location": "/", "tdm-reservation": 1}]"#, "/any/thing");
    assert_eq!(s[0].stance, Stance::Reserved);
    // first matching rule in sequence wins, even if a later one is longer
    let json = r#"[{"location": "/a/", "tdm-reservation": 0}, {"location": "/a/b/", "tdm-reservation": 1}]"#;
    assert_eq!(
        tdmrep_json_signals(json, "/a/b/c")[0].stance,
        Stance::NotReserved
    );
    // `$` anchors
    let json = r#"[{"location": "/exact$", "tdm-reservation": 1}]"#;
    assert_eq!(tdmrep_json_signals(json, "/exact").len(), 1);
    assert!(tdmrep_json_signals(json, "/exactly").is_empty());
    // policy is ignored when reservation is 0
    let json = r#"[{"location": "/", "tdm-reservation": 0, "tdm-policy": "https://p/x"}]"#;
    assert_eq!(tdmrep_json_signals(json, "/").len(), 1);
}

#[test]
fn tdmrep_json_malformed() {
    for bad in ["", "{", r#"{"location": "/"}"#, "null", "not json"] {
        let s = tdmrep_json_signals(bad, "/");
        assert_eq!(s.len(), 1, "{bad:?}");
        assert_eq!(s[0].stance, Stance::Malformed, "{bad:?}");
    }
    for bad_value in [r#""yes""#, "2", "1.5", "true", "null", "-1"] {
        let json = format!(r#"[{{"location": "/", "tdm-reservation": {bad_value}}}]"#);
        let s = tdmrep_json_signals(&json, "/x");
        assert_eq!(s[0].stance, Stance::Malformed, "{bad_value}");
        assert_eq!(combine(&s).0, Verdict::Unknown);
    }
    // missing tdm-reservation in the matching rule
    let s = tdmrep_json_signals(r#"[{"location": "/"}]"#, "/x");
    assert_eq!(s[0].stance, Stance::Malformed);
    // lenient: the string "1"
    let s = tdmrep_json_signals(r#"[{"location": "/", "tdm-reservation": "1"}]"#, "/x");
    assert_eq!(s[0].stance, Stance::Reserved);
}

#[test]
fn tdmrep_precedence_meta_over_header_over_file() {
    let file = tdmrep_json_signals(r#"[{"location": "/", "tdm-reservation": 1}]"#, "/p");
    let header = header_signals(&h(&[("tdm-reservation", "0")]));
    let meta = html_signals(r#"<meta name="tdm-reservation" content="1">"#);

    // header supersedes the file
    let mut all = file.clone();
    all.extend(header.clone());
    assert_eq!(effective_tdm(&all), Some(1));
    assert_eq!(combine(&all), (Verdict::NotReserved, Some(1)));

    // meta supersedes header and file
    let mut all = file.clone();
    all.extend(header.clone());
    all.extend(meta.clone());
    assert_eq!(combine(&all), (Verdict::Reserved, Some(2)));

    // meta 0 beats header 1
    let all = vec![
        header_signals(&h(&[("tdm-reservation", "1")])).remove(0),
        html_signals(r#"<meta name="tdm-reservation" content="0">"#).remove(0),
    ];
    assert_eq!(combine(&all), (Verdict::NotReserved, Some(1)));

    // a malformed higher-precedence value does not supersede a valid one
    let all = vec![
        tdmrep_json_signals(r#"[{"location": "/", "tdm-reservation": 1}]"#, "/").remove(0),
        header_signals(&h(&[("tdm-reservation", "yes")])).remove(0),
    ];
    assert_eq!(combine(&all), (Verdict::Reserved, Some(0)));

    // a superseded TDM 0 does not hide another kind's reservation
    let mut all = header_signals(&h(&[("tdm-reservation", "0"), ("X-Robots-Tag", "noai")]));
    assert_eq!(combine(&all), (Verdict::Reserved, Some(1)));
    stamp(&mut all, 1_700_000_000);
    assert!(all.iter().all(|s| s.captured_at == Some(1_700_000_000)));
}

// ------------------------------------------------------------ noai / noimageai

#[test]
fn x_robots_tag_noai() {
    let s = header_signals(&h(&[("X-Robots-Tag", "noai, noimageai")]));
    assert_eq!(
        stances(&s),
        vec![
            (SignalKind::NoAi, Stance::Reserved, "noai".into(), None),
            (
                SignalKind::NoImageAi,
                Stance::Reserved,
                "noimageai".into(),
                None
            ),
        ]
    );
    assert_eq!(s[0].evidence, "X-Robots-Tag: noai, noimageai");
    let s = header_signals(&h(&[("x-robots-tag", "GPTBot: noai")]));
    assert_eq!(s[0].agent.as_deref(), Some("GPTBot"));
    let s = header_signals(&h(&[(
        "X-Robots-Tag",
        "googlebot: noindex, CCBot: noai, noimageai",
    )]));
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|x| x.agent.as_deref() == Some("CCBot")));
    // other directives are not signals
    assert!(
        header_signals(&h(&[(
            "X-Robots-Tag",
            "noindex, nofollow, max-snippet: 20"
        )]))
        .is_empty()
    );
    assert!(
        header_signals(&h(&[(
            "X-Robots-Tag",
            "unavailable_after: 25 Jun 2010 15:00:00 PST"
        )]))
        .is_empty()
    );
    // "noai" must be a whole directive
    assert!(header_signals(&h(&[("X-Robots-Tag", "noaiX, xnoai")])).is_empty());
}

#[test]
fn meta_robots_noai() {
    let s = html_signals(r#"<head><meta name="robots" content="noai, noimageai"></head>"#);
    assert_eq!(s.len(), 2);
    assert!(
        s.iter()
            .all(|x| x.agent.is_none() && x.source == SignalSource::HtmlMeta)
    );
    let s = html_signals(r#"<meta name="CCBot" content="noai">"#);
    assert_eq!(s[0].agent.as_deref(), Some("CCBot"));
    assert_eq!(s[0].evidence, r#"<meta name="CCBot" content="noai">"#);
    let s = html_signals(r#"<META NAME="GPTBot" CONTENT="NOAI">"#);
    assert_eq!(s[0].kind, SignalKind::NoAi);
    let s = html_signals(r#"<meta name="somebot" content="noimageai">"#);
    assert_eq!(s[0].agent.as_deref(), Some("somebot"));
    let s = html_signals(r#"<meta http-equiv="X-Robots-Tag" content="noai">"#);
    assert_eq!(s.len(), 1);
    // prose is not a directive
    assert!(html_signals(r#"<meta name="description" content="why noai matters">"#).is_empty());
    assert!(
        html_signals(
            r#"<p>we say noai here</p><script>var x="<meta name=robots content=noai>"</script>"#
        )
        .is_empty()
    );
    assert!(html_signals(r#"<meta name="robots" content="index, follow">"#).is_empty());
}

// ------------------------------------------------------- aipref / Content-Signal

#[test]
fn content_usage_header() {
    let s = header_signals(&h(&[("Content-Usage", "train-ai=n")]));
    assert_eq!(
        stances(&s),
        vec![(
            SignalKind::ContentUsage,
            Stance::Reserved,
            "train-ai=n".into(),
            None
        )]
    );
    assert_eq!(combine(&s).0, Verdict::Reserved);
    let s = header_signals(&h(&[("content-usage", "train-ai=y, search=n")]));
    assert_eq!(s[0].stance, Stance::NotReserved);
    assert_eq!(s[1].stance, Stance::Info);
    assert_eq!(combine(&s), (Verdict::NotReserved, Some(0)));
    let s = header_signals(&h(&[("Content-Usage", "train-genai=n;reason=x, bots=y")]));
    assert_eq!(s[0].stance, Stance::Reserved);
    for bad in ["train-ai=maybe", "train-ai", "Train-AI=n", "=n", ""] {
        let s = header_signals(&h(&[("Content-Usage", bad)]));
        assert!(
            s.iter().all(|x| x.stance == Stance::Malformed),
            "{bad:?}: {s:?}"
        );
    }
}

#[test]
fn content_signal_header_and_robots() {
    let s = header_signals(&h(&[("Content-Signal", "search=yes, ai-train=no")]));
    assert_eq!(
        stances(&s),
        vec![
            (
                SignalKind::ContentSignal,
                Stance::Info,
                "search=yes".into(),
                None
            ),
            (
                SignalKind::ContentSignal,
                Stance::Reserved,
                "ai-train=no".into(),
                None
            ),
        ]
    );
    let s = header_signals(&h(&[("Content-Signal", "ai-input=no")]));
    assert_eq!(s[0].stance, Stance::Info);
    let s = header_signals(&h(&[("Content-Signal", "ai-train=perhaps")]));
    assert_eq!(s[0].stance, Stance::Malformed);

    // Cloudflare managed robots.txt shape
    let robots = "# As a condition of accessing this website, you agree to abide by the following content signals\n\
        User-Agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n\n\
        User-agent: GPTBot\nDisallow: /\n";
    let s = robots_reservations(robots, "/article");
    let cs: Vec<_> = s
        .iter()
        .filter(|x| x.kind == SignalKind::ContentSignal)
        .collect();
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[1].stance, Stance::Reserved);
    assert_eq!(cs[1].evidence, "Content-Signal: search=yes, ai-train=no");
    assert!(cs[1].agent.is_none());
    assert!(
        s.iter()
            .any(|x| x.kind == SignalKind::RobotsDisallow && x.agent.as_deref() == Some("GPTBot"))
    );
}

#[test]
fn content_usage_in_robots_with_paths() {
    let robots =
        "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: /public/ train-ai=y\n";
    let s = robots_reservations(robots, "/private/x");
    assert_eq!(
        stances(&s),
        vec![(
            SignalKind::ContentUsage,
            Stance::Reserved,
            "train-ai=n".into(),
            None
        )]
    );
    let s = robots_reservations(robots, "/public/x");
    assert_eq!(s[0].stance, Stance::NotReserved);
    assert_eq!(s[0].evidence, "Content-Usage: /public/ train-ai=y");
    // scoped to a named group
    let s = robots_reservations(
        "User-Agent: ExampleBot\nContent-Usage: train-genai=n\n",
        "/",
    );
    assert_eq!(s[0].agent.as_deref(), Some("ExampleBot"));
}

// --------------------------------------------------------------- robots.txt

#[test]
fn robots_ai_tokens_rfc9309() {
    let robots = "User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n\n\
        User-agent: Google-Extended\nDisallow: /private/\nAllow: /private/public\n\n\
        User-agent: ClaudeBot\nDisallow:\n";
    let s = robots_reservations(robots, "/private/public/page");
    let agents: Vec<_> = s.iter().filter_map(|x| x.agent.clone()).collect();
    assert_eq!(agents, vec!["GPTBot", "CCBot"]);
    assert!(
        s.iter()
            .all(|x| x.stance == Stance::Reserved && x.source == SignalSource::RobotsTxt)
    );
    assert_eq!(
        s[0].evidence,
        "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /"
    );
    let s = robots_reservations(robots, "/private/x");
    assert!(
        s.iter()
            .any(|x| x.agent.as_deref() == Some("Google-Extended"))
    );
    assert!(
        !s.iter().any(|x| x.agent.as_deref() == Some("ClaudeBot")),
        "empty Disallow matches nothing"
    );
}

#[test]
fn robots_group_rules() {
    // case-insensitive tokens, combined groups, longest match, allow on tie,
    // comments, version suffix, CRLF
    let robots = "user-agent: gptbot/1.1 # comment\r\ndisallow: /a\r\n\r\nUser-Agent: GPTBOT\r\nAllow: /a/b\r\nDisallow: /a/b$\r\n";
    let r = |p: &str| {
        robots_reservations(robots, p)
            .into_iter()
            .filter(|x| x.stance == Stance::Reserved)
            .count()
    };
    assert_eq!(r("/a/x"), 1);
    // `Disallow: /a/b$` (5 octets) is longer than `Allow: /a/b` (4)
    assert_eq!(r("/a/b"), 1);
    assert_eq!(r("/a/bc"), 0);
    assert_eq!(r("/b"), 0);
    // full URL accepted; robots.txt itself always allowed
    assert_eq!(r("https://example.com/a/x?q=1"), 1);
    assert!(robots_reservations("User-agent: GPTBot\nDisallow: /\n", "/robots.txt").is_empty());
    // `*` only: recorded as Info, not a reservation
    let s = robots_reservations("User-agent: *\nDisallow: /\n", "/x");
    assert_eq!(
        stances(&s),
        vec![(
            SignalKind::RobotsDisallow,
            Stance::Info,
            "/".into(),
            Some("*".into())
        )]
    );
    assert_eq!(combine(&s).0, Verdict::Unknown);
    // rules before any user-agent are ignored
    assert!(robots_reservations("Disallow: /\nUser-agent: GPTBot\nAllow: /\n", "/x").is_empty());
    // a user-agent line after rules starts a new group
    let s = robots_reservations(
        "User-agent: CCBot\nDisallow: /\nUser-agent: GPTBot\nAllow: /\n",
        "/x",
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].agent.as_deref(), Some("CCBot"));
    // wildcard and end anchor
    let s = robots_reservations("User-agent: Bytespider\nDisallow: /*.pdf$\n", "/docs/a.pdf");
    assert_eq!(s.len(), 1);
    assert!(
        robots_reservations(
            "User-agent: Bytespider\nDisallow: /*.pdf$\n",
            "/docs/a.pdf?x"
        )
        .is_empty()
    );
}

#[test]
fn ai_txt() {
    let ai = "# Spawning AI\n# Prevent datasets from using the following file types\n\nUser-Agent: *\nDisallow: *.jpg\nDisallow: *.jpeg\nDisallow: *.png\nAllow: *.txt\n";
    let s = ai_txt_reservations(ai, "/img/cat.jpg");
    assert_eq!(
        stances(&s),
        vec![(
            SignalKind::AiTxtDisallow,
            Stance::Reserved,
            "*.jpg".into(),
            None
        )]
    );
    assert_eq!(s[0].source, SignalSource::AiTxt);
    assert!(ai_txt_reservations(ai, "/notes.txt").is_empty());
    assert!(ai_txt_reservations(ai, "/page.html").is_empty());
    let s = ai_txt_reservations("User-Agent: *\nDisallow: /\n", "/page.html");
    assert_eq!(s.len(), 1);
    let s = ai_txt_reservations("User-Agent: img2dataset\nDisallow: /\n", "/page.html");
    assert_eq!(s[0].agent.as_deref(), Some("img2dataset"));
}

// ------------------------------------------------------------------ verdict

#[test]
fn verdict_rules() {
    assert_eq!(combine(&[]), (Verdict::Unknown, None));
    // info only
    let s = header_signals(&h(&[("tdm-policy", "https://p.example/x")]));
    assert_eq!(combine(&s), (Verdict::Unknown, None));
    // any reservation wins over explicit non-reservations of other kinds
    let mut s = header_signals(&h(&[("Content-Usage", "train-ai=y")]));
    s.extend(robots_reservations("User-agent: CCBot\nDisallow: /\n", "/"));
    assert_eq!(combine(&s), (Verdict::Reserved, Some(1)));
    // agent-scoped reservation counts
    let s = header_signals(&h(&[("X-Robots-Tag", "GPTBot: noai")]));
    assert_eq!(combine(&s).0, Verdict::Reserved);
    // the effective TDM reservation is preferred as the deciding signal
    let mut s = header_signals(&h(&[("X-Robots-Tag", "noai")]));
    s.extend(header_signals(&h(&[("tdm-reservation", "1")])));
    assert_eq!(combine(&s), (Verdict::Reserved, Some(1)));
}

#[test]
fn analyze_html_single_pass() {
    let html = r#"<html><head><meta name="tdm-reservation" content="1">
        <link rel="license" href="https://creativecommons.org/licenses/by-nc/4.0/"></head></html>"#;
    let (lic, sig) = analyze_html(html, None);
    assert_eq!(lic.spdx.as_deref(), Some("CC-BY-NC-4.0"));
    assert_eq!(sig.len(), 1);
}
