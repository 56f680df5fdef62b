//! The ledger of a finished index (issue 18): one [`LeafFacts`] per content,
//! both Merkle roots, and the Ed25519-signed [`LedgerManifest`] stored as
//! `ledger.json` inside the index directory (an index is a directory; RocksDB
//! ignores a file it did not write).
//!
//! A content's leaf holds its content_id, SHA-256, capture_count, cluster
//! (`ContentRecord::cluster`), keeper flag, language and its crawl-signal
//! opt-out verdict at build: [`provindex_policy::reservation`] over its
//! captures' stored verdicts with no registry entry (reserved if any capture
//! is reserved, else not_reserved if any capture says so, else unknown). The
//! registry is not part of a build, so registry opt-outs are not in the leaf.
//!
//! Everything in the manifest comes from the index (its format and
//! normalization versions, sketch spec, `built_at` as `created_at`, digest),
//! so the roots and the manifest are the same whatever the worker count; the
//! signature is deterministic too (Ed25519).
//!
//! Memory: the capture walk keeps at most two signals per content (about
//! 150 bytes a content with the hash map), and the trees (serving)
//! keep every leaf and every level of hashes: about 64 bytes of hashes plus
//! the leaf (about 140 bytes for LeafFacts, 64 for ShaLeaf) per content,
//! i.e. roughly 350 bytes per content for [`LedgerTrees`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use provindex_index::{IndexError, IndexReader};
use provindex_ledger::{
    ContentTree, Hash, LeafFacts, LedgerError, LedgerManifest, OptOutAtBuild, PartitionManifest,
    PublicationManifest, Sha256Tree, ShaLeaf, SignedManifest, SignedPartitionManifest,
    SignedPublicationManifest, SigningKey, wire,
};
use provindex_policy::{CaptureSignal, Subject, Verdict, reservation};

/// The file name of the signed manifest inside an index directory.
pub const LEDGER_FILE: &str = "ledger.json";

#[derive(Debug, thiserror::Error)]
pub enum LedgerBuildError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("capture {capture:032x} names a content id of {len} bytes")]
    BadCaptureContent { capture: u128, len: usize },
    #[error("content {content:032x}: SHA-256 has {len} bytes, expected 32")]
    BadSha { content: u128, len: usize },
    #[error("index manifest digest {0:?} is not 64 hex digits")]
    BadIndexDigest(String),
    /// `ledger.json` does not describe this index; names the field.
    #[error("{path}: does not match the index: {reason}")]
    Mismatch { path: PathBuf, reason: String },
}

/// The crawl-signal opt-out verdict of a content at build from its
/// captures' findings (the policy's rule, without registry entries).
pub fn verdict_at_build(captures: &[CaptureSignal]) -> OptOutAtBuild {
    let decision = reservation(Subject {
        captures,
        covers: &[],
        at: i64::MAX,
        index_sketch_spec: "",
    });
    match decision.verdict {
        Verdict::Reserved => OptOutAtBuild::Reserved,
        Verdict::NotReserved => OptOutAtBuild::NotReserved,
        Verdict::Unknown => OptOutAtBuild::Unknown,
    }
}

