//! Publishing a built index to object storage, and fetching it back for
//! serving (issue 17).
//!
//! A local `--out` (a path or `file://`) stays a plain RocksDB directory.
//! Any other object-store URI (`s3://bucket/prefix`, `memory://…`) receives a
//! *publication*: the index is built in local scratch, its files are
//! uploaded under `<out>/partitions/<partition>/`, and `<out>/publication.json`
//! is written **last**, create-only. Until that file exists nothing is
//! published; once it exists the publication is immutable: a later build to
//! the same URI is refused.
//!
//! # `publication.json` (format `provindex-publication`, version 1)
//!
//! ```json
//! {
//!   "format": "provindex-publication",
//!   "version": 1,
//!   "job": "local",
//!   "index": {
//!     "digest": "9f…",               // the index manifest's digest (hex SHA-256 of the tables)
//!     "format_version": 4,            // the index format (provindex_index::FORMAT_VERSION)
//!     "normalization_version": 2,
//!     "sketch_spec": "norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1",
//!     "crawls": ["CC-MAIN-2024-10"],
//!     "built_at": 1700000000,
//!     "captures": 123, "contents": 100, "urls": 120,
//!     "clusters": 3, "clustered_contents": 7
//!   },
//!   "partitions": [
//!     {
//!       "id": "p0000",
//!       "key_range": { "tables": "all", "start": null, "end": null },
//!       "bytes": 456789,
//!       "files": [
//!         { "path": "partitions/p0000/000012.sst", "size": 4096, "sha256": "ab…" },
//!         { "path": "partitions/p0000/CURRENT", "size": 16, "sha256": "cd…" }
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! - `path` is relative to the publication's URI; every file of a partition
//!   lies under `partitions/<id>/`, and that directory, downloaded, is a
//!   RocksDB database `IndexReader` opens.
//! - `key_range`: which tables and which key range (hex of the first key,
//!   inclusive, and of the end key, exclusive; `null` = unbounded) the
//!   partition holds. Today's build makes one partition, `p0000`, holding
//!   every table whole (`"tables": "all"`); a partitioned build lists one
//!   entry per partition with its own range.
//! - `job`: the build job that wrote it; a retried build task of that job
//!   finding its own publication (same job, same digest) accepts it, anything
//!   else finding one is refused.
//!
//! Serving ([`fetch`]) downloads each partition into a local cache, checks
//! every file's size and SHA-256 against this listing before anything opens
//! it, and refuses with the file's name and both checksums on a mismatch.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use provindex_corpus::store::{CorpusStore, StoreError};
use provindex_index::Manifest;
use provindex_index::partition::Partitioning;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Name of the manifest written last under a publication's URI.
pub const PUBLICATION_FILE: &str = "publication.json";
pub const PUBLICATION_FORMAT: &str = "provindex-publication";
pub const PUBLICATION_VERSION: u32 = 1;
/// The one partition of today's (unpartitioned) build.
pub const SINGLE_PARTITION: &str = "p0000";
/// Marker in a verified cache directory: the SHA-256 of the
/// `publication.json` bytes it was verified against.
const VERIFIED_MARKER: &str = "VERIFIED";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    pub format: String,
    pub version: u32,
    pub job: String,
    pub index: PublishedIndex,
    pub partitions: Vec<Partition>,
}

/// The index manifest's facts a server or router needs without opening a partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedIndex {
    pub digest: String,
    pub format_version: u32,
    pub normalization_version: u32,
    pub sketch_spec: String,
    pub crawls: Vec<String>,
    pub built_at: i64,
    pub captures: u64,
    pub contents: u64,
    pub urls: u64,
    pub clusters: u64,
    pub clustered_contents: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    pub id: String,
    pub key_range: KeyRange,
    /// A partition of a partitioned index: its chunks and its manifest's
    /// digest (over its own chunks); `None` for the one-partition index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<PartitionChunks>,
    /// Sum of the files' sizes.
    pub bytes: u64,
    pub files: Vec<PublishedFile>,
    /// Where the files are, when not under this publication: the earlier
    /// publication (an incremental build's base) whose partition has the
    /// same rows, referenced rather than copied. Paths are relative to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Partition {
    /// The URI (or path) this partition's file paths are relative to.
    pub fn files_base<'a>(&'a self, publication: &'a str) -> &'a str {
        self.location.as_deref().unwrap_or(publication)
    }
}

