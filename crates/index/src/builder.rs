//! Single-writer index build: captures, contents and their links are written
//! in batches grouped per column family; per-content aggregates (capture count,
//! first seen) are derived in one ordered pass over `content_captures` at the
//! end, so the result does not depend on the order records arrived in.

use std::path::{Path, PathBuf};

use probabilistic_collections::bloom::ScalableBloomFilter;
use prost::Message;
use rocksdb::{Cache, DB, WriteBatch};

use crate::keys::{self, ID_LEN};
use crate::records::{self, CaptureRecord, ContentRecord};
use crate::schema::{
    self, CAPTURES, CLUSTERS, CONTENT_CAPTURES, CONTENT_SHA256, CONTENTS, LSH, META, SIGNATURES,
    URLS,
};
use crate::{IndexError, Manifest, manifest::FORMAT_VERSION};

/// Flush a batch to RocksDB once it holds this many bytes.
const BATCH_BYTES: usize = 8 << 20;

// In-place capture updates (site-signal pass): `impl IndexBuilder` in update.rs.
#[path = "update.rs"]
mod update;
pub use update::CaptureUpdates;

/// Identity and facts of one distinct normalized text.
#[derive(Debug, Clone)]
pub struct NewContent {
    pub content_id: u128,
    pub sha256: [u8; 32],
    pub length_bytes: u64,
    pub token_count: u64,
    pub preview: String,
    /// Detected language (ISO 639-3), empty when unknown.
    pub language: String,
}

/// What the caller knows about the build as a whole.
#[derive(Debug, Clone, Default)]
pub struct BuildFacts {
    pub normalization_version: u32,
    pub crawls: Vec<String>,
    pub inputs: Vec<String>,
    pub read_errors: u64,
    pub built_at: i64,
    /// Text form of the sketch spec the signatures were computed with (empty: none).
    pub sketch_spec: String,
}

/// Counts reported by [`IndexBuilder::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct BuildSummary {
    pub manifest: Manifest,
}

pub struct IndexBuilder {
    db: DB,
    cache: Cache,
    /// `signatures`, `lsh`, `content_captures`: sorted and ingested as SSTs.
    bulk: Option<crate::bulk::BulkTables>,
    path: PathBuf,
    batch: WriteBatch,
    // Detects a capture_id seen before without a read per capture; a "maybe"
    // is confirmed against the database.
    seen_captures: ScalableBloomFilter<u128>,
    captures: u64,
    urls: u64,
    duplicate_captures: u64,
    clusters: u64,
    clustered_contents: u64,
}

