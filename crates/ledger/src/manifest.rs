//! The ledger manifest, its canonical bytes and its Ed25519 signature.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::{Hash, TreeHead};
use crate::{LedgerError, Result};

/// First byte of the canonical manifest bytes.
pub const MANIFEST_FORMAT_VERSION: u8 = 1;

/// Prefixed to the canonical bytes before signing, so a manifest signature
/// can never be replayed as a signature over anything else.
pub const SIGNATURE_DOMAIN: &[u8] = b"provindex-ledger-manifest-v1\0";

/// What an index version commits to; signed by the index's operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerManifest {
    pub index_format_version: u32,
    pub normalization_version: u32,
    /// `provindex_sketch::SketchSpec` text; empty when built without sketches.
    pub sketch_spec: String,
    /// Leaves of each tree (both have one leaf per content).
    pub content_count: u64,
    /// Root of the content tree (leaves: [`crate::LeafFacts`] by content_id).
    pub content_root: Hash,
    /// Root of the SHA-256 tree (leaves: [`crate::ShaLeaf`] by SHA-256).
    pub sha256_root: Hash,
    /// Unix seconds.
    pub created_at: i64,
    /// [`LedgerManifest::digest`] of the version this one was built on.
    pub base_version_digest: Option<Hash>,
    /// The index's own digest (`provindex_index::Manifest::digest`).
    pub index_digest: Hash,
}

impl LedgerManifest {
    /// The canonical bytes (layout in the crate doc).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.sketch_spec.len());
        out.push(MANIFEST_FORMAT_VERSION);
        put_index_facts(
            &mut out,
            self.index_format_version,
            self.normalization_version,
            &self.sketch_spec,
        );
        out.extend_from_slice(&self.content_count.to_be_bytes());
        out.extend_from_slice(&self.content_root);
        out.extend_from_slice(&self.sha256_root);
        out.extend_from_slice(&self.created_at.to_be_bytes());
        put_optional_digest(&mut out, self.base_version_digest.as_ref());
        out.extend_from_slice(&self.index_digest);
        out
    }

    /// Parses exactly one canonical encoding.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader { bytes, at: 0 };
        let version = reader.array::<1>()?[0];
        if version != MANIFEST_FORMAT_VERSION {
            return Err(LedgerError::BadManifest(format!(
                "unknown manifest format version {version}"
            )));
        }
        let index_format_version = u32::from_be_bytes(reader.array()?);
        let normalization_version = u32::from_be_bytes(reader.array()?);
        let len = u32::from_be_bytes(reader.array()?) as usize;
        let sketch_spec = std::str::from_utf8(reader.take(len)?)
            .map_err(|_| LedgerError::BadManifest("sketch spec is not UTF-8".to_owned()))?
            .to_owned();
        let content_count = u64::from_be_bytes(reader.array()?);
        let content_root = reader.array()?;
        let sha256_root = reader.array()?;
        let created_at = i64::from_be_bytes(reader.array()?);
        let base_version_digest = match reader.array::<1>()?[0] {
            0 => None,
            1 => Some(reader.array()?),
            _ => {
                return Err(LedgerError::BadManifest(
                    "base digest flag is neither 0 nor 1".to_owned(),
                ));
            }
        };
        let index_digest = reader.array()?;
        if reader.at != bytes.len() {
            return Err(LedgerError::BadManifest(
                "trailing bytes after the index digest".to_owned(),
            ));
        }
        Ok(LedgerManifest {
            index_format_version,
            normalization_version,
            sketch_spec,
            content_count,
            content_root,
            sha256_root,
            created_at,
            base_version_digest,
            index_digest,
        })
    }

    /// SHA-256 of the canonical bytes: the version's name in lineage
    /// (a later manifest's `base_version_digest`).
    pub fn digest(&self) -> Hash {
        Sha256::digest(self.canonical_bytes()).into()
    }

    pub fn content_head(&self) -> TreeHead {
        TreeHead {
            size: self.content_count,
            root: self.content_root,
        }
    }

    pub fn sha256_head(&self) -> TreeHead {
        TreeHead {
            size: self.content_count,
            root: self.sha256_root,
        }
    }

    /// The bytes the signature covers: [`SIGNATURE_DOMAIN`] ‖ canonical bytes.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut message = SIGNATURE_DOMAIN.to_vec();
        message.extend_from_slice(&self.canonical_bytes());
        message
    }

    pub fn sign(self, key: &SigningKey) -> SignedManifest {
        let signature = key.sign(&self.signed_message()).to_bytes();
        SignedManifest {
            manifest: self,
            public_key: key.verifying_key().to_bytes(),
            signature,
        }
    }
}

