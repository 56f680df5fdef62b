use std::borrow::Cow;

use provindex_index::IndexError;
use provindex_signals::UrlError;
use tonic::Status;

/// Longest client-supplied value an error message repeats, in bytes.
pub const MAX_ECHO_BYTES: usize = 200;
/// Longest message of a status made from an [`ApiError`], in bytes: headers
/// are small (grpc-core clients refuse metadata over 8 KiB with
/// RESOURCE_EXHAUSTED, hiding the real status).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Every way a request can fail, mapped to a gRPC status in one place.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("{0}")]
    NotFound(String),
    /// The request is fine but the index cannot answer it (e.g. it has no sketches).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("index error: {0}")]
    Index(#[from] IndexError),
}

impl ApiError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
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

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = cap_message(error.to_string());
        match &error {
            ApiError::InvalidArgument { .. } => Status::invalid_argument(message),
            ApiError::NotFound(_) => Status::not_found(message),
            ApiError::FailedPrecondition(_) => Status::failed_precondition(message),
            ApiError::Index(IndexError::InvalidPageToken(_)) => Status::invalid_argument(message),
            ApiError::Index(inner) => {
                tracing::error!(error = %inner, "index failure");
                Status::internal(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