/// Every content's leaf, in content_id order.
pub fn leaf_facts(reader: &IndexReader) -> Result<Vec<LeafFacts>, LedgerBuildError> {
    // At most one reserved and one not_reserved finding per content: all the
    // verdict rule looks at.
    let mut signals: HashMap<u128, Vec<CaptureSignal>> = HashMap::new();
    reader.for_each_capture_of_held_contents(|capture_id, record| {
        if record.content_id.is_empty() {
            return Ok::<_, LedgerBuildError>(());
        }
        let content = record
            .content_id()
            .ok_or(LedgerBuildError::BadCaptureContent {
                capture: capture_id,
                len: record.content_id.len(),
            })?;
        let signal = record.crawl_signal(capture_id);
        if signal.verdict != Verdict::Unknown {
            let kept = signals.entry(content).or_default();
            if !kept.iter().any(|s| s.verdict == signal.verdict) {
                kept.push(signal);
            }
        }
        Ok(())
    })?;
    let mut leaves = Vec::with_capacity(reader.manifest().contents as usize);
    reader.for_each_content(|content_id, record| {
        let sha256: [u8; 32] =
            record
                .sha256
                .as_slice()
                .try_into()
                .map_err(|_| LedgerBuildError::BadSha {
                    content: content_id,
                    len: record.sha256.len(),
                })?;
        let cluster = record.cluster(content_id);
        let opt_out = verdict_at_build(
            signals
                .get(&content_id)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
        leaves.push(LeafFacts {
            content_id,
            sha256,
            capture_count: record.capture_count,
            cluster_id: cluster.cluster_id,
            keeper: record.is_keeper(content_id),
            opt_out,
            language: record.language.clone(),
        });
        Ok::<_, LedgerBuildError>(())
    })?;
    Ok(leaves)
}

/// Both trees of an index, in memory, to answer proofs.
#[derive(Debug, Clone)]
pub struct LedgerTrees {
    pub content: ContentTree,
    pub sha256: Sha256Tree,
}

impl LedgerTrees {
    pub fn new(leaves: Vec<LeafFacts>) -> Result<Self, LedgerBuildError> {
        let mut sha_leaves: Vec<ShaLeaf> = leaves.iter().map(LeafFacts::sha_leaf).collect();
        sha_leaves.sort_unstable_by_key(|leaf| leaf.sha256);
        Ok(Self {
            content: ContentTree::new(leaves)?,
            sha256: Sha256Tree::new(sha_leaves)?,
        })
    }

    pub fn of_index(reader: &IndexReader) -> Result<Self, LedgerBuildError> {
        Self::new(leaf_facts(reader)?)
    }
}

/// The unsigned manifest of an index whose trees are `trees`.
pub fn ledger_manifest(
    reader: &IndexReader,
    trees: &LedgerTrees,
) -> Result<LedgerManifest, LedgerBuildError> {
    let index = reader.manifest();
    let index_digest = hex::decode(&index.digest)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| LedgerBuildError::BadIndexDigest(index.digest.clone()))?;
    let content = trees.content.head();
    let sha = trees.sha256.head();
    Ok(LedgerManifest {
        index_format_version: index.format_version,
        normalization_version: index.normalization_version,
        sketch_spec: index.sketch_spec.clone(),
        content_count: content.size,
        content_root: content.root,
        sha256_root: sha.root,
        created_at: index.built_at,
        base_version_digest: None,
        index_digest,
    })
}

/// A signing key from a seed file (32 raw bytes or 64 hex digits).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, LedgerBuildError> {
    let bytes = std::fs::read(path).map_err(|e| LedgerBuildError::File {
        path: path.to_path_buf(),
        reason: format!("reading the signing key: {e}"),
    })?;
    provindex_ledger::signing_key_from_seed(&bytes).map_err(|e| LedgerBuildError::File {
        path: path.to_path_buf(),
        reason: format!("signing key: {e}"),
    })
}

/// Computes the ledger of the index at `index_dir`, signs it and writes
/// `index_dir/ledger.json` (written whole, then renamed into place);
/// `base_version_digest` names the version it was built on, if any.
pub fn write_ledger(
    index_dir: &Path,
    base_version_digest: Option<Hash>,
    key: &SigningKey,
) -> Result<SignedManifest, LedgerBuildError> {
    let signed = {
        let reader = IndexReader::open(index_dir)?;
        let trees = LedgerTrees::of_index(&reader)?;
        LedgerManifest {
            base_version_digest,
            ..ledger_manifest(&reader, &trees)?
        }
        .sign(key)
    };
    let path = index_dir.join(LEDGER_FILE);
    let tmp = index_dir.join(format!(".{LEDGER_FILE}.tmp"));
    let io = |e: std::io::Error| LedgerBuildError::File {
        path: path.clone(),
        reason: e.to_string(),
    };
    std::fs::write(&tmp, wire::signed_manifest_to_json(&signed)).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(signed)
}

