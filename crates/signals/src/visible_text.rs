//! The page's visible text as the signal scan reads it: lowercased, with
//! whitespace runs collapsed to one space. Two things are read from it: an
//! "all rights reserved" phrase anywhere in it, and its last
//! [`CONTEXT_CHARS`] bytes before an anchor that may be a license.
//!
//! Neither needs the whole text collapsed, so it is not: the text is kept
//! as the tokenizer gave it (copied, bounded), and collapsed only where it
//! is read — around a `v` that may end a phrase (`reserv…`, `vorb…`), and at
//! the rare anchors that may be licenses. (Collapsing every text token as it
//! came was most of what the signal scan added to indexing: issue 5.)
//!
//! Chinese statements ([`crate::rights_zh`], issue 16) have no `v`: they
//! are searched for on the raw text, and only where it is not all ASCII
//! (one `is_ascii` pass over English text, nothing more).

use crate::swar::{HIGH, ONES, bytes_equal};

/// Bytes of context kept before an anchor (of the collapsed text).
pub(crate) const CONTEXT_CHARS: usize = 200;
/// Raw bytes kept before a trim.
const RAW_MAX: usize = 32 << 10;
/// Raw bytes reserved at first: what a trim lets `raw` reach, and a token
/// more (issue 17: grown from 16 KiB, it was copied twice on text-heavy
/// pages).
const RAW_FIRST: usize = 2 * RAW_MAX;
/// Raw bytes a trim keeps, when they hold enough visible text.
const RAW_KEEP: usize = 1024;
/// Collapsed bytes a phrase search keeps between appends.
const PHRASE_KEEP: usize = 128;
const _: () = assert!(PHRASE_KEEP >= MAX_PHRASE_BYTES + MAX_BYTES_FROM_LAST_V);
const _: () = assert!(CONTEXT_CHARS >= MAX_PHRASE_BYTES);

/// The visible text of a page, appended token by token.
#[derive(Debug)]
pub(crate) struct VisibleText {
    /// The end of the text, raw (text tokens, and a space per block end);
    /// collapsed, a suffix of the collapsed text with more than
    /// [`CONTEXT_CHARS`] bytes, or all of it.
    raw: String,
    /// Whether the collapsed text before `raw` is empty or ends with a space
    /// (whitespace at the start of `raw` then collapses to nothing).
    raw_after_space: bool,
    /// `raw[..searched]` has been searched for phrases (they are searched
    /// for in bulk, before a trim and at the end, not per token).
    searched: usize,
    /// While a phrase may be completed by text not searched yet: the
    /// collapsed text from at least [`MAX_PHRASE_BYTES`] before the `v`
    /// that may end it to `raw[searched]`.
    phrase_tail: Option<Vec<u8>>,
    all_rights_reserved: bool,
    /// The end of the collapsed text as of `raw[..context_end]` (at least
    /// [`CONTEXT_CHARS`]` + 1` bytes, or all of it), kept between
    /// [`context`](Self::context) calls so that each collapses only the text
    /// since the last (pages on creativecommons.org ask at every link).
    context_tail: Option<(Vec<u8>, usize)>,
}

impl Default for VisibleText {
    fn default() -> Self {
        VisibleText {
            // (Most pages' text fits: no reallocation and copy as it grows.)
            raw: String::with_capacity(RAW_FIRST),
            raw_after_space: true,
            searched: 0,
            phrase_tail: None,
            all_rights_reserved: false,
            context_tail: None,
        }
    }
}

/// New raw bytes up to which [`VisibleText::context`] extends the collapsed
/// text it kept, rather than collapsing the end of the text afresh.
const CONTEXT_RECOLLAPSE: usize = 4 * CONTEXT_CHARS;

/// Raw bytes the phrase search collapses at a time while a phrase is open.
const PHRASE_STEP: usize = 32;

impl VisibleText {
    /// Appends text as the tokenizer gave it.
    #[inline]
    pub(crate) fn push(&mut self, text: &str) {
        self.raw.push_str(text);
        if self.raw.len() > RAW_MAX {
            self.search_phrases();
            self.trim();
        }
    }

    /// Whether the text so far says "all rights reserved" (or a
    /// translation).
    pub(crate) fn says_all_rights_reserved(&mut self) -> bool {
        self.search_phrases();
        self.all_rights_reserved
    }

