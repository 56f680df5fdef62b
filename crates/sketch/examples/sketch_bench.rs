//! Single-thread throughput of normalization + MinHash (K=128, 5-word shingles).
//!
//! Usage: `sketch_bench PATH... [--norm 1|2] [--repeat N] [--rounds N] [--only PHASE] [--write-normalized OUT]`
//! — each PATH a `.jsonl`/`.jsonl.gz` file or a directory of them (read in
//! sorted order); each line a JSON object with a `text` field. Runs every phase `--rounds` times (default
//! 3) and prints the best round as MB/s (of input text) and docs/s, for:
//! normalize only; shingle hashing only; signature only (pre-normalized text);
//! normalize + signature + band keys (the figure to compare). Time is the
//! thread's CPU time (from /proc/thread-self/schedstat, falling back to wall
//! time), so other load on the machine does not count. MB are 10^6 bytes of
//! the original (raw) document text, for every figure.
//!
//! `--only PHASE` runs one phase (`normalize`, `tokens`, `hashes`,
//! `signature`, `full`, `prepare`, `lang`), e.g. under a profiler. `lang` is
//! `detect_language` on the raw text; `tokens` is `token_count_with` on the
//! normalized text; `prepare` is what the pipeline's `prepare_keyed` asks of
//! this crate per page besides the language and the ids: normalize, signature,
//! band keys and token count. Each figure is also printed in µs per document.
//!
//! An FNV-1a digest of every normalized text, token count, signature and band
//! key is printed first (equal digests: equal output). The input's duplicate
//! shingles are reported too (the share of a
//! document's shingle hashes that repeat one of its earlier ones).
//!
//! `--norm 2` uses normalization version 2 and a version 2 spec (issue 16:
//! one token per CJK/Thai/… character; the signature phases include the
//! Traditional → Simplified fold). Default `--norm 1`.
//!
//! `--write-normalized OUT` also writes `{"raw_bytes": N, "text": normalized}`
//! per document, so other tools can sketch exactly the same word sequences.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Instant;

use provindex_sketch::{
    MinHasher, NormalizationVersion, SketchSpec, detect_language, normalize_with,
    shingle_hashes_into, token_count_with,
};