/// Where a partition sits in a partitioned index
/// ([`provindex_index::partition`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionChunks {
    /// The partition's number and the partition count.
    pub partition: u32,
    pub partitions: u32,
    /// Its chunks, `[start, end)` of 256.
    pub start: u32,
    pub end: u32,
    /// The partition manifest's digest, checked when it is opened.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRange {
    /// `all`, or the table (column family) this range is of.
    pub tables: String,
    /// Hex of the first key (inclusive); `None`: from the first key.
    pub start: Option<String>,
    /// Hex of the end key (exclusive); `None`: to the last key.
    pub end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedFile {
    /// Relative to the publication's URI.
    pub path: String,
    pub size: u64,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "{uri} already holds a published index (digest {digest}, job {job}); a published index is immutable: publish to a new URI"
    )]
    AlreadyPublished {
        uri: String,
        digest: String,
        job: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{uri}: not a publication: {reason}")]
    BadPublication { uri: String, reason: String },
    #[error("{path}: {reason}")]
    BadIndexDir { path: String, reason: String },
    #[error("{file} ({uri}): missing; {PUBLICATION_FILE} lists it with {expected} bytes")]
    Missing {
        file: String,
        uri: String,
        expected: u64,
    },
    #[error("{file} ({uri}): {actual} bytes, {PUBLICATION_FILE} says {expected}")]
    Size {
        file: String,
        uri: String,
        expected: u64,
        actual: u64,
    },
    #[error("{file} ({uri}): SHA-256 {actual}, {PUBLICATION_FILE} says {expected}")]
    Checksum {
        file: String,
        uri: String,
        expected: String,
        actual: String,
    },
    #[error("{dir}: the index's digest is {actual}, {PUBLICATION_FILE} says {expected}")]
    Digest {
        dir: String,
        expected: String,
        actual: String,
    },
}

impl PublishError {
    /// Whether trying again could succeed (the store was unreachable, a
    /// local write failed) rather than the request being refused for good.
    pub fn is_transient(&self) -> bool {
        match self {
            PublishError::Store(e) => !e.is_refusal(),
            PublishError::Io { .. } => true,
            _ => false,
        }
    }
}

impl provindex_errors::ErrorExt for PublishError {
    fn status_code(&self) -> provindex_errors::StatusCode {
        use provindex_errors::StatusCode;
        match self {
            PublishError::AlreadyPublished { .. } => StatusCode::AlreadyExists,
            PublishError::Store(e) => e.status_code(),
            PublishError::Io { .. } => StatusCode::Unavailable,
            PublishError::BadIndexDir { .. } => StatusCode::Internal,
            PublishError::BadPublication { .. }
            | PublishError::Missing { .. }
            | PublishError::Size { .. }
            | PublishError::Checksum { .. }
            | PublishError::Digest { .. } => StatusCode::FailedPrecondition,
        }
    }
}

/// Whether `out` names an object store rather than a local directory
/// (`file://` and plain paths are local).
pub fn is_remote(out: &str) -> bool {
    out.contains("://") && !out.starts_with("file://")
}

fn join(base: &str, rest: &str) -> String {
    format!("{}/{rest}", base.trim_end_matches('/'))
}

/// `<out>/publication.json`.
pub fn publication_uri(out: &str) -> String {
    join(out, PUBLICATION_FILE)
}

/// Reads the publication at `out`, if there is one.
pub fn read_publication(
    store: &CorpusStore,
    out: &str,
) -> Result<Option<(Publication, Bytes)>, PublishError> {
    let uri = publication_uri(out);
    if !store.exists(&uri)? {
        return Ok(None);
    }
    let bytes = store.get_bytes(&uri)?;
    let publication = parse_publication(&uri, &bytes)?;
    Ok(Some((publication, bytes)))
}

fn parse_publication(uri: &str, bytes: &[u8]) -> Result<Publication, PublishError> {
    let bad = |reason: String| PublishError::BadPublication {
        uri: uri.to_string(),
        reason,
    };
    let publication: Publication =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("undecodable JSON: {e}")))?;
    if publication.format != PUBLICATION_FORMAT {
        return Err(bad(format!(
            "format {:?}, expected {PUBLICATION_FORMAT:?}",
            publication.format
        )));
    }
    if publication.version != PUBLICATION_VERSION {
        return Err(bad(format!(
            "version {}, this build of provindex reads version {PUBLICATION_VERSION}",
            publication.version
        )));
    }
    if publication.partitions.is_empty() {
        return Err(bad("no partitions".into()));
    }
    if !is_safe_name(&publication.index.digest) {
        return Err(bad(format!(
            "digest {:?} is not a hex string",
            publication.index.digest
        )));
    }
    for partition in &publication.partitions {
        if !is_safe_name(&partition.id) {
            return Err(bad(format!("partition id {:?}", partition.id)));
        }
        let prefix = format!("partitions/{}/", partition.id);
        for file in &partition.files {
            // Relative, inside its partition, no `..`: it becomes a local path.
            let name = file.path.strip_prefix(&prefix).unwrap_or("");
            if !is_safe_file_name(name) {
                return Err(bad(format!(
                    "file {:?} is not a plain file name under {prefix}",
                    file.path
                )));
            }
        }
    }
    Ok(publication)
}

fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_safe_file_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Refuses an `out` that already holds a publication (checked before a
/// build spends any work).
pub fn check_unpublished(store: &CorpusStore, out: &str) -> Result<(), PublishError> {
    match read_publication(store, out)? {
        None => Ok(()),
        Some((publication, _)) => Err(PublishError::AlreadyPublished {
            uri: out.to_string(),
            digest: publication.index.digest,
            job: publication.job,
        }),
    }
}

/// The files of a built index directory that make up the database, sorted:
/// everything but RocksDB's lock and info logs.
fn index_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, PublishError> {
    let io = |source| PublishError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "LOCK" || name.starts_with("LOG") {
            continue;
        }
        let kind = entry.file_type().map_err(io)?;
        if !kind.is_file() || !is_safe_file_name(&name) {
            return Err(PublishError::BadIndexDir {
                path: entry.path().display().to_string(),
                reason: "not a plain file of a RocksDB database".into(),
            });
        }
        files.push((name, entry.path()));
    }
    files.sort();
    if !files.iter().any(|(name, _)| name == "CURRENT") {
        return Err(PublishError::BadIndexDir {
            path: dir.display().to_string(),
            reason: "no CURRENT file: not a RocksDB database".into(),
        });
    }
    Ok(files)
}

/// Size and hex SHA-256 of a local file, streamed.
fn hash_file(path: &Path) -> Result<(u64, String), PublishError> {
    let io = |source| PublishError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Uploads the built index in `dir` (whose manifest is `manifest`) to `out`
/// as partition `p0000`, then writes `publication.json` create-only.
///
/// A publication already at `out` is refused
/// ([`PublishError::AlreadyPublished`]) unless it is this job's with this
/// digest (a retried build task): then it stands and is returned.
pub fn publish_dir(
    store: &CorpusStore,
    dir: &Path,
    out: &str,
    manifest: &Manifest,
    job: &str,
) -> Result<Publication, PublishError> {
    let existing = |publication: Publication| {
        if publication.job == job && publication.index.digest == manifest.digest {
            Ok(publication)
        } else {
            Err(PublishError::AlreadyPublished {
                uri: out.to_string(),
                digest: publication.index.digest,
                job: publication.job,
            })
        }
    };
    if let Some((publication, _)) = read_publication(store, out)? {
        return existing(publication);
    }
    let files = upload_files(store, dir, out, SINGLE_PARTITION)?;
    let publication = Publication {
        format: PUBLICATION_FORMAT.into(),
        version: PUBLICATION_VERSION,
        job: job.to_string(),
        index: published_index(manifest, manifest),
        partitions: vec![Partition {
            id: SINGLE_PARTITION.into(),
            key_range: KeyRange {
                tables: "all".into(),
                start: None,
                end: None,
            },
            chunks: None,
            bytes: files.iter().map(|f| f.size).sum(),
            files,
            location: None,
        }],
    };
    write_publication(store, out, publication, existing)
}

/// The publication's facts of an index: `totals` counts, `facts` the rest.
fn published_index(facts: &Manifest, totals: &Manifest) -> PublishedIndex {
    PublishedIndex {
        digest: totals.digest.clone(),
        format_version: facts.format_version,
        normalization_version: facts.normalization_version,
        sketch_spec: facts.sketch_spec.clone(),
        crawls: facts.crawls.clone(),
        built_at: facts.built_at,
        captures: totals.captures,
        contents: totals.contents,
        urls: totals.urls,
        clusters: totals.clusters,
        clustered_contents: totals.clustered_contents,
    }
}

/// Uploads the files of the index at `dir` as partition `partition` of `out`.
fn upload_files(
    store: &CorpusStore,
    dir: &Path,
    out: &str,
    partition: &str,
) -> Result<Vec<PublishedFile>, PublishError> {
    let mut files = Vec::new();
    for (name, path) in index_files(dir)? {
        let (size, sha256) = hash_file(&path)?;
        let relative = format!("partitions/{partition}/{name}");
        store.put_file(&join(out, &relative), &path)?;
        files.push(PublishedFile {
            path: relative,
            size,
            sha256,
        });
    }
    Ok(files)
}

/// The id of partition `n` (`p0003`).
pub fn partition_id(n: u32) -> String {
    format!("p{n:04}")
}

/// Uploads one built partition of a partitioned index under
/// `<out>/partitions/<id>/` (no publication yet: [`publish_partitions`]
/// lists every partition once all are built).
pub fn upload_partition(
    store: &CorpusStore,
    dir: &Path,
    out: &str,
    id: &str,
    manifest: &Manifest,
) -> Result<Partition, PublishError> {
    let files = upload_files(store, dir, out, id)?;
    let partitioning =
        Partitioning::new(manifest.partitions).map_err(|reason| PublishError::BadIndexDir {
            path: dir.display().to_string(),
            reason,
        })?;
    let chunks = partitioning.chunks(manifest.partition);
    Ok(Partition {
        id: id.to_string(),
        key_range: KeyRange {
            tables: "chunks".into(),
            start: Some(format!("{:02x}", chunks.start)),
            end: (chunks.end < provindex_index::partition::CHUNKS)
                .then(|| format!("{:02x}", chunks.end)),
        },
        chunks: Some(PartitionChunks {
            partition: manifest.partition,
            partitions: manifest.partitions,
            start: chunks.start,
            end: chunks.end,
            digest: manifest.digest.clone(),
        }),
        bytes: files.iter().map(|f| f.size).sum(),
        files,
        location: None,
    })
}

/// The partition of the base publication `base` (an incremental build's)
/// holding the same rows as the partition just built (same place in the
/// same partitioning, same digest over its chunks), if any: the new
/// publication references its files instead of uploading a copy. Only
/// between publications of one kind (both in object storage, or both local).
pub fn shared_base_partition(
    store: &CorpusStore,
    base: &str,
    out: &str,
    manifest: &Manifest,
) -> Result<Option<Partition>, PublishError> {
    if base.is_empty() || is_remote(base) != is_remote(out) {
        return Ok(None);
    }
    let Some((publication, _)) = read_publication(store, base)? else {
        return Ok(None);
    };
    Ok(publication
        .partitions
        .iter()
        .find(|p| {
            p.chunks.as_ref().is_some_and(|c| {
                c.partition == manifest.partition
                    && c.partitions == manifest.partitions
                    && c.digest == manifest.digest
            })
        })
        .map(|p| Partition {
            location: Some(p.files_base(base).to_string()),
            ..p.clone()
        }))
}

/// Writes the publication of a partitioned index from its built partitions
/// (each with its manifest in its report), create-only and last. The index
/// digest is over every partition's chunk digests in chunk order, so it is
/// the digest of the same index built as one partition.
pub fn publish_partitions(
    store: &CorpusStore,
    out: &str,
    built: &[crate::tasks::BuildResult],
    job: &str,
) -> Result<Publication, PublishError> {
    let bad = |reason: String| PublishError::BadPublication {
        uri: out.to_string(),
        reason,
    };
    let mut built: Vec<&crate::tasks::BuildResult> = built.iter().collect();
    built.sort_by_key(|b| b.report.manifest.partition);
    let mut chunks = Vec::new();
    let mut partitions = Vec::new();
    for (n, result) in built.iter().enumerate() {
        let manifest = &result.report.manifest;
        let partition = result
            .partition
            .clone()
            .ok_or_else(|| bad(format!("build result {n} lists no partition files")))?;
        if manifest.partition as usize != n || manifest.partitions as usize != built.len() {
            return Err(bad(format!(
                "partition {} of {} where {n} of {} was expected",
                manifest.partition,
                manifest.partitions,
                built.len()
            )));
        }
        for digest in &manifest.chunk_digests {
            let bytes = hex::decode(digest)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| bad(format!("partition {n}: chunk digest {digest:?}")))?;
            chunks.push(bytes);
        }
        partitions.push(partition);
    }
    if chunks.len() != provindex_index::partition::CHUNKS as usize {
        return Err(bad(format!("{} chunk digests, expected 256", chunks.len())));
    }
    let totals = crate::writer::merge_reports(built.iter().map(|b| &b.report)).manifest;
    let mut totals = totals;
    totals.digest = provindex_index::digest_of_chunks(&chunks);
    let existing = |publication: Publication| {
        if publication.job == job && publication.index.digest == totals.digest {
            Ok(publication)
        } else {
            Err(PublishError::AlreadyPublished {
                uri: out.to_string(),
                digest: publication.index.digest,
                job: publication.job,
            })
        }
    };
    if let Some((publication, _)) = read_publication(store, out)? {
        return existing(publication);
    }
    let publication = Publication {
        format: PUBLICATION_FORMAT.into(),
        version: PUBLICATION_VERSION,
        job: job.to_string(),
        index: published_index(&built[0].report.manifest, &totals),
        partitions,
    };
    write_publication(store, out, publication, existing)
}

