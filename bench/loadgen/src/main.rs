//! Closed-loop load generator for the query-service benchmark
//! (`bench/query/run.sh`, docs/BENCHMARKS.md "Query service").
//!
//! `C` workers each keep exactly one request in flight (fixed concurrency),
//! for a warm-up period (not recorded) and then a measured period. Every
//! request's latency (send → full response) is kept; the percentiles are read
//! off the sorted list. One JSON line per run on stdout.
//!
//! - `grpc`: `LookupUrl` (exact match) or `LookupContent` (by `content_id`)
//!   against `provindex serve`, over `--connections` HTTP/2 connections.
//!   For `LookupContent` the ids are first resolved from the URL list with
//!   untimed `LookupUrl` calls.
//! - `http`: `GET <prefix><percent-encoded url>` over keep-alive HTTP/1.1
//!   connections (one per worker), e.g. pywb's CDX server API.
//! - `check`: for the first N URLs, the capture count from both systems.
//!
//! Requests walk the URL file in order (worker w takes the next index of a
//! shared counter), so a run is deterministic up to interleaving.

// The generator shares the cores with the server it measures: a cheaper
// allocator leaves more of them to the server (as provindex itself does).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use provindex_proto::v1::provenance_service_client::ProvenanceServiceClient;
use provindex_proto::v1::{
    LookupContentRequest, LookupUrlRequest, UrlMatch, lookup_content_request,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

#[derive(Parser)]
#[command(name = "provindex-loadgen", about = "Query-service load generator")]
struct Cli {
    /// Client-side diagnostic: set TCP_QUICKACK on the client's sockets after
    /// every read, so the client acknowledges at once instead of delaying
    /// its ACK (up to 40 ms on Linux). This hides a server that writes a
    /// response in several segments without TCP_NODELAY (Nagle waits for
    /// that ACK). Off by default: a default client sees the stall.
    #[arg(long, global = true)]
    quickack: bool,
    /// Runtime worker threads of the load generator itself (1 = a
    /// current-thread runtime: the generator uses at most one core).
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// gRPC lookups against `provindex serve`.
    Grpc {
        /// Server address, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        addr: String,
        #[arg(long, value_enum)]
        rpc: Rpc,
        /// HTTP/2 connections; worker w uses connection w mod N.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// LookupContent: how many URLs to resolve to content ids first.
        #[arg(long, default_value_t = 20_000)]
        content_sample: usize,
        #[command(flatten)]
        load: Load,
    },
    /// HTTP/1.1 GETs, e.g. pywb's CDX server: GET <prefix><encoded url>.
    Http {
        /// host:port
        #[arg(long)]
        addr: String,
        /// Path and query before the URL, e.g. "/coll/cdx?url=".
        #[arg(long)]
        prefix: String,
        #[command(flatten)]
        load: Load,
    },
    /// Capture counts for the first N URLs from both systems (sequential).
    Check {
        #[arg(long)]
        grpc: String,
        #[arg(long)]
        http: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        urls: String,
        #[arg(long, default_value_t = 500)]
        n: usize,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Rpc {
    Url,
    Content,
}

#[derive(Args, Clone)]
struct Load {
    /// File of URLs, one a line (the request sequence).
    #[arg(long)]
    urls: String,
    /// Requests in flight (workers).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of warm-up (not recorded).
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Open loop: send this many requests per second in all (worker w sends
    /// its k-th request at (k·concurrency + w) / rate seconds), whatever the
    /// answers' speed, so latency is measured at a fixed offered load. A
    /// worker still waits for its previous answer; the time a request was
    /// sent after its due time is reported as `send_lag` (when it grows, the
    /// server or the generator is not keeping up). 0: closed loop.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Label copied into the output line.
    #[arg(long, default_value = "")]
    label: String,
}

static QUICKACK: AtomicBool = AtomicBool::new(false);

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    QUICKACK.store(cli.quickack, Ordering::Relaxed);
    let rt = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(cli.threads);
        b
    }
    .enable_all()
    .build()?;
    rt.block_on(async move {
        match cli.command {
            Cmd::Grpc {
                addr,
                rpc,
                connections,
                content_sample,
                load,
            } => run_grpc(&addr, rpc, connections, content_sample, &load).await,
            Cmd::Http { addr, prefix, load } => run_http(&addr, &prefix, &load).await,
            Cmd::Check {
                grpc,
                http,
                prefix,
                urls,
                n,
            } => run_check(&grpc, &http, &prefix, &urls, n).await,
        }
    })
}

fn read_lines(path: &str) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let v: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if v.is_empty() {
        bail!("{path}: no lines");
    }
    Ok(v)
}

/// Per-worker tallies.
#[derive(Default)]
struct Tally {
    lat_ns: Vec<u64>,
    /// Open loop: how late each recorded request was sent.
    lag_ns: Vec<u64>,
    errors: u64,
    empty: u64,
    first_error: Option<String>,
}

/// Shared run state: the request counter and the phase flags.
struct Phase {
    next: AtomicUsize,
    recording: AtomicBool,
    stop: AtomicBool,
}

/// Runs `concurrency` workers through warm-up and measurement; `one(i)` sends
/// request i and returns Ok(found) or an error message.
async fn drive<W, F, Fut>(load: &Load, make_worker: W) -> anyhow::Result<(Vec<Tally>, f64)>
where
    W: Fn(usize) -> F,
    F: FnMut(usize) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<bool, String>> + Send,
{
    let phase = Arc::new(Phase {
        next: AtomicUsize::new(0),
        recording: AtomicBool::new(load.warmup <= 0.0),
        stop: AtomicBool::new(false),
    });
    let mut handles = Vec::new();
    let origin = tokio::time::Instant::now();
    let (rate, workers) = (load.rate, load.concurrency);
    for w in 0..load.concurrency {
        let mut one = make_worker(w);
        let phase = phase.clone();
        handles.push(tokio::spawn(async move {
            let mut t = Tally::default();
            t.lat_ns.reserve(1 << 16);
            let mut sent = 0u64;
            while !phase.stop.load(Ordering::Relaxed) {
                let mut lag_ns = 0;
                if rate > 0.0 {
                    let slot = sent * workers as u64 + w as u64;
                    sent += 1;
                    let due = origin + Duration::from_secs_f64(slot as f64 / rate);
                    tokio::time::sleep_until(due).await;
                    lag_ns = due.elapsed().as_nanos() as u64;
                    if phase.stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                let i = phase.next.fetch_add(1, Ordering::Relaxed);
                let rec = phase.recording.load(Ordering::Relaxed);
                let start = Instant::now();
                let r = one(i).await;
                let ns = start.elapsed().as_nanos() as u64;
                // A request that started in warm-up is not counted.
                if !rec || phase.stop.load(Ordering::Relaxed) {
                    continue;
                }
                match r {
                    Ok(found) => {
                        t.lat_ns.push(ns);
                        if rate > 0.0 {
                            t.lag_ns.push(lag_ns);
                        }
                        if !found {
                            t.empty += 1;
                        }
                    }
                    Err(e) => {
                        t.errors += 1;
                        t.first_error.get_or_insert(e);
                    }
                }
            }
            t
        }));
    }
    if load.warmup > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(load.warmup)).await;
        phase.recording.store(true, Ordering::Relaxed);
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(load.duration)).await;
    phase.stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let mut tallies = Vec::new();
    for h in handles {
        tallies.push(h.await?);
    }
    Ok((tallies, elapsed))
}

