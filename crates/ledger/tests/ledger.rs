//! Trees against hand-computed RFC 9162 hashes, proofs for every leaf of
//! small trees, single-byte tampering, non-inclusion at every gap and edge,
//! signed manifests, and random sets.

use std::collections::BTreeSet;

use proptest::prelude::*;
use provindex_ledger::*;
use sha2::{Digest, Sha256};

fn sha(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn facts(content_id: u128) -> LeafFacts {
    LeafFacts {
        content_id,
        sha256: sha(&[&content_id.to_be_bytes()]),
        capture_count: (content_id % 7) as u64 + 1,
        cluster_id: content_id / 3,
        keeper: content_id.is_multiple_of(2),
        opt_out: match content_id % 3 {
            0 => OptOutAtBuild::Unknown,
            1 => OptOutAtBuild::NotReserved,
            _ => OptOutAtBuild::Reserved,
        },
        language: if content_id.is_multiple_of(5) {
            String::new()
        } else {
            "eng".to_owned()
        },
    }
}

/// Leaves with ids 10, 20, ..., 10 * n.
fn content_tree(n: u64) -> ContentTree {
    ContentTree::new((1..=n).map(|i| facts(u128::from(i) * 10)).collect()).unwrap()
}

fn sha_tree(tree: &ContentTree) -> Sha256Tree {
    let mut leaves: Vec<ShaLeaf> = tree.leaves().iter().map(LeafFacts::sha_leaf).collect();
    leaves.sort_by_key(|leaf| leaf.sha256);
    Sha256Tree::new(leaves).unwrap()
}

/// MTH straight from RFC 9162 §2.1.1.
fn reference_mth(leaves: &[Vec<u8>]) -> Hash {
    match leaves.len() {
        0 => sha(&[]),
        1 => sha(&[&[0], &leaves[0]]),
        n => {
            let k = largest_power_of_two_below(n);
            sha(&[
                &[1],
                &reference_mth(&leaves[..k]),
                &reference_mth(&leaves[k..]),
            ])
        }
    }
}

fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH(m, D[n]) straight from RFC 9162 §2.1.3.1.
fn reference_path(m: usize, leaves: &[Vec<u8>]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return vec![];
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        let mut path = reference_path(m, &leaves[..k]);
        path.push(reference_mth(&leaves[k..]));
        path
    } else {
        let mut path = reference_path(m - k, &leaves[k..]);
        path.push(reference_mth(&leaves[..k]));
        path
    }
}

#[test]
fn small_trees_match_hand_computed_hashes() {
    let leaves: Vec<Vec<u8>> = (1..=8u64)
        .map(|i| facts(u128::from(i) * 10).encode())
        .collect();
    let l: Vec<Hash> = leaves.iter().map(|leaf| sha(&[&[0x00], leaf])).collect();
    let n = |a: &Hash, b: &Hash| sha(&[&[0x01], a, b]);
    let n01 = n(&l[0], &l[1]);
    let n23 = n(&l[2], &l[3]);
    let n45 = n(&l[4], &l[5]);
    let n67 = n(&l[6], &l[7]);
    let n0123 = n(&n01, &n23);
    let expected = [
        l[0],
        n01,
        n(&n01, &l[2]),
        n0123,
        n(&n0123, &l[4]),
        n(&n0123, &n45),
        n(&n0123, &n(&n45, &l[6])),
        n(&n0123, &n(&n45, &n67)),
    ];
    for size in 1..=8 {
        let want = expected[size - 1];
        let mut builder = RootBuilder::new();
        for leaf in &leaves[..size] {
            builder.push_leaf(leaf);
        }
        assert_eq!(
            builder.head(),
            TreeHead {
                size: size as u64,
                root: want
            },
            "size {size}"
        );
        assert_eq!(
            MerkleTree::from_leaf_hashes(l[..size].to_vec()).head().root,
            want
        );
        assert_eq!(content_tree(size as u64).head().root, want);
        assert_eq!(reference_mth(&leaves[..size]), want);
    }
    // Audit paths of a 7-leaf tree, by hand.
    let tree = content_tree(7);
    let path = |i| tree.leaf_proof(i).unwrap().proof.audit_path;
    assert_eq!(path(0), vec![l[1], n23, n(&n45, &l[6])]);
    assert_eq!(path(3), vec![l[2], n01, n(&n45, &l[6])]);
    assert_eq!(path(5), vec![l[4], l[6], n0123]);
    assert_eq!(path(6), vec![n45, n0123]);
}

