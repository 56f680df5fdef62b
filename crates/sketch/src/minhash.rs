//! Word-shingle MinHash signatures.
//!
//! **Shingles.** The normalized text is split into words at ASCII spaces
//! (U+0020; a word is a maximal run of other characters). Each run of `shingle_size`
//! consecutive words is one shingle, taken as the exact substring from the
//! first word's first byte to the last word's last byte — for normalized text,
//! the words joined by single spaces. A text with fewer words than
//! `shingle_size` (but at least one) is a single shingle: the whole text. A text
//! without words has no shingles and no signature.
//!
//! **Shingle hash.** `h = xxh3_64(shingle bytes)`, folded to 32 bits as
//! `x = (h ^ (h >> 32)) as u32`.
//!
//! **Permutations.** For `i` in `0..K`, `perm_i(x) = ((a_i * x + b_i) mod 2^64) >> 32`
//! with 64-bit `a_i`, `b_i`. For 32-bit keys this multiply-add-shift family is
//! strongly universal (2-independent) with 32-bit outputs (Dietzfelbinger 1996;
//! Thorup, "High speed hashing for integers and strings"), the same guarantee as
//! datasketch's `(a x + b) mod (2^61 - 1)`, but with one 32×64-bit multiply and
//! no modulo, so the inner loop vectorizes. The parameters are drawn from a
//! SplitMix64 sequence started at the spec's seed: `a_0, b_0, a_1, b_1, …`.
//!
//! **Values are `u32`.** Signature slot `i` is `min over shingles of perm_i(x)`.
//! 32-bit values (as in datasketch, whose values are < 2^32, and rensa) halve
//! the signature size (K × 4 bytes: 512 bytes for K = 128) in the index. The
//! price is negligible: two different shingles agree on a 32-bit hash with
//! probability 2^-32, which moves a Jaccard estimate by far less than its
//! sampling error `sqrt(J(1-J)/K)`.
//!
//! **Hot loop.** Permutations are processed in blocks of [`LANES`]; for each
//! block the minima stay in registers while the shingle hashes stream past,
//! four at a time: `m[l] = min(m[l], a[l]*x + b[l])` over fixed-size arrays,
//! which LLVM turns into SIMD code. The minimum is taken over the full 64-bit
//! `a*x + b` and the high half kept at the end (equal to the minimum of the
//! high halves, as taking the high half is monotone), which saves a shift per
//! step. On x86-64, copies compiled for AVX-512 (F/DQ/VL/BW), AVX2 and SSE4.1
//! are selected at run time by CPU detection (the `multiversion` crate; no
//! `unsafe` here and no `target-cpu=native` needed).

use std::fmt;

use xxhash_rust::xxh3::xxh3_64;

use crate::lsh::band_key_with;
use crate::spec::{MAX_SHINGLE_SIZE, SketchSpec, SpecError};

/// Permutations per SIMD block.
pub const LANES: usize = 16;

/// A MinHash signature: one `u32` minimum per permutation.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Signature(pub Vec<u32>);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(k={}, {:08x?})", self.0.len(), self.0)
    }
}

/// Why bytes are not a [`Signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// Length is zero or not a multiple of 4.
    BadLength {
        /// Length of the input in bytes.
        len: usize,
    },
    /// Length differs from the expected `num_perm * 4`.
    WrongLength {
        /// Expected length in bytes.
        expected: usize,
        /// Actual length in bytes.
        actual: usize,
    },
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength { len } => write!(
                f,
                "signature must be a non-empty multiple of 4 bytes, got {len} bytes"
            ),
            Self::WrongLength { expected, actual } => {
                write!(f, "signature must be {expected} bytes, got {actual} bytes")
            }
        }
    }
}

impl std::error::Error for SignatureError {}

impl Signature {
    /// Number of values (K).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the signature has no values.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// K × 4 bytes, each value big-endian.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// Inverse of [`Self::to_bytes`]: any non-empty multiple of 4 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignatureError> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
            return Err(SignatureError::BadLength { len: bytes.len() });
        }
        Ok(Self(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }

    /// Like [`Self::from_bytes`] but requires exactly `num_perm` values.
    pub fn from_bytes_exact(bytes: &[u8], num_perm: usize) -> Result<Self, SignatureError> {
        let expected = num_perm.saturating_mul(4);
        if bytes.len() != expected {
            return Err(SignatureError::WrongLength {
                expected,
                actual: bytes.len(),
            });
        }
        Self::from_bytes(bytes)
    }
}

