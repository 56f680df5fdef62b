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
