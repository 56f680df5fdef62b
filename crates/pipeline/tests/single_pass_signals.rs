//! Issue 5: text, license and HTML opt-out signals from ONE tokenizer pass
//! (`prepare::extract_html`: the corpus extractor's tokens fed to the signals
//! scanner) equal what two passes give (`corpus::html::extract` and
//! `signals::analyze_html`), on every HTML record of the real WARC files in
//! `tests/data/corpus/warc` and on crafted pages where the two tokenizer
//! passes switch to raw text differently.
//!
//! `PROVINDEX_EQUIV_WARC=a.warc.gz:b.warc.gz` adds more WARC files (e.g. the
//! benchmark corpus, bench/out/warc-200m).

use std::path::{Path, PathBuf};

use provindex_corpus::{ReaderOptions, SourceDoc, read_path_with};
use provindex_pipeline::{ScanOptions, extract_html, prepare, reader_options};

fn shared_warcs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus/warc");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("shared corpus at {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // WAT/WET hold no HTML records.
            (name.ends_with(".warc") || name.ends_with(".warc.gz"))
                && !name.contains(".wat")
                && !name.contains(".wet")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the shared WARC files in {}",
        dir.display()
    );
    if let Ok(more) = std::env::var("PROVINDEX_EQUIV_WARC") {
        files.extend(more.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    files
}

/// Two passes (the reader's extractor, then `analyze_html`) vs one.
fn assert_single_pass_equal(html: &str, url: Option<&str>, what: &str) -> bool {
    let text = provindex_corpus::html::extract(html);
    let (finding, signals) = provindex_signals::analyze_html(html, url);
    let (one_text, one_finding, one_signals) = extract_html(html, url);
    assert_eq!(one_text, text, "text differs: {what}");
    assert_eq!(one_finding, finding, "license differs: {what}");
    assert_eq!(one_signals, signals, "HTML signals differ: {what}");
    finding.id.is_some() || !signals.is_empty()
}

#[derive(Default, Debug)]
struct Counts {
    html: usize,
    with_findings: usize,
    records: usize,
}

#[test]
fn single_pass_equals_two_passes_on_every_real_html_record() {
    let keep = ReaderOptions {
        keep_html: true,
        ..ReaderOptions::default()
    };
    let mut counts = Counts::default();
    for file in shared_warcs() {
        let name = file.display().to_string();
        let two_pass: Vec<SourceDoc> = read_path_with(&file, keep.clone())
            .filter_map(Result::ok)
            .collect();
        let one_pass: Vec<SourceDoc> =
            read_path_with(&file, reader_options(ScanOptions::default()))
                .filter_map(Result::ok)
                .collect();
        assert_eq!(two_pass.len(), one_pass.len(), "{name}: record count");
        for (old, new) in two_pass.into_iter().zip(one_pass) {
            counts.records += 1;
            let what = format!("{name} {:?}", old.url);
            if let Some(html) = old.html.as_deref() {
                counts.html += 1;
                // The pipeline's reader leaves the page to `prepare`.
                assert_eq!(new.html.as_deref(), Some(html), "{what}");
                assert_eq!(new.text, None, "{what}");
                if assert_single_pass_equal(html, old.url.as_deref(), &what) {
                    counts.with_findings += 1;
                }
            }
            // The whole capture: one pass (reader_options) vs two (HTML and
            // text from the reader, `analyze_html` in `prepare`).
            let (a, b) = (prepare(old, "c"), prepare(new, "c"));
            assert_eq!(a.capture_id, b.capture_id, "{what}");
            assert_eq!(a.record, b.record, "{what}");
            assert_eq!(
                a.content.as_ref().map(|c| (c.content_id, &c.preview)),
                b.content.as_ref().map(|c| (c.content_id, &c.preview)),
                "{what}"
            );
            assert_eq!(
                a.site_file.as_ref().map(|f| format!("{f:?}")),
                b.site_file.as_ref().map(|f| format!("{f:?}")),
                "{what}"
            );
        }
    }
    eprintln!("{counts:?}");
    assert!(
        counts.html >= 300,
        "too few HTML records compared: {counts:?}"
    );
    assert!(
        counts.with_findings >= 5,
        "too few pages with a license or signal: {counts:?}"
    );
}

/// Pages where the extractor's tokenizer reads raw text differently from the
/// signals scan's own pass: the scanner makes up for it. (Not exactly in
/// every case: a `<` in raw text that the extractor reads as markup, e.g.
/// `<svg><script>if (a<b)…`, can make its tokenizer swallow the end tag.)
#[test]
fn single_pass_equals_two_passes_where_raw_text_modes_differ() {
    let cc = "https://creativecommons.org/licenses/by/4.0/";
    let pages = [
        // noscript: raw text for the extractor, markup for the signals scan.
        format!(
            r#"<html><head><noscript><meta name="robots" content="noai"></noscript></head>
            <body><noscript><p>Licensed <a rel="license" href="{cc}">CC BY</a></p></noscript>
            <p>text</p></body></html>"#
        ),
        format!(r#"<body><noscript><a href="{cc}">CC BY</a> <img src=x>"#),
        format!(r#"<body><noscript><a href="{cc}">CC BY</noscript> after</a> <p>more"#),
        // Self-closing raw-text elements: markup for the extractor, raw text
        // for the signals scan.
        format!(
            r#"<html><head><script src="x.js"/><link rel="license" href="{cc}"></script>
            <title/>All rights <b>reserved</b></title></head><body><p>x</p>
            <a rel="license" href="{cc}">CC</a></body></html>"#
        ),
        format!(
            r#"<body><p>All rights reserved</p><style/><a rel=license href="{cc}">x</a></style>
            <textarea/><a href="{cc}">y</a></textarea><footer><a href="{cc}">CC BY</a></footer>"#
        ),
        format!(r#"<body><script type="application/ld+json"/>{{"license": "{cc}"}}</script><p>z"#),
        // Raw-text elements inside content the extractor drops.
        format!(
            r#"<body><svg><title>All rights <a href=x>reserved</a></title><style>a<b>{{}}</style>
            <script>if (a > b) {{ x = "a rel=license href='{cc}'" }}</script></svg>
            <template><script type="application/ld+json">{{"license":"{cc}"}}</script></template>
            <select><option><title>t</title></select><object><iframe><a href="{cc}">i</a></iframe></object>
            <a rel="license" href="{cc}">page</a></body>"#
        ),
        // plaintext: raw text to the end for the extractor.
        format!(r#"<body><p>x</p><plaintext><a rel="license" href="{cc}">CC</a> &amp; more"#),
        r#"<head><meta name="tdm-reservation" content="1"><noscript><iframe src=x></iframe></noscript>
            <script>var s = "</noscript>";</script></head><body>Tous droits réservés</body>"#
            .to_owned(),
        String::new(),
        "<<<>>><p <a></".to_owned(),
        "<noscript>".to_owned(),
        "<script/>".to_owned(),
    ];
    for (i, page) in pages.iter().enumerate() {
        assert_single_pass_equal(page, Some("https://example.org/a/b"), &format!("page {i}"));
    }
    // The crafted pages do carry what is compared.
    let (_, f, s) = extract_html(&pages[0], None);
    assert_eq!(f.spdx.as_deref(), Some("CC-BY-4.0"));
    assert!(!s.is_empty());
}

/// Scan options travel with each call: two scans with opposite choices
/// running at once in one process each get their own (signal extraction
/// used to be a process-wide switch that the last task to start set).
#[test]
fn scan_options_are_per_call_not_per_process() {
    let page = SourceDoc {
        record_id: Some("<urn:uuid:7d1c3f0e-0000-4000-8000-000000000001>".into()),
        kind: provindex_corpus::DocKind::Response,
        url: Some("https://reserved.example/books/one.html".into()),
        date_unix: Some(1_700_000_000),
        date_raw: Some("2023-11-14T22:13:20Z".into()),
        http_status: Some(200),
        http_headers: vec![("X-Robots-Tag".into(), "noai, noimageai".into())],
        content_type: Some("text/html".into()),
        html: Some(
            "<html><head><title>One</title><meta name=\"robots\" content=\"noai\"></head>\
             <body><p>A chapter of a book whose publisher reserves text and data mining.</p>\
             <footer><a rel=\"license\" href=\"https://creativecommons.org/licenses/by-nd/4.0/\">\
             CC BY-ND 4.0</a></footer></body></html>"
                .into(),
        ),
        ..SourceDoc::default()
    };
    let run = |options: ScanOptions| {
        let page = page.clone();
        std::thread::spawn(move || {
            (0..200)
                .map(|_| {
                    let prepared = provindex_pipeline::prepare_with(
                        page.clone(),
                        "c",
                        provindex_pipeline::default_hasher(),
                        options,
                    );
                    (
                        prepared.record.signals.len(),
                        prepared.record.license.is_some(),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let on = run(ScanOptions {
        extract_signals: true,
    });
    let off = run(ScanOptions {
        extract_signals: false,
    });
    let (on, off) = (on.join().expect("on"), off.join().expect("off"));
    // Header noai, header noimageai and the meta noai; the CC license.
    assert!(on.iter().all(|&found| found == (3, true)), "{:?}", &on[..3]);
    assert!(
        off.iter().all(|&found| found == (0, false)),
        "{:?}",
        &off[..3]
    );
}