/// Writes `publication.json` create-only; a publication found there instead
/// goes to `existing` (a retried task's own stands, anything else refused).
fn write_publication(
    store: &CorpusStore,
    out: &str,
    publication: Publication,
    existing: impl Fn(Publication) -> Result<Publication, PublishError>,
) -> Result<Publication, PublishError> {
    let text = serde_json::to_vec_pretty(&publication).unwrap_or_default();
    match store.put_new(&publication_uri(out), Bytes::from(text)) {
        Ok(()) => Ok(publication),
        Err(StoreError::AlreadyExists(_)) => match read_publication(store, out)? {
            Some((publication, _)) => existing(publication),
            None => Err(PublishError::BadPublication {
                uri: publication_uri(out),
                reason: "vanished after a create-only conflict".into(),
            }),
        },
        Err(e) => Err(e.into()),
    }
}

/// A publication fetched and verified into a local cache.
#[derive(Debug, Clone)]
pub struct FetchedIndex {
    pub publication: Publication,
    /// `<cache>/<digest>`: holds `publication.json` and `partitions/<id>/`.
    pub dir: PathBuf,
    /// Whether a verified cache from an earlier run was reused.
    pub reused: bool,
}

impl FetchedIndex {
    /// The local RocksDB directory of partition `id`.
    pub fn partition_dir(&self, id: &str) -> PathBuf {
        self.dir.join("partitions").join(id)
    }
}

