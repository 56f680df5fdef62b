//! Prometheus metrics of every role, on `prometheus-client` (the Prometheus
//! org's Rust client): one [`Metrics`] registry per process, its families
//! registered here by role, served as OpenMetrics text by [`serve_metrics`]
//! on a listener of its own (`--metrics-listen`).
//!
//! - every gRPC server (serve, router, registry-server, coordinator):
//!   [`Metered`] counts calls by method and status code and times them;
//! - serve: [`HttpMetrics`] for `--http-listen` routes, [`watch_index`]
//!   for the index's size and RocksDB block cache;
//! - router: [`BackendMetrics`] around each backend;
//! - coordinator: [`watch_coordinator`] (job and task state at scrape time);
//! - worker: [`MeteredSource`] (tasks, bytes and records read).
//!
//! What is state elsewhere (RocksDB properties, the coordinator's jobs) is
//! read when scraped ([`Reading`]), not copied into gauges on every change.

mod coordinator;
mod grpc;
mod http;
mod index;
mod router;
mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub use coordinator::watch_coordinator;
pub use grpc::{Metered, OTHER_METHOD, code_name};
pub use http::HttpMetrics;
pub use index::watch_index;
pub use router::{BackendMetrics, MeteredBackend};
pub use worker::MeteredSource;

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Label pairs of one series, in exposition order.
pub type Labels = Vec<(&'static str, String)>;

/// A latency histogram family ([`LATENCY_BUCKETS`]).
pub type LatencyFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_family() -> LatencyFamily {
    Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS))
}

/// The process's metric registry; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    grpc: grpc::GrpcMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Labels the methods of every service the servers run: provindex's
    /// (the coordinator's too), health and both reflection versions.
    pub fn new() -> Self {
        Self::with_descriptor_sets(&[
            provindex_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ])
    }

    /// Labels the methods of the services in these encoded
    /// `FileDescriptorSet`s; every other method counts as [`OTHER_METHOD`].
    pub fn with_descriptor_sets(sets: &[&[u8]]) -> Self {
        let mut registry = Registry::default();
        let grpc = grpc::GrpcMetrics::register(&mut registry, sets);
        Self {
            registry: Arc::new(Mutex::new(registry)),
            grpc,
        }
    }

    /// Registers a family (a role's, at start).
    fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.lock().register(name, help, metric);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A counter family (`NAME_total` in the exposition).
    fn counter_family(&self, name: &str, help: &str) -> Family<Labels, Counter> {
        let family = Family::<Labels, Counter>::default();
        self.register(name, help, family.clone());
        family
    }

    fn latency(&self, name: &str, help: &str) -> LatencyFamily {
        let family = latency_family();
        self.register(name, help, family.clone());
        family
    }

    /// Reads `read` on every scrape: gauges and counters kept elsewhere.
    pub fn watch(&self, read: impl Fn() -> Vec<Reading> + Send + Sync + 'static) {
        self.lock()
            .register_collector(Box::new(ReadingCollector(Box::new(read))));
    }

    /// Records one finished gRPC call.
    pub fn record(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        self.grpc.record(method, code, elapsed);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String fails only if a collector fails, which ours
        // never do; the text up to then is still served.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.lock()) {
            tracing::warn!(%error, "encoding metrics");
        }
        out
    }
}

/// Whether a [`Reading`] is a gauge or a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// One metric read at scrape time: its series and their values.
#[derive(Debug, Clone)]
pub struct Reading {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub series: Vec<(Labels, u64)>,
}

impl Reading {
    pub fn gauge(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            kind: Kind::Gauge,
            series: Vec::new(),
        }
    }

    pub fn counter(name: &'static str, help: &'static str) -> Self {
        Self {
            kind: Kind::Counter,
            ..Self::gauge(name, help)
        }
    }

    /// Adds a series.
    pub fn with(mut self, labels: Labels, value: u64) -> Self {
        self.series.push((labels, value));
        self
    }
}

struct ReadingCollector(Box<dyn Fn() -> Vec<Reading> + Send + Sync>);

impl std::fmt::Debug for ReadingCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadingCollector")
    }
}

impl Collector for ReadingCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType;
        for reading in (self.0)() {
            let help = format!("{}.", reading.help);
            let kind = match reading.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
            };
            let mut metric = encoder.encode_descriptor(reading.name, &help, None, kind)?;
            match reading.series.as_slice() {
                // Without labels: `name 3`, not `name{} 3`.
                [(labels, value)] if labels.is_empty() => {
                    encode_value(reading.kind, *value, metric)?
                }
                series => {
                    for (labels, value) in series {
                        encode_value(reading.kind, *value, metric.encode_family(labels)?)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn encode_value(
    kind: Kind,
    value: u64,
    into: prometheus_client::encoding::MetricEncoder<'_>,
) -> Result<(), std::fmt::Error> {
    match kind {
        Kind::Gauge => ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(into),
        Kind::Counter => ConstCounter::new(value).encode(into),
    }
}

/// The exposition's content type (OpenMetrics 1.0, which Prometheus scrapes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` on `listener` until the task is dropped: a small
/// HTTP/1.1 responder (one request per connection), so no role needs an
/// HTTP server for it.
pub async fn serve_metrics(listener: TcpListener, metrics: Metrics) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut request = Vec::with_capacity(1024);
            let mut buf = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 << 10 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let line = request.split(|b| *b == b'\n').next().unwrap_or_default();
            let line = String::from_utf8_lossy(line);
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (status, content_type, body) =
                if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?")) {
                    ("200 OK", CONTENT_TYPE, metrics.render())
                } else {
                    (
                        "404 Not Found",
                        "text/plain; charset=utf-8",
                        "not found; try /metrics\n".to_owned(),
                    )
                };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_encoded_with_their_labels_at_scrape_time() {
        let metrics = Metrics::new();
        let value = Arc::new(std::sync::atomic::AtomicU64::new(7));
        let read = Arc::clone(&value);
        metrics.watch(move || {
            let v = read.load(std::sync::atomic::Ordering::Relaxed);
            vec![
                Reading::gauge("provindex_test_gauge", "A test gauge")
                    .with(vec![("table", "a".into())], v),
                Reading::counter("provindex_test_events", "A test counter").with(Vec::new(), v * 2),
            ]
        });
        value.store(9, std::sync::atomic::Ordering::Relaxed);
        let text = metrics.render();
        assert!(
            text.contains("provindex_test_gauge{table=\"a\"} 9\n"),
            "{text}"
        );
        assert!(text.contains("provindex_test_events_total 18\n"), "{text}");
        assert!(
            text.contains("# TYPE provindex_test_events counter\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
