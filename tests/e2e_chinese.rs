//! Chinese support end to end (issue 16), with real processes: a WARC of real
//! Simplified Chinese pages (debian-handbook paragraphs from
//! crates/sketch/tests/data/zh, CC-BY-SA-3.0/GPL-2+, see its README), a
//! Traditional-character copy of one page (OpenCC `s2tw`, from the same
//! file), a 1%-edited copy, an unrelated Chinese page, a short page and an
//! English control page is indexed by `provindex index`, served by
//! `provindex serve`, and checked: normalization version 2 in the manifest,
//! FindWork near-duplicates across the edit and the script, content
//! languages in LookupContent/LookupUrl, character token counts, the export
//! rows' language and the report's language counts.

mod common;

use std::collections::BTreeMap;

use common::{
    ServerProcess, edit_one_percent_of_han, html_page, html_response_record, run_ok,
    zh_handbook_rows,
};
use provindex_proto::v1::{
    FindWorkRequest, LookupContentRequest, LookupUrlRequest, lookup_content_request::Key,
    provenance_service_client::ProvenanceServiceClient,
};
use serde_json::Value;

const ENGLISH: &str = "The Debian project is an association of individuals who have made \
    common cause to create a free operating system. This operating system is called Debian. \
    An operating system is the set of basic programs and utilities that make your computer \
    run. At the core of an operating system is the kernel, the most fundamental program on \
    the computer, which does all the basic housekeeping and lets you start other programs.";

/// 15 Han characters (punctuation is not a token): 这是一个简短的中文页面 + 用于测试.
const SHORT: &str = "这是一个简短的中文页面，用于测试。";

/// The paragraphs `range` of field `field`, one `<p>` each.
fn paragraphs(rows: &[Value], range: std::ops::Range<usize>, field: &str) -> Vec<String> {
    rows[range]
        .iter()
        .map(|r| r[field].as_str().expect(field).to_owned())
        .collect()
}

