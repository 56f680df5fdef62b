//! `--progress` of the long commands (`index`, `export`, `report`): indicatif
//! bars on stderr, or one plain line per milestone. The libraries only
//! report (the pipeline hands over the job after every change, disclosure
//! its walks' [`provindex_disclosure::WalkProgress`]); this module renders,
//! so nothing below the binary knows about terminals.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use provindex_proto::v1 as pb;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal, nothing otherwise.
    #[default]
    Auto,
    /// Bars, redrawn in place (also when stderr is not a terminal).
    Bar,
    /// One line per milestone: `progress: STEP DONE/TOTAL [UNIT], ...`, a
    /// step's first and last line always, at most one a second between.
    Plain,
    Off,
}

#[derive(Args, Clone, Debug)]
pub struct ProgressArgs {
    /// Progress on stderr: auto (bars on a terminal, else none), bar,
    /// plain (one line per stage milestone, for logs), off.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// One step's state as last reported.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// `scan`, `build`, `export contents`, `report captures`, ...
    pub name: &'a str,
    pub done: u64,
    pub total: u64,
    /// What `done` counts (`tasks`), or empty.
    pub unit: &'a str,
    pub failed: u64,
    /// Bytes done and in all (the scan's input bytes): the bar counts these.
    pub bytes: Option<(u64, u64)>,
    /// Running counts, named (`records`, `kept`, `excluded`).
    pub counts: &'a [(&'a str, u64)],
}

