//! `--index` as an object-store URI (issue 17): `provindex serve --index
//! s3://bucket/idx` (and `info`) fetch the publication into a local cache
//! and verify it before opening; a local path is used as it is.
//!
//! Cache layout (`--cache-dir`, default [`default_cache_dir`]):
//! `<cache>/<digest>/publication.json`, `<cache>/<digest>/partitions/p0000/…`
//! (the RocksDB directory opened), `<cache>/<digest>/VERIFIED`; the default
//! opt-out registry of a fetched index is `<cache>/<digest>.registry`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use provindex_corpus::store::CorpusStore;
use provindex_index::Manifest;
use provindex_pipeline::publish::{self, FetchedIndex};

/// Where a fetched index is cached unless `--cache-dir` says otherwise:
/// `$XDG_CACHE_HOME/provindex/indexes`, else `$HOME/.cache/provindex/indexes`,
/// else `<temp>/provindex-cache/indexes`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("provindex-cache"));
    base.join("provindex").join("indexes")
}

/// An index ready to open.
pub struct LocalIndex {
    /// The RocksDB directory to open.
    pub dir: PathBuf,
    /// What the default registry path is derived from (`INDEX.registry`).
    pub registry_base: PathBuf,
    /// Set when the index was fetched from a publication.
    pub fetched: Option<FetchedIndex>,
}

impl LocalIndex {
    /// Refuses an opened index whose digest is not the publication's.
    pub fn check(&self, manifest: &Manifest) -> anyhow::Result<()> {
        if let Some(fetched) = &self.fetched {
            publish::check_digest(fetched, manifest)?;
        }
        Ok(())
    }
}

/// A local path as it is; an object-store URI fetched (or a verified cache
/// reused) into `cache_dir`.
pub fn resolve(index: &Path, cache_dir: Option<&Path>) -> anyhow::Result<LocalIndex> {
    let Some(uri) = index.to_str().filter(|i| publish::is_remote(i)) else {
        return Ok(LocalIndex {
            dir: index.to_path_buf(),
            registry_base: index.to_path_buf(),
            fetched: None,
        });
    };
    let cache = cache_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(default_cache_dir);
    let store = CorpusStore::new().context("starting the object-store client")?;
    let fetched = publish::fetch(&store, uri, &cache).with_context(|| {
        format!(
            "fetching the published index {uri} into {}; refusing to serve it",
            cache.display()
        )
    })?;
    let partitions = &fetched.publication.partitions;
    anyhow::ensure!(
        partitions.len() == 1,
        "{uri}: {} partitions; this server serves single-partition indexes only",
        partitions.len()
    );
    tracing::info!(
        index = uri,
        cache = %fetched.dir.display(),
        reused = fetched.reused,
        bytes = partitions[0].bytes,
        "published index verified"
    );
    let dir = fetched.partition_dir(&partitions[0].id);
    Ok(LocalIndex {
        dir,
        registry_base: fetched.dir.clone(),
        fetched: Some(fetched),
    })
}
