//! Normalization v1: pinned outputs for tricky inputs, and properties.

use proptest::prelude::*;
use provindex_sketch::{NORMALIZATION_VERSION, normalize, token_count};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Straightforward implementation of the documented definition, without the
/// segment fast path: NFKC of the whole text, lowercase, classify, collapse;
/// repeated (at most twice more) while the output is not NFKC.
fn reference(text: &str) -> String {
    fn round(s: &str) -> String {
        let mut out = String::new();
        let (mut pending, mut in_word) = (false, false);
        for c in s.nfkc() {
            for l in c.to_lowercase() {
                let word = l.is_alphanumeric()
                    || (in_word && unicode_normalization::char::is_combining_mark(l));
                if word {
                    if pending {
                        out.push(' ');
                        pending = false;
                    }
                    out.push(l);
                } else if !out.is_empty() {
                    pending = true;
                }
                in_word = word;
            }
        }
        out
    }
    let mut out = round(text);
    for _ in 0..2 {
        if is_nfkc_quick(out.chars()) == IsNormalized::Yes {
            break;
        }
        let again = round(&out);
        if again == out {
            break;
        }
        out = again;
    }
    out
}

#[test]
fn version_is_one() {
    assert_eq!(NORMALIZATION_VERSION, 1);
}

#[test]
fn pinned_outputs() {
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("   \t\n ", ""),
        ("Hello, World!", "hello world"),
        ("  leading and trailing  ", "leading and trailing"),
        ("don't stop-believing...", "don t stop believing"),
        ("e-mail\t\n  x", "e mail x"),
        // NFKC ligatures and compatibility forms.
        ("ﬁnancial ﬂow ﬀ", "financial flow ff"),
        ("Ⅻ ① x² H₂O ½", "xii 1 x2 h2o 1 2"),
        // Full-width Latin, digits and punctuation.
        ("ＡＢＣ　１２３！ｘｙｚ", "abc 123 xyz"),
        // Mixed scripts, case folding beyond ASCII.
        (
            "Ελληνικά ΚΕΙΜΕΝΟ, Русский ТЕКСТ; 日本語のテキスト",
            "ελληνικά κειμενο русский текст 日本語のテキスト",
        ),
        ("ΟΔΟΣ", "οδοσ"),
        ("Straße STRASSE", "straße strasse"),
        // Decomposed accents compose (NFKC), precomposed stay.
        ("Cafe\u{301} café", "café café"),
        // İ lowercases to i + U+0307, which stays attached to its word.
        ("İstanbul", "i\u{307}stanbul"),
        // A combining mark after a separator is dropped.
        ("a \u{301}b", "a b"),
        // '<' + U+0338 composes to '≮', a symbol: a separator.
        ("a<\u{338}b", "a b"),
        // Devanagari: virama and vowel signs stay inside the word.
        ("नमस्ते दुनिया!", "नमस्ते दुनिया"),
        // Symbols, emoji, NBSP, zero-width and control characters separate.
        (
            "price: €5 — 10% off 🎉🎉 now\u{a0}here\u{200b}there\u{7}x",
            "price 5 10 off now here there x",
        ),
        ("a_b a·b a\u{2019}s", "a b a b a s"),
        // Arabic with harakat (marks), Hebrew, Thai.
        ("مَرْحَبًا بالعالم", "مَرْحَبًا بالعالم"),
        ("שָׁלוֹם", "שָׁלוֹם"),
        ("สวัสดีครับ", "สวัสดีครับ"),
        // Hangul jamo compose under NFKC.
        ("\u{1100}\u{1161}\u{11A8}", "각"),
    ];
    for (input, want) in cases {
        assert_eq!(normalize(input), *want, "normalize({input:?})");
        assert_eq!(reference(input), *want, "reference({input:?})");
    }
}

#[test]
fn real_documents_match_reference_and_are_idempotent() {
    #[path = "common/mod.rs"]
    mod common;
    for text in common::real_texts() {
        let n = normalize(&text);
        assert_eq!(n, reference(&text));
        assert_eq!(normalize(&n), n);
        assert_eq!(
            token_count(&n) as usize,
            n.split(' ').filter(|w| !w.is_empty()).count()
        );
    }
}

#[test]
fn token_counts() {
    assert_eq!(token_count(""), 0);
    assert_eq!(token_count("one"), 1);
    assert_eq!(token_count("one two three"), 3);
    assert_eq!(token_count(&normalize(" -- a, b; c -- ")), 3);
}

/// Characters that exercise the tricky paths: ASCII (letters, digits,
/// punctuation, whitespace), composition bases and marks, case mappings that
/// expand, compatibility forms, scripts with marks.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            'a', 'Z', 'e', 'i', 'I', '0', '9', ' ', ' ', '\t', '\n', '-', '\'', '.', ',', '<', '=',
            '>', '_',
        ]),
        3 => prop::sample::select(vec![
            '\u{301}', '\u{307}', '\u{308}', '\u{338}', '\u{327}', '\u{345}', '\u{94D}', '\u{93F}',
            '\u{64E}', '\u{5B8}', '\u{E31}', '\u{300}', '\u{316}', '\u{1AB0}', '\u{20DD}',
        ]),
        3 => prop::sample::select(vec![
            'İ', 'ß', 'ẞ', 'Σ', 'ς', 'ﬁ', 'ﬀ', 'Ａ', '１', '²', '①', 'Ⅻ', '½', '\u{a0}', '\u{2126}',
            '\u{212A}', '\u{1E9E}', '\u{1D2C}', '\u{01C5}', '\u{1F88}', '\u{0390}', '\u{1100}',
            '\u{1161}', '\u{11A8}', 'ǰ', 'J', '\u{30C}', '\u{FB2C}', '\u{2000}', '\u{3000}',
            '\u{FF9E}', '\u{309B}', 'ｶ', '\u{0B47}', '\u{0B3E}', '\u{0BC6}', '\u{0BBE}',
        ]),
        1 => any::<char>(),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..48).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn idempotent_on_tricky(s in tricky_string()) {
        let n = normalize(&s);
        prop_assert_eq!(normalize(&n), n.clone(), "input {:?}", s);
    }

    #[test]
    fn fast_path_equals_reference(s in tricky_string()) {
        prop_assert_eq!(normalize(&s), reference(&s), "input {:?}", s);
    }

    #[test]
    fn output_shape(s in tricky_string()) {
        let n = normalize(&s);
        prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
        prop_assert!(n.chars().all(|c| c == ' ' || !c.is_whitespace()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_unicode_never_panics_and_is_idempotent(s in any::<String>()) {
        let n = normalize(&s);
        prop_assert_eq!(normalize(&n), n.clone());
        prop_assert_eq!(normalize(&s), reference(&s));
        let _ = token_count(&s);
    }
}