/// Estimated Jaccard similarity: the fraction of positions where the two
/// signatures agree. Signatures of different lengths (different specs) are
/// compared on their common prefix and divided by the longer length; an empty
/// signature gives 0.
#[must_use]
pub fn jaccard_estimate(a: &Signature, b: &Signature) -> f64 {
    let n = a.0.len().max(b.0.len());
    if n == 0 {
        return 0.0;
    }
    let equal = a.0.iter().zip(&b.0).filter(|(x, y)| x == y).count();
    // Exact for any realistic K (< 2^52).
    #[allow(clippy::cast_precision_loss)]
    let r = equal as f64 / n as f64;
    r
}

/// Iterator over the shingles of a normalized text (see the module docs).
#[derive(Debug, Clone)]
pub struct Shingles<'a> {
    text: &'a str,
    /// Positions of the spaces of `text`, in order.
    spaces: memchr::Memchr<'a>,
    /// Start of the next word candidate; `> text.len()` once exhausted.
    pos: usize,
    n: usize,
    /// Ring buffer of the start offsets of the last `n` words.
    starts: [usize; MAX_SHINGLE_SIZE as usize],
    /// Ring slot the next word start goes to (= the oldest once `count >= n`).
    slot: usize,
    count: usize,
    last_end: usize,
    done: bool,
}

/// The shingles of `normalized` with `shingle_size` words each (clamped to
/// `1..=MAX_SHINGLE_SIZE`). Shingles repeat if the text repeats; a signature
/// depends only on the set.
#[must_use]
pub fn shingles(normalized: &str, shingle_size: usize) -> Shingles<'_> {
    Shingles {
        text: normalized,
        spaces: memchr::memchr_iter(b' ', normalized.as_bytes()),
        pos: 0,
        n: shingle_size.clamp(1, MAX_SHINGLE_SIZE as usize),
        starts: [0; MAX_SHINGLE_SIZE as usize],
        slot: 0,
        count: 0,
        last_end: 0,
        done: false,
    }
}

impl<'a> Iterator for Shingles<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let len = self.text.len();
        while !self.done {
            // Next word: from `pos` to the next space (or the end).
            let start = self.pos;
            let end = match self.spaces.next() {
                Some(space) => space,
                None => {
                    self.done = true;
                    len
                }
            };
            self.pos = end + 1;
            if end <= start {
                continue; // empty word: leading or repeated space
            }
            self.last_end = end;
            if let Some(s) = self.starts.get_mut(self.slot) {
                *s = start;
            }
            self.slot += 1;
            if self.slot == self.n {
                self.slot = 0;
            }
            self.count += 1;
            if self.count >= self.n {
                // `slot` now points at the oldest of the last n words.
                let first = self.starts.get(self.slot).copied().unwrap_or(0);
                return self.text.get(first..end);
            }
        }
        // Fewer than n words in total: the whole text is one shingle.
        if self.count > 0 && self.count < self.n {
            let first = self.starts.first().copied().unwrap_or(0);
            let last_end = self.last_end;
            self.count = self.n; // emit it once
            return self.text.get(first..last_end);
        }
        None
    }
}

