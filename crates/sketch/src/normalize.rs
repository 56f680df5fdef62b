//! Text normalization, versions 1 and 2 ([`NormalizationVersion`]).
//!
//! [`normalize_with`] is the single definition used at index-build time and at
//! query time; [`normalize`] is `normalize_with(V1, ..)`, kept for the code
//! that predates version 2. Its output is what every content identity
//! (`content_id`, SHA-256, token count, MinHash shingles) is computed from.
//!
//! # Version 1
//!
//! Version 1 is defined as:
//!
//! 1. **NFKC.** The input is put in Unicode Normalization Form KC
//!    (compatibility decomposition followed by canonical composition), so
//!    ligatures (`ﬁ` → `fi`), full-width forms (`Ａ` → `A`), super/subscripts
//!    (`²` → `2`), circled digits (`①` → `1`) and similar compatibility
//!    variants fold to their plain forms. Inputs that are all ASCII, or that
//!    pass the NFKC quick check, skip this step (it would not change them).
//! 2. **Lowercase.** Every character is replaced by its full Unicode lowercase
//!    mapping ([`char::to_lowercase`], context-free: a final capital sigma
//!    becomes `σ`, not `ς`; `İ` becomes `i` + U+0307). If lowercasing produced
//!    text that is no longer in NFKC, NFKC is applied again (this keeps the
//!    function idempotent).
//! 3. **Word characters.** A character is a *word character* if it is
//!    alphanumeric ([`char::is_alphanumeric`]: Unicode `Alphabetic` or
//!    `Numeric`), or if it is a combining mark (`General_Category=Mark`) that
//!    directly follows a word character (so `i̇`, Devanagari viramas and
//!    similar marks stay inside their word instead of splitting it).
//!    Every other character — ASCII and Unicode punctuation, symbols, emoji,
//!    control characters, all whitespace, and combining marks not attached to
//!    a word — is a *separator*.
//! 4. **Collapse and trim.** Each maximal run of separators becomes a single
//!    ASCII space `' '` (U+0020); leading and trailing separators are dropped.
//!
//! So the output is empty or a sequence of non-empty words of word characters
//! joined by single ASCII spaces, with no leading or trailing space. Examples:
//! `"Hello, World!"` → `"hello world"`, `"don't"` → `"don t"`,
//! `"ﬁnancial ＡＢＣ"` → `"financial abc"`, `"e-mail\t\n  x"` → `"e mail x"`.
//!
//! The function is total (never panics) and idempotent:
//! `normalize(&normalize(s)) == normalize(s)`.
//!
//! Stability note: the character properties come from the Unicode tables of
//! the `unicode-normalization` crate and of Rust's `std`. For characters
//! assigned in Unicode 15 and earlier these do not change between releases;
//! characters assigned later may normalize differently on older toolchains.
//!
//! # Version 2 (issue 16: scripts written without spaces)
//!
//! Version 1 makes a whole Chinese clause between two punctuation marks one
//! word. Version 2 is version 1 plus one rule, applied in step 3:
//!
//! 3b. **Characters of scripts written without spaces are words of their
//!     own.** A word character `c` that is not an attached combining mark is
//!     a *no-space character* if its Unicode `Script` is one of Han,
//!     Hiragana, Katakana, Bopomofo, Yi, Thai, Lao, Khmer, Myanmar, Tai Tham,
//!     Tai Le, New Tai Lue, Tai Viet, Balinese, Javanese, Tangut, Nushu or
//!     Khitan Small Script — scripts whose text does not mark word boundaries
//!     with spaces — or if its `Script` is Common or Inherited and its
//!     `Script_Extensions` name one of them (e.g. the prolonged sound mark
//!     `ー`, the kana iteration marks). A no-space character starts a new
//!     word, and the word it starts ends after it and the combining marks
//!     that directly follow it (Thai vowel and tone marks, Myanmar medials,
//!     variation selectors stay with their base character). Tibetan, Korean
//!     Hangul and all other scripts keep the version 1 rule: they separate
//!     words with spaces or punctuation (Tibetan's tsheg `་` is punctuation).
//!
//! So Chinese, Japanese and Thai text becomes a sequence of one-character
//! words, and shingles over it are character n-grams, while Latin words and
//! numbers inside it stay whole: `"用Rust写的ＡＰＩ，版本2.0"` →
//! `"用 rust 写 的 api 版 本 2 0"`. Version 2 output is exactly version 1
//! output with a space inserted at each such word boundary. Token counts
//! ([`token_count_with`]) therefore count each such character.
//!
//! Version 2 does **not** fold Traditional to Simplified Chinese: the
//! normalized text stays what the page says, and content identity
//! (`content_id`, SHA-256) is computed over it. The fold is applied only for
//! sketching, by [`crate::MinHasher`] for a version 2 spec (see
//! [`crate::fold_for_sketch`] and the crate README for why).
//!
//! Character properties: `Script` and `Script_Extensions` come from the
//! `unicode-script` crate's tables (Unicode 16 in 0.5.9); the same stability
//! note as above applies.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use unicode_script::{Script, UnicodeScript};

/// Version of [`normalize`] (version 1). Index manifests record the version
/// their contents were normalized with; use [`NormalizationVersion`] and
/// [`normalize_with`] for code that handles both versions.
pub const NORMALIZATION_VERSION: u32 = 1;

/// A version of the text normalization. Part of every [`crate::SketchSpec`]
/// (text form `norm=1` / `norm=2`) and recorded in index manifests; an index
/// answers queries with the version it was built with.
///
/// `Default` is [`NormalizationVersion::V1`]: the version a record that names
/// no version (a manifest or spec written before version 2 existed) was made
/// with, so `#[serde(default)]` on a manifest field reads old manifests
/// correctly. The version for *new* indexes is [`NormalizationVersion::LATEST`].
/// Serialized (serde) as its number, `1` or `2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum NormalizationVersion {
    /// Version 1: NFKC, lowercase, non-alphanumerics to single spaces.
    #[default]
    V1,
    /// Version 2: version 1, and every character of a script written without
    /// spaces (Han, kana, Thai, …) is a word of its own; sketches fold
    /// Traditional to Simplified Chinese.
    V2,
}