impl Step<'_> {
    fn finished(&self) -> bool {
        self.total > 0 && self.done + self.failed >= self.total
    }

    /// `scan 3/10 tasks, 1 failed, 1.2/4.0 MiB (1258291/4194304 bytes), 120 records`.
    fn line(&self) -> String {
        let mut line = format!("{} {}/{}", self.name, self.done, self.total);
        if !self.unit.is_empty() {
            line += &format!(" {}", self.unit);
        }
        if self.failed > 0 {
            line += &format!(", {} failed", self.failed);
        }
        if let Some((done, total)) = self.bytes {
            line += &format!(
                ", {:.1}/{:.1} MiB ({done}/{total} bytes)",
                mib(done),
                mib(total)
            );
        }
        for (name, value) in self.counts {
            line += &format!(", {value} {name}");
        }
        line
    }

    fn message(&self) -> String {
        let mut parts = Vec::new();
        if self.bytes.is_some() {
            parts.push(format!("{}/{} {}", self.done, self.total, self.unit));
        }
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        parts.extend(self.counts.iter().map(|(name, v)| format!("{v} {name}")));
        parts.join(", ")
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The renderer a command owns while it runs.
pub struct Progress {
    kind: Kind,
}

enum Kind {
    Off,
    Plain(BTreeMap<String, PlainStep>),
    Bars {
        multi: MultiProgress,
        bars: BTreeMap<String, ProgressBar>,
    },
}

#[derive(Default)]
struct PlainStep {
    last: (u64, u64, u64),
    printed_at: Option<Instant>,
    finished: bool,
}

/// Plain lines of a step that is not finished, at most this often.
const PLAIN_EVERY: Duration = Duration::from_secs(1);

impl Progress {
    pub fn new(mode: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let kind = match mode {
            ProgressMode::Off => Kind::Off,
            ProgressMode::Auto if !terminal => Kind::Off,
            ProgressMode::Plain => Kind::Plain(BTreeMap::new()),
            ProgressMode::Auto | ProgressMode::Bar => {
                // indicatif draws on a terminal only; asked for bars
                // elsewhere, they go through a plain ANSI writer.
                let target = if terminal {
                    ProgressDrawTarget::stderr()
                } else {
                    ProgressDrawTarget::term_like(Box::new(AnsiStderr))
                };
                Kind::Bars {
                    multi: MultiProgress::with_draw_target(target),
                    bars: BTreeMap::new(),
                }
            }
        };
        Self { kind }
    }

    pub fn update(&mut self, step: &Step<'_>) {
        match &mut self.kind {
            Kind::Off => {}
            Kind::Plain(steps) => {
                let state = steps.entry(step.name.to_owned()).or_default();
                let now = (step.done, step.failed, step.total);
                if state.finished || (state.printed_at.is_some() && state.last == now) {
                    return;
                }
                let finished = step.finished();
                let due = state
                    .printed_at
                    .is_none_or(|at| at.elapsed() >= PLAIN_EVERY);
                if !(finished || due) {
                    return;
                }
                let mut stderr = std::io::stderr().lock();
                let _ = writeln!(stderr, "progress: {}", step.line());
                state.last = now;
                state.printed_at = Some(Instant::now());
                state.finished = finished;
            }
            Kind::Bars { multi, bars } => {
                let bar = bars.entry(step.name.to_owned()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(step.total));
                    let template = if step.bytes.is_some() {
                        "{prefix:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} \
                         {binary_bytes_per_sec} eta {eta} {msg}"
                    } else {
                        "{prefix:>12} [{bar:30}] {pos}/{len} {msg} eta {eta}"
                    };
                    if let Ok(style) = ProgressStyle::with_template(template) {
                        bar.set_style(style.progress_chars("#>-"));
                    }
                    bar.set_prefix(step.name.to_owned());
                    bar
                });
                if bar.is_finished() {
                    return;
                }
                let (position, length) =
                    step.bytes.unwrap_or((step.done + step.failed, step.total));
                bar.set_length(length);
                bar.set_position(position);
                bar.set_message(step.message());
                if step.finished() {
                    bar.finish();
                }
            }
        }
    }

    /// Every stage of a job (`index`, local or on a coordinator); stages
    /// not planned yet (no tasks) are left out.
    pub fn job(&mut self, status: &pb::JobStatus) {
        for stage in &status.stages {
            if stage.tasks_total == 0 {
                continue;
            }
            let scan = stage.stage == "scan";
            let records = [("records", status.records_done)];
            self.update(&Step {
                name: &stage.stage,
                done: stage.tasks_done.into(),
                total: stage.tasks_total.into(),
                unit: "tasks",
                failed: stage.tasks_failed.into(),
                bytes: scan.then_some((status.input_bytes_done, status.input_bytes)),
                counts: if scan { &records } else { &[] },
            });
        }
    }

    /// A disclosure walk of `command` (`export`, `report`).
    pub fn walk(&mut self, command: &str, walk: &provindex_disclosure::WalkProgress<'_>) {
        self.update(&Step {
            name: &format!("{command} {}", walk.step),
            done: walk.done,
            total: walk.total,
            unit: "",
            failed: 0,
            bytes: None,
            counts: walk.counts,
        });
    }

    /// Leaves finished bars on screen and drops the rest.
    pub fn finish(&mut self) {
        if let Kind::Bars { bars, .. } = &self.kind {
            for bar in bars.values().filter(|b| !b.is_finished()) {
                bar.abandon();
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// stderr as a terminal of 80 columns, for bars asked for (`--progress
/// bar`) where stderr is not one.
#[derive(Debug)]
struct AnsiStderr;

impl AnsiStderr {
    fn put(&self, text: &str) -> std::io::Result<()> {
        std::io::stderr().lock().write_all(text.as_bytes())
    }
}

impl TermLike for AnsiStderr {
    fn width(&self) -> u16 {
        80
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&format!("\x1b[{n}A"))
        }
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&format!("\x1b[{n}B"))
        }
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&format!("\x1b[{n}C"))
        }
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            Ok(())
        } else {
            self.put(&format!("\x1b[{n}D"))
        }
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.put(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.put(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.put("\r\x1b[2K")
    }

    fn flush(&self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_names_totals_bytes_and_counts() {
        let step = Step {
            name: "scan",
            done: 3,
            total: 10,
            unit: "tasks",
            failed: 1,
            bytes: Some((1 << 20, 4 << 20)),
            counts: &[("records", 120)],
        };
        assert_eq!(
            step.line(),
            "scan 3/10 tasks, 1 failed, 1.0/4.0 MiB (1048576/4194304 bytes), 120 records"
        );
        assert!(!step.finished());
        let done = Step { done: 9, ..step };
        assert!(done.finished());
        let export = Step {
            name: "export contents",
            done: 5,
            total: 5,
            unit: "",
            failed: 0,
            bytes: None,
            counts: &[("kept", 3), ("excluded", 2)],
        };
        assert_eq!(export.line(), "export contents 5/5, 3 kept, 2 excluded");
        assert!(
            !Step {
                total: 0,
                done: 0,
                ..export
            }
            .finished()
        );
    }
}
