//! Normalization v2 (issue 16): hand-written examples, the spec and serde
//! forms of the version, folding, language detection, and properties against
//! a straightforward reference implementation.

use proptest::prelude::*;
use provindex_sketch::{
    MinHasher, NormalizationVersion, SketchSpec, SpecError, SpecParseError, content_id,
    detect_language, fold_char, fold_for_sketch, fold_table_digest, normalize, normalize_with,
    shingle_hash, shingles, token_count, token_count_with,
};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use unicode_script::{Script, UnicodeScript};

const V1: NormalizationVersion = NormalizationVersion::V1;
const V2: NormalizationVersion = NormalizationVersion::V2;

fn n2(s: &str) -> String {
    normalize_with(V2, s)
}

/// The text a v2 sketch is made of: normalized, then folded.
fn sketch_text(s: &str) -> String {
    fold_for_sketch(V2, &n2(s)).into_owned()
}

#[test]
fn v1_entry_points_unchanged() {
    for t in [
        "Hello, World!",
        "用Rust写的ＡＰＩ，版本2.0",
        "軟體套件的資料庫",
        "ภาษาไทย",
    ] {
        assert_eq!(normalize(t), normalize_with(V1, t));
    }
    // Version 1 keeps a Chinese clause as one word.
    assert_eq!(
        normalize("用Rust写的ＡＰＩ，版本2.0"),
        "用rust写的api 版本2 0"
    );
    assert_eq!(token_count(&normalize("软件包的数据库。")), 1);
}

#[test]
fn mixed_chinese_and_english() {
    assert_eq!(
        n2("用Rust写的ＡＰＩ，版本2.0"),
        "用 rust 写 的 api 版 本 2 0"
    );
    assert_eq!(
        n2("使用 apt-get install 安装软件包"),
        "使 用 apt get install 安 装 软 件 包"
    );
    assert_eq!(n2("abc中def"), "abc 中 def");
    assert_eq!(n2("Linux内核4.19版"), "linux 内 核 4 19 版");
    // English text is the same in both versions.
    let en = "The Debian Project is an association of individuals, who made common cause.";
    assert_eq!(n2(en), normalize(en));
}

#[test]
fn japanese_kana_and_kanji() {
    assert_eq!(n2("コーヒーを飲みます。"), "コ ー ヒ ー を 飲 み ま す");
    // Half-width katakana and the voiced mark compose under NFKC.
    assert_eq!(n2("ｶﾞｲﾄﾞ"), "ガ イ ド");
    // Kana iteration mark and ideographic iteration mark are words too.
    assert_eq!(n2("いすゞ 時々"), "い す ゞ 時 々");
}

#[test]
fn thai_keeps_marks_with_their_base() {
    assert_eq!(n2("ภาษาไทย"), "ภ า ษ า ไ ท ย");
    // Tone mark U+0E48 and vowel sign U+0E35 stay with the consonant.
    assert_eq!(n2("ไม่มี"), "ไ ม\u{e48} ม\u{e35}");
    assert_eq!(n2("Thai: ภาษา!"), "thai ภ า ษ า");
}

#[test]
fn other_scripts_keep_version_1_words() {
    for t in ["한국어 텍스트입니다", "བོད་ཡིག", "Русский текст", "हिन्दी पाठ"]
    {
        assert_eq!(n2(t), normalize(t), "{t}");
    }
    assert_eq!(n2("ລາວ"), "ລ າ ວ");
    // Khmer: the coeng (U+17D2) and vowel sign (U+17C2) stay with their base.
    assert_eq!(n2("ខ្មែរ"), "ខ\u{17d2} ម\u{17c2} រ");
}

#[test]
fn full_width_punctuation_and_digits() {
    assert_eq!(n2("第１２３章：“测试”！"), "第 123 章 测 试");
    assert_eq!(n2("第123章:\"测试\"!"), "第 123 章 测 试");
    // Compatibility ideographs fold to unified ones (NFKC).
    assert_eq!(n2("\u{F900}"), "\u{8C48}");
    // Ideographic space and full stop are separators.
    assert_eq!(n2("中文\u{3000}文本。"), "中 文 文 本");
}

