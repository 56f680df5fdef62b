//! Traditional → Simplified Chinese folding for sketches (normalization
//! version 2).
//!
//! A copy of a Simplified Chinese page in Traditional characters shares almost
//! no character n-grams with the original. For sketching (MinHash shingles
//! and LSH band keys, never for content identity) version 2 maps every Han
//! character to its Simplified form, character by character.
//!
//! **Where the mapping comes from.** The table is not typed by hand: it is
//! derived from the OpenCC dictionaries as shipped and applied by the
//! `ferrous-opencc` crate
//! (Apache-2.0, a pure-Rust OpenCC; OpenCC's data is Apache-2.0). Every Han
//! code point (CJK Unified Ideographs and their extensions, CJK Compatibility
//! Ideographs) is converted on its own with OpenCC's `tw2s` configuration
//! (Taiwan variants, then `TSCharacters`) and, if that leaves it unchanged,
//! `hk2s` (Hong Kong variants, then `TSCharacters`); results of exactly one
//! character are kept, and the map is closed under itself (a character is
//! mapped to the end of its chain), so folding is idempotent:
//! `fold(fold(t)) == fold(t)`. Deriving it takes about 80 ms of CPU, paid by
//! every process that sketched a version 2 text (issue 17: 1.8 % of a
//! one-file build), so the result is stored in `src/fold_table.in` (written
//! by `examples/fold_table_gen.rs`); the test `stored_table_equals_opencc`
//! derives it again and compares.
//!
//! **Character level, on purpose.** OpenCC's phrase tables pick a Simplified
//! form from context (`乾隆` keeps `乾`, `乾燥` → `干燥`); a sketch only needs
//! the Simplified original and its Traditional copy to land on the *same*
//! tokens, and a context-free map does that with one table look-up per
//! character (the normalized text has one Han character per token anyway).
//! Where a Simplified text itself contains a character that the map folds
//! (`乾` → `干`), both the original and the copy fold it alike.
//!
//! **Stability.** The table is part of the definition of version 2 sketches.
//! `ferrous-opencc` is pinned to an exact version in `Cargo.toml`, and the
//! test `fold_table_is_pinned` checks the size and a digest of the table, so
//! an upgrade that changes any entry fails a test instead of silently changing
//! sketches.

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::normalize::NormalizationVersion;

/// First code point of the dense part of the table (CJK Extension A).
const DENSE_START: u32 = 0x3400;
/// Last code point of the dense part (end of CJK Unified Ideographs).
const DENSE_END: u32 = 0x9FFF;

/// Han code point ranges whose characters are looked up in OpenCC.
const HAN_RANGES: [(u32, u32); 5] = [
    (0x3400, 0x4DBF),   // Extension A
    (0x4E00, 0x9FFF),   // CJK Unified Ideographs
    (0xF900, 0xFAFF),   // Compatibility Ideographs
    (0x20000, 0x2FA1F), // Extensions B–F, Compatibility Supplement
    (0x30000, 0x323AF), // Extensions G–H
];

/// The folding table.
struct Table {
    /// `dense[c - DENSE_START]` = the folded form of `c` for U+3400–U+9FFF.
    dense: Vec<char>,
    /// Bit `i` set iff `dense[i]` differs from its key (3.4 KiB, stays in L1;
    /// most Han characters of a Simplified text do not fold, and this is all
    /// [`fold_into`] reads for them).
    changes: Vec<u64>,
    /// Other characters that fold, sorted by key.
    sparse: Vec<(char, char)>,
}

impl Table {
    #[inline]
    fn get(&self, c: char) -> char {
        let u = u32::from(c);
        if (DENSE_START..=DENSE_END).contains(&u) {
            return self
                .dense
                .get((u - DENSE_START) as usize)
                .copied()
                .unwrap_or(c);
        }
        match self.sparse.binary_search_by_key(&c, |&(k, _)| k) {
            Ok(i) => self.sparse.get(i).map_or(c, |&(_, v)| v),
            Err(_) => c,
        }
    }
}

static TABLE: OnceLock<Table> = OnceLock::new();

fn table() -> &'static Table {
    TABLE.get_or_init(|| {
        table_from_pairs(
            FOLD_PAIRS
                .iter()
                .filter_map(|&(k, v)| Some((char::from_u32(k)?, char::from_u32(v)?))),
        )
    })
}

