//! Normalization, exact content identity and near-duplicate sketches for
//! provindex. Pure logic, no I/O.
//!
//! - [`normalize`] — the one versioned text normalization ([`NORMALIZATION_VERSION`]).
//! - [`content_id`] (xxh3-128), [`sha256`], [`token_count`] of normalized text.
//! - [`MinHasher`] — word-shingle MinHash [`Signature`]s and LSH band keys for a
//!   [`SketchSpec`]; [`optimal_param`] chooses bands × rows for a threshold.
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

mod ids;
mod lsh;
mod minhash;
mod normalize;
mod spec;
mod wordhash;

pub use ids::{ContentId, ParseIdError, content_id, sha256};
pub use lsh::{band_key, banding_error_areas, candidate_probability, optimal_param};
pub use minhash::{
    LANES, MinHasher, SHINGLE_POLY, Shingles, Signature, SignatureError, jaccard_estimate,
    shingle_hash, shingle_hashes, shingle_hashes_into, shingles, token_hash,
};
pub use normalize::{NORMALIZATION_VERSION, normalize, token_count};
pub use spec::{MAX_NUM_PERM, MAX_SHINGLE_SIZE, SketchSpec, SpecError, SpecParseError};