/// 32-bit shingle hash (see the module docs).
#[inline]
#[must_use]
pub fn shingle_hash(shingle: &str) -> u32 {
    let h = xxh3_64(shingle.as_bytes());
    // Truncation intended: fold 64 bits to 32.
    #[allow(clippy::cast_possible_truncation)]
    let x = (h ^ (h >> 32)) as u32;
    x
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Computes signatures and band keys for one [`SketchSpec`].
#[derive(Debug, Clone)]
pub struct MinHasher {
    spec: SketchSpec,
    /// `a_i` in blocks of LANES (the last block padded).
    a: Vec<[u64; LANES]>,
    /// `b_i` in blocks of LANES.
    b: Vec<[u64; LANES]>,
}

impl MinHasher {
    /// A hasher for `spec` (validated first).
    pub fn new(spec: &SketchSpec) -> Result<Self, SpecError> {
        spec.validate()?;
        let k = spec.num_perm as usize;
        let blocks = k.div_ceil(LANES);
        let mut a = vec![[0u64; LANES]; blocks];
        let mut b = vec![[0u64; LANES]; blocks];
        let mut state = spec.seed;
        for i in 0..k {
            let (blk, lane) = (i / LANES, i % LANES);
            let ai = splitmix64(&mut state);
            let bi = splitmix64(&mut state);
            if let (Some(x), Some(y)) = (
                a.get_mut(blk).and_then(|v| v.get_mut(lane)),
                b.get_mut(blk).and_then(|v| v.get_mut(lane)),
            ) {
                *x = ai;
                *y = bi;
            }
        }
        Ok(Self { spec: *spec, a, b })
    }

    /// The spec this hasher implements.
    #[must_use]
    pub fn spec(&self) -> &SketchSpec {
        &self.spec
    }

    /// The signature of a normalized text, or `None` if it has no words (so
    /// empty documents never collide).
    #[must_use]
    pub fn signature(&self, normalized: &str) -> Option<Signature> {
        let mut hashes = Vec::with_capacity(normalized.len() / 5 + 1);
        hashes.extend(shingles(normalized, self.spec.shingle_size as usize).map(shingle_hash));
        self.signature_from_hashes(&hashes)
    }

    /// The signature of a set (or multiset) of 32-bit shingle hashes as made
    /// by [`shingle_hash`]; `None` if `hashes` is empty.
    #[must_use]
    pub fn signature_from_hashes(&self, hashes: &[u32]) -> Option<Signature> {
        if hashes.is_empty() {
            return None;
        }
        let k = self.spec.num_perm as usize;
        let mut values = Vec::with_capacity(self.a.len() * LANES);
        for (a, b) in self.a.iter().zip(&self.b) {
            #[allow(clippy::cast_possible_truncation)]
            values.extend(min_block(a, b, hashes).map(|v| (v >> 32) as u32));
        }
        values.truncate(k);
        Some(Signature(values))
    }

    /// One key per band (see [`crate::band_key`]): band `j` covers values
    /// `j*r .. (j+1)*r`. A signature shorter than `bands * rows` (made with
    /// another spec) yields only the keys of its complete bands.
    #[must_use]
    pub fn band_keys(&self, signature: &Signature) -> Vec<u64> {
        let r = self.spec.rows as usize;
        let mut buf = Vec::with_capacity(4 + 4 * r);
        signature
            .0
            .chunks_exact(r.max(1))
            .take(self.spec.bands as usize)
            .zip(0u32..)
            .map(|(values, band)| band_key_with(&mut buf, band, values))
            .collect()
    }
}

/// Minima of one block of LANES permutations over all `hashes`, as full
/// 64-bit `a*x+b` (the signature keeps the high 32 bits; taking the high half
/// is monotone, so this equals the min of the high halves). The block's minima
/// stay in registers while the hashes stream past, four at a time.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn min_block(a: &[u64; LANES], b: &[u64; LANES], hashes: &[u32]) -> [u64; LANES] {
    let mut m = [u64::MAX; LANES];
    let mut quads = hashes.chunks_exact(4);
    for q in &mut quads {
        let [x0, x1, x2, x3] = [q[0], q[1], q[2], q[3]].map(u64::from);
        for l in 0..LANES {
            let v0 = a[l].wrapping_mul(x0).wrapping_add(b[l]);
            let v1 = a[l].wrapping_mul(x1).wrapping_add(b[l]);
            let v2 = a[l].wrapping_mul(x2).wrapping_add(b[l]);
            let v3 = a[l].wrapping_mul(x3).wrapping_add(b[l]);
            m[l] = m[l].min(v0.min(v1)).min(v2.min(v3));
        }
    }
    for &x in quads.remainder() {
        let x = u64::from(x);
        for l in 0..LANES {
            m[l] = m[l].min(a[l].wrapping_mul(x).wrapping_add(b[l]));
        }
    }
    m
}
