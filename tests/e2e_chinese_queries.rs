//! Every query speaks Chinese (issue 16), with real processes: five Chinese
//! articles (20 real zh-CN paragraphs of the debian-handbook from
//! crates/sketch/tests/data/zh, CC-BY-SA-3.0/GPL-2+, see its README) and, per
//! article, planted copies — an exact mirror, a 1% character edit, ASCII
//! instead of full-width punctuation, a Traditional copy (OpenCC `s2tw`, the
//! data file's `s2tw` field) and a 30% character edit — are wrapped in WARC
//! records as UTF-8, GBK and Big5 pages with the charset in the HTTP header,
//! in a `<meta>` only, or nowhere; `provindex index` builds the index and
//! `provindex serve --auth --registry` serves it. Checked:
//!
//! - every page decodes: LookupUrl finds it, its content's preview has no
//!   U+FFFD, and LookupContent by the page's text (normalized server-side)
//!   finds the very content the capture points at;
//! - ground truth by exact character-5-gram Jaccard, computed here: every
//!   light copy is at J >= 0.8 of its original, every 30% edit and every
//!   other article far below;
//! - FindWork with each original finds every light copy and none of the 30%
//!   edits nor the other articles;
//! - a rightholder's `work`-scope opt-out with the Chinese text of one article
//!   makes CheckOptOut on its Traditional repost (by URL and by content) and
//!   on its 1% edit answer "reserved" through that entry,
//!   as a near-duplicate work match; other articles and the 30% edit stay
//!   without a registry finding;
//! - token counts: every content's stored count equals its characters counted
//!   here by hand (one per Han character, one per run of other letters or
//!   digits), and the export summary's `kept_tokens`, the report's
//!   `tokens_after_exact_dedup` and the compensation statement's `tokens`
//!   all equal the hand count summed over the kept (keeper) contents.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{ServerProcess, run_ok, warc_response_record, with_token, zh_handbook_rows};
use encoding_rs::{BIG5, Encoding, GBK, UTF_8};
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, FindWorkRequest, LookupContentRequest,
    LookupUrlRequest, OptOutScope, RegisterOptOutRequest, check_opt_out_request::Target,
    lookup_content_request::Key, opt_out_scope::Scope, opt_out_service_client::OptOutServiceClient,
    provenance_service_client::ProvenanceServiceClient,
};
use provindex_sketch::{NormalizationVersion, fold_for_sketch, normalize_with};
use serde_json::Value;
use tonic::transport::Channel;

const ADMIN: &str = "admin-token-0123456789";
const RIGHTHOLDER: &str = "rightholder-token-0123456789";
const ARTICLES: usize = 5;
const PARAGRAPHS_PER_ARTICLE: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Original,
    Mirror,
    OnePercent,
    AsciiPunctuation,
    Traditional,
    Heavy,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Original,
        Kind::Mirror,
        Kind::OnePercent,
        Kind::AsciiPunctuation,
        Kind::Traditional,
        Kind::Heavy,
    ];

    /// A planted copy FindWork must find (all but the 30% edit).
    fn light(self) -> bool {
        self != Kind::Heavy
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// `Content-Type: text/html; charset=…` in the HTTP header, no `<meta>`.
    Header,
    /// `<meta charset>` / `<meta http-equiv>` only.
    Meta,
    /// Declared nowhere.
    Absent,
}

struct Page {
    article: usize,
    kind: Kind,
    url: String,
    /// The page text as written (UTF-8), paragraphs joined by newlines.
    text: String,
    encoding: &'static Encoding,
    charset: Charset,
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{3134f}')
}

/// Replaces the Han characters `pick` selects (by their running number) by
/// other Han characters; returns the text and the number of replacements.
fn edit_han(text: &str, pick: impl Fn(usize) -> bool) -> (String, usize) {
    const OTHERS: [char; 10] = ['甲', '乙', '丙', '丁', '戊', '己', '庚', '辛', '壬', '癸'];
    let mut seen = 0usize;
    let mut edits = 0usize;
    let out = text
        .chars()
        .map(|c| {
            if !is_han(c) {
                return c;
            }
            seen += 1;
            if !pick(seen) {
                return c;
            }
            edits += 1;
            let mut other = OTHERS[seen % OTHERS.len()];
            if other == c {
                other = OTHERS[(seen + 1) % OTHERS.len()];
            }
            other
        })
        .collect();
    (out, edits)
}

