//! Issue 14 (7): directory and special-file inputs. A symbolic link loop in
//! an input directory, a dangling link, a FIFO or a socket is listed and then
//! reads as one error naming it, never opened; the good files around it are
//! listed and read as usual. Listing and reading run on a thread with a
//! bounded wait, so a regression (a hang opening a FIFO, an endless walk)
//! fails the test instead of stalling it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use provindex_corpus::store::CorpusStore;
use provindex_corpus::{ReaderOptions, read_path};

/// Generous: the whole check takes well under a second when nothing blocks.
const BOUND: Duration = Duration::from_secs(120);

fn corpus_warc(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus/warc")
        .join(name)
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "provindex-special-inputs.{}.{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status();
    assert!(ok.is_ok_and(|s| s.success()), "mkfifo {}", path.display());
}

/// Runs `f` on a thread; its result, or a failure after [`BOUND`].
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    // A thread stuck in open(2) on a FIFO is left behind; the process ends.
    rx.recv_timeout(BOUND)
        .unwrap_or_else(|e| panic!("{what} did not finish: {e}"))
}

/// What reading one listed object gave: (uri, docs, errors).
type ReadOutcome = (String, usize, Vec<String>);

fn list_and_read(pattern: String) -> Result<Vec<ReadOutcome>, String> {
    let store = CorpusStore::new().map_err(|e| e.to_string())?;
    let listed = store.list(&pattern).map_err(|e| e.to_string())?;
    Ok(listed
        .into_iter()
        .map(|o| {
            let mut docs = 0;
            let mut errors = Vec::new();
            for d in store.docs(&o.uri, ReaderOptions::default()) {
                match d {
                    Ok(_) => docs += 1,
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (o.uri, docs, errors)
        })
        .collect())
}

/// A directory with two real WARC files (one in a subdirectory), a link
/// back to its root, a link to itself, a dangling link and a FIFO.
fn bad_tree() -> (TempDir, PathBuf) {
    let tmp = TempDir::new();
    let root = tmp.path().join("crawl");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::copy(
        corpus_warc("cc-single-response.warc.gz"),
        root.join("a.warc.gz"),
    )
    .unwrap();
    std::fs::copy(
        corpus_warc("cc-main-2024-22-whirlwind.warc.gz"),
        root.join("sub/b.warc.gz"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..", root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("self", root.join("self")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();
    mkfifo(&root.join("pipe"));
    (tmp, root)
}

fn expected_docs(name: &str) -> usize {
    read_path(&corpus_warc(name)).filter(|d| d.is_ok()).count()
}

#[test]
fn a_directory_with_a_link_loop_and_a_fifo_lists_and_reads_the_good_files() {
    let (_tmp, root) = bad_tree();
    let a = expected_docs("cc-single-response.warc.gz");
    let b = expected_docs("cc-main-2024-22-whirlwind.warc.gz");
    assert!(a > 0 && b > 0);
    let pattern = root.display().to_string();
    let got = bounded("listing and reading", move || list_and_read(pattern))
        .expect("a bad entry must not fail the whole listing");
    let uri = |rel: &str| root.join(rel).display().to_string();
    let names: Vec<&str> = got.iter().map(|(u, _, _)| u.as_str()).collect();
    assert_eq!(
        names,
        [
            uri("a.warc.gz"),
            uri("dangling"),
            uri("pipe"),
            uri("self"),
            uri("sub/b.warc.gz"),
            uri("sub/loop"),
        ],
        "{got:?}"
    );
    let by_uri = |rel: &str| got.iter().find(|(u, _, _)| *u == uri(rel)).unwrap();
    // The good files: every doc, no error.
    assert_eq!(by_uri("a.warc.gz").1, a);
    assert!(by_uri("a.warc.gz").2.is_empty());
    assert_eq!(by_uri("sub/b.warc.gz").1, b);
    assert!(by_uri("sub/b.warc.gz").2.is_empty());
    // The bad entries: no doc, one error naming the path and the reason.
    for (rel, reason) in [
        ("pipe", "FIFO"),
        ("sub/loop", "symbolic link loop"),
        ("self", "symbolic links"),
        ("dangling", "dangling symbolic link"),
    ] {
        let (u, docs, errors) = by_uri(rel);
        assert_eq!(*docs, 0, "{u}");
        assert_eq!(errors.len(), 1, "{u}: {errors:?}");
        assert!(errors[0].starts_with(&format!("{u}@0: ")), "{errors:?}");
        assert!(errors[0].contains(reason), "{u}: {errors:?}");
    }
}

#[test]
fn a_glob_over_a_link_loop_lists_the_good_files() {
    let (_tmp, root) = bad_tree();
    let pattern = format!("{}/**/*.warc.gz", root.display());
    let got = bounded("listing a glob", move || list_and_read(pattern)).unwrap();
    let names: Vec<String> = got.iter().map(|(u, _, _)| u.clone()).collect();
    assert_eq!(
        names,
        [
            root.join("a.warc.gz").display().to_string(),
            root.join("sub/b.warc.gz").display().to_string(),
        ]
    );
    assert!(
        got.iter()
            .all(|(_, docs, errors)| *docs > 0 && errors.is_empty())
    );
}

#[test]
fn a_fifo_or_socket_given_directly_is_reported_not_opened() {
    let tmp = TempDir::new();
    let fifo = tmp.path().join("input.warc.gz");
    mkfifo(&fifo);
    let sock_path = tmp.path().join("input.sock");
    let _sock = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    for path in [fifo, sock_path] {
        let pattern = path.display().to_string();
        let got = bounded("reading a special file", move || list_and_read(pattern)).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        let (u, docs, errors) = &got[0];
        assert_eq!(*u, path.display().to_string());
        assert_eq!(*docs, 0);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("not a regular file"), "{errors:?}");
        // read_path, the plain-file entry point, does not open it either.
        let p = path.clone();
        let errors: Vec<String> = bounded("read_path on a special file", move || {
            read_path(&p)
                .filter_map(|d| d.err().map(|e| e.to_string()))
                .collect()
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("not a regular file"), "{errors:?}");
    }
}
