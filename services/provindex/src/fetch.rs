//! `--index` as an object-store URI (issue 17): `provindex serve --index
//! s3://bucket/idx` (and `info`) fetch the publication into a local cache
//! and verify it before opening; a local path is used as it is.
//!
//! Cache layout (`--cache-dir`, default [`default_cache_dir`]):
//! `<cache>/<digest>/publication.json`, `<cache>/<digest>/partitions/p0000/…`
//! (the RocksDB directory opened), `<cache>/<digest>/VERIFIED`; the default
//! opt-out registry of a fetched index is `<cache>/<digest>.registry`. A
//! server of some partitions fetches only those, each marked verified by
//! `<cache>/<digest>/partitions/<id>.VERIFIED`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use provindex_corpus::store::CorpusStore;
use provindex_index::{IndexReader, Manifest, PartitionedIndex};
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

/// The publication of `index` (a local directory holding `publication.json`,
/// or an object-store URI), read without fetching any partition; `None`
/// for a plain local index directory.
pub fn publication_of(index: &Path) -> anyhow::Result<Option<publish::Publication>> {
    let text = index.to_string_lossy();
    if !publish::is_remote(&text) && !index.join(publish::PUBLICATION_FILE).is_file() {
        return Ok(None);
    }
    let store = CorpusStore::new().context("starting the object-store client")?;
    let found = publish::read_publication(&store, &text)
        .with_context(|| format!("reading the publication of {text}"))?;
    Ok(found.map(|(publication, _)| publication))
}

/// Partitions of a published index, ready to open.
pub struct LocalPartitions {
    pub publication: publish::Publication,
    /// Partition number and its RocksDB directory, ascending.
    pub partitions: Vec<(u32, PathBuf)>,
    /// The publication's own directory (local, or its verified cache):
    /// where a signed publication's `ledger.json` and `ledger/` are.
    pub publication_dir: PathBuf,
}

/// The partition number of a publication's partition id (`p0003` → 3).
pub fn partition_number(id: &str) -> Option<u32> {
    id.strip_prefix('p')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
}

/// The partitions `wanted` (all when `None`) of the published index at
/// `index`: a local directory's `partitions/<id>/` as they are, or, from a
/// remote publication, only those partitions fetched and verified into
/// `cache_dir` (`publish::fetch_partitions`: a partition not served is
/// neither downloaded nor checked). Refuses a wanted partition the
/// publication does not list before anything is downloaded.
pub fn resolve_partitions(
    index: &Path,
    cache_dir: Option<&Path>,
    wanted: Option<&[u32]>,
) -> anyhow::Result<LocalPartitions> {
    let text = index.to_string_lossy().into_owned();
    let remote = publish::is_remote(&text);
    let store = match remote {
        true => Some(CorpusStore::new().context("starting the object-store client")?),
        false => None,
    };
    let publication = match &store {
        Some(store) => publish::read_publication(store, &text)
            .with_context(|| format!("reading the publication of {text}"))?
            .map(|(publication, _)| publication),
        None => publication_of(index)?,
    }
    .with_context(|| {
        format!(
            "{text} holds no {}: --partitions needs a published index",
            publish::PUBLICATION_FILE
        )
    })?;
    let mut listed = Vec::new();
    for partition in &publication.partitions {
        let number = partition_number(&partition.id).with_context(|| {
            format!(
                "{text}: partition id {:?} is not p followed by its number",
                partition.id
            )
        })?;
        listed.push((number, partition.id.clone()));
    }
    listed.sort();
    if let Some(wanted) = wanted {
        let missing: Vec<String> = wanted
            .iter()
            .filter(|p| !listed.iter().any(|(n, _)| n == *p))
            .map(u32::to_string)
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "{text} lists partitions {}; --partitions names {}",
            listed
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            missing.join(", ")
        );
        listed.retain(|(n, _)| wanted.contains(n));
    }
    if store.is_none() {
        check_local_files(index, &publication, &listed)?;
    }
    let (publication, base) = match &store {
        Some(store) => {
            let cache = cache_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(default_cache_dir);
            let ids: Vec<String> = listed.iter().map(|(_, id)| id.clone()).collect();
            let fetched = publish::fetch_partitions(store, &text, &ids, &cache).with_context(|| {
                format!(
                    "fetching partitions {} of the published index {text} into {}; refusing to serve them",
                    ids.join(", "),
                    cache.display()
                )
            })?;
            tracing::info!(index = text, cache = %fetched.dir.display(), partitions = %ids.join(","), reused = fetched.reused, "published partitions verified");
            fetch_ledger(store, &text, &fetched.dir, &ids)?;
            (fetched.publication, fetched.dir)
        }
        None => (publication, index.to_path_buf()),
    };
    // A local publication's partition may lie in an earlier publication
    // (an incremental build's base it shares the partition with).
    let dir_of = |id: &str| {
        let located = store
            .is_none()
            .then(|| publication.partitions.iter().find(|p| p.id == id))
            .flatten()
            .and_then(|p| p.location.as_deref());
        located
            .map_or(base.as_path(), Path::new)
            .join("partitions")
            .join(id)
    };
    Ok(LocalPartitions {
        partitions: listed.into_iter().map(|(n, id)| (n, dir_of(&id))).collect(),
        publication,
        publication_dir: base,
    })
}

