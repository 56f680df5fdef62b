//! Typed RocksDB storage in the style of aptos-core's `schemadb`.
//!
//! A [`Schema`] binds one column family to a key type and a value type, each
//! with its codec ([`KeyCodec`], [`ValueCodec`]); [`define_schema!`] declares
//! one. [`Store`] reads and writes through schemas only (`get::<S>`,
//! `put::<S>`, [`SchemaBatch`], [`SchemaIterator`]), so a table cannot be
//! written with another table's key or value type and every stored value is
//! decoded by its own codec, which reports malformed bytes instead of
//! panicking. [`SortedTable`] builds a table as one SST file from an external
//! sort and ingests it (checksummed blocks, verified on ingestion).
//! [`test_schema_codecs!`] gives a schema its round-trip and
//! decode-never-panics property tests.
//!
//! This is the only crate in the workspace that links RocksDB.

mod codec;
mod db;
mod error;
mod sorted;

pub use codec::{CodecError, KeyCodec, Schema, ValueCodec};
pub use db::{
    ColumnFamilySpec, Durability, OpenMode, Row, SchemaBatch, SchemaIterator, Store, StoreStats,
};
pub use error::StoreError;
pub use sorted::{SortedTable, SstSink, write_sst};

/// Declares a [`Schema`]: a unit struct naming column family `$cf` with key
/// type `$key` and value type `$value` (each needs a codec for it).
#[macro_export]
macro_rules! define_schema {
    ($(#[$meta:meta])* $schema:ident, $key:ty, $value:ty, $cf:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $schema;

        impl $crate::Schema for $schema {
            const COLUMN_FAMILY: &'static str = $cf;
            type Key = $key;
            type Value = $value;
        }
    };
}

/// Property tests of one schema's codecs: every key and value drawn from the
/// given proptest strategies decodes to itself, and decoding arbitrary bytes
/// as a key or a value returns (an error or a value) without panicking. The
/// calling crate needs `proptest` among its dev-dependencies.
#[macro_export]
macro_rules! test_schema_codecs {
    ($module:ident, $schema:ty, $keys:expr, $values:expr) => {
        #[cfg(test)]
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            use $crate::{KeyCodec as _, ValueCodec as _};
            use ::proptest::prelude::*;

            type Key = <$schema as $crate::Schema>::Key;
            type Value = <$schema as $crate::Schema>::Value;

            ::proptest::proptest! {
                #[test]
                fn keys_round_trip(key in $keys) {
                    let bytes = <Key as $crate::KeyCodec<$schema>>::encode_key(&key);
                    let decoded = <Key as $crate::KeyCodec<$schema>>::decode_key(&bytes);
                    prop_assert_eq!(decoded.ok(), Some(key));
                }

                #[test]
                fn values_round_trip(value in $values) {
                    let bytes = <Value as $crate::ValueCodec<$schema>>::encode_value(&value);
                    let decoded = <Value as $crate::ValueCodec<$schema>>::decode_value(&bytes);
                    prop_assert_eq!(decoded.ok(), Some(value));
                }

                #[test]
                fn decoding_never_panics(bytes in ::proptest::collection::vec(any::<u8>(), 0..300)) {
                    let _ = <Key as $crate::KeyCodec<$schema>>::decode_key(&bytes);
                    let _ = <Value as $crate::ValueCodec<$schema>>::decode_value(&bytes);
                }
            }
        }
    };
}
