//! A published index on a real S3-compatible server (moto), with real
//! processes (issue 17): `provindex index --out s3://…` uploads partition
//! p0000's files and `publication.json`; `provindex serve --index s3://…`
//! fetches, verifies and serves it with the answers of the same corpus indexed
//! locally; a second publish to the URI is refused; a tampered, truncated or
//! missing object makes a server with a fresh cache refuse to start, naming
//! the file (and both checksums), while a cache verified earlier is reused.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use common::{
    ChildProcess, ServerProcess, gov_uk_and_iana_warcs, lookup_answers, moto_venv, provindex_bin,
    sha256sum, start_coordinator, start_moto, start_worker, with_moto_store,
};
use provindex_pipeline::publish::Publication;

fn index(out: &str, env: &[(&str, String)]) -> Output {
    Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("index")
        .args(gov_uk_and_iana_warcs())
        .args(["--out", out, "--crawl", "pub", "--built-at", "0"])
        .args(["--workers", "2"])
        .output()
        .expect("run provindex index")
}

/// `provindex serve --index URI --cache-dir CACHE`, which must refuse to
/// start: its stderr.
fn serve_refusal(uri: &str, cache: &Path, env: &[(&str, String)]) -> String {
    ServerProcess::refusal(uri, &[OsStr::new("--cache-dir"), cache.as_os_str()], env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_s3_serve_verified_refuse_tampering() {
    let venv = moto_venv();
    let moto = start_moto(&venv, "pub");
    let env = common::moto_env(&moto.endpoint);
    let uri = "s3://pub/indexes/idx";
    let tmp = tempfile::tempdir().expect("tempdir");

    // Publish.
    let output = index(uri, &env);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "index --out {uri}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(&format!("into {uri}")), "{stdout}");

    // The bucket holds exactly the listed files plus publication.json, each
    // with the listed size and SHA-256 (checked with sha256sum).
    let (publication, objects) = with_moto_store(&moto.endpoint, move |store| {
        let text = store
            .get_bytes(&format!("{uri}/publication.json"))
            .expect("publication.json");
        let publication: Publication = serde_json::from_slice(&text).expect("publication");
        let objects: Vec<(String, Vec<u8>)> = store
            .list(&format!("{uri}/"))
            .expect("list")
            .into_iter()
            .map(|o| {
                let bytes = store.get_bytes(&o.uri).expect("get").to_vec();
                (o.uri, bytes)
            })
            .collect();
        (publication, objects)
    });
    assert_eq!(publication.format, "provindex-publication");
    assert_eq!(publication.partitions.len(), 1);
    let partition = &publication.partitions[0];
    assert_eq!(partition.id, "p0000");
    assert_eq!(partition.key_range.tables, "all");
    let mut listed: Vec<String> = partition
        .files
        .iter()
        .map(|f| format!("{uri}/{}", f.path))
        .collect();
    listed.push(format!("{uri}/publication.json"));
    listed.sort();
    let stored: Vec<String> = objects.iter().map(|(u, _)| u.clone()).collect();
    assert_eq!(stored, listed);
    for name in ["CURRENT", "OPTIONS-", "MANIFEST-", ".sst"] {
        assert!(
            partition.files.iter().any(|f| f.path.contains(name)),
            "{name} missing from {:?}",
            partition.files
        );
    }
    assert!(!partition.files.iter().any(|f| f.path.ends_with("LOCK")));
    for file in &partition.files {
        let (_, bytes) = objects
            .iter()
            .find(|(u, _)| *u == format!("{uri}/{}", file.path))
            .expect("object");
        assert_eq!(bytes.len() as u64, file.size, "{}", file.path);
        assert_eq!(sha256sum(bytes), file.sha256, "{}", file.path);
    }
    assert_eq!(
        partition.bytes,
        partition.files.iter().map(|f| f.size).sum::<u64>()
    );

    // The same corpus indexed into a local directory: same digest.
    let local = tmp.path().join("local-index");
    let output = index(local.to_str().expect("utf-8"), &env);
    assert!(output.status.success());
    let info = common::run_ok(&["info".as_ref(), local.as_os_str(), "--json".as_ref()]);
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).expect("json");
    assert_eq!(manifest["digest"], publication.index.digest.as_str());
    assert_eq!(manifest["captures"], publication.index.captures);
    assert_eq!(
        manifest["sketch_spec"],
        publication.index.sketch_spec.as_str()
    );
    // `info` on the URI fetches and verifies it too.
    let info = Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["info", uri, "--json", "--cache-dir"])
        .arg(tmp.path().join("info-cache"))
        .output()
        .expect("info");
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let mut remote_manifest: serde_json::Value =
        serde_json::from_slice(&info.stdout).expect("json");
    // A publication is described too: its one partition as listed.
    let described = remote_manifest
        .as_object_mut()
        .and_then(|m| m.remove("publication"))
        .expect("the publication described");
    assert_eq!(described["partitions"][0]["id"], partition.id.as_str());
    assert_eq!(described["partitions"][0]["bytes"], partition.bytes);
    assert_eq!(remote_manifest, manifest);

    // Served from S3 (through a cache) and from the local directory: identical answers.
    let cache = tmp.path().join("cache");
    let cache_arg = ["--cache-dir".to_string(), cache.display().to_string()];
    let urls = [
        "http://www.iana.org/",
        "http://www.iana.org/domains",
        "https://www.gov.uk/",
        "https://www.gov.uk/government",
    ];
    let remote = ServerProcess::start_with_env(Path::new(uri), &cache_arg, &env);
    let local_server = ServerProcess::start(&local);
    let from_s3 = lookup_answers(&remote, &urls).await;
    let from_local = lookup_answers(&local_server, &urls).await;
    assert!(
        from_s3.iter().any(|a| a.contains("captures: [Capture")),
        "no captures found: {from_s3:?}"
    );
    assert_eq!(from_s3, from_local);
    drop(remote);
    let verified = cache.join(&publication.index.digest);
    assert!(verified.join("VERIFIED").is_file());
    assert!(verified.join("partitions/p0000/CURRENT").is_file());

    // A second publish to the same URI is refused, and changes nothing.
    let output = index(uri, &env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("already holds a published index") && stderr.contains(uri),
        "{stderr}"
    );

    // Tamper with the largest SST: same size, one byte changed.
    let sst = partition
        .files
        .iter()
        .filter(|f| f.path.ends_with(".sst"))
        .max_by_key(|f| f.size)
        .expect("an sst")
        .clone();
    let object = format!("{uri}/{}", sst.path);
    let original = objects
        .iter()
        .find(|(u, _)| *u == object)
        .expect("sst")
        .1
        .clone();
    let mut tampered = original.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let tampered_sha = sha256sum(&tampered);
    {
        let object = object.clone();
        with_moto_store(&moto.endpoint, move |store| {
            store.put(&object, tampered.into()).expect("overwrite")
        });
    }
    // A fresh cache: refused, naming the file and both checksums.
    let stderr = serve_refusal(uri, &tmp.path().join("cache-2"), &env);
    assert!(stderr.contains(&sst.path), "{stderr}");
    assert!(stderr.contains(&sst.sha256), "{stderr}");
    assert!(stderr.contains(&tampered_sha), "{stderr}");
    assert!(stderr.contains("refusing to serve"), "{stderr}");
    assert!(
        !tmp.path()
            .join("cache-2")
            .join(&publication.index.digest)
            .exists()
    );
    // The cache verified before the tampering is reused: no object is read again.
    let reused = ServerProcess::start_with_env(Path::new(uri), &cache_arg, &env);
    assert_eq!(
        lookup_answers(&reused, &urls[..1]).await,
        lookup_answers(&local_server, &urls[..1]).await
    );
    drop(reused);

    // Truncated.
    {
        let (object, short) = (object.clone(), original[..original.len() - 100].to_vec());
        with_moto_store(&moto.endpoint, move |store| {
            store.put(&object, short.into()).expect("truncate")
        });
    }
    let stderr = serve_refusal(uri, &tmp.path().join("cache-3"), &env);
    assert!(
        stderr.contains(&format!(
            "{} bytes, publication.json says {}",
            sst.size - 100,
            sst.size
        )) && stderr.contains(&sst.path),
        "{stderr}"
    );

    // Missing.
    {
        let object = object.clone();
        with_moto_store(&moto.endpoint, move |store| {
            store.delete(&object).expect("delete")
        });
    }
    let stderr = serve_refusal(uri, &tmp.path().join("cache-4"), &env);
    assert!(
        stderr.contains(&sst.path) && stderr.contains("missing"),
        "{stderr}"
    );

    // No publication at all.
    let stderr = serve_refusal("s3://pub/indexes/none", &tmp.path().join("cache-5"), &env);
    assert!(stderr.contains("no publication.json"), "{stderr}");
}