/// Copies a signed publication's ledger (`ledger.json` and the served
/// partitions' `ledger/<id>.json`) into its cache, when it has one. No
/// checksum is needed: the server checks their signatures and their trees
/// against the partitions' data before serving them, and a client trusts
/// only the operator's key.
fn fetch_ledger(
    store: &CorpusStore,
    uri: &str,
    cache: &Path,
    ids: &[String],
) -> anyhow::Result<()> {
    let publication = provindex_pipeline::ledger::publication_ledger_uri(uri);
    if !store.exists(&publication)? {
        return Ok(());
    }
    let mut files = vec![(publication, cache.join("ledger.json"))];
    for id in ids {
        files.push((
            provindex_pipeline::ledger::partition_ledger_uri(uri, id),
            cache.join("ledger").join(format!("{id}.json")),
        ));
    }
    for (from, to) in files {
        let bytes = store
            .get_bytes(&from)
            .with_context(|| format!("reading the ledger file {from}"))?;
        let dir = to.parent().expect("a file in the cache");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // Written aside and renamed: servers sharing the cache never read half a file.
        let tmp = dir.join(format!(
            ".{}.{}",
            to.file_name().and_then(|n| n.to_str()).unwrap_or("ledger"),
            std::process::id()
        ));
        std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &to).with_context(|| format!("renaming to {}", to.display()))?;
    }
    Ok(())
}

/// Refuses, before anything opens them, a local publication whose listed
/// partitions lack a file or hold one of another size (the check a fetch
/// makes of the object store's listing, `publish::check_listed_sizes`).
fn check_local_files(
    index: &Path,
    publication: &publish::Publication,
    listed: &[(u32, String)],
) -> anyhow::Result<()> {
    // The check compares absolute paths, as the local listing gives them.
    let absolute = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let base = absolute(index).to_string_lossy().into_owned();
    let partitions: Vec<publish::Partition> = publication
        .partitions
        .iter()
        .filter(|p| listed.iter().any(|(_, id)| *id == p.id))
        .map(|p| publish::Partition {
            location: p
                .location
                .as_deref()
                .map(|l| absolute(Path::new(l)).to_string_lossy().into_owned()),
            ..p.clone()
        })
        .collect();
    let store = CorpusStore::new().context("starting the object-store client")?;
    publish::check_listed_sizes(&store, &base, &partitions.iter().collect::<Vec<_>>())
        .with_context(|| format!("{}: refusing the publication", index.display()))?;
    Ok(())
}

/// The whole index at `index`, for a walk over all of it (export, report,
/// compensation, the AI Act summary): an index directory as it is; a
/// publication (a local directory holding `publication.json`, or an
/// object-store URI fetched and verified into `cache_dir`) as every
/// partition it lists ([`resolve_partitions`]), opened as one index whose
/// digest must be the publication's (`PartitionedIndex`).
pub fn open_whole(index: &Path, cache_dir: Option<&Path>) -> anyhow::Result<PartitionedIndex> {
    Ok(open_described(index, cache_dir)?.0)
}

/// [`open_whole`], with the publication it was opened from (`None` for an
/// index directory).
pub fn open_described(
    index: &Path,
    cache_dir: Option<&Path>,
) -> anyhow::Result<(PartitionedIndex, Option<publish::Publication>)> {
    let text = index.to_string_lossy();
    if publication_of(index)?.is_none() {
        check_unpublished(index)?;
        let reader = IndexReader::open(index)
            .with_context(|| format!("opening index {}", index.display()))?;
        return Ok((PartitionedIndex::whole(reader), None));
    }
    let local = resolve_partitions(index, cache_dir, None)?;
    let dirs: Vec<PathBuf> = local.partitions.into_iter().map(|(_, dir)| dir).collect();
    let whole = PartitionedIndex::open(index, &dirs, Some(&local.publication.index.digest))
        .with_context(|| format!("opening the partitions of {text}"))?;
    Ok((whole, Some(local.publication)))
}

