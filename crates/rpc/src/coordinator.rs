//! CoordinatorService: a thin adapter over [`provindex_pipeline::job::Coordinator`]
//! (the rules live there), and [`GrpcTaskSource`], the worker's client side.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use provindex_corpus::store::CorpusStore;
use provindex_pipeline::job::{Coordinator, Job, JobSpec, Lease, Stage};
use provindex_pipeline::tasks::{TaskPayload, TaskResult};
use provindex_pipeline::worker::{SourceError, TaskSource, lock, now_ms};
use provindex_proto::v1 as pb;
use provindex_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use provindex_proto::v1::coordinator_service_server::{
    CoordinatorService, CoordinatorServiceServer,
};
use tokio::sync::Notify;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::ApiError;

/// The coordinator behind gRPC. Inputs are listed at submission with
/// `store`; a background tick re-queues expired leases.
#[derive(Clone)]
pub struct CoordinatorApi {
    coordinator: Arc<Mutex<Coordinator>>,
    store: Arc<CorpusStore>,
    changed: Arc<Notify>,
}

impl CoordinatorApi {
    pub fn new(coordinator: Coordinator, store: Arc<CorpusStore>) -> Self {
        Self {
            coordinator: Arc::new(Mutex::new(coordinator)),
            store,
            changed: Arc::new(Notify::new()),
        }
    }

    /// The job state it serves (read by the coordinator's metrics).
    pub fn coordinator(&self) -> Arc<Mutex<Coordinator>> {
        Arc::clone(&self.coordinator)
    }

    pub fn into_server(self) -> CoordinatorServiceServer<Self> {
        CoordinatorServiceServer::new(self)
    }

    /// Expires leases every `period` (run it for the server's lifetime).
    pub async fn tick(self, period: Duration) {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            let before = lock(&self.coordinator).generation();
            if let Err(error) = lock(&self.coordinator).expire(now_ms()) {
                tracing::error!(%error, "expiring leases");
            }
            if lock(&self.coordinator).generation() != before {
                self.changed.notify_waiters();
            }
            // Also the jobs found finished at startup, or failed by expiry.
            self.remove_finished_staging();
        }
    }

    fn after_change(&self) {
        self.changed.notify_waiters();
        self.remove_finished_staging();
    }

    /// Removes the staging files of jobs that finished (succeeded or
    /// failed), in the background: a large job's staging is many objects.
    /// A removal that fails is logged and left (the files are garbage, not
    /// state). Returns the removals started.
    pub fn remove_finished_staging(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let prefixes = lock(&self.coordinator).take_finished_staging();
        prefixes
            .into_iter()
            .map(|prefix| {
                let store = Arc::clone(&self.store);
                tokio::task::spawn_blocking(move || {
                    match provindex_pipeline::remove_staging(&store, &prefix) {
                        Ok(()) => tracing::info!(%prefix, "staging of a finished job removed"),
                        Err(error) => tracing::warn!(%prefix, %error, "staging not removed"),
                    }
                })
            })
            .collect()
    }
}

pub fn spec_from_proto(spec: pb::JobSpec) -> JobSpec {
    JobSpec {
        inputs: spec.inputs,
        crawl: spec.crawl,
        output: spec.output,
        staging: spec.staging,
        partitions: spec.partitions,
        built_at: spec.built_at,
        robots: spec.robots,
        max_attempts: spec.max_attempts,
        skip_failed_inputs: spec.skip_failed_inputs,
        no_signals: spec.no_signals,
        lease_seconds: spec.lease_seconds,
        signing_key: spec.signing_key,
        pii_key: spec.pii_key,
        index_partitions: spec.index_partitions,
        // Resolved when the job is submitted (`CoordinatorApi::submit_job`).
        base_partitions: Vec::new(),
        base: spec.base,
    }
}

pub fn spec_to_proto(spec: &JobSpec) -> pb::JobSpec {
    pb::JobSpec {
        inputs: spec.inputs.clone(),
        crawl: spec.crawl.clone(),
        output: spec.output.clone(),
        staging: spec.staging.clone(),
        partitions: spec.partitions,
        built_at: spec.built_at,
        robots: spec.robots.clone(),
        max_attempts: spec.max_attempts,
        skip_failed_inputs: spec.skip_failed_inputs,
        no_signals: spec.no_signals,
        lease_seconds: spec.lease_seconds,
        signing_key: spec.signing_key.clone(),
        pii_key: spec.pii_key.clone(),
        index_partitions: spec.index_partitions,
        base: spec.base.clone(),
    }
}