impl IndexBuilder {
    /// Creates a new index at `path`, which must not exist or be an empty directory.
    pub fn create(path: &Path) -> Result<Self, IndexError> {
        if path.exists() {
            let mut entries = std::fs::read_dir(path).map_err(|source| IndexError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            if entries.next().is_some() {
                return Err(IndexError::AlreadyExists(path.to_path_buf()));
            }
        }
        let cache = Cache::new_lru_cache(64 << 20);
        let bulk_dir = {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "index".into());
            path.with_file_name(format!(".{name}.bulk"))
        };
        if bulk_dir.exists() {
            // Left by a build that did not finish.
            std::fs::remove_dir_all(&bulk_dir).map_err(|source| IndexError::Io {
                path: bulk_dir.clone(),
                source,
            })?;
        }
        let mut options = schema::db_options();
        options.increase_parallelism(2);
        let db = DB::open_cf_descriptors(&options, path, schema::column_families(&cache)).map_err(
            |source| IndexError::Rocks {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Ok(Self {
            db,
            bulk: Some(crate::bulk::BulkTables::new(
                bulk_dir,
                &[SIGNATURES, LSH, CONTENT_CAPTURES],
            )),
            cache,
            path: path.to_path_buf(),
            batch: WriteBatch::default(),
            seen_captures: ScalableBloomFilter::new(1 << 16, 0.01, 2.0, 0.5),
            captures: 0,
            urls: 0,
            duplicate_captures: 0,
            clusters: 0,
            clustered_contents: 0,
        })
    }

    fn rocks(&self, source: rocksdb::Error) -> IndexError {
        IndexError::Rocks {
            path: self.path.clone(),
            source,
        }
    }

    fn cf(&self, name: &'static str) -> &rocksdb::ColumnFamily {
        // Every name in schema::ALL is created by `create`; a missing one is a bug here.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} was created with the database"))
    }

    /// The content of a capture already added: `None` when there is no such
    /// capture, `Some(None)` when it has no text.
    pub fn capture_content(
        &mut self,
        capture_id: u128,
    ) -> Result<Option<Option<u128>>, IndexError> {
        self.flush()?;
        let bytes = self
            .db
            .get_pinned_cf(self.cf(CAPTURES), keys::id_key(capture_id))
            .map_err(|e| self.rocks(e))?;
        match bytes {
            None => Ok(None),
            Some(bytes) => Ok(Some(
                records::decode::<CaptureRecord>(CAPTURES, &bytes)?.content_id(),
            )),
        }
    }

    /// The content of a capture of `surt` at `time` (any time when `None`):
    /// the first such capture in key order, preferring one with text. `None`
    /// when there is no such capture, `Some(None)` when none has text.
    pub fn url_content(
        &mut self,
        surt: &str,
        time: Option<i64>,
    ) -> Result<Option<Option<u128>>, IndexError> {
        self.flush()?;
        let mut prefix = surt.as_bytes().to_vec();
        prefix.push(keys::SURT_TERMINATOR);
        if let Some(time) = time {
            prefix.extend_from_slice(&keys::encode_time(time));
        }
        let mut candidates = Vec::new();
        {
            let mut iter = self.db.raw_iterator_cf(self.cf(URLS));
            iter.seek(&prefix);
            while iter.valid() && candidates.len() < 64 {
                let Some(key) = iter.key() else { break };
                if !key.starts_with(&prefix) {
                    break;
                }
                if let Some(url_key) = keys::decode_url_key(key) {
                    candidates.push(url_key.capture_id);
                }
                iter.next();
            }
            iter.status().map_err(|e| self.rocks(e))?;
        }
        let mut found = None;
        for capture_id in candidates {
            match self.capture_content(capture_id)? {
                Some(Some(content)) => return Ok(Some(Some(content))),
                Some(None) => found = Some(None),
                None => {}
            }
        }
        Ok(found)
    }

    /// Adds one capture (and its content, when it has text). Returns `false`,
    /// writing nothing, when a capture with the same id is already in the index.
    pub fn add_capture(
        &mut self,
        capture_id: u128,
        record: &CaptureRecord,
        content: Option<&NewContent>,
    ) -> Result<bool, IndexError> {
        if self.seen_captures.contains(&capture_id) {
            self.flush()?;
            let existing = self
                .db
                .get_pinned_cf(self.cf(CAPTURES), keys::id_key(capture_id))
                .map_err(|e| self.rocks(e))?;
            if existing.is_some() {
                self.duplicate_captures += 1;
                return Ok(false);
            }
        }
        self.seen_captures.insert(&capture_id);

        let mut batch = std::mem::take(&mut self.batch);
        batch.put_cf(
            self.cf(CAPTURES),
            keys::id_key(capture_id),
            record.encode_to_vec(),
        );
        self.captures += 1;
        if !record.surt.is_empty() {
            batch.put_cf(
                self.cf(URLS),
                keys::url_key(&record.surt, record.capture_time, capture_id),
                [],
            );
            self.urls += 1;
        }
        if let Some(content_id) = record.content_id() {
            self.bulk_put(
                CONTENT_CAPTURES,
                &keys::content_capture_key(content_id, capture_id),
                &keys::encode_time(record.capture_time),
            )?;
        }
        if let Some(content) = content {
            let value = ContentRecord {
                sha256: content.sha256.to_vec(),
                length_bytes: content.length_bytes,
                token_count: content.token_count,
                capture_count: 0,
                first_seen: None,
                preview: content.preview.clone(),
                language: content.language.clone(),
                ..ContentRecord::default()
            };
            // The same content written again carries the same value: idempotent.
            batch.put_cf(
                self.cf(CONTENTS),
                keys::id_key(content.content_id),
                value.encode_to_vec(),
            );
            batch.put_cf(
                self.cf(CONTENT_SHA256),
                content.sha256,
                keys::id_key(content.content_id),
            );
        }
        self.batch = batch;
        if self.batch.size_in_bytes() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(true)
    }

    /// Adds a content's MinHash signature (`signatures`) and its LSH bucket
    /// entries (`lsh`, band index = position in `band_keys`). Writing the same
    /// content again writes the same rows: idempotent.
    pub fn add_sketch(
        &mut self,
        content_id: u128,
        signature: &[u8],
        band_keys: &[u64],
    ) -> Result<(), IndexError> {
        self.bulk_put(SIGNATURES, &keys::id_key(content_id), signature)?;
        for (band, band_key) in band_keys.iter().enumerate() {
            let band = u16::try_from(band).map_err(|_| IndexError::Corrupt {
                cf: LSH,
                reason: format!("{} bands do not fit a u16 band index", band_keys.len()),
            })?;
            self.bulk_put(LSH, &keys::lsh_key(band, *band_key, content_id), &[])?;
        }
        Ok(())
    }

    fn bulk_put(&mut self, cf: &'static str, key: &[u8], value: &[u8]) -> Result<(), IndexError> {
        match &mut self.bulk {
            Some(bulk) => bulk.put(cf, key, value),
            None => Err(IndexError::Corrupt {
                cf,
                reason: "bulk rows added after the bulk tables were ingested".into(),
            }),
        }
    }

    /// Records that `content_id` belongs to the near-duplicate cluster
    /// `cluster` (of more than one content): a `clusters` row and the
    /// content's cluster fields. Call once per member, after its content was
    /// added; a content not in the index is an error (the cluster stage and the
    /// scan disagree).
    pub fn set_cluster(
        &mut self,
        content_id: u128,
        cluster: crate::records::ClusterInfo,
    ) -> Result<(), IndexError> {
        self.flush()?;
        let key = keys::id_key(content_id);
        let bytes = self
            .db
            .get_pinned_cf(self.cf(CONTENTS), key)
            .map_err(|e| self.rocks(e))?
            .ok_or_else(|| IndexError::Corrupt {
                cf: CONTENTS,
                reason: format!("cluster member {content_id:032x} is not a content of the index"),
            })?;
        let mut record: ContentRecord = records::decode(CONTENTS, &bytes)?;
        record.cluster_id = cluster.cluster_id.to_be_bytes().to_vec();
        record.cluster_keeper = cluster.keeper.to_be_bytes().to_vec();
        record.cluster_size = cluster.size;
        let mut cluster_key = [0u8; 2 * ID_LEN];
        cluster_key[..ID_LEN].copy_from_slice(&keys::id_key(cluster.cluster_id));
        cluster_key[ID_LEN..].copy_from_slice(&key);
        let mut batch = std::mem::take(&mut self.batch);
        batch.put_cf(self.cf(CONTENTS), key, record.encode_to_vec());
        batch.put_cf(self.cf(CLUSTERS), cluster_key, []);
        self.batch = batch;
        self.clustered_contents += 1;
        if cluster.cluster_id == content_id {
            self.clusters += 1;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IndexError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.db
            .write_opt(batch, &unlogged())
            .map_err(|e| self.rocks(e))
    }

    /// Derives per-content aggregates, computes the digest, writes the manifest
    /// last and closes the database.
    pub fn finish(mut self, facts: BuildFacts) -> Result<BuildSummary, IndexError> {
        self.flush()?;
        if let Some(bulk) = self.bulk.take() {
            bulk.ingest(&self.db, &self.cache)?;
        }
        let contents = self.aggregate_contents()?;
        self.db
            .compact_range_cf(self.cf(URLS), None::<&[u8]>, None::<&[u8]>);
        let digest = crate::reader::digest_db(&self.db, &self.path)?;
        let mut crawls = facts.crawls;
        crawls.sort();
        crawls.dedup();
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            normalization_version: facts.normalization_version,
            crawls,
            inputs: facts.inputs,
            built_at: facts.built_at,
            captures: self.captures,
            contents,
            urls: self.urls,
            read_errors: facts.read_errors,
            duplicate_captures: self.duplicate_captures,
            digest,
            sketch_spec: facts.sketch_spec,
            clusters: self.clusters,
            clustered_contents: self.clustered_contents,
        };
        let encoded = serde_json::to_vec_pretty(&manifest).map_err(|e| IndexError::Corrupt {
            cf: META,
            reason: e.to_string(),
        })?;
        self.db
            .put_cf(self.cf(META), schema::MANIFEST_KEY, encoded)
            .map_err(|e| self.rocks(e))?;
        // Batches skip the write-ahead log (a failed build is rebuilt, not
        // recovered), so every table's memtable is flushed to SST files here;
        // the published index then carries no log files.
        for name in schema::ALL {
            self.db.flush_cf(self.cf(name)).map_err(|e| self.rocks(e))?;
        }
        self.db.flush_wal(true).map_err(|e| self.rocks(e))?;
        Ok(BuildSummary { manifest })
    }

    /// One ordered pass over `content_captures`: each run of equal content ids
    /// gives that content's capture count and earliest capture time; the
    /// captures of a clustered content get the cluster id when it is not the
    /// content's own (clusters are final by now: `set_cluster` runs before
    /// `finish`).
    fn aggregate_contents(&mut self) -> Result<u64, IndexError> {
        let db = &self.db;
        let rocks = |source| IndexError::Rocks {
            path: self.path.clone(),
            source,
        };
        let contents_cf = self.cf(CONTENTS);
        let captures_cf = self.cf(CAPTURES);
        let mut batch = WriteBatch::default();
        let mut contents = 0u64;
        let mut current: Option<ContentRun> = None;
        let mut iter = db.raw_iterator_cf(self.cf(CONTENT_CAPTURES));
        iter.seek_to_first();
        while iter.valid() {
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            let (content_id, capture_id) =
                keys::decode_content_capture_key(key).ok_or_else(|| IndexError::Corrupt {
                    cf: CONTENT_CAPTURES,
                    reason: format!("key of {} bytes, expected {}", key.len(), 2 * ID_LEN),
                })?;
            let time = keys::decode_time(value.try_into().map_err(|_| IndexError::Corrupt {
                cf: CONTENT_CAPTURES,
                reason: format!("value of {} bytes, expected 8", value.len()),
            })?);
            if current
                .as_ref()
                .is_none_or(|run| run.content_id != content_id)
            {
                if let Some(done) = current.take() {
                    contents += 1;
                    done.write(contents_cf, &mut batch);
                    if batch.size_in_bytes() >= BATCH_BYTES {
                        db.write_opt(std::mem::take(&mut batch), &unlogged())
                            .map_err(rocks)?;
                    }
                }
                current = Some(ContentRun::start(db, contents_cf, content_id, time)?);
            }
            let run = current.as_mut().expect("a run was just started");
            run.count += 1;
            run.first_seen = run.first_seen.min(time);
            if let Some(cluster_id) = &run.cluster_id {
                set_capture_cluster(db, captures_cf, capture_id, cluster_id, &mut batch)?;
            }
            iter.next();
        }
        iter.status().map_err(rocks)?;
        if let Some(done) = current.take() {
            contents += 1;
            done.write(contents_cf, &mut batch);
        }
        db.write_opt(batch, &unlogged()).map_err(rocks)?;
        Ok(contents)
    }
}

/// One content's run of `content_captures` rows during `aggregate_contents`.
struct ContentRun {
    content_id: u128,
    record: ContentRecord,
    count: u64,
    first_seen: i64,
    /// Set when the content's cluster id is not its own id.
    cluster_id: Option<Vec<u8>>,
}

impl ContentRun {
    fn start(
        db: &DB,
        contents_cf: &rocksdb::ColumnFamily,
        content_id: u128,
        time: i64,
    ) -> Result<Self, IndexError> {
        let record: ContentRecord =
            read_existing(db, contents_cf, CONTENTS, keys::id_key(content_id), || {
                format!("content {content_id:032x} has captures but no record")
            })?;
        let cluster = record.cluster(content_id);
        // A capture stores only a cluster id other than its content's own.
        let cluster_id =
            (cluster.cluster_id != content_id).then(|| keys::id_key(cluster.cluster_id).to_vec());
        Ok(Self {
            content_id,
            record,
            count: 0,
            first_seen: time,
            cluster_id,
        })
    }

    /// Sets the content's capture count and first-seen time (into `batch`).
    fn write(mut self, contents_cf: &rocksdb::ColumnFamily, batch: &mut WriteBatch) {
        self.record.capture_count = self.count;
        self.record.first_seen = Some(self.first_seen);
        batch.put_cf(
            contents_cf,
            keys::id_key(self.content_id),
            self.record.encode_to_vec(),
        );
    }
}

/// Copies a content's cluster id into one of its capture records (into `batch`).
fn set_capture_cluster(
    db: &DB,
    captures_cf: &rocksdb::ColumnFamily,
    capture_id: u128,
    cluster_id: &[u8],
    batch: &mut WriteBatch,
) -> Result<(), IndexError> {
    let key = keys::id_key(capture_id);
    let mut record: CaptureRecord = read_existing(db, captures_cf, CAPTURES, key, || {
        format!("content_captures row for missing capture {capture_id:032x}")
    })?;
    record.cluster_id = cluster_id.to_vec();
    batch.put_cf(captures_cf, key, record.encode_to_vec());
    Ok(())
}

/// Reads and decodes a record the build has written (table `name`); its
/// absence means the tables disagree, reported with `missing()`.
fn read_existing<T: Message + Default>(
    db: &DB,
    cf: &rocksdb::ColumnFamily,
    name: &'static str,
    key: [u8; ID_LEN],
    missing: impl FnOnce() -> String,
) -> Result<T, IndexError> {
    let bytes = db
        .get_pinned_cf(cf, key)
        .map_err(|source| IndexError::Corrupt {
            cf: name,
            reason: source.to_string(),
        })?
        .ok_or_else(|| IndexError::Corrupt {
            cf: name,
            reason: missing(),
        })?;
    records::decode(name, &bytes)
}

/// Write options of the build's batches: no write-ahead log.
fn unlogged() -> rocksdb::WriteOptions {
    let mut options = rocksdb::WriteOptions::default();
    options.disable_wal(true);
    options
}
