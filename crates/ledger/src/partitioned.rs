//! The ledger of a partitioned index (issue 17): one signed
//! [`PartitionManifest`] per partition over that partition's two trees, and
//! one signed [`PublicationManifest`] listing every partition manifest's
//! digest, so one trusted key and one publication document cover the whole
//! index.
//!
//! Content-side rows are partitioned by the first byte of `content_id`
//! (chunk) and partition p of P holds chunks `[p·256/P, (p+1)·256/P)`, so a
//! partition's content tree is a contiguous slice of the global content_id
//! order. What a partitioned proof proves:
//!
//! - inclusion (content or SHA-256 tree): the leaf is in the tree of a
//!   partition whose manifest the publication lists, and the leaf's
//!   content_id lies in that partition's chunks;
//! - non-inclusion of a content_id: the id's chunk lies in the partition's
//!   range (so no other partition may hold it) and the partition's content
//!   tree lacks it (neighbours, or the partition's first/last leaf at its
//!   edge, or an empty partition);
//! - non-inclusion of a SHA-256 (not the partition key): one non-inclusion
//!   proof per partition, all P of them in partition order, each in that
//!   partition's SHA-256 tree.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::manifest::{put_index_facts, put_optional_digest};
use crate::merkle::Hash;
use crate::{LedgerError, LedgerManifest, Result};

/// First byte of the canonical bytes of both manifests below.
pub const PARTITIONED_FORMAT_VERSION: u8 = 1;

/// Prefixed to a partition manifest's canonical bytes before signing; a
/// partition manifest's signature can therefore never pass for a
/// whole-index or publication manifest's.
pub const PARTITION_SIGNATURE_DOMAIN: &[u8] = b"provindex-ledger-partition-manifest-v1\0";

/// Prefixed to a publication manifest's canonical bytes before signing.
pub const PUBLICATION_SIGNATURE_DOMAIN: &[u8] = b"provindex-ledger-publication-manifest-v1\0";

/// Chunks of the content_id space (first byte of the id).
pub const CHUNKS: u32 = 256;

/// The chunk of a content_id: its first (most significant) byte.
pub fn content_chunk(content_id: u128) -> u32 {
    (content_id >> 120) as u32
}

/// The chunks `[start, end)` of partition `partition` of `count`, or why
/// there is no such partition (`count` a power of two in 1..=256).
pub fn partition_chunks(partition: u32, count: u32) -> Result<(u32, u32)> {
    if count == 0 || count > CHUNKS || !count.is_power_of_two() {
        return Err(LedgerError::Partitioned(format!(
            "partition count {count} is not a power of two from 1 to {CHUNKS}"
        )));
    }
    if partition >= count {
        return Err(LedgerError::Partitioned(format!(
            "partition {partition} of {count} does not exist"
        )));
    }
    let width = CHUNKS / count;
    Ok((partition * width, (partition + 1) * width))
}

/// What one partition of a publication commits to. `ledger` holds the
/// partition's trees (its `content_count`, both roots) and its `index_digest`
/// is the partition's own digest (over its chunks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionManifest {
    pub partition: u32,
    pub partition_count: u32,
    /// Chunks `[chunk_start, chunk_end)` of the content_id's first byte.
    pub chunk_start: u32,
    pub chunk_end: u32,
    pub ledger: LedgerManifest,
}

impl PartitionManifest {
    /// Version (1) ‖ partition (u32) ‖ partition_count (u32) ‖ chunk_start
    /// (u32) ‖ chunk_end (u32) ‖ the [`LedgerManifest`] canonical bytes of
    /// the partition's trees (which end the encoding).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = vec![PARTITIONED_FORMAT_VERSION];
        for n in [
            self.partition,
            self.partition_count,
            self.chunk_start,
            self.chunk_end,
        ] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&self.ledger.canonical_bytes());
        out
    }

    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 17 {
            return Err(LedgerError::BadManifest(
                "partition manifest truncated".to_owned(),
            ));
        }
        if bytes[0] != PARTITIONED_FORMAT_VERSION {
            return Err(LedgerError::BadManifest(format!(
                "unknown partition manifest format version {}",
                bytes[0]
            )));
        }
        let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4"));
        Ok(PartitionManifest {
            partition: u32_at(1),
            partition_count: u32_at(5),
            chunk_start: u32_at(9),
            chunk_end: u32_at(13),
            ledger: LedgerManifest::from_canonical_bytes(&bytes[17..])?,
        })
    }

    /// SHA-256 of the canonical bytes: what the publication manifest lists.
    pub fn digest(&self) -> Hash {
        Sha256::digest(self.canonical_bytes()).into()
    }

    /// Whether `content_id` belongs to this partition's chunks.
    pub fn owns(&self, content_id: u128) -> bool {
        (self.chunk_start..self.chunk_end).contains(&content_chunk(content_id))
    }

    pub fn sign(self, key: &SigningKey) -> SignedPartitionManifest {
        let signature = key
            .sign(&signed_message(
                PARTITION_SIGNATURE_DOMAIN,
                &self.canonical_bytes(),
            ))
            .to_bytes();
        SignedPartitionManifest {
            manifest: self,
            public_key: key.verifying_key().to_bytes(),
            signature,
        }
    }
}

