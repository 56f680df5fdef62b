//! [`SketchSpec`]: every parameter that determines signatures and band keys.

use std::fmt;
use std::str::FromStr;

use crate::lsh::optimal_param;
use crate::normalize::NormalizationVersion;

/// Largest supported shingle size (words per shingle).
pub const MAX_SHINGLE_SIZE: u32 = 32;
/// Largest supported number of permutations.
pub const MAX_NUM_PERM: u32 = 8192;

/// All parameters that determine a [`crate::Signature`] and its band keys.
/// Recorded in the index manifest; two indexes are comparable only if their
/// specs are equal.
///
/// Stable text form (also [`fmt::Display`] / [`FromStr`]):
/// `norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1` — fields in this order,
/// `;`-separated, no whitespace; the threshold is written in Rust's shortest
/// round-trip decimal form. The parser accepts the fields in any order but
/// requires each exactly once (except `norm`, see below) and validates the
/// result.
///
/// **Normalization version.** `normalization_version` picks the text
/// normalization ([`crate::normalize_with`]) and, for version 2, the
/// Traditional → Simplified folding that [`crate::MinHasher`] applies before
/// shingling. A spec text without `norm=` (none was ever written, but the
/// rule is fixed) means version 1, like [`NormalizationVersion::default`].
///
/// **Defaults.** [`SketchSpec::default`] and [`SketchSpec::new`] give a
/// version 2 spec ([`NormalizationVersion::LATEST`], the same as
/// [`SketchSpec::latest`]): the build pipeline normalizes with
/// `spec.normalization_version`, so new indexes are version 2. Indexes built
/// before keep the spec text in their manifest (`norm=1`) and answer with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SketchSpec {
    /// Normalization the text is normalized (and, for version 2, folded) with.
    pub normalization_version: NormalizationVersion,
    /// Words per shingle (default 5).
    pub shingle_size: u32,
    /// Number of MinHash permutations K (default 128).
    pub num_perm: u32,
    /// Jaccard threshold the banding was chosen for (default 0.8).
    pub threshold: f64,
    /// LSH bands b (default 9).
    pub bands: u32,
    /// Rows per band r (default 13); `bands * rows <= num_perm`.
    pub rows: u32,
    /// Seed of the permutation parameters (default 1).
    pub seed: u64,
}

impl Default for SketchSpec {
    /// `norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1` (b, r =
    /// `optimal_param(0.8, 128, 0.5, 0.5)`, checked by a test).
    fn default() -> Self {
        Self {
            normalization_version: NormalizationVersion::LATEST,
            shingle_size: 5,
            num_perm: 128,
            threshold: 0.8,
            bands: 9,
            rows: 13,
            seed: 1,
        }
    }
}

/// Why a [`SketchSpec`] cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecError {
    /// A normalization version this build does not implement (it
    /// implements [`NormalizationVersion::ALL`]).
    UnsupportedNormalization(u32),
    /// Shingle size outside `1..=MAX_SHINGLE_SIZE`.
    ShingleSize(u32),
    /// Number of permutations outside `1..=MAX_NUM_PERM`.
    NumPerm(u32),
    /// Threshold not a finite number in `[0, 1]`.
    Threshold(f64),
    /// Zero bands or rows, or `bands * rows > num_perm`.
    Banding {
        /// Bands.
        bands: u32,
        /// Rows per band.
        rows: u32,
        /// Permutations available.
        num_perm: u32,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedNormalization(v) => write!(
                f,
                "normalization version {v} is not supported (this build implements 1 and 2)"
            ),
            Self::ShingleSize(n) => {
                write!(f, "shingle size {n} outside 1..={MAX_SHINGLE_SIZE}")
            }
            Self::NumPerm(k) => write!(f, "num_perm {k} outside 1..={MAX_NUM_PERM}"),
            Self::Threshold(t) => write!(f, "threshold {t} is not a number in [0, 1]"),
            Self::Banding {
                bands,
                rows,
                num_perm,
            } => write!(
                f,
                "banding {bands} bands x {rows} rows needs 1..={num_perm} permutations"
            ),
        }
    }
}

impl std::error::Error for SpecError {}

/// Why a string is not a [`SketchSpec`] text form.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecParseError {
    /// A `;`-separated part has no `=`.
    Malformed(String),
    /// A field name this version does not know.
    UnknownField(String),
    /// A field given twice.
    DuplicateField(&'static str),
    /// A required field is absent.
    MissingField(&'static str),
    /// A field's value does not parse.
    BadValue {
        /// Field name.
        field: &'static str,
        /// The value as written.
        value: String,
    },
    /// All fields parsed but the combination is invalid.
    Invalid(SpecError),
}

impl fmt::Display for SpecParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(part) => write!(f, "sketch spec: part {part:?} is not name=value"),
            Self::UnknownField(name) => write!(f, "sketch spec: unknown field {name:?}"),
            Self::DuplicateField(name) => write!(f, "sketch spec: field {name:?} given twice"),
            Self::MissingField(name) => write!(f, "sketch spec: field {name:?} missing"),
            Self::BadValue { field, value } => {
                write!(f, "sketch spec: bad value {value:?} for {field:?}")
            }
            Self::Invalid(e) => write!(f, "sketch spec: {e}"),
        }
    }
}

