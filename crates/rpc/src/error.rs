use provindex_index::IndexError;
use tonic::Status;

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

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match &error {
            ApiError::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
            ApiError::NotFound(_) => Status::not_found(error.to_string()),
            ApiError::FailedPrecondition(_) => Status::failed_precondition(error.to_string()),
            ApiError::Index(IndexError::InvalidPageToken(_)) => {
                Status::invalid_argument(error.to_string())
            }
            ApiError::Index(inner) => {
                tracing::error!(error = %inner, "index failure");
                Status::internal(error.to_string())
            }
        }
    }
}
