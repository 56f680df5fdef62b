//! Coordinator metrics, read from its job state when scraped: tasks by
//! stage and state and jobs by state (gauges over every job it holds), and
//! task retries and lease expiries since the process started (counters).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use provindex_pipeline::job::{Coordinator, JobState, Stage, TaskStatus};

use super::{Metrics, Reading};

/// The task states of `provindex_coordinator_tasks{stage,state}`.
const TASK_STATES: [&str; 4] = ["pending", "leased", "done", "failed"];

fn task_state(status: &TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "pending",
        TaskStatus::Leased { .. } => "leased",
        TaskStatus::Done => "done",
        TaskStatus::Failed => "failed",
    }
}

/// Reports `coordinator`'s jobs and tasks on every scrape.
pub fn watch_coordinator(metrics: &Metrics, coordinator: Arc<Mutex<Coordinator>>) {
    metrics.watch(move || {
        let coordinator = coordinator.lock().unwrap_or_else(|p| p.into_inner());
        // Every stage and state is listed, zero or not, so a series does not
        // vanish when its last task moves on.
        let mut tasks: BTreeMap<(Stage, &str), u64> = Stage::ALL
            .iter()
            .flat_map(|stage| TASK_STATES.map(|state| ((*stage, state), 0)))
            .collect();
        let mut jobs: BTreeMap<&str, u64> = [
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
        ]
        .map(|s| (s.as_str(), 0))
        .into_iter()
        .collect();
        for job in coordinator.jobs() {
            *jobs.entry(job.state.as_str()).or_default() += 1;
            for task in &job.tasks {
                *tasks.entry((task.stage, task_state(&task.status))).or_default() += 1;
            }
        }
        let events = coordinator.events();
        drop(coordinator);
        let mut task_reading = Reading::gauge(
            "provindex_coordinator_tasks",
            "Tasks of the coordinator's jobs by stage and state",
        );
        for ((stage, state), n) in tasks {
            task_reading = task_reading.with(
                vec![("stage", stage.as_str().to_owned()), ("state", state.to_owned())],
                n,
            );
        }
        let mut job_reading =
            Reading::gauge("provindex_coordinator_jobs", "The coordinator's jobs by state");
        for (state, n) in jobs {
            job_reading = job_reading.with(vec![("state", state.to_owned())], n);
        }
        vec![
            task_reading,
            job_reading,
            Reading::counter(
                "provindex_coordinator_task_retries",
                "Task attempts that failed or whose lease expired and were queued again, since start",
            )
            .with(Vec::new(), events.task_retries),
            Reading::counter(
                "provindex_coordinator_lease_expiries",
                "Task leases that expired (a worker stopped heartbeating), since start",
            )
            .with(Vec::new(), events.lease_expiries),
        ]
    });
}
