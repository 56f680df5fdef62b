//! Near-duplicate detection on real Chinese text (issue 16).
//!
//! 80 real zh-CN paragraphs of the Debian Administrator's Handbook
//! (`tests/data/zh/`, with their OpenCC Traditional conversions and, where
//! the files align, the independent zh-TW translation) and planted copies of
//! every paragraph: an exact mirror (other whitespace), 1% of the characters
//! replaced, ASCII instead of full-width punctuation, the Traditional version
//! (OpenCC `s2tw`), the Taiwan-phrased version (`s2twp`), and 30% of the
//! characters replaced.
//!
//! **Ground truth:** exact Jaccard of the sets of character 5-grams — token
//! 5-grams of the version 2 normalized text, folded to Simplified characters
//! (for Chinese one token is one character) — computed for every pair of
//! documents that shares a 5-gram (inverted index), ≥ 0.8 = near-duplicate.
//!
//! **Prediction:** the real pipeline at the default parameters (K = 128,
//! b = 9, r = 13, t = 0.8): two documents are reported as near-duplicates if
//! they share an LSH band key and their estimated Jaccard is ≥ 0.8.
//!
//! Version 2 must reach recall ≥ 0.95 and precision ≥ 0.98 over all pairs;
//! version 1 (same spec, `norm=1`) must fail — which shows the test measures
//! what issue 16 is about.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use common::Rng;
use provindex_sketch::{
    MinHasher, NormalizationVersion, SketchSpec, fold_for_sketch, jaccard_estimate, normalize_with,
};

struct Record {
    zh_cn: String,
    zh_tw: Option<String>,
    s2tw: String,
    s2twp: String,
}

fn records() -> Vec<Record> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/zh/handbook_zh.jsonl");
    let f = std::fs::File::open(&path).expect("tests/data/zh/handbook_zh.jsonl");
    BufReader::new(f)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.expect("line")).expect("json");
            let s = |k: &str| v[k].as_str().map(str::to_owned);
            Record {
                zh_cn: s("zh_cn").expect("zh_cn"),
                zh_tw: s("zh_tw"),
                s2tw: s("s2tw").expect("s2tw"),
                s2twp: s("s2twp").expect("s2twp"),
            }
        })
        .collect()
}

