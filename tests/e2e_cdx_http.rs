//! End to end, with real processes: `provindex index` builds an index from
//! real WARC files, `provindex serve --http-listen` serves pywb's CDX server
//! API (`/cdx`) and original records (`/record/{id}`) over HTTP, and
//! - `/cdx` answers are checked against an independent scan of the WARC
//!   headers (tests/common's `scan_warc`);
//! - a real pywb (`wayback`) with this endpoint as a collection's remote CDX
//!   source and the WARC directory as its archive replays captures, byte for
//!   byte the payload warcio reads from the record;
//! - warcio reads `/record/{id}` and finds the same record;
//! - bad parameters are answered 400 naming the parameter.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::venv::venv_python;
use common::{ScannedRecord, ServerProcess, corpus_dir, http_get as get, provindex_bin, scan_warc};

const WARCS: [&str; 2] = ["iana.org-2014.warc.gz", "gov.uk-2014-crawl-a.warc.gz"];

/// A child process killed on drop.
/// A child process (pywb's `wayback`), killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cdx(addr: &str, query: &str) -> (u16, String) {
    let (status, _, body) = get(addr, &format!("/cdx?{query}"));
    (status, String::from_utf8(body).expect("utf-8 answer"))
}

/// One capture as the WARC headers state it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    timestamp: String,
    url: String,
    digest: String,
    revisit: bool,
    filename: String,
}

/// Captures (response, resource and revisit records) of the bundled WARCs.
fn expected_captures() -> Vec<Expected> {
    let mut out = Vec::new();
    for name in WARCS {
        for ScannedRecord {
            warc_type,
            target_uri,
            payload_digest,
            warc_date,
            ..
        } in scan_warc(&corpus_dir().join("warc").join(name))
        {
            if !matches!(warc_type.as_str(), "response" | "resource" | "revisit") {
                continue;
            }
            let timestamp: String = warc_date
                .chars()
                .filter(char::is_ascii_digit)
                .take(14)
                .collect();
            out.push(Expected {
                timestamp,
                url: target_uri,
                digest: payload_digest.trim_start_matches("sha1:").to_owned(),
                revisit: warc_type == "revisit",
                filename: name.to_owned(),
            });
        }
    }
    out
}

/// Parses CDX 11 text lines into the comparable part.
fn parse_text(body: &str) -> Vec<Expected> {
    body.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 11, "CDX 11 line: {line}");
            Expected {
                timestamp: f[1].to_owned(),
                url: f[2].to_owned(),
                digest: f[5].to_owned(),
                revisit: f[3] == "warc/revisit",
                filename: f[10].to_owned(),
            }
        })
        .collect()
}

/// The URL without its scheme: SURT keys (and so CDX matches) ignore it.
fn no_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', ':', '?']).next().unwrap_or("")
}

fn sorted(mut v: Vec<Expected>) -> Vec<Expected> {
    v.sort();
    v
}

