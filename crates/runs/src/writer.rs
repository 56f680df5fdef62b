use std::io::Write;
use std::ops::Range;

use xxhash_rust::xxh3::Xxh3;

use crate::{
    END_MARKER, HEADER_MAGIC, IO_BUF, MAX_FIELD_LEN, RunError, RunInfo, TAIL_LEN, TRAILER_MAGIC,
};

/// Writes a run: `(key, value)` records with non-decreasing keys (equal keys
/// allowed and kept in push order). Output is buffered internally; the header
/// is written by [`RunWriter::new`], the end marker, footer and trailer by
/// [`RunWriter::finish`]. A writer dropped without `finish` leaves a run that
/// readers reject as truncated.
///
/// Records are framed into the buffer and the checksum is updated once per
/// buffer written out rather than per field.
pub struct RunWriter<W: Write> {
    out: W,
    /// Bytes not yet written to `out`; `buf[hash_from..]` not yet hashed.
    buf: Vec<u8>,
    hash_from: usize,
    name: String,
    hasher: Xxh3,
    records: u64,
    bytes: u64,
    /// The previous record's key: in `buf` at `last_key_at` while it is
    /// there, copied to `last_key` when the buffer is written out.
    last_key: Vec<u8>,
    last_key_at: Option<Range<usize>>,
}

impl<W: Write> RunWriter<W> {
    /// Starts a run on `inner`, writing the header. `name` is used in errors.
    pub fn new(inner: W, name: &str) -> Result<Self, RunError> {
        let mut buf = Vec::with_capacity(IO_BUF);
        buf.extend_from_slice(HEADER_MAGIC);
        Ok(RunWriter {
            out: inner,
            hash_from: buf.len(),
            buf,
            name: name.to_owned(),
            hasher: Xxh3::new(),
            records: 0,
            bytes: HEADER_MAGIC.len() as u64,
            last_key: Vec::new(),
            last_key_at: None,
        })
    }

    /// Appends a record. A key smaller than the previous record's is
    /// [`RunError::OutOfOrder`], a key or value over [`MAX_FIELD_LEN`] is
    /// [`RunError::TooLarge`]; neither writes anything, so the writer stays usable.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), RunError> {
        for (field, len) in [("key", key.len()), ("value", value.len())] {
            if len > MAX_FIELD_LEN {
                return Err(RunError::TooLarge {
                    name: self.name.clone(),
                    record: self.records,
                    field,
                    len,
                    limit: MAX_FIELD_LEN,
                });
            }
        }
        let last_key = match &self.last_key_at {
            Some(at) => &self.buf[at.clone()],
            None => &self.last_key[..],
        };
        if self.records > 0 && crate::key_less(key, last_key) {
            return Err(RunError::OutOfOrder {
                name: self.name.clone(),
                record: self.records,
            });
        }
        let size = 8 + key.len() + value.len();
        if self.buf.len() + size > IO_BUF {
            self.write_buf()?;
        }
        self.buf
            .extend_from_slice(&(key.len() as u32).to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u32).to_be_bytes());
        let key_at = self.buf.len();
        self.buf.extend_from_slice(key);
        self.last_key_at = Some(key_at..key_at + key.len());
        self.buf.extend_from_slice(value);
        if self.buf.len() > IO_BUF {
            // A record larger than the buffer goes out at once.
            self.write_buf()?;
        }
        self.records += 1;
        self.bytes += size as u64;
        Ok(())
    }

    /// Number of records pushed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Hashes the buffered record bytes and writes the buffer out.
    fn write_buf(&mut self) -> Result<(), RunError> {
        if let Some(at) = self.last_key_at.take() {
            self.last_key.clear();
            self.last_key.extend_from_slice(&self.buf[at]);
        }
        self.hasher.update(&self.buf[self.hash_from..]);
        self.out
            .write_all(&self.buf)
            .map_err(|e| RunError::io(&self.name, e))?;
        self.buf.clear();
        if self.buf.capacity() > IO_BUF {
            self.buf.shrink_to(IO_BUF);
        }
        self.hash_from = 0;
        Ok(())
    }

    /// Writes the end marker, footer and trailer, flushes, and returns what the
    /// run holds together with the inner writer.
    pub fn finish(mut self) -> Result<(RunInfo, W), RunError> {
        self.hasher.update(&self.buf[self.hash_from..]);
        self.hash_from = self.buf.len();
        let checksum = self.hasher.digest();
        self.buf.extend_from_slice(&END_MARKER.to_be_bytes());
        self.buf.extend_from_slice(&self.records.to_be_bytes());
        self.buf.extend_from_slice(&checksum.to_be_bytes());
        self.buf.extend_from_slice(TRAILER_MAGIC);
        let RunWriter {
            mut out,
            buf,
            name,
            records,
            bytes,
            ..
        } = self;
        out.write_all(&buf)
            .and_then(|()| out.flush())
            .map_err(|e| RunError::io(&name, e))?;
        Ok((
            RunInfo {
                records,
                bytes: bytes + TAIL_LEN,
                checksum,
            },
            out,
        ))
    }
}
