//! Prometheus metrics of every role, with real processes on loopback (issue
//! 20): a coordinator and a worker build an index of three bundled crawl
//! files in 2 partitions; `serve` (with `--http-listen`) serves a
//! one-process build of the same files; two partition servers and a
//! `router` serve the partitioned build; a `registry-server` holds a
//! registry. Each runs with `--metrics-listen 127.0.0.1:0`; after known
//! calls its `/metrics` page (parsed below) must show exactly those calls,
//! the job's tasks, bytes and records, and the index's RocksDB figures.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, corpus_dir, provindex_bin, run_ok, scan_warc};
use provindex_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use provindex_proto::v1::provenance_service_client::ProvenanceServiceClient;
use provindex_proto::v1::{GetJobRequest, LookupUrlRequest};
use tonic::Code;
use tonic::transport::Channel;

const FILES: [&str; 3] = [
    "cc-main-2020-34-excerpt.warc.gz",
    "wget-2024-sample-0000.warc.gz",
    "wget-2024-sample-0001.warc.gz",
];

fn inputs() -> Vec<PathBuf> {
    FILES
        .iter()
        .map(|f| corpus_dir().join("warc").join(f))
        .collect()
}

/// Target URIs of the inputs' response records, in file order, deduplicated.
fn response_urls() -> Vec<String> {
    let mut urls = Vec::new();
    for file in inputs() {
        for record in scan_warc(&file) {
            if record.warc_type == "response" && !urls.contains(&record.target_uri) {
                urls.push(record.target_uri);
            }
        }
    }
    urls
}

// ---- the exposition ---------------------------------------------------------

/// One scrape: every sample by name and labels.
#[derive(Debug)]
struct Scrape {
    text: String,
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
}

impl Scrape {
    /// Parses OpenMetrics/Prometheus text: `name{k="v",...} value` lines,
    /// label values with `\\`, `\"` and `\n` escapes; `#` lines skipped.
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (name, labels, rest) = match line.find('{') {
                Some(open) => {
                    let name = &line[..open];
                    let (labels, consumed) = parse_labels(&line[open + 1..])
                        .unwrap_or_else(|e| panic!("bad labels in {line:?}: {e}"));
                    (name, labels, &line[open + 1 + consumed..])
                }
                None => {
                    let (name, rest) = line.split_once(' ').expect("a value");
                    (name, BTreeMap::new(), rest)
                }
            };
            let value = rest.split_whitespace().next().expect("a value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}")),
            };
            let previous = samples.insert((name.to_owned(), labels), value);
            assert!(previous.is_none(), "duplicate series {line:?}");
        }
        Self {
            text: text.to_owned(),
            samples,
        }
    }

    /// The sample with exactly these labels.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// The sample with exactly these labels, 0 when absent (a counter not
    /// yet incremented has no series).
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.get(name, labels).unwrap_or(0.0) as u64
    }

    /// The sum of every sample of `name` whose labels include these.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.samples
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| *v as u64)
            .sum()
    }

    /// Label values of `label` over the samples of `name`.
    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        self.samples
            .keys()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, l)| l.get(label).cloned())
            .collect()
    }
}

/// Parses `k="v",k2="v2"}` up to and including the `}`; returns the labels
/// and the bytes consumed.
fn parse_labels(text: &str) -> Result<(BTreeMap<String, String>, usize), String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.char_indices().peekable();
    loop {
        match chars.peek() {
            Some((i, '}')) => return Ok((labels, i + 1)),
            Some((_, ',')) => {
                chars.next();
                continue;
            }
            None => return Err("unterminated".into()),
            _ => {}
        }
        let mut key = String::new();
        for (_, c) in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("label {key}: no opening quote"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some((_, '"')) => break,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("dangling escape".into()),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("label {key}: unterminated value")),
            }
        }
        if labels.insert(key.clone(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
    }
}