/// The fold map as derived from OpenCC (see the module docs): every
/// character that folds and its (closed) folded form, sorted by key. This is
/// what [`FOLD_PAIRS`] must equal; it takes about 80 ms of CPU (two OpenCC
/// conversions of every Han code point), which is why the process uses the
/// stored copy instead. For the pinning test and `examples/fold_table_gen.rs`.
#[doc(hidden)]
#[must_use]
pub fn fold_pairs_from_opencc() -> Vec<(char, char)> {
    let pairs = opencc_pairs();
    let step = |c: char| -> char {
        match pairs.binary_search_by_key(&c, |&(k, _)| k) {
            Ok(i) => pairs.get(i).map_or(c, |&(_, v)| v),
            Err(_) => c,
        }
    };
    // Close the map: follow each chain to its end (bounded; a cycle, which
    // OpenCC's data does not have, stops at the smallest character in it, so
    // the result is still a deterministic idempotent map).
    let close = |c: char| -> char {
        let mut seen = vec![c];
        let mut x = c;
        for _ in 0..8 {
            let y = step(x);
            if y == x {
                return x;
            }
            if seen.contains(&y) {
                return seen.iter().copied().min().unwrap_or(c);
            }
            seen.push(y);
            x = y;
        }
        x
    };
    // Every key of a chain is a key of `pairs` (a character that does not
    // step does not fold), so closing the keys of `pairs` gives every
    // character that folds.
    pairs
        .iter()
        .map(|&(k, _)| (k, close(k)))
        .filter(|&(k, v)| k != v)
        .collect()
}

/// The stored fold map, `(key, folded)` as code points sorted by key: the
/// output of [`fold_pairs_from_opencc`] (checked by the test
/// `stored_table_equals_opencc`), written by `examples/fold_table_gen.rs`.
const FOLD_PAIRS: &[(u32, u32)] = &include!("fold_table.in");

/// The lookup table of a fold map (pairs sorted by key, every key folding).
fn table_from_pairs(pairs: impl Iterator<Item = (char, char)>) -> Table {
    let mut dense: Vec<char> = (DENSE_START..=DENSE_END)
        .map(|u| char::from_u32(u).unwrap_or('\u{FFFD}'))
        .collect();
    let mut changes = vec![0u64; dense.len().div_ceil(64)];
    let mut sparse = Vec::new();
    for (k, v) in pairs {
        let u = u32::from(k);
        if (DENSE_START..=DENSE_END).contains(&u) {
            let i = (u - DENSE_START) as usize;
            if let Some(slot) = dense.get_mut(i) {
                *slot = v;
            }
            if let Some(w) = changes.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        } else {
            sparse.push((k, v));
        }
    }
    Table {
        dense,
        changes,
        sparse,
    }
}

/// Converts every Han code point on its own with OpenCC; returns the raw
/// one-step map (only changed characters).
fn opencc_pairs() -> Vec<(char, char)> {
    use ferrous_opencc::OpenCC;
    use ferrous_opencc::config::BuiltinConfig;

    let mut input = String::new();
    let mut keys = Vec::new();
    for (lo, hi) in HAN_RANGES {
        for u in lo..=hi {
            if let Some(c) = char::from_u32(u) {
                keys.push(c);
                input.push(c);
                input.push('\n');
            }
        }
    }
    let convert = |config: BuiltinConfig| -> Option<Vec<Option<char>>> {
        let cc = OpenCC::from_config(config).ok()?;
        let out = cc.convert(&input);
        let lines: Vec<&str> = out.split('\n').collect();
        // One line per key plus the empty one after the last newline.
        if lines.len() != keys.len() + 1 {
            return None;
        }
        Some(
            lines
                .iter()
                .map(|l| {
                    let mut it = l.chars();
                    match (it.next(), it.next()) {
                        (Some(c), None) => Some(c),
                        _ => None,
                    }
                })
                .collect(),
        )
    };
    let (Some(tw), Some(hk)) = (convert(BuiltinConfig::Tw2s), convert(BuiltinConfig::Hk2s)) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for ((&k, t), h) in keys.iter().zip(tw).zip(hk) {
        let v = match (t, h) {
            (Some(t), _) if t != k => t,
            (_, Some(h)) => h,
            _ => k,
        };
        if v != k {
            pairs.push((k, v));
        }
    }
    pairs
}

/// The Simplified form of one character for sketching (see the module docs);
/// characters that do not fold map to themselves.
#[must_use]
pub fn fold_char(c: char) -> char {
    if u32::from(c) < DENSE_START {
        return c;
    }
    table().get(c)
}

