use std::borrow::Cow;

use provindex_errors::{ErrorExt, StatusCode};
use provindex_index::IndexError;
use provindex_index::registry::RegistryError;
use provindex_pipeline::job::JobError;
use provindex_signals::UrlError;
use tonic::{Code, Status};

use crate::auth::AuthError;
use provindex_disclosure::DisclosureError;

/// Longest client-supplied value an error message repeats, in bytes.
pub const MAX_ECHO_BYTES: usize = 200;
/// Longest message of a status made from an [`ApiError`], in bytes: headers
/// are small (grpc-core clients refuse metadata over 8 KiB with
/// RESOURCE_EXHAUSTED, hiding the real status).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Every way a request can fail in the RPC layer: its own refusals (one
/// variant per status code it answers with) and the domain errors of the
/// crates below it, each keeping its own [`ErrorExt::status_code`]. It becomes
/// a `tonic::Status` through [`status_of`], like every other domain error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("{0}")]
    NotFound(String),
    /// The request is fine but the index cannot answer it (e.g. it has no sketches).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller is known but may not do this (roles, granted scopes).
    #[error("{0}")]
    PermissionDenied(String),
    /// An answer over a size limit.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A dependency (object storage) failed; worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// The server's fault (a task that panicked, an audit log that cannot be written).
    #[error("{0}")]
    Internal(String),
    #[error("index error: {0}")]
    Index(#[from] IndexError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Disclosure(#[from] DisclosureError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl ApiError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}

impl ErrorExt for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidArgument { .. } => StatusCode::InvalidArgument,
            ApiError::NotFound(_) => StatusCode::NotFound,
            ApiError::FailedPrecondition(_) => StatusCode::FailedPrecondition,
            ApiError::PermissionDenied(_) => StatusCode::PermissionDenied,
            ApiError::ResourceExhausted(_) => StatusCode::ResourceExhausted,
            ApiError::Unavailable(_) => StatusCode::Unavailable,
            ApiError::Internal(_) => StatusCode::Internal,
            ApiError::Index(error) => error.status_code(),
            ApiError::Registry(error) => error.status_code(),
            ApiError::Job(error) => error.status_code(),
            ApiError::Disclosure(error) => error.status_code(),
            ApiError::Auth(error) => error.status_code(),
        }
    }
}

/// `value` as an error message may repeat it: whole up to [`MAX_ECHO_BYTES`],
/// else its start (cut at a character boundary) and `… (N bytes)`. Every
/// message that quotes client input goes through this.
pub fn echo(value: &str) -> Cow<'_, str> {
    shorten(value, MAX_ECHO_BYTES)
}

/// `text` cut to at most about `max` bytes plus a marker with its length.
fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let start = text.get(..end).unwrap_or_default();
    Cow::Owned(format!("{start}… ({} bytes)", text.len()))
}

/// A URL error for a message, with the URL (and the parser's reason) echoed
/// through [`echo`]: `UrlError`'s own message repeats the whole URL.
pub(crate) fn url_error(error: &UrlError) -> String {
    match error {
        UrlError::Parse { url, reason } => {
            format!("unparseable URL {:?}: {}", echo(url), echo(reason))
        }
        UrlError::UnsupportedScheme { scheme } => format!(
            "unsupported URL scheme {:?} (only http, https, ftp)",
            echo(scheme)
        ),
        UrlError::MissingHost { url } => format!("URL has no host: {:?}", echo(url)),
        other => echo(&other.to_string()).into_owned(),
    }
}

/// The last guard on a status message: whatever a message quotes, it stays
/// under [`MAX_MESSAGE_BYTES`] (plus the length marker).
pub(crate) fn cap_message(message: String) -> String {
    match shorten(&message, MAX_MESSAGE_BYTES) {
        Cow::Borrowed(_) => message,
        Cow::Owned(short) => short,
    }
}

