//! The verifiable index (issue 18), end to end with real processes:
//! `provindex index --signing-key` signs the bundled corpus's ledger,
//! `provindex serve` serves it over LedgerService on a loopback port, a gRPC
//! client fetches the signed manifest, an inclusion proof for every content
//! (by content_id, and by SHA-256), non-inclusion proofs for absent ids and
//! SHA-256s and capture links, writes them to files, and both
//! `provindex verify` and the independent Python verifier
//! (services/pyclient, `python -m provindex_client.ledger`) accept them and
//! reject tampered copies with a reason. The server refuses a ledger.json
//! that does not describe its index.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{ServerProcess, corpus_dir, provindex_bin, venv::venv_python};
use provindex_index::{IndexError, IndexReader};
use provindex_ledger::{LeafFacts, TreeKind, wire};
use provindex_proto::v1::ledger_service_client::LedgerServiceClient;
use provindex_proto::v1::prove_content_request::Key;
use provindex_proto::v1::{GetCaptureLinkRequest, GetSignedManifestRequest, ProveContentRequest};
use tonic::Code;

const SEED: [u8; 32] = [0x5a; 32];

fn public_key_hex() -> String {
    let key = provindex_ledger::signing_key_from_seed(&SEED).expect("seed");
    provindex_ledger::verifying_key_hex(&key.verifying_key())
}

/// Writes the seed as hex (the form `provindex index --signing-key` reads).
fn write_seed(dir: &Path) -> PathBuf {
    let path = dir.join("ledger.key");
    std::fs::write(&path, format!("{}\n", hex::encode(SEED))).expect("write seed");
    path
}

fn build(dir: &Path, name: &str, workers: u32, key: &Path) -> PathBuf {
    let index = dir.join(name);
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc"))
        .arg(corpus_dir().join("jsonl"))
        .arg("--out")
        .arg(&index)
        .args(["--crawl", "ledger-corpus", "--built-at", "1700000000"])
        .args(["--workers", &workers.to_string()])
        .arg("--signing-key")
        .arg(key)
        .output()
        .expect("run provindex index");
    assert!(
        output.status.success(),
        "index failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        index.join("ledger.json").is_file(),
        "no ledger.json written"
    );
    index
}

struct ContentFacts {
    sha256: [u8; 32],
    capture_count: u64,
}

/// Every content and capture of the index, read directly (before serving).
fn walk(index: &Path) -> (BTreeMap<u128, ContentFacts>, BTreeMap<u128, Option<u128>>) {
    let reader = IndexReader::open(index).expect("open index");
    let mut contents = BTreeMap::new();
    reader
        .for_each_content(|id, record| {
            contents.insert(
                id,
                ContentFacts {
                    sha256: record.sha256.as_slice().try_into().expect("32 bytes"),
                    capture_count: record.capture_count,
                },
            );
            Ok::<_, IndexError>(())
        })
        .expect("walk contents");
    let mut captures = BTreeMap::new();
    reader
        .for_each_capture(|id, record| {
            captures.insert(id, record.content_id());
            Ok::<_, IndexError>(())
        })
        .expect("walk captures");
    (contents, captures)
}

fn python() -> PathBuf {
    venv_python("ledger", &["cryptography"], "cryptography")
}

fn pyclient_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pyclient")
}

fn rust_verify(manifest: &Path, key: &str, proofs: &[PathBuf]) -> Output {
    Command::new(provindex_bin())
        .arg("verify")
        .arg("--manifest")
        .arg(manifest)
        .args(["--public-key", key])
        .args(proofs)
        .output()
        .expect("run provindex verify")
}

