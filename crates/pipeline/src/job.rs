//! The coordinator's core: jobs planned into staged tasks, leases with
//! fencing tokens, retries, the failure policy and durable job state. No
//! network here: the gRPC adapter (crates/rpc) and the in-process driver
//! ([`crate::local`]) both call these methods; time is passed in (`now_ms`)
//! so the rules are testable without sleeping.
//!
//! # Rules
//!
//! - Stages run one after another: every task of a stage is done (or, for
//!   scan tasks under `skip_failed_inputs`, failed and listed) before the next
//!   stage is planned from the committed results of this one.
//! - [`Coordinator::acquire`] leases the first pending task, with a new
//!   fencing token (increasing, never reused, also across restarts) and
//!   counts an attempt.
//! - A lease lasts `lease_seconds` from the last heartbeat. An expired lease
//!   makes the task pending again (a new attempt gets a new token); calls
//!   carrying the old token get [`JobError::LeaseLost`].
//! - A task whose attempts reach `max_attempts` (or that fails permanently)
//!   fails the job, except scan tasks under `skip_failed_inputs`, which are
//!   listed and left out.
//! - Every change is made durable in `<state>/<job_id>.log` before the call
//!   returns ([`crate::job_log`]: a snapshot, then one small fsynced record
//!   per change), so an acknowledged completion survives a crash and a
//!   restarted coordinator resumes every job. Task payloads and results are
//!   held typed ([`TaskPayload`], [`TaskResult`], tagged with their stage).
//!   A `<job_id>.json` of the previous format (one document rewritten on
//!   every change) is read once and rewritten as a log; one from before typed
//!   payloads (payloads as JSON text) is refused at [`Coordinator::open`]
//!   with an error naming the file, not converted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use provindex_index::partition::Partitioning;

use crate::job_log::JobLog;
use crate::tasks::{
    BuildPayload, BuildResult, ClusterPayload, ComponentsPayload, PublishPayload, RevisitsPayload,
    ScanPayload, ScanResult, TaskPayload, TaskResult,
};

/// Default number of LSH band partitions (cluster tasks).
pub const DEFAULT_PARTITIONS: u32 = 4;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_LEASE_SECONDS: u32 = 30;
/// Read errors kept verbatim in a job's report (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 50;

/// What to build (the `JobSpec` message of coordinator.proto).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JobSpec {
    pub inputs: Vec<String>,
    pub crawl: String,
    pub output: String,
    pub staging: String,
    pub partitions: u32,
    pub built_at: i64,
    pub robots: String,
    pub max_attempts: u32,
    pub skip_failed_inputs: bool,
    pub no_signals: bool,
    pub lease_seconds: u32,
    /// Ed25519 seed file (a path readable by the build worker, like
    /// `robots`); when set the build task signs the index's ledger and writes
    /// `ledger.json` into it ([`crate::ledger`]). Empty: no ledger.
    #[serde(default)]
    pub signing_key: String,
    /// PII key file (issue 19; a path readable by the scan workers): each
    /// personal identifier found is hashed under it into `pii_keys`.
    /// Empty: counts only, no keyed-hash table.
    #[serde(default)]
    pub pii_key: String,
    /// Partitions of the index (issue 17): build tasks, one each; a power
    /// of two up to 256. 0 reads as 1, the unpartitioned index.
    #[serde(default)]
    pub index_partitions: u32,
    /// An incremental build (issue 18): the partitions of the base index
    /// (index directories readable by the scan workers), each rescanned by a
    /// scan task of its own ([`crate::rescan`]). Empty: a build from the
    /// inputs alone. Checked by [`crate::rescan::base_partitions`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_partitions: Vec<String>,
    /// The base index as given (a path or URI); `base_partitions` are its
    /// partitions. Empty: no base.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base: String,
}

impl JobSpec {
    /// Fills defaults and checks the fields; the error names the field.
    pub fn normalized(mut self) -> Result<Self, JobError> {
        let invalid =
            |field: &str, reason: &str| JobError::InvalidSpec(format!("{field}: {reason}"));
        if self.inputs.is_empty() {
            return Err(invalid("inputs", "at least one input is required"));
        }
        if self.output.trim().is_empty() {
            return Err(invalid("output", "an output index directory is required"));
        }
        if self.staging.trim().is_empty() {
            return Err(invalid("staging", "a staging prefix is required"));
        }
        if self.crawl.is_empty() {
            self.crawl = "crawl".into();
        }
        if self.partitions == 0 {
            self.partitions = DEFAULT_PARTITIONS;
        }
        if self.partitions > 4096 {
            return Err(invalid("partitions", "at most 4096"));
        }
        if self.index_partitions == 0 {
            self.index_partitions = 1;
        }
        Partitioning::new(self.index_partitions).map_err(|e| invalid("index_partitions", &e))?;
        if self.max_attempts == 0 {
            self.max_attempts = DEFAULT_MAX_ATTEMPTS;
        }
        if self.lease_seconds == 0 {
            self.lease_seconds = DEFAULT_LEASE_SECONDS;
        }
        self.staging = self.staging.trim_end_matches('/').to_string();
        Ok(self)
    }
}

/// One input object as listed when the job was submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputObject {
    pub uri: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Scan,
    Cluster,
    Components,
    Revisits,
    Build,
    Publish,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Scan,
        Stage::Cluster,
        Stage::Components,
        Stage::Revisits,
        Stage::Build,
        Stage::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Scan => "scan",
            Stage::Cluster => "cluster",
            Stage::Components => "components",
            Stage::Revisits => "revisits",
            Stage::Build => "build",
            Stage::Publish => "publish",
        }
    }

    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Leased {
        worker: String,
        token: u64,
        expires_ms: i64,
    },
    Done,
    /// Attempts exhausted (listed in the job status).
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub stage: Stage,
    /// Stage-specific inputs (its tag is always `stage`).
    pub payload: TaskPayload,
    /// The input object (scan tasks).
    pub input: Option<String>,
    pub input_bytes: u64,
    pub status: TaskStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The committed result (its tag checked against `stage` on completion).
    pub result: Option<TaskResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub spec: JobSpec,
    pub inputs: Vec<InputObject>,
    pub state: JobState,
    pub stage: Stage,
    pub error: Option<String>,
    /// Every task planned so far, stage after stage.
    pub tasks: Vec<Task>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub retries: u32,
    /// The largest fencing token handed out for this job.
    pub last_token: u64,
    /// Where searches over `tasks` may start: not state, rebuilt as needed.
    #[serde(skip)]
    hints: TaskHints,
}

/// Search hints over a job's tasks, so a job of 100,000 inputs costs each
/// lease and completion a lookup, not a walk of every task. Tasks are only
/// ever appended, so positions are stable.
#[derive(Debug, Clone, Default)]
struct TaskHints {
    /// No task before this one is pending.
    pending_from: usize,
    /// No task of the current stage before this one is unfinished.
    unfinished_from: usize,
    /// Task id → position (rebuilt when tasks were appended).
    by_id: std::collections::HashMap<String, usize>,
}