fn code_of(code: StatusCode) -> Code {
    match code {
        StatusCode::InvalidArgument => Code::InvalidArgument,
        StatusCode::NotFound => Code::NotFound,
        StatusCode::AlreadyExists => Code::AlreadyExists,
        StatusCode::PermissionDenied => Code::PermissionDenied,
        StatusCode::Unauthenticated => Code::Unauthenticated,
        StatusCode::FailedPrecondition => Code::FailedPrecondition,
        StatusCode::ResourceExhausted => Code::ResourceExhausted,
        StatusCode::Unavailable => Code::Unavailable,
        StatusCode::DeadlineExceeded => Code::DeadlineExceeded,
        StatusCode::Cancelled => Code::Cancelled,
        StatusCode::Internal => Code::Internal,
    }
}

/// THE conversion of an error into a gRPC status; nothing else in this crate
/// builds a `Status` (issue 15). The code is the error's
/// [`ErrorExt::status_code`], the message its `Display` capped at
/// `MAX_MESSAGE_BYTES`; an internal error is logged (with its sources).
pub fn status_of(error: &(dyn ErrorExt + '_)) -> Status {
    let code = error.status_code();
    let message = cap_message(error.to_string());
    if code.is_internal() {
        let mut causes = String::new();
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push_str(": ");
            causes.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(error = %message, causes = %cap_message(causes), "internal error");
    }
    Status::new(code_of(code), message)
}

impl From<provindex_policy::authorization::Denied> for ApiError {
    fn from(denied: provindex_policy::authorization::Denied) -> Self {
        use provindex_policy::authorization::Denied;
        match denied {
            Denied::Permission(message) => ApiError::PermissionDenied(message),
            Denied::Invalid { field, reason } => ApiError::invalid(field, reason),
        }
    }
}

/// `From<E> for Status` through [`status_of`], for the error types of this
/// crate (the orphan rule keeps other crates' errors behind [`ApiError`]).
macro_rules! into_status {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for Status {
            fn from(error: $error) -> Self {
                status_of(&error)
            }
        }
    )*};
}

