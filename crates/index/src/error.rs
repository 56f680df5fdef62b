use std::path::PathBuf;

/// Everything that can go wrong opening, writing or reading an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("rocksdb error at {path}: {source}")]
    Rocks {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
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
