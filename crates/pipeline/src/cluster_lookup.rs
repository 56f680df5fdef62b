//! The build task's view of the near-duplicate clusters (the components
//! stage's `clusters.run`), in memory bounded whatever the corpus size
//! (issue 17).
//!
//! The build writes captures in capture order, each needing its content's
//! cluster, so the lookups come in no useful order. The cluster run, sorted
//! by content id, is copied once to a scratch file of fixed-size records
//! (content id ‖ cluster id ‖ keeper ‖ size, 56 bytes); memory holds only the
//! first content id of every block of `stride` records, and a lookup reads one
//! block with `pread` (the page cache keeps the hot blocks). The stride
//! doubles while copying whenever that sparse index would exceed
//! [`MAX_INDEX_ENTRIES`], so the index stays under 16 MiB: 100 million
//! clustered contents cost blocks of 128 records (7 KiB a lookup).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use provindex_index::records::ClusterInfo;

/// Bytes of one record: content id (16) ‖ cluster id (16) ‖ keeper (16) ‖ size (8).
const RECORD: usize = 56;
/// Records per block to start with.
const FIRST_STRIDE: u64 = 64;
/// Most first-ids held in memory (16 bytes each: 16 MiB).
pub const MAX_INDEX_ENTRIES: usize = 1 << 20;

/// Why the clusters could not be copied or read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterLookupError {
    #[error("cluster file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cluster run record {number}: {reason}")]
    Record { number: u64, reason: String },
}

/// Clusters of more than one content, by member content id.
pub struct ClusterLookup {
    /// `None`: no clusters (nothing to read).
    file: Option<File>,
    path: PathBuf,
    records: u64,
    stride: u64,
    /// First content id of each block of `stride` records.
    index: Vec<u128>,
    block: Vec<u8>,
}

impl ClusterLookup {
    /// No clusters at all.
    pub fn empty() -> Self {
        Self {
            file: None,
            path: PathBuf::new(),
            records: 0,
            stride: FIRST_STRIDE,
            index: Vec::new(),
            block: Vec::new(),
        }
    }

    /// Copies `rows` (the cluster run's records: content id → cluster id ‖
    /// keeper ‖ size, strictly increasing content ids) to `path`.
    pub fn create<E: std::fmt::Display>(
        path: &Path,
        rows: impl IntoIterator<Item = Result<(Vec<u8>, Vec<u8>), E>>,
    ) -> Result<Self, ClusterLookupError> {
        Self::create_with(path, rows, MAX_INDEX_ENTRIES)
    }

    fn create_with<E: std::fmt::Display>(
        path: &Path,
        rows: impl IntoIterator<Item = Result<(Vec<u8>, Vec<u8>), E>>,
        max_index: usize,
    ) -> Result<Self, ClusterLookupError> {
        let io = |source| ClusterLookupError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut out = BufWriter::with_capacity(
            1 << 20,
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .map_err(io)?,
        );
        let mut stride = FIRST_STRIDE;
        let mut index: Vec<u128> = Vec::new();
        let mut records = 0u64;
        let mut last: Option<u128> = None;
        for row in rows {
            let (key, value) = row.map_err(|e| ClusterLookupError::Record {
                number: records,
                reason: e.to_string(),
            })?;
            let bad = |reason: String| ClusterLookupError::Record {
                number: records,
                reason,
            };
            if key.len() != 16 || value.len() != RECORD - 16 {
                return Err(bad(format!(
                    "{} + {} bytes, expected 16 + 40",
                    key.len(),
                    value.len()
                )));
            }
            let content = read_id(&key);
            if last.is_some_and(|last| last >= content) {
                return Err(bad(format!(
                    "content {content:032x} after {:032x}: not strictly increasing",
                    last.unwrap_or_default()
                )));
            }
            last = Some(content);
            if records.is_multiple_of(stride) {
                if index.len() == max_index {
                    // Twice the stride: keep every other block start.
                    stride *= 2;
                    index = index.into_iter().step_by(2).collect();
                }
                if records.is_multiple_of(stride) {
                    index.push(content);
                }
            }
            out.write_all(&key).map_err(io)?;
            out.write_all(&value).map_err(io)?;
            records += 1;
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_data().ok();
        Ok(Self {
            file: (records > 0).then_some(file),
            path: path.to_path_buf(),
            records,
            stride,
            index,
            block: Vec::new(),
        })
    }

    /// Clustered contents held.
    pub fn len(&self) -> u64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The cluster of `content_id`, when it has more than one member.
    pub fn get(&mut self, content_id: u128) -> Result<Option<ClusterInfo>, ClusterLookupError> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let block = self.index.partition_point(|first| *first <= content_id);
        if block == 0 {
            return Ok(None);
        }
        let start = (block as u64 - 1) * self.stride;
        let count = self.stride.min(self.records - start) as usize;
        self.block.resize(count * RECORD, 0);
        file.read_exact_at(&mut self.block, start * RECORD as u64)
            .map_err(|source| ClusterLookupError::Io {
                path: self.path.clone(),
                source,
            })?;
        let record = |n: usize| &self.block[n * RECORD..(n + 1) * RECORD];
        let (mut low, mut high) = (0, count);
        while low < high {
            let mid = (low + high) / 2;
            match read_id(record(mid)).cmp(&content_id) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => {
                    let found = record(mid);
                    let mut size = [0u8; 8];
                    size.copy_from_slice(&found[48..56]);
                    return Ok(Some(ClusterInfo {
                        cluster_id: read_id(&found[16..32]),
                        keeper: read_id(&found[32..48]),
                        size: u64::from_be_bytes(size),
                    }));
                }
            }
        }
        Ok(None)
    }
}

