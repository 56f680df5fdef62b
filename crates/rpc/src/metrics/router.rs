//! Router metrics: each backend's calls by call kind and status code, and
//! their latency, recorded by [`MeteredBackend`] around the backend. A
//! backend's errors are its non-OK codes; UNAVAILABLE is a backend down (the
//! router then tries a replica).

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tonic::Status;

use super::{Labels, LatencyFamily, Metrics, code_name};
use crate::router::{Answer, Backend, Call};

/// `provindex_router_backend_requests_total{backend,call,code}` and
/// `provindex_router_backend_request_duration_seconds{backend}`.
#[derive(Clone)]
pub struct BackendMetrics {
    requests: Family<Labels, Counter>,
    latency: LatencyFamily,
}

impl BackendMetrics {
    /// Registers the router's families in `metrics` (once per process).
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            requests: metrics.counter_family(
                "provindex_router_backend_requests",
                "Calls of a router to its backends by backend, call and status code \
                 (UNAVAILABLE: backend down, a replica is tried)",
            ),
            latency: metrics.latency(
                "provindex_router_backend_request_duration_seconds",
                "Latency of a router's calls to a backend",
            ),
        }
    }

    /// `backend` with its calls counted and timed.
    pub fn wrap(&self, backend: Arc<dyn Backend>) -> Arc<dyn Backend> {
        Arc::new(MeteredBackend {
            inner: backend,
            families: self.clone(),
        })
    }
}

/// A backend whose calls are counted and timed ([`BackendMetrics::wrap`]).
pub struct MeteredBackend {
    inner: Arc<dyn Backend>,
    families: BackendMetrics,
}

fn call_name(call: &Call) -> &'static str {
    match call {
        Call::Url(_) => "LookupUrl",
        Call::Content(_) => "LookupContent",
        Call::Capture(_) => "GetCapture",
        Call::Work(_) => "FindWork",
        Call::OptOut(_) => "CheckOptOut",
        Call::Prove(_) => "ProveContent",
        Call::CaptureLink(_) => "GetCaptureLink",
        Call::Manifest => "GetSignedManifest",
        Call::Sample(_) => "DrawSample",
    }
}

#[tonic::async_trait]
impl Backend for MeteredBackend {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn call(&self, partition: u32, call: Call) -> Result<Answer, Status> {
        let kind = call_name(&call);
        let started = Instant::now();
        let answer = self.inner.call(partition, call).await;
        let code = answer
            .as_ref()
            .map_or_else(Status::code, |_| tonic::Code::Ok);
        let backend = self.inner.name().to_owned();
        self.families
            .latency
            .get_or_create(&vec![("backend", backend.clone())])
            .observe(started.elapsed().as_secs_f64());
        self.families
            .requests
            .get_or_create(&vec![
                ("backend", backend),
                ("call", kind.to_owned()),
                ("code", code_name(code).to_owned()),
            ])
            .inc();
        answer
    }
}
