//! Sorted, checksummed intermediate run files for the distributed index build.
//!
//! A *run* is a file of `(key, value)` byte-string records whose keys are
//! non-decreasing. Builders write runs with [`RunWriter`] (or let
//! [`ExternalSorter`] sort and spill them within a memory budget), read them back
//! with [`RunReader`] / [`open_file`], and combine them with the deterministic
//! k-way [`Merge`], which lends each record from its run's read buffer
//! ([`Merge::next_ref`]), or [`merge`], its iterator of owned records.
//!
//! # File format (version 1)
//!
//! All integers are big-endian.
//!
//! ```text
//! header   "PXRUN\x01"                         6 bytes
//! record*  key_len: u32, value_len: u32, key, value
//! end      0xFFFF_FFFF                          4 bytes
//! footer   record_count: u64, checksum: u64    16 bytes
//! trailer  "PXEND\x01"                         6 bytes
//! ```
//!
//! - `checksum` is xxh3-64 (seed 0) of every record byte — length prefixes,
//!   keys and values — i.e. everything between the header and the end marker.
//! - Keys are non-decreasing in byte-wise (`[u8]` `Ord`) order; equal keys keep
//!   the order they were written in.
//! - `key_len` and `value_len` are at most [`MAX_FIELD_LEN`] (64 MiB), which also
//!   keeps a key length from being mistaken for the end marker.
//! - Nothing may follow the trailer.
//!
//! The reader checks framing (lengths, key order) as it streams and the footer
//! (record count and checksum) and trailer at the end. Records are yielded
//! before the footer is checked: a consumer that must not act on a damaged run
//! has to drain the reader to `None` without an error before committing.
//! Damage yields `Some(Err(RunError::Corrupt { .. }))` once and then `None`.
//!
//! ```
//! use provindex_runs::{RunReader, RunWriter, merge};
//! let mut w = RunWriter::new(Vec::new(), "a.run").unwrap();
//! w.push(b"apple", b"1").unwrap();
//! w.push(b"pear", b"2").unwrap();
//! let (info, bytes_a) = w.finish().unwrap();
//! assert_eq!((info.records, info.bytes), (2, bytes_a.len() as u64));
//!
//! let mut w = RunWriter::new(Vec::new(), "b.run").unwrap();
//! w.push(b"apple", b"3").unwrap();
//! let (_, bytes_b) = w.finish().unwrap();
//!
//! let runs = vec![
//!     RunReader::new(&bytes_a[..], "a.run").unwrap(),
//!     RunReader::new(&bytes_b[..], "b.run").unwrap(),
//! ];
//! let merged: Vec<_> = merge(runs).collect::<Result<_, _>>().unwrap();
//! assert_eq!(merged, vec![
//!     (b"apple".to_vec(), b"1".to_vec()), // run 0 first on equal keys
//!     (b"apple".to_vec(), b"3".to_vec()),
//!     (b"pear".to_vec(), b"2".to_vec()),
//! ]);
//! ```

mod error;
mod merge;
mod reader;
mod sorter;
mod writer;

pub use error::RunError;
pub use merge::{IterInput, Merge, MergeInput, Merged, merge, merge_iters};
pub use reader::{RunReader, open_file};
pub use sorter::ExternalSorter;
pub use writer::RunWriter;

/// One record: `(key, value)`.
pub type Record = (Vec<u8>, Vec<u8>);

/// One record borrowed from a reader's buffer: see [`RunReader::next_ref`].
pub type RecordRef<'a> = (&'a [u8], &'a [u8]);

/// Magic bytes at the start of every run file.
pub const HEADER_MAGIC: &[u8; 6] = b"PXRUN\x01";
/// Magic bytes at the very end of every run file.
pub const TRAILER_MAGIC: &[u8; 6] = b"PXEND\x01";
/// The `key_len` value that marks the end of the records.
pub const END_MARKER: u32 = 0xFFFF_FFFF;
/// Largest key or value accepted by the writer and the reader (64 MiB).
pub const MAX_FIELD_LEN: usize = 64 << 20;

/// Size of the fixed end of a run: end marker, footer and trailer.
pub(crate) const TAIL_LEN: u64 = 4 + 16 + 6;
/// Buffer size used for run file I/O.
pub(crate) const IO_BUF: usize = 64 << 10;

/// `a < b` byte-wise, as `[u8]`'s order. Keys of a few words (the usual
/// ones: ids, id pairs) compare a word at a time instead of through a
/// `memcmp` call, which showed up as the readers' and writers' largest cost.
#[inline]
pub(crate) fn key_less(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    if n > 64 {
        return a < b;
    }
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return x < y;
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// What a finished run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunInfo {
    /// Number of records.
    pub records: u64,
    /// Total size of the run in bytes, header to trailer inclusive.
    pub bytes: u64,
    /// xxh3-64 of all record bytes, as stored in the footer.
    pub checksum: u64,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn key_less_is_byte_order(
            a in proptest::collection::vec(0u8..3, 0..80),
            b in proptest::collection::vec(0u8..3, 0..80),
        ) {
            prop_assert_eq!(super::key_less(&a, &b), a < b);
            let longer = [&a[..], &b[..]].concat();
            prop_assert_eq!(super::key_less(&a, &longer), a < longer);
            prop_assert_eq!(super::key_less(&longer, &a), longer < a);
        }
    }
}
