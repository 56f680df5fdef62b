//! Batched `xxh3_64` of the words of a text (split at ASCII spaces).
//!
//! Bit-identical to calling `xxhash_rust::xxh3::xxh3_64(word)` on every word;
//! only the evaluation order differs. Calling the library per word costs
//! about 10 ns on this workload although xxh3 on a 1–16-byte input is a
//! handful of instructions: the library dispatches on the length (1–3, 4–8,
//! 9–16, 17–128, …) with branches that natural-language word lengths make
//! unpredictable, and the word splitter's own loop-exit branch mispredicts
//! too. Here the work is split into passes without data-dependent branches:
//!
//! 1. **Spans.** Each word is stored as `w0` = its first 8 bytes and `w1` =
//!    its last 8 bytes (as two `u64`) and its length.
//!    - *Fast path* (texts of at least 8 bytes without empty words — no
//!      leading, trailing or doubled space — i.e. every normalized text of 8
//!      bytes or more), reading the text in place. Spaces are found 64 bytes
//!      at a time as a bit mask (vector compare); the offsets of the set bits
//!      are written 16 at a time without a branch on their number (with
//!      AVX-512 VBMI2: one `vpcompressb` of the indices 0..64 by the mask;
//!      otherwise `tzcnt` / clear-lowest-bit, unrolled). The word ends are
//!      exactly these offsets (plus one at the end of the text), so the spans
//!      are then filled in a vectorized loop from consecutive offsets; reads
//!      that would leave the text are clamped into it and shifted back (the
//!      xxh3 short paths never look at bytes outside the word).
//!    - *General path* (any text): the text is copied into a padded buffer
//!      (8 zero bytes in front, a terminating space and zero bytes behind),
//!      so every read stays inside it; for each space of the mask the
//!      preceding word's span is stored at slot `n`, and `n` advances only
//!      for non-empty words (branch-free compaction).
//! 2. **Short words** (1–16 bytes, nearly all of them): all three xxh3 short
//!    paths are computed from `(w0, w1, len)` and the right one is selected,
//!    eight words per AVX-512 register (the 64×64→128 multiply of the 9–16
//!    path is written with 32-bit halves so it vectorizes as `vpmuludq`).
//! 3. **Long words** (> 16 bytes, rare) are rehashed with the library.
//!
//! The tests `batched_token_hashes_equal_xxh3` and `fast_path_equals_xxh3`
//! check every length 0–40, texts around the 8- and 64-byte edges and random
//! texts against `xxh3_64`; `space_offsets_and_masks` checks the SIMD block
//! helpers this CPU can run against the scalar ones. The proptests in
//! `tests::props` do the same on generated texts and blocks (on a CPU with
//! AVX-512 VBMI2 they run the `vpcompressb` path).

use xxhash_rust::xxh3::xxh3_64;

/// The first 56 bytes of xxh3's default secret (`kSecret`), which is all the
/// 1–16-byte paths read.
const SECRET: [u8; 56] = [
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e,
];

const fn secret64(at: usize) -> u64 {
    u64::from_le_bytes([
        SECRET[at],
        SECRET[at + 1],
        SECRET[at + 2],
        SECRET[at + 3],
        SECRET[at + 4],
        SECRET[at + 5],
        SECRET[at + 6],
        SECRET[at + 7],
    ])
}

const fn secret32(at: usize) -> u64 {
    u32::from_le_bytes([SECRET[at], SECRET[at + 1], SECRET[at + 2], SECRET[at + 3]]) as u64
}

/// Seed 0 constants of the three short paths.
const FLIP_1TO3: u64 = secret32(0) ^ secret32(4);
const FLIP_4TO8: u64 = secret64(8) ^ secret64(16);
const FLIP_9TO16_LO: u64 = secret64(24) ^ secret64(32);
const FLIP_9TO16_HI: u64 = secret64(40) ^ secret64(48);

const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
const M32: u64 = 0xFFFF_FFFF;

/// Leading zero bytes of the padded buffer (so `read64(end - 8)` of a short
/// first word stays inside it).
const PAD: usize = 8;

