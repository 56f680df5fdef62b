//! Exact content identity: `content_id` (xxh3-128) and SHA-256 of the
//! normalized text.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Identity of a content (a training sample): xxh3-128 of the UTF-8 bytes of
/// the normalized text. Text form: 32 lowercase hex digits, most significant
/// first; byte form: 16 bytes big-endian (so byte order = numeric order).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ContentId(pub u128);

/// Why a string is not a [`ContentId`] in hex form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseIdError {
    /// The string is not exactly 32 bytes long.
    WrongLength {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The character starting at byte `index` is not a hex digit.
    InvalidChar {
        /// Byte offset of the offending character.
        index: usize,
        /// The offending character.
        ch: char,
    },
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { len } => {
                write!(f, "content id must be 32 hex digits, got {len} bytes")
            }
            Self::InvalidChar { index, ch } => {
                write!(f, "content id: invalid hex digit {ch:?} at byte {index}")
            }
        }
    }
}

impl std::error::Error for ParseIdError {}

impl ContentId {
    /// Length of the hex form.
    pub const HEX_LEN: usize = 32;

    /// 32 lowercase hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        format!("{:032x}", self.0)
    }

    /// Parses exactly 32 hex digits (upper- or lowercase; [`Self::to_hex`]
    /// always writes lowercase). No prefix, sign or whitespace is accepted.
    pub fn from_hex(s: &str) -> Result<Self, ParseIdError> {
        if s.len() != Self::HEX_LEN {
            return Err(ParseIdError::WrongLength { len: s.len() });
        }
        let mut v: u128 = 0;
        for (index, ch) in s.char_indices() {
            let d = ch
                .to_digit(16)
                .ok_or(ParseIdError::InvalidChar { index, ch })?;
            v = (v << 4) | u128::from(d);
        }
        Ok(Self(v))
    }

    /// 16 bytes, big-endian.
    #[must_use]
    pub fn to_be_bytes(&self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Inverse of [`Self::to_be_bytes`].
    #[must_use]
    pub fn from_be_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({:032x})", self.0)
    }
}

impl FromStr for ContentId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

/// `content_id` of a normalized text: xxh3-128 of its UTF-8 bytes.
#[must_use]
pub fn content_id(normalized: &str) -> ContentId {
    ContentId(xxhash_rust::xxh3::xxh3_128(normalized.as_bytes()))
}

/// SHA-256 of the UTF-8 bytes of a normalized text (evidence-grade digest).
#[must_use]
pub fn sha256(normalized: &str) -> [u8; 32] {
    Sha256::digest(normalized.as_bytes()).into()
}
