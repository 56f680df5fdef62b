//! Times the signals scan alone (`analyze_html`: its own tokenizer pass and
//! the sink `HtmlScanner` shares) over pages dumped to one file, for quick
//! profiling (e.g. under `valgrind --tool=callgrind`) of the signals overhead
//! (issue 5; docs/BENCHMARKS.md).
//!
//! Usage: `scan_bench PAGES [ROUNDS] [tokenize]`; PAGES holds records of
//! `u32 url length, u32 html length` (little-endian), the URL, the HTML.
//! Prints pages, bytes, licensed pages and seconds. With `tokenize`, runs
//! only html5ever's tokenizer into a sink that drops every token (what the
//! scan costs is the difference).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: scan_bench PAGES [ROUNDS]")?;
    let rounds: usize = args.get(1).map(|r| r.parse()).transpose()?.unwrap_or(1);
    let tokenize_only = args.get(2).is_some_and(|m| m == "tokenize");
    let data = std::fs::read(path)?;
    let mut pages = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 8 {
        let ul = u32::from_le_bytes(rest[0..4].try_into()?) as usize;
        let hl = u32::from_le_bytes(rest[4..8].try_into()?) as usize;
        let url = String::from_utf8_lossy(&rest[8..8 + ul]).into_owned();
        let html = String::from_utf8_lossy(&rest[8 + ul..8 + ul + hl]).into_owned();
        pages.push((url, html));
        rest = &rest[8 + ul + hl..];
    }
    let bytes: usize = pages.iter().map(|(_, h)| h.len()).sum();
    let t0 = Instant::now();
    let mut licensed = 0;
    let mut signals = 0;
    for _ in 0..rounds {
        for (url, html) in &pages {
            if tokenize_only {
                tokenize(html);
                continue;
            }
            let (finding, sigs) = provindex_signals::analyze_html(html, Some(url));
            licensed += usize::from(finding.license.is_some());
            signals += sigs.len();
        }
    }
    println!(
        "pages={} bytes={bytes} rounds={rounds} licensed={licensed} signals={signals} seconds={:.3}",
        pages.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// html5ever's tokenizer over `html` into a sink that drops every token.
fn tokenize(html: &str) {
    use html5ever::tendril::StrTendril;
    use html5ever::tokenizer::{
        BufferQueue, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
    };
    struct Drop;
    impl TokenSink for Drop {
        type Handle = ();
        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            std::hint::black_box(&token);
            TokenSinkResult::Continue
        }
    }
    let tok = Tokenizer::new(Drop, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tok.feed(&input);
    tok.end();
}