impl std::error::Error for SpecParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

impl SketchSpec {
    /// Spec for a Jaccard `threshold`, `num_perm` permutations and
    /// `shingle_size` words per shingle, with bands × rows from
    /// [`optimal_param`]`(threshold, num_perm, 0.5, 0.5)`, normalization
    /// version 2 (as [`SketchSpec::default`]) and seed 1.
    pub fn new(threshold: f64, num_perm: u32, shingle_size: u32) -> Result<Self, SpecError> {
        let mut spec = Self {
            threshold,
            num_perm,
            shingle_size,
            ..Self::default()
        };
        spec.validate_except_banding()?;
        let (bands, rows) = optimal_param(threshold, num_perm, 0.5, 0.5);
        spec.bands = bands;
        spec.rows = rows;
        spec.validate()?;
        Ok(spec)
    }

    /// The same spec with another permutation seed.
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// The same spec with another normalization version.
    #[must_use]
    pub fn with_normalization(self, normalization_version: NormalizationVersion) -> Self {
        Self {
            normalization_version,
            ..self
        }
    }

    /// The default parameters with the newest normalization
    /// ([`NormalizationVersion::LATEST`], version 2): the spec for new
    /// indexes (today the same as [`SketchSpec::default`]).
    /// `norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1`.
    #[must_use]
    pub fn latest() -> Self {
        Self::default().with_normalization(NormalizationVersion::LATEST)
    }

    fn validate_except_banding(&self) -> Result<(), SpecError> {
        if !(1..=MAX_SHINGLE_SIZE).contains(&self.shingle_size) {
            return Err(SpecError::ShingleSize(self.shingle_size));
        }
        if !(1..=MAX_NUM_PERM).contains(&self.num_perm) {
            return Err(SpecError::NumPerm(self.num_perm));
        }
        if !(self.threshold.is_finite() && (0.0..=1.0).contains(&self.threshold)) {
            return Err(SpecError::Threshold(self.threshold));
        }
        Ok(())
    }

    /// Checks that this build can compute signatures for the spec.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.validate_except_banding()?;
        let fits = self
            .bands
            .checked_mul(self.rows)
            .is_some_and(|n| n <= self.num_perm);
        if self.bands == 0 || self.rows == 0 || !fits {
            return Err(SpecError::Banding {
                bands: self.bands,
                rows: self.rows,
                num_perm: self.num_perm,
            });
        }
        Ok(())
    }
}

impl fmt::Display for SketchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "norm={};shingle={};k={};t={};b={};r={};seed={}",
            self.normalization_version.number(),
            self.shingle_size,
            self.num_perm,
            self.threshold,
            self.bands,
            self.rows,
            self.seed
        )
    }
}

const FIELDS: [&str; 7] = ["norm", "shingle", "k", "t", "b", "r", "seed"];

impl FromStr for SketchSpec {
    type Err = SpecParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut values: [Option<&str>; 7] = [None; 7];
        for part in s.split(';') {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| SpecParseError::Malformed(part.to_owned()))?;
            let idx = FIELDS
                .iter()
                .position(|f| *f == name)
                .ok_or_else(|| SpecParseError::UnknownField(name.to_owned()))?;
            let field = FIELDS.get(idx).copied().unwrap_or("?");
            let slot = values
                .get_mut(idx)
                .ok_or(SpecParseError::DuplicateField(field))?;
            if slot.is_some() {
                return Err(SpecParseError::DuplicateField(field));
            }
            *slot = Some(value);
        }
        let get = |idx: usize| -> Result<(&'static str, &str), SpecParseError> {
            let field = FIELDS.get(idx).copied().unwrap_or("?");
            values
                .get(idx)
                .copied()
                .flatten()
                .map(|v| (field, v))
                .ok_or(SpecParseError::MissingField(field))
        };
        fn num<T: FromStr>((field, value): (&'static str, &str)) -> Result<T, SpecParseError> {
            // Only plain decimal digits (and for `t` a decimal point): no
            // signs, whitespace, "inf" or "NaN".
            let plain = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (field == "t" && b == b'.'));
            if !plain {
                return Err(SpecParseError::BadValue {
                    field,
                    value: value.to_owned(),
                });
            }
            value.parse().map_err(|_| SpecParseError::BadValue {
                field,
                value: value.to_owned(),
            })
        }
        // An absent `norm` means version 1 (see the type docs).
        let norm: u32 = match get(0) {
            Ok(field) => num(field)?,
            Err(_) => NormalizationVersion::default().number(),
        };
        let normalization_version = NormalizationVersion::from_number(norm).ok_or(
            SpecParseError::Invalid(SpecError::UnsupportedNormalization(norm)),
        )?;
        let spec = Self {
            normalization_version,
            shingle_size: num(get(1)?)?,
            num_perm: num(get(2)?)?,
            threshold: num(get(3)?)?,
            bands: num(get(4)?)?,
            rows: num(get(5)?)?,
            seed: num(get(6)?)?,
        };
        spec.validate().map_err(SpecParseError::Invalid)?;
        Ok(spec)
    }
}
