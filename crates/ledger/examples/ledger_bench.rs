//! Builds content trees of N leaves and measures proof throughput:
//! `cargo run --release --example ledger_bench -- [N]` (default 1,000,000).

use std::time::Instant;

use provindex_ledger::*;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn random_u128(state: &mut u64) -> u128 {
    (u128::from(splitmix(state)) << 64) | u128::from(splitmix(state))
}

fn rate(count: usize, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64();
    format!("{count} in {secs:.3} s = {:.0}/s", count as f64 / secs)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("N is a number"))
        .unwrap_or(1_000_000);
    let mut state = 18;
    let mut ids: Vec<u128> = (0..n).map(|_| random_u128(&mut state)).collect();
    ids.sort_unstable();
    ids.dedup();
    let leaves: Vec<LeafFacts> = ids
        .iter()
        .map(|&content_id| LeafFacts {
            content_id,
            sha256: [(content_id & 0xff) as u8; 32],
            capture_count: 3,
            cluster_id: content_id >> 3,
            keeper: true,
            opt_out: OptOutAtBuild::NotReserved,
            language: "eng".to_owned(),
        })
        .collect();
    println!(
        "leaves: {} ({} bytes each)",
        leaves.len(),
        leaves[0].encode().len()
    );

    let started = Instant::now();
    let mut builder = ContentRootBuilder::new();
    for leaf in &leaves {
        builder.push(leaf).expect("sorted");
    }
    let streamed = builder.head();
    println!(
        "streaming root (O(log n) memory): {}",
        rate(leaves.len(), started)
    );

    let started = Instant::now();
    let tree = ContentTree::new(leaves).expect("sorted");
    assert_eq!(tree.head(), streamed);
    println!("in-memory tree for proofs: {}", rate(tree.len(), started));
    let head = tree.head();

    let probes = n.min(200_000);
    let keys: Vec<u128> = (0..probes)
        .map(|_| ids[(splitmix(&mut state) % ids.len() as u64) as usize])
        .collect();
    let started = Instant::now();
    let proofs: Vec<LeafProof> = keys
        .iter()
        .map(|k| tree.inclusion_proof(k).unwrap())
        .collect();
    println!(
        "inclusion proofs generated: {}",
        rate(proofs.len(), started)
    );
    let started = Instant::now();
    for proof in &proofs {
        verify_leaf::<LeafFacts>(proof, &head).expect("verifies");
    }
    println!("inclusion proofs verified: {}", rate(proofs.len(), started));
    let path_len: usize = proofs.iter().map(|p| p.proof.audit_path.len()).sum();
    println!(
        "mean audit path: {:.1} hashes",
        path_len as f64 / proofs.len() as f64
    );

    let absent: Vec<u128> = (0..probes / 2)
        .map(|_| random_u128(&mut state))
        .filter(|k| tree.position(k).is_err())
        .collect();
    let started = Instant::now();
    let proofs: Vec<NonInclusionProof> = absent
        .iter()
        .map(|k| tree.non_inclusion_proof(k).unwrap())
        .collect();
    println!(
        "non-inclusion proofs generated: {}",
        rate(proofs.len(), started)
    );
    let started = Instant::now();
    for (key, proof) in absent.iter().zip(&proofs) {
        verify_non_inclusion::<LeafFacts>(key, proof, &head).expect("verifies");
    }
    println!(
        "non-inclusion proofs verified: {}",
        rate(proofs.len(), started)
    );

    let started = Instant::now();
    let json: Vec<String> = proofs
        .iter()
        .zip(&absent)
        .map(|(p, k)| wire::non_inclusion_to_json(TreeKind::Content, &k.to_be_bytes(), p))
        .collect();
    println!(
        "non-inclusion proofs to JSON: {}",
        rate(json.len(), started)
    );
    println!("non-inclusion JSON size: {} bytes", json[0].len());

    let key = signing_key_from_seed(&[7; 32]).expect("seed");
    let manifest = LedgerManifest {
        index_format_version: 3,
        normalization_version: 2,
        sketch_spec: String::new(),
        content_count: head.size,
        content_root: head.root,
        sha256_root: head.root,
        created_at: 0,
        base_version_digest: None,
        index_digest: [0; 32],
    };
    let rounds = 2_000;
    let started = Instant::now();
    let signed: Vec<SignedManifest> = (0..rounds).map(|_| manifest.clone().sign(&key)).collect();
    println!("manifests signed: {}", rate(rounds, started));
    let trusted = key.verifying_key();
    let started = Instant::now();
    for s in &signed {
        s.verify(&trusted).expect("verifies");
    }
    println!("manifests verified: {}", rate(rounds, started));
}