#[test]
fn the_parser_reads_labels_escapes_and_unlabeled_samples() {
    let scrape = Scrape::parse(
        "# TYPE a counter\na_total{x=\"1\",y=\"q\\\"uo\\\\te\"} 3\nb 2.5\nc_bucket{le=\"+Inf\"} 4\n# EOF\n",
    );
    assert_eq!(
        scrape.get("a_total", &[("x", "1"), ("y", "q\"uo\\te")]),
        Some(3.0)
    );
    assert_eq!(scrape.get("a_total", &[("x", "1")]), None);
    assert_eq!(scrape.get("b", &[]), Some(2.5));
    assert_eq!(scrape.sum("c_bucket", &[("le", "+Inf")]), 4);
    assert_eq!(scrape.samples.len(), 3);
}

/// `GET /metrics` from `addr`, parsed.
fn scrape(addr: &str) -> Scrape {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    Scrape::parse(body)
}

// ---- processes ----------------------------------------------------------------

/// A `provindex` child process, killed on drop.
struct Process {
    child: Child,
    /// The addresses it announced, in order.
    announced: Vec<String>,
}

impl Process {
    /// Runs `provindex ARGS` and reads one stdout line per prefix in
    /// `announces` (in order), keeping what follows each prefix.
    fn start(args: &[&std::ffi::OsStr], announces: &[&str]) -> Self {
        let mut child = Command::new(provindex_bin())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start provindex");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut announced = Vec::new();
        for prefix in announces {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read");
            match line.trim().strip_prefix(prefix) {
                Some(rest) => announced.push(rest.to_owned()),
                None => {
                    let _ = child.kill();
                    panic!("{args:?}: expected {prefix:?}, got {line:?}");
                }
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self { child, announced }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

async fn provenance(url: &str) -> ProvenanceServiceClient<Channel> {
    let channel = Channel::from_shared(url.to_owned())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    ProvenanceServiceClient::new(channel)
}

/// Exact LookupUrl of each URL; the codes answered.
async fn lookup_all(client: &mut ProvenanceServiceClient<Channel>, urls: &[String]) -> Vec<Code> {
    let mut codes = Vec::new();
    for url in urls {
        let answer = client
            .lookup_url(LookupUrlRequest {
                url: url.clone(),
                page_size: 1,
                ..Default::default()
            })
            .await;
        codes.push(answer.map_or_else(|s| s.code(), |_| Code::Ok));
    }
    codes
}

/// A one-line HTTP/1.1 GET; the status code.
fn http_get(addr: &str, target: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to http");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"))
}

const LOOKUP_URL: &str = "provindex.v1.ProvenanceService/LookupUrl";
const GRPC_REQUESTS: &str = "provindex_grpc_requests_total";

// ---- the test -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_exposes_exact_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let urls = response_urls();
    assert!(urls.len() >= 8, "{urls:?}");

    // ---- coordinator and worker: a 2-partition build ----------------------
    let state = dir.path().join("state");
    let coordinator = Process::start(
        &[
            os("coordinator"),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--state"),
            state.as_os_str(),
            os("--metrics-listen"),
            os("127.0.0.1:0"),
        ],
        &["listening on ", "metrics on "],
    );
    let coordinator_url = format!("http://{}", coordinator.announced[0]);
    let coordinator_metrics = coordinator.announced[1].clone();
    let worker = Process::start(
        &[
            os("worker"),
            os("--coordinator"),
            os(&coordinator_url),
            os("--name"),
            os("w1"),
            os("--scratch"),
            dir.path().as_os_str(),
            os("--metrics-listen"),
            os("127.0.0.1:0"),
        ],
        &["metrics on "],
    );
    let worker_metrics = worker.announced[0].clone();
    let before = scrape(&worker_metrics);
    assert_eq!(
        before.sum("provindex_worker_tasks_total", &[]),
        0,
        "{}",
        before.text
    );

    let partitioned = dir.path().join("partitioned");
    let mut args: Vec<std::ffi::OsString> = vec!["index".into()];
    args.extend(inputs().into_iter().map(Into::into));
    for arg in [
        "--coordinator",
        &coordinator_url,
        "--job-id",
        "metrics-job",
        "--index-partitions",
        "2",
        "--built-at",
        "0",
        "--timeout",
        "300",
        "--out",
    ] {
        args.push(arg.into());
    }
    args.push(partitioned.clone().into());
    run_ok(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());

    let status = CoordinatorServiceClient::new(
        Channel::from_shared(coordinator_url.clone())
            .expect("uri")
            .connect()
            .await
            .expect("connect"),
    )
    .get_job(GetJobRequest {
        job_id: "metrics-job".into(),
    })
    .await
    .expect("GetJob")
    .into_inner();
    assert_eq!(status.state, "succeeded", "{status:?}");
    let task_total: u64 = status.stages.iter().map(|s| u64::from(s.tasks_total)).sum();
    let input_bytes: u64 = inputs()
        .iter()
        .map(|f| std::fs::metadata(f).expect("input").len())
        .sum();
    assert_eq!(status.input_bytes, input_bytes);

    let scraped = scrape(&coordinator_metrics);
    let c = |name: &str, labels: &[(&str, &str)]| scraped.count(name, labels);
    assert_eq!(
        c("provindex_coordinator_jobs", &[("state", "succeeded")]),
        1,
        "{}",
        scraped.text
    );
    assert_eq!(c("provindex_coordinator_jobs", &[("state", "running")]), 0);
    assert_eq!(c("provindex_coordinator_jobs", &[("state", "failed")]), 0);
    for stage in &status.stages {
        let labels = [("stage", stage.stage.as_str()), ("state", "done")];
        assert_eq!(
            c("provindex_coordinator_tasks", &labels),
            u64::from(stage.tasks_done),
            "{stage:?}\n{}",
            scraped.text
        );
        assert_eq!(stage.tasks_done, stage.tasks_total, "{stage:?}");
    }
    assert_eq!(scraped.sum("provindex_coordinator_tasks", &[]), task_total);
    assert_eq!(
        scraped.sum("provindex_coordinator_tasks", &[("state", "done")]),
        task_total
    );
    assert_eq!(c("provindex_coordinator_task_retries_total", &[]), 0);
    assert_eq!(c("provindex_coordinator_lease_expiries_total", &[]), 0);
    assert!(
        scraped
            .get("provindex_coordinator_lease_expiries_total", &[])
            .is_some()
    );
    let submit = [
        ("method", "provindex.v1.CoordinatorService/SubmitJob"),
        ("code", "OK"),
    ];
    assert_eq!(c(GRPC_REQUESTS, &submit), 1, "{}", scraped.text);
    let get_job = [
        ("method", "provindex.v1.CoordinatorService/GetJob"),
        ("code", "OK"),
    ];
    assert_eq!(c(GRPC_REQUESTS, &get_job), 1, "{}", scraped.text);
    // One CompleteTask per task: the worker reported each once.
    let complete = [
        ("method", "provindex.v1.CoordinatorService/CompleteTask"),
        ("code", "OK"),
    ];
    assert_eq!(c(GRPC_REQUESTS, &complete), task_total, "{}", scraped.text);

    // The worker counts a task once the coordinator took its result; the
    // job may be seen finished a moment before the last count.
    let deadline = Instant::now() + Duration::from_secs(30);
    let worker_scrape = loop {
        let s = scrape(&worker_metrics);
        if s.sum("provindex_worker_tasks_total", &[]) >= task_total || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for stage in &status.stages {
        assert_eq!(
            worker_scrape.count(
                "provindex_worker_tasks_total",
                &[("stage", stage.stage.as_str()), ("outcome", "completed")]
            ),
            u64::from(stage.tasks_done),
            "{stage:?}\n{}",
            worker_scrape.text
        );
    }
    assert_eq!(
        worker_scrape.sum("provindex_worker_tasks_total", &[]),
        task_total
    );
    assert_eq!(
        worker_scrape.count("provindex_worker_input_bytes_read_total", &[]),
        input_bytes,
        "{}",
        worker_scrape.text
    );
    assert!(status.records_done > 0);
    assert_eq!(
        worker_scrape.count("provindex_worker_records_read_total", &[]),
        status.records_done
    );
    drop(worker);
    drop(coordinator);

    // ---- serve: gRPC, HTTP and index figures -------------------------------
    let whole = dir.path().join("whole");
    let mut args: Vec<std::ffi::OsString> = vec!["index".into()];
    args.extend(inputs().into_iter().map(Into::into));
    for arg in ["--built-at", "0", "--out"] {
        args.push(arg.into());
    }
    args.push(whole.clone().into());
    run_ok(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let info: serde_json::Value = serde_json::from_slice(
        &run_ok(&[os("info"), whole.as_os_str(), os("--json"), os("--tables")]).stdout,
    )
    .expect("info JSON");

    let server = ServerProcess::start_with(
        &whole,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--block-cache-mb",
            "8",
        ],
    );
    let serve_metrics = server.metrics_addr.clone().expect("metrics address");
    let http = server.http_addr.clone().expect("http address");
    let before = scrape(&serve_metrics);
    let mut client = provenance(&server.url()).await;
    let codes = lookup_all(&mut client, &urls[..3]).await;
    assert_eq!(codes, [Code::Ok; 3]);
    let missing = lookup_all(&mut client, &["https://never.example/".to_owned()]).await;
    assert_eq!(missing, [Code::NotFound]);
    let cdx_url = format!("/cdx?url={}", urls[0]);
    let cdx = [http_get(&http, &cdx_url), http_get(&http, &cdx_url)];
    assert_eq!(cdx, [200, 200]);
    let record = http_get(&http, "/record/not-a-capture-id");
    assert!((400..500).contains(&record), "{record}");
    assert_eq!(http_get(&http, "/no/such/route"), 404);
    let after = scrape(&serve_metrics);

    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.count(name, labels) - before.count(name, labels)
    };
    assert_eq!(
        delta(GRPC_REQUESTS, &[("method", LOOKUP_URL), ("code", "OK")]),
        3,
        "{}",
        after.text
    );
    assert_eq!(
        delta(
            GRPC_REQUESTS,
            &[("method", LOOKUP_URL), ("code", "NOT_FOUND")]
        ),
        1
    );
    assert_eq!(
        delta(
            "provindex_grpc_request_duration_seconds_count",
            &[("method", LOOKUP_URL)]
        ),
        4
    );
    assert_eq!(
        delta(
            "provindex_grpc_request_duration_seconds_bucket",
            &[("method", LOOKUP_URL), ("le", "+Inf")]
        ),
        4
    );
    assert_eq!(
        delta(
            "provindex_http_requests_total",
            &[("route", "/cdx"), ("status", "200")]
        ),
        2,
        "{}",
        after.text
    );
    let record_status = record.to_string();
    assert_eq!(
        delta(
            "provindex_http_requests_total",
            &[
                ("route", "/record/{capture_id}"),
                ("status", &record_status)
            ]
        ),
        1
    );
    assert_eq!(
        delta(
            "provindex_http_requests_total",
            &[("route", "other"), ("status", "404")]
        ),
        1
    );
    assert_eq!(after.sum("provindex_http_requests_total", &[]), 4);
    assert_eq!(
        delta(
            "provindex_http_request_duration_seconds_count",
            &[("route", "/cdx")]
        ),
        2
    );

    let partition = [("partition", "0")];
    let manifest = |field: &str| {
        info[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{field}: {info}"))
    };
    assert_eq!(
        after.count("provindex_index_captures", &partition),
        manifest("captures")
    );
    assert_eq!(
        after.count("provindex_index_contents", &partition),
        manifest("contents")
    );
    assert_eq!(
        after.count("provindex_index_urls", &partition),
        manifest("urls")
    );
    assert_eq!(
        after.count("provindex_index_block_cache_capacity_bytes", &partition),
        8 << 20
    );
    // The lookups read blocks through the cache.
    let usage = after.count("provindex_index_block_cache_usage_bytes", &partition);
    assert!(usage > 0 && usage <= 8 << 20, "{usage}");
    let tables = info["tables"].as_array().expect("tables");
    assert!(!tables.is_empty());
    for table in tables {
        let name = table["table"].as_str().expect("table name");
        assert_eq!(
            after.count(
                "provindex_index_sst_bytes",
                &[("partition", "0"), ("table", name)]
            ),
            table["sst_bytes"].as_u64().expect("sst_bytes"),
            "{name}\n{}",
            after.text
        );
    }
    drop(client);
    drop(server);

    // ---- router over two partition servers --------------------------------
    let p0 = ServerProcess::start_with(
        &partitioned,
        &["--partitions", "0", "--metrics-listen", "127.0.0.1:0"],
    );
    let p1 = ServerProcess::start_with(&partitioned, &["--partitions", "1"]);
    let p0_metrics = scrape(p0.metrics_addr.as_deref().expect("metrics address"));
    assert_eq!(
        p0_metrics.label_values("provindex_index_captures", "partition"),
        ["0"]
    );
    assert!(p0_metrics.count("provindex_index_captures", &[("partition", "0")]) > 0);

    let router = Process::start(
        &[
            os("router"),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--backend"),
            os(&p0.url()),
            os("--backend"),
            os(&p1.url()),
            os("--metrics-listen"),
            os("127.0.0.1:0"),
        ],
        &["listening on ", "metrics on "],
    );
    let router_metrics = router.announced[1].clone();
    let mut routed = provenance(&format!("http://{}", router.announced[0])).await;
    let queried = &urls[..8];
    let codes = lookup_all(&mut routed, queried).await;
    assert_eq!(codes, [Code::Ok; 8]);
    let scraped = scrape(&router_metrics);
    assert_eq!(
        scraped.count(GRPC_REQUESTS, &[("method", LOOKUP_URL), ("code", "OK")]),
        8,
        "{}",
        scraped.text
    );
    // An exact URL lookup is one call to the partition holding the URL.
    let backend_ok = |s: &Scrape, backend: &str| {
        s.count(
            "provindex_router_backend_requests_total",
            &[("backend", backend), ("call", "LookupUrl"), ("code", "OK")],
        )
    };
    let (p0_url, p1_url) = (p0.url(), p1.url());
    let (ok0, ok1) = (backend_ok(&scraped, &p0_url), backend_ok(&scraped, &p1_url));
    assert_eq!(ok0 + ok1, 8, "{}", scraped.text);
    assert_eq!(
        scraped.sum(
            "provindex_router_backend_request_duration_seconds_count",
            &[]
        ),
        8
    );

    // Partition 0's server down: its URLs answer UNAVAILABLE, counted
    // against that backend; the others still answer.
    p0.kill9();
    let codes = lookup_all(&mut routed, queried).await;
    let unavailable = codes.iter().filter(|c| **c == Code::Unavailable).count() as u64;
    assert_eq!(unavailable, ok0, "{codes:?}");
    assert_eq!(codes.len() as u64 - unavailable, ok1, "{codes:?}");
    let scraped = scrape(&router_metrics);
    assert_eq!(
        scraped.count(
            "provindex_router_backend_requests_total",
            &[
                ("backend", &p0_url),
                ("call", "LookupUrl"),
                ("code", "UNAVAILABLE")
            ]
        ),
        unavailable,
        "{}",
        scraped.text
    );
    assert_eq!(backend_ok(&scraped, &p1_url), 2 * ok1);
    assert_eq!(
        scraped.count(
            GRPC_REQUESTS,
            &[("method", LOOKUP_URL), ("code", "UNAVAILABLE")]
        ),
        unavailable
    );
    drop(routed);
    drop(router);
    drop(p1);

    // ---- registry-server ----------------------------------------------------
    let registry = Process::start(
        &[
            os("registry-server"),
            os("--index"),
            whole.as_os_str(),
            os("--registry"),
            dir.path().join("registry").as_os_str(),
            os("--create"),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--metrics-listen"),
            os("127.0.0.1:0"),
        ],
        &["listening on ", "metrics on "],
    );
    let channel = Channel::from_shared(format!("http://{}", registry.announced[0]))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for _ in 0..2 {
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect("health");
    }
    let scraped = scrape(&registry.announced[1]);
    assert_eq!(
        scraped.count(
            GRPC_REQUESTS,
            &[("method", "grpc.health.v1.Health/Check"), ("code", "OK")]
        ),
        2,
        "{}",
        scraped.text
    );
}
