//! End to end, with real processes (issue 17): the bundled crawl indexed
//! once whole (`index --out DIR1`) and once in 4 partitions (`index
//! --index-partitions 4 --out DIR4`); two `serve` processes hold partitions
//! 0,1 and 2,3 of DIR4, a `router` routes over both, one `serve` serves
//! DIR1. Every URL lookup (all match modes, public-suffix domains, time
//! filters, newest first, paginated), every content lookup (by id, by
//! SHA-256), GetCapture, FindWork, CheckOptOut and BatchLookup through the
//! router must equal the single server's answer message for message. Then
//! one partition server is killed: requests needing its partitions answer
//! UNAVAILABLE naming the partition, the others still answer. AuditService's
//! DrawSample through the router (every partition's share, merged) equals
//! the single server's for every source of the corpus, its errors included.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{RegistryServer, ServerProcess, corpus_dir, provindex_bin, scan_warc};
use provindex_index::partition::Partitioning;
use provindex_proto::v1::{
    BatchLookupRequest, CheckOptOutRequest, ClaimContentRequest, ClaimContentResponse,
    ComplaintResponse, DrawSampleRequest, DrawSampleResponse, FileComplaintRequest,
    FindPersonalDataRequest, FindWorkRequest, FindWorkResponse, GetCaptureRequest,
    GetComplaintRequest, GetTransparencyReportRequest, LabelVerdict, LineageRequest,
    LineageResponse, LookupContentRequest, LookupUrlRequest, LookupUrlResponse, OptOutScope,
    RecordLabelRequest, RecordLabelResponse, RegisterMandateRequest, RegisterMandateResponse,
    ReviewAction, ReviewComplaintRequest, RevokeClaimRequest, Source, SourceFailureRateRequest,
    SourceFailureRateResponse, SourceKind, UrlMatch, audit_service_client::AuditServiceClient,
    batch_lookup_request::Lookup, check_opt_out_request::Target,
    file_complaint_request::Target as ComplaintTarget, ledger_service_client::LedgerServiceClient,
    lookup_content_request::Key, opt_out_scope, provenance_service_client::ProvenanceServiceClient,
    report_service_client::ReportServiceClient,
};
use tonic::transport::Channel;
use tonic::{Code, Status};

type Client = ProvenanceServiceClient<Channel>;

fn warcs() -> Vec<PathBuf> {
    let dir = corpus_dir().join("warc");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".warc.gz"))
        .collect();
    files.sort();
    files
}

fn build(out: &Path, extra: &[&str]) {
    let output = Command::new(provindex_bin())
        .arg("index")
        .args(warcs())
        .arg("--out")
        .arg(out)
        .args(["--workers", "2", "--built-at", "0"])
        .args(extra)
        .output()
        .expect("run provindex index");
    assert!(
        output.status.success(),
        "index {extra:?} failed: {output:?}"
    );
}

/// A `provindex router` child process, killed on drop.
struct RouterProcess {
    child: Child,
    addr: String,
    /// With `--http-listen`: its address.
    http_addr: Option<String>,
}

impl RouterProcess {
    fn start(backends: &[&ServerProcess]) -> Result<Self, String> {
        Self::spawn(backends, false, &[])
    }

    /// With `--http-listen 127.0.0.1:0` (`/cdx`, `/record`).
    fn start_http(backends: &[&ServerProcess]) -> Result<Self, String> {
        Self::spawn(backends, true, &[])
    }

    /// With `--registry-url URL` (AuditService's registry calls).
    fn start_with_registry(backends: &[&ServerProcess], url: &str) -> Result<Self, String> {
        Self::spawn(backends, false, &["--registry-url", url])
    }

