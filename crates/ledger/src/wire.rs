//! JSON wire formats of proofs and signed manifests (described in the crate
//! doc), for verifiers outside this crate.

use serde::{Deserialize, Serialize};

use crate::merkle::{Hash, InclusionProof};
use crate::partitioned::{
    PartitionManifest, PublicationManifest, SignedPartitionManifest, SignedPublicationManifest,
};
use crate::{
    LeafProof, LedgerError, LedgerManifest, NonInclusionProof, Result, SignedManifest, TreeKind,
    VerifyingKey,
};

pub const SIGNED_MANIFEST_FORMAT: &str = "provindex-ledger-signed-manifest-v1";
pub const INCLUSION_FORMAT: &str = "provindex-ledger-inclusion-v1";
pub const NON_INCLUSION_FORMAT: &str = "provindex-ledger-non-inclusion-v1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestDoc {
    index_format_version: u32,
    normalization_version: u32,
    sketch_spec: String,
    content_count: u64,
    content_root: String,
    sha256_root: String,
    created_at: i64,
    base_version_digest: Option<String>,
    index_digest: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedManifestDoc {
    format: String,
    manifest: ManifestDoc,
    public_key: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeafProofDoc {
    leaf: String,
    leaf_index: u64,
    tree_size: u64,
    audit_path: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionDoc {
    format: String,
    tree: String,
    leaf: String,
    leaf_index: u64,
    tree_size: u64,
    audit_path: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NonInclusionDoc {
    format: String,
    tree: String,
    key: String,
    tree_size: u64,
    predecessor: Option<LeafProofDoc>,
    successor: Option<LeafProofDoc>,
}

fn wire(reason: impl Into<String>) -> LedgerError {
    LedgerError::Wire(reason.into())
}

/// Lowercase hex only, so every value has one spelling.
fn unhex(field: &str, text: &str) -> Result<Vec<u8>> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(wire(format!("{field}: hex must be lowercase")));
    }
    hex::decode(text).map_err(|e| wire(format!("{field}: {e}")))
}

fn unhex_array<const N: usize>(field: &str, text: &str) -> Result<[u8; N]> {
    let bytes = unhex(field, text)?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| wire(format!("{field}: {len} bytes, expected {N}")))
}

fn check_format(actual: &str, expected: &str) -> Result<()> {
    match actual == expected {
        true => Ok(()),
        false => Err(wire(format!("format is {actual:?}, expected {expected:?}"))),
    }
}

fn tree_kind(text: &str) -> Result<TreeKind> {
    TreeKind::parse(text).ok_or_else(|| wire(format!("unknown tree {text:?}")))
}

fn to_json<T: Serialize>(doc: &T) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("plain structs serialize");
    text.push('\n');
    text
}

fn from_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| wire(e.to_string()))
}

pub fn signed_manifest_to_json(signed: &SignedManifest) -> String {
    let m = &signed.manifest;
    to_json(&SignedManifestDoc {
        format: SIGNED_MANIFEST_FORMAT.to_owned(),
        manifest: ManifestDoc {
            index_format_version: m.index_format_version,
            normalization_version: m.normalization_version,
            sketch_spec: m.sketch_spec.clone(),
            content_count: m.content_count,
            content_root: hex::encode(m.content_root),
            sha256_root: hex::encode(m.sha256_root),
            created_at: m.created_at,
            base_version_digest: m.base_version_digest.map(hex::encode),
            index_digest: hex::encode(m.index_digest),
        },
        public_key: hex::encode(signed.public_key),
        signature: hex::encode(signed.signature),
    })
}

/// Parses a signed manifest; it still has to be [`SignedManifest::verify`]d.
pub fn signed_manifest_from_json(text: &str) -> Result<SignedManifest> {
    let doc: SignedManifestDoc = from_json(text)?;
    check_format(&doc.format, SIGNED_MANIFEST_FORMAT)?;
    let m = doc.manifest;
    Ok(SignedManifest {
        manifest: LedgerManifest {
            index_format_version: m.index_format_version,
            normalization_version: m.normalization_version,
            sketch_spec: m.sketch_spec,
            content_count: m.content_count,
            content_root: unhex_array("content_root", &m.content_root)?,
            sha256_root: unhex_array("sha256_root", &m.sha256_root)?,
            created_at: m.created_at,
            base_version_digest: m
                .base_version_digest
                .map(|d| unhex_array("base_version_digest", &d))
                .transpose()?,
            index_digest: unhex_array("index_digest", &m.index_digest)?,
        },
        public_key: unhex_array("public_key", &doc.public_key)?,
        signature: unhex_array("signature", &doc.signature)?,
    })
}

