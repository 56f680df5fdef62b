//! A job's durable state as an append-only log (issue 17): `<state>/<job>.log`
//! holds a snapshot of the whole job, then one small record per change, so a
//! change costs the bytes of the tasks it touched, not of the job (a job of
//! n inputs used to rewrite its whole state on each of its ~2n changes).
//!
//! # Format
//!
//! ```text
//! PVJLOG1\n                                   magic (8 bytes)
//! frame*                                      the first one a snapshot
//! frame = len (u32 LE) ‖ len check (u32 LE, low half of xxh3-64 of the len
//!         bytes) ‖ xxh3-64 of the payload (u64 LE) ‖ payload (JSON of a record)
//! ```
//!
//! Records: `snapshot` (the [`Job`] as serde writes it) and `update` (the
//! job's mutable head plus each changed task, whole, by position). Tasks,
//! payloads and results are the serde types of [`crate::job`] and
//! [`crate::tasks`]: nothing here knows which stages exist.
//!
//! # Rules
//!
//! - Every record is fsynced before the change is acknowledged.
//! - A change that plans tasks or changes the job's stage or state, and a log
//!   grown past [`COMPACT_FACTOR`] times its snapshot, writes a new snapshot
//!   instead (a new file, fsynced, renamed over the log, directory fsynced):
//!   an update record only ever replaces tasks that exist.
//! - On open, a torn final frame (a crash mid-append: an incomplete frame, a
//!   last frame whose checksum fails, or zeros to the end of the file) was
//!   never acknowledged: it is dropped with a warning and cut off the file.
//!   Anything else that does not decode is an error naming the file and the
//!   offset of the frame.
//! - An append that fails marks the log stale: the next change writes a
//!   snapshot, so the change that failed is not lost from a later record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::job::{Job, JobError, JobState, Stage, Task};

pub const MAGIC: &[u8; 8] = b"PVJLOG1\n";
const FRAME_HEADER: usize = 16;
/// A log whose updates exceed this many times its snapshot (plus
/// [`COMPACT_MIN_BYTES`]) is rewritten as one snapshot: replay stays
/// proportional to the job, the cost per change amortized constant.
pub const COMPACT_FACTOR: u64 = 2;
pub const COMPACT_MIN_BYTES: u64 = 1 << 20;

/// The job's fields a change may touch besides its tasks (the spec, inputs
/// and creation time never change after submission).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobHead {
    state: JobState,
    stage: Stage,
    error: Option<String>,
    updated_ms: i64,
    retries: u32,
    last_token: u64,
}

impl JobHead {
    fn of(job: &Job) -> Self {
        JobHead {
            state: job.state,
            stage: job.stage,
            error: job.error.clone(),
            updated_ms: job.updated_ms,
            retries: job.retries,
            last_token: job.last_token,
        }
    }

    fn apply(self, job: &mut Job) {
        job.state = self.state;
        job.stage = self.stage;
        job.error = self.error;
        job.updated_ms = self.updated_ms;
        job.retries = self.retries;
        job.last_token = self.last_token;
    }
}

#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum RecordOut<'a> {
    Snapshot {
        job: &'a Job,
    },
    Update {
        head: JobHead,
        tasks: Vec<TaskAt<&'a Task>>,
    },
}

#[derive(Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum RecordIn {
    Snapshot {
        job: Box<Job>,
    },
    Update {
        head: JobHead,
        tasks: Vec<TaskAt<Task>>,
    },
}

#[derive(Serialize, Deserialize)]
struct TaskAt<T> {
    index: u32,
    task: T,
}

/// What decides between an update and a snapshot: planning adds tasks, and
/// stage or state changes may touch any task.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    stage: Stage,
    state: JobState,
    tasks: usize,
}

impl Shape {
    fn of(job: &Job) -> Self {
        Shape {
            stage: job.stage,
            state: job.state,
            tasks: job.tasks.len(),
        }
    }
}