fn timestamps(v: &[Expected]) -> Vec<String> {
    v.iter().map(|e| e.timestamp.clone()).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// warcio's reading of a record file: [(record id, target uri, type)], and
/// the payload of the first record written to `payload_out`.
fn warcio_read(python: &Path, record: &Path, payload_out: &Path) -> Vec<(String, String, String)> {
    let script = r#"
import sys, json
from warcio.archiveiterator import ArchiveIterator
out = []
with open(sys.argv[1], 'rb') as f:
    for r in ArchiveIterator(f):
        payload = r.content_stream().read()
        if not out:
            open(sys.argv[2], 'wb').write(payload)
        out.append([r.rec_headers.get_header('WARC-Record-ID'),
                    r.rec_headers.get_header('WARC-Target-URI'), r.rec_type])
print(json.dumps(out))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(record)
        .arg(payload_out)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "warcio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("warcio json")
}

#[test]
fn cdx_api_and_records_over_http_with_pywb_and_warcio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index");
    let warcs: Vec<PathBuf> = WARCS
        .iter()
        .map(|name| corpus_dir().join("warc").join(name))
        .collect();
    let output = Command::new(provindex_bin())
        .arg("index")
        .args(&warcs)
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "cdx", "--workers", "2", "--built-at", "0"])
        .output()
        .expect("run provindex index");
    assert!(
        output.status.success(),
        "index failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let server = ServerProcess::start_with(&index, &["--http-listen", "127.0.0.1:0"]);
    let http = server.http_addr.clone().expect("http address");
    let all = expected_captures();

    // Exact URL: every capture of it, in time order, with pywb's fields.
    let home = "http://www.iana.org/";
    let (status, body) = cdx(&http, "url=http://www.iana.org/");
    assert_eq!(status, 200, "{body}");
    let want: Vec<Expected> = sorted(
        all.iter()
            .filter(|e| no_scheme(&e.url) == no_scheme(home))
            .cloned()
            .collect(),
    );
    assert!(!want.is_empty());
    assert_eq!(parse_text(&body), want);
    assert!(body.starts_with("org,iana)/ "), "SURT urlkey: {body}");

    // Domain: every host under iana.org (www included), ordered by urlkey.
    let (status, body) = cdx(&http, "url=iana.org&matchType=domain");
    assert_eq!(status, 200);
    let got = parse_text(&body);
    let want_domain = sorted(
        all.iter()
            .filter(|e| {
                let host = host_of(&e.url).to_ascii_lowercase();
                host == "iana.org" || host.ends_with(".iana.org")
            })
            .cloned()
            .collect(),
    );
    assert_eq!(sorted(got.clone()), want_domain);
    let keys: Vec<String> = body
        .lines()
        .map(|l| {
            let mut f = l.split(' ');
            format!("{} {}", f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys, keys_sorted, "urlkey, timestamp order");

    // Host and the `*` prefix shorthand agree with matchType=prefix.
    let (_, by_host) = cdx(&http, "url=www.iana.org&matchType=host");
    assert_eq!(sorted(parse_text(&by_host)), want_domain);
    let font = "http://www.iana.org/_css/2013.1/fonts/Inconsolata.otf";
    let prefix = "http://www.iana.org/_css/";
    let want_prefix = sorted(
        all.iter()
            .filter(|e| no_scheme(&e.url).starts_with(no_scheme(prefix)))
            .cloned()
            .collect(),
    );
    let (_, a) = cdx(&http, &format!("url={prefix}&matchType=prefix"));
    let (_, b) = cdx(&http, &format!("url={prefix}*"));
    assert_eq!(sorted(parse_text(&a)), want_prefix);
    assert_eq!(a, b);

    // from/to (inclusive, partial timestamps padded), limit, sort=reverse, closest.
    let want_font: Vec<Expected> = sorted(
        all.iter()
            .filter(|e| no_scheme(&e.url) == no_scheme(font))
            .cloned()
            .collect(),
    );
    assert!(want_font.len() >= 4, "{want_font:?}");
    let (lo, hi) = (
        &want_font[1].timestamp,
        &want_font[want_font.len() - 2].timestamp,
    );
    let (_, body) = cdx(&http, &format!("url={font}&from={lo}&to={hi}"));
    let want_range: Vec<Expected> = want_font
        .iter()
        .filter(|e| &e.timestamp >= lo && &e.timestamp <= hi)
        .cloned()
        .collect();
    assert_eq!(parse_text(&body), want_range);
    let (_, body) = cdx(&http, &format!("url={font}&from=2014&to=201401"));
    assert_eq!(parse_text(&body), want_font);
    let (status, _) = cdx(&http, &format!("url={font}&from=2015"));
    assert_eq!(status, 404);
    let (_, body) = cdx(&http, &format!("url={font}&limit=2"));
    assert_eq!(parse_text(&body), want_font[..2].to_vec());
    let (_, body) = cdx(&http, &format!("url={font}&sort=reverse&limit=3"));
    let newest: Vec<Expected> = want_font.iter().rev().take(3).cloned().collect();
    assert_eq!(timestamps(&parse_text(&body)), timestamps(&newest));
    let middle = &want_font[want_font.len() / 2];
    let (_, body) = cdx(
        &http,
        &format!(
            "url={font}&closest={}&sort=closest&limit=1",
            middle.timestamp
        ),
    );
    assert_eq!(
        timestamps(&parse_text(&body)),
        vec![middle.timestamp.clone()]
    );

    // Filters: exact, negated, contains and regex forms.
    let revisits = want_font.iter().filter(|e| e.revisit).count();
    let (_, body) = cdx(&http, &format!("url={font}&filter==mime:warc/revisit"));
    assert_eq!(parse_text(&body).len(), revisits);
    let (_, body) = cdx(&http, &format!("url={font}&filter=!=mime:warc/revisit"));
    assert_eq!(parse_text(&body).len(), want_font.len() - revisits);
    let (_, body) = cdx(
        &http,
        "url=iana.org&matchType=domain&filter=~url:fonts&filter=status:2..",
    );
    let fonts = want_domain
        .iter()
        .filter(|e| e.url.contains("fonts"))
        .count();
    assert_eq!(parse_text(&body).len(), fonts);

    // output=json (NDJSON) and cdxj carry the same captures, fl chooses fields.
    let (_, json) = cdx(&http, &format!("url={home}&output=json"));
    let (_, cdxj) = cdx(&http, &format!("url={home}&output=cdxj"));
    let json_rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(json_rows.len(), want.len());
    for ((row, line), exp) in json_rows.iter().zip(cdxj.lines()).zip(&want) {
        assert_eq!(row["timestamp"], exp.timestamp.as_str());
        assert_eq!(row["digest"], exp.digest.as_str());
        assert_eq!(row["filename"], exp.filename.as_str());
        assert_eq!(row["urlkey"], "org,iana)/");
        assert!(row["capture_id"].as_str().is_some_and(|s| s.len() == 32));
        assert!(row["optout"].is_string() && row["content_id"].is_string());
        let mut parts = line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("org,iana)/"));
        assert_eq!(parts.next(), Some(exp.timestamp.as_str()));
        let object: serde_json::Value = serde_json::from_str(parts.next().unwrap()).unwrap();
        assert_eq!(object["offset"], row["offset"]);
    }
    let (_, fl) = cdx(&http, &format!("url={home}&fl=timestamp,digest,filename"));
    let first = fl.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "{} {} {}",
            want[0].timestamp, want[0].digest, want[0].filename
        )
    );

    // /record: the bytes at the record's location, exactly.
    let row = &json_rows[0];
    let capture_id = row["capture_id"].as_str().unwrap();
    let (status, headers, record) = get(&http, &format!("/record/{capture_id}"));
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/warc")
    );
    let file = std::fs::read(corpus_dir().join("warc").join(&want[0].filename)).unwrap();
    let offset: usize = row["offset"].as_str().unwrap().parse().unwrap();
    let length: usize = row["length"].as_str().unwrap().parse().unwrap();
    assert_eq!(record, file[offset..offset + length]);

    // Errors: 400 naming the parameter, 404 for nothing there.
    for (query, name) in [
        ("url=iana.org&matchType=fuzzy", "matchType"),
        ("url=iana.org&from=2014-01", "from"),
        ("url=iana.org&to=20141399", "to"),
        ("url=iana.org&limit=10001", "limit"),
        ("url=iana.org&limit=ten", "limit"),
        ("url=iana.org&sort=random", "sort"),
        ("url=iana.org&output=xml", "output"),
        ("url=iana.org&fl=urlkey,nope", "fl"),
        ("url=iana.org&filter=status", "filter"),
        ("url=iana.org&filter=status:(", "filter"),
        ("matchType=exact", "url"),
    ] {
        let (status, body) = cdx(&http, query);
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.starts_with(&format!("{name}:")), "{query}: {body}");
    }
    let (status, _) = cdx(&http, "url=http://nothing.example/");
    assert_eq!(status, 404);
    let (status, body) = {
        let (s, _, b) = get(&http, "/record/not-an-id");
        (s, String::from_utf8_lossy(&b).into_owned())
    };
    assert_eq!(status, 400);
    assert!(body.starts_with("capture_id:"), "{body}");
    let (status, _, _) = get(&http, &format!("/record/{}", "0".repeat(32)));
    assert_eq!(status, 404);

    // warcio reads /record bytes: same record id and target URI as the WARC.
    let python = venv_python("pywb", &["pywb", "warcio"], "pywb, warcio");
    let scanned: Vec<ScannedRecord> = warcs.iter().flat_map(|w| scan_warc(w)).collect();
    let work = dir.path();
    // (url, timestamp): a response, a gov.uk page, and a revisit that pywb
    // resolves to its original by digest.
    let gov = all
        .iter()
        .find(|e| e.filename.starts_with("gov.uk") && !e.revisit && e.url.ends_with(".uk/"))
        .expect("a gov.uk home page")
        .clone();
    let font_revisit = want_font
        .iter()
        .find(|e| e.revisit)
        .expect("revisit")
        .clone();
    let font_original = want_font
        .iter()
        .find(|e| !e.revisit && e.digest == font_revisit.digest)
        .expect("original of the revisit")
        .clone();
    let mut payloads = Vec::new();
    for (i, capture) in [want[0].clone(), gov, font_original].iter().enumerate() {
        let (_, body) = cdx(
            &http,
            &format!(
                "url={}&from={ts}&to={ts}&output=json",
                capture.url,
                ts = capture.timestamp
            ),
        );
        let row: serde_json::Value =
            serde_json::from_str(body.lines().next().expect("a capture")).expect("json");
        let (status, _, bytes) = get(
            &http,
            &format!("/record/{}", row["capture_id"].as_str().unwrap()),
        );
        assert_eq!(status, 200);
        let record_file = work.join(format!("record-{i}.warc.gz"));
        let payload_file = work.join(format!("payload-{i}"));
        std::fs::write(&record_file, &bytes).unwrap();
        let read = warcio_read(&python, &record_file, &payload_file);
        assert_eq!(read.len(), 1, "{read:?}");
        let (record_id, uri, kind) = &read[0];
        assert_eq!(uri, &capture.url);
        assert_eq!(kind, "response");
        assert!(
            scanned
                .iter()
                .any(|s| &s.record_id == record_id && s.target_uri == capture.url),
            "record id {record_id} not in the WARC for {}",
            capture.url
        );
        payloads.push(std::fs::read(&payload_file).unwrap());
    }

    // pywb: a collection whose index is this server's /cdx and whose archive
    // is the WARC directory replays the captures unchanged.
    let wayback_port = free_port();
    let config = format!(
        "collections:\n  coll:\n    index: cdx+http://{http}/cdx\n    archive_paths: {}/\n",
        corpus_dir().join("warc").display()
    );
    std::fs::write(work.join("config.yaml"), config).unwrap();
    let wayback = Command::new(&python)
        .args([
            "-c",
            "import sys; from pywb.apps.cli import wayback; sys.exit(wayback())",
        ])
        .args(["-p", &wayback_port.to_string(), "-b", "127.0.0.1"])
        .current_dir(work)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wayback");
    let _wayback = Proc(wayback);
    let wb = format!("127.0.0.1:{wayback_port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while TcpStream::connect(&wb).is_err() {
        assert!(Instant::now() < deadline, "wayback did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let gov_url = all
        .iter()
        .find(|e| e.filename.starts_with("gov.uk") && !e.revisit && e.url.ends_with(".uk/"))
        .unwrap()
        .clone();
    for (capture, payload) in [&want[0], &gov_url, &font_revisit]
        .into_iter()
        .zip(&payloads)
    {
        let (status, _, body) = get(
            &wb,
            &format!("/coll/{}id_/{}", capture.timestamp, capture.url),
        );
        assert_eq!(
            status, 200,
            "pywb replay of {} {}",
            capture.timestamp, capture.url
        );
        assert!(!payload.is_empty());
        assert!(
            &body == payload,
            "pywb's replay of {} {} differs from the WARC payload ({} vs {} bytes)",
            capture.timestamp,
            capture.url,
            body.len(),
            payload.len()
        );
    }
}