#[test]
fn every_leaf_of_trees_up_to_70_proves_and_matches_the_rfc() {
    for size in 0..=70u64 {
        let tree = content_tree(size);
        let leaves: Vec<Vec<u8>> = tree.leaves().iter().map(LeafFacts::encode).collect();
        let head = tree.head();
        assert_eq!(head.root, reference_mth(&leaves), "size {size}");
        let mut builder = ContentRootBuilder::new();
        for leaf in tree.leaves() {
            builder.push(leaf).unwrap();
        }
        assert_eq!(builder.head(), head);
        for (index, leaf) in tree.leaves().iter().enumerate() {
            let proof = tree.inclusion_proof(&leaf.content_id).unwrap();
            assert_eq!(proof.proof.leaf_index, index as u64);
            assert_eq!(proof.proof.audit_path, reference_path(index, &leaves));
            assert_eq!(&verify_leaf::<LeafFacts>(&proof, &head).unwrap(), leaf);
        }
        let shas = sha_tree(&tree);
        assert_eq!(shas.head().size, size);
        for leaf in shas.leaves() {
            let proof = shas.inclusion_proof(&leaf.sha256).unwrap();
            assert_eq!(&verify_leaf::<ShaLeaf>(&proof, &shas.head()).unwrap(), leaf);
        }
        assert_eq!(
            tree.inclusion_proof(&5),
            Err(LedgerError::KeyAbsent {
                tree: TreeKind::Content
            })
        );
    }
}

#[test]
fn builders_reject_unsorted_and_duplicate_keys() {
    let err = ContentTree::new(vec![facts(10), facts(30), facts(20)]).unwrap_err();
    assert_eq!(
        err,
        LedgerError::NotStrictlyIncreasing {
            tree: TreeKind::Content,
            index: 2
        }
    );
    assert!(ContentTree::new(vec![facts(10), facts(10)]).is_err());
    let mut builder = ContentRootBuilder::new();
    builder.push(&facts(10)).unwrap();
    assert!(builder.push(&facts(10)).is_err());
    assert!(builder.push(&facts(9)).is_err());
    builder.push(&facts(11)).unwrap();
    assert_eq!(builder.head().size, 2);
    let mut shas = Sha256RootBuilder::new();
    shas.push(&ShaLeaf {
        sha256: [2; 32],
        content_id: 1,
    })
    .unwrap();
    assert_eq!(
        shas.push(&ShaLeaf {
            sha256: [1; 32],
            content_id: 2
        }),
        Err(LedgerError::NotStrictlyIncreasing {
            tree: TreeKind::Sha256,
            index: 1
        })
    );
}

#[test]
fn any_single_byte_change_breaks_an_inclusion_proof() {
    for size in [1u64, 2, 5, 7, 8] {
        let tree = content_tree(size);
        let head = tree.head();
        for index in 0..size as usize {
            let good = tree.leaf_proof(index).unwrap();
            verify_leaf::<LeafFacts>(&good, &head).unwrap();
            for at in 0..good.leaf.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad.leaf[at] ^= flip;
                    assert!(verify_leaf::<LeafFacts>(&bad, &head).is_err());
                }
            }
            for hash in 0..good.proof.audit_path.len() {
                for at in 0..32 {
                    let mut bad = good.clone();
                    bad.proof.audit_path[hash][at] ^= 0x01;
                    assert_eq!(
                        verify_leaf::<LeafFacts>(&bad, &head),
                        Err(LedgerError::RootMismatch)
                    );
                }
            }
            for at in 0..32 {
                let mut root = head;
                root.root[at] ^= 0x01;
                assert_eq!(
                    verify_leaf::<LeafFacts>(&good, &root),
                    Err(LedgerError::RootMismatch)
                );
            }
            for other in 0..size + 2 {
                if other != index as u64 {
                    let mut bad = good.clone();
                    bad.proof.leaf_index = other;
                    assert!(
                        verify_leaf::<LeafFacts>(&bad, &head).is_err(),
                        "{index} as {other}"
                    );
                }
            }
            let mut bad = good.clone();
            bad.proof.tree_size += 1;
            assert!(matches!(
                verify_leaf::<LeafFacts>(&bad, &head),
                Err(LedgerError::TreeSizeMismatch { .. })
            ));
            let mut short = good.clone();
            if short.proof.audit_path.pop().is_some() {
                assert!(matches!(
                    verify_leaf::<LeafFacts>(&short, &head),
                    Err(LedgerError::PathLength { .. })
                ));
            }
            let mut long = good.clone();
            long.proof.audit_path.push([0; 32]);
            assert!(matches!(
                verify_leaf::<LeafFacts>(&long, &head),
                Err(LedgerError::PathLength { .. })
            ));
        }
    }
}