/// Reusable buffers; kept per thread by the callers so no document allocates.
/// (A variant that processed 2 KiB segments with fixed-size buffers and read
/// the text in place, with edge fallbacks, measured 15% slower than the
/// general path; the fast path reads in place with clamped reads instead.)
#[derive(Debug, Default)]
pub(crate) struct WordScratch {
    padded: Vec<u8>,
    /// Fast path: `u32::MAX` (i.e. -1) followed by the offsets in the text of
    /// its spaces and of the terminating space (and 16 spare slots for the
    /// unconditional writes of [`space_positions`]).
    pos: Vec<u32>,
    w0: Vec<u64>,
    w1: Vec<u64>,
    lens: Vec<u64>,
    /// (word index, start, length) of words longer than 16 bytes; the start
    /// is in the text (fast path) or in `padded`.
    long: Vec<(usize, usize, usize)>,
}

/// Appends `xxh3_64(word)` of every word of `text` (maximal runs of bytes
/// other than b' '), in order, to `out`.
pub(crate) fn token_hashes_into(text: &[u8], s: &mut WordScratch, out: &mut Vec<u64>) {
    if text.is_empty() {
        return;
    }
    let len = text.len();
    // At most one word per two bytes (plus the last one); one spare slot for
    // the unconditional write of an empty word.
    let slots = len / 2 + 2;
    for v in [&mut s.w0, &mut s.w1, &mut s.lens] {
        if v.len() < slots {
            v.resize(slots, 0);
        }
    }
    s.long.clear();
    let (n, src) = if let Some(n) = fast_spans(text, s) {
        (n, text)
    } else {
        // PAD zeros, the text, a terminating space, zeros up to a whole number
        // of 64-byte blocks after PAD, plus 8 more (for read64 at the last
        // start).
        let blocks = (len + 1).div_ceil(64);
        let total = PAD + blocks * 64 + 8;
        s.padded.clear();
        s.padded.resize(PAD, 0);
        s.padded.extend_from_slice(text);
        s.padded.push(b' ');
        s.padded.resize(total, 0);
        let n = spans(
            &s.padded,
            blocks,
            &mut s.w0,
            &mut s.w1,
            &mut s.lens,
            &mut s.long,
        );
        (n, &s.padded[..])
    };
    let base = out.len();
    out.resize(base + n, 0);
    if let (Some(dst), Some(w0), Some(w1), Some(lens)) = (
        out.get_mut(base..),
        s.w0.get(..n),
        s.w1.get(..n),
        s.lens.get(..n),
    ) {
        hash_short(w0, w1, lens, dst);
        for &(i, start, l) in &s.long {
            if let (Some(d), Some(word)) = (dst.get_mut(i), src.get(start..start + l)) {
                *d = xxh3_64(word);
            }
        }
    }
}

/// Pass 1 for texts of at least 8 bytes without empty words (no leading
/// space, no two spaces in a row, no trailing space: every normalized text of
/// 8 bytes or more), reading the text in place. Their word ends are exactly
/// the spaces of the text plus a terminating one, so the offsets of the spaces
/// are collected first, branch-free ([`space_positions`]), and the spans are
/// filled from them in a loop without data-dependent branches
/// ([`fill_spans`]). Returns the number of words, or `None` if the text has an
/// empty word or is too short or too long for this path; then the text is
/// copied into `padded` and [`spans`] is used.
fn fast_spans(text: &[u8], s: &mut WordScratch) -> Option<usize> {
    let len = text.len();
    if len < 8 || u32::try_from(len + 64).is_err() {
        return None;
    }
    let want = (len + 1).div_ceil(64) * 64 + 17;
    if s.pos.len() < want {
        s.pos.resize(want, 0);
    }
    let n = space_positions(text, &mut s.pos)?;
    // n spaces end n non-empty words (the last one at the terminating space).
    let pos = s.pos.get(..=n)?;
    let (w0, w1, lens) = (s.w0.get_mut(..n)?, s.w1.get_mut(..n)?, s.lens.get_mut(..n)?);
    if fill_spans(text, pos, w0, w1, lens) {
        for (i, (&l, &p)) in lens.iter().zip(pos).enumerate() {
            if l > 16 {
                // `p` is the space before word i.
                s.long.push((i, p.wrapping_add(1) as usize, l as usize));
            }
        }
    }
    Some(n)
}