    fn spawn(backends: &[&ServerProcess], http: bool, extra: &[&str]) -> Result<Self, String> {
        let mut command = Command::new(provindex_bin());
        command
            .args(["router", "--listen", "127.0.0.1:0"])
            .args(extra);
        if http {
            command.args(["--http-listen", "127.0.0.1:0"]);
        }
        for backend in backends {
            command.arg("--backend").arg(backend.url());
        }
        let mut child = command
            .args(["--describe-timeout-secs", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start provindex router");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut read = |prefix: &str| {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read");
            line.trim().strip_prefix(prefix).map(str::to_owned)
        };
        let announced = read("listening on ").and_then(|addr| match http {
            true => read("http listening on ").map(|http| (addr, Some(http))),
            false => Some((addr, None)),
        });
        match announced {
            Some((addr, http_addr)) => {
                std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
                Ok(Self {
                    child,
                    addr,
                    http_addr,
                })
            }
            None => {
                let output = child.wait_with_output().expect("wait");
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        }
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` as a query-string value.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs a urlencoded form: status and body.
fn http_post_form(addr: &str, target: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .expect("timeout");
    write!(
        stream,
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// The web page's search for `text` (`POST /find`): status and HTML.
fn page_search(addr: &str, text: &str) -> (u16, String) {
    http_post_form(addr, "/find?lang=en", &format!("text={}", percent(text)))
}

/// The page's results for `text` from the single server and through the
/// router, which must be the same and hold at least one match.
fn same_page_results(one_http: &str, routed_http: &str, text: &str) -> PageResults {
    let (status, expected) = page_search(one_http, text);
    assert_eq!(status, 200, "single server's page: {expected}");
    let (status, got) = page_search(routed_http, text);
    assert_eq!(status, 200, "router's page: {got}");
    let expected = PageResults::of(&expected);
    assert_eq!(PageResults::of(&got), expected, "{text:.80}");
    assert!(
        !expected.matches.is_empty(),
        "no matches on the page for {text:.80}"
    );
    expected
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}')
}

/// What the page shows of a search: the total and every match with its
/// sources and verdicts (no session, so no per-server CSRF tokens).
#[derive(Debug, PartialEq)]
struct PageResults {
    total: String,
    matches: Vec<PageMatch>,
}

#[derive(Debug, PartialEq)]
struct PageMatch {
    content_id: String,
    /// The match's heading: similarity, exact or near-duplicate.
    heading: String,
    verdict: String,
    verdict_text: String,
    sources: Vec<PageSource>,
}

#[derive(Debug, PartialEq)]
struct PageSource {
    verdict: String,
    /// The row: URL, capture date, license, verdict, crawl.
    row: String,
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

impl PageResults {
    fn of(html: &str) -> Self {
        let section = between(html, "id=\"results\">", "</section>")
            .unwrap_or_else(|| panic!("no results section in {html}"));
        let matches = section
            .split("<article class=\"match\"")
            .skip(1)
            .map(|article| PageMatch {
                content_id: between(article, "data-content-id=\"", "\"")
                    .expect("content id")
                    .to_owned(),
                heading: between(article, "<h3>", "</h3>")
                    .expect("heading")
                    .to_owned(),
                verdict: between(article, "class=\"work-verdict\" data-verdict=\"", "\"")
                    .expect("work verdict")
                    .to_owned(),
                verdict_text: between(article, "class=\"work-verdict\"", "</dd>")
                    .expect("work verdict")
                    .to_owned(),
                sources: article
                    .split("<tr class=\"capture\">")
                    .skip(1)
                    .map(|row| PageSource {
                        verdict: between(row, "class=\"verdict\" data-verdict=\"", "\"")
                            .expect("verdict")
                            .to_owned(),
                        row: row[..row.find("</tr>").expect("row end")].to_owned(),
                    })
                    .collect(),
            })
            .collect();
        Self {
            total: between(section, "<span class=\"count\">", "</span>")
                .expect("total")
                .to_owned(),
            matches,
        }
    }
}

/// A connected plaintext channel to `url`.
async fn connect(url: String) -> Channel {
    Channel::from_shared(url)
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

async fn client(addr: &str) -> Client {
    ProvenanceServiceClient::new(connect(format!("http://{addr}")).await)
        .max_decoding_message_size(64 << 20)
}

/// Every page of a URL query: the responses, or the status that ended it.
async fn url_pages(
    client: &mut Client,
    request: &LookupUrlRequest,
) -> Result<Vec<LookupUrlResponse>, (Code, usize)> {
    let mut pages = Vec::new();
    let mut request = request.clone();
    loop {
        match client.lookup_url(request.clone()).await {
            Ok(page) => {
                let page = page.into_inner();
                let token = page.next_page_token.clone();
                pages.push(page);
                if token.is_empty() {
                    return Ok(pages);
                }
                assert!(pages.len() < 10_000, "{request:?}: endless paging");
                request.page_token = token;
            }
            Err(status) => return Err((status.code(), pages.len())),
        }
    }
}

/// Every page of a FindWork query (page tokens differ between a router and
/// a server: the pages' matches and counts must not).
async fn work_pages(
    client: &mut Client,
    request: &FindWorkRequest,
) -> Result<Vec<FindWorkResponse>, Code> {
    let mut pages = Vec::new();
    let mut request = request.clone();
    loop {
        let mut page = client
            .find_work(request.clone())
            .await
            .map_err(|s| s.code())?
            .into_inner();
        let token = std::mem::take(&mut page.next_page_token);
        pages.push(page);
        if token.is_empty() {
            return Ok(pages);
        }
        assert!(pages.len() < 1000, "endless FindWork paging");
        request.page_token = token;
    }
}

/// Queries for every URL of the corpus in every match mode, plus the
/// public-suffix domains (TLDs, and second-level suffixes like gov.uk).
/// Host and domain queries once per host (a host's every URL gives the same
/// answer); page sizes small enough for several pages per query.
fn url_queries(urls: &BTreeSet<String>) -> Vec<LookupUrlRequest> {
    let mut queries = BTreeSet::new();
    for url in urls {
        for mode in [UrlMatch::Exact, UrlMatch::Prefix] {
            queries.insert((url.clone(), mode as i32, 2));
        }
        let Some(host) = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':', '?']).next())
        else {
            continue;
        };
        for mode in [UrlMatch::Host, UrlMatch::Domain] {
            queries.insert((host.to_owned(), mode as i32, 4));
        }
        let labels: Vec<&str> = host.split('.').collect();
        if let Some(tld) = labels.last() {
            queries.insert((tld.to_string(), UrlMatch::Domain as i32, 16));
        }
        if labels.len() >= 3 {
            let suffix2 = labels[labels.len() - 2..].join(".");
            queries.insert((suffix2, UrlMatch::Domain as i32, 16));
        }
    }
    queries
        .into_iter()
        .map(|(url, mode, page_size)| LookupUrlRequest {
            url,
            r#match: mode,
            page_size,
            ..Default::default()
        })
        .collect()
}

/// The partition of a SURT key in a 4-partition index.
fn partition_of_surt(surt: &str) -> u32 {
    Partitioning::new(4)
        .expect("4")
        .of_url(surt)
        .expect("a SURT key with a host")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_over_two_partition_servers_answers_like_one_server() {
    let temp = tempfile::tempdir().expect("temp");
    let dir1 = temp.path().join("whole");
    let dir4 = temp.path().join("parted");
    build(&dir1, &[]);
    build(&dir4, &["--index-partitions", "4"]);

    let single = ServerProcess::start_with(&dir1, &["--http-listen", "127.0.0.1:0"]);
    let low = ServerProcess::start_with(
        &dir4,
        &["--partitions", "0,1", "--http-listen", "127.0.0.1:0"],
    );
    let high = ServerProcess::start_with(&dir4, &["--partitions", "2,3"]);
    // A replica of partition 3 only.
    let replica3 = ServerProcess::start_with(&dir4, &["--partitions", "3"]);

    // A router missing partitions refuses to start, naming them.
    let refused = RouterProcess::start(&[&low]).err().expect("router refuses");
    assert!(refused.contains("partitions 2, 3 of 4"), "{refused}");
    let router = RouterProcess::start_http(&[&low, &high, &replica3]).expect("router starts");
    // A server of the unpartitioned index is partition 0 of 1: next to
    // partition servers of 4 it is refused, naming it and both counts.
    let refused = RouterProcess::start(&[&low, &single])
        .err()
        .expect("one partition and four do not mix");
    assert!(
        refused.contains(&single.url())
            && refused.contains("with 4 partitions")
            && refused.contains("with 1 partitions"),
        "{refused}"
    );

    let mut one = client(&single.addr).await;
    let mut routed = client(&router.addr).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        connect(format!("http://{}", router.addr)).await,
    );
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "provindex.v1.ProvenanceService".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Every URL of the corpus.
    let urls: BTreeSet<String> = warcs()
        .iter()
        .flat_map(|w| scan_warc(w))
        .filter(|r| {
            r.warc_type == "response" || r.warc_type == "resource" || r.warc_type == "revisit"
        })
        .map(|r| r.target_uri)
        .filter(|u| u.starts_with("http"))
        .collect();
    assert!(urls.len() > 20, "{} URLs", urls.len());

    let mut captures = BTreeMap::new();
    // URL -> its SURT key, as the server's exact answers give it.
    let mut surts = BTreeMap::new();
    let mut compared_pages = 0usize;
    let mut multi_page = 0usize;
    for query in url_queries(&urls) {
        let expected = url_pages(&mut one, &query).await;
        let got = url_pages(&mut routed, &query).await;
        assert_eq!(got, expected, "{query:?}");
        if let Ok(pages) = &expected {
            compared_pages += pages.len();
            multi_page += usize::from(pages.len() > 1);
            for capture in pages.iter().flat_map(|p| &p.captures) {
                if query.r#match == UrlMatch::Exact as i32 {
                    surts.insert(query.url.clone(), capture.surt.clone());
                }
                captures.insert(capture.capture_id.clone(), capture.clone());
            }
        }
    }
    assert!(
        multi_page > 10,
        "only {multi_page} queries had several pages"
    );

    // Newest first and time filters, on the public-suffix domains (merged).
    let times: Vec<i64> = captures.values().map(|c| c.capture_time).collect();
    let (min, max) = (
        *times.iter().min().expect("captures"),
        *times.iter().max().expect("captures"),
    );
    let middle = min + (max - min) / 2;
    for tld in ["com", "org", "net", "uk", "gov.uk"] {
        for (newest_first, from_time, to_time) in [
            (true, None, None),
            (false, Some(middle), None),
            (true, None, Some(middle)),
            (false, Some(min), Some(middle)),
        ] {
            let query = LookupUrlRequest {
                url: tld.into(),
                r#match: UrlMatch::Domain as i32,
                page_size: 4,
                newest_first,
                from_time,
                to_time,
                ..Default::default()
            };
            assert_eq!(
                url_pages(&mut routed, &query).await,
                url_pages(&mut one, &query).await,
                "{query:?}"
            );
        }
    }

    // Every content, by id and by SHA-256, captures paged 2 at a time; and
    // every capture by id.
    let contents: BTreeSet<String> = captures
        .values()
        .map(|c| c.content_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    assert!(contents.len() > 10, "{} contents", contents.len());
    let mut shas = Vec::new();
    for content_id in &contents {
        let mut token = String::new();
        loop {
            let request = LookupContentRequest {
                key: Some(Key::ContentId(content_id.clone())),
                page_size: 2,
                page_token: token.clone(),
            };
            let expected = one
                .lookup_content(request.clone())
                .await
                .expect("content")
                .into_inner();
            let got = routed
                .lookup_content(request)
                .await
                .expect("routed content")
                .into_inner();
            assert_eq!(got, expected, "content {content_id}");
            if token.is_empty() {
                shas.push(expected.content.clone().expect("content").sha256);
            }
            token = expected.next_page_token;
            if token.is_empty() {
                break;
            }
        }
    }
    for sha in &shas {
        let request = LookupContentRequest {
            key: Some(Key::Sha256(sha.clone())),
            page_size: 3,
            page_token: String::new(),
        };
        assert_eq!(
            routed
                .lookup_content(request.clone())
                .await
                .expect("by sha")
                .into_inner(),
            one.lookup_content(request)
                .await
                .expect("by sha")
                .into_inner(),
            "sha256 {sha}"
        );
    }
    for capture_id in captures.keys() {
        let request = GetCaptureRequest {
            capture_id: capture_id.clone(),
            include_record: false,
        };
        assert_eq!(
            routed
                .get_capture(request.clone())
                .await
                .expect("capture")
                .into_inner(),
            one.get_capture(request)
                .await
                .expect("capture")
                .into_inner()
        );
    }
    // Not found anywhere, and invalid input: the same status.
    let absent = GetCaptureRequest {
        capture_id: "0".repeat(32),
        include_record: false,
    };
    assert_eq!(
        routed
            .get_capture(absent.clone())
            .await
            .expect_err("absent")
            .code(),
        Code::NotFound
    );
    for bad in [
        LookupUrlRequest {
            url: String::new(),
            ..Default::default()
        },
        LookupUrlRequest {
            url: "com".into(),
            r#match: UrlMatch::Domain as i32,
            page_size: 5000,
            ..Default::default()
        },
        LookupUrlRequest {
            url: "http://".into(),
            ..Default::default()
        },
    ] {
        let a = routed.lookup_url(bad.clone()).await.expect_err("bad");
        let b = one.lookup_url(bad.clone()).await.expect_err("bad");
        assert_eq!((a.code(), a.message()), (b.code(), b.message()), "{bad:?}");
    }

    // FindWork: texts of documents, exact and edited, one match per page:
    // the first few, and those with near-duplicates (several pages).
    let mut texts = Vec::new();
    let mut with_duplicates = 0;
    for doc in warcs().iter().flat_map(|w| {
        provindex_corpus::read_path(w)
            .filter_map(Result::ok)
            .collect::<Vec<_>>()
    }) {
        let Some(text) = doc.text.filter(|t| t.split_whitespace().count() > 80) else {
            continue;
        };
        let probe = FindWorkRequest {
            text: text.clone(),
            max_results: 1,
            ..Default::default()
        };
        let several = one
            .find_work(probe)
            .await
            .is_ok_and(|r| !r.into_inner().next_page_token.is_empty());
        if several && with_duplicates < 5 {
            with_duplicates += 1;
            texts.push(text);
        } else if texts.len() < 5 {
            texts.push(text);
        }
        if with_duplicates == 5 && texts.len() >= 10 {
            break;
        }
    }
    assert!(
        with_duplicates > 0,
        "no text of the corpus has near-duplicates"
    );
    let mut nonempty = 0;
    // Answers of several pages: the router's per-partition offsets at work.
    let mut paged = 0;
    for text in &texts {
        let edited: String = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                if i % 25 == 3 {
                    "edited".to_owned()
                } else {
                    w.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        for text in [text.clone(), edited] {
            let request = FindWorkRequest {
                text,
                min_similarity: Some(0.3),
                max_results: 1,
                captures_per_match: 2,
                ..Default::default()
            };
            let expected = work_pages(&mut one, &request).await;
            assert_eq!(work_pages(&mut routed, &request).await, expected);
            paged += usize::from(expected.as_ref().is_ok_and(|p| p.len() > 1));
            nonempty += usize::from(expected.is_ok_and(|p| !p[0].matches.is_empty()));
        }
    }
    assert!(
        nonempty >= texts.len(),
        "FindWork found {nonempty} of {}",
        2 * texts.len()
    );
    assert!(
        paged >= with_duplicates,
        "{paged} FindWork answers had several pages"
    );
    eprintln!(
        "FindWork: {} texts, {with_duplicates} with near-duplicates, {paged} paged answers",
        texts.len()
    );

    // CheckOptOut for URLs and contents.
    for url in urls.iter().take(40) {
        let request = CheckOptOutRequest {
            target: Some(Target::Url(url.clone())),
        };
        let a = routed
            .check_opt_out(request.clone())
            .await
            .map(|r| r.into_inner())
            .map_err(|s| s.code());
        let b = one
            .check_opt_out(request)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| s.code());
        assert_eq!(a, b, "{url}");
    }
    for content_id in contents.iter().take(40) {
        let request = CheckOptOutRequest {
            target: Some(Target::ContentId(content_id.clone())),
        };
        assert_eq!(
            routed
                .check_opt_out(request.clone())
                .await
                .expect("opt-out")
                .into_inner(),
            one.check_opt_out(request)
                .await
                .expect("opt-out")
                .into_inner()
        );
    }

    // BatchLookup: mixed items, answered by id.
    let items: Vec<BatchLookupRequest> = urls
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, url)| BatchLookupRequest {
            id: format!("u{i}"),
            lookup: Some(Lookup::Url(LookupUrlRequest {
                url: url.clone(),
                r#match: UrlMatch::Domain as i32,
                ..Default::default()
            })),
        })
        .chain(
            contents
                .iter()
                .take(10)
                .enumerate()
                .map(|(i, id)| BatchLookupRequest {
                    id: format!("c{i}"),
                    lookup: Some(Lookup::Content(LookupContentRequest {
                        key: Some(Key::ContentId(id.clone())),
                        ..Default::default()
                    })),
                }),
        )
        .chain([BatchLookupRequest {
            id: "bad".into(),
            lookup: None,
        }])
        .collect();
    let batch = |client: Client, items: Vec<BatchLookupRequest>| async move {
        let mut client = client;
        let mut stream = client
            .batch_lookup(tokio_stream::iter(items))
            .await
            .expect("batch")
            .into_inner();
        let mut answers = BTreeMap::new();
        while let Some(answer) = stream.message().await.expect("answer") {
            answers.insert(answer.id.clone(), answer);
        }
        answers
    };
    let expected = batch(one.clone(), items.clone()).await;
    assert_eq!(expected.len(), items.len());
    assert_eq!(batch(routed.clone(), items).await, expected);
    eprintln!(
        "compared {compared_pages} URL pages ({multi_page} multi-page queries), {} contents, {} captures",
        contents.len(),
        captures.len()
    );

    // pywb's CDX API and the original records over HTTP: the router's
    // answers are the single server's, byte for byte.
    let (one_http, routed_http) = (
        single.http_addr.clone().expect("single --http-listen"),
        router.http_addr.clone().expect("router --http-listen"),
    );
    // Capture timestamps as the CDX API writes them, from the single server.
    let mut stamps: Vec<String> = ["com", "org", "uk", "net"]
        .iter()
        .flat_map(|tld| {
            let target = format!("/cdx?url={tld}&matchType=domain&fl=timestamp");
            let (_, _, body) = common::http_get(&one_http, &target);
            String::from_utf8(body)
                .expect("UTF-8")
                .lines()
                .filter(|l| l.len() == 14)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    stamps.sort();
    assert!(stamps.len() > 20, "{} timestamps", stamps.len());
    let (min_ts, mid_ts, max_ts) = (
        stamps[0].clone(),
        stamps[stamps.len() / 2].clone(),
        stamps[stamps.len() - 1].clone(),
    );
    let mut cdx_queries = vec![
        "url=com&matchType=domain&output=json".to_owned(),
        "url=uk&matchType=domain&sort=reverse&limit=7&output=cdxj".to_owned(),
        format!("url=org&matchType=domain&from={min_ts}&to={max_ts}&filter=status:200"),
        "url=com&matchType=domain&filter=!mime:text/html&fl=urlkey,timestamp,capture_id,content_id,cluster,license,optout".to_owned(),
    ];
    for (n, url) in surts.keys().enumerate().step_by(3) {
        let url = percent(url);
        cdx_queries.push(format!("url={url}"));
        cdx_queries.push(format!(
            "url={url}&matchType=host&output=json&limit={}",
            1 + n % 5
        ));
        cdx_queries.push(format!(
            "url={url}&matchType=prefix&sort=reverse&output=cdxj"
        ));
        cdx_queries.push(format!(
            "url={url}&matchType=domain&sort=closest&closest={mid_ts}&limit=4"
        ));
    }
    let mut found = 0usize;
    for query in &cdx_queries {
        let target = format!("/cdx?{query}");
        let expected = common::http_get(&one_http, &target);
        let got = common::http_get(&routed_http, &target);
        assert_eq!((got.0, &got.2), (expected.0, &expected.2), "{target}");
        found += usize::from(expected.0 == 200);
    }
    assert!(
        found * 10 >= cdx_queries.len() * 9,
        "{found} of {} CDX queries found captures",
        cdx_queries.len()
    );
    for capture_id in captures.keys().step_by(7) {
        let target = format!("/record/{capture_id}");
        let expected = common::http_get(&one_http, &target);
        let got = common::http_get(&routed_http, &target);
        assert_eq!(expected.0, 200, "{target}");
        assert_eq!((got.0, &got.2), (expected.0, &expected.2), "{target}");
    }

    // The web page's search through the router: every work text's matches,
    // sources and opt-out verdicts as the single server's page shows them.
    let cjk = warcs()
        .iter()
        .flat_map(|w| {
            provindex_corpus::read_path(w)
                .filter_map(Result::ok)
                .collect::<Vec<_>>()
        })
        .filter_map(|doc| doc.text)
        .find(|text| text.chars().filter(|c| is_cjk(*c)).count() > 40);
    let mut work_texts: Vec<String> = texts.iter().take(6).cloned().collect();
    // Near-duplicates: a word in 40 replaced, of the texts the single
    // server still finds so.
    let mut edited_found = 0usize;
    for text in &texts {
        let edited = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| if i % 40 == 7 { "changed" } else { w })
            .collect::<Vec<_>>()
            .join(" ");
        let request = FindWorkRequest {
            text: edited.clone(),
            ..Default::default()
        };
        let found = one
            .find_work(request)
            .await
            .is_ok_and(|r| r.into_inner().matches.iter().any(|m| !m.exact));
        if found && edited_found < 4 {
            edited_found += 1;
            work_texts.push(edited);
        }
    }
    assert!(
        edited_found >= 2,
        "{edited_found} edited texts have near-duplicates"
    );
    work_texts.extend(cjk.clone());
    let mut page_partitions = BTreeSet::new();
    let mut page_matches = 0usize;
    let mut near = 0usize;
    let mut verdicts = BTreeMap::<String, usize>::new();
    for text in &work_texts {
        let expected = same_page_results(&one_http, &routed_http, text);
        page_matches += expected.matches.len();
        near += expected
            .matches
            .iter()
            .filter(|m| m.heading.contains("near-duplicate"))
            .count();
        for m in &expected.matches {
            page_partitions.insert(content_partition(&m.content_id));
            for code in std::iter::once(&m.verdict).chain(m.sources.iter().map(|s| &s.verdict)) {
                *verdicts.entry(code.clone()).or_default() += 1;
            }
        }
    }
    // Both partition servers' contents are on the pages: a router page of
    // one server's partitions would differ from the single server's.
    assert!(
        page_partitions.iter().any(|p| *p < 2) && page_partitions.iter().any(|p| *p >= 2),
        "matched contents only in partitions {page_partitions:?}"
    );
    assert!(near > 0, "no near-duplicate match on the pages");
    assert!(
        verdicts
            .keys()
            .all(|v| ["reserved", "not_reserved", "unknown"].contains(&v.as_str())),
        "verdicts: {verdicts:?}"
    );
    eprintln!(
        "web page: {} work texts ({} CJK), {page_matches} matches ({near} near-duplicates) in partitions {page_partitions:?}, verdicts {verdicts:?}",
        work_texts.len(),
        usize::from(cjk.is_some())
    );
    // No registry behind the router: its page says where to sign in, and
    // the registry's forms answer so (the single server without a registry
    // keeps its sign-in form).
    let (status, _, home) = common::http_get(&routed_http, "/?lang=en");
    let home = String::from_utf8_lossy(&home);
    assert_eq!(status, 200, "{home}");
    assert!(
        home.contains("id=\"registry-elsewhere\"")
            && home.contains("provindex serve --registry")
            && !home.contains("id=\"signin\""),
        "{home}"
    );
    let (_, _, home) = common::http_get(&one_http, "/?lang=en");
    assert!(String::from_utf8_lossy(&home).contains("id=\"signin\""));
    for (method, path) in [
        ("POST", "/signin?lang=en"),
        ("GET", "/optouts?lang=en"),
        ("POST", "/optouts/register?lang=en"),
        ("POST", "/optouts/revoke?lang=en"),
        ("GET", "/complaints?lang=en"),
        ("POST", "/complaints?lang=en"),
        ("GET", "/complaints/status?lang=en&id=1"),
        ("GET", "/claims?lang=en"),
        ("POST", "/claims?lang=en"),
    ] {
        let (status, body) = if method == "GET" {
            let (status, _, body) = common::http_get(&routed_http, path);
            (status, String::from_utf8_lossy(&body).into_owned())
        } else {
            http_post_form(&routed_http, path, "token=x&csrf=y")
        };
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(
            body.contains("provindex serve --registry"),
            "{method} {path}: {body}"
        );
    }
    // A server of partitions 0,1 alone cannot search the whole index: its
    // page says which partitions it lacks.
    let (status, body) = page_search(
        &low.http_addr.clone().expect("low --http-listen"),
        &work_texts[0],
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("of 4 is not served here"), "{body}");

    // The server of partitions 2,3 down: partition 3 still answers through
    // its replica, partition 2's keys are UNAVAILABLE naming it, partitions
    // 0,1 answer.
    high.kill9();
    let mut by_partition: BTreeMap<u32, String> = BTreeMap::new();
    for (url, surt) in &surts {
        by_partition
            .entry(partition_of_surt(surt))
            .or_insert_with(|| url.clone());
    }
    assert_eq!(
        by_partition.len(),
        4,
        "URLs in every partition: {by_partition:?}"
    );
    let exact = |url: &str| LookupUrlRequest {
        url: url.into(),
        ..Default::default()
    };
    for p in [0, 1, 3] {
        let url = &by_partition[&p];
        // Twice: the router's rotation tries the dead server first once.
        for _ in 0..2 {
            assert_eq!(
                routed
                    .lookup_url(exact(url))
                    .await
                    .expect("still answers")
                    .into_inner(),
                one.lookup_url(exact(url))
                    .await
                    .expect("single")
                    .into_inner(),
                "partition {p}: {url}"
            );
        }
    }
    let in_2 = by_partition[&2].clone();
    let down: Status = routed
        .lookup_url(exact(&in_2))
        .await
        .expect_err("partition 2 is down");
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(down.message().contains("partition 2 of 4"), "{down:?}");
    // A partition server's own HTTP: its partitions as the single server,
    // another's keys 503 naming that partition.
    let low_http = low.http_addr.clone().expect("low --http-listen");
    for p in [0, 1] {
        let target = format!("/cdx?url={}&output=json", percent(&by_partition[&p]));
        let expected = common::http_get(&one_http, &target);
        assert_eq!(expected.0, 200, "{target}");
        let got = common::http_get(&low_http, &target);
        assert_eq!((got.0, &got.2), (expected.0, &expected.2), "{target}");
    }
    let (status, _, body) = common::http_get(&low_http, &format!("/cdx?url={}", percent(&in_2)));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("partition 2 of 4"), "{body}");
    let (status, _, body) = common::http_get(&routed_http, &format!("/cdx?url={}", percent(&in_2)));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("partition 2 of 4"), "{body}");
    let merged = routed
        .lookup_url(LookupUrlRequest {
            url: "com".into(),
            r#match: UrlMatch::Domain as i32,
            ..Default::default()
        })
        .await
        .expect_err("a public-suffix query needs every partition");
    assert_eq!(merged.code(), Code::Unavailable);
    assert_eq!(
        routed
            .get_capture(absent)
            .await
            .expect_err("not found only if every partition says so")
            .code(),
        Code::Unavailable
    );
    let work = routed
        .find_work(FindWorkRequest {
            text: texts[0].clone(),
            ..Default::default()
        })
        .await
        .expect_err("FindWork needs every partition");
    assert_eq!(work.code(), Code::Unavailable);
}

type Audit = AuditServiceClient<Channel>;

async fn audit_client(addr: &str) -> Audit {
    AuditServiceClient::new(connect(format!("http://{addr}")).await)
        .max_decoding_message_size(64 << 20)
}

/// A DrawSample answer, or its status code and message (the router's
/// errors must be one server's, word for word).
async fn sample(
    client: &mut Audit,
    request: &DrawSampleRequest,
) -> Result<DrawSampleResponse, (Code, String)> {
    client
        .draw_sample(request.clone())
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| (s.code(), s.message().to_owned()))
}

fn source(kind: SourceKind, value: &str) -> Source {
    Source {
        kind: kind as i32,
        value: value.into(),
    }
}

/// Every source the captures name: the whole index, and each crawl, input,
/// registered domain and host.
fn sources_of<'a>(captures: impl Iterator<Item = &'a provindex_proto::v1::Capture>) -> Vec<Source> {
    let mut named = BTreeSet::new();
    for c in captures {
        named.insert((SourceKind::Crawl as i32, c.crawl.clone()));
        if let Some(location) = &c.location {
            named.insert((SourceKind::Input as i32, location.uri.clone()));
        }
        named.insert((SourceKind::Domain as i32, c.registered_domain.clone()));
        named.insert((SourceKind::Host as i32, c.host.clone()));
    }
    std::iter::once(source(SourceKind::Index, ""))
        .chain(
            named
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(kind, value)| Source { kind, value }),
        )
        .collect()
}

fn content_partition(content_id: &str) -> u32 {
    Partitioning::new(4).expect("4").of_content(
        u128::from_str_radix(content_id, 16).expect("a content id is 32 hex characters"),
    )
}

/// AuditService.DrawSample through a router over two servers of a
/// 4-partition publication equals one server's over the unpartitioned
/// index, field by field: every source of the corpus with several sizes
/// and seeds (a whole source included, so a missing partition's contents
/// would show), a source asked for one more than it holds
/// (FAILED_PRECONDITION), an unknown source (NOT_FOUND), invalid requests
/// (INVALID_ARGUMENT) and samples with texts read back from the WARCs; a
/// router over the unpartitioned index's server passes its answers on. The
/// calls that need the registry or the PII key, and ReportService, answer
/// UNIMPLEMENTED through the router, saying where to ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_samples_through_the_router_are_one_servers() {
    let temp = tempfile::tempdir().expect("temp");
    let dir1 = temp.path().join("whole");
    let dir4 = temp.path().join("parted");
    build(&dir1, &[]);
    build(&dir4, &["--index-partitions", "4"]);
    let single = ServerProcess::start(&dir1);
    let low = ServerProcess::start_with(&dir4, &["--partitions", "0,1"]);
    let high = ServerProcess::start_with(&dir4, &["--partitions", "2,3"]);
    let router = RouterProcess::start(&[&low, &high]).expect("router starts");
    let mut lookups = client(&single.addr).await;
    let mut one = audit_client(&single.addr).await;
    let mut routed = audit_client(&router.addr).await;

    // The corpus's captures, from the single server: the sources they name.
    let urls: BTreeSet<String> = warcs()
        .iter()
        .flat_map(|w| scan_warc(w))
        .map(|r| r.target_uri)
        .filter(|u| u.starts_with("http"))
        .collect();
    let mut captures = BTreeMap::new();
    for url in &urls {
        if let Ok(page) = lookups
            .lookup_url(LookupUrlRequest {
                url: url.clone(),
                page_size: 1000,
                ..Default::default()
            })
            .await
        {
            for c in page.into_inner().captures {
                captures.insert(c.capture_id.clone(), c);
            }
        }
    }
    let sources = sources_of(captures.values());
    let kinds: BTreeSet<i32> = sources.iter().map(|s| s.kind).collect();
    assert_eq!(kinds.len(), 5, "every kind of source: {sources:?}");
    assert!(sources.len() > 20, "{} sources", sources.len());

    let mut compared = 0usize;
    let mut spanning = 0usize;
    let mut without_contents = 0usize;
    for (i, src) in sources.iter().enumerate() {
        let seeds = [i as u64, 0x5eed_0000_0000_0001 ^ i as u64];
        let first = DrawSampleRequest {
            source: Some(src.clone()),
            n: 1,
            seed: 0,
            include_text: false,
        };
        let count = match sample(&mut one, &first).await {
            Ok(answer) => answer.source_contents,
            // Captures without contents (redirects, errors): NOT_FOUND.
            Err((Code::NotFound, message)) => {
                assert_eq!(
                    sample(&mut routed, &first).await,
                    Err((Code::NotFound, message)),
                    "{first:?}"
                );
                without_contents += 1;
                continue;
            }
            Err(e) => panic!("{src:?}: {e:?}"),
        };
        let count = u32::try_from(count).expect("a small corpus");
        // Sizes up to the whole source (every content, whichever partition
        // holds it) and one more; the whole source and its half once (the
        // whole index's are the larger part of the test's time).
        let sizes = [
            BTreeSet::from([1, count.min(3), count.div_ceil(2), count, count + 1]),
            BTreeSet::from([1, count.min(7), count.div_ceil(2).min(50)]),
        ];
        for (seed, sizes) in seeds.into_iter().zip(sizes) {
            for n in sizes {
                let request = DrawSampleRequest {
                    source: Some(src.clone()),
                    n,
                    seed,
                    include_text: false,
                };
                let expected = sample(&mut one, &request).await;
                let got = sample(&mut routed, &request).await;
                assert_eq!(got, expected, "{request:?}");
                compared += 1;
                match (&expected, n) {
                    (Ok(answer), n) => {
                        assert_eq!(answer.items.len(), n as usize, "{request:?}");
                        let parts: BTreeSet<u32> = answer
                            .items
                            .iter()
                            .map(|item| content_partition(&item.content_id))
                            .collect();
                        if n == count && parts.len() > 1 {
                            spanning += 1;
                        }
                    }
                    (Err((code, _)), n) => {
                        assert_eq!(*code, Code::FailedPrecondition, "{request:?}");
                        assert_eq!(n, count + 1, "{request:?}");
                    }
                }
            }
        }
    }
    assert!(
        without_contents < sources.len() / 2,
        "{without_contents} of {} sources without contents",
        sources.len()
    );
    // The merge was exercised: many sources' contents lie in several
    // partitions (a router answering from one partition fails above).
    assert!(
        spanning > 10,
        "{spanning} whole-source samples span partitions"
    );
    // The whole index spans every partition.
    let index = sample(
        &mut routed,
        &DrawSampleRequest {
            source: Some(source(SourceKind::Index, "")),
            n: 40,
            seed: 17,
            include_text: false,
        },
    )
    .await
    .expect("index sample");
    let parts: BTreeSet<u32> = index
        .items
        .iter()
        .map(|item| content_partition(&item.content_id))
        .collect();
    assert_eq!(parts.len(), 4, "{parts:?}");

    // Texts read back from the WARCs, by each partition server.
    for src in sources.iter().take(12) {
        let request = DrawSampleRequest {
            source: Some(src.clone()),
            n: 2,
            seed: 99,
            include_text: true,
        };
        let expected = sample(&mut one, &request).await;
        assert_eq!(sample(&mut routed, &request).await, expected, "{request:?}");
        compared += 1;
    }

    // Errors: one server's codes and messages.
    let unknown = |kind| DrawSampleRequest {
        source: Some(source(kind, "no-such-source.example")),
        n: 1,
        seed: 1,
        include_text: false,
    };
    let mut errors = vec![
        (unknown(SourceKind::Domain), Code::NotFound),
        (unknown(SourceKind::Host), Code::NotFound),
        (unknown(SourceKind::Crawl), Code::NotFound),
        (unknown(SourceKind::Input), Code::NotFound),
    ];
    for (n, include_text) in [(0, false), (10_001, false), (1_001, true)] {
        errors.push((
            DrawSampleRequest {
                source: Some(source(SourceKind::Index, "")),
                n,
                seed: 1,
                include_text,
            },
            Code::InvalidArgument,
        ));
    }
    for bad in [
        None,
        Some(source(SourceKind::Unspecified, "")),
        Some(source(SourceKind::Index, "x")),
        Some(source(SourceKind::Domain, " ")),
        Some(Source {
            kind: 99,
            value: "x".into(),
        }),
    ] {
        errors.push((
            DrawSampleRequest {
                source: bad,
                n: 1,
                seed: 1,
                include_text: false,
            },
            Code::InvalidArgument,
        ));
    }
    for (request, code) in &errors {
        let expected = sample(&mut one, request).await;
        assert!(
            matches!(&expected, Err((c, _)) if c == code),
            "{request:?}: {expected:?}"
        );
        assert_eq!(sample(&mut routed, request).await, expected, "{request:?}");
    }
    assert!(compared > 200, "{compared} samples compared");

    // The registry's and the PII key's calls: UNIMPLEMENTED, naming where.
    let status = routed
        .source_failure_rate(SourceFailureRateRequest::default())
        .await
        .expect_err("needs the registry");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(
        status.message().contains("SourceFailureRate")
            && status.message().contains("serve --registry DIR"),
        "{status:?}"
    );
    let status = routed
        .find_personal_data(FindPersonalDataRequest {
            kind: "email".into(),
            value: "someone@example.com".into(),
        })
        .await
        .expect_err("needs the PII key");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(
        status.message().contains("PII key") && status.message().contains("--registry-url"),
        "{status:?}"
    );
    // The value is never echoed.
    assert!(!status.message().contains("someone@"), "{status:?}");

    // A router over a server of the unpartitioned index (partition 0 of 1,
    // which knows no partition header): its answers and errors, passed on.
    let over_one = RouterProcess::start(&[&single]).expect("router over one server");
    let mut over_one = audit_client(&over_one.addr).await;
    for (request, _) in errors.iter().take(5) {
        assert_eq!(
            sample(&mut over_one, request).await,
            sample(&mut one, request).await,
            "{request:?}"
        );
    }
    let request = DrawSampleRequest {
        source: Some(source(SourceKind::Index, "")),
        n: 40,
        seed: 17,
        include_text: false,
    };
    assert_eq!(
        sample(&mut over_one, &request).await,
        Ok(index.clone()),
        "{request:?}"
    );

    // ReportService walks the whole index: without a registry service to
    // forward it to, UNIMPLEMENTED naming it.
    let mut reports = ReportServiceClient::new(connect(format!("http://{}", router.addr)).await);
    let status = reports
        .get_transparency_report(GetTransparencyReportRequest {})
        .await
        .expect_err("the whole index");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(
        status.message().contains("GetTransparencyReport")
            && status.message().contains("provindex registry-server"),
        "{status:?}"
    );

    // A partition server down: UNAVAILABLE naming a partition it held, never
    // a sample of the others.
    high.kill9();
    let down = routed
        .draw_sample(DrawSampleRequest {
            source: Some(source(SourceKind::Index, "")),
            n: 1,
            seed: 1,
            include_text: false,
        })
        .await
        .expect_err("a sample needs every partition");
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert!(
        down.message().contains("partition 2 of 4") || down.message().contains("partition 3 of 4"),
        "{down:?}"
    );
}

const ADMIN: &str = "admin-token-0123456789";

/// The first gov.uk crawl and the IANA crawl indexed under `root` whole and
/// in 4 partitions: (the WARCs, whole, parted).
fn build_whole_and_parted(root: &Path) -> ([PathBuf; 2], PathBuf, PathBuf) {
    let inputs = [
        corpus_dir().join("warc/gov.uk-2014-crawl-a.warc.gz"),
        corpus_dir().join("warc/iana.org-2014.warc.gz"),
    ];
    let build = |out: &Path, extra: &[&str]| {
        let output = Command::new(provindex_bin())
            .arg("index")
            .args(&inputs)
            .arg("--out")
            .arg(out)
            .args(["--built-at", "0"])
            .args(extra)
            .output()
            .expect("run provindex index");
        assert!(output.status.success(), "index {extra:?}: {output:?}");
    };
    let (whole, parted) = (root.join("whole"), root.join("parted"));
    build(&whole, &[]);
    build(&parted, &["--index-partitions", "4"]);
    (inputs, whole, parted)
}

/// The opt-out registry as a service: partition servers started with
/// `--registry-url` consult it, so CheckOptOut through the router gives one
/// server's answer, registry entries included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_servers_consult_the_registry_service() {
    let temp = tempfile::tempdir().expect("temp");
    let (inputs, dir1, dir4) = build_whole_and_parted(temp.path());
    let auth = temp.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"tokens": {{"{ADMIN}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("auth file");

    let registry = RegistryServer::start(&dir1, &temp.path().join("registry"), &auth);
    let registry_url = registry.url();

    let with_registry = [
        "--registry-url",
        registry_url.as_str(),
        "--http-listen",
        "127.0.0.1:0",
    ];
    let single = ServerProcess::start_with(&dir1, &with_registry);
    let low = ServerProcess::start_with(
        &dir4,
        &["--partitions", "0,1", "--registry-url", &registry_url],
    );
    let high = ServerProcess::start_with(
        &dir4,
        &["--partitions", "2,3", "--registry-url", &registry_url],
    );
    let router = RouterProcess::start_http(&[&low, &high]).expect("router starts");
    let mut one = client(&single.addr).await;
    let mut routed = client(&router.addr).await;

    let mut optouts = provindex_proto::v1::opt_out_service_client::OptOutServiceClient::new(
        connect(registry_url.clone()).await,
    );
    optouts
        .register_opt_out(common::with_token(
            provindex_proto::v1::RegisterOptOutRequest {
                rightholder: "Gov".into(),
                scope: Some(provindex_proto::v1::OptOutScope {
                    scope: Some(provindex_proto::v1::opt_out_scope::Scope::Domain(
                        "data.gov.uk".into(),
                    )),
                }),
                effective_from: Some(1_400_000_000),
                evidence: "signed declaration #17".into(),
            },
            ADMIN,
        ))
        .await
        .expect("register at the registry server");

    let captures: Vec<_> = one
        .lookup_url(LookupUrlRequest {
            url: "uk".into(),
            r#match: UrlMatch::Domain as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("captures")
        .into_inner()
        .captures
        .into_iter()
        .chain(
            one.lookup_url(LookupUrlRequest {
                url: "iana.org".into(),
                r#match: UrlMatch::Domain as i32,
                page_size: 200,
                ..Default::default()
            })
            .await
            .expect("captures")
            .into_inner()
            .captures,
        )
        .collect();
    // A work near (not equal) to the text of an iana.org page whose content
    // another partition than its URL's holds: CheckOptOut by that URL on
    // the URL's partition matches the entry by the content's signature,
    // which the registry service reads from its index.
    let texts: BTreeMap<String, String> = provindex_corpus::read_path(&inputs[1])
        .filter_map(Result::ok)
        .filter_map(|doc| Some((doc.url?, doc.text?)))
        .filter(|(_, text)| text.split_whitespace().count() > 200)
        .collect();
    let elsewhere = captures
        .iter()
        .find(|c| {
            !c.content_id.is_empty()
                && texts.contains_key(&c.url)
                && content_partition(&c.content_id) != partition_of_surt(&c.surt)
        })
        .expect("an iana.org page with text held by another partition");
    let mut words: Vec<&str> = texts[&elsewhere.url].split_whitespace().collect();
    words.pop();
    words.push("rewritten");
    let work = optouts
        .register_opt_out(common::with_token(
            provindex_proto::v1::RegisterOptOutRequest {
                rightholder: "IANA".into(),
                scope: Some(provindex_proto::v1::OptOutScope {
                    scope: Some(provindex_proto::v1::opt_out_scope::Scope::WorkText(
                        words.join(" "),
                    )),
                }),
                effective_from: Some(1_400_000_000),
                evidence: "signed declaration #18".into(),
            },
            ADMIN,
        ))
        .await
        .expect("work registered at the registry server")
        .into_inner()
        .registration
        .expect("registration")
        .id;
    let near = one
        .check_opt_out(CheckOptOutRequest {
            target: Some(Target::Url(elsewhere.url.clone())),
        })
        .await
        .expect("checked")
        .into_inner();
    assert!(
        near.content_id == elsewhere.content_id
            && near
                .reserving
                .iter()
                .any(|f| f.origin == "registry" && f.registry_entry_id == work),
        "{near:?}"
    );

    let mut by_registry = 0;
    for capture in &captures {
        let mut targets = vec![Target::Url(capture.url.clone())];
        if !capture.content_id.is_empty() {
            targets.push(Target::ContentId(capture.content_id.clone()));
        }
        for target in targets {
            let request = CheckOptOutRequest {
                target: Some(target.clone()),
            };
            let expected = one
                .check_opt_out(request.clone())
                .await
                .map(|r| r.into_inner())
                .map_err(|s| s.code());
            let got = routed
                .check_opt_out(request)
                .await
                .map(|r| r.into_inner())
                .map_err(|s| s.code());
            assert_eq!(got, expected, "{target:?}");
            if let Ok(answer) = expected {
                assert!(answer.registry_checked, "{answer:?}");
                by_registry += usize::from(answer.deciding.is_some_and(|d| d.origin == "registry"));
            }
        }
    }
    assert!(
        by_registry > 10,
        "{by_registry} answers decided by the registry"
    );

    // The web page through the router shows the registry's verdicts as the
    // single server's page does.
    let (one_http, routed_http) = (
        single.http_addr.clone().expect("single --http-listen"),
        router.http_addr.clone().expect("router --http-listen"),
    );
    let texts: Vec<String> = inputs
        .iter()
        .flat_map(|w| {
            provindex_corpus::read_path(w)
                .filter_map(Result::ok)
                .filter(|doc| {
                    doc.url
                        .as_deref()
                        .is_some_and(|u| u.contains("data.gov.uk"))
                })
                .filter_map(|doc| doc.text)
                .filter(|text| text.split_whitespace().count() > 30)
                .take(4)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(texts.len() >= 2, "{} data.gov.uk texts", texts.len());
    let mut reserved_on_page = 0;
    for text in &texts {
        let expected = same_page_results(&one_http, &routed_http, text);
        reserved_on_page += expected
            .matches
            .iter()
            .flat_map(|m| &m.sources)
            .filter(|s| s.verdict == "reserved" && s.row.contains("registry entry #"))
            .count();
    }
    assert!(
        reserved_on_page > 0,
        "no source on the pages reserved by the registry"
    );
    eprintln!(
        "web page with the registry service: {} texts, {reserved_on_page} sources reserved by the registry",
        texts.len()
    );

    // Samples' content opt-out verdicts consult the same registry service
    // on the partition servers as on the single server.
    let mut one = audit_client(&single.addr).await;
    let mut routed = audit_client(&router.addr).await;
    let mut reserved = 0;
    for src in sources_of(captures.iter()) {
        let count = match sample(
            &mut one,
            &DrawSampleRequest {
                source: Some(src.clone()),
                n: 1,
                seed: 3,
                include_text: false,
            },
        )
        .await
        {
            Ok(answer) => answer.source_contents,
            // Captures without contents: compared above.
            Err((Code::NotFound, _)) => continue,
            Err(e) => panic!("{src:?}: {e:?}"),
        };
        let request = DrawSampleRequest {
            source: Some(src.clone()),
            n: u32::try_from(count).expect("a small corpus"),
            seed: 3,
            include_text: false,
        };
        let expected = sample(&mut one, &request).await.expect("the whole source");
        assert_eq!(
            sample(&mut routed, &request).await,
            Ok(expected.clone()),
            "{request:?}"
        );
        reserved += expected
            .items
            .iter()
            .filter(|item| item.content_optout_verdict == "reserved")
            .count();
    }
    assert!(reserved > 0, "no sampled content reserved by the registry");
}

const GOV: &str = "gov-token-0123456789";
const CMO: &str = "cmo-token-0123456789";
const READER: &str = "reader-token-0123456789";

/// `request` with `token` (none when empty).
fn as_caller<T>(request: T, token: &str) -> tonic::Request<T> {
    match token {
        "" => tonic::Request::new(request),
        token => common::with_token(request, token),
    }
}

/// An AuditService answer with the clocks of its two servers taken out:
/// the single server and the registry service stamp the same call a moment
/// apart (a complaint's due date stays, as its distance from filing).
trait Untimed: Clone + PartialEq + std::fmt::Debug {
    fn untimed(self) -> Self {
        self
    }
}

impl Untimed for RecordLabelResponse {}
impl Untimed for RegisterMandateResponse {}
impl Untimed for SourceFailureRateResponse {}

impl Untimed for ComplaintResponse {
    fn untimed(mut self) -> Self {
        if let Some(c) = &mut self.complaint {
            c.due_at -= c.filed_at;
            c.filed_at = 0;
            c.decided_at = c.decided_at.map(|_| 0);
            for step in &mut c.history {
                step.at = 0;
            }
        }
        self
    }
}

impl Untimed for ClaimContentResponse {
    fn untimed(mut self) -> Self {
        if let Some(c) = &mut self.claim {
            c.created_at = i64::from(c.created_at != 0);
            c.revoked_at = i64::from(c.revoked_at != 0);
        }
        self
    }
}

type Answered<A> = Result<A, (Code, String)>;

fn answered<A>(answer: Result<tonic::Response<A>, Status>) -> Answered<A> {
    answer
        .map(tonic::Response::into_inner)
        .map_err(|s| (s.code(), s.message().to_owned()))
}

/// The single server's and the router's answers to one call: equal field
/// by field (clocks aside), errors by code and message. The router's.
fn same<A: Untimed>(
    what: impl std::fmt::Debug,
    one: Result<tonic::Response<A>, Status>,
    routed: Result<tonic::Response<A>, Status>,
) -> Answered<A> {
    let (one, routed) = (answered(one), answered(routed));
    assert_eq!(
        routed.clone().map(Untimed::untimed),
        one.map(Untimed::untimed),
        "{what:?}"
    );
    routed
}

/// `$method($request)` as `$token` on the single server and through the
/// router, compared ([`same`]).
macro_rules! both {
    ($one:expr, $routed:expr, $method:ident, $request:expr, $token:expr) => {{
        let request = $request;
        let one = $one.$method(as_caller(request.clone(), $token)).await;
        let routed = $routed.$method(as_caller(request.clone(), $token)).await;
        same((stringify!($method), $token, &request), one, routed)
    }};
}

/// The registry service over the partitioned publication (assembled), one
/// `serve --registry` over the unpartitioned index with its own registry,
/// two partition servers consulting the registry service and a router
/// forwarding to it.
struct RegistryCluster {
    registry: RegistryServer,
    registry_url: String,
    single: ServerProcess,
    low: ServerProcess,
    high: ServerProcess,
    router: RouterProcess,
}

impl RegistryCluster {
    fn start(root: &Path, dir1: &Path, dir4: &Path, auth: &Path) -> Self {
        let registry = RegistryServer::start(dir4, &root.join("registry"), auth);
        let registry_url = registry.url();
        let single = ServerProcess::start_with_registry(dir1, auth, &root.join("one"));
        let partitions = |held| ["--partitions", held, "--registry-url", &registry_url];
        let low = ServerProcess::start_with(dir4, &partitions("0,1"));
        let high = ServerProcess::start_with(dir4, &partitions("2,3"));
        let router = RouterProcess::start_with_registry(&[&low, &high], &registry_url)
            .expect("router starts");
        Self {
            registry,
            registry_url,
            single,
            low,
            high,
            router,
        }
    }
}

/// AuditService's calls on the registry's state through routers: each
/// answers as one `serve --registry DIR` over the unpartitioned index —
/// complaints filed (by content, URL and work text), read and reviewed
/// (upholding applies to CheckOptOut through the partitions), mandates,
/// claims and revocations, labels and failure rates, every refusal by code
/// and message — because the routers forward them to the registry service,
/// which is where their state lives: a second router and a partition
/// server see what the first one wrote. A registry service that cannot be
/// reached is UNAVAILABLE naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_registry_calls_through_the_router_are_one_servers() {
    let temp = tempfile::tempdir().expect("temp");
    let (inputs, dir1, dir4) = build_whole_and_parted(temp.path());
    let auth = temp.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"tokens": {{
                "{ADMIN}": {{"role": "admin", "name": "ops"}},
                "{GOV}": {{"role": "rightholder", "name": "Gov", "scopes": ["data.gov.uk"]}},
                "{CMO}": {{"role": "rightholder", "name": "CMO", "scopes": ["iana.org"]}},
                "{READER}": {{"role": "reader", "name": "auditor"}}
            }}}}"#
        ),
    )
    .expect("auth file");
    let RegistryCluster {
        registry: _registry,
        registry_url,
        single,
        low,
        high,
        router,
    } = RegistryCluster::start(temp.path(), &dir1, &dir4, &auth);
    let second = RouterProcess::start_with_registry(&[&low, &high], &registry_url)
        .expect("second router starts");
    let mut one = audit_client(&single.addr).await;
    let mut routed = audit_client(&router.addr).await;

    // The captures of a domain with text, from the single server.
    let with_text = |domain: &'static str| {
        let addr = single.addr.clone();
        async move {
            let request = LookupUrlRequest {
                url: domain.into(),
                r#match: UrlMatch::Domain as i32,
                page_size: 200,
                ..Default::default()
            };
            let mut lookups = client(&addr).await;
            let answer = lookups.lookup_url(request).await.expect("captures");
            let mut captures = answer.into_inner().captures;
            captures.retain(|c| !c.content_id.is_empty());
            captures
        }
    };
    // Targets from the index: a data.gov.uk content and URL, a page's text.
    let captures = with_text("data.gov.uk").await;
    let capture = captures
        .iter()
        .find(|c| !c.content_id.is_empty())
        .expect("a data.gov.uk capture with text");
    let content = capture.content_id.clone();
    let url = captures
        .iter()
        .rev()
        .find(|c| !c.content_id.is_empty() && c.content_id != content)
        .expect("another data.gov.uk capture")
        .url
        .clone();
    let work_text = provindex_corpus::read_path(&inputs[0])
        .filter_map(Result::ok)
        .filter_map(|doc| doc.text)
        .find(|text| text.split_whitespace().count() > 100)
        .expect("a page's text");

    // Complaints: filed, refused, read, reviewed.
    let file = |kind: &str, target: ComplaintTarget, rightholder: &str| FileComplaintRequest {
        kind: kind.into(),
        target: Some(target),
        description: "this page copies our report".into(),
        rightholder: rightholder.into(),
    };
    let filed = [
        (
            file(
                "copyright",
                ComplaintTarget::ContentId(content.clone()),
                "Gov",
            ),
            GOV,
        ),
        (
            file("unlawful_content", ComplaintTarget::Url(url.clone()), ""),
            READER,
        ),
        (
            file(
                "copyright",
                ComplaintTarget::WorkText(work_text.clone()),
                "",
            ),
            GOV,
        ),
    ];
    let mut ids = Vec::new();
    for (request, token) in filed {
        let complaint = both!(one, routed, file_complaint, request, token)
            .expect("filed")
            .complaint
            .expect("complaint");
        assert!(!complaint.content_ids.is_empty(), "{complaint:?}");
        ids.push(complaint.id);
    }
    assert_eq!(ids, ["1", "2", "3"]);
    let refused = [
        (
            file("copyright", ComplaintTarget::ContentId(content.clone()), ""),
            "",
            Code::Unauthenticated,
        ),
        (
            file(
                "personal_information",
                ComplaintTarget::ContentId(format!("{:032x}", 1)),
                "",
            ),
            READER,
            Code::NotFound,
        ),
        (
            file("spam", ComplaintTarget::Url(url.clone()), ""),
            READER,
            Code::InvalidArgument,
        ),
        (
            file("unlawful_content", ComplaintTarget::Url(url.clone()), "Gov"),
            GOV,
            Code::InvalidArgument,
        ),
    ];
    for (request, token, code) in refused {
        let (got, _) = both!(one, routed, file_complaint, request, token).expect_err("refused");
        assert_eq!(got, code);
    }
    for id in ["1", "2", "3", "0", "99", "x"] {
        for token in [GOV, READER, ADMIN] {
            let _ = both!(
                one,
                routed,
                get_complaint,
                GetComplaintRequest { id: id.into() },
                token
            );
        }
    }
    let review =
        |id: &str, action: ReviewAction, note: &str, remedy: &str| ReviewComplaintRequest {
            id: id.into(),
            action: action as i32,
            note: note.into(),
            remedy: remedy.into(),
        };
    let reviews = [
        (review("1", ReviewAction::StartReview, "", ""), GOV),
        (review("1", ReviewAction::StartReview, "", ""), ADMIN),
        (
            review("1", ReviewAction::Uphold, "licence checked", ""),
            ADMIN,
        ),
        (review("1", ReviewAction::Uphold, "again", ""), ADMIN),
        (review("2", ReviewAction::Uphold, "", "nonsense"), ADMIN),
        (review("2", ReviewAction::StartReview, "", ""), ADMIN),
        (
            review("2", ReviewAction::Uphold, "unlawful", "source_block_host"),
            ADMIN,
        ),
        (review("3", ReviewAction::Reject, "", ""), ADMIN),
        (review("3", ReviewAction::Reject, "not the work", ""), ADMIN),
        (review("4", ReviewAction::Reject, "none", ""), ADMIN),
    ];
    let mut upheld = 0;
    for (request, token) in reviews {
        if let Ok(answer) = both!(one, routed, review_complaint, request, token) {
            let complaint = answer.complaint.expect("complaint");
            upheld += usize::from(!complaint.registry_entry_id.is_empty());
        }
    }
    assert_eq!(upheld, 2, "complaints 1 and 2 upheld with registry entries");
    // The registry the upheld complaints wrote to is the one the
    // partitions consult: CheckOptOut through them is the single server's.
    let (mut one_lookups, mut routed_lookups) =
        (client(&single.addr).await, client(&router.addr).await);
    for target in [Target::ContentId(content.clone()), Target::Url(url.clone())] {
        let request = CheckOptOutRequest {
            target: Some(target),
        };
        let expected = one_lookups
            .check_opt_out(request.clone())
            .await
            .expect("check")
            .into_inner();
        assert!(expected.registry_checked, "{expected:?}");
        let got = routed_lookups
            .check_opt_out(request)
            .await
            .expect("check")
            .into_inner();
        assert_eq!(got, expected);
    }

    // Mandates and claims.
    let mandate = |cmo: &str, member: &str| RegisterMandateRequest {
        cmo: cmo.into(),
        member: member.into(),
        evidence: "mandate 2024-3".into(),
    };
    for (request, token) in [
        (mandate("CMO", "Member"), GOV),
        (mandate("", "Member"), ADMIN),
        (mandate("CMO", "Member"), ADMIN),
    ] {
        let _ = both!(one, routed, register_mandate, request, token);
    }
    let claim = |member: &str, scope: opt_out_scope::Scope| ClaimContentRequest {
        member: member.into(),
        scope: Some(OptOutScope { scope: Some(scope) }),
        evidence: "licence 2024-7".into(),
    };
    let domain = |d: &str| opt_out_scope::Scope::Domain(d.into());
    let claims = [
        (claim("Member", domain("iana.org")), CMO),
        (claim("Stranger", domain("iana.org")), CMO),
        (
            claim("", opt_out_scope::Scope::ContentId(content.clone())),
            GOV,
        ),
        (
            claim("", opt_out_scope::Scope::ContentId(content.clone())),
            GOV,
        ),
        (claim("", domain("iana.org")), GOV),
        (claim("", domain("iana.org")), READER),
    ];
    let mut claimed = Vec::new();
    for (request, token) in claims {
        if let Ok(answer) = both!(one, routed, claim_content, request, token) {
            claimed.push(answer.claim.expect("claim").id);
        }
    }
    // The CMO's for its member and Gov's (at least): [1] is Gov's.
    assert!(claimed.len() >= 2, "{claimed:?}");
    let revoke = |id: &str| RevokeClaimRequest {
        id: id.into(),
        reason: "licence ended".into(),
    };
    for (request, token) in [
        (revoke(&claimed[1]), CMO),
        (revoke("x"), GOV),
        (revoke(&claimed[1]), GOV),
        (revoke(&claimed[1]), GOV),
    ] {
        let _ = both!(one, routed, revoke_claim, request, token);
    }

    // Labels on a sample drawn through the partitions, and the rates.
    let gov = source(SourceKind::Domain, "data.gov.uk");
    let drawn = sample(
        &mut routed,
        &DrawSampleRequest {
            source: Some(gov.clone()),
            n: 3,
            seed: 7,
            include_text: false,
        },
    )
    .await
    .expect("a sample");
    assert_eq!(drawn.items.len(), 3, "{drawn:?}");
    let outside = with_text("iana.org")
        .await
        .first()
        .expect("an iana.org content")
        .content_id
        .clone();
    let label = |content_id: &str, verdict: LabelVerdict, category: &str| RecordLabelRequest {
        source: Some(gov.clone()),
        n: 3,
        seed: 7,
        content_id: content_id.into(),
        verdict: verdict as i32,
        category: category.into(),
        note: String::new(),
    };
    let labels = [
        (
            label(&drawn.items[0].content_id, LabelVerdict::Fail, "unlawful"),
            ADMIN,
        ),
        (
            label(&drawn.items[1].content_id, LabelVerdict::Pass, ""),
            ADMIN,
        ),
        (
            label(&drawn.items[2].content_id, LabelVerdict::Fail, ""),
            ADMIN,
        ),
        (label(&outside, LabelVerdict::Pass, ""), ADMIN),
        (
            label(&drawn.items[2].content_id, LabelVerdict::Pass, ""),
            GOV,
        ),
    ];
    let mut recorded = 0;
    for (request, token) in labels {
        recorded += usize::from(both!(one, routed, record_label, request, token).is_ok());
    }
    assert_eq!(recorded, 2);
    let rates = [
        SourceFailureRateRequest::default(),
        SourceFailureRateRequest {
            source: Some(gov.clone()),
        },
        SourceFailureRateRequest {
            source: Some(source(SourceKind::Host, "www.iana.org")),
        },
    ];
    let mut rate_answers = Vec::new();
    for request in rates {
        let answer = both!(one, routed, source_failure_rate, request.clone(), READER);
        let rate = answer.clone().expect("rates");
        rate_answers.push((request, answer));
        assert!(!rate.sources.is_empty());
    }
    let all = rate_answers[0].1.clone().expect("rates");
    assert_eq!(all.sources.len(), 1, "{all:?}");
    assert_eq!(
        (all.sources[0].labelled, all.sources[0].failed),
        (2, 1),
        "{all:?}"
    );

    // One state: a second router and a partition server answer what the
    // first router wrote, timestamps included; a label recorded through
    // the second counts through the first.
    for addr in [&second.addr, &low.addr] {
        let mut other = audit_client(addr).await;
        for id in &ids {
            let request = GetComplaintRequest { id: id.clone() };
            assert_eq!(
                answered(other.get_complaint(as_caller(request.clone(), ADMIN)).await),
                answered(routed.get_complaint(as_caller(request, ADMIN)).await),
                "{addr}: complaint {id}"
            );
        }
        for (request, answer) in &rate_answers {
            assert_eq!(
                &answered(
                    other
                        .source_failure_rate(as_caller(request.clone(), READER))
                        .await
                ),
                answer,
                "{addr}"
            );
        }
    }
    let mut other = audit_client(&second.addr).await;
    other
        .record_label(as_caller(
            label(&drawn.items[2].content_id, LabelVerdict::Fail, "harmful"),
            ADMIN,
        ))
        .await
        .expect("labelled through the second router");
    let rates = routed
        .source_failure_rate(as_caller(SourceFailureRateRequest::default(), READER))
        .await
        .expect("rates")
        .into_inner();
    assert_eq!(
        (rates.sources[0].labelled, rates.sources[0].failed),
        (3, 2),
        "{rates:?}"
    );

    // A registry service that cannot be reached: UNAVAILABLE naming it,
    // never another answer.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let cut_off = RouterProcess::start_with_registry(&[&low, &high], &closed)
        .expect("a router starts while its registry is down");
    let status = audit_client(&cut_off.addr)
        .await
        .get_complaint(as_caller(GetComplaintRequest { id: "1".into() }, ADMIN))
        .await
        .expect_err("no registry service");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains(&closed) && status.message().contains("GetComplaint"),
        "{status:?}"
    );
    // A registry service that accepts connections but never answers: the
    // router's --request-timeout-secs bounds the forwarded call (a report
    // walks the whole index: its deadline is the operator's), and the error
    // names the service, not the router's own deadline.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let bounded = RouterProcess::spawn(
        &[&low, &high],
        false,
        &["--registry-url", &silent_url, "--request-timeout-secs", "2"],
    )
    .expect("router");
    let status = ReportServiceClient::new(connect(format!("http://{}", bounded.addr)).await)
        .get_transparency_report(as_caller(GetTransparencyReportRequest {}, ADMIN))
        .await
        .expect_err("no answer from the registry service");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    assert!(
        status.message().contains(&silent_url)
            && status.message().contains("GetTransparencyReport"),
        "{status:?}"
    );
    drop(silent);
}

/// A Lineage answer without what differs between two servers of the same
/// index and registry state: where the served index and the export files
/// are (`out` is the export's directory) and when the export ran.
fn placeless(mut answer: LineageResponse, out: &Path) -> LineageResponse {
    let out = out.to_str().expect("utf-8");
    let strip = |uri: &mut String| *uri = uri.replace(out, "OUT");
    for version in &mut answer.versions {
        if version.relation == "served" {
            version.uri.clear();
        }
    }
    for export in &mut answer.exports {
        strip(&mut export.summary_uri);
        strip(&mut export.manifest_uri);
        strip(&mut export.exclusions_uri);
        export.exported_at = 0;
    }
    for content in &mut answer.contents {
        for export in &mut content.exports {
            strip(&mut export.summary_uri);
            export.exported_at = 0;
        }
    }
    answer
}

/// The first capture with text of `domain`'s.
async fn first_with_text(lookups: &mut Client, domain: &str) -> provindex_proto::v1::Capture {
    let request = LookupUrlRequest {
        url: domain.into(),
        r#match: UrlMatch::Domain as i32,
        page_size: 200,
        ..Default::default()
    };
    lookups
        .lookup_url(request)
        .await
        .expect("captures")
        .into_inner()
        .captures
        .into_iter()
        .find(|c| !c.content_id.is_empty())
        .expect("a capture with text")
}

/// The single server and the router, each with its export's directory.
struct LineageSides<'a> {
    one: &'a mut LedgerServiceClient<Channel>,
    routed: &'a mut LedgerServiceClient<Channel>,
    one_out: &'a Path,
    routed_out: &'a Path,
}

impl LineageSides<'_> {
    /// `request` on both, compared [`placeless`]: the router's answer.
    async fn lineage(&mut self, request: LineageRequest) -> Answered<LineageResponse> {
        let expected = answered(self.one.lineage(request.clone()).await)
            .map(|answer| placeless(answer, self.one_out));
        let got = answered(self.routed.lineage(request.clone()).await)
            .map(|answer| placeless(answer, self.routed_out));
        assert_eq!(got, expected, "{request:?}");
        got
    }
}

/// LedgerService.Lineage through a router is forwarded to the registry
/// service, which holds the registry's lineage log (exports forwarded there
/// recorded it) and the whole index: after the same opt-out and the same
/// export on each side, every question (a content by id, a URL, a work's
/// text) and every refusal is the single `serve --registry DIR`'s answer
/// over the unpartitioned index, places and clocks aside. Without a
/// registry service Lineage is UNIMPLEMENTED naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineage_through_the_router_is_the_registry_services() {
    use provindex_proto::v1::lineage_request::Subject;
    use provindex_proto::v1::opt_out_service_client::OptOutServiceClient;
    use provindex_proto::v1::{
        ExportTrainingManifestRequest, GetSignedManifestRequest, ProveContentRequest,
        RegisterOptOutRequest, prove_content_request,
    };

    let temp = tempfile::tempdir().expect("temp");
    let (inputs, dir1, dir4) = build_whole_and_parted(temp.path());
    let auth = temp.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"tokens": {{"{ADMIN}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("auth file");
    let RegistryCluster {
        registry: _registry,
        registry_url,
        single,
        low,
        high,
        router,
    } = RegistryCluster::start(temp.path(), &dir1, &dir4, &auth);

    // The same opt-out on each side's registry, then the same export.
    let opt_out = RegisterOptOutRequest {
        rightholder: "Gov".into(),
        scope: Some(OptOutScope {
            scope: Some(opt_out_scope::Scope::Domain("data.gov.uk".into())),
        }),
        effective_from: Some(1_400_000_000),
        evidence: "signed declaration #18".into(),
    };
    for writer in [single.url(), registry_url.clone()] {
        OptOutServiceClient::new(connect(writer).await)
            .register_opt_out(common::with_token(opt_out.clone(), ADMIN))
            .await
            .expect("opt-out registered");
    }
    let (one_out, routed_out) = (temp.path().join("one-out"), temp.path().join("routed-out"));
    for (addr, out) in [(&single.addr, &one_out), (&router.addr, &routed_out)] {
        let summary = ReportServiceClient::new(connect(format!("http://{addr}")).await)
            .export_training_manifest(common::with_token(
                ExportTrainingManifestRequest {
                    output_uri: out.join("m.jsonl").to_str().expect("utf-8").to_owned(),
                    at: Some(1_500_000_000),
                },
                ADMIN,
            ))
            .await
            .expect("exported")
            .into_inner();
        assert!(summary.excluded > 0 && summary.kept > 0, "{summary:?}");
    }

    // Questions from the index: a data.gov.uk content (opted out) and an
    // iana.org one, their URLs, a page's text.
    let mut lookups = client(&single.addr).await;
    let gov = first_with_text(&mut lookups, "data.gov.uk").await;
    let iana = first_with_text(&mut lookups, "iana.org").await;
    let work_text = provindex_corpus::read_path(&inputs[0])
        .filter_map(Result::ok)
        .filter_map(|doc| doc.text)
        .find(|text| text.split_whitespace().count() > 100)
        .expect("a page's text");
    let ask = |subject: Option<Subject>| LineageRequest {
        subject,
        min_similarity: None,
    };
    let mut one = LedgerServiceClient::new(connect(single.url()).await);
    let mut routed = LedgerServiceClient::new(connect(format!("http://{}", router.addr)).await);
    let mut sides = LineageSides {
        one: &mut one,
        routed: &mut routed,
        one_out: &one_out,
        routed_out: &routed_out,
    };

    let answer = sides
        .lineage(ask(Some(Subject::ContentId(gov.content_id.clone()))))
        .await
        .expect("the gov content's lineage");
    assert!(answer.registry_checked, "{answer:?}");
    assert_eq!(answer.exports.len(), 1, "{answer:?}");
    assert_eq!(answer.versions[0].relation, "served");
    assert_eq!(answer.contents.len(), 1, "{answer:?}");
    let in_export = &answer.contents[0].exports[0];
    assert_eq!(in_export.inclusion, "excluded", "{answer:?}");
    assert!(
        in_export.covered && !in_export.covering.is_empty(),
        "{answer:?}"
    );
    assert_eq!(answer.contents[0].versions[0].presence, "present");

    let answer = sides
        .lineage(ask(Some(Subject::ContentId(iana.content_id.clone()))))
        .await
        .expect("the iana content's lineage");
    // Not opted out (it may still be left out as a near-duplicate).
    let in_export = &answer.contents[0].exports[0];
    assert!(
        in_export.coverage_known && !in_export.covered && !in_export.reason.starts_with("registry"),
        "{answer:?}"
    );

    for url in [&gov.url, &iana.url] {
        let answer = sides
            .lineage(ask(Some(Subject::Url(url.clone()))))
            .await
            .expect("a URL's lineage");
        assert!(
            answer.contents.iter().all(|c| c.matched == "url") && !answer.contents.is_empty(),
            "{answer:?}"
        );
    }
    let answer = sides
        .lineage(ask(Some(Subject::WorkText(work_text))))
        .await
        .expect("a work's lineage");
    assert_eq!(answer.contents[0].matched, "exact", "{answer:?}");

    for (subject, code) in [
        (None, Code::InvalidArgument),
        (
            Some(Subject::ContentId("not hex".into())),
            Code::InvalidArgument,
        ),
        (
            Some(Subject::Url("https://absent.example/nothing".into())),
            Code::NotFound,
        ),
        (Some(Subject::WorkText("   ".into())), Code::InvalidArgument),
    ] {
        let (got, _) = sides.lineage(ask(subject)).await.expect_err("refused");
        assert_eq!(got, code);
    }

    // The registry service answers Lineage only; an unsigned single server
    // answers Lineage and no proofs.
    let status = LedgerServiceClient::new(connect(registry_url.clone()).await)
        .get_signed_manifest(GetSignedManifestRequest {})
        .await
        .expect_err("no proofs at the registry service");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("Lineage only"), "{status:?}");
    let status = one
        .prove_content(ProveContentRequest {
            key: Some(prove_content_request::Key::ContentId(
                gov.content_id.clone(),
            )),
        })
        .await
        .expect_err("unsigned");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("--signing-key"), "{status:?}");

    // A router without a registry service: UNIMPLEMENTED naming it.
    let bare = RouterProcess::start(&[&low, &high]).expect("router without a registry");
    let status = LedgerServiceClient::new(connect(format!("http://{}", bare.addr)).await)
        .lineage(ask(Some(Subject::ContentId(gov.content_id.clone()))))
        .await
        .expect_err("no registry service");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(
        status.message().contains("Lineage")
            && status.message().contains("provindex registry-server"),
        "{status:?}"
    );
}