impl NormalizationVersion {
    /// The newest version, for new indexes.
    pub const LATEST: Self = Self::V2;
    /// Every version this build implements, oldest first.
    pub const ALL: [Self; 2] = [Self::V1, Self::V2];

    /// The version number (`1`, `2`), as written in spec texts and manifests.
    #[must_use]
    pub const fn number(self) -> u32 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }

    /// The version with this number, if this build implements it.
    #[must_use]
    pub const fn from_number(n: u32) -> Option<Self> {
        match n {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            _ => None,
        }
    }
}

impl std::fmt::Display for NormalizationVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl serde::Serialize for NormalizationVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.number())
    }
}

impl<'de> serde::Deserialize<'de> for NormalizationVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = <u32 as serde::Deserialize>::deserialize(d)?;
        Self::from_number(n).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "normalization version {n} is not supported (this build implements 1 and 2)"
            ))
        })
    }
}

/// Normalizes `text` with normalization version 1 (see the module docs).
/// The same as `normalize_with(NormalizationVersion::V1, text)`.
#[must_use]
pub fn normalize(text: &str) -> String {
    normalize_with(NormalizationVersion::V1, text)
}

/// Normalizes `text` with the given version (see the module docs).
#[must_use]
pub fn normalize_with(version: NormalizationVersion, text: &str) -> String {
    let v2 = version == NormalizationVersion::V2;
    let (mut out, mut is_nfkc) = normalize_round(text, v2);
    // Lowercasing can (rarely) leave text that is not in NFKC; apply the whole
    // round again until it is. Two extra rounds are more than Unicode needs;
    // the bound only keeps the loop finite.
    for _ in 0..2 {
        if is_nfkc {
            break;
        }
        let (again, again_nfkc) = normalize_round(&out, v2);
        is_nfkc = again_nfkc || again == out;
        out = again;
    }
    out
}

/// The start of `normalize_with(version, text)`: at least its first
/// `min_bytes` bytes, or all of it when it is shorter, normalizing only as
/// much of `text` as that takes (a content preview of a long text).
///
/// Normalization is local: `text` cut just before an ASCII character
/// normalizes to a prefix of the whole text's normalization (NFKC does not
/// compose across an ASCII character, lowercasing is per character, a
/// combining mark attaches only to what precedes it, and the separators at
/// the cut either are trimmed or collapse to the one space that follows).
#[must_use]
pub fn normalized_prefix(version: NormalizationVersion, text: &str, min_bytes: usize) -> String {
    let mut take = min_bytes.saturating_mul(4).max(256);
    loop {
        let Some(cut) = text
            .as_bytes()
            .get(take..)
            .and_then(|rest| rest.iter().position(u8::is_ascii))
            .map(|at| take + at)
        else {
            return normalize_with(version, text);
        };
        let out = normalize_with(version, &text[..cut]);
        if out.len() >= min_bytes {
            return out;
        }
        take = cut.saturating_mul(2);
    }
}

/// Steps 1–4 once. Returns the output and whether it is known to be NFKC.
///
/// Fast path: NFKC distributes over segments that start with an ASCII
/// character (ASCII characters are starters that never compose with what
/// precedes them), so the text is cut into pure-ASCII runs, handled byte-wise,
/// and short mixed segments — a non-ASCII run plus the one ASCII character
/// before it (a possible composition base, e.g. `e` + U+0301) — that go
/// through the full Unicode path. Output is the same as running the full path
/// on the whole text. A mixed segment whose characters need no normalization
/// and no case mapping beyond one character (most of Latin, Greek, Cyrillic,
/// Arabic, kana and Hangul text) is classified from a cached per-character
/// table instead ([`Filter::simple_segment`]).
fn normalize_round(text: &str, v2: bool) -> (String, bool) {
    let bytes = text.as_bytes();
    let mut f = Filter {
        // Version 2 inserts a space after (nearly) every CJK character: 4
        // output bytes per 3 input bytes.
        out: String::with_capacity(if v2 {
            text.len() + text.len() / 3
        } else {
            text.len()
        }),
        pending_space: false,
        in_word: false,
        v2,
        isolated: false,
    };
    let mut is_nfkc = true;
    let mut i = 0;
    while i < bytes.len() {
        // Next non-ASCII byte at or after i.
        let mut p = next_non_ascii(bytes, i);
        // Characters that, like ASCII, are NFKC segment boundaries and need
        // no Unicode lookups: CJK ideographs (version 2; emitted directly as
        // one-character words) and common punctuation (separators; see
        // `simple_separator`). A run of them is handled here.
        if let Some(kind) = fast_char_at(bytes, p, v2) {
            if let Some(run) = bytes.get(i..p) {
                f.ascii(run);
            }
            let mut kind = Some(kind);
            while let Some(k) = kind {
                match k {
                    Fast::Ideograph => {
                        if let Some(han) = text.get(p..p + 3) {
                            f.ideograph(han);
                        }
                    }
                    Fast::Separator => f.separator(),
                }
                p += 3;
                kind = fast_char_at(bytes, p, v2);
            }
            i = p;
            continue;
        }
        // ASCII run [i, seg_start); the ASCII char just before p (if any in
        // this run) joins the mixed segment as a possible composition base.
        let seg_start = if p < bytes.len() && p > i { p - 1 } else { p };
        if let Some(run) = bytes.get(i..seg_start) {
            f.ascii(run);
        }
        if p >= bytes.len() {
            break;
        }
        // Mixed segment ends before the first ASCII byte that is followed by
        // another ASCII byte or the end of the text, and before a fast
        // character (see above).
        let mut q = p;
        while q < bytes.len() {
            let here = bytes.get(q).is_some_and(u8::is_ascii);
            let next = bytes.get(q + 1).is_none_or(u8::is_ascii);
            if here && next {
                break;
            }
            if q > p && fast_char_at(bytes, q, v2).is_some() {
                break;
            }
            q += 1;
        }
        if let Some(seg) = text.get(seg_start..q) {
            if f.simple_segment(seg) {
                i = q;
                continue;
            }
            let before = f.out.len();
            if is_nfkc_quick(seg.chars()) == IsNormalized::Yes {
                f.chars(seg.chars());
            } else {
                f.chars(seg.nfkc());
            }
            if let Some(produced) = f.out.get(before..)
                && !produced.is_ascii()
                && is_nfkc_quick(produced.chars()) != IsNormalized::Yes
            {
                is_nfkc = false;
            }
        }
        i = q;
    }
    (f.out, is_nfkc)
}

