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
//! **Shingle hash (signature definition 2).** Every word is hashed once:
//! `t = xxh3_64(word bytes)` (seed 0, the 64-bit token hash). A shingle of
//! words with token hashes `t_0 … t_{m-1}` (m = `shingle_size`, or the number
//! of words of a shorter text) hashes to the polynomial
//! `H = Σ_j t_j · P^(m-1-j) mod 2^64` with `P = 0x9E3779B97F4A7C15`
//! ([`SHINGLE_POLY`]), folded to 32 bits as `x = (H ^ (H >> 32)) as u32`.
//! For two different shingles the difference of their `H` is a non-zero
//! combination of independent token hashes with odd or low-2-adic-valuation
//! coefficients, so (for distinct words) `H` collides with probability about
//! 2^-63 and `x` about 2^-32. (Definition 1 hashed the shingle's bytes with
//! xxh3; on this corpus that is no slower per shingle, as xxh3 is O(1) on
//! short inputs, but the per-token form is what the design asks for and it
//! lets the windows be combined in vectorized code.)
//!
//! **Permutations.** For `i` in `0..K`, `perm_i(x) = (a_i · x + b_i) mod 2^32`
//! with 32-bit `a_i` (odd) and `b_i`, computed in 32-bit SIMD lanes
//! (16 per AVX-512 register). Each `perm_i` is a true permutation (bijection)
//! of the 32-bit key space, so a signature is a genuine K-permutation MinHash.
//! Independence properties, honestly: for random `b_i` each `perm_i(x)` is
//! uniform (1-independent), but the family is *not* 2-independent over
//! arbitrary keys (`perm_i(x) - perm_i(y) = a_i (x - y)` keeps the 2-adic
//! valuation of `x - y`). The min-wise property therefore rests on the keys
//! being hashes: with `x` pseudo-random (xxh3 token hashes), a fixed bijection
//! keeps them uniform and independent, so every slot is an exact min-wise
//! sample, `P[slot_i(A) = slot_i(B)] = J(A, B)`, and different slots differ by
//! the affine map `x ↦ c·x + d` (`c = a_j/a_i`, odd and random), which
//! scrambles the low-value ranks. The estimator tests (real document pairs,
//! binomial bounds, S-curve) pass unchanged. Definition 1 used the
//! 2-independent multiply-add-shift `((a x + b) mod 2^64) >> 32` with 64-bit
//! `a, b`, which needs a 64-bit multiply per value (vpmullq, 8 per AVX-512
//! register; emulated on AVX2) and ran at 2.5× the cost. The parameters are
//! the high halves of a SplitMix64 sequence started at the spec's seed:
//! `a_0, b_0, a_1, b_1, …`, with `a_i |= 1`.
//!
//! **Values are `u32`.** Signature slot `i` is `min over shingles of perm_i(x)`.
//! 32-bit values (as in datasketch, whose values are < 2^32, and rensa) halve
//! the signature size (K × 4 bytes: 512 bytes for K = 128) in the index. The
//! price is negligible: two different shingles agree on a 32-bit hash with
//! probability 2^-32, which moves a Jaccard estimate by far less than its
//! sampling error `sqrt(J(1-J)/K)`.
//!
//! **Hot loop.** Permutations are processed in blocks of [`LANES`] `u32`s;
//! for each block the minima stay in registers while the shingle hashes
//! stream past, four at a time: `m[l] = min(m[l], a[l]*x + b[l])` over
//! fixed-size arrays, which LLVM turns into `vpmulld`/`vpaddd`/`vpminud`.
//! Token hashes are computed in batches (`wordhash.rs`: word spans found 64
//! bytes at a time, in place for normalized text, with `vpcompressb` where the
//! CPU has AVX-512 VBMI2; xxh3's 1–16-byte paths evaluated branch-free in SIMD
//! lanes, bit-identical to `xxh3_64(word)`), and shingle windows are combined
//! from them in a separate vectorized pass (`vpmullq`). Buffers are reused per
//! thread, so a document allocates only its signature. On x86-64, copies compiled for AVX-512
//! (F/DQ/VL/BW, i.e. x86-64-v4), AVX2 (x86-64-v3) and SSE4.1 are selected at
//! run time by CPU detection (the `multiversion` crate; no `unsafe` here and
//! no `target-cpu=native` needed).

