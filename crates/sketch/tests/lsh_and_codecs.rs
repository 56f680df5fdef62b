//! LSH parameters, spec text form, and the byte/hex codecs.

use proptest::prelude::*;
use provindex_sketch::{
    ContentId, MinHasher, ParseIdError, Signature, SignatureError, SketchSpec, SpecError,
    SpecParseError, band_key, candidate_probability, content_id, optimal_param, sha256,
};

/// `datasketch.lsh._optimal_param(t, K, fp_weight, fn_weight)` from datasketch
/// 2.0.0 (which integrates with `scipy.integrate.quad`), computed once with
/// `bench/out/venv/bin/python` and pinned here: (t, K, fp_w, fn_w, b, r).
const DATASKETCH: &[(f64, u32, f64, f64, u32, u32)] = &[
    (0.3, 32, 0.5, 0.5, 12, 2),
    (0.5, 32, 0.5, 0.5, 8, 4),
    (0.7, 32, 0.5, 0.5, 5, 6),
    (0.75, 32, 0.5, 0.5, 4, 8),
    (0.8, 32, 0.5, 0.5, 3, 10),
    (0.85, 32, 0.5, 0.5, 3, 10),
    (0.9, 32, 0.5, 0.5, 2, 16),
    (0.95, 32, 0.5, 0.5, 1, 32),
    (0.3, 64, 0.5, 0.5, 21, 3),
    (0.5, 64, 0.5, 0.5, 14, 4),
    (0.7, 64, 0.5, 0.5, 8, 8),
    (0.75, 64, 0.5, 0.5, 7, 9),
    (0.8, 64, 0.5, 0.5, 5, 11),
    (0.85, 64, 0.5, 0.5, 4, 15),
    (0.9, 64, 0.5, 0.5, 3, 21),
    (0.95, 64, 0.5, 0.5, 2, 32),
    (0.3, 128, 0.5, 0.5, 37, 3),
    (0.5, 128, 0.5, 0.5, 25, 5),
    (0.7, 128, 0.5, 0.5, 14, 9),
    (0.75, 128, 0.5, 0.5, 11, 11),
    (0.8, 128, 0.5, 0.5, 9, 13),
    (0.85, 128, 0.5, 0.5, 8, 16),
    (0.9, 128, 0.5, 0.5, 5, 25),
    (0.95, 128, 0.5, 0.5, 3, 42),
    (0.3, 256, 0.5, 0.5, 64, 4),
    (0.5, 256, 0.5, 0.5, 42, 6),
    (0.7, 256, 0.5, 0.5, 25, 10),
    (0.75, 256, 0.5, 0.5, 21, 12),
    (0.8, 256, 0.5, 0.5, 17, 15),
    (0.85, 256, 0.5, 0.5, 13, 19),
    (0.9, 256, 0.5, 0.5, 9, 28),
    (0.95, 256, 0.5, 0.5, 5, 51),
    (0.8, 128, 0.1, 0.9, 14, 9),
    (0.8, 128, 0.9, 0.1, 6, 21),
    (0.75, 256, 0.1, 0.9, 28, 9),
    (0.7, 128, 0.3, 0.7, 16, 8),
];

#[test]
fn optimal_param_matches_datasketch() {
    for &(t, k, fpw, fnw, b, r) in DATASKETCH {
        assert_eq!(
            optimal_param(t, k, fpw, fnw),
            (b, r),
            "t={t} K={k} weights=({fpw},{fnw})"
        );
    }
}

#[test]
fn default_spec_uses_optimal_param() {
    let spec = SketchSpec::default();
    assert_eq!(optimal_param(0.8, 128, 0.5, 0.5), (9, 13));
    assert_eq!((spec.bands, spec.rows), (9, 13));
    assert_eq!(SketchSpec::new(0.8, 128, 5), Ok(spec));
    assert_eq!(
        spec.to_string(),
        "norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1"
    );
}

#[test]
fn optimal_param_degenerate_inputs_do_not_panic() {
    for t in [f64::NAN, -1.0, 0.0, 1.0, 2.0, f64::INFINITY] {
        for k in [0, 1, 2, 7] {
            let (b, r) = optimal_param(t, k, 0.5, 0.5);
            assert!(
                b >= 1 && r >= 1 && b * r <= k.max(1),
                "t={t} k={k} -> {b}x{r}"
            );
        }
    }
    let (b, r) = optimal_param(0.8, 16, f64::NAN, -3.0);
    assert!(b * r <= 16);
}

#[test]
fn candidate_probability_is_the_s_curve() {
    assert_eq!(candidate_probability(0.0, 9, 13), 0.0);
    assert_eq!(candidate_probability(1.0, 9, 13), 1.0);
    let p = candidate_probability(0.8, 9, 13);
    assert!((p - (1.0 - (1.0 - 0.8f64.powi(13)).powi(9))).abs() < 1e-12);
}