    /// The last [`CONTEXT_CHARS`] bytes of the collapsed text, without its
    /// trailing space, cut forward to a character boundary.
    pub(crate) fn context(&mut self) -> String {
        let end = self.raw.len();
        let collapsed = match self.context_tail.take() {
            // Little new text: collapse just that, after what was kept.
            Some((mut tail, from)) if end.saturating_sub(from) <= CONTEXT_RECOLLAPSE => {
                let after_space = match tail.last() {
                    Some(&b) => b == b' ',
                    None => self.after_space_at(from),
                };
                push_lower_collapsed_after(&mut tail, &self.raw[from..], after_space);
                if tail.len() > 4 * CONTEXT_CHARS {
                    let mut start = tail.len() - 2 * CONTEXT_CHARS;
                    while !is_char_boundary(&tail, start) {
                        start += 1;
                    }
                    tail.drain(..start);
                }
                tail
            }
            _ => self.collapsed_tail(CONTEXT_CHARS + 1),
        };
        let c = collapsed.trim_ascii_end();
        let mut start = c.len().saturating_sub(CONTEXT_CHARS);
        while !is_char_boundary(c, start) {
            start += 1;
        }
        // (Valid UTF-8, cut at character boundaries: checked, not repaired.)
        let context = match std::str::from_utf8(&c[start..]) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(&c[start..]).into_owned(),
        };
        self.context_tail = Some((collapsed, end));
        context
    }

    /// Searches `raw[searched..]` for phrases.
    fn search_phrases(&mut self) {
        // Chinese statements (no `v` to look for): on the raw text, when
        // what was not searched yet is not all ASCII (a statement ends with
        // a Chinese character), from far enough before it to see one begun
        // there.
        if !self.all_rights_reserved && !self.raw.as_bytes()[self.searched..].is_ascii() {
            let start = self.boundary_at_or_after(
                self.searched
                    .saturating_sub(crate::rights_zh::MAX_STATEMENT_BYTES),
            );
            if crate::rights_zh::says_all_rights_reserved_zh_non_ascii(&self.raw[start..]) {
                self.all_rights_reserved = true;
            }
        }
        let mut from = self.searched;
        self.searched = self.raw.len();
        while from < self.raw.len() && !self.all_rights_reserved {
            if let Some(tail) = self.phrase_tail.as_mut() {
                // A phrase may be open: collapse the text a step at a time
                // until it is decided (most often within the first step).
                let mut end = (from + PHRASE_STEP).min(self.raw.len());
                while !self.raw.is_char_boundary(end) {
                    end += 1;
                }
                push_lower_collapsed(tail, &self.raw[from..end]);
                from = end;
                self.decide_phrase();
                continue;
            }
            // Most text: no `v` there can end a phrase.
            let raw = self.raw.as_bytes();
            let Some(v) = memchr::memchr2_iter(b'v', b'V', &raw[from..])
                .map(|k| from + k)
                .find(|&p| may_end_a_phrase(raw, p))
            else {
                return;
            };
            // The collapsed text from at least `MAX_PHRASE_BYTES` before it
            // (or from the start of `raw`, which then is all there is before
            // it: `raw` holds more than `CONTEXT_CHARS` bytes of collapsed
            // text before what was not searched yet).
            let mut back = 2 * MAX_PHRASE_BYTES;
            let tail = loop {
                let start = self.boundary_at_or_after(v.saturating_sub(back));
                let mut tail = Vec::with_capacity(2 * PHRASE_STEP);
                push_lower_collapsed_after(
                    &mut tail,
                    &self.raw[start..v],
                    self.after_space_at(start),
                );
                if tail.len() >= MAX_PHRASE_BYTES || start == 0 {
                    break tail;
                }
                back *= 4;
            };
            // (`raw[v]` is a letter: it collapses the same whatever `tail`
            // ends with.)
            self.phrase_tail = Some(tail);
            from = v;
        }
    }

    /// Searches the open phrase's collapsed text; closes it once no phrase
    /// can end in what follows.
    fn decide_phrase(&mut self) {
        let Some(tail) = self.phrase_tail.as_mut() else {
            return;
        };
        if says_all_rights_reserved_bytes(tail) {
            self.all_rights_reserved = true;
            self.phrase_tail = None;
            return;
        }
        // A phrase ends at most `MAX_BYTES_FROM_LAST_V` bytes after its last
        // `v`: once that many follow the last `v` here, every phrase one of
        // them may end has been searched for.
        match memchr::memrchr(b'v', tail) {
            Some(q) if tail.len() - q < MAX_BYTES_FROM_LAST_V => {
                if tail.len() > 2 * PHRASE_KEEP {
                    let mut start = tail.len() - PHRASE_KEEP;
                    while !is_char_boundary(tail, start) {
                        start += 1;
                    }
                    tail.drain(..start);
                }
            }
            _ => self.phrase_tail = None,
        }
    }

    /// Drops the front of `raw` (searched), keeping enough to collapse to
    /// more than [`CONTEXT_CHARS`] bytes.
    fn trim(&mut self) {
        let start = self.boundary_at_or_after(self.raw.len() - RAW_KEEP);
        // Characters that are not whitespace, counted from their first byte
        // (ASCII, or a lead byte no whitespace character starts with): each
        // collapses to at least one byte. Counted from the end, 64 bytes at
        // a time, until there are enough.
        let mut visible = 0;
        for chunk in self.raw.as_bytes()[start..].rchunks(64) {
            visible += usize::from(chunk.iter().fold(0u8, |n, &b| {
                n + u8::from(
                    (0x21..0x80).contains(&b) || (b >= 0xC3 && !(0xE1..=0xE3).contains(&b)),
                )
            }));
            if visible > CONTEXT_CHARS {
                break;
            }
        }
        if visible > CONTEXT_CHARS {
            self.raw_after_space = self.after_space_at(start);
            self.raw.drain(..start);
            self.searched = self.raw.len();
            self.context_tail = self
                .context_tail
                .take()
                .and_then(|(tail, from)| Some((tail, from.checked_sub(start)?)));
            return;
        }
        // Mostly whitespace: keep the end of the collapsed text itself
        // (collapsing it again changes nothing; a test checks that
        // lowercasing twice is lowercasing once for every character).
        let collapsed = self.collapsed_from(0);
        let mut cut = collapsed.len().saturating_sub(RAW_KEEP);
        while !is_char_boundary(&collapsed, cut) {
            cut += 1;
        }
        if cut > 0 {
            self.raw_after_space = collapsed[cut - 1] == b' ';
        }
        self.raw = String::from_utf8_lossy(&collapsed[cut..]).into_owned();
        self.searched = self.raw.len();
        self.context_tail = None;
    }

    /// The collapsed text of `raw[start..]` (`start` a character boundary).
    fn collapsed_from(&self, start: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() - start);
        push_lower_collapsed_after(&mut out, &self.raw[start..], self.after_space_at(start));
        out
    }

    /// The end of the collapsed text: at least `min` bytes, or all of it.
    fn collapsed_tail(&self, min: usize) -> Vec<u8> {
        // (Most text collapses to more than half its raw bytes.)
        let mut back = 2 * min;
        loop {
            let start = self.boundary_at_or_after(self.raw.len().saturating_sub(back));
            let out = self.collapsed_from(start);
            if out.len() >= min || start == 0 {
                return out;
            }
            back *= 4;
        }
    }

    /// Whether the collapsed text before `raw[i..]` is empty or ends with a
    /// space: the character before is whitespace (no character lowercases
    /// to whitespace).
    fn after_space_at(&self, i: usize) -> bool {
        match self.raw[..i].chars().next_back() {
            None => self.raw_after_space,
            Some(c) => c.is_whitespace(),
        }
    }

    fn boundary_at_or_after(&self, mut i: usize) -> usize {
        while !self.raw.is_char_boundary(i) {
            i += 1;
        }
        i
    }
}