/// One job's log file, as far as it has been written.
#[derive(Debug)]
pub struct JobLog {
    path: PathBuf,
    /// Bytes of valid frames (the file's length).
    len: u64,
    snapshot_len: u64,
    shape: Shape,
    stale: bool,
}

/// The log file of `job_id` in `dir`.
pub fn log_path(dir: &Path, job_id: &str) -> PathBuf {
    dir.join(format!("{job_id}.log"))
}

fn state_error(path: &Path, reason: impl std::fmt::Display) -> JobError {
    JobError::State {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn frame(path: &Path, record: &RecordOut<'_>) -> Result<Vec<u8>, JobError> {
    let payload = serde_json::to_vec(record).map_err(|e| state_error(path, e))?;
    let len = u32::try_from(payload.len())
        .map_err(|_| state_error(path, format!("a record of {} bytes", payload.len())))?;
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len_check(len).to_le_bytes());
    out.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

fn len_check(len: u32) -> u32 {
    xxh3_64(&len.to_le_bytes()) as u32
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl JobLog {
    /// Writes `job` as the whole log (a new file renamed over the old one).
    pub fn write_snapshot(dir: &Path, job: &Job) -> Result<JobLog, JobError> {
        let path = log_path(dir, &job.id);
        let tmp = dir.join(format!(".{}.log.tmp", job.id));
        let mut bytes = MAGIC.to_vec();
        bytes.extend(frame(&path, &RecordOut::Snapshot { job })?);
        (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename is durable once the directory is synced.
            sync_dir(dir)
        })()
        .map_err(|e| state_error(&path, e))?;
        Ok(JobLog {
            path,
            len: bytes.len() as u64,
            snapshot_len: bytes.len() as u64,
            shape: Shape::of(job),
            stale: false,
        })
    }

    /// Makes `job`'s change durable: the tasks at `changed` and the job's
    /// head as one appended record, or a new snapshot (see the module rules).
    pub fn record(&mut self, dir: &Path, job: &Job, changed: &[usize]) -> Result<(), JobError> {
        let grown =
            self.len - self.snapshot_len > COMPACT_FACTOR * self.snapshot_len + COMPACT_MIN_BYTES;
        if self.stale || grown || self.shape != Shape::of(job) {
            match JobLog::write_snapshot(dir, job) {
                Ok(log) => *self = log,
                Err(error) => {
                    self.stale = true;
                    return Err(error);
                }
            }
            return Ok(());
        }
        let mut tasks = Vec::with_capacity(changed.len());
        for &index in changed {
            let task = job.tasks.get(index).ok_or_else(|| {
                state_error(&self.path, format!("no task at position {index} to record"))
            })?;
            tasks.push(TaskAt {
                index: index as u32,
                task,
            });
        }
        let bytes = frame(
            &self.path,
            &RecordOut::Update {
                head: JobHead::of(job),
                tasks,
            },
        )?;
        let appended = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .and_then(|mut file| {
                let written = file.write_all(&bytes).and_then(|()| file.sync_data());
                if written.is_err() {
                    // Best effort: no partial frame before the next snapshot.
                    let _ = file.set_len(self.len);
                }
                written
            });
        match appended {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                self.stale = true;
                Err(state_error(
                    &self.path,
                    format!("appending a record: {error}"),
                ))
            }
        }
    }

    /// Reads a job's log: its snapshot and every update after it. A torn
    /// final frame is cut off the file (with a warning); other damage is an
    /// error naming the file and offset.
    pub fn replay(path: &Path) -> Result<(Job, JobLog), JobError> {
        let bytes = std::fs::read(path).map_err(|e| state_error(path, e))?;
        let at =
            |offset: usize, reason: String| state_error(path, format!("offset {offset}: {reason}"));
        if !bytes.starts_with(MAGIC) {
            return Err(state_error(
                path,
                "not a job log (it does not start with PVJLOG1)",
            ));
        }
        let mut offset = MAGIC.len();
        let mut job: Option<Job> = None;
        let mut snapshot_len = 0;
        while offset < bytes.len() {
            let payload = match next_frame(&bytes, offset) {
                Frame::Record(payload) => payload,
                Frame::Torn(reason) if job.is_some() => {
                    tracing::warn!(
                        path = %path.display(),
                        offset,
                        dropped = bytes.len() - offset,
                        "job log: dropping a torn final record ({reason}), never acknowledged"
                    );
                    OpenOptions::new()
                        .write(true)
                        .open(path)
                        .and_then(|file| {
                            file.set_len(offset as u64)?;
                            file.sync_all()
                        })
                        .map_err(|e| at(offset, format!("cutting off a torn record: {e}")))?;
                    break;
                }
                Frame::Torn(reason) | Frame::Corrupt(reason) => return Err(at(offset, reason)),
            };
            let end = offset + FRAME_HEADER + payload.len();
            let record: RecordIn = serde_json::from_slice(payload)
                .map_err(|e| at(offset, format!("undecodable record: {e}")))?;
            match (record, job.as_mut()) {
                (RecordIn::Snapshot { job: snapshot }, None) => {
                    job = Some(*snapshot);
                    snapshot_len = end;
                }
                (RecordIn::Snapshot { .. }, Some(_)) => {
                    return Err(at(offset, "a second snapshot record".into()));
                }
                (RecordIn::Update { .. }, None) => {
                    return Err(at(offset, "an update before the snapshot".into()));
                }
                (RecordIn::Update { head, tasks }, Some(job)) => {
                    for TaskAt { index, task } in tasks {
                        let slot = job.tasks.get_mut(index as usize).ok_or_else(|| {
                            at(
                                offset,
                                format!("task position {index} beyond the job's tasks"),
                            )
                        })?;
                        if slot.id != task.id {
                            return Err(at(
                                offset,
                                format!(
                                    "task {} recorded at position {index}, which holds {}",
                                    task.id, slot.id
                                ),
                            ));
                        }
                        *slot = task;
                    }
                    head.apply(job);
                }
            }
            offset = end;
        }
        let job = job.ok_or_else(|| at(offset, "no snapshot record".into()))?;
        let file_stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if job.id != file_stem {
            return Err(state_error(
                path,
                format!("holds job {:?}, not {file_stem:?}", job.id),
            ));
        }
        let log = JobLog {
            path: path.to_path_buf(),
            len: offset as u64,
            snapshot_len: snapshot_len as u64,
            shape: Shape::of(&job),
            stale: false,
        };
        Ok((job, log))
    }
}

enum Frame<'a> {
    Record(&'a [u8]),
    /// The end of the file holds an incomplete or unverifiable last frame.
    Torn(String),
    Corrupt(String),
}

fn next_frame(bytes: &[u8], offset: usize) -> Frame<'_> {
    let rest = &bytes[offset..];
    if rest.len() < FRAME_HEADER {
        return Frame::Torn(format!("{} bytes of a frame header", rest.len()));
    }
    let word = |at: usize| u32::from_le_bytes(rest[at..at + 4].try_into().expect("4 bytes"));
    let len = word(0);
    if word(4) != len_check(len) {
        // A crash may leave the end of a file zero-filled.
        return if rest.iter().all(|&b| b == 0) {
            Frame::Torn("zeros to the end of the file".into())
        } else {
            Frame::Corrupt("bad frame header (length check fails)".into())
        };
    }
    let end = FRAME_HEADER + len as usize;
    if rest.len() < end {
        return Frame::Torn(format!(
            "a record of {len} bytes with {} written",
            rest.len() - FRAME_HEADER
        ));
    }
    let sum = u64::from_le_bytes(rest[8..16].try_into().expect("8 bytes"));
    let payload = &rest[FRAME_HEADER..end];
    if xxh3_64(payload) == sum {
        Frame::Record(payload)
    } else if end == rest.len() {
        Frame::Torn("the last record's checksum fails".into())
    } else {
        Frame::Corrupt(format!("checksum mismatch in a record of {len} bytes"))
    }
}
