//! End to end, with real processes: `provindex index` builds an index of the
//! real WARC files in tests/data/corpus/warc and of the reservation crawl
//! (tests/data/reservations), `provindex serve --metrics-listen`
//! serves it, and a real tonic client exercises FindWork, CheckOptOut,
//! BatchLookup, LookupUrl pagination in every match mode, and `/metrics`.

mod common;
mod reservation_table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::{ServerProcess, corpus_dir, provindex_bin};
use provindex_proto::v1::{
    BatchLookupRequest, CheckOptOutRequest, FindWorkRequest, LookupContentRequest,
    LookupUrlRequest, UrlMatch, batch_lookup_request::Lookup,
    batch_lookup_response::Result as ItemResult, check_opt_out_request::Target,
    lookup_content_request::Key, provenance_service_client::ProvenanceServiceClient,
};
use reservation_table::{CAPTURES, MIRROR, NOVEL, URLS_NOT_RESERVED, URLS_RESERVED, URLS_UNKNOWN};
use tonic::Code;

fn build_index(dir: &Path) -> std::path::PathBuf {
    let index = dir.join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc"))
        .arg(reservation_table::reservations_warc())
        .arg("--out")
        .arg(&index)
        .args(["--workers", "2", "--built-at", "0"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "index failed: {output:?}");
    index
}

/// Text of every readable document of a file, with its URL.
fn texts(path: &Path) -> Vec<(String, String)> {
    provindex_corpus::read_path(path)
        .filter_map(Result::ok)
        .filter_map(|doc| Some((doc.url.unwrap_or_default(), doc.text?)))
        .collect()
}

/// Replaces `fraction` of the words of `text` in three contiguous runs (as
/// when a few sentences are rewritten).
fn edit_in_runs(text: &str, fraction: f64) -> (String, usize) {
    let mut words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    let n = words.len();
    let edits = ((n as f64) * fraction).ceil() as usize;
    let per_run = edits.div_ceil(3);
    let mut done = 0;
    for start in [n / 4, n / 2, 3 * n / 4] {
        for (i, word) in words.iter_mut().skip(start).take(per_run).enumerate() {
            if done < edits {
                *word = format!("rewritten{i}");
                done += 1;
            }
        }
    }
    (words.join(" "), done)
}

/// Replaces every 20th word (5%, spread evenly).
fn edit_spread(text: &str) -> String {
    text.split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            if i % 20 == 10 {
                format!("changed{i}")
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_work_check_opt_out_batch_pagination_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = build_index(dir.path());
    let info = Command::new(provindex_bin())
        .args(["info", "--json"])
        .arg(&index)
        .output()
        .expect("info");
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).expect("manifest");
    assert_eq!(
        manifest["sketch_spec"],
        provindex_sketch::SketchSpec::default().to_string()
    );
    let server = ServerProcess::start_with(&index, &["--metrics-listen", "127.0.0.1:0"]);
    let mut client = ProvenanceServiceClient::new(server.channel().await);

    // ---- FindWork ---------------------------------------------------------
    // The longest real page of the corpus, read independently of the index.
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(corpus_dir().join("warc")).expect("corpus") {
        pages.extend(texts(&entry.expect("entry").path()));
    }
    let (page_url, page_text) = pages
        .iter()
        .max_by_key(|(url, text)| (text.split_whitespace().count(), url.clone()))
        .expect("a page")
        .clone();
    let words = page_text.split_whitespace().count();
    assert!(words > 300, "{page_url}: {words} words");
    let normalized = provindex_sketch::normalize(&page_text);
    let page_content = provindex_sketch::content_id(&normalized).to_hex();

    // Exact path: the page's own text.
    let exact = client
        .find_work(FindWorkRequest {
            text: page_text.clone(),
            ..Default::default()
        })
        .await
        .expect("find exact")
        .into_inner();
    assert_eq!(exact.content_id, page_content);
    let first = &exact.matches[0];
    assert!(first.exact);
    assert_eq!(first.similarity, 1.0);
    let content = first.content.as_ref().expect("content");
    assert_eq!(content.content_id, page_content);
    assert!(
        first.captures.iter().any(|c| c.url == page_url),
        "{page_url}"
    );
    assert_eq!(first.capture_count, first.captures.len() as u64);

    // An edited copy: 5% of the words rewritten in three runs.
    let (edited, changed) = edit_in_runs(&page_text, 0.05);
    assert!(changed * 20 >= words, "{changed} of {words}");
    let near = client
        .find_work(FindWorkRequest {
            text: edited.clone(),
            ..Default::default()
        })
        .await
        .expect("find edited")
        .into_inner();
    assert_ne!(near.content_id, page_content, "the edit changed the text");
    let hit = near
        .matches
        .iter()
        .find(|m| m.content.as_ref().map(|c| c.content_id.as_str()) == Some(&page_content))
        .unwrap_or_else(|| panic!("edited copy of {page_url} not found: {near:?}"));
    assert!(!hit.exact);
    assert!(hit.similarity >= 0.8, "similarity {}", hit.similarity);
    assert!(hit.captures.iter().any(|c| c.url == page_url));
    assert!(near.matches.iter().all(|m| m.similarity >= 0.5));
    eprintln!(
        "FindWork: {words}-word page {page_url}, 5% of words edited in runs: estimated Jaccard {:.3}, {} candidates",
        hit.similarity, near.candidates
    );
    // For the record: the same 5% spread evenly touches ~25% of the 5-word
    // shingles, so Jaccard falls to ~0.6 — below the index's 0.8 banding
    // threshold, where LSH finds a copy with low probability.
    let hasher =
        provindex_sketch::MinHasher::new(&provindex_sketch::SketchSpec::default()).expect("hasher");
    let spread = provindex_sketch::jaccard_estimate(
        &hasher.signature(&normalized).expect("sig"),
        &hasher
            .signature(&provindex_sketch::normalize(&edit_spread(&page_text)))
            .expect("sig"),
    );
    eprintln!("FindWork: the same page with every 20th word edited: estimated Jaccard {spread:.3}");

    // An unrelated real page (Common Crawl text from the JSONL files, not in this index).
    let unrelated = texts(&corpus_dir().join("jsonl/cc_en_head-0091.jsonl.gz"));
    let (_, unrelated_text) = unrelated
        .iter()
        .filter(|(_, t)| t.split_whitespace().count() > 200)
        .nth(3)
        .expect("a long jsonl page");
    let none = client
        .find_work(FindWorkRequest {
            text: unrelated_text.clone(),
            ..Default::default()
        })
        .await
        .expect("find unrelated")
        .into_inner();
    assert!(none.matches.is_empty(), "{:?}", none.matches);
    assert_eq!(none.total_matches, 0);

    // Paging through matches: max_results 1 walks the same ranked list.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .find_work(FindWorkRequest {
                text: edited.clone(),
                max_results: 1,
                page_token: token.clone(),
                min_similarity: Some(0.3),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        paged.extend(
            page.matches
                .into_iter()
                .map(|m| m.content.expect("c").content_id),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(paged.len() < 1000);
    }
    let unique: BTreeSet<_> = paged.iter().collect();
    assert_eq!(unique.len(), paged.len());
    assert!(paged.contains(&page_content));

    // Bad FindWork input.
    for (request, field) in [
        (FindWorkRequest::default(), "text"),
        (
            FindWorkRequest {
                text: " ... ".into(),
                ..Default::default()
            },
            "text",
        ),
        (
            FindWorkRequest {
                text: "word ".repeat(1 << 20),
                ..Default::default()
            },
            "text",
        ),
        (
            FindWorkRequest {
                text: "some words".into(),
                min_similarity: Some(1.5),
                ..Default::default()
            },
            "min_similarity",
        ),
        (
            FindWorkRequest {
                text: "some words".into(),
                page_token: "nope".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            FindWorkRequest {
                text: "some words".into(),
                max_results: 1_000_000,
                ..Default::default()
            },
            "max_results",
        ),
    ] {
        let status = client.find_work(request).await.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{status:?}");
    }

    // ---- CheckOptOut ------------------------------------------------------
    // For every captured URL: the verdict of its newest capture, against the
    // hand-computed expectation. The real crawl files carry no reservation
    // signal at all (no tdm-*, noai, noimageai, Content-Usage or Content-Signal
    // header or meta, and no robots.txt among them names an AI crawler), so
    // each of their URLs is `unknown`; the reservation crawl's URLs get the
    // verdicts of tests/reservation_table.
    let urls: BTreeSet<&str> = pages
        .iter()
        .map(|(u, _)| u.as_str())
        .filter(|u| u.starts_with("http"))
        .collect();
    // (url, verdict, deciding signal's kind and source)
    type Expected<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
    let mut expected: Vec<Expected<'_>> = urls.iter().map(|u| (*u, "unknown", None)).collect();
    for row in CAPTURES {
        let decider = row
            .decider
            .map(|i| (row.signals[i].kind, row.signals[i].source));
        expected.push((row.url, row.verdict, decider));
    }
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let mut reserved_urls = Vec::new();
    for (url, verdict, decider) in &expected {
        let answer = client
            .check_opt_out(CheckOptOutRequest {
                target: Some(Target::Url((*url).to_owned())),
            })
            .await
            .unwrap_or_else(|s| panic!("{url}: {s}"))
            .into_inner();
        let newest = client
            .lookup_url(LookupUrlRequest {
                url: (*url).to_owned(),
                newest_first: true,
                page_size: 1,
                ..Default::default()
            })
            .await
            .expect("lookup")
            .into_inner()
            .captures
            .remove(0);
        let status = newest.optout.expect("optout");
        assert_eq!(answer.verdict, *verdict, "{url}: {answer:?}");
        assert_eq!(status.verdict, *verdict, "{url}: {status:?}");
        let deciding = answer.deciding.expect("deciding");
        assert_eq!(deciding.capture_id, newest.capture_id);
        assert_eq!(deciding.since, newest.capture_time);
        assert_eq!(
            deciding
                .signal
                .as_ref()
                .map(|s| (s.kind.as_str(), s.source.as_str())),
            *decider,
            "{url}"
        );
        assert_eq!(deciding.signal, status.deciding_signal);
        // Without registry flags `serve` opens no registry (and creates none).
        assert!(!answer.registry_checked);
        if answer.verdict == "reserved" {
            reserved_urls.push((url.to_string(), newest.content_id.clone(), *decider));
        }
        *verdicts.entry(answer.verdict).or_default() += 1;
    }
    eprintln!("CheckOptOut over {} URLs: {verdicts:?}", expected.len());
    assert_eq!(
        verdicts,
        BTreeMap::from([
            ("not_reserved".to_owned(), URLS_NOT_RESERVED),
            ("reserved".to_owned(), URLS_RESERVED),
            ("unknown".to_owned(), urls.len() + URLS_UNKNOWN),
        ])
    );
    // By content: reserved iff any capture of it is; the earliest decides.
    // The longest real page: none of its captures is reserved.
    let content_answer = client
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::ContentId(page_content.clone())),
        })
        .await
        .expect("content opt-out")
        .into_inner();
    let captures = client
        .lookup_content(LookupContentRequest {
            key: Some(Key::ContentId(page_content.clone())),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("content")
        .into_inner()
        .captures;
    assert_eq!(content_answer.verdict, "unknown", "{content_answer:?}");
    assert!(content_answer.reserving.is_empty());
    assert_eq!(content_answer.captures_checked, captures.len() as u64);
    // The novel of the reservation crawl is captured twice with the same text:
    // on its own site, reserved by tdmrep.json, and later on a mirror, with no
    // signal. The content is reserved, decided by the earlier capture.
    let novel_content = reserved_urls
        .iter()
        .find(|(url, _, _)| url == NOVEL)
        .expect("the novel is reserved")
        .1
        .clone();
    let novel_captures = client
        .lookup_content(LookupContentRequest {
            key: Some(Key::ContentId(novel_content.clone())),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("novel content")
        .into_inner()
        .captures;
    let mut novel_verdicts: Vec<(String, String)> = novel_captures
        .iter()
        .map(|c| {
            (
                c.url.clone(),
                c.optout.as_ref().expect("optout").verdict.clone(),
            )
        })
        .collect();
    novel_verdicts.sort();
    assert_eq!(
        novel_verdicts,
        [
            (MIRROR.to_owned(), "unknown".to_owned()),
            (NOVEL.to_owned(), "reserved".to_owned())
        ]
    );
    let novel = client
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::ContentId(novel_content.clone())),
        })
        .await
        .expect("novel opt-out")
        .into_inner();
    assert_eq!(novel.verdict, "reserved", "{novel:?}");
    assert_eq!(novel.captures_checked, 2);
    assert_eq!(novel.reserving.len(), 1);
    assert_eq!(novel.deciding.as_ref().expect("deciding").url, NOVEL);
    // Every reserved URL's content is reserved, decided by a reserving
    // capture with the signal kind of the table.
    assert_eq!(reserved_urls.len(), URLS_RESERVED);
    for (url, content_id, decider) in &reserved_urls {
        assert!(!content_id.is_empty(), "{url} has text");
        let answer = client
            .check_opt_out(CheckOptOutRequest {
                target: Some(Target::ContentId(content_id.clone())),
            })
            .await
            .expect("reserved content")
            .into_inner();
        assert_eq!(answer.verdict, "reserved", "{url}");
        let deciding = answer.deciding.expect("deciding");
        assert_eq!(deciding.verdict, "reserved");
        assert_eq!(deciding.url, *url);
        assert_eq!(
            deciding
                .signal
                .as_ref()
                .map(|s| (s.kind.as_str(), s.source.as_str())),
            *decider,
            "{url}"
        );
        assert!(answer.reserving.iter().all(|f| f.since >= deciding.since));
    }
    for (target, code) in [
        (None, Code::InvalidArgument),
        (Some(Target::ContentId("xyz".into())), Code::InvalidArgument),
        (Some(Target::ContentId("0".repeat(32))), Code::NotFound),
        (
            Some(Target::Url("http://[broken".into())),
            Code::InvalidArgument,
        ),
        (
            Some(Target::Url("http://no-such-host.example/".into())),
            Code::NotFound,
        ),
    ] {
        let status = client
            .check_opt_out(CheckOptOutRequest { target })
            .await
            .expect_err("bad opt-out check");
        assert_eq!(status.code(), code, "{status:?}");
    }

    // ---- BatchLookup ------------------------------------------------------
    let mut items = Vec::new();
    for (i, url) in urls.iter().take(40).enumerate() {
        items.push(BatchLookupRequest {
            id: format!("url-{i}"),
            lookup: Some(Lookup::Url(LookupUrlRequest {
                url: (*url).to_owned(),
                ..Default::default()
            })),
        });
    }
    items.push(BatchLookupRequest {
        id: "bad-url".into(),
        lookup: Some(Lookup::Url(LookupUrlRequest::default())),
    });
    items.push(BatchLookupRequest {
        id: "content".into(),
        lookup: Some(Lookup::Content(LookupContentRequest {
            key: Some(Key::ContentId(page_content.clone())),
            ..Default::default()
        })),
    });
    items.push(BatchLookupRequest {
        id: "missing-content".into(),
        lookup: Some(Lookup::Content(LookupContentRequest {
            key: Some(Key::ContentId("0".repeat(32))),
            ..Default::default()
        })),
    });
    items.push(BatchLookupRequest {
        id: "opt-out".into(),
        lookup: Some(Lookup::OptOut(CheckOptOutRequest {
            target: Some(Target::ContentId(page_content.clone())),
        })),
    });
    items.push(BatchLookupRequest {
        id: "empty".into(),
        lookup: None,
    });
    let sent = items.len();
    let mut stream = client
        .batch_lookup(tokio_stream::iter(items))
        .await
        .expect("batch")
        .into_inner();
    let mut answers = BTreeMap::new();
    while let Some(answer) = stream.message().await.expect("stream") {
        let previous = answers.insert(answer.id.clone(), answer.result.expect("result"));
        assert!(previous.is_none(), "answered twice: {}", answer.id);
    }
    assert_eq!(answers.len(), sent);
    for i in 0..40.min(urls.len()) {
        assert!(
            matches!(&answers[&format!("url-{i}")], ItemResult::Url(r) if !r.captures.is_empty())
        );
    }
    let error_code = |id: &str| match &answers[id] {
        ItemResult::Error(e) => Code::from_i32(e.code),
        other => panic!("{id}: expected an error, got {other:?}"),
    };
    assert_eq!(error_code("bad-url"), Code::InvalidArgument);
    assert_eq!(error_code("missing-content"), Code::NotFound);
    assert_eq!(error_code("empty"), Code::InvalidArgument);
    assert!(matches!(&answers["content"], ItemResult::Content(r)
        if r.content.as_ref().map(|c| c.content_id.as_str()) == Some(page_content.as_str())));
    assert!(
        matches!(&answers["opt-out"], ItemResult::OptOut(r) if r.verdict == content_answer.verdict)
    );

    // ---- LookupUrl pagination, every match mode ---------------------------
    for (url, mode, page_size) in [
        ("http://www.iana.org/", UrlMatch::Exact, 1u32),
        ("http://www.iana.org/_css/", UrlMatch::Prefix, 3),
        ("http://www.iana.org/", UrlMatch::Host, 7),
        ("http://gov.uk/", UrlMatch::Domain, 7),
        ("http://archive.org/", UrlMatch::Domain, 7),
    ] {
        for newest_first in [false, true] {
            let full = client
                .lookup_url(LookupUrlRequest {
                    url: url.into(),
                    r#match: mode as i32,
                    page_size: 1000,
                    newest_first,
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|s| panic!("{url} {mode:?}: {s}"))
                .into_inner();
            assert!(full.next_page_token.is_empty(), "{url}: more than 1000");
            let full: Vec<String> = full.captures.into_iter().map(|c| c.capture_id).collect();
            assert!(
                full.len() > 2 * page_size as usize,
                "{url} {mode:?}: only {} captures",
                full.len()
            );
            let mut pages = Vec::new();
            let mut token = String::new();
            loop {
                let page = client
                    .lookup_url(LookupUrlRequest {
                        url: url.into(),
                        r#match: mode as i32,
                        page_size,
                        newest_first,
                        page_token: token.clone(),
                        ..Default::default()
                    })
                    .await
                    .expect("page")
                    .into_inner();
                assert!(page.captures.len() <= page_size as usize);
                pages.extend(page.captures.into_iter().map(|c| c.capture_id));
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            assert_eq!(pages, full, "{url} {mode:?} newest_first={newest_first}");
            let unique: BTreeSet<&String> = pages.iter().collect();
            assert_eq!(unique.len(), pages.len(), "duplicates in {url} {mode:?}");
        }
    }

    // ---- /metrics ---------------------------------------------------------
    let metrics = server.metrics_page();
    let count = |method: &str, code: &str| -> u64 {
        let needle = format!(
            "provindex_grpc_requests_total{{method=\"provindex.v1.ProvenanceService/{method}\",code=\"{code}\"}} "
        );
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&needle))
            .map_or(0, |n| n.parse().expect("count"))
    };
    assert!(count("FindWork", "OK") >= 4, "{metrics}");
    assert!(count("FindWork", "INVALID_ARGUMENT") >= 6, "{metrics}");
    assert!(count("CheckOptOut", "NOT_FOUND") >= 2, "{metrics}");
    assert!(count("LookupUrl", "OK") >= urls.len() as u64, "{metrics}");
    assert_eq!(count("BatchLookup", "OK"), 1, "{metrics}");
    assert!(metrics.contains(
        "provindex_grpc_request_duration_seconds_count{method=\"provindex.v1.ProvenanceService/LookupUrl\"}"
    ));
    assert!(metrics.contains("# TYPE provindex_grpc_request_duration_seconds histogram"));
}