impl Job {
    /// Position of task `task_id`.
    fn task_position(&mut self, task_id: &str) -> Option<usize> {
        if self.hints.by_id.len() != self.tasks.len() {
            self.hints.by_id = self
                .tasks
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id.clone(), i))
                .collect();
        }
        self.hints.by_id.get(task_id).copied()
    }

    /// The first pending task, from the hint on.
    fn next_pending(&mut self) -> Option<usize> {
        let from = self.hints.pending_from.min(self.tasks.len());
        let found = self.tasks[from..]
            .iter()
            .position(|t| t.status == TaskStatus::Pending)
            .map(|i| from + i);
        self.hints.pending_from = found.unwrap_or(self.tasks.len());
        found
    }

    /// Records that task `index` is pending again.
    fn pending_again(&mut self, index: usize) {
        self.hints.pending_from = self.hints.pending_from.min(index);
    }

    /// Whether every task of the current stage is done or failed (from the
    /// hint on: finished tasks stay finished).
    fn stage_finished(&mut self) -> bool {
        let stage = self.stage;
        let from = self.hints.unfinished_from.min(self.tasks.len());
        match self.tasks[from..].iter().position(|t| {
            t.stage == stage && !matches!(t.status, TaskStatus::Done | TaskStatus::Failed)
        }) {
            Some(i) => {
                self.hints.unfinished_from = from + i;
                false
            }
            None => {
                self.hints.unfinished_from = self.tasks.len();
                true
            }
        }
    }
}

/// A task handed to a worker.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job_id: String,
    pub task_id: String,
    pub stage: Stage,
    pub token: u64,
    pub lease_ms: u32,
    pub spec: JobSpec,
    /// Decoded once where the lease is received (its tag is `stage`).
    pub payload: TaskPayload,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid job: {0}")]
    InvalidSpec(String),
    #[error("no job {0:?}")]
    UnknownJob(String),
    #[error("job {0:?} already exists with another spec")]
    JobExists(String),
    #[error("no task {task:?} in job {job:?}")]
    UnknownTask { job: String, task: String },
    #[error("lease of task {task} (token {token}) is no longer current")]
    LeaseLost { task: String, token: u64 },
    #[error("task {task}: bad result: {reason}")]
    BadResult { task: String, reason: String },
    #[error("job state {path}: {reason}")]
    State { path: PathBuf, reason: String },
}

/// Progress of one stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageCounts {
    pub total: u32,
    pub done: u32,
    pub running: u32,
    pub failed: u32,
}

impl Job {
    pub fn stage_counts(&self, stage: Stage) -> StageCounts {
        let mut counts = StageCounts::default();
        for task in self.tasks.iter().filter(|t| t.stage == stage) {
            counts.total += 1;
            match task.status {
                TaskStatus::Done => counts.done += 1,
                TaskStatus::Leased { .. } => counts.running += 1,
                TaskStatus::Failed => counts.failed += 1,
                TaskStatus::Pending => {}
            }
        }
        counts
    }

    /// Input bytes of all scan tasks and of those done.
    pub fn input_bytes(&self) -> (u64, u64) {
        let scans = self.tasks.iter().filter(|t| t.stage == Stage::Scan);
        let total = scans.clone().map(|t| t.input_bytes).sum();
        let done = scans
            .filter(|t| t.status == TaskStatus::Done)
            .map(|t| t.input_bytes)
            .sum();
        (total, done)
    }

    /// Records read by the scan tasks done.
    pub fn records_done(&self) -> u64 {
        self.results(Stage::Scan)
            .filter_map(TaskResult::as_scan)
            .map(|r| r.records)
            .sum()
    }

    /// The build report, once the job succeeded.
    pub fn build_result(&self) -> Option<BuildResult> {
        // A partitioned index's result is its publication's.
        self.results(Stage::Publish)
            .find_map(TaskResult::as_publish)
            .or_else(|| self.results(Stage::Build).find_map(TaskResult::as_build))
            .cloned()
    }

