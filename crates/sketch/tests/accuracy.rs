//! Statistical behaviour on real text (Common Crawl documents in Dolma JSONL):
//! estimator accuracy against exact shingle Jaccard, the LSH S-curve, and
//! near-duplicate / unrelated pages. Everything is seeded: no flakiness.

mod common;

use common::{Rng, delete_fraction, exact_jaccard, real_texts, replace_fraction, shingle_set};
use provindex_sketch::{
    MinHasher, SketchSpec, candidate_probability, jaccard_estimate, normalize, shingles,
};
use std::collections::HashSet;

/// Normalized real documents with at least `min_words` words, cut to
/// `max_words` (keeps debug-build test time low).
fn bases(min_words: usize, max_words: usize) -> Vec<String> {
    real_texts()
        .iter()
        .map(|t| normalize(t))
        .filter(|n| n.split(' ').count() >= min_words)
        .map(|n| n.split(' ').take(max_words).collect::<Vec<_>>().join(" "))
        .collect()
}

/// A pair of texts and the exact Jaccard similarity of their 5-shingle sets.
struct Pair {
    a: String,
    b: String,
    j: f64,
}

fn make_pair(a: String, b: String) -> Pair {
    let wa: Vec<&str> = a.split(' ').collect();
    let wb: Vec<&str> = b.split(' ').collect();
    let j = exact_jaccard(&shingle_set(&wa, 5), &shingle_set(&wb, 5));
    Pair { a, b, j }
}

/// Pairs across the whole Jaccard range: random deletions and replacements
/// of a controlled fraction of words (fraction drawn log-uniformly), shifted
/// windows of the same page, and unrelated pages.
fn pairs(per_base: usize, seed: u64) -> Vec<Pair> {
    let docs = bases(150, 400);
    assert!(docs.len() >= 8, "need real documents, got {}", docs.len());
    let pool: Vec<&str> = docs.iter().flat_map(|d| d.split(' ')).collect();
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for base in &docs {
        let words: Vec<&str> = base.split(' ').collect();
        for i in 0..per_base {
            // f in [0.001, 0.5], log-uniform.
            let f = 0.001 * 500f64.powf(rng.f64());
            let variant = match i % 3 {
                0 => delete_fraction(&words, f, &mut rng),
                1 => replace_fraction(&words, f, &pool, &mut rng),
                _ => {
                    let shift = 1 + rng.below(words.len() / 2);
                    let len = words.len() - shift;
                    out.push(make_pair(words[..len].join(" "), words[shift..].join(" ")));
                    continue;
                }
            };
            out.push(make_pair(base.clone(), variant));
        }
    }
    for (i, a) in docs.iter().enumerate() {
        for b in docs.iter().skip(i + 1) {
            out.push(make_pair(a.clone(), b.clone()));
        }
    }
    out
}

#[test]
fn crate_shingles_match_independent_shingling() {
    for text in real_texts() {
        let n = normalize(&text);
        let words: Vec<&str> = n.split(' ').filter(|w| !w.is_empty()).collect();
        for size in [1, 2, 5, 9] {
            let ours: HashSet<String> = shingles(&n, size).map(str::to_owned).collect();
            assert_eq!(ours, shingle_set(&words, size));
        }
    }
    assert_eq!(shingles("a b c", 5).collect::<Vec<_>>(), ["a b c"]);
    assert_eq!(shingles("a b c", 2).collect::<Vec<_>>(), ["a b", "b c"]);
    assert_eq!(shingles("", 5).count(), 0);
    assert_eq!(shingles("  a  b ", 2).collect::<Vec<_>>(), ["a  b"]);
}

#[test]
fn estimator_within_binomial_bounds() {
    let pairs = pairs(12, 7);
    let k = 128usize;
    let seeds = [1u64, 2, 3];
    let mut n = 0usize;
    let mut outside_2sigma = 0usize;
    let mut signed_err = 0.0f64;
    let mut bins = [0usize; 10];
    for seed in seeds {
        let h = MinHasher::new(&SketchSpec::default().with_seed(seed)).unwrap();
        for p in &pairs {
            let (sa, sb) = (h.signature(&p.a).unwrap(), h.signature(&p.b).unwrap());
            let est = jaccard_estimate(&sa, &sb);
            // b-bit minwise hashing: positions agree with probability
            // p = J + (1 − J)·2^-b, and the estimator rescales r − 2^-b.
            let chance = 1.0 / f64::from(1u32 << provindex_sketch::COMPARED_BITS);
            let agree = p.j + (1.0 - p.j) * chance;
            let sigma = (agree * (1.0 - agree) / k as f64).sqrt() / (1.0 - chance);
            let err = est - p.j;
            assert!(
                err.abs() <= 4.0 * sigma + 1.0 / k as f64 + 0.005,
                "seed {seed}: exact {:.4} estimate {est:.4} (sigma {sigma:.4})",
                p.j
            );
            if err.abs() > 2.0 * sigma + 0.5 / k as f64 {
                outside_2sigma += 1;
            }
            signed_err += err;
            n += 1;
            bins[((p.j * 10.0) as usize).min(9)] += 1;
        }
    }
    eprintln!(
        "estimator: {n} pair-seeds, {outside_2sigma} outside 2 sigma, mean error {:.5}, per decile {bins:?}",
        signed_err / n as f64
    );
    // The pairs really cover the Jaccard range.
    assert!(
        bins.iter().all(|&c| c >= 9),
        "pairs per Jaccard decile: {bins:?}"
    );
    // ~5% expected outside 2 sigma for a binomial estimator.
    let frac = outside_2sigma as f64 / n as f64;
    assert!(
        frac <= 0.10,
        "{outside_2sigma}/{n} = {frac:.3} outside 2 sigma"
    );
    // No systematic bias.
    let bias = signed_err / n as f64;
    assert!(bias.abs() < 0.01, "mean signed error {bias:.4}");
}

