//! An index read as the sequence of its partitions' *owned* rows (issue
//! 17): one rule for every whole-index walk (export, report, compensation,
//! the AI Act summary) over an unpartitioned index or every partition of a
//! partitioned one.
//!
//! - Partitions are taken in partition order, which is chunk order.
//! - Content-side rows are chunked by the first byte of `content_id` in
//!   contiguous ranges, so the partitions' `contents` walks concatenated
//!   give the global `content_id` order; a content's captures (copies of
//!   those owned elsewhere included) and its signature are in its own
//!   partition, so a content is read from that partition alone.
//! - A partition's `captures` are the captures it owns (the copies its
//!   contents need are in `content_captures`), so a walk over captures
//!   visits each once. Its order is capture-id order within each
//!   partition, not across them: every caller aggregates (counts, sets,
//!   minimum and maximum), which does not depend on the order.
//! - The whole index's manifest is the partitions' with their owned counts
//!   added up and the digest over all chunk digests in chunk order, i.e. the
//!   manifest of the same index built as one partition
//!   ([`PartitionedIndex::open`] checks the digest).

use std::path::{Path, PathBuf};

use provindex_store::{Durability, OpenMode, Store};

use crate::partition::{Partitioning, content_chunk};
use crate::reader::{chunk_of_row, digest_store, whole_index_value};
use crate::records::{CaptureRecord, ContentRecord};
use crate::schema::{META, Meta, MetaKey, TABLES};
use crate::{IndexError, IndexReader, Manifest, digest_of_chunks};

/// Every partition of an index, opened (or one unpartitioned index).
pub struct PartitionedIndex {
    parts: Vec<IndexReader>,
    manifest: Manifest,
    label: PathBuf,
}

impl PartitionedIndex {
    /// One unpartitioned index.
    pub fn whole(reader: IndexReader) -> Self {
        Self {
            manifest: reader.manifest().clone(),
            label: reader.path().to_path_buf(),
            parts: vec![reader],
        }
    }