/// Index of the first non-ASCII byte at or after `from`, or `bytes.len()`;
/// 32 bytes per step (a vector OR), then eight.
#[inline]
fn next_non_ascii(bytes: &[u8], from: usize) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = from;
    let mut blocks = bytes.get(from..).unwrap_or_default().chunks_exact(32);
    for block in &mut blocks {
        if block.iter().fold(0, |any, &b| any | b) & 0x80 != 0 {
            break;
        }
        at += 32;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        if w & HIGH != 0 {
            return at + (w & HIGH).trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|b| !b.is_ascii())
        .map_or(bytes.len(), |off| at + off)
}

/// A character [`normalize_round`] handles without Unicode lookups.
#[derive(Clone, Copy)]
enum Fast {
    /// Version 2: a CJK ideograph.
    Ideograph,
    /// A separator of [`simple_separator`].
    Separator,
}

/// What the three-byte character at `p` is, if it is a [`Fast`] one: a CJK
/// Unified Ideograph (U+4E00–U+9FFF) or Extension A (U+3400–U+4DBF) with
/// version 2 — a starter that never composes with what precedes or follows
/// it and is its own NFKC, lowercase and NFKC quick-check "Yes" — or a
/// [`simple_separator`].
#[inline]
fn fast_char_at(bytes: &[u8], p: usize, v2: bool) -> Option<Fast> {
    let b = bytes.get(p..p + 3)?;
    let (b0, b1, b2) = (*b.first()?, *b.get(1)?, *b.get(2)?);
    if b0 & 0xF0 != 0xE0 || b1 & 0xC0 != 0x80 || b2 & 0xC0 != 0x80 {
        return None;
    }
    let u = (u32::from(b0 & 0x0F) << 12) | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
    if v2 && ((0x4E00..=0x9FFF).contains(&u) || (0x3400..=0x4DBF).contains(&u)) {
        return Some(Fast::Ideograph);
    }
    simple_separator(u).then_some(Fast::Separator)
}

/// Punctuation common in CJK and typeset text (general punctuation, arrows,
/// CJK symbols, full- and half-width forms) whose NFKC is one or more
/// starters that are separators and that never compose with what precedes
/// them; what follows composes only as `→` + U+0338 → `↛` and the like, a
/// separator again. So, like an ASCII punctuation mark, such a character is
/// an NFKC segment boundary and a separator in both versions: the same output
/// as the full path (checked for each of them in the tests).
#[inline]
fn simple_separator(u: u32) -> bool {
    matches!(
        u,
        0x2010..=0x2016
            | 0x2018..=0x2027
            | 0x2030..=0x203D
            | 0x203F..=0x205E
            | 0x2190..=0x21FF
            | 0x3000..=0x3003
            | 0x3008..=0x3011
            | 0x3014..=0x301F
            | 0xFF01..=0xFF0F
            | 0xFF1A..=0xFF20
            | 0xFF3B..=0xFF40
            | 0xFF5B..=0xFF65
    )
}

/// `ASCII_MAP[b]` is the lowercase of `b` if `b` is an ASCII alphanumeric,
/// else 0 (a separator).
const ASCII_MAP: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    t
};

/// Input bytes per step of [`Filter::ascii`]'s stack buffer: 256 costs
/// 13 % less than 64 on page texts (fewer `str` checks and appends; 1024
/// is slower again), and the same on Chinese text, whose ASCII runs are
/// short.
const ASCII_CHUNK: usize = 256;

/// The high bit of every byte of a `u64`.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Input bytes per block of [`ascii_chunk`].
const BLOCK: usize = 64;

