//! The two key-sorted trees (content tree by content_id, SHA-256 tree by
//! SHA-256), and their inclusion and non-inclusion proofs.

use std::fmt;

use crate::merkle::{
    InclusionProof, MerkleTree, RootBuilder, TreeHead, leaf_hash, verify_inclusion,
};
use crate::{LeafFacts, LedgerError, Result, ShaLeaf, Side};

/// Which of the two trees a proof belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TreeKind {
    /// Leaves are [`LeafFacts`], ordered by content_id.
    Content,
    /// Leaves are [`ShaLeaf`]s, ordered by SHA-256.
    Sha256,
}

impl TreeKind {
    /// The wire name (`content`, `sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            TreeKind::Content => "content",
            TreeKind::Sha256 => "sha256",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "content" => Some(TreeKind::Content),
            "sha256" => Some(TreeKind::Sha256),
            _ => None,
        }
    }
}

impl fmt::Display for TreeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A leaf of a key-sorted tree.
pub trait SortedLeaf: Sized {
    const KIND: TreeKind;
    /// Ordered as the tree orders its leaves.
    type Key: Ord + Copy + fmt::Debug;
    fn key(&self) -> Self::Key;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self>;
    /// The key as big-endian bytes, whose byte order is the key order.
    fn key_bytes(key: &Self::Key) -> Vec<u8>;
    fn key_from_bytes(bytes: &[u8]) -> Result<Self::Key>;
}

impl SortedLeaf for LeafFacts {
    const KIND: TreeKind = TreeKind::Content;
    type Key = u128;
    fn key(&self) -> u128 {
        self.content_id
    }
    fn encode(&self) -> Vec<u8> {
        LeafFacts::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self> {
        LeafFacts::decode(bytes)
    }
    fn key_bytes(key: &u128) -> Vec<u8> {
        key.to_be_bytes().to_vec()
    }
    fn key_from_bytes(bytes: &[u8]) -> Result<u128> {
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| {
            LedgerError::BadKey(format!("a content_id is 16 bytes, not {}", bytes.len()))
        })?;
        Ok(u128::from_be_bytes(bytes))
    }
}

impl SortedLeaf for ShaLeaf {
    const KIND: TreeKind = TreeKind::Sha256;
    type Key = [u8; 32];
    fn key(&self) -> [u8; 32] {
        self.sha256
    }
    fn encode(&self) -> Vec<u8> {
        ShaLeaf::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self> {
        ShaLeaf::decode(bytes)
    }
    fn key_bytes(key: &[u8; 32]) -> Vec<u8> {
        key.to_vec()
    }
    fn key_from_bytes(bytes: &[u8]) -> Result<[u8; 32]> {
        bytes
            .try_into()
            .map_err(|_| LedgerError::BadKey(format!("a SHA-256 is 32 bytes, not {}", bytes.len())))
    }
}

/// Streams leaves in key order into a root, in O(log n) memory, refusing
/// unsorted or duplicate keys.
#[derive(Debug, Clone)]
pub struct SortedRootBuilder<L: SortedLeaf> {
    inner: RootBuilder,
    last: Option<L::Key>,
}

pub type ContentRootBuilder = SortedRootBuilder<LeafFacts>;
pub type Sha256RootBuilder = SortedRootBuilder<ShaLeaf>;

impl<L: SortedLeaf> Default for SortedRootBuilder<L> {
    fn default() -> Self {
        Self {
            inner: RootBuilder::new(),
            last: None,
        }
    }
}

impl<L: SortedLeaf> SortedRootBuilder<L> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, leaf: &L) -> Result<()> {
        check_after(L::KIND, self.last, leaf.key(), self.inner.size())?;
        self.last = Some(leaf.key());
        self.inner.push_leaf(&leaf.encode());
        Ok(())
    }

    pub fn head(&self) -> TreeHead {
        self.inner.head()
    }
}

fn check_after<K: Ord>(tree: TreeKind, last: Option<K>, key: K, index: u64) -> Result<()> {
    match last {
        Some(last) if last >= key => Err(LedgerError::NotStrictlyIncreasing { tree, index }),
        _ => Ok(()),
    }
}

/// A leaf's canonical bytes with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafProof {
    pub leaf: Vec<u8>,
    pub proof: InclusionProof,
}

/// Proof that a key is not in a tree: the inclusion proofs of the leaves
/// just below and just above it (one at an edge, none for an empty tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonInclusionProof {
    pub tree_size: u64,
    pub predecessor: Option<LeafProof>,
    pub successor: Option<LeafProof>,
}

/// A key-sorted tree held in memory (the leaves and every level of hashes),
/// to answer proofs.
#[derive(Debug, Clone)]
pub struct SortedTree<L: SortedLeaf> {
    leaves: Vec<L>,
    tree: MerkleTree,
}

pub type ContentTree = SortedTree<LeafFacts>;
pub type Sha256Tree = SortedTree<ShaLeaf>;

