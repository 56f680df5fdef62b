//! Single-writer index build in which every row is written once.
//!
//! The caller hands over each capture with its final record (signals from
//! site files and the content's cluster already applied) and each new content
//! with its cluster. Captures and URL keys go through write batches (the
//! build reads them back to resolve revisits); every other table is sorted
//! externally and written as one SST file at [`IndexBuilder::finish`]. The
//! per-content aggregates (capture count, first seen) come from one merge of
//! the sorted contents with the sorted `content_captures` rows, so each
//! content row is written once, complete, whatever order records arrived in.

use std::path::{Path, PathBuf};

use probabilistic_collections::bloom::ScalableBloomFilter;
use provindex_store::{
    Durability, OpenMode, SchemaBatch, SortedTable, Store, StoreError, write_sst,
};

use crate::ids::{CaptureId, ContentId};
use crate::keys::{self, LshMember};
use crate::partition::Partitioning;
use crate::records::{CaptureRecord, ClusterInfo, ContentRecord, PiiCounts};
use crate::schema::{
    CaptureCopy, Captures, ClusterMemberKey, Clusters, ContentCaptureKey, ContentCaptureTimes,
    ContentCaptures, ContentSha256, Contents, Lsh, LshKey, Meta, MetaKey, ShaKey, Signature,
    Signatures, TABLES, TimedCapture, UrlKey, Urls,
};
use crate::schema::{PiiKeyRow, PiiKeys};
use crate::{IndexError, Manifest, manifest::FORMAT_VERSION};

/// Flush a batch to RocksDB once it holds this many bytes.
const BATCH_BYTES: usize = 8 << 20;
/// Memory per sorted table before a run is spilled to disk.
const SORT_BUDGET: usize = 32 << 20;
/// Block cache while building.
const BUILD_CACHE_BYTES: usize = 64 << 20;

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
    /// Its near-duplicate cluster when that has more than one content;
    /// `None`: alone (a cluster of one).
    pub cluster: Option<ClusterInfo>,
    /// Personal identifiers in its text, by kind (issue 19).
    pub pii: PiiCounts,
    /// HMACs of those identifiers under the job's PII key (none without a
    /// key): rows of the `pii_keys` table.
    pub pii_keys: Vec<[u8; 32]>,
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
    /// The inputs' `warcinfo` records ([`crate::manifest::InputWarcinfo::group`]).
    pub warcinfo: Vec<crate::manifest::InputWarcinfo>,
}

/// Counts reported by [`IndexBuilder::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct BuildSummary {
    pub manifest: Manifest,
}

/// The tables written as SST files at the end.
struct SortedTables {
    contents: SortedTable<Contents>,
    content_captures: SortedTable<ContentCaptureTimes>,
    content_sha256: SortedTable<ContentSha256>,
    signatures: SortedTable<Signatures>,
    lsh: SortedTable<Lsh>,
    pii_keys: SortedTable<PiiKeys>,
}

pub struct IndexBuilder {
    store: Store,
    staging: PathBuf,
    sorted: SortedTables,
    batch: SchemaBatch,
    // Detects a capture_id seen before without a read per capture; a "maybe"
    // is confirmed against the database.
    seen_captures: ScalableBloomFilter<u128>,
    captures: u64,
    urls: u64,
    duplicate_captures: u64,
    partitioning: Partitioning,
    partition: u32,
}

impl IndexBuilder {
    /// Creates partition `partition` of a `partitioning` ([`crate::partition`]):
    /// it keeps the rows of its chunks and the copies its answers need.
    pub fn create_partition(
        path: &Path,
        partitioning: Partitioning,
        partition: u32,
    ) -> Result<Self, IndexError> {
        let mut builder = Self::create(path)?;
        builder.partitioning = partitioning;
        builder.partition = partition;
        Ok(builder)
    }

    /// Whether this partition holds the content-side rows of `content_id`.
    pub fn holds_content(&self, content_id: u128) -> bool {
        self.partitioning.of_content(content_id) == self.partition
    }

    /// Whether this partition owns a capture (its URL-side rows).
    pub fn owns_capture(&self, capture_id: u128, record: &CaptureRecord) -> bool {
        self.partitioning.of_capture(capture_id, &record.surt) == self.partition
    }