fn path_to_hex(path: &[Hash]) -> Vec<String> {
    path.iter().map(hex::encode).collect()
}

fn path_from_hex(path: &[String]) -> Result<Vec<Hash>> {
    path.iter().map(|h| unhex_array("audit_path", h)).collect()
}

fn leaf_doc(proof: &LeafProof) -> LeafProofDoc {
    LeafProofDoc {
        leaf: hex::encode(&proof.leaf),
        leaf_index: proof.proof.leaf_index,
        tree_size: proof.proof.tree_size,
        audit_path: path_to_hex(&proof.proof.audit_path),
    }
}

fn leaf_from_doc(doc: &LeafProofDoc) -> Result<LeafProof> {
    Ok(LeafProof {
        leaf: unhex("leaf", &doc.leaf)?,
        proof: InclusionProof {
            leaf_index: doc.leaf_index,
            tree_size: doc.tree_size,
            audit_path: path_from_hex(&doc.audit_path)?,
        },
    })
}

pub fn inclusion_to_json(tree: TreeKind, proof: &LeafProof) -> String {
    to_json(&InclusionDoc {
        format: INCLUSION_FORMAT.to_owned(),
        tree: tree.as_str().to_owned(),
        leaf: hex::encode(&proof.leaf),
        leaf_index: proof.proof.leaf_index,
        tree_size: proof.proof.tree_size,
        audit_path: path_to_hex(&proof.proof.audit_path),
    })
}

pub fn inclusion_from_json(text: &str) -> Result<(TreeKind, LeafProof)> {
    let doc: InclusionDoc = from_json(text)?;
    check_format(&doc.format, INCLUSION_FORMAT)?;
    let proof = leaf_from_doc(&LeafProofDoc {
        leaf: doc.leaf,
        leaf_index: doc.leaf_index,
        tree_size: doc.tree_size,
        audit_path: doc.audit_path,
    })?;
    Ok((tree_kind(&doc.tree)?, proof))
}

/// `key` is the absent key's bytes ([`crate::SortedLeaf::key_bytes`]).
pub fn non_inclusion_to_json(tree: TreeKind, key: &[u8], proof: &NonInclusionProof) -> String {
    to_json(&NonInclusionDoc {
        format: NON_INCLUSION_FORMAT.to_owned(),
        tree: tree.as_str().to_owned(),
        key: hex::encode(key),
        tree_size: proof.tree_size,
        predecessor: proof.predecessor.as_ref().map(leaf_doc),
        successor: proof.successor.as_ref().map(leaf_doc),
    })
}

/// The tree, the absent key's bytes and the proof.
pub fn non_inclusion_from_json(text: &str) -> Result<(TreeKind, Vec<u8>, NonInclusionProof)> {
    let doc: NonInclusionDoc = from_json(text)?;
    check_format(&doc.format, NON_INCLUSION_FORMAT)?;
    let proof = NonInclusionProof {
        tree_size: doc.tree_size,
        predecessor: doc.predecessor.as_ref().map(leaf_from_doc).transpose()?,
        successor: doc.successor.as_ref().map(leaf_from_doc).transpose()?,
    };
    Ok((tree_kind(&doc.tree)?, unhex("key", &doc.key)?, proof))
}

/// Parses an inclusion document and checks it against a manifest that was
/// already verified; returns the tree and the included leaf's bytes.
pub fn verify_inclusion_json(text: &str, manifest: &LedgerManifest) -> Result<(TreeKind, Vec<u8>)> {
    let (tree, proof) = inclusion_from_json(text)?;
    match tree {
        TreeKind::Content => {
            crate::verify_leaf::<crate::LeafFacts>(&proof, &manifest.content_head())?;
        }
        TreeKind::Sha256 => {
            crate::verify_leaf::<crate::ShaLeaf>(&proof, &manifest.sha256_head())?;
        }
    }
    Ok((tree, proof.leaf))
}

