//! Read-only queries over a published index.

use std::path::{Path, PathBuf};

use provindex_store::{OpenMode, Schema, SchemaIterator, Store, ValueCodec};
use sha2::{Digest, Sha256 as Sha256Hasher};

use crate::ids::{CaptureId, ContentId};
use crate::keys::{self, LshMember};
use crate::partition::Partitioning;
use crate::records::{CaptureRecord, ContentRecord};
use crate::schema::{
    CaptureCopy, Captures, Clusters, ContentCaptureKey, ContentCaptures, ContentSha256, Contents,
    Lsh, Meta, MetaKey, PiiKeys, SHA_PREFIX_LEN, Signatures, TABLES, Urls,
};
use crate::{IndexError, Manifest};

/// Keys examined by one URL scan before it returns a partial page with a resume
/// key, so a sparse time filter over a huge domain cannot stall a request.
pub const MAX_KEYS_EXAMINED: usize = 200_000;

/// A URL range scan over the SURT-ordered `urls` table.
#[derive(Debug, Clone)]
pub struct UrlScan {
    /// Disjoint key prefixes in ascending order; the scan visits them in order
    /// (a domain scan is `dom)`, `dom,` and `dom:` — the host, its subdomains
    /// and its ports — without walking unrelated hosts between them).
    pub prefixes: Vec<Vec<u8>>,
    pub from_time: Option<i64>,
    pub to_time: Option<i64>,
    /// Resume after this key (exclusive); from a previous page.
    pub after: Option<Vec<u8>>,
    pub limit: usize,
    /// Descending key order (newest first within one URL).
    pub reverse: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlHit {
    pub surt: String,
    pub time: i64,
    pub capture_id: u128,
}

#[derive(Debug, Clone, Default)]
pub struct UrlScanPage {
    pub hits: Vec<UrlHit>,
    /// Key to resume after, when more may follow.
    pub next: Option<Vec<u8>>,
}

/// One table's share of an index ([`IndexReader::table_sizes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableSize {
    pub table: &'static str,
    pub rows: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
    pub sst_bytes: u64,
}

pub struct IndexReader {
    store: Store,
    path: PathBuf,
    manifest: Manifest,
}

/// Block cache of a reader opened with [`IndexReader::open`].
pub const DEFAULT_BLOCK_CACHE_BYTES: usize = 256 << 20;