/// Index format version (u32) ‖ normalization version (u32) ‖ sketch spec
/// length (u32) ‖ sketch spec: the facts every manifest kind commits to, in
/// one layout.
pub(crate) fn put_index_facts(
    out: &mut Vec<u8>,
    index_format_version: u32,
    normalization_version: u32,
    sketch_spec: &str,
) {
    out.extend_from_slice(&index_format_version.to_be_bytes());
    out.extend_from_slice(&normalization_version.to_be_bytes());
    let len = u32::try_from(sketch_spec.len()).expect("sketch spec shorter than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(sketch_spec.as_bytes());
}

/// Flag byte (0 absent, 1 present) ‖ the digest when present.
pub(crate) fn put_optional_digest(out: &mut Vec<u8>, digest: Option<&Hash>) {
    match digest {
        None => out.push(0),
        Some(digest) => {
            out.push(1);
            out.extend_from_slice(digest);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| LedgerError::BadManifest("truncated".to_owned()))?;
        let field = &self.bytes[self.at..end];
        self.at = end;
        Ok(field)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
}

/// A manifest with the public key that signed it and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    pub manifest: LedgerManifest,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl SignedManifest {
    /// Checks that `trusted` signed this manifest; the embedded public key
    /// only says which key that claims to be.
    pub fn verify(&self, trusted: &VerifyingKey) -> Result<&LedgerManifest> {
        if self.public_key != trusted.to_bytes() {
            return Err(LedgerError::KeyMismatch {
                trusted: hex::encode(trusted.to_bytes()),
                actual: hex::encode(self.public_key),
            });
        }
        let signature = Signature::from_bytes(&self.signature);
        trusted
            .verify_strict(&self.manifest.signed_message(), &signature)
            .map_err(|_| LedgerError::BadSignature)?;
        Ok(&self.manifest)
    }
}

/// Accepts 32 raw bytes or 64 hex digits (surrounding whitespace ignored).
fn key_bytes(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(raw);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| LedgerError::BadKey(format!("{what} is neither 32 raw bytes nor hex")))?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out).map_err(|_| {
        LedgerError::BadKey(format!("{what} is neither 32 raw bytes nor 64 hex digits"))
    })?;
    Ok(out)
}

/// A signing key from a seed file's contents (32 raw bytes or 64 hex digits).
pub fn signing_key_from_seed(bytes: &[u8]) -> Result<SigningKey> {
    Ok(SigningKey::from_bytes(&key_bytes(bytes, "seed")?))
}

/// The seed as 64 hex digits and a newline, for a seed file.
pub fn seed_hex(key: &SigningKey) -> String {
    format!("{}\n", hex::encode(key.to_bytes()))
}

/// A public key from 32 raw bytes or 64 hex digits.
pub fn verifying_key_from_bytes(bytes: &[u8]) -> Result<VerifyingKey> {
    VerifyingKey::from_bytes(&key_bytes(bytes, "public key")?)
        .map_err(|_| LedgerError::BadKey("not an Ed25519 public key".to_owned()))
}

pub fn verifying_key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.to_bytes())
}