/// Phrases (lowercase) that mean the page reserves all rights.
const ALL_RIGHTS_RESERVED: &[&str] = &[
    "all rights reserved",
    "alle rechte vorbehalten",
    "tous droits réservés",
    "todos los derechos reservados",
    "tutti i diritti riservati",
    "todos os direitos reservados",
    "alle rechten voorbehouden",
];

/// Bytes of the longest phrase in [`ALL_RIGHTS_RESERVED`].
const MAX_PHRASE_BYTES: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < ALL_RIGHTS_RESERVED.len() {
        if ALL_RIGHTS_RESERVED[i].len() > max {
            max = ALL_RIGHTS_RESERVED[i].len();
        }
        i += 1;
    }
    max
};

/// Whether `lower` (lowercased text) says "all rights reserved", a
/// translation of [`ALL_RIGHTS_RESERVED`], or a Chinese statement
/// ([`crate::rights_zh`]).
pub(crate) fn says_all_rights_reserved(lower: &str) -> bool {
    ALL_RIGHTS_RESERVED.iter().any(|p| lower.contains(p))
        || crate::rights_zh::says_all_rights_reserved_zh(lower)
}

/// Whether the `v` or `V` at `raw[p]` can be the last `v` of a phrase of
/// [`ALL_RIGHTS_RESERVED`] once lowercased: `reserv…`, `riserv…`, `réserv…`
/// (reserved, reservados, riservati, réservés) or `vorb…`/`voorb…`
/// (vorbehalten, voorbehouden), ASCII case ignored, or where the text so far
/// is too short to tell. (Only ASCII letters lowercase to these letters, and
/// only `é` and `É` to `é`; no whitespace can lie between the letters of one
/// word: a test checks every character.)
fn may_end_a_phrase(raw: &[u8], p: usize) -> bool {
    let after = |word: &str| {
        let word = word.as_bytes();
        p >= word.len() && raw[p - word.len()..p].eq_ignore_ascii_case(word)
    };
    // Most `v`s: neither an `r` before (`reserv…`) nor an `o` after
    // (`vorb…`), so none of the tests below can hold.
    if p >= "réser".len()
        && raw[p - 1] | 0x20 != b'r'
        && raw.get(p + 1).is_some_and(|&b| b | 0x20 != b'o')
    {
        return false;
    }
    let rest = &raw[p + 1..];
    let continues = |word: &[u8]| {
        let n = rest.len().min(word.len());
        rest[..n].eq_ignore_ascii_case(&word[..n])
    };
    p < "réser".len()
        || after("reser")
        || after("riser")
        || after("réser")
        || after("rÉser")
        || continues(b"orb")
        || continues(b"oorb")
}