fn is_han(c: char) -> bool {
    matches!(u32::from(c), 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

/// Replaces a fraction `f` (at least one) of the Han characters of `text`
/// with random Han characters from `pool`.
fn edit_chars(text: &str, f: f64, pool: &[char], rng: &mut Rng) -> String {
    let han: Vec<usize> = text
        .char_indices()
        .filter(|&(_, c)| is_han(c))
        .map(|(i, _)| i)
        .collect();
    let n = ((han.len() as f64 * f).round() as usize).max(1);
    let mut chosen = HashSet::new();
    while chosen.len() < n.min(han.len()) {
        chosen.insert(han[rng.below(han.len())]);
    }
    text.char_indices()
        .map(|(i, c)| {
            if chosen.contains(&i) {
                pool[rng.below(pool.len())]
            } else {
                c
            }
        })
        .collect()
}

/// Full-width / CJK punctuation replaced by its ASCII look-alike.
fn ascii_punctuation(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '，' | '、' => ',',
            '。' => '.',
            '：' => ':',
            '；' => ';',
            '！' => '!',
            '？' => '?',
            '（' => '(',
            '）' => ')',
            '“' | '”' | '「' | '」' => '"',
            '‘' | '’' => '\'',
            other => other,
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
enum Kind {
    Original,
    Mirror,
    Edit1,
    AsciiPunct,
    Traditional,
    TaiwanPhrased,
    Edit30,
    RealZhTw,
}

struct Doc {
    kind: Kind,
    text: String,
}

fn corpus() -> Vec<Doc> {
    let recs = records();
    assert!(recs.len() >= 40, "need the Chinese test data");
    let pool: Vec<char> = recs
        .iter()
        .flat_map(|r| r.zh_cn.chars())
        .filter(|&c| is_han(c))
        .collect();
    let mut rng = Rng(16);
    let mut docs = Vec::new();
    for r in &recs {
        let mut push = |kind, text: String| docs.push(Doc { kind, text });
        push(Kind::Original, r.zh_cn.clone());
        push(
            Kind::Mirror,
            format!("\n  {}  \n", r.zh_cn.replace(' ', "\t ")),
        );
        push(Kind::Edit1, edit_chars(&r.zh_cn, 0.01, &pool, &mut rng));
        push(Kind::AsciiPunct, ascii_punctuation(&r.zh_cn));
        push(Kind::Traditional, r.s2tw.clone());
        push(Kind::TaiwanPhrased, r.s2twp.clone());
        push(Kind::Edit30, edit_chars(&r.zh_cn, 0.30, &pool, &mut rng));
        if let Some(t) = &r.zh_tw {
            push(Kind::RealZhTw, t.clone());
        }
    }
    docs
}

/// Character (token) 5-gram sets of the v2 normalized, folded texts.
fn gram_sets(docs: &[Doc]) -> Vec<HashSet<String>> {
    docs.iter()
        .map(|d| {
            let n = normalize_with(NormalizationVersion::V2, &d.text);
            let f = fold_for_sketch(NormalizationVersion::V2, &n);
            let toks: Vec<&str> = f.split(' ').filter(|t| !t.is_empty()).collect();
            if toks.len() < 5 {
                return std::iter::once(toks.join(" ")).collect();
            }
            toks.windows(5).map(|w| w.join(" ")).collect()
        })
        .collect()
}

/// Every pair with exact Jaccard ≥ 0.8 (pairs without a shared 5-gram have
/// Jaccard 0), and the exact Jaccard of any pair on request.
fn true_pairs(sets: &[HashSet<String>]) -> HashSet<(usize, usize)> {
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in sets.iter().enumerate() {
        for g in s {
            index.entry(g.as_str()).or_default().push(i);
        }
    }
    let mut inter: HashMap<(usize, usize), usize> = HashMap::new();
    for ids in index.values() {
        for (x, &a) in ids.iter().enumerate() {
            for &b in &ids[x + 1..] {
                *inter.entry((a.min(b), a.max(b))).or_default() += 1;
            }
        }
    }
    inter
        .into_iter()
        .filter(|&((a, b), i)| {
            let union = sets[a].len() + sets[b].len() - i;
            i as f64 / union as f64 >= 0.8
        })
        .map(|(p, _)| p)
        .collect()
}

/// Pairs the real MinHash + LSH pipeline reports: a shared band key and an
/// estimated Jaccard ≥ the spec's threshold.
fn predicted_pairs(docs: &[Doc], spec: &SketchSpec) -> HashSet<(usize, usize)> {
    let h = MinHasher::new(spec).unwrap();
    let sigs: Vec<_> = docs
        .iter()
        .map(|d| h.signature(&normalize_with(spec.normalization_version, &d.text)))
        .collect();
    let mut buckets: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, s) in sigs.iter().enumerate() {
        if let Some(s) = s {
            for k in h.band_keys(s) {
                buckets.entry(k).or_default().push(i);
            }
        }
    }
    let mut out = HashSet::new();
    for ids in buckets.values() {
        for (x, &a) in ids.iter().enumerate() {
            for &b in &ids[x + 1..] {
                if let (Some(sa), Some(sb)) = (&sigs[a], &sigs[b])
                    && jaccard_estimate(sa, sb) >= spec.threshold
                {
                    out.insert((a.min(b), a.max(b)));
                }
            }
        }
    }
    out
}

struct Score {
    recall: f64,
    precision: f64,
    by_kind: Vec<(Kind, usize, usize)>,
}

fn score(docs: &[Doc], truth: &HashSet<(usize, usize)>, spec: &SketchSpec) -> Score {
    let pred = predicted_pairs(docs, spec);
    let tp = truth.intersection(&pred).count();
    // Recall per kind of the non-original member of true pairs.
    let mut by: HashMap<Kind, (usize, usize)> = HashMap::new();
    for &(a, b) in truth {
        let k = docs[a].kind.max(docs[b].kind);
        let e = by.entry(k).or_default();
        e.0 += 1;
        e.1 += usize::from(pred.contains(&(a, b)));
    }
    let mut by_kind: Vec<(Kind, usize, usize)> =
        by.into_iter().map(|(k, (t, f))| (k, t, f)).collect();
    by_kind.sort();
    Score {
        recall: tp as f64 / truth.len().max(1) as f64,
        precision: if pred.is_empty() {
            1.0
        } else {
            tp as f64 / pred.len() as f64
        },
        by_kind,
    }
}

#[test]
fn chinese_near_duplicates_v2_finds_them_v1_does_not() {
    let docs = corpus();
    let sets = gram_sets(&docs);
    let truth = true_pairs(&sets);
    let originals = docs.iter().filter(|d| d.kind == Kind::Original).count();
    // Mirrors, 1% edits, ASCII punctuation and Traditional copies are all
    // near-duplicates by the ground truth.
    assert!(truth.len() >= 4 * originals, "{} true pairs", truth.len());

    let v2 = score(&docs, &truth, &SketchSpec::latest());
    let v1 = score(
        &docs,
        &truth,
        &SketchSpec::default().with_normalization(provindex_sketch::NormalizationVersion::V1),
    );
    eprintln!(
        "{} docs, {} true pairs; v2 recall {:.4} precision {:.4}; v1 recall {:.4} precision {:.4}",
        docs.len(),
        truth.len(),
        v2.recall,
        v2.precision,
        v1.recall,
        v1.precision
    );
    eprintln!("true pairs by kind (kind, pairs, found by v2 / found by v1):");
    for ((k, t, f2), (_, _, f1)) in v2.by_kind.iter().zip(&v1.by_kind) {
        eprintln!("  {k:?}: {t} pairs, v2 {f2}, v1 {f1}");
    }
    assert!(v2.recall >= 0.95, "v2 recall {:.4}", v2.recall);
    assert!(v2.precision >= 0.98, "v2 precision {:.4}", v2.precision);
    assert!(
        v1.recall < 0.8,
        "v1 recall {:.4}: the test should show v1's failure",
        v1.recall
    );
}