/// The text a MinHash sketch of `normalized` (text normalized with `version`)
/// is computed from: for version 1 the text itself; for version 2 the text
/// with every Han character folded to its Simplified form
/// ([`fold_char`]). Borrowed when nothing changes (always for text without
/// Han characters).
#[must_use]
pub fn fold_for_sketch(version: NormalizationVersion, normalized: &str) -> Cow<'_, str> {
    if version == NormalizationVersion::V1 {
        return Cow::Borrowed(normalized);
    }
    let mut out = String::new();
    if fold_into(normalized, &mut out) {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(normalized)
    }
}

/// Writes the folded form of `text` to `out` (cleared first) and returns
/// `true`, or returns `false` (leaving `out` empty) if folding changes
/// nothing.
///
/// Only characters from U+3400 on can fold, and their UTF-8 lead bytes are
/// exactly the bytes >= 0xE3 that start a character of U+3400 or above
/// (continuation bytes are < 0xC0). The text is read 64 bytes at a time: a
/// bit mask of the bytes >= 0xE3 (a vector compare), then one step per set
/// bit, with no per-character branch on ASCII vs. multi-byte (which mispredicts
/// in the alternation of Han characters, spaces and Latin words of normalized
/// text). A character of U+3400–U+9FFF (3 bytes, lead 0xE3–0xE9) is decoded
/// from its bytes and checked in the 3.4 KiB `changes` bit map; only if it
/// folds is the 108 KiB dense table read. Others (U+A000 and above) go
/// through [`Table::get`].
pub(crate) fn fold_into(text: &str, out: &mut String) -> bool {
    out.clear();
    fold_blocks(text, table(), out)
}

/// The loop of [`fold_into`], compiled for the vector extensions this CPU has
/// (the 64-byte compare is one `vpcmpub` + `kmovq` with AVX-512BW).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl+avx512bw",
    "x86_64+avx2",
    "x86_64+sse4.1"
))]
fn fold_blocks(text: &str, t: &Table, out: &mut String) -> bool {
    let bytes = text.as_bytes();
    let mut changed = false;
    let mut copied = 0; // bytes of `text` before this are in `out`
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let mut m = lead_mask(chunk);
        while m != 0 {
            let at = block * 64 + m.trailing_zeros() as usize;
            m &= m - 1;
            let b0 = bytes.get(at).copied().unwrap_or(0);
            let (c, f) = if b0 <= 0xE9 {
                // 3 bytes: 1110xxxx 10xxxxxx 10xxxxxx.
                let b1 = bytes.get(at + 1).copied().unwrap_or(0);
                let b2 = bytes.get(at + 2).copied().unwrap_or(0);
                let u = (u32::from(b0 & 0x0F) << 12)
                    | (u32::from(b1 & 0x3F) << 6)
                    | u32::from(b2 & 0x3F);
                let Some(i) = u.checked_sub(DENSE_START) else {
                    continue; // U+3000–U+33FF: never folds
                };
                let i = i as usize;
                let bit = t.changes.get(i / 64).map_or(0, |w| (w >> (i % 64)) & 1);
                if bit == 0 {
                    continue;
                }
                let Some(c) = char::from_u32(u) else { continue };
                (c, t.dense.get(i).copied().unwrap_or(c))
            } else {
                let Some(c) = text.get(at..).and_then(|r| r.chars().next()) else {
                    continue;
                };
                (c, t.get(c))
            };
            if f != c {
                if !changed {
                    out.reserve(text.len());
                    changed = true;
                }
                out.push_str(text.get(copied..at).unwrap_or(""));
                out.push(f);
                copied = at + c.len_utf8();
            }
        }
    }
    if changed {
        out.push_str(text.get(copied..).unwrap_or(""));
    }
    changed
}

/// Bit `i` set iff `chunk[i] >= 0xE3` (`chunk` at most 64 bytes).
#[inline(always)]
fn lead_mask(chunk: &[u8]) -> u64 {
    if let Ok(full) = <&[u8; 64]>::try_from(chunk) {
        // Most blocks of most texts hold no such byte: a maximum is a few
        // vector instructions, while the bit mask below compiles to many
        // more without AVX-512 (no `vpmovmskb`).
        if full.iter().fold(0, |a, &b| a.max(b)) < 0xE3 {
            return 0;
        }
        let mut m = 0u64;
        for (i, &b) in full.iter().enumerate() {
            m |= u64::from(b >= 0xE3) << i;
        }
        m
    } else {
        let mut m = 0u64;
        for (i, &b) in chunk.iter().enumerate().take(64) {
            m |= u64::from(b >= 0xE3) << i;
        }
        m
    }
}

