//! Agreement of language detection on another sample size with a reference
//! one (issue 17): how often the detector (whatlang then; langid since) on
//! the first N bytes of a text gives the same reliable guess as on the first
//! `--reference` bytes (default [`LANG_SAMPLE_BYTES`]).
//!
//! Usage: `lang_sample PATH... [--sizes 1024,2048,4096] [--reference BYTES]` —
//! each PATH a `.jsonl`/`.jsonl.gz` file whose lines have a `text` field. For
//! each size prints: texts with a reliable guess at the reference, how many of those get
//! the same reliable guess at N bytes (agreement), and how many texts change
//! their `detect_language` result at all (either way). Then the cascade
//! each size would allow: a reliable guess on the first N bytes is taken,
//! else the reference one — its agreement over all texts and how many texts
//! it decides early.

use std::io::{BufRead, BufReader, Read};

use provindex_sketch::{
    LANG_SAMPLE_BYTES, LanguageGuess, language_guess, language_sample_of as prefix,
};

/// `detect_language` on a text whose sample is `sample`.
fn detect(sample: &str) -> Option<&'static str> {
    language_guess(sample)
        .filter(|g| g.reliable)
        .map(|g| g.code)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut paths = Vec::new();
    let mut sizes = vec![1024usize, 2048, 4096];
    let mut reference = LANG_SAMPLE_BYTES;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--sizes" {
            let v = args.next().ok_or("--sizes needs a value")?;
            sizes = v
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("--sizes {v:?}: {e}"))?;
        } else if a == "--reference" {
            let v = args.next().ok_or("--reference needs a value")?;
            reference = v.parse().map_err(|e| format!("--reference {v:?}: {e}"))?;
        } else {
            paths.push(a);
        }
    }
    let mut texts = Vec::new();
    for p in &paths {
        let f = std::fs::File::open(p).map_err(|e| format!("{p}: {e}"))?;
        let r: Box<dyn Read> = if p.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        } else {
            Box::new(f)
        };
        for line in BufReader::new(r).lines() {
            let v: serde_json::Value = serde_json::from_str(&line?)?;
            if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                texts.push(t.to_owned());
            }
        }
    }
    let full: Vec<Option<&str>> = texts.iter().map(|t| detect(prefix(t, reference))).collect();
    let reliable = full.iter().filter(|g| g.is_some()).count();
    let longer = texts.iter().filter(|t| t.len() > 1024).count();
    println!(
        "texts {}  reliable at {reference}: {reliable}  longer than 1024 B: {longer}",
        texts.len()
    );
    for &n in &sizes {
        let (mut same, mut changed) = (0usize, 0usize);
        let mut diffs = std::collections::BTreeMap::<(String, String), usize>::new();
        for (t, g) in texts.iter().zip(&full) {
            let s = detect(prefix(t, n));
            if g.is_some() && s == *g {
                same += 1;
            }
            if s != *g {
                changed += 1;
                *diffs
                    .entry((format!("{g:?}"), format!("{s:?}")))
                    .or_default() += 1;
            }
        }
        println!(
            "{n:>5} B: agreement on reliable {same}/{reliable} = {:.3} %  results changed {changed}/{} = {:.3} %",
            100.0 * same as f64 / reliable.max(1) as f64,
            texts.len(),
            100.0 * changed as f64 / texts.len().max(1) as f64
        );
        let mut top: Vec<_> = diffs.into_iter().collect();
        top.sort_by_key(|b| std::cmp::Reverse(b.1));
        for ((a, b), c) in top.iter().take(6) {
            println!("        {a} -> {b}: {c}");
        }
    }
    for &n in &sizes {
        let mut early = 0usize;
        let mut same = 0usize;
        for (t, g) in texts.iter().zip(&full) {
            let guess = match language_guess(prefix(t, n)) {
                Some(LanguageGuess {
                    code,
                    reliable: true,
                    ..
                }) => {
                    early += 1;
                    Some(code)
                }
                _ => *g,
            };
            same += usize::from(guess == *g);
        }
        println!(
            "cascade {n:>5} B: same result {same}/{} = {:.3} %  decided on {n} B: {early}",
            texts.len(),
            100.0 * same as f64 / texts.len().max(1) as f64,
        );
    }
    Ok(())
}
