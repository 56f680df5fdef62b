//! RFC 9162 §2.1 Merkle trees: hashing, a streaming root builder, an
//! in-memory tree for audit paths, and audit path verification.

use sha2::{Digest, Sha256};

use crate::{LedgerError, Result};

/// A SHA-256 output.
pub type Hash = [u8; 32];

/// MTH({}) = SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// SHA-256(0x00 ‖ leaf).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// A tree's size and root: what a proof is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// Computes the RFC 9162 root of leaves pushed in order, keeping only the
/// roots of the perfect subtrees on the left edge (at most 64 hashes).
///
/// Merging equal-height neighbours as they arrive and folding the rest
/// right-to-left at the end gives exactly MTH's "largest power of two
/// smaller than n" split.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl RootBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push_leaf(&mut self, leaf: &[u8]) {
        self.push_leaf_hash(leaf_hash(leaf));
    }

    pub fn push_leaf_hash(&mut self, hash: Hash) {
        let mut height = 0;
        let mut hash = hash;
        while let Some(&(top_height, top)) = self.stack.last() {
            if top_height != height {
                break;
            }
            self.stack.pop();
            hash = node_hash(&top, &hash);
            height += 1;
        }
        self.stack.push((height, hash));
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn head(&self) -> TreeHead {
        let mut entries = self.stack.iter().rev();
        let root = match entries.next() {
            None => EMPTY_ROOT,
            Some(&(_, last)) => entries.fold(last, |right, (_, left)| node_hash(left, &right)),
        };
        TreeHead {
            size: self.size,
            root,
        }
    }
}

/// An RFC 9162 inclusion proof (audit path, leaf first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub audit_path: Vec<Hash>,
}

/// The number of hashes in the audit path of `index` in a `size`-leaf tree.
pub fn audit_path_len(index: u64, size: u64) -> usize {
    let (mut index, mut size, mut len) = (index, size, 0);
    while size > 1 {
        if index ^ 1 < size {
            len += 1;
        }
        index >>= 1;
        size = size.div_ceil(2);
    }
    len
}

/// Every level of a tree, for audit paths. Level k holds the hashes of the
/// aligned 2^k-leaf subtrees, a lone last node being carried up unchanged,
/// which is the RFC 9162 tree. Memory: about two hashes (64 bytes) per leaf,
/// i.e. 64 MB per million leaves.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().expect("one level").len() > 1 {
            let below = levels.last().expect("one level");
            let above = below
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => node_hash(left, right),
                    [lone] => *lone,
                    _ => unreachable!("chunks of two"),
                })
                .collect();
            levels.push(above);
        }
        MerkleTree { levels }
    }

    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn head(&self) -> TreeHead {
        TreeHead {
            size: self.size(),
            root: self
                .levels
                .last()
                .and_then(|top| top.first())
                .copied()
                .unwrap_or(EMPTY_ROOT),
        }
    }

    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.levels[0]
    }

    /// RFC 9162 §2.1.3.1 `PATH(index, D[size])`.
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof> {
        let tree_size = self.size();
        if index >= tree_size {
            return Err(LedgerError::IndexOutOfRange { index, tree_size });
        }
        let mut audit_path = Vec::with_capacity(audit_path_len(index, tree_size));
        let mut at = index as usize;
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(at ^ 1) {
                audit_path.push(*sibling);
            }
            at >>= 1;
        }
        Ok(InclusionProof {
            leaf_index: index,
            tree_size,
            audit_path,
        })
    }
}

/// RFC 9162 §2.1.3.2: the root an audit path leads to from `leaf_hash`.
pub fn root_from_inclusion(leaf_hash: &Hash, proof: &InclusionProof) -> Result<Hash> {
    let (index, tree_size) = (proof.leaf_index, proof.tree_size);
    if index >= tree_size {
        return Err(LedgerError::IndexOutOfRange { index, tree_size });
    }
    let expected = audit_path_len(index, tree_size);
    if proof.audit_path.len() != expected {
        return Err(LedgerError::PathLength {
            index,
            tree_size,
            expected,
            actual: proof.audit_path.len(),
        });
    }
    let (mut f_n, mut s_n) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in &proof.audit_path {
        if s_n == 0 {
            // Unreachable after the length check; kept as the RFC states it.
            return Err(LedgerError::PathLength {
                index,
                tree_size,
                expected,
                actual: proof.audit_path.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(LedgerError::PathLength {
            index,
            tree_size,
            expected,
            actual: proof.audit_path.len(),
        });
    }
    Ok(r)
}

/// Checks that `leaf_hash` is leaf `proof.leaf_index` of the tree `head`.
pub fn verify_inclusion(leaf_hash: &Hash, proof: &InclusionProof, head: &TreeHead) -> Result<()> {
    if proof.tree_size != head.size {
        return Err(LedgerError::TreeSizeMismatch {
            proof: proof.tree_size,
            trusted: head.size,
        });
    }
    if root_from_inclusion(leaf_hash, proof)? != head.root {
        return Err(LedgerError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(RootBuilder::new().head().root, EMPTY_ROOT);
        assert_eq!(MerkleTree::from_leaf_hashes(vec![]).head().root, EMPTY_ROOT);
    }

    #[test]
    fn path_len_matches_generated_paths() {
        for size in 1..=70u64 {
            let tree = MerkleTree::from_leaf_hashes(
                (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect(),
            );
            for index in 0..size {
                let proof = tree.inclusion_proof(index).unwrap();
                assert_eq!(proof.audit_path.len(), audit_path_len(index, size));
            }
            assert!(tree.inclusion_proof(size).is_err());
        }
    }
}