/// A job's status message.
pub fn job_status(job: &Job) -> pb::JobStatus {
    let (input_bytes, input_bytes_done) = job.input_bytes();
    let build = job.build_result();
    pb::JobStatus {
        job_id: job.id.clone(),
        state: job.state.as_str().to_string(),
        stage: job.stage.as_str().to_string(),
        stages: Stage::ALL
            .iter()
            .map(|stage| {
                let counts = job.stage_counts(*stage);
                pb::StageProgress {
                    stage: stage.as_str().to_string(),
                    tasks_total: counts.total,
                    tasks_done: counts.done,
                    tasks_running: counts.running,
                    tasks_failed: counts.failed,
                }
            })
            .collect(),
        input_bytes,
        input_bytes_done,
        records_done: job.records_done(),
        error: job.error.clone().unwrap_or_default(),
        failed_tasks: job
            .tasks
            .iter()
            .filter(|t| t.status == provindex_pipeline::job::TaskStatus::Failed)
            .map(|t| pb::FailedTask {
                task_id: t.id.clone(),
                input: t.input.clone().unwrap_or_default(),
                reason: t.last_error.clone().unwrap_or_default(),
                attempts: t.attempts,
            })
            .collect(),
        digest: build
            .as_ref()
            .map(|b| b.report.manifest.digest.clone())
            .unwrap_or_default(),
        report_json: build
            .as_ref()
            .and_then(|b| serde_json::to_string(&b.report).ok())
            .unwrap_or_default(),
        created_at_ms: job.created_ms,
        updated_at_ms: job.updated_ms,
        retries: job.retries,
    }
}

fn lease_to_proto(lease: Lease) -> pb::TaskLease {
    pb::TaskLease {
        job_id: lease.job_id,
        task_id: lease.task_id,
        stage: lease.stage.as_str().to_string(),
        token: lease.token,
        lease_ms: lease.lease_ms,
        spec: Some(spec_to_proto(&lease.spec)),
        payload_json: lease.payload.to_json(),
    }
}

type StatusStream = Pin<Box<dyn Stream<Item = Result<pb::JobStatus, Status>> + Send>>;

#[tonic::async_trait]
impl CoordinatorService for CoordinatorApi {
    async fn submit_job(
        &self,
        request: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::SubmitJobResponse>, Status> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec", "missing"))?;
        let mut spec = spec_from_proto(spec).normalized().map_err(ApiError::from)?;
        if !spec.base.is_empty() {
            let (store, base) = (Arc::clone(&self.store), spec.base.clone());
            let (sender, receiver) = tokio::sync::oneshot::channel();
            // The store's blocking calls refuse a runtime thread, even a
            // blocking-pool one: a plain thread reads the base.
            std::thread::spawn(move || {
                let _ = sender.send(provindex_pipeline::rescan::base_partitions(&store, &base));
            });
            spec.base_partitions = receiver
                .await
                .map_err(|e| ApiError::Unavailable(format!("base: {e}")))?
                .map_err(|e| match e {
                    provindex_pipeline::PipelineError::Publish(e) if e.is_transient() => {
                        ApiError::Unavailable(format!("base: {e}"))
                    }
                    e => ApiError::invalid("base", e.to_string()),
                })?;
        }
        let job_id = if request.job_id.is_empty() {
            format!("job-{}", now_ms())
        } else {
            request.job_id
        };
        // A job already known needs no listing (resubmission is idempotent).
        let known = lock(&self.coordinator).job(&job_id).is_ok();
        let mut inputs = Vec::new();
        if !known {
            provindex_pipeline::check_output(std::path::Path::new(&spec.output))
                .map_err(|e| ApiError::invalid("output", e.to_string()))?;
            let mut listings = Vec::with_capacity(spec.inputs.len());
            for pattern in &spec.inputs {
                listings.push((pattern.as_str(), self.store.list_async(pattern).await));
            }
            // An input the store refuses for good (a malformed URI or path
            // list, no such bucket, no permission) is the client's to fix:
            // not UNAVAILABLE, which says to retry.
            for (pattern, listing) in &listings {
                use provindex_corpus::store::StoreError;
                let Err(error) = listing else { continue };
                if let StoreError::Config(reason) = error {
                    return Err(ApiError::FailedPrecondition(format!(
                        "inputs: {pattern}: AWS configuration: {reason}"
                    ))
                    .into());
                }
                // A pattern matching nothing is named below.
                if error.is_refusal() && !matches!(error, StoreError::NoMatch(_)) {
                    return Err(ApiError::invalid("inputs", format!("{pattern}: {error}")).into());
                }
            }
            inputs = provindex_pipeline::input_objects(listings).map_err(|e| match e {
                provindex_pipeline::PipelineError::MissingInput(pattern) => ApiError::invalid(
                    "inputs",
                    format!("{pattern} does not exist (no object matches)"),
                ),
                provindex_pipeline::PipelineError::NoInputs(_) => {
                    ApiError::invalid("inputs", e.to_string())
                }
                // Listing failed: the store's to fix or retry, whatever the
                // pipeline error's own code.
                other => ApiError::Unavailable(format!("inputs: {other}")),
            })?;
        }
        let job_id = lock(&self.coordinator)
            .submit(&job_id, spec, inputs, now_ms())
            .map_err(ApiError::from)?;
        tracing::info!(%job_id, "job submitted");
        self.after_change();
        Ok(Response::new(pb::SubmitJobResponse { job_id }))
    }