    /// Creates a new index at `path`, which must not exist or be an empty directory.
    pub fn create(path: &Path) -> Result<Self, IndexError> {
        let io = |path: &Path, source| IndexError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            let mut entries = std::fs::read_dir(path).map_err(|e| io(path, e))?;
            if entries.next().is_some() {
                return Err(IndexError::AlreadyExists(path.to_path_buf()));
            }
        }
        let staging = {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "index".into());
            path.with_file_name(format!(".{name}.sorted"))
        };
        if staging.exists() {
            // Left by a build that did not finish.
            std::fs::remove_dir_all(&staging).map_err(|e| io(&staging, e))?;
        }
        let store = Store::open(path, &TABLES, OpenMode::ReadWrite, BUILD_CACHE_BYTES)?;
        Ok(Self {
            store,
            sorted: SortedTables {
                contents: SortedTable::new(&staging, SORT_BUDGET),
                content_captures: SortedTable::new(&staging, SORT_BUDGET),
                content_sha256: SortedTable::new(&staging, SORT_BUDGET),
                signatures: SortedTable::new(&staging, SORT_BUDGET),
                lsh: SortedTable::new(&staging, SORT_BUDGET),
                pii_keys: SortedTable::new(&staging, SORT_BUDGET),
            },
            staging,
            batch: SchemaBatch::default(),
            seen_captures: ScalableBloomFilter::new(1 << 16, 0.01, 2.0, 0.5),
            captures: 0,
            urls: 0,
            duplicate_captures: 0,
            partitioning: Partitioning::WHOLE,
            partition: 0,
        })
    }

    /// The content of a capture already added: `None` when there is no such
    /// capture, `Some(None)` when it has no text.
    pub fn capture_content(
        &mut self,
        capture_id: u128,
    ) -> Result<Option<Option<u128>>, IndexError> {
        self.flush()?;
        Ok(self
            .store
            .get::<Captures>(&CaptureId(capture_id))?
            .map(|record| record.content_id()))
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
            let mut iter = self.store.iter::<Urls>()?;
            iter.seek(&prefix);
            while candidates.len() < 64 && iter.key_bytes().is_some_and(|k| k.starts_with(&prefix))
            {
                if let Some(key) = iter.key() {
                    candidates.push(key?.capture_id);
                }
                iter.next();
            }
            iter.status()?;
        }
        let mut found = None;
        for capture_id in candidates {
            match self.capture_content(capture_id.0)? {
                Some(Some(content)) => return Ok(Some(Some(content))),
                Some(None) => found = Some(None),
                None => {}
            }
        }
        Ok(found)
    }

    /// Adds one capture with its final record (and its content, when the
    /// capture is the first seen with that text). Returns `false`, writing
    /// nothing, when this partition owns the capture and a capture with the
    /// same id is already in it, or when the capture has no row here. A
    /// partition writes the URL-side rows of the captures it owns and the
    /// content-side rows of its contents; a capture of its contents owned
    /// elsewhere is copied into its `content_captures` row (a copy added
    /// twice is kept once: equal keys collapse to the first).
    pub fn add_capture(
        &mut self,
        capture_id: u128,
        record: &CaptureRecord,
        content: Option<&NewContent>,
    ) -> Result<bool, IndexError> {
        let owned = self.owns_capture(capture_id, record);
        let content_here = record
            .content_id()
            .is_some_and(|content_id| self.holds_content(content_id));
        if !owned && !content_here {
            return Ok(false);
        }
        if owned {
            if self.seen_captures.contains(&capture_id) {
                self.flush()?;
                if self.store.contains::<Captures>(&CaptureId(capture_id))? {
                    self.duplicate_captures += 1;
                    return Ok(false);
                }
            }
            self.seen_captures.insert(&capture_id);
            self.batch.put::<Captures>(&CaptureId(capture_id), record);
            self.captures += 1;
        }
        if owned && !record.surt.is_empty() {
            self.batch.put::<Urls>(
                &UrlKey {
                    surt: record.surt.clone(),
                    time: record.capture_time,
                    capture_id: CaptureId(capture_id),
                },
                &(),
            );
            self.urls += 1;
        }
        if let Some(content_id) = record.content_id().filter(|_| content_here) {
            let copy = match owned {
                true => CaptureCopy::Owned,
                false => CaptureCopy::Copy(Box::new(record.clone())),
            };
            self.sorted.content_captures.push(
                &ContentCaptureKey {
                    content_id: ContentId(content_id),
                    capture_id: CaptureId(capture_id),
                },
                &TimedCapture {
                    time: record.capture_time,
                    copy,
                },
            )?;
        }
        if let Some(content) = content.filter(|_| content_here) {
            let mut value = ContentRecord {
                sha256: content.sha256.to_vec(),
                length_bytes: content.length_bytes,
                token_count: content.token_count,
                preview: content.preview.clone(),
                language: content.language.clone(),
                ..ContentRecord::default()
            };
            value.set_pii(&content.pii);
            for hmac in &content.pii_keys {
                let row = PiiKeyRow {
                    hmac: *hmac,
                    content_id: ContentId(content.content_id),
                };
                self.sorted.pii_keys.push(&row, &())?;
            }
            if let Some(cluster) = content.cluster.filter(|c| c.size > 1) {
                value.cluster_id = cluster.cluster_id.to_be_bytes().to_vec();
                value.cluster_keeper = cluster.keeper.to_be_bytes().to_vec();
                value.cluster_size = cluster.size;
            }
            // The same content again carries the same value; the first is kept.
            let id = ContentId(content.content_id);
            self.sorted.contents.push(&id, &value)?;
            self.sorted
                .content_sha256
                .push(&ShaKey::new(&content.sha256, id), &())?;
        }
        if self.batch.size_in_bytes() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(true)
    }

    /// In the partition holding the content (every content when not
    /// partitioned), adds its MinHash signature (`signatures`: the compared
    /// bits of each value) and its LSH bucket entries (`lsh`, band index =
    /// position in `band_keys`); elsewhere nothing. Writing the same content
    /// again writes the same rows: idempotent.
    pub fn add_sketch(
        &mut self,
        content_id: u128,
        signature: &[u32],
        band_keys: &[u64],
    ) -> Result<(), IndexError> {
        if signature.len() % 2 == 1 {
            // Stored two values a byte (`schema::Signature`).
            return Err(IndexError::Corrupt {
                cf: "signatures",
                reason: format!(
                    "content {content_id:032x}: a signature of {} values; the index stores an even count",
                    signature.len()
                ),
            });
        }
        if !self.holds_content(content_id) {
            return Ok(());
        }
        let id = ContentId(content_id);
        let stored = signature
            .iter()
            .map(|v| provindex_sketch::compared_bits(*v))
            .collect();
        self.sorted.signatures.push(&id, &Signature(stored))?;
        for (band, band_key) in band_keys.iter().enumerate() {
            let band = u8::try_from(band).map_err(|_| IndexError::Corrupt {
                cf: "lsh",
                reason: format!(
                    "{} bands do not fit the one-byte band index",
                    band_keys.len()
                ),
            })?;
            // Sorted with full ids; written with id prefixes where they
            // name one content ([`write_lsh`]).
            self.sorted.lsh.push(
                &LshKey {
                    band: u16::from(band),
                    band_key: *band_key,
                    member: LshMember::Id(content_id),
                },
                &(),
            )?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IndexError> {
        let batch = std::mem::take(&mut self.batch);
        Ok(self.store.write(batch, Durability::Unlogged)?)
    }

    /// Writes the sorted tables, computes the digest, writes the manifest
    /// last and closes the database.
    pub fn finish(mut self, facts: BuildFacts) -> Result<BuildSummary, IndexError> {
        self.flush()?;
        let staging = self.staging.clone();
        let result = self.write_sorted_tables(facts);
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    fn write_sorted_tables(self, facts: BuildFacts) -> Result<BuildSummary, IndexError> {
        let Self {
            store,
            staging,
            sorted,
            captures,
            urls,
            duplicate_captures,
            partitioning,
            partition,
            ..
        } = self;
        sorted.signatures.ingest(&store)?;
        sorted.content_sha256.ingest(&store)?;
        sorted.pii_keys.ingest(&store)?;
        let counts = write_contents(&store, &staging, sorted.contents, sorted.content_captures)?;
        write_lsh(&store, &staging, sorted.lsh, &counts.shared_prefixes)?;
        store.compact::<Urls>()?;
        let chunks = crate::reader::chunk_digests(&store, partitioning, partition)?;
        let digest = crate::reader::digest_of_chunks(&chunks);
        let partitioned = partitioning != Partitioning::WHOLE;
        let mut crawls = facts.crawls;
        crawls.sort();
        crawls.dedup();
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            normalization_version: facts.normalization_version,
            crawls,
            inputs: facts.inputs,
            built_at: facts.built_at,
            captures,
            contents: counts.contents,
            urls,
            read_errors: facts.read_errors,
            duplicate_captures,
            digest,
            sketch_spec: facts.sketch_spec,
            clusters: counts.clusters,
            clustered_contents: counts.clustered_contents,
            partitions: if partitioned { partitioning.count() } else { 0 },
            partition,
            chunk_digests: if partitioned {
                chunks.iter().map(hex::encode).collect()
            } else {
                Vec::new()
            },
            warcinfo: facts.warcinfo,
        };
        store.put::<Meta>(&MetaKey::Manifest, &manifest, Durability::Unlogged)?;
        // Batches skip the write-ahead log (a failed build is rebuilt, not
        // recovered), so every table's memtable is flushed to SST files here;
        // the published index then carries no log files.
        store.flush_all()?;
        Ok(BuildSummary { manifest })
    }
}

#[derive(Default)]
struct ContentCounts {
    contents: u64,
    clusters: u64,
    clustered_contents: u64,
    /// Id prefixes ([`LshMember::prefix_of`]) that more than one content of
    /// this partition starts with, ascending: their `lsh` rows keep full ids.
    shared_prefixes: Vec<u32>,
}

/// Writes the `lsh` rows, each naming its content by id prefix unless
/// another content of the partition shares the prefix. Contents sharing a
/// prefix share a first byte, hence a chunk and a partition, so the rows do
/// not depend on the partition count. Rows keep their order: a prefix that
/// stays short names one content, so no two rows become equal.
fn write_lsh(
    store: &Store,
    staging: &Path,
    lsh: SortedTable<Lsh>,
    shared_prefixes: &[u32],
) -> Result<(), IndexError> {
    let rows = lsh.into_sorted_rows()?;
    write_sst::<Lsh, IndexError>(store, &staging.join("lsh-sst"), |sink| {
        for row in rows {
            let (mut key, ()) = row?;
            if let LshMember::Id(id) = key.member {
                let prefix = LshMember::prefix_of(id);
                if shared_prefixes.binary_search(&prefix).is_err() {
                    key.member = LshMember::Prefix(prefix);
                }
            }
            sink.put(&key, &())?;
        }
        Ok(())
    })?;
    Ok(())
}

/// One merge of the sorted contents with their sorted `content_captures`
/// rows: each content is written once with its capture count and earliest
/// capture time, the `content_captures` and `clusters` tables alongside.
fn write_contents(
    store: &Store,
    staging: &Path,
    contents: SortedTable<Contents>,
    content_captures: SortedTable<ContentCaptureTimes>,
) -> Result<ContentCounts, IndexError> {
    let mut counts = ContentCounts::default();
    let mut clusters = SortedTable::<Clusters>::new(staging, SORT_BUDGET);
    let mut contents = contents.into_sorted_rows()?;
    let links = content_captures.into_sorted_rows()?;
    write_sst::<Contents, IndexError>(store, &staging.join("contents-sst"), |content_sink| {
        write_sst::<ContentCaptures, IndexError>(store, &staging.join("links-sst"), |link_sink| {
            let mut current: Option<(ContentId, ContentRecord)> = None;
            let mut last_prefix = None;
            let mut finish = |done: Option<(ContentId, ContentRecord)>,
                              counts: &mut ContentCounts|
             -> Result<(), IndexError> {
                let Some((id, record)) = done else {
                    return Ok(());
                };
                // Contents come in id order: a shared prefix is adjacent.
                let prefix = LshMember::prefix_of(id.0);
                if last_prefix == Some(prefix) && counts.shared_prefixes.last() != Some(&prefix) {
                    counts.shared_prefixes.push(prefix);
                }
                last_prefix = Some(prefix);
                counts.contents += 1;
                let cluster = record.cluster(id.0);
                if cluster.size > 1 {
                    counts.clustered_contents += 1;
                    if cluster.cluster_id == id.0 {
                        counts.clusters += 1;
                    }
                    clusters.push(
                        &ClusterMemberKey {
                            cluster_id: ContentId(cluster.cluster_id),
                            member: id,
                        },
                        &(),
                    )?;
                }
                content_sink.put(&id, &record)?;
                Ok(())
            };
            for link in links {
                let (key, TimedCapture { time, copy }) = link?;
                link_sink.put(&key, &copy)?;
                if current.as_ref().is_none_or(|(id, _)| *id != key.content_id) {
                    finish(current.take(), &mut counts)?;
                    let record = next_content(&mut contents, key.content_id)?;
                    current = Some((key.content_id, record));
                }
                let (_, record) = current.as_mut().expect("a content was just started");
                record.capture_count += 1;
                record.first_seen = Some(record.first_seen.map_or(time, |t| t.min(time)));
            }
            finish(current.take(), &mut counts)?;
            if let Some(row) = contents.next() {
                let (id, _) = row?;
                return Err(IndexError::Corrupt {
                    cf: "contents",
                    reason: format!("content {id} has no captures"),
                });
            }
            Ok(())
        })?;
        Ok(())
    })?;
    clusters.ingest(store)?;
    Ok(counts)
}

/// The sorted contents' row for `content_id`, the next one in order.
fn next_content(
    contents: &mut impl Iterator<Item = Result<(ContentId, ContentRecord), StoreError>>,
    content_id: ContentId,
) -> Result<ContentRecord, IndexError> {
    match contents.next().transpose()? {
        Some((id, record)) if id == content_id => Ok(record),
        Some((id, _)) if id < content_id => Err(IndexError::Corrupt {
            cf: "contents",
            reason: format!("content {id} has no captures"),
        }),
        _ => Err(IndexError::Corrupt {
            cf: "content_captures",
            reason: format!("content {content_id} has captures but no record"),
        }),
    }
}
