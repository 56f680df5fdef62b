//! HTTP adapter: pywb's CDX server API (`GET /cdx`), the original WARC
//! record of a capture (`GET /record/{capture_id}`) and the rightholder web
//! page (`GET /`, [`page`]), served by `provindex serve --http-listen` from
//! the same [`IndexReader`] (and opt-out registry) as the gRPC services, and
//! by `provindex router --http-listen` over partitions ([`router_routes`]).
//!
//! Like the gRPC adapters, it only translates: `/cdx` pages through
//! LookupUrl and `/record` is GetCapture with `include_record`, both of a
//! [`CaptureLookups`]; the page's search is FindWork with each match's and
//! source URL's CheckOptOut, of a [`WorkLookups`]. Both are the served
//! index's [`provindex_rpc::ProvenanceApi`] or a router's, so a router
//! answers them as one server over the whole index does. The page's
//! sign-in, opt-out and complaint forms need the opt-out registry: on a
//! router they answer 404 naming the server to use (`provindex serve
//! --registry`), as `serve` without `--registry` answers that it has none.

mod cdx;
pub mod page;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use provindex_index::IndexReader;
use provindex_proto::v1::provenance_service_server::ProvenanceService;
use provindex_proto::v1::{
    CheckOptOutRequest, CheckOptOutResponse, FindWorkRequest, FindWorkResponse, GetCaptureRequest,
    LookupUrlRequest, LookupUrlResponse,
};
use provindex_rpc::ApiError;
use provindex_rpc::metrics::HttpMetrics;
use tonic::{Code, Request, Status};

pub use cdx::{CdxQuery, MAX_LIMIT};
pub use page::Backends;

/// The two ProvenanceService calls `/cdx` and `/record` translate to.
#[tonic::async_trait]
pub trait CaptureLookups: Send + Sync + 'static {
    async fn lookup_url(&self, request: LookupUrlRequest) -> Result<LookupUrlResponse, Status>;
    /// The capture's original record bytes (GetCapture `include_record`).
    async fn original_record(&self, capture_id: String) -> Result<Vec<u8>, Status>;
}

#[tonic::async_trait]
impl<T: ProvenanceService> CaptureLookups for T {
    async fn lookup_url(&self, request: LookupUrlRequest) -> Result<LookupUrlResponse, Status> {
        ProvenanceService::lookup_url(self, Request::new(request))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn original_record(&self, capture_id: String) -> Result<Vec<u8>, Status> {
        let request = GetCaptureRequest {
            capture_id,
            include_record: true,
        };
        ProvenanceService::get_capture(self, Request::new(request))
            .await
            .map(|response| response.into_inner().record)
    }
}

/// The two ProvenanceService calls the web page's search translates to:
/// FindWork, and CheckOptOut for each match and source URL it shows.
#[tonic::async_trait]
pub trait WorkLookups: Send + Sync + 'static {
    async fn find_work(&self, request: FindWorkRequest) -> Result<FindWorkResponse, Status>;
    async fn check_opt_out(
        &self,
        request: CheckOptOutRequest,
    ) -> Result<CheckOptOutResponse, Status>;
}

#[tonic::async_trait]
impl<T: ProvenanceService> WorkLookups for T {
    async fn find_work(&self, request: FindWorkRequest) -> Result<FindWorkResponse, Status> {
        ProvenanceService::find_work(self, Request::new(request))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn check_opt_out(
        &self,
        request: CheckOptOutRequest,
    ) -> Result<CheckOptOutResponse, Status> {
        ProvenanceService::check_opt_out(self, Request::new(request))
            .await
            .map(tonic::Response::into_inner)
    }
}

#[derive(Clone)]
struct AppState {
    lookups: Arc<dyn CaptureLookups>,
}

/// The HTTP routes over `index`, with the web page's opt-out pages over
/// `backends` (fails when the index's sketch spec cannot sign work texts).
pub fn router(index: Arc<IndexReader>, backends: Backends) -> Result<Router, String> {
    let (web, api) = page::WebState::new(index, backends)?;
    Ok(capture_routes(api).merge(page::routes(web)))
}

/// What a router serves over HTTP: `/cdx` and `/record` of [`capture_routes`]
/// and the web page's search over `lookups` (its ProvenanceService); the
/// page's sign-in, opt-out and complaint forms answer that they are served
/// by the server holding the opt-out registry (fails only when the page's
/// CSRF key cannot be drawn).
pub fn router_routes<T: CaptureLookups + WorkLookups>(lookups: Arc<T>) -> Result<Router, String> {
    let web = page::WebState::searching(Arc::clone(&lookups) as Arc<dyn WorkLookups>)?;
    Ok(capture_routes(lookups).merge(page::routes(web)))
}

/// `/cdx` and `/record/{capture_id}` over `lookups` (the routes a router
/// serves).
pub fn capture_routes(lookups: Arc<dyn CaptureLookups>) -> Router {
    Router::new()
        .route("/cdx", get(cdx_handler))
        .route("/record/{capture_id}", get(record_handler))
        .with_state(AppState { lookups })
        .fallback(unrouted)
}

/// Marks the answer of a path no route serves (metrics label it `other`).
#[derive(Clone, Copy)]
struct Unrouted;

async fn unrouted() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, axum::Extension(Unrouted))
}