fn report(
    target: &str,
    op: &str,
    load: &Load,
    extra: serde_json::Value,
    tallies: Vec<Tally>,
    elapsed: f64,
) {
    let mut lat: Vec<u64> = Vec::new();
    let mut lag: Vec<u64> = Vec::new();
    let (mut errors, mut empty) = (0u64, 0u64);
    let mut first_error = None;
    for t in tallies {
        lat.extend_from_slice(&t.lat_ns);
        lag.extend_from_slice(&t.lag_ns);
        errors += t.errors;
        empty += t.empty;
        if first_error.is_none() {
            first_error = t.first_error;
        }
    }
    lat.sort_unstable();
    lag.sort_unstable();
    let n = lat.len();
    // Nearest-rank percentile, in microseconds.
    let percentile = |sorted: &[u64], q: f64| -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[k] as f64 / 1e3
    };
    let pct = |q: f64| percentile(&lat, q);
    let mean = if n == 0 {
        f64::NAN
    } else {
        lat.iter().map(|&x| x as f64).sum::<f64>() / n as f64 / 1e3
    };
    let mut out = serde_json::json!({
        "target": target,
        "op": op,
        "label": load.label,
        "concurrency": load.concurrency,
        "warmup_s": load.warmup,
        "elapsed_s": elapsed,
        "requests": n,
        "errors": errors,
        "empty": empty,
        "throughput": n as f64 / elapsed,
        "p50_us": pct(0.50),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "max_us": if n == 0 { f64::NAN } else { lat[n - 1] as f64 / 1e3 },
        "mean_us": mean,
        "first_error": first_error,
        "rate": load.rate,
        "send_lag_p50_us": percentile(&lag, 0.50),
        "send_lag_p99_us": percentile(&lag, 0.99),
        "quickack": QUICKACK.load(Ordering::Relaxed),
    });
    if let (Some(o), serde_json::Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    println!("{out}");
}

/// A TCP stream that re-arms TCP_QUICKACK after every read (Linux clears it).
struct QuickAck(TcpStream);

