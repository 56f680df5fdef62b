//! Worker metrics: tasks run by stage and outcome, and the input bytes and
//! records the scan tasks read, recorded by [`MeteredSource`] as the worker
//! reports each task to the coordinator. A task whose lease was lost is not
//! reported, and not counted.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use provindex_pipeline::job::Lease;
use provindex_pipeline::tasks::TaskResult;
use provindex_pipeline::worker::{SourceError, TaskSource};

use super::{Labels, Metrics};

/// A task source whose reports are counted.
pub struct MeteredSource<S> {
    inner: S,
    tasks: Family<Labels, Counter>,
    input_bytes: Counter,
    records: Counter,
}

impl<S: TaskSource> MeteredSource<S> {
    /// Wraps `inner`, registering the worker's families in `metrics` (once
    /// per process).
    pub fn new(inner: S, metrics: &Metrics) -> Self {
        let input_bytes = Counter::default();
        metrics.register(
            "provindex_worker_input_bytes_read",
            "Bytes of input objects read by scan tasks completed (as stored, before decompression)",
            input_bytes.clone(),
        );
        let records = Counter::default();
        metrics.register(
            "provindex_worker_records_read",
            "Records read by scan tasks completed",
            records.clone(),
        );
        Self {
            inner,
            tasks: metrics.counter_family(
                "provindex_worker_tasks",
                "Tasks run by stage and outcome (completed, failed, failed_permanently) \
                 as reported to the coordinator",
            ),
            input_bytes,
            records,
        }
    }

    fn count(&self, lease: &Lease, outcome: &str) {
        self.tasks
            .get_or_create(&vec![
                ("stage", lease.stage.as_str().to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }
}

impl<S: TaskSource> TaskSource for MeteredSource<S> {
    fn acquire(&self, worker: &str) -> Result<Option<Lease>, SourceError> {
        self.inner.acquire(worker)
    }

    fn heartbeat(&self, lease: &Lease) -> Result<(), SourceError> {
        self.inner.heartbeat(lease)
    }

    fn complete(&self, lease: &Lease, result: TaskResult) -> Result<(), SourceError> {
        let scan = result.as_scan().map(|s| (s.input_bytes_read, s.records));
        // Counted once the coordinator took the result: a report retried
        // after an unreachable coordinator counts once.
        self.inner.complete(lease, result)?;
        self.count(lease, "completed");
        if let Some((bytes, records)) = scan {
            self.input_bytes.inc_by(bytes);
            self.records.inc_by(records);
        }
        Ok(())
    }

    fn fail(&self, lease: &Lease, reason: &str, permanent: bool) -> Result<(), SourceError> {
        self.inner.fail(lease, reason, permanent)?;
        self.count(
            lease,
            if permanent {
                "failed_permanently"
            } else {
                "failed"
            },
        );
        Ok(())
    }
}