/// Every phrase of [`ALL_RIGHTS_RESERVED`] has a `v` in its last word; the
/// most bytes from a phrase's last `v` to its end.
const MAX_BYTES_FROM_LAST_V: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < ALL_RIGHTS_RESERVED.len() {
        let p = ALL_RIGHTS_RESERVED[i].as_bytes();
        let mut j = p.len();
        while j > 0 && p[j - 1] != b'v' {
            j -= 1;
        }
        assert!(j > 0, "every phrase has a v");
        if p.len() - (j - 1) > max {
            max = p.len() - (j - 1);
        }
        i += 1;
    }
    max
};
/// `str::is_char_boundary` on the bytes of a UTF-8 string.
pub(crate) fn is_char_boundary(bytes: &[u8], i: usize) -> bool {
    i == 0 || i >= bytes.len() || (bytes[i] as i8) >= -0x40
}

/// [`says_all_rights_reserved`] on the bytes of a UTF-8 string.
fn says_all_rights_reserved_bytes(lower: &[u8]) -> bool {
    // Built once: `memmem::find` builds a searcher per call.
    static FINDERS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::LazyLock::new(|| {
            ALL_RIGHTS_RESERVED
                .iter()
                .map(|p| memchr::memmem::Finder::new(p.as_bytes()))
                .collect()
        });
    FINDERS.iter().any(|f| f.find(lower).is_some())
}
/// Per ASCII byte: `b' '` for whitespace (`char::is_whitespace`), else the
/// byte lowercased.
const ASCII_LOWER_OR_SPACE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => b' ',
            x => x.to_ascii_lowercase(),
        };
        b += 1;
    }
    t
};

/// Bit `k` of word `k / 64`: U+0080 + `k` is not whitespace and
/// `char::to_lowercase` maps it to itself (a test checks every bit).
const LOWERCASE_IS_ITSELF_2_BYTES: [u64; 30] = [
    0xFFFFFFFEFFFFFFDF,
    0xFFFFFFFF80800000,
    0x55AAAAAAAAAAAAAA,
    0xD4AAAAAAAAAAAB55,
    0xEE512D2A4E243129,
    0xAA29AAAAB555524F,
    0x93FAAAAAAAAAAAAA,
    0xFFFFFFFFFFFFAA85,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0x7FBAFFFFFFFFFFFF,
    0xFFFFF004000128BF,
    0x196FAAAAAAFF7FFF,
    0xFFFF000000000000,
    0xAAAAAAAAFFFFFFFF,
    0xAAAAAAAAAAAAABFE,
    0xAAAAAAAAAAAAD554,
    0x0001AAAAAAAAAAAA,
    0xFFFFFFFFFF800000,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
];