use std::cell::RefCell;
use std::fmt;

use xxhash_rust::xxh3::xxh3_64;

use crate::fold::fold_into;
use crate::normalize::{NormalizationVersion, normalize_with};
use crate::wordhash::{WordScratch, token_hashes_into};

use crate::lsh::band_key_with;
use crate::spec::{MAX_SHINGLE_SIZE, SketchSpec, SpecError};

/// Permutations per SIMD block.
pub const LANES: usize = 32;

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

/// Bits of each MinHash value that signatures are compared on, and that an
/// index stores (b-bit minwise hashing, Li & König 2010): two different
/// values agree on their low 4 bits with probability 2^-4, which
/// [`agreement`] corrects for, so an estimate stays unbiased while a stored
/// signature takes an eighth of the bytes of full values (two values a
/// byte). Its standard error is √(p(1−p)/K) / (1 − 2^-4) with
/// p = J + (1 − J)·2^-4: at J = 0.8 and K = 128, 0.0368 against 0.0354 for
/// full values (and 0.0354 at 8 bits).
pub const COMPARED_BITS: u32 = 4;

const COMPARED_MASK: u32 = (1 << COMPARED_BITS) - 1;

/// Chance that two different values agree on their compared bits.
const CHANCE_AGREEMENT: f64 = 1.0 / (1u32 << COMPARED_BITS) as f64;

/// A value as stored and compared: its low [`COMPARED_BITS`] bits.
#[must_use]
pub fn compared_bits(value: u32) -> u16 {
    // The mask keeps 4 bits.
    #[allow(clippy::cast_possible_truncation)]
    let low = (value & COMPARED_MASK) as u16;
    low
}

/// Estimated Jaccard similarity from the fraction of positions where the two
/// signatures agree (on their low [`COMPARED_BITS`] bits, so a full
/// signature and one read from an index compare as two full ones would),
/// corrected for chance agreement and kept in [0, 1]. Signatures of
/// different lengths (different specs) are compared on their common prefix
/// and divided by the longer length; an empty signature gives 0.
#[must_use]
pub fn jaccard_estimate(a: &Signature, b: &Signature) -> f64 {
    agreement(&a.0, &b.0)
}