impl IndexReader {
    /// Opens a published index read-only with the default block cache. Fails
    /// when the manifest is missing (the build did not finish) or has another
    /// format version.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        Self::open_with_cache(path, DEFAULT_BLOCK_CACHE_BYTES)
    }

    /// Opens a published index read-only with a block cache of
    /// `block_cache_bytes` (uncompressed blocks, shared by every table; a
    /// server whose hot blocks fit in it answers point lookups without a
    /// read and decompression per lookup).
    pub fn open_with_cache(path: &Path, block_cache_bytes: usize) -> Result<Self, IndexError> {
        let not_an_index = |reason: String| IndexError::NotAnIndex {
            path: path.to_path_buf(),
            reason,
        };
        if !path.join("CURRENT").is_file() {
            return Err(not_an_index("no RocksDB database here".into()));
        }
        let store = Store::open(path, &TABLES, OpenMode::ReadOnly, block_cache_bytes)?;
        let manifest = read_manifest(&store, path)?;
        if manifest.format_version != crate::FORMAT_VERSION {
            return Err(not_an_index(format!(
                "index format version {}, but this build of provindex reads version {}; \
                 rebuild the index with this version (`provindex index`)",
                manifest.format_version,
                crate::FORMAT_VERSION
            )));
        }
        Ok(Self {
            store,
            path: path.to_path_buf(),
            manifest,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Whether this database holds `content_id`'s content-side rows (its
    /// record, signature and bands) when it has them: the whole index, or
    /// the partition owning the id's chunk.
    pub fn holds_content(&self, content_id: u128) -> bool {
        let (partitions, partition) = (self.manifest.partitions, self.manifest.partition);
        partitions <= 1
            || crate::partition::Partitioning::new(partitions)
                .is_ok_and(|p| p.of_content(content_id) == partition)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn capture(&self, capture_id: u128) -> Result<Option<CaptureRecord>, IndexError> {
        Ok(self.store.get::<Captures>(&CaptureId(capture_id))?)
    }

    /// Several captures in one batched read (RocksDB MultiGet: the keys share
    /// their filter, index and block lookups), in the order of `capture_ids`.
    pub fn captures(&self, capture_ids: &[u128]) -> Result<Vec<Option<CaptureRecord>>, IndexError> {
        let keys: Vec<CaptureId> = capture_ids.iter().copied().map(CaptureId).collect();
        Ok(self.store.multi_get::<Captures>(&keys)?)
    }

    pub fn content(&self, content_id: u128) -> Result<Option<ContentRecord>, IndexError> {
        Ok(self.store.get::<Contents>(&ContentId(content_id))?)
    }

    /// The content whose normalized text has this SHA-256: the contents
    /// under its prefix in `content_sha256` (one, short of a prefix
    /// collision), confirmed against the full SHA-256 of their records.
    pub fn content_id_by_sha256(&self, sha256: &[u8; 32]) -> Result<Option<u128>, IndexError> {
        let prefix = &sha256[..SHA_PREFIX_LEN];
        let mut iter = self.store.iter::<ContentSha256>()?;
        iter.seek(prefix);
        let (candidates, _) = collect_ids(iter, prefix, usize::MAX, |key| key.content_id.0)?;
        for content_id in candidates {
            let record = self
                .content(content_id)?
                .ok_or_else(|| IndexError::Corrupt {
                    cf: ContentSha256::COLUMN_FAMILY,
                    reason: format!("names content {content_id:032x}, which has no record"),
                })?;
            if record.sha256 == sha256 {
                return Ok(Some(content_id));
            }
        }
        Ok(None)
    }

    /// The stored MinHash signature of a content: the compared bits of each
    /// value (`provindex_sketch::COMPARED_BITS`), widened back to `u32` for
    /// `provindex_sketch::agreement` (`None`: no such content, or its text
    /// was empty).
    pub fn signature(&self, content_id: u128) -> Result<Option<Vec<u32>>, IndexError> {
        Ok(self
            .store
            .get::<Signatures>(&ContentId(content_id))?
            .map(|s| s.0.into_iter().map(u32::from).collect()))
    }

    /// Content ids in one LSH bucket (band, band key), ascending, at most
    /// `limit`. Returns the ids and whether the bucket holds more.
    pub fn lsh_bucket(
        &self,
        band: u16,
        band_key: u64,
        limit: usize,
    ) -> Result<(Vec<u128>, bool), IndexError> {
        let prefix = keys::lsh_prefix(band, band_key);
        let mut iter = self.store.iter::<Lsh>()?;
        iter.seek(&prefix);
        let mut members = Vec::new();
        while iter.key_bytes().is_some_and(|key| key.starts_with(&prefix)) {
            if members.len() == limit {
                let ids = self.resolve_lsh_members(&members)?;
                return Ok((ids, true));
            }
            if let Some(key) = iter.key() {
                members.push(key?.member);
            }
            iter.next();
        }
        iter.status()?;
        Ok((self.resolve_lsh_members(&members)?, false))
    }

    /// The content ids `lsh` rows name: a prefix names the one content of
    /// this partition whose id starts with it (the builder keeps full ids
    /// for shared prefixes), found by a seek in `signatures`, which every
    /// content with `lsh` rows has (other partitions' contents copied there
    /// start with other bytes).
    fn resolve_lsh_members(&self, members: &[LshMember]) -> Result<Vec<u128>, IndexError> {
        let mut iter = self.store.iter::<Signatures>()?;
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            let prefix = match *member {
                LshMember::Id(id) => {
                    ids.push(id);
                    continue;
                }
                LshMember::Prefix(prefix) => prefix.to_be_bytes(),
            };
            iter.seek(&prefix);
            let found = iter
                .key_bytes()
                .filter(|key| key.starts_with(&prefix))
                .and_then(keys::decode_id);
            iter.status()?;
            let id = found.ok_or_else(|| IndexError::Corrupt {
                cf: Lsh::COLUMN_FAMILY,
                reason: format!(
                    "a row names content prefix {}, which no signature starts with",
                    hex::encode(prefix)
                ),
            })?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// One content's captures, by capture id ascending, starting after
    /// `after`: each id with its record (read from `captures` when this
    /// database owns the capture, else from the copy in its
    /// `content_captures` row). Returns at most `limit` and whether more
    /// follow.
    pub fn content_captures(
        &self,
        content_id: u128,
        after: Option<u128>,
        limit: usize,
    ) -> Result<(Vec<(u128, CaptureRecord)>, bool), IndexError> {
        let prefix = keys::id_key(content_id);
        let mut iter = self.store.iter::<ContentCaptures>()?;
        match after {
            Some(after) => {
                let key = ContentCaptureKey {
                    content_id: ContentId(content_id),
                    capture_id: CaptureId(after),
                };
                iter.seek_key(&key);
                if iter.key().transpose()? == Some(key) {
                    iter.next();
                }
            }
            None => iter.seek(&prefix),
        }
        let mut rows = Vec::new();
        let mut more = false;
        while iter.key_bytes().is_some_and(|key| key.starts_with(&prefix)) {
            if rows.len() == limit {
                more = true;
                break;
            }
            if let Some(row) = iter.entry() {
                let (key, copy) = row?;
                rows.push((key.capture_id.0, copy));
            }
            iter.next();
        }
        iter.status()?;
        let owned: Vec<u128> = rows
            .iter()
            .filter(|(_, copy)| *copy == CaptureCopy::Owned)
            .map(|(id, _)| *id)
            .collect();
        let mut owned_records = self.captures(&owned)?.into_iter();
        let mut captures = Vec::with_capacity(rows.len());
        for (capture_id, copy) in rows {
            let record = match copy {
                CaptureCopy::Copy(record) => copied_record(*record, content_id),
                CaptureCopy::Owned => {
                    owned_records
                        .next()
                        .flatten()
                        .ok_or_else(|| IndexError::Corrupt {
                            cf: ContentCaptures::COLUMN_FAMILY,
                            reason: format!(
                                "content {content_id:032x} names capture {capture_id:032x}, \
                             which has no record"
                            ),
                        })?
                }
            };
            captures.push((capture_id, record));
        }
        Ok((captures, more))
    }

    /// Visits every capture of the contents this database holds (each
    /// content's captures wherever their URLs are), in no particular order:
    /// the owned ones in `captures`, then the copies in `content_captures`.
    pub fn for_each_capture_of_held_contents<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(u128, CaptureRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        self.for_each_capture(|capture_id, record| match record.content_id() {
            Some(content_id) if self.holds_content(content_id) => visit(capture_id, record),
            _ => Ok(()),
        })?;
        walk::<ContentCaptures, E>(&self.store, |key, copy| match copy {
            CaptureCopy::Copy(record) => {
                visit(key.capture_id.0, copied_record(*record, key.content_id.0))
            }
            CaptureCopy::Owned => Ok(()),
        })
    }

    /// Contents holding the personal identifier whose HMAC under the
    /// build's PII key is `hmac` (the `pii_keys` table; issue 19), in
    /// content-id order, at most `limit`; and whether more follow.
    pub fn pii_contents(
        &self,
        hmac: &[u8; 32],
        limit: usize,
    ) -> Result<(Vec<u128>, bool), IndexError> {
        let mut iter = self.store.iter::<crate::schema::PiiKeys>()?;
        iter.seek(hmac);
        collect_ids(iter, hmac, limit, |key| key.content_id.0)
    }

    /// Visits every stored row of every table (`meta` included) as its raw
    /// key and value bytes: for audits of what an index holds, e.g. that no
    /// personal identifier is stored in clear (issue 19).
    pub fn for_each_stored_row(
        &self,
        mut visit: impl FnMut(&str, &[u8], &[u8]),
    ) -> Result<(), IndexError> {
        for spec in &TABLES {
            self.store
                .for_each_raw(spec.name, |key, value| visit(spec.name, key, value))?;
        }
        Ok(())
    }

    /// One page of a URL scan.
    pub fn scan_urls(&self, scan: &UrlScan) -> Result<UrlScanPage, IndexError> {
        let mut page = UrlScanPage::default();
        if scan.limit == 0 || scan.prefixes.is_empty() {
            return Ok(page);
        }
        let mut iter = self.store.iter::<Urls>()?;
        let order: Vec<&Vec<u8>> = if scan.reverse {
            scan.prefixes.iter().rev().collect()
        } else {
            scan.prefixes.iter().collect()
        };
        let mut examined = 0usize;
        for prefix in order {
            position(&mut iter, prefix, scan.after.as_deref(), scan.reverse);
            while let Some(key_bytes) = iter.key_bytes() {
                if !key_bytes.starts_with(prefix) {
                    break;
                }
                let resume = key_bytes.to_vec();
                let Some(hit) = iter.key().transpose()? else {
                    break;
                };
                let in_range = scan.from_time.is_none_or(|from| hit.time >= from)
                    && scan.to_time.is_none_or(|to| hit.time <= to);
                if in_range {
                    if page.hits.len() == scan.limit {
                        page.next = page
                            .hits
                            .last()
                            .map(|last| keys::url_key(&last.surt, last.time, last.capture_id));
                        return Ok(page);
                    }
                    page.hits.push(UrlHit {
                        surt: hit.surt,
                        time: hit.time,
                        capture_id: hit.capture_id.0,
                    });
                }
                examined += 1;
                if examined >= MAX_KEYS_EXAMINED {
                    page.next = Some(resume);
                    return Ok(page);
                }
                if scan.reverse {
                    iter.prev();
                } else {
                    iter.next();
                }
            }
            iter.status()?;
        }
        Ok(page)
    }

    /// Visits every content in content-id order (a full walk of `contents`).
    pub fn for_each_content<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(u128, ContentRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        walk::<Contents, E>(&self.store, |id, record| visit(id.0, record))
    }

    /// Visits every `lsh` row as (band, the band key's stored low 32 bits,
    /// content_id), in key order (a content id prefix resolved to its
    /// content, one seek per row).
    pub fn for_each_lsh_row<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(u16, u32, u128) -> Result<(), E>,
    ) -> Result<(), E> {
        walk::<Lsh, E>(&self.store, |key, ()| {
            // The stored key keeps the low 32 bits (`keys::lsh_key`).
            #[allow(clippy::cast_possible_truncation)]
            let band_key = key.band_key as u32;
            let id = self.resolve_lsh_members(&[key.member])?[0];
            visit(key.band, band_key, id)
        })
    }

    /// Visits every `pii_keys` row as (HMAC, content_id), in key order.
    pub fn for_each_pii_row<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(&[u8; 32], u128) -> Result<(), E>,
    ) -> Result<(), E> {
        walk::<crate::schema::PiiKeys, E>(&self.store, |row, ()| visit(&row.hmac, row.content_id.0))
    }

    /// Visits every capture in capture-id order (a full walk of `captures`).
    pub fn for_each_capture<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(u128, CaptureRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        walk::<Captures, E>(&self.store, |id, record| visit(id.0, record))
    }

    /// RocksDB's block cache and SST figures (properties, no walk): for
    /// the servers' metrics.
    pub fn store_stats(&self) -> Result<provindex_store::StoreStats, IndexError> {
        Ok(self.store.stats()?)
    }

    /// Where the bytes go: rows, key and value bytes (as stored, before
    /// compression) and SST bytes on disk, per table (a full walk).
    pub fn table_sizes(&self) -> Result<Vec<TableSize>, IndexError> {
        TABLES
            .iter()
            .map(|spec| {
                let mut size = TableSize {
                    table: spec.name,
                    sst_bytes: self.store.sst_bytes(spec.name)?,
                    ..TableSize::default()
                };
                self.store.for_each_raw(spec.name, |key, value| {
                    size.rows += 1;
                    size.key_bytes += key.len() as u64;
                    size.value_bytes += value.len() as u64;
                })?;
                Ok(size)
            })
            .collect()
    }

    /// Hex SHA-256 over the logical contents of every table but `meta`: the
    /// same records give the same digest whatever the SST layout.
    pub fn digest(&self) -> Result<String, IndexError> {
        digest_store(&self.store)
    }
}

/// Every row of `S` in key order, for callers with their own error type.
fn walk<S: Schema, E: From<IndexError>>(
    store: &Store,
    mut visit: impl FnMut(S::Key, S::Value) -> Result<(), E>,
) -> Result<(), E> {
    let mut iter = store.iter::<S>().map_err(IndexError::from)?;
    iter.seek_to_first();
    while let Some(row) = iter.entry() {
        let (key, value) = row.map_err(IndexError::from)?;
        visit(key, value)?;
        iter.next();
    }
    iter.status().map_err(IndexError::from)?;
    Ok(())
}

/// Walks keys starting with `prefix` from the iterator's position, taking an
/// id from each, up to `limit`. Returns the ids and whether more follow.
fn collect_ids<S: Schema>(
    mut iter: SchemaIterator<'_, S>,
    prefix: &[u8],
    limit: usize,
    id_of: impl Fn(S::Key) -> u128,
) -> Result<(Vec<u128>, bool), IndexError> {
    let mut ids = Vec::new();
    while iter.key_bytes().is_some_and(|key| key.starts_with(prefix)) {
        if ids.len() == limit {
            return Ok((ids, true));
        }
        if let Some(key) = iter.key() {
            ids.push(id_of(key?));
        }
        iter.next();
    }
    iter.status()?;
    Ok((ids, false))
}

/// Places `iter` on the first key of `prefix` in scan order, or just past
/// `after` when it lies inside `prefix`'s range. An `after` beyond this prefix
/// in scan order skips the prefix entirely.
fn position(
    iter: &mut SchemaIterator<'_, Urls>,
    prefix: &[u8],
    after: Option<&[u8]>,
    reverse: bool,
) {
    match (after, reverse) {
        (Some(after), false) if after >= prefix => {
            iter.seek(after);
            if iter.key_bytes() == Some(after) {
                iter.next();
            }
        }
        (Some(after), true) if after.starts_with(prefix) || after < prefix => {
            iter.seek_for_prev(after);
            if iter.key_bytes() == Some(after) {
                iter.prev();
            }
        }
        (_, false) => iter.seek(prefix),
        (_, true) => match prefix_successor(prefix) {
            Some(end) => {
                iter.seek_for_prev(&end);
                if iter.key_bytes() == Some(end.as_slice()) {
                    iter.prev();
                }
            }
            None => iter.seek_to_last(),
        },
    }
}

/// The smallest key greater than every key starting with `prefix`.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A copy from `content_captures` with its content id, which the row's key
/// gives, restored.
fn copied_record(record: CaptureRecord, content_id: u128) -> CaptureRecord {
    CaptureRecord {
        content_id: keys::id_key(content_id).to_vec(),
        ..record
    }
}

/// A row's value as the whole index has it: a `content_captures` value is
/// a partition's copy of its owner's `captures` row, so the whole index (the
/// digest, an assembled index) has the row by key only.
pub(crate) fn whole_index_value<'v>(table: &str, value: &'v [u8]) -> &'v [u8] {
    match table == ContentCaptures::COLUMN_FAMILY {
        true => &[],
        false => value,
    }
}

