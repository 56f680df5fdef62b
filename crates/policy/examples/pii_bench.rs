//! Single-thread cost of PII detection ([`provindex_policy::pii::detect_each`])
//! on page texts, as the index build runs it once per content.
//!
//! Usage: `pii_bench FILE.jsonl [--rounds N]` — one JSON object per line whose
//! `"text"` string is a page text (e.g. the build's extracted texts). Prints
//! the best round's CPU time (this thread's, from /proc/thread-self/schedstat)
//! as MB/s, µs per text, and the findings, so two builds can be compared for
//! equal output: the per-kind totals and an FNV-1a digest of every
//! (text number, kind, canonical identifier) handed to the callback.

use std::io::{BufRead, BufReader};

use provindex_policy::pii::{PiiKind, detect_each};

/// Seconds of CPU time of this thread, if Linux tells us.
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// The value of the first `"text"` string of a JSON line (this crate has no
/// JSON parser; the lines are flat objects). `None` if there is none or an
/// escape is malformed.
fn text_field(line: &str) -> Option<String> {
    let start = line.find("\"text\"")? + "\"text\"".len();
    let rest = line.get(start..)?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
                        let h: String = chars.take(4).collect();
                        u32::from_str_radix(&h, 16).ok()
                    };
                    let u = hex(&mut chars)?;
                    let u = if (0xD800..0xDC00).contains(&u) {
                        // A surrogate pair: `\uD83D\uDE00`.
                        let (Some('\\'), Some('u')) = (chars.next(), chars.next()) else {
                            return None;
                        };
                        let low = hex(&mut chars)?;
                        0x10000 + ((u - 0xD800) << 10) + (low.checked_sub(0xDC00)?)
                    } else {
                        u
                    };
                    out.push(char::from_u32(u).unwrap_or('\u{FFFD}'));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut rounds = 3usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            _ if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => path = Some(a),
        }
    }
    let path = path.ok_or("usage: pii_bench FILE.jsonl [--rounds N]")?;
    let mut texts = Vec::new();
    for (n, line) in BufReader::new(std::fs::File::open(&path)?)
        .lines()
        .enumerate()
    {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        texts.push(text_field(&line).ok_or_else(|| format!("{path}:{}: no text", n + 1))?);
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "docs={} bytes={bytes} ({:.1} MB) rounds={rounds}",
        texts.len(),
        bytes as f64 / 1e6
    );
    let mut best = f64::INFINITY;
    let mut totals = [0u64; 4];
    let mut digest = 0u64;
    let mut with_findings = 0usize;
    for _ in 0..rounds {
        let c0 = thread_cpu_secs();
        let w0 = std::time::Instant::now();
        let mut t = [0u64; 4];
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut docs = 0;
        for (i, text) in texts.iter().enumerate() {
            let findings = detect_each(text, |kind, canonical| {
                for b in (i as u64)
                    .to_le_bytes()
                    .into_iter()
                    .chain(kind.name().bytes())
                    .chain(canonical.bytes())
                {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
            });
            docs += usize::from(!findings.is_empty());
            for (slot, kind) in t.iter_mut().zip(PiiKind::ALL) {
                *slot += u64::from(findings.count(kind));
            }
        }
        let wall = w0.elapsed().as_secs_f64();
        let cpu = match (c0, thread_cpu_secs()) {
            (Some(a), Some(b)) if b - a > 0.05 => b - a,
            _ => wall,
        };
        best = best.min(cpu);
        (totals, digest, with_findings) = (t, h, docs);
    }
    println!(
        "pii detect_each {:>8.1} MB/s {:>7.2} us/doc (cpu {best:.3} s)",
        bytes as f64 / 1e6 / best,
        best * 1e6 / texts.len() as f64
    );
    let named: Vec<String> = PiiKind::ALL
        .iter()
        .zip(totals)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    println!(
        "findings {} in {with_findings} texts, digest {digest:016x}",
        named.join(" ")
    );
    Ok(())
}
