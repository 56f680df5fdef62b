//! Read-only queries over a published index.

use std::path::{Path, PathBuf};

use rocksdb::{Cache, DB, DBRawIterator};
use sha2::{Digest, Sha256};

use crate::keys::{self, ID_LEN};
use crate::records::{self, CaptureRecord, ContentRecord};
use crate::schema::{
    self, CAPTURES, CONTENT_CAPTURES, CONTENT_SHA256, CONTENTS, LSH, META, SIGNATURES, URLS,
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

pub struct IndexReader {
    db: DB,
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
        if !path.join("CURRENT").is_file() {
            return Err(IndexError::NotAnIndex {
                path: path.to_path_buf(),
                reason: "no RocksDB database here".into(),
            });
        }
        let cache = Cache::new_lru_cache(block_cache_bytes);
        let options = schema::db_options();
        let db = DB::open_cf_descriptors_read_only(
            &options,
            path,
            schema::column_families(&cache),
            false,
        )
        .map_err(|source| IndexError::Rocks {
            path: path.to_path_buf(),
            source,
        })?;
        let manifest = read_manifest(&db, path)?;
        if manifest.format_version != crate::FORMAT_VERSION {
            return Err(IndexError::NotAnIndex {
                path: path.to_path_buf(),
                reason: format!(
                    "format version {} (this build reads {})",
                    manifest.format_version,
                    crate::FORMAT_VERSION
                ),
            });
        }
        Ok(Self {
            db,
            path: path.to_path_buf(),
            manifest,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rocks(&self, source: rocksdb::Error) -> IndexError {
        IndexError::Rocks {
            path: self.path.clone(),
            source,
        }
    }

    fn cf(&self, name: &'static str) -> &rocksdb::ColumnFamily {
        cf(&self.db, name)
    }

    pub fn capture(&self, capture_id: u128) -> Result<Option<CaptureRecord>, IndexError> {
        let bytes = self
            .db
            .get_pinned_cf(self.cf(CAPTURES), keys::id_key(capture_id))
            .map_err(|e| self.rocks(e))?;
        bytes.map(|b| records::decode(CAPTURES, &b)).transpose()
    }

    /// Several captures in one batched read (RocksDB MultiGet: the keys share
    /// their filter, index and block lookups), in the order of `capture_ids`.
    pub fn captures(&self, capture_ids: &[u128]) -> Result<Vec<Option<CaptureRecord>>, IndexError> {
        let keys: Vec<[u8; ID_LEN]> = capture_ids.iter().map(|id| keys::id_key(*id)).collect();
        let sorted = keys.is_sorted();
        self.db
            .batched_multi_get_cf(self.cf(CAPTURES), &keys, sorted)
            .into_iter()
            .map(|value| match value.map_err(|e| self.rocks(e))? {
                Some(bytes) => records::decode(CAPTURES, &bytes).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    pub fn content(&self, content_id: u128) -> Result<Option<ContentRecord>, IndexError> {
        let bytes = self
            .db
            .get_pinned_cf(self.cf(CONTENTS), keys::id_key(content_id))
            .map_err(|e| self.rocks(e))?;
        bytes.map(|b| records::decode(CONTENTS, &b)).transpose()
    }

    pub fn content_id_by_sha256(&self, sha256: &[u8; 32]) -> Result<Option<u128>, IndexError> {
        let bytes = self
            .db
            .get_pinned_cf(self.cf(CONTENT_SHA256), sha256)
            .map_err(|e| self.rocks(e))?;
        match bytes {
            None => Ok(None),
            Some(b) => keys::decode_id(&b)
                .map(Some)
                .ok_or_else(|| IndexError::Corrupt {
                    cf: CONTENT_SHA256,
                    reason: format!("value of {} bytes, expected {ID_LEN}", b.len()),
                }),
        }
    }

    /// The stored MinHash signature bytes of a content (`None`: no such
    /// content, or its text was empty).
    pub fn signature(&self, content_id: u128) -> Result<Option<Vec<u8>>, IndexError> {
        let bytes = self
            .db
            .get_pinned_cf(self.cf(SIGNATURES), keys::id_key(content_id))
            .map_err(|e| self.rocks(e))?;
        Ok(bytes.map(|b| b.to_vec()))
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
        let mut iter = self.db.raw_iterator_cf(self.cf(LSH));
        iter.seek(prefix);
        self.collect_ids(iter, &prefix, limit, |key| {
            keys::decode_lsh_key(key)
                .map(|(_, _, content_id)| content_id)
                .ok_or_else(|| IndexError::Corrupt {
                    cf: LSH,
                    reason: format!("key of {} bytes", key.len()),
                })
        })
    }

    /// Capture ids of one content in ascending order, starting after `after`.
    /// Returns the ids and whether more follow.
    pub fn content_captures(
        &self,
        content_id: u128,
        after: Option<u128>,
        limit: usize,
    ) -> Result<(Vec<u128>, bool), IndexError> {
        let prefix = keys::id_key(content_id);
        let mut iter = self.db.raw_iterator_cf(self.cf(CONTENT_CAPTURES));
        match after {
            Some(after) => {
                iter.seek(keys::content_capture_key(content_id, after));
                if iter.valid()
                    && iter.key().and_then(keys::decode_content_capture_key)
                        == Some((content_id, after))
                {
                    iter.next();
                }
            }
            None => iter.seek(prefix),
        }
        self.collect_ids(iter, &prefix, limit, |key| {
            keys::decode_content_capture_key(key)
                .map(|(_, capture_id)| capture_id)
                .ok_or_else(|| IndexError::Corrupt {
                    cf: CONTENT_CAPTURES,
                    reason: format!("key of {} bytes", key.len()),
                })
        })
    }

    /// Walks keys starting with `prefix` from the iterator's position, decoding
    /// an id from each, up to `limit`. Returns the ids and whether more follow.
    fn collect_ids(
        &self,
        mut iter: DBRawIterator<'_>,
        prefix: &[u8],
        limit: usize,
        decode: impl Fn(&[u8]) -> Result<u128, IndexError>,
    ) -> Result<(Vec<u128>, bool), IndexError> {
        let mut ids = Vec::new();
        while iter.valid() {
            let Some(key) = iter.key() else { break };
            if !key.starts_with(prefix) {
                break;
            }
            if ids.len() == limit {
                return Ok((ids, true));
            }
            ids.push(decode(key)?);
            iter.next();
        }
        iter.status().map_err(|e| self.rocks(e))?;
        Ok((ids, false))
    }

    /// One page of a URL scan.
    pub fn scan_urls(&self, scan: &UrlScan) -> Result<UrlScanPage, IndexError> {
        let mut page = UrlScanPage::default();
        if scan.limit == 0 || scan.prefixes.is_empty() {
            return Ok(page);
        }
        let mut iter = self.db.raw_iterator_cf(self.cf(URLS));
        let order: Vec<&Vec<u8>> = if scan.reverse {
            scan.prefixes.iter().rev().collect()
        } else {
            scan.prefixes.iter().collect()
        };
        let mut examined = 0usize;
        for prefix in order {
            position(&mut iter, prefix, scan.after.as_deref(), scan.reverse);
            while iter.valid() {
                let Some(key) = iter.key() else { break };
                if !key.starts_with(prefix) {
                    break;
                }
                let hit = keys::decode_url_key(key).ok_or_else(|| IndexError::Corrupt {
                    cf: URLS,
                    reason: format!("undecodable key of {} bytes", key.len()),
                })?;
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
                        surt: hit.surt.to_owned(),
                        time: hit.time,
                        capture_id: hit.capture_id,
                    });
                }
                examined += 1;
                if examined >= MAX_KEYS_EXAMINED {
                    page.next = Some(key.to_vec());
                    return Ok(page);
                }
                if scan.reverse {
                    iter.prev();
                } else {
                    iter.next();
                }
            }
            iter.status().map_err(|e| self.rocks(e))?;
        }
        Ok(page)
    }

    /// Visits every content in content-id order (a full walk of `contents`).
    pub fn for_each_content<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(u128, ContentRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        self.walk(CONTENTS, |id, bytes| {
            visit(id, records::decode(CONTENTS, bytes)?)
        })
    }

    /// Visits every capture in capture-id order (a full walk of `captures`).
    pub fn for_each_capture<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(u128, CaptureRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        self.walk(CAPTURES, |id, bytes| {
            visit(id, records::decode(CAPTURES, bytes)?)
        })
    }

    fn walk<E: From<IndexError>>(
        &self,
        name: &'static str,
        mut visit: impl FnMut(u128, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut iter = self.db.raw_iterator_cf(self.cf(name));
        iter.seek_to_first();
        while iter.valid() {
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            let id = keys::decode_id(key).ok_or_else(|| IndexError::Corrupt {
                cf: name,
                reason: format!("key of {} bytes, expected {ID_LEN}", key.len()),
            })?;
            visit(id, value)?;
            iter.next();
        }
        iter.status().map_err(|e| self.rocks(e))?;
        Ok(())
    }

    /// Hex SHA-256 over the logical contents of every table but `meta`: the
    /// same records give the same digest whatever the SST layout.
    pub fn digest(&self) -> Result<String, IndexError> {
        digest_db(&self.db, &self.path)
    }
}

/// Places `iter` on the first key of `prefix` in scan order, or just past
/// `after` when it lies inside `prefix`'s range. An `after` beyond this prefix
/// in scan order skips the prefix entirely.
fn position(iter: &mut DBRawIterator<'_>, prefix: &[u8], after: Option<&[u8]>, reverse: bool) {
    match (after, reverse) {
        (Some(after), false) if after >= prefix => {
            iter.seek(after);
            if iter.valid() && iter.key() == Some(after) {
                iter.next();
            }
        }
        (Some(after), true) if after.starts_with(prefix) || after < prefix => {
            iter.seek_for_prev(after);
            if iter.valid() && iter.key() == Some(after) {
                iter.prev();
            }
        }
        (_, false) => iter.seek(prefix),
        (_, true) => match prefix_successor(prefix) {
            Some(end) => {
                iter.seek_for_prev(&end);
                if iter.valid() && iter.key() == Some(end.as_slice()) {
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

fn cf<'a>(db: &'a DB, name: &'static str) -> &'a rocksdb::ColumnFamily {
    // Every name in schema::ALL is opened with the database; a missing one is a bug here.
    db.cf_handle(name)
        .unwrap_or_else(|| panic!("column family {name} is opened with the database"))
}

fn read_manifest(db: &DB, path: &Path) -> Result<Manifest, IndexError> {
    let bytes = db
        .get_cf(cf(db, META), schema::MANIFEST_KEY)
        .map_err(|source| IndexError::Rocks {
            path: path.to_path_buf(),
            source,
        })?
        .ok_or_else(|| IndexError::NotAnIndex {
            path: path.to_path_buf(),
            reason: "no manifest: the build did not finish".into(),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| IndexError::NotAnIndex {
        path: path.to_path_buf(),
        reason: format!("unreadable manifest: {e}"),
    })
}

pub(crate) fn digest_db(db: &DB, path: &Path) -> Result<String, IndexError> {
    let mut hasher = Sha256::new();
    for name in schema::ALL.iter().filter(|name| **name != META) {
        hasher.update((name.len() as u32).to_be_bytes());
        hasher.update(name.as_bytes());
        let mut iter = db.raw_iterator_cf(cf(db, name));
        iter.seek_to_first();
        while iter.valid() {
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            hasher.update((key.len() as u32).to_be_bytes());
            hasher.update(key);
            hasher.update((value.len() as u32).to_be_bytes());
            hasher.update(value);
            iter.next();
        }
        iter.status().map_err(|source| IndexError::Rocks {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(hex::encode(hasher.finalize()))
}
