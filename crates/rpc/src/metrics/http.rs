//! HTTP metrics of `serve --http-listen` (`/cdx`, `/record/{capture_id}`,
//! the web page): requests by route and status, latency by route. The
//! route label is the route's template as the HTTP adapter declares it, so
//! the label set is bounded whatever paths clients send.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::{Labels, LatencyFamily, Metrics};

/// `provindex_http_requests_total{route,status}` and
/// `provindex_http_request_duration_seconds{route}`.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<Labels, Counter>,
    latency: LatencyFamily,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

impl HttpMetrics {
    /// Registers the HTTP families in `metrics` (once per process).
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            requests: metrics.counter_family(
                "provindex_http_requests",
                "HTTP requests by route template and status code",
            ),
            latency: metrics.latency(
                "provindex_http_request_duration_seconds",
                "HTTP request latency by route template (until response headers)",
            ),
        }
    }

    /// Records one answered request to `route` (a route template).
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&vec![("route", route.to_owned())])
            .observe(elapsed.as_secs_f64());
    }
}