/// Parses a non-inclusion document and checks it against a manifest that
/// was already verified; returns the tree and the absent key's bytes.
pub fn verify_non_inclusion_json(
    text: &str,
    manifest: &LedgerManifest,
) -> Result<(TreeKind, Vec<u8>)> {
    use crate::SortedLeaf;
    let (tree, key, proof) = non_inclusion_from_json(text)?;
    match tree {
        TreeKind::Content => crate::verify_non_inclusion::<crate::LeafFacts>(
            &crate::LeafFacts::key_from_bytes(&key)?,
            &proof,
            &manifest.content_head(),
        )?,
        TreeKind::Sha256 => crate::verify_non_inclusion::<crate::ShaLeaf>(
            &crate::ShaLeaf::key_from_bytes(&key)?,
            &proof,
            &manifest.sha256_head(),
        )?,
    }
    Ok((tree, key))
}

// ---- Partitioned indexes (crate::partitioned) ----

pub const SIGNED_PARTITION_FORMAT: &str = "provindex-ledger-signed-partition-manifest-v1";
pub const SIGNED_PUBLICATION_FORMAT: &str = "provindex-ledger-signed-publication-v1";
pub const PARTITIONED_PROOF_FORMAT: &str = "provindex-ledger-partitioned-proof-v1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedPartitionDoc {
    format: String,
    partition: u32,
    partition_count: u32,
    chunk_start: u32,
    chunk_end: u32,
    manifest: ManifestDoc,
    public_key: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicationDoc {
    index_format_version: u32,
    normalization_version: u32,
    sketch_spec: String,
    content_count: u64,
    created_at: i64,
    base_version_digest: Option<String>,
    index_digest: String,
    partitions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedPublicationDoc {
    format: String,
    publication: PublicationDoc,
    public_key: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartDoc {
    partition_manifest: SignedPartitionDoc,
    /// An inclusion or non-inclusion document (by its `format`).
    proof: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionedProofDoc {
    format: String,
    parts: Vec<PartDoc>,
}

fn manifest_doc(m: &LedgerManifest) -> ManifestDoc {
    ManifestDoc {
        index_format_version: m.index_format_version,
        normalization_version: m.normalization_version,
        sketch_spec: m.sketch_spec.clone(),
        content_count: m.content_count,
        content_root: hex::encode(m.content_root),
        sha256_root: hex::encode(m.sha256_root),
        created_at: m.created_at,
        base_version_digest: m.base_version_digest.map(hex::encode),
        index_digest: hex::encode(m.index_digest),
    }
}

fn manifest_from_doc(m: ManifestDoc) -> Result<LedgerManifest> {
    Ok(LedgerManifest {
        index_format_version: m.index_format_version,
        normalization_version: m.normalization_version,
        sketch_spec: m.sketch_spec,
        content_count: m.content_count,
        content_root: unhex_array("content_root", &m.content_root)?,
        sha256_root: unhex_array("sha256_root", &m.sha256_root)?,
        created_at: m.created_at,
        base_version_digest: m
            .base_version_digest
            .map(|d| unhex_array("base_version_digest", &d))
            .transpose()?,
        index_digest: unhex_array("index_digest", &m.index_digest)?,
    })
}

fn partition_doc(signed: &SignedPartitionManifest) -> SignedPartitionDoc {
    let m = &signed.manifest;
    SignedPartitionDoc {
        format: SIGNED_PARTITION_FORMAT.to_owned(),
        partition: m.partition,
        partition_count: m.partition_count,
        chunk_start: m.chunk_start,
        chunk_end: m.chunk_end,
        manifest: manifest_doc(&m.ledger),
        public_key: hex::encode(signed.public_key),
        signature: hex::encode(signed.signature),
    }
}

fn partition_from_doc(doc: SignedPartitionDoc) -> Result<SignedPartitionManifest> {
    check_format(&doc.format, SIGNED_PARTITION_FORMAT)?;
    Ok(SignedPartitionManifest {
        manifest: PartitionManifest {
            partition: doc.partition,
            partition_count: doc.partition_count,
            chunk_start: doc.chunk_start,
            chunk_end: doc.chunk_end,
            ledger: manifest_from_doc(doc.manifest)?,
        },
        public_key: unhex_array("public_key", &doc.public_key)?,
        signature: unhex_array("signature", &doc.signature)?,
    })
}

pub fn signed_partition_to_json(signed: &SignedPartitionManifest) -> String {
    to_json(&partition_doc(signed))
}

/// Parses a signed partition manifest; it still has to be checked
/// ([`PublicationManifest::check_partition`]).
pub fn signed_partition_from_json(text: &str) -> Result<SignedPartitionManifest> {
    partition_from_doc(from_json(text)?)
}

pub fn signed_publication_to_json(signed: &SignedPublicationManifest) -> String {
    let m = &signed.manifest;
    to_json(&SignedPublicationDoc {
        format: SIGNED_PUBLICATION_FORMAT.to_owned(),
        publication: PublicationDoc {
            index_format_version: m.index_format_version,
            normalization_version: m.normalization_version,
            sketch_spec: m.sketch_spec.clone(),
            content_count: m.content_count,
            created_at: m.created_at,
            base_version_digest: m.base_version_digest.map(hex::encode),
            index_digest: hex::encode(m.index_digest),
            partitions: m.partitions.iter().map(hex::encode).collect(),
        },
        public_key: hex::encode(signed.public_key),
        signature: hex::encode(signed.signature),
    })
}

/// Parses a signed publication manifest; it still has to be
/// [`SignedPublicationManifest::verify`]d.
pub fn signed_publication_from_json(text: &str) -> Result<SignedPublicationManifest> {
    let doc: SignedPublicationDoc = from_json(text)?;
    check_format(&doc.format, SIGNED_PUBLICATION_FORMAT)?;
    let m = doc.publication;
    Ok(SignedPublicationManifest {
        manifest: PublicationManifest {
            index_format_version: m.index_format_version,
            normalization_version: m.normalization_version,
            sketch_spec: m.sketch_spec,
            content_count: m.content_count,
            created_at: m.created_at,
            base_version_digest: m
                .base_version_digest
                .map(|d| unhex_array("base_version_digest", &d))
                .transpose()?,
            index_digest: unhex_array("index_digest", &m.index_digest)?,
            partitions: m
                .partitions
                .iter()
                .map(|d| unhex_array("partitions", d))
                .collect::<Result<_>>()?,
        },
        public_key: unhex_array("public_key", &doc.public_key)?,
        signature: unhex_array("signature", &doc.signature)?,
    })
}

/// A partitioned proof of one part: a partition's signed manifest and an
/// inclusion or non-inclusion document of that partition's trees.
pub fn partitioned_proof_to_json(parts: &[(&SignedPartitionManifest, &str)]) -> Result<String> {
    let parts = parts
        .iter()
        .map(|(signed, proof)| {
            Ok(PartDoc {
                partition_manifest: partition_doc(signed),
                proof: serde_json::from_str(proof).map_err(|e| wire(e.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(to_json(&PartitionedProofDoc {
        format: PARTITIONED_PROOF_FORMAT.to_owned(),
        parts,
    }))
}

/// The parts of a partitioned proof: each partition manifest with its
/// inner document's JSON text.
pub fn partitioned_proof_parts(text: &str) -> Result<Vec<(SignedPartitionManifest, String)>> {
    let doc: PartitionedProofDoc = from_json(text)?;
    check_format(&doc.format, PARTITIONED_PROOF_FORMAT)?;
    doc.parts
        .into_iter()
        .map(|part| {
            Ok((
                partition_from_doc(part.partition_manifest)?,
                serde_json::to_string(&part.proof).map_err(|e| wire(e.to_string()))?,
            ))
        })
        .collect()
}

/// Merges partitioned proofs' parts into one document (a router joining
/// every partition's SHA-256 non-inclusion), ordered by partition.
pub fn merge_partitioned_proofs(texts: &[String]) -> Result<String> {
    let mut parts = Vec::new();
    for text in texts {
        parts.extend(partitioned_proof_parts(text)?);
    }
    parts.sort_by_key(|(signed, _)| signed.manifest.partition);
    let refs: Vec<(&SignedPartitionManifest, &str)> =
        parts.iter().map(|(s, p)| (s, p.as_str())).collect();
    partitioned_proof_to_json(&refs)
}

/// What a verified partitioned proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionedClaim {
    /// The leaf (bytes) is in the tree of `partition`.
    Included {
        tree: TreeKind,
        partition: u32,
        leaf: Vec<u8>,
    },
    /// The key (bytes) is in no partition's tree: `partitions` are the
    /// partitions whose trees were proven to lack it (the owning one for a
    /// content_id, all of them for a SHA-256).
    Absent {
        tree: TreeKind,
        key: Vec<u8>,
        partitions: Vec<u32>,
    },
}

fn part_error(partition: u32, error: LedgerError) -> LedgerError {
    LedgerError::Partitioned(format!("partition {partition}: {error}"))
}

/// Checks a partitioned proof against a publication manifest that was
/// already verified with `trusted` (rules in [`crate::partitioned`]).
pub fn verify_partitioned_json(
    text: &str,
    publication: &PublicationManifest,
    trusted: &VerifyingKey,
) -> Result<PartitionedClaim> {
    use crate::SortedLeaf;
    let parts = partitioned_proof_parts(text)?;
    let bad = |reason: String| LedgerError::Partitioned(reason);
    let mut checked = Vec::with_capacity(parts.len());
    for (signed, proof) in &parts {
        let manifest = publication.check_partition(signed, trusted)?;
        let format = serde_json::from_str::<serde_json::Value>(proof)
            .ok()
            .and_then(|v| v.get("format").and_then(|f| f.as_str().map(str::to_owned)))
            .unwrap_or_default();
        checked.push((manifest, format, proof.as_str()));
    }
    let Some((first, format, _)) = checked.first() else {
        return Err(bad("a partitioned proof with no parts".to_owned()));
    };
    if checked.iter().any(|(_, f, _)| f != format) {
        return Err(bad(
            "parts mix inclusion and non-inclusion proofs".to_owned()
        ));
    }
    match format.as_str() {
        INCLUSION_FORMAT => {
            if checked.len() != 1 {
                return Err(bad(format!(
                    "an inclusion proof has one part, not {}",
                    checked.len()
                )));
            }
            let p = first.partition;
            let (tree, leaf) =
                verify_inclusion_json(checked[0].2, &first.ledger).map_err(|e| part_error(p, e))?;
            let content_id = match tree {
                TreeKind::Content => crate::LeafFacts::decode(&leaf)?.content_id,
                TreeKind::Sha256 => crate::ShaLeaf::decode(&leaf)?.content_id,
            };
            if !first.owns(content_id) {
                return Err(bad(format!(
                    "partition {p}: leaf content {content_id:032x} is outside its chunks [{}, {})",
                    first.chunk_start, first.chunk_end
                )));
            }
            Ok(PartitionedClaim::Included {
                tree,
                partition: p,
                leaf,
            })
        }
        NON_INCLUSION_FORMAT => {
            let mut absent: Option<(TreeKind, Vec<u8>)> = None;
            let mut partitions = Vec::new();
            for (manifest, _, proof) in &checked {
                let p = manifest.partition;
                let (tree, key) = verify_non_inclusion_json(proof, &manifest.ledger)
                    .map_err(|e| part_error(p, e))?;
                if let Some((t, k)) = &absent
                    && (*t != tree || *k != key)
                {
                    return Err(bad(format!(
                        "partition {p}: proves another key or tree than the first part"
                    )));
                }
                absent = Some((tree, key));
                partitions.push(p);
            }
            let (tree, key) = absent.expect("at least one part");
            match tree {
                TreeKind::Content => {
                    if checked.len() != 1 {
                        return Err(bad(format!(
                            "a content_id non-inclusion proof has one part (the owning partition), not {}",
                            checked.len()
                        )));
                    }
                    let content_id = crate::LeafFacts::key_from_bytes(&key)?;
                    if !first.owns(content_id) {
                        return Err(bad(format!(
                            "partition {}: content {content_id:032x} (chunk {}) is outside its chunks [{}, {}), so its absence there proves nothing",
                            first.partition,
                            crate::partitioned::content_chunk(content_id),
                            first.chunk_start,
                            first.chunk_end
                        )));
                    }
                }
                TreeKind::Sha256 => {
                    let expected: Vec<u32> = (0..publication.partition_count()).collect();
                    if partitions != expected {
                        return Err(bad(format!(
                            "a SHA-256 non-inclusion proof needs every partition 0..{} in order, has {partitions:?}",
                            publication.partition_count()
                        )));
                    }
                }
            }
            Ok(PartitionedClaim::Absent {
                tree,
                key,
                partitions,
            })
        }
        other => Err(bad(format!("unknown inner proof format {other:?}"))),
    }
}
