use std::io;

/// Errors of writing, reading, merging and sorting runs. Each names the run
/// (the file name or URI the caller gave, or the spill file's path).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The underlying reader or writer failed (other than by ending early,
    /// which is [`RunError::Corrupt`]).
    #[error("run {name}: I/O error: {source}")]
    Io {
        name: String,
        #[source]
        source: io::Error,
    },
    /// The run's bytes are not a valid run: bad magic, a length over the limit,
    /// truncation, keys out of order, footer count or checksum mismatch, or
    /// trailing data. `offset` is the byte offset in the run where the problem
    /// was found (the start of the field that could not be read or did not match).
    #[error("run {name}: corrupt at byte {offset}: {reason}")]
    Corrupt {
        name: String,
        offset: u64,
        reason: String,
    },
    /// A key smaller than the previous one was pushed to a writer, or came out
    /// of a merge input. `record` is the 0-based index of the offending record
    /// within that run (merge inputs are named `merge input {i}`).
    #[error("run {name}: record {record} has a key smaller than the previous record's")]
    OutOfOrder { name: String, record: u64 },
    /// A key or value longer than [`crate::MAX_FIELD_LEN`] was pushed.
    #[error(
        "run {name}: record {record}: {field} of {len} bytes exceeds the limit of {limit} bytes"
    )]
    TooLarge {
        name: String,
        record: u64,
        field: &'static str,
        len: usize,
        limit: usize,
    },
}

impl RunError {
    pub(crate) fn io(name: &str, source: io::Error) -> Self {
        RunError::Io {
            name: name.to_owned(),
            source,
        }
    }

    pub(crate) fn corrupt(name: &str, offset: u64, reason: impl Into<String>) -> Self {
        RunError::Corrupt {
            name: name.to_owned(),
            offset,
            reason: reason.into(),
        }
    }
}
