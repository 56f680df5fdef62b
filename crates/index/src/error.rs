use std::path::PathBuf;

/// Everything that can go wrong opening, writing or reading an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] provindex_store::StoreError),
    #[error("index at {path} is not a published provindex index: {reason}")]
    NotAnIndex { path: PathBuf, reason: String },
    #[error("index at {0} already exists; choose an empty output directory")]
    AlreadyExists(PathBuf),
    #[error("corrupt value in column family `{cf}`: {reason}")]
    Corrupt { cf: &'static str, reason: String },
    #[error("invalid page token: {0}")]
    InvalidPageToken(String),
    #[error("io error at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl provindex_errors::ErrorExt for IndexError {
    fn status_code(&self) -> provindex_errors::StatusCode {
        use provindex_errors::StatusCode;
        match self {
            // A client's page token: the one index error that is the caller's.
            IndexError::InvalidPageToken(_) => StatusCode::InvalidArgument,
            // Only a build's output directory; never reached from a request.
            IndexError::AlreadyExists(_) => StatusCode::AlreadyExists,
            IndexError::Store(_)
            | IndexError::NotAnIndex { .. }
            | IndexError::Corrupt { .. }
            | IndexError::Io { .. } => StatusCode::Internal,
        }
    }
}

impl provindex_errors::ErrorExt for crate::registry::RegistryError {
    fn status_code(&self) -> provindex_errors::StatusCode {
        use crate::registry::RegistryError;
        use provindex_errors::StatusCode;
        match self {
            RegistryError::Duplicate { .. } => StatusCode::AlreadyExists,
            RegistryError::NotFound(_) => StatusCode::NotFound,
            RegistryError::AlreadyRevoked { .. } => StatusCode::FailedPrecondition,
            RegistryError::ComplaintNotFound(_) => StatusCode::NotFound,
            RegistryError::ClaimNotFound(_) => StatusCode::NotFound,
            RegistryError::Denied(_) => StatusCode::PermissionDenied,
            RegistryError::Precondition(_) => StatusCode::FailedPrecondition,
            RegistryError::ClaimOverlap(_) => StatusCode::AlreadyExists,
            RegistryError::Index(error) => error.status_code(),
        }
    }
}