/// What a partitioned index commits to: its facts and the digest of every
/// partition's manifest, in partition order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationManifest {
    pub index_format_version: u32,
    pub normalization_version: u32,
    pub sketch_spec: String,
    /// Contents of the whole index (the partitions' sum).
    pub content_count: u64,
    pub created_at: i64,
    pub base_version_digest: Option<Hash>,
    /// The whole index's digest (the publication's).
    pub index_digest: Hash,
    /// [`PartitionManifest::digest`] of partition 0, 1, …; its length is
    /// the partition count.
    pub partitions: Vec<Hash>,
}

impl PublicationManifest {
    /// Version (1) ‖ index_format_version (u32) ‖ normalization_version
    /// (u32) ‖ sketch_spec length (u32) ‖ sketch_spec ‖ content_count (u64)
    /// ‖ created_at (i64) ‖ base flag (1) ‖ base digest (32, if flagged) ‖
    /// index_digest (32) ‖ partition count (u32) ‖ partition manifest
    /// digests (32 each).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = vec![PARTITIONED_FORMAT_VERSION];
        put_index_facts(
            &mut out,
            self.index_format_version,
            self.normalization_version,
            &self.sketch_spec,
        );
        out.extend_from_slice(&self.content_count.to_be_bytes());
        out.extend_from_slice(&self.created_at.to_be_bytes());
        put_optional_digest(&mut out, self.base_version_digest.as_ref());
        out.extend_from_slice(&self.index_digest);
        let count = u32::try_from(self.partitions.len()).expect("at most 256 partitions");
        out.extend_from_slice(&count.to_be_bytes());
        for digest in &self.partitions {
            out.extend_from_slice(digest);
        }
        out
    }

    /// SHA-256 of the canonical bytes.
    pub fn digest(&self) -> Hash {
        Sha256::digest(self.canonical_bytes()).into()
    }

    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    pub fn sign(self, key: &SigningKey) -> SignedPublicationManifest {
        let signature = key
            .sign(&signed_message(
                PUBLICATION_SIGNATURE_DOMAIN,
                &self.canonical_bytes(),
            ))
            .to_bytes();
        SignedPublicationManifest {
            manifest: self,
            public_key: key.verifying_key().to_bytes(),
            signature,
        }
    }

    /// Checks that a signed partition manifest belongs to this publication
    /// (signed by `trusted`, listed at its place, the standard chunk range
    /// of its place, the publication's versions and build time) and returns
    /// it.
    pub fn check_partition<'a>(
        &self,
        signed: &'a SignedPartitionManifest,
        trusted: &VerifyingKey,
    ) -> Result<&'a PartitionManifest> {
        let m = signed.verify(trusted)?;
        let p = m.partition;
        let bad = |reason: String| LedgerError::Partitioned(format!("partition {p}: {reason}"));
        if m.partition_count != self.partition_count() {
            return Err(bad(format!(
                "manifest says {} partitions, the publication has {}",
                m.partition_count,
                self.partition_count()
            )));
        }
        let listed = self.partitions.get(p as usize).ok_or_else(|| {
            bad(format!(
                "not a partition of a {}-partition publication",
                self.partition_count()
            ))
        })?;
        let digest = m.digest();
        if &digest != listed {
            return Err(bad(format!(
                "manifest digest {} is not the one the publication lists ({}): a manifest of another partition or publication",
                hex::encode(digest),
                hex::encode(listed)
            )));
        }
        let (start, end) = partition_chunks(p, m.partition_count)?;
        if (m.chunk_start, m.chunk_end) != (start, end) {
            return Err(bad(format!(
                "chunks [{}, {}) are not partition {p}'s [{start}, {end})",
                m.chunk_start, m.chunk_end
            )));
        }
        let l = &m.ledger;
        if l.index_format_version != self.index_format_version
            || l.normalization_version != self.normalization_version
            || l.sketch_spec != self.sketch_spec
            || l.created_at != self.created_at
        {
            return Err(bad(
                "versions, sketch spec or created_at differ from the publication's".to_owned(),
            ));
        }
        Ok(m)
    }
}

fn signed_message(domain: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut message = domain.to_vec();
    message.extend_from_slice(canonical);
    message
}

fn verify_signature(
    what: &str,
    public_key: &[u8; 32],
    signature: &[u8; 64],
    message: &[u8],
    trusted: &VerifyingKey,
) -> Result<()> {
    if *public_key != trusted.to_bytes() {
        return Err(LedgerError::KeyMismatch {
            trusted: hex::encode(trusted.to_bytes()),
            actual: hex::encode(public_key),
        });
    }
    trusted
        .verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| LedgerError::Partitioned(format!("{what} signature does not verify")))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPartitionManifest {
    pub manifest: PartitionManifest,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl SignedPartitionManifest {
    pub fn verify(&self, trusted: &VerifyingKey) -> Result<&PartitionManifest> {
        let message = signed_message(PARTITION_SIGNATURE_DOMAIN, &self.manifest.canonical_bytes());
        verify_signature(
            &format!("partition {} manifest", self.manifest.partition),
            &self.public_key,
            &self.signature,
            &message,
            trusted,
        )?;
        Ok(&self.manifest)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPublicationManifest {
    pub manifest: PublicationManifest,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl SignedPublicationManifest {
    pub fn verify(&self, trusted: &VerifyingKey) -> Result<&PublicationManifest> {
        let message = signed_message(
            PUBLICATION_SIGNATURE_DOMAIN,
            &self.manifest.canonical_bytes(),
        );
        verify_signature(
            "publication manifest",
            &self.public_key,
            &self.signature,
            &message,
            trusted,
        )?;
        Ok(&self.manifest)
    }
}
