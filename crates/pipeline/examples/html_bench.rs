//! CPU per page of the build's HTML pass (issue 17): `extract_html` — the
//! text extractor's tokenizer pass with the signals scanner observing it,
//! as `prepare` runs it — or the extractor alone (`--extract`), over the
//! HTML pages of the given inputs (read once into memory).
//!
//! Usage: `html_bench [--extract] [--rounds N] FILE...`. Prints pages, MB,
//! the best round's CPU seconds of this thread (/proc/thread-self/schedstat)
//! and µs per page, and a digest of every output (text, title, language,
//! license finding, signals): equal digests, equal output.

use std::hash::Hasher;

use provindex_corpus::ReaderOptions;

fn thread_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut extract_only = false;
    let mut rounds = 3usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--extract" => extract_only = true,
            "--rounds" => rounds = args.next().ok_or("--rounds needs a number")?.parse()?,
            _ => files.push(a),
        }
    }
    if files.is_empty() {
        return Err("usage: html_bench [--extract] [--rounds N] FILE...".into());
    }
    let options = ReaderOptions {
        html_text: false,
        ..ReaderOptions::default()
    };
    let mut pages = Vec::new();
    for f in &files {
        for doc in provindex_corpus::read_path_with(std::path::Path::new(f), options.clone()) {
            let doc = doc?;
            if let Some(html) = doc.html {
                pages.push((doc.url.unwrap_or_default(), html));
            }
        }
    }
    let bytes: usize = pages.iter().map(|(_, h)| h.len()).sum();
    let (mut best, mut digest) = (f64::INFINITY, 0);
    for _ in 0..rounds.max(1) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let t0 = thread_cpu_secs();
        for (url, html) in &pages {
            let (e, rest) = if extract_only {
                (provindex_corpus::html::extract(html), String::new())
            } else {
                let (e, finding, signals) = provindex_pipeline::extract_html(html, Some(url));
                (e, format!("{finding:?}{signals:?}"))
            };
            h.write(e.text.as_bytes());
            h.write(format!("{:?}{:?}{rest}", e.title, e.lang).as_bytes());
        }
        best = best.min(thread_cpu_secs() - t0);
        digest = h.finish();
    }
    println!(
        "{} pages={} MB={:.1} best_cpu_s={best:.3} us_per_page={:.1} digest={digest:016x}",
        if extract_only {
            "extract"
        } else {
            "extract_html"
        },
        pages.len(),
        bytes as f64 / 1e6,
        best * 1e6 / pages.len().max(1) as f64,
    );
    Ok(())
}
