//! The ledger (issue 18; docs/DESIGN.md "ledger"): pure code, no I/O, that
//! commits an index version to two Merkle trees, proves a content in or out
//! of them, and signs what they commit to.
//!
//! # Leaves
//!
//! All integers are big-endian; every leaf starts with
//! [`LEAF_FORMAT_VERSION`] (1).
//!
//! - Content tree leaf ([`LeafFacts`], 79 + n bytes): version (1) ‖
//!   content_id (16) ‖ SHA-256 of the normalized text (32) ‖ capture_count
//!   (u64, 8) ‖ cluster_id (16) ‖ keeper (1: 0 or 1) ‖ opt-out verdict at
//!   build (1: 0 unknown, 1 not_reserved, 2 reserved) ‖ language length (u32,
//!   4) ‖ language (n bytes UTF-8). Every field but the last has a fixed
//!   size and the last is length-prefixed, so an encoding is unambiguous;
//!   decoding rejects any other byte string.
//! - SHA-256 tree leaf ([`ShaLeaf`], 49 bytes): version (1) ‖ SHA-256 (32) ‖
//!   content_id (16).
//!
//! # Trees
//!
//! RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 ‖ leaf), node = SHA-256(0x01 ‖
//! left ‖ right), MTH splitting n leaves at the largest power of two below n,
//! and MTH of no leaves = SHA-256(""). The content tree holds one
//! [`LeafFacts`] per content in strictly increasing content_id order (its
//! root is the manifest's `content_root`); the SHA-256 tree holds one
//! [`ShaLeaf`] per content in strictly increasing SHA-256 order (bytewise;
//! `sha256_root`), so absence can be proven by either identifier. Both have
//! `content_count` leaves. [`SortedRootBuilder`] streams leaves into a root
//! in O(log n) memory; [`SortedTree`] / [`MerkleTree`] keep every level in
//! memory (about 64 bytes per leaf) to answer proofs.
//!
//! # Proofs
//!
//! An inclusion proof is the RFC 9162 §2.1.3 audit path (leaf index, tree
//! size, sibling hashes from the leaf up), verified with §2.1.3.2's
//! algorithm. A non-inclusion proof of a key is the inclusion proofs of its
//! neighbours: the predecessor (largest key below) and successor (smallest
//! key above). It verifies when each given neighbour is included, their
//! indexes are consecutive, the predecessor's key is below the key and the
//! successor's above; with no predecessor the successor must be leaf 0, with
//! no successor the predecessor the last leaf, and with neither the tree
//! must be empty (size 0, root SHA-256("")). The tree size a proof is
//! checked against must come from a verified manifest.
//!
//! # Manifest
//!
//! [`LedgerManifest::canonical_bytes`], big-endian: format version (1 = 1)
//! ‖ index_format_version (u32) ‖ normalization_version (u32) ‖ sketch_spec
//! length (u32) ‖ sketch_spec (UTF-8) ‖ content_count (u64) ‖ content_root
//! (32) ‖ sha256_root (32) ‖ created_at (i64 Unix seconds) ‖ base flag (1: 0
//! absent, 1 present) ‖ base_version_digest (32, only if present) ‖
//! index_digest (32). The Ed25519 signature (RFC 8032, verified strictly)
//! is over [`SIGNATURE_DOMAIN`] = `"provindex-ledger-manifest-v1\0"` ‖
//! canonical bytes. A manifest's digest (lineage: the next version's
//! `base_version_digest`) is SHA-256(canonical bytes). Keys are 32-byte
//! seeds, stored as 32 raw bytes or 64 hex digits.
//!
//! # Wire format ([`wire`])
//!
//! JSON; every byte string is lowercase hex, integers are JSON numbers,
//! unknown fields are rejected.
//!
//! ```text
//! signed manifest: {"format": "provindex-ledger-signed-manifest-v1",
//!   "manifest": {"index_format_version", "normalization_version",
//!     "sketch_spec", "content_count", "content_root", "sha256_root",
//!     "created_at", "base_version_digest" (hex or null), "index_digest"},
//!   "public_key": hex 32 bytes, "signature": hex 64 bytes}
//! inclusion: {"format": "provindex-ledger-inclusion-v1",
//!   "tree": "content" | "sha256", "leaf": hex leaf bytes,
//!   "leaf_index", "tree_size", "audit_path": [hex 32 bytes, leaf first]}
//! non-inclusion: {"format": "provindex-ledger-non-inclusion-v1",
//!   "tree": "content" | "sha256", "key": hex content_id (16) or SHA-256 (32),
//!   "tree_size", "predecessor": null | {"leaf", "leaf_index", "tree_size",
//!   "audit_path"}, "successor": same}
//! ```
//!
//! # Partitioned indexes ([`partitioned`], issue 17)
//!
//! Each partition p of P (chunks `[p·256/P, (p+1)·256/P)` of the content_id's
//! first byte) has a [`PartitionManifest`]: version (1) ‖ partition (u32) ‖
//! partition_count (u32) ‖ chunk_start (u32) ‖ chunk_end (u32) ‖ the
//! [`LedgerManifest`] canonical bytes of its own trees (`index_digest` = the
//! partition's digest), signed over `"provindex-ledger-partition-manifest-v1\0"`
//! ‖ those bytes. The [`PublicationManifest`] — version (1) ‖ versions ‖
//! sketch spec ‖ content_count ‖ created_at ‖ base ‖ index_digest ‖
//! partition count (u32) ‖ SHA-256 of each partition manifest's canonical
//! bytes — is signed over `"provindex-ledger-publication-manifest-v1\0"` ‖
//! its bytes. Wire documents:
//!
//! ```text
//! signed partition manifest: {"format": "provindex-ledger-signed-partition-manifest-v1",
//!   "partition", "partition_count", "chunk_start", "chunk_end",
//!   "manifest": {same fields as above}, "public_key", "signature"}
//! signed publication: {"format": "provindex-ledger-signed-publication-v1",
//!   "publication": {"index_format_version", "normalization_version",
//!     "sketch_spec", "content_count", "created_at", "base_version_digest",
//!     "index_digest", "partitions": [hex 32 bytes per partition]},
//!   "public_key", "signature"}
//! partitioned proof: {"format": "provindex-ledger-partitioned-proof-v1",
//!   "parts": [{"partition_manifest": signed partition manifest,
//!              "proof": inclusion or non-inclusion document}]}
//! ```
//!
//! A part holds when its manifest is signed by the trusted key, its digest
//! is listed at its place in the verified publication, its chunks are its
//! place's and its versions and `created_at` are the publication's, and its
//! inner proof verifies against the partition's trees. Inclusion: one part
//! whose leaf's content_id lies in the part's chunks. Non-inclusion of a
//! content_id: one part whose chunks hold the id. Non-inclusion of a
//! SHA-256: P parts, partitions 0..P in order, the same key in each.
//!
//! A verifier recomputes the canonical bytes from the manifest's fields
//! (never trusting a serialized copy), checks the signature against a key it
//! trusts, then checks proofs against `content_root` or `sha256_root` with
//! tree size `content_count`. `services/pyclient/provindex_client/ledger.py`
//! is an independent Python verifier of all three documents.

mod error;
mod leaf;
mod manifest;
pub mod merkle;
pub mod partitioned;
mod sorted;
pub mod wire;

/// Re-exported so callers need no direct ed25519-dalek dependency.
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use error::{LedgerError, Result, Side};
pub use leaf::{LEAF_FORMAT_VERSION, LeafFacts, OptOutAtBuild, SHA_LEAF_LEN, ShaLeaf};
pub use manifest::{
    LedgerManifest, MANIFEST_FORMAT_VERSION, SIGNATURE_DOMAIN, SignedManifest, seed_hex,
    signing_key_from_seed, verifying_key_from_bytes, verifying_key_hex,
};
pub use merkle::{
    EMPTY_ROOT, Hash, InclusionProof, MerkleTree, RootBuilder, TreeHead, leaf_hash, node_hash,
    root_from_inclusion, verify_inclusion,
};
pub use partitioned::{
    PartitionManifest, PublicationManifest, SignedPartitionManifest, SignedPublicationManifest,
};
pub use sorted::{
    ContentRootBuilder, ContentTree, LeafProof, NonInclusionProof, Sha256RootBuilder, Sha256Tree,
    SortedLeaf, SortedRootBuilder, SortedTree, TreeKind, verify_leaf, verify_non_inclusion,
};