/// Sets TCP_QUICKACK when --quickack is on (else a no-op).
fn quickack(s: &TcpStream) {
    if QUICKACK.load(Ordering::Relaxed) {
        let _ = socket2::SockRef::from(s).set_tcp_quickack(true);
    }
}

impl tokio::io::AsyncRead for QuickAck {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.0).poll_read(cx, buf);
        if r.is_ready() {
            quickack(&self.0);
        }
        r
    }
}

impl tokio::io::AsyncWrite for QuickAck {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

async fn connect(addr: &str) -> anyhow::Result<Channel> {
    let ep = Endpoint::from_shared(addr.to_string())?.tcp_nodelay(true);
    let ch = if QUICKACK.load(Ordering::Relaxed) {
        let hostport = addr
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        ep.connect_with_connector(tower::service_fn(move |_uri| {
            let hostport = hostport.clone();
            async move {
                let s = TcpStream::connect(&hostport).await?;
                s.set_nodelay(true)?;
                quickack(&s);
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(QuickAck(s)))
            }
        }))
        .await
    } else {
        ep.connect().await
    };
    ch.with_context(|| format!("connecting to {addr}"))
}

fn url_request(url: &str, page_size: u32) -> LookupUrlRequest {
    LookupUrlRequest {
        url: url.to_string(),
        r#match: UrlMatch::Exact as i32,
        page_size,
        ..Default::default()
    }
}

/// content_id of the first capture of each of the first `n` URLs.
async fn resolve_content_ids(
    ch: Channel,
    urls: &[String],
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let urls: Arc<Vec<String>> = Arc::new(urls.iter().take(n).cloned().collect());
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..16 {
        let (urls, next) = (urls.clone(), next.clone());
        let mut c = ProvenanceServiceClient::new(ch.clone());
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(u) = urls.get(i) else { break };
                let r = c.lookup_url(url_request(u, 1)).await?.into_inner();
                if let Some(cap) = r.captures.first()
                    && !cap.content_id.is_empty()
                {
                    got.push((i, cap.content_id.clone()));
                }
            }
            Ok::<_, tonic::Status>(got)
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await??);
    }
    all.sort();
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