fn python_verify(manifest: &Path, key: &str, proofs: &[PathBuf]) -> Output {
    Command::new(python())
        .env("PYTHONPATH", pyclient_dir())
        .args(["-m", "provindex_client.ledger", "--manifest"])
        .arg(manifest)
        .args(["--public-key", key])
        .args(proofs)
        .output()
        .expect("run the Python verifier")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Both verifiers accept: an `ok` line for the manifest and every proof.
fn assert_both_accept(manifest: &Path, key: &str, proofs: &[PathBuf]) {
    for (name, output) in [
        ("provindex verify", rust_verify(manifest, key, proofs)),
        ("python verifier", python_verify(manifest, key, proofs)),
    ] {
        let text = stdout(&output);
        assert!(
            output.status.success(),
            "{name} rejected: {text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let ok = text.lines().filter(|l| l.starts_with("ok ")).count();
        assert_eq!(ok, proofs.len() + 1, "{name}: {text}");
        assert!(!text.contains("FAIL"), "{name}: {text}");
    }
}

/// Both verifiers reject `failing` (the manifest or a proof) with exit 1 and
/// a `FAIL PATH: reason` line whose reason contains the given words.
fn assert_both_reject(
    manifest: &Path,
    key: &str,
    proofs: &[PathBuf],
    failing: &Path,
    rust_reason: &str,
    python_reason: &str,
) {
    for (name, output, reason) in [
        (
            "provindex verify",
            rust_verify(manifest, key, proofs),
            rust_reason,
        ),
        (
            "python verifier",
            python_verify(manifest, key, proofs),
            python_reason,
        ),
    ] {
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{name}: {text}");
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("FAIL {}:", failing.display())))
            .unwrap_or_else(|| panic!("{name} names no failure of {failing:?}: {text}"));
        assert!(
            line.contains(reason),
            "{name}: expected {reason:?} in {line:?}"
        );
    }
}

struct Served {
    _dir: tempfile::TempDir,
    index: PathBuf,
    out: PathBuf,
    manifest: PathBuf,
    inclusion: Vec<PathBuf>,
    non_inclusion: Vec<PathBuf>,
}

async fn prove(
    client: &mut LedgerServiceClient<tonic::transport::Channel>,
    key: Key,
) -> provindex_proto::v1::ProveContentResponse {
    client
        .prove_content(ProveContentRequest { key: Some(key) })
        .await
        .expect("ProveContent")
        .into_inner()
}