fn read_id(bytes: &[u8]) -> u128 {
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[..16]);
    u128::from_be_bytes(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `clusters.run` row: key, value.
    type Row = (Vec<u8>, Vec<u8>);

    fn row(content: u128, cluster: u128, keeper: u128, size: u64) -> Row {
        let mut value = cluster.to_be_bytes().to_vec();
        value.extend_from_slice(&keeper.to_be_bytes());
        value.extend_from_slice(&size.to_be_bytes());
        (content.to_be_bytes().to_vec(), value)
    }

    fn rows(ids: &[u128]) -> Vec<Result<Row, String>> {
        ids.iter()
            .map(|id| Ok(row(*id, id / 7, id / 3, (*id as u64) % 5 + 2)))
            .collect()
    }

    #[test]
    fn finds_every_member_and_nothing_else_across_stride_doublings() {
        let dir = tempfile::tempdir().unwrap();
        // Spread ids (odd multiples of a large step) so misses fall between.
        let ids: Vec<u128> = (0..5_000u128).map(|i| (2 * i + 1) << 100).collect();
        // An index of at most 8 entries: 5,000 records double the stride
        // from 64 to 1,024.
        let mut lookup = ClusterLookup::create_with(&dir.path().join("c"), rows(&ids), 8).unwrap();
        assert_eq!(lookup.len(), 5_000);
        assert!(lookup.index.len() <= 8, "{}", lookup.index.len());
        assert_eq!(lookup.stride, 1_024);
        for id in &ids {
            let found = lookup.get(*id).unwrap().expect("a member");
            assert_eq!(
                found,
                ClusterInfo {
                    cluster_id: id / 7,
                    keeper: id / 3,
                    size: (*id as u64) % 5 + 2
                }
            );
            assert_eq!(lookup.get(id + 1).unwrap(), None);
        }
        assert_eq!(lookup.get(0).unwrap(), None);
        assert_eq!(lookup.get(u128::MAX).unwrap(), None);
    }

    #[test]
    fn without_clusters_nothing_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut lookup = ClusterLookup::create(&dir.path().join("c"), rows(&[])).unwrap();
        assert!(lookup.is_empty());
        assert_eq!(lookup.get(42).unwrap(), None);
        assert_eq!(ClusterLookup::empty().get(42).unwrap(), None);
    }

    #[test]
    fn refuses_unsorted_and_malformed_rows() {
        let dir = tempfile::tempdir().unwrap();
        let err = ClusterLookup::create(&dir.path().join("c"), rows(&[5, 9, 9]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("record 2") && err.contains("not strictly increasing"),
            "{err}"
        );
        let short: Vec<Result<_, String>> = vec![Ok((vec![0u8; 16], vec![0u8; 8]))];
        let err = ClusterLookup::create(&dir.path().join("d"), short)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("16 + 8 bytes, expected 16 + 40"), "{err}");
    }
}