fn read_manifest(store: &Store, path: &Path) -> Result<Manifest, IndexError> {
    let not_an_index = |reason: String| IndexError::NotAnIndex {
        path: path.to_path_buf(),
        reason,
    };
    match store.get::<Meta>(&MetaKey::Manifest) {
        Ok(Some(manifest)) => Ok(manifest),
        Ok(None) => Err(not_an_index("no manifest: the build did not finish".into())),
        Err(provindex_store::StoreError::Corrupt { reason, .. }) => {
            Err(not_an_index(format!("unreadable manifest: {reason}")))
        }
        Err(other) => Err(other.into()),
    }
}

/// Hex SHA-256 over every table but `meta`: the digest of the chunk digests
/// of the whole key space ([`chunk_digests`], [`digest_of_chunks`]).
pub(crate) fn digest_store(store: &Store) -> Result<String, IndexError> {
    let all = chunk_digests(store, Partitioning::WHOLE, 0)?;
    Ok(digest_of_chunks(&all))
}

/// The index digest from the digests of all [`CHUNKS`] chunks, in chunk
/// order (a partitioned index concatenates its partitions' chunk digests).
pub fn digest_of_chunks(chunks: &[[u8; 32]]) -> String {
    let mut hasher = Sha256Hasher::new();
    for chunk in chunks {
        hasher.update(chunk);
    }
    hex::encode(hasher.finalize())
}