/// Builds, serves and fetches every proof into files.
async fn serve_and_fetch() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_seed(dir.path());
    let index = build(dir.path(), "index", 2, &key);
    let (contents, captures) = walk(&index);
    assert!(contents.len() > 20, "corpus too small: {}", contents.len());
    let server = ServerProcess::start(&index);
    let mut client = LedgerServiceClient::new(server.channel().await);
    let out = dir.path().join("proofs");
    std::fs::create_dir(&out).expect("mkdir");

    let signed = client
        .get_signed_manifest(GetSignedManifestRequest {})
        .await
        .expect("GetSignedManifest")
        .into_inner();
    let on_disk = std::fs::read_to_string(index.join("ledger.json")).expect("ledger.json");
    assert_eq!(signed.signed_manifest_json, on_disk);
    assert_eq!(signed.content_count, contents.len() as u64);
    assert_eq!(signed.public_key, public_key_hex());
    let manifest = out.join("manifest.json");
    std::fs::write(&manifest, &signed.signed_manifest_json).expect("write");
    let parsed = wire::signed_manifest_from_json(&signed.signed_manifest_json).expect("parse");
    assert_eq!(
        hex::encode(parsed.manifest.content_root),
        signed.content_root
    );
    assert_eq!(
        hex::encode(parsed.manifest.digest()),
        signed.manifest_digest
    );

    let mut inclusion = Vec::new();
    for (n, (id, facts)) in contents.iter().enumerate() {
        let by_id = prove(&mut client, Key::ContentId(format!("{id:032x}"))).await;
        assert!(by_id.present, "content {id:032x} not present");
        assert!(by_id.non_inclusion_json.is_empty());
        // The leaf states the index's facts about the content.
        let (tree, proof) = wire::inclusion_from_json(&by_id.inclusion_json).expect("parse");
        assert_eq!(tree, TreeKind::Content);
        assert_eq!(proof.proof.leaf_index, n as u64, "content_id order");
        let leaf = LeafFacts::decode(&proof.leaf).expect("leaf");
        assert_eq!(leaf.content_id, *id);
        assert_eq!(leaf.sha256, facts.sha256);
        assert_eq!(leaf.capture_count, facts.capture_count);
        let path = out.join(format!("content-{id:032x}.json"));
        std::fs::write(&path, &by_id.inclusion_json).expect("write");
        inclusion.push(path);

        let by_sha = prove(&mut client, Key::Sha256(hex::encode(facts.sha256))).await;
        assert!(by_sha.present);
        assert_eq!(by_sha.content_id, format!("{id:032x}"));
        assert_eq!(by_sha.inclusion_json, by_id.inclusion_json);
        let path = out.join(format!("sha256-{}.json", hex::encode(facts.sha256)));
        std::fs::write(&path, &by_sha.sha256_inclusion_json).expect("write");
        inclusion.push(path);
    }

    // Absent keys: below, above and between the present ones.
    let mut non_inclusion = Vec::new();
    let first = *contents.keys().next().expect("a content");
    let between = contents
        .keys()
        .zip(contents.keys().skip(1))
        .find(|(a, b)| **b > **a + 1)
        .map(|(a, _)| a + 1)
        .expect("a gap between content ids");
    let mut absent_ids = vec![0u128, u128::MAX, between];
    absent_ids.retain(|id| !contents.contains_key(id));
    assert!(absent_ids.contains(&between));
    let absent_sha = [0x42u8; 32];
    assert!(contents.values().all(|c| c.sha256 != absent_sha));
    let mut keys: Vec<(String, Key)> = absent_ids
        .iter()
        .map(|id| {
            (
                format!("id-{id:032x}"),
                Key::ContentId(format!("{id:032x}")),
            )
        })
        .collect();
    for sha in [absent_sha, [0u8; 32], [0xff; 32]] {
        keys.push((
            format!("sha-{}", hex::encode(sha)),
            Key::Sha256(hex::encode(sha)),
        ));
    }
    for (name, key) in keys {
        let response = prove(&mut client, key).await;
        assert!(!response.present, "{name} present");
        assert!(response.inclusion_json.is_empty());
        let path = out.join(format!("absent-{name}.json"));
        std::fs::write(&path, &response.non_inclusion_json).expect("write");
        non_inclusion.push(path);
    }

    // A present key answers with its inclusion proof, never a non-inclusion.
    let present = prove(&mut client, Key::ContentId(format!("{first:032x}"))).await;
    assert!(present.present && present.non_inclusion_json.is_empty());

    // Bad keys are INVALID_ARGUMENT naming the field.
    for (key, field) in [
        (Key::ContentId("xyz".into()), "content_id"),
        (Key::ContentId(format!("{first:031x}")), "content_id"),
        (Key::Sha256("00".into()), "sha256"),
    ] {
        let status = client
            .prove_content(ProveContentRequest { key: Some(key) })
            .await
            .expect_err("bad key");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{status:?}");
    }
    let status = client
        .prove_content(ProveContentRequest { key: None })
        .await
        .expect_err("no key");
    assert_eq!(status.code(), Code::InvalidArgument);

    // Capture links: every capture with text links to its content's leaf.
    let mut linked = 0;
    for (capture, content) in &captures {
        let request = GetCaptureLinkRequest {
            capture_id: format!("{capture:032x}"),
        };
        match content {
            Some(content) => {
                let link = client
                    .get_capture_link(request)
                    .await
                    .expect("GetCaptureLink")
                    .into_inner();
                assert_eq!(link.content_id, format!("{content:032x}"));
                let (_, proof) = wire::inclusion_from_json(&link.inclusion_json).expect("parse");
                assert_eq!(LeafFacts::decode(&proof.leaf).unwrap().content_id, *content);
                if linked < 5 {
                    let path = out.join(format!("capture-{capture:032x}.json"));
                    std::fs::write(&path, &link.inclusion_json).expect("write");
                    inclusion.push(path);
                }
                linked += 1;
            }
            None => {
                let status = client.get_capture_link(request).await.expect_err("no text");
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
            }
        }
    }
    assert!(linked > 20);
    let unknown = (0u128..).find(|id| !captures.contains_key(id)).unwrap();
    let status = client
        .get_capture_link(GetCaptureLinkRequest {
            capture_id: format!("{unknown:032x}"),
        })
        .await
        .expect_err("unknown capture");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = client
        .get_capture_link(GetCaptureLinkRequest {
            capture_id: "not-hex".into(),
        })
        .await
        .expect_err("bad capture id");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    drop(server);
    Served {
        _dir: dir,
        index,
        out,
        manifest,
        inclusion,
        non_inclusion,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_proof_from_ledger_service_verifies_offline_and_tampering_is_caught() {
    let served = serve_and_fetch().await;
    let key = public_key_hex();
    let all: Vec<PathBuf> = served
        .inclusion
        .iter()
        .chain(&served.non_inclusion)
        .cloned()
        .collect();
    assert_both_accept(&served.manifest, &key, &all);
    // The key may also come from a file.
    let key_file = served.out.join("public.key");
    std::fs::write(&key_file, format!("{key}\n")).expect("write");
    assert_both_accept(
        &served.manifest,
        &format!("@{}", key_file.display()),
        &all[..3],
    );

    // Another key did not sign this manifest.
    let other = provindex_ledger::verifying_key_hex(
        &provindex_ledger::signing_key_from_seed(&[1u8; 32])
            .unwrap()
            .verifying_key(),
    );
    assert_both_reject(
        &served.manifest,
        &other,
        &[],
        &served.manifest,
        "not by the trusted key",
        "not the trusted one",
    );

    let text = std::fs::read_to_string(&served.manifest).unwrap();
    let tampered = served.out.join("tampered-manifest.json");
    // One hex digit of the content root changed: the signature fails.
    let at = value_at(&text, "content_root");
    std::fs::write(&tampered, flip_hex(&text, at)).unwrap();
    assert_both_reject(
        &tampered,
        &key,
        &all[..1],
        &tampered,
        "signature does not verify",
        "signature does not verify",
    );
    // The same for the index digest and the content count.
    let at = value_at(&text, "index_digest");
    std::fs::write(&tampered, flip_hex(&text, at + 10)).unwrap();
    assert_both_reject(
        &tampered,
        &key,
        &[],
        &tampered,
        "signature does not verify",
        "signature does not verify",
    );

    // A proof with one hash of its audit path changed, or one byte of its
    // leaf (the content's facts): the computed root is not the signed one.
    let proof_path = &served.inclusion[0];
    let proof = std::fs::read_to_string(proof_path).unwrap();
    let bad = served.out.join("tampered-proof.json");
    let at = value_at(&proof, "audit_path");
    std::fs::write(&bad, flip_hex(&proof, at + 3)).unwrap();
    assert_both_reject(
        &served.manifest,
        &key,
        std::slice::from_ref(&bad),
        &bad,
        "not the trusted root",
        "computed root is not the manifest's root",
    );
    // The capture count sits after version, content_id and SHA-256 (49 bytes).
    let at = value_at(&proof, "leaf") + 2 * 49 + 15;
    std::fs::write(&bad, flip_hex(&proof, at)).unwrap();
    assert_both_reject(
        &served.manifest,
        &key,
        std::slice::from_ref(&bad),
        &bad,
        "not the trusted root",
        "computed root is not the manifest's root",
    );
    // A non-inclusion proof whose neighbour's path was changed.
    let absent = std::fs::read_to_string(&served.non_inclusion[2]).unwrap();
    let at = value_at(&absent, "audit_path");
    std::fs::write(&bad, flip_hex(&absent, at)).unwrap();
    assert_both_reject(
        &served.manifest,
        &key,
        std::slice::from_ref(&bad),
        &bad,
        "not the trusted root",
        "computed root is not the manifest's root",
    );

    // Any byte of a proof file changed (hex digits to another hex digit,
    // anything else to `x`): both verifiers fail it.
    let stride = (proof.len() / 24).max(1);
    for at in (0..proof.len()).step_by(stride) {
        let flipped = flip_any(&proof, at);
        std::fs::write(&bad, &flipped).unwrap();
        for (name, output) in [
            (
                "provindex verify",
                rust_verify(&served.manifest, &key, std::slice::from_ref(&bad)),
            ),
            (
                "python verifier",
                python_verify(&served.manifest, &key, std::slice::from_ref(&bad)),
            ),
        ] {
            let text = stdout(&output);
            assert_eq!(output.status.code(), Some(1), "{name}, byte {at}: {text}");
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("FAIL {}: ", bad.display())))
                .unwrap_or_else(|| panic!("{name}, byte {at}: {text}"));
            assert!(line.len() > format!("FAIL {}: ", bad.display()).len() + 5);
        }
    }
    let _ = &served.index;
}