/// [`Filter::ascii`] on at most [`ASCII_CHUNK`] bytes: writes to `buf` each
/// byte mapped (a word byte lowercased, another a space) that is a word byte
/// or follows one (`prev_word`: the byte before `chunk` is a word byte);
/// returns the bytes written and whether the last byte is a word byte.
/// Compiled for the vector extensions this CPU has: the chunk is mapped in
/// vector registers, 64 bytes at a time, then the kept bytes are copied 64
/// at a time, from the start of each run of them (no branch per byte
/// where two separators follow each other, as `", "` and `". "` do).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl", "x86_64+avx2"))]
fn ascii_chunk(
    chunk: &[u8],
    buf: &mut [u8; ASCII_CHUNK + BLOCK],
    prev_word: bool,
) -> (usize, bool) {
    // The chunk mapped, then zeros: a copy of 64 bytes from any start stays
    // inside. Mapped in a pass of its own, so the copies do not load what
    // was just stored.
    let mut mapped = [0u8; ASCII_CHUNK + BLOCK];
    let mut blocks = chunk.chunks_exact(BLOCK);
    let mut to = mapped.chunks_exact_mut(BLOCK);
    for (block, m) in (&mut blocks).zip(&mut to) {
        if let (Ok(block), Ok(m)) = (block.try_into(), m.try_into()) {
            map_block(block, m);
        }
    }
    let rest = blocks.remainder();
    if let Some(Ok(m)) = to
        .next()
        .filter(|_| !rest.is_empty())
        .map(<&mut [u8; BLOCK]>::try_from)
    {
        let mut padded = [0u8; BLOCK];
        if let Some(p) = padded.get_mut(..rest.len()) {
            p.copy_from_slice(rest);
        }
        map_block(&padded, m);
    }
    let mut o = 0;
    let mut prev = u64::from(prev_word);
    for start in (0..chunk.len()).step_by(BLOCK) {
        let len = chunk.len() - start;
        // Bit i set iff byte `start + i` is a word byte: mapped, it is above
        // b' ' (and at most b'z', so adding 0x5F carries into no other
        // byte).
        let mut word = 0u64;
        let eights = mapped.get(start..start + BLOCK).unwrap_or_default();
        for (k, eight) in eights.chunks_exact(8).take(len.div_ceil(8)).enumerate() {
            let x = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
            let high = x.wrapping_add(0x5F5F_5F5F_5F5F_5F5F) & HIGH_BITS;
            // Gathers the eight high bits into one byte, byte j to bit j.
            word |= ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
        }
        let len = len.min(BLOCK);
        let valid = u64::MAX >> (BLOCK - len);
        let keep = word | (word << 1) | prev;
        prev = (word >> (len - 1)) & 1;
        // Each run of kept bytes is copied with the 64 bytes from its
        // start; what follows it is overwritten by the next copy or not
        // read.
        let mut dropped = !keep & valid;
        let mut from = start;
        while dropped != 0 {
            let at = start + dropped.trailing_zeros() as usize;
            dropped &= dropped - 1;
            copy_block(buf, o, &mapped, from);
            o += at - from;
            from = at + 1;
        }
        copy_block(buf, o, &mapped, from);
        o += start + len - from;
    }
    (o, prev != 0)
}

/// Each byte of `block` (64) to `mapped`: a word byte lowercased, another a
/// space.
#[inline(always)]
fn map_block(block: &[u8; BLOCK], mapped: &mut [u8; BLOCK]) {
    for (m, &b) in mapped.iter_mut().zip(block) {
        // The letters' lowercase; digits have the 0x20 bit already.
        let l = b | 0x20;
        let word = l.wrapping_sub(b'a') < 26 || b.wrapping_sub(b'0') < 10;
        *m = if word { l } else { b' ' };
    }
}

/// `buf[o..o + 64] = mapped[from..from + 64]`.
#[inline(always)]
fn copy_block(
    buf: &mut [u8; ASCII_CHUNK + BLOCK],
    o: usize,
    mapped: &[u8; ASCII_CHUNK + BLOCK],
    from: usize,
) {
    if let (Some(dst), Some(src)) = (buf.get_mut(o..o + BLOCK), mapped.get(from..from + BLOCK)) {
        dst.copy_from_slice(src);
    }
}

/// Steps 2–4 as a state machine over characters.
#[cfg_attr(test, derive(Clone, Debug, PartialEq))]
struct Filter {
    out: String,
    /// A separator was seen since the last word character.
    pending_space: bool,
    /// The last character seen was a word character.
    in_word: bool,
    /// Version 2 rules (step 3b).
    v2: bool,
    /// Version 2: the current word is a no-space character (plus attached
    /// marks), so the next word character that is not an attached mark
    /// starts a new word.
    isolated: bool,
}

impl Filter {
    #[inline]
    fn word_char(&mut self, c: char) {
        if self.pending_space {
            self.out.push(' ');
            self.pending_space = false;
        }
        self.out.push(c);
        self.in_word = true;
    }

    #[inline]
    fn separator(&mut self) {
        self.in_word = false;
        self.isolated = false;
        self.pending_space = !self.out.is_empty();
    }

    /// Version 2: a CJK ideograph (the same as `word_char_v2(c, true)`).
    #[inline]
    fn ideograph(&mut self, han: &str) {
        if self.pending_space || self.in_word {
            self.out.push(' ');
            self.pending_space = false;
        }
        self.out.push_str(han);
        self.in_word = true;
        self.isolated = true;
    }

    /// Version 2: a word character `c` that is not an attached mark.
    #[inline]
    fn word_char_v2(&mut self, c: char, no_space: bool) {
        if self.isolated || (no_space && self.in_word) {
            self.pending_space = true;
        }
        self.word_char(c);
        self.isolated = no_space;
    }

    /// A run of ASCII bytes, eight at a time.
    ///
    /// Spaces are written eagerly here: the first separator after a word
    /// becomes a space at once (later separators of the run write nothing),
    /// and a space left at the end of the run is taken back and becomes
    /// `pending_space` again. So a byte is kept if it or the byte before it
    /// is a word byte, and the kept bytes are copied a block of 64 at a time
    /// ([`ascii_chunk`]). The same output as [`Self::ascii_bytewise`] (the
    /// proptest `ascii_equals_bytewise`).
    fn ascii(&mut self, run: &[u8]) {
        let Some(&last) = run.last() else {
            return;
        };
        if self.isolated {
            // Version 2: the word before is a no-space character; an ASCII
            // word character after it starts a new word (and a separator
            // would set `pending_space` anyway).
            self.pending_space = true;
            self.isolated = false;
        }
        // A pending space (the text is not empty) is written now; a
        // separator after it adds nothing.
        let mut prev_word = self.in_word && !self.pending_space;
        if self.pending_space {
            self.out.push(' ');
        }
        // Through a stack buffer: runs in CJK text are short, and a heap
        // scratch buffer cost more to clear and size than the loop.
        let mut buf = [0u8; ASCII_CHUNK + BLOCK];
        for chunk in run.chunks(ASCII_CHUNK) {
            let o;
            (o, prev_word) = ascii_chunk(chunk, &mut buf, prev_word);
            // ASCII by construction, so this check takes the ASCII fast path.
            if let Some(Ok(kept)) = buf.get(..o).map(std::str::from_utf8) {
                self.out.push_str(kept);
            }
        }
        self.in_word = ASCII_MAP.get(usize::from(last)).is_some_and(|&m| m != 0);
        if !self.in_word && self.out.ends_with(' ') {
            // The run ends in separators: the space they wrote waits for a
            // next word.
            self.out.pop();
        }
        self.pending_space = !self.in_word && !self.out.is_empty();
    }

