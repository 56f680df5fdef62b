//! End to end, with real processes: `provindex index` builds an index from the
//! real WARC files in tests/data/corpus/warc (plus one malformed file),
//! `provindex serve` serves it on an ephemeral loopback port, and a real gRPC
//! client (and the `provindex lookup` CLI) checks the answers against an
//! independent reading of the same WARC files.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::{ServerProcess, corpus_dir, provindex_bin, scan_warc};
use provindex_proto::v1::{
    GetCaptureRequest, LookupContentRequest, LookupUrlRequest, UrlMatch,
    lookup_content_request::Key, provenance_service_client::ProvenanceServiceClient,
};
use tonic::Code;

struct Fixture {
    _dir: tempfile::TempDir,
    index: std::path::PathBuf,
    summary: String,
}

fn build_index() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc"))
        .arg(corpus_dir().join("malformed/clipped.warc.gz"))
        .arg(corpus_dir().join("malformed/example-wrong-chunks.warc.gz"))
        .arg("--out")
        .arg(&index)
        .args([
            "--crawl",
            "shared-corpus",
            "--workers",
            "2",
            "--built-at",
            "0",
        ])
        .output()
        .expect("run provindex index");
    let summary = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "index failed: {summary}\n{stderr}");
    // The malformed files are reported with their name and a byte offset, and counted.
    for file in ["clipped.warc.gz@", "example-wrong-chunks.warc.gz@"] {
        assert!(
            stderr.contains(file),
            "read errors must name file@offset: {stderr}"
        );
    }
    let errors: u64 = summary_value(&summary, "read errors")
        .parse()
        .expect("count");
    assert!(errors >= 3, "{summary}");
    Fixture {
        _dir: dir,
        index,
        summary,
    }
}

