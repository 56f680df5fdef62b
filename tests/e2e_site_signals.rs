//! Site-level opt-out signals end to end, on a corpus derived from real
//! records: the test takes real HTML response records of
//! `tests/data/corpus/warc/cc-main-2020-34-excerpt.warc.gz`, adds synthetic
//! robots.txt, tdmrep.json and ai.txt response records for their hosts,
//! re-dates or re-addresses a few copies of real pages, injects
//! `tdm-reservation` / `X-Robots-Tag` headers into others, indexes the result
//! with the real `provindex index` (plus a `--robots` set), serves it with
//! `provindex serve`, and checks each capture's verdict, deciding signal,
//! evidence and time through LookupUrl and GetCapture.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::{ServerProcess, corpus_dir, provindex_bin};
use provindex_proto::v1::{
    Capture, GetCaptureRequest, LookupUrlRequest, OptOutSignal, UrlMatch,
    provenance_service_client::ProvenanceServiceClient,
};

/// One WARC record: its header lines (name, value) and block.
#[derive(Clone)]
struct Record {
    headers: Vec<(String, String)>,
    block: Vec<u8>,
}

impl Record {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn set(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    fn url(&self) -> &str {
        self.header("WARC-Target-URI")
    }

    /// A copy at another URL and/or date, with its own record id.
    fn copy(&self, id: &str, url: &str, date: &str) -> Record {
        let mut r = self.clone();
        r.set("WARC-Record-ID", &format!("<urn:uuid:{id}>"));
        r.set("WARC-Target-URI", url);
        r.set("WARC-Date", date);
        r.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("WARC-Block-Digest"));
        r
    }

    /// Adds an HTTP response header after the status line.
    fn with_http_header(mut self, line: &str) -> Record {
        let eol = self
            .block
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("status line");
        let mut block = self.block[..eol + 2].to_vec();
        block.extend_from_slice(line.as_bytes());
        block.extend_from_slice(b"\r\n");
        block.extend_from_slice(&self.block[eol + 2..]);
        self.block = block;
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("WARC-Block-Digest"));
        self
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"WARC/1.0\r\n");
        for (name, value) in &self.headers {
            if !name.eq_ignore_ascii_case("Content-Length") {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.block.len()).as_bytes());
        out.extend_from_slice(&self.block);
        out.extend_from_slice(b"\r\n\r\n");
    }
}

/// Real response records of the CC excerpt, by URL.
fn real_responses() -> BTreeMap<String, Record> {
    let raw = std::fs::read(corpus_dir().join("warc/cc-main-2020-34-excerpt.warc.gz"))
        .expect("cc excerpt");
    let mut data = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut data)
        .expect("gunzip");
    let mut out = BTreeMap::new();
    let mut pos = 0;
    while pos < data.len() {
        let Some(end) = data[pos..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| pos + i)
        else {
            break;
        };
        let head = String::from_utf8_lossy(&data[pos..end]).into_owned();
        let mut lines = head.lines();
        assert!(lines.next().unwrap_or("").starts_with("WARC/"), "{head}");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let record = Record {
            block: Vec::new(),
            headers,
        };
        let length: usize = record.header("Content-Length").parse().expect("length");
        let block = data[end + 4..end + 4 + length].to_vec();
        pos = end + 4 + length + 4;
        if record.header("WARC-Type") == "response" {
            let url = record.url().to_owned();
            out.insert(url, Record { block, ..record });
        }
    }
    assert_eq!(out.len(), 16);
    out
}

/// A synthetic response record (a small site file).
fn response(id: &str, url: &str, date: &str, status: &str, mime: &str, body: &str) -> Record {
    let block = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Record {
        headers: vec![
            ("WARC-Type".into(), "response".into()),
            ("WARC-Target-URI".into(), url.into()),
            ("WARC-Date".into(), date.into()),
            ("WARC-Record-ID".into(), format!("<urn:uuid:{id}>")),
            (
                "Content-Type".into(),
                "application/http; msgtype=response".into(),
            ),
        ],
        block: block.into_bytes(),
    }
}

