//! Schemas and their codecs.

/// One column family: its name, key type and value type.
pub trait Schema: Sized + 'static {
    const COLUMN_FAMILY: &'static str;
    type Key: KeyCodec<Self>;
    type Value: ValueCodec<Self>;
}

/// How the keys of schema `S` are laid out. Byte order of the encoding is
/// the table's iteration order.
pub trait KeyCodec<S: Schema>: Sized {
    fn encode_key(&self) -> Vec<u8>;
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// How the values of schema `S` are stored.
pub trait ValueCodec<S: Schema>: Sized {
    fn encode_value(&self) -> Vec<u8>;
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// Stored bytes that are not a valid key or value of their schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

impl CodecError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// `what` was `got` bytes long where `expected` were required.
    pub fn length(what: &str, got: usize, expected: usize) -> Self {
        Self(format!("{what} of {got} bytes, expected {expected}"))
    }
}
