//! `provindex serve --index s3://… --partitions N` over a 4-partition
//! publication on a real S3-compatible server (moto), with real processes
//! (issue 17): the server fetches and verifies only the partition it serves
//! (the cache holds that partition alone, and moto's request log shows each
//! of its files read once and no file of another partition), answers like a
//! server of the same partition of the same build in a local directory,
//! reuses its verified partition on restart without reading it again,
//! starts when a file of a partition it does not serve is tampered with, and
//! refuses to start, naming the file and both checksums, when one of its own
//! files is. The registry service over the same publication fetches every
//! partition, assembles them into one index (the digest checked), keeps
//! only that, reuses it on restart, and refuses a tampered publication.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{
    Moto, RegistryServer, ServerProcess, gov_uk_and_iana_warcs, lookup_answers, moto_env,
    moto_venv, provindex_bin, sha256sum, start_moto_logging, with_moto_store,
};
use provindex_pipeline::publish::Publication;

const URI: &str = "s3://pub/indexes/idx4";

/// Object paths (`/pub/indexes/idx4/partitions/…`) of the GET requests
/// for partition files logged so far in moto's request log `log`.
fn partition_gets(log: &Path) -> Vec<String> {
    let needle = "\"GET /pub/indexes/idx4/partitions/";
    std::fs::read_to_string(log)
        .expect("moto log")
        .lines()
        .filter_map(|line| line.split_once(needle))
        .map(|(_, rest)| {
            let path = rest.split_whitespace().next().unwrap_or("");
            format!("partitions/{path}")
        })
        .collect()
}

fn index(out: &str, env: &[(&str, String)]) -> Output {
    Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("index")
        .args(gov_uk_and_iana_warcs())
        .args(["--out", out, "--crawl", "pub", "--built-at", "0"])
        .args(["--workers", "2", "--index-partitions", "4"])
        .output()
        .expect("run provindex index")
}

/// A moto server logging its requests to `<tmp>/moto.log`, the bundled
/// crawl published to [`URI`] on it in 4 partitions, and its publication.
fn publish(tmp: &Path) -> (Moto, Vec<(&'static str, String)>, PathBuf, Publication) {
    let venv = moto_venv();
    let log = tmp.join("moto.log");
    let moto = start_moto_logging(&venv, "pub", std::fs::File::create(&log).expect("log file"));
    let env = moto_env(&moto.endpoint);
    let output = index(URI, &env);
    assert!(
        output.status.success(),
        "index --out {URI}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let publication: Publication = with_moto_store(&moto.endpoint, |store| {
        let text = store
            .get_bytes(&format!("{URI}/publication.json"))
            .expect("publication.json");
        serde_json::from_slice(&text).expect("publication")
    });
    (moto, env, log, publication)
}

const URLS: [&str; 6] = [
    "http://www.iana.org/",
    "http://www.iana.org/domains",
    "http://www.iana.org/about",
    "https://www.gov.uk/",
    "https://www.gov.uk/government",
    "https://www.gov.uk/browse",
];

/// `provindex serve --index URI --partitions PARTITION --cache-dir CACHE`,
/// which must refuse to start: its stderr.
fn serve_refusal(partition: &str, cache: &Path, env: &[(&str, String)]) -> String {
    let extra = [
        OsStr::new("--partitions"),
        OsStr::new(partition),
        OsStr::new("--cache-dir"),
        cache.as_os_str(),
    ];
    ServerProcess::refusal(URI, &extra, env)
}

