//! The signed ledger of a partitioned index (issue 17), end to end with real
//! processes: `provindex index --index-partitions 4 --signing-key` builds the
//! bundled corpus into a local publication with a signed partition manifest
//! per partition (`ledger/pNNNN.json`) and a signed publication manifest
//! (`ledger.json`); two `serve --partitions` processes (0,1 and 2,3) behind a
//! `router` answer LedgerService; proofs for every content (by id and by
//! SHA-256), for absent ids at every partition's edges, for an absent SHA-256
//! (joined over all partitions) and capture links are accepted by both
//! `provindex verify` and the independent Python verifier, and tampered
//! copies — a byte of a proof, of a partition manifest, a partition manifest
//! of another publication, a missing partition, the wrong key — are refused
//! by both with a reason. A partition server refuses a partition manifest
//! that does not describe its partition.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{RouterProcess, ServerProcess, corpus_dir, provindex_bin, venv::venv_python};
use provindex_index::{IndexError, IndexReader};
use provindex_ledger::wire::{self, PartitionedClaim};
use provindex_ledger::{LeafFacts, TreeKind};
use provindex_proto::v1::ledger_service_client::LedgerServiceClient;
use provindex_proto::v1::prove_content_request::Key;
use provindex_proto::v1::{GetCaptureLinkRequest, GetSignedManifestRequest, ProveContentRequest};
use tonic::Code;
use tonic::transport::Channel;

const SEED: [u8; 32] = [0x5b; 32];
const PARTITIONS: u32 = 4;

fn key_hex(seed: [u8; 32]) -> String {
    let key = provindex_ledger::signing_key_from_seed(&seed).expect("seed");
    provindex_ledger::verifying_key_hex(&key.verifying_key())
}

fn write_seed(dir: &Path, seed: [u8; 32]) -> PathBuf {
    let path = dir.join(format!("{}.key", hex::encode(&seed[..2])));
    std::fs::write(&path, format!("{}\n", hex::encode(seed))).expect("write seed");
    path
}

fn build(out: &Path, key: &Path, workers: u32, built_at: &str, partitions: u32) {
    let output = Command::new(provindex_bin())
        .arg("index")
        .arg(corpus_dir().join("warc"))
        .arg(corpus_dir().join("jsonl"))
        .arg("--out")
        .arg(out)
        .args(["--crawl", "ledger-corpus", "--built-at", built_at])
        .args(["--workers", &workers.to_string()])
        .args(["--index-partitions", &partitions.to_string()])
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
}

/// Contents (id → SHA-256) and captures (id → content) of an index.
fn walk(index: &Path) -> (BTreeMap<u128, [u8; 32]>, BTreeMap<u128, Option<u128>>) {
    let contents = common::contents_by_id(index);
    let reader = IndexReader::open(index).expect("open index");
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

fn verify(rust: bool, manifest: &Path, key: &str, proofs: &[PathBuf]) -> Output {
    let mut command = match rust {
        true => {
            let mut c = Command::new(provindex_bin());
            c.arg("verify");
            c
        }
        false => {
            let mut c = Command::new(python());
            c.env(
                "PYTHONPATH",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../pyclient"),
            )
            .args(["-m", "provindex_client.ledger"]);
            c
        }
    };
    command
        .arg("--manifest")
        .arg(manifest)
        .args(["--public-key", key])
        .args(proofs)
        .output()
        .expect("run a verifier")
}

fn name(rust: bool) -> &'static str {
    if rust {
        "provindex verify"
    } else {
        "python verifier"
    }
}

fn assert_both_accept(manifest: &Path, key: &str, proofs: &[PathBuf]) {
    for rust in [true, false] {
        let output = verify(rust, manifest, key, proofs);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{} rejected: {text}\n{}",
            name(rust),
            String::from_utf8_lossy(&output.stderr)
        );
        let ok = text.lines().filter(|l| l.starts_with("ok ")).count();
        assert_eq!(ok, proofs.len() + 1, "{}: {text}", name(rust));
    }
}