/// Fetches the publication at `uri` into `cache` (`<cache>/<digest>/`) and
/// verifies every file's size and SHA-256 against `publication.json` before
/// returning; a directory verified against the same `publication.json` by an
/// earlier run is reused after checking its files' sizes. Nothing unverified
/// is left where a reader would open it.
pub fn fetch(store: &CorpusStore, uri: &str, cache: &Path) -> Result<FetchedIndex, PublishError> {
    let Some((publication, bytes)) = read_publication(store, uri)? else {
        return Err(PublishError::BadPublication {
            uri: uri.to_string(),
            reason: format!("no {PUBLICATION_FILE} (not published, or still being published)"),
        });
    };
    let marker = hex::encode(Sha256::digest(&bytes));
    let dir = cache.join(&publication.index.digest);
    if cache_is_verified(&dir, &publication, &marker) {
        return Ok(FetchedIndex {
            publication,
            dir,
            reused: true,
        });
    }
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| PublishError::Io { path, source }
    };
    std::fs::create_dir_all(cache).map_err(io(cache))?;
    let partial = cache.join(format!(
        ".{}.partial-{}",
        publication.index.digest,
        std::process::id()
    ));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    let outcome = (|| {
        // A missing or truncated object is refused before anything is downloaded.
        check_listed_sizes(
            store,
            uri,
            &publication.partitions.iter().collect::<Vec<_>>(),
        )?;
        for partition in &publication.partitions {
            let local = partial.join("partitions").join(&partition.id);
            std::fs::create_dir_all(&local).map_err(io(&local))?;
            for file in &partition.files {
                download_verified(
                    store,
                    partition.files_base(uri),
                    file,
                    &partial.join(&file.path),
                )?;
            }
        }
        std::fs::write(partial.join(PUBLICATION_FILE), &bytes)
            .map_err(io(&partial.join(PUBLICATION_FILE)))?;
        std::fs::write(partial.join(VERIFIED_MARKER), &marker)
            .map_err(io(&partial.join(VERIFIED_MARKER)))?;
        Ok(())
    })();
    if let Err(e) = outcome {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    if dir.exists() {
        // A stale or unverified copy of the same digest.
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&partial, &dir).map_err(io(&dir))?;
    Ok(FetchedIndex {
        publication,
        dir,
        reused: false,
    })
}

/// Fetches partition `id` of the publication at `uri` into `dir`, every file
/// checked against `publication.json` (size and SHA-256) as it is written;
/// returns the partition's RocksDB directory (`dir/partitions/<id>`). For a
/// worker that needs one partition, not the whole index ([`fetch`]).
pub fn fetch_partition(
    store: &CorpusStore,
    uri: &str,
    id: &str,
    dir: &Path,
) -> Result<PathBuf, PublishError> {
    let Some((publication, _)) = read_publication(store, uri)? else {
        return Err(PublishError::BadPublication {
            uri: uri.to_string(),
            reason: format!("no {PUBLICATION_FILE} (not published, or still being published)"),
        });
    };
    let partition = publication
        .partitions
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| PublishError::BadPublication {
            uri: uri.to_string(),
            reason: format!("no partition {id}"),
        })?;
    let local = dir.join("partitions").join(id);
    std::fs::create_dir_all(&local).map_err(|source| PublishError::Io {
        path: local.display().to_string(),
        source,
    })?;
    for file in &partition.files {
        download_verified(
            store,
            partition.files_base(uri),
            file,
            &dir.join(&file.path),
        )?;
    }
    Ok(local)
}

fn cache_is_verified(dir: &Path, publication: &Publication, marker: &str) -> bool {
    let verified = std::fs::read_to_string(dir.join(VERIFIED_MARKER)).unwrap_or_default();
    verified == marker
        && publication.partitions.iter().all(|partition| {
            partition.files.iter().all(|file| {
                std::fs::metadata(dir.join(&file.path)).is_ok_and(|m| m.len() == file.size)
            })
        })
}

/// Streams one object into `target`, hashing as it goes; refuses (and
/// removes `target`) on a size or SHA-256 mismatch.
fn download_verified(
    store: &CorpusStore,
    base: &str,
    file: &PublishedFile,
    target: &Path,
) -> Result<(), PublishError> {
    let uri = join(base, &file.path);
    let io = |source| PublishError::Io {
        path: target.display().to_string(),
        source,
    };
    let read_error = |source: std::io::Error| PublishError::Io {
        path: uri.clone(),
        source,
    };
    let mut reader = store.open(&uri)?;
    let mut out = std::fs::File::create(target).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(read_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n]).map_err(io)?;
        size += n as u64;
    }
    out.sync_all().map_err(io)?;
    let actual = hex::encode(hasher.finalize());
    let mismatch = if size != file.size {
        Some(PublishError::Size {
            file: file.path.clone(),
            uri: uri.clone(),
            expected: file.size,
            actual: size,
        })
    } else if actual != file.sha256 {
        Some(PublishError::Checksum {
            file: file.path.clone(),
            uri: uri.clone(),
            expected: file.sha256.clone(),
            actual,
        })
    } else {
        None
    };
    match mismatch {
        Some(e) => {
            let _ = std::fs::remove_file(target);
            Err(e)
        }
        None => Ok(()),
    }
}

