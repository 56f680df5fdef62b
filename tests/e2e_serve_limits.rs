//! End to end, with real processes (issue 14): what a client can make a
//! running `provindex serve` hold is bounded — metric series for made-up
//! methods, idle and half-open connections, the number of connections, and
//! error messages that would echo a megabyte of input.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::venv::venv_python;
use common::{ServerProcess, provindex_bin};
use provindex_proto::v1::{
    BatchLookupRequest, CheckOptOutRequest, LookupUrlRequest, batch_lookup_request::Lookup,
    batch_lookup_response::Result as ItemResult, check_opt_out_request::Target,
    provenance_service_client::ProvenanceServiceClient,
};
use tonic::codegen::{Service, http};
use tonic::transport::Channel;

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: with the preface, a complete client handshake.
const EMPTY_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
/// Every wait on the server is bounded by this (generous: debug builds, 2 cores).
const BOUND: Duration = Duration::from_secs(30);

/// A plaintext channel to `server` whose waits are bounded.
async fn bounded_channel(server: &ServerProcess) -> Channel {
    Channel::from_shared(server.url())
        .expect("uri")
        .connect_timeout(Duration::from_secs(10))
        .timeout(BOUND)
        .connect()
        .await
        .expect("connect")
}

/// An index of the small sample crawl excerpt.
fn sample_index(dir: &Path) -> PathBuf {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/sample/cc-main-2020-34-excerpt.warc.gz");
    let index = dir.join("index");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(&sample)
        .arg("--out")
        .arg(&index)
        .args(["--workers", "1", "--built-at", "0"])
        .output()
        .expect("run provindex index");
    assert!(output.status.success(), "index failed: {output:?}");
    index
}

/// A gRPC call with an empty body to any `path`, as a client may send it;
/// returns the grpc-status.
async fn raw_call(channel: &Channel, path: &str) -> Option<i32> {
    let mut channel = channel.clone();
    let request = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::empty())
        .expect("request");
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .expect("ready");
    let response = channel.call(request).await.expect("call");
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Sample lines of a Prometheus text page (no comments).
fn series(page: &str) -> Vec<&str> {
    page.split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_label_only_the_methods_the_server_defines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = sample_index(dir.path());
    let server = ServerProcess::start_with(&index, &["--metrics-listen", "127.0.0.1:0"]);
    let channel = bounded_channel(&server).await;
    let mut client = ProvenanceServiceClient::new(channel.clone());
    client
        .lookup_url(LookupUrlRequest {
            url: "http://example.com/".into(),
            ..Default::default()
        })
        .await
        .expect_err("example.com is not in the sample");

    // Made-up methods of served services (these reach the metered services)
    // and of a made-up service (answered by the router).
    let paths = |round: std::ops::Range<usize>| {
        round.flat_map(|i| {
            [
                format!("/provindex.v1.ProvenanceService/Bogus{i}"),
                format!("/grpc.health.v1.Health/Bogus{i}"),
                format!("/bogus.v1.Service{i}/Bogus"),
            ]
        })
    };
    for path in paths(0..50) {
        assert_eq!(raw_call(&channel, &path).await, Some(12), "{path}");
    }
    let before = server.metrics_page();
    for path in paths(50..1550) {
        assert_eq!(raw_call(&channel, &path).await, Some(12), "{path}");
    }
    let after = server.metrics_page();

    assert!(!after.contains("Bogus"), "a made-up method got a label");
    assert_eq!(
        series(&before).len(),
        series(&after).len(),
        "the number of series grew with calls to made-up methods"
    );
    assert!(
        after.contains(
            "provindex_grpc_requests_total{method=\"other\",code=\"UNIMPLEMENTED\"} 3100\n"
        ),
        "{after}"
    );
    assert!(after.contains(
        "provindex_grpc_requests_total{method=\"provindex.v1.ProvenanceService/LookupUrl\",code=\"NOT_FOUND\"} 1\n"
    ));
    // Bounded by the defined methods: 4 services, 17 codes, 19 histogram lines.
    assert!(series(&after).len() < 1000, "{}", series(&after).len());
}

