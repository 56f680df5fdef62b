//! The signed ledger across an incremental build in object storage (issues
//! 17 and 18), with real processes and a real S3-compatible server (moto):
//! the gov.uk and IANA crawls published signed as a 2-partition index
//! (`s3://…/v1`), the gov.uk revisit crawl added with `--base v1 --out v2
//! --signing-key`. v2's signed publication manifest names v1's manifest
//! digest as its base version; a server started from `s3://…/v2` (ledger
//! files fetched into its cache) proves every content of the three crawls,
//! and `provindex verify --base-manifest` and the independent Python
//! verifier accept the proofs and the link, while a wrong base, a manifest
//! without a base and a tampered partition manifest in the bucket are
//! refused, naming the file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{ServerProcess, corpus_dir, moto_venv, provindex_bin, start_moto, venv::venv_python};
use provindex_ledger::wire;
use provindex_proto::v1::ledger_service_client::LedgerServiceClient;
use provindex_proto::v1::prove_content_request::Key;
use provindex_proto::v1::{GetSignedManifestRequest, ProveContentRequest};

const SEED: [u8; 32] = [0x6c; 32];
const BUCKET: &str = "signed";
const FIRST: &str = "gov.uk-2014-crawl-a.warc.gz";
const REVISITS: &str = "gov.uk-2014-crawl-b-revisits.warc.gz";
const IANA: &str = "iana.org-2014.warc.gz";

fn key_hex() -> String {
    let key = provindex_ledger::signing_key_from_seed(&SEED).expect("seed");
    provindex_ledger::verifying_key_hex(&key.verifying_key())
}

fn index(files: &[&str], extra: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("index")
        .args(files.iter().map(|f| corpus_dir().join("warc").join(f)))
        .args(["--crawl", "signed", "--workers", "2"])
        .args(extra)
        .output()
        .expect("run provindex index")
}

/// The store blocks: use it on a plain thread.
fn get_text(endpoint: &str, uri: &str) -> String {
    let (endpoint, uri) = (endpoint.to_string(), uri.to_string());
    std::thread::spawn(move || {
        let bytes = common::moto_store(&endpoint)
            .get_bytes(&uri)
            .unwrap_or_else(|e| panic!("{uri}: {e}"));
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    })
    .join()
    .expect("store thread")
}

fn put_text(endpoint: &str, uri: &str, text: String) {
    let (endpoint, uri) = (endpoint.to_string(), uri.to_string());
    std::thread::spawn(move || {
        common::moto_store(&endpoint)
            .put(&uri, text.into_bytes().into())
            .unwrap_or_else(|e| panic!("{uri}: {e}"));
    })
    .join()
    .expect("store thread");
}

fn verify(rust: bool, manifest: &Path, extra: &[&Path], proofs: &[PathBuf]) -> Output {
    let mut command = if rust {
        let mut c = Command::new(provindex_bin());
        c.arg("verify");
        c
    } else {
        let mut c = Command::new(venv_python("ledger", &["cryptography"], "cryptography"));
        c.env(
            "PYTHONPATH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../pyclient"),
        )
        .args(["-m", "provindex_client.ledger"]);
        c
    };
    if let [base] = extra {
        command.arg("--base-manifest").arg(base);
    }
    command
        .arg("--manifest")
        .arg(manifest)
        .args(["--public-key", &key_hex()])
        .args(proofs)
        .output()
        .expect("run a verifier")
}