#[test]
fn token_counts_count_characters() {
    let t = "软件包的数据库，用于安装程序。";
    let n = n2(t);
    assert_eq!(token_count_with(V2, &n), 13);
    assert_eq!(token_count_with(V1, &normalize(t)), 2);
    assert_eq!(token_count_with(V2, &n2("用Rust写的")), 4);
}

#[test]
fn short_chinese_pages_have_many_shingles() {
    let n = n2("这是一个很短的中文页面。");
    assert_eq!(shingles(&n, 5).count(), 11 - 5 + 1);
    assert_eq!(
        shingles(&normalize("这是一个很短的中文页面。"), 5).count(),
        1
    );
}

#[test]
fn traditional_and_simplified_fold_to_the_same_sketch_tokens() {
    let simp = "软件包的数据库，用于安装程序。头发和发展都在这里面。";
    let trad = "軟件包的數據庫，用於安裝程序。頭髮和發展都在這裡面。";
    // Identity is the text as written: the two differ.
    assert_ne!(n2(simp), n2(trad));
    assert_ne!(content_id(&n2(simp)), content_id(&n2(trad)));
    // Sketch tokens are the same.
    assert_eq!(sketch_text(trad), sketch_text(simp));
    assert_eq!(sketch_text(simp), n2(simp));
    let h = MinHasher::new(&SketchSpec::latest()).unwrap();
    assert_eq!(h.signature(&n2(simp)), h.signature(&n2(trad)));
    assert_eq!(h.sketch(simp), h.sketch(trad));
    assert_eq!(h.shingle_hashes(&n2(trad)), h.shingle_hashes(&n2(simp)));
    // A version 1 hasher does not fold.
    let h1 = MinHasher::new(&SketchSpec::default().with_normalization(V1)).unwrap();
    assert_ne!(h1.signature(&n2(simp)), h1.signature(&n2(trad)));
    // Taiwan and Hong Kong variant characters fold as well.
    assert_eq!(sketch_text("臺灣 裏 峯"), sketch_text("台湾 里 峰"));
    // Folding is idempotent and leaves non-Han text alone.
    let f = sketch_text(trad);
    assert_eq!(fold_for_sketch(V2, &f), f.as_str());
    assert_eq!(fold_for_sketch(V2, "abc ไทย"), "abc ไทย");
    assert_eq!(fold_for_sketch(V1, "軟 體"), "軟 體");
    assert_eq!(fold_char('a'), 'a');
}

/// The folding table is derived from ferrous-opencc's OpenCC data; a change of
/// that crate that changes any entry changes v2 sketches and must be a
/// deliberate, versioned change.
#[test]
fn fold_table_is_pinned() {
    assert_eq!(fold_table_digest(), (4118, 5_321_380_033_862_853_921));
}

#[test]
fn spec_carries_the_version() {
    let v2 = SketchSpec::latest();
    assert_eq!(v2.normalization_version, NormalizationVersion::LATEST);
    assert_eq!(
        v2.to_string(),
        "norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1"
    );
    assert_eq!(v2.to_string().parse::<SketchSpec>(), Ok(v2));
    assert_eq!(
        SketchSpec::default().with_normalization(V2),
        v2,
        "latest = default parameters with version 2"
    );
    // Default is version 2 since the pipeline normalizes with the spec's version.
    assert_eq!(SketchSpec::default().normalization_version, V2);
    // A spec text without norm= means version 1.
    let old: SketchSpec = "shingle=5;k=128;t=0.8;b=9;r=13;seed=1".parse().unwrap();
    assert_eq!(old, SketchSpec::default().with_normalization(V1));
    assert_eq!(
        "norm=0;shingle=5;k=128;t=0.8;b=9;r=13;seed=1".parse::<SketchSpec>(),
        Err(SpecParseError::Invalid(
            SpecError::UnsupportedNormalization(0)
        ))
    );
    // Different versions give different hashers for Chinese text only.
    let (h1, h2) = (
        MinHasher::new(&SketchSpec::default().with_normalization(V1)).unwrap(),
        MinHasher::new(&v2).unwrap(),
    );
    let en = normalize("plain english words are the same in both versions of course");
    assert_eq!(h1.signature(&en), h2.signature(&en));
}