/// Seconds of CPU time of this thread, if Linux tells us.
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Runs `f` `rounds` times; returns the best (cpu seconds, wall seconds).
fn best<F: FnMut() -> u64>(rounds: usize, mut f: F) -> (f64, f64, u64) {
    let mut best_cpu = f64::INFINITY;
    let mut best_wall = f64::INFINITY;
    let mut acc = 0u64;
    for _ in 0..rounds {
        let c0 = thread_cpu_secs();
        let w0 = Instant::now();
        acc = acc.wrapping_add(f());
        let wall = w0.elapsed().as_secs_f64();
        // schedstat advances in scheduler ticks: fall back to wall time for
        // runs too short to measure.
        let cpu = match (c0, thread_cpu_secs()) {
            (Some(a), Some(b)) if b - a > 0.05 => b - a,
            _ => wall,
        };
        best_cpu = best_cpu.min(cpu);
        best_wall = best_wall.min(wall);
    }
    (best_cpu, best_wall, acc)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut paths = Vec::new();
    let mut repeat = 1usize;
    let mut rounds = 3usize;
    let mut write_normalized = None;
    let mut only: Option<String> = None;
    let mut version = NormalizationVersion::V1;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--norm" => {
                let n: u32 = args.next().ok_or("--norm 1|2")?.parse()?;
                version = NormalizationVersion::from_number(n).ok_or("--norm 1|2")?;
            }
            "--repeat" => repeat = args.next().ok_or("--repeat N")?.parse()?,
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--only" => only = Some(args.next().ok_or("--only PHASE")?),
            "--write-normalized" => {
                write_normalized = Some(args.next().ok_or("--write-normalized OUT")?)
            }
            _ if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => paths.push(std::path::PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        return Err(
            "usage: sketch_bench PATH... [--repeat N] [--rounds N] [--write-normalized OUT]".into(),
        );
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<_> = std::fs::read_dir(&p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let n = f.to_string_lossy();
                    n.ends_with(".jsonl") || n.ends_with(".jsonl.gz")
                })
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p);
        }
    }
    let mut texts = Vec::new();
    for path in &files {
        let file = std::fs::File::open(path)?;
        let reader: Box<dyn Read> = if path.to_string_lossy().ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        for line in BufReader::new(reader).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line)?;
            if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                texts.push(t.to_owned());
            }
        }
    }
    let texts: Vec<String> = (0..repeat).flat_map(|_| texts.iter().cloned()).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mb = bytes as f64 / 1e6;
    let docs = texts.len() as f64;
    let spec = SketchSpec::default().with_normalization(version);
    let normalize = |s: &str| normalize_with(version, s);
    let hasher = MinHasher::new(&spec)?;
    println!(
        "files={} docs={} bytes={bytes} ({mb:.1} MB) spec={spec} rounds={rounds}",
        files.len(),
        texts.len()
    );
    let normalized: Vec<String> = texts.iter().map(|s| normalize(s)).collect();
    let tokens: usize = normalized.iter().map(|n| n.split(' ').count()).sum();
    println!(
        "tokens={tokens} ({:.2} input bytes per token)",
        bytes as f64 / tokens.max(1) as f64
    );
    if let Some(out) = write_normalized {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
        for (raw, n) in texts.iter().zip(&normalized) {
            let line = serde_json::json!({ "raw_bytes": raw.len(), "text": n });
            writeln!(w, "{line}")?;
        }
        w.flush()?;
        println!("wrote {out}");
    }

    let run = |phase: &str| only.as_deref().is_none_or(|o| o == phase);
    let report = |name: &str, (cpu, wall, _): (f64, f64, u64)| {
        println!(
            "{name:<36} {:>8.1} MB/s {:>9.0} docs/s {:>7.2} us/doc  (cpu {cpu:.3} s, wall {wall:.3} s)",
            mb / cpu,
            docs / cpu,
            cpu * 1e6 / docs
        );
    };
    {
        // What the figures must not change: every normalized text, token
        // count, signature and band key (FNV-1a), so two builds compare.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for n in &normalized {
            eat(n.as_bytes());
            eat(&token_count_with(version, n).to_le_bytes());
            if let Some(sig) = hasher.signature(n) {
                eat(&sig.to_bytes());
                for key in hasher.band_keys(&sig) {
                    eat(&key.to_le_bytes());
                }
            }
        }
        println!("output digest {h:016x}");
    }
    if only.is_none() {
        let (mut all, mut distinct) = (0usize, 0usize);
        for n in &normalized {
            let mut h = hasher.shingle_hashes(n);
            all += h.len();
            h.sort_unstable();
            h.dedup();
            distinct += h.len();
        }
        println!(
            "shingles={all} distinct per document={distinct} ({:.1} % repeats)",
            100.0 * (all - distinct) as f64 / all.max(1) as f64
        );
    }
    if run("normalize") {
        report(
            "rust normalize",
            best(rounds, || {
                texts.iter().map(|s| normalize(s).len() as u64).sum()
            }),
        );
    }
    if run("tokens") {
        report(
            "rust token count (pre-normalized)",
            best(rounds, || {
                normalized
                    .iter()
                    .map(|n| u64::from(token_count_with(version, n)))
                    .sum()
            }),
        );
    }
    if run("hashes") {
        report(
            "rust shingle hashes (pre-normalized)",
            best(rounds, || {
                let mut buf = Vec::new();
                let mut acc = 0u64;
                for n in &normalized {
                    buf.clear();
                    shingle_hashes_into(n, 5, &mut buf);
                    acc = buf
                        .iter()
                        .map(|&h| u64::from(h))
                        .fold(acc, u64::wrapping_add);
                }
                acc
            }),
        );
    }
    if run("signature") {
        report(
            "rust signature (pre-normalized)",
            best(rounds, || {
                normalized
                    .iter()
                    .filter_map(|n| hasher.signature(n))
                    .map(|s| u64::from(s.0[0]))
                    .fold(0, u64::wrapping_add)
            }),
        );
    }
    if run("lang") {
        report(
            "detect_language (langid, raw text)",
            best(rounds, || {
                texts
                    .iter()
                    .map(|s| detect_language(s).map_or(0, |c| c.len() as u64))
                    .sum()
            }),
        );
    }
    if run("full") {
        report(
            "rust normalize+signature+band keys",
            best(rounds, || {
                let mut acc = 0u64;
                for s in &texts {
                    if let Some(sig) = hasher.signature(&normalize(s)) {
                        acc = acc.wrapping_add(hasher.band_keys(&sig)[0]);
                    }
                }
                acc
            }),
        );
    }
    if run("prepare") {
        report(
            "normalize+signature+bands+tokens",
            best(rounds, || {
                let mut acc = 0u64;
                for s in &texts {
                    let n = normalize(s);
                    if let Some(sig) = hasher.signature(&n) {
                        acc = acc.wrapping_add(hasher.band_keys(&sig)[0]);
                    }
                    acc = acc.wrapping_add(u64::from(token_count_with(version, &n)));
                }
                acc
            }),
        );
    }
    Ok(())
}