/// Bit `i` set iff `chunk[i]` is a space.
#[inline(always)]
fn space_mask_scalar(chunk: &[u8; 64]) -> u64 {
    let mut m = 0u64;
    for (i, &b) in chunk.iter().enumerate() {
        m |= u64::from(b == b' ') << i;
    }
    m
}

/// Writes `u32::MAX` and then the offsets of all spaces of `text` and of a
/// terminating space at `text.len()` to `pos` (which has at least
/// `(text.len() + 1).div_ceil(64) * 64 + 17` slots) and returns their number,
/// or `None` if two spaces are adjacent or the text starts or ends with one.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw+avx512vbmi2",
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn space_positions(text: &[u8], pos: &mut [u32]) -> Option<usize> {
    let full = text.len() / 64;
    // The last partial block, the terminating space and zeros.
    let mut tail = [0u8; 64];
    let rest = text.get(full * 64..)?;
    tail.get_mut(..rest.len())?.copy_from_slice(rest);
    *tail.get_mut(rest.len())? = b' ';
    *pos.first_mut()? = u32::MAX;
    let mut st = Flatten {
        n: 1,
        carry: 1, // the byte before the text counts as a space
        adjacent: 0,
        base: 0,
    };
    for i in 0..=full {
        let chunk: &[u8; 64] = if i < full {
            text.get(i * 64..i * 64 + 64)?.try_into().ok()?
        } else {
            &tail
        };
        multiversion::target::match_target! {
            "x86_64+avx512vbmi2" => {
                let dst: &mut [u32; 16] = pos.get_mut(st.n..st.n + 16)?.try_into().ok()?;
                let mut bytes = [0u8; 64];
                // SAFETY: this copy runs only on CPUs with AVX-512 F, BW and
                // VBMI2 (runtime detection by `multiversion`).
                #[allow(unsafe_code)]
                let m = unsafe { block_vbmi2(chunk, st.base, dst, &mut bytes) };
                let cnt = m.count_ones() as usize;
                if cnt > 16 {
                    for (k, &b) in bytes.iter().enumerate().take(cnt).skip(16) {
                        *pos.get_mut(st.n + k)? = st.base + u32::from(b);
                    }
                }
                st.note(m, cnt);
            }
            "x86_64+avx2" => {
                // SAFETY: this copy runs only on CPUs with AVX2 (runtime
                // detection by `multiversion`).
                #[allow(unsafe_code)]
                let m = unsafe { space_mask_avx2(chunk) };
                st.push(m, pos)?;
            }
            _ => st.push(space_mask_scalar(chunk), pos)?,
        }
    }
    if st.adjacent != 0 {
        return None;
    }
    Some(st.n - 1)
}

/// [`space_mask_scalar`] with two AVX2 compares.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn space_mask_avx2(chunk: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let sp = _mm256_set1_epi8(b' ' as i8);
    // SAFETY: the two unaligned loads read exactly the 64 bytes of `chunk`.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(chunk.as_ptr().cast()),
            _mm256_loadu_si256(chunk.as_ptr().add(32).cast()),
        )
    };
    // Each movemask's i32 holds 32 bits of the mask.
    #[allow(clippy::cast_sign_loss)]
    let (lo, hi) = (
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, sp)) as u32,
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, sp)) as u32,
    );
    u64::from(lo) | (u64::from(hi) << 32)
}

