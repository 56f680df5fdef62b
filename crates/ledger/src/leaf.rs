//! Leaf encodings of the two trees (format in the crate doc).

use crate::{LedgerError, Result};

/// First byte of every leaf; bumped when a leaf's layout changes.
pub const LEAF_FORMAT_VERSION: u8 = 1;

/// Length of an encoded [`ShaLeaf`].
pub const SHA_LEAF_LEN: usize = 1 + 32 + 16;

/// Fixed-size head of an encoded [`LeafFacts`] (before the language bytes).
const FACTS_HEAD_LEN: usize = 1 + 16 + 32 + 8 + 16 + 1 + 1 + 4;

/// The opt-out verdict a content had when the index was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptOutAtBuild {
    Unknown = 0,
    NotReserved = 1,
    Reserved = 2,
}

impl OptOutAtBuild {
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(OptOutAtBuild::Unknown),
            1 => Some(OptOutAtBuild::NotReserved),
            2 => Some(OptOutAtBuild::Reserved),
            _ => None,
        }
    }
}

/// What a regulator relies on about one content: the leaf of the content tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeafFacts {
    /// xxh3-128 of the normalized text (`provindex_sketch::ContentId.0`).
    pub content_id: u128,
    /// SHA-256 of the same normalized text.
    pub sha256: [u8; 32],
    pub capture_count: u64,
    pub cluster_id: u128,
    /// Whether the content is its near-duplicate cluster's keeper.
    pub keeper: bool,
    pub opt_out: OptOutAtBuild,
    /// Detected language code; empty when unknown.
    pub language: String,
}

impl LeafFacts {
    /// The canonical leaf bytes (layout in the crate doc).
    pub fn encode(&self) -> Vec<u8> {
        let language = self.language.as_bytes();
        let mut out = Vec::with_capacity(FACTS_HEAD_LEN + language.len());
        out.push(LEAF_FORMAT_VERSION);
        out.extend_from_slice(&self.content_id.to_be_bytes());
        out.extend_from_slice(&self.sha256);
        out.extend_from_slice(&self.capture_count.to_be_bytes());
        out.extend_from_slice(&self.cluster_id.to_be_bytes());
        out.push(u8::from(self.keeper));
        out.push(self.opt_out as u8);
        // A language tag is a few bytes; longer would be a caller bug.
        let len = u32::try_from(language.len()).expect("language shorter than 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(language);
        out
    }

    /// Parses [`LeafFacts::encode`]'s bytes, rejecting anything that is not
    /// exactly one canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |reason: &str| LedgerError::BadLeaf(reason.to_owned());
        if bytes.len() < FACTS_HEAD_LEN {
            return Err(bad("content leaf shorter than its fixed fields"));
        }
        if bytes[0] != LEAF_FORMAT_VERSION {
            return Err(LedgerError::BadLeaf(format!(
                "unknown leaf format version {}",
                bytes[0]
            )));
        }
        let mut at = 1;
        let mut take = |n: usize| {
            let field = &bytes[at..at + n];
            at += n;
            field
        };
        let content_id = u128::from_be_bytes(take(16).try_into().expect("16 bytes"));
        let sha256: [u8; 32] = take(32).try_into().expect("32 bytes");
        let capture_count = u64::from_be_bytes(take(8).try_into().expect("8 bytes"));
        let cluster_id = u128::from_be_bytes(take(16).try_into().expect("16 bytes"));
        let keeper = match take(1)[0] {
            0 => false,
            1 => true,
            _ => return Err(bad("keeper flag is neither 0 nor 1")),
        };
        let opt_out =
            OptOutAtBuild::from_byte(take(1)[0]).ok_or_else(|| bad("unknown opt-out verdict"))?;
        let len = u32::from_be_bytes(take(4).try_into().expect("4 bytes")) as usize;
        let rest = &bytes[FACTS_HEAD_LEN..];
        if rest.len() != len {
            return Err(LedgerError::BadLeaf(format!(
                "language length says {len} bytes, {} follow",
                rest.len()
            )));
        }
        let language = std::str::from_utf8(rest)
            .map_err(|_| bad("language is not UTF-8"))?
            .to_owned();
        Ok(LeafFacts {
            content_id,
            sha256,
            capture_count,
            cluster_id,
            keeper,
            opt_out,
            language,
        })
    }

    /// The matching leaf of the SHA-256 tree.
    pub fn sha_leaf(&self) -> ShaLeaf {
        ShaLeaf {
            sha256: self.sha256,
            content_id: self.content_id,
        }
    }
}

/// A leaf of the SHA-256 tree: a content's SHA-256 and its content_id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShaLeaf {
    pub sha256: [u8; 32],
    pub content_id: u128,
}

impl ShaLeaf {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SHA_LEAF_LEN);
        out.push(LEAF_FORMAT_VERSION);
        out.extend_from_slice(&self.sha256);
        out.extend_from_slice(&self.content_id.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != SHA_LEAF_LEN {
            return Err(LedgerError::BadLeaf(format!(
                "sha256 leaf is {} bytes, not {SHA_LEAF_LEN}",
                bytes.len()
            )));
        }
        if bytes[0] != LEAF_FORMAT_VERSION {
            return Err(LedgerError::BadLeaf(format!(
                "unknown leaf format version {}",
                bytes[0]
            )));
        }
        Ok(ShaLeaf {
            sha256: bytes[1..33].try_into().expect("32 bytes"),
            content_id: u128::from_be_bytes(bytes[33..].try_into().expect("16 bytes")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> LeafFacts {
        LeafFacts {
            content_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            sha256: [0xab; 32],
            capture_count: 3,
            cluster_id: 7,
            keeper: true,
            opt_out: OptOutAtBuild::Reserved,
            language: "zho".to_owned(),
        }
    }

    #[test]
    fn facts_layout_is_the_documented_one() {
        let bytes = facts().encode();
        let mut expected = vec![1u8];
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        expected.extend_from_slice(&[0xab; 32]);
        expected.extend_from_slice(&3u64.to_be_bytes());
        expected.extend_from_slice(&7u128.to_be_bytes());
        expected.extend_from_slice(&[1, 2, 0, 0, 0, 3]);
        expected.extend_from_slice(b"zho");
        assert_eq!(bytes, expected);
        assert_eq!(LeafFacts::decode(&bytes).unwrap(), facts());
    }

    #[test]
    fn facts_decode_rejects_non_canonical_bytes() {
        let bytes = facts().encode();
        for cut in 0..bytes.len() {
            assert!(LeafFacts::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(b'x');
        assert!(LeafFacts::decode(&longer).is_err());
        for (at, value) in [(0, 2u8), (73, 2), (74, 3)] {
            let mut bad = bytes.clone();
            bad[at] = value;
            assert!(LeafFacts::decode(&bad).is_err(), "byte {at}");
        }
        let mut not_utf8 = bytes;
        let last = not_utf8.len() - 1;
        not_utf8[last] = 0xff;
        assert!(LeafFacts::decode(&not_utf8).is_err());
    }

    #[test]
    fn sha_leaf_round_trips() {
        let leaf = facts().sha_leaf();
        let bytes = leaf.encode();
        assert_eq!(bytes.len(), SHA_LEAF_LEN);
        assert_eq!(ShaLeaf::decode(&bytes).unwrap(), leaf);
        assert!(ShaLeaf::decode(&bytes[1..]).is_err());
        let mut bad = bytes;
        bad[0] = 0;
        assert!(ShaLeaf::decode(&bad).is_err());
    }
}
