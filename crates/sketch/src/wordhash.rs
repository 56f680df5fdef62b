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
//! 1. **Spans.** The text is copied into a padded buffer (8 zero bytes in
//!    front, a terminating space and zero bytes behind), so that every word's
//!    first and last 8 bytes can be read as two `u64`s without bounds
//!    branches. Spaces are found 64 bytes at a time as a bit mask (one vector
//!    compare); for each space the preceding word's `w0 = read64(start)`,
//!    `w1 = read64(end - 8)` and length are stored at slot `n`, and `n`
//!    advances only for non-empty words (branch-free compaction).
//! 2. **Short words** (1–16 bytes, nearly all of them): all three xxh3 short
//!    paths are computed from `(w0, w1, len)` and the right one is selected,
//!    eight words per AVX-512 register (the 64×64→128 multiply of the 9–16
//!    path is written with 32-bit halves so it vectorizes as `vpmuludq`).
//! 3. **Long words** (> 16 bytes, rare) are rehashed with the library.
//!
//! The test `batched_token_hashes_equal_xxh3` checks every length 0–40 and
//! random texts against `xxh3_64`.

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
/// the text in place, with edge fallbacks, measured 15% slower.)
#[derive(Debug, Default)]
pub(crate) struct WordScratch {
    padded: Vec<u8>,
    w0: Vec<u64>,
    w1: Vec<u64>,
    lens: Vec<u64>,
    /// (word index, start in `padded`, length) of words longer than 16 bytes.
    long: Vec<(usize, usize, usize)>,
}

/// Appends `xxh3_64(word)` of every word of `text` (maximal runs of bytes
/// other than b' '), in order, to `out`.
pub(crate) fn token_hashes_into(text: &[u8], s: &mut WordScratch, out: &mut Vec<u64>) {
    if text.is_empty() {
        return;
    }
    let len = text.len();
    // PAD zeros, the text, a terminating space, zeros up to a whole number of
    // 64-byte blocks after PAD, plus 8 more (for read64 at the last start).
    let blocks = (len + 1).div_ceil(64);
    let total = PAD + blocks * 64 + 8;
    s.padded.clear();
    s.padded.resize(PAD, 0);
    s.padded.extend_from_slice(text);
    s.padded.push(b' ');
    s.padded.resize(total, 0);
    // At most one word per two bytes (plus the last one); one spare slot for
    // the unconditional write of an empty word.
    let slots = len / 2 + 2;
    for v in [&mut s.w0, &mut s.w1, &mut s.lens] {
        if v.len() < slots {
            v.resize(slots, 0);
        }
    }
    s.long.clear();
    let n = spans(
        &s.padded,
        blocks,
        &mut s.w0,
        &mut s.w1,
        &mut s.lens,
        &mut s.long,
    );
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
            if let (Some(d), Some(word)) = (dst.get_mut(i), s.padded.get(start..start + l)) {
                *d = xxh3_64(word);
            }
        }
    }
}

#[inline(always)]
fn read64(buf: &[u8], at: usize) -> u64 {
    buf.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Pass 1 (see the module docs): word spans of `padded` as `(w0, w1, len)`
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
}
