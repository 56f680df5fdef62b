//! Shared helpers for the integration tests: real documents and a small
//! deterministic RNG.
#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// Texts of the real Common Crawl documents (Dolma JSONL, `text` field) copied
/// from the bundled corpus `tests/data/corpus/jsonl/` into `tests/data/`, in file then line order.
pub fn real_texts() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl.gz"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jsonl.gz in {}", dir.display());
    let mut texts = Vec::new();
    for f in files {
        let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).expect("open"));
        for line in BufReader::new(gz).lines() {
            let line = line.expect("read line");
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line).expect("json");
            texts.push(v["text"].as_str().expect("text field").to_owned());
        }
    }
    texts
}

/// SplitMix64: deterministic, dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Shingle set computed independently of the crate's iterator: words joined by
/// single spaces, `n` at a time (whole text if fewer words).
pub fn shingle_set(words: &[&str], n: usize) -> HashSet<String> {
    if words.is_empty() {
        return HashSet::new();
    }
    if words.len() < n {
        return std::iter::once(words.join(" ")).collect();
    }
    words.windows(n).map(|w| w.join(" ")).collect()
}

pub fn exact_jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let inter = a.intersection(b).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// Word-level edits of a normalized text.
pub fn delete_fraction(words: &[&str], f: f64, rng: &mut Rng) -> String {
    let kept: Vec<&str> = words.iter().copied().filter(|_| rng.f64() >= f).collect();
    kept.join(" ")
}

pub fn replace_fraction(words: &[&str], f: f64, pool: &[&str], rng: &mut Rng) -> String {
    let out: Vec<&str> = words
        .iter()
        .map(|&w| {
            if rng.f64() < f {
                pool[rng.below(pool.len())]
            } else {
                w
            }
        })
        .collect();
    out.join(" ")
}
