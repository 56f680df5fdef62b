use std::io::{BufWriter, Write};

use xxhash_rust::xxh3::Xxh3;

use crate::{
    END_MARKER, HEADER_MAGIC, IO_BUF, MAX_FIELD_LEN, RunError, RunInfo, TAIL_LEN, TRAILER_MAGIC,
};

/// Writes a run: `(key, value)` records with non-decreasing keys (equal keys
/// allowed and kept in push order). Output is buffered internally; the header
/// is written by [`RunWriter::new`], the end marker, footer and trailer by
/// [`RunWriter::finish`]. A writer dropped without `finish` leaves a run that
/// readers reject as truncated.
pub struct RunWriter<W: Write> {
    out: BufWriter<W>,
    name: String,
    hasher: Xxh3,
    records: u64,
    bytes: u64,
    last_key: Vec<u8>,
}

impl<W: Write> RunWriter<W> {
    /// Starts a run on `inner`, writing the header. `name` is used in errors.
    pub fn new(inner: W, name: &str) -> Result<Self, RunError> {
        let mut out = BufWriter::with_capacity(IO_BUF, inner);
        out.write_all(HEADER_MAGIC)
            .map_err(|e| RunError::io(name, e))?;
        Ok(RunWriter {
            out,
            name: name.to_owned(),
            hasher: Xxh3::new(),
            records: 0,
            bytes: HEADER_MAGIC.len() as u64,
            last_key: Vec::new(),
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
        if self.records > 0 && key < self.last_key.as_slice() {
            return Err(RunError::OutOfOrder {
                name: self.name.clone(),
                record: self.records,
            });
        }
        let mut lens = [0u8; 8];
        lens[..4].copy_from_slice(&(key.len() as u32).to_be_bytes());
        lens[4..].copy_from_slice(&(value.len() as u32).to_be_bytes());
        self.hasher.update(&lens);
        self.hasher.update(key);
        self.hasher.update(value);
        let name = &self.name;
        self.out
            .write_all(&lens)
            .and_then(|()| self.out.write_all(key))
            .and_then(|()| self.out.write_all(value))
            .map_err(|e| RunError::io(name, e))?;
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.records += 1;
        self.bytes += 8 + key.len() as u64 + value.len() as u64;
        Ok(())
    }

    /// Number of records pushed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes the end marker, footer and trailer, flushes, and returns what the
    /// run holds together with the inner writer.
    pub fn finish(self) -> Result<(RunInfo, W), RunError> {
        let RunWriter {
            mut out,
            name,
            hasher,
            records,
            bytes,
            last_key: _,
        } = self;
        let checksum = hasher.digest();
        let mut tail = [0u8; TAIL_LEN as usize];
        tail[..4].copy_from_slice(&END_MARKER.to_be_bytes());
        tail[4..12].copy_from_slice(&records.to_be_bytes());
        tail[12..20].copy_from_slice(&checksum.to_be_bytes());
        tail[20..].copy_from_slice(TRAILER_MAGIC);
        out.write_all(&tail).map_err(|e| RunError::io(&name, e))?;
        let mut inner = out
            .into_inner()
            .map_err(|e| RunError::io(&name, e.into_error()))?;
        inner.flush().map_err(|e| RunError::io(&name, e))?;
        Ok((
            RunInfo {
                records,
                bytes: bytes + TAIL_LEN,
                checksum,
            },
            inner,
        ))
    }
}