impl<L: SortedLeaf> SortedTree<L> {
    /// Leaves must be in strictly increasing key order.
    pub fn new(leaves: Vec<L>) -> Result<Self> {
        let mut hashes = Vec::with_capacity(leaves.len());
        let mut last = None;
        for (index, leaf) in leaves.iter().enumerate() {
            check_after(L::KIND, last, leaf.key(), index as u64)?;
            last = Some(leaf.key());
            hashes.push(leaf_hash(&leaf.encode()));
        }
        Ok(SortedTree {
            leaves,
            tree: MerkleTree::from_leaf_hashes(hashes),
        })
    }

    pub fn head(&self) -> TreeHead {
        self.tree.head()
    }

    pub fn leaves(&self) -> &[L] {
        &self.leaves
    }

    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// `Ok(index)` of the key, or `Err(index)` where it would go.
    pub fn position(&self, key: &L::Key) -> std::result::Result<usize, usize> {
        self.leaves.binary_search_by(|leaf| leaf.key().cmp(key))
    }

    pub fn leaf_proof(&self, index: usize) -> Result<LeafProof> {
        let proof = self.tree.inclusion_proof(index as u64)?;
        Ok(LeafProof {
            leaf: self.leaves[index].encode(),
            proof,
        })
    }

    pub fn inclusion_proof(&self, key: &L::Key) -> Result<LeafProof> {
        match self.position(key) {
            Ok(index) => self.leaf_proof(index),
            Err(_) => Err(LedgerError::KeyAbsent { tree: L::KIND }),
        }
    }

    pub fn non_inclusion_proof(&self, key: &L::Key) -> Result<NonInclusionProof> {
        let at = match self.position(key) {
            Ok(index) => {
                return Err(LedgerError::KeyPresent {
                    tree: L::KIND,
                    index: index as u64,
                });
            }
            Err(at) => at,
        };
        let predecessor = match at {
            0 => None,
            _ => Some(self.leaf_proof(at - 1)?),
        };
        let successor = match at < self.leaves.len() {
            true => Some(self.leaf_proof(at)?),
            false => None,
        };
        Ok(NonInclusionProof {
            tree_size: self.tree.size(),
            predecessor,
            successor,
        })
    }
}

/// Checks a leaf proof against a trusted head and returns the decoded leaf.
pub fn verify_leaf<L: SortedLeaf>(proof: &LeafProof, head: &TreeHead) -> Result<L> {
    verify_inclusion(&leaf_hash(&proof.leaf), &proof.proof, head)?;
    L::decode(&proof.leaf)
}

/// Checks that `key` is not a leaf of the tree `head`: each neighbor is
/// included, they are adjacent (or at the edge) and they bracket the key.
pub fn verify_non_inclusion<L: SortedLeaf>(
    key: &L::Key,
    proof: &NonInclusionProof,
    head: &TreeHead,
) -> Result<()> {
    if proof.tree_size != head.size {
        return Err(LedgerError::TreeSizeMismatch {
            proof: proof.tree_size,
            trusted: head.size,
        });
    }
    let neighbor = |side: Side, leaf: &LeafProof| {
        verify_leaf::<L>(leaf, head).map_err(|error| LedgerError::Neighbor {
            side,
            source: Box::new(error),
        })
    };
    match (&proof.predecessor, &proof.successor) {
        (None, None) => {
            if head.size != 0 {
                return Err(LedgerError::MissingNeighbors {
                    tree_size: head.size,
                });
            }
            if head.root != crate::merkle::EMPTY_ROOT {
                return Err(LedgerError::RootMismatch);
            }
        }
        (pred, succ) => {
            if let Some(pred) = pred
                && neighbor(Side::Predecessor, pred)?.key() >= *key
            {
                return Err(LedgerError::PredecessorNotBelow);
            }
            if let Some(succ) = succ
                && neighbor(Side::Successor, succ)?.key() <= *key
            {
                return Err(LedgerError::SuccessorNotAbove);
            }
            match (pred, succ) {
                (Some(pred), Some(succ)) => {
                    let (p, s) = (pred.proof.leaf_index, succ.proof.leaf_index);
                    if p.checked_add(1) != Some(s) {
                        return Err(LedgerError::NotAdjacent {
                            predecessor: p,
                            successor: s,
                        });
                    }
                }
                (Some(pred), None) => {
                    if pred.proof.leaf_index + 1 != head.size {
                        return Err(LedgerError::MissingSuccessor {
                            predecessor: pred.proof.leaf_index,
                            tree_size: head.size,
                        });
                    }
                }
                (None, Some(succ)) => {
                    if succ.proof.leaf_index != 0 {
                        return Err(LedgerError::MissingPredecessor {
                            successor: succ.proof.leaf_index,
                        });
                    }
                }
                (None, None) => unreachable!("handled above"),
            }
        }
    }
    Ok(())
}