/// [`jaccard_estimate`] over value slices.
#[must_use]
pub fn agreement(a: &[u32], b: &[u32]) -> f64 {
    let n = a.len().max(b.len());
    if n == 0 {
        return 0.0;
    }
    let equal = a
        .iter()
        .zip(b)
        .filter(|(x, y)| compared_bits(**x) == compared_bits(**y))
        .count();
    // Exact for any realistic K (< 2^52).
    #[allow(clippy::cast_precision_loss)]
    let r = equal as f64 / n as f64;
    ((r - CHANCE_AGREEMENT) / (1.0 - CHANCE_AGREEMENT)).clamp(0.0, 1.0)
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

/// Multiplier `P` of the shingle polynomial (odd; the 64-bit golden ratio).
pub const SHINGLE_POLY: u64 = 0x9E37_79B9_7F4A_7C15;

/// 64-bit token hash of one word: `xxh3_64(word bytes)` (seed 0).
#[inline]
#[must_use]
pub fn token_hash(word: &str) -> u64 {
    xxh3_64(word.as_bytes())
}

/// A shingle polynomial folded to 32 bits: `(H ^ (H >> 32)) as u32`.
#[inline]
fn finish_shingle(h: u64) -> u32 {
    // Truncation intended: fold 64 bits to 32.
    #[allow(clippy::cast_possible_truncation)]
    let x = (h ^ (h >> 32)) as u32;
    x
}

/// 32-bit hash of one shingle (see the module docs): the token hashes
/// `t_0 … t_{m-1}` of its words (split at ASCII spaces, empty words skipped)
/// combined as `H = Σ t_j · P^(m-1-j) mod 2^64`, then avalanched and folded.
/// [`shingle_hashes`] computes the same values for every shingle of a text,
/// hashing each word once.
#[inline]
#[must_use]
pub fn shingle_hash(shingle: &str) -> u32 {
    let h = shingle
        .split(' ')
        .filter(|w| !w.is_empty())
        .fold(0u64, |h, w| {
            h.wrapping_mul(SHINGLE_POLY).wrapping_add(token_hash(w))
        });
    finish_shingle(h)
}

/// The 32-bit hashes of all shingles of `normalized` (`shingle_size` words,
/// clamped to `1..=MAX_SHINGLE_SIZE`), in order: the same values as
/// `shingles(normalized, shingle_size).map(shingle_hash)`, but every word is
/// hashed once.
#[must_use]
pub fn shingle_hashes(normalized: &str, shingle_size: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(normalized.len() / 6 + 1);
    shingle_hashes_into(normalized, shingle_size, &mut out);
    out
}

/// Like [`shingle_hashes`], appending to `out`.
pub fn shingle_hashes_into(normalized: &str, shingle_size: usize, out: &mut Vec<u32>) {
    with_scratch(|s| shingle_hashes_scratch(normalized, shingle_size, s, out));
}

/// Reusable per-thread buffers, so hashing a document does not allocate.
#[derive(Debug, Default)]
struct Scratch {
    words: WordScratch,
    tokens: Vec<u64>,
    acc: Vec<u64>,
    hashes: Vec<u32>,
    /// Version 2: the folded text being sketched.
    folded: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // Not reachable (no re-entrancy), but stay total.
        Err(_) => f(&mut Scratch::default()),
    })
}

fn shingle_hashes_scratch(
    normalized: &str,
    shingle_size: usize,
    s: &mut Scratch,
    out: &mut Vec<u32>,
) {
    s.tokens.clear();
    token_hashes_into(normalized.as_bytes(), &mut s.words, &mut s.tokens);
    combine_shingles(&s.tokens, shingle_size, &mut s.acc, out);
}

