use std::path::PathBuf;

/// A failed storage operation, naming the database and, for stored bytes
/// that do not decode, the column family.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb error at {path}: {source}")]
    Rocks {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("corrupt {what} in column family `{cf}` of {path}: {reason}")]
    Corrupt {
        path: PathBuf,
        cf: &'static str,
        what: &'static str,
        reason: String,
    },
    #[error("io error at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl provindex_errors::ErrorExt for StoreError {
    fn status_code(&self) -> provindex_errors::StatusCode {
        provindex_errors::StatusCode::Internal
    }
}
