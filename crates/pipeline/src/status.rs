//! The pipeline's errors in the one error model (issue 15): each says which
//! [`StatusCode`] it is; the RPC layer turns that into a gRPC status.

use provindex_errors::{ErrorExt, StatusCode};

use crate::PipelineError;
use crate::job::JobError;
use crate::tasks::TaskError;
use crate::worker::SourceError;

impl ErrorExt for PipelineError {
    fn status_code(&self) -> StatusCode {
        match self {
            PipelineError::MissingInput(_) | PipelineError::NoInputs(_) => {
                StatusCode::InvalidArgument
            }
            PipelineError::ListInput { .. } | PipelineError::Store(_) => StatusCode::Unavailable,
            PipelineError::Index(error) => error.status_code(),
            PipelineError::Staging(_) | PipelineError::Job(_) => StatusCode::Internal,
            PipelineError::Publish(error) => error.status_code(),
        }
    }
}

impl ErrorExt for JobError {
    fn status_code(&self) -> StatusCode {
        match self {
            JobError::InvalidSpec(_) | JobError::BadResult { .. } => StatusCode::InvalidArgument,
            JobError::UnknownJob(_) | JobError::UnknownTask { .. } => StatusCode::NotFound,
            JobError::JobExists(_) => StatusCode::AlreadyExists,
            JobError::LeaseLost { .. } => StatusCode::FailedPrecondition,
            JobError::State { .. } => StatusCode::Internal,
        }
    }
}

impl ErrorExt for TaskError {
    fn status_code(&self) -> StatusCode {
        match self {
            TaskError::Retry(_) => StatusCode::Unavailable,
            TaskError::Permanent(_) => StatusCode::FailedPrecondition,
            TaskError::Cancelled => StatusCode::Cancelled,
        }
    }
}

impl ErrorExt for SourceError {
    fn status_code(&self) -> StatusCode {
        match self {
            SourceError::LeaseLost(_) => StatusCode::FailedPrecondition,
            SourceError::Unavailable(_) => StatusCode::Unavailable,
            SourceError::Other(_) => StatusCode::Internal,
        }
    }
}