/// `<out>/ledger/<partition id>.json`: a partition's signed manifest in a
/// partitioned publication (the publication's own is `<out>/ledger.json`).
pub fn partition_ledger_uri(out: &str, id: &str) -> String {
    format!("{}/ledger/{id}.json", out.trim_end_matches('/'))
}

/// `<out>/ledger.json` of a publication.
pub fn publication_ledger_uri(out: &str) -> String {
    format!("{}/{LEDGER_FILE}", out.trim_end_matches('/'))
}

/// The signed manifest of one built partition (`index_dir` is its
/// database): its trees, its place and chunks, its own digest.
pub fn sign_partition_ledger(
    index_dir: &Path,
    key: &SigningKey,
) -> Result<SignedPartitionManifest, LedgerBuildError> {
    let reader = IndexReader::open(index_dir)?;
    let trees = LedgerTrees::of_index(&reader)?;
    Ok(partition_manifest(&reader, &trees)?.sign(key))
}

/// The unsigned partition manifest of a partition database whose trees are
/// `trees`.
pub fn partition_manifest(
    reader: &IndexReader,
    trees: &LedgerTrees,
) -> Result<PartitionManifest, LedgerBuildError> {
    let m = reader.manifest();
    let (start, end) = provindex_ledger::partitioned::partition_chunks(m.partition, m.partitions)?;
    Ok(PartitionManifest {
        partition: m.partition,
        partition_count: m.partitions,
        chunk_start: start,
        chunk_end: end,
        ledger: ledger_manifest(reader, trees)?,
    })
}

/// The digest naming a signed version in lineage: that of the manifest in
/// `text` (a publication's `ledger.json` or a whole index's), after its
/// signature is checked against the key it carries. `uri` names the file
/// in errors.
pub fn base_version_digest(uri: &str, text: &str) -> Result<Hash, LedgerBuildError> {
    let bad = |reason: String| LedgerBuildError::File {
        path: PathBuf::from(uri),
        reason,
    };
    let format = serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| bad(format!("not JSON: {e}")))?
        .get("format")
        .and_then(|f| f.as_str().map(str::to_owned));
    if format.as_deref() == Some(wire::SIGNED_PUBLICATION_FORMAT) {
        let signed = wire::signed_publication_from_json(text).map_err(|e| bad(e.to_string()))?;
        let key = provindex_ledger::verifying_key_from_bytes(&signed.public_key)
            .map_err(|e| bad(e.to_string()))?;
        return Ok(signed
            .verify(&key)
            .map_err(|e| bad(e.to_string()))?
            .digest());
    }
    let signed = wire::signed_manifest_from_json(text).map_err(|e| bad(e.to_string()))?;
    let key = provindex_ledger::verifying_key_from_bytes(&signed.public_key)
        .map_err(|e| bad(e.to_string()))?;
    Ok(signed
        .verify(&key)
        .map_err(|e| bad(e.to_string()))?
        .digest())
}