/// Both verifiers exit 1 with `FAIL <failing>: ...reason...`.
fn assert_both_reject(
    manifest: &Path,
    key: &str,
    proofs: &[PathBuf],
    failing: &Path,
    reasons: [&str; 2],
) {
    for (rust, reason) in [(true, reasons[0]), (false, reasons[1])] {
        let output = verify(rust, manifest, key, proofs);
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{}: {text}", name(rust));
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("FAIL {}:", failing.display())))
            .unwrap_or_else(|| panic!("{} names no failure of {failing:?}: {text}", name(rust)));
        assert!(
            line.contains(reason),
            "{}: expected {reason:?} in {line:?}",
            name(rust)
        );
    }
}

async fn prove(client: &mut LedgerServiceClient<Channel>, key: Key) -> ProveContentResponseExt {
    let r = client
        .prove_content(ProveContentRequest { key: Some(key) })
        .await
        .expect("ProveContent")
        .into_inner();
    ProveContentResponseExt(r)
}

struct ProveContentResponseExt(provindex_proto::v1::ProveContentResponse);

/// What a partitioned proof claims, checked here with the Rust library
/// against the publication (the CLI verifiers check the files below).
fn claim(
    text: &str,
    publication: &provindex_ledger::PublicationManifest,
) -> Result<PartitionedClaim, String> {
    let key = provindex_ledger::verifying_key_from_bytes(key_hex(SEED).as_bytes()).expect("key");
    wire::verify_partitioned_json(text, publication, &key).map_err(|e| e.to_string())
}

