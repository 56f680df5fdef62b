//! Bulk tables: rows that nothing reads while the index is being built
//! (`signatures`, `lsh`, `content_captures`) are not written through the
//! memtable. They are sorted externally ([`provindex_runs::ExternalSorter`]),
//! written as one SST file per table with RocksDB's `SstFileWriter` (the
//! column family's own options: block size, Bloom filter, LZ4) and ingested
//! before the build's final passes. Identical rows written twice (the same
//! content seen in several captures) collapse to one; SST blocks carry
//! RocksDB's checksums, verified on ingestion.

use std::path::{Path, PathBuf};

use provindex_runs::ExternalSorter;
use rocksdb::{Cache, DB, IngestExternalFileOptions, SstFileWriter};

use crate::IndexError;
use crate::schema;

/// Memory per bulk table before a sorted run is spilled to disk.
const SORT_BUDGET: usize = 32 << 20;

pub(crate) struct BulkTables {
    dir: PathBuf,
    tables: Vec<(&'static str, ExternalSorter)>,
}

fn staging_error(dir: &Path, reason: impl std::fmt::Display) -> IndexError {
    IndexError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(reason.to_string()),
    }
}

impl BulkTables {
    /// Sorted runs go to `dir` (removed by [`Self::ingest`]).
    pub(crate) fn new(dir: PathBuf, names: &[&'static str]) -> Self {
        let tables = names
            .iter()
            .map(|name| {
                (
                    *name,
                    ExternalSorter::new(dir.join(name), name, SORT_BUDGET),
                )
            })
            .collect();
        Self { dir, tables }
    }

    pub(crate) fn put(
        &mut self,
        cf: &'static str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), IndexError> {
        let dir = self.dir.clone();
        let (_, sorter) = self
            .tables
            .iter_mut()
            .find(|(name, _)| *name == cf)
            .ok_or_else(|| staging_error(&dir, format!("{cf} is not a bulk table")))?;
        sorter
            .push(key.to_vec(), value.to_vec())
            .map_err(|e| staging_error(&dir, e))
    }

    /// Writes one SST per table and ingests it into the table's column family.
    pub(crate) fn ingest(self, db: &DB, cache: &Cache) -> Result<(), IndexError> {
        let dir = self.dir.clone();
        let rocks = |source| IndexError::Rocks {
            path: dir.clone(),
            source,
        };
        for (name, sorter) in self.tables {
            let runs = sorter.finish().map_err(|e| staging_error(&dir, e))?;
            if runs.is_empty() {
                continue;
            }
            let readers = runs
                .iter()
                .map(|(path, _)| provindex_runs::open_file(path))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| staging_error(&dir, e))?;
            let options = schema::cf_options(name, cache);
            let mut writer = SstFileWriter::create(&options);
            let sst = dir.join(format!("{name}.sst"));
            writer.open(&sst).map_err(rocks)?;
            let mut last: Option<Vec<u8>> = None;
            for item in provindex_runs::merge(readers) {
                let (key, value) = item.map_err(|e| staging_error(&dir, e))?;
                if last.as_deref() == Some(key.as_slice()) {
                    continue; // the same row again
                }
                writer.put(&key, &value).map_err(rocks)?;
                last = Some(key);
            }
            writer.finish().map_err(rocks)?;
            let cf = db
                .cf_handle(name)
                .ok_or_else(|| staging_error(&dir, format!("no column family {name}")))?;
            let mut ingest = IngestExternalFileOptions::default();
            ingest.set_move_files(true);
            db.ingest_external_file_cf_opts(cf, &ingest, vec![&sst])
                .map_err(rocks)?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