/// Signs the publication manifest over every partition's manifest (in
/// partition order, all of one build) and the whole index's digest.
/// `base_version_digest` records the version this one was built on (the
/// digest of the base's own manifest, [`base_version_digest`]).
pub fn sign_publication_ledger(
    partitions: &[SignedPartitionManifest],
    index_digest: &str,
    base_version_digest: Option<Hash>,
    key: &SigningKey,
) -> Result<SignedPublicationManifest, LedgerBuildError> {
    let bad = |reason: String| LedgerBuildError::Ledger(LedgerError::Partitioned(reason));
    let first = &partitions
        .first()
        .ok_or_else(|| bad("no partition manifests".to_owned()))?
        .manifest;
    for (n, signed) in partitions.iter().enumerate() {
        let m = &signed.manifest;
        if m.partition as usize != n || m.partition_count as usize != partitions.len() {
            return Err(bad(format!(
                "partition manifest {n} is partition {} of {}",
                m.partition, m.partition_count
            )));
        }
        if (
            m.ledger.index_format_version,
            m.ledger.normalization_version,
            &m.ledger.sketch_spec,
            m.ledger.created_at,
        ) != (
            first.ledger.index_format_version,
            first.ledger.normalization_version,
            &first.ledger.sketch_spec,
            first.ledger.created_at,
        ) {
            return Err(bad(format!(
                "partition {n}'s versions or build time differ from partition 0's"
            )));
        }
    }
    let index_digest = hex::decode(index_digest)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| LedgerBuildError::BadIndexDigest(index_digest.to_owned()))?;
    Ok(PublicationManifest {
        index_format_version: first.ledger.index_format_version,
        normalization_version: first.ledger.normalization_version,
        sketch_spec: first.ledger.sketch_spec.clone(),
        content_count: partitions
            .iter()
            .map(|p| p.manifest.ledger.content_count)
            .sum(),
        created_at: first.ledger.created_at,
        base_version_digest,
        index_digest,
        partitions: partitions.iter().map(|p| p.manifest.digest()).collect(),
    }
    .sign(key))
}

/// The index's ledger as served: `ledger.json` checked against the index.
#[derive(Debug, Clone)]
pub struct LoadedLedger {
    pub signed: SignedManifest,
    /// `ledger.json` verbatim.
    pub json: String,
    pub trees: LedgerTrees,
}

/// Reads `ledger.json` from the index directory (`Ok(None)` when there is
/// none), checks its signature against the key it names, recomputes both
/// trees from the index and refuses a manifest that does not describe it
/// (counts, roots, digest, versions, build time), naming the field.
pub fn load_ledger(reader: &IndexReader) -> Result<Option<LoadedLedger>, LedgerBuildError> {
    let path = reader.path().join(LEDGER_FILE);
    let json = match std::fs::read_to_string(&path) {
        Ok(json) => json,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(LedgerBuildError::File {
                path,
                reason: e.to_string(),
            });
        }
    };
    let mismatch = |reason: String| LedgerBuildError::Mismatch {
        path: path.clone(),
        reason,
    };
    let signed = wire::signed_manifest_from_json(&json).map_err(|e| mismatch(e.to_string()))?;
    let key = provindex_ledger::verifying_key_from_bytes(&signed.public_key)
        .map_err(|e| mismatch(e.to_string()))?;
    signed.verify(&key).map_err(|e| mismatch(e.to_string()))?;
    let trees = LedgerTrees::of_index(reader)?;
    let expected = ledger_manifest(reader, &trees)?;
    check_describes(&signed.manifest, &expected).map_err(mismatch)?;
    Ok(Some(LoadedLedger {
        signed,
        json,
        trees,
    }))
}

/// Whether a claimed manifest describes the index whose recomputed one is
/// `expected`; else which field differs.
fn check_describes(claimed: &LedgerManifest, expected: &LedgerManifest) -> Result<(), String> {
    let hex32 = |h: &[u8; 32]| hex::encode(h);
    let checks: [(&str, String, String); 8] = [
        (
            "content_count",
            claimed.content_count.to_string(),
            expected.content_count.to_string(),
        ),
        (
            "content_root",
            hex32(&claimed.content_root),
            hex32(&expected.content_root),
        ),
        (
            "sha256_root",
            hex32(&claimed.sha256_root),
            hex32(&expected.sha256_root),
        ),
        (
            "index_digest",
            hex32(&claimed.index_digest),
            hex32(&expected.index_digest),
        ),
        (
            "index_format_version",
            claimed.index_format_version.to_string(),
            expected.index_format_version.to_string(),
        ),
        (
            "normalization_version",
            claimed.normalization_version.to_string(),
            expected.normalization_version.to_string(),
        ),
        (
            "sketch_spec",
            claimed.sketch_spec.clone(),
            expected.sketch_spec.clone(),
        ),
        (
            "created_at",
            claimed.created_at.to_string(),
            expected.created_at.to_string(),
        ),
    ];
    for (field, claimed, actual) in checks {
        if claimed != actual {
            return Err(format!(
                "{field} is {claimed} in the manifest but {actual} in the index"
            ));
        }
    }
    Ok(())
}

