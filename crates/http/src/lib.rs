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
        .merge(page::routes(web)))
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    index: Arc<IndexReader>,
    backends: Backends,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router(index, backends).map_err(std::io::Error::other)?;
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