#[test]
fn version_serde_form() {
    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Manifest {
        #[serde(default)]
        normalization: NormalizationVersion,
    }
    assert_eq!(serde_json::to_string(&V2).unwrap(), "2");
    assert_eq!(
        serde_json::from_str::<NormalizationVersion>("1").unwrap(),
        V1
    );
    assert!(serde_json::from_str::<NormalizationVersion>("3").is_err());
    let old: Manifest = serde_json::from_str("{}").unwrap();
    assert_eq!(old.normalization, V1);
    let new: Manifest = serde_json::from_str(r#"{"normalization":2}"#).unwrap();
    assert_eq!(new.normalization, V2);
    assert_eq!(NormalizationVersion::from_number(2), Some(V2));
    assert_eq!(NormalizationVersion::from_number(0), None);
    assert_eq!(V2.number(), 2);
    assert_eq!(V1.to_string(), "1");
}

#[test]
fn language_detection() {
    assert_eq!(
        detect_language("软件包管理系统是 Debian 的核心，它负责安装、升级和删除软件。"),
        Some("cmn")
    );
    assert_eq!(
        detect_language("軟體套件管理系統是 Debian 的核心，它負責安裝、升級和移除軟體。"),
        Some("cmn")
    );
    assert_eq!(
        detect_language(
            "パッケージ管理システムは Debian の中核です。ソフトウェアをインストールします。"
        ),
        Some("jpn")
    );
    assert_eq!(
        detect_language(
            "The package management system is the heart of Debian: it installs, upgrades and removes software."
        ),
        Some("eng")
    );
    assert_eq!(
        detect_language("ระบบจัดการแพ็กเกจเป็นหัวใจของเดเบียน"),
        Some("tha")
    );
    assert_eq!(detect_language(""), None);
    assert_eq!(detect_language("1234 !!! ..."), None);
    // Long texts: only a bounded prefix is read, cut at a character boundary.
    let long = "中文".repeat(10_000);
    assert_eq!(detect_language(&long), Some("cmn"));
}

// ----- reference implementation and properties -----

const NO_SPACE: [Script; 18] = [
    Script::Han,
    Script::Hiragana,
    Script::Katakana,
    Script::Bopomofo,
    Script::Yi,
    Script::Thai,
    Script::Lao,
    Script::Khmer,
    Script::Myanmar,
    Script::Tai_Tham,
    Script::Tai_Le,
    Script::New_Tai_Lue,
    Script::Tai_Viet,
    Script::Balinese,
    Script::Javanese,
    Script::Tangut,
    Script::Nushu,
    Script::Khitan_Small_Script,
];

/// The documented rule, straight from the Unicode properties (no fast ranges).
fn no_space(c: char) -> bool {
    let s = c.script();
    if NO_SPACE.contains(&s) {
        return true;
    }
    if s == Script::Common || s == Script::Inherited {
        let e = c.script_extension();
        return !e.is_common()
            && !e.is_inherited()
            && NO_SPACE.iter().any(|&x| e.contains_script(x));
    }
    false
}

/// Version 2 as documented, without any fast path: NFKC of the whole text,
/// lowercase, classify, break around no-space characters, collapse; repeated
/// while the output is not NFKC (as version 1).
fn reference_v2(text: &str) -> String {
    fn round(s: &str) -> String {
        let mut out = String::new();
        let (mut pending, mut in_word, mut isolated) = (false, false, false);
        for c in s.nfkc() {
            for l in c.to_lowercase() {
                let mark = in_word && unicode_normalization::char::is_combining_mark(l);
                let word = mark || l.is_alphanumeric();
                if word {
                    if !mark {
                        let ns = no_space(l);
                        if isolated || (ns && in_word) {
                            pending = true;
                        }
                        isolated = ns;
                    }
                    if pending {
                        out.push(' ');
                        pending = false;
                    }
                    out.push(l);
                } else {
                    if !out.is_empty() {
                        pending = true;
                    }
                    isolated = false;
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

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            'a', 'Z', 'e', 'i', 'I', '0', '9', ' ', ' ', '\t', '\n', '-', '.', ',', '_',
        ]),
        4 => prop::sample::select(vec![
            '中', '文', '軟', '體', '乾', '\u{3400}', '\u{9FFF}', '\u{F900}', '\u{FA6D}',
            '\u{20000}', '\u{2F800}', '々', '〇', 'あ', 'が', 'カ', 'ー', 'ゞ', 'ヽ', '\u{3099}',
            '\u{309A}', '\u{FF76}', '\u{FF9E}', 'ㄅ', 'ꀀ', '，', '。', '\u{3000}', '１', 'Ａ',
        ]),
        3 => prop::sample::select(vec![
            'ก', 'า', '\u{E31}', '\u{E48}', '\u{E35}', 'ເ', '\u{EB4}', 'ក', '\u{17D2}',
            '\u{17B6}', 'က', '\u{103B}', '\u{1039}', 'ཀ', '་', '\u{F71}', '한', '\u{1100}',
            '\u{1161}', '\u{FE00}', '\u{E0100}', '\u{301}', '\u{307}', 'İ', 'Σ', 'ﬁ',
        ]),
        1 => any::<char>(),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..48).prop_map(|v| v.into_iter().collect())
}

/// Version 1 output with a space inserted before every no-space character
/// (not an attached mark) that continues a word, and after every such
/// character's cluster: version 2 by its other description.
fn v1_with_breaks(s: &str) -> String {
    let v1 = normalize(s);
    let mut out = String::new();
    let mut isolated = false;
    let mut prev_word = false;
    for c in v1.chars() {
        if c == ' ' {
            out.push(' ');
            isolated = false;
            prev_word = false;
            continue;
        }
        let mark = prev_word && unicode_normalization::char::is_combining_mark(c);
        if !mark {
            let ns = no_space(c);
            if prev_word && (isolated || ns) {
                out.push(' ');
            }
            isolated = ns;
        }
        out.push(c);
        prev_word = true;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn v2_idempotent(s in tricky_string()) {
        let n = n2(&s);
        prop_assert_eq!(n2(&n), n.clone(), "input {:?}", s);
    }

    #[test]
    fn v2_fast_path_equals_reference(s in tricky_string()) {
        prop_assert_eq!(n2(&s), reference_v2(&s), "input {:?}", s);
    }

    #[test]
    fn v2_is_v1_with_breaks(s in tricky_string()) {
        prop_assert_eq!(n2(&s), v1_with_breaks(&s), "input {:?}", s);
    }

    #[test]
    fn v2_output_shape(s in tricky_string()) {
        let n = n2(&s);
        prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
        prop_assert!(n.chars().all(|c| c == ' ' || !c.is_whitespace()));
        // Folding keeps the shape and is idempotent.
        let f = fold_for_sketch(V2, &n).into_owned();
        prop_assert_eq!(f.split(' ').count(), n.split(' ').count());
        prop_assert_eq!(fold_for_sketch(V2, &f).into_owned(), f);
    }

    /// The batched signature path equals the simple one: fold character by
    /// character, iterate shingles, hash each one.
    #[test]
    fn v2_signature_equals_reference(s in tricky_string()) {
        let h = MinHasher::new(&SketchSpec::latest()).unwrap();
        let n = n2(&s);
        let folded: String = n.chars().map(fold_char).collect();
        let hashes: Vec<u32> = shingles(&folded, 5).map(shingle_hash).collect();
        prop_assert_eq!(h.signature(&n), h.signature_from_hashes(&hashes));
        prop_assert_eq!(h.shingle_hashes(&n), hashes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn v2_arbitrary_unicode_never_panics(s in any::<String>()) {
        let n = n2(&s);
        prop_assert_eq!(n2(&n), n.clone());
        prop_assert_eq!(n.clone(), reference_v2(&s));
        let _ = token_count_with(V2, &n);
        let _ = fold_for_sketch(V2, &n);
        let _ = detect_language(&s);
        let h = MinHasher::new(&SketchSpec::latest()).unwrap();
        let _ = h.sketch(&s);
    }
}
