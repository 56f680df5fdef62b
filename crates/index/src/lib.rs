//! The provenance index: a RocksDB database with one column family per table of
//! DESIGN.md, typed key codecs ([`keys`]), evolvable protobuf-encoded values
//! ([`records`]), a single-writer builder ([`IndexBuilder`]) and read-only
//! queries ([`IndexReader`]).
//!
//! This is the only crate in the workspace that links RocksDB.

mod builder;
mod bulk;
mod error;
pub mod keys;
mod manifest;
mod reader;
pub mod records;
pub mod registry;
pub mod schema;

pub use builder::{BuildFacts, BuildSummary, CaptureUpdates, IndexBuilder, NewContent};
pub use error::IndexError;
pub use manifest::{FORMAT_VERSION, Manifest};
pub use reader::{IndexReader, UrlHit, UrlScan, UrlScanPage};
pub use registry::{OptOutEntry, Registry};
