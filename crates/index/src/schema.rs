//! Column families of the index and their RocksDB options.
//!
//! Keys are big-endian so that byte order is numeric order; see [`crate::keys`].

use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, Options};

/// capture_id (16) → [`crate::records::CaptureRecord`].
pub const CAPTURES: &str = "captures";
/// content_id (16) → [`crate::records::ContentRecord`].
pub const CONTENTS: &str = "contents";
/// content_id (16) ‖ capture_id (16) → capture time (8, sign-flipped big-endian).
pub const CONTENT_CAPTURES: &str = "content_captures";
/// SURT ‖ 0x00 ‖ capture time (8) ‖ capture_id (16) → empty.
pub const URLS: &str = "urls";
/// SHA-256 (32) of the normalized text → content_id (16). Not in DESIGN.md's list:
/// it serves `LookupContent` by SHA-256 without a scan.
pub const CONTENT_SHA256: &str = "content_sha256";
/// content_id (16) → MinHash signature (K × u32 big-endian, see the manifest's
/// `sketch_spec`). Contents with empty normalized text have none.
pub const SIGNATURES: &str = "signatures";
/// band (2, u16) ‖ band key (8, u64) ‖ content_id (16) → empty: the LSH buckets
/// FindWork probes; see [`crate::keys::lsh_key`].
pub const LSH: &str = "lsh";
/// cluster_id (16) ‖ content_id (16) → empty: the members of each
/// near-duplicate cluster with more than one content (a content alone is its
/// own cluster and has no row). cluster_id = the smallest content_id of the cluster.
pub const CLUSTERS: &str = "clusters";
/// Manifest and build facts, keyed by name.
pub const META: &str = "meta";

/// Every column family, in a fixed order (the digest walks them in this order).
pub const ALL: [&str; 9] = [
    CAPTURES,
    CONTENTS,
    CONTENT_CAPTURES,
    URLS,
    CONTENT_SHA256,
    SIGNATURES,
    LSH,
    CLUSTERS,
    META,
];

/// Key in [`META`] under which the JSON manifest is stored.
pub const MANIFEST_KEY: &[u8] = b"manifest";

pub(crate) fn db_options() -> Options {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_max_open_files(512);
    options
}

pub(crate) fn column_families(block_cache: &Cache) -> Vec<ColumnFamilyDescriptor> {
    ALL.iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, block_cache)))
        .collect()
}

pub(crate) fn cf_options(name: &str, block_cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(block_cache);
    // Point lookups dominate every table but `urls`, `content_captures` and `lsh`,
    // which are scanned by prefix; a whole-key Bloom filter still helps their seeks
    // little, so they go without.
    if !matches!(name, URLS | CONTENT_CAPTURES | LSH | CLUSTERS) {
        table.set_bloom_filter(10.0, false);
    }
    table.set_cache_index_and_filter_blocks(true);
    let mut options = Options::default();
    options.set_block_based_table_factory(&table);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    options
}
