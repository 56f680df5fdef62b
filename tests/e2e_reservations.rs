//! Every opt-out signal end to end, on a real-format crawl:
//! `tests/data/reservations/reservations.warc.gz` (written by `make.py` next
//! to it) holds HTML pages carrying the TDMRep header and meta, `noai` /
//! `noimageai` in `X-Robots-Tag` and `<meta name="robots">`, `Content-Usage`,
//! `Content-Signal`, plus robots.txt (AI-crawler groups and `Content-Usage`
//! lines), `/.well-known/tdmrep.json` and `/ai.txt` captured as their own
//! response records, each next to unreserved control pages.
//!
//! The real `provindex index` indexes it, `provindex serve` serves it, and
//! every capture's LookupUrl / GetCapture opt-out status, every URL's and
//! content's CheckOptOut answer, and what `provindex export` and `provindex
//! report` exclude are checked against the hand-computed table in
//! `tests/reservation_table/mod.rs`.

mod common;
mod reservation_table;

use std::collections::{BTreeMap, BTreeSet};

use common::{ServerProcess, run_ok};
use provindex_proto::v1::{
    Capture, CheckOptOutRequest, GetCaptureRequest, LookupUrlRequest, OptOutSignal, UrlMatch,
    check_opt_out_request::Target, provenance_service_client::ProvenanceServiceClient,
};
use reservation_table::{
    CAPTURE_COUNT, CAPTURES, CONTENT_COUNT, EXPORT_EXCLUDED, EXPORT_KEPT, Expect, KEPT_URLS,
    MIRROR, NOVEL, SITE_FILES, Sig, URLS_NOT_RESERVED, URLS_RESERVED, URLS_UNKNOWN,
    reservations_warc,
};
use serde_json::Value;
use tonic::transport::Channel;

/// (kind, source, stance, value, agent) of a signal the server reports.
type SigTuple = (String, String, String, String, String);

fn of_server(s: &OptOutSignal) -> SigTuple {
    (
        s.kind.clone(),
        s.source.clone(),
        s.stance.clone(),
        s.value.clone(),
        s.agent.clone(),
    )
}

fn of_table(s: &Sig) -> SigTuple {
    (
        s.kind.to_owned(),
        s.source.to_owned(),
        s.stance.to_owned(),
        s.value.to_owned(),
        s.agent.to_owned(),
    )
}

/// The expected deciding signal of a row.
fn expected_decider(expect: &Expect) -> Option<SigTuple> {
    expect.decider.map(|i| of_table(&expect.signals[i]))
}

/// `https://host/...` → the URL of the site file a signal of `source` came from.
fn site_file_url(page: &str, source: &str) -> Option<String> {
    let origin = page.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let path = match source {
        "robots_txt" => "/robots.txt",
        "tdmrep_json" => "/.well-known/tdmrep.json",
        "ai_txt" => "/ai.txt",
        _ => return None,
    };
    Some(format!("{origin}{path}"))
}

