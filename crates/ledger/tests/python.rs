//! The independent Python verifier (services/pyclient) accepts what this
//! crate writes and rejects tampered documents. Needs python3; builds the
//! venv /tmp/provindex-ledger-venv (with `cryptography`) when missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use provindex_ledger::*;
use sha2::{Digest, Sha256};

const VENV: &str = "/tmp/provindex-ledger-venv";

fn venv_python() -> PathBuf {
    let python = Path::new(VENV).join("bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import cryptography"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return python;
    }
    // Built under a unique name and renamed, so a concurrent run never sees
    // a half-built venv.
    let building = format!("{VENV}.build-{}", std::process::id());
    let run = |cmd: &mut Command| {
        let status = cmd.status().expect("run python3");
        assert!(status.success(), "{cmd:?} failed");
    };
    run(Command::new("python3").args(["-m", "venv", &building]));
    run(Command::new(format!("{building}/bin/python")).args([
        "-m",
        "pip",
        "install",
        "-q",
        "cryptography",
    ]));
    if std::fs::rename(&building, VENV).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    assert!(ready(&python), "no usable venv at {VENV}");
    python
}

fn pyclient() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services/pyclient")
}

/// Runs the verifier CLI; returns (success, stdout).
fn verify(python: &Path, manifest: &Path, public_key: &str, proofs: &[PathBuf]) -> (bool, String) {
    let output = Command::new(python)
        .args(["-m", "provindex_client.ledger", "--manifest"])
        .arg(manifest)
        .args(["--public-key", public_key])
        .args(proofs)
        .env("PYTHONPATH", pyclient())
        .output()
        .expect("run the Python verifier");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() || output.status.code() == Some(1),
        "verifier crashed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), stdout)
}

