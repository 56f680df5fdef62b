//! One error model for every provindex crate (issue 15).
//!
//! Each domain error says what kind of failure it is through [`ErrorExt`]:
//! a [`StatusCode`] from a small, transport-free vocabulary (the gRPC codes a
//! provindex service answers with). The RPC layer turns any `ErrorExt` into a
//! `tonic::Status` in exactly one place (`provindex_rpc::error::status_of`),
//! capping its message and logging [`StatusCode::Internal`] errors; this crate
//! depends on nothing so that every domain crate can implement it.

use std::fmt;

/// What kind of failure an error is, as a client should see it. The names
/// and meanings are gRPC's (<https://grpc.io/docs/guides/status-codes/>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// The request itself is wrong (a field, a token, a page token).
    InvalidArgument,
    /// What the request names does not exist.
    NotFound,
    /// What the request would create exists already.
    AlreadyExists,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The caller is not known (no or a bad credential).
    Unauthenticated,
    /// The request is fine but the system is not in a state to answer it.
    FailedPrecondition,
    /// A size or quota limit was hit.
    ResourceExhausted,
    /// A dependency (storage, a peer) failed in a way worth retrying.
    Unavailable,
    /// The deadline passed before the work was done.
    DeadlineExceeded,
    /// The work was cancelled.
    Cancelled,
    /// A bug or a broken invariant: the server's fault, logged when answered.
    Internal,
}

impl StatusCode {
    /// Every code, for tables and tests.
    pub const ALL: [StatusCode; 11] = [
        StatusCode::InvalidArgument,
        StatusCode::NotFound,
        StatusCode::AlreadyExists,
        StatusCode::PermissionDenied,
        StatusCode::Unauthenticated,
        StatusCode::FailedPrecondition,
        StatusCode::ResourceExhausted,
        StatusCode::Unavailable,
        StatusCode::DeadlineExceeded,
        StatusCode::Cancelled,
        StatusCode::Internal,
    ];

    /// The gRPC name of the code (`INVALID_ARGUMENT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::InvalidArgument => "INVALID_ARGUMENT",
            StatusCode::NotFound => "NOT_FOUND",
            StatusCode::AlreadyExists => "ALREADY_EXISTS",
            StatusCode::PermissionDenied => "PERMISSION_DENIED",
            StatusCode::Unauthenticated => "UNAUTHENTICATED",
            StatusCode::FailedPrecondition => "FAILED_PRECONDITION",
            StatusCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            StatusCode::Unavailable => "UNAVAILABLE",
            StatusCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            StatusCode::Cancelled => "CANCELLED",
            StatusCode::Internal => "INTERNAL",
        }
    }

    /// Whether the error is the server's fault (logged when it is answered).
    pub fn is_internal(self) -> bool {
        self == StatusCode::Internal
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every domain error: the kind of failure it is. Its
/// `Display` is the message a client gets (capped by the RPC layer).
pub trait ErrorExt: std::error::Error {
    fn status_code(&self) -> StatusCode;
}

impl<E: ErrorExt> ErrorExt for Box<E> {
    fn status_code(&self) -> StatusCode {
        (**self).status_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_grpc_names() {
        let names: Vec<&str> = StatusCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), 11);
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        );
        assert!(StatusCode::Internal.is_internal());
        assert!(!StatusCode::NotFound.is_internal());
    }
}