async fn only_capture(client: &mut ProvenanceServiceClient<Channel>, url: &str) -> Capture {
    let mut captures = client
        .lookup_url(LookupUrlRequest {
            url: url.into(),
            r#match: UrlMatch::Exact as i32,
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{url}: {s}"))
        .into_inner()
        .captures;
    assert_eq!(captures.len(), 1, "{url} is captured once: {captures:?}");
    captures.remove(0)
}

/// Checks one capture's opt-out status against its row of the table.
fn check_status(expect: &Expect, capture: &Capture, captures: &BTreeMap<&str, Capture>) {
    let url = expect.url;
    assert_eq!(capture.url, url);
    assert_eq!(capture.capture_time_raw, expect.date, "{url}");
    assert_eq!(capture.http_status, 200, "{url}");
    let optout = capture.optout.as_ref().expect("optout");
    assert_eq!(optout.verdict, expect.verdict, "{url}: {optout:#?}");
    let got: Vec<SigTuple> = optout.signals.iter().map(of_server).collect();
    let want: Vec<SigTuple> = expect.signals.iter().map(of_table).collect();
    assert_eq!(got, want, "{url}: signals");
    assert_eq!(
        optout.deciding_signal.as_ref().map(of_server),
        expected_decider(expect),
        "{url}: deciding signal"
    );
    // Page-level signals are dated by the capture, site-level ones by the
    // site file's capture, whose URL and date the evidence names.
    for signal in &optout.signals {
        match site_file_url(url, &signal.source) {
            None => assert_eq!(signal.seen_at, capture.capture_time, "{url}: {signal:?}"),
            Some(file_url) => {
                let file = &captures[file_url.as_str()];
                assert_eq!(signal.seen_at, file.capture_time, "{url}: {signal:?}");
                let from = format!(
                    "-- from {file_url} captured {} (capture {})",
                    file.capture_time_raw, file.capture_id
                );
                assert!(signal.evidence.contains(&from), "{url}: {signal:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reservation_signal_reaches_lookup_check_opt_out_and_export() {
    // The table agrees with its own totals.
    let count = |verdict: &str| CAPTURES.iter().filter(|e| e.verdict == verdict).count();
    assert_eq!(CAPTURES.len() as u64, CAPTURE_COUNT);
    assert_eq!(count("reserved"), URLS_RESERVED);
    assert_eq!(count("not_reserved"), URLS_NOT_RESERVED);
    assert_eq!(count("unknown"), URLS_UNKNOWN);
    assert_eq!(
        EXPORT_EXCLUDED.iter().map(|(_, n)| n).sum::<u64>() + EXPORT_KEPT,
        CONTENT_COUNT
    );
    assert_eq!(KEPT_URLS.len() as u64, EXPORT_KEPT);

    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let warc = reservations_warc();
    let out = run_ok(&[
        "index".as_ref(),
        warc.as_os_str(),
        "--out".as_ref(),
        index.as_os_str(),
        "--crawl".as_ref(),
        "reservations".as_ref(),
        "--workers".as_ref(),
        "2".as_ref(),
        "--built-at".as_ref(),
        "0".as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "site files: {SITE_FILES} kept, 0 dropped, 0 truncated, 0 given robots.txt"
        )),
        "{stdout}"
    );
    let info: Value = serde_json::from_slice(
        &run_ok(&["info".as_ref(), "--json".as_ref(), index.as_os_str()]).stdout,
    )
    .expect("info JSON");
    assert_eq!(info["captures"], CAPTURE_COUNT, "{info}");
    assert_eq!(info["contents"], CONTENT_COUNT, "{info}");
    // Every page has its own text: no near-duplicate clusters.
    assert_eq!(info["clustered_contents"], 0, "{info}");

    let server = ServerProcess::start(&index);
    let mut client = ProvenanceServiceClient::new(server.channel().await);

    // ---- LookupUrl and GetCapture: every capture's opt-out status ---------
    let mut captures: BTreeMap<&str, Capture> = BTreeMap::new();
    for expect in CAPTURES {
        captures.insert(expect.url, only_capture(&mut client, expect.url).await);
    }
    for expect in CAPTURES {
        let capture = &captures[expect.url];
        check_status(expect, capture, &captures);
        let got = client
            .get_capture(GetCaptureRequest {
                capture_id: capture.capture_id.clone(),
                include_record: false,
            })
            .await
            .expect("get capture")
            .into_inner()
            .capture
            .expect("capture");
        assert_eq!(got.optout, capture.optout, "{}: GetCapture", expect.url);
    }

    // ---- CheckOptOut by URL ------------------------------------------------
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    for expect in CAPTURES {
        let url = expect.url;
        let capture = &captures[url];
        let answer = client
            .check_opt_out(CheckOptOutRequest {
                target: Some(Target::Url(url.to_owned())),
            })
            .await
            .unwrap_or_else(|s| panic!("{url}: {s}"))
            .into_inner();
        assert_eq!(answer.verdict, expect.verdict, "{url}: {answer:#?}");
        assert_eq!(answer.captures_checked, 1);
        assert_eq!(answer.content_id, capture.content_id, "{url}");
        let deciding = answer.deciding.as_ref().expect("deciding");
        assert_eq!(deciding.origin, "crawl_signal");
        assert_eq!(deciding.capture_id, capture.capture_id, "{url}");
        assert_eq!(deciding.verdict, expect.verdict, "{url}");
        assert_eq!(deciding.since, capture.capture_time);
        assert_eq!(
            deciding.signal.as_ref().map(of_server),
            expected_decider(expect),
            "{url}: the signal kind CheckOptOut reports"
        );
        let reserving: Vec<(&str, &str)> = answer
            .reserving
            .iter()
            .map(|f| (f.origin.as_str(), f.capture_id.as_str()))
            .collect();
        if expect.verdict == "reserved" {
            assert_eq!(reserving, [("crawl_signal", capture.capture_id.as_str())]);
        } else {
            assert!(reserving.is_empty(), "{url}: {reserving:?}");
        }
        *verdicts.entry(answer.verdict).or_default() += 1;
    }
    assert_eq!(
        verdicts,
        BTreeMap::from([
            ("not_reserved".to_owned(), URLS_NOT_RESERVED),
            ("reserved".to_owned(), URLS_RESERVED),
            ("unknown".to_owned(), URLS_UNKNOWN),
        ])
    );

    // ---- CheckOptOut by content --------------------------------------------
    // Every capture has its own content but the mirror, which has the novel's.
    let mut by_content: BTreeMap<&str, Vec<&Expect>> = BTreeMap::new();
    for expect in CAPTURES {
        let id = captures[expect.url].content_id.as_str();
        assert_eq!(id.len(), 32, "{}: has text", expect.url);
        by_content.entry(id).or_default().push(expect);
    }
    assert_eq!(by_content.len() as u64, CONTENT_COUNT);
    let novel_id = captures[NOVEL].content_id.as_str();
    assert_eq!(captures[MIRROR].content_id, novel_id);
    assert_eq!(by_content[novel_id].len(), 2);
    for (content_id, members) in &by_content {
        let answer = client
            .check_opt_out(CheckOptOutRequest {
                target: Some(Target::ContentId((*content_id).to_owned())),
            })
            .await
            .expect("check content")
            .into_inner();
        // Hand rule: reserved if any capture is, else not_reserved if any is.
        let expected = if members.iter().any(|e| e.verdict == "reserved") {
            "reserved"
        } else if members.iter().any(|e| e.verdict == "not_reserved") {
            "not_reserved"
        } else {
            "unknown"
        };
        assert_eq!(answer.verdict, expected, "{members:?}");
        assert_eq!(answer.captures_checked, members.len() as u64);
        assert_eq!(
            answer.reserving.len(),
            members.iter().filter(|e| e.verdict == "reserved").count()
        );
    }
    // The novel: reserved by its own site's tdmrep.json although the mirror's
    // later capture says nothing; the reserving capture decides.
    let novel = client
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::ContentId(novel_id.to_owned())),
        })
        .await
        .expect("novel")
        .into_inner();
    assert_eq!(novel.verdict, "reserved");
    let deciding = novel.deciding.expect("deciding");
    assert_eq!(deciding.url, NOVEL);
    assert_eq!(deciding.capture_id, captures[NOVEL].capture_id);
    let signal = deciding.signal.expect("signal");
    assert_eq!(
        (signal.kind.as_str(), signal.source.as_str()),
        ("tdm_reservation", "tdmrep_json")
    );
    drop(server);

    // ---- provindex export: exactly the reserved contents go ----------------
    let manifest = dir.path().join("train.jsonl");
    let summary: Value = serde_json::from_slice(
        &run_ok(&[
            "export".as_ref(),
            index.as_os_str(),
            "--out".as_ref(),
            manifest.as_os_str(),
        ])
        .stdout,
    )
    .expect("summary JSON");
    let excluded: BTreeMap<String, u64> = EXPORT_EXCLUDED
        .iter()
        .map(|(r, n)| ((*r).to_owned(), *n))
        .collect();
    let reserved_total: u64 = excluded.values().sum();
    assert_eq!(summary["contents"], CONTENT_COUNT, "{summary}");
    assert_eq!(summary["kept"], EXPORT_KEPT, "{summary}");
    assert_eq!(summary["excluded"], reserved_total, "{summary}");
    assert_eq!(
        summary["excluded_by_reason"],
        serde_json::to_value(&excluded).expect("json"),
        "{summary}"
    );
    assert_eq!(
        summary["matched_by_reason"],
        serde_json::to_value(&excluded).expect("json"),
        "{summary}"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&manifest)
        .expect("manifest")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let kept: BTreeMap<&str, &str> = lines
        .iter()
        .map(|l| {
            (
                l["url"].as_str().expect("url"),
                l["content_id"].as_str().expect("content_id"),
            )
        })
        .collect();
    assert_eq!(kept.len(), lines.len(), "one line per URL");
    assert_eq!(
        kept.keys().copied().collect::<BTreeSet<_>>(),
        KEPT_URLS.iter().copied().collect::<BTreeSet<_>>()
    );
    for (url, content_id) in &kept {
        assert_eq!(*content_id, captures[url].content_id, "{url}");
    }
    assert!(
        !kept.values().any(|id| *id == novel_id),
        "the novel is reserved"
    );
    let reader = provindex_index::IndexReader::open(&index).expect("open index");
    let kept_tokens: u64 = kept
        .values()
        .map(|id| {
            let id = u128::from_str_radix(id, 16).expect("hex id");
            let content = reader.content(id).expect("read content");
            content.expect("kept content exists").token_count
        })
        .sum();
    drop(reader);
    assert_eq!(summary["kept_tokens"], kept_tokens, "{summary}");

    // ---- provindex report: the same reservations ---------------------------
    let report_json = dir.path().join("report.json");
    run_ok(&[
        "report".as_ref(),
        index.as_os_str(),
        "--json".as_ref(),
        report_json.as_os_str(),
    ]);
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_json).expect("report")).expect("JSON");
    let reservations = &report["reservation_signals"];
    assert_eq!(
        reservations["contents_with_reservation"], reserved_total,
        "{reservations}"
    );
    assert_eq!(reservations["excluded_from_export"], reserved_total);
    // The mirror's capture is not itself reserved.
    assert_eq!(reservations["captures_reserved"], URLS_RESERVED as u64);
    let by_kind: BTreeMap<String, u64> = EXPORT_EXCLUDED
        .iter()
        .map(|(r, n)| (r.trim_start_matches("crawl_signal:").to_owned(), *n))
        .collect();
    assert_eq!(
        reservations["by_signal_kind"],
        serde_json::to_value(&by_kind).expect("json"),
        "{reservations}"
    );
}