/// A partition's ledger as served: the publication's signed manifest, the
/// partition's signed manifest, both checked, and the partition's trees.
#[derive(Debug, Clone)]
pub struct LoadedPartitionLedger {
    pub publication: SignedPublicationManifest,
    /// `<publication>/ledger.json` verbatim.
    pub publication_json: String,
    pub partition: SignedPartitionManifest,
    pub trees: LedgerTrees,
}

/// Reads the ledger of partition `reader` of the publication at
/// `publication_dir` (`ledger.json` and `ledger/<id>.json`; `Ok(None)` when
/// the publication has no `ledger.json`), checks the publication's
/// signature against the key it names, the partition manifest against the
/// publication (signed by that key, listed at its place, its chunks) and
/// against the partition's database (trees recomputed), naming the field.
pub fn load_partition_ledger(
    reader: &IndexReader,
    publication_dir: &Path,
) -> Result<Option<LoadedPartitionLedger>, LedgerBuildError> {
    let path = publication_dir.join(LEDGER_FILE);
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| LedgerBuildError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    if !path.exists() {
        return Ok(None);
    }
    let publication_json = read(&path)?;
    let mismatch = |path: &Path, reason: String| LedgerBuildError::Mismatch {
        path: path.to_path_buf(),
        reason,
    };
    let publication = wire::signed_publication_from_json(&publication_json)
        .map_err(|e| mismatch(&path, e.to_string()))?;
    let key = provindex_ledger::verifying_key_from_bytes(&publication.public_key)
        .map_err(|e| mismatch(&path, e.to_string()))?;
    publication
        .verify(&key)
        .map_err(|e| mismatch(&path, e.to_string()))?;
    let m = reader.manifest();
    let id = crate::publish::partition_id(m.partition);
    let partition_path = publication_dir.join("ledger").join(format!("{id}.json"));
    let partition = wire::signed_partition_from_json(&read(&partition_path)?)
        .map_err(|e| mismatch(&partition_path, e.to_string()))?;
    publication
        .manifest
        .check_partition(&partition, &key)
        .map_err(|e| mismatch(&partition_path, e.to_string()))?;
    let trees = LedgerTrees::of_index(reader)?;
    let mut expected = partition_manifest(reader, &trees)?;
    // A partition an incremental build shares with its base is the base's
    // database (its built_at); its manifest carries this publication's
    // created_at, already checked against the publication.
    expected.ledger.created_at = publication.manifest.created_at;
    let claimed = &partition.manifest;
    if (claimed.partition, claimed.partition_count)
        != (expected.partition, expected.partition_count)
    {
        return Err(mismatch(
            &partition_path,
            format!(
                "partition {} of {} in the manifest but {} of {} in the index",
                claimed.partition,
                claimed.partition_count,
                expected.partition,
                expected.partition_count
            ),
        ));
    }
    check_describes(&claimed.ledger, &expected.ledger).map_err(|r| mismatch(&partition_path, r))?;
    Ok(Some(LoadedPartitionLedger {
        publication,
        publication_json,
        partition,
        trees,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(id: u128, verdict: Verdict) -> CaptureSignal {
        CaptureSignal {
            capture_id: id,
            capture_time: id as i64,
            verdict,
            signal_kind: None,
        }
    }

    #[test]
    fn verdict_at_build_follows_the_policy() {
        assert_eq!(verdict_at_build(&[]), OptOutAtBuild::Unknown);
        assert_eq!(
            verdict_at_build(&[signal(1, Verdict::NotReserved)]),
            OptOutAtBuild::NotReserved
        );
        assert_eq!(
            verdict_at_build(&[
                signal(1, Verdict::NotReserved),
                signal(2, Verdict::Reserved)
            ]),
            OptOutAtBuild::Reserved
        );
    }
}