fn summary_value<'a>(summary: &'a str, key: &str) -> &'a str {
    summary
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no `{key}:` line in {summary}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_serve_and_look_up_the_real_corpus() {
    let fixture = build_index();
    let server = ServerProcess::start(&fixture.index);
    let channel = tonic::transport::Channel::from_shared(server.url())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut client = ProvenanceServiceClient::new(channel.clone());

    // An independent reading of the WARC files: every http(s) response record.
    let mut responses = Vec::new();
    let mut good_file_records = 0;
    for entry in std::fs::read_dir(corpus_dir().join("warc")).expect("corpus") {
        let path = entry.expect("entry").path();
        for record in scan_warc(&path) {
            good_file_records += 1;
            if record.warc_type == "response"
                && (record.target_uri.starts_with("http://")
                    || record.target_uri.starts_with("https://"))
            {
                responses.push(record);
            }
        }
    }
    assert!(
        responses.len() > 450,
        "expected the whole corpus, got {}",
        responses.len()
    );
    assert!(good_file_records > responses.len());

    // 1. Every response record's URL is found, and the capture with its record id is there.
    let mut content_by_record = BTreeMap::new();
    for record in &responses {
        let mut found = None;
        let mut request = LookupUrlRequest {
            url: record.target_uri.clone(),
            r#match: UrlMatch::Exact as i32,
            page_size: 1000,
            ..Default::default()
        };
        loop {
            let page = client
                .lookup_url(request.clone())
                .await
                .unwrap_or_else(|status| panic!("lookup {}: {status}", record.target_uri))
                .into_inner();
            if let Some(capture) = page
                .captures
                .iter()
                .find(|c| c.record_id == record.record_id)
            {
                found = Some(capture.clone());
            }
            if page.next_page_token.is_empty() || found.is_some() {
                break;
            }
            request.page_token = page.next_page_token;
        }
        let capture = found.unwrap_or_else(|| {
            panic!(
                "{} ({}) not found by URL",
                record.target_uri, record.record_id
            )
        });
        assert_eq!(capture.record_kind, "response");
        assert_eq!(capture.crawl, "shared-corpus");
        content_by_record.insert(record.record_id.clone(), capture.content_id.clone());
    }

    // 2. Responses with the same payload digest carry the same text: same content_id.
    //    (The CC excerpt is in the corpus twice, plain and gzipped: the same
    //    record ids, indexed once.)
    let mut by_digest: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for record in &responses {
        if !record.payload_digest.is_empty() {
            let ids = by_digest.entry(&record.payload_digest).or_default();
            if !ids.contains(&record.record_id.as_str()) {
                ids.push(&record.record_id);
            }
        }
    }
    let mut shared_pairs = 0;
    for records in by_digest.values().filter(|r| r.len() > 1) {
        let ids: BTreeSet<&String> = records.iter().map(|r| &content_by_record[*r]).collect();
        assert_eq!(
            ids.len(),
            1,
            "same payload, different content ids: {records:?}"
        );
        if ids.iter().all(|id| !id.is_empty()) {
            shared_pairs += 1;
        }
    }
    assert!(
        shared_pairs >= 5,
        "expected several identical payloads with text, got {shared_pairs}"
    );

    // 3. LookupContent by id lists those captures; by SHA-256 and by id agree.
    let (digest, records) = by_digest
        .iter()
        .find(|(_, r)| r.len() > 1 && !content_by_record[r[0]].is_empty())
        .expect("a repeated payload with text");
    let content_id = content_by_record[records[0]].clone();
    let by_id = client
        .lookup_content(LookupContentRequest {
            key: Some(Key::ContentId(content_id.clone())),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .expect("lookup content")
        .into_inner();
    let content = by_id.content.expect("content");
    assert!(
        content.capture_count >= records.len() as u64,
        "{digest}: {content:?}"
    );
    let listed: BTreeSet<&str> = by_id
        .captures
        .iter()
        .map(|c| c.record_id.as_str())
        .collect();
    for record in records {
        assert!(listed.contains(record), "{record} missing from {listed:?}");
    }
    let by_sha = client
        .lookup_content(LookupContentRequest {
            key: Some(Key::Sha256(content.sha256.clone())),
            ..Default::default()
        })
        .await
        .expect("lookup by sha256")
        .into_inner();
    assert_eq!(by_sha.content.expect("content").content_id, content_id);

    // 4. Revisits of the second gov.uk crawl resolve to the first crawl's content.
    let revisit_page = client
        .lookup_url(LookupUrlRequest {
            url: "http://data.gov.uk/".into(),
            r#match: UrlMatch::Host as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("host lookup")
        .into_inner();
    let revisits: Vec<_> = revisit_page
        .captures
        .iter()
        .filter(|c| c.record_kind == "revisit")
        .collect();
    assert!(
        revisits.len() >= 50,
        "gov.uk revisits are indexed: {}",
        revisits.len()
    );
    // Each revisit carries its original's content (the response of crawl a with
    // the same URL), text or no text.
    let mut compared = 0;
    for revisit in &revisits {
        let original = revisit_page.captures.iter().find(|c| {
            c.record_kind == "response"
                && c.url == revisit.url
                && c.capture_time < revisit.capture_time
        });
        if let Some(original) = original {
            assert_eq!(revisit.content_id, original.content_id, "{}", revisit.url);
            compared += 1;
        }
    }
    assert!(
        compared * 10 >= revisits.len() * 9,
        "{compared} of {}",
        revisits.len()
    );
    assert!(revisits.iter().filter(|c| !c.content_id.is_empty()).count() >= 20);

    // 5. GetCapture returns the evidence location of a capture.
    //    With include_record, the original record bytes come back from the
    //    object, and decode to the same record.
    let capture_id = revisit_page.captures[0].capture_id.clone();
    let response = client
        .get_capture(GetCaptureRequest {
            capture_id: capture_id.clone(),
            include_record: true,
        })
        .await
        .expect("get capture")
        .into_inner();
    let capture = response.capture.expect("capture");
    let location = capture.location.clone().expect("location");
    assert!(location.uri.contains("gov.uk-2014"), "{location:?}");
    assert!(location.length > 0);
    assert_eq!(response.record.len() as u64, location.length);
    let original =
        provindex_corpus::decode_record(&response.record, &location.uri).expect("decodes");
    assert_eq!(
        original.header("WARC-Record-ID").unwrap_or_default(),
        capture.record_id
    );
    let without = client
        .get_capture(GetCaptureRequest {
            capture_id: capture_id.clone(),
            include_record: false,
        })
        .await
        .expect("get capture")
        .into_inner();
    assert!(without.record.is_empty());

    // 6. Licenses stated by real pages travel with their captures; unlicensed
    //    pages say nothing (never a guess), and every capture carries a verdict.
    for (url, spdx) in [
        (
            "https://an.wikipedia.org/wiki/Escopete",
            Some("CC-BY-SA-4.0"),
        ),
        (
            "http://www.archive.org/details/JTRNET15",
            Some("CC-BY-NC-ND-3.0"),
        ),
        ("https://soldaini.net/", Some("CC-BY-4.0")),
        ("http://data.gov.uk/terms-and-conditions", None),
    ] {
        let page = client
            .lookup_url(LookupUrlRequest {
                url: url.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|status| panic!("{url}: {status}"))
            .into_inner();
        let response = page
            .captures
            .iter()
            .find(|c| c.record_kind == "response")
            .unwrap_or_else(|| panic!("{url}: no response capture"));
        assert_eq!(
            response.license.as_ref().map(|l| l.spdx.as_str()),
            spdx,
            "{url}: {:?}",
            response.license
        );
        let optout = response.optout.as_ref().expect("opt-out status");
        assert!(
            ["reserved", "not_reserved", "unknown"].contains(&optout.verdict.as_str()),
            "{optout:?}"
        );
    }

    // 7. Unknown URL → NOT_FOUND; malformed requests → INVALID_ARGUMENT.
    let status = client
        .lookup_url(LookupUrlRequest {
            url: "http://no-such-host.example/never".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown url");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    for (request, field) in [
        (LookupUrlRequest::default(), "url"),
        (
            LookupUrlRequest {
                url: "http://[broken".into(),
                ..Default::default()
            },
            "url",
        ),
        (
            LookupUrlRequest {
                url: "http://data.gov.uk/".into(),
                page_token: "zz-not-hex".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            LookupUrlRequest {
                url: "http://data.gov.uk/".into(),
                page_size: 100_000,
                ..Default::default()
            },
            "page_size",
        ),
    ] {
        let status = client.lookup_url(request).await.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{status:?}");
    }
    for key in [
        None,
        Some(Key::ContentId("1234".into())),
        Some(Key::ContentId("g".repeat(32))),
        Some(Key::Sha256("00".into())),
        Some(Key::Text("  ...  ".into())),
    ] {
        let status = client
            .lookup_content(LookupContentRequest {
                key,
                ..Default::default()
            })
            .await
            .expect_err("invalid content lookup");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    let status = client
        .lookup_content(LookupContentRequest {
            key: Some(Key::ContentId("0".repeat(32))),
            ..Default::default()
        })
        .await
        .expect_err("unknown content");
    assert_eq!(status.code(), Code::NotFound);

    // 8. The CLI client: human output and exit status 0 when found, 1 when not.
    let found = Command::new(provindex_bin())
        .args([
            "lookup",
            "url",
            &responses[0].target_uri,
            "--server",
            &server.addr,
        ])
        .output()
        .expect("lookup cli");
    assert!(found.status.success(), "{found:?}");
    assert!(String::from_utf8_lossy(&found.stdout).contains(&responses[0].target_uri));
    let json = Command::new(provindex_bin())
        .args([
            "lookup",
            "content",
            &content_id,
            "--json",
            "--server",
            &server.addr,
        ])
        .output()
        .expect("lookup cli");
    assert!(json.status.success(), "{json:?}");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json output");
    assert_eq!(value["content"]["content_id"], content_id.as_str());
    let missing = Command::new(provindex_bin())
        .args([
            "lookup",
            "url",
            "http://no-such-host.example/",
            "--server",
            &server.addr,
        ])
        .output()
        .expect("lookup cli");
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");

    // 9. Health is SERVING over the standard health protocol.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "provindex.v1.ProvenanceService".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    assert!(fixture.summary.contains("digest: "));
}

#[test]
fn same_corpus_gives_the_same_digest_whatever_the_worker_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut digests = BTreeSet::new();
    for workers in ["1", "3"] {
        let out = dir.path().join(format!("index-{workers}"));
        let output = Command::new(provindex_bin())
            .arg("index")
            .arg(corpus_dir().join("warc/gov.uk-2014-crawl-b-revisits.warc.gz"))
            .arg(corpus_dir().join("warc/gov.uk-2014-crawl-a.warc.gz"))
            .arg(corpus_dir().join("warc/iana.org-2014.warc.gz"))
            .arg("--out")
            .arg(&out)
            .args(["--workers", workers, "--built-at", "0"])
            .output()
            .expect("index");
        assert!(output.status.success(), "{output:?}");
        let info = Command::new(provindex_bin())
            .arg("info")
            .arg(&out)
            .output()
            .expect("info");
        assert!(info.status.success(), "{info:?}");
        let text = String::from_utf8_lossy(&info.stdout).into_owned();
        digests.insert(summary_value(&text, "digest").to_owned());
    }
    assert_eq!(digests.len(), 1, "{digests:?}");
}

#[test]
fn a_file_that_is_not_warc_is_reported_and_the_rest_is_indexed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("not-a-warc.txt");
    std::fs::write(&junk, "this is not a web archive\n".repeat(100)).expect("write");
    let out = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(&junk)
        .arg(corpus_dir().join("warc/cc-main-2020-34-excerpt.warc.gz"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("index");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("not-a-warc.txt@0"), "{stderr}");
    assert_eq!(summary_value(&stdout, "captures"), "16", "{stdout}");
    assert!(
        summary_value(&stdout, "read errors")
            .parse::<u64>()
            .expect("n")
            >= 1
    );

    // A missing input stops the build before anything is written.
    let missing = Command::new(provindex_bin())
        .args(["index", "/no/such/file.warc.gz", "--out"])
        .arg(dir.path().join("never"))
        .output()
        .expect("index");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/no/such/file.warc.gz"));
}

/// Indexes the aut-archive.org WARC into `out` (`--built-at 0`, then `extra`).
fn index_aut_archive(out: &std::path::Path, extra: &[&str]) {
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc/aut-archive.org-2008.warc.gz"))
        .arg("--out")
        .arg(out)
        .args(["--built-at", "0"])
        .args(extra)
        .output()
        .expect("index");
    assert!(output.status.success(), "{output:?}");
}

/// `provindex info … | head`: standard output closed before anything is
/// written (the pipe's read end is closed before the command starts, so the
/// first write fails whatever the timing).
#[test]
fn a_closed_stdout_ends_the_command_quietly_not_in_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("index");
    index_aut_archive(&out, &[]);
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let info = Command::new(provindex_bin())
        .args(["info", "--json", "--tables"])
        .arg(&out)
        .stdout(writer)
        .output()
        .expect("info");
    let stderr = String::from_utf8_lossy(&info.stderr);
    assert_eq!(info.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn info_tables_accounts_for_every_row_and_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("index");
    index_aut_archive(&out, &[]);
    let info = Command::new(provindex_bin())
        .args(["info", "--json", "--tables"])
        .arg(&out)
        .output()
        .expect("info");
    assert!(info.status.success(), "{info:?}");
    let value: serde_json::Value = serde_json::from_slice(&info.stdout).expect("json");
    let table = |name: &str| {
        value["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("no table {name}"))
            .clone()
    };
    let count = |v: &serde_json::Value| v.as_u64().expect("a count");
    // Rows walked agree with the counts the build kept while writing.
    assert_eq!(count(&table("captures")["rows"]), count(&value["captures"]));
    assert_eq!(count(&table("contents")["rows"]), count(&value["contents"]));
    assert_eq!(count(&table("urls")["rows"]), count(&value["urls"]));
    assert_eq!(
        count(&table("content_sha256")["rows"]),
        count(&value["contents"])
    );
    assert_eq!(count(&table("meta")["rows"]), 1);
    assert!(count(&value["captures"]) > 100, "{value}");
    assert!(count(&value["clustered_contents"]) > 0, "{value}");
    assert_eq!(
        count(&table("clusters")["rows"]),
        count(&value["clustered_contents"])
    );
    // Fixed-width tables: 16-byte keys; 64-byte signatures (K = 128 × 4 bits);
    // 9-byte lsh keys (band, 32-bit band key, 4-byte content_id prefix: no
    // two contents of this corpus share one).
    let captures = table("captures");
    assert_eq!(count(&captures["key_bytes"]), 16 * count(&captures["rows"]));
    let signatures = table("signatures");
    assert_eq!(
        count(&signatures["value_bytes"]),
        64 * count(&signatures["rows"])
    );
    let lsh = table("lsh");
    assert_eq!(count(&lsh["key_bytes"]), 9 * count(&lsh["rows"]));
    for name in ["captures", "contents", "urls", "signatures", "lsh"] {
        assert!(count(&table(name)["sst_bytes"]) > 0, "{name}: {value}");
    }
}

/// `info` on a local publication (`index --index-partitions 4 --out DIR`):
/// the whole index's manifest (the one-partition build's), its partitions
/// as `publication.json` lists them with their own counts, and with
/// `--tables` the tables of every partition; a directory that is neither a
/// publication nor an index is refused naming what was looked for.
#[test]
fn info_describes_a_local_publication_of_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let info = |args: &[&str], index: &std::path::Path| {
        Command::new(provindex_bin())
            .arg("info")
            .args(args)
            .arg(index)
            .output()
            .expect("info")
    };
    let info_json = |index: &std::path::Path| -> serde_json::Value {
        let output = info(&["--json", "--tables"], index);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).expect("json")
    };
    let one = dir.path().join("one");
    index_aut_archive(&one, &[]);
    let published = dir.path().join("published");
    index_aut_archive(&published, &["--index-partitions", "4"]);
    let whole = info_json(&one);
    let parts = info_json(&published);
    assert!(whole.get("publication").is_none(), "{whole}");
    for key in [
        "digest",
        "format_version",
        "sketch_spec",
        "captures",
        "contents",
        "urls",
        "clusters",
        "clustered_contents",
    ] {
        assert_eq!(parts[key], whole[key], "{key}");
    }
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("a count: {v}"));
    assert!(count(&whole["captures"]) > 100, "{whole}");

    // Partitions as publication.json lists them: contiguous chunks, sizes
    // of the files on disk, owned counts adding up to the index's.
    let listed = parts["publication"]["partitions"]
        .as_array()
        .expect("partitions");
    assert_eq!(listed.len(), 4, "{parts}");
    let publication: serde_json::Value = serde_json::from_slice(
        &std::fs::read(published.join("publication.json")).expect("publication.json"),
    )
    .expect("json");
    let (mut next_chunk, mut sums) = (0, [0u64; 3]);
    for (n, partition) in listed.iter().enumerate() {
        assert_eq!(partition["id"], format!("p{n:04}"));
        assert_eq!(count(&partition["chunks"]["start"]), next_chunk);
        next_chunk = count(&partition["chunks"]["end"]);
        let files = publication["partitions"][n]["files"]
            .as_array()
            .expect("files");
        assert_eq!(count(&partition["files"]), files.len() as u64);
        let on_disk: u64 = files
            .iter()
            .map(|f| {
                let path = published.join(f["path"].as_str().expect("path"));
                std::fs::metadata(&path).expect("listed file").len()
            })
            .sum();
        assert_eq!(count(&partition["bytes"]), on_disk, "{partition}");
        for (sum, key) in sums.iter_mut().zip(["captures", "contents", "urls"]) {
            *sum += count(&partition[key]);
        }
    }
    assert_eq!(next_chunk, 256);
    assert_eq!(
        sums,
        ["captures", "contents", "urls"].map(|key| count(&whole[key]))
    );

    // Tables of every partition: each URL and content row once, each
    // capture at least once (a content's partition holds copies).
    let table = |value: &serde_json::Value, name: &str| {
        value["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("no table {name}: {value}"))
            .clone()
    };
    assert_eq!(count(&table(&parts, "urls")["rows"]), count(&whole["urls"]));
    assert_eq!(
        count(&table(&parts, "contents")["rows"]),
        count(&whole["contents"])
    );
    assert!(count(&table(&parts, "captures")["rows"]) >= count(&whole["captures"]));
    assert_eq!(count(&table(&parts, "meta")["rows"]), 4);
    let per_partition: u64 = listed
        .iter()
        .map(|p| count(&table(p, "captures")["sst_bytes"]))
        .sum();
    assert_eq!(
        count(&table(&parts, "captures")["sst_bytes"]),
        per_partition
    );

    // The text form says what it is.
    let text = info(&[], &published);
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("published: 4 partition(s)"), "{text}");
    assert_eq!(summary_value(&text, "digest"), whole["digest"]);
    for n in 0..4 {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("p{n:04} "))),
            "{text}"
        );
    }

    // Neither a publication nor an index: the path and what was looked for.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let unfinished = dir.path().join("unfinished");
    std::fs::create_dir_all(unfinished.join("partitions")).expect("mkdir");
    let missing = dir.path().join("missing");
    for (path, expected) in [
        (
            &empty,
            "not an index: found neither publication.json (a published index) nor CURRENT",
        ),
        (&unfinished, "holds partitions/ but no publication.json"),
        (&missing, "no such directory"),
    ] {
        let output = info(&[], path);
        assert!(!output.status.success(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("{}: {expected}", path.display())),
            "{stderr}"
        );
    }
}

/// A WARC/1.0 record (uncompressed) with `headers` and `body`.
fn warc_record(headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = b"WARC/1.0\r\n".to_vec();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// NUL bytes in crawl input. A URL's NUL, `%00` or raw, in its path or
/// query: SURT keys escape it as `%00` (`signals::surt`), so the `urls`
/// key's NUL terminator and the build's sorted runs (NUL-separated SURT ‖
/// time keys) stay unambiguous; each capture is found by exact and prefix
/// lookups, by either spelling, from the one-process index and from its
/// 4-partition publication, which has the same digest. A NUL in the host
/// is no URL: that capture is indexed without a URL key. A payload digest
/// with a NUL byte matches no revisit: the digests run separates the digest
/// from the capture key by a NUL, and a revisit asking for `sha1:NULTEST`
/// was resolved to the capture whose digest is `sha1:NULTEST\0x`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_in_urls_and_digests_neither_split_nor_mismatch_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = |n: usize| {
        let html = format!(
            "<html><head><title>t</title></head><body><p>Page number {n} about null bytes in \
             addresses, with enough words to be a content of its own.</p></body></html>"
        );
        let mut http = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            html.len()
        )
        .into_bytes();
        http.extend_from_slice(html.as_bytes());
        http
    };
    let record_id = |n: usize| format!("<urn:uuid:0000000{n}-0000-4000-8000-000000000000>");
    let encoded = "http://nul.example.org/a%00b?q=x%00y";
    let raw = "http://nul.example.org/c\0d?r=\0s";
    let in_host = "http://nu\0l.example.org/h";
    let mut warc = Vec::new();
    for (n, url) in [encoded, raw, in_host].into_iter().enumerate() {
        warc.extend(warc_record(
            &[
                ("WARC-Type", b"response"),
                ("WARC-Record-ID", record_id(n).as_bytes()),
                (
                    "WARC-Date",
                    format!("2024-01-0{}T00:00:00Z", n + 1).as_bytes(),
                ),
                ("WARC-Target-URI", url.as_bytes()),
                ("Content-Type", b"application/http; msgtype=response"),
            ],
            &page(n),
        ));
    }
    // A revisit by payload digest (its original named nowhere else).
    let revisit = "http://revisit.example.org/r";
    warc.extend(warc_record(
        &[
            ("WARC-Type", b"revisit"),
            ("WARC-Record-ID", record_id(9).as_bytes()),
            ("WARC-Date", b"2024-03-01T00:00:00Z"),
            ("WARC-Target-URI", revisit.as_bytes()),
            (
                "WARC-Profile",
                b"http://netpreserve.org/warc/1.0/revisit/identical-payload-digest",
            ),
            ("WARC-Payload-Digest", b"sha1:NULTEST"),
            (
                "WARC-Refers-To-Target-URI",
                b"http://elsewhere.example.org/",
            ),
            ("WARC-Refers-To-Date", b"2024-01-01T00:00:00Z"),
            ("Content-Type", b"application/http; msgtype=response"),
        ],
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n",
    ));
    let warc_path = dir.path().join("nul.warc");
    std::fs::write(&warc_path, warc).expect("write WARC");
    let in_jsonl = "http://nul.example.org/e\0f?s=\0t";
    let jsonl = [
        serde_json::json!({
            "id": "j1", "url": in_jsonl, "date": "2024-02-01T00:00:00Z",
            "text": "A JSONL text whose address holds a raw null byte in its path and its query.",
        }),
        serde_json::json!({
            "id": "j2", "url": "http://digest.example.org/", "date": "2024-02-02T00:00:00Z",
            "digest": "sha1:NULTEST\0x",
            "text": "A JSONL text whose payload digest is the revisit's, then a null byte and more.",
        }),
    ]
    .map(|line| format!("{line}\n"))
    .concat();
    let jsonl_path = dir.path().join("nul.jsonl");
    std::fs::write(&jsonl_path, jsonl).expect("write JSONL");

    let build = |out: &std::path::Path, extra: &[&str]| {
        let output = Command::new(provindex_bin())
            .arg("index")
            .arg(&warc_path)
            .arg(&jsonl_path)
            .arg("--out")
            .arg(out)
            .args(["--built-at", "0"])
            .args(extra)
            .output()
            .expect("index");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{output:?}");
        stdout
    };
    let one = dir.path().join("one");
    let summary = build(&one, &[]);
    assert_eq!(summary_value(&summary, "captures"), "6", "{summary}");
    assert_eq!(summary_value(&summary, "read errors"), "0", "{summary}");
    assert_eq!(
        summary_value(&summary, "urls without SURT key"),
        "1",
        "{summary}"
    );
    assert_eq!(
        summary_value(&summary, "revisits"),
        "0 resolved, 1 unresolved",
        "{summary}"
    );
    let four = dir.path().join("four");
    let partitioned = build(&four, &["--index-partitions", "4"]);
    let digest = |index: &std::path::Path| {
        let output = Command::new(provindex_bin())
            .arg("info")
            .arg(index)
            .output()
            .expect("info");
        assert!(output.status.success(), "{output:?}");
        summary_value(&String::from_utf8_lossy(&output.stdout), "digest").to_owned()
    };
    assert_eq!(
        summary_value(&partitioned, "digest"),
        summary_value(&summary, "digest")
    );
    assert_eq!(digest(&four), digest(&one));

    // (url asked, match, the URLs of the captures found).
    let nul_urls = [encoded, raw, in_jsonl];
    let expected: Vec<(&str, UrlMatch, Vec<&str>)> = vec![
        (encoded, UrlMatch::Exact, vec![encoded]),
        (
            "http://nul.example.org/a\0b?q=x\0y",
            UrlMatch::Exact,
            vec![encoded],
        ),
        (raw, UrlMatch::Exact, vec![raw]),
        (
            "http://nul.example.org/c%00d?r=%00s",
            UrlMatch::Exact,
            vec![raw],
        ),
        (in_jsonl, UrlMatch::Exact, vec![in_jsonl]),
        (
            "http://nul.example.org/a%00",
            UrlMatch::Prefix,
            vec![encoded],
        ),
        ("http://nul.example.org/c\0", UrlMatch::Prefix, vec![raw]),
        (
            "http://nul.example.org/e\0f",
            UrlMatch::Prefix,
            vec![in_jsonl],
        ),
        (
            "http://nul.example.org/",
            UrlMatch::Prefix,
            nul_urls.to_vec(),
        ),
        ("nul.example.org", UrlMatch::Host, nul_urls.to_vec()),
    ];
    for index in [&one, &four] {
        let server = ServerProcess::start(index);
        let mut client = ProvenanceServiceClient::new(server.channel().await);
        for (url, mode, urls) in &expected {
            let page = client
                .lookup_url(LookupUrlRequest {
                    url: (*url).into(),
                    r#match: *mode as i32,
                    page_size: 100,
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|status| panic!("{}: {url:?}: {status}", index.display()))
                .into_inner();
            let mut found: Vec<&str> = page.captures.iter().map(|c| c.url.as_str()).collect();
            found.sort();
            let mut wanted = urls.clone();
            wanted.sort();
            assert_eq!(found, wanted, "{}: {url:?} {mode:?}", index.display());
            for capture in &page.captures {
                assert!(!capture.surt.contains('\0'), "{capture:?}");
                assert!(capture.surt.contains("%00"), "{capture:?}");
                assert!(!capture.content_id.is_empty(), "{capture:?}");
            }
        }
        // The revisit found no original: no capture's digest is its own.
        let page = client
            .lookup_url(LookupUrlRequest {
                url: revisit.into(),
                ..Default::default()
            })
            .await
            .expect("revisit")
            .into_inner();
        assert_eq!(page.captures.len(), 1, "{page:?}");
        assert_eq!(page.captures[0].content_id, "", "{page:?}");
    }
}