    /// Opens the partition directories `dirs` (any order) of one index,
    /// named `label` in outputs and errors (the publication's path or URI).
    /// Refuses a set that is not every partition of one partitioning
    /// exactly once, partitions built with other parameters, and, when
    /// `expected_digest` is given (the publication's), an index digest that
    /// is not it.
    pub fn open(
        label: &Path,
        dirs: &[PathBuf],
        expected_digest: Option<&str>,
    ) -> Result<Self, IndexError> {
        let mut parts = dirs
            .iter()
            .map(|dir| IndexReader::open(dir))
            .collect::<Result<Vec<_>, _>>()?;
        if parts.len() == 1 && parts[0].manifest().partitions <= 1 {
            let whole = Self::whole(parts.remove(0));
            check_digest(label, &whole.manifest.digest, expected_digest)?;
            return Ok(Self {
                label: label.to_path_buf(),
                ..whole
            });
        }
        parts.sort_by_key(|p| p.manifest().partition);
        let refuse = |reason: String| IndexError::NotAnIndex {
            path: label.to_path_buf(),
            reason,
        };
        let Some(first) = parts.first() else {
            return Err(refuse("no partitions".into()));
        };
        let first = first.manifest().clone();
        let count = parts.len();
        for (n, part) in parts.iter().enumerate() {
            let m = part.manifest();
            if m.partitions as usize != count || m.partition as usize != n {
                return Err(refuse(format!(
                    "{} is partition {} of {}, where partition {n} of {count} was expected \
                     (every partition, once each)",
                    part.path().display(),
                    m.partition,
                    m.partitions
                )));
            }
            if (m.format_version, m.normalization_version, &m.sketch_spec)
                != (
                    first.format_version,
                    first.normalization_version,
                    &first.sketch_spec,
                )
            {
                return Err(refuse(format!(
                    "{} was built with other parameters (normalization {}, sketch {:?}) than \
                     partition 0 (normalization {}, sketch {:?})",
                    part.path().display(),
                    m.normalization_version,
                    m.sketch_spec,
                    first.normalization_version,
                    first.sketch_spec
                )));
            }
        }
        let mut chunks = Vec::new();
        for part in &parts {
            for digest in &part.manifest().chunk_digests {
                let bytes = hex::decode(digest)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        refuse(format!(
                            "{}: chunk digest {digest:?} is not 32 hex bytes",
                            part.path().display()
                        ))
                    })?;
                chunks.push(bytes);
            }
        }
        if chunks.len() != crate::partition::CHUNKS as usize {
            return Err(refuse(format!(
                "the partitions list {} chunk digests, expected {}",
                chunks.len(),
                crate::partition::CHUNKS
            )));
        }
        // The one-partition build's manifest: owned counts added up.
        let mut manifest = first;
        manifest.partitions = 0;
        manifest.partition = 0;
        manifest.chunk_digests = Vec::new();
        manifest.digest = digest_of_chunks(&chunks);
        for part in &parts[1..] {
            let m = part.manifest();
            manifest.captures += m.captures;
            manifest.contents += m.contents;
            manifest.urls += m.urls;
            manifest.duplicate_captures += m.duplicate_captures;
            manifest.clusters += m.clusters;
            manifest.clustered_contents += m.clustered_contents;
        }
        check_digest(label, &manifest.digest, expected_digest)?;
        Ok(Self {
            parts,
            manifest,
            label: label.to_path_buf(),
        })
    }

    /// Writes the whole index into a new database at `out` — every
    /// partition's owned rows (copies left out: each is owned elsewhere)
    /// and the whole index's manifest — and opens it with a block cache of
    /// `block_cache_bytes`. Refuses a result whose digest is not this
    /// index's. The database is written beside `out` and renamed onto it
    /// once checked; `out` must not exist. Needs the disk of the whole
    /// index: for a server that answers from all of it in one process (the
    /// registry service).
    pub fn assemble(
        &self,
        out: &Path,
        block_cache_bytes: usize,
    ) -> Result<IndexReader, IndexError> {
        if out.exists() {
            return Err(IndexError::AlreadyExists(out.to_path_buf()));
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IndexError::Io { path, source }
        };
        let name = out
            .file_name()
            .map_or_else(|| "index".into(), |n| n.to_string_lossy().into_owned());
        let scratch = out.with_file_name(format!(".{name}.assembling-{}", std::process::id()));
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(io(&scratch))?;
        }
        let written = self.assemble_into(&scratch);
        if let Err(error) = written {
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(error);
        }
        std::fs::rename(&scratch, out).map_err(io(out))?;
        IndexReader::open_with_cache(out, block_cache_bytes)
    }

    fn assemble_into(&self, scratch: &Path) -> Result<(), IndexError> {
        /// Bytes of rows per write batch.
        const BATCH_BYTES: usize = 4 << 20;
        let partitioning = self.view().partitioning()?;
        let store = Store::open(scratch, &TABLES, OpenMode::ReadWrite, 8 << 20)?;
        for (n, part) in self.parts.iter().enumerate() {
            let owned = partitioning.chunks(n as u32);
            for spec in TABLES.iter().filter(|t| t.name != META) {
                let mut batch = store.batch();
                let mut failure = None;
                part.store().for_each_raw(spec.name, |key, value| {
                    if failure.is_some() {
                        return;
                    }
                    match chunk_of_row(spec.name, key, value) {
                        Ok(chunk) if owned.contains(&u32::from(chunk)) => {
                            batch.put_raw(spec.name, key, whole_index_value(spec.name, value));
                        }
                        Ok(_) => {}
                        Err(error) => failure = Some(error),
                    }
                    if batch.size_in_bytes() >= BATCH_BYTES {
                        let full = std::mem::take(&mut batch);
                        if let Err(error) = store.write(full, Durability::Unlogged) {
                            failure = Some(error.into());
                        }
                    }
                })?;
                if let Some(error) = failure {
                    return Err(error);
                }
                store.write(batch, Durability::Unlogged)?;
            }
        }
        store.put::<Meta>(&MetaKey::Manifest, &self.manifest, Durability::Unlogged)?;
        store.flush_all()?;
        let digest = digest_store(&store)?;
        if digest != self.manifest.digest {
            return Err(IndexError::NotAnIndex {
                path: self.label.clone(),
                reason: format!(
                    "its partitions' rows assembled into one index have digest {digest}, \
                     not the index's {}",
                    self.manifest.digest
                ),
            });
        }
        Ok(())
    }

    pub fn view(&self) -> IndexParts<'_> {
        IndexParts {
            parts: &self.parts,
            manifest: &self.manifest,
            label: &self.label,
        }
    }
}

fn check_digest(label: &Path, actual: &str, expected: Option<&str>) -> Result<(), IndexError> {
    match expected {
        Some(expected) if expected != actual => Err(IndexError::NotAnIndex {
            path: label.to_path_buf(),
            reason: format!("the partitions' digest is {actual}, the publication says {expected}"),
        }),
        _ => Ok(()),
    }
}

