//! JSON wire formats of proofs and signed manifests (described in the crate
//! doc), for verifiers outside this crate.

use serde::{Deserialize, Serialize};

use crate::merkle::{Hash, InclusionProof};
use crate::{
    LeafProof, LedgerError, LedgerManifest, NonInclusionProof, Result, SignedManifest, TreeKind,
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
