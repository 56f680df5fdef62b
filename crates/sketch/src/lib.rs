//! Normalization, exact content identity and near-duplicate sketches for
//! provindex. Pure logic, no I/O.
//!
//! - [`normalize_with`] — the one versioned text normalization
//!   ([`NormalizationVersion`] V1 or V2; [`normalize`] is V1). Version 2 makes
//!   every character of a script written without spaces (Chinese, Japanese,
//!   Thai, …) a token of its own.
//! - [`content_id`] (xxh3-128), [`sha256`], [`token_count_with`] of normalized
//!   text (never folded: identity is what the page says).
//! - [`MinHasher`] — word-shingle MinHash [`Signature`]s and LSH band keys for a
//!   [`SketchSpec`], whose `normalization_version` picks the normalization;
//!   for version 2 the signature folds Traditional to Simplified Chinese
//!   first ([`fold_for_sketch`]). [`MinHasher::sketch`] normalizes and signs
//!   raw text in one call. [`optimal_param`] chooses bands × rows for a
//!   threshold.
//! - [`detect_language`] — ISO 639-3 language of a content (langid.py's model, [`langid`]).
//!
//! See `README.md` beside this crate's `Cargo.toml` for the version 2 design
//! and the identity decision.
//!
//! ```
//! use provindex_sketch::{normalize, content_id, MinHasher, SketchSpec, jaccard_estimate};
//! let hasher = MinHasher::new(&SketchSpec::default()).unwrap();
//! let a = normalize("The quick brown fox jumps over the lazy dog, again and again.");
//! let b = normalize("the QUICK brown fox jumps over the lazy dog -- again and again");
//! assert_eq!(a, b);
//! assert_eq!(content_id(&a), content_id(&b));
//! let (sa, sb) = (hasher.signature(&a).unwrap(), hasher.signature(&b).unwrap());
//! assert_eq!(jaccard_estimate(&sa, &sb), 1.0);
//! assert_eq!(hasher.band_keys(&sa), hasher.band_keys(&sb));
//! assert!(hasher.signature("").is_none());
//! ```

mod fold;
mod ids;
mod lang;
pub mod langid;
mod lsh;
mod minhash;
mod normalize;
mod spec;
mod wordhash;

pub use fold::{fold_char, fold_for_sketch, fold_pairs_from_opencc, fold_table_digest};
pub use ids::{ContentId, ParseIdError, content_id, sha256};
pub use lang::{
    LANG_EXCLUDED_CLASSES, LANG_RELIABLE_MIN_BYTES, LANG_RELIABLE_PROBABILITY, LANG_SAMPLE_BYTES,
    LanguageGuess, detect_language, detect_language_info, language_guess, language_sample,
    language_sample_of,
};
pub use lsh::{band_key, banding_error_areas, candidate_probability, optimal_param};
pub use minhash::{
    COMPARED_BITS, LANES, MinHasher, SHINGLE_POLY, Shingles, Signature, SignatureError, agreement,
    compared_bits, jaccard_estimate, shingle_hash, shingle_hashes, shingle_hashes_into, shingles,
    token_hash,
};
pub use normalize::{
    NORMALIZATION_VERSION, NormalizationVersion, is_no_space, normalize, normalize_with,
    normalized_prefix, token_count, token_count_with,
};
pub use spec::{MAX_NUM_PERM, MAX_SHINGLE_SIZE, SketchSpec, SpecError, SpecParseError};