#[test]
fn non_inclusion_at_every_gap_and_edge() {
    for size in 0..=20u64 {
        let tree = content_tree(size);
        let head = tree.head();
        let absent = (0..=size + 1)
            .flat_map(|i| {
                [
                    u128::from(i) * 10 + 5,
                    u128::from(i) * 10 + 1,
                    u128::from(i) * 10 + 9,
                ]
            })
            .chain([0, u128::MAX]);
        for key in absent {
            let proof = tree.non_inclusion_proof(&key).unwrap();
            verify_non_inclusion::<LeafFacts>(&key, &proof, &head)
                .unwrap_or_else(|e| panic!("size {size} key {key}: {e}"));
            // The same proof does not prove a present neighbour absent.
            for neighbor in [&proof.predecessor, &proof.successor].into_iter().flatten() {
                let present = LeafFacts::decode(&neighbor.leaf).unwrap().content_id;
                assert!(verify_non_inclusion::<LeafFacts>(&present, &proof, &head).is_err());
            }
        }
        for leaf in tree.leaves() {
            assert!(matches!(
                tree.non_inclusion_proof(&leaf.content_id),
                Err(LedgerError::KeyPresent { .. })
            ));
        }
        let shas = sha_tree(&tree);
        let sha_head = shas.head();
        for key in [[0u8; 32], [0x80; 32], [0xff; 32]] {
            let proof = shas.non_inclusion_proof(&key).unwrap();
            verify_non_inclusion::<ShaLeaf>(&key, &proof, &sha_head).unwrap();
        }
        for leaf in shas.leaves() {
            assert!(shas.non_inclusion_proof(&leaf.sha256).is_err());
            let mut below = leaf.sha256;
            below[31] = below[31].wrapping_sub(1);
            if shas.position(&below).is_err() {
                let proof = shas.non_inclusion_proof(&below).unwrap();
                verify_non_inclusion::<ShaLeaf>(&below, &proof, &sha_head).unwrap();
            }
        }
    }
}

#[test]
fn forged_non_inclusion_proofs_fail_with_the_failed_check() {
    let tree = content_tree(9);
    let head = tree.head();
    let leaf = |i| tree.leaf_proof(i).unwrap();
    let proof = |pred: Option<usize>, succ: Option<usize>| NonInclusionProof {
        tree_size: 9,
        predecessor: pred.map(leaf),
        successor: succ.map(leaf),
    };
    let check =
        |key: u128, p: &NonInclusionProof| verify_non_inclusion::<LeafFacts>(&key, p, &head);
    // 30 is leaf 2: every bracket that a forger could try fails.
    assert_eq!(
        check(30, &proof(Some(2), Some(3))),
        Err(LedgerError::PredecessorNotBelow)
    );
    assert_eq!(
        check(30, &proof(Some(1), Some(2))),
        Err(LedgerError::SuccessorNotAbove)
    );
    assert_eq!(
        check(30, &proof(Some(1), Some(3))),
        Err(LedgerError::NotAdjacent {
            predecessor: 1,
            successor: 3
        })
    );
    assert_eq!(
        check(30, &proof(Some(1), None)),
        Err(LedgerError::MissingSuccessor {
            predecessor: 1,
            tree_size: 9
        })
    );
    assert_eq!(
        check(30, &proof(None, Some(3))),
        Err(LedgerError::MissingPredecessor { successor: 3 })
    );
    assert_eq!(
        check(30, &proof(None, None)),
        Err(LedgerError::MissingNeighbors { tree_size: 9 })
    );
    // A genuine proof for 35 is not one for 30, nor against another size.
    let genuine = tree.non_inclusion_proof(&35).unwrap();
    check(35, &genuine).unwrap();
    assert!(check(30, &genuine).is_err());
    let mut resized = genuine.clone();
    resized.tree_size = 10;
    assert!(matches!(
        check(35, &resized),
        Err(LedgerError::TreeSizeMismatch { .. })
    ));
    // A tampered neighbour names its side.
    let mut tampered = genuine.clone();
    tampered.successor.as_mut().unwrap().leaf[5] ^= 1;
    assert!(matches!(
        check(35, &tampered),
        Err(LedgerError::Neighbor {
            side: Side::Successor,
            ..
        })
    ));
    for which in [0, 1] {
        let pick = |p: &NonInclusionProof| {
            if which == 0 {
                p.predecessor.clone().unwrap()
            } else {
                p.successor.clone().unwrap()
            }
        };
        let put = |p: &mut NonInclusionProof, leaf: LeafProof| {
            if which == 0 {
                p.predecessor = Some(leaf)
            } else {
                p.successor = Some(leaf)
            }
        };
        let good = pick(&genuine);
        for at in 0..good.leaf.len() {
            let mut bad = good.clone();
            bad.leaf[at] ^= 0x01;
            let mut tampered = genuine.clone();
            put(&mut tampered, bad);
            assert!(check(35, &tampered).is_err());
        }
        for hash in 0..good.proof.audit_path.len() {
            for at in 0..32 {
                let mut bad = good.clone();
                bad.proof.audit_path[hash][at] ^= 0x01;
                let mut tampered = genuine.clone();
                put(&mut tampered, bad);
                assert!(check(35, &tampered).is_err());
            }
        }
    }
    // The empty tree: only the empty proof, against SHA-256("").
    let empty = content_tree(0);
    let p = empty.non_inclusion_proof(&1).unwrap();
    verify_non_inclusion::<LeafFacts>(&1, &p, &empty.head()).unwrap();
    let fake_head = TreeHead {
        size: 0,
        root: [0; 32],
    };
    assert_eq!(
        verify_non_inclusion::<LeafFacts>(&1, &p, &fake_head),
        Err(LedgerError::RootMismatch)
    );
}