/// Raw connections to `addr`: `silent` sending nothing, `preface` sending only
/// the HTTP/2 preface, `handshake` a complete client handshake and then nothing.
fn open_raw(addr: &str, silent: usize, preface: usize, handshake: usize) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for i in 0..silent + preface + handshake {
        let mut stream = TcpStream::connect(addr).expect("connect");
        // A failed write means the server closed the connection: seen below.
        if i >= silent {
            let _ = stream.write_all(PREFACE);
        }
        if i >= silent + preface {
            let _ = stream.write_all(EMPTY_SETTINGS);
        }
        stream.set_nonblocking(true).expect("nonblocking");
        streams.push(stream);
    }
    streams
}

/// Whether the server has closed `stream` (EOF or reset); what it sent before
/// (its SETTINGS) is read and dropped.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

/// Waits (at most [`BOUND`]) until the server has closed every stream;
/// returns how many it left open.
fn wait_closed(streams: &mut [TcpStream]) -> usize {
    let deadline = Instant::now() + BOUND;
    let mut open: Vec<&mut TcpStream> = streams.iter_mut().collect();
    while !open.is_empty() && Instant::now() < deadline {
        open.retain_mut(|s| !closed_by_server(s));
        std::thread::sleep(Duration::from_millis(100));
    }
    open.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_open_connections_are_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = sample_index(dir.path());
    let server = ServerProcess::start_with(
        &index,
        &[
            "--handshake-timeout-secs",
            "1",
            "--idle-timeout-secs",
            "2",
            "--max-connections",
            "1000",
        ],
    );

    // A stream held open longer than the idle timeout keeps its connection.
    let channel = bounded_channel(&server).await;
    let mut client = ProvenanceServiceClient::new(channel);
    let (send, receive) = tokio::sync::mpsc::channel(4);
    let mut answers = client
        .batch_lookup(tokio_stream::wrappers::ReceiverStream::new(receive))
        .await
        .expect("batch lookup")
        .into_inner();

    let addr = server.addr.clone();
    let mut raw = tokio::task::spawn_blocking(move || open_raw(&addr, 100, 100, 100))
        .await
        .expect("open");
    let left = tokio::task::spawn_blocking(move || wait_closed(&mut raw))
        .await
        .expect("wait");
    assert_eq!(left, 0, "connections still open after {BOUND:?}");

    // Well past the idle timeout, the open stream still answers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    send.send(BatchLookupRequest {
        id: "late".into(),
        lookup: Some(Lookup::Url(LookupUrlRequest {
            url: "http://example.com/".into(),
            ..Default::default()
        })),
    })
    .await
    .expect("send");
    let answer = tokio::time::timeout(BOUND, answers.message())
        .await
        .expect("answer in time")
        .expect("stream alive")
        .expect("an answer");
    assert_eq!(answer.id, "late");
    assert!(matches!(answer.result, Some(ItemResult::Error(_))));
    drop(send);

    // And a new client is served.
    let mut client = ProvenanceServiceClient::new(bounded_channel(&server).await);
    let status = client
        .lookup_url(LookupUrlRequest {
            url: "http://example.com/".into(),
            ..Default::default()
        })
        .await
        .expect_err("example.com is not in the sample");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = sample_index(dir.path());
    // Timeouts far beyond the test: only the limit closes connections here.
    let server = ServerProcess::start_with(
        &index,
        &[
            "--max-connections",
            "16",
            "--handshake-timeout-secs",
            "600",
            "--idle-timeout-secs",
            "600",
        ],
    );
    let addr = server.addr.clone();
    let (mut held, left) = tokio::task::spawn_blocking(move || {
        // Connected one after the other, the first 16 take the slots.
        let held = open_raw(&addr, 16, 0, 0);
        let mut beyond = open_raw(&addr, 100, 100, 0);
        (held, wait_closed(&mut beyond))
    })
    .await
    .expect("open");
    assert_eq!(
        left, 0,
        "connections beyond the limit still open after {BOUND:?}"
    );
    for stream in &mut held {
        assert!(
            !closed_by_server(stream),
            "a connection within the limit was closed"
        );
    }

    // Closing them frees the slots: a real client is served again.
    drop(held);
    let deadline = Instant::now() + BOUND;
    let status = loop {
        let attempt = async {
            let channel = Channel::from_shared(format!("http://{}", server.addr))
                .expect("uri")
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            let reply = ProvenanceServiceClient::new(channel)
                .lookup_url(LookupUrlRequest {
                    url: "http://example.com/".into(),
                    ..Default::default()
                })
                .await;
            Ok::<_, String>(reply)
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(Err(status))) if status.code() == tonic::Code::NotFound => break status,
            other => {
                assert!(Instant::now() < deadline, "not served again: {other:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(status.message().contains("example.com"), "{status:?}");
}

/// A status for a failure message, whatever the length of its message.
fn brief(status: &tonic::Status) -> String {
    let message: String = status.message().chars().take(300).collect();
    format!(
        "{:?}, {}-byte message {message:?}",
        status.code(),
        status.message().len()
    )
}

/// LookupUrl through grpcio (request encoded by hand: field 1, the URL):
/// prints `CODE MESSAGE_LENGTH`.
const GRPCIO_LOOKUP: &str = r#"
import sys, grpc
url = ("http://example.com/" + "a" * int(sys.argv[2])).encode()
def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])
request = b"\x0a" + varint(len(url)) + url
call = grpc.insecure_channel(sys.argv[1]).unary_unary("/provindex.v1.ProvenanceService/LookupUrl")
try:
    call(request, timeout=30)
    print("OK 0")
