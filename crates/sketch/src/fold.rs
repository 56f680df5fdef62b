//! Traditional → Simplified Chinese folding for sketches (normalization
//! version 2).
//!
//! A copy of a Simplified Chinese page in Traditional characters shares almost
//! no character n-grams with the original. For sketching (MinHash shingles
//! and LSH band keys, never for content identity) version 2 maps every Han
//! character to its Simplified form, character by character.
//!
//! **Where the mapping comes from.** The table is not typed by hand: it is
//! derived once per process (lazily, about 20 ms) from the OpenCC
//! dictionaries as shipped and applied by the `ferrous-opencc` crate
//! (Apache-2.0, a pure-Rust OpenCC; OpenCC's data is Apache-2.0). Every Han
//! code point (CJK Unified Ideographs and their extensions, CJK Compatibility
//! Ideographs) is converted on its own with OpenCC's `tw2s` configuration
//! (Taiwan variants, then `TSCharacters`) and, if that leaves it unchanged,
//! `hk2s` (Hong Kong variants, then `TSCharacters`); results of exactly one
//! character are kept, and the map is closed under itself (a character is
//! mapped to the end of its chain), so folding is idempotent:
//! `fold(fold(t)) == fold(t)`.
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
    TABLE.get_or_init(build_table)
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

fn build_table() -> Table {
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
    let dense: Vec<char> = (DENSE_START..=DENSE_END)
        .map(|u| char::from_u32(u).map_or('\u{FFFD}', close))
        .collect();
    let sparse: Vec<(char, char)> = pairs
        .iter()
        .map(|&(k, _)| (k, close(k)))
        .filter(|&(k, v)| {
            let u = u32::from(k);
            !(DENSE_START..=DENSE_END).contains(&u) && k != v
        })
        .collect();
    Table { dense, sparse }
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
pub(crate) fn fold_into(text: &str, out: &mut String) -> bool {
    out.clear();
    let bytes = text.as_bytes();
    // Han characters start with a byte >= 0xE3 (U+3400 is E3 90 80). Find
    // the first 64-byte block with such a byte (a vectorized max), then the
    // byte.
    let Some(block) = bytes
        .chunks(64)
        .position(|c| c.iter().copied().max().unwrap_or(0) >= 0xE3)
    else {
        return false;
    };
    let Some(first) = bytes
        .iter()
        .skip(block * 64)
        .position(|&b| b >= 0xE3)
        .map(|i| block * 64 + i)
    else {
        return false;
    };
    let t = table();
    let mut changed = false;
    let mut copied = 0; // bytes of `text` before this are in `out`
    let rest = text.get(first..).unwrap_or("");
    for (off, c) in rest.char_indices() {
        let u = u32::from(c);
        if u < DENSE_START {
            continue;
        }
        let f = t.get(c);
        if f != c {
            let at = first + off;
            if !changed {
                out.reserve(text.len());
                changed = true;
            }
            out.push_str(text.get(copied..at).unwrap_or(""));
            out.push(f);
            copied = at + c.len_utf8();
        }
    }
    if changed {
        out.push_str(text.get(copied..).unwrap_or(""));
    }
    changed
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