#[test]
fn lsh_candidate_rate_follows_s_curve() {
    let pairs = pairs(30, 11);
    let seeds: Vec<u64> = (100..108).collect();
    let spec = SketchSpec::default();
    let (b, r) = (spec.bands, spec.rows);
    // Per Jaccard bin of width 0.1: trials, candidates, expected candidates,
    // variance of the count.
    let mut bins = [(0usize, 0usize, 0.0f64, 0.0f64); 10];
    for &seed in &seeds {
        let h = MinHasher::new(&spec.with_seed(seed)).unwrap();
        for p in &pairs {
            let ka = h.band_keys(&h.signature(&p.a).unwrap());
            let kb = h.band_keys(&h.signature(&p.b).unwrap());
            let candidate = ka.iter().zip(&kb).any(|(x, y)| x == y);
            let prob = candidate_probability(p.j, b, r);
            let bin = &mut bins[((p.j * 10.0) as usize).min(9)];
            bin.0 += 1;
            bin.1 += usize::from(candidate);
            bin.2 += prob;
            bin.3 += prob * (1.0 - prob);
        }
    }
    for (i, &(trials, hits, expected, var)) in bins.iter().enumerate() {
        assert!(trials >= 40, "bin {i}: only {trials} trials ({bins:?})");
        let rate = hits as f64 / trials as f64;
        let want = expected / trials as f64;
        // Binomial tolerance (4 sigma of the count), plus a small allowance
        // because pairs share base documents.
        let tol = 4.0 * var.sqrt() / trials as f64 + 0.03;
        eprintln!(
            "S-curve bin {i}: {trials} trials, rate {rate:.3}, theory {want:.3}, tol {tol:.3}"
        );
        assert!(
            (rate - want).abs() <= tol,
            "J in [{:.1},{:.1}): candidate rate {rate:.3}, theory {want:.3} (tol {tol:.3}, {trials} trials)",
            i as f64 / 10.0,
            (i + 1) as f64 / 10.0
        );
    }
}

#[test]
fn near_duplicates_share_a_band_and_unrelated_pages_do_not() {
    let h = MinHasher::new(&SketchSpec::default()).unwrap();
    let texts = real_texts();
    let mut rng = Rng(2024);
    let mut checked = 0;
    for raw in &texts {
        let n = normalize(raw);
        let words: Vec<&str> = n.split(' ').collect();
        if words.len() < 300 {
            continue;
        }
        // Word positions to edit: one per 400 words, evenly spaced.
        let spots: Vec<usize> = (0..words.len().div_ceil(400))
            .map(|i| i * 400 + 150)
            .collect();
        let replaced: Vec<&str> = words
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                if spots.contains(&i) {
                    words[rng.below(words.len())]
                } else {
                    w
                }
            })
            .collect();
        let deleted: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(i, _)| !spots.contains(i))
            .map(|(_, &w)| w)
            .collect();
        // Controlled small edits of the original (raw) page.
        let edits: Vec<String> = vec![
            // Case and punctuation changes only: identical after normalization.
            raw.to_uppercase().replace(['.', ','], " ; "),
            // One word replaced per 400 words.
            replaced.join(" "),
            // One word deleted per 400 words.
            deleted.join(" "),
            // A boilerplate line appended.
            format!("{raw}\nShare this page on social media. Copyright 2024. All rights reserved."),
            // The first 10 words dropped.
            words[10..].join(" "),
        ];
        let sig = h.signature(&n).unwrap();
        let keys = h.band_keys(&sig);
        for (e, edited) in edits.into_iter().enumerate() {
            let en = normalize(&edited);
            let ew: Vec<&str> = en.split(' ').collect();
            let j = exact_jaccard(&shingle_set(&words, 5), &shingle_set(&ew, 5));
            assert!(j >= 0.95, "edit {e} too large for this test: J = {j:.3}");
            let ek = h.band_keys(&h.signature(&en).unwrap());
            let shared = keys.iter().zip(&ek).filter(|(a, b)| a == b).count();
            assert!(
                shared >= 1,
                "near duplicate (edit {e}, J = {j:.3}) shares no band"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} near-duplicate pairs checked");

    // Unrelated real pages: no shared band key.
    let normalized: Vec<String> = texts.iter().map(|t| normalize(t)).collect();
    let keys: Vec<Vec<u64>> = normalized
        .iter()
        .map(|n| h.band_keys(&h.signature(n).unwrap()))
        .collect();
    let mut unrelated = 0;
    for i in 0..normalized.len() {
        for j in i + 1..normalized.len() {
            let wa: Vec<&str> = normalized[i].split(' ').collect();
            let wb: Vec<&str> = normalized[j].split(' ').collect();
            let jac = exact_jaccard(&shingle_set(&wa, 5), &shingle_set(&wb, 5));
            assert!(jac < 0.3, "pages {i} and {j} are related (J = {jac:.3})");
            let shared = keys[i].iter().zip(&keys[j]).any(|(a, b)| a == b);
            assert!(!shared, "unrelated pages {i} and {j} share a band key");
            unrelated += 1;
        }
    }
    assert!(unrelated >= 100);
}

#[test]
fn empty_documents_never_collide() {
    let h = MinHasher::new(&SketchSpec::default()).unwrap();
    for empty in ["", " ", "   "] {
        assert!(h.signature(empty).is_none());
    }
    assert!(h.signature(&normalize("!!! ... ---")).is_none());
    // A one-word document is one shingle and has a signature.
    let one = h.signature("word").unwrap();
    assert_eq!(one.len(), 128);
}