    /// [`Self::ascii`] one byte at a time (its definition, for the tests).
    #[cfg(test)]
    fn ascii_bytewise(&mut self, run: &[u8]) {
        for &b in run {
            let m = ASCII_MAP.get(usize::from(b)).copied().unwrap_or(0);
            if m == 0 {
                self.separator();
            } else if self.v2 {
                self.word_char_v2(char::from(m), false);
            } else {
                self.word_char(char::from(m));
            }
        }
    }

    /// Lowercases and classifies (already NFKC) characters.
    fn chars(&mut self, chars: impl Iterator<Item = char>) {
        if self.v2 {
            self.chars_v2(chars);
            return;
        }
        for c in chars {
            if c.is_ascii() {
                if c.is_ascii_alphanumeric() {
                    self.word_char(c.to_ascii_lowercase());
                } else {
                    self.separator();
                }
            } else {
                for l in c.to_lowercase() {
                    if l.is_alphanumeric()
                        || (self.in_word && unicode_normalization::char::is_combining_mark(l))
                    {
                        self.word_char(l);
                    } else {
                        self.separator();
                    }
                }
            }
        }
    }
}

impl Filter {
    /// A mixed segment of ASCII and characters of the Basic Multilingual
    /// Plane (Latin, Greek, Cyrillic, Arabic, kana, Hangul, …) that are all
    /// [`CharInfo::SIMPLE`], through [`char_info`] instead of the Unicode
    /// lookups: returns `true` if it did the segment, or `false`, with
    /// nothing written, if the segment has another character.
    ///
    /// The same output as the full path: a simple character is NFKC quick
    /// check "Yes" with combining class 0, which `is_nfkc_quick` treats as it
    /// treats ASCII, so the segment is "Yes" and is not normalized; its
    /// lowercase is one simple character too, so what is produced is "Yes"
    /// as well; and each character is classified as [`Self::chars`] would
    /// from the same properties (stored in the table).
    fn simple_segment(&mut self, seg: &str) -> bool {
        let saved = (
            self.out.len(),
            self.pending_space,
            self.in_word,
            self.isolated,
        );
        let bytes = seg.as_bytes();
        let mut k = 0;
        while let Some(&b0) = bytes.get(k) {
            if b0.is_ascii() {
                if b0.is_ascii_alphanumeric() {
                    let c = char::from(b0.to_ascii_lowercase());
                    if self.v2 {
                        self.word_char_v2(c, false);
                    } else {
                        self.word_char(c);
                    }
                } else {
                    self.separator();
                }
                k += 1;
                continue;
            }
            let cont = |at: usize| u32::from(bytes.get(at).map_or(0, |b| b & 0x3F));
            let (entry, len) = match b0 {
                0xC2..=0xDF => (char_info((u32::from(b0 & 0x1F) << 6) | cont(k + 1)), 2),
                0xE0..=0xEF => (
                    char_info((u32::from(b0 & 0x0F) << 12) | (cont(k + 1) << 6) | cont(k + 2)),
                    3,
                ),
                _ => (CharInfo::default(), 4),
            };
            if entry.flags & CharInfo::SIMPLE == 0 {
                let (len, pending_space, in_word, isolated) = saved;
                self.out.truncate(len);
                (self.pending_space, self.in_word, self.isolated) =
                    (pending_space, in_word, isolated);
                return false;
            }
            let l = entry.lower;
            let mark = entry.flags & CharInfo::MARK != 0;
            let alnum = entry.flags & CharInfo::ALNUM != 0;
            if self.v2 {
                if self.in_word && mark {
                    self.word_char(l);
                } else if alnum {
                    self.word_char_v2(l, entry.flags & CharInfo::NO_SPACE != 0);
                } else {
                    self.separator();
                }
            } else if alnum || (self.in_word && mark) {
                self.word_char(l);
            } else {
                self.separator();
            }
            k += len;
        }
        true
    }

    /// [`Self::chars`] with the version 2 rule (step 3b).
    fn chars_v2(&mut self, chars: impl Iterator<Item = char>) {
        for c in chars {
            if c.is_ascii() {
                if c.is_ascii_alphanumeric() {
                    self.word_char_v2(c.to_ascii_lowercase(), false);
                } else {
                    self.separator();
                }
                continue;
            }
            if common_no_space(c) {
                // CJK ideographs and kana: NFKC-stable, caseless, alphabetic,
                // never marks (the common case of Chinese and Japanese text).
                self.word_char_v2(c, true);
                continue;
            }
            for l in c.to_lowercase() {
                if self.in_word && unicode_normalization::char::is_combining_mark(l) {
                    // Attached mark: stays in the current word.
                    self.word_char(l);
                } else if l.is_alphanumeric() {
                    self.word_char_v2(l, is_no_space(l));
                } else {
                    self.separator();
                }
            }
        }
    }
}

/// What [`Filter::simple_segment`] needs to know of a character of the
/// Basic Multilingual Plane, taken from the same functions the full path
/// calls.
#[derive(Clone, Copy)]
struct CharInfo {
    /// The lowercase of the character (if `SIMPLE`).
    lower: char,
    flags: u8,
}

impl Default for CharInfo {
    fn default() -> Self {
        Self {
            lower: '\0',
            flags: 0,
        }
    }
}

