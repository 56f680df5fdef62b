//! Index metrics of `serve`, read when scraped: the manifest's counts and
//! RocksDB's block cache and SST sizes ([`IndexReader::store_stats`]).

use std::sync::Arc;

use provindex_index::IndexReader;

use super::{Metrics, Reading};

/// Reports `readers` (by their `partition` label: the partition number, `0`
/// for an unpartitioned index) on every scrape.
pub fn watch_index(metrics: &Metrics, readers: Vec<(u32, Arc<IndexReader>)>) {
    metrics.watch(move || {
        let mut captures = Reading::gauge("provindex_index_captures", "Captures in the index");
        let mut contents =
            Reading::gauge("provindex_index_contents", "Distinct contents in the index");
        let mut urls = Reading::gauge("provindex_index_urls", "Distinct URLs in the index");
        let mut usage = Reading::gauge(
            "provindex_index_block_cache_usage_bytes",
            "RocksDB block cache: bytes held (rocksdb.block-cache-usage)",
        );
        let mut pinned = Reading::gauge(
            "provindex_index_block_cache_pinned_bytes",
            "RocksDB block cache: bytes pinned by readers (rocksdb.block-cache-pinned-usage)",
        );
        let mut capacity = Reading::gauge(
            "provindex_index_block_cache_capacity_bytes",
            "RocksDB block cache: capacity (rocksdb.block-cache-capacity)",
        );
        let mut sst = Reading::gauge(
            "provindex_index_sst_bytes",
            "Live SST file bytes per table (rocksdb.live-sst-files-size)",
        );
        for (partition, reader) in &readers {
            let partition = || vec![("partition", partition.to_string())];
            let m = reader.manifest();
            captures = captures.with(partition(), m.captures);
            contents = contents.with(partition(), m.contents);
            urls = urls.with(partition(), m.urls);
            match reader.store_stats() {
                Ok(stats) => {
                    usage = usage.with(partition(), stats.block_cache_usage);
                    pinned = pinned.with(partition(), stats.block_cache_pinned_usage);
                    capacity = capacity.with(partition(), stats.block_cache_capacity);
                    for (table, bytes) in stats.sst_bytes {
                        let mut labels = partition();
                        labels.push(("table", table.to_owned()));
                        sst = sst.with(labels, bytes);
                    }
                }
                // Left out of this scrape, not reported as zero.
                Err(error) => tracing::warn!(%error, path = %reader.path().display(), "reading RocksDB properties"),
            }
        }
        vec![captures, contents, urls, usage, pinned, capacity, sst]
    });
}
