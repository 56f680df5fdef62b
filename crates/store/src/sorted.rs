//! Tables written as SST files: rows that nothing reads while a database is
//! being built are sorted externally ([`provindex_runs::ExternalSorter`]),
//! written as one SST file with the column family's own options
//! (`SstFileWriter`: block size, Bloom filter, LZ4) and ingested. Rows with a
//! key already written collapse to the first. SST blocks carry RocksDB's
//! checksums, verified on ingestion.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use provindex_runs::ExternalSorter;
use rocksdb::SstFileWriter;

use crate::{KeyCodec, Schema, Store, StoreError, ValueCodec};

pub struct SortedTable<S: Schema> {
    dir: PathBuf,
    sorter: ExternalSorter,
    rows: u64,
    schema: PhantomData<S>,
}

fn staging_error(dir: &Path, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(reason.to_string()),
    }
}

impl<S: Schema> SortedTable<S> {
    /// Sorted runs spill to `dir` once `budget_bytes` are held in memory.
    pub fn new(dir: &Path, budget_bytes: usize) -> Self {
        let dir = dir.join(S::COLUMN_FAMILY);
        Self {
            sorter: ExternalSorter::new(dir.clone(), S::COLUMN_FAMILY, budget_bytes),
            dir,
            rows: 0,
            schema: PhantomData,
        }
    }

    pub fn push(&mut self, key: &S::Key, value: &S::Value) -> Result<(), StoreError> {
        self.rows += 1;
        self.sorter
            .push(key.encode_key(), value.encode_value())
            .map_err(|e| staging_error(&self.dir, e))
    }

    /// Rows pushed (before duplicates collapse).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the rows as one SST file and ingests it into `store`'s table of
    /// `S`; returns the distinct rows written. Removes the staging directory.
    pub fn ingest(self, store: &Store) -> Result<u64, StoreError> {
        let dir = self.dir.clone();
        let written = self.write_and_ingest(store);
        let _ = std::fs::remove_dir_all(&dir);
        written
    }

    fn write_and_ingest(self, store: &Store) -> Result<u64, StoreError> {
        let dir = self.dir;
        let runs = self.sorter.finish().map_err(|e| staging_error(&dir, e))?;
        if runs.is_empty() {
            return Ok(0);
        }
        let readers = runs
            .iter()
            .map(|(path, _)| provindex_runs::open_file(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| staging_error(&dir, e))?;
        let spec = store.spec(S::COLUMN_FAMILY)?;
        let options = store.options_of(&spec);
        let mut writer = SstFileWriter::create(&options);
        let sst = dir.join(format!("{}.sst", S::COLUMN_FAMILY));
        let rocks = |source| StoreError::Rocks {
            path: sst.clone(),
            source,
        };
        writer.open(&sst).map_err(rocks)?;
        let mut last: Option<Vec<u8>> = None;
        let mut written = 0u64;
        for item in provindex_runs::merge(readers) {
            let (key, value) = item.map_err(|e| staging_error(&dir, e))?;
            if last.as_deref() == Some(key.as_slice()) {
                continue;
            }
            writer.put(&key, &value).map_err(rocks)?;
            written += 1;
            last = Some(key);
        }
        writer.finish().map_err(rocks)?;
        store.ingest(S::COLUMN_FAMILY, &sst)?;
        Ok(written)
    }
}