/// Shingle hashes from token hashes: `H_k = Σ_j t_{k+j} · P^(n-1-j)` for every
/// window of n tokens (or one window over all tokens if there are fewer),
/// folded to 32 bits. Each window is computed directly (n multiply-adds,
/// vectorized) rather than rolled, so no value depends on the previous one.
fn combine_shingles(tokens: &[u64], shingle_size: usize, acc: &mut Vec<u64>, out: &mut Vec<u32>) {
    let n = shingle_size.clamp(1, MAX_SHINGLE_SIZE as usize);
    if tokens.is_empty() {
        return;
    }
    if tokens.len() < n {
        let h = tokens
            .iter()
            .fold(0u64, |h, &t| h.wrapping_mul(SHINGLE_POLY).wrapping_add(t));
        out.push(finish_shingle(h));
        return;
    }
    // powers[j] = P^(n-1-j)
    let mut powers = [0u64; MAX_SHINGLE_SIZE as usize];
    let mut p = 1u64;
    for j in (0..n).rev() {
        if let Some(slot) = powers.get_mut(j) {
            *slot = p;
        }
        p = p.wrapping_mul(SHINGLE_POLY);
    }
    let windows = tokens.len() - n + 1;
    let base = out.len();
    out.resize(base + windows, 0);
    // Grown, never cleared here: `combine_windows` zeroes it only where it
    // adds to it.
    let need = if n == 5 { tokens.len() } else { windows };
    if acc.len() < need {
        acc.resize(need, 0);
    }
    if let (Some(dst), Some(acc)) = (out.get_mut(base..), acc.get_mut(..need)) {
        combine_windows(tokens, powers.get(..n).unwrap_or(&[]), acc, dst);
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn combine_windows(tokens: &[u64], powers: &[u64], acc: &mut [u64], dst: &mut [u32]) {
    // The default shingle size with three multiplications per window instead
    // of five (64-bit multiplies are emulated below AVX-512): with
    // `u_k = t_k·P + t_{k+1}` (in `acc`), `H_k = (u_k·P² + u_{k+2})·P + t_{k+4}`
    // — the same polynomial, expanded, mod 2^64.
    if let (&[_, _, p2, p1, 1], Some(u), Some(t1), Some(t4)) = (
        powers,
        acc.get_mut(..dst.len() + 3),
        tokens.get(1..dst.len() + 4),
        tokens.get(4..dst.len() + 4),
    ) {
        for ((u, &a), &b) in u.iter_mut().zip(tokens).zip(t1) {
            *u = a.wrapping_mul(p1).wrapping_add(b);
        }
        if let (Some(u0), Some(u2)) = (u.get(..dst.len()), u.get(2..dst.len() + 2)) {
            for (((d, &a), &c), &e) in dst.iter_mut().zip(u0).zip(u2).zip(t4) {
                let h = a
                    .wrapping_mul(p2)
                    .wrapping_add(c)
                    .wrapping_mul(p1)
                    .wrapping_add(e);
                *d = finish_shingle(h);
            }
            return;
        }
    }
    acc.fill(0);
    for (j, &pw) in powers.iter().enumerate() {
        if let Some(src) = tokens.get(j..j + acc.len()) {
            for (a, &t) in acc.iter_mut().zip(src) {
                *a = a.wrapping_add(t.wrapping_mul(pw));
            }
        }
    }
    for (d, &h) in dst.iter_mut().zip(acc.iter()) {
        *d = finish_shingle(h);
    }
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
    /// `a_i` (odd) in blocks of LANES (the last block padded).
    a: Vec<[u32; LANES]>,
    /// `b_i` in blocks of LANES.
    b: Vec<[u32; LANES]>,
}

impl MinHasher {
    /// A hasher for `spec` (validated first).
    pub fn new(spec: &SketchSpec) -> Result<Self, SpecError> {
        spec.validate()?;
        let k = spec.num_perm as usize;
        let blocks = k.div_ceil(LANES);
        let mut a = vec![[0u32; LANES]; blocks];
        let mut b = vec![[0u32; LANES]; blocks];
        let mut state = spec.seed;
        for i in 0..k {
            let (blk, lane) = (i / LANES, i % LANES);
            // High halves of the SplitMix64 outputs; a_i forced odd.
            #[allow(clippy::cast_possible_truncation)]
            let ai = (splitmix64(&mut state) >> 32) as u32 | 1;
            #[allow(clippy::cast_possible_truncation)]
            let bi = (splitmix64(&mut state) >> 32) as u32;
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

    /// The signature of a text normalized with the spec's normalization
    /// version ([`crate::normalize_with`]), or `None` if it has no words (so
    /// empty documents never collide). For a version 2 spec the text is first
    /// folded to Simplified Chinese ([`crate::fold_for_sketch`]); pass the
    /// normalized text itself (the one `content_id` is computed from), not a
    /// folded copy. For version 1 nothing changes.
    #[must_use]
    pub fn signature(&self, normalized: &str) -> Option<Signature> {
        with_scratch(|s| {
            let mut hashes = std::mem::take(&mut s.hashes);
            hashes.clear();
            let n = self.spec.shingle_size as usize;
            let mut folded = std::mem::take(&mut s.folded);
            if self.spec.normalization_version == NormalizationVersion::V2
                && fold_into(normalized, &mut folded)
            {
                shingle_hashes_scratch(&folded, n, s, &mut hashes);
            } else {
                shingle_hashes_scratch(normalized, n, s, &mut hashes);
            }
            s.folded = folded;
            let sig = self.signature_from_hashes(&hashes);
            s.hashes = hashes;
            sig
        })
    }

    /// Normalizes raw `text` with the spec's version and returns its
    /// signature: `self.signature(&normalize_with(version, text))`.
    #[must_use]
    pub fn sketch(&self, text: &str) -> Option<Signature> {
        self.signature(&normalize_with(self.spec.normalization_version, text))
    }

    /// The 32-bit shingle hashes [`Self::signature`] takes the minimum over,
    /// for a text normalized with the spec's version (folded first for
    /// version 2), in order.
    #[must_use]
    pub fn shingle_hashes(&self, normalized: &str) -> Vec<u32> {
        let text = crate::fold::fold_for_sketch(self.spec.normalization_version, normalized);
        shingle_hashes(&text, self.spec.shingle_size as usize)
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
            values.extend(min_block(a, b, hashes));
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

/// Minima of one block of LANES permutations over all `hashes`. The block's
/// minima stay in registers while the hashes stream past, four at a time.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn min_block(a: &[u32; LANES], b: &[u32; LANES], hashes: &[u32]) -> [u32; LANES] {
    let mut m = [u32::MAX; LANES];
    let mut quads = hashes.chunks_exact(4);
    for q in &mut quads {
        let [x0, x1, x2, x3] = [q[0], q[1], q[2], q[3]];
        for l in 0..LANES {
            let v0 = a[l].wrapping_mul(x0).wrapping_add(b[l]);
            let v1 = a[l].wrapping_mul(x1).wrapping_add(b[l]);
            let v2 = a[l].wrapping_mul(x2).wrapping_add(b[l]);
            let v3 = a[l].wrapping_mul(x3).wrapping_add(b[l]);
            m[l] = m[l].min(v0.min(v1)).min(v2.min(v3));
        }
    }
    for &x in quads.remainder() {
        for l in 0..LANES {
            m[l] = m[l].min(a[l].wrapping_mul(x).wrapping_add(b[l]));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts of 0–299 words (1–20 bytes, some repeated) for every shingle
    /// size 1–8: the batched hashes (for size 5 the three-multiplication
    /// form of `combine_windows`) equal the per-shingle definition.
    #[test]
    fn batched_hashes_equal_per_shingle_hashes_on_long_texts() {
        let mut state = 7u64;
        for words in 0..300 {
            let text: Vec<String> = (0..words)
                .map(|_| {
                    let r = splitmix64(&mut state);
                    let len = 1 + (r % 20) as usize;
                    let letter = char::from(b'a' + (r >> 8) as u8 % 4);
                    letter.to_string().repeat(len)
                })
                .collect();
            let text = text.join(" ");
            for n in 1..=8 {
                let want: Vec<u32> = shingles(&text, n).map(shingle_hash).collect();
                assert_eq!(shingle_hashes(&text, n), want, "{words} words, n={n}");
            }
        }
    }

    /// The per-thread buffer of partial sums is reused without clearing:
    /// texts of decreasing length, shingle sizes alternating between 5 and
    /// others, still give the per-shingle hashes.
    #[test]
    fn reused_buffers_give_the_same_hashes() {
        let mut state = 11u64;
        for words in (0..200).rev().step_by(7) {
            let text: Vec<String> = (0..words)
                .map(|_| format!("w{}", splitmix64(&mut state) % 50))
                .collect();
            let text = text.join(" ");
            for n in [5, 3, 5, 7, 5, 1] {
                let want: Vec<u32> = shingles(&text, n).map(shingle_hash).collect();
                assert_eq!(shingle_hashes(&text, n), want, "{words} words, n={n}");
            }
        }
    }

    #[test]
    fn rolling_hashes_equal_per_shingle_hashes() {
        let texts = [
            "",
            "one",
            "two words",
            "  a  b ",
            "a b c d e",
            "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c",
            " lead and trail  spaces here and there ",
        ];
        for t in texts {
            for n in [1usize, 2, 3, 5, 7, 32, 40] {
                let want: Vec<u32> = shingles(t, n).map(shingle_hash).collect();
                assert_eq!(shingle_hashes(t, n), want, "{t:?} n={n}");
            }
        }
    }
}