/// `FAIL PATH: …` line of a verifier's output for `path`.
fn failure_for(output: &Output, path: &Path) -> String {
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    text.lines()
        .find(|l| l.starts_with(&format!("FAIL {}:", path.display())))
        .unwrap_or_else(|| panic!("no failure of {path:?}: {text}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_signed_publication_links_its_base_and_proves_every_content() {
    let venv = moto_venv();
    let moto = start_moto(&venv, BUCKET);
    let env = common::moto_env(&moto.endpoint);
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = tmp.path().join("operator.key");
    std::fs::write(&key, format!("{}\n", hex::encode(SEED))).expect("write key");
    let key_arg = key.to_str().expect("UTF-8");
    let (v1, v2) = (format!("s3://{BUCKET}/v1"), format!("s3://{BUCKET}/v2"));

    let output = index(
        &[FIRST, IANA],
        &[
            "--out",
            &v1,
            "--index-partitions",
            "2",
            "--built-at",
            "1700000000",
            "--signing-key",
            key_arg,
        ],
        &env,
    );
    common::succeeded(&output, "signed index v1");
    let output = index(
        &[REVISITS],
        &[
            "--base",
            &v1,
            "--out",
            &v2,
            "--index-partitions",
            "2",
            "--built-at",
            "1700000100",
            "--signing-key",
            key_arg,
        ],
        &env,
    );
    common::succeeded(&output, "signed index v2 --base v1");

    let v1_json = get_text(&moto.endpoint, &format!("{v1}/ledger.json"));
    let v2_json = get_text(&moto.endpoint, &format!("{v2}/ledger.json"));
    let v1_manifest = wire::signed_publication_from_json(&v1_json)
        .expect("v1 ledger")
        .manifest;
    let v2_manifest = wire::signed_publication_from_json(&v2_json)
        .expect("v2 ledger")
        .manifest;
    assert_eq!(v1_manifest.base_version_digest, None);
    assert_eq!(v2_manifest.base_version_digest, Some(v1_manifest.digest()));
    assert_ne!(v1_manifest.digest(), v2_manifest.digest());

    // Every content of the three crawls indexed from scratch is proven by a
    // server of v2 fetched from the bucket (ledger files included).
    let scratch = tmp.path().join("scratch");
    let output = index(
        &[FIRST, REVISITS, IANA],
        &["--out", scratch.to_str().expect("UTF-8"), "--built-at", "0"],
        &env,
    );
    common::succeeded(&output, "index of all three");
    let all = common::contents_by_id(&scratch);
    assert!(all.len() > 20, "corpus too small: {}", all.len());
    assert_eq!(v2_manifest.content_count, all.len() as u64);

    let cache = tmp.path().join("cache");
    let args = ["--cache-dir".to_string(), cache.display().to_string()];
    let server = ServerProcess::start_with_env(Path::new(&v2), &args, &env);
    let mut client =
        LedgerServiceClient::new(server.channel().await).max_decoding_message_size(64 << 20);
    let served = client
        .get_signed_manifest(GetSignedManifestRequest {})
        .await
        .expect("GetSignedManifest")
        .into_inner();
    assert_eq!(served.signed_manifest_json, v2_json);
    let out = tmp.path().join("proofs");
    std::fs::create_dir(&out).expect("mkdir");
    let (v1_file, v2_file) = (out.join("v1.json"), out.join("v2.json"));
    std::fs::write(&v1_file, &v1_json).expect("write");
    std::fs::write(&v2_file, &v2_json).expect("write");
    let mut proofs = Vec::new();
    for (id, sha) in &all {
        let proof = client
            .prove_content(ProveContentRequest {
                key: Some(Key::Sha256(hex::encode(sha))),
            })
            .await
            .expect("ProveContent")
            .into_inner();
        assert!(proof.present, "content {id:032x} not proven by v2");
        assert_eq!(proof.content_id, format!("{id:032x}"));
        let path = out.join(format!("content-{id:032x}.json"));
        std::fs::write(&path, &proof.inclusion_json).expect("write");
        proofs.push(path);
    }
    drop(server);

    for rust in [true, false] {
        let output = verify(rust, &v2_file, &[&v1_file], &proofs);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "verifier (rust: {rust}): {text}");
        assert_eq!(
            text.lines().filter(|l| l.starts_with("ok ")).count(),
            proofs.len() + 2,
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "ok {}: base version of the manifest, digest {}",
                v1_file.display(),
                hex::encode(v1_manifest.digest())
            )),
            "{text}"
        );
        // The manifest itself is not its own base; v1 names no base.
        let line = failure_for(&verify(rust, &v2_file, &[&v2_file], &[]), &v2_file);
        assert!(
            line.contains(&format!(
                "is not the manifest's base_version_digest {}",
                hex::encode(v1_manifest.digest())
            )),
            "{line}"
        );
        let line = failure_for(&verify(rust, &v1_file, &[&v1_file], &[]), &v1_file);
        assert!(line.contains("names no base version"), "{line}");
    }

    // A partition manifest altered in the bucket: a fresh server refuses to
    // start, naming the file.
    let partition_uri = format!("{v2}/ledger/p0001.json");
    let mut partition: serde_json::Value =
        serde_json::from_str(&get_text(&moto.endpoint, &partition_uri)).expect("JSON");
    let signature = partition["signature"]
        .as_str()
        .expect("signature field")
        .to_owned();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    partition["signature"] = serde_json::Value::from(format!("{flipped}{}", &signature[1..]));
    put_text(&moto.endpoint, &partition_uri, partition.to_string());
    let output = Command::new(provindex_bin())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["serve", "--index", &v2, "--listen", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(tmp.path().join("cache-2"))
        .stdout(Stdio::piped())
        .output()
        .expect("run provindex serve");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "serve started: {stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("p0001.json"), "{stderr}");
}