except grpc.RpcError as error:
    print(error.code().name, len(error.details() or ""))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_do_not_echo_huge_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = sample_index(dir.path());
    let server = ServerProcess::start(&index);
    let client = ProvenanceServiceClient::new(bounded_channel(&server).await);

    let lookup = |url: String| {
        let mut client = client.clone();
        async move {
            client
                .lookup_url(LookupUrlRequest {
                    url,
                    ..Default::default()
                })
                .await
                .expect_err("not in the sample")
        }
    };
    let check = |url: String| {
        let mut client = client.clone();
        async move {
            client
                .check_opt_out(CheckOptOutRequest {
                    target: Some(Target::Url(url)),
                })
                .await
                .expect_err("not in the sample")
        }
    };
    for (base, what) in [
        ("http://example.com/", "unindexed URL"),
        ("http://exa mple.com/", "unparseable URL"),
    ] {
        let short_lookup = lookup(format!("{base}a")).await;
        let short_check = check(format!("{base}a")).await;
        for n in [20_000, 1 << 20] {
            let url = format!("{base}{}", "a".repeat(n));
            for (status, short) in [
                (lookup(url.clone()).await, &short_lookup),
                (check(url.clone()).await, &short_check),
            ] {
                // The real status, as for the short URL, with a short message.
                assert_eq!(
                    status.code(),
                    short.code(),
                    "{what}, {n} bytes: {}",
                    brief(&status)
                );
                assert!(
                    status.message().len() <= 2048,
                    "{what}, {n} bytes: a {}-byte message",
                    status.message().len()
                );
                assert!(
                    status.message().contains(" bytes)"),
                    "{what}: {}",
                    brief(&status)
                );
            }
        }
    }

    // grpc-core clients (grpcio) refuse large metadata with RESOURCE_EXHAUSTED,
    // hiding the real status: they see it now.
    let python = venv_python("grpcio", &["grpcio"], "grpc");
    let addr = server.addr.clone();
    for n in [1, 20_000, 1 << 20] {
        let out = Command::new(&python)
            .args(["-c", GRPCIO_LOOKUP, &addr, &n.to_string()])
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let (code, length) = text.trim().split_once(' ').expect("CODE LENGTH");
        assert_eq!(code, "NOT_FOUND", "grpcio, {n}-byte path: {text}");
        let length: usize = length.parse().expect("length");
        assert!(
            length <= 2048,
            "grpcio, {n}-byte path: {length}-byte details"
        );
    }
}
