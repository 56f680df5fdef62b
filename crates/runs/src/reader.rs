use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::ops::Range;
use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use crate::{
    END_MARKER, HEADER_MAGIC, IO_BUF, MAX_FIELD_LEN, Record, RecordRef, RunError, RunInfo,
    TRAILER_MAGIC,
};

/// Streams the records of a run back, checking framing and key order as it
/// goes and the footer and trailer at the end. Input is buffered internally.
///
/// A damaged run yields `Some(Err(RunError::Corrupt { .. }))` once and then
/// `None`; an I/O failure likewise yields `RunError::Io` once. Records before
/// the damage have already been yielded: only reaching `None` without an error
/// proves the whole run intact.
///
/// Records are parsed in place in the read buffer and the checksum is updated
/// per buffer refill rather than per field, so [`RunReader::next_ref`] reads a
/// record without allocating; the [`Iterator`] copies it into a [`Record`].
pub struct RunReader<R: Read> {
    inner: R,
    name: String,
    hasher: Xxh3,
    /// Bytes read from `inner`: `buf[pos..end]` are not consumed yet.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// `buf[hash_from..pos]`: consumed record bytes not yet in `hasher`.
    hash_from: usize,
    /// Offset in the run of `buf[pos]`.
    offset: u64,
    records: u64,
    /// Where the previous record's key is in `buf` (kept there by refills).
    last_key: Range<usize>,
    /// Where the previous record's value is in `buf`, valid until the next
    /// record is read (the [`crate::MergeInput`] current record's).
    last_value: Range<usize>,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Records,
    Done(RunInfo),
    Failed,
}

impl<R: Read> RunReader<R> {
    /// Opens a run on `inner` and checks its header. `name` is used in errors.
    pub fn new(inner: R, name: &str) -> Result<Self, RunError> {
        let mut reader = RunReader {
            inner,
            name: name.to_owned(),
            hasher: Xxh3::new(),
            buf: vec![0; IO_BUF],
            pos: 0,
            end: 0,
            hash_from: 0,
            offset: 0,
            records: 0,
            last_key: 0..0,
            last_value: 0..0,
            state: State::Records,
        };
        reader.need(HEADER_MAGIC.len(), "header")?;
        if reader.buf[..HEADER_MAGIC.len()] != HEADER_MAGIC[..] {
            return Err(RunError::corrupt(
                name,
                0,
                "bad header magic (not a run file)",
            ));
        }
        reader.consume(HEADER_MAGIC.len());
        reader.hash_from = reader.pos;
        Ok(reader)
    }

    /// The run's name as given to [`RunReader::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of records yielded so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// What the run holds, once every record has been read and the footer
    /// verified; `None` before that or after an error.
    pub fn info(&self) -> Option<RunInfo> {
        match self.state {
            State::Done(info) => Some(info),
            _ => None,
        }
    }

    /// The next record as slices of the read buffer, valid until the next
    /// call: the iterator's item without the copies. Same errors, same end.
    pub fn next_ref(&mut self) -> Option<Result<RecordRef<'_>, RunError>> {
        match self.step() {
            Ok(true) => Some(Ok(self.record())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Reads the next record into place: `Ok(false)` at the end, and after
    /// an error (which is returned once).
    fn step(&mut self) -> Result<bool, RunError> {
        if self.state != State::Records {
            return Ok(false);
        }
        self.next_record()
            .inspect_err(|_| self.state = State::Failed)
    }

    /// The record [`RunReader::step`] read last.
    fn record(&self) -> RecordRef<'_> {
        (
            &self.buf[self.last_key.clone()],
            &self.buf[self.last_value.clone()],
        )
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.offset += n as u64;
    }

    /// Makes at least `n` unconsumed bytes available in the buffer (`Ok(false)`
    /// if the input ends first).
    #[inline]
    fn fill(&mut self, n: usize) -> Result<bool, RunError> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        self.refill(n)
    }