    /// Results of the stage's finished tasks (for progress).
    fn results(&self, stage: Stage) -> impl Iterator<Item = &TaskResult> + '_ {
        self.tasks
            .iter()
            .filter(move |t| t.stage == stage && t.status == TaskStatus::Done)
            .filter_map(|t| t.result.as_ref())
    }

    /// Every finished task's result of the stage, for planning the next one:
    /// a missing result or one of another stage (a damaged job state file) is
    /// an error, never a task silently left out of the plan.
    fn planned_results<T: Clone>(
        &self,
        stage: Stage,
        pick: impl Fn(&TaskResult) -> Option<&T>,
    ) -> Result<Vec<T>, JobError> {
        self.tasks
            .iter()
            .filter(|t| t.stage == stage && t.status == TaskStatus::Done)
            .map(|t| planned_result(t, &pick))
            .collect()
    }

    fn task_mut(&mut self, task_id: &str) -> Result<&mut Task, JobError> {
        let job = self.id.clone();
        self.tasks
            .iter_mut()
            .find(|t| t.id == task_id)
            .ok_or_else(|| JobError::UnknownTask {
                job,
                task: task_id.to_string(),
            })
    }

    fn fail(&mut self, reason: String) {
        self.state = JobState::Failed;
        self.error = Some(reason);
        for task in &mut self.tasks {
            if matches!(task.status, TaskStatus::Leased { .. } | TaskStatus::Pending) {
                task.status = TaskStatus::Failed;
                task.last_error.get_or_insert_with(|| "job failed".into());
            }
        }
    }

    /// Plans the next stage when every task of this one is finished.
    fn advance(&mut self) -> Result<(), JobError> {
        while self.state == JobState::Running {
            if !self.stage_finished() {
                return Ok(());
            }
            let next = match self.stage {
                Stage::Scan => {
                    let scans = self.planned_results(Stage::Scan, TaskResult::as_scan)?;
                    let partitions = self.spec.partitions;
                    let mut tasks = Vec::new();
                    for partition in 0..partitions {
                        let band_runs = scans
                            .iter()
                            .flat_map(|s| {
                                s.band_runs
                                    .get(partition as usize)
                                    .cloned()
                                    .unwrap_or_default()
                            })
                            .collect();
                        tasks.push(new_task(
                            format!("cluster-{partition:04}"),
                            Stage::Cluster,
                            TaskPayload::Cluster(ClusterPayload {
                                partition,
                                band_runs,
                            }),
                        ));
                    }
                    (Stage::Cluster, tasks)
                }
                Stage::Cluster => {
                    let clusters = self.planned_results(Stage::Cluster, TaskResult::as_cluster)?;
                    let payload = ComponentsPayload {
                        edge_runs: clusters.iter().flat_map(|c| c.edge_runs.clone()).collect(),
                        node_runs: clusters.iter().flat_map(|c| c.node_runs.clone()).collect(),
                    };
                    (
                        Stage::Components,
                        vec![new_task(
                            "components".into(),
                            Stage::Components,
                            TaskPayload::Components(payload),
                        )],
                    )
                }
                Stage::Components => {
                    let scans = self.planned_results(Stage::Scan, TaskResult::as_scan)?;
                    let payload = RevisitsPayload {
                        index_partitions: self.spec.index_partitions.max(1),
                        revisit_runs: scans.iter().flat_map(|s| s.revisit_runs.clone()).collect(),
                        id_runs: scans.iter().flat_map(|s| s.id_runs.clone()).collect(),
                        digest_runs: scans.iter().flat_map(|s| s.digest_runs.clone()).collect(),
                        target_runs: scans.iter().flat_map(|s| s.target_runs.clone()).collect(),
                    };
                    (
                        Stage::Revisits,
                        vec![new_task(
                            "revisits".into(),
                            Stage::Revisits,
                            TaskPayload::Revisits(payload),
                        )],
                    )
                }
                Stage::Revisits => {
                    let components = self
                        .planned_results(Stage::Components, TaskResult::as_components)?
                        .into_iter()
                        .next();
                    let revisits = self
                        .planned_results(Stage::Revisits, TaskResult::as_revisits)?
                        .into_iter()
                        .next();
                    let partitions = self.spec.index_partitions.max(1);
                    let mut shared = BuildPayload {
                        partition: 0,
                        index_partitions: partitions,
                        capture_runs: Vec::new(),
                        revisit_runs: Vec::new(),
                        revisits: revisits.as_ref().map(|r| r.counts).unwrap_or_default(),
                        site_file_runs: Vec::new(),
                        cluster_runs: components.map(|c| c.cluster_runs).unwrap_or_default(),
                        inputs: Vec::new(),
                        read_errors: 0,
                        errors: Vec::new(),
                        skipped_inputs: Vec::new(),
                        warcinfo: Vec::new(),
                    };
                    let mut warcinfo = Vec::new();
                    let mut capture_runs = vec![Vec::new(); partitions as usize];
                    for task in self.tasks.iter().filter(|t| t.stage == Stage::Scan) {
                        let input = task.input.clone().unwrap_or_default();
                        match &task.status {
                            TaskStatus::Done => {
                                let scan: ScanResult = planned_result(task, TaskResult::as_scan)?;
                                for (p, runs) in scan.capture_runs.into_iter().enumerate() {
                                    if let Some(slot) = capture_runs.get_mut(p) {
                                        slot.extend(runs);
                                    }
                                }
                                shared.site_file_runs.extend(scan.site_file_runs);
                                shared.read_errors += scan.read_errors;
                                for error in scan.errors {
                                    if shared.errors.len() < MAX_REPORTED_ERRORS {
                                        shared.errors.push(error);
                                    }
                                }
                                warcinfo
                                    .extend(scan.warcinfo.into_iter().map(|w| (input.clone(), w)));
                                // A base's records keep their inputs (every base
                                // partition has them all: grouping dedups).
                                for group in scan.base_warcinfo {
                                    for base_input in group.inputs {
                                        warcinfo.push((base_input, group.fields.clone()));
                                    }
                                }
                                if scan.base_inputs.is_empty() {
                                    shared.inputs.push(input);
                                } else {
                                    shared.inputs.extend(scan.base_inputs);
                                }
                            }
                            _ => shared.skipped_inputs.push(format!(
                                "{input}: {}",
                                task.last_error.as_deref().unwrap_or("failed")
                            )),
                        }
                    }
                    shared.warcinfo = provindex_index::InputWarcinfo::group(warcinfo);
                    // An incremental build lists the base's inputs with the new ones.
                    shared.inputs.sort();
                    shared.inputs.dedup();
                    let resolved = revisits.map(|r| r.resolved_runs).unwrap_or_default();
                    let tasks = capture_runs
                        .into_iter()
                        .enumerate()
                        .map(|(p, runs)| {
                            let mut payload = shared.clone();
                            payload.partition = p as u32;
                            payload.capture_runs = runs;
                            payload.revisit_runs = resolved.get(p).cloned().unwrap_or_default();
                            let id = if partitions == 1 {
                                "build".to_string()
                            } else {
                                format!("build-{p:04}")
                            };
                            new_task(id, Stage::Build, TaskPayload::Build(payload))
                        })
                        .collect();
                    (Stage::Build, tasks)
                }
                Stage::Build if self.spec.index_partitions > 1 => {
                    let built = self.planned_results(Stage::Build, TaskResult::as_build)?;
                    (
                        Stage::Publish,
                        vec![new_task(
                            "publish".into(),
                            Stage::Publish,
                            TaskPayload::Publish(PublishPayload { partitions: built }),
                        )],
                    )
                }
                Stage::Build | Stage::Publish => {
                    self.state = JobState::Succeeded;
                    return Ok(());
                }
            };
            self.stage = next.0;
            self.tasks.extend(next.1);
        }
        Ok(())
    }
}

/// A finished task's result as the stage's type: missing or of another stage
/// is an error naming the task.
fn planned_result<T: Clone>(
    task: &Task,
    pick: impl Fn(&TaskResult) -> Option<&T>,
) -> Result<T, JobError> {
    let result = task.result.as_ref().ok_or_else(|| JobError::BadResult {
        task: task.id.clone(),
        reason: "missing".into(),
    })?;
    result.check_stage(&task.id, task.stage)?;
    pick(result).cloned().ok_or_else(|| JobError::BadResult {
        task: task.id.clone(),
        reason: format!(
            "a {} result where planning needs another stage's",
            result.stage().as_str()
        ),
    })
}

fn new_task(id: String, stage: Stage, payload: TaskPayload) -> Task {
    debug_assert_eq!(payload.stage(), stage);
    Task {
        id,
        stage,
        payload,
        input: None,
        input_bytes: 0,
        status: TaskStatus::Pending,
        attempts: 0,
        last_error: None,
        result: None,
    }
}

/// What happened to tasks since this coordinator process started (its
/// metrics; not job state, so not persisted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoordinatorEvents {
    /// Failed attempts and expired leases whose task was queued again
    /// (the sum of the jobs' `retries` since start).
    pub task_retries: u64,
    /// Leases that expired (a worker stopped heartbeating).
    pub lease_expiries: u64,
}

/// Jobs, their tasks and leases.
pub struct Coordinator {
    state_dir: Option<PathBuf>,
    /// Each job's log in `state_dir`, as far as written.
    logs: BTreeMap<String, JobLog>,
    /// Finished jobs whose staging was handed out for removal.
    staging_removed: BTreeSet<String>,
    jobs: BTreeMap<String, Job>,
    next_token: u64,
    /// Bumped on every change (for watchers).
    generation: u64,
    /// No lease expires before this time (a hint: heartbeats only extend
    /// leases), so most calls skip the walk over every leased task.
    next_expiry_ms: i64,
    events: CoordinatorEvents,
}

impl Coordinator {
    /// A coordinator whose job state lives only in memory (one-process builds).
    pub fn in_memory() -> Self {
        Coordinator {
            state_dir: None,
            logs: BTreeMap::new(),
            staging_removed: BTreeSet::new(),
            jobs: BTreeMap::new(),
            next_token: 1,
            generation: 0,
            // Unknown until the first walk (resumed jobs may hold leases).
            next_expiry_ms: i64::MIN,
            events: CoordinatorEvents::default(),
        }
    }

