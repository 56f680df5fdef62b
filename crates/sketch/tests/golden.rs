//! Determinism: pinned values that change only if the algorithm changes.
//! If one of these fails, the sketch definition changed: bump
//! NORMALIZATION_VERSION or the spec, never just the numbers.
//! (Signature definition 2 — per-token xxh3 + shingle polynomial, 32-bit
//! affine permutations — re-pinned the signature and band values; no index
//! had persisted signatures yet.)

use provindex_sketch::{
    MinHasher, SketchSpec, content_id, normalize, sha256, shingle_hash, shingles, token_count,
};

const TEXT: &str = "The Debian Project is an association of individuals who have made common \
cause to create a free operating system. This operating system is called Debian. \
Debian systems currently use the Linux kernel or the FreeBSD kernel.";

#[test]
fn golden_values() {
    let n = normalize(TEXT);
    assert_eq!(
        n,
        "the debian project is an association of individuals who have made common cause to \
         create a free operating system this operating system is called debian debian systems \
         currently use the linux kernel or the freebsd kernel"
    );
    assert_eq!(token_count(&n), 36);

    assert_eq!(content_id(&n).to_hex(), "92cbca209b1588e9896b5ace6273ba5d");
    let sha: String = sha256(&n).iter().map(|b| format!("{b:02x}")).collect();
    // Same as `hashlib.sha256(n.encode()).hexdigest()` in Python.
    assert_eq!(
        sha,
        "d2928b237016d5140946a3cdc8a0d2786d7454f3f994e6da2275ed1a9749fca6"
    );

    let h = MinHasher::new(&SketchSpec::default()).unwrap();
    let sig = h.signature(&n).unwrap();
    assert_eq!(sig.len(), 128);
    assert_eq!(sig.0[..8], GOLDEN_SIG_HEAD);
    let sum: u64 = sig.0.iter().map(|&v| u64::from(v)).sum();
    assert_eq!(sum, GOLDEN_SIG_SUM);
    assert_eq!(h.band_keys(&sig), GOLDEN_BANDS);
}

#[test]
fn same_input_same_output() {
    let spec = SketchSpec::default();
    let (h1, h2) = (
        MinHasher::new(&spec).unwrap(),
        MinHasher::new(&spec).unwrap(),
    );
    let n = normalize(TEXT);
    let (s1, s2) = (h1.signature(&n).unwrap(), h2.signature(&n).unwrap());
    assert_eq!(s1, s2);
    assert_eq!(h1.band_keys(&s1), h2.band_keys(&s2));
    // Another seed gives another signature.
    let h3 = MinHasher::new(&spec.with_seed(2)).unwrap();
    assert_ne!(h3.signature(&n).unwrap(), s1);
    let hashes: Vec<u32> = shingles(&n, 5).map(shingle_hash).collect();
    assert_eq!(h1.signature_from_hashes(&hashes), Some(s1));
}

/// The documented definition, written out plainly (scalar, no blocks).
fn scalar_signature(normalized: &str, k: usize, seed: u64) -> Vec<u32> {
    fn splitmix64(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let mut state = seed;
    let params: Vec<(u32, u32)> = (0..k)
        .map(|_| {
            let a = (splitmix64(&mut state) >> 32) as u32 | 1;
            let b = (splitmix64(&mut state) >> 32) as u32;
            (a, b)
        })
        .collect();
    let words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
    // Signature definition 2: token hash xxh3_64(word), shingle polynomial
    // H = sum t_j * P^(m-1-j) mod 2^64, folded to 32 bits.
    let tokens: Vec<u64> = words
        .iter()
        .map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes()))
        .collect();
    let windows: Vec<&[u64]> = if tokens.len() < 5 {
        vec![&tokens[..]]
    } else {
        tokens.windows(5).collect()
    };
    let keys: Vec<u32> = windows
        .iter()
        .map(|w| {
            let h = w.iter().fold(0u64, |h, &t| {
                h.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(t)
            });
            (h ^ (h >> 32)) as u32
        })
        .collect();
    params
        .iter()
        .map(|&(a, b)| {
            keys.iter()
                .map(|&x| a.wrapping_mul(x).wrapping_add(b))
                .min()
                .unwrap()
        })
        .collect()
}

#[test]
fn simd_kernel_equals_scalar_definition() {
    #[path = "common/mod.rs"]
    mod common;
    let mut texts: Vec<String> = common::real_texts().iter().map(|t| normalize(t)).collect();
    texts.extend(["one".to_owned(), "two words".to_owned(), normalize(TEXT)]);
    for (k, seed) in [(128u32, 1u64), (1, 5), (7, 9), (17, 3), (100, 42)] {
        let spec = SketchSpec {
            num_perm: k,
            bands: 1,
            rows: 1,
            seed,
            ..SketchSpec::default()
        };
        let h = MinHasher::new(&spec).unwrap();
        for t in &texts {
            let words: usize = t.split(' ').take(300).count();
            let t: String = t.split(' ').take(words).collect::<Vec<_>>().join(" ");
            assert_eq!(
                h.signature(&t).unwrap().0,
                scalar_signature(&t, k as usize, seed)
            );
        }
    }
}
const GOLDEN_SIG_HEAD: [u32; 8] = [
    314_189_769,
    54_409_059,
    77_102_643,
    34_006_571,
    225_321_124,
    44_432_749,
    36_008_697,
    212_649_890,
];
const GOLDEN_SIG_SUM: u64 = 16_604_899_572;
const GOLDEN_BANDS: [u64; 9] = [
    1_991_746_982_373_670_839,
    17_004_748_984_306_311_881,
    4_022_051_892_526_364_356,
    12_479_679_065_245_954_695,
    12_851_314_608_825_792_735,
    12_214_053_383_432_616_425,
    13_070_833_489_429_025_306,
    12_513_035_176_771_439_244,
    5_698_099_640_955_695_623,
];