/// Where the first string value of `key` starts in a JSON document (the
/// first string of a list).
fn value_at(text: &str, key: &str) -> usize {
    let after_key = text.find(&format!("\"{key}\":")).expect(key) + key.len() + 3;
    after_key + text[after_key..].find('"').expect("a string value") + 1
}

/// `text` with the hex digit at `at` replaced by another hex digit.
fn flip_hex(text: &str, at: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    assert!(bytes[at].is_ascii_hexdigit(), "{at}: {}", bytes[at] as char);
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

fn flip_any(text: &str, at: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = match bytes[at] {
        b'0' => b'1',
        b'1'..=b'9' | b'a'..=b'f' => b'0',
        _ => b'x',
    };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn roots_and_signed_manifest_do_not_depend_on_the_worker_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_seed(dir.path());
    let one = build(dir.path(), "one", 1, &key);
    let four = build(dir.path(), "four", 4, &key);
    let read = |index: &Path| std::fs::read_to_string(index.join("ledger.json")).unwrap();
    let (a, b) = (read(&one), read(&four));
    let (ma, mb) = (
        wire::signed_manifest_from_json(&a).unwrap(),
        wire::signed_manifest_from_json(&b).unwrap(),
    );
    assert!(ma.manifest.content_count > 20);
    assert_eq!(ma.manifest.content_root, mb.manifest.content_root);
    assert_eq!(ma.manifest.sha256_root, mb.manifest.sha256_root);
    assert_eq!(ma.manifest.created_at, 1_700_000_000);
    // Ed25519 is deterministic: the whole signed document is the same.
    assert_eq!(a, b);
}

/// `provindex serve` fails before listening; returns its stderr.
fn serve_refused(index: &Path) -> String {
    use std::io::BufRead;
    let mut child = Command::new(provindex_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--index"])
        .arg(index)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start provindex serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read");
    if !line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("server started on a bad ledger: {line}");
    }
    let output = child.wait_with_output().expect("wait");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

#[test]
fn serve_refuses_a_ledger_that_does_not_describe_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = write_seed(dir.path());
    let index = build(dir.path(), "index", 2, &key_path);
    let key = provindex_ledger::signing_key_from_seed(&SEED).unwrap();
    let signed = wire::signed_manifest_from_json(
        &std::fs::read_to_string(index.join("ledger.json")).unwrap(),
    )
    .unwrap();

    // Edited without re-signing: the signature fails.
    let edited = dir.path().join("edited");
    copy_dir(&index, &edited);
    let text = std::fs::read_to_string(edited.join("ledger.json")).unwrap();
    let at = value_at(&text, "sha256_root");
    std::fs::write(edited.join("ledger.json"), flip_hex(&text, at)).unwrap();
    let stderr = serve_refused(&edited);
    assert!(stderr.contains("ledger.json"), "{stderr}");
    assert!(stderr.contains("signature does not verify"), "{stderr}");

    // Properly signed, but over another root or another index digest: the
    // server recomputes both from the index and names the field.
    for (name, change, field) in [
        (
            "root",
            Box::new(|m: &mut provindex_ledger::LedgerManifest| m.content_root[0] ^= 1)
                as Box<dyn Fn(&mut provindex_ledger::LedgerManifest)>,
            "content_root",
        ),
        (
            "sha-root",
            Box::new(|m: &mut provindex_ledger::LedgerManifest| m.sha256_root[31] ^= 0x80),
            "sha256_root",
        ),
        (
            "digest",
            Box::new(|m: &mut provindex_ledger::LedgerManifest| m.index_digest[5] ^= 1),
            "index_digest",
        ),
        (
            "count",
            Box::new(|m: &mut provindex_ledger::LedgerManifest| m.content_count += 1),
            "content_count",
        ),
    ] {
        let copy = dir.path().join(name);
        copy_dir(&index, &copy);
        let mut manifest = signed.manifest.clone();
        change(&mut manifest);
        let resigned = manifest.sign(&key);
        std::fs::write(
            copy.join("ledger.json"),
            wire::signed_manifest_to_json(&resigned),
        )
        .unwrap();
        let stderr = serve_refused(&copy);
        assert!(
            stderr.contains("does not match the index") && stderr.contains(field),
            "{name}: {stderr}"
        );
    }

    // A ledger.json moved onto another index (built from other inputs).
    let other = dir.path().join("other");
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("jsonl"))
        .arg("--out")
        .arg(&other)
        .args(["--built-at", "1700000000", "--workers", "1"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(!other.join("ledger.json").exists(), "no key, no ledger");
    {
        // Without ledger.json the index serves; LedgerService answers Lineage only.
        let server = ServerProcess::start(&other);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let status = runtime.block_on(async {
            LedgerServiceClient::new(server.channel().await)
                .get_signed_manifest(GetSignedManifestRequest {})
                .await
                .expect_err("no ledger")
        });
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
        assert!(status.message().contains("--signing-key"), "{status:?}");
    }
    std::fs::copy(index.join("ledger.json"), other.join("ledger.json")).unwrap();
    let stderr = serve_refused(&other);
    assert!(stderr.contains("does not match the index"), "{stderr}");

    // A tampered SST: one byte flipped in the middle of every table file.
    let corrupt = dir.path().join("corrupt");
    copy_dir(&index, &corrupt);
    let mut flipped = 0;
    for entry in std::fs::read_dir(&corrupt).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sst") {
            let mut bytes = std::fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x40;
            std::fs::write(&path, bytes).unwrap();
            flipped += 1;
        }
    }
    assert!(flipped > 0, "no SST files in {}", corrupt.display());
    let stderr = serve_refused(&corrupt);
    assert!(
        stderr.to_lowercase().contains("corrupt") || stderr.contains("checksum"),
        "{stderr}"
    );
}