/// Checks that the index opened from a fetched partition is the one
/// `publication.json` describes.
pub fn check_digest(fetched: &FetchedIndex, manifest: &Manifest) -> Result<(), PublishError> {
    // A partition's manifest digests its own chunks; the publication lists it.
    let expected = if manifest.partitions > 1 {
        fetched
            .publication
            .partitions
            .iter()
            .filter_map(|p| p.chunks.as_ref())
            .find(|c| c.partition == manifest.partition && c.partitions == manifest.partitions)
            .map(|c| c.digest.clone())
            .unwrap_or_default()
    } else {
        fetched.publication.index.digest.clone()
    };
    if manifest.digest != expected {
        return Err(PublishError::Digest {
            dir: fetched.dir.display().to_string(),
            expected,
            actual: manifest.digest.clone(),
        });
    }
    Ok(())
}

/// Fetches only partitions `ids` of the publication at `uri` into the cache
/// layout of [`fetch`] (`<cache>/<digest>/partitions/<id>/`), for a server
/// that serves some partitions: each file's size and SHA-256 checked against
/// `publication.json`. Each partition is downloaded into
/// `partitions/.<id>.partial-<pid>/`, renamed into place once every file of
/// it verified, and only then marked by `partitions/<id>.VERIFIED` (the
/// SHA-256 of the `publication.json` bytes); a later call reuses a partition
/// whose marker matches (or a whole-index cache [`fetch`] verified) after
/// checking its files' sizes. `reused` says whether every partition was.
pub fn fetch_partitions(
    store: &CorpusStore,
    uri: &str,
    ids: &[String],
    cache: &Path,
) -> Result<FetchedIndex, PublishError> {
    let Some((publication, bytes)) = read_publication(store, uri)? else {
        return Err(PublishError::BadPublication {
            uri: uri.to_string(),
            reason: format!("no {PUBLICATION_FILE} (not published, or still being published)"),
        });
    };
    let mut wanted: Vec<&Partition> = Vec::new();
    for id in ids {
        let partition = publication
            .partitions
            .iter()
            .find(|p| &p.id == id)
            .ok_or_else(|| PublishError::BadPublication {
                uri: uri.to_string(),
                reason: format!("no partition {id}"),
            })?;
        if !wanted.iter().any(|p| p.id == partition.id) {
            wanted.push(partition);
        }
    }
    let marker = hex::encode(Sha256::digest(&bytes));
    let dir = cache.join(&publication.index.digest);
    let whole = std::fs::read_to_string(dir.join(VERIFIED_MARKER)).unwrap_or_default() == marker;
    let missing: Vec<&Partition> = wanted
        .iter()
        .copied()
        .filter(|partition| {
            let marked = whole
                || std::fs::read_to_string(partition_marker(&dir, &partition.id))
                    .unwrap_or_default()
                    == marker;
            !(marked && files_present(&dir, partition))
        })
        .collect();
    let reused = missing.is_empty();
    if !reused {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| PublishError::Io { path, source }
        };
        check_listed_sizes(store, uri, &missing)?;
        let partitions = dir.join("partitions");
        std::fs::create_dir_all(&partitions).map_err(io(&partitions))?;
        write_atomically(&dir.join(PUBLICATION_FILE), &bytes)?;
        for partition in missing {
            let partial =
                partitions.join(format!(".{}.partial-{}", partition.id, std::process::id()));
            if partial.exists() {
                std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
            }
            std::fs::create_dir_all(&partial).map_err(io(&partial))?;
            let prefix = format!("partitions/{}/", partition.id);
            let outcome = partition.files.iter().try_for_each(|file| {
                // parse_publication checked every path is `<prefix><name>`.
                let name = file.path.strip_prefix(&prefix).unwrap_or(&file.path);
                download_verified(store, partition.files_base(uri), file, &partial.join(name))
            });
            if let Err(e) = outcome {
                let _ = std::fs::remove_dir_all(&partial);
                return Err(e);
            }
            // A stale marker goes before the stale copy it vouched for.
            let marker_path = partition_marker(&dir, &partition.id);
            if marker_path.exists() {
                std::fs::remove_file(&marker_path).map_err(io(&marker_path))?;
            }
            let local = partitions.join(&partition.id);
            if local.exists() {
                std::fs::remove_dir_all(&local).map_err(io(&local))?;
            }
            std::fs::rename(&partial, &local).map_err(io(&local))?;
            write_atomically(&marker_path, marker.as_bytes())?;
        }
    }
    Ok(FetchedIndex {
        publication,
        dir,
        reused,
    })
}