fn facts(i: u128) -> LeafFacts {
    LeafFacts {
        content_id: i * 1000 + 7,
        sha256: Sha256::digest(i.to_be_bytes()).into(),
        capture_count: i as u64 + 1,
        cluster_id: i / 4,
        keeper: i.is_multiple_of(4),
        opt_out: [
            OptOutAtBuild::Unknown,
            OptOutAtBuild::NotReserved,
            OptOutAtBuild::Reserved,
        ][(i % 3) as usize],
        language: ["eng", "zho", "", "deu"][(i % 4) as usize].to_owned(),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    content: ContentTree,
    shas: Sha256Tree,
    key: SigningKey,
}

impl Fixture {
    fn new(n: u128) -> Self {
        let content = ContentTree::new((0..n).map(facts).collect()).unwrap();
        let mut sha_leaves: Vec<ShaLeaf> =
            content.leaves().iter().map(LeafFacts::sha_leaf).collect();
        sha_leaves.sort_by_key(|l| l.sha256);
        let shas = Sha256Tree::new(sha_leaves).unwrap();
        let key = signing_key_from_seed(&[42; 32]).unwrap();
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            content,
            shas,
            key,
        }
    }

    fn manifest(&self) -> LedgerManifest {
        LedgerManifest {
            index_format_version: 3,
            normalization_version: 2,
            sketch_spec: "norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1 — ünïcödé".to_owned(),
            content_count: self.content.head().size,
            content_root: self.content.head().root,
            sha256_root: self.shas.head().root,
            created_at: -5,
            base_version_digest: Some(Sha256::digest(b"base").into()),
            index_digest: Sha256::digest(b"index").into(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn public_hex(&self) -> String {
        verifying_key_hex(&self.key.verifying_key())
    }
}

fn ok_lines(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with("ok ")).count()
}

#[test]
fn python_verifies_rust_proofs_and_rejects_tampered_ones() {
    let python = venv_python();
    let fx = Fixture::new(23);
    let signed = fx.manifest().sign(&fx.key);
    let manifest_json = wire::signed_manifest_to_json(&signed);
    let manifest = fx.write("manifest.json", &manifest_json);

    let mut good = Vec::new();
    for (i, leaf) in fx.content.leaves().iter().enumerate() {
        let proof = fx.content.inclusion_proof(&leaf.content_id).unwrap();
        good.push(fx.write(
            &format!("content-{i}.json"),
            &wire::inclusion_to_json(TreeKind::Content, &proof),
        ));
    }
    for (i, leaf) in fx.shas.leaves().iter().enumerate() {
        let proof = fx.shas.inclusion_proof(&leaf.sha256).unwrap();
        good.push(fx.write(
            &format!("sha-{i}.json"),
            &wire::inclusion_to_json(TreeKind::Sha256, &proof),
        ));
    }
    // Absent ids below, between and above the leaves; absent SHA-256s.
    for key in [0u128, 6, 8, 1006, 5500, 22_008, u128::MAX] {
        let proof = fx.content.non_inclusion_proof(&key).unwrap();
        let text = wire::non_inclusion_to_json(TreeKind::Content, &key.to_be_bytes(), &proof);
        good.push(fx.write(&format!("absent-{key}.json"), &text));
    }
    for key in [[0u8; 32], [0x77; 32], [0xff; 32]] {
        let proof = fx.shas.non_inclusion_proof(&key).unwrap();
        let text = wire::non_inclusion_to_json(TreeKind::Sha256, &key, &proof);
        good.push(fx.write(&format!("absent-sha-{:02x}.json", key[0]), &text));
    }
    let (success, stdout) = verify(&python, &manifest, &fx.public_hex(), &good);
    assert!(success, "{stdout}");
    assert_eq!(ok_lines(&stdout), good.len() + 1, "{stdout}");
    let digest = hex::encode(signed.manifest.digest());
    assert!(
        stdout.contains(&digest),
        "Python's manifest digest differs: {stdout}"
    );

    // Tampered proofs, each alone in a run so every one must fail by itself.
    let proof = fx.content.leaf_proof(4).unwrap();
    let mut bad_leaf = proof.clone();
    bad_leaf.leaf[20] ^= 1;
    let mut bad_path = proof.clone();
    bad_path.proof.audit_path[1][0] ^= 0x80;
    let mut bad_index = proof.clone();
    bad_index.proof.leaf_index = 5;
    let absent = fx.content.non_inclusion_proof(&5500).unwrap();
    let mut one_sided = absent.clone();
    one_sided.successor = None;
    // A "non-inclusion" proof of the present id 5007 (leaf 5), by hand.
    let present = NonInclusionProof {
        tree_size: 23,
        predecessor: Some(fx.content.leaf_proof(5).unwrap()),
        successor: Some(fx.content.leaf_proof(6).unwrap()),
    };
    let mut tampered = vec![
        (
            "leaf",
            wire::inclusion_to_json(TreeKind::Content, &bad_leaf),
        ),
        (
            "path",
            wire::inclusion_to_json(TreeKind::Content, &bad_path),
        ),
        (
            "index",
            wire::inclusion_to_json(TreeKind::Content, &bad_index),
        ),
        ("tree", wire::inclusion_to_json(TreeKind::Sha256, &proof)),
        (
            "one-sided",
            wire::non_inclusion_to_json(TreeKind::Content, &5500u128.to_be_bytes(), &one_sided),
        ),
        (
            "present",
            wire::non_inclusion_to_json(TreeKind::Content, &5007u128.to_be_bytes(), &present),
        ),
    ];
    // And a single hex digit changed anywhere in one inclusion document.
    let text = wire::inclusion_to_json(TreeKind::Content, &fx.content.leaf_proof(9).unwrap());
    for (at, c) in text
        .char_indices()
        .filter(|(_, c)| c.is_ascii_hexdigit())
        .step_by(17)
    {
        let swapped = if c == '0' { '1' } else { '0' };
        let mut bad = text.clone();
        bad.replace_range(at..at + 1, &swapped.to_string());
        tampered.push(("digit", bad));
    }
    for (i, (what, text)) in tampered.iter().enumerate() {
        assert!(
            wire::verify_inclusion_json(text, &signed.manifest).is_err()
                && wire::verify_non_inclusion_json(text, &signed.manifest).is_err(),
            "Rust accepts tampered {what}"
        );
        let path = fx.write(&format!("tampered-{i}.json"), text);
        let (success, stdout) = verify(&python, &manifest, &fx.public_hex(), &[path]);
        assert!(
            !success && stdout.contains("FAIL"),
            "Python accepts tampered {what}: {stdout}"
        );
    }

    // Tampered manifests and the wrong key.
    let flip = |field: &str, from: &str, to: &str| {
        let bad = manifest_json.replacen(from, to, 1);
        assert_ne!(bad, manifest_json, "{field}");
        bad
    };
    let root = hex::encode(signed.manifest.content_root);
    let mut bad_root = root.clone();
    bad_root.replace_range(0..1, if root.starts_with('0') { "1" } else { "0" });
    let signature = hex::encode(signed.signature);
    let mut bad_signature = signature.clone();
    bad_signature.replace_range(10..11, if &signature[10..11] == "0" { "1" } else { "0" });
    for (what, text) in [
        ("root", flip("root", &root, &bad_root)),
        (
            "count",
            flip("count", "\"content_count\": 23", "\"content_count\": 22"),
        ),
        (
            "created",
            flip("created", "\"created_at\": -5", "\"created_at\": 5"),
        ),
        ("spec", flip("spec", "seed=1", "seed=2")),
        ("signature", flip("signature", &signature, &bad_signature)),
    ] {
        let path = fx.write(&format!("manifest-{what}.json"), &text);
        let (success, stdout) = verify(&python, &path, &fx.public_hex(), &[]);
        assert!(
            !success,
            "Python accepts a manifest with a tampered {what}: {stdout}"
        );
        let parsed = wire::signed_manifest_from_json(&text).unwrap();
        assert!(
            parsed.verify(&fx.key.verifying_key()).is_err(),
            "Rust accepts {what}"
        );
    }
    let other = verifying_key_hex(&signing_key_from_seed(&[1; 32]).unwrap().verifying_key());
    let (success, _) = verify(&python, &manifest, &other, &[]);
    assert!(!success, "Python accepts the manifest under another key");
}

#[test]
fn python_verifies_the_empty_tree() {
    let python = venv_python();
    let fx = Fixture::new(0);
    assert_eq!(fx.content.head().root, EMPTY_ROOT);
    let mut manifest = fx.manifest();
    manifest.base_version_digest = None;
    let signed = manifest.sign(&fx.key);
    let path = fx.write("manifest.json", &wire::signed_manifest_to_json(&signed));
    let proof = fx.content.non_inclusion_proof(&1).unwrap();
    let absent = fx.write(
        "absent.json",
        &wire::non_inclusion_to_json(TreeKind::Content, &1u128.to_be_bytes(), &proof),
    );
    let (success, stdout) = verify(
        &python,
        &path,
        &fx.public_hex(),
        std::slice::from_ref(&absent),
    );
    assert!(success, "{stdout}");
    assert_eq!(ok_lines(&stdout), 2);
}

#[test]
fn python_unit_tests_pass() {
    let python = venv_python();
    let output = Command::new(python)
        .args(["-m", "unittest", "discover", "-s", "tests"])
        .current_dir(pyclient())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