#[test]
fn spec_text_form() {
    let spec: SketchSpec = "norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1"
        .parse()
        .unwrap();
    assert_eq!(
        spec,
        SketchSpec::default().with_normalization(provindex_sketch::NormalizationVersion::V1)
    );
    let shuffled: SketchSpec = "seed=1;b=9;r=13;t=0.8;k=128;shingle=5;norm=1"
        .parse()
        .unwrap();
    assert_eq!(shuffled, spec);
    let other = SketchSpec::new(0.7, 256, 3).unwrap().with_seed(42);
    assert_eq!(
        other.to_string(),
        "norm=2;shingle=3;k=256;t=0.7;b=25;r=10;seed=42"
    );
    assert_eq!(other.to_string().parse::<SketchSpec>(), Ok(other));
    assert_ne!(other, spec);

    let err = |s: &str| s.parse::<SketchSpec>().unwrap_err();
    assert_eq!(err(""), SpecParseError::Malformed(String::new()));
    assert_eq!(
        err("norm=1;shingle=5;k=128;t=0.8;b=9;r=13"),
        SpecParseError::MissingField("seed")
    );
    assert_eq!(
        err("norm=1;norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1"),
        SpecParseError::DuplicateField("norm")
    );
    assert_eq!(
        err("norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1;x=2"),
        SpecParseError::UnknownField("x".into())
    );
    assert_eq!(
        err("norm=1;shingle=5;k=-128;t=0.8;b=9;r=13;seed=1"),
        SpecParseError::BadValue {
            field: "k",
            value: "-128".into()
        }
    );
    assert_eq!(
        err("norm=1;shingle=5;k=128;t=NaN;b=9;r=13;seed=1"),
        SpecParseError::BadValue {
            field: "t",
            value: "NaN".into()
        }
    );
    assert_eq!(
        err("norm=3;shingle=5;k=128;t=0.8;b=9;r=13;seed=1"),
        SpecParseError::Invalid(SpecError::UnsupportedNormalization(3))
    );
    assert_eq!(
        err("norm=1;shingle=5;k=128;t=0.8;b=10;r=13;seed=1"),
        SpecParseError::Invalid(SpecError::Banding {
            bands: 10,
            rows: 13,
            num_perm: 128
        })
    );
    assert_eq!(SketchSpec::new(1.5, 128, 5), Err(SpecError::Threshold(1.5)));
    assert_eq!(SketchSpec::new(0.8, 0, 5), Err(SpecError::NumPerm(0)));
    assert_eq!(SketchSpec::new(0.8, 128, 0), Err(SpecError::ShingleSize(0)));
    let bad = SketchSpec {
        bands: 0,
        ..SketchSpec::default()
    };
    assert!(MinHasher::new(&bad).is_err());
}

#[test]
fn content_id_hex() {
    let id = ContentId(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
    assert_eq!(id.to_hex(), "0123456789abcdeffedcba9876543210");
    assert_eq!(id.to_string(), id.to_hex());
    assert_eq!(
        ContentId::from_hex("0123456789ABCDEFfedcba9876543210"),
        Ok(id)
    );
    assert_eq!(
        ContentId::from_hex("abc"),
        Err(ParseIdError::WrongLength { len: 3 })
    );
    assert_eq!(
        ContentId::from_hex("0123456789abcdeffedcba987654321g"),
        Err(ParseIdError::InvalidChar { index: 31, ch: 'g' })
    );
    assert_eq!(
        ContentId::from_hex("+123456789abcdeffedcba9876543210"),
        Err(ParseIdError::InvalidChar { index: 0, ch: '+' })
    );
    // 32 bytes but 31 characters.
    assert_eq!(
        ContentId::from_hex("é23456789abcdeffedcba9876543210"),
        Err(ParseIdError::InvalidChar { index: 0, ch: 'é' })
    );
    assert_eq!(id.to_be_bytes()[0], 0x01);
    assert_eq!(ContentId::from_be_bytes(id.to_be_bytes()), id);
    // Byte order is numeric order.
    assert!(ContentId(1).to_be_bytes() < ContentId(256).to_be_bytes());
}

#[test]
fn exact_digests_of_known_strings() {
    // SHA-256 test vector.
    let d = sha256("abc");
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // xxh3-128 of the empty input (reference value of the xxHash spec).
    assert_eq!(content_id("").to_hex(), "99aa06d3014798d86001c324468d497f");
}

#[test]
fn signature_codec() {
    let sig = Signature(vec![1, 0x0102_0304, u32::MAX]);
    let bytes = sig.to_bytes();
    assert_eq!(bytes, [0, 0, 0, 1, 1, 2, 3, 4, 255, 255, 255, 255]);
    assert_eq!(Signature::from_bytes(&bytes), Ok(sig.clone()));
    assert_eq!(Signature::from_bytes_exact(&bytes, 3), Ok(sig));
    assert_eq!(
        Signature::from_bytes(&[]),
        Err(SignatureError::BadLength { len: 0 })
    );
    assert_eq!(
        Signature::from_bytes(&[1, 2, 3]),
        Err(SignatureError::BadLength { len: 3 })
    );
    assert_eq!(
        Signature::from_bytes_exact(&bytes, 128),
        Err(SignatureError::WrongLength {
            expected: 512,
            actual: 12
        })
    );
}

#[test]
fn band_keys_depend_on_band_position() {
    // The same values in two band positions give different keys.
    assert_ne!(band_key(0, &[7; 13]), band_key(1, &[7; 13]));
    let h = MinHasher::new(&SketchSpec::default()).unwrap();
    let keys = h.band_keys(&Signature(vec![7; 128]));
    assert_eq!(keys.len(), 9);
    let distinct: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), 9);
    // A short signature (another spec) yields only its complete bands.
    assert_eq!(h.band_keys(&Signature(vec![7; 30])).len(), 2);
    assert!(h.band_keys(&Signature(vec![])).is_empty());
}