/// `<dir>/partitions/<id>.VERIFIED`: partition `id` of the cache `dir` was
/// verified against the `publication.json` whose SHA-256 it holds.
fn partition_marker(dir: &Path, id: &str) -> PathBuf {
    dir.join("partitions")
        .join(format!("{id}.{VERIFIED_MARKER}"))
}

fn files_present(dir: &Path, partition: &Partition) -> bool {
    partition
        .files
        .iter()
        .all(|file| std::fs::metadata(dir.join(&file.path)).is_ok_and(|m| m.len() == file.size))
}

/// Writes `path` through a temporary file and a rename, so a reader sees the
/// old contents or the new, never part of them.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| PublishError::Io { path, source }
    };
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Refuses, before anything is downloaded, a file of `partitions` that the
/// listing of its partition's directory (under the partition's own
/// location, for one referenced from an earlier publication) shows missing
/// or of another size. Also for a local publication (`uri` an absolute
/// path), which is read in place.
pub fn check_listed_sizes(
    store: &CorpusStore,
    uri: &str,
    partitions: &[&Partition],
) -> Result<(), PublishError> {
    for partition in partitions {
        let base = partition.files_base(uri);
        let listed: std::collections::HashMap<String, u64> = store
            .list(&join(base, &format!("partitions/{}/", partition.id)))
            .map(|objects| objects.into_iter().map(|o| (o.uri, o.size)).collect())
            .or_else(|e| match e {
                StoreError::NoMatch(_) => Ok(Default::default()),
                e => Err(e),
            })?;
        for file in &partition.files {
            let object = join(base, &file.path);
            match listed.get(&object) {
                None => {
                    return Err(PublishError::Missing {
                        file: file.path.clone(),
                        uri: object,
                        expected: file.size,
                    });
                }
                Some(&size) if size != file.size => {
                    return Err(PublishError::Size {
                        file: file.path.clone(),
                        uri: object,
                        expected: file.size,
                        actual: size,
                    });
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(digest: &str) -> Manifest {
        let mut m = Manifest::empty();
        m.digest = digest.into();
        m.captures = 3;
        m.sketch_spec = "norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1".into();
        m
    }

    fn fake_index(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("CURRENT"), b"MANIFEST-000005\n").unwrap();
        std::fs::write(dir.join("MANIFEST-000005"), b"manifest bytes").unwrap();
        std::fs::write(dir.join("000012.sst"), vec![7u8; 9 << 20]).unwrap();
        std::fs::write(dir.join("LOCK"), b"").unwrap();
        std::fs::write(dir.join("LOG"), b"info").unwrap();
    }

    #[test]
    fn publishes_fetches_and_refuses_tampering() {
        let tmp = tempfile::tempdir().unwrap();
        let index = tmp.path().join("index");
        fake_index(&index);
        let store = CorpusStore::new().unwrap();
        let out = "memory://pub/idx";
        let published = publish_dir(&store, &index, out, &manifest("abcd"), "job-1").unwrap();
        let names: Vec<_> = published.partitions[0]
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "partitions/p0000/000012.sst",
                "partitions/p0000/CURRENT",
                "partitions/p0000/MANIFEST-000005"
            ]
        );
        assert_eq!(published.partitions[0].bytes, (9 << 20) + 16 + 14);
        // The same job and digest again (a retried task): accepted.
        publish_dir(&store, &index, out, &manifest("abcd"), "job-1").unwrap();
        // Anything else: refused.
        let refused = publish_dir(&store, &index, out, &manifest("abcd"), "job-2").unwrap_err();
        assert!(
            matches!(refused, PublishError::AlreadyPublished { .. }),
            "{refused}"
        );
        assert!(check_unpublished(&store, out).is_err());

        let cache = tmp.path().join("cache");
        let fetched = fetch(&store, out, &cache).unwrap();
        assert!(!fetched.reused);
        assert_eq!(
            std::fs::read(fetched.partition_dir("p0000").join("000012.sst")).unwrap(),
            vec![7u8; 9 << 20]
        );
        assert!(fetch(&store, out, &cache).unwrap().reused);

        // One byte changed, same size: the checksum names the file.
        let mut tampered = vec![7u8; 9 << 20];
        tampered[12345] = 8;
        store
            .put(
                &format!("{out}/partitions/p0000/000012.sst"),
                tampered.into(),
            )
            .unwrap();
        let error = fetch(&store, out, &tmp.path().join("cache2")).unwrap_err();
        let PublishError::Checksum {
            file,
            expected,
            actual,
            ..
        } = &error
        else {
            panic!("{error}")
        };
        assert_eq!(file, "partitions/p0000/000012.sst");
        assert_eq!(expected, &published.partitions[0].files[0].sha256);
        assert_ne!(expected, actual);
        assert!(!tmp.path().join("cache2/abcd").exists());

        store
            .delete(&format!("{out}/partitions/p0000/CURRENT"))
            .unwrap();
        let error = fetch(&store, out, &tmp.path().join("cache3")).unwrap_err();
        assert!(
            matches!(&error, PublishError::Missing { file, .. } if file == "partitions/p0000/CURRENT"),
            "{error}"
        );
    }

    #[test]
    fn refuses_unsafe_paths_and_other_formats() {
        let good = Publication {
            format: PUBLICATION_FORMAT.into(),
            version: 1,
            job: "j".into(),
            index: PublishedIndex {
                digest: "ab".into(),
                format_version: 4,
                normalization_version: 2,
                sketch_spec: String::new(),
                crawls: vec![],
                built_at: 0,
                captures: 0,
                contents: 0,
                urls: 0,
                clusters: 0,
                clustered_contents: 0,
            },
            partitions: vec![Partition {
                id: "p0000".into(),
                key_range: KeyRange {
                    tables: "all".into(),
                    start: None,
                    end: None,
                },
                chunks: None,
                bytes: 1,
                files: vec![PublishedFile {
                    path: "partitions/p0000/CURRENT".into(),
                    size: 1,
                    sha256: "00".into(),
                }],
                location: None,
            }],
        };
        let text = |p: &Publication| serde_json::to_vec(p).unwrap();
        parse_publication("u", &text(&good)).unwrap();
        for path in [
            "partitions/p0000/../../etc/passwd",
            "partitions/p0001/CURRENT",
            "/CURRENT",
            "partitions/p0000/",
        ] {
            let mut bad = good.clone();
            bad.partitions[0].files[0].path = path.into();
            assert!(parse_publication("u", &text(&bad)).is_err(), "{path}");
        }
        let mut bad = good.clone();
        bad.index.digest = "../x".into();
        assert!(parse_publication("u", &text(&bad)).is_err());
        let mut bad = good.clone();
        bad.version = 2;
        let error = parse_publication("u", &text(&bad)).unwrap_err().to_string();
        assert!(error.contains("version 2"), "{error}");
    }

    #[test]
    fn fetches_only_the_partitions_asked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let index = tmp.path().join("index");
        fake_index(&index);
        let store = CorpusStore::new().unwrap();
        let out = "memory://pub/parts";
        let published = publish_dir(&store, &index, out, &manifest("abcd"), "job-1").unwrap();
        let ids = ["p0000".to_string()];
        let cache = tmp.path().join("cache");

        // A partition the publication does not list: refused, nothing fetched.
        let error = fetch_partitions(&store, out, &["p0001".into()], &cache).unwrap_err();
        assert!(error.to_string().contains("no partition p0001"), "{error}");
        assert!(!cache.join("abcd").exists());

        let fetched = fetch_partitions(&store, out, &ids, &cache).unwrap();
        assert!(!fetched.reused);
        assert_eq!(
            std::fs::read(fetched.partition_dir("p0000").join("000012.sst")).unwrap(),
            vec![7u8; 9 << 20]
        );
        let (_, bytes) = read_publication(&store, out).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(cache.join("abcd/partitions/p0000.VERIFIED")).unwrap(),
            hex::encode(Sha256::digest(&bytes))
        );
        assert_eq!(
            std::fs::read(cache.join("abcd/publication.json")).unwrap(),
            bytes
        );
        assert!(fetch_partitions(&store, out, &ids, &cache).unwrap().reused);
        // A whole-index cache verified by `fetch` serves as well.
        let whole = tmp.path().join("whole");
        fetch(&store, out, &whole).unwrap();
        assert!(fetch_partitions(&store, out, &ids, &whole).unwrap().reused);
        // A verified partition whose file changed size locally is fetched again.
        std::fs::write(fetched.partition_dir("p0000").join("CURRENT"), b"x").unwrap();
        assert!(!fetch_partitions(&store, out, &ids, &cache).unwrap().reused);

        // A partition referenced from an earlier publication is read there.
        let mut next = published.clone();
        next.partitions[0].location = Some(out.to_string());
        let next_uri = "memory://pub/next";
        store
            .put(
                &publication_uri(next_uri),
                serde_json::to_vec(&next).unwrap().into(),
            )
            .unwrap();
        let referenced = tmp.path().join("referenced");
        fetch_partitions(&store, next_uri, &ids, &referenced).unwrap();
        assert_eq!(
            std::fs::read(referenced.join("abcd/partitions/p0000/MANIFEST-000005")).unwrap(),
            b"manifest bytes"
        );

        // One byte changed: a fresh cache is refused, naming the file, and
        // nothing of the partition is left where a reader would open it.
        let mut tampered = vec![7u8; 9 << 20];
        tampered[4321] = 9;
        store
            .put(
                &format!("{out}/partitions/p0000/000012.sst"),
                tampered.into(),
            )
            .unwrap();
        let fresh = tmp.path().join("cache2");
        let error = fetch_partitions(&store, out, &ids, &fresh).unwrap_err();
        assert!(
            matches!(&error, PublishError::Checksum { file, .. } if file == "partitions/p0000/000012.sst"),
            "{error}"
        );
        let left: Vec<_> = std::fs::read_dir(fresh.join("abcd/partitions"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // The partition verified before is reused.
        assert!(fetch_partitions(&store, out, &ids, &cache).unwrap().reused);
    }
}