/// Whether the non-ASCII code point `cp` is not whitespace and
/// `char::to_lowercase` maps it to itself, checked cheaply: every 2-byte
/// character (a bitmap), and some 3-byte ranges (scripts without case from
/// Samaritan to Myanmar, dashes, quotes and other punctuation, currency
/// signs, CJK to Vai, Hangul). False may also mean "not known".
fn lowercase_is_itself(cp: u32) -> bool {
    match cp {
        0x80..=0x7FF => {
            let k = (cp - 0x80) as usize;
            LOWERCASE_IS_ITSELF_2_BYTES[k / 64] >> (k % 64) & 1 == 1
        }
        0x800..=0x109F
        | 0x2010..=0x2027
        | 0x2030..=0x205E
        | 0x20A0..=0x20CF
        | 0x3001..=0xA63F
        | 0xAC00..=0xD7FF => true,
        _ => false,
    }
}

/// Eight bytes of text (little-endian) at once: when they are ASCII without
/// \t \n \x0B \x0C \r, their lowercase and 0x80 in each byte that is a space.
fn lower_word(x: u64) -> Option<(u64, u64)> {
    if x & HIGH != 0 {
        return None;
    }
    // For ASCII bytes: 0x80 in each byte >= `c` (no carries between bytes).
    let at_least = |c: u8| x.wrapping_add(ONES * u64::from(0x80 - c)) & HIGH;
    if at_least(b'\t') & !at_least(b'\r' + 1) != 0 {
        return None;
    }
    let upper = at_least(b'A') & !at_least(b'Z' + 1);
    let space = bytes_equal(x, b' ');
    Some((x | (upper >> 2), space))
}

/// Appends `text` lowercased, whitespace runs collapsed to one space (none
/// at the start or after a space): exactly what
/// [`push_collapsed_chars`](crate::html::push_collapsed_chars)`(buf, text,
/// true)` appends, on `buf`'s bytes. Returns the bytes appended.
fn push_lower_collapsed(buf: &mut Vec<u8>, text: &str) -> usize {
    let after_space = buf.last().is_none_or(|&b| b == b' ');
    push_lower_collapsed_after(buf, text, after_space)
}

