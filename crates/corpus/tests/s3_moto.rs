//! The corpus read from a real S3-compatible server (moto) gives the same
//! results as the local read. Needs PyPI access to install `moto[server]`
//! into a venv (reused between runs); fails loudly if that is impossible.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use provindex_corpus::store::{CorpusStore, S3Settings};
use provindex_corpus::*;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus")
}

fn venv() -> PathBuf {
    let dir = std::env::temp_dir().join("provindex-moto-venv");
    let bin = dir.join("bin");
    if bin.join("moto_server").exists() && bin.join("python").exists() {
        return dir;
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "python3 -m venv {} failed",
        dir.display()
    );
    let out = Command::new(bin.join("pip"))
        .args(["install", "--quiet", "moto[server]", "boto3"])
        .output()
        .expect("running pip");
    assert!(
        out.status.success(),
        "pip install moto[server] failed (is PyPI reachable?):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bin.join("moto_server").exists(),
        "moto_server missing after pip install"
    );
    dir
}

/// Kills the server when the test ends, also on panic.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto(venv: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting moto_server");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn create_bucket(venv: &Path, endpoint: &str, bucket: &str) {
    let script = format!(
        "import boto3\nboto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test').create_bucket(Bucket='{bucket}')\n"
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create bucket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A comparable digest of one doc (location uri differs by design).
fn key(d: &Result<SourceDoc, ReadError>) -> String {
    match d {
        Ok(d) => format!(
            "{:?}|{:?}|{:?}|{}|{}|{:?}|{:?}|{:?}",
            d.record_id,
            d.kind,
            d.url,
            d.location.offset,
            d.location.length,
            d.location.framing,
            d.text
                .as_ref()
                .map(|t| (t.len(), t.chars().take(50).collect::<String>())),
            d.warnings
        ),
        Err(e) => format!("ERR {} {}", e.offset, e.reason),
    }
}

#[test]
fn s3_reads_match_local_reads() {
    let venv = venv();
    let server = start_moto(&venv);
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    create_bucket(&venv, &endpoint, "crawl");
    let store = CorpusStore::new().unwrap().with_s3_settings(S3Settings {
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
    });

    let mut files = Vec::new();
    for dir in ["warc", "jsonl", "malformed"] {
        let mut v: Vec<_> = std::fs::read_dir(corpus_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        for p in v {
            let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            store
                .put(
                    &format!("s3://crawl/corpus/{name}"),
                    std::fs::read(&p).unwrap().into(),
                )
                .unwrap();
            files.push((name, p));
        }
    }

    // Listing: prefix and glob, sorted.
    let all = store.list("s3://crawl/corpus/").unwrap();
    assert_eq!(all.len(), files.len());
    let gz = store.list("s3://crawl/corpus/warc/*.warc.gz").unwrap();
    let expect: Vec<_> = files
        .iter()
        .filter(|(n, _)| n.starts_with("warc/") && n.ends_with(".warc.gz"))
        .map(|(n, _)| format!("s3://crawl/corpus/{n}"))
        .collect();
    assert_eq!(gz.iter().map(|o| o.uri.clone()).collect::<Vec<_>>(), expect);
    // Local listing of the same directory gives the same names.
    let local = store
        .list(&corpus_dir().join("warc").display().to_string())
        .unwrap();
    assert_eq!(
        local.len(),
        files.iter().filter(|(n, _)| n.starts_with("warc/")).count()
    );

    let mut compared = 0;
    for (name, path) in &files {
        let uri = format!("s3://crawl/corpus/{name}");
        let mut remote_it = store.docs(&uri, ReaderOptions::default());
        let remote: Vec<String> = remote_it.by_ref().map(|d| key(&d)).collect();
        let mut local_it = read_path(path);
        let local: Vec<String> = local_it.by_ref().map(|d| key(&d)).collect();
        assert_eq!(remote, local, "{name}");
        assert_eq!(remote_it.stats(), local_it.stats(), "{name}");
        compared += remote.len();
    }
    assert!(compared > 700, "{compared}");

    // Evidence: byte ranges of records fetched back decode to the same record.
    let uri = "s3://crawl/corpus/warc/gov.uk-2014-crawl-a.warc.gz";
    let mut n = 0;
    for d in store.docs(uri, ReaderOptions::default()).take(10) {
        let d = d.unwrap();
        assert_eq!(d.location.framing, Framing::GzipMember);
        let bytes = store
            .read_range(uri, d.location.offset, d.location.length)
            .unwrap();
        let rec = decode_record(&bytes, uri).unwrap();
        assert_eq!(rec.record_id, d.record_id);
        n += 1;
    }
    assert_eq!(n, 10);
    drop(server);
}
