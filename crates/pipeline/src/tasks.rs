//! What each stage's task does, given its lease: read its inputs from object
//! storage, write its outputs as sorted run files under its own attempt
//! prefix, and commit with a create-only write of `<task>/COMMIT`.
//!
//! Staging layout under `<staging>/<job_id>/`:
//!
//! ```text
//! <task_id>/attempt-<token>/...   files of one attempt (never overwritten)
//! <task_id>/COMMIT                the committed attempt's result (JSON of a
//!                                 [`TaskResult`]; of the build's `BuildCommit`), create-only
//! ```
//!
//! The first attempt to create `COMMIT` wins; a later attempt (a retry after
//! an expired lease, or a zombie worker) finds it and reports that result, so
//! the job sees exactly one output per task. Every task's output is a
//! function of its inputs only, so which attempt wins does not matter.
//!
//! Run files ([`provindex_runs`]):
//! - scan `captures-*.run`: capture_id (16) ‖ input ordinal (4) ‖ record
//!   number (8) → [`crate::scan_record`]; `bands-<p>-*.run`: band (2) ‖ band
//!   key (8) ‖ content_id (16) → earliest capture time in this input (8),
//!   partitioned by a hash of band and band key;
//! - cluster `edges-*.run`: content_id ‖ content_id (the smallest of its
//!   bucket) → empty; `nodes-*.run`: content_id → earliest capture time;
//! - components `clusters.run`: content_id → cluster_id ‖ keeper ‖ size (8).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use provindex_corpus::store::CorpusStore;
use provindex_index::BuildFacts;
use provindex_index::partition::Partitioning;
use provindex_runs::{ExternalSorter, RunReader, RunWriter};
use serde::{Deserialize, Serialize};

use crate::cluster_lookup::{ClusterLookup, ClusterLookupError};
use crate::job::{JobError, JobSpec, Lease, MAX_REPORTED_ERRORS, Stage};
use crate::prepare::PreparedCapture;
use crate::site_signals::SiteFiles;
use crate::writer::{BuildReport, IndexWriter};

