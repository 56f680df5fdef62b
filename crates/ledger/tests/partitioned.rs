//! Partition and publication manifests (issue 17): canonical bytes, and
//! partitioned proofs — inclusion in every partition, non-inclusion at
//! partition edges and in an empty partition, SHA-256 non-inclusion over
//! every partition — and what each forgery is refused with.

use provindex_ledger::partitioned::{CHUNKS, content_chunk, partition_chunks};
use provindex_ledger::wire::{self, PartitionedClaim};
use provindex_ledger::*;
use sha2::{Digest, Sha256};

fn facts(content_id: u128) -> LeafFacts {
    LeafFacts {
        content_id,
        sha256: Sha256::digest(content_id.to_be_bytes()).into(),
        capture_count: 1,
        cluster_id: content_id,
        keeper: true,
        opt_out: OptOutAtBuild::Unknown,
        language: "eng".to_owned(),
    }
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

struct Part {
    signed: SignedPartitionManifest,
    content: ContentTree,
    sha: Sha256Tree,
}

struct Built {
    publication: SignedPublicationManifest,
    parts: Vec<Part>,
}

/// A publication of `count` partitions over contents with these ids.
fn build(ids: &[u128], count: u32, signer: &SigningKey, created_at: i64) -> Built {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    let mut parts = Vec::new();
    for p in 0..count {
        let (start, end) = partition_chunks(p, count).unwrap();
        let leaves: Vec<LeafFacts> = ids
            .iter()
            .filter(|id| (start..end).contains(&content_chunk(**id)))
            .map(|id| facts(*id))
            .collect();
        let mut sha_leaves: Vec<ShaLeaf> = leaves.iter().map(LeafFacts::sha_leaf).collect();
        sha_leaves.sort_by_key(|l| l.sha256);
        let content = ContentTree::new(leaves).unwrap();
        let sha = Sha256Tree::new(sha_leaves).unwrap();
        let manifest = PartitionManifest {
            partition: p,
            partition_count: count,
            chunk_start: start,
            chunk_end: end,
            ledger: LedgerManifest {
                index_format_version: 3,
                normalization_version: 2,
                sketch_spec: "spec".to_owned(),
                content_count: content.len() as u64,
                content_root: content.head().root,
                sha256_root: sha.head().root,
                created_at,
                base_version_digest: None,
                index_digest: [p as u8; 32],
            },
        };
        parts.push(Part {
            signed: manifest.sign(signer),
            content,
            sha,
        });
    }
    let publication = PublicationManifest {
        index_format_version: 3,
        normalization_version: 2,
        sketch_spec: "spec".to_owned(),
        content_count: ids.len() as u64,
        created_at,
        base_version_digest: None,
        index_digest: [0xee; 32],
        partitions: parts.iter().map(|p| p.signed.manifest.digest()).collect(),
    }
    .sign(signer);
    Built { publication, parts }
}

/// Ids in chunks 0x00, 0x3f, 0x40 (edges of partitions 0 and 1 of 4) and
/// 0xc0..0xff; partition 2 (chunks 0x80..0xc0) is empty.
fn ids() -> Vec<u128> {
    let at = |chunk: u128, low: u128| (chunk << 120) | low;
    vec![
        at(0x00, 5),
        at(0x00, 9),
        at(0x3f, 1),
        at(0x40, 0),
        at(0x41, 77),
        at(0xc0, 3),
        at(0xff, 12_345),
    ]
}

fn owner(built: &Built, id: u128) -> &Part {
    built
        .parts
        .iter()
        .find(|p| p.signed.manifest.owns(id))
        .unwrap()
}

fn content_proof(part: &Part, id: u128) -> String {
    let inner = match part.content.position(&id) {
        Ok(at) => wire::inclusion_to_json(TreeKind::Content, &part.content.leaf_proof(at).unwrap()),
        Err(_) => wire::non_inclusion_to_json(
            TreeKind::Content,
            &id.to_be_bytes(),
            &part.content.non_inclusion_proof(&id).unwrap(),
        ),
    };
    wire::partitioned_proof_to_json(&[(&part.signed, &inner)]).unwrap()
}

fn sha_absent(part: &Part, sha: &[u8; 32]) -> String {
    let inner = wire::non_inclusion_to_json(
        TreeKind::Sha256,
        sha,
        &part.sha.non_inclusion_proof(sha).unwrap(),
    );
    wire::partitioned_proof_to_json(&[(&part.signed, &inner)]).unwrap()
}

fn check(built: &Built, proof: &str) -> Result<PartitionedClaim> {
    let trusted = key(1).verifying_key();
    let publication = built.publication.verify(&trusted)?;
    wire::verify_partitioned_json(proof, publication, &trusted)
}

#[test]
fn manifests_round_trip_through_canonical_bytes_and_json() {
    let built = build(&ids(), 4, &key(1), 1_700_000_000);
    for part in &built.parts {
        let m = &part.signed.manifest;
        let bytes = m.canonical_bytes();
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..5], &m.partition.to_be_bytes());
        assert_eq!(
            &bytes[9..17],
            &[
                &m.chunk_start.to_be_bytes()[..],
                &m.chunk_end.to_be_bytes()[..]
            ]
            .concat()
        );
        assert_eq!(&bytes[17..], &m.ledger.canonical_bytes()[..]);
        assert_eq!(&PartitionManifest::from_canonical_bytes(&bytes).unwrap(), m);
        let json = wire::signed_partition_to_json(&part.signed);
        assert_eq!(
            wire::signed_partition_from_json(&json).unwrap(),
            part.signed
        );
    }
    let json = wire::signed_publication_to_json(&built.publication);
    let parsed = wire::signed_publication_from_json(&json).unwrap();
    assert_eq!(parsed, built.publication);
    // The canonical bytes end with the count and every partition digest.
    let bytes = parsed.manifest.canonical_bytes();
    assert_eq!(
        &bytes[bytes.len() - 4 * 32 - 4..bytes.len() - 4 * 32],
        &4u32.to_be_bytes()
    );
    // A partition manifest's signature is no whole-index manifest's.
    let p0 = &built.parts[0].signed;
    let as_whole = SignedManifest {
        manifest: p0.manifest.ledger.clone(),
        public_key: p0.public_key,
        signature: p0.signature,
    };
    assert!(as_whole.verify(&key(1).verifying_key()).is_err());
}

