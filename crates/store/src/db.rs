//! The database handle and its typed operations.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBRawIterator, Options,
    WriteBatch, WriteOptions,
};

use crate::{KeyCodec, Schema, StoreError, ValueCodec};

/// One column family and how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnFamilySpec {
    pub name: &'static str,
    /// Read mostly by point lookups of whole keys: a filter (Ribbon) saves reads.
    /// Tables scanned by prefix go without.
    pub point_lookups: bool,
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read and write, creating the database and missing column families.
    ReadWrite,
    /// Read only; the database must exist with every column family.
    ReadOnly,
}

/// Whether a write waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written to the write-ahead log and synced before returning: survives
    /// a crash once acknowledged.
    Synced,
    /// No write-ahead log: for builds, which are rebuilt rather than recovered
    /// and flush every table before they publish.
    Unlogged,
}

/// What [`Store::stats`] reads from RocksDB, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub block_cache_usage: u64,
    pub block_cache_pinned_usage: u64,
    pub block_cache_capacity: u64,
    /// Per table (column family), its live SST files' size.
    pub sst_bytes: Vec<(&'static str, u64)>,
}

pub struct Store {
    db: DB,
    path: PathBuf,
    cache: Cache,
    families: Vec<ColumnFamilySpec>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `path` with exactly `families` (plus RocksDB's
    /// `default`) and an LRU block cache of `block_cache_bytes` shared by them.
    pub fn open(
        path: &Path,
        families: &[ColumnFamilySpec],
        mode: OpenMode,
        block_cache_bytes: usize,
    ) -> Result<Self, StoreError> {
        let cache = Cache::new_lru_cache(block_cache_bytes);
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_open_files(512);
        let descriptors = families
            .iter()
            .map(|spec| ColumnFamilyDescriptor::new(spec.name, family_options(spec, &cache)));
        let rocks = |source| StoreError::Rocks {
            path: path.to_path_buf(),
            source,
        };
        let db = match mode {
            OpenMode::ReadWrite => {
                options.increase_parallelism(2);
                DB::open_cf_descriptors(&options, path, descriptors).map_err(rocks)?
            }
            OpenMode::ReadOnly => {
                DB::open_cf_descriptors_read_only(&options, path, descriptors, false)
                    .map_err(rocks)?
            }
        };
        Ok(Self {
            db,
            path: path.to_path_buf(),
            cache,
            families: families.to_vec(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn rocks(&self, source: rocksdb::Error) -> StoreError {
        StoreError::Rocks {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn corrupt(
        &self,
        cf: &'static str,
        what: &'static str,
        reason: String,
    ) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            cf,
            what,
            reason,
        }
    }

    fn handle(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| self.corrupt(name, "column family", "not opened with this store".into()))
    }

    pub(crate) fn spec(&self, name: &'static str) -> Result<ColumnFamilySpec, StoreError> {
        self.families
            .iter()
            .find(|spec| spec.name == name)
            .copied()
            .ok_or_else(|| self.corrupt(name, "column family", "not opened with this store".into()))
    }

    pub(crate) fn options_of(&self, spec: &ColumnFamilySpec) -> Options {
        family_options(spec, &self.cache)
    }

    pub(crate) fn decode_value<S: Schema>(&self, bytes: &[u8]) -> Result<S::Value, StoreError> {
        S::Value::decode_value(bytes).map_err(|e| self.corrupt(S::COLUMN_FAMILY, "value", e.0))
    }

    pub(crate) fn decode_key<S: Schema>(&self, bytes: &[u8]) -> Result<S::Key, StoreError> {
        S::Key::decode_key(bytes).map_err(|e| self.corrupt(S::COLUMN_FAMILY, "key", e.0))
    }

    pub fn get<S: Schema>(&self, key: &S::Key) -> Result<Option<S::Value>, StoreError> {
        let bytes = self
            .db
            .get_pinned_cf(self.handle(S::COLUMN_FAMILY)?, key.encode_key())
            .map_err(|e| self.rocks(e))?;
        bytes.map(|b| self.decode_value::<S>(&b)).transpose()
    }

    /// Whether `key` is present, without decoding its value.
    pub fn contains<S: Schema>(&self, key: &S::Key) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get_pinned_cf(self.handle(S::COLUMN_FAMILY)?, key.encode_key())
            .map_err(|e| self.rocks(e))?
            .is_some())
    }

    /// Several keys in one batched read (RocksDB MultiGet), answers in the
    /// order of `keys`.
    pub fn multi_get<S: Schema>(
        &self,
        keys: &[S::Key],
    ) -> Result<Vec<Option<S::Value>>, StoreError> {
        let encoded: Vec<Vec<u8>> = keys.iter().map(KeyCodec::encode_key).collect();
        let sorted = encoded.is_sorted();
        self.db
            .batched_multi_get_cf(self.handle(S::COLUMN_FAMILY)?, &encoded, sorted)
            .into_iter()
            .map(|value| match value.map_err(|e| self.rocks(e))? {
                Some(bytes) => self.decode_value::<S>(&bytes).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    pub fn put<S: Schema>(
        &self,
        key: &S::Key,
        value: &S::Value,
        durability: Durability,
    ) -> Result<(), StoreError> {
        let mut batch = self.batch();
        batch.put::<S>(key, value);
        self.write(batch, durability)
    }

    pub fn batch(&self) -> SchemaBatch {
        SchemaBatch::default()
    }

    /// Writes every row of `batch` atomically.
    pub fn write(&self, batch: SchemaBatch, durability: Durability) -> Result<(), StoreError> {
        if batch.rows.is_empty() {
            return Ok(());
        }
        let mut write = WriteBatch::default();
        for (name, key, value) in &batch.rows {
            write.put_cf(self.handle(name)?, key, value);
        }
        let mut options = WriteOptions::default();
        match durability {
            Durability::Synced => options.set_sync(true),
            Durability::Unlogged => options.disable_wal(true),
        }
        self.db
            .write_opt(write, &options)
            .map_err(|e| self.rocks(e))
    }

    /// A cursor over schema `S`'s table, not yet positioned.
    pub fn iter<S: Schema>(&self) -> Result<SchemaIterator<'_, S>, StoreError> {
        Ok(SchemaIterator {
            store: self,
            inner: self.db.raw_iterator_cf(self.handle(S::COLUMN_FAMILY)?),
            schema: PhantomData,
        })
    }

    /// Every row of `S` in key order.
    pub fn for_each<S: Schema, E: From<StoreError>>(
        &self,
        mut visit: impl FnMut(S::Key, S::Value) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut iter = self.iter::<S>()?;
        iter.seek_to_first();
        while let Some((key, value)) = iter.entry().transpose()? {
            visit(key, value)?;
            iter.next();
        }
        iter.status()?;
        Ok(())
    }

    /// Every row of column family `name` as stored bytes, in key order (for
    /// digests over the logical contents, which must not depend on codecs).
    pub fn for_each_raw(
        &self,
        name: &'static str,
        mut visit: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.handle(name)?);
        iter.seek_to_first();
        while iter.valid() {
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            visit(key, value);
            iter.next();
        }
        iter.status().map_err(|e| self.rocks(e))
    }

    /// Bytes of the SST files of column family `name` (compressed, on disk).
    pub fn sst_bytes(&self, name: &'static str) -> Result<u64, StoreError> {
        Ok(self
            .db
            .property_int_value_cf(self.handle(name)?, "rocksdb.total-sst-files-size")
            .map_err(|e| self.rocks(e))?
            .unwrap_or(0))
    }

    /// RocksDB's own figures for metrics: the shared block cache's usage,
    /// pinned usage and capacity, and each table's live SST bytes (RocksDB
    /// properties, read without touching the data).
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats::default();
        for (n, spec) in self.families.iter().enumerate() {
            let handle = self.handle(spec.name)?;
            let property = |name: &str| {
                self.db
                    .property_int_value_cf(handle, name)
                    .map_err(|e| self.rocks(e))
                    .map(Option::unwrap_or_default)
            };
            // Every table shares one cache: read its figures once.
            if n == 0 {
                stats.block_cache_usage = property("rocksdb.block-cache-usage")?;
                stats.block_cache_pinned_usage = property("rocksdb.block-cache-pinned-usage")?;
                stats.block_cache_capacity = property("rocksdb.block-cache-capacity")?;
            }
            stats
                .sst_bytes
                .push((spec.name, property("rocksdb.live-sst-files-size")?));
        }
        Ok(stats)
    }

    /// Compacts schema `S`'s whole table.
    pub fn compact<S: Schema>(&self) -> Result<(), StoreError> {
        self.db
            .compact_range_cf(self.handle(S::COLUMN_FAMILY)?, None::<&[u8]>, None::<&[u8]>);
        Ok(())
    }

    /// Flushes every table's memtable to SST files and syncs the log: after
    /// unlogged writes, the database on disk then holds them all.
    pub fn flush_all(&self) -> Result<(), StoreError> {
        for spec in &self.families {
            self.db
                .flush_cf(self.handle(spec.name)?)
                .map_err(|e| self.rocks(e))?;
        }
        self.db.flush_wal(true).map_err(|e| self.rocks(e))
    }

    pub(crate) fn ingest(&self, name: &'static str, sst: &Path) -> Result<(), StoreError> {
        let mut ingest = rocksdb::IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        self.db
            .ingest_external_file_cf_opts(self.handle(name)?, &ingest, vec![sst])
            .map_err(|e| self.rocks(e))
    }
}

/// Uncompressed bytes of a data block. Larger than RocksDB's 4 KiB because
/// each block is compressed alone: records in key (random id) order share
/// host names, URL paths and field names only across many rows: 32 KiB
/// blocks store `captures` in 17 % fewer bytes than 4 KiB ones, `contents`
/// and the key-only tables in 2–10 % fewer (issue 17, with LZ4).
/// A point lookup missing the block cache reads and decompresses one block.
const BLOCK_BYTES: usize = 32 << 10;
/// Zstandard level of every table's blocks. Zstandard, not LZ4: its entropy
/// coding stores the hex and base32 ids, URL text and band keys LZ4 keeps as
/// literals in fewer bytes (issue 17).
const ZSTD_LEVEL: i32 = 3;
/// Keys between restart points (full keys) in a block; the others keep only
/// the bytes after the prefix they share with the previous key. 32, not
/// RocksDB's 16: fewer full keys, a longer scan within a block on a seek.
const BLOCK_RESTART_INTERVAL: i32 = 32;

fn family_options(spec: &ColumnFamilySpec, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_block_size(BLOCK_BYTES);
    table.set_block_restart_interval(BLOCK_RESTART_INTERVAL);
    if spec.point_lookups {
        // A Ribbon filter: the false-positive rate of a 10-bit Bloom filter
        // in about 30 % less space.
        table.set_ribbon_filter(10.0);
    }
    table.set_cache_index_and_filter_blocks(true);
    let mut options = Options::default();
    options.set_block_based_table_factory(&table);
    options.set_compression_type(rocksdb::DBCompressionType::Zstd);
    // RocksDB's default window; no dictionary.
    options.set_compression_options(-14, ZSTD_LEVEL, 0, 0);
    options
}

/// One decoded row of schema `S`.
pub type Row<S> = (<S as Schema>::Key, <S as Schema>::Value);

/// Rows of any schemas, encoded, written together by [`Store::write`].
#[derive(Debug, Default)]
pub struct SchemaBatch {
    rows: Vec<(&'static str, Vec<u8>, Vec<u8>)>,
    bytes: usize,
}

impl SchemaBatch {
    pub fn put<S: Schema>(&mut self, key: &S::Key, value: &S::Value) {
        let (key, value) = (key.encode_key(), value.encode_value());
        self.bytes += key.len() + value.len();
        self.rows.push((S::COLUMN_FAMILY, key, value));
    }

    /// A row as stored bytes, into column family `name` (copying rows
    /// between databases of the same schemas, without decoding them).
    pub fn put_raw(&mut self, name: &'static str, key: &[u8], value: &[u8]) {
        self.bytes += key.len() + value.len();
        self.rows.push((name, key.to_vec(), value.to_vec()));
    }

    /// Bytes of keys and values held.
    pub fn size_in_bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A cursor over one schema's table. Positioning takes encoded keys or key
/// prefixes (a prefix of an encoded key is where a range begins); rows come
/// back decoded by the schema's codecs, and [`Self::key_bytes`] gives the
/// encoded key for prefix checks and resume tokens.
pub struct SchemaIterator<'a, S: Schema> {
    store: &'a Store,
    inner: DBRawIterator<'a>,
    schema: PhantomData<S>,
}

impl<S: Schema> SchemaIterator<'_, S> {
    pub fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
    }

    pub fn seek_to_last(&mut self) {
        self.inner.seek_to_last();
    }

    /// The first row whose encoded key is ≥ `bytes`.
    pub fn seek(&mut self, bytes: &[u8]) {
        self.inner.seek(bytes);
    }

    pub fn seek_key(&mut self, key: &S::Key) {
        self.inner.seek(key.encode_key());
    }

    /// The last row whose encoded key is ≤ `bytes`.
    pub fn seek_for_prev(&mut self, bytes: &[u8]) {
        self.inner.seek_for_prev(bytes);
    }

    pub fn valid(&self) -> bool {
        self.inner.valid()
    }

    pub fn next(&mut self) {
        self.inner.next();
    }

    pub fn prev(&mut self) {
        self.inner.prev();
    }

    pub fn key_bytes(&self) -> Option<&[u8]> {
        if self.inner.valid() {
            self.inner.key()
        } else {
            None
        }
    }

    /// The current row's key, `None` past the end.
    pub fn key(&self) -> Option<Result<S::Key, StoreError>> {
        self.key_bytes()
            .map(|bytes| self.store.decode_key::<S>(bytes))
    }

    /// The current row, `None` past the end.
    pub fn entry(&self) -> Option<Result<Row<S>, StoreError>> {
        if !self.inner.valid() {
            return None;
        }
        let (key, value) = (self.inner.key()?, self.inner.value()?);
        Some(
            self.store
                .decode_key::<S>(key)
                .and_then(|k| Ok((k, self.store.decode_value::<S>(value)?))),
        )
    }

    /// The error that ended the iteration early, if any (call after the loop:
    /// an invalid cursor is either the end or an error).
    pub fn status(&self) -> Result<(), StoreError> {
        self.inner.status().map_err(|e| self.store.rocks(e))
    }
}