proptest! {
    #[test]
    fn content_id_round_trips(v in any::<u128>()) {
        let id = ContentId(v);
        prop_assert_eq!(ContentId::from_hex(&id.to_hex()), Ok(id));
        prop_assert_eq!(id.to_hex().parse::<ContentId>(), Ok(id));
        prop_assert_eq!(ContentId::from_be_bytes(id.to_be_bytes()), id);
        prop_assert_eq!(id.to_hex().len(), 32);
    }

    #[test]
    fn content_id_decoder_never_panics(s in any::<String>()) {
        let _ = ContentId::from_hex(&s);
    }

    #[test]
    fn content_id_decoder_hexish(s in "[0-9a-fA-FxX +-]{0,40}") {
        if let Ok(id) = ContentId::from_hex(&s) {
            prop_assert_eq!(id.to_hex(), s.to_ascii_lowercase());
        }
    }

    #[test]
    fn signature_round_trips(v in prop::collection::vec(any::<u32>(), 1..300)) {
        let sig = Signature(v);
        prop_assert_eq!(Signature::from_bytes(&sig.to_bytes()), Ok(sig.clone()));
        prop_assert_eq!(Signature::from_bytes_exact(&sig.to_bytes(), sig.len()), Ok(sig));
    }

    #[test]
    fn signature_decoder_never_panics(b in prop::collection::vec(any::<u8>(), 0..600), k in 0usize..200) {
        if let Ok(sig) = Signature::from_bytes(&b) {
            prop_assert_eq!(sig.to_bytes(), b.clone());
        }
        let _ = Signature::from_bytes_exact(&b, k);
        let _ = Signature::from_bytes_exact(&b, usize::MAX);
    }

    #[test]
    fn spec_parser_never_panics(s in any::<String>()) {
        let _ = s.parse::<SketchSpec>();
    }

    #[test]
    fn spec_parser_near_miss(s in "(norm|shingle|k|t|b|r|seed|x)=[0-9.a-z-]{0,6}(;(norm|shingle|k|t|b|r|seed)=[0-9.]{0,6}){0,8}") {
        if let Ok(spec) = s.parse::<SketchSpec>() {
            prop_assert_eq!(spec.to_string().parse::<SketchSpec>(), Ok(spec));
            prop_assert!(MinHasher::new(&spec).is_ok());
        }
    }

    #[test]
    fn spec_round_trips(
        shingle in 1u32..=32, k in 1u32..=512, t in 0.0f64..=1.0, seed in any::<u64>(),
        b in 1u32..=64, r in 1u32..=64,
    ) {
        let spec = SketchSpec { shingle_size: shingle, num_perm: k, threshold: t, seed, bands: b, rows: r, ..SketchSpec::default() };
        let parsed = spec.to_string().parse::<SketchSpec>();
        if b * r <= k {
            prop_assert_eq!(parsed, Ok(spec));
        } else {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn signature_never_panics_and_has_k_values(s in any::<String>(), k in 1u32..=70, n in 1u32..=8) {
        let spec = SketchSpec { num_perm: k, shingle_size: n, bands: 1, rows: 1, ..SketchSpec::default() };
        let h = MinHasher::new(&spec).unwrap();
        match h.signature(&s) {
            Some(sig) => {
                prop_assert_eq!(sig.len(), k as usize);
                prop_assert_eq!(h.band_keys(&sig).len(), 1);
            }
            None => prop_assert!(s.split(' ').all(str::is_empty)),
        }
    }
}