into_status!(ApiError, AuthError);

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use provindex_corpus::store::StoreError;
    use provindex_pipeline::PipelineError;
    use provindex_pipeline::tasks::TaskError;
    use provindex_pipeline::worker::SourceError;

    use super::*;

    #[test]
    fn echo_keeps_short_values_and_cuts_long_ones_at_a_char_boundary() {
        assert_eq!(echo("http://a.example/"), "http://a.example/");
        let long = "é".repeat(1000);
        let cut = echo(&long);
        assert!(cut.len() <= MAX_ECHO_BYTES + 20, "{cut}");
        assert!(cut.ends_with("… (2000 bytes)"), "{cut}");
        let status = Status::from(ApiError::NotFound(format!("no captures for {long}")));
        assert!(status.message().len() <= MAX_MESSAGE_BYTES + 20);
    }

    fn corrupt() -> IndexError {
        IndexError::Corrupt {
            cf: "captures",
            reason: "short value".into(),
        }
    }

    fn io_error() -> io::Error {
        io::Error::other("disk on fire")
    }

    /// Every domain error's code, and that the one conversion keeps it: the
    /// codes clients (and the e2e tests) see.
    #[test]
    fn every_domain_error_maps_to_its_code() {
        use Code::*;
        let table: Vec<(Box<dyn ErrorExt>, Code)> = vec![
            // crates/index
            (
                Box::new(IndexError::InvalidPageToken("x".into())),
                InvalidArgument,
            ),
            (Box::new(corrupt()), Internal),
            (
                Box::new(IndexError::NotAnIndex {
                    path: PathBuf::from("/i"),
                    reason: "no manifest".into(),
                }),
                Internal,
            ),
            (
                Box::new(IndexError::Io {
                    path: PathBuf::from("/i"),
                    source: io_error(),
                }),
                Internal,
            ),
            (
                Box::new(IndexError::AlreadyExists(PathBuf::from("/i"))),
                AlreadyExists,
            ),
            // the registry
            (
                Box::new(RegistryError::Duplicate { existing: 3 }),
                AlreadyExists,
            ),
            (Box::new(RegistryError::NotFound(3)), NotFound),
            (
                Box::new(RegistryError::AlreadyRevoked {
                    id: 3,
                    revoked_at: 1,
                }),
                FailedPrecondition,
            ),
            (Box::new(RegistryError::Index(corrupt())), Internal),
            // crates/corpus
            (
                Box::new(StoreError::InvalidUri {
                    uri: "x".into(),
                    reason: "r".into(),
                }),
                InvalidArgument,
            ),
            (Box::new(StoreError::NoMatch("s3://b/*".into())), NotFound),
            (
                Box::new(StoreError::AlreadyExists("/o".into())),
                AlreadyExists,
            ),
            (
                Box::new(StoreError::Unwritable {
                    uri: "/proc/x".into(),
                    reason: "r".into(),
                }),
                FailedPrecondition,
            ),
            (
                Box::new(StoreError::Io {
                    uri: "/o".into(),
                    source: io_error(),
                }),
                Unavailable,
            ),
            (Box::new(StoreError::Runtime("gone".into())), Internal),
            // crates/pipeline
            (
                Box::new(PipelineError::MissingInput("/in".into())),
                InvalidArgument,
            ),
            (
                Box::new(PipelineError::NoInputs(vec!["/in".into()])),
                InvalidArgument,
            ),
            (Box::new(PipelineError::Store("s".into())), Unavailable),
            (Box::new(PipelineError::Index(corrupt())), Internal),
            (Box::new(PipelineError::Staging("s".into())), Internal),
            (Box::new(JobError::InvalidSpec("s".into())), InvalidArgument),
            (Box::new(JobError::UnknownJob("j".into())), NotFound),
            (
                Box::new(JobError::UnknownTask {
                    job: "j".into(),
                    task: "t".into(),
                }),
                NotFound,
            ),
            (Box::new(JobError::JobExists("j".into())), AlreadyExists),
            (
                Box::new(JobError::LeaseLost {
                    task: "t".into(),
                    token: 1,
                }),
                FailedPrecondition,
            ),
            (
                Box::new(JobError::BadResult {
                    task: "t".into(),
                    reason: "r".into(),
                }),
                InvalidArgument,
            ),
            (
                Box::new(JobError::State {
                    path: PathBuf::from("/j"),
                    reason: "r".into(),
                }),
                Internal,
            ),
            (Box::new(TaskError::Retry("r".into())), Unavailable),
            (
                Box::new(TaskError::Permanent("r".into())),
                FailedPrecondition,
            ),
            (Box::new(TaskError::Cancelled), Cancelled),
            (
                Box::new(SourceError::LeaseLost("r".into())),
                FailedPrecondition,
            ),
            (Box::new(SourceError::Unavailable("r".into())), Unavailable),
            (Box::new(SourceError::Other("r".into())), Internal),
            // crates/rpc: disclosure (reports, exports)
            (
                Box::new(DisclosureError::InvalidArgument {
                    field: "pool",
                    reason: "r".into(),
                }),
                InvalidArgument,
            ),
            (
                Box::new(DisclosureError::Empty("e".into())),
                FailedPrecondition,
            ),
            (
                Box::new(DisclosureError::AlreadyExists("/o".into())),
                AlreadyExists,
            ),
            (
                Box::new(DisclosureError::Inconsistent("i".into())),
                Internal,
            ),
            (Box::new(DisclosureError::Index(corrupt())), Internal),
            (
                Box::new(DisclosureError::Store(StoreError::AlreadyExists(
                    "/o".into(),
                ))),
                FailedPrecondition,
            ),
            (
                Box::new(DisclosureError::Store(StoreError::Io {
                    uri: "/o".into(),
                    source: io_error(),
                })),
                Unavailable,
            ),
            // crates/rpc: auth
            (Box::new(AuthError::MissingToken), Unauthenticated),
            (Box::new(AuthError::NotBearer), Unauthenticated),
            (Box::new(AuthError::UnknownToken), Unauthenticated),
            (Box::new(AuthError::NotConfigured("x")), Unauthenticated),
            (
                Box::new(crate::auth::AuthConfigError::Invalid("x".into())),
                FailedPrecondition,
            ),
            // crates/rpc: the API's own refusals and the errors it wraps
            (
                Box::new(ApiError::invalid("url", "is empty")),
                InvalidArgument,
            ),
            (Box::new(ApiError::NotFound("n".into())), NotFound),
            (
                Box::new(ApiError::FailedPrecondition("f".into())),
                FailedPrecondition,
            ),
            (
                Box::new(ApiError::PermissionDenied("p".into())),
                PermissionDenied,
            ),
            (
                Box::new(ApiError::ResourceExhausted("r".into())),
                ResourceExhausted,
            ),
            (Box::new(ApiError::Unavailable("u".into())), Unavailable),
            (Box::new(ApiError::Internal("i".into())), Internal),
            (
                Box::new(ApiError::Index(IndexError::InvalidPageToken("x".into()))),
                InvalidArgument,
            ),
            (Box::new(ApiError::Index(corrupt())), Internal),
            (
                Box::new(ApiError::from(RegistryError::NotFound(1))),
                NotFound,
            ),
            (
                Box::new(ApiError::from(JobError::JobExists("j".into()))),
                AlreadyExists,
            ),
            (
                Box::new(ApiError::from(DisclosureError::Empty("e".into()))),
                FailedPrecondition,
            ),
            (
                Box::new(ApiError::from(AuthError::UnknownToken)),
                Unauthenticated,
            ),
        ];
        for (error, code) in &table {
            assert_eq!(code_of(error.status_code()), *code, "{error}");
            let status = status_of(error.as_ref());
            assert_eq!(status.code(), *code, "{error}");
            assert_eq!(status.message(), error.to_string());
        }
        // Every code of the vocabulary has its gRPC twin.
        for code in StatusCode::ALL {
            assert_eq!(format!("{:?}", code_of(code)), format!("{code:?}"));
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What `work` logs, as text.
    fn logged(work: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, work);
        let bytes = captured.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes).expect("utf-8 log")
    }

    #[test]
    fn internal_errors_are_logged_and_every_message_is_capped() {
        let huge = "x".repeat(10 * MAX_MESSAGE_BYTES);
        let mut status = None;
        let log = logged(|| {
            status = Some(status_of(&ApiError::Internal(format!("broken: {huge}"))));
        });
        let status = status.expect("status");
        assert_eq!(status.code(), Code::Internal);
        assert!(
            status.message().starts_with("broken: xxx"),
            "{}",
            status.message()
        );
        assert!(status.message().len() <= MAX_MESSAGE_BYTES + 20);
        assert!(
            status.message().ends_with("(10248 bytes)"),
            "{}",
            status.message()
        );
        assert!(log.contains("ERROR"), "{log}");
        assert!(
            log.contains("internal error") && log.contains("broken: xxx"),
            "{log}"
        );
        assert!(
            log.len() < 3 * MAX_MESSAGE_BYTES,
            "the log line is capped too: {log}"
        );

        // The causes of an internal error are logged, not sent.
        let log = logged(|| {
            let status = status_of(&IndexError::Io {
                path: PathBuf::from("/index"),
                source: io_error(),
            });
            assert_eq!(status.code(), Code::Internal);
        });
        assert!(log.contains("disk on fire"), "{log}");

        // A client's error is answered, not logged.
        let log = logged(|| {
            let status = status_of(&ApiError::NotFound(huge.clone()));
            assert!(status.message().len() <= MAX_MESSAGE_BYTES + 20);
        });
        assert!(log.is_empty(), "{log}");
    }
}
