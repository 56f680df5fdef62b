//! Single-thread WARC throughput of provindex-corpus (issue 3), compared with
//! FastWARC / Resiliparse by `bench/warc/run.sh`.
//!
//! Usage: `warc_bench parse|extract PATH...` — each PATH a WARC file
//! (`.warc`, `.warc.gz`, `.warc.zst`) or a directory of them (read in sorted
//! order). All files are read one after another by one thread.
//!
//! * `parse`: [`WarcReader`] over every file; every record of **every type**
//!   (warcinfo, response, ...) is framed, its headers parsed, its block read
//!   into memory (and, for `.warc.gz`, decompressed); we touch its length.
//!   No HTTP parsing.
//! * `extract`: [`read_path_with`] → [`SourceDoc`] with text, i.e. WARC
//!   framing + HTTP head parsing + transfer/content decoding + charset
//!   detection and decoding + HTML→text (`keep_html = false`). Non-document
//!   records (warcinfo, request, metadata) are framed and skipped.
//! * `docs`: as `extract`, but HTML pages are decoded and left as HTML
//!   (`html_text = false`), as the build's scan reads them before its own
//!   HTML pass; `text_bytes` counts the HTML.
//!
//! Prints one JSON line: records (by WARC type), docs, bytes (`input_bytes`:
//! the files as stored, i.e. compressed; `block_bytes`: sum of the records'
//! WARC Content-Length, i.e. uncompressed blocks; `text_bytes` for extract),
//! elapsed wall seconds, CPU seconds of this process (user + sys, from
//! `/proc/self/stat`, clock ticks of 10 ms), and records/s and MB/s both per
//! CPU second (`*_per_cpu_s`, the figure to compare on a loaded machine) and
//! per wall second. MB = 10^6 bytes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use provindex_corpus::{ReaderOptions, SourceDoc, WarcReader, read_path_with};

/// (user, sys) CPU seconds of this process so far, from `/proc/self/stat`.
fn cpu_times() -> (f64, f64) {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return (f64::NAN, f64::NAN);
    };
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 of the whole line (1-based), i.e. 12 and 13 after ')'.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0; // USER_HZ: sysconf(_SC_CLK_TCK) is 100 on Linux x86-64.
    let get = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
            / tick
    };
    (get(11), get(12))
}

fn collect_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let n = f.to_string_lossy();
                    n.ends_with(".warc") || n.ends_with(".warc.gz") || n.ends_with(".warc.zst")
                })
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

#[derive(Default)]
struct Counts {
    records_by_type: std::collections::BTreeMap<String, u64>,
    docs: u64,
    docs_with_text: u64,
    errors: u64,
    block_bytes: u64,
    text_bytes: u64,
}

fn run_parse(file: &Path, c: &mut Counts) -> std::io::Result<()> {
    let f = std::fs::File::open(file)?;
    let mut r = WarcReader::new(f, file.display().to_string());
    while let Some(rec) = r.next_record() {
        match rec {
            Ok(rec) => c.block_bytes += std::hint::black_box(rec.block.len()) as u64,
            Err(e) => {
                c.errors += 1;
                eprintln!("error: {e}");
            }
        }
    }
    for (k, v) in &r.stats().records_by_type {
        *c.records_by_type.entry(k.clone()).or_insert(0) += v;
    }
    Ok(())
}

fn run_extract(file: &Path, c: &mut Counts, html_text: bool) {
    let opts = ReaderOptions {
        keep_html: false,
        html_text,
        ..ReaderOptions::default()
    };
    let mut docs = read_path_with(file, opts);
    for d in docs.by_ref() {
        match d {
            Ok(SourceDoc {
                text,
                html,
                record_length,
                ..
            }) => {
                c.docs += 1;
                c.block_bytes += record_length;
                if let Some(t) = text.or(html) {
                    c.docs_with_text += 1;
                    c.text_bytes += std::hint::black_box(t.len()) as u64;
                }
            }
            Err(e) => {
                c.errors += 1;
                eprintln!("error: {e}");
            }
        }
    }
    for (k, v) in &docs.stats().records_by_type {
        *c.records_by_type.entry(k.clone()).or_insert(0) += v;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: warc_bench parse|extract|docs PATH...";
    let (mode, paths) = args.split_first().ok_or(usage)?;
    if !["parse", "extract", "docs"].contains(&mode.as_str()) {
        return Err(usage.into());
    }
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let files = collect_files(&paths)?;
    if files.is_empty() {
        return Err(format!("no WARC files in {paths:?}\n{usage}").into());
    }
    let input_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;

    let mut c = Counts::default();
    let (u0, s0) = cpu_times();
    let t0 = Instant::now();
    for f in &files {
        if mode == "parse" {
            run_parse(f, &mut c)?;
        } else {
            run_extract(f, &mut c, mode == "extract");
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let (u1, s1) = cpu_times();
    let (user, sys) = (u1 - u0, s1 - s0);
    let cpu = user + sys;

    let records: u64 = c.records_by_type.values().sum();
    // The figure counted as "records" per mode: every record for parse, docs
    // (response/resource/revisit/conversion records) for extract.
    let counted = if mode == "parse" { records } else { c.docs };
    let json = serde_json::json!({
        "tool": "provindex-corpus",
        "mode": mode,
        "record_types": if mode == "parse" { "all" } else { "all framed; docs = response/resource/revisit/conversion" },
        "files": files.len(),
        "records": records,
        "records_by_type": c.records_by_type,
        "docs": c.docs,
        "docs_with_text": c.docs_with_text,
        "errors": c.errors,
        "input_bytes": input_bytes,
        "block_bytes": c.block_bytes,
        "text_bytes": c.text_bytes,
        "elapsed_s": elapsed,
        "user_s": user,
        "sys_s": sys,
        "cpu_s": cpu,
        "records_per_cpu_s": counted as f64 / cpu,
        "input_mb_per_cpu_s": input_bytes as f64 / 1e6 / cpu,
        "block_mb_per_cpu_s": c.block_bytes as f64 / 1e6 / cpu,
        "records_per_s": counted as f64 / elapsed,
        "input_mb_per_s": input_bytes as f64 / 1e6 / elapsed,
        "block_mb_per_s": c.block_bytes as f64 / 1e6 / elapsed,
    });
    println!("{json}");
    Ok(())
}