/// Bytes of records a task sorts in memory before spilling a run.
pub const SORT_BUDGET: usize = 64 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanPayload {
    pub input: String,
    /// Position of the input in the job's sorted input list.
    pub ordinal: u32,
    /// LSH partitions (cluster tasks).
    pub partitions: u32,
    /// Index partitions (build tasks); 0 reads as 1.
    #[serde(default)]
    pub index_partitions: u32,
    /// `input` is a partition of the job's base index, rescanned
    /// ([`crate::rescan`]) rather than read as a crawl file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScanResult {
    pub attempt: String,
    /// Per index partition, the runs of its captures (those it owns and the
    /// copies it holds, [`provindex_index::partition`]); revisits excluded.
    pub capture_runs: Vec<Vec<String>>,
    /// Revisit records, for the revisits stage.
    #[serde(default)]
    pub revisit_runs: Vec<String>,
    /// Lookup runs of the captures that are not revisits ([`crate::revisits`]).
    #[serde(default)]
    pub id_runs: Vec<String>,
    #[serde(default)]
    pub digest_runs: Vec<String>,
    #[serde(default)]
    pub target_runs: Vec<String>,
    /// The site-file captures (robots.txt, tdmrep.json, ai.txt) again, keyed
    /// like `capture_runs`: the build reads them before writing any capture.
    #[serde(default)]
    pub site_file_runs: Vec<String>,
    /// Per partition, its band runs.
    pub band_runs: Vec<Vec<String>>,
    pub records: u64,
    /// Bytes read from the input object (as stored, before decompression):
    /// the workers' metrics.
    #[serde(default)]
    pub input_bytes_read: u64,
    pub contents: u64,
    pub read_errors: u64,
    pub errors: Vec<String>,
    /// A rescanned base partition: the inputs its index was built from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_inputs: Vec<String>,
    /// The input's distinct `warcinfo` records (fields in order), issue 19.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warcinfo: Vec<Vec<(String, String)>>,
    /// A rescanned base partition: the base's `warcinfo` records with their
    /// inputs (its manifest's), carried into the new index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_warcinfo: Vec<provindex_index::InputWarcinfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterPayload {
    pub partition: u32,
    pub band_runs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterResult {
    pub attempt: String,
    pub edge_runs: Vec<String>,
    pub node_runs: Vec<String>,
    /// Buckets with more than one content.
    pub shared_buckets: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentsPayload {
    pub edge_runs: Vec<String>,
    pub node_runs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentsResult {
    pub attempt: String,
    pub cluster_runs: Vec<String>,
    pub clusters: u64,
    pub clustered_contents: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisitsPayload {
    pub index_partitions: u32,
    pub revisit_runs: Vec<String>,
    pub id_runs: Vec<String>,
    pub digest_runs: Vec<String>,
    pub target_runs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisitsResult {
    pub attempt: String,
    /// Per index partition, its resolved revisits (owned and copies).
    pub resolved_runs: Vec<Vec<String>>,
    pub counts: crate::revisits::RevisitCounts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildPayload {
    /// The index partition this task builds, of `index_partitions`.
    #[serde(default)]
    pub partition: u32,
    #[serde(default)]
    pub index_partitions: u32,
    /// The partition's scan runs of captures, in input order.
    pub capture_runs: Vec<String>,
    /// The partition's resolved revisits.
    #[serde(default)]
    pub revisit_runs: Vec<String>,
    #[serde(default)]
    pub revisits: crate::revisits::RevisitCounts,
    /// Every scan run of site-file captures.
    #[serde(default)]
    pub site_file_runs: Vec<String>,
    pub cluster_runs: Vec<String>,
    /// Inputs scanned.
    pub inputs: Vec<String>,
    pub read_errors: u64,
    pub errors: Vec<String>,
    pub skipped_inputs: Vec<String>,
    /// The scanned inputs' `warcinfo` records, grouped (issue 19).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warcinfo: Vec<provindex_index::InputWarcinfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildResult {
    /// The published index directory.
    pub output: String,
    pub report: BuildReport,
    /// A partition of a partitioned index: its uploaded files, for the
    /// publish stage (the report's manifest holds its chunk digests).
    #[serde(default)]
    pub partition: Option<crate::publish::Partition>,
    /// A partition of a signed partitioned index: its signed partition
    /// ledger manifest (wire JSON), for the publish stage (issue 17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
}

/// The publish stage: every partition built, listed in one publication.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishPayload {
    pub partitions: Vec<BuildResult>,
}

/// A task's inputs, tagged with its stage (issue 15). Held typed in the job
/// state; on the wire (`TaskLease.payload_json`) it is the JSON of this enum,
/// decoded once by the worker with [`TaskPayload::from_json`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stage", content = "payload", rename_all = "snake_case")]
pub enum TaskPayload {
    Scan(ScanPayload),
    Cluster(ClusterPayload),
    Components(ComponentsPayload),
    Revisits(RevisitsPayload),
    Build(BuildPayload),
    Publish(PublishPayload),
}

impl TaskPayload {
    pub fn stage(&self) -> Stage {
        match self {
            TaskPayload::Scan(_) => Stage::Scan,
            TaskPayload::Cluster(_) => Stage::Cluster,
            TaskPayload::Components(_) => Stage::Components,
            TaskPayload::Revisits(_) => Stage::Revisits,
            TaskPayload::Build(_) => Stage::Build,
            TaskPayload::Publish(_) => Stage::Publish,
        }
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }

    /// Decodes the payload of task `task` leased for `stage`: text that does
    /// not decode, or a payload of another stage, is refused with the task
    /// named.
    pub fn from_json(task: &str, stage: Stage, text: &str) -> Result<Self, String> {
        let payload: TaskPayload = serde_json::from_str(text)
            .map_err(|e| format!("task {task}: undecodable payload: {e}"))?;
        if payload.stage() != stage {
            return Err(format!(
                "task {task}: a {} payload for a {} task",
                payload.stage().as_str(),
                stage.as_str()
            ));
        }
        Ok(payload)
    }
}

/// A task's committed result, tagged with its stage (issue 15). Held typed
/// in the job state; on the wire (`CompleteTaskRequest.result_json`) it is
/// the JSON of this enum, decoded once by the coordinator with
/// [`TaskResult::from_json`] and checked against the task's stage by
/// [`crate::job::Coordinator::complete`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stage", content = "result", rename_all = "snake_case")]
pub enum TaskResult {
    // Boxed: a scan result (run lists per partition, counts) is several
    // times the size of the other stages' results.
    Scan(Box<ScanResult>),
    Cluster(ClusterResult),
    Components(ComponentsResult),
    Revisits(RevisitsResult),
    // Boxed: the build report is far larger than the other stages' results.
    Build(Box<BuildResult>),
    Publish(Box<BuildResult>),
}

impl TaskResult {
    pub fn stage(&self) -> Stage {
        match self {
            TaskResult::Scan(_) => Stage::Scan,
            TaskResult::Cluster(_) => Stage::Cluster,
            TaskResult::Components(_) => Stage::Components,
            TaskResult::Revisits(_) => Stage::Revisits,
            TaskResult::Build(_) => Stage::Build,
            TaskResult::Publish(_) => Stage::Publish,
        }
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }

    /// Decodes the result reported for task `task`; text that does not
    /// decode is refused with the task named (the stage is checked where the
    /// task is known, [`TaskResult::check_stage`]).
    pub fn from_json(task: &str, text: &str) -> Result<Self, JobError> {
        serde_json::from_str(text).map_err(|e| JobError::BadResult {
            task: task.to_string(),
            reason: format!("undecodable result: {e}"),
        })
    }

    /// Refuses a result of another stage than task `task`'s.
    pub fn check_stage(&self, task: &str, stage: Stage) -> Result<(), JobError> {
        if self.stage() == stage {
            Ok(())
        } else {
            Err(JobError::BadResult {
                task: task.to_string(),
                reason: format!(
                    "a {} result for a {} task",
                    self.stage().as_str(),
                    stage.as_str()
                ),
            })
        }
    }

    pub fn as_scan(&self) -> Option<&ScanResult> {
        match self {
            TaskResult::Scan(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_cluster(&self) -> Option<&ClusterResult> {
        match self {
            TaskResult::Cluster(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_revisits(&self) -> Option<&RevisitsResult> {
        match self {
            TaskResult::Revisits(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_components(&self) -> Option<&ComponentsResult> {
        match self {
            TaskResult::Components(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_build(&self) -> Option<&BuildResult> {
        match self {
            TaskResult::Build(r) => Some(r.as_ref()),
            _ => None,
        }
    }

    pub fn as_publish(&self) -> Option<&BuildResult> {
        match self {
            TaskResult::Publish(r) => Some(r.as_ref()),
            _ => None,
        }
    }
}

/// Why a task attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Worth retrying (storage unreachable, I/O).
    #[error("{0}")]
    Retry(String),
    /// Retrying will not help (missing input, corrupt staging file, bad payload).
    #[error("{0}")]
    Permanent(String),
    /// The lease was lost; the attempt stopped.
    #[error("cancelled: lease lost")]
    Cancelled,
}

impl TaskError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, TaskError::Permanent(_))
    }
}

/// What a worker needs to run tasks.
#[derive(Clone)]
pub struct TaskContext {
    pub store: Arc<CorpusStore>,
    /// Local scratch space for spilled runs and index attempts.
    pub scratch: PathBuf,
    pub sort_budget: usize,
    /// Fault-injection switch for tests: sleep this long after each scanned
    /// record, so a test can kill a worker in the middle of a scan task.
    pub record_delay: std::time::Duration,
}

fn attempt_prefix(spec: &JobSpec, lease: &Lease) -> String {
    format!(
        "{}/{}/{}/attempt-{:016x}",
        spec.staging, lease.job_id, lease.task_id, lease.token
    )
}

fn commit_uri(spec: &JobSpec, lease: &Lease) -> String {
    format!("{}/{}/{}/COMMIT", spec.staging, lease.job_id, lease.task_id)
}

/// Runs one task attempt and commits it; returns the committed result (this
/// attempt's, or an earlier attempt's that committed first).
pub fn run_task(
    ctx: &TaskContext,
    lease: &Lease,
    cancel: &AtomicBool,
) -> Result<TaskResult, TaskError> {
    let commit = commit_uri(&lease.spec, lease);
    // An earlier attempt may have committed and lost its lease before
    // reporting: its result stands.
    if let Some(result) = read_commit(ctx, &commit)? {
        return committed_result(lease, &commit, &result);
    }
    let scratch = ctx.scratch.join(format!(
        "{}-{}-{:016x}",
        lease.job_id, lease.task_id, lease.token
    ));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| TaskError::Retry(format!("scratch {}: {e}", scratch.display())))?;
    let outcome = run_stage(ctx, lease, &scratch, cancel);
    let _ = std::fs::remove_dir_all(&scratch);
    let result = outcome?;
    if cancel.load(Ordering::Relaxed) {
        return Err(TaskError::Cancelled);
    }
    let created = ctx
        .store
        .put_if_absent(&commit, Bytes::from(result.clone()))
        .map_err(|e| TaskError::Retry(format!("committing {commit}: {e}")))?;
    let committed = if created {
        result
    } else {
        tracing::info!(task = %lease.task_id, "another attempt committed first; using its result");
        read_commit(ctx, &commit)?
            .ok_or_else(|| TaskError::Retry(format!("{commit} vanished after a conflict")))?
    };
    if lease.stage == Stage::Build
        && !created
        && !crate::publish::is_remote(&lease.spec.output)
        && lease.spec.index_partitions <= 1
    {
        // Our own attempt directory is not the committed one.
        let _ = std::fs::remove_dir_all(attempt_dir(&lease.spec.output, lease.token));
    }
    committed_result(lease, &commit, &committed)
}

/// The typed result of a commit file's text (publishing the index of a
/// build commit); a commit that does not decode as this task's stage fails
/// the task permanently, naming the task and the file.
fn committed_result(lease: &Lease, commit: &str, text: &str) -> Result<TaskResult, TaskError> {
    let unreadable = |reason: String| {
        TaskError::Permanent(format!(
            "task {}: unreadable commit {commit}: {reason}",
            lease.task_id
        ))
    };
    if lease.stage == Stage::Build {
        let build: BuildCommit =
            serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?;
        publish(&build)?;
        return Ok(TaskResult::Build(Box::new(build.result)));
    }
    let result: TaskResult = serde_json::from_str(text).map_err(|e| unreadable(e.to_string()))?;
    result
        .check_stage(&lease.task_id, lease.stage)
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(result)
}

fn read_commit(ctx: &TaskContext, uri: &str) -> Result<Option<String>, TaskError> {
    let unreachable = |e: provindex_corpus::store::StoreError| {
        TaskError::Retry(format!("staging store unreachable: reading {uri}: {e}"))
    };
    if !ctx.store.exists(uri).map_err(unreachable)? {
        return Ok(None);
    }
    let bytes = ctx.store.get_bytes(uri).map_err(unreachable)?;
    String::from_utf8(bytes.to_vec())
        .map(Some)
        .map_err(|_| TaskError::Permanent(format!("{uri}: not UTF-8")))
}

/// Runs the task's stage; returns the text to commit (a [`TaskResult`], or
/// the build's [`BuildCommit`]).
fn run_stage(
    ctx: &TaskContext,
    lease: &Lease,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<String, TaskError> {
    let attempt = attempt_prefix(&lease.spec, lease);
    if lease.payload.stage() != lease.stage {
        return Err(TaskError::Permanent(format!(
            "task {}: a {} payload for a {} task",
            lease.task_id,
            lease.payload.stage().as_str(),
            lease.stage.as_str()
        )));
    }
    match &lease.payload {
        TaskPayload::Scan(payload) => {
            let result = scan(ctx, lease, payload, &attempt, scratch, cancel)?;
            Ok(TaskResult::Scan(Box::new(result)).to_json())
        }
        TaskPayload::Cluster(payload) => {
            Ok(TaskResult::Cluster(cluster(ctx, payload, &attempt, scratch, cancel)?).to_json())
        }
        TaskPayload::Components(payload) => Ok(TaskResult::Components(components(
            ctx, payload, &attempt, scratch, cancel,
        )?)
        .to_json()),
        TaskPayload::Revisits(payload) => {
            Ok(TaskResult::Revisits(revisits(ctx, payload, &attempt, scratch, cancel)?).to_json())
        }
        TaskPayload::Build(payload) => Ok(to_json(&build(ctx, lease, payload, scratch, cancel)?)),
        TaskPayload::Publish(payload) => {
            Ok(TaskResult::Publish(Box::new(publish_partitions(ctx, lease, payload)?)).to_json())
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Plain structs of strings and numbers always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

/// Uploads spilled runs under the attempt prefix; returns their URIs.
fn upload_runs(
    ctx: &TaskContext,
    attempt: &str,
    runs: Vec<(PathBuf, provindex_runs::RunInfo)>,
) -> Result<Vec<String>, TaskError> {
    let mut uris = Vec::new();
    for (path, _) in runs {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("run")
            .to_string();
        let uri = format!("{attempt}/{name}");
        let bytes = std::fs::read(&path)
            .map_err(|e| TaskError::Retry(format!("reading {}: {e}", path.display())))?;
        ctx.store
            .put(&uri, Bytes::from(bytes))
            .map_err(|e| TaskError::Retry(format!("uploading {uri}: {e}")))?;
        let _ = std::fs::remove_file(&path);
        uris.push(uri);
    }
    Ok(uris)
}

/// Opens a staged run for streaming.
fn open_run(
    ctx: &TaskContext,
    uri: &str,
) -> Result<RunReader<std::io::BufReader<provindex_corpus::store::ObjectReader>>, TaskError> {
    let reader = ctx
        .store
        .open(uri)
        .map_err(|e| TaskError::Retry(format!("opening {uri}: {e}")))?;
    RunReader::new(std::io::BufReader::with_capacity(1 << 20, reader), uri)
        .map_err(|e| TaskError::Retry(e.to_string()))
}

fn run_error(e: provindex_runs::RunError) -> TaskError {
    // A corrupt or truncated staging file may be a torn download: retry;
    // attempts are bounded by the job's policy.
    TaskError::Retry(e.to_string())
}

fn partition_of(band: u16, band_key: u64, partitions: u32) -> usize {
    let mut bytes = [0u8; 10];
    bytes[..2].copy_from_slice(&band.to_be_bytes());
    bytes[2..].copy_from_slice(&band_key.to_be_bytes());
    (xxhash_rust::xxh3::xxh3_64(&bytes) % u64::from(partitions.max(1))) as usize
}

/// The key of a capture in the scan runs: capture_id ‖ input ordinal ‖
/// record number.
pub(crate) fn scan_key(capture_id: u128, ordinal: u32, number: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(28);
    key.extend_from_slice(&capture_id.to_be_bytes());
    key.extend_from_slice(&ordinal.to_be_bytes());
    key.extend_from_slice(&number.to_be_bytes());
    key
}

/// What a scan task writes, fed one prepared capture at a time: by the scan
/// of an input, or by the rescan of a base index's partition
/// ([`crate::rescan`]), which therefore reach the later stages alike.
pub(crate) struct ScanOutputs {
    scratch: PathBuf,
    sort_budget: usize,
    partitioning: Partitioning,
    lsh_partitions: usize,
    captures: Vec<ExternalSorter>,
    site_files: ExternalSorter,
    revisits: ExternalSorter,
    ids: ExternalSorter,
    digests: ExternalSorter,
    targets: ExternalSorter,
    /// Content → (earliest capture time here, band keys).
    contents: HashMap<u128, (i64, Vec<u64>)>,
}

impl ScanOutputs {
    pub(crate) fn new(
        ctx: &TaskContext,
        scratch: &Path,
        payload: &ScanPayload,
    ) -> Result<Self, TaskError> {
        let partitioning = Partitioning::new(payload.index_partitions.max(1))
            .map_err(|e| TaskError::Permanent(format!("index_partitions: {e}")))?;
        let index_partitions = partitioning.count() as usize;
        let captures = (0..index_partitions)
            .map(|p| {
                ExternalSorter::new(
                    scratch,
                    &format!("captures-p{p:04}"),
                    ctx.sort_budget / index_partitions,
                )
            })
            .collect();
        let sorter = |name: &str| ExternalSorter::new(scratch, name, ctx.sort_budget / 8);
        Ok(Self {
            scratch: scratch.to_path_buf(),
            sort_budget: ctx.sort_budget,
            partitioning,
            lsh_partitions: payload.partitions.max(1) as usize,
            captures,
            site_files: sorter("sitefiles"),
            revisits: sorter("revisits"),
            ids: sorter("ids"),
            digests: sorter("digests"),
            targets: sorter("targets"),
            contents: HashMap::new(),
        })
    }

    /// Writes one capture under `key` ([`scan_key`]): to the runs of the
    /// partitions that hold it, and to the lookup runs of the revisits stage.
    pub(crate) fn push(
        &mut self,
        key: Vec<u8>,
        mut prepared: PreparedCapture,
    ) -> Result<(), TaskError> {
        if prepared.revisit.is_none()
            && let (Some(content), Some(sketch)) = (&prepared.content, &prepared.sketch)
        {
            let time = prepared.record.capture_time;
            self.contents
                .entry(content.content_id)
                .and_modify(|(first, _)| *first = (*first).min(time))
                .or_insert_with(|| (time, sketch.band_keys.clone()));
        }
        if prepared.site_file.is_some() {
            self.site_files
                .push(&key, crate::scan_record::encode(&prepared))
                .map_err(run_error)?;
            prepared.site_file = None;
        }
        let encoded = crate::scan_record::encode(&prepared);
        if prepared.revisit.is_some() {
            return self.revisits.push(key, encoded).map_err(run_error);
        }
        let content = prepared.content.as_ref().map(|c| c.content_id);
        let reference = crate::revisits::encode_content(content);
        self.ids.push(&key, &reference).map_err(run_error)?;
        if !prepared.record.payload_digest.is_empty()
            && let Some(digest_key) =
                crate::revisits::digest_key(&prepared.record.payload_digest, &key)
        {
            self.digests
                .push(digest_key, &reference)
                .map_err(run_error)?;
        }
        if !prepared.record.surt.is_empty() {
            self.targets
                .push(
                    crate::revisits::target_key(
                        &prepared.record.surt,
                        prepared.record.capture_time,
                        prepared.capture_id,
                        &key[16..],
                    ),
                    reference,
                )
                .map_err(run_error)?;
        }
        let owner = self
            .partitioning
            .of_capture(prepared.capture_id, &prepared.record.surt);
        if let Some(holder) = content
            .map(|c| self.partitioning.of_content(c))
            .filter(|holder| *holder != owner)
        {
            self.captures[holder as usize]
                .push(&key, &encoded)
                .map_err(run_error)?;
        }
        self.captures[owner as usize]
            .push(key, encoded)
            .map_err(run_error)
    }

    /// Uploads every run into `result`, the band runs last: one row per band
    /// of each content, valued with the content's earliest capture time
    /// here. A band key is clustered on the low 32 bits the `lsh` table
    /// keeps ([`provindex_index::keys::lsh_key`]), so a rescan of an index
    /// clusters exactly as the scan of its inputs did.
    pub(crate) fn finish(
        self,
        ctx: &TaskContext,
        attempt: &str,
        result: &mut ScanResult,
    ) -> Result<(), TaskError> {
        for sorter in self.captures {
            result.capture_runs.push(upload_runs(
                ctx,
                attempt,
                sorter.finish().map_err(run_error)?,
            )?);
        }
        result.site_file_runs =
            upload_runs(ctx, attempt, self.site_files.finish().map_err(run_error)?)?;
        result.revisit_runs =
            upload_runs(ctx, attempt, self.revisits.finish().map_err(run_error)?)?;
        result.id_runs = upload_runs(ctx, attempt, self.ids.finish().map_err(run_error)?)?;
        result.digest_runs = upload_runs(ctx, attempt, self.digests.finish().map_err(run_error)?)?;
        result.target_runs = upload_runs(ctx, attempt, self.targets.finish().map_err(run_error)?)?;
        result.contents = self.contents.len() as u64;

        let partitions = self.lsh_partitions;
        let mut bands: Vec<ExternalSorter> = (0..partitions)
            .map(|p| {
                ExternalSorter::new(
                    &self.scratch,
                    &format!("bands-{p:04}"),
                    self.sort_budget / partitions,
                )
            })
            .collect();
        for (content_id, (time, band_keys)) in self.contents {
            for (band, band_key) in band_keys.into_iter().enumerate() {
                let band = band as u16;
                let band_key = u64::from(stored_band_key(band_key));
                let mut key = Vec::with_capacity(26);
                key.extend_from_slice(&band.to_be_bytes());
                key.extend_from_slice(&band_key.to_be_bytes());
                key.extend_from_slice(&content_id.to_be_bytes());
                bands[partition_of(band, band_key, partitions as u32)]
                    .push(key, time.to_be_bytes())
                    .map_err(run_error)?;
            }
        }
        result.band_runs = Vec::with_capacity(partitions);
        for sorter in bands {
            result.band_runs.push(upload_runs(
                ctx,
                attempt,
                sorter.finish().map_err(run_error)?,
            )?);
        }
        Ok(())
    }
}

/// The part of a band key the `lsh` table stores.
fn stored_band_key(band_key: u64) -> u32 {
    // The truncation is the point: see `provindex_index::keys::lsh_prefix`.
    #[allow(clippy::cast_possible_truncation)]
    let low = band_key as u32;
    low
}

/// Counts the bytes read through it (the scan's input bytes).
struct CountingReader<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn scan(
    ctx: &TaskContext,
    lease: &Lease,
    payload: &ScanPayload,
    attempt: &str,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<ScanResult, TaskError> {
    if payload.base {
        return crate::rescan::rescan(ctx, payload, attempt, scratch, cancel);
    }
    let spec = &lease.spec;
    let scan_options = crate::prepare::ScanOptions {
        extract_signals: !spec.no_signals,
    };
    let pii_key = match spec.pii_key.as_str() {
        "" => None,
        path => Some(crate::pii_key::read_pii_key(Path::new(path)).map_err(TaskError::Permanent)?),
    };
    let reader = ctx.store.open(&payload.input).map_err(|e| {
        let message = format!("cannot open input {}: {e}", payload.input);
        match &e {
            provindex_corpus::store::StoreError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                TaskError::Permanent(message)
            }
            provindex_corpus::store::StoreError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            } => TaskError::Permanent(message),
            _ => TaskError::Retry(message),
        }
    })?;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let reader = CountingReader {
        inner: reader,
        read: Arc::clone(&bytes_read),
    };
    // With signals on, HTML pages are left to `prepare`: text, license and
    // HTML signals from one tokenizer pass (issue 5).
    let options = crate::prepare::reader_options(scan_options);
    let mut outputs = ScanOutputs::new(ctx, scratch, payload)?;
    let mut result = ScanResult {
        attempt: attempt.to_string(),
        ..ScanResult::default()
    };
    let mut docs = provindex_corpus::open_docs(reader, &payload.input, options);
    for (number, item) in docs.by_ref().enumerate() {
        if number % 1024 == 0 && cancel.load(Ordering::Relaxed) {
            return Err(TaskError::Cancelled);
        }
        match item {
            Ok(doc) => {
                if !ctx.record_delay.is_zero() {
                    std::thread::sleep(ctx.record_delay);
                }
                let prepared = crate::prepare_keyed(
                    doc,
                    &spec.crawl,
                    crate::default_hasher(),
                    scan_options,
                    pii_key.as_deref(),
                );
                result.records += 1;
                outputs.push(
                    scan_key(prepared.capture_id, payload.ordinal, number as u64),
                    prepared,
                )?;
            }
            Err(error) => {
                result.read_errors += 1;
                if result.errors.len() < MAX_REPORTED_ERRORS {
                    result.errors.push(error.to_string());
                }
            }
        }
    }
    result.input_bytes_read = bytes_read.load(Ordering::Relaxed);
    outputs.finish(ctx, attempt, &mut result)?;
    result.warcinfo = docs.warcinfo().iter().map(|w| w.fields.clone()).collect();
    Ok(result)
}

pub(crate) fn id_of(bytes: &[u8], what: &str) -> Result<u128, TaskError> {
    <[u8; 16]>::try_from(bytes)
        .map(u128::from_be_bytes)
        .map_err(|_| TaskError::Permanent(format!("{what}: {} bytes, expected 16", bytes.len())))
}

pub(crate) fn time_of(bytes: &[u8], what: &str) -> Result<i64, TaskError> {
    <[u8; 8]>::try_from(bytes)
        .map(i64::from_be_bytes)
        .map_err(|_| TaskError::Permanent(format!("{what}: {} bytes, expected 8", bytes.len())))
}

/// Groups equal band keys of one partition into candidate edges.
fn cluster(
    ctx: &TaskContext,
    payload: &ClusterPayload,
    attempt: &str,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<ClusterResult, TaskError> {
    let runs = payload
        .band_runs
        .iter()
        .map(|uri| open_run(ctx, uri))
        .collect::<Result<Vec<_>, _>>()?;
    let mut edges = ExternalSorter::new(scratch, "edges", ctx.sort_budget / 2);
    let mut nodes = ExternalSorter::new(scratch, "nodes", ctx.sort_budget / 2);
    let mut shared_buckets = 0u64;
    // One bucket at a time: (content, earliest time) in content order.
    let mut bucket: Vec<(u128, i64)> = Vec::new();
    let mut bucket_key: Option<[u8; 10]> = None;
    let mut flush = |bucket: &mut Vec<(u128, i64)>| -> Result<(), TaskError> {
        if bucket.len() > 1 {
            shared_buckets += 1;
            let root = bucket[0].0;
            for (content, time) in bucket.iter() {
                nodes
                    .push(content.to_be_bytes(), time.to_be_bytes())
                    .map_err(run_error)?;
                if *content != root {
                    let mut key = content.to_be_bytes().to_vec();
                    key.extend_from_slice(&root.to_be_bytes());
                    edges.push(key, Vec::new()).map_err(run_error)?;
                }
            }
        }
        bucket.clear();
        Ok(())
    };
    let mut merged = provindex_runs::Merge::new(runs);
    let mut n = 0u64;
    while let Some(item) = merged.next_ref() {
        if n.is_multiple_of(65536) && cancel.load(Ordering::Relaxed) {
            return Err(TaskError::Cancelled);
        }
        n += 1;
        let (key, value) = item.map_err(run_error)?;
        if key.len() != 26 {
            return Err(TaskError::Permanent(format!(
                "band run key of {} bytes, expected 26",
                key.len()
            )));
        }
        let this: [u8; 10] = key[..10].try_into().unwrap_or_default();
        if bucket_key != Some(this) {
            flush(&mut bucket)?;
            bucket_key = Some(this);
        }
        let content = id_of(&key[10..], "band run content id")?;
        let time = time_of(value, "band run time")?;
        match bucket.last_mut() {
            // The same content from several inputs: keep its earliest time.
            Some((last, first)) if *last == content => *first = (*first).min(time),
            _ => bucket.push((content, time)),
        }
    }
    flush(&mut bucket)?;
    Ok(ClusterResult {
        attempt: attempt.to_string(),
        edge_runs: upload_runs(ctx, attempt, edges.finish().map_err(run_error)?)?,
        node_runs: upload_runs(ctx, attempt, nodes.finish().map_err(run_error)?)?,
        shared_buckets,
    })
}

/// The candidate graph's connected components → clusters with their keeper,
/// by label propagation over sorted runs ([`crate::components`]: the rules
/// for cluster ids and keepers, and the memory bound).
fn components(
    ctx: &TaskContext,
    payload: &ComponentsPayload,
    attempt: &str,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<ComponentsResult, TaskError> {
    let open = |uris: &[String]| {
        uris.iter()
            .map(|uri| open_run(ctx, uri))
            .collect::<Result<Vec<_>, _>>()
            .map(provindex_runs::Merge::new)
    };
    let path = scratch.join("clusters.run");
    let file = std::fs::File::create(&path)
        .map_err(|e| TaskError::Retry(format!("{}: {e}", path.display())))?;
    let mut writer =
        RunWriter::new(std::io::BufWriter::new(file), "clusters.run").map_err(run_error)?;
    let found = crate::components::components(
        open(&payload.node_runs)?,
        open(&payload.edge_runs)?,
        scratch,
        ctx.sort_budget,
        crate::components::MAX_ROUNDS,
        cancel,
        &mut writer,
    )?;
    tracing::info!(
        rounds = found.rounds,
        spilled_runs = found.spilled_runs,
        clusters = found.clusters,
        "components"
    );
    let (info, mut inner) = writer.finish().map_err(run_error)?;
    use std::io::Write as _;
    inner
        .flush()
        .map_err(|e| TaskError::Retry(format!("{}: {e}", path.display())))?;
    drop(inner);
    Ok(ComponentsResult {
        attempt: attempt.to_string(),
        cluster_runs: upload_runs(ctx, attempt, vec![(path, info)])?,
        clusters: found.clusters,
        clustered_contents: found.clustered_contents,
    })
}

/// Merged rows of staged runs, for [`crate::revisits::resolve_sorted`].
fn merged_rows<'a>(
    ctx: &TaskContext,
    uris: &[String],
) -> Result<crate::revisits::Rows<'a>, TaskError> {
    let runs = uris
        .iter()
        .map(|uri| open_run(ctx, uri))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(
        provindex_runs::merge(runs).map(|row| row.map_err(|e| e.to_string())),
    ))
}

/// Finds every revisit's original ([`crate::revisits`], through sorted runs
/// in the task's scratch space) and writes the resolved revisits to the runs
/// of the partitions that hold them: the owner of the revisit's URL, and the
/// holder of its content.
fn revisits(
    ctx: &TaskContext,
    payload: &RevisitsPayload,
    attempt: &str,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<RevisitsResult, TaskError> {
    use crate::revisits::Lookup;
    let partitioning = Partitioning::new(payload.index_partitions.max(1))
        .map_err(|e| TaskError::Permanent(format!("index_partitions: {e}")))?;
    let staged = provindex_runs::merge(
        payload
            .revisit_runs
            .iter()
            .map(|uri| open_run(ctx, uri))
            .collect::<Result<Vec<_>, _>>()?,
    )
    .map(|item| {
        if cancel.load(Ordering::Relaxed) {
            return Err(TaskError::Cancelled);
        }
        let (key, value) = item.map_err(run_error)?;
        let prepared = crate::scan_record::decode(&value)
            .map_err(|e| TaskError::Permanent(format!("revisit run: {e}")))?;
        Ok((key, prepared))
    });
    let open = |lookup: Lookup| {
        let uris = match lookup {
            Lookup::Ids => &payload.id_runs,
            Lookup::Digests => &payload.digest_runs,
            Lookup::Targets => &payload.target_runs,
        };
        merged_rows(ctx, uris).map_err(|e| e.to_string())
    };
    let count = partitioning.count() as usize;
    let mut sorters: Vec<ExternalSorter> = (0..count)
        .map(|p| {
            ExternalSorter::new(
                scratch,
                &format!("resolved-p{p:04}"),
                ctx.sort_budget / count,
            )
        })
        .collect();
    // The resolution's sorters and the partitions' take a budget each, one
    // after the other: the partitions' fill only as the resolution ends.
    let counts = crate::revisits::resolve_sorted(
        staged,
        &open,
        scratch,
        ctx.sort_budget,
        |e| TaskError::Retry(format!("revisit lookup runs: {e}")),
        TaskError::Permanent,
        |key, revisit| {
            let encoded = crate::scan_record::encode(&revisit);
            let owner = partitioning.of_capture(revisit.capture_id, &revisit.record.surt);
            if let Some(holder) = revisit
                .record
                .content_id()
                .map(|c| partitioning.of_content(c))
                .filter(|holder| *holder != owner)
            {
                sorters[holder as usize]
                    .push(&key, &encoded)
                    .map_err(run_error)?;
            }
            sorters[owner as usize]
                .push(key, encoded)
                .map_err(run_error)
        },
    )?;
    let mut resolved_runs = Vec::new();
    for sorter in sorters {
        resolved_runs.push(upload_runs(
            ctx,
            attempt,
            sorter.finish().map_err(run_error)?,
        )?);
    }
    Ok(RevisitsResult {
        attempt: attempt.to_string(),
        resolved_runs,
        counts,
    })
}

/// What the build task commits: the result plus where its index was built.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BuildCommit {
    attempt_dir: String,
    result: BuildResult,
}

fn attempt_dir(output: &str, token: u64) -> PathBuf {
    let output = Path::new(output.strip_prefix("file://").unwrap_or(output));
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index".into());
    output.with_file_name(format!(".{name}.attempt-{token:016x}"))
}

/// Moves the committed attempt's index to the output path (idempotent).
/// An object-store output was published before the commit ([`build`]).
fn publish(commit: &BuildCommit) -> Result<(), TaskError> {
    if crate::publish::is_remote(&commit.result.output) || commit.result.partition.is_some() {
        return Ok(());
    }
    let output = Path::new(&commit.result.output);
    let attempt = Path::new(&commit.attempt_dir);
    if output.join("CURRENT").is_file() && !attempt.exists() {
        return Ok(()); // published before
    }
    if output.is_dir() {
        // An empty directory made by the user (checked at submit).
        std::fs::remove_dir(output).map_err(|e| {
            TaskError::Permanent(format!("output {} is not empty: {e}", output.display()))
        })?;
    }
    std::fs::rename(attempt, output).map_err(|e| {
        TaskError::Retry(format!(
            "publishing {} as {}: {e}",
            attempt.display(),
            output.display()
        ))
    })
}

/// The crawl's site files from the scan tasks' site-file runs, in capture
/// order (a capture id seen twice counts once, as in the index).
fn read_site_files(ctx: &TaskContext, uris: &[String]) -> Result<SiteFiles, TaskError> {
    let runs = uris
        .iter()
        .map(|uri| open_run(ctx, uri))
        .collect::<Result<Vec<_>, _>>()?;
    let mut site_files = SiteFiles::default();
    let mut last: Option<u128> = None;
    let mut merged = provindex_runs::Merge::new(runs);
    while let Some(item) = merged.next_ref() {
        let (_, value) = item.map_err(run_error)?;
        let mut prepared = crate::scan_record::decode(value)
            .map_err(|e| TaskError::Permanent(format!("site-file run: {e}")))?;
        if last == Some(prepared.capture_id) {
            continue;
        }
        last = Some(prepared.capture_id);
        if let Some(file) = prepared.site_file.take() {
            site_files.observe(file, prepared.capture_id, &prepared.record);
        }
    }
    Ok(site_files)
}

/// The components stage's clusters (members of clusters of more than one),
/// copied to a lookup file in the task's scratch: memory holds a sparse
/// index of it, not the clusters ([`ClusterLookup`], issue 17).
fn read_clusters(
    ctx: &TaskContext,
    uris: &[String],
    scratch: &Path,
) -> Result<ClusterLookup, TaskError> {
    let runs = uris
        .iter()
        .map(|uri| open_run(ctx, uri))
        .collect::<Result<Vec<_>, _>>()?;
    // A read error of the run is a staging failure (retried); a malformed
    // record is permanent, like any corrupt staging file.
    let mut failed: Option<TaskError> = None;
    let rows = provindex_runs::merge(runs).map_while(|row| match row {
        Ok(row) => Some(Ok::<_, String>(row)),
        Err(e) => {
            failed = Some(run_error(e));
            None
        }
    });
    let lookup = ClusterLookup::create(&scratch.join("clusters.lookup"), rows);
    if let Some(e) = failed {
        return Err(e);
    }
    lookup.map_err(|e| match e {
        ClusterLookupError::Io { .. } => TaskError::Retry(format!("build clusters: {e}")),
        ClusterLookupError::Record { .. } => {
            TaskError::Permanent(format!("{}: {e}", uris.join(", ")))
        }
    })
}

fn build(
    ctx: &TaskContext,
    lease: &Lease,
    payload: &BuildPayload,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<BuildCommit, TaskError> {
    let spec = &lease.spec;
    let partitioning = Partitioning::new(payload.index_partitions.max(1))
        .map_err(|e| TaskError::Permanent(format!("index_partitions: {e}")))?;
    let partitioned = partitioning != Partitioning::WHOLE;
    let remote = crate::publish::is_remote(&spec.output);
    // An object-store output, and every partition of a partitioned index,
    // is built in the task's scratch (removed after the attempt) and
    // uploaded from there before the task commits, so whichever worker
    // later reads the commit finds it uploaded.
    let dir = if remote || partitioned {
        scratch.join("index")
    } else {
        attempt_dir(&spec.output, lease.token)
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| TaskError::Retry(format!("clearing {}: {e}", dir.display())))?;
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| TaskError::Retry(format!("creating {}: {e}", parent.display())))?;
    }
    let robots = (!spec.robots.is_empty()).then(|| PathBuf::from(&spec.robots));
    let site_files = read_site_files(ctx, &payload.site_file_runs)?;
    let clusters = read_clusters(ctx, &payload.cluster_runs, scratch)?;
    let mut writer = IndexWriter::create_partition(
        &dir,
        robots.as_deref(),
        site_files,
        clusters,
        partitioning,
        payload.partition,
    )
    .map_err(|e| TaskError::Permanent(e.to_string()))?;
    let index_error =
        |e: provindex_index::IndexError| TaskError::Retry(format!("index {}: {e}", dir.display()));
    let runs = payload
        .capture_runs
        .iter()
        .map(|uri| open_run(ctx, uri))
        .collect::<Result<Vec<_>, _>>()?;
    let mut merged = provindex_runs::Merge::new(runs);
    let mut n = 0u64;
    while let Some(item) = merged.next_ref() {
        if n.is_multiple_of(4096) && cancel.load(Ordering::Relaxed) {
            return Err(TaskError::Cancelled);
        }
        n += 1;
        if !ctx.record_delay.is_zero() {
            std::thread::sleep(ctx.record_delay);
        }
        let (_, value) = item.map_err(run_error)?;
        let prepared = crate::scan_record::decode(value)
            .map_err(|e| TaskError::Permanent(format!("capture run: {e}")))?;
        writer.add(prepared).map_err(index_error)?;
    }
    let revisit_runs = payload
        .revisit_runs
        .iter()
        .map(|uri| open_run(ctx, uri))
        .collect::<Result<Vec<_>, _>>()?;
    let mut merged = provindex_runs::Merge::new(revisit_runs);
    while let Some(item) = merged.next_ref() {
        let (_, value) = item.map_err(run_error)?;
        let revisit = crate::scan_record::decode(value)
            .map_err(|e| TaskError::Permanent(format!("revisit run: {e}")))?;
        writer.add_revisit(revisit).map_err(index_error)?;
    }
    let facts = BuildFacts {
        // The version the scan normalized with (`prepare_with` uses the hasher's spec).
        normalization_version: crate::prepare::default_hasher()
            .spec()
            .normalization_version
            .number(),
        crawls: vec![spec.crawl.clone()],
        inputs: payload.inputs.clone(),
        read_errors: payload.read_errors,
        built_at: spec.built_at,
        sketch_spec: crate::prepare::default_hasher().spec().to_string(),
        warcinfo: payload.warcinfo.clone(),
    };
    // Revisits are counted once, in partition 0 (the revisits stage counted them).
    let first = payload.partition == 0;
    let report = BuildReport {
        manifest: crate::writer::empty_manifest(),
        files: payload.inputs.len(),
        errors: payload.errors.clone(),
        error_count: payload.read_errors,
        url_errors: 0,
        captures_without_text: if first {
            payload.revisits.without_text
        } else {
            0
        },
        revisits_resolved: if first { payload.revisits.resolved } else { 0 },
        revisits_unresolved: if first {
            payload.revisits.unresolved
        } else {
            0
        },
        site_signals: Default::default(),
        skipped_inputs: payload.skipped_inputs.clone(),
    };
    let report = writer
        .finish(facts, report)
        .map_err(|e| TaskError::Retry(format!("index {}: {e}", dir.display())))?;
    if partitioned {
        let id = crate::publish::partition_id(payload.partition);
        // Signed before upload, from the built database, so a partition
        // referenced from a base is signed with this build's facts too.
        let ledger = match spec.signing_key.is_empty() {
            true => None,
            false => {
                let key = crate::ledger::read_signing_key(Path::new(&spec.signing_key))
                    .map_err(|e| TaskError::Permanent(e.to_string()))?;
                let signed = crate::ledger::sign_partition_ledger(&dir, &key)
                    .map_err(|e| TaskError::Retry(format!("ledger of {}: {e}", dir.display())))?;
                Some(provindex_ledger::wire::signed_partition_to_json(&signed))
            }
        };
        let shared = crate::publish::shared_base_partition(
            &ctx.store,
            &spec.base,
            &spec.output,
            &report.manifest,
        )
        .map_err(|e| publish_error(&spec.base, e))?;
        let partition = match shared {
            Some(partition) => {
                tracing::info!(output = %spec.output, partition = %id, base = %spec.base, "partition unchanged: the base's files are referenced");
                partition
            }
            None => {
                let partition = crate::publish::upload_partition(
                    &ctx.store,
                    &dir,
                    &spec.output,
                    &id,
                    &report.manifest,
                )
                .map_err(|e| publish_error(&spec.output, e))?;
                tracing::info!(output = %spec.output, partition = %id, bytes = partition.bytes, "partition uploaded");
                partition
            }
        };
        return Ok(BuildCommit {
            attempt_dir: String::new(),
            result: BuildResult {
                output: spec.output.clone(),
                report,
                partition: Some(partition),
                ledger,
            },
        });
    }
    if !spec.signing_key.is_empty() {
        // A bad key file fails the job at once: retrying cannot fix it.
        let key = crate::ledger::read_signing_key(Path::new(&spec.signing_key))
            .map_err(|e| TaskError::Permanent(e.to_string()))?;
        let base_digest = base_ledger_digest(ctx, &spec.base)?;
        crate::ledger::write_ledger(&dir, base_digest, &key)
            .map_err(|e| TaskError::Retry(format!("ledger of {}: {e}", dir.display())))?;
    }
    if remote {
        let publication = crate::publish::publish_dir(
            &ctx.store,
            &dir,
            &spec.output,
            &report.manifest,
            &lease.job_id,
        )
        .map_err(|e| publish_error(&spec.output, e))?;
        tracing::info!(output = %spec.output, bytes = publication.partitions[0].bytes, "index published");
        return Ok(BuildCommit {
            attempt_dir: String::new(),
            result: BuildResult {
                output: spec.output.clone(),
                report,
                partition: None,
                ledger: None,
            },
        });
    }
    Ok(BuildCommit {
        attempt_dir: dir.display().to_string(),
        result: BuildResult {
            output: Path::new(spec.output.strip_prefix("file://").unwrap_or(&spec.output))
                .display()
                .to_string(),
            report,
            partition: None,
            ledger: None,
        },
    })
}

fn publish_error(output: &str, e: crate::publish::PublishError) -> TaskError {
    if e.is_transient() {
        TaskError::Retry(format!("publishing {output}: {e}"))
    } else {
        TaskError::Permanent(format!("publishing {output}: {e}"))
    }
}

/// The publish stage of a partitioned index: one publication listing every
/// partition, written last; the report sums the partitions' own counts.
fn publish_partitions(
    ctx: &TaskContext,
    lease: &Lease,
    payload: &PublishPayload,
) -> Result<BuildResult, TaskError> {
    let spec = &lease.spec;
    let ledger_digest = match spec.signing_key.is_empty() {
        true => None,
        false => Some(write_partitioned_ledger(ctx, lease, payload)?),
    };
    let publication = crate::publish::publish_partitions(
        &ctx.store,
        &spec.output,
        &payload.partitions,
        &lease.job_id,
    )
    .map_err(|e| publish_error(&spec.output, e))?;
    if let Some(digest) = ledger_digest
        && digest != publication.index.digest
    {
        return Err(TaskError::Permanent(format!(
            "{}: the ledger signs index digest {digest}, the publication lists {}",
            crate::ledger::publication_ledger_uri(&spec.output),
            publication.index.digest
        )));
    }
    let mut report = crate::writer::merge_reports(payload.partitions.iter().map(|p| &p.report));
    report.manifest.digest = publication.index.digest.clone();
    Ok(BuildResult {
        output: spec.output.clone(),
        report,
        partition: None,
        ledger: None,
    })
}

/// The ledger of a signed partitioned index, written before
/// `publication.json` (which is last): every partition's signed manifest at
/// `<out>/ledger/<id>.json` and the signed publication manifest over them at
/// `<out>/ledger.json`. Deterministic, so a retry rewrites the same bytes;
/// nothing is written over another job's publication. Returns the index
/// digest it signed.
/// The digest of the base publication's signed manifest, so the new
/// version's manifest names the version it was built on; `None` without a
/// base or when the base was built unsigned.
fn base_ledger_digest(
    ctx: &TaskContext,
    base: &str,
) -> Result<Option<provindex_ledger::Hash>, TaskError> {
    if base.is_empty() {
        return Ok(None);
    }
    let uri = crate::ledger::publication_ledger_uri(base);
    if !ctx
        .store
        .exists(&uri)
        .map_err(|e| TaskError::Retry(format!("reading {uri}: {e}")))?
    {
        return Ok(None);
    }
    let bytes = ctx
        .store
        .get_bytes(&uri)
        .map_err(|e| TaskError::Retry(format!("reading {uri}: {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| TaskError::Permanent(format!("base ledger {uri} is not UTF-8")))?;
    crate::ledger::base_version_digest(&uri, text)
        .map(Some)
        .map_err(|e| TaskError::Permanent(format!("base ledger: {e}")))
}

fn write_partitioned_ledger(
    ctx: &TaskContext,
    lease: &Lease,
    payload: &PublishPayload,
) -> Result<String, TaskError> {
    let spec = &lease.spec;
    let out = &spec.output;
    let mut built: Vec<&BuildResult> = payload.partitions.iter().collect();
    built.sort_by_key(|b| b.report.manifest.partition);
    let mut chunks = Vec::new();
    let mut partitions = Vec::new();
    for (n, result) in built.iter().enumerate() {
        for digest in &result.report.manifest.chunk_digests {
            let bytes = hex::decode(digest)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    TaskError::Permanent(format!("partition {n}: chunk digest {digest:?}"))
                })?;
            chunks.push(bytes);
        }
        let json = result.ledger.as_deref().ok_or_else(|| {
            TaskError::Permanent(format!(
                "partition {n} was built without its ledger manifest"
            ))
        })?;
        let signed = provindex_ledger::wire::signed_partition_from_json(json)
            .map_err(|e| TaskError::Permanent(format!("partition {n} ledger manifest: {e}")))?;
        partitions.push(signed);
    }
    let digest = provindex_index::digest_of_chunks(&chunks);
    if let Some((publication, _)) =
        crate::publish::read_publication(&ctx.store, out).map_err(|e| publish_error(out, e))?
        && publication.job != lease.job_id
    {
        // publish_partitions refuses it, naming what is there.
        return Ok(digest);
    }
    let key = crate::ledger::read_signing_key(Path::new(&spec.signing_key))
        .map_err(|e| TaskError::Permanent(e.to_string()))?;
    let base_digest = base_ledger_digest(ctx, &spec.base)?;
    let signed = crate::ledger::sign_publication_ledger(&partitions, &digest, base_digest, &key)
        .map_err(|e| TaskError::Permanent(format!("ledger of {out}: {e}")))?;
    let put = |uri: String, text: String| {
        ctx.store
            .put(&uri, Bytes::from(text))
            .map_err(|e| TaskError::Retry(format!("writing {uri}: {e}")))
    };
    for (n, partition) in partitions.iter().enumerate() {
        let id = crate::publish::partition_id(n as u32);
        put(
            crate::ledger::partition_ledger_uri(out, &id),
            provindex_ledger::wire::signed_partition_to_json(partition),
        )?;
    }
    put(
        crate::ledger::publication_ledger_uri(out),
        provindex_ledger::wire::signed_publication_to_json(&signed),
    )?;
    Ok(digest)
}