#[test]
fn a_bad_signing_key_fails_before_building() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index_with_key = |key: &Path| {
        Command::new(provindex_bin())
            .arg("index")
            .arg(corpus_dir().join("jsonl"))
            .arg("--out")
            .arg(dir.path().join("index"))
            .arg("--signing-key")
            .arg(key)
            .output()
            .unwrap()
    };
    let key = dir.path().join("bad.key");
    std::fs::write(&key, "not a key").unwrap();
    let output = index_with_key(&key);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.key") && stderr.contains("signing key"),
        "{stderr}"
    );
    assert!(!dir.path().join("index").exists(), "built anyway");
    let output = index_with_key(&dir.path().join("missing.key"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.key"));
}

#[test]
fn a_coordinator_build_signs_the_same_ledger_as_a_local_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_seed(dir.path());
    let (coordinator, addr) =
        common::start_coordinator(&[], &dir.path().join("state"), "127.0.0.1:0");
    let url = format!("http://{addr}");
    let _worker = common::start_worker(&[], &url, "w1", &[]);
    // The job spec carries the key's path; the worker running the build
    // task reads it.
    let index = |out: &Path, extra: &[&str]| {
        let output = Command::new(provindex_bin())
            .arg("index")
            .arg(corpus_dir().join("jsonl"))
            .arg("--out")
            .arg(out)
            .args(["--built-at", "1700000000", "--signing-key"])
            .arg(&key)
            .args(extra)
            .output()
            .expect("run provindex index");
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read_to_string(out.join("ledger.json")).expect("ledger.json")
    };
    let distributed = index(&dir.path().join("distributed"), &["--coordinator", &url]);
    let local = index(&dir.path().join("local"), &["--workers", "2"]);
    assert_eq!(distributed, local);
    let signed = wire::signed_manifest_from_json(&local).unwrap();
    assert!(signed.manifest.content_count > 0);
    drop(coordinator);
}
