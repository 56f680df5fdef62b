//! Regression tests of issue 14, items 2 and 9, with real processes: an export
//! to a destination that cannot be written fails at once with the field named
//! (it used to spin a core until the request timed out), a URL whose query
//! ends in `*` is found by an exact lookup, and a capture indexed from a
//! relative path is read back by a server running in another directory.

mod common;

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, corpus_dir, provindex_bin, with_token};
use provindex_proto::v1::provenance_service_client::ProvenanceServiceClient;
use provindex_proto::v1::report_service_client::ReportServiceClient;
use provindex_proto::v1::{
    ExportTrainingManifestRequest, GetCaptureRequest, LookupUrlRequest, UrlMatch,
};

const ADMIN: &str = "admin-token-0123456789";
/// MediaWiki's ResourceLoader URLs end their query with a bare `*`.
const STAR_URL: &str =
    "https://en.wikipedia.org/w/load.php?lang=en&modules=startup&only=scripts&skin=vector&*";

/// A real Common Crawl response record re-addressed to `STAR_URL`, as a
/// plain WARC in `dir` (header lines only change; the block is untouched).
fn write_star_warc(dir: &Path) -> &'static str {
    let mut gz = flate2::read::MultiGzDecoder::new(
        std::fs::File::open(corpus_dir().join("warc/cc-single-response.warc.gz"))
            .expect("open sample"),
    );
    let mut bytes = Vec::new();
    gz.read_to_end(&mut bytes).expect("inflate sample");
    let from = b"WARC-Target-URI: http://commoncrawl.org/\r\n";
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the sample names its target URI");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(format!("WARC-Target-URI: {STAR_URL}\r\n").as_bytes());
    out.extend_from_slice(&bytes[at + from.len()..]);
    std::fs::write(dir.join("load.warc"), out).expect("write WARC");
    "load.warc"
}

/// Runs `provindex ARGS` in `cwd`, failing the test after `limit`.
fn run_bounded(args: &[&OsStr], cwd: &Path, limit: Duration) -> (bool, String) {
    let mut child = Command::new(provindex_bin())
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start provindex");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("provindex {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (status.success(), stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn unwritable_exports_fail_fast_and_star_urls_and_relative_inputs_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let crawl_dir = dir.path().join("crawl");
    std::fs::create_dir(&crawl_dir).expect("mkdir");
    let relative_input = write_star_warc(&crawl_dir);

    // Indexed from a relative path, in the crawl's folder.
    let (ok, stderr) = run_bounded(
        &[
            OsStr::new("index"),
            OsStr::new(relative_input),
            OsStr::new("--out"),
            OsStr::new("../index"),
        ],
        &crawl_dir,
        Duration::from_secs(120),
    );
    assert!(ok, "index: {stderr}");
    let index = dir.path().join("index");

    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"tokens": {{"{ADMIN}": {{"role": "admin", "name": "ops"}}}}}}"#),
    )
    .expect("auth file");
    // The server runs from the test's own folder, not the crawl's.
    let server = ServerProcess::start_with(&index, &[OsStr::new("--auth"), auth.as_os_str()]);
    let channel = server.channel().await;
    let mut reads = ProvenanceServiceClient::new(channel.clone());

    // Item 9: the exact URL, `*` included, is found; the location is absolute.
    let found = reads
        .lookup_url(LookupUrlRequest {
            url: STAR_URL.into(),
            r#match: UrlMatch::Exact as i32,
            ..Default::default()
        })
        .await
        .expect("exact lookup of a URL ending in *")
        .into_inner();
    assert_eq!(found.captures.len(), 1, "{found:?}");
    let capture = &found.captures[0];
    assert_eq!(capture.url, STAR_URL);
    let location = capture.location.as_ref().expect("location");
    let expected = crawl_dir
        .canonicalize()
        .expect("canonical")
        .join(relative_input);
    assert_eq!(Path::new(&location.uri), expected, "{location:?}");

    // Without the `*` it is another URL: not indexed.
    let without_star = reads
        .lookup_url(LookupUrlRequest {
            url: STAR_URL.trim_end_matches("&*").into(),
            r#match: UrlMatch::Exact as i32,
            ..Default::default()
        })
        .await;
    assert_eq!(
        without_star.expect_err("not indexed").code(),
        tonic::Code::NotFound
    );

    // The record is read back although the server runs elsewhere.
    let record = reads
        .get_capture(GetCaptureRequest {
            capture_id: capture.capture_id.clone(),
            include_record: true,
        })
        .await
        .expect("GetCapture with the record")
        .into_inner();
    assert!(
        record.record.starts_with(b"WARC/1.0\r\n"),
        "{:?}",
        String::from_utf8_lossy(&record.record[..record.record.len().min(64)])
    );
    let wanted = format!("WARC-Target-URI: {STAR_URL}\r\n");
    assert!(
        record
            .record
            .windows(wanted.len())
            .any(|w| w == wanted.as_bytes()),
        "the record read back is the indexed one"
    );

    // Item 2: unwritable destinations are refused with the field named,
    // before the client's deadline (the server's own timeout is 30 s).
    let mut reports = ReportServiceClient::new(channel);
    for output_uri in [
        "/proc/self/nope.jsonl",
        "/proc/self/deeper/nope.jsonl",
        "file:///proc/self/nope.jsonl",
    ] {
        let mut request = with_token(
            ExportTrainingManifestRequest {
                output_uri: output_uri.into(),
                at: None,
            },
            ADMIN,
        );
        request.set_timeout(Duration::from_secs(20));
        let status = reports
            .export_training_manifest(request)
            .await
            .expect_err("an unwritable destination must fail");
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{output_uri}: {status:?}"
        );
        assert!(
            status.message().contains("output_uri")
                && status.message().contains("cannot be written"),
            "{output_uri}: {status:?}"
        );
    }
    // A writable destination still works on the same server.
    let good = dir.path().join("exports/manifest.jsonl");
    let summary = reports
        .export_training_manifest(with_token(
            ExportTrainingManifestRequest {
                output_uri: good.display().to_string(),
                at: None,
            },
            ADMIN,
        ))
        .await
        .expect("export to a writable path")
        .into_inner();
    let manifest = std::fs::read_to_string(&good).expect("manifest written");
    assert_eq!(manifest.lines().count() as u64, summary.kept, "{summary:?}");
    assert_eq!(summary.kept, 1, "the one page is kept: {summary:?}");
    let leftovers: Vec<_> = std::fs::read_dir(good.parent().expect("folder"))
        .expect("list exports")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "scratch files left: {leftovers:?}");

    // The CLI refuses the same destination, naming its flag.
    let (ok, stderr) = run_bounded(
        &[
            OsStr::new("export"),
            index.as_os_str(),
            OsStr::new("--out"),
            OsStr::new("/proc/self/nope.jsonl"),
        ],
        dir.path(),
        Duration::from_secs(60),
    );
    assert!(!ok, "export to /proc/self must fail");
    assert!(
        stderr.contains("--out") && stderr.contains("cannot be written"),
        "{stderr}"
    );
}
