//! The whole build in one process: the staged pipeline with an in-memory
//! coordinator and worker threads (the same tasks a cluster runs).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provindex_corpus::store::CorpusStore;
use provindex_index::IndexError;

use crate::job::{Coordinator, InputObject, Job, JobSpec, JobState};
use crate::tasks::TaskContext;
use crate::worker::{WorkerOptions, lock, now_ms, run_worker};
pub use crate::writer::BuildReport;

/// Errors that stop a build. Bad records and bad files do not: they are
/// counted in the [`BuildReport`] and the manifest.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("input {0} does not exist")]
    MissingInput(String),
    #[error("no input files found in {0:?}")]
    NoInputs(Vec<String>),
    #[error("cannot list {path}: {source}")]
    ListInput {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("object store: {0}")]
    Store(String),
    #[error("staging files: {0}")]
    Staging(String),
    #[error("job failed: {0}")]
    Job(String),
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
}

/// A local build's parameters.
#[derive(Debug, Clone)]
pub struct LocalBuild {
    /// Files, directories (searched recursively), globs, object URIs
    /// (`s3://`, `https://`) or path lists (`….paths.gz`).
    pub inputs: Vec<String>,
    /// A scan task that keeps failing (an input that cannot be read, such
    /// as an HTTP 404) leaves its input out, listed in the report, instead
    /// of failing the build.
    pub skip_failed_inputs: bool,
    pub out: PathBuf,
    pub crawl: String,
    /// Worker threads; at least 1.
    pub workers: usize,
    /// Build time recorded in the manifest (unix seconds); a parameter so that
    /// rebuilding the same corpus can reproduce a manifest exactly.
    pub built_at: i64,
    /// A robots.txt set given to the job (a file or a directory of files
    /// named by host); see [`crate::site_signals`].
    pub robots: Option<PathBuf>,
    /// Staging prefix for run files (default: a directory next to `out`,
    /// removed after a successful build).
    pub staging: Option<String>,
    /// LSH band partitions (0: default).
    pub partitions: u32,
    /// Ed25519 seed file: sign the index's ledger into `out/ledger.json`
    /// ([`crate::ledger`]). `None`: no ledger.
    pub signing_key: Option<PathBuf>,
    pub no_signals: bool,
    /// PII key file ([`crate::pii_key`]): hash personal identifiers into
    /// the `pii_keys` table. `None`: PII counts only.
    pub pii_key: Option<PathBuf>,
    /// Index partitions (one build task each; a power of two up to 256).
    /// Above 1 the output is a publication, also at a local path.
    pub index_partitions: u32,
    /// An incremental build: the index (a directory, a local or remote
    /// publication) whose captures join the inputs' ([`crate::rescan`]).
    pub base: Option<String>,
}

/// Expands files and directories into a sorted, de-duplicated file list.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, PipelineError> {
    let mut files = Vec::new();
    for input in inputs {
        let path = Path::new(input.strip_prefix("file://").unwrap_or(input));
        if path.is_dir() {
            collect_files(path, &mut files).map_err(|source| PipelineError::ListInput {
                path: input.clone(),
                source,
            })?;
        } else if path.is_file() {
            files.push(path.to_path_buf());
        } else {
            return Err(PipelineError::MissingInput(input.clone()));
        }
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(PipelineError::NoInputs(inputs.to_vec()));
    }
    Ok(files)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Lists the job's inputs through the object store: sorted, deduplicated.
pub fn list_inputs(
    store: &CorpusStore,
    inputs: &[String],
) -> Result<Vec<InputObject>, PipelineError> {
    input_objects(
        inputs
            .iter()
            .map(|input| (input.as_str(), store.list(input))),
    )
}

/// The job's input objects from the listing of each input pattern: sorted,
/// deduplicated; a pattern matching nothing is [`PipelineError::MissingInput`].
/// (The coordinator lists asynchronously and calls this too.)
pub fn input_objects<'a>(
    listings: impl IntoIterator<
        Item = (
            &'a str,
            Result<Vec<provindex_corpus::store::ObjectInfo>, provindex_corpus::store::StoreError>,
        ),
    >,
) -> Result<Vec<InputObject>, PipelineError> {
    let mut patterns = Vec::new();
    let mut objects = Vec::new();
    for (input, listing) in listings {
        patterns.push(input.to_string());
        match listing {
            Ok(listed) => objects.extend(listed.into_iter().map(|o| InputObject {
                uri: o.uri,
                size: o.size,
            })),
            Err(provindex_corpus::store::StoreError::NoMatch(_)) => {
                return Err(PipelineError::MissingInput(input.to_string()));
            }
            Err(error) => {
                return Err(PipelineError::Store(format!("listing {input}: {error}")));
            }
        }
    }
    objects.sort_by(|a, b| a.uri.cmp(&b.uri));
    objects.dedup_by(|a, b| a.uri == b.uri);
    if objects.is_empty() {
        return Err(PipelineError::NoInputs(patterns));
    }
    Ok(objects)
}

/// Checks that `out` can receive a new index: absent, or an empty directory.
pub fn check_output(out: &Path) -> Result<(), PipelineError> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(PipelineError::Index(IndexError::AlreadyExists(
                out.to_path_buf(),
            )));
        }
    }
    Ok(())
}

