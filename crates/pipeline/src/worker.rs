//! A worker: pulls tasks from a [`TaskSource`] (the coordinator, in process
//! or over gRPC), runs them while heartbeating, and reports the result.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::job::{Coordinator, JobError, Lease};
use crate::tasks::{TaskContext, TaskError, TaskResult, run_task};

/// Why a call to the coordinator failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The lease is no longer ours: drop the task.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// The coordinator cannot be reached (retry later).
    #[error("coordinator unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Other(String),
}

/// Where tasks come from.
pub trait TaskSource: Send + Sync {
    fn acquire(&self, worker: &str) -> Result<Option<Lease>, SourceError>;
    fn heartbeat(&self, lease: &Lease) -> Result<(), SourceError>;
    fn complete(&self, lease: &Lease, result: TaskResult) -> Result<(), SourceError>;
    fn fail(&self, lease: &Lease, reason: &str, permanent: bool) -> Result<(), SourceError>;
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl From<JobError> for SourceError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::LeaseLost { .. } => SourceError::LeaseLost(error.to_string()),
            other => SourceError::Other(other.to_string()),
        }
    }
}

/// The coordinator in this process.
impl TaskSource for Mutex<Coordinator> {
    fn acquire(&self, worker: &str) -> Result<Option<Lease>, SourceError> {
        Ok(lock(self).acquire(worker, now_ms())?)
    }
    fn heartbeat(&self, lease: &Lease) -> Result<(), SourceError> {
        lock(self).heartbeat(&lease.job_id, &lease.task_id, lease.token, now_ms())?;
        Ok(())
    }
    fn complete(&self, lease: &Lease, result: TaskResult) -> Result<(), SourceError> {
        Ok(lock(self).complete(&lease.job_id, &lease.task_id, lease.token, result, now_ms())?)
    }
    fn fail(&self, lease: &Lease, reason: &str, permanent: bool) -> Result<(), SourceError> {
        Ok(lock(self).fail(
            &lease.job_id,
            &lease.task_id,
            lease.token,
            reason,
            permanent,
            now_ms(),
        )?)
    }
}

pub fn lock(coordinator: &Mutex<Coordinator>) -> std::sync::MutexGuard<'_, Coordinator> {
    coordinator.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub name: String,
    /// Sleep between polls when there is no task.
    pub idle_poll: Duration,
}

/// Pulls and runs tasks until `stop` is set (checked between tasks and while
/// idle). A coordinator that cannot be reached is retried with backoff.
pub fn run_worker(
    source: &dyn TaskSource,
    ctx: &TaskContext,
    options: &WorkerOptions,
    stop: &AtomicBool,
) {
    let mut backoff = options.idle_poll;
    while !stop.load(Ordering::Relaxed) {
        match source.acquire(&options.name) {
            Ok(Some(lease)) => {
                backoff = options.idle_poll;
                run_leased(source, ctx, &lease);
            }
            Ok(None) => std::thread::sleep(options.idle_poll),
            Err(error) => {
                tracing::warn!(worker = %options.name, %error, "cannot acquire a task");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Runs one leased task with a heartbeat thread; reports the outcome.
pub fn run_leased(source: &dyn TaskSource, ctx: &TaskContext, lease: &Lease) {
    tracing::info!(job = %lease.job_id, task = %lease.task_id, token = lease.token, "task started");
    let cancel = Arc::new(AtomicBool::new(false));
    let done = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let interval = Duration::from_millis(u64::from(lease.lease_ms / 3).max(100));
    let outcome = std::thread::scope(|scope| {
        {
            let cancel = Arc::clone(&cancel);
            let done = Arc::clone(&done);
            scope.spawn(move || {
                let (finished, wake) = &*done;
                loop {
                    // Checks `finished` before waiting (the task may end before
                    // this thread first runs), and holds no lock while calling
                    // the coordinator.
                    let guard = finished.lock().unwrap_or_else(|p| p.into_inner());
                    let (guard, _) = wake
                        .wait_timeout_while(guard, interval, |finished| !*finished)
                        .unwrap_or_else(|p| p.into_inner());
                    if *guard {
                        return;
                    }
                    drop(guard);
                    match source.heartbeat(lease) {
                        Ok(()) => {}
                        Err(SourceError::LeaseLost(reason)) => {
                            tracing::warn!(task = %lease.task_id, %reason, "lease lost; stopping the task");
                            cancel.store(true, Ordering::Relaxed);
                            return;
                        }
                        // Keep working: the lease may still be valid when
                        // the coordinator is back (it keeps state across restarts).
                        Err(error) => tracing::warn!(task = %lease.task_id, %error, "heartbeat failed"),
                    }
                }
            });
        }
        let outcome = run_task(ctx, lease, &cancel);
        let (finished, wake) = &*done;
        *finished.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        outcome
    });
    let report = match outcome {
        Ok(result) => retry_call(|| source.complete(lease, result.clone())),
        Err(TaskError::Cancelled) => return,
        Err(error) => {
            tracing::warn!(task = %lease.task_id, %error, "task failed");
            let reason = error.to_string();
            retry_call(|| source.fail(lease, &reason, error.is_permanent()))
        }
    };
    match report {
        Ok(()) => tracing::info!(task = %lease.task_id, "task reported"),
        Err(error) => tracing::warn!(task = %lease.task_id, %error, "task report not accepted"),
    }
}

/// Retries a report while the coordinator is unreachable (bounded: after
/// about a minute the lease has expired anyway and the task is re-run).
fn retry_call(mut call: impl FnMut() -> Result<(), SourceError>) -> Result<(), SourceError> {
    let mut wait = Duration::from_millis(200);
    let mut waited = Duration::ZERO;
    loop {
        match call() {
            Err(SourceError::Unavailable(reason)) if waited < Duration::from_secs(60) => {
                tracing::warn!(%reason, "coordinator unavailable; retrying the report");
                std::thread::sleep(wait);
                waited += wait;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}
