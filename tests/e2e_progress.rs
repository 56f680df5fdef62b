//! `--progress plain` of the long commands, with real processes: `provindex
//! index` prints each stage's last line with every task done and the scan's
//! input bytes equal to the inputs' sizes on disk; `export` and `report`
//! print final counts equal to the summary and report they write. Only
//! final lines are checked (how many lines come before depends on timing);
//! with stderr not a terminal the default (`auto`) prints nothing.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::{corpus_dir, gov_uk_and_iana_warcs, provindex_bin, run_ok};
use serde_json::Value;

fn run(args: &[OsString]) -> Output {
    run_ok(&args.iter().map(OsString::as_os_str).collect::<Vec<_>>())
}

fn args(items: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    items.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// The `progress: ` lines of stderr, the last one per step (the words
/// before `D/T`), with its `D/T` pair and the rest.
fn final_lines(output: &Output) -> BTreeMap<String, (u64, u64, String)> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut last = BTreeMap::new();
    for line in stderr.lines() {
        let Some(line) = line.strip_prefix("progress: ") else {
            continue;
        };
        let raw: Vec<&str> = line.split(' ').collect();
        let words: Vec<&str> = raw.iter().map(|w| w.trim_end_matches(',')).collect();
        let at = words
            .iter()
            .position(|w| w.contains('/') && w.split('/').all(|n| n.parse::<u64>().is_ok()))
            .unwrap_or_else(|| panic!("no DONE/TOTAL in {line:?}"));
        let (done, total) = words[at].split_once('/').expect("pair");
        last.insert(
            words[..at].join(" "),
            (
                done.parse().expect("done"),
                total.parse().expect("total"),
                raw[at + 1..].join(" "),
            ),
        );
    }
    last
}

/// `N NAME` out of a line's `, N NAME, ...` tail.
fn count(rest: &str, name: &str) -> u64 {
    rest.split(',')
        .find_map(|part| {
            let (n, what) = part.trim().split_once(' ')?;
            (what == name).then(|| n.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no count {name:?} in {rest:?}"))
}

/// `(B/T bytes)` out of the scan line.
fn bytes(rest: &str) -> (u64, u64) {
    let inner = rest
        .split('(')
        .nth(1)
        .and_then(|s| s.split(" bytes)").next())
        .unwrap_or_else(|| panic!("no byte counts in {rest:?}"));
    let (done, total) = inner.split_once('/').expect("B/T");
    (done.parse().expect("bytes"), total.parse().expect("bytes"))
}

fn size_of(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .map(|f| std::fs::metadata(f).expect("input size").len())
        .sum()
}

#[test]
fn index_prints_every_stage_complete_with_the_inputs_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warc_dir = corpus_dir().join("warc");
    let inputs: Vec<PathBuf> = std::fs::read_dir(&warc_dir)
        .expect("list corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    assert!(inputs.len() > 5);
    // Two index partitions: a publish stage too.
    let out = dir.path().join("published");
    let output = run(&args(&[
        &"index",
        &warc_dir,
        &"--out",
        &out,
        &"--index-partitions",
        &"2",
        &"--workers",
        &"2",
        &"--progress",
        &"plain",
    ]));
    let lines = final_lines(&output);
    let stages = [
        "scan",
        "cluster",
        "components",
        "revisits",
        "build",
        "publish",
    ];
    assert_eq!(
        lines.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut sorted = stages.to_vec();
            sorted.sort();
            sorted
        },
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for stage in stages {
        let (done, total, rest) = &lines[stage];
        assert_eq!(done, total, "{stage}: {rest}");
        assert!(rest.starts_with("tasks"), "{stage}: {rest}");
    }
    assert_eq!(lines["scan"].1, inputs.len() as u64);
    assert_eq!(lines["build"].1, 2);
    assert_eq!(lines["publish"].1, 1);
    let (done, total) = bytes(&lines["scan"].2);
    assert_eq!((done, total), (size_of(&inputs), size_of(&inputs)));
    // Progress is on stderr only: stdout is the report as before.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("progress:"), "{stdout}");
    assert!(stdout.contains("digest: "), "{stdout}");
}

#[test]
fn export_and_report_print_final_counts_equal_to_what_they_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = gov_uk_and_iana_warcs();
    let index = dir.path().join("index");
    let mut index_args = args(&[&"index"]);
    index_args.extend(inputs.iter().map(|p| p.as_os_str().to_os_string()));
    index_args.extend(args(&[&"--out", &index, &"--progress", &"plain"]));
    let output = run(&index_args);
    let lines = final_lines(&output);
    // One index partition: no publish stage.
    assert_eq!(
        lines.keys().map(String::as_str).collect::<Vec<_>>(),
        ["build", "cluster", "components", "revisits", "scan"]
    );
    assert_eq!(
        bytes(&lines["scan"].2),
        (size_of(&inputs), size_of(&inputs))
    );
    let records = count(&lines["scan"].2, "records");
    assert!(records > 0);

    let manifest = dir.path().join("train.jsonl");
    let output = run(&args(&[
        &"export",
        &index,
        &"--out",
        &manifest,
        &"--progress",
        &"plain",
    ]));
    let summary: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("train.summary.json")).expect("summary"),
    )
    .expect("summary JSON");
    let lines = final_lines(&output);
    let (done, total, rest) = &lines["export contents"];
    let contents = summary["contents"].as_u64().expect("contents");
    assert!(contents > 0);
    assert_eq!((*done, *total), (contents, contents));
    assert_eq!(count(rest, "kept"), summary["kept"].as_u64().unwrap());
    assert_eq!(
        count(rest, "excluded"),
        summary["excluded"].as_u64().unwrap()
    );
    assert!(summary["excluded"].as_u64().unwrap() > 0, "{summary}");

    let report_path = dir.path().join("report.json");
    let output = run(&args(&[
        &"report",
        &index,
        &"--json",
        &report_path,
        &"--progress",
        &"plain",
    ]));
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("report")).expect("JSON");
    let totals = &report["totals"];
    let lines = final_lines(&output);
    let captures = totals["captures"].as_u64().unwrap();
    assert_eq!(
        (lines["report captures"].0, lines["report captures"].1),
        (captures, captures)
    );
    let (done, total, rest) = &lines["report contents"];
    assert_eq!((*done, *total), (contents, contents));
    assert_eq!(count(rest, "keepers"), totals["keepers"].as_u64().unwrap());

    // bar: redrawn bars (ANSI escapes) even off a terminal, on stderr only.
    let output = run(&args(&[
        &"report",
        &index,
        &"--json",
        &report_path,
        &"--progress",
        &"bar",
    ]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("report contents [") && stderr.contains('\x1b'),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{contents}/{contents}")),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains('\x1b'));

    // Not a terminal: the default (auto) and off print no progress.
    for mode in [None, Some("off")] {
        let mut report_args = args(&[&"report", &index, &"--json", &report_path]);
        if let Some(mode) = mode {
            report_args.extend(args(&[&"--progress", &mode]));
        }
        let output = run(&report_args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("progress"), "{mode:?}: {stderr}");
    }
}

#[test]
fn a_bad_progress_mode_is_refused_naming_the_choices() {
    let output = Command::new(provindex_bin())
        .args(["report", "/nonexistent", "--progress", "fancy"])
        .output()
        .expect("run provindex");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fancy") && stderr.contains("plain") && stderr.contains("auto"),
        "{stderr}"
    );
}