/// One SHA-256 per chunk of partition `partition`: over every table but
/// `meta`, in [`TABLES`] order, the table's name, then each row of the chunk
/// (key and value, length-prefixed) in key order. Rows of other chunks are
/// left out, and `content_captures` rows count with an empty value (a copy
/// there is its owner's `captures` row again), so the chunk digests of all
/// partitions make the digest of the one-partition index.
pub fn chunk_digests(
    store: &Store,
    partitioning: Partitioning,
    partition: u32,
) -> Result<Vec<[u8; 32]>, IndexError> {
    let range = partitioning.chunks(partition);
    let mut hashers: Vec<Sha256Hasher> = range.clone().map(|_| Sha256Hasher::new()).collect();
    for spec in TABLES
        .iter()
        .filter(|spec| spec.name != Meta::COLUMN_FAMILY)
    {
        for hasher in &mut hashers {
            hasher.update((spec.name.len() as u32).to_be_bytes());
            hasher.update(spec.name.as_bytes());
        }
        let mut failure = None;
        store.for_each_raw(spec.name, |key, value| {
            if failure.is_some() {
                return;
            }
            let chunk = match chunk_of_row(spec.name, key, value) {
                Ok(chunk) => u32::from(chunk),
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            };
            if range.contains(&chunk) {
                let value = whole_index_value(spec.name, value);
                let hasher = &mut hashers[(chunk - range.start) as usize];
                hasher.update((key.len() as u32).to_be_bytes());
                hasher.update(key);
                hasher.update((value.len() as u32).to_be_bytes());
                hasher.update(value);
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(hashers.into_iter().map(|h| h.finalize().into()).collect())
}

/// The chunk a stored row belongs to ([`crate::partition`]).
pub(crate) fn chunk_of_row(
    table: &'static str,
    key: &[u8],
    value: &[u8],
) -> Result<u8, IndexError> {
    let corrupt = |reason: String| IndexError::Corrupt { cf: table, reason };
    let byte_at = |bytes: &[u8], at: usize, what: &str| {
        bytes
            .get(at)
            .copied()
            .ok_or_else(|| corrupt(format!("{what} of {} bytes has no byte {at}", bytes.len())))
    };
    match table {
        t if t == Captures::COLUMN_FAMILY => {
            let record = <CaptureRecord as ValueCodec<Captures>>::decode_value(value)
                .map_err(|e| corrupt(format!("capture value: {e}")))?;
            let id = <[u8; 16]>::try_from(key)
                .map_err(|_| corrupt(format!("capture key of {} bytes", key.len())))?;
            Ok(crate::partition::capture_chunk(
                u128::from_be_bytes(id),
                &record.surt,
            ))
        }
        t if t == Urls::COLUMN_FAMILY => {
            let end = key
                .iter()
                .position(|b| *b == keys::SURT_TERMINATOR)
                .ok_or_else(|| corrupt("url key without terminator".into()))?;
            let surt = std::str::from_utf8(&key[..end])
                .map_err(|_| corrupt("url key is not UTF-8".into()))?;
            // A key without a host lives with its capture, chunked by capture id.
            match crate::partition::url_chunk(surt) {
                Some(chunk) => Ok(chunk),
                None => byte_at(key, key.len().saturating_sub(16), "url key"),
            }
        }
        t if t == ContentSha256::COLUMN_FAMILY => {
            byte_at(key, crate::schema::SHA_PREFIX_LEN, "content_sha256 key")
        }
        t if t == Lsh::COLUMN_FAMILY => byte_at(key, keys::LSH_PREFIX_LEN, "lsh key"),
        t if t == Clusters::COLUMN_FAMILY => byte_at(key, 16, "clusters key"),
        t if t == PiiKeys::COLUMN_FAMILY => byte_at(key, 32, "pii_keys key"),
        // contents, content_captures, signatures: keyed by content_id first.
        _ => byte_at(key, 0, "key"),
    }
}