/// The space mask of `chunk` (as [`space_mask_scalar`]); the offsets
/// `base + i` of its first 16 spaces (in order; junk after the last) go to
/// `dst`, and the indices `i` of all its spaces, packed, to `bytes`. One
/// `vpcmpeqb` and one `vpcompressb`, which packs the indices 0..64 by the
/// mask (`core::arch` intrinsics, stable since Rust 1.89; this replaced an
/// `asm!` block with the same instructions).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
#[allow(unsafe_code)]
fn block_vbmi2(chunk: &[u8; 64], base: u32, dst: &mut [u32; 16], bytes: &mut [u8; 64]) -> u64 {
    use std::arch::x86_64::{
        _mm512_add_epi32, _mm512_castsi512_si128, _mm512_cmpeq_epi8_mask, _mm512_cvtepu8_epi32,
        _mm512_loadu_si512, _mm512_maskz_compress_epi8, _mm512_set1_epi8, _mm512_set1_epi32,
        _mm512_storeu_si512,
    };
    // SAFETY: an unaligned load of exactly the 64 bytes of `chunk`.
    let text = unsafe { _mm512_loadu_si512(chunk.as_ptr().cast()) };
    let m = _mm512_cmpeq_epi8_mask(text, _mm512_set1_epi8(b' '.cast_signed()));
    let packed = _mm512_maskz_compress_epi8(m, iota());
    let offsets = _mm512_add_epi32(
        _mm512_cvtepu8_epi32(_mm512_castsi512_si128(packed)),
        _mm512_set1_epi32(base.cast_signed()),
    );
    // SAFETY: unaligned stores of exactly the 64 bytes of `bytes` and of
    // `dst` (16 × u32).
    unsafe {
        _mm512_storeu_si512(bytes.as_mut_ptr().cast(), packed);
        _mm512_storeu_si512(dst.as_mut_ptr().cast(), offsets);
    }
    m
}

/// The bytes 0, 1, …, 63 (a constant, no load from a pointer).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn iota() -> std::arch::x86_64::__m512i {
    /// The eight little-endian bytes `8k, 8k + 1, …, 8k + 7`.
    const fn lane(k: u64) -> i64 {
        (u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]) + k * 0x0808_0808_0808_0808).cast_signed()
    }
    std::arch::x86_64::_mm512_set_epi64(
        lane(7),
        lane(6),
        lane(5),
        lane(4),
        lane(3),
        lane(2),
        lane(1),
        lane(0),
    )
}

/// State of [`space_positions`].
struct Flatten {
    /// Offsets written so far.
    n: usize,
    /// Bit 63 of the previous mask.
    carry: u64,
    /// Non-zero once two adjacent spaces were seen.
    adjacent: u64,
    /// Offset of the current block.
    base: u32,
}

impl Flatten {
    /// Appends the offsets of the set bits of the space mask `m` of the next
    /// 64-byte block.
    #[inline(always)]
    fn push(&mut self, mut m: u64, pos: &mut [u32]) -> Option<()> {
        let cnt = m.count_ones() as usize;
        let base = self.base;
        self.note(m, cnt);
        // The first 16 offsets unconditionally (slots past `cnt` get junk that
        // later blocks overwrite): no branch on the number of words.
        let n = self.n - cnt;
        let dst: &mut [u32; 16] = pos.get_mut(n..n + 16)?.try_into().ok()?;
        for d in dst.iter_mut() {
            *d = base + m.trailing_zeros();
            m &= m.wrapping_sub(1);
        }
        if cnt > 16 {
            let mut k = n + 16;
            while m != 0 {
                *pos.get_mut(k)? = base + m.trailing_zeros();
                m &= m - 1;
                k += 1;
            }
        }
        Some(())
    }

    /// Advances past a block with space mask `m` and `cnt` offsets written
    /// at `n..`.
    #[inline(always)]
    fn note(&mut self, m: u64, cnt: usize) {
        self.adjacent |= m & ((m << 1) | self.carry);
        self.carry = m >> 63;
        self.n += cnt;
        self.base = self.base.wrapping_add(64);
    }
}

