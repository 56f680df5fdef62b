//! Tables written as SST files: rows that nothing reads while a database is
//! being built are sorted externally ([`provindex_runs::ExternalSorter`]),
//! written as one SST file with the column family's own options
//! (`SstFileWriter`: block size, filter, Zstandard) and ingested. Rows with a
//! key already written collapse to the first. SST blocks carry RocksDB's
//! checksums, verified on ingestion.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use provindex_runs::ExternalSorter;
use rocksdb::SstFileWriter;

use crate::db::Row;
use crate::{KeyCodec, Schema, Store, StoreError, ValueCodec};

/// A key and a value as stored.
type EncodedRow = (Vec<u8>, Vec<u8>);

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
        let dir = self.dir.clone();
        let rows = self.into_sorted()?;
        write_sst::<S, StoreError>(store, &dir, |sst| {
            for row in rows {
                let (key, value) = row?;
                sst.put_encoded(&key, &value)?;
            }
            Ok(())
        })
    }

    /// The rows in key order, one per key (the first pushed), still encoded.
    /// The staging directory stays until the caller removes it.
    pub fn into_sorted(
        self,
    ) -> Result<impl Iterator<Item = Result<EncodedRow, StoreError>>, StoreError> {
        let dir = self.dir;
        let runs = self.sorter.finish().map_err(|e| staging_error(&dir, e))?;
        let readers = runs
            .iter()
            .map(|(path, _)| provindex_runs::open_file(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| staging_error(&dir, e))?;
        let mut last: Option<Vec<u8>> = None;
        Ok(
            provindex_runs::merge(readers).filter_map(move |item| match item {
                Err(e) => Some(Err(staging_error(&dir, e))),
                Ok((key, value)) => {
                    if last.as_deref() == Some(key.as_slice()) {
                        return None;
                    }
                    last = Some(key.clone());
                    Some(Ok((key, value)))
                }
            }),
        )
    }

    /// [`Self::into_sorted`], decoded by the schema's codecs.
    pub fn into_sorted_rows(
        self,
    ) -> Result<impl Iterator<Item = Result<Row<S>, StoreError>>, StoreError> {
        let dir = self.dir.clone();
        let decode = move |(key, value): (Vec<u8>, Vec<u8>)| {
            let corrupt = |what, reason: String| StoreError::Corrupt {
                path: dir.clone(),
                cf: S::COLUMN_FAMILY,
                what,
                reason,
            };
            let key = S::Key::decode_key(&key).map_err(|e| corrupt("key", e.0))?;
            let value = S::Value::decode_value(&value).map_err(|e| corrupt("value", e.0))?;
            Ok((key, value))
        };
        Ok(self.into_sorted()?.map(move |row| row.and_then(&decode)))
    }
}

/// Writes schema `S`'s rows as one SST file in `dir` (created if missing),
/// with the options of `store`'s table (block size, filter,
/// compression), then ingests it: a table written once, without passing
/// through the memtable. `fill` must add keys in strictly ascending order.
/// Returns the rows written.
pub fn write_sst<S: Schema, E: From<StoreError>>(
    store: &Store,
    dir: &Path,
    fill: impl FnOnce(&mut SstSink<'_, '_, S>) -> Result<(), E>,
) -> Result<u64, E> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let spec = store.spec(S::COLUMN_FAMILY)?;
    let options = store.options_of(&spec);
    let path = dir.join(format!("{}.sst", S::COLUMN_FAMILY));
    let rocks = |source| StoreError::Rocks {
        path: path.clone(),
        source,
    };
    let mut writer = SstFileWriter::create(&options);
    writer.open(&path).map_err(rocks)?;
    let mut sink = SstSink {
        writer: &mut writer,
        path: &path,
        rows: 0,
        last: None,
        schema: PhantomData,
    };
    fill(&mut sink)?;
    let rows = sink.rows;
    if rows == 0 {
        drop(writer);
        let _ = std::fs::remove_file(&path);
        return Ok(0);
    }
    writer.finish().map_err(rocks)?;
    store.ingest(S::COLUMN_FAMILY, &path)?;
    Ok(rows)
}

/// The rows of one SST file being written by [`write_sst`].
pub struct SstSink<'s, 'o, S: Schema> {
    writer: &'s mut SstFileWriter<'o>,
    path: &'s Path,
    rows: u64,
    last: Option<Vec<u8>>,
    schema: PhantomData<S>,
}

impl<S: Schema> SstSink<'_, '_, S> {
    pub fn put(&mut self, key: &S::Key, value: &S::Value) -> Result<(), StoreError> {
        self.put_encoded(&key.encode_key(), &value.encode_value())
    }

    fn put_encoded(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if self.last.as_deref().is_some_and(|last| last >= key) {
            return Err(StoreError::Corrupt {
                path: self.path.to_path_buf(),
                cf: S::COLUMN_FAMILY,
                what: "key order",
                reason: "SST rows must come in strictly ascending key order".into(),
            });
        }
        self.writer
            .put(key, value)
            .map_err(|source| StoreError::Rocks {
                path: self.path.to_path_buf(),
                source,
            })?;
        self.last = Some(key.to_vec());
        self.rows += 1;
        Ok(())
    }
}
