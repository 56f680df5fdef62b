//! gRPC metrics of every server: request counts by method and status code
//! and latency histograms by method, recorded by [`Metered`] around each
//! gRPC service.
//!
//! The status code is read from the response headers (tonic sends errors of
//! unary calls as trailers-only responses); a response without one counts as
//! OK. Latency runs until the response headers: the whole call for unary
//! methods, the stream's start for streaming ones.
//!
//! The method label is one of the methods the server defines (read from the
//! services' descriptor sets) or [`OTHER_METHOD`]: labels taken from request
//! paths as sent would let any client create series without bound.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

use super::{Labels, LatencyFamily, Metrics};

/// The method label of every call to a method the server does not define.
pub const OTHER_METHOD: &str = "other";

/// `provindex_grpc_requests_total{method,code}` and
/// `provindex_grpc_request_duration_seconds{method}`.
#[derive(Clone)]
pub(super) struct GrpcMetrics {
    requests: Family<Labels, Counter>,
    latency: LatencyFamily,
    /// `package.Service/Method` of every method that gets its own label.
    known: Arc<BTreeSet<String>>,
}

impl GrpcMetrics {
    pub(super) fn register(registry: &mut Registry, sets: &[&[u8]]) -> Self {
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "provindex_grpc_requests",
            "gRPC requests by method and status code",
            requests.clone(),
        );
        let latency = super::latency_family();
        registry.register(
            "provindex_grpc_request_duration_seconds",
            "gRPC request latency by method (until response headers)",
            latency.clone(),
        );
        Self {
            requests,
            latency,
            known: Arc::new(sets.iter().flat_map(|set| methods_of(set)).collect()),
        }
    }

    pub(super) fn record(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        let method = self.known.get(method).map_or(OTHER_METHOD, String::as_str);
        self.requests
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("code", code_name(code).to_owned()),
            ])
            .inc();
        self.latency
            .get_or_create(&vec![("method", method.to_owned())])
            .observe(elapsed.as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
            assert!(metrics.grpc.known.contains(method), "{method}");
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
