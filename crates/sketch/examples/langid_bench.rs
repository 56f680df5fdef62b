//! langid.py's identifier ([`provindex_sketch::langid`]) next to `whatlang`
//! (issue 17): answers and cost per text on the same samples (the first
//! [`provindex_sketch::LANG_SAMPLE_BYTES`] bytes of each text, or `--sample`
//! bytes, cut at a character boundary). langid is run as `detect_language`
//! runs it (without [`provindex_sketch::LANG_EXCLUDED_CLASSES`]).
//!
//! Usage: `langid_bench PATH [--answers] [--rounds N] [--sample BYTES] [--langid-only]` — PATH
//! a `.jsonl` or `.jsonl.gz` file whose lines have a `text` field.
//! `--answers` prints one line per text: index, langid label, probability,
//! feature occurrences, sample bytes, whatlang's ISO 639-3 code, its
//! confidence, whether it is reliable (`-` when whatlang finds nothing).
//! Otherwise times both over all texts, alternating, N rounds (default 3),
//! printing µs per text (thread CPU time) per round; `--langid-only` times
//! langid alone (whatlang's tables then do not evict langid's between rounds).

use std::io::{BufRead, BufReader, Read};

use provindex_sketch::{LANG_EXCLUDED_CLASSES, LANG_SAMPLE_BYTES, langid, language_sample_of};

fn thread_cpu() -> f64 {
    // /proc/thread-self/stat fields 14 and 15: user and system clock ticks.
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or(
        "usage: langid_bench PATH [--answers] [--rounds N] [--sample BYTES] [--langid-only]",
    )?;
    let mut answers = false;
    let mut rounds = 3usize;
    let mut sample_bytes = LANG_SAMPLE_BYTES;
    let mut langid_only = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--answers" => answers = true,
            "--langid-only" => langid_only = true,
            "--rounds" => rounds = args.next().ok_or("--rounds needs a value")?.parse()?,
            "--sample" => {
                sample_bytes = args.next().ok_or("--sample needs a value")?.parse()?;
            }
            _ => return Err(format!("unknown argument {a:?}").into()),
        }
    }
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let reader: Box<dyn Read> = if path.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut texts = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(&line?).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        texts.push(v["text"].as_str().unwrap_or("").to_owned());
    }
    let classify = |s: &str| langid::classify_excluding(s.as_bytes(), LANG_EXCLUDED_CLASSES);
    if answers {
        for (i, t) in texts.iter().enumerate() {
            let s = language_sample_of(t, sample_bytes);
            let a = classify(s);
            let w = whatlang::detect(s).map_or("-\t-\t-".to_owned(), |w| {
                format!(
                    "{}\t{:.4}\t{}",
                    w.lang().code(),
                    w.confidence(),
                    w.is_reliable()
                )
            });
            println!(
                "{i}\t{}\t{:.9}\t{}\t{}\t{w}",
                a.class,
                a.probability,
                a.features,
                s.len()
            );
        }
        return Ok(());
    }
    let _ = langid::classify(b"warm up the model");
    let n = texts.len().max(1) as f64;
    for round in 0..rounds {
        let t0 = thread_cpu();
        let mut sink = 0usize;
        for t in texts.iter().filter(|_| !langid_only) {
            sink += whatlang::detect(language_sample_of(t, sample_bytes))
                .map_or(0, |w| w.lang().code().len());
        }
        let t1 = thread_cpu();
        for t in &texts {
            sink += classify(language_sample_of(t, sample_bytes)).class.len();
        }
        let t2 = thread_cpu();
        if langid_only {
            println!(
                "round {round}: langid {:.1} µs/text ({sink})",
                (t2 - t1) * 1e6 / n
            );
            continue;
        }
        println!(
            "round {round}: whatlang {:.1} µs/text, langid {:.1} µs/text, ratio {:.2} ({sink})",
            (t1 - t0) * 1e6 / n,
            (t2 - t1) * 1e6 / n,
            (t1 - t0) / (t2 - t1)
        );
    }
    Ok(())
}