#[test]
fn every_content_proves_by_id_and_sha256_in_its_partition() {
    let built = build(&ids(), 4, &key(1), 7);
    for id in ids() {
        let part = owner(&built, id);
        match check(&built, &content_proof(part, id)).unwrap() {
            PartitionedClaim::Included {
                tree: TreeKind::Content,
                partition,
                leaf,
            } => {
                assert_eq!(partition, part.signed.manifest.partition);
                assert_eq!(LeafFacts::decode(&leaf).unwrap(), facts(id));
            }
            other => panic!("{other:?}"),
        }
        let sha = facts(id).sha256;
        let at = part.sha.position(&sha).unwrap();
        let inner = wire::inclusion_to_json(TreeKind::Sha256, &part.sha.leaf_proof(at).unwrap());
        let proof = wire::partitioned_proof_to_json(&[(&part.signed, &inner)]).unwrap();
        assert!(matches!(
            check(&built, &proof).unwrap(),
            PartitionedClaim::Included {
                tree: TreeKind::Sha256,
                ..
            }
        ));
    }
}

#[test]
fn absent_ids_at_partition_edges_and_in_an_empty_partition_prove_absent() {
    let built = build(&ids(), 4, &key(1), 7);
    let at = |chunk: u128, low: u128| (chunk << 120) | low;
    let edges = [
        0,                        // below partition 0's first leaf
        at(0x00, 7),              // between two leaves
        at(0x3f, 2),              // above partition 0's last leaf, at its last chunk
        at(0x3f, u128::MAX >> 8), // the last id partition 0 could hold
        at(0x40, 0) - 1,          // same, spelled from partition 1's first id
        at(0x7f, 0),              // above partition 1's last leaf
        at(0x80, 0),              // the empty partition's first id
        at(0xbf, 9),              // and inside it
        at(0xc0, 2),              // below partition 3's first leaf
        u128::MAX,                // the last id of all
    ];
    for id in edges {
        let part = owner(&built, id);
        match check(&built, &content_proof(part, id)) {
            Ok(PartitionedClaim::Absent {
                tree: TreeKind::Content,
                key,
                partitions,
            }) => {
                assert_eq!(key, id.to_be_bytes().to_vec());
                assert_eq!(partitions, vec![part.signed.manifest.partition]);
            }
            other => panic!("{id:032x}: {other:?}"),
        }
    }
    // Absence shown in a partition that does not own the id proves nothing.
    let id = at(0x80, 1);
    let wrong = &built.parts[3];
    let error = check(&built, &content_proof(wrong, id))
        .unwrap_err()
        .to_string();
    assert!(error.contains("outside its chunks"), "{error}");
}