const RADSPORT_STATS: &str = "http://06.live-radsport.ch/fahrerstatistik_801/Anthony_Ravard.html"; // 17:11:45
const RADSPORT_TIPPS: &str = "http://06.live-radsport.ch/tippspiel/stats_140_petzi.html"; // 17:55:23
const SPB: &str = "http://01spb.ru/company/"; // 18:31:12
const CN: &str = "http://037426.cn/"; // 18:34:24
const HOVENIER: &str = "http://0900-hovenier.nl/gelderland/oosterbeek/"; // 18:02:09
const VIDEO: &str = "http://096355.com/video/11073.html?11073-0-2"; // 17:21:07
const MT: &str = "http://0513mt.com/index.php/art/detail/id/8884.html"; // 18:07:31

/// Writes the derived corpus; returns its path.
fn write_corpus(dir: &Path) -> std::path::PathBuf {
    let real = real_responses();
    let mut records: Vec<Record> = Vec::new();
    // Real pages, unchanged (06.live-radsport.ch, 01spb.ru, 096355.com, 0513mt.com, ...).
    for (url, record) in &real {
        if url != CN && url != HOVENIER {
            records.push(record.clone());
        }
    }
    // Two robots.txt captures of 06.live-radsport.ch, 30 minutes apart.
    records.push(response(
        "00000000-0000-4000-8000-000000000001",
        "http://06.live-radsport.ch/robots.txt",
        "2020-08-08T17:00:00Z",
        "200 OK",
        "text/plain",
        "User-agent: GPTBot\nDisallow: /fahrerstatistik_801/\n\nUser-agent: *\nAllow: /\n",
    ));
    records.push(response(
        "00000000-0000-4000-8000-000000000002",
        "http://06.live-radsport.ch/robots.txt",
        "2020-08-08T17:30:00Z",
        "200 OK",
        "text/plain; charset=utf-8",
        "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /tippspiel/\n",
    ));
    // Copies of the real pages before the first and after the second robots.txt,
    // and one on the https origin (which has no robots.txt).
    records.push(real[RADSPORT_TIPPS].copy(
        "00000000-0000-4000-8000-000000000003",
        RADSPORT_TIPPS,
        "2020-08-08T16:00:00Z",
    ));
    records.push(real[RADSPORT_STATS].copy(
        "00000000-0000-4000-8000-000000000004",
        RADSPORT_STATS,
        "2020-08-08T18:30:00Z",
    ));
    records.push(real[RADSPORT_TIPPS].copy(
        "00000000-0000-4000-8000-000000000005",
        &RADSPORT_TIPPS.replace("http://", "https://"),
        "2020-08-08T18:00:00Z",
    ));
    // tdmrep.json for 01spb.ru (served as application/json), and a copy of its
    // page whose HTTP header says `tdm-reservation: 0`.
    records.push(response(
        "00000000-0000-4000-8000-000000000006",
        "http://01spb.ru/.well-known/tdmrep.json",
        "2020-08-08T18:00:00Z",
        "200 OK",
        "application/json",
        r#"[{"location":"/company/*","tdm-reservation":1,"tdm-policy":"https://01spb.ru/tdm-policy.json"},{"location":"/*","tdm-reservation":0}]"#,
    ));
    records.push(
        real[SPB]
            .copy(
                "00000000-0000-4000-8000-000000000007",
                "http://01spb.ru/company/?lang=en",
                "2020-08-08T18:40:00Z",
            )
            .with_http_header("tdm-reservation: 0"),
    );
    // 037426.cn: the page's own header reserves, and robots.txt disallows GPTBot.
    records.push(real[CN].clone().with_http_header("tdm-reservation: 1"));
    records.push(response(
        "00000000-0000-4000-8000-000000000008",
        "http://037426.cn/robots.txt",
        "2020-08-08T18:00:00Z",
        "200 OK",
        "text/plain",
        "User-agent: GPTBot\nDisallow: /\n",
    ));
    // 0900-hovenier.nl: X-Robots-Tag noai, and a robots.txt that is a 404.
    records.push(
        real[HOVENIER]
            .clone()
            .with_http_header("X-Robots-Tag: noai"),
    );
    records.push(response(
        "00000000-0000-4000-8000-000000000009",
        "http://0900-hovenier.nl/robots.txt",
        "2020-08-08T18:00:00Z",
        "404 Not Found",
        "text/html",
        "<html><body>User-agent: GPTBot<br>Disallow: /</body></html>",
    ));
    // 096355.com: ai.txt reserving /video/.
    records.push(response(
        "00000000-0000-4000-8000-00000000000a",
        "http://096355.com/ai.txt",
        "2020-08-08T17:00:00Z",
        "200 OK",
        "text/plain",
        "# Spawning AI\nUser-Agent: *\nDisallow: /video/\nAllow: /\n",
    ));
    let mut out = Vec::new();
    for record in &records {
        record.write(&mut out);
    }
    let path = dir.join("derived.warc");
    std::fs::write(&path, out).expect("write corpus");
    path
}

