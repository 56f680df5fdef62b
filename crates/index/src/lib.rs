//! The provenance index: one table per column family of DESIGN.md, each a
//! typed schema on `provindex-store` ([`schema`]: key codecs over [`keys`],
//! evolvable protobuf values in [`records`]), a single-writer builder
//! ([`IndexBuilder`]), read-only queries ([`IndexReader`]) and the opt-out
//! [`registry`].

mod builder;
mod error;
pub mod ids;
pub mod keys;
mod manifest;
pub mod partition;
mod partitioned;
mod reader;
pub mod records;
pub mod registry;
mod registry_tables;
pub mod schema;

pub use builder::{BuildFacts, BuildSummary, IndexBuilder, NewContent};
pub use error::IndexError;
pub use manifest::{FORMAT_VERSION, InputWarcinfo, Manifest};
pub use partitioned::{IndexParts, PartitionedIndex};
pub use provindex_store::StoreStats;
pub use reader::{
    IndexReader, TableSize, UrlHit, UrlScan, UrlScanPage, chunk_digests, digest_of_chunks,
};
pub use registry::{OptOutEntry, Registry};