    /// A coordinator with durable state in `dir`: every job found there is
    /// resumed (leases stay valid until they expire, so workers that kept
    /// working across the restart can still complete).
    pub fn open(dir: &Path) -> Result<Self, JobError> {
        let state_error = |reason: String| JobError::State {
            path: dir.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| state_error(e.to_string()))?;
        let mut coordinator = Coordinator {
            state_dir: Some(dir.to_path_buf()),
            ..Coordinator::in_memory()
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| state_error(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        let named = |path: &Path, extension: &str| {
            path.extension().is_some_and(|x| x == extension)
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        };
        for path in entries.iter().filter(|p| named(p, "log")) {
            let (job, log) = JobLog::replay(path)?;
            coordinator.resume(job, log);
        }
        // Job state of the previous format: read once, rewritten as a log.
        for path in entries.iter().filter(|p| named(p, "json")) {
            let job = read_json_state(path)?;
            if coordinator.jobs.contains_key(&job.id) {
                tracing::warn!(path = %path.display(), "job state superseded by its log: ignored");
                continue;
            }
            let log = JobLog::write_snapshot(dir, &job)?;
            std::fs::remove_file(path).map_err(|e| JobError::State {
                path: path.clone(),
                reason: format!("removing it once rewritten as a log: {e}"),
            })?;
            coordinator.resume(job, log);
        }
        // A snapshot interrupted by a crash (its log is still whole).
        for path in entries.iter().filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && p.extension().is_some_and(|x| x == "tmp")
        }) {
            let _ = std::fs::remove_file(path);
        }
        Ok(coordinator)
    }

    fn resume(&mut self, job: Job, log: JobLog) {
        self.next_token = self.next_token.max(job.last_token + 1);
        self.logs.insert(job.id.clone(), log);
        self.jobs.insert(job.id.clone(), job);
    }

    /// The staging prefixes (`<staging>/<job_id>`) of jobs finished since
    /// the last call, succeeded or failed, for the caller to remove: nothing
    /// reads them any more. Each is handed out once per process; removal is
    /// idempotent, so a restarted coordinator hands them out again.
    pub fn take_finished_staging(&mut self) -> Vec<String> {
        let mut prefixes = Vec::new();
        for job in self.jobs.values() {
            if job.state != JobState::Running && self.staging_removed.insert(job.id.clone()) {
                prefixes.push(format!("{}/{}", job.spec.staging, job.id));
            }
        }
        prefixes
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn job(&self, job_id: &str) -> Result<&Job, JobError> {
        self.jobs
            .get(job_id)
            .ok_or_else(|| JobError::UnknownJob(job_id.to_string()))
    }

    pub fn events(&self) -> CoordinatorEvents {
        self.events
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values()
    }

    /// Plans a job over `inputs` (listed by the caller, sorted). Submitting
    /// an existing id with the same spec returns it unchanged.
    pub fn submit(
        &mut self,
        job_id: &str,
        spec: JobSpec,
        inputs: Vec<InputObject>,
        now_ms: i64,
    ) -> Result<String, JobError> {
        let spec = spec.normalized()?;
        if job_id.is_empty()
            || job_id.len() > 64
            || !job_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(JobError::InvalidSpec(format!(
                "job_id: {job_id:?} must be 1-64 characters of [a-z0-9-]"
            )));
        }
        if let Some(existing) = self.jobs.get(job_id) {
            return if existing.spec == spec {
                Ok(job_id.to_string())
            } else {
                Err(JobError::JobExists(job_id.to_string()))
            };
        }
        if inputs.is_empty() {
            return Err(JobError::InvalidSpec("inputs: no input objects".into()));
        }
        let tasks = inputs
            .iter()
            .enumerate()
            .map(|(ordinal, input)| {
                let mut task = new_task(
                    format!("scan-{ordinal:05}"),
                    Stage::Scan,
                    TaskPayload::Scan(ScanPayload {
                        input: input.uri.clone(),
                        ordinal: ordinal as u32,
                        partitions: spec.partitions,
                        index_partitions: spec.index_partitions,
                        base: false,
                    }),
                );
                task.input = Some(input.uri.clone());
                task.input_bytes = input.size;
                task
            })
            .chain(spec.base_partitions.iter().enumerate().map(|(p, dir)| {
                let mut task = new_task(
                    format!("rescan-{p:04}"),
                    Stage::Scan,
                    TaskPayload::Scan(ScanPayload {
                        input: dir.clone(),
                        ordinal: 0,
                        partitions: spec.partitions,
                        index_partitions: spec.index_partitions,
                        base: true,
                    }),
                );
                task.input = Some(dir.clone());
                task
            }))
            .collect();
        let job = Job {
            id: job_id.to_string(),
            spec,
            inputs,
            state: JobState::Running,
            stage: Stage::Scan,
            error: None,
            tasks,
            created_ms: now_ms,
            updated_ms: now_ms,
            retries: 0,
            last_token: 0,
            hints: TaskHints::default(),
        };
        self.jobs.insert(job_id.to_string(), job);
        self.save(job_id, now_ms, &[])?;
        Ok(job_id.to_string())
    }

    /// Re-queues expired leases (a lost worker), failing tasks whose attempts
    /// are exhausted.
    pub fn expire(&mut self, now_ms: i64) -> Result<(), JobError> {
        // A lease expires when `expires_ms < now_ms`.
        if now_ms <= self.next_expiry_ms {
            return Ok(());
        }
        let mut next_expiry = i64::MAX;
        let mut changed = Vec::new();
        for job in self.jobs.values_mut() {
            if job.state != JobState::Running {
                continue;
            }
            let mut exhausted = None;
            let mut expired = Vec::new();
            for (index, task) in job.tasks.iter_mut().enumerate() {
                if let TaskStatus::Leased { expires_ms, .. } = &task.status
                    && *expires_ms >= now_ms
                {
                    next_expiry = next_expiry.min(*expires_ms);
                }
                if let TaskStatus::Leased {
                    worker, expires_ms, ..
                } = &task.status
                    && *expires_ms < now_ms
                {
                    let reason = format!("lease expired: worker {worker} stopped heartbeating");
                    tracing::warn!(job = %job.id, task = %task.id, %reason);
                    task.last_error = Some(reason);
                    task.status = TaskStatus::Pending;
                    job.retries += 1;
                    self.events.task_retries += 1;
                    self.events.lease_expiries += 1;
                    expired.push(index);
                    job.hints.pending_from = job.hints.pending_from.min(index);
                    if task.attempts >= job.spec.max_attempts && exhausted.is_none() {
                        exhausted = Some(task.id.clone());
                    }
                }
            }
            if let Some(task_id) = exhausted {
                exhaust(job, &task_id)?;
            }
            if !expired.is_empty() {
                changed.push((job.id.clone(), expired));
            }
        }
        self.next_expiry_ms = next_expiry;
        for (job_id, tasks) in changed {
            self.save(&job_id, now_ms, &tasks)?;
        }
        Ok(())
    }