/// A cluster build (coordinator + two worker processes) publishes to S3 too:
/// the publication has the one-process build's digest, and a second job to
/// the same URI fails at its build task, leaving the publication as it was.
#[test]
fn cluster_build_publishes_to_s3() {
    let venv = moto_venv();
    let moto = start_moto(&venv, "pub");
    let env = common::moto_env(&moto.endpoint);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_coordinator, addr) = start_coordinator(&env, &tmp.path().join("state"), "127.0.0.1:0");
    let url = format!("http://{addr}");
    let _workers: Vec<ChildProcess> = (0..2)
        .map(|n| start_worker(&env, &url, &format!("w{n}"), &[]))
        .collect();
    let submit = |job: &str| {
        Command::new(provindex_bin())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("index")
            .args(gov_uk_and_iana_warcs())
            .args(["--out", "s3://pub/cluster/idx", "--crawl", "pub"])
            .args(["--built-at", "0", "--coordinator", &url, "--job-id", job])
            .args(["--staging", "s3://pub/staging", "--timeout", "300"])
            .output()
            .expect("index --coordinator")
    };
    let output = submit("first");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |endpoint: String| {
        with_moto_store(&endpoint, |store| {
            store
                .get_bytes("s3://pub/cluster/idx/publication.json")
                .expect("publication.json")
                .to_vec()
        })
    };
    let first = read(moto.endpoint.clone());
    let publication: Publication = serde_json::from_slice(&first).expect("publication");
    assert_eq!(publication.job, "first");

    let local = tmp.path().join("local");
    assert!(index(local.to_str().expect("utf-8"), &env).status.success());
    let info = common::run_ok(&["info".as_ref(), local.as_os_str(), "--json".as_ref()]);
    let manifest: serde_json::Value = serde_json::from_slice(&info.stdout).expect("json");
    assert_eq!(manifest["digest"], publication.index.digest.as_str());

    let output = submit("second");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("already holds a published index"),
        "{stderr}"
    );
    assert_eq!(read(moto.endpoint.clone()), first);
}
