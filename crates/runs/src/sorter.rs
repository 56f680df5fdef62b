use std::fs::{self, File};
use std::path::PathBuf;

use crate::{RunError, RunInfo, RunWriter};

/// Bytes charged per buffered record on top of its key and value: the two
/// `Vec` headers of the buffered pair.
const RECORD_OVERHEAD: usize = 2 * size_of::<Vec<u8>>();

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
pub struct ExternalSorter {
    dir: PathBuf,
    prefix: String,
    budget: usize,
    buffer: Vec<(Vec<u8>, Vec<u8>)>,
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
            buffer: Vec::new(),
            buffered_bytes: 0,
            runs: Vec::new(),
        }
    }

    /// Adds a record, spilling the buffer first if the record would not fit.
    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), RunError> {
        let size = key.len() + value.len() + RECORD_OVERHEAD;
        if !self.buffer.is_empty() && self.buffered_bytes.saturating_add(size) > self.budget {
            self.spill()?;
        }
        self.buffer.push((key, value));
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
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        Ok(self.runs)
    }

    fn spill(&mut self) -> Result<(), RunError> {
        let path = self
            .dir
            .join(format!("{}-{:05}.run", self.prefix, self.runs.len()));
        let name = path.display().to_string();
        self.buffer.sort_by(|a, b| a.0.cmp(&b.0));
        fs::create_dir_all(&self.dir).map_err(|e| RunError::io(&name, e))?;
        let file = File::create(&path).map_err(|e| RunError::io(&name, e))?;
        let mut writer = RunWriter::new(file, &name)?;
        for (key, value) in self.buffer.drain(..) {
            writer.push(&key, &value)?;
        }
        let (info, _file) = writer.finish()?;
        self.buffered_bytes = 0;
        self.runs.push((path, info));
        Ok(())
    }
}