    /// Leases the first pending task of the oldest running job.
    pub fn acquire(&mut self, worker: &str, now_ms: i64) -> Result<Option<Lease>, JobError> {
        self.expire(now_ms)?;
        let token = self.next_token;
        let mut leased = None;
        let mut leased_index = 0;
        for job in self.jobs.values_mut() {
            if job.state != JobState::Running {
                continue;
            }
            let lease_ms = job.spec.lease_seconds.saturating_mul(1000);
            if let Some(index) = job.next_pending() {
                leased_index = index;
                let task = &mut job.tasks[index];
                task.attempts += 1;
                task.status = TaskStatus::Leased {
                    worker: worker.to_string(),
                    token,
                    expires_ms: now_ms + i64::from(lease_ms),
                };
                self.next_expiry_ms = self.next_expiry_ms.min(now_ms + i64::from(lease_ms));
                job.last_token = token;
                leased = Some(Lease {
                    job_id: job.id.clone(),
                    task_id: task.id.clone(),
                    stage: task.stage,
                    token,
                    lease_ms,
                    spec: job.spec.clone(),
                    payload: task.payload.clone(),
                });
                break;
            }
        }
        if let Some(lease) = &leased {
            self.next_token += 1;
            self.save(&lease.job_id, now_ms, &[leased_index])?;
        }
        Ok(leased)
    }

    fn leased_task<'a>(
        &'a mut self,
        job_id: &str,
        task_id: &str,
        token: u64,
    ) -> Result<(&'a mut Job, usize), JobError> {
        let job = self
            .jobs
            .get_mut(job_id)
            .ok_or_else(|| JobError::UnknownJob(job_id.to_string()))?;
        let index = job
            .task_position(task_id)
            .ok_or_else(|| JobError::UnknownTask {
                job: job_id.to_string(),
                task: task_id.to_string(),
            })?;
        match &job.tasks[index].status {
            TaskStatus::Leased { token: current, .. } if *current == token => Ok((job, index)),
            _ => Err(JobError::LeaseLost {
                task: task_id.to_string(),
                token,
            }),
        }
    }

    /// Extends a lease; returns its length in milliseconds.
    pub fn heartbeat(
        &mut self,
        job_id: &str,
        task_id: &str,
        token: u64,
        now_ms: i64,
    ) -> Result<u32, JobError> {
        let (job, index) = self.leased_task(job_id, task_id, token)?;
        let lease_ms = job.spec.lease_seconds.saturating_mul(1000);
        if let TaskStatus::Leased { expires_ms, .. } = &mut job.tasks[index].status {
            *expires_ms = now_ms + i64::from(lease_ms);
        }
        // Heartbeats are not persisted: after a restart a lease lasts at most
        // one more lease period from its last saved expiry, which is safe.
        self.generation += 1;
        Ok(lease_ms)
    }

    /// Records a committed task and plans the next stage when this one is done.
    pub fn complete(
        &mut self,
        job_id: &str,
        task_id: &str,
        token: u64,
        result: TaskResult,
        now_ms: i64,
    ) -> Result<(), JobError> {
        let (job, index) = self.leased_task(job_id, task_id, token)?;
        let task = &mut job.tasks[index];
        result.check_stage(task_id, task.stage)?;
        task.status = TaskStatus::Done;
        task.result = Some(result);
        task.last_error = None;
        job.advance()?;
        self.save(job_id, now_ms, &[index])
    }

    /// Records a failed attempt: the task is retried, or its failure applies
    /// the job's policy once its attempts are exhausted (at once if `permanent`).
    pub fn fail(
        &mut self,
        job_id: &str,
        task_id: &str,
        token: u64,
        reason: &str,
        permanent: bool,
        now_ms: i64,
    ) -> Result<(), JobError> {
        let (job, index) = self.leased_task(job_id, task_id, token)?;
        job.pending_again(index);
        let task = &mut job.tasks[index];
        task.last_error = Some(reason.to_string());
        task.status = TaskStatus::Pending;
        if permanent || task.attempts >= job.spec.max_attempts {
            let task_id = task.id.clone();
            exhaust(job, &task_id)?;
        } else {
            job.retries += 1;
            self.events.task_retries += 1;
        }
        self.save(job_id, now_ms, &[index])
    }

    /// Makes a change durable before it is acknowledged: `changed` lists
    /// the positions of the tasks it touched ([`JobLog::record`] writes a
    /// snapshot instead when the job's stage, state or task list changed).
    fn save(&mut self, job_id: &str, now_ms: i64, changed: &[usize]) -> Result<(), JobError> {
        self.generation += 1;
        let Some(job) = self.jobs.get_mut(job_id) else {
            return Ok(());
        };
        job.updated_ms = now_ms;
        let Some(dir) = &self.state_dir else {
            return Ok(());
        };
        match self.logs.get_mut(job_id) {
            Some(log) => log.record(dir, job, changed),
            None => {
                let log = JobLog::write_snapshot(dir, job)?;
                self.logs.insert(job_id.to_string(), log);
                Ok(())
            }
        }
    }
}

