use std::fs::File;
use std::io::{self, BufReader, ErrorKind, Read};
use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use crate::{
    END_MARKER, HEADER_MAGIC, IO_BUF, MAX_FIELD_LEN, Record, RunError, RunInfo, TRAILER_MAGIC,
};

/// Fields up to this size are read into a buffer allocated up front; larger
/// ones grow as bytes actually arrive, so a corrupt length cannot make the
/// reader allocate more than the data it has seen (plus this much).
const EAGER_ALLOC: usize = 1 << 20;

/// Streams the records of a run back, checking framing and key order as it
/// goes and the footer and trailer at the end. Input is buffered internally.
///
/// A damaged run yields `Some(Err(RunError::Corrupt { .. }))` once and then
/// `None`; an I/O failure likewise yields `RunError::Io` once. Records before
/// the damage have already been yielded: only reaching `None` without an error
/// proves the whole run intact.
pub struct RunReader<R: Read> {
    inner: BufReader<R>,
    name: String,
    hasher: Xxh3,
    /// Bytes consumed so far.
    offset: u64,
    records: u64,
    last_key: Vec<u8>,
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
            inner: BufReader::with_capacity(IO_BUF, inner),
            name: name.to_owned(),
            hasher: Xxh3::new(),
            offset: 0,
            records: 0,
            last_key: Vec::new(),
            state: State::Records,
        };
        let mut magic = [0u8; 6];
        reader.read_exact(&mut magic, "header")?;
        if &magic != HEADER_MAGIC {
            return Err(RunError::corrupt(
                name,
                0,
                "bad header magic (not a run file)",
            ));
        }
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

    fn map_io(&self, e: io::Error, what: &str) -> RunError {
        if e.kind() == ErrorKind::UnexpectedEof {
            RunError::corrupt(
                &self.name,
                self.offset,
                format!("truncated: file ends inside the {what}"),
            )
        } else {
            RunError::io(&self.name, e)
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), RunError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.map_io(e, what)),
        }
    }

    fn read_field(&mut self, len: usize, what: &str) -> Result<Vec<u8>, RunError> {
        let buf = if len <= EAGER_ALLOC {
            let mut buf = vec![0u8; len];
            match self.inner.read_exact(&mut buf) {
                Ok(()) => buf,
                Err(e) => return Err(self.map_io(e, what)),
            }
        } else {
            let mut buf = Vec::with_capacity(EAGER_ALLOC);
            if let Err(e) = (&mut self.inner).take(len as u64).read_to_end(&mut buf) {
                return Err(self.map_io(e, what));
            }
            if buf.len() != len {
                return Err(self.map_io(ErrorKind::UnexpectedEof.into(), what));
            }
            buf
        };
        self.offset += len as u64;
        Ok(buf)
    }

    fn next_record(&mut self) -> Result<Option<Record>, RunError> {
        let start = self.offset;
        let mut len_buf = [0u8; 4];
        self.read_exact(&mut len_buf, "key length")?;
        let key_len = u32::from_be_bytes(len_buf);
        if key_len == END_MARKER {
            self.finish_footer(start)?;
            return Ok(None);
        }
        self.hasher.update(&len_buf);
        let key_len = key_len as usize;
        if key_len > MAX_FIELD_LEN {
            return Err(RunError::corrupt(
                &self.name,
                start,
                format!("key length {key_len} exceeds the limit of {MAX_FIELD_LEN}"),
            ));
        }
        self.read_exact(&mut len_buf, "value length")?;
        self.hasher.update(&len_buf);
        let value_len = u32::from_be_bytes(len_buf) as usize;
        if value_len > MAX_FIELD_LEN {
            return Err(RunError::corrupt(
                &self.name,
                start + 4,
                format!("value length {value_len} exceeds the limit of {MAX_FIELD_LEN}"),
            ));
        }
        let key_at = self.offset;
        let key = self.read_field(key_len, "key")?;
        let value = self.read_field(value_len, "value")?;
        self.hasher.update(&key);
        self.hasher.update(&value);
        if self.records > 0 && key < self.last_key {
            return Err(RunError::corrupt(
                &self.name,
                key_at,
                format!(
                    "record {} has a key smaller than the previous record's",
                    self.records
                ),
            ));
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(&key);
        self.records += 1;
        Ok(Some((key, value)))
    }

    /// Reads and checks the footer and trailer after the end marker at `end_at`.
    fn finish_footer(&mut self, end_at: u64) -> Result<(), RunError> {
        let footer_at = self.offset;
        let mut footer = [0u8; 16];
        self.read_exact(&mut footer, "footer")?;
        let mut trailer = [0u8; 6];
        self.read_exact(&mut trailer, "trailer")?;
        let count = u64::from_be_bytes(footer[..8].try_into().expect("8 bytes"));
        let checksum = u64::from_be_bytes(footer[8..].try_into().expect("8 bytes"));
        if count != self.records {
            return Err(RunError::corrupt(
                &self.name,
                footer_at,
                format!("footer says {count} records, found {}", self.records),
            ));
        }
        let actual = self.hasher.digest();
        if checksum != actual {
            return Err(RunError::corrupt(
                &self.name,
                footer_at + 8,
                format!("checksum mismatch: footer {checksum:016x}, records {actual:016x}"),
            ));
        }
        if &trailer != TRAILER_MAGIC {
            return Err(RunError::corrupt(
                &self.name,
                footer_at + 16,
                "bad trailer magic",
            ));
        }
        let mut extra = [0u8; 1];
        loop {
            match self.inner.read(&mut extra) {
                Ok(0) => break,
                Ok(_) => {
                    return Err(RunError::corrupt(
                        &self.name,
                        self.offset,
                        "trailing data after the trailer",
                    ));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(RunError::io(&self.name, e)),
            }
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

impl<R: Read> Iterator for RunReader<R> {
    type Item = Result<Record, RunError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != State::Records {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => {
                self.state = State::Failed;
                Some(Err(e))
            }
        }
    }
}

/// Opens the run file at `path` (named by its path in errors) and checks its header.
pub fn open_file(path: &Path) -> Result<RunReader<BufReader<File>>, RunError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| RunError::io(&name, e))?;
    // RunReader buffers 64 KiB at a time, so this small buffer is bypassed.
    RunReader::new(BufReader::with_capacity(8 << 10, file), &name)
}