    /// [`RunReader::fill`]'s reading part. The previous key stays in the
    /// buffer for the order check. The buffer grows past [`IO_BUF`] only as
    /// bytes actually arrive, so a corrupt length cannot make the reader
    /// allocate much more than the data it has seen.
    #[inline(never)]
    fn refill(&mut self, n: usize) -> Result<bool, RunError> {
        // Hash what was consumed, then move what is still needed to the front.
        self.hasher.update(&self.buf[self.hash_from..self.pos]);
        let keep = if self.records > 0 {
            self.last_key.start.min(self.pos)
        } else {
            self.pos
        };
        self.buf.copy_within(keep..self.end, 0);
        self.end -= keep;
        self.pos -= keep;
        self.hash_from = self.pos;
        self.last_key =
            self.last_key.start.saturating_sub(keep)..self.last_key.end.saturating_sub(keep);
        if self.buf.len() > IO_BUF && self.pos + n <= IO_BUF {
            // Done with a large record: back to the normal footprint.
            self.buf.truncate(IO_BUF.max(self.end));
            self.buf.shrink_to_fit();
        }
        while self.end - self.pos < n {
            if self.end == self.buf.len() {
                let grown = (self.pos + n).min(self.buf.len().saturating_mul(2));
                self.buf.resize(grown, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(read) => self.end += read,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(RunError::io(&self.name, e)),
            }
        }
        Ok(true)
    }

    /// [`RunReader::fill`] where the input ending is truncation inside `what`.
    fn need(&mut self, n: usize, what: &str) -> Result<(), RunError> {
        if self.fill(n)? {
            Ok(())
        } else {
            Err(self.truncated(0, what))
        }
    }

    fn truncated(&self, at: usize, what: &str) -> RunError {
        RunError::corrupt(
            &self.name,
            self.offset + at as u64,
            format!("truncated: file ends inside the {what}"),
        )
    }

    fn be_u32(&self, at: usize) -> u32 {
        let at = self.pos + at;
        u32::from_be_bytes(self.buf[at..at + 4].try_into().expect("4 bytes"))
    }

    /// Parses the next record into `last_key` and `last_value`; `Ok(false)`
    /// at the end marker (the footer checked). The spans are stored here,
    /// not returned: a returned pair was copied with one 16-byte load from
    /// two 8-byte stores, a store-forwarding stall on every record.
    fn next_record(&mut self) -> Result<bool, RunError> {
        let start = self.offset;
        self.need(4, "key length")?;
        let key_len = self.be_u32(0);
        if key_len == END_MARKER {
            self.finish_footer()?;
            return Ok(false);
        }
        let key_len = key_len as usize;
        if key_len > MAX_FIELD_LEN {
            return Err(RunError::corrupt(
                &self.name,
                start,
                format!("key length {key_len} exceeds the limit of {MAX_FIELD_LEN}"),
            ));
        }
        if !self.fill(8)? {
            return Err(self.truncated(4, "value length"));
        }
        let value_len = self.be_u32(4) as usize;
        if value_len > MAX_FIELD_LEN {
            return Err(RunError::corrupt(
                &self.name,
                start + 4,
                format!("value length {value_len} exceeds the limit of {MAX_FIELD_LEN}"),
            ));
        }
        if !self.fill(8 + key_len + value_len)? {
            return Err(if self.end - self.pos < 8 + key_len {
                self.truncated(8, "key")
            } else {
                self.truncated(8 + key_len, "value")
            });
        }
        let key = self.pos + 8..self.pos + 8 + key_len;
        let value = key.end..key.end + value_len;
        if self.records > 0
            && crate::key_less(&self.buf[key.clone()], &self.buf[self.last_key.clone()])
        {
            return Err(RunError::corrupt(
                &self.name,
                start + 8,
                format!(
                    "record {} has a key smaller than the previous record's",
                    self.records
                ),
            ));
        }
        self.last_key = key;
        self.last_value = value;
        self.consume(8 + key_len + value_len);
        self.records += 1;
        Ok(true)
    }

    /// Reads and checks the end marker (at the read position), the footer
    /// and the trailer.
    fn finish_footer(&mut self) -> Result<(), RunError> {
        let end_at = self.offset;
        // Every record byte, and nothing after them, goes into the checksum.
        self.hasher.update(&self.buf[self.hash_from..self.pos]);
        let actual = self.hasher.digest();
        self.consume(4);
        self.hash_from = self.pos;
        let footer_at = self.offset;
        self.need(16, "footer")?;
        if !self.fill(16 + TRAILER_MAGIC.len())? {
            return Err(self.truncated(16, "trailer"));
        }
        let footer = &self.buf[self.pos..self.pos + 16];
        let count = u64::from_be_bytes(footer[..8].try_into().expect("8 bytes"));
        let checksum = u64::from_be_bytes(footer[8..].try_into().expect("8 bytes"));
        let trailer_ok =
            self.buf[self.pos + 16..self.pos + 16 + TRAILER_MAGIC.len()] == TRAILER_MAGIC[..];
        self.consume(16 + TRAILER_MAGIC.len());
        self.hash_from = self.pos;
        if count != self.records {
            return Err(RunError::corrupt(
                &self.name,
                footer_at,
                format!("footer says {count} records, found {}", self.records),
            ));
        }
        if checksum != actual {
            return Err(RunError::corrupt(
                &self.name,
                footer_at + 8,
                format!("checksum mismatch: footer {checksum:016x}, records {actual:016x}"),
            ));
        }
        if !trailer_ok {
            return Err(RunError::corrupt(
                &self.name,
                footer_at + 16,
                "bad trailer magic",
            ));
        }
        if self.fill(1)? {
            return Err(RunError::corrupt(
                &self.name,
                self.offset,
                "trailing data after the trailer",
            ));
        }
        debug_assert_eq!(self.offset, end_at + crate::TAIL_LEN);
        self.state = State::Done(RunInfo {
            records: self.records,
            bytes: self.offset,
            checksum: actual,
        });
        Ok(())
    }
}

impl<R: Read> crate::MergeInput for RunReader<R> {
    fn advance(&mut self) -> Result<Option<RecordRef<'_>>, RunError> {
        Ok(if self.step()? {
            Some(self.record())
        } else {
            None
        })
    }

    fn current(&self) -> RecordRef<'_> {
        self.record()
    }
}

impl<R: Read> Iterator for RunReader<R> {
    type Item = Result<Record, RunError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_ref()
            .map(|record| record.map(|(key, value)| (key.to_vec(), value.to_vec())))
    }
}

/// Opens the run file at `path` (named by its path in errors) and checks its header.
pub fn open_file(path: &Path) -> Result<RunReader<BufReader<File>>, RunError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| RunError::io(&name, e))?;
    // RunReader reads 64 KiB at a time, so this small buffer is bypassed.
    RunReader::new(BufReader::with_capacity(8 << 10, file), &name)
}