/// A job state file of the format before issue 17 (one JSON document).
fn read_json_state(path: &Path) -> Result<Job, JobError> {
    let bytes = std::fs::read(path).map_err(|e| JobError::State {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| JobError::State {
        path: path.to_path_buf(),
        reason: if is_untyped_state(&bytes) {
            format!(
                "job state from before typed task payloads and results (issue 15) \
                 is not read: finish the job with the previous version or remove \
                 this file and resubmit the job ({e})"
            )
        } else {
            format!("unreadable job state: {e}")
        },
    })
}

/// Whether a job state file holds task payloads as JSON text (the format
/// before issue 15), which is deliberately not read: job state is transient.
fn is_untyped_state(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|state| {
        state["tasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|t| t["payload"].is_string()))
    })
}

/// A task that will not be retried: listed (scan under `skip_failed_inputs`)
/// or the job's failure.
fn exhaust(job: &mut Job, task_id: &str) -> Result<(), JobError> {
    let task = job.task_mut(task_id)?;
    task.status = TaskStatus::Failed;
    let reason = format!(
        "task {} {}failed after {} attempt(s): {}",
        task.id,
        task.input
            .as_deref()
            .map(|i| format!("(input {i}) "))
            .unwrap_or_default(),
        task.attempts,
        task.last_error.as_deref().unwrap_or("unknown error")
    );
    if task.stage == Stage::Scan && job.spec.skip_failed_inputs {
        tracing::warn!(job = %job.id, %reason, "input skipped");
        job.advance()
    } else {
        job.fail(reason);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(skip: bool) -> JobSpec {
        JobSpec {
            inputs: vec!["/in".into()],
            output: "/out".into(),
            staging: "/staging".into(),
            partitions: 2,
            lease_seconds: 10,
            max_attempts: 2,
            skip_failed_inputs: skip,
            ..JobSpec::default()
        }
    }

    fn inputs(n: usize) -> Vec<InputObject> {
        (0..n)
            .map(|i| InputObject {
                uri: format!("/in/{i}.warc.gz"),
                size: 100,
            })
            .collect()
    }

    fn scan_result() -> TaskResult {
        TaskResult::Scan(Box::new(ScanResult {
            attempt: "a".into(),
            capture_runs: vec![vec!["c".into()]],
            band_runs: vec![vec!["b0".into()], vec![]],
            records: 3,
            contents: 2,
            ..ScanResult::default()
        }))
    }

    fn cluster_result() -> TaskResult {
        TaskResult::Cluster(crate::tasks::ClusterResult {
            attempt: "a".into(),
            edge_runs: vec![],
            node_runs: vec![],
            shared_buckets: 0,
        })
    }

    #[test]
    fn an_expired_lease_is_reissued_with_a_new_token_and_the_old_one_is_refused() {
        let mut c = Coordinator::in_memory();
        c.submit("j", spec(false), inputs(1), 0).unwrap();
        let first = c.acquire("w1", 0).unwrap().unwrap();
        assert!(c.acquire("w2", 1).unwrap().is_none(), "one task, leased");
        c.heartbeat("j", &first.task_id, first.token, 5_000)
            .unwrap();
        // Heartbeat moved the expiry to 15 000.
        assert!(c.acquire("w2", 14_000).unwrap().is_none());
        let second = c.acquire("w2", 15_001).unwrap().unwrap();
        assert_eq!(second.task_id, first.task_id);
        assert!(second.token > first.token);
        assert!(matches!(
            c.complete("j", &first.task_id, first.token, scan_result(), 15_002),
            Err(JobError::LeaseLost { .. })
        ));
        assert!(matches!(
            c.heartbeat("j", &first.task_id, first.token, 15_002),
            Err(JobError::LeaseLost { .. })
        ));
        c.complete("j", &second.task_id, second.token, scan_result(), 15_003)
            .unwrap();
        let job = c.job("j").unwrap();
        assert_eq!(job.retries, 1);
        assert_eq!(job.stage, Stage::Cluster);
        assert_eq!(
            job.stage_counts(Stage::Cluster).total,
            2,
            "one per partition"
        );
        match &job.tasks.last().unwrap().payload {
            TaskPayload::Cluster(cluster) => assert_eq!(cluster.partition, 1),
            other => panic!("a cluster task holds a cluster payload: {other:?}"),
        }
    }

    #[test]
    fn an_unreadable_finished_result_stops_planning_instead_of_dropping_the_task() {
        let mut job = {
            let mut c = Coordinator::in_memory();
            c.submit("j", spec(false), inputs(2), 0).unwrap();
            let first = c.acquire("w", 0).unwrap().unwrap();
            c.complete("j", &first.task_id, first.token, scan_result(), 1)
                .unwrap();
            c.job("j").unwrap().clone()
        };
        // As if the job state file had been damaged: one finished scan's
        // result no longer decodes; the other scan finishes after.
        job.tasks[0].result = Some(cluster_result());
        job.tasks[1].status = TaskStatus::Done;
        job.tasks[1].result = Some(scan_result());
        match job.advance() {
            Err(JobError::BadResult { task, .. }) => assert_eq!(task, job.tasks[0].id),
            other => panic!("planning must refuse the damaged result: {other:?}"),
        }
        assert_eq!(job.stage, Stage::Scan, "nothing planned from a partial set");
    }

    #[test]
    fn a_result_of_another_stage_or_garbage_is_refused_naming_the_task() {
        let mut c = Coordinator::in_memory();
        c.submit("j", spec(false), inputs(1), 0).unwrap();
        let lease = c.acquire("w", 0).unwrap().unwrap();
        match c.complete("j", &lease.task_id, lease.token, cluster_result(), 1) {
            Err(error @ JobError::BadResult { .. }) => {
                let message = error.to_string();
                assert!(
                    message.contains("scan-00000")
                        && message.contains("a cluster result for a scan task"),
                    "{message}"
                );
            }
            other => panic!("a cluster result for a scan task must be refused: {other:?}"),
        }
        for garbage in ["not json", "{\"stage\": \"scan\"}", "{\"attempt\": \"a\"}"] {
            match TaskResult::from_json("scan-00000", garbage) {
                Err(error @ JobError::BadResult { .. }) => {
                    assert!(error.to_string().contains("task scan-00000"), "{error}")
                }
                other => panic!("{garbage:?} must be refused: {other:?}"),
            }
        }
        let job = c.job("j").unwrap();
        assert_eq!(job.stage_counts(Stage::Scan).done, 0, "nothing recorded");
        // The lease still stands: the right result is accepted.
        let wire = scan_result().to_json();
        let decoded = TaskResult::from_json(&lease.task_id, &wire).unwrap();
        c.complete("j", &lease.task_id, lease.token, decoded, 2)
            .unwrap();
        assert_eq!(c.job("j").unwrap().stage, Stage::Cluster);
    }

    #[test]
    fn a_payload_of_another_stage_or_garbage_is_refused_naming_the_task() {
        let mut c = Coordinator::in_memory();
        c.submit("j", spec(false), inputs(1), 0).unwrap();
        let lease = c.acquire("w", 0).unwrap().unwrap();
        let wire = lease.payload.to_json();
        assert!(matches!(
            TaskPayload::from_json(&lease.task_id, Stage::Scan, &wire),
            Ok(TaskPayload::Scan(_))
        ));
        let error = TaskPayload::from_json(&lease.task_id, Stage::Cluster, &wire).unwrap_err();
        assert!(
            error.contains("scan-00000") && error.contains("a scan payload for a cluster task"),
            "{error}"
        );
        let error = TaskPayload::from_json("scan-00000", Stage::Scan, "{]").unwrap_err();
        assert!(
            error.contains("task scan-00000: undecodable payload"),
            "{error}"
        );
    }

    #[test]
    fn a_job_state_file_of_the_untyped_format_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        let mut state = {
            let mut c = Coordinator::in_memory();
            c.submit("old", spec(false), inputs(1), 0).unwrap();
            serde_json::to_value(c.job("old").unwrap()).unwrap()
        };
        state["tasks"][0]["payload"] = serde_json::Value::String(
            "{\"input\":\"/in/0.warc.gz\",\"ordinal\":0,\"partitions\":2}".into(),
        );
        std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
        let error = Coordinator::open(dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(
            error.contains("old.json") && error.contains("before typed task payloads"),
            "{error}"
        );
    }

    #[test]
    fn exhausted_attempts_fail_the_job_or_skip_the_input() {
        for skip in [false, true] {
            let mut c = Coordinator::in_memory();
            c.submit("j", spec(skip), inputs(2), 0).unwrap();
            for attempt in 0..2 {
                let lease = c.acquire("w", attempt).unwrap().unwrap();
                assert_eq!(lease.task_id, "scan-00000");
                c.fail("j", &lease.task_id, lease.token, "boom", false, attempt)
                    .unwrap();
            }
            let job = c.job("j").unwrap();
            if skip {
                assert_eq!(job.state, JobState::Running);
                let other = c.acquire("w", 10).unwrap().unwrap();
                assert_eq!(other.task_id, "scan-00001");
                c.complete("j", "scan-00001", other.token, scan_result(), 11)
                    .unwrap();
                assert_eq!(c.job("j").unwrap().stage, Stage::Cluster);
            } else {
                assert_eq!(job.state, JobState::Failed);
                let error = job.error.as_deref().unwrap();
                assert!(
                    error.contains("/in/0.warc.gz") && error.contains("boom"),
                    "{error}"
                );
                assert!(
                    c.acquire("w", 10).unwrap().is_none(),
                    "a failed job leases nothing"
                );
            }
        }
    }

    #[test]
    fn a_permanent_failure_is_not_retried() {
        let mut c = Coordinator::in_memory();
        c.submit("j", spec(false), inputs(1), 0).unwrap();
        let lease = c.acquire("w", 0).unwrap().unwrap();
        c.fail("j", &lease.task_id, lease.token, "no such object", true, 1)
            .unwrap();
        assert_eq!(c.job("j").unwrap().state, JobState::Failed);
    }

    #[test]
    fn a_restarted_coordinator_resumes_jobs_and_keeps_tokens_increasing() {
        let dir = tempfile::tempdir().unwrap();
        let (task, token) = {
            let mut c = Coordinator::open(dir.path()).unwrap();
            c.submit("j", spec(false), inputs(2), 0).unwrap();
            let a = c.acquire("w", 0).unwrap().unwrap();
            c.complete("j", &a.task_id, a.token, scan_result(), 1)
                .unwrap();
            let b = c.acquire("w", 2).unwrap().unwrap();
            (b.task_id, b.token)
        };
        let mut c = Coordinator::open(dir.path()).unwrap();
        let job = c.job("j").unwrap();
        assert_eq!(job.stage_counts(Stage::Scan).done, 1);
        // The lease survives the restart: its worker can still complete.
        c.complete("j", &task, token, scan_result(), 3).unwrap();
        let next = c.acquire("w", 4).unwrap().unwrap();
        assert!(next.token > token);
        assert_eq!(next.stage, Stage::Cluster);
        // Resubmitting the same job is idempotent; another spec is refused.
        c.submit("j", spec(false), inputs(2), 5).unwrap();
        assert!(matches!(
            c.submit("j", spec(true), inputs(2), 5),
            Err(JobError::JobExists(_))
        ));
    }

    #[test]
    fn bad_specs_name_the_field() {
        let mut c = Coordinator::in_memory();
        let mut bad = spec(false);
        bad.output.clear();
        let error = c.submit("j", bad, inputs(1), 0).unwrap_err().to_string();
        assert!(error.contains("output"), "{error}");
        let error = c
            .submit("J!", spec(false), inputs(1), 0)
            .unwrap_err()
            .to_string();
        assert!(error.contains("job_id"), "{error}");
    }

    /// Every job of `c` as JSON, for comparing a coordinator with its replay.
    fn jobs_json(c: &Coordinator) -> serde_json::Value {
        serde_json::to_value(c.jobs().collect::<Vec<_>>()).unwrap()
    }

    fn log_len(dir: &Path, job: &str) -> u64 {
        std::fs::metadata(dir.join(format!("{job}.log")))
            .unwrap()
            .len()
    }

    #[test]
    fn a_reopened_coordinator_replays_every_change_of_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Coordinator::open(dir.path()).unwrap();
        let check = |c: &Coordinator, step: &str| {
            let reopened = Coordinator::open(dir.path()).unwrap();
            assert_eq!(jobs_json(&reopened), jobs_json(c), "after {step}");
            assert_eq!(reopened.next_token, c.next_token, "after {step}");
        };
        c.submit("j", spec(true), inputs(3), 0).unwrap();
        c.submit("k", spec(false), inputs(1), 0).unwrap();
        check(&c, "submit");
        let a = c.acquire("w1", 1).unwrap().unwrap();
        check(&c, "acquire");
        c.complete("j", &a.task_id, a.token, scan_result(), 2)
            .unwrap();
        check(&c, "complete");
        let b = c.acquire("w2", 3).unwrap().unwrap();
        c.fail("j", &b.task_id, b.token, "boom", false, 4).unwrap();
        check(&c, "a retried failure");
        let b = c.acquire("w2", 5).unwrap().unwrap();
        let d = c.acquire("w3", 5).unwrap().unwrap();
        // Both leases expire: one task retried, one exhausted and skipped.
        c.expire(5 + 10_001).unwrap();
        check(&c, "expiry");
        assert_eq!(c.job("j").unwrap().stage_counts(Stage::Scan).failed, 1);
        let d2 = c.acquire("w3", 20_000).unwrap().unwrap();
        assert_eq!(d2.task_id, d.task_id);
        assert!(d2.token > b.token);
        c.complete("j", &d2.task_id, d2.token, scan_result(), 20_001)
            .unwrap();
        check(&c, "the stage's last completion (a new stage planned)");
        assert_eq!(c.job("j").unwrap().stage, Stage::Cluster);
        let k = c.acquire("w1", 20_002).unwrap().unwrap();
        assert_eq!(k.job_id, "j", "the oldest running job first");
        c.fail("j", &k.task_id, k.token, "gone", true, 20_003)
            .unwrap();
        check(&c, "a permanent failure (the job failed)");
        assert_eq!(c.job("j").unwrap().state, JobState::Failed);
    }

    #[test]
    fn a_change_appends_a_record_of_its_task_not_the_job() {
        let appended = |n: usize| {
            let dir = tempfile::tempdir().unwrap();
            let mut c = Coordinator::open(dir.path()).unwrap();
            c.submit("j", spec(false), inputs(n), 0).unwrap();
            let submitted = log_len(dir.path(), "j");
            let lease = c.acquire("w", 1).unwrap().unwrap();
            let leased = log_len(dir.path(), "j");
            c.complete("j", &lease.task_id, lease.token, scan_result(), 2)
                .unwrap();
            (
                submitted,
                leased - submitted,
                log_len(dir.path(), "j") - leased,
            )
        };
        let (small_job, small_lease, small_complete) = appended(2);
        let (large_job, large_lease, large_complete) = appended(2_000);
        assert!(large_job > 200 * small_job, "{large_job} vs {small_job}");
        assert_eq!(large_lease, small_lease, "a lease record of one task");
        assert_eq!(large_complete, small_complete, "a completion of one task");
        assert!(small_lease < 2_000 && small_complete < 2_000);
    }

    #[test]
    fn a_torn_final_record_is_dropped_and_the_job_resumes_before_it() {
        // Each way a crash mid-append can leave the end of the log.
        type Tear = fn(&[u8]) -> Vec<u8>;
        let tears: [(&str, Tear); 5] = [
            ("part of the header", |frame| frame[..7].to_vec()),
            ("part of the payload", |frame| {
                frame[..frame.len() - 9].to_vec()
            }),
            ("a bad checksum", |frame| {
                let mut torn = frame.to_vec();
                *torn.last_mut().unwrap() ^= 0x55;
                torn
            }),
            ("zeros", |frame| vec![0; frame.len()]),
            ("the header and zeros", |frame| {
                let mut torn = frame[..16].to_vec();
                torn.resize(frame.len(), 0);
                torn
            }),
        ];
        for (name, tear) in tears {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("j.log");
            let mut c = Coordinator::open(dir.path()).unwrap();
            c.submit("j", spec(false), inputs(2), 0).unwrap();
            let a = c.acquire("w", 1).unwrap().unwrap();
            c.complete("j", &a.task_id, a.token, scan_result(), 2)
                .unwrap();
            let acknowledged = jobs_json(&c);
            let before = std::fs::read(&path).unwrap();
            let b = c.acquire("w", 3).unwrap().unwrap();
            let after = std::fs::read(&path).unwrap();
            let frame = &after[before.len()..];
            let mut torn = before.clone();
            torn.extend(tear(frame));
            std::fs::write(&path, &torn).unwrap();

            let mut c = Coordinator::open(dir.path()).unwrap();
            assert_eq!(jobs_json(&c), acknowledged, "{name}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                before,
                "{name}: the torn record is cut off"
            );
            // The unacknowledged lease is granted again, with a new token.
            let again = c.acquire("w", 4).unwrap().unwrap();
            assert_eq!(again.task_id, b.task_id, "{name}");
            assert!(again.token > a.token, "{name}");
            c.complete("j", &again.task_id, again.token, scan_result(), 5)
                .unwrap();
            let reopened = Coordinator::open(dir.path()).unwrap();
            assert_eq!(jobs_json(&reopened), jobs_json(&c), "{name}");
            assert_eq!(reopened.job("j").unwrap().stage, Stage::Cluster);
        }
    }

    #[test]
    fn damage_before_the_last_record_is_an_error_naming_the_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let mut c = Coordinator::open(dir.path()).unwrap();
        c.submit("j", spec(false), inputs(2), 0).unwrap();
        let snapshot_end = log_len(dir.path(), "j") as usize;
        let a = c.acquire("w", 1).unwrap().unwrap();
        let lease_end = log_len(dir.path(), "j") as usize;
        c.complete("j", &a.task_id, a.token, scan_result(), 2)
            .unwrap();
        let good = std::fs::read(&path).unwrap();
        // A payload byte of the lease record, then its length field.
        for (at, what) in [(lease_end - 3, "checksum"), (snapshot_end, "frame header")] {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            std::fs::write(&path, &bad).unwrap();
            let error = Coordinator::open(dir.path())
                .err()
                .expect("refused")
                .to_string();
            assert!(
                error.contains("j.log")
                    && error.contains(&format!("offset {snapshot_end}"))
                    && error.contains(what),
                "{error}"
            );
        }
        let mut bad = good.clone();
        bad[..7].copy_from_slice(b"garbage");
        std::fs::write(&path, &bad).unwrap();
        let error = Coordinator::open(dir.path()).err().unwrap().to_string();
        assert!(
            error.contains("j.log") && error.contains("PVJLOG1"),
            "{error}"
        );
    }

    #[test]
    fn a_json_job_state_of_the_previous_format_is_rewritten_as_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let job = {
            let mut c = Coordinator::in_memory();
            c.submit("old", spec(false), inputs(2), 0).unwrap();
            let a = c.acquire("w", 1).unwrap().unwrap();
            c.complete("old", &a.task_id, a.token, scan_result(), 2)
                .unwrap();
            c.job("old").unwrap().clone()
        };
        let json = dir.path().join("old.json");
        std::fs::write(&json, serde_json::to_vec_pretty(&job).unwrap()).unwrap();
        let mut c = Coordinator::open(dir.path()).unwrap();
        assert!(!json.exists() && dir.path().join("old.log").exists());
        assert_eq!(
            serde_json::to_value(c.job("old").unwrap()).unwrap(),
            serde_json::to_value(&job).unwrap()
        );
        let b = c.acquire("w", 3).unwrap().unwrap();
        assert!(b.token > job.last_token);
        let reopened = Coordinator::open(dir.path()).unwrap();
        assert_eq!(jobs_json(&reopened), jobs_json(&c));
    }

    #[test]
    fn finished_jobs_hand_out_their_staging_once() {
        let mut c = Coordinator::in_memory();
        c.submit("a", spec(false), inputs(1), 0).unwrap();
        c.submit("b", spec(false), inputs(1), 0).unwrap();
        assert!(c.take_finished_staging().is_empty(), "both running");
        let lease = c.acquire("w", 1).unwrap().unwrap();
        assert_eq!(lease.job_id, "a");
        c.fail("a", &lease.task_id, lease.token, "no such object", true, 2)
            .unwrap();
        assert_eq!(c.take_finished_staging(), vec!["/staging/a".to_string()]);
        assert!(c.take_finished_staging().is_empty(), "handed out once");
    }

    /// Bytes the process has passed to write(2) so far (`wchar` of
    /// /proc/self/io; 0 where that file does not exist).
    fn bytes_written() -> u64 {
        std::fs::read_to_string("/proc/self/io")
            .ok()
            .and_then(|io| {
                io.lines()
                    .find_map(|l| l.strip_prefix("wchar: ").map(|n| n.trim().parse().ok()))
                    .flatten()
            })
            .unwrap_or(0)
    }

    /// Issue 17's measure: a job of `PROVINDEX_BENCH_INPUTS` inputs (default
    /// 100,000) whose scan tasks all complete through the Coordinator API
    /// with a state directory; prints bytes written and time. Not a
    /// pass/fail test: run with
    /// `cargo nextest run --workspace --all-targets --run-ignored only -E 'test(job_state_of_many_inputs)' --no-capture`.
    #[test]
    #[ignore = "benchmark"]
    fn job_state_of_many_inputs() {
        let n: usize = std::env::var("PROVINDEX_BENCH_INPUTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000);
        let dir = tempfile::tempdir().unwrap();
        let mut bench_spec = spec(false);
        bench_spec.partitions = 4;
        // The run-file names of a real scan: ~700 bytes of result per task.
        let result = |i: usize| {
            let run = |kind: &str| {
                format!("s3://bucket/staging/bench/scan-{i:05}/attempt-{i}/{kind}-00000.run")
            };
            let TaskResult::Scan(mut scan) = scan_result() else {
                unreachable!("a scan result")
            };
            scan.attempt = format!("s3://bucket/staging/bench/scan-{i:05}/attempt-{i}");
            scan.band_runs = (0..4).map(|p| vec![run(&format!("bands-{p}"))]).collect();
            scan.records = 30_000;
            TaskResult::Scan(scan)
        };
        let drive = |c: &mut Coordinator| {
            c.submit("bench", bench_spec.clone(), inputs(n), 0).unwrap();
            for i in 0..n {
                let now = i as i64;
                let lease = c.acquire("w", now).unwrap().unwrap();
                assert_eq!(lease.stage, Stage::Scan);
                c.complete("bench", &lease.task_id, lease.token, result(i), now)
                    .unwrap();
            }
            assert_eq!(c.job("bench").unwrap().stage, Stage::Cluster);
        };
        // The same calls without a state directory: the coordinator's own CPU.
        let started = std::time::Instant::now();
        drive(&mut Coordinator::in_memory());
        let in_memory = started.elapsed();
        let written_before = bytes_written();
        let started = std::time::Instant::now();
        let mut c = Coordinator::open(dir.path()).unwrap();
        drive(&mut c);
        let elapsed = started.elapsed();
        let written = bytes_written() - written_before;
        let on_disk: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        let reopen = std::time::Instant::now();
        let reopened = Coordinator::open(dir.path()).unwrap();
        assert_eq!(
            reopened
                .job("bench")
                .unwrap()
                .stage_counts(Stage::Scan)
                .done,
            n as u32
        );
        println!(
            "job state, {n} inputs: {written} bytes written ({:.1} per change), \
             {on_disk} bytes on disk, {:.2} s for submit + {n} acquire/complete \
             ({:.2} s of it without a state directory), reopen {:.2} s",
            written as f64 / (2 * n + 1) as f64,
            elapsed.as_secs_f64(),
            in_memory.as_secs_f64(),
            reopen.elapsed().as_secs_f64()
        );
    }
}