const ORIGINAL: &str = "https://zh.example.org/handbook/raid.html";
const EDITED: &str = "https://mirror.example.net/raid-copy.html";
const TRADITIONAL: &str = "https://tw.example.org/handbook/raid.html";
const UNRELATED: &str = "https://zh.example.org/handbook/other.html";
const SHORT_URL: &str = "https://zh.example.org/short.html";
const ENGLISH_URL: &str = "https://en.example.org/about.html";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_pages_are_indexed_with_v2_found_across_scripts_and_labelled_cmn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = zh_handbook_rows();
    let original = paragraphs(&rows, 0..6, "zh_cn");
    let traditional = paragraphs(&rows, 0..6, "s2tw");
    let (edited, edits) = edit_one_percent_of_han(&original);
    let han: usize = original
        .iter()
        .flat_map(|p| p.chars())
        .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
        .count();
    assert!(
        edits >= 5 && edits * 100 <= han + 100,
        "{edits} edits of {han}"
    );
    let unrelated = paragraphs(&rows, 40..46, "zh_cn");
    let pages = [
        (ORIGINAL, html_page("zh-CN", "RAID", &original)),
        (EDITED, html_page("zh-CN", "RAID", &edited)),
        (TRADITIONAL, html_page("zh-TW", "RAID", &traditional)),
        (UNRELATED, html_page("zh-CN", "其他", &unrelated)),
        (SHORT_URL, html_page("zh-CN", "", &[SHORT.to_owned()])),
        (ENGLISH_URL, html_page("en", "About", &[ENGLISH.to_owned()])),
    ];
    let warc = dir.path().join("zh.warc");
    let mut bytes = Vec::new();
    for (i, (url, body)) in pages.iter().enumerate() {
        let n = i + 1;
        let date = format!("2024-03-0{}T12:00:00Z", n % 9 + 1);
        bytes.extend(html_response_record(n, &date, url, body));
    }
    std::fs::write(&warc, bytes).expect("write WARC");

    let index = dir.path().join("index");
    let info: Value = common::index_and_info(&warc, &index);
    assert_eq!(info["normalization_version"], 2, "{info}");
    assert!(
        info["sketch_spec"]
            .as_str()
            .expect("spec")
            .starts_with("norm=2;"),
        "{info}"
    );
    assert_eq!(info["captures"], pages.len(), "{info}");

    let server = ServerProcess::start(&index);
    let mut client = ProvenanceServiceClient::new(server.channel().await);

    // Capture → content id and language, per URL.
    let mut content_of: BTreeMap<&str, String> = BTreeMap::new();
    for (url, _) in &pages {
        let captures = client
            .lookup_url(LookupUrlRequest {
                url: (*url).to_owned(),
                ..Default::default()
            })
            .await
            .expect("LookupUrl")
            .into_inner()
            .captures;
        assert_eq!(captures.len(), 1, "{url}");
        let capture = &captures[0];
        assert!(!capture.content_id.is_empty(), "{url} has text");
        let expected = if *url == ENGLISH_URL { "eng" } else { "cmn" };
        if *url != SHORT_URL {
            assert_eq!(capture.content_language, expected, "{url}");
        }
        content_of.insert(url, capture.content_id.clone());
    }
    let distinct: std::collections::BTreeSet<_> = content_of.values().collect();
    assert_eq!(
        distinct.len(),
        pages.len(),
        "the Traditional and edited copies are contents of their own (identity does not fold)"
    );

    // LookupContent: language and token counts.
    let mut languages: BTreeMap<String, u64> = BTreeMap::new();
    for (url, id) in &content_of {
        let content = client
            .lookup_content(LookupContentRequest {
                key: Some(Key::ContentId(id.clone())),
                ..Default::default()
            })
            .await
            .expect("LookupContent")
            .into_inner()
            .content
            .expect("content");
        let expected = match *url {
            ENGLISH_URL => "eng",
            SHORT_URL => content.language.as_str(), // checked below
            _ => "cmn",
        };
        assert_eq!(content.language, expected, "{url}");
        *languages
            .entry(if content.language.is_empty() {
                "und".to_owned()
            } else {
                content.language.clone()
            })
            .or_default() += 1;
        if *url == ORIGINAL {
            // Version 2 counts characters: far more tokens than the ~140
            // clause-words version 1 made of a passage this long.
            assert!(
                content.token_count as usize >= han,
                "{} tokens for {han} Han characters",
                content.token_count
            );
        }
    }
    // Hand-checked: the short page is 15 characters, punctuation dropped.
    let short = client
        .lookup_content(LookupContentRequest {
            key: Some(Key::Text(SHORT.to_owned())),
            ..Default::default()
        })
        .await
        .expect("LookupContent by text (normalized with the index's v2)")
        .into_inner()
        .content
        .expect("content");
    assert_eq!(short.content_id, content_of[SHORT_URL]);
    assert_eq!(short.token_count, 15);
    assert_eq!(
        short.preview,
        "这 是 一 个 简 短 的 中 文 页 面 用 于 测 试"
    );
    let english = client
        .lookup_content(LookupContentRequest {
            key: Some(Key::ContentId(content_of[ENGLISH_URL].clone())),
            ..Default::default()
        })
        .await
        .expect("LookupContent")
        .into_inner()
        .content
        .expect("content");
    assert_eq!(
        english.token_count,
        ENGLISH
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .count() as u64,
        "English counts words as before"
    );

    // FindWork with the Simplified text: the original (exact), the edited and
    // the Traditional copies (near-duplicates), not the unrelated page.
    let response = client
        .find_work(FindWorkRequest {
            text: original.join("\n"),
            ..Default::default()
        })
        .await
        .expect("FindWork")
        .into_inner();
    let found: BTreeMap<&str, f64> = response
        .matches
        .iter()
        .map(|m| {
            let content = m.content.as_ref().expect("match content");
            (content.content_id.as_str(), m.similarity)
        })
        .collect();
    for url in [ORIGINAL, EDITED, TRADITIONAL] {
        let similarity = found.get(content_of[url].as_str());
        assert!(
            similarity.is_some_and(|s| *s >= 0.5),
            "{url} should match: {similarity:?} in {found:?}"
        );
    }
    assert!(
        !found.contains_key(content_of[UNRELATED].as_str()),
        "{found:?}"
    );
    drop(server);

    // Export rows carry the language; the report counts languages.
    let out = dir.path().join("export.jsonl");
    run_ok(&[
        "export".as_ref(),
        index.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let rows_out: Vec<Value> = std::fs::read_to_string(&out)
        .expect("export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert!(!rows_out.is_empty());
    for row in &rows_out {
        let id = row["content_id"].as_str().expect("id");
        let url = content_of
            .iter()
            .find(|(_, c)| c.as_str() == id)
            .map(|(u, _)| *u)
            .expect("a known content");
        let language = row["language"].as_str().expect("language field");
        match url {
            ENGLISH_URL => assert_eq!(language, "eng"),
            SHORT_URL => {}
            _ => assert_eq!(language, "cmn", "{row}"),
        }
    }
    let report_json = dir.path().join("report.json");
    run_ok(&[
        "report".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
        report_json.as_os_str(),
    ]);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_json).expect("report")).expect("JSON");
    let counted: BTreeMap<String, u64> =
        serde_json::from_value(report["languages"].clone()).expect("languages map");
    assert_eq!(counted, languages, "{report}");
    assert!(counted["cmn"] >= 4 && counted["eng"] == 1, "{counted:?}");
}
