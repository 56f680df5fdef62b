use crate::TreeKind;

/// Which neighbor of an absent key a non-inclusion check failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Predecessor,
    Successor,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Predecessor => "predecessor",
            Side::Successor => "successor",
        })
    }
}

/// Everything that can go wrong building a tree, making a proof or checking
/// one. Each verification failure names the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "leaf {index} of the {tree} tree does not come strictly after the previous one (unsorted or duplicate key)"
    )]
    NotStrictlyIncreasing { tree: TreeKind, index: u64 },
    #[error("malformed leaf: {0}")]
    BadLeaf(String),
    #[error("leaf index {index} is outside a tree of {tree_size} leaves")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error(
        "audit path has {actual} hashes; leaf {index} of a {tree_size}-leaf tree needs {expected}"
    )]
    PathLength {
        index: u64,
        tree_size: u64,
        expected: usize,
        actual: usize,
    },
    #[error("the root computed from the proof is not the trusted root")]
    RootMismatch,
    #[error("proof is for a tree of {proof} leaves, the trusted tree head has {trusted}")]
    TreeSizeMismatch { proof: u64, trusted: u64 },
    #[error("the key is in the {tree} tree (leaf {index}): it has no non-inclusion proof")]
    KeyPresent { tree: TreeKind, index: u64 },
    #[error("the key is not in the {tree} tree")]
    KeyAbsent { tree: TreeKind },
    #[error("{side}: {source}")]
    Neighbor {
        side: Side,
        #[source]
        source: Box<LedgerError>,
    },
    #[error("the predecessor's key is not below the absent key")]
    PredecessorNotBelow,
    #[error("the successor's key is not above the absent key")]
    SuccessorNotAbove,
    #[error("neighbors are leaves {predecessor} and {successor}, not adjacent")]
    NotAdjacent { predecessor: u64, successor: u64 },
    #[error("no predecessor, but the successor is leaf {successor}, not leaf 0")]
    MissingPredecessor { successor: u64 },
    #[error(
        "no successor, but the predecessor is leaf {predecessor}, not the last leaf of {tree_size}"
    )]
    MissingSuccessor { predecessor: u64, tree_size: u64 },
    #[error("no neighbor given, but the tree has {tree_size} leaves")]
    MissingNeighbors { tree_size: u64 },
    #[error("bad key: {0}")]
    BadKey(String),
    #[error("manifest is signed by key {actual}, not by the trusted key {trusted}")]
    KeyMismatch { trusted: String, actual: String },
    #[error("manifest signature does not verify")]
    BadSignature,
    #[error("malformed manifest: {0}")]
    BadManifest(String),
    #[error("malformed wire document: {0}")]
    Wire(String),
    /// A partitioned proof or manifest that does not hold; says which check.
    #[error("{0}")]
    Partitioned(String),
    #[error("proof is for the {actual} tree, expected the {expected} tree")]
    WrongTree {
        expected: TreeKind,
        actual: TreeKind,
    },
}

impl provindex_errors::ErrorExt for LedgerError {
    fn status_code(&self) -> provindex_errors::StatusCode {
        use provindex_errors::StatusCode;
        match self {
            // The index fed the builder out of order: a broken invariant.
            LedgerError::NotStrictlyIncreasing { .. } => StatusCode::Internal,
            LedgerError::KeyAbsent { .. } => StatusCode::NotFound,
            LedgerError::KeyPresent { .. } => StatusCode::FailedPrecondition,
            // Everything else is a proof, key or document someone handed us.
            LedgerError::BadLeaf(_)
            | LedgerError::IndexOutOfRange { .. }
            | LedgerError::PathLength { .. }
            | LedgerError::RootMismatch
            | LedgerError::TreeSizeMismatch { .. }
            | LedgerError::Neighbor { .. }
            | LedgerError::PredecessorNotBelow
            | LedgerError::SuccessorNotAbove
            | LedgerError::NotAdjacent { .. }
            | LedgerError::MissingPredecessor { .. }
            | LedgerError::MissingSuccessor { .. }
            | LedgerError::MissingNeighbors { .. }
            | LedgerError::BadKey(_)
            | LedgerError::KeyMismatch { .. }
            | LedgerError::BadSignature
            | LedgerError::BadManifest(_)
            | LedgerError::Wire(_)
            | LedgerError::Partitioned(_)
            | LedgerError::WrongTree { .. } => StatusCode::InvalidArgument,
        }
    }
}

pub type Result<T> = std::result::Result<T, LedgerError>;