impl CharInfo {
    /// The character and its lowercase — one character — are both NFKC
    /// quick check "Yes" with canonical combining class 0.
    const SIMPLE: u8 = 1;
    /// The lowercase is alphanumeric.
    const ALNUM: u8 = 2;
    /// The lowercase is a combining mark.
    const MARK: u8 = 4;
    /// The lowercase is a no-space character ([`is_no_space`]).
    const NO_SPACE: u8 = 8;

    fn of(u: u32) -> Self {
        let simple = |c: char| {
            is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes
                && unicode_normalization::char::canonical_combining_class(c) == 0
        };
        let Some(c) = char::from_u32(u) else {
            return Self::default();
        };
        let mut lower = c.to_lowercase();
        let (Some(l), None) = (lower.next(), lower.next()) else {
            return Self::default();
        };
        if c.is_ascii() || !simple(c) || !simple(l) {
            return Self::default();
        }
        let mut flags = Self::SIMPLE;
        if l.is_alphanumeric() {
            flags |= Self::ALNUM;
        }
        if unicode_normalization::char::is_combining_mark(l) {
            flags |= Self::MARK;
        }
        if is_no_space(l) {
            flags |= Self::NO_SPACE;
        }
        Self { lower: l, flags }
    }
}

/// Characters per lazily built block of [`char_info`].
const INFO_BLOCK: usize = 64;

/// [`CharInfo::of`] a code point of the Basic Multilingual Plane (the
/// default, not simple, above it), from a table built a block of 64 code
/// points at a time, when a text first needs one of them (some
/// microseconds per block; a text uses few blocks).
#[inline]
fn char_info(u: u32) -> CharInfo {
    type Block = std::sync::OnceLock<Box<[CharInfo; INFO_BLOCK]>>;
    static BLOCKS: [Block; 0x1_0000 / INFO_BLOCK] = [const { Block::new() }; 0x1_0000 / INFO_BLOCK];
    let u = u as usize;
    BLOCKS
        .get(u / INFO_BLOCK)
        .map_or_else(CharInfo::default, |block| {
            let block = block.get_or_init(|| {
                let first = u - u % INFO_BLOCK;
                Box::new(std::array::from_fn(|i| {
                    u32::try_from(first + i).map_or_else(|_| CharInfo::default(), CharInfo::of)
                }))
            });
            block.get(u % INFO_BLOCK).copied().unwrap_or_default()
        })
}

/// Whether `c` is one of the characters of the most common no-space blocks that need
/// no lowercasing or classification: CJK Unified Ideographs (U+4E00–U+9FFF),
/// Extension A (U+3400–U+4DBF), Hiragana letters (U+3041–U+3096) and Katakana
/// letters (U+30A1–U+30FA). All are alphabetic, have no case, no
/// decomposition and are not marks.
#[inline]
fn common_no_space(c: char) -> bool {
    let u = u32::from(c);
    (0x4E00..=0x9FFF).contains(&u)
        || (0x3400..=0x4DBF).contains(&u)
        || (0x3041..=0x3096).contains(&u)
        || (0x30A1..=0x30FA).contains(&u)
}

/// Scripts written without spaces between words (step 3b).
const NO_SPACE_SCRIPTS: [Script; 18] = [
    Script::Han,
    Script::Hiragana,
    Script::Katakana,
    Script::Bopomofo,
    Script::Yi,
    Script::Thai,
    Script::Lao,
    Script::Khmer,
    Script::Myanmar,
    Script::Tai_Tham,
    Script::Tai_Le,
    Script::New_Tai_Lue,
    Script::Tai_Viet,
    Script::Balinese,
    Script::Javanese,
    Script::Tangut,
    Script::Nushu,
    Script::Khitan_Small_Script,
];

/// Whether `c` is a no-space character (step 3b), by its `Script` or, for
/// Common and Inherited characters, its `Script_Extensions`.
#[must_use]
pub fn is_no_space(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    if common_no_space(c) {
        return true;
    }
    let script = c.script();
    if NO_SPACE_SCRIPTS.contains(&script) {
        return true;
    }
    if script == Script::Common || script == Script::Inherited {
        let ext = c.script_extension();
        if ext.is_common() || ext.is_inherited() {
            return false;
        }
        return NO_SPACE_SCRIPTS.iter().any(|&s| ext.contains_script(s));
    }
    false
}

/// Number of tokens of a text normalized with `version`: its words (maximal
/// runs of non-whitespace characters), saturating at `u32::MAX`. With version
/// 2 each character of a script written without spaces is a word, so a
/// Chinese passage counts its characters; the counting rule itself is the
/// same for both versions.
#[must_use]
pub fn token_count_with(version: NormalizationVersion, normalized: &str) -> u32 {
    let _ = version;
    token_count(normalized)
}

/// Number of words of a normalized text (maximal runs of non-whitespace
/// characters), saturating at `u32::MAX`. A normalized text is words joined
/// by single ASCII spaces (step 4), so this counts spaces rather than
/// decoding characters.
#[must_use]
pub fn token_count(normalized: &str) -> u32 {
    if normalized.is_empty() {
        return 0;
    }
    u32::try_from(count_spaces(normalized.as_bytes()) + 1).unwrap_or(u32::MAX)
}