/// Spans of the words of `text` (at least 8 bytes) between consecutive
/// offsets of `pos` (`pos[i]` is the space before word `i`, `pos[i + 1]` the
/// one after it; both may be just outside the text): `w0` = the 8 bytes from
/// the word's start, `w1` = the 8 bytes up to its end, as `read64` of a
/// padded copy would give them except that bytes outside the word are zero or
/// other text bytes (the xxh3 short paths never use them). Near the edges the
/// reads are clamped into the text and shifted back. Returns whether a word is
/// longer than 16 bytes.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn fill_spans(text: &[u8], pos: &[u32], w0: &mut [u64], w1: &mut [u64], lens: &mut [u64]) -> bool {
    let mut long = false;
    let Some(last) = text.len().checked_sub(8) else {
        return false;
    };
    for (((p, x), y), z) in pos.windows(2).zip(w0).zip(w1).zip(lens) {
        // Every word is non-empty: start < end <= len, end >= 1.
        let (start, end) = (p[0].wrapping_add(1) as usize, p[1] as usize);
        let s0 = start.min(last);
        *x = read64(text, s0) >> (((start - s0) & 7) * 8);
        let e1 = end.max(8);
        *y = read64(text, (e1 - 8).min(last)) << (((e1 - end) & 7) * 8);
        let l = (end - start) as u64;
        *z = l;
        long |= l > 16;
    }
    long
}

#[inline(always)]
fn read64(buf: &[u8], at: usize) -> u64 {
    buf.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Pass 1, general path (see the module docs): word spans of `padded` as `(w0, w1, len)`
/// at slots `0..n`; returns `n`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn spans(
    padded: &[u8],
    blocks: usize,
    w0: &mut [u64],
    w1: &mut [u64],
    lens: &mut [u64],
    long: &mut Vec<(usize, usize, usize)>,
) -> usize {
    let mut n = 0usize;
    let mut start = PAD;
    let body = padded.get(PAD..PAD + blocks * 64).unwrap_or(&[]);
    for (bi, chunk) in body.chunks_exact(64).enumerate() {
        let mut m = 0u64;
        for (i, &b) in chunk.iter().enumerate() {
            m |= u64::from(b == b' ') << i;
        }
        let block_start = PAD + bi * 64;
        while m != 0 {
            let end = block_start + m.trailing_zeros() as usize;
            m &= m - 1;
            let l = end - start;
            let (a, b) = (read64(padded, start), read64(padded, end - 8));
            if let (Some(x), Some(y), Some(z)) = (w0.get_mut(n), w1.get_mut(n), lens.get_mut(n)) {
                *x = a;
                *y = b;
                *z = l as u64;
            }
            if l > 16 {
                long.push((n, start, l));
            }
            n += usize::from(l != 0);
            start = end + 1;
        }
    }
    n
}

/// Pass 2: `xxh3_64` of every word of 1–16 bytes from its first and last 8
/// bytes (values for longer words are overwritten by the caller).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn hash_short(w0: &[u64], w1: &[u64], lens: &[u64], out: &mut [u64]) {
    for (((o, &a), &b), &l) in out.iter_mut().zip(w0).zip(w1).zip(lens) {
        *o = xxh3_short(a, b, l);
    }
}

/// `xxh3_64` (seed 0) of a 1–16-byte input of length `len` whose first 8
/// bytes (little-endian) are `w0` and whose last 8 are `w1`. Branch-free.
#[inline(always)]
fn xxh3_short(w0: u64, w1: u64, len: u64) -> u64 {
    // 1–3 bytes.
    let c1 = w0 & 0xFF;
    let c2 = (w0 >> (((len >> 1) & 7) * 8)) & 0xFF;
    let c3 = w1 >> 56;
    let combo = (c1 << 16) | (c2 << 24) | c3 | (len << 8);
    let h13 = xxh64_avalanche(combo ^ FLIP_1TO3);
    // 4–8 bytes.
    let input64 = (w1 >> 32).wrapping_add((w0 & M32) << 32);
    let h48 = rrmxmx(input64 ^ FLIP_4TO8, len);
    // 9–16 bytes.
    let lo = w0 ^ FLIP_9TO16_LO;
    let hi = w1 ^ FLIP_9TO16_HI;
    let acc = len
        .wrapping_add(lo.swap_bytes())
        .wrapping_add(hi)
        .wrapping_add(mul128_fold64(lo, hi));
    let h916 = xxh3_avalanche(acc);
    let small = if len >= 4 { h48 } else { h13 };
    if len > 8 { h916 } else { small }
}

