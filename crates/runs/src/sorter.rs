use std::cmp::Ordering;
use std::fs::{self, File};
use std::path::PathBuf;

use crate::{RunError, RunInfo, RunWriter};

/// Bytes charged per buffered record on top of its key and value. It was the
/// size of the two `Vec` headers of a buffered pair; it stays 48 so that runs
/// are spilled at the same records as before (their files are part of what
/// the build's output is decided by).
const RECORD_OVERHEAD: usize = 48;

/// A buffered record: its bytes in the arena are
/// `[start, start + key_len)` (key) and then `value_len` bytes of value.
struct Entry {
    /// The key's first 8 bytes, big-endian, zero-padded: most comparisons of
    /// the sort end here without touching the arena.
    prefix: u64,
    start: usize,
    key_len: usize,
    value_len: usize,
}

/// External sort into run files.
///
/// Buffers records until adding the next would take the buffer over
/// `budget_bytes` (key + value + [`RECORD_OVERHEAD`] per record; a single
/// record larger than the budget is buffered alone), then sorts the buffer by
/// key — stably, so equal keys keep push order — and spills it as the run file
/// `{dir}/{prefix}-{n:05}.run` (`n` from 0; `dir` is created if missing, an
/// existing file of that name is overwritten). Merging the returned runs with
/// [`crate::merge`] in the returned order gives the stable sort of everything
/// pushed. Spilled files are the caller's: nothing deletes them, also not when
/// the sorter is dropped without [`ExternalSorter::finish`].
///
/// Records are copied into one arena buffer (no allocation per record) and
/// sorted as small entries pointing into it.
pub struct ExternalSorter {
    dir: PathBuf,
    prefix: String,
    budget: usize,
    arena: Vec<u8>,
    entries: Vec<Entry>,
    buffered_bytes: usize,
    runs: Vec<(PathBuf, RunInfo)>,
}

impl ExternalSorter {
    /// A sorter spilling into `dir` with file names starting with `prefix`.
    pub fn new(dir: impl Into<PathBuf>, prefix: &str, budget_bytes: usize) -> Self {
        ExternalSorter {
            dir: dir.into(),
            prefix: prefix.to_owned(),
            budget: budget_bytes,
            arena: Vec::new(),
            entries: Vec::new(),
            buffered_bytes: 0,
            runs: Vec::new(),
        }
    }

    /// Adds a record (copied), spilling the buffer first if the record would
    /// not fit.
    pub fn push(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), RunError> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let size = key.len() + value.len() + RECORD_OVERHEAD;
        if !self.entries.is_empty() && self.buffered_bytes.saturating_add(size) > self.budget {
            self.spill()?;
        }
        let mut prefix = [0; 8];
        let n = key.len().min(8);
        prefix[..n].copy_from_slice(&key[..n]);
        self.entries.push(Entry {
            prefix: u64::from_be_bytes(prefix),
            start: self.arena.len(),
            key_len: key.len(),
            value_len: value.len(),
        });
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.buffered_bytes += size;
        Ok(())
    }

    /// Number of run files spilled so far.
    pub fn spilled(&self) -> usize {
        self.runs.len()
    }

    /// Spills what is buffered and returns every run file in spill order.
    /// No records pushed gives no runs.
    pub fn finish(mut self) -> Result<Vec<(PathBuf, RunInfo)>, RunError> {
        if !self.entries.is_empty() {
            self.spill()?;
        }
        Ok(self.runs)
    }

    fn spill(&mut self) -> Result<(), RunError> {
        let path = self
            .dir
            .join(format!("{}-{:05}.run", self.prefix, self.runs.len()));
        let name = path.display().to_string();
        let arena = &self.arena;
        let key = |e: &Entry| &arena[e.start..e.start + e.key_len];
        // Equal keys in push order, i.e. arena order: with that tie-break the
        // order is total and an unstable sort gives the stable one.
        self.entries.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| {
                    if a.key_len <= 8 && b.key_len <= 8 && a.key_len == b.key_len {
                        // The prefixes are the whole keys.
                        Ordering::Equal
                    } else {
                        key(a).cmp(key(b))
                    }
                })
                .then(a.start.cmp(&b.start))
        });
        fs::create_dir_all(&self.dir).map_err(|e| RunError::io(&name, e))?;
        let file = File::create(&path).map_err(|e| RunError::io(&name, e))?;
        let written = self.write(file, &name);
        // Emptied also on a failed write, as the buffer was before.
        self.entries.clear();
        self.arena.clear();
        let info = written?;
        self.buffered_bytes = 0;
        self.runs.push((path, info));
        Ok(())
    }

    fn write(&self, file: File, name: &str) -> Result<RunInfo, RunError> {
        let mut writer = RunWriter::new(file, name)?;
        for e in &self.entries {
            let key_end = e.start + e.key_len;
            writer.push(
                &self.arena[e.start..key_end],
                &self.arena[key_end..key_end + e.value_len],
            )?;
        }
        Ok(writer.finish()?.0)
    }
}