async fn capture_of(
    client: &mut ProvenanceServiceClient<tonic::transport::Channel>,
    url: &str,
    date: &str,
) -> Capture {
    let page = client
        .lookup_url(LookupUrlRequest {
            url: url.into(),
            r#match: UrlMatch::Exact as i32,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{url}: {s}"))
        .into_inner();
    page.captures
        .into_iter()
        .find(|c| c.capture_time_raw == date)
        .unwrap_or_else(|| panic!("{url} at {date}: not found"))
}

fn decider(capture: &Capture) -> (&str, OptOutSignal) {
    let optout = capture.optout.as_ref().expect("optout");
    (
        optout.verdict.as_str(),
        optout.deciding_signal.clone().unwrap_or_default(),
    )
}

fn site_signals<'a>(capture: &'a Capture, source: &str) -> Vec<&'a OptOutSignal> {
    capture
        .optout
        .as_ref()
        .expect("optout")
        .signals
        .iter()
        .filter(|s| s.source == source)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_signals_from_the_crawl_apply_per_origin_and_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = write_corpus(dir.path());
    let robots_dir = dir.path().join("robots");
    std::fs::create_dir(&robots_dir).expect("mkdir");
    std::fs::write(
        robots_dir.join("0513mt.com.txt"),
        "User-agent: CCBot\nDisallow: /index.php/art/\n",
    )
    .expect("write robots");
    // Given for a host whose robots.txt the crawl has: the crawl's wins.
    std::fs::write(
        robots_dir.join("037426.cn"),
        "User-agent: ClaudeBot\nDisallow: /\n",
    )
    .expect("write robots");
    let index = dir.path().join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(&corpus)
        .arg("--out")
        .arg(&index)
        .arg("--robots")
        .arg(&robots_dir)
        .args(["--crawl", "derived", "--workers", "2", "--built-at", "0"])
        .output()
        .expect("run provindex index");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("site files: 6 kept, 0 dropped, 0 truncated, 2 given robots.txt"),
        "{stdout}"
    );

    let server = ServerProcess::start(&index);
    let channel = tonic::transport::Channel::from_shared(server.url())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut client = ProvenanceServiceClient::new(channel);

    let robots1 = capture_of(
        &mut client,
        "http://06.live-radsport.ch/robots.txt",
        "2020-08-08T17:00:00Z",
    )
    .await;
    let robots2 = capture_of(
        &mut client,
        "http://06.live-radsport.ch/robots.txt",
        "2020-08-08T17:30:00Z",
    )
    .await;
    assert_eq!(robots1.http_status, 200);
    // robots.txt itself gets no robots.txt signals.
    assert!(site_signals(&robots1, "robots_txt").is_empty());

    // 1. The latest robots.txt at or before the capture applies: robots #1 (17:00)
    //    disallows /fahrerstatistik_801/ for GPTBot.
    let stats = capture_of(&mut client, RADSPORT_STATS, "2020-08-08T17:11:45Z").await;
    let (verdict, signal) = decider(&stats);
    assert_eq!(verdict, "reserved", "{stats:?}");
    assert_eq!(
        (
            signal.source.as_str(),
            signal.kind.as_str(),
            signal.agent.as_str()
        ),
        ("robots_txt", "robots_disallow", "GPTBot")
    );
    assert_eq!(signal.value, "/fahrerstatistik_801/");
    assert_eq!(signal.seen_at, robots1.capture_time);
    assert!(
        signal.evidence.contains("Disallow: /fahrerstatistik_801/")
            && signal.evidence.contains(&robots1.capture_id)
            && signal
                .evidence
                .contains("http://06.live-radsport.ch/robots.txt captured 2020-08-08T17:00:00Z"),
        "{}",
        signal.evidence
    );
    // GetCapture says the same.
    let got = client
        .get_capture(GetCaptureRequest {
            capture_id: stats.capture_id.clone(),
            include_record: false,
        })
        .await
        .expect("get capture")
        .into_inner()
        .capture
        .expect("capture");
    assert_eq!(got.optout, stats.optout);

    // ... robots #2 (17:30) for the 17:55 capture: /tippspiel/ for GPTBot and CCBot.
    let tipps = capture_of(&mut client, RADSPORT_TIPPS, "2020-08-08T17:55:23Z").await;
    let (verdict, signal) = decider(&tipps);
    assert_eq!(verdict, "reserved");
    assert_eq!(signal.seen_at, robots2.capture_time);
    assert!(signal.evidence.contains(&robots2.capture_id));
    let agents: Vec<&str> = site_signals(&tipps, "robots_txt")
        .iter()
        .map(|s| s.agent.as_str())
        .collect();
    assert_eq!(agents, ["GPTBot", "CCBot"]);
    // ... and the capture after robots #2 of the page robots #1 disallowed is not reserved.
    let stats_late = capture_of(&mut client, RADSPORT_STATS, "2020-08-08T18:30:00Z").await;
    assert_eq!(decider(&stats_late).0, "unknown", "{stats_late:?}");
    assert!(site_signals(&stats_late, "robots_txt").is_empty());
    // 2. Before any robots.txt capture, the earliest one applies (#1, which
    //    allows /tippspiel/ ).
    let tipps_early = capture_of(&mut client, RADSPORT_TIPPS, "2020-08-08T16:00:00Z").await;
    assert_eq!(decider(&tipps_early).0, "unknown", "{tipps_early:?}");
    // 3. Another origin (https) is not covered by the http robots.txt.
    let tipps_https = capture_of(
        &mut client,
        &RADSPORT_TIPPS.replace("http://", "https://"),
        "2020-08-08T18:00:00Z",
    )
    .await;
    assert!(
        tipps_https
            .optout
            .as_ref()
            .expect("optout")
            .signals
            .is_empty()
    );

    // 4. tdmrep.json (application/json) reserves /company/*, with its policy.
    let tdmrep = capture_of(
        &mut client,
        "http://01spb.ru/.well-known/tdmrep.json",
        "2020-08-08T18:00:00Z",
    )
    .await;
    let spb = capture_of(&mut client, SPB, "2020-08-08T18:31:12Z").await;
    let (verdict, signal) = decider(&spb);
    assert_eq!(verdict, "reserved", "{spb:?}");
    assert_eq!(
        (
            signal.source.as_str(),
            signal.kind.as_str(),
            signal.value.as_str()
        ),
        ("tdmrep_json", "tdm_reservation", "1")
    );
    assert_eq!(signal.seen_at, tdmrep.capture_time);
    assert!(signal.evidence.contains(r#""location":"/company/*""#));
    assert!(signal.evidence.contains(&tdmrep.capture_id));
    let policy = site_signals(&spb, "tdmrep_json");
    assert_eq!(policy.len(), 2);
    assert_eq!(policy[1].value, "https://01spb.ru/tdm-policy.json");
    //    The page's own `tdm-reservation: 0` header supersedes tdmrep.json
    //    (TDMRep: HTML meta > HTTP header > tdmrep.json).
    let spb_en = capture_of(
        &mut client,
        "http://01spb.ru/company/?lang=en",
        "2020-08-08T18:40:00Z",
    )
    .await;
    let (verdict, signal) = decider(&spb_en);
    assert_eq!(verdict, "not_reserved", "{spb_en:?}");
    assert_eq!(
        (signal.source.as_str(), signal.value.as_str()),
        ("http_header", "0")
    );
    assert_eq!(signal.evidence, "tdm-reservation: 0");
    assert_eq!(signal.seen_at, spb_en.capture_time);
    assert_eq!(site_signals(&spb_en, "tdmrep_json")[0].value, "1");

    // 5. A page-level reservation decides before a site-level one; both are listed.
    let cn = capture_of(&mut client, CN, "2020-08-08T18:34:24Z").await;
    let (verdict, signal) = decider(&cn);
    assert_eq!(verdict, "reserved");
    assert_eq!(
        (
            signal.source.as_str(),
            signal.kind.as_str(),
            signal.evidence.as_str()
        ),
        ("http_header", "tdm_reservation", "tdm-reservation: 1")
    );
    assert_eq!(signal.seen_at, cn.capture_time);
    let robots = site_signals(&cn, "robots_txt");
    assert_eq!(
        robots.len(),
        1,
        "the given robots.txt is not used: {robots:?}"
    );
    assert_eq!(robots[0].agent, "GPTBot");

    // 6. X-Robots-Tag: noai; the 404 robots.txt adds nothing (its HTML body is not read).
    let hovenier = capture_of(&mut client, HOVENIER, "2020-08-08T18:02:09Z").await;
    let (verdict, signal) = decider(&hovenier);
    assert_eq!(verdict, "reserved");
    assert_eq!(
        (
            signal.source.as_str(),
            signal.kind.as_str(),
            signal.evidence.as_str()
        ),
        ("http_header", "noai", "X-Robots-Tag: noai")
    );
    assert!(site_signals(&hovenier, "robots_txt").is_empty());

    // 7. ai.txt.
    let video = capture_of(&mut client, VIDEO, "2020-08-08T17:21:07Z").await;
    let (verdict, signal) = decider(&video);
    assert_eq!(verdict, "reserved", "{video:?}");
    assert_eq!(
        (
            signal.source.as_str(),
            signal.kind.as_str(),
            signal.agent.as_str()
        ),
        ("ai_txt", "ai_txt_disallow", "")
    );
    assert!(
        signal
            .evidence
            .contains("http://096355.com/ai.txt captured 2020-08-08T17:00:00Z")
    );

    // 8. The robots.txt set given to the job, for a host the crawl has none of.
    let mt = capture_of(&mut client, MT, "2020-08-08T18:07:31Z").await;
    let (verdict, signal) = decider(&mt);
    assert_eq!(verdict, "reserved", "{mt:?}");
    assert_eq!(
        (
            signal.source.as_str(),
            signal.agent.as_str(),
            signal.seen_at
        ),
        ("robots_txt", "CCBot", 0)
    );
    assert!(
        signal.evidence.contains("given to the job"),
        "{}",
        signal.evidence
    );
    assert!(signal.evidence.contains("0513mt.com.txt"));

    // 9. Pages of hosts without site files keep their page-level verdict.
    let other = capture_of(
        &mut client,
        "http://003338.cn/l41/481397.html",
        "2020-08-08T17:27:41Z",
    )
    .await;
    assert!(site_signals(&other, "robots_txt").is_empty());
}

#[test]
fn site_signal_builds_are_reproducible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = write_corpus(dir.path());
    let mut digests = Vec::new();
    for workers in ["1", "3"] {
        let out = dir.path().join(format!("index-{workers}"));
        let output = Command::new(provindex_bin())
            .arg("index")
            .arg(&corpus)
            .arg("--out")
            .arg(&out)
            .args(["--workers", workers, "--built-at", "0"])
            .output()
            .expect("index");
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        digests.push(
            stdout
                .lines()
                .find_map(|l| l.strip_prefix("digest: "))
                .expect("digest")
                .to_owned(),
        );
    }
    assert_eq!(digests[0], digests[1]);
}