    async fn get_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::JobStatus>, Status> {
        let coordinator = lock(&self.coordinator);
        let job = coordinator
            .job(&request.get_ref().job_id)
            .map_err(ApiError::from)?;
        Ok(Response::new(job_status(job)))
    }

    type WatchJobStream = StatusStream;

    async fn watch_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let job_id = request.into_inner().job_id;
        lock(&self.coordinator)
            .job(&job_id)
            .map_err(ApiError::from)?;
        let api = self.clone();
        let (sender, receiver) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            let mut last: Option<pb::JobStatus> = None;
            loop {
                let notified = api.changed.notified();
                let current = {
                    let coordinator = lock(&api.coordinator);
                    coordinator
                        .job(&job_id)
                        .map(job_status)
                        .map_err(|e| ApiError::from(e).into())
                };
                let current = match current {
                    Ok(current) => current,
                    Err(error) => {
                        let _ = sender.send(Err(error)).await;
                        return;
                    }
                };
                let ended = current.state != "running";
                let changed = last.as_ref().is_none_or(|l| {
                    (l.stages.clone(), l.state.clone(), l.retries)
                        != (
                            current.stages.clone(),
                            current.state.clone(),
                            current.retries,
                        )
                });
                if changed {
                    last = Some(current.clone());
                    if sender.send(Ok(current)).await.is_err() {
                        return; // the watcher went away
                    }
                }
                if ended {
                    return;
                }
                // Wake on a change, and at least every second (lease expiry).
                let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn acquire_task(
        &self,
        request: Request<pb::AcquireTaskRequest>,
    ) -> Result<Response<pb::AcquireTaskResponse>, Status> {
        let worker = request.into_inner().worker;
        let lease = lock(&self.coordinator)
            .acquire(&worker, now_ms())
            .map_err(ApiError::from)?;
        if lease.is_some() {
            self.after_change();
        }
        Ok(Response::new(pb::AcquireTaskResponse {
            retry_after_ms: if lease.is_none() { 500 } else { 0 },
            task: lease.map(lease_to_proto),
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let r = request.into_inner();
        let lease_ms = lock(&self.coordinator)
            .heartbeat(&r.job_id, &r.task_id, r.token, now_ms())
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::HeartbeatResponse { lease_ms }))
    }

    async fn complete_task(
        &self,
        request: Request<pb::CompleteTaskRequest>,
    ) -> Result<Response<pb::CompleteTaskResponse>, Status> {
        let r = request.into_inner();
        // The one place a reported result is decoded: garbage, or a result of
        // another stage (checked by `complete`), is INVALID_ARGUMENT naming
        // the task.
        let result = TaskResult::from_json(&r.task_id, &r.result_json).map_err(ApiError::from)?;
        lock(&self.coordinator)
            .complete(&r.job_id, &r.task_id, r.token, result, now_ms())
            .map_err(ApiError::from)?;
        tracing::info!(job = %r.job_id, task = %r.task_id, "task completed");
        self.after_change();
        Ok(Response::new(pb::CompleteTaskResponse {}))
    }

    async fn fail_task(
        &self,
        request: Request<pb::FailTaskRequest>,
    ) -> Result<Response<pb::FailTaskResponse>, Status> {
        let r = request.into_inner();
        tracing::warn!(job = %r.job_id, task = %r.task_id, reason = %r.reason, "task attempt failed");
        lock(&self.coordinator)
            .fail(
                &r.job_id,
                &r.task_id,
                r.token,
                &r.reason,
                r.permanent,
                now_ms(),
            )
            .map_err(ApiError::from)?;
        self.after_change();
        Ok(Response::new(pb::FailTaskResponse {}))
    }
}

/// A worker's connection to a remote coordinator (blocking calls on a
/// runtime of its own, from worker threads). Every call has a deadline.
pub struct GrpcTaskSource {
    runtime: tokio::runtime::Handle,
    client: CoordinatorServiceClient<Channel>,
    timeout: Duration,
}

impl GrpcTaskSource {
    pub fn new(runtime: tokio::runtime::Handle, channel: Channel) -> Self {
        Self {
            runtime,
            client: CoordinatorServiceClient::new(channel),
            timeout: Duration::from_secs(10),
        }
    }

    fn call<T, F, Fut>(&self, f: F) -> Result<T, SourceError>
    where
        F: FnOnce(CoordinatorServiceClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<Response<T>, Status>>,
    {
        let client = self.client.clone();
        let timeout = self.timeout;
        self.runtime.block_on(async move {
            match tokio::time::timeout(timeout, f(client)).await {
                Err(_) => Err(SourceError::Unavailable(
                    "coordinator call timed out".into(),
                )),
                Ok(Ok(response)) => Ok(response.into_inner()),
                Ok(Err(status)) => Err(match status.code() {
                    tonic::Code::FailedPrecondition => {
                        SourceError::LeaseLost(status.message().to_string())
                    }
                    tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Unknown
                    | tonic::Code::Cancelled => {
                        SourceError::Unavailable(status.message().to_string())
                    }
                    _ => SourceError::Other(format!("{:?}: {}", status.code(), status.message())),
                }),
            }
        })
    }
}

impl TaskSource for GrpcTaskSource {
    fn acquire(&self, worker: &str) -> Result<Option<Lease>, SourceError> {
        let worker = worker.to_string();
        let response = self
            .call(|mut c| async move { c.acquire_task(pb::AcquireTaskRequest { worker }).await })?;
        let Some(task) = response.task else {
            return Ok(None);
        };
        // The one place a leased payload is decoded. One that does not
        // decode, or is of another stage, fails the task permanently (the
        // coordinator records the reason naming the task) instead of being
        // retried or run.
        let decoded = Stage::parse(&task.stage)
            .ok_or_else(|| format!("task {}: unknown stage {:?}", task.task_id, task.stage))
            .and_then(|stage| {
                TaskPayload::from_json(&task.task_id, stage, &task.payload_json)
                    .map(|payload| (stage, payload))
            });
        let spec = spec_from_proto(task.spec.unwrap_or_default());
        match decoded {
            Ok((stage, payload)) => Ok(Some(Lease {
                job_id: task.job_id,
                task_id: task.task_id,
                stage,
                token: task.token,
                lease_ms: task.lease_ms,
                spec,
                payload,
            })),
            Err(reason) => {
                tracing::error!(job = %task.job_id, task = %task.task_id, %reason, "refusing the leased task");
                let request = pb::FailTaskRequest {
                    job_id: task.job_id,
                    task_id: task.task_id,
                    token: task.token,
                    reason: reason.clone(),
                    permanent: true,
                };
                self.call(|mut c| async move { c.fail_task(request).await })?;
                Err(SourceError::Other(reason))
            }
        }
    }

    fn heartbeat(&self, lease: &Lease) -> Result<(), SourceError> {
        let request = pb::HeartbeatRequest {
            job_id: lease.job_id.clone(),
            task_id: lease.task_id.clone(),
            token: lease.token,
        };
        self.call(|mut c| async move { c.heartbeat(request).await })
            .map(|_| ())
    }

    fn complete(&self, lease: &Lease, result: TaskResult) -> Result<(), SourceError> {
        let request = pb::CompleteTaskRequest {
            job_id: lease.job_id.clone(),
            task_id: lease.task_id.clone(),
            token: lease.token,
            result_json: result.to_json(),
        };
        self.call(|mut c| async move { c.complete_task(request).await })
            .map(|_| ())
    }

    fn fail(&self, lease: &Lease, reason: &str, permanent: bool) -> Result<(), SourceError> {
        let request = pb::FailTaskRequest {
            job_id: lease.job_id.clone(),
            task_id: lease.task_id.clone(),
            token: lease.token,
            reason: reason.to_string(),
            permanent,
        };
        self.call(|mut c| async move { c.fail_task(request).await })
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provindex_pipeline::job::InputObject;
    use provindex_pipeline::tasks::ClusterResult;

    #[test]
    fn a_result_that_does_not_decode_or_is_of_another_stage_is_invalid_argument() {
        let mut coordinator = Coordinator::in_memory();
        let spec = JobSpec {
            inputs: vec!["/in".into()],
            output: "/out".into(),
            staging: "/staging".into(),
            ..JobSpec::default()
        };
        let input = InputObject {
            uri: "/in/0.warc.gz".into(),
            size: 1,
        };
        coordinator.submit("j", spec, vec![input], 0).unwrap();
        let lease = coordinator.acquire("w", now_ms()).unwrap().unwrap();
        let api = CoordinatorApi::new(coordinator, Arc::new(CorpusStore::new().unwrap()));
        let cluster = TaskResult::Cluster(ClusterResult {
            attempt: "a".into(),
            edge_runs: vec![],
            node_runs: vec![],
            shared_buckets: 0,
        });
        for (result_json, expected) in [
            ("garbage".to_string(), "undecodable result"),
            (cluster.to_json(), "a cluster result for a scan task"),
        ] {
            let request = Request::new(pb::CompleteTaskRequest {
                job_id: "j".into(),
                task_id: lease.task_id.clone(),
                token: lease.token,
                result_json,
            });
            // The store's own runtime must not be dropped inside this one.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let status = runtime.block_on(api.complete_task(request)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(
                status.message().contains("task scan-00000") && status.message().contains(expected),
                "{}",
                status.message()
            );
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        // The store's own runtime must not be dropped inside this one.
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// A fresh scratch directory for one test (no tempfile in this crate).
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("provindex-rpc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_finished_jobs_staging_is_removed_and_a_running_ones_kept() {
        let dir = scratch("staging");
        let staging = dir.join("staging");
        let mut coordinator = Coordinator::in_memory();
        for job in ["done", "running"] {
            let spec = JobSpec {
                inputs: vec!["/in".into()],
                output: format!("/out/{job}"),
                staging: staging.display().to_string(),
                ..JobSpec::default()
            };
            let input = InputObject {
                uri: "/in/0.warc.gz".into(),
                size: 1,
            };
            coordinator.submit(job, spec, vec![input], 0).unwrap();
            let run = staging
                .join(job)
                .join("scan-00000/attempt-1/captures-0.run");
            std::fs::create_dir_all(run.parent().unwrap()).unwrap();
            std::fs::write(&run, b"run").unwrap();
        }
        let lease = coordinator.acquire("w", now_ms()).unwrap().unwrap();
        assert_eq!(lease.job_id, "done");
        let api = CoordinatorApi::new(coordinator, Arc::new(CorpusStore::new().unwrap()));
        block_on(async {
            assert!(api.remove_finished_staging().is_empty(), "both running");
            let request = Request::new(pb::FailTaskRequest {
                job_id: "done".into(),
                task_id: lease.task_id.clone(),
                token: lease.token,
                reason: "no such object".into(),
                permanent: true,
            });
            api.fail_task(request).await.unwrap();
            assert!(api.remove_finished_staging().is_empty(), "handed out once");
            // fail_task started the removal on the blocking pool: wait for it
            // here (this thread is the runtime's, the removal another one's).
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while staging.join("done").exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        assert!(
            !staging.join("done").exists(),
            "the failed job's staging is removed"
        );
        assert!(
            staging
                .join("running/scan-00000/attempt-1/captures-0.run")
                .exists(),
            "a running job's staging is kept"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn inputs_the_store_refuses_are_invalid_argument_naming_the_input() {
        let dir = scratch("refused-inputs");
        let bad_list = dir.join("bad.paths");
        std::fs::write(&bad_list, b"ok/1\nbad line\n").unwrap();
        let api = CoordinatorApi::new(
            Coordinator::in_memory(),
            Arc::new(CorpusStore::new().unwrap()),
        );
        let cases = [
            (bad_list.display().to_string(), "line 2"),
            (
                dir.join("none.paths.gz").display().to_string(),
                "none.paths.gz",
            ),
            ("ftp://host/x.warc.gz".to_string(), "ftp://host/x.warc.gz"),
        ];
        for (input, expected) in cases {
            let request = Request::new(pb::SubmitJobRequest {
                job_id: "j".into(),
                spec: Some(pb::JobSpec {
                    inputs: vec![input.clone()],
                    output: dir.join("out").display().to_string(),
                    staging: dir.join("staging").display().to_string(),
                    ..pb::JobSpec::default()
                }),
            });
            let status = block_on(api.submit_job(request)).unwrap_err();
            assert_eq!(
                status.code(),
                tonic::Code::InvalidArgument,
                "{input}: {status:?}"
            );
            assert!(
                status.message().contains("inputs") && status.message().contains(expected),
                "{input}: {}",
                status.message()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