/// Full-width punctuation → ASCII.
fn ascii_punctuation(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '，' | '、' => ',',
            '。' => '.',
            '：' => ':',
            '；' => ';',
            '！' => '!',
            '？' => '?',
            '（' => '(',
            '）' => ')',
            '“' | '”' | '「' | '」' => '"',
            '‘' | '’' => '\'',
            c => c,
        })
        .collect()
}

/// Tokens counted by hand: one per Han character, one per run of other
/// letters or digits; everything else separates.
fn hand_token_count(text: &str) -> u64 {
    let mut count = 0u64;
    let mut in_word = false;
    for c in text.chars() {
        if is_han(c) {
            count += 1;
            in_word = false;
        } else if c.is_alphanumeric() {
            if !in_word {
                count += 1;
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
    count
}

/// The exact set of character 5-grams (5 consecutive tokens of the v2
/// normalized text with Traditional folded to Simplified), as strings.
fn five_grams(text: &str) -> BTreeSet<String> {
    let normalized = normalize_with(NormalizationVersion::V2, text);
    let folded = fold_for_sketch(NormalizationVersion::V2, &normalized);
    let tokens: Vec<&str> = folded.split_whitespace().collect();
    tokens.windows(5).map(|w| w.join(" ")).collect()
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let inter = a.intersection(b).count();
    let union = a.len() + b.len() - inter;
    inter as f64 / union as f64
}

fn charset_label(encoding: &'static Encoding) -> &'static str {
    if encoding == GBK {
        "gbk"
    } else if encoding == BIG5 {
        "big5"
    } else {
        "utf-8"
    }
}

/// The HTTP response (headers and encoded body) of a page.
fn http_response(page: &Page) -> Vec<u8> {
    let body_text: String = page
        .text
        .split('\n')
        .map(|p| format!("<p>{p}</p>\n"))
        .collect();
    let label = charset_label(page.encoding);
    let meta = match (page.charset, page.article % 2) {
        (Charset::Meta, 0) => format!("<meta charset=\"{label}\">"),
        (Charset::Meta, _) => {
            format!("<meta http-equiv=\"Content-Type\" content=\"text/html; charset={label}\">")
        }
        _ => String::new(),
    };
    let html =
        format!("<!DOCTYPE html>\n<html><head>{meta}</head>\n<body>\n{body_text}</body></html>\n");
    let (body, _, unmappable) = page.encoding.encode(&html);
    assert!(
        !unmappable,
        "{} cannot encode page {}",
        page.encoding.name(),
        page.url
    );
    let content_type = match page.charset {
        Charset::Header => format!("text/html; charset={label}"),
        _ => "text/html".to_owned(),
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// One WARC/1.0 response record (uncompressed); originals are captured on
/// 2024-03-01, copies later, so each original keeps its cluster.
fn response_record(n: usize, page: &Page) -> Vec<u8> {
    let http = http_response(page);
    let day = if page.kind == Kind::Original {
        1
    } else {
        2 + page.kind as usize
    };
    warc_response_record(n, &format!("2024-03-{day:02}T12:00:00Z"), &page.url, &http)
}

/// The planted pages: per article the original and its five copies, with
/// encodings and charset declarations varied across the set.
fn plant(rows: &[Value]) -> Vec<Page> {
    let mut pages = Vec::new();
    for article in 0..ARTICLES {
        let range = article * PARAGRAPHS_PER_ARTICLE..(article + 1) * PARAGRAPHS_PER_ARTICLE;
        let field = |name: &str| -> String {
            rows[range.clone()]
                .iter()
                .map(|r| {
                    r[name]
                        .as_str()
                        .unwrap_or_else(|| panic!("{name}"))
                        .to_owned()
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let original = field("zh_cn");
        let traditional = field("s2tw");
        let han = original.chars().filter(|&c| is_han(c)).count();
        let (one_percent, small) = edit_han(&original, |n| n % 100 == 50);
        assert!(
            small >= 4 && small * 100 <= han + 100,
            "{small} edits of {han} characters"
        );
        let (heavy, large) = edit_han(&original, |n| (n * 7) % 10 < 3);
        assert!(
            (large as f64 / han as f64 - 0.3).abs() < 0.02,
            "{large} edits of {han}"
        );
        let punctuated = ascii_punctuation(&original);
        assert_ne!(punctuated, original);
        for (k, kind) in Kind::ALL.into_iter().enumerate() {
            let (text, encoding, host) = match kind {
                Kind::Original => (
                    original.clone(),
                    [UTF_8, GBK][article % 2],
                    "handbook.example.cn",
                ),
                Kind::Mirror => (
                    original.clone(),
                    [GBK, UTF_8][article % 2],
                    "mirror.example.com",
                ),
                Kind::OnePercent => (
                    one_percent.clone(),
                    [GBK, UTF_8][article % 2],
                    "repost.example.cn",
                ),
                Kind::AsciiPunctuation => (
                    punctuated.clone(),
                    [UTF_8, GBK][article % 2],
                    "bbs.example.net",
                ),
                Kind::Traditional => (
                    traditional.clone(),
                    [BIG5, BIG5, BIG5, GBK, UTF_8][article],
                    "handbook.example.com.tw",
                ),
                Kind::Heavy => (
                    heavy.clone(),
                    [GBK, UTF_8][article % 2],
                    "rewrite.example.org",
                ),
            };
            const CHARSETS: [Charset; 3] = [Charset::Header, Charset::Meta, Charset::Absent];
            let charset = match kind {
                // Big5 (articles 0-2) in each of the three placements.
                Kind::Traditional => CHARSETS[article % 3],
                _ => CHARSETS[(article + k) % 3],
            };
            pages.push(Page {
                article,
                kind,
                url: format!("https://{host}/a{article}/{kind:?}.html").to_lowercase(),
                text,
                encoding,
                charset,
            });
        }
    }
    pages
}

async fn check(
    client: &mut ProvenanceServiceClient<Channel>,
    target: Target,
) -> CheckOptOutResponse {
    client
        .check_opt_out(CheckOptOutRequest {
            target: Some(target),
        })
        .await
        .expect("CheckOptOut")
        .into_inner()
}

/// (entry id, scope) of the registry findings of an answer.
fn registry_findings(response: &CheckOptOutResponse) -> Vec<(String, String)> {
    response
        .reserving
        .iter()
        .filter(|f| f.origin == "registry")
        .map(|f| (f.registry_entry_id.clone(), f.scope.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_reposts_are_found_and_reserved_across_edits_punctuation_scripts_and_charsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = plant(&zh_handbook_rows());
    // Every encoding and every charset placement is exercised.
    for encoding in [UTF_8, GBK, BIG5] {
        for charset in [Charset::Header, Charset::Meta, Charset::Absent] {
            assert!(
                pages
                    .iter()
                    .any(|p| p.encoding == encoding && p.charset == charset),
                "{} / {charset:?} not planted",
                encoding.name()
            );
        }
    }

    // Ground truth: exact character-5-gram Jaccard with each article's original.
    let grams: Vec<BTreeSet<String>> = pages.iter().map(|p| five_grams(&p.text)).collect();
    let original_of = |article: usize| {
        pages
            .iter()
            .position(|p| p.article == article && p.kind == Kind::Original)
            .expect("original")
    };
    for (i, page) in pages.iter().enumerate() {
        for article in 0..ARTICLES {
            let j = jaccard(&grams[i], &grams[original_of(article)]);
            if article != page.article {
                assert!(j < 0.05, "{} vs article {article}: J = {j}", page.url);
            } else if page.kind.light() {
                assert!(j >= 0.8, "{}: J = {j}", page.url);
            } else {
                assert!(j < 0.3, "{}: J = {j}", page.url);
            }
        }
    }

    let warc = dir.path().join("zh-queries.warc");
    let mut bytes = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        bytes.extend(response_record(n + 1, page));
    }
    std::fs::write(&warc, bytes).expect("write WARC");
    let index = dir.path().join("index");
    let info: Value = common::index_and_info(&warc, &index);
    assert_eq!(info["normalization_version"], 2, "{info}");
    assert_eq!(info["captures"], pages.len(), "{info}");

    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{RIGHTHOLDER}": {{"role": "rightholder", "name": "Debian 手册译者", "scopes": ["handbook.example.cn"]}}
            }}}}"#
        ),
    )
    .expect("auth file");
    let registry_dir = dir.path().join("registry");
    let server = ServerProcess::start_with_registry(&index, &auth, &registry_dir);
    let channel = server.channel().await;
    let mut client = ProvenanceServiceClient::new(channel.clone());
    let mut registry = OptOutServiceClient::new(channel);

    // 1. Every page decodes to exactly its text.
    let mut content_of: Vec<String> = Vec::new();
    let mut tokens_of: BTreeMap<String, u64> = BTreeMap::new();
    for page in &pages {
        let captures = client
            .lookup_url(LookupUrlRequest {
                url: page.url.clone(),
                ..Default::default()
            })
            .await
            .expect("LookupUrl")
            .into_inner()
            .captures;
        assert_eq!(captures.len(), 1, "{}", page.url);
        let id = captures[0].content_id.clone();
        assert!(!id.is_empty(), "{} has text", page.url);
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
        assert!(
            !content.preview.contains('\u{fffd}') && !content.preview.is_empty(),
            "{} ({} / {:?}): {}",
            page.url,
            page.encoding.name(),
            page.charset,
            content.preview
        );
        assert_eq!(content.language, "cmn", "{}", page.url);
        let by_text = client
            .lookup_content(LookupContentRequest {
                key: Some(Key::Text(page.text.clone())),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{} ({} / {:?}) did not decode to its text: {e}",
                    page.url,
                    page.encoding.name(),
                    page.charset
                )
            })
            .into_inner()
            .content
            .expect("content");
        assert_eq!(by_text.content_id, id, "{}", page.url);
        // Token counts: the stored v2 count is the characters counted by hand.
        assert_eq!(
            content.token_count,
            hand_token_count(&page.text),
            "{}",
            page.url
        );
        tokens_of.insert(id.clone(), content.token_count);
        content_of.push(id);
    }
    // The mirror (other encoding) is the original's content.
    for article in 0..ARTICLES {
        let of = |kind: Kind| {
            &content_of[pages
                .iter()
                .position(|p| p.article == article && p.kind == kind)
                .expect("page")]
        };
        assert_eq!(of(Kind::Mirror), of(Kind::Original), "article {article}");
        assert_ne!(
            of(Kind::Traditional),
            of(Kind::Original),
            "identity does not fold"
        );
    }

    // 2. FindWork with each original: every light copy, no heavy edit, no
    //    other article.
    for article in 0..ARTICLES {
        let original = &pages[original_of(article)];
        let response = client
            .find_work(FindWorkRequest {
                text: original.text.clone(),
                max_results: 100,
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
        for (i, page) in pages.iter().enumerate() {
            let hit = found.get(content_of[i].as_str());
            if page.article == article && page.kind.light() {
                assert!(
                    hit.is_some(),
                    "article {article}: {:?} copy {} not found (J = {:.3}): {found:?}",
                    page.kind,
                    page.url,
                    jaccard(&grams[i], &grams[original_of(article)])
                );
            } else {
                assert!(
                    hit.is_none(),
                    "article {article}: {} ({:?} of article {}) found at {hit:?}",
                    page.url,
                    page.kind,
                    page.article
                );
            }
        }
    }

    // 3. A rightholder registers article 0 as a work; CheckOptOut on its
    //    Traditional repost (URL or content) reports it reserved through that
    //    entry.
    let page_of = |article: usize, kind: Kind| {
        pages
            .iter()
            .position(|p| p.article == article && p.kind == kind)
            .expect("page")
    };
    let work = registry
        .register_opt_out(with_token(
            RegisterOptOutRequest {
                rightholder: String::new(),
                scope: Some(OptOutScope {
                    scope: Some(Scope::WorkText(pages[original_of(0)].text.clone())),
                }),
                effective_from: Some(1_700_000_000),
                evidence: "《Debian 管理员手册》简体中文译本的译者".into(),
            },
            RIGHTHOLDER,
        ))
        .await
        .expect("register work")
        .into_inner()
        .registration
        .expect("registration");
    assert_eq!(work.scope_kind, "work");
    assert_eq!(work.scope_key, content_of[original_of(0)]);
    assert_eq!(
        work.work_token_count,
        hand_token_count(&pages[original_of(0)].text)
    );
    // The Traditional repost, by its URL and by the content its URL's capture
    // holds: the same near-duplicate work finding either way.
    let traditional = &pages[page_of(0, Kind::Traditional)];
    let by_url = check(&mut client, Target::Url(traditional.url.clone())).await;
    assert_eq!(by_url.content_id, content_of[page_of(0, Kind::Traditional)]);
    let by_content = check(&mut client, Target::ContentId(by_url.content_id.clone())).await;
    for reserved in [&by_url, &by_content] {
        assert!(reserved.registry_checked);
        assert_eq!(reserved.verdict, "reserved", "{reserved:?}");
        let findings = registry_findings(reserved);
        assert_eq!(findings.len(), 1, "{reserved:?}");
        assert_eq!(findings[0].0, work.id);
        let (prefix, similarity) = findings[0]
            .1
            .split_once('~')
            .expect("a near-duplicate work match carries its similarity");
        assert_eq!(prefix, format!("work:{}", work.scope_key));
        let similarity: f64 = similarity.parse().expect("similarity");
        // The fold makes the Traditional sketch equal the Simplified one (here: 1).
        assert!((0.8..=1.0).contains(&similarity), "{similarity}");
    }
    let edited = check(
        &mut client,
        Target::ContentId(content_of[page_of(0, Kind::OnePercent)].clone()),
    )
    .await;
    assert_eq!(edited.verdict, "reserved", "{edited:?}");
    assert_eq!(registry_findings(&edited)[0].0, work.id);
    for (article, kind) in [
        (1, Kind::Original),
        (2, Kind::Traditional),
        (0, Kind::Heavy),
    ] {
        let page = &pages[page_of(article, kind)];
        let by_url = check(&mut client, Target::Url(page.url.clone())).await;
        assert_eq!(by_url.content_id, content_of[page_of(article, kind)]);
        let by_content = check(&mut client, Target::ContentId(by_url.content_id.clone())).await;
        for answer in [&by_url, &by_content] {
            assert!(answer.registry_checked);
            assert!(
                registry_findings(answer).is_empty(),
                "{}: {answer:?}",
                page.url
            );
            assert_ne!(answer.verdict, "reserved", "{}: {answer:?}", page.url);
        }
    }
    drop(server);

    // 4. Export, report and compensation count the same stored tokens: the
    //    hand counts of the keepers (without the registry nothing is
    //    excluded but non-keepers).
    let mut keepers = BTreeSet::new();
    {
        let server = ServerProcess::start(&index);
        let mut client = ProvenanceServiceClient::new(server.channel().await);
        for id in tokens_of.keys() {
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
            if content.is_keeper {
                keepers.insert(id.clone());
            }
        }
    }
    for article in 0..ARTICLES {
        assert!(keepers.contains(&content_of[original_of(article)]));
        assert!(keepers.contains(&content_of[page_of(article, Kind::Heavy)]));
        assert!(!keepers.contains(&content_of[page_of(article, Kind::Traditional)]));
    }
    let expected: u64 = keepers.iter().map(|id| tokens_of[id]).sum();
    let out = dir.path().join("export.jsonl");
    let summary: Value = serde_json::from_slice(
        &run_ok(&[
            "export".as_ref(),
            index.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
        .stdout,
    )
    .expect("export summary JSON");
    assert_eq!(summary["kept_tokens"], expected, "{summary}");
    let exported: BTreeSet<String> = std::fs::read_to_string(&out)
        .expect("export")
        .lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).expect("row");
            let id = row["content_id"].as_str().expect("id").to_owned();
            // Each row's own count: the hand-checked characters of its text.
            assert_eq!(row["tokens"], tokens_of[&id], "{row}");
            id
        })
        .collect();
    assert_eq!(exported, keepers);
    let report_json = dir.path().join("report.json");
    run_ok(&[
        "report".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
        report_json.as_os_str(),
    ]);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_json).expect("report")).expect("JSON");
    assert_eq!(
        report["totals"]["tokens_after_exact_dedup"], expected,
        "{report}"
    );
    let csv = dir.path().join("comp.csv");
    let comp_json = dir.path().join("comp.json");
    run_ok(&[
        "compensation".as_ref(),
        index.as_os_str(),
        "--pool".as_ref(),
        "1000".as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--json".as_ref(),
        comp_json.as_os_str(),
    ]);
    let statement: Value =
        serde_json::from_slice(&std::fs::read(&comp_json).expect("comp")).expect("JSON");
    assert_eq!(statement["tokens"], expected, "{statement}");
}
