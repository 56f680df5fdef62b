//! Our HTML tokenizer against html5ever's on real pages (issue 17), and the
//! CPU each takes: `html_diff [--check|--time] FILE...` (WARC or other
//! inputs; their HTML pages are read once into memory).
//!
//! * `--check` (default): every page through both, with
//!   `html::differs_from_html5ever` (same `Extracted`, same tags and text an
//!   observer sees); prints the first differences and counts, exits 1 if
//!   any page differs.
//! * `--time`: the CPU seconds of `html::extract` on all pages with each
//!   tokenizer (best of 3 rounds, this thread's CPU time from
//!   /proc/thread-self/schedstat), and MB of HTML per CPU second.

use provindex_corpus::ReaderOptions;
use provindex_corpus::html::{
    differs_from_html5ever, extract_observed, extract_observed_html5ever,
};

fn thread_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

fn main() {
    let mut time = false;
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--time" => time = true,
            "--check" => time = false,
            _ => files.push(a),
        }
    }
    let options = ReaderOptions {
        html_text: false,
        ..ReaderOptions::default()
    };
    let mut pages = Vec::new();
    for f in &files {
        for doc in
            provindex_corpus::read_path_with(std::path::Path::new(f), options.clone()).flatten()
        {
            if let Some(html) = doc.html {
                pages.push((doc.url.unwrap_or_default(), html));
            }
        }
    }
    let bytes: usize = pages.iter().map(|(_, h)| h.len()).sum();
    println!("{} HTML pages, {:.1} MB", pages.len(), bytes as f64 / 1e6);
    if time {
        for (name, ours) in [("html5ever", false), ("ours", true)] {
            let mut best = f64::INFINITY;
            let mut out = 0usize;
            for _ in 0..3 {
                let c0 = thread_cpu_secs();
                for (_, html) in &pages {
                    let e = if ours {
                        extract_observed(html, &mut ())
                    } else {
                        extract_observed_html5ever(html, &mut ())
                    };
                    out = out.wrapping_add(e.text.len());
                }
                best = best.min(thread_cpu_secs() - c0);
            }
            println!(
                "{name:>9}: {best:.3} CPU-s, {:.1} MB/CPU-s, {:.2} CPU-ms per page (text {out} B)",
                bytes as f64 / 1e6 / best,
                best * 1e3 / pages.len().max(1) as f64
            );
        }
        return;
    }
    let mut differ = 0;
    for (url, html) in &pages {
        if let Some(d) = differs_from_html5ever(html) {
            differ += 1;
            if differ <= 5 {
                println!("DIFFERS {url}: {d}");
            }
        }
    }
    println!("{differ} of {} pages differ", pages.len());
    if differ > 0 {
        std::process::exit(1);
    }
}