/// A borrowed whole index: its partitions in order (one for an
/// unpartitioned index), its manifest and its name. See the module doc.
#[derive(Clone, Copy)]
pub struct IndexParts<'a> {
    parts: &'a [IndexReader],
    manifest: &'a Manifest,
    label: &'a Path,
}

impl<'a> From<&'a IndexReader> for IndexParts<'a> {
    /// One index directory. Its walks refuse it when it is one partition
    /// of a partitioned index (they would give a part as the whole).
    fn from(reader: &'a IndexReader) -> Self {
        IndexParts {
            parts: std::slice::from_ref(reader),
            manifest: reader.manifest(),
            label: reader.path(),
        }
    }
}

impl<'a> From<&'a PartitionedIndex> for IndexParts<'a> {
    fn from(index: &'a PartitionedIndex) -> Self {
        index.view()
    }
}

impl<'a> IndexParts<'a> {
    /// The whole index's manifest.
    pub fn manifest(&self) -> &'a Manifest {
        self.manifest
    }

    /// Where it was opened: an index directory, a publication's path or URI.
    pub fn path(&self) -> &'a Path {
        self.label
    }

    /// The partitions, in partition order.
    pub fn parts(&self) -> &'a [IndexReader] {
        self.parts
    }

    /// The partitioning and the partitions' readers, refusing a part
    /// standing for the whole.
    fn partitioning(&self) -> Result<Partitioning, IndexError> {
        let whole = self.parts.len() == 1 && self.parts[0].manifest().partitions <= 1;
        if whole {
            return Ok(Partitioning::WHOLE);
        }
        let count = u32::try_from(self.parts.len()).unwrap_or(u32::MAX);
        let complete =
            self.parts.iter().enumerate().all(|(n, p)| {
                p.manifest().partitions == count && p.manifest().partition as usize == n
            });
        match (complete, Partitioning::new(count)) {
            (true, Ok(partitioning)) => Ok(partitioning),
            _ => {
                let m = self.parts[0].manifest();
                Err(IndexError::NotAnIndex {
                    path: self.label.to_path_buf(),
                    reason: format!(
                        "partition {} of {} alone: a whole-index walk needs every partition \
                         (open the publication)",
                        m.partition, m.partitions
                    ),
                })
            }
        }
    }

    /// The partition holding a content's rows, its captures' records and
    /// its signature.
    pub fn part_of_content(&self, content_id: u128) -> &'a IndexReader {
        let n = match self.parts.len() {
            1 => 0,
            count => {
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                Partitioning::new(count).map_or(0, |p| p.of_content(content_id) as usize)
            }
        };
        &self.parts[n.min(self.parts.len() - 1)]
    }

    pub fn content(&self, content_id: u128) -> Result<Option<ContentRecord>, IndexError> {
        self.part_of_content(content_id).content(content_id)
    }

    pub fn signature(&self, content_id: u128) -> Result<Option<Vec<u32>>, IndexError> {
        self.part_of_content(content_id).signature(content_id)
    }

    /// Contents holding the personal identifier `hmac` (`pii_keys`, chunked
    /// by content), in content-id order, at most `limit`; and whether more
    /// follow.
    pub fn pii_contents(
        &self,
        hmac: &[u8; 32],
        limit: usize,
    ) -> Result<(Vec<u128>, bool), IndexError> {
        let mut all = Vec::new();
        for part in self.parts {
            let (ids, more) = part.pii_contents(hmac, limit - all.len())?;
            all.extend(ids);
            if more {
                return Ok((all, true));
            }
        }
        Ok((all, false))
    }

    /// Visits every content in content-id order with the partition holding
    /// it (read its captures and signature there).
    pub fn for_each_content<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(&'a IndexReader, u128, ContentRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let partitioning = self.partitioning()?;
        let parts: &'a [IndexReader] = self.parts;
        for (n, part) in parts.iter().enumerate() {
            let owned = partitioning.chunks(n as u32);
            part.for_each_content(|id, record| {
                // Contents are never copied; checked so a walk cannot count one twice.
                if !owned.contains(&u32::from(content_chunk(id))) {
                    return Ok(());
                }
                visit(part, id, record)
            })?;
        }
        Ok(())
    }

    /// Visits every capture once: partition by partition, capture-id order
    /// within each (see the module doc).
    pub fn for_each_owned_capture<E: From<IndexError>>(
        &self,
        mut visit: impl FnMut(u128, CaptureRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        for part in self.parts {
            part.for_each_capture(&mut visit)?;
        }
        Ok(())
    }
}
