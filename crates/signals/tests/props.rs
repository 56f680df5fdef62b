//! proptest: the public parsers never panic on arbitrary input.

use proptest::prelude::*;
use provindex_signals::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn surt_never_panics(s in "\\PC*") {
        if let Ok(k) = surt(&s) {
            prop_assert!(k.key.contains(')'));
            prop_assert_eq!(k.key.to_ascii_lowercase(), k.key.clone());
        }
        for m in [MatchMode::Exact, MatchMode::Prefix, MatchMode::Host, MatchMode::Domain] {
            let _ = surt_scan_prefix(&s, m);
        }
        let _ = registered_domain(&s);
    }

    #[test]
    fn surt_url_like_never_panics(
        host in "[a-zA-Z0-9.\\-\u{e9}\u{4e2d}%\\[\\]:]{0,30}",
        path in "[a-zA-Z0-9/.%?&=#;~ \u{e9}]{0,40}",
        scheme in prop_oneof!["http://", "https://", "ftp://", "", "dns:", "HTTP://"],
    ) {
        let u = format!("{scheme}{host}/{path}");
        if let Ok(k) = surt(&u) {
            // idempotent on its own canonical form is not guaranteed (the key is
            // lowercased, not a URL) but re-parsing must not panic either
            let _ = surt(&k.key);
        }
    }

    #[test]
    fn domain_match_never_panics(a in "\\PC{0,20}", b in "\\PC{0,20}") {
        let _ = domain_key_matches(&a, &b);
    }
}

fn html_fragment() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(
            "<a rel=\"license\" href=\"https://creativecommons.org/licenses/by/4.0/\">".to_string()
        ),
        Just("<link rel=license href=//creativecommons.org/licenses/by-sa/3.0/de/>".to_string()),
        Just("<meta name=\"tdm-reservation\" content=\"1\">".to_string()),
        Just("<meta name=robots content=\"GPTBot: noai\">".to_string()),
        Just("<script type=\"application/ld+json\">{\"license\":".to_string()),
        Just("</script>".to_string()),
        Just("<figure>".to_string()),
        Just("</figure>".to_string()),
        Just("<footer>".to_string()),
        Just("</a>".to_string()),
        Just("<!--".to_string()),
        Just("<style>".to_string()),
        Just("All rights reserved".to_string()),
        Just("licensed under".to_string()),
        "\\PC{0,12}",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn license_never_panics(s in "\\PC*") {
        let f = detect_license(&s);
        if f.license.is_none() {
            prop_assert_eq!(f.class, LicenseClass::Unknown);
        }
        let _ = detect_license_at(&s, Some("https://example.com/a/"));
        let _ = parse_cc_text(&s);
        let _ = parse_cc_url(&s, None);
    }

    #[test]
    fn structured_html_never_panics(s in html_fragment()) {
        let (lic, sig) = analyze_html(&s, Some("https://example.com/"));
        if lic.license.is_none() {
            prop_assert_eq!(lic.class, LicenseClass::Unknown);
        }
        let _ = combine(&sig);
        let _ = html_signals(&s);
    }

    #[test]
    fn signal_parsers_never_panic(name in "\\PC{0,20}", value in "\\PC{0,60}", text in "\\PC{0,300}", path in "\\PC{0,40}") {
        let s = header_signals(&[(name.clone(), value.clone())]);
        let _ = combine(&s);
        for n in ["tdm-reservation", "tdm-policy", "X-Robots-Tag", "Content-Usage", "Content-Signal"] {
            let _ = header_signals(&[(n.to_string(), value.clone())]);
        }
        let _ = tdmrep_json_signals(&text, &path);
        let _ = robots_reservations(&text, &path);
        let _ = ai_txt_reservations(&text, &path);
    }

    #[test]
    fn robots_like_never_panics(
        lines in proptest::collection::vec(
            (prop_oneof![Just("User-agent"), Just("Disallow"), Just("Allow"), Just("Content-Usage"), Just("Content-Signal"), Just("Sitemap"), Just("#x")],
             "[ -~]{0,20}"),
            0..20),
        path in "/[ -~]{0,30}",
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        let s = robots_reservations(&text, &path);
        let _ = combine(&s);
        let _ = ai_txt_reservations(&text, &path);
    }

    #[test]
    fn tdmrep_json_like_never_panics(loc in "[/*$a-z%]{0,12}", v in prop_oneof![Just("1".to_string()), Just("0".to_string()), Just("\"x\"".to_string()), "[0-9.e-]{1,6}"], path in "/[a-z/%$*]{0,20}") {
        let json = format!(r#"[{{"location": "{loc}", "tdm-reservation": {v}, "tdm-policy": "https://p/x"}}]"#);
        let _ = tdmrep_json_signals(&json, &path);
    }
}
