//! Issue 14 (7): a whole local build over a directory holding real WARC
//! files, a symbolic link loop, a dangling link and a FIFO. The build indexes
//! the good files and reports each bad path with its reason; it does not stop
//! at the loop nor wait on the FIFO. It runs on a thread with a bounded
//! wait, so a regression fails the test instead of hanging it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use provindex_corpus::read_path;
use provindex_pipeline::{LocalBuild, build_local};

/// Generous: the build takes seconds when nothing blocks.
const BOUND: Duration = Duration::from_secs(300);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn corpus_warc(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus/warc")
        .join(name)
}

#[test]
fn a_build_over_a_link_loop_and_a_fifo_indexes_the_good_files_and_reports_the_bad() {
    let tmp = TempDir(std::env::temp_dir().join(format!(
        "provindex-special-inputs-build.{}",
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&tmp.0);
    let root = tmp.0.join("crawl");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let good = [
        ("a.warc.gz", "cc-single-response.warc.gz"),
        ("sub/b.warc.gz", "cc-main-2024-22-whirlwind.warc.gz"),
    ];
    let mut docs = 0;
    for (to, from) in good {
        std::fs::copy(corpus_warc(from), root.join(to)).unwrap();
        docs += read_path(&corpus_warc(from)).filter(|d| d.is_ok()).count();
    }
    std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("pipe"))
        .status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");

    let config = LocalBuild {
        inputs: vec![root.display().to_string()],
        skip_failed_inputs: false,
        out: tmp.0.join("index"),
        crawl: "special".into(),
        workers: 2,
        built_at: 0,
        robots: None,
        staging: None,
        partitions: 0,
        no_signals: false,
        signing_key: None,
        pii_key: None,
        index_partitions: 1,
        base: None,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(build_local(&config).map_err(|e| e.to_string()));
    });
    // A thread stuck in open(2) on the FIFO is left behind; the process ends.
    let report = rx
        .recv_timeout(BOUND)
        .expect("the build did not finish")
        .expect("bad entries must not fail the build");

    assert_eq!(report.files, 5, "{report:?}");
    assert_eq!(report.manifest.captures, docs as u64, "{report:?}");
    assert_eq!(report.error_count, 3, "{:?}", report.errors);
    for (rel, reason) in [
        ("pipe", "FIFO"),
        ("sub/loop", "symbolic link loop"),
        ("dangling", "dangling symbolic link"),
    ] {
        let prefix = format!("{}@0: ", root.join(rel).display());
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.starts_with(&prefix) && e.contains(reason)),
            "{rel}: {:?}",
            report.errors
        );
    }
}