fn partition_of(id: u128) -> u32 {
    ((id >> 120) as u32) * PARTITIONS / 256
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_over_partition_servers_proves_every_content_and_absence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_seed(dir.path(), SEED);
    let whole = dir.path().join("whole");
    build(&whole, &key, 2, "1700000000", 1);
    let index = dir.path().join("index4");
    build(&index, &key, 2, "1700000000", PARTITIONS);
    // Deterministic: another worker count writes the same ledger bytes.
    let again = dir.path().join("index4-again");
    build(&again, &key, 1, "1700000000", PARTITIONS);
    let mut ledger_files = vec![PathBuf::from("ledger.json")];
    ledger_files.extend((0..PARTITIONS).map(|p| PathBuf::from(format!("ledger/p{p:04}.json"))));
    for file in &ledger_files {
        let a = std::fs::read(index.join(file)).expect("ledger file");
        assert_eq!(
            a,
            std::fs::read(again.join(file)).expect("ledger file"),
            "{file:?}"
        );
    }
    // Another publication (another build time), for a foreign manifest.
    let other = dir.path().join("index4-other");
    build(&other, &key, 2, "1700000001", PARTITIONS);

    // The partitions' leaves are the whole index's leaves, split by chunk.
    let whole_leaves =
        provindex_pipeline::ledger::leaf_facts(&IndexReader::open(&whole).expect("open"))
            .expect("leaves");
    let mut partition_leaves = Vec::new();
    for p in 0..PARTITIONS {
        let reader = IndexReader::open(&index.join(format!("partitions/p{p:04}"))).expect("open");
        let leaves = provindex_pipeline::ledger::leaf_facts(&reader).expect("leaves");
        assert!(leaves.iter().all(|l| partition_of(l.content_id) == p));
        partition_leaves.extend(leaves);
    }
    assert_eq!(partition_leaves, whole_leaves);
    let (contents, captures) = walk(&whole);
    assert!(contents.len() > 20, "corpus too small: {}", contents.len());

    let low = ServerProcess::start_with(&index, &["--partitions", "0,1"]);
    let high = ServerProcess::start_with(&index, &["--partitions", "2,3"]);
    let router = RouterProcess::start(&[&low, &high], &[]);
    let channel = Channel::from_shared(format!("http://{}", router.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut client = LedgerServiceClient::new(channel).max_decoding_message_size(64 << 20);
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
    assert_eq!(signed.public_key, key_hex(SEED));
    let manifest = out.join("manifest.json");
    std::fs::write(&manifest, &signed.signed_manifest_json).expect("write");
    let publication = wire::signed_publication_from_json(&on_disk)
        .expect("parse")
        .manifest;
    assert_eq!(publication.partition_count(), PARTITIONS);
    let publication_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index.join("publication.json")).expect("read"))
            .expect("json");
    assert_eq!(
        hex::encode(publication.index_digest),
        publication_json["index"]["digest"]
            .as_str()
            .expect("digest")
    );

    // Every content, by id and by SHA-256.
    let mut proofs = Vec::new();
    for (id, sha) in &contents {
        let by_id = prove(&mut client, Key::ContentId(format!("{id:032x}")))
            .await
            .0;
        assert!(by_id.present, "content {id:032x} not present");
        match claim(&by_id.inclusion_json, &publication).expect("verifies") {
            PartitionedClaim::Included {
                tree: TreeKind::Content,
                partition,
                leaf,
            } => {
                assert_eq!(partition, partition_of(*id));
                assert_eq!(LeafFacts::decode(&leaf).expect("leaf").content_id, *id);
            }
            other => panic!("{other:?}"),
        }
        let path = out.join(format!("content-{id:032x}.json"));
        std::fs::write(&path, &by_id.inclusion_json).expect("write");
        proofs.push(path);
        let by_sha = prove(&mut client, Key::Sha256(hex::encode(sha))).await.0;
        assert!(by_sha.present);
        assert_eq!(by_sha.content_id, format!("{id:032x}"));
        assert_eq!(by_sha.inclusion_json, by_id.inclusion_json);
        let path = out.join(format!("sha256-{}.json", hex::encode(sha)));
        std::fs::write(&path, &by_sha.sha256_inclusion_json).expect("write");
        proofs.push(path);
    }

    // Absent ids at every partition's edges (its first and last possible
    // id), around its first and last content, and between two contents.
    let mut absent: BTreeSet<u128> = BTreeSet::new();
    for p in 0..PARTITIONS {
        let width = 256 / PARTITIONS as u128;
        let start = (p as u128 * width) << 120;
        let end = ((p as u128 + 1) * width) << 120;
        absent.insert(start);
        absent.insert(end.wrapping_sub(1));
        let mine: Vec<u128> = contents
            .range(start..end.max(start + 1))
            .map(|(id, _)| *id)
            .collect();
        if let (Some(first), Some(last)) = (mine.first(), mine.last()) {
            absent.insert(first - 1);
            absent.insert(last + 1);
        }
        if let Some(gap) = mine.windows(2).find(|w| w[1] > w[0] + 1) {
            absent.insert(gap[0] + 1);
        }
    }
    absent.retain(|id| !contents.contains_key(id));
    assert!(absent.len() >= 2 * PARTITIONS as usize, "{absent:?}");
    let mut edge_files = Vec::new();
    for id in &absent {
        let response = prove(&mut client, Key::ContentId(format!("{id:032x}")))
            .await
            .0;
        assert!(!response.present, "{id:032x} present");
        match claim(&response.non_inclusion_json, &publication).expect("verifies") {
            PartitionedClaim::Absent {
                tree: TreeKind::Content,
                partitions,
                ..
            } => assert_eq!(partitions, vec![partition_of(*id)]),
            other => panic!("{other:?}"),
        }
        let path = out.join(format!("absent-id-{id:032x}.json"));
        std::fs::write(&path, &response.non_inclusion_json).expect("write");
        edge_files.push(path.clone());
        proofs.push(path);
    }
    // An absent SHA-256: every partition's part, joined by the router.
    let absent_sha = [0x42u8; 32];
    assert!(contents.values().all(|sha| *sha != absent_sha));
    let response = prove(&mut client, Key::Sha256(hex::encode(absent_sha)))
        .await
        .0;
    assert!(!response.present);
    match claim(&response.non_inclusion_json, &publication).expect("verifies") {
        PartitionedClaim::Absent {
            tree: TreeKind::Sha256,
            partitions,
            ..
        } => assert_eq!(partitions, (0..PARTITIONS).collect::<Vec<_>>()),
        other => panic!("{other:?}"),
    }
    let sha_absent = out.join("absent-sha.json");
    std::fs::write(&sha_absent, &response.non_inclusion_json).expect("write");
    proofs.push(sha_absent.clone());

    // Capture links: each capture with text links to its content's leaf in
    // the content's partition (which holds a copy of the capture).
    let mut linked = 0;
    for (capture, content) in captures.iter().take(40) {
        let request = GetCaptureLinkRequest {
            capture_id: format!("{capture:032x}"),
        };
        match (content, client.get_capture_link(request).await) {
            (Some(content), Ok(link)) => {
                let link = link.into_inner();
                assert_eq!(link.content_id, format!("{content:032x}"));
                let path = out.join(format!("link-{capture:032x}.json"));
                std::fs::write(&path, &link.inclusion_json).expect("write");
                proofs.push(path);
                linked += 1;
            }
            (None, Err(status)) => assert_eq!(status.code(), Code::FailedPrecondition),
            (content, answer) => panic!("capture {capture:032x} ({content:?}): {answer:?}"),
        }
    }
    assert!(linked > 0);
    let missing = client
        .get_capture_link(GetCaptureLinkRequest {
            capture_id: format!("{:032x}", 7u128),
        })
        .await
        .expect_err("unknown capture");
    assert_eq!(missing.code(), Code::NotFound);

    assert_both_accept(&manifest, &key_hex(SEED), &proofs);

    // Tampering. One byte of an audit path.
    let content_proof = &proofs[0];
    let text = std::fs::read_to_string(content_proof).expect("read");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let path = doc["parts"][0]["proof"]["audit_path"][0]
        .as_str()
        .expect("an audit path")
        .to_owned();
    let flipped = format!(
        "{}{}",
        if &path[..1] == "0" { "1" } else { "0" },
        &path[1..]
    );
    doc["parts"][0]["proof"]["audit_path"][0] = flipped.into();
    let bad_path = out.join("bad-path.json");
    std::fs::write(&bad_path, doc.to_string()).expect("write");
    assert_both_reject(
        &manifest,
        &key_hex(SEED),
        std::slice::from_ref(&bad_path),
        &bad_path,
        [
            "root computed from the proof is not the trusted root",
            "computed root is not the manifest's root",
        ],
    );
    // One byte of the partition manifest (its content count).
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let count = doc["parts"][0]["partition_manifest"]["manifest"]["content_count"]
        .as_u64()
        .expect("count");
    doc["parts"][0]["partition_manifest"]["manifest"]["content_count"] = (count + 1).into();
    let bad_manifest = out.join("bad-partition-manifest.json");
    std::fs::write(&bad_manifest, doc.to_string()).expect("write");
    assert_both_reject(
        &manifest,
        &key_hex(SEED),
        std::slice::from_ref(&bad_manifest),
        &bad_manifest,
        ["signature does not verify", "signature does not verify"],
    );
    // The same partition's manifest from another publication (signed by the
    // same key) with a proof of that publication.
    let first = *contents.keys().next().expect("a content");
    let foreign_server = ServerProcess::start_with(&other, &["--partitions", "0,1,2,3"]);
    let mut foreign = LedgerServiceClient::new(foreign_server.channel().await);
    let foreign_proof = prove(&mut foreign, Key::ContentId(format!("{first:032x}")))
        .await
        .0;
    let foreign_path = out.join("foreign.json");
    std::fs::write(&foreign_path, &foreign_proof.inclusion_json).expect("write");
    assert_both_reject(
        &manifest,
        &key_hex(SEED),
        std::slice::from_ref(&foreign_path),
        &foreign_path,
        [
            "not the one the publication lists",
            "not the one the publication lists",
        ],
    );
    // A SHA-256 absence missing a partition's part.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sha_absent).expect("read")).expect("json");
    doc["parts"].as_array_mut().expect("parts").remove(2);
    let short = out.join("absent-sha-three-parts.json");
    std::fs::write(&short, doc.to_string()).expect("write");
    assert_both_reject(
        &manifest,
        &key_hex(SEED),
        std::slice::from_ref(&short),
        &short,
        ["needs every partition", "needs a part for every partition"],
    );
    // A content_id absence shown in a partition that does not own the id:
    // the edge proof of partition 0's last id with its key moved into
    // partition 1 (still above every leaf of partition 0).
    let edge = (1u128 << 126) - 1;
    if absent.contains(&edge) {
        let text =
            std::fs::read_to_string(out.join(format!("absent-id-{edge:032x}.json"))).expect("read");
        let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
        doc["parts"][0]["proof"]["key"] = format!("{:032x}", edge + 1).into();
        let moved = out.join("absent-id-moved.json");
        std::fs::write(&moved, doc.to_string()).expect("write");
        assert_both_reject(
            &manifest,
            &key_hex(SEED),
            std::slice::from_ref(&moved),
            &moved,
            ["outside its chunks", "outside partition 0's chunks"],
        );
    }
    // The wrong key: the publication manifest itself fails.
    let stranger = key_hex([0x11; 32]);
    let output = verify(true, &manifest, &stranger, &edge_files);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("not by the trusted key"), "{text}");
    let output = verify(false, &manifest, &stranger, &edge_files);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("not the trusted one"), "{text}");

    // A router fronts two replicas of the unpartitioned signed index (one
    // partition covering every chunk): its proofs are the whole index's.
    let replica_a = ServerProcess::start(&whole);
    let replica_b = ServerProcess::start(&whole);
    let whole_router = RouterProcess::start(&[&replica_a, &replica_b], &[]);
    let channel = Channel::from_shared(format!("http://{}", whole_router.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut whole_client = LedgerServiceClient::new(channel);
    let whole_manifest = out.join("whole-manifest.json");
    std::fs::write(
        &whole_manifest,
        whole_client
            .get_signed_manifest(GetSignedManifestRequest {})
            .await
            .expect("GetSignedManifest")
            .into_inner()
            .signed_manifest_json,
    )
    .expect("write");
    let mut whole_proofs = Vec::new();
    for (n, key) in [
        Key::ContentId(format!("{first:032x}")),
        Key::Sha256(hex::encode(absent_sha)),
    ]
    .into_iter()
    .enumerate()
    {
        let r = prove(&mut whole_client, key).await.0;
        let path = out.join(format!("whole-{n}.json"));
        let text = if r.present {
            r.inclusion_json
        } else {
            r.non_inclusion_json
        };
        std::fs::write(&path, text).expect("write");
        whole_proofs.push(path);
    }
    assert_both_accept(&whole_manifest, &key_hex(SEED), &whole_proofs);
    drop(whole_router);

    // A partition server refuses a partition manifest that does not
    // describe its partition (another publication's, validly signed).
    std::fs::copy(
        other.join("ledger/p0001.json"),
        index.join("ledger/p0001.json"),
    )
    .expect("copy");
    let refused = Command::new(provindex_bin())
        .arg("serve")
        .arg("--index")
        .arg(&index)
        .args(["--listen", "127.0.0.1:0", "--partitions", "1"])
        .output()
        .expect("run serve");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("p0001.json") && stderr.contains("not the one the publication lists"),
        "{stderr}"
    );
}