/// Names directly under `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_fetches_and_verifies_only_its_partitions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (moto, env, log, publication) = publish(tmp.path());
    let ids: Vec<&str> = publication
        .partitions
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["p0000", "p0001", "p0002", "p0003"]);
    assert!(publication.partitions.iter().all(|p| !p.files.is_empty()));

    // The same build in a local directory: the reference answers.
    let local = tmp.path().join("local4");
    let output = index(local.to_str().expect("utf-8"), &env);
    assert!(output.status.success(), "{output:?}");
    // `info` on the URI fetches and verifies every partition (into a cache
    // of its own) and describes the index as on the local publication.
    let info = |index: &OsStr| -> serde_json::Value {
        let output = Command::new(provindex_bin())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("info")
            .arg(index)
            .arg("--json")
            .arg("--cache-dir")
            .arg(tmp.path().join("info-cache"))
            .output()
            .expect("run provindex info");
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).expect("info json")
    };
    let (from_s3, from_dir) = (info(OsStr::new(URI)), info(local.as_os_str()));
    assert_eq!(from_s3["digest"], publication.index.digest.as_str());
    assert_eq!(from_s3["captures"], publication.index.captures);
    assert_eq!(from_s3["digest"], from_dir["digest"]);
    // Same partitions, ranges and owned rows (file sizes are the builds' own).
    let listed = |info: &serde_json::Value| -> Vec<serde_json::Value> {
        let partitions = info["publication"]["partitions"].as_array();
        partitions
            .expect("partitions")
            .iter()
            .map(|p| {
                let keys = ["id", "key_range", "chunks", "captures", "contents", "urls"];
                serde_json::Value::Array(keys.iter().map(|k| p[*k].clone()).collect())
            })
            .collect()
    };
    assert_eq!(listed(&from_s3).len(), 4);
    assert_eq!(listed(&from_s3), listed(&from_dir));
    // Serve the first partition that answers some of URLS with captures
    // (which one depends on the key hash).
    let mut chosen = None;
    for number in 0..4u32 {
        let server = ServerProcess::start_with(&local, &["--partitions", &number.to_string()]);
        let answers = lookup_answers(&server, &URLS).await;
        if answers.iter().any(|a| a.contains("captures: [Capture")) {
            chosen = Some((number, answers));
            break;
        }
    }
    let (number, from_local) = chosen.expect("some partition holds captures of URLS");
    let served = &publication.partitions[number as usize];
    let other = &publication.partitions[(number as usize + 1) % 4];
    assert_eq!(served.id, format!("p{number:04}"));

    // Served from S3: only the served partition is read, once per file.
    let cache = tmp.path().join("cache");
    let args = [
        "--partitions".to_string(),
        number.to_string(),
        "--cache-dir".to_string(),
        cache.display().to_string(),
    ];
    let before = partition_gets(&log).len();
    let remote = ServerProcess::start_with_env(Path::new(URI), &args, &env);
    let mut read = partition_gets(&log)[before..].to_vec();
    read.sort();
    let mut expected: Vec<String> = served.files.iter().map(|f| f.path.clone()).collect();
    expected.sort();
    assert_eq!(read, expected, "objects read by a server of {}", served.id);
    assert_eq!(lookup_answers(&remote, &URLS).await, from_local);
    drop(remote);

    // The cache holds that partition alone, marked verified, every file of
    // the listed size.
    let digest_dir = cache.join(&publication.index.digest);
    assert_eq!(
        entries(&cache),
        std::slice::from_ref(&publication.index.digest)
    );
    assert_eq!(entries(&digest_dir), ["partitions", "publication.json"]);
    assert_eq!(
        entries(&digest_dir.join("partitions")),
        [served.id.clone(), format!("{}.VERIFIED", served.id)]
    );
    let mut names: Vec<String> = served
        .files
        .iter()
        .map(|f| f.path.rsplit('/').next().expect("name").to_string())
        .collect();
    names.sort();
    assert_eq!(
        entries(&digest_dir.join("partitions").join(&served.id)),
        names
    );
    for file in &served.files {
        let size = std::fs::metadata(digest_dir.join(&file.path))
            .expect("cached file")
            .len();
        assert_eq!(size, file.size, "{}", file.path);
    }

    // A file of a partition it does not serve tampered with: a server with
    // a fresh cache starts (and never reads it).
    let tamper = |file: &provindex_pipeline::publish::PublishedFile| {
        let object = format!("{URI}/{}", file.path);
        with_moto_store(&moto.endpoint, move |store| {
            let mut bytes = store.get_bytes(&object).expect("get").to_vec();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            let sha = sha256sum(&bytes);
            store.put(&object, bytes.into()).expect("overwrite");
            sha
        })
    };
    let largest = |files: &[provindex_pipeline::publish::PublishedFile]| {
        files.iter().max_by_key(|f| f.size).expect("a file").clone()
    };
    let other_file = largest(&other.files);
    tamper(&other_file);
    let fresh = [
        "--partitions".to_string(),
        number.to_string(),
        "--cache-dir".to_string(),
        tmp.path().join("cache-2").display().to_string(),
    ];
    let started = ServerProcess::start_with_env(Path::new(URI), &fresh, &env);
    assert_eq!(lookup_answers(&started, &URLS).await, from_local);
    drop(started);
    // The whole index, though, is refused for it.
    let output = Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["serve", "--index", URI, "--listen", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(tmp.path().join("cache-3"))
        .stdout(Stdio::piped())
        .output()
        .expect("run provindex serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&other_file.path), "{stderr}");

    // One of its own files tampered with: a fresh cache is refused, naming
    // the file and both checksums, and nothing of it is left in the cache.
    let own_file = largest(&served.files);
    let tampered_sha = tamper(&own_file);
    let refused_cache = tmp.path().join("cache-4");
    let stderr = serve_refusal(&number.to_string(), &refused_cache, &env);
    assert!(stderr.contains(&own_file.path), "{stderr}");
    assert!(stderr.contains(&own_file.sha256), "{stderr}");
    assert!(stderr.contains(&tampered_sha), "{stderr}");
    assert!(stderr.contains("refusing to serve"), "{stderr}");
    let refused_partitions = refused_cache
        .join(&publication.index.digest)
        .join("partitions");
    let left = if refused_partitions.exists() {
        entries(&refused_partitions)
    } else {
        Vec::new()
    };
    assert!(left.is_empty(), "left in the cache: {left:?}");

    // The partition verified before the tampering is reused: nothing read.
    let before = partition_gets(&log).len();
    let reused = ServerProcess::start_with_env(Path::new(URI), &args, &env);
    assert_eq!(partition_gets(&log).len(), before);
    assert_eq!(lookup_answers(&reused, &URLS).await, from_local);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_service_assembles_a_published_index() {
    use provindex_proto::v1::GetTransparencyReportRequest;
    use provindex_proto::v1::report_service_client::ReportServiceClient;

    let tmp = tempfile::tempdir().expect("tempdir");
    let (moto, env, log, publication) = publish(tmp.path());
    let digest = publication.index.digest.clone();
    let auth = tmp.path().join("auth.json");
    std::fs::write(&auth, r#"{"tokens": {}}"#).expect("auth file");
    let registry_dir = tmp.path().join("registry");
    let cache = registry_dir.with_extension("cache");

    let report = |url: String| async move {
        let channel = tonic::transport::Channel::from_shared(url)
            .expect("uri")
            .connect()
            .await
            .expect("connect to the registry service");
        ReportServiceClient::new(channel)
            .get_transparency_report(GetTransparencyReportRequest {})
            .await
            .expect("the report")
            .into_inner()
    };
    let started =
        RegistryServer::start_with_env(Path::new(URI), &registry_dir, &auth, &[] as &[&str], &env);
    let first = report(started.url()).await;
    assert_eq!(first.index_digest, digest);
    assert_eq!(
        first.totals.as_ref().map(|t| t.captures),
        Some(publication.index.captures)
    );
    drop(started);
    // The assembled index is the copy kept; the fetched partitions are gone.
    assert_eq!(entries(&cache), [format!("{digest}.whole")]);
    let gets = partition_gets(&log).len();
    assert!(gets > 0);

    // Restarted: the assembled index reused, no partition read again.
    let restarted =
        RegistryServer::start_with_env(Path::new(URI), &registry_dir, &auth, &[] as &[&str], &env);
    let mut again = report(restarted.url()).await;
    assert_eq!(partition_gets(&log).len(), gets);
    again.generated_at = first.generated_at;
    assert_eq!(again, first);
    drop(restarted);

    // A tampered partition file: a registry service with a fresh cache
    // refuses the publication, naming the file.
    let file = publication.partitions[2]
        .files
        .iter()
        .max_by_key(|f| f.size)
        .expect("a file")
        .clone();
    let object = format!("{URI}/{}", file.path);
    with_moto_store(&moto.endpoint, move |store| {
        let mut bytes = store.get_bytes(&object).expect("get").to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        store.put(&object, bytes.into()).expect("overwrite");
    });
    let output = Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["registry-server", "--index", URI, "--listen", "127.0.0.1:0"])
        .arg("--registry")
        .arg(tmp.path().join("registry-2"))
        .arg("--create")
        .arg("--cache-dir")
        .arg(tmp.path().join("cache-2"))
        .stdout(Stdio::piped())
        .output()
        .expect("run provindex registry-server");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&file.path), "{stderr}");
}