fn key(n: u8) -> SigningKey {
    signing_key_from_seed(&[n; 32]).unwrap()
}

fn manifest(tree: &ContentTree) -> LedgerManifest {
    LedgerManifest {
        index_format_version: 3,
        normalization_version: 2,
        sketch_spec: "norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1".to_owned(),
        content_count: tree.head().size,
        content_root: tree.head().root,
        sha256_root: sha_tree(tree).head().root,
        created_at: 1_760_000_000,
        base_version_digest: Some([7; 32]),
        index_digest: [9; 32],
    }
}

#[test]
fn manifest_canonical_bytes_round_trip_and_are_the_documented_layout() {
    let m = manifest(&content_tree(3));
    let bytes = m.canonical_bytes();
    let spec = m.sketch_spec.len();
    assert_eq!(
        bytes.len(),
        1 + 4 + 4 + 4 + spec + 8 + 32 + 32 + 8 + 1 + 32 + 32
    );
    assert_eq!(
        &bytes[..13],
        &[1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, spec as u8]
    );
    assert_eq!(LedgerManifest::from_canonical_bytes(&bytes).unwrap(), m);
    let mut without = m.clone();
    without.base_version_digest = None;
    let short = without.canonical_bytes();
    assert_eq!(short.len(), bytes.len() - 32);
    assert_eq!(
        LedgerManifest::from_canonical_bytes(&short).unwrap(),
        without
    );
    for cut in 0..bytes.len() {
        assert!(LedgerManifest::from_canonical_bytes(&bytes[..cut]).is_err());
    }
    assert_eq!(m.digest(), sha(&[&bytes]));
}

#[test]
fn any_single_byte_change_breaks_a_signed_manifest() {
    let signed = manifest(&content_tree(5)).sign(&key(1));
    let trusted = key(1).verifying_key();
    assert_eq!(signed.verify(&trusted).unwrap(), &signed.manifest);
    let bytes = signed.manifest.canonical_bytes();
    // One flip per byte: each check is a (debug-build, slow) Ed25519 verify.
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        if let Ok(manifest) = LedgerManifest::from_canonical_bytes(&bad) {
            let forged = SignedManifest {
                manifest,
                ..signed.clone()
            };
            assert_eq!(
                forged.verify(&trusted),
                Err(LedgerError::BadSignature),
                "byte {at}"
            );
        }
    }
    for at in 0..64 {
        let mut bad = signed.clone();
        bad.signature[at] ^= 0x01;
        assert_eq!(bad.verify(&trusted), Err(LedgerError::BadSignature));
    }
    for at in 0..32 {
        let mut bad = signed.clone();
        bad.public_key[at] ^= 0x01;
        assert!(matches!(
            bad.verify(&trusted),
            Err(LedgerError::KeyMismatch { .. })
        ));
    }
    // Signed by another key: refused whether or not it claims to be trusted.
    let other = manifest(&content_tree(5)).sign(&key(2));
    assert!(matches!(
        other.verify(&trusted),
        Err(LedgerError::KeyMismatch { .. })
    ));
    let impostor = SignedManifest {
        public_key: trusted.to_bytes(),
        ..other
    };
    assert_eq!(impostor.verify(&trusted), Err(LedgerError::BadSignature));
    // The signature covers the domain string, not the bare bytes.
    let bare = ed25519_dalek::Signer::sign(&key(1), &bytes).to_bytes();
    let undomained = SignedManifest {
        signature: bare,
        ..signed.clone()
    };
    assert_eq!(undomained.verify(&trusted), Err(LedgerError::BadSignature));
}