#[test]
fn sha256_absence_needs_every_partition() {
    let built = build(&ids(), 4, &key(1), 7);
    let sha: [u8; 32] = Sha256::digest(b"not indexed").into();
    let per_partition: Vec<String> = built.parts.iter().map(|p| sha_absent(p, &sha)).collect();
    let whole = wire::merge_partitioned_proofs(&per_partition).unwrap();
    match check(&built, &whole).unwrap() {
        PartitionedClaim::Absent {
            tree: TreeKind::Sha256,
            partitions,
            ..
        } => assert_eq!(partitions, vec![0, 1, 2, 3]),
        other => panic!("{other:?}"),
    }
    let three = wire::merge_partitioned_proofs(&per_partition[..3]).unwrap();
    let error = check(&built, &three).unwrap_err().to_string();
    assert!(error.contains("needs every partition"), "{error}");
    let twice = wire::merge_partitioned_proofs(&[
        per_partition[0].clone(),
        per_partition[0].clone(),
        per_partition[2].clone(),
        per_partition[3].clone(),
    ])
    .unwrap();
    assert!(check(&built, &twice).is_err());
}

#[test]
fn forged_partitioned_proofs_are_refused_with_the_reason() {
    let built = build(&ids(), 4, &key(1), 7);
    let id = ids()[3];
    let part = owner(&built, id);
    let good = content_proof(part, id);
    // Every single-byte change of the document fails (or leaves it unparseable).
    let bytes = good.as_bytes();
    for at in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.to_vec();
        bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
        let Ok(text) = String::from_utf8(bad) else {
            continue;
        };
        if text == good {
            continue;
        }
        assert!(
            check(&built, &text).is_err(),
            "byte {at} changed and accepted"
        );
    }
    // A partition manifest of another publication (another build time).
    let other = build(&ids(), 4, &key(1), 8);
    let foreign = content_proof(owner(&other, id), id);
    let error = check(&built, &foreign).unwrap_err().to_string();
    assert!(
        error.contains("not the one the publication lists"),
        "{error}"
    );
    // Another partition's manifest with this partition's proof.
    let inner = wire::inclusion_to_json(
        TreeKind::Content,
        &part
            .content
            .leaf_proof(part.content.position(&id).unwrap())
            .unwrap(),
    );
    let swapped = wire::partitioned_proof_to_json(&[(&built.parts[0].signed, &inner)]).unwrap();
    assert!(check(&built, &swapped).is_err());
    // Signed by another key.
    let stranger = build(&ids(), 4, &key(2), 7);
    let error = check(&built, &content_proof(owner(&stranger, id), id)).unwrap_err();
    assert!(matches!(error, LedgerError::KeyMismatch { .. }), "{error}");
    let trusted = key(1).verifying_key();
    assert!(stranger.publication.verify(&trusted).is_err());
    // A manifest with a chunk range not its place's, re-signed and listed.
    let mut widened = built.parts[1].signed.manifest.clone();
    widened.chunk_start = 0;
    let widened = widened.sign(&key(1));
    let mut publication = built.publication.manifest.clone();
    publication.partitions[1] = widened.manifest.digest();
    let inner = wire::inclusion_to_json(TreeKind::Content, &part.content.leaf_proof(0).unwrap());
    let proof = wire::partitioned_proof_to_json(&[(&widened, &inner)]).unwrap();
    let error = wire::verify_partitioned_json(&proof, &publication, &trusted)
        .unwrap_err()
        .to_string();
    assert!(error.contains("are not partition 1's"), "{error}");
    assert_eq!(CHUNKS, 256);
}