/// Size and FNV-1a digest of the folding table (for the pinning test).
#[doc(hidden)]
#[must_use]
pub fn fold_table_digest() -> (usize, u64) {
    let t = table();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut n = 0;
    let mut eat = |k: char, v: char| {
        for x in [u32::from(k), u32::from(v)] {
            for b in x.to_le_bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    };
    for (i, &v) in t.dense.iter().enumerate() {
        if let Some(k) = u32::try_from(i)
            .ok()
            .and_then(|i| char::from_u32(DENSE_START + i))
            && k != v
        {
            eat(k, v);
            n += 1;
        }
    }
    for &(k, v) in &t.sparse {
        eat(k, v);
        n += 1;
    }
    (n, h)
}

#[cfg(test)]
mod tests {
    use super::{FOLD_PAIRS, fold_char, fold_into, fold_pairs_from_opencc};

    /// The stored map is what OpenCC's data gives today (regenerate it with
    /// `examples/fold_table_gen.rs` if the pinned `ferrous-opencc` changes).
    #[test]
    fn stored_table_equals_opencc() {
        let derived: Vec<(u32, u32)> = fold_pairs_from_opencc()
            .into_iter()
            .map(|(k, v)| (u32::from(k), u32::from(v)))
            .collect();
        assert!(derived.len() > 4000, "{} pairs", derived.len());
        assert_eq!(derived.as_slice(), FOLD_PAIRS);
    }

    /// The per-character reference: every character through [`fold_char`].
    fn reference(text: &str) -> String {
        text.chars().map(fold_char).collect()
    }

    fn check(text: &str) {
        let mut out = String::new();
        let changed = fold_into(text, &mut out);
        let want = reference(text);
        if changed {
            assert_eq!(out, want, "input {text:?}");
        } else {
            assert!(out.is_empty());
            assert_eq!(text, want, "input {text:?}");
        }
    }

    /// Every character of U+3000–U+FFFF and a sample of the supplementary
    /// planes, at every offset modulo 64 and next to ASCII, 2-byte and 4-byte
    /// characters.
    #[test]
    fn fold_into_equals_per_character_fold() {
        let mut chars: Vec<char> = (0x3000..=0xFFFF).filter_map(char::from_u32).collect();
        chars.extend((0x1_F000..0x3_2400).step_by(7).filter_map(char::from_u32));
        chars.extend([
            '\u{2F800}',
            '\u{2F801}',
            '\u{2FA1D}',
            '\u{20000}',
            '\u{323AF}',
        ]);
        for pad in 0..67 {
            let mut text = "a".repeat(pad);
            for (n, &c) in chars.iter().enumerate() {
                text.push(c);
                match n % 5 {
                    0 => text.push(' '),
                    1 => text.push('é'),
                    2 => text.push_str("xy "),
                    3 => text.push('\u{1F600}'),
                    _ => {}
                }
            }
            check(&text);
            // Truncated at a character boundary near every 64-byte edge.
            for end in (60..200).filter(|&e| text.is_char_boundary(e)) {
                check(text.get(..end).unwrap_or(""));
            }
        }
        // A folding character alone among ASCII bytes, at every offset of
        // two 64-byte blocks: a few keys of each UTF-8 lead byte.
        let mut per_lead = std::collections::BTreeMap::<u8, usize>::new();
        for c in FOLD_PAIRS.iter().filter_map(|&(k, _)| char::from_u32(k)) {
            let lead = c.to_string().as_bytes()[0];
            let seen = per_lead.entry(lead).or_default();
            if *seen == 3 {
                continue;
            }
            *seen += 1;
            for at in 0..130 {
                let mut text = "x".repeat(at);
                text.push(c);
                text.push_str(&"y".repeat(130 - at));
                check(&text);
            }
        }
        assert!(per_lead.len() >= 8, "{per_lead:?}");
        for s in [
            "",
            "a",
            "軟",
            "軟體 ab",
            "abc def",
            "乾 隆 乾 燥",
            "門",
            "é門",
        ] {
            check(s);
        }
    }
}