#[test]
fn keys_load_from_raw_or_hex_seeds() {
    let signing = key(3);
    let text = seed_hex(&signing);
    assert_eq!(text.len(), 65);
    assert_eq!(
        signing_key_from_seed(text.as_bytes()).unwrap().to_bytes(),
        signing.to_bytes()
    );
    assert_eq!(
        signing_key_from_seed(&[3; 32]).unwrap().to_bytes(),
        signing.to_bytes()
    );
    assert!(signing_key_from_seed(b"abc").is_err());
    assert!(signing_key_from_seed(&[0; 31]).is_err());
    let public = signing.verifying_key();
    let hex_text = verifying_key_hex(&public);
    assert_eq!(
        verifying_key_from_bytes(hex_text.as_bytes()).unwrap(),
        public
    );
    assert_eq!(
        verifying_key_from_bytes(&public.to_bytes()).unwrap(),
        public
    );
}

#[test]
fn wire_documents_round_trip_and_verify() {
    let tree = content_tree(12);
    let signed = manifest(&tree).sign(&key(1));
    let json = wire::signed_manifest_to_json(&signed);
    let parsed = wire::signed_manifest_from_json(&json).unwrap();
    assert_eq!(parsed, signed);
    let m = parsed.verify(&key(1).verifying_key()).unwrap();
    let proof = tree.inclusion_proof(&40).unwrap();
    let text = wire::inclusion_to_json(TreeKind::Content, &proof);
    assert_eq!(
        wire::inclusion_from_json(&text).unwrap(),
        (TreeKind::Content, proof.clone())
    );
    assert_eq!(
        wire::verify_inclusion_json(&text, m).unwrap(),
        (TreeKind::Content, proof.leaf)
    );
    let absent = tree.non_inclusion_proof(&45).unwrap();
    let text = wire::non_inclusion_to_json(TreeKind::Content, &45u128.to_be_bytes(), &absent);
    wire::verify_non_inclusion_json(&text, m).unwrap();
    // Checked against the other tree's root, it fails.
    let wrong = text.replace("\"content\"", "\"sha256\"");
    assert!(wire::verify_non_inclusion_json(&wrong, m).is_err());
    assert!(wire::signed_manifest_from_json(&json.replace("\"signature\"", "\"sig\"")).is_err());
    let upper = json.replace(
        &hex::encode(signed.signature),
        &hex::encode_upper(signed.signature),
    );
    assert!(wire::signed_manifest_from_json(&upper).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_sets_prove_members_in_and_others_out(
        ids in proptest::collection::btree_set(any::<u128>(), 0..150),
        probes in proptest::collection::vec(any::<u128>(), 1..20),
    ) {
        let ids: BTreeSet<u128> = ids;
        let tree = ContentTree::new(ids.iter().map(|&id| facts(id)).collect()).unwrap();
        let head = tree.head();
        let mut builder = ContentRootBuilder::new();
        for leaf in tree.leaves() {
            builder.push(leaf).unwrap();
        }
        prop_assert_eq!(builder.head(), head);
        for &id in ids.iter().take(20) {
            let proof = tree.inclusion_proof(&id).unwrap();
            prop_assert_eq!(verify_leaf::<LeafFacts>(&proof, &head).unwrap().content_id, id);
            prop_assert!(tree.non_inclusion_proof(&id).is_err());
        }
        for probe in probes {
            if ids.contains(&probe) {
                continue;
            }
            let proof = tree.non_inclusion_proof(&probe).unwrap();
            prop_assert!(verify_non_inclusion::<LeafFacts>(&probe, &proof, &head).is_ok());
            if let Some(&other) = ids.iter().next() {
                // Not a proof for a present id.
                prop_assert!(verify_non_inclusion::<LeafFacts>(&other, &proof, &head).is_err());
            }
        }
    }
}
