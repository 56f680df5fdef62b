//! HTTP adapter: pywb's CDX server API (`GET /cdx`), the original WARC
//! record of a capture (`GET /record/{capture_id}`) and the rightholder web
//! page (`GET /`, [`page`]), served by `provindex serve --http-listen` from
//! the same [`IndexReader`] (and opt-out registry) as the gRPC services.
//!
//! Like the gRPC adapters, it only translates: `/cdx` runs the URL query of
//! [`provindex_rpc::url_captures`] (the one behind LookupUrl) and `/record`
//! reads bytes with [`provindex_rpc::read_original_record`] (the one behind
//! GetCapture include_record).

mod cdx;
pub mod page;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use provindex_corpus::store::CorpusStore;
use provindex_errors::ErrorExt;
use provindex_index::IndexReader;
use provindex_rpc::ApiError;
use provindex_rpc::metrics::HttpMetrics;

pub use cdx::{CdxQuery, MAX_LIMIT};
pub use page::Backends;

#[derive(Clone)]
struct AppState {
    index: Arc<IndexReader>,
    /// Reads original records back; made on first use (on the runtime).
    store: Arc<OnceLock<Arc<CorpusStore>>>,
}

/// The HTTP routes over `index`, with the web page's opt-out pages over
/// `backends` (fails when the index's sketch spec cannot sign work texts).
pub fn router(index: Arc<IndexReader>, backends: Backends) -> Result<Router, String> {
    let web = page::WebState::new(Arc::clone(&index), backends)?;
    Ok(Router::new()
        .route("/cdx", get(cdx_handler))
        .route("/record/{capture_id}", get(record_handler))
        .with_state(AppState {
            index,
            store: Arc::default(),
        })
        .merge(page::routes(web))
        .fallback(unrouted))
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
    let mut router = router(index, backends).map_err(std::io::Error::other)?;
    if let Some(metrics) = metrics {
        router = metered(router, metrics);
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The HTTP status of a domain error.
fn http_status(error: &ApiError) -> StatusCode {
    use provindex_errors::StatusCode as Code;
    match error.status_code() {
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Cancelled | Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answer: the HTTP status of the domain error and its message.
fn error_response(error: &ApiError) -> Response {
    let status = http_status(error);
    if status.is_server_error() {
        tracing::warn!(%error, "http request failed");
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{error}\n"),
    )
        .into_response()
}

async fn cdx_handler(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = match CdxQuery::parse(query.as_deref().unwrap_or("")) {
        Ok(query) => query,
        Err(error) => return error_response(&error),
    };
    let index = Arc::clone(&state.index);
    let answer = tokio::task::spawn_blocking(move || cdx::run(&index, &query))
        .await
        .map_err(|join| ApiError::Internal(format!("query task failed: {join}")))
        .and_then(|answer| answer);
    match answer {
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
        Err(error) => error_response(&error),
    }
}

async fn record_handler(State(state): State<AppState>, Path(capture_id): Path<String>) -> Response {
    let id = match parse_capture_id(&capture_id) {
        Ok(id) => id,
        Err(error) => return error_response(&error),
    };
    let index = Arc::clone(&state.index);
    let record = match tokio::task::spawn_blocking(move || index.capture(id)).await {
        Ok(Ok(Some(record))) => record,
        Ok(Ok(None)) => {
            return error_response(&ApiError::NotFound(format!("no capture {id:032x}")));
        }
        Ok(Err(error)) => return error_response(&ApiError::from(error)),
        Err(join) => {
            return error_response(&ApiError::Internal(format!("query task failed: {join}")));
        }
    };
    let store = Arc::clone(
        state
            .store
            .get_or_init(|| Arc::new(CorpusStore::with_handle(tokio::runtime::Handle::current()))),
    );
    match provindex_rpc::read_original_record(&store, &record).await {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, "application/warc")],
            Body::from(bytes),
        )
            .into_response(),
        Err(error) => error_response(&error),
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
