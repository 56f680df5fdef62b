//! Text normalization, version [`NORMALIZATION_VERSION`] = 1.
//!
//! [`normalize`] is the single definition used at index-build time and at query
//! time. Its output is what every content identity (`content_id`, SHA-256,
//! token count, MinHash shingles) is computed from. Version 1 is defined as:
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

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Version of the normalization defined in this module. Recorded in every
/// [`crate::SketchSpec`] and index manifest; bump it on any change of output.
pub const NORMALIZATION_VERSION: u32 = 1;

/// Normalizes `text` with normalization version 1 (see the module docs).
#[must_use]
pub fn normalize(text: &str) -> String {
    let (mut out, mut is_nfkc) = normalize_round(text);
    // Lowercasing can (rarely) leave text that is not in NFKC; apply the whole
    // round again until it is. Two extra rounds are more than Unicode needs;
    // the bound only keeps the loop finite.
    for _ in 0..2 {
        if is_nfkc {
            break;
        }
        let (again, again_nfkc) = normalize_round(&out);
        is_nfkc = again_nfkc || again == out;
        out = again;
    }
    out
}

/// Steps 1–4 once. Returns the output and whether it is known to be NFKC.
///
/// Fast path: NFKC distributes over segments that start with an ASCII
/// character (ASCII characters are starters that never compose with what
/// precedes them), so the text is cut into pure-ASCII runs, handled byte-wise,
/// and short mixed segments — a non-ASCII run plus the one ASCII character
/// before it (a possible composition base, e.g. `e` + U+0301) — that go
/// through the full Unicode path. Output is the same as running the full path
/// on the whole text.
fn normalize_round(text: &str) -> (String, bool) {
    let bytes = text.as_bytes();
    let mut f = Filter {
        out: Vec::with_capacity(text.len()),
        pending_space: false,
        in_word: false,
    };
    let mut is_nfkc = true;
    let mut i = 0;
    while i < bytes.len() {
        // Next non-ASCII byte at or after i.
        let p = bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|b| !b.is_ascii()))
            .map_or(bytes.len(), |off| i + off);
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
        // another ASCII byte or the end of the text.
        let mut q = p;
        while q < bytes.len() {
            let here = bytes.get(q).is_some_and(u8::is_ascii);
            let next = bytes.get(q + 1).is_none_or(u8::is_ascii);
            if here && next {
                break;
            }
            q += 1;
        }
        if let Some(seg) = text.get(seg_start..q) {
            let before = f.out.len();
            if is_nfkc_quick(seg.chars()) == IsNormalized::Yes {
                f.chars(seg.chars());
            } else {
                f.chars(seg.nfkc());
            }
            if let Some(produced) = f.out.get(before..)
                && !produced.is_ascii()
            {
                // `produced` holds whole characters only.
                let produced = String::from_utf8_lossy(produced);
                if is_nfkc_quick(produced.chars()) != IsNormalized::Yes {
                    is_nfkc = false;
                }
            }
        }
        i = q;
    }
    (f.into_string(), is_nfkc)
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

/// Steps 2–4 as a state machine over characters. Output is built as UTF-8
/// bytes (only whole characters are ever appended).
struct Filter {
    out: Vec<u8>,
    /// A separator was seen since the last word character.
    pending_space: bool,
    /// The last character seen was a word character.
    in_word: bool,
}

impl Filter {
    fn into_string(self) -> String {
        // Always valid: only whole UTF-8 characters are appended.
        String::from_utf8(self.out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    #[inline]
    fn word_char(&mut self, c: char) {
        if self.pending_space {
            self.out.push(b' ');
            self.pending_space = false;
        }
        let mut buf = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.in_word = true;
    }

    #[inline]
    fn separator(&mut self) {
        self.in_word = false;
        self.pending_space = !self.out.is_empty();
    }

    /// A run of ASCII bytes. Branch-free inner loop: every step writes a
    /// space and the mapped byte at the cursor and advances the cursor only
    /// past what is kept.
    fn ascii(&mut self, run: &[u8]) {
        let base = self.out.len();
        // At most one byte per input byte, plus one scratch write past the end.
        self.out.resize(base + run.len() + 2, 0);
        let mut o = base;
        let mut pending = self.pending_space;
        let mut nonempty = base > 0;
        if let Some(buf) = self.out.get_mut(..) {
            for &b in run {
                let m = ASCII_MAP.get(usize::from(b)).copied().unwrap_or(0);
                let word = m != 0;
                if let Some(slot) = buf.get_mut(o) {
                    *slot = b' ';
                }
                o += usize::from(word & pending);
                if let Some(slot) = buf.get_mut(o) {
                    *slot = m;
                }
                o += usize::from(word);
                nonempty |= word;
                pending = !word & nonempty;
            }
        }
        self.out.truncate(o);
        if let Some(&last) = run.last() {
            self.in_word = ASCII_MAP.get(usize::from(last)).is_some_and(|&m| m != 0);
        }
        self.pending_space = pending;
    }

    /// Lowercases and classifies (already NFKC) characters.
    fn chars(&mut self, chars: impl Iterator<Item = char>) {
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

/// Number of words of a normalized text (maximal runs of non-whitespace
/// characters), saturating at `u32::MAX`.
#[must_use]
pub fn token_count(normalized: &str) -> u32 {
    u32::try_from(normalized.split_whitespace().count()).unwrap_or(u32::MAX)
}
