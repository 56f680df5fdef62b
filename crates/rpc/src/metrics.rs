//! Prometheus metrics: request counts by gRPC method and status code and
//! latency histograms by method, recorded by [`Metered`] around each gRPC
//! service and served as text by [`serve_metrics`] on a separate listener.
//!
//! The status code is read from the response headers (tonic sends errors of
//! unary calls as trailers-only responses); a response without one counts as
//! OK. Latency runs until the response headers: the whole call for unary
//! methods, the stream's start for streaming ones.
//!
//! The method label is one of the methods the server defines (read from the
//! services' descriptor sets) or [`OTHER_METHOD`]: labels taken from request
//! paths as sent would let any client create series without bound.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

/// The method label of every call to a method the server does not define.
pub const OTHER_METHOD: &str = "other";

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct State {
    requests: BTreeMap<(String, &'static str), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Shared metric state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    state: Arc<Mutex<State>>,
    /// `package.Service/Method` of every method that gets its own label.
    known: Arc<BTreeSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Labels the methods of every service `crate::serve` runs: provindex's,
    /// health and both reflection versions.
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
        Self {
            state: Arc::default(),
            known: Arc::new(sets.iter().flat_map(|set| methods_of(set)).collect()),
        }
    }

    /// Records one finished request.
    pub fn record(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        let method = self.known.get(method).map_or(OTHER_METHOD, String::as_str);
        let seconds = elapsed.as_secs_f64();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state
            .requests
            .entry((method.to_owned(), code_name(code)))
            .or_default() += 1;
        let histogram = state.latency.entry(method.to_owned()).or_default();
        histogram.count += 1;
        histogram.sum += seconds;
        for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP provindex_grpc_requests_total gRPC requests by method and status code.\n",
        );
        out.push_str("# TYPE provindex_grpc_requests_total counter\n");
        for ((method, code), n) in &state.requests {
            let _ = writeln!(
                out,
                "provindex_grpc_requests_total{{method=\"{method}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP provindex_grpc_request_duration_seconds gRPC request latency by method (until response headers).\n");
        out.push_str("# TYPE provindex_grpc_request_duration_seconds histogram\n");
        for (method, h) in &state.latency {
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "provindex_grpc_request_duration_seconds_bucket{{method=\"{method}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "provindex_grpc_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "provindex_grpc_request_duration_seconds_sum{{method=\"{method}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "provindex_grpc_request_duration_seconds_count{{method=\"{method}\"}} {}",
                h.count
            );
        }
        out
    }
}

/// The parts of `google.protobuf.FileDescriptorSet` that name methods
/// (prost skips the other fields).
mod descriptor {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct FileSet {
        #[prost(message, repeated, tag = "1")]
        pub file: Vec<File>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct File {
        #[prost(string, optional, tag = "2")]
        pub package: Option<String>,
        #[prost(message, repeated, tag = "6")]
        pub service: Vec<Service>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Service {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(message, repeated, tag = "2")]
        pub method: Vec<Method>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Method {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
    }
}

/// `package.Service/Method` of every method in an encoded `FileDescriptorSet`
/// (none if it does not decode).
fn methods_of(set: &[u8]) -> Vec<String> {
    let Ok(set) = <descriptor::FileSet as prost::Message>::decode(set) else {
        tracing::warn!("undecodable descriptor set: its methods are labeled {OTHER_METHOD}");
        return Vec::new();
    };
    let mut methods = Vec::new();
    for file in set.file {
        let package = file.package.unwrap_or_default();
        for service in file.service {
            let service_name = service.name.unwrap_or_default();
            let full = if package.is_empty() {
                service_name
            } else {
                format!("{package}.{service_name}")
            };
            for method in service.method {
                methods.push(format!("{full}/{}", method.name.unwrap_or_default()));
            }
        }
    }
    methods
}

/// `SCREAMING_CASE` name of a gRPC code, as in the gRPC spec.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A gRPC service wrapped so that every call is counted and timed.
#[derive(Clone)]
pub struct Metered<S> {
    inner: S,
    metrics: Option<Metrics>,
}

impl<S> Metered<S> {
    /// Wraps `inner`; with `None` calls pass through unrecorded.
    pub fn new(inner: S, metrics: Option<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<S: NamedService> NamedService for Metered<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<Body>> for Metered<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Send,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let Some(metrics) = self.metrics.clone() else {
            return Box::pin(self.inner.call(request));
        };
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from_i32),
                Err(_) => tonic::Code::Internal,
            };
            metrics.record(&method, code, started.elapsed());
            result
        })
    }
}

/// Serves `GET /metrics` (Prometheus text) on `listener` until the task is dropped.
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
            let (status, body) =
                if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?")) {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "not found; try /metrics\n".to_owned())
                };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
    fn only_defined_methods_get_their_own_label() {
        let metrics = Metrics::new();
        for method in [
            "provindex.v1.ProvenanceService/LookupUrl",
            "provindex.v1.OptOutService/RegisterOptOut",
            "grpc.health.v1.Health/Check",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(metrics.known.contains(method), "{method}");
        }
        for i in 0..100 {
            let bogus = format!("provindex.v1.ProvenanceService/Bogus{i}");
            metrics.record(&bogus, tonic::Code::Unimplemented, Duration::ZERO);
        }
        metrics.record(
            "provindex.v1.ProvenanceService/LookupUrl",
            tonic::Code::Ok,
            Duration::ZERO,
        );
        let text = metrics.render();
        assert!(!text.contains("Bogus"), "{text}");
        assert!(text.contains(
            "provindex_grpc_requests_total{method=\"other\",code=\"UNIMPLEMENTED\"} 100"
        ));
        assert!(text.contains(
            "provindex_grpc_requests_total{method=\"provindex.v1.ProvenanceService/LookupUrl\",code=\"OK\"} 1"
        ));
    }
}