async fn run_grpc(
    addr: &str,
    rpc: Rpc,
    connections: usize,
    content_sample: usize,
    load: &Load,
) -> anyhow::Result<()> {
    let urls = Arc::new(read_lines(&load.urls)?);
    let mut chans = Vec::new();
    for _ in 0..connections.max(1) {
        chans.push(connect(addr).await?);
    }
    let keys: Arc<Vec<String>> = match rpc {
        Rpc::Url => urls.clone(),
        Rpc::Content => {
            let ids = resolve_content_ids(chans[0].clone(), &urls, content_sample).await?;
            if ids.is_empty() {
                bail!("no content ids resolved from {}", load.urls);
            }
            Arc::new(ids)
        }
    };
    let n_keys = keys.len();
    let (tallies, elapsed) = drive(load, |w| {
        let client = ProvenanceServiceClient::new(chans[w % chans.len()].clone());
        let keys = keys.clone();
        move |i: usize| {
            let mut client = client.clone();
            let key = keys[i % keys.len()].clone();
            async move {
                match rpc {
                    Rpc::Url => client
                        .lookup_url(url_request(&key, 0))
                        .await
                        .map(|r| !r.into_inner().captures.is_empty())
                        .map_err(|s| format!("{:?}: {}", s.code(), s.message())),
                    Rpc::Content => client
                        .lookup_content(LookupContentRequest {
                            key: Some(lookup_content_request::Key::ContentId(key)),
                            ..Default::default()
                        })
                        .await
                        .map(|r| !r.into_inner().captures.is_empty())
                        .map_err(|s| format!("{:?}: {}", s.code(), s.message())),
                }
            }
        }
    })
    .await?;
    let op = match rpc {
        Rpc::Url => "LookupUrl",
        Rpc::Content => "LookupContent",
    };
    report(
        "provindex",
        op,
        load,
        serde_json::json!({"connections": chans.len(), "keys": n_keys}),
        tallies,
        elapsed,
    );
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A keep-alive HTTP/1.1 connection (Content-Length, chunked, or
/// read-to-close bodies).
struct HttpConn {
    addr: String,
    io: Option<BufReader<QuickAck>>,
    line: String,
}

impl HttpConn {
    fn new(addr: &str) -> Self {
        HttpConn {
            addr: addr.to_string(),
            io: None,
            line: String::new(),
        }
    }

    /// GET path; returns (status, body). One retry on a fresh connection when
    /// a reused one turns out closed.
    async fn get(&mut self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let reused = self.io.is_some();
        match self.try_get(path).await {
            Ok(r) => Ok(r),
            Err(_) if reused => {
                self.io = None;
                self.try_get(path).await
            }
            Err(e) => Err(e),
        }
    }

    async fn try_get(&mut self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        if self.io.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.io = Some(BufReader::with_capacity(64 * 1024, QuickAck(s)));
        }
        let r = self.exchange(path).await;
        if r.is_err() {
            self.io = None;
        }
        r
    }

    async fn exchange(&mut self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let io = self.io.as_mut().context("no connection")?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: provindex-loadgen\r\nAccept: */*\r\n\r\n",
            self.addr
        );
        io.get_mut().write_all(req.as_bytes()).await?;
        self.line.clear();
        if io.read_line(&mut self.line).await? == 0 {
            bail!("connection closed");
        }
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {:?}", self.line))?;
        let http10 = self.line.starts_with("HTTP/1.0");
        let (mut len, mut chunked, mut close) = (None, false, http10);
        loop {
            self.line.clear();
            if io.read_line(&mut self.line).await? == 0 {
                bail!("connection closed in headers");
            }
            let h = self.line.trim_end();
            if h.is_empty() {
                break;
            }
            let Some((k, v)) = h.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            match k.as_str() {
                "content-length" => len = Some(v.parse::<usize>()?),
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" => {
                    close = v.contains("close") || (http10 && !v.contains("keep-alive"))
                }
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                self.line.clear();
                io.read_line(&mut self.line).await?;
                let size_hex = self.line.trim().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size_hex, 16)
                    .with_context(|| format!("bad chunk size {:?}", self.line))?;
                if size == 0 {
                    // trailers up to the empty line
                    loop {
                        self.line.clear();
                        if io.read_line(&mut self.line).await? == 0 || self.line.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                io.read_exact(&mut body[start..]).await?;
                let mut crlf = [0u8; 2];
                io.read_exact(&mut crlf).await?;
            }
        } else if let Some(n) = len {
            body.resize(n, 0);
            io.read_exact(&mut body).await?;
        } else {
            io.read_to_end(&mut body).await?;
            close = true;
        }
        if close {
            self.io = None;
        }
        Ok((status, body))
    }
}

/// Captures in a CDX(J) answer: its non-empty lines.
fn cdx_lines(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count()
}

async fn run_http(addr: &str, prefix: &str, load: &Load) -> anyhow::Result<()> {
    let paths: Arc<Vec<String>> = Arc::new(
        read_lines(&load.urls)?
            .iter()
            .map(|u| format!("{prefix}{}", encode_component(u)))
            .collect(),
    );
    let n_keys = paths.len();
    let (tallies, elapsed) = drive(load, |_w| {
        let conn = Arc::new(tokio::sync::Mutex::new(HttpConn::new(addr)));
        let paths = paths.clone();
        move |i: usize| {
            let conn = conn.clone();
            let paths = paths.clone();
            async move {
                let mut c = conn.lock().await;
                match c.get(&paths[i % paths.len()]).await {
                    Ok((200, body)) => Ok(cdx_lines(&body) > 0),
                    Ok((404, _)) => Ok(false),
                    Ok((s, body)) => Err(format!(
                        "HTTP {s}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    )),
                    Err(e) => Err(format!("{e:#}")),
                }
            }
        }
    })
    .await?;
    report(
        "pywb",
        "cdx url lookup",
        load,
        serde_json::json!({"connections": load.concurrency, "keys": n_keys}),
        tallies,
        elapsed,
    );
    Ok(())
}

async fn run_check(
    grpc: &str,
    http: &str,
    prefix: &str,
    urls: &str,
    n: usize,
) -> anyhow::Result<()> {
    let urls = read_lines(urls)?;
    let mut client = ProvenanceServiceClient::new(connect(grpc).await?);
    let mut conn = HttpConn::new(http);
    let (mut checked, mut g_found, mut h_found, mut equal) = (0usize, 0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    for u in urls.iter().take(n) {
        let g = client
            .lookup_url(url_request(u, 1000))
            .await
            .map_err(|s| anyhow::anyhow!("{u}: {:?} {}", s.code(), s.message()))?
            .into_inner()
            .captures
            .len();
        let (status, body) = conn
            .get(&format!("{prefix}{}", encode_component(u)))
            .await?;
        let h = if status == 200 { cdx_lines(&body) } else { 0 };
        checked += 1;
        g_found += usize::from(g > 0);
        h_found += usize::from(h > 0);
        if g == h {
            equal += 1;
        } else if mismatches.len() < 5 {
            mismatches.push(
                serde_json::json!({"url": u, "provindex": g, "pywb": h, "pywb_status": status}),
            );
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "checked": checked,
            "provindex_found": g_found,
            "pywb_found": h_found,
            "same_capture_count": equal,
            "mismatches": mismatches,
        })
    );
    Ok(())
}