#[inline(always)]
fn xxh64_avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(PRIME64_2);
    h ^= h >> 29;
    h = h.wrapping_mul(PRIME64_3);
    h ^ (h >> 32)
}

#[inline(always)]
fn rrmxmx(mut h: u64, len: u64) -> u64 {
    h ^= h.rotate_left(49) ^ h.rotate_left(24);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^= (h >> 35).wrapping_add(len);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^ (h >> 28)
}

#[inline(always)]
fn xxh3_avalanche(mut h: u64) -> u64 {
    h ^= h >> 37;
    h = h.wrapping_mul(0x1656_6791_9E37_79F9);
    h ^ (h >> 32)
}

/// Low 64 bits XOR high 64 bits of the 128-bit product, from 32-bit halves
/// (vectorizes as `vpmuludq`; a `u128` multiply does not vectorize).
#[inline(always)]
fn mul128_fold64(a: u64, b: u64) -> u64 {
    let (a0, a1) = (a & M32, a >> 32);
    let (b0, b1) = (b & M32, b >> 32);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 32) + (p01 & M32) + (p10 & M32);
    let low = (p00 & M32) | (mid << 32);
    let high = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    low ^ high
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(text: &[u8]) -> Vec<u64> {
        text.split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .map(xxh3_64)
            .collect()
    }

    fn batched(text: &[u8]) -> Vec<u64> {
        let mut s = WordScratch::default();
        let mut out = vec![7]; // appends
        token_hashes_into(text, &mut s, &mut out);
        // Scratch reuse gives the same result.
        let mut again = vec![7];
        token_hashes_into(text, &mut s, &mut again);
        assert_eq!(again, out);
        out.remove(0);
        out
    }

    #[test]
    fn batched_token_hashes_equal_xxh3() {
        let mut state = 0x1234_5678_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        // Every length 0..=40, every byte value class, at every alignment.
        for len in 0..=40usize {
            for lead in 0..3 {
                for _ in 0..20 {
                    let mut t = vec![b' '; lead];
                    t.extend(
                        (0..len)
                            .map(|_| 1 + (next() % 255) as u8)
                            .map(|b| if b == b' ' { b'x' } else { b }),
                    );
                    assert_eq!(batched(&t), reference(&t), "len {len} lead {lead}");
                }
            }
        }
        // Random texts with runs of spaces, long words, block boundaries.
        for _ in 0..300 {
            let len = (next() % 5000) as usize;
            let t: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0 => b' ',
                    _ => b'a' + (next() % 26) as u8,
                })
                .collect();
            let t2: Vec<u8> = (0..len)
                .map(|_| match next() % 30 {
                    0..=1 => b' ',
                    _ => (next() % 256) as u8,
                })
                .collect();
            assert_eq!(batched(&t), reference(&t));
            assert_eq!(batched(&t2), reference(&t2));
        }
        assert!(batched(b"").is_empty());
        assert!(batched(b"    ").is_empty());
        assert_eq!(batched("é ü".as_bytes()), reference("é ü".as_bytes()));
    }

    /// Texts of single-space-separated words (the in-place fast path), of
    /// every length around the 8-byte and 64-byte edges, with word lengths
    /// 1–40 and blocks of 0 to 64 spaces.
    #[test]
    fn fast_path_equals_xxh3() {
        let mut state = 0x9876_5432_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let word = |max: u64, next: &mut dyn FnMut() -> u64| -> Vec<u8> {
            let l = 1 + next() % max;
            (0..l).map(|_| b'!' + (next() % 90) as u8).collect()
        };
        for _ in 0..3000 {
            let max = [1, 2, 3, 8, 16, 17, 40][(next() % 7) as usize];
            let target = (next() % 300) as usize;
            let mut t = word(max, &mut next);
            while t.len() < target {
                t.push(b' ');
                t.extend(word(max, &mut next));
            }
            assert_eq!(
                batched(&t),
                reference(&t),
                "{:?}",
                String::from_utf8_lossy(&t)
            );
            // Every prefix that ends inside a word is again such a text.
            for cut in [7, 8, 9, 63, 64, 65, 127, 128, 129] {
                if let Some(p) = t.get(..cut)
                    && p.last() != Some(&b' ')
                {
                    assert_eq!(batched(p), reference(p));
                }
            }
        }
    }

    /// The SIMD block helpers this CPU can run agree with the scalar ones.
    fn check_simd_block(chunk: &[u8; 64], m: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected.
                #[allow(unsafe_code)]
                let got = unsafe { space_mask_avx2(chunk) };
                assert_eq!(got, m);
            }
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vbmi2")
            {
                let (mut dst, mut bytes) = ([7u32; 16], [7u8; 64]);
                // SAFETY: the features were detected.
                #[allow(unsafe_code)]
                let got = unsafe { block_vbmi2(chunk, 640, &mut dst, &mut bytes) };
                assert_eq!(got, m);
                let idx: Vec<u8> = (0..64).filter(|i| m >> i & 1 == 1).collect();
                assert_eq!(&bytes[..idx.len()], &idx[..]);
                for (d, &i) in dst.iter().zip(&idx) {
                    assert_eq!(*d, 640 + u32::from(i));
                }
            }
        }
        let _ = (chunk, m);
    }

    #[test]
    fn space_offsets_and_masks() {
        let mut state = 0x5555_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state
        };
        for _ in 0..2000 {
            // Masks from empty to full, sparse to dense.
            let m = match next() % 4 {
                0 => next() & next() & next(),
                1 => next(),
                2 => next() | next(),
                _ => !(next() & next() & next() & next()),
            };
            let chunk: [u8; 64] =
                std::array::from_fn(|i| if m >> i & 1 == 1 { b' ' } else { b'a' });
            assert_eq!(space_mask_scalar(&chunk), m);
            check_simd_block(&chunk, m);
            let mut pos = vec![7u32; 200];
            let mut st = Flatten {
                n: 3,
                carry: 0,
                adjacent: 0,
                base: 128,
            };
            st.push(m, &mut pos).unwrap();
            let want: Vec<u32> = (0..64)
                .filter(|i| m >> i & 1 == 1)
                .map(|i| 128 + i)
                .collect();
            assert_eq!(st.n, 3 + want.len());
            assert_eq!(&pos[3..st.n], &want[..]);
            assert_eq!(st.adjacent, m & (m << 1));
            assert_eq!(st.carry, m >> 63);
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A byte that is not a space.
        fn letter() -> impl Strategy<Value = u8> {
            any::<u8>().prop_map(|b| if b == b' ' { b'_' } else { b })
        }

        /// A word: mostly 1–16 bytes (xxh3's short paths), sometimes longer.
        fn word() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![8 => 1usize..=16, 1 => 17usize..=40]
                .prop_flat_map(|l| prop::collection::vec(letter(), l))
        }

        /// Words joined by single spaces: the shape of normalized text, so
        /// texts of 8 bytes or more take the in-place fast path (with
        /// `block_vbmi2` on CPUs with AVX-512 VBMI2).
        fn normalized_like() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(word(), 1..160).prop_map(|ws| ws.join(&b' '))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn fast_path_text_equals_xxh3(t in normalized_like()) {
                prop_assert_eq!(batched(&t), reference(&t));
            }

            /// Any bytes, with runs of spaces (the general path, and the
            /// fast path's rejection of empty words).
            #[test]
            fn any_text_equals_xxh3(
                t in prop::collection::vec(prop_oneof![1 => Just(b' '), 4 => any::<u8>()], 0..600)
            ) {
                prop_assert_eq!(batched(&t), reference(&t));
            }

            /// The SIMD block helpers this CPU can run agree with the scalar
            /// mask, from about one space in two (more than 16 per block) to one in 17.
            #[test]
            fn simd_block_equals_scalar(
                chunk in (1u32..=16).prop_flat_map(|w| {
                    prop::array::uniform::<_, 64>(prop_oneof![1 => Just(b' '), w => any::<u8>()])
                }),
            ) {
                check_simd_block(&chunk, space_mask_scalar(&chunk));
            }
        }
    }
}