/// `router` with every request counted and timed by route template (the
/// routes are static but for `/record/{capture_id}`; a path no route serves
/// is `other`, so clients cannot create series).
pub fn metered(router: Router, metrics: HttpMetrics) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let metrics = metrics.clone();
            async move {
                let path = request.uri().path().to_owned();
                let started = std::time::Instant::now();
                let response = next.run(request).await;
                let route = if response.extensions().get::<Unrouted>().is_some() {
                    "other"
                } else if path.starts_with("/record/") {
                    "/record/{capture_id}"
                } else {
                    path.as_str()
                };
                metrics.record(route, response.status().as_u16(), started.elapsed());
                response
            }
        },
    ))
}

/// Serves [`router`] on `listener` until `shutdown` completes, recording
/// requests in `metrics` when given ([`metered`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    index: Arc<IndexReader>,
    backends: Backends,
    metrics: Option<HttpMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let routes = router(index, backends).map_err(std::io::Error::other)?;
    serve_routes(listener, routes, metrics, shutdown).await
}

/// Serves `routes` (e.g. [`capture_routes`]) on `listener` until `shutdown`
/// completes, metered when `metrics` is given.
pub async fn serve_routes(
    listener: tokio::net::TcpListener,
    mut routes: Router,
    metrics: Option<HttpMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Some(metrics) = metrics {
        routes = metered(routes, metrics);
    }
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The HTTP status of a gRPC status code: the one table for both kinds of
/// error (a domain error goes through [`provindex_rpc::status_of`]).
fn http_status(code: Code) -> StatusCode {
    match code {
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn error_response(error: &ApiError) -> Response {
    status_response(&provindex_rpc::status_of(error))
}

fn status_response(status: &Status) -> Response {
    (
        http_status(status.code()),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", status.message()),
    )
        .into_response()
}

async fn cdx_handler(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = match CdxQuery::parse(query.as_deref().unwrap_or("")) {
        Ok(query) => query,
        Err(error) => return error_response(&error),
    };
    match cdx::run(state.lookups.as_ref(), &query).await {
        Ok(answer) => {
            let mut response = (
                [(header::CONTENT_TYPE, answer.content_type)],
                Body::from(answer.body),
            )
                .into_response();
            if answer.truncated {
                response.headers_mut().insert(
                    "x-provindex-truncated",
                    axum::http::HeaderValue::from_static("true"),
                );
            }
            response
        }
        Err(status) => status_response(&status),
    }
}

async fn record_handler(State(state): State<AppState>, Path(capture_id): Path<String>) -> Response {
    let id = match parse_capture_id(&capture_id) {
        Ok(id) => id,
        Err(error) => return error_response(&error),
    };
    match state.lookups.original_record(format!("{id:032x}")).await {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, "application/warc")],
            Body::from(bytes),
        )
            .into_response(),
        Err(status) => status_response(&status),
    }
}

/// A capture id: 32 hex characters, as the gRPC API and `/cdx` print it.
fn parse_capture_id(text: &str) -> Result<u128, ApiError> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "capture_id",
            format!(
                "expected 32 hex characters, got {:?}",
                provindex_rpc::echo(text)
            ),
        ));
    }
    u128::from_str_radix(text, 16)
        .map_err(|e| ApiError::invalid("capture_id", format!("not hexadecimal: {e}")))
}