/// [`push_lower_collapsed`] of text that follows whitespace (or nothing:
/// `after_space`) or other text, whatever `buf` ends with.
fn push_lower_collapsed_after(buf: &mut Vec<u8>, text: &str, mut after_space: bool) -> usize {
    let before = buf.len();
    let bytes = text.as_bytes();
    buf.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Most text: eight bytes that only need lowercasing — ASCII, no
        // whitespace but single spaces, none leading after a space.
        if let Some(word) = bytes.get(i..i + 8)
            && let Ok(word) = <[u8; 8]>::try_from(word)
            && let Some((lower, space)) = lower_word(u64::from_le_bytes(word))
            && space & (space >> 8) == 0
            && !(after_space && space & 0x80 != 0)
        {
            buf.extend_from_slice(&lower.to_le_bytes());
            after_space = space >> 63 == 1;
            i += 8;
            continue;
        }
        let n = (bytes.len() - i).min(8);
        // Else these bytes character by character.
        let end = i + n;
        while i < end {
            // ASCII bytes: gathered, then appended at once.
            let mut run = [0u8; 8];
            let mut len = 0;
            while i < end && bytes[i] < 0x80 {
                let m = ASCII_LOWER_OR_SPACE[usize::from(bytes[i])];
                let space = m == b' ';
                run[len & 7] = m;
                len += usize::from(!(space && after_space));
                after_space = space;
                i += 1;
            }
            buf.extend_from_slice(&run[..len]);
            if i == end {
                break;
            }
            let b = bytes[i];
            // A non-ASCII character (`text` is UTF-8: `b` is a lead byte).
            let len = if b < 0xE0 {
                2
            } else if b < 0xF0 {
                3
            } else {
                4
            };
            let Some(utf8) = bytes.get(i..i + len) else {
                return buf.len() - before;
            };
            i += len;
            let cp = utf8[1..]
                .iter()
                .fold(u32::from(b) & (0x7F >> len), |cp, &c| {
                    cp << 6 | u32::from(c & 0x3F)
                });
            if lowercase_is_itself(cp) {
                buf.extend_from_slice(utf8);
                after_space = false;
                continue;
            }
            let Some(c) = char::from_u32(cp) else {
                return buf.len() - before;
            };
            if c.is_whitespace() {
                if !after_space {
                    buf.push(b' ');
                    after_space = true;
                }
            } else {
                let mut enc = [0u8; 4];
                for l in c.to_lowercase() {
                    buf.extend_from_slice(l.encode_utf8(&mut enc).as_bytes());
                }
                after_space = false;
            }
        }
    }
    buf.len() - before
}
#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;
    use crate::html::push_collapsed_chars;

    /// What [`VisibleText`] stands for: the whole text collapsed at once.
    #[derive(Default)]
    struct Whole {
        collapsed: String,
        found: bool,
    }

    impl Whole {
        fn push(&mut self, text: &str) {
            push_collapsed_chars(&mut self.collapsed, text, true);
            self.found |= says_all_rights_reserved(&self.collapsed);
        }

        fn context(&self) -> &str {
            let c = self.collapsed.trim_end_matches(' ');
            let mut start = c.len().saturating_sub(CONTEXT_CHARS);
            while !c.is_char_boundary(start) {
                start += 1;
            }
            &c[start..]
        }
    }

    proptest::proptest! {
        /// After every append, the phrase search and the context give what
        /// collapsing the whole text gives — across token boundaries,
        /// whitespace runs longer than what a trim keeps, and long tokens.
        #[test]
        fn visible_text_reads_like_the_whole_text_collapsed(
            ops in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "all", "All", " rights", "rights ", "reserved", "RESERVED.", " ", "\n",
                        "tous droits", " réservés", "Ré", "servés", "alle rechte", " vorbehalten",
                        "alle rechten", " voorbehouden", "V", "v", "oo", "rb", "ORB", "ehalten",
                        "Reser", "ser", "x", "İ", "ÄÖ", "中文", "\u{a0}", "\u{3000}", "\t\r\n",
                    ]).prop_map(str::to_string),
                    proptest::sample::select(vec!["a", "b ", "é", "ok all ", "  "])
                        .prop_map(str::to_string),
                    (proptest::sample::select(vec![" ", "ab ", "Жж ", "\u{2003}", "x", "serv"]), 1..3000usize)
                        .prop_map(|(s, n)| s.repeat(n)),
                ],
                0..200,
            )
        ) {
            let mut visible = VisibleText::default();
            let mut whole = Whole::default();
            for (i, op) in ops.iter().enumerate() {
                visible.push(op);
                whole.push(op);
                // (Searched now and then: in between, text piles up unsearched.)
                if i % 4 == 3 || i + 1 == ops.len() {
                    proptest::prop_assert_eq!(visible.says_all_rights_reserved(), whole.found);
                }
                proptest::prop_assert_eq!(visible.context(), whole.context());
                proptest::prop_assert!(visible.raw.len() <= RAW_MAX);
            }
        }
    }

    #[test]
    fn a_phrase_anywhere_in_a_long_text_token_is_seen() {
        let filler = "lorem ipsum dolor sit amet ".repeat(400);
        for text in [
            format!("All rights reserved. {filler}"),
            format!("{filler} All  Rights\nReserved. {filler}"),
            format!("{filler} alle Rechte vorbehalten"),
        ] {
            let mut visible = VisibleText::default();
            visible.push(&text);
            assert!(visible.says_all_rights_reserved(), "{}", &text[..40]);
            assert!(visible.raw.len() <= RAW_MAX);
        }
        let mut visible = VisibleText::default();
        for part in ["all rights ", "reserv", "ed"] {
            assert!(!visible.says_all_rights_reserved());
            visible.push(part);
        }
        assert!(visible.says_all_rights_reserved());
    }

    #[test]
    fn every_phrase_cut_anywhere_into_tokens_is_seen() {
        for p in ALL_RIGHTS_RESERVED {
            for text in [
                format!("Some text. {p}."),
                format!("x {}", p.to_uppercase()),
            ] {
                let cuts: Vec<usize> = (0..=text.len())
                    .filter(|&i| text.is_char_boundary(i))
                    .collect();
                for (k, &i) in cuts.iter().enumerate() {
                    for &j in &cuts[k..] {
                        let mut visible = VisibleText::default();
                        for part in [&text[..i], &text[i..j], &text[j..]] {
                            visible.push(part);
                        }
                        assert!(
                            visible.says_all_rights_reserved(),
                            "{text:?} cut at {i}, {j}"
                        );
                    }
                }
                let mut visible = VisibleText::default();
                for c in text.chars() {
                    visible.push(c.encode_utf8(&mut [0; 4]));
                }
                assert!(visible.says_all_rights_reserved(), "{text:?} char by char");
            }
        }
    }

    #[test]
    fn chinese_statements_cut_anywhere_into_tokens_are_seen() {
        for text in [
            "网站首页 | 版权所有 © 2024 某某网",
            "未经书面授权，不得转载。",
            "版權所有，保留所有權利",
        ] {
            let cuts: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            for (k, &i) in cuts.iter().enumerate() {
                for &j in &cuts[k..] {
                    let mut visible = VisibleText::default();
                    for part in [&text[..i], &text[i..j], &text[j..]] {
                        visible.push(part);
                    }
                    assert!(
                        visible.says_all_rights_reserved(),
                        "{text:?} cut at {i}, {j}"
                    );
                }
            }
        }
        // Across a trim, with the text before it searched already.
        for filler in ["x", "文"] {
            for split in ["版权", "未经书面授权，不得"] {
                let mut visible = VisibleText::default();
                visible.push(&filler.repeat(RAW_MAX / filler.len()));
                visible.push(split);
                visible.push(&filler.repeat(RAW_MAX / filler.len()));
                assert!(!visible.says_all_rights_reserved());
                let mut visible = VisibleText::default();
                visible.push(&filler.repeat(RAW_MAX / filler.len()));
                visible.push(split);
                assert!(visible.raw.len() < RAW_MAX, "trimmed");
                visible.push(if split == "版权" {
                    "所有"
                } else {
                    "转载"
                });
                assert!(visible.says_all_rights_reserved(), "{filler} {split}");
            }
        }
        let mut visible = VisibleText::default();
        visible.push("转载请注明出处。欢迎转载。");
        assert!(!visible.says_all_rights_reserved());
    }

    proptest::proptest! {
        /// `may_end_a_phrase`'s quick rejection (no `r` before, no `o`
        /// after) rejects only where its word tests fail.
        #[test]
        fn may_end_a_phrase_equals_its_word_tests(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "v", "V", "r", "R", "o", "O", "reser", "RISER", "réser", "rÉser", "orb", "oorb",
                    "e", "s", "x", " ", "é", "\u{e9}v", "serv",
                ]),
                0..10,
            ),
        ) {
            let text: String = parts.concat();
            let raw = text.as_bytes();
            for p in (0..raw.len()).filter(|&p| raw[p] | 0x20 == b'v') {
                let after = |word: &str| {
                    let word = word.as_bytes();
                    p >= word.len() && raw[p - word.len()..p].eq_ignore_ascii_case(word)
                };
                let rest = &raw[p + 1..];
                let continues = |word: &[u8]| {
                    let n = rest.len().min(word.len());
                    rest[..n].eq_ignore_ascii_case(&word[..n])
                };
                let want = p < "réser".len()
                    || after("reser")
                    || after("riser")
                    || after("réser")
                    || after("rÉser")
                    || continues(b"orb")
                    || continues(b"oorb");
                proptest::prop_assert_eq!(may_end_a_phrase(raw, p), want, "{:?} at {}", text, p);
            }
        }
    }

    #[test]
    fn every_phrase_ends_with_a_recognized_last_v() {
        for p in ALL_RIGHTS_RESERVED {
            for b in [p.to_string(), p.to_uppercase(), format!("X {p}")] {
                let b = b.as_bytes();
                let last_v = b.iter().rposition(|&c| c | 0x20 == b'v').expect("a v");
                // The whole phrase, and cut right after its last `v`.
                assert!(may_end_a_phrase(b, last_v), "{p}");
                assert!(may_end_a_phrase(&b[..=last_v], last_v), "{p}");
            }
            let from_last_v = p.len() - p.rfind('v').unwrap();
            assert!(from_last_v <= MAX_BYTES_FROM_LAST_V, "{p}");
        }
        let text = b"so we have a Very good server to preserve";
        assert!(!may_end_a_phrase(text, 8));
        assert!(!may_end_a_phrase(text, 13));
        assert!(!may_end_a_phrase(text, 26));
        assert!(may_end_a_phrase(text, 39));
    }

    /// What the lazy collapse relies on, for every character: only ASCII
    /// letters lowercase to the letters around a phrase's last `v` (and only
    /// `é`, `É` to `é`); no character lowercases to whitespace; lowercasing
    /// twice is lowercasing once; every whitespace character starts with a
    /// byte `trim` does not count.
    #[test]
    fn character_facts_the_lazy_collapse_relies_on() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let lower: String = c.to_lowercase().collect();
            // (`İ` lowercases to `i` and a combining dot: never `ri` then
            // `s`.)
            if !c.is_ascii() && c != 'İ' {
                let letters = ['s', 'e', 'r', 'i', 'v', 'o', 'b'];
                assert!(!lower.contains(letters), "{c:?}");
            }
            if lower.contains('é') {
                assert!(matches!(c, 'é' | 'É'), "{c:?}");
            }
            if !c.is_whitespace() {
                assert!(!lower.contains(char::is_whitespace), "{c:?}");
            }
            let twice: String = lower.chars().flat_map(char::to_lowercase).collect();
            assert_eq!(twice, lower, "{c:?}");
            if c.is_whitespace() {
                let mut utf8 = [0u8; 4];
                let first = c.encode_utf8(&mut utf8).as_bytes()[0];
                assert!(
                    first <= 0x20
                        || (0xC2..=0xE3).contains(&first)
                            && first != 0xC3
                            && !(0xC4..0xE1).contains(&first),
                    "{c:?}"
                );
            }
        }
    }

    proptest::proptest! {
        /// `push_lower_collapsed` appends what the character loop
        /// `push_collapsed_chars(…, true)` appends (runs longer than its
        /// 64-byte ASCII blocks included).
        #[test]
        fn push_lower_collapsed_equals_the_character_loop(
            start in proptest::sample::select(vec!["", "x", "x ", "é", "ab c "]),
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "AB c", " ", "  ", "\t\n", "\u{b}", "\u{c}\r", "\u{a0}", "\u{2003}", "\u{3000}",
                    "É", "İ", "ß", "Ω", "😀", "x\u{85}y", "ǅ", "K", "…", "Ж", "ж", "中文", "한",
                    "\u{1c}", "\u{1f}", "\u{7f}", "Zz09!~", "ÀÉÎÕÜ", "ⅰⅣ", "Ａｂ", "@[`{AZaz",
                    "sixteen byte run", "Sixteen Byte Run",
                    "The Quick Brown Fox Jumps Over The Lazy Dog, All Rights Reserved",
                ]),
                0..40,
            ),
        ) {
            let text: String = parts.concat();
            let mut fast = start.as_bytes().to_vec();
            let mut slow = start.to_string();
            let appended = push_lower_collapsed(&mut fast, &text);
            push_collapsed_chars(&mut slow, &text, true);
            proptest::prop_assert_eq!(std::str::from_utf8(&fast), Ok(slow.as_str()));
            proptest::prop_assert_eq!(appended, slow.len() - start.len());
        }
    }
    #[test]
    fn lowercase_is_itself_holds_for_every_character_it_accepts() {
        let mut accepted = 0;
        for c in (0x80..=0x10FFFF).filter_map(char::from_u32) {
            let mut l = c.to_lowercase();
            let itself = (l.next(), l.next()) == (Some(c), None) && !c.is_whitespace();
            if lowercase_is_itself(u32::from(c)) {
                accepted += 1;
                assert!(itself, "{c:?}");
            } else if u32::from(c) < 0x800 {
                // The 2-byte bitmap is complete.
                assert!(!itself, "{c:?}");
            }
        }
        assert!(accepted > 40_000);
    }

    #[test]
    fn lower_word_classifies_every_byte() {
        for b in 0u8..=255 {
            for k in 0..8 {
                let mut word = [b'a'; 8];
                word[k] = b;
                let got = lower_word(u64::from_le_bytes(word));
                let c = char::from(b);
                if b >= 0x80 || (c.is_whitespace() && b != b' ') {
                    assert_eq!(got, None, "{b:#x} at {k}");
                } else {
                    let (lower, space) = got.expect("ASCII");
                    let mut want = [b'a'; 8];
                    want[k] = b.to_ascii_lowercase();
                    assert_eq!(lower.to_le_bytes(), want, "{b:#x} at {k}");
                    let want_space = if b == b' ' { 0x80u64 << (8 * k) } else { 0 };
                    assert_eq!(space, want_space, "{b:#x} at {k}");
                }
            }
        }
    }

    #[test]
    fn ascii_table_is_whitespace_or_lowercase() {
        for b in 0u8..128 {
            let c = char::from(b);
            let want = if c.is_whitespace() {
                b' '
            } else {
                b.to_ascii_lowercase()
            };
            assert_eq!(ASCII_LOWER_OR_SPACE[usize::from(b)], want, "{b:#x}");
        }
    }
}