/// Refuses an `index` without a publication unless it is a local index
/// directory: an object-store URI must be published.
fn check_unpublished(index: &Path) -> anyhow::Result<()> {
    let text = index.to_string_lossy();
    anyhow::ensure!(
        !publish::is_remote(&text),
        "{text} holds no {} (not published, or still being published)",
        publish::PUBLICATION_FILE
    );
    check_local_index(index)
}

/// Refuses a local path that is neither a publication nor an index
/// directory, saying what was looked for: `publication.json` (a published
/// index) or `CURRENT` (the RocksDB database `IndexReader` opens).
fn check_local_index(index: &Path) -> anyhow::Result<()> {
    let path = index.display();
    let publication = publish::PUBLICATION_FILE;
    anyhow::ensure!(
        index.is_dir(),
        "{path}: no such directory (an index is a directory holding {publication} or an index database)"
    );
    if index.join("CURRENT").is_file() {
        return Ok(());
    }
    // Partitions without their manifest: a publication not (yet) written
    // whole; `publication.json` is written last.
    anyhow::ensure!(
        !index.join("partitions").is_dir(),
        "{path}: holds partitions/ but no {publication}: a publication still being written, or one whose build stopped before publishing"
    );
    anyhow::bail!(
        "{path}: not an index: found neither {publication} (a published index) nor CURRENT (an index database)"
    )
}

/// The whole index at `index` as one database, for a server answering from
/// all of it (the registry service): an index directory as it is; a
/// publication's one partition as [`resolve_partitions`] gives it; every
/// partition of a partitioned publication fetched and verified, then
/// assembled (`PartitionedIndex::assemble`, checked against the
/// publication's digest) into `<cache>/<digest>.whole`, which later starts
/// reuse without fetching. The fetched partitions of a remote publication
/// are removed once assembled: the assembled index is the copy kept.
/// Opened with a block cache of `block_cache_bytes`.
pub fn open_one_database(
    index: &Path,
    cache_dir: Option<&Path>,
    block_cache_bytes: usize,
) -> anyhow::Result<IndexReader> {
    let text = index.to_string_lossy().into_owned();
    let open = |dir: &Path| {
        IndexReader::open_with_cache(dir, block_cache_bytes)
            .with_context(|| format!("opening index {}", dir.display()))
    };
    let Some(publication) = publication_of(index)? else {
        check_unpublished(index)?;
        return open(index);
    };
    let digest = publication.index.digest.clone();
    let check = |reader: IndexReader| {
        anyhow::ensure!(
            reader.manifest().digest == digest,
            "{}: index digest {}, but the publication {text} says {digest}; refusing it",
            reader.path().display(),
            reader.manifest().digest
        );
        Ok(reader)
    };
    let cache = cache_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(default_cache_dir);
    let out = cache.join(format!("{digest}.whole"));
    if publication.partitions.len() > 1 && out.join("CURRENT").is_file() {
        tracing::info!(index = text, whole = %out.display(), "reusing the assembled index");
        return check(open(&out)?);
    }
    let local = resolve_partitions(index, cache_dir, None)?;
    if let [(_, dir)] = local.partitions.as_slice() {
        return check(open(dir)?);
    }
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let dirs: Vec<PathBuf> = local
        .partitions
        .iter()
        .map(|(_, dir)| dir.clone())
        .collect();
    let parts = PartitionedIndex::open(index, &dirs, Some(&digest))
        .with_context(|| format!("opening the partitions of {text}"))?;
    tracing::info!(index = text, partitions = dirs.len(), whole = %out.display(), "assembling the partitions into one index");
    let reader = parts
        .assemble(&out, block_cache_bytes)
        .with_context(|| format!("assembling the partitions of {text} into {}", out.display()))?;
    drop(parts);
    if publish::is_remote(&text) {
        std::fs::remove_dir_all(&local.publication_dir).with_context(|| {
            format!(
                "removing the fetched partitions {}",
                local.publication_dir.display()
            )
        })?;
    }
    check(reader)
}