/// Number of `b' '` bytes: 32 per step into byte counters (a vector compare
/// and subtract), summed every 255 steps before they could overflow; a
/// `filter().count()` widens every byte to a 64-bit counter instead.
fn count_spaces(bytes: &[u8]) -> usize {
    let mut total = 0usize;
    let mut blocks = bytes.chunks_exact(32);
    loop {
        let mut acc = [0u8; 32];
        let mut steps = 0;
        for block in blocks.by_ref().take(255) {
            for (a, &b) in acc.iter_mut().zip(block) {
                *a += u8::from(b == b' ');
            }
            steps += 1;
        }
        total += acc.iter().map(|&a| usize::from(a)).sum::<usize>();
        if steps < 255 {
            break;
        }
    }
    total + blocks.remainder().iter().filter(|&&b| b == b' ').count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::char::{canonical_combining_class, is_combining_mark};

    /// The documented no-space rule from the Unicode properties alone.
    fn no_space_reference(c: char) -> bool {
        let s = c.script();
        if NO_SPACE_SCRIPTS.contains(&s) {
            return true;
        }
        if s == Script::Common || s == Script::Inherited {
            let e = c.script_extension();
            return !e.is_common()
                && !e.is_inherited()
                && NO_SPACE_SCRIPTS.iter().any(|&x| e.contains_script(x));
        }
        false
    }

    /// Both versions as documented, with no fast path: NFKC of the whole
    /// text, lowercase, classify character by character, collapse; the
    /// round repeated while its output is not NFKC.
    fn reference(version: NormalizationVersion, text: &str) -> String {
        let v2 = version == NormalizationVersion::V2;
        let round = |s: &str| -> String {
            let mut out = String::new();
            let (mut pending, mut in_word, mut isolated) = (false, false, false);
            for c in s.nfkc() {
                for l in c.to_lowercase() {
                    let mark = in_word && is_combining_mark(l);
                    let word = mark || l.is_alphanumeric();
                    if word {
                        if v2 && !mark {
                            let ns = no_space_reference(l);
                            if isolated || (ns && in_word) {
                                pending = true;
                            }
                            isolated = ns;
                        }
                        if pending {
                            out.push(' ');
                            pending = false;
                        }
                        out.push(l);
                    } else {
                        pending |= !out.is_empty();
                        isolated = false;
                    }
                    in_word = word;
                }
            }
            out
        };
        let mut out = round(text);
        for _ in 0..2 {
            if is_nfkc_quick(out.chars()) == IsNormalized::Yes {
                break;
            }
            let again = round(&out);
            if again == out {
                break;
            }
            out = again;
        }
        out
    }

    fn check(text: &str) {
        for v in NormalizationVersion::ALL {
            assert_eq!(
                normalize_with(v, text),
                reference(v, text),
                "version {v}, input {text:?}"
            );
        }
    }

    /// Every fast separator next to every character that can compose with
    /// or reorder around it (NFKC quick check "Maybe", nonzero combining
    /// class; a seventh of those above the BMP) and a few others: the fast
    /// path equals the full path. (It catches U+203E OVERLINE, whose NFKC
    /// ends in a combining mark, if it is added to `simple_separator`.)
    #[test]
    fn fast_separators_equal_the_full_path() {
        let mut neighbours: Vec<char> = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|&c| {
                is_nfkc_quick(std::iter::once(c)) == IsNormalized::Maybe
                    || canonical_combining_class(c) != 0
            })
            .filter(|&c| u32::from(c) < 0x1_0000 || u32::from(c) % 7 == 0)
            .collect();
        neighbours.extend("ae İΣ中が\u{FF76}가\u{1100}ก〇々ー１Ａ，".chars());
        let separators: Vec<char> = (0x2000..=0xFFFF_u32)
            .filter(|&u| simple_separator(u))
            .filter_map(char::from_u32)
            .collect();
        assert!(separators.len() > 200);
        for &c in &separators {
            check(&c.to_string());
            for &x in &neighbours {
                check(&format!("{x}{c}"));
                check(&format!("{c}{x}"));
                check(&format!("a{c}{x}\u{301}"));
                check(&format!("中{x}{c}{x}"));
                if canonical_combining_class(x) != 0 {
                    // Two marks after it: reordered and maybe composed.
                    check(&format!("{c}\u{5B0}{x}"));
                }
            }
        }
    }

    fn mixed_char() -> impl Strategy<Value = char> {
        let range = |a: u32, b: u32| (a..=b).prop_filter_map("unassigned", char::from_u32);
        prop_oneof![
            6 => prop::sample::select(
                " \t\n.,-'/()aAeEiIzZ09xyq".chars().collect::<Vec<_>>()
            ),
            6 => range(0x4E00, 0x9FFF),
            1 => range(0x3400, 0x4DBF),
            1 => range(0x20000, 0x2A6DF),
            1 => range(0xF900, 0xFAFF),
            3 => range(0x3000, 0x303F),
            3 => range(0xFF00, 0xFFEF),
            2 => range(0x2000, 0x206F),
            1 => range(0x2190, 0x21FF),
            2 => range(0x0300, 0x036F),
            1 => prop::sample::select(vec!['\u{338}', '\u{3099}', '\u{309A}', '\u{20D2}']),
            2 => range(0x3040, 0x30FF),
            2 => range(0xAC00, 0xD7A3),
            1 => range(0x1100, 0x11FF),
            2 => range(0x0E00, 0x0E7F),
            1 => range(0x00C0, 0x024F),
            1 => range(0x0370, 0x03FF),
            2 => range(0x0080, 0x07FF),
            1 => range(0x0400, 0x04FF),
            1 => range(0x0590, 0x06FF),
            2 => range(0x1F300, 0x1FAFF),
            1 => prop::sample::select(vec!['\u{FE0F}', '\u{200D}', '\u{1F3FD}', '\u{E0100}']),
            1 => any::<char>(),
        ]
    }

    /// Every two-byte character (U+0080–U+07FF, where most simple ones are)
    /// alone and next to letters, marks, separators, a capital that
    /// lowercases to two characters and the characters it composes with,
    /// and every other character of the Basic Multilingual Plane alone and
    /// after a letter and before a mark: `Filter::simple_segment` equals the
    /// full path.
    #[test]
    fn simple_characters_equal_the_full_path() {
        let simple = |u: u32| char_info(u).flags & CharInfo::SIMPLE != 0;
        assert!((0x80..0x800).filter(|&u| simple(u)).count() > 1000);
        assert!((0x800..0x1_0000).filter(|&u| simple(u)).count() > 20_000);
        let others = [
            "a", "A", "é", "É", "Ж", "ب", "\u{301}", "\u{64B}", "\u{483}", "İ", ", ", " ", "中",
            "Ω", "か", "\u{3099}", "가", "\u{11A8}",
        ];
        for c in (0x80..0x800_u32).filter_map(char::from_u32) {
            check(&c.to_string());
            for x in others {
                check(&format!("{x}{c}"));
                check(&format!("{c}{x}"));
                check(&format!("a{c}{x}{c}b"));
                check(&format!("{c}{c}{x}{c}\u{301}"));
            }
        }
        for c in (0x800..0x1_0000_u32).filter_map(char::from_u32) {
            check(&format!("{c}a{c}b\u{3099}\u{11A8}{c}{c}가\u{11A8} {c}"));
        }
    }

    /// `count_spaces` across its 32-byte blocks and 255-block flushes.
    #[test]
    fn count_spaces_counts_every_space() {
        for len in [
            0,
            1,
            31,
            32,
            33,
            255 * 32 - 1,
            255 * 32,
            255 * 32 + 1,
            3 * 255 * 32 + 17,
        ] {
            for every in [1, 2, 7] {
                let text: Vec<u8> = (0..len)
                    .map(|i| if i % every == 0 { b' ' } else { b'a' })
                    .collect();
                let want = text.iter().filter(|&&b| b == b' ').count();
                assert_eq!(count_spaces(&text), want, "len {len}, every {every}");
            }
        }
    }

    /// The first non-ASCII byte is found wherever it is, from any start.
    #[test]
    fn next_non_ascii_finds_the_first() {
        for len in 0..80 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                if let Some(b) = bytes.get_mut(at) {
                    *b = 0xC3;
                }
                bytes.extend([b'b', 0xE4]);
                for from in 0..=at.min(len) {
                    let want = from + bytes[from..].iter().position(|b| !b.is_ascii()).unwrap();
                    assert_eq!(next_non_ascii(&bytes, from), want, "{len} {at} {from}");
                }
            }
        }
    }

    /// Long ASCII runs cross the chunks of `Filter::ascii`.
    #[test]
    fn ascii_chunk_boundaries() {
        assert_eq!(ASCII_CHUNK, 256, "update the lengths below");
        for len in (0..200).chain(250..270).chain(505..520).chain([700]) {
            for pattern in ["ab ", "a", " ", "a-", "--x"] {
                let run: String = pattern.chars().cycle().take(len).collect();
                check(&run);
                check(&format!("中{run}中"));
                check(&format!("，{run}é"));
            }
        }
    }

    /// A filter in the state `prefix` leaves it in.
    fn filter_after(prefix: &str, v2: bool) -> Filter {
        let mut f = Filter {
            out: String::new(),
            pending_space: false,
            in_word: false,
            v2,
            isolated: false,
        };
        f.chars(prefix.nfkc());
        f
    }

    fn ascii_run() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            8 => prop::sample::select(b"abcxyzABZ09".to_vec()),
            3 => Just(b' '),
            2 => prop::sample::select(b".,-'/()\n\t@_".to_vec()),
            1 => 0u8..0x80,
        ];
        prop::collection::vec(byte, 0..600)
    }

    /// A cut before a combining mark would split `e` + U+0301 (NFKC: `é`).
    #[test]
    fn normalized_prefix_cuts_only_before_ascii() {
        let s = format!("{}e\u{301} tail", "x".repeat(255));
        let whole = normalize_with(NormalizationVersion::V2, &s);
        let prefix = normalized_prefix(NormalizationVersion::V2, &s, 64);
        assert!(whole.starts_with(&prefix), "{prefix:?}");
        assert!(prefix.ends_with('\u{e9}'), "{prefix:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// A prefix normalized alone starts the whole text's normalization
        /// and is long enough, wherever the ASCII cuts fall (texts of up to
        /// 800 characters, so several cuts are tried).
        #[test]
        fn normalized_prefix_starts_the_normalization(
            s in prop::collection::vec(mixed_char(), 0..800)
                .prop_map(|v| v.into_iter().collect::<String>()),
            min_bytes in 0usize..160,
        ) {
            for v in NormalizationVersion::ALL {
                let whole = normalize_with(v, &s);
                let prefix = normalized_prefix(v, &s, min_bytes);
                prop_assert!(whole.starts_with(&prefix), "version {}, input {:?}", v, s);
                prop_assert!(prefix.len() >= min_bytes.min(whole.len()), "version {}, input {:?}", v, s);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        /// `Filter::ascii` (eight bytes at a time) equals its bytewise
        /// definition from every state a prefix can leave.
        #[test]
        fn ascii_equals_bytewise(
            prefix in prop::sample::select(vec!["", "a", "a ", " ", "中", "中 ", "a中", "é,", "\u{301}"]),
            run in ascii_run(),
            v2 in any::<bool>(),
        ) {
            let start = filter_after(prefix, v2);
            let (mut fast, mut slow) = (start.clone(), start);
            fast.ascii(&run);
            slow.ascii_bytewise(&run);
            prop_assert_eq!(&fast, &slow, "prefix {:?}, run {:?}", prefix, String::from_utf8_lossy(&run));
        }

        #[test]
        fn fast_path_equals_reference(
            s in prop::collection::vec(mixed_char(), 0..64)
                .prop_map(|v| v.into_iter().collect::<String>())
        ) {
            for v in NormalizationVersion::ALL {
                let normalized = normalize_with(v, &s);
                prop_assert_eq!(&normalized, &reference(v, &s), "version {}, input {:?}", v, s);
                prop_assert_eq!(
                    token_count(&normalized) as usize,
                    normalized.split_whitespace().count(),
                    "version {}, input {:?}", v, s
                );
            }
        }
    }
}