/// Deletes a finished job's staging prefix: every object under it, or a
/// local directory whole (deleting its files would leave the emptied
/// directories). A missing prefix is not an error.
pub fn remove_staging(store: &CorpusStore, prefix: &str) -> Result<(), PipelineError> {
    let local = prefix.strip_prefix("file://").unwrap_or(prefix);
    if !local.contains("://") {
        return match std::fs::remove_dir_all(local) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(PipelineError::Staging(format!("removing {prefix}: {e}")))
            }
            _ => Ok(()),
        };
    }
    store
        .delete_prefix(prefix)
        .map_err(|e| PipelineError::Staging(format!("removing {prefix}: {e}")))
}

/// The default staging directory of a build writing `out`.
pub fn default_staging(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index".into());
    out.with_file_name(format!(".{name}.staging"))
}

/// The whole staged build in this process: an in-memory coordinator and
/// `workers` worker threads running the same tasks a cluster runs.
pub fn build_local(config: &LocalBuild) -> Result<BuildReport, PipelineError> {
    build_local_with_progress(config, &mut |_| {})
}

/// [`build_local`], calling `progress` with the job after every change.
pub fn build_local_with_progress(
    config: &LocalBuild,
    progress: &mut dyn FnMut(&Job),
) -> Result<BuildReport, PipelineError> {
    let store = Arc::new(CorpusStore::new().map_err(|e| PipelineError::Store(e.to_string()))?);
    let inputs = list_inputs(&store, &config.inputs)?;
    // An object-store `out` receives a publication (crate::publish); the
    // staging then defaults to local scratch, removed with it.
    let remote_out = config
        .out
        .to_str()
        .filter(|out| crate::publish::is_remote(out));
    let out = match remote_out {
        Some(remote) => {
            crate::publish::check_unpublished(&store, remote)?;
            PathBuf::from(remote)
        }
        None => {
            check_output(&config.out)?;
            absolute(&config.out)?
        }
    };
    let scratch = tempfile::Builder::new()
        .prefix("provindex-scratch-")
        .tempdir()
        .map_err(|e| PipelineError::Store(format!("scratch directory: {e}")))?;
    let default_staging = match remote_out {
        Some(_) => scratch.path().join("staging"),
        None => default_staging(&out),
    };
    let staging = config
        .staging
        .clone()
        .unwrap_or_else(|| default_staging.display().to_string());
    let spec = JobSpec {
        inputs: config.inputs.clone(),
        crawl: config.crawl.clone(),
        output: out.display().to_string(),
        staging: staging.clone(),
        partitions: config.partitions,
        built_at: config.built_at,
        robots: config
            .robots
            .as_ref()
            .map(|r| r.display().to_string())
            .unwrap_or_default(),
        max_attempts: 0,
        skip_failed_inputs: config.skip_failed_inputs,
        no_signals: config.no_signals,
        lease_seconds: 0,
        signing_key: config
            .signing_key
            .as_ref()
            .map(|k| k.display().to_string())
            .unwrap_or_default(),
        pii_key: config
            .pii_key
            .as_ref()
            .map(|k| k.display().to_string())
            .unwrap_or_default(),
        index_partitions: config.index_partitions,
        base_partitions: match &config.base {
            Some(base) => crate::rescan::base_partitions(&store, base)?,
            None => Vec::new(),
        },
        base: config.base.clone().unwrap_or_default(),
    };
    let coordinator = Mutex::new(Coordinator::in_memory());
    let job_id = lock(&coordinator)
        .submit("local", spec, inputs, now_ms())
        .map_err(|e| PipelineError::Job(e.to_string()))?;
    let ctx = TaskContext {
        store: Arc::clone(&store),
        scratch: scratch.path().to_path_buf(),
        sort_budget: crate::tasks::SORT_BUDGET,
        record_delay: Duration::ZERO,
    };
    let stop = AtomicBool::new(false);
    let job = std::thread::scope(|scope| {
        for n in 0..config.workers.max(1) {
            let (coordinator, ctx, stop) = (&coordinator, &ctx, &stop);
            scope.spawn(move || {
                let options = WorkerOptions {
                    name: format!("local-{n}"),
                    idle_poll: Duration::from_millis(20),
                };
                run_worker(coordinator, ctx, &options, stop);
            });
        }
        let mut seen = u64::MAX;
        loop {
            {
                let coordinator = lock(&coordinator);
                let job = coordinator.job(&job_id).cloned();
                if coordinator.generation() != seen {
                    seen = coordinator.generation();
                    if let Ok(job) = &job {
                        progress(job);
                    }
                }
                match job {
                    Ok(job) if job.state == JobState::Running => {}
                    other => {
                        stop.store(true, Ordering::Relaxed);
                        break other;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .map_err(|e| PipelineError::Job(e.to_string()))?;
    // Finished, succeeded or failed: nothing reads the staging any more.
    let removed = if config.staging.is_none() {
        remove_staging(&store, &default_staging.display().to_string())
    } else {
        remove_staging(
            &store,
            &format!("{}/{job_id}", staging.trim_end_matches('/')),
        )
    };
    if let Err(error) = removed {
        tracing::warn!(%error, "staging not removed");
    }
    match job.state {
        JobState::Succeeded => {
            let result = job
                .build_result()
                .ok_or_else(|| PipelineError::Job("the build task left no result".into()))?;
            Ok(result.report)
        }
        _ => Err(PipelineError::Job(
            job.error.unwrap_or_else(|| "the job failed".into()),
        )),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, PipelineError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .map_err(|e| PipelineError::Store(format!("current directory: {e}")))
}
