//! One streaming pass over an HTML document with html5ever's tokenizer (no
//! DOM): collects the `<meta>`, `<link>`, license-relevant `<a>` elements and
//! JSON-LD blocks that license detection and opt-out signals need, with the
//! structural context (head / footer / figure) each one was found in.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, Tokenizer, TokenizerOpts};
pub use html5ever::tokenizer::{Tag, TokenSinkResult};
use html5ever::{LocalName, local_name};

/// Where in the page an element was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// In `<head>` (or a head-only element such as `<meta>`/`<link>` anywhere
    /// outside a footer).
    Head,
    /// In the body, outside a footer.
    Body,
    /// Inside `<footer>`, `role="contentinfo"` or an element whose id/class
    /// contains `footer`, `copyright` or `license`/`licence`.
    Footer,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MetaTag {
    /// Lowercased `name`, else `property`, else `itemprop`.
    pub name: String,
    /// Lowercased `http-equiv`.
    pub http_equiv: String,
    pub content: String,
    pub section: Option<Section>,
    pub tag: String,
}

#[derive(Debug, Clone)]
pub(crate) struct LinkTag {
    /// Lowercased `rel` (space-separated tokens).
    pub rel: String,
    pub itemprop: String,
    pub href: String,
    pub section: Section,
    pub tag: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    pub href: String,
    /// Lowercased `rel`.
    pub rel: String,
    pub itemprop: String,
    /// Visible text of the anchor (whitespace collapsed, capped).
    pub text: String,
    pub section: Section,
    /// Inside `<figure>`, `<figcaption>` or an element with a `caption` /
    /// `credit` / `attribution` class or id.
    pub in_figure: bool,
    /// Up to [`CONTEXT_CHARS`] chars of text before the anchor (lowercase).
    pub before: String,
    pub tag: String,
}

#[derive(Debug, Clone)]
pub(crate) struct JsonLd {
    pub text: String,
    pub section: Section,
}

#[derive(Debug, Default)]
pub(crate) struct PageScan {
    pub metas: Vec<MetaTag>,
    pub links: Vec<LinkTag>,
    pub anchors: Vec<Anchor>,
    pub jsonld: Vec<JsonLd>,
    /// The visible text says "all rights reserved" (or a translation).
    pub all_rights_reserved: bool,
}

pub(crate) const CONTEXT_CHARS: usize = 200;
const MAX_ITEMS: usize = 2000;
const MAX_STACK: usize = 512;
const MAX_TEXT: usize = 300;
const MAX_JSONLD: usize = 1 << 20;
const MAX_TAG: usize = 600;
/// Raw text collected for [`HtmlScanner`] to tokenize (a `<noscript>`).
const MAX_COLLECTED: usize = 64 << 20;

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

pub(crate) fn says_all_rights_reserved(lower: &str) -> bool {
    ALL_RIGHTS_RESERVED.iter().any(|p| lower.contains(p))
}

/// Whether the `v` at `bytes[p]` can be the last `v` of a phrase of
/// [`ALL_RIGHTS_RESERVED`]: `…serv…` (reserved, réservés, reservados,
/// riservati) or `vorb…`/`voorb…` (vorbehalten, voorbehouden).
fn last_v_of_a_phrase(bytes: &[u8], p: usize) -> bool {
    (p >= 3 && &bytes[p - 3..p] == b"ser")
        || bytes[p..].starts_with(b"vorb")
        || bytes[p..].starts_with(b"voorb")
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

#[derive(Debug)]
struct Frame {
    name: LocalName,
    footer: bool,
    figure: bool,
}

#[derive(Debug)]
struct OpenAnchor {
    /// None: its `href` cannot be a license (`license::may_be_cc_url`), so
    /// it is only counted.
    /// (Boxed: most anchors are not kept, and this moves per anchor.)
    anchor: Option<Box<Anchor>>,
}

#[derive(Debug, Default)]
struct State {
    scan: PageScan,
    stack: Vec<Frame>,
    footer_depth: usize,
    figure_depth: usize,
    in_head: bool,
    seen_body: bool,
    /// Rolling window of recent visible text, lowercase, whitespace
    /// collapsed (UTF-8: [`push_lower_collapsed`] appends whole characters
    /// and [`keep_tail`] cuts at character boundaries).
    context: Vec<u8>,
    anchor: Option<OpenAnchor>,
    /// Anchors closed so far (kept or not): the first [`MAX_ITEMS`] count.
    anchors_seen: usize,
    /// Relative links may resolve to creativecommons.org
    /// (`license::base_may_be_cc` of the page URL).
    base_may_be_cc: bool,
    /// Inside `<script type=application/ld+json>`: its text so far.
    jsonld: Option<String>,
    /// Inside a raw-text element whose text is not visible (script, style).
    in_raw: bool,
}

struct Sink {
    state: RefCell<State>,
    /// Tokenizing a part of the document: its end is not the document's.
    nested: bool,
}

fn attr<'a>(tag: &'a Tag, name: &LocalName) -> Option<&'a str> {
    tag.attrs
        .iter()
        .find(|a| a.name.local == *name)
        .map(|a| &*a.value)
}

fn render_tag(tag: &Tag) -> String {
    let mut s = String::with_capacity(64);
    s.push('<');
    s.push_str(&tag.name);
    for a in &tag.attrs {
        s.push(' ');
        s.push_str(&a.name.local);
        s.push_str("=\"");
        s.push_str(&a.value.replace('"', "&quot;"));
        s.push('"');
    }
    s.push('>');
    cap(s, MAX_TAG)
}

pub(crate) fn cap(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Appends `text` with whitespace runs collapsed; returns the bytes appended
/// (before the front of `buf` is trimmed to its last `max` bytes).
fn push_collapsed(buf: &mut String, text: &str, lowercase: bool, max: usize) -> usize {
    let before = buf.len();
    let bytes = text.as_bytes();
    let mut i = 0;
    if text.is_ascii() && collapses_to_itself(bytes, buf.is_empty() || buf.ends_with(' ')) {
        // Most text: copied and lowercased at once, not word by word.
        buf.push_str(text);
        if lowercase {
            buf[before..].make_ascii_lowercase();
        }
        i = bytes.len();
    }
    while i < bytes.len() {
        if is_ascii_space(bytes[i]) {
            if !buf.is_empty() && !buf.ends_with(' ') {
                buf.push(' ');
            }
            i += 1;
            continue;
        }
        // A word: up to the next ASCII space (a character boundary).
        let start = i;
        let mut ascii = true;
        while i < bytes.len() && !is_ascii_space(bytes[i]) {
            ascii &= bytes[i] < 0x80;
            i += 1;
        }
        let word = text.get(start..i).unwrap_or("");
        if ascii {
            let at = buf.len();
            buf.push_str(word);
            if lowercase {
                buf[at..].make_ascii_lowercase();
            }
        } else {
            push_collapsed_chars(buf, word, lowercase);
        }
    }
    let appended = buf.len() - before;
    keep_tail(buf, max);
    appended
}

/// Once `buf` is over twice `max` bytes, keeps its last `max` (the most
/// recent text), cut at a character boundary.
fn keep_tail(buf: &mut String, max: usize) {
    if buf.len() > max.saturating_mul(2) {
        let mut start = buf.len() - max;
        while !buf.is_char_boundary(start) {
            start += 1;
        }
        buf.drain(..start);
    }
}

/// [`keep_tail`] on the UTF-8 bytes of the context window.
fn keep_tail_bytes(buf: &mut Vec<u8>, max: usize) {
    if buf.len() > max.saturating_mul(2) {
        let mut start = buf.len() - max;
        while !is_char_boundary(buf, start) {
            start += 1;
        }
        buf.drain(..start);
    }
}

/// `str::is_char_boundary` on the bytes of a UTF-8 string.
fn is_char_boundary(bytes: &[u8], i: usize) -> bool {
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

/// 0x01 in every byte of a `u64`.
const ONES: u64 = u64::from_ne_bytes([1; 8]);
/// 0x80 in every byte of a `u64`.
const HIGH: u64 = ONES * 0x80;

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
    let s = x ^ (ONES * u64::from(b' '));
    let space = !(((s & !HIGH) + !HIGH) | s) & HIGH;
    Some((x | (upper >> 2), space))
}

/// Appends `text` lowercased, whitespace runs collapsed to one space (none
/// at the start of the window or after a space): exactly
/// [`push_collapsed_chars`]`(buf, text, true)` on the window's bytes.
/// Returns the bytes appended.
fn push_lower_collapsed(buf: &mut Vec<u8>, text: &str) -> usize {
    let before = buf.len();
    let bytes = text.as_bytes();
    // The window is empty or ends with a space: whitespace appends nothing.
    let mut after_space = buf.last().is_none_or(|&b| b == b' ');
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

/// Whether ASCII `bytes` appended after a space (or to an empty buffer:
/// `after_space`) come out of [`push_collapsed`] unchanged but for case: no
/// whitespace other than single spaces, none leading after a space.
fn collapses_to_itself(bytes: &[u8], after_space: bool) -> bool {
    if after_space && bytes.first() == Some(&b' ') {
        return false;
    }
    // Branch-free folds (vectorized): any \t \n \x0B \x0C \r, any two spaces.
    let controls = bytes
        .iter()
        .fold(false, |acc, &b| acc | (b.wrapping_sub(b'\t') < 5));
    let doubles = bytes
        .iter()
        .zip(bytes.iter().skip(1))
        .fold(false, |acc, (&a, &b)| acc | ((a == b' ') & (b == b' ')));
    !controls && !doubles
}

/// The ASCII characters for which `char::is_whitespace` holds.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// [`push_collapsed`]'s loop, one character at a time (without the trim).
fn push_collapsed_chars(buf: &mut String, text: &str, lowercase: bool) {
    for c in text.chars() {
        if c.is_whitespace() {
            if !buf.is_empty() && !buf.ends_with(' ') {
                buf.push(' ');
            }
        } else if lowercase {
            if c.is_ascii() {
                buf.push(c.to_ascii_lowercase());
            } else {
                buf.extend(c.to_lowercase());
            }
        } else {
            buf.push(c);
        }
    }
}

fn is_void(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("area")
            | local_name!("base")
            | local_name!("br")
            | local_name!("col")
            | local_name!("embed")
            | local_name!("hr")
            | local_name!("img")
            | local_name!("input")
            | local_name!("link")
            | local_name!("meta")
            | local_name!("source")
            | local_name!("track")
            | local_name!("wbr")
            | local_name!("param")
            | local_name!("keygen")
    )
}

/// `hay[i..]` starts with `needle` (lowercase ASCII), ASCII case ignored.
pub(crate) fn at_ignore_ascii_case(hay: &[u8], i: usize, needle: &[u8]) -> bool {
    hay.get(i..i + needle.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether an `id`/`class` value marks a footer (it contains `footer`,
/// `copyright`, `license` or `licence`) and a figure (`caption`, `credit`,
/// `attribution`), in any ASCII case: one pass over the value.
fn class_marks(v: &str) -> (bool, bool) {
    let (mut footer, mut figure) = (false, false);
    let b = v.as_bytes();
    // Eight positions at a time (SWAR, no per-byte branches): only where
    // three bytes are, ASCII case ignored, the first three letters of a word
    // above (`foo`, `cop`, `cap`, `cre`, `lic`, `att`) can one start. (`|
    // 0x20` maps exactly the two cases of a letter to its lowercase, and no
    // other byte to a lowercase letter.)
    let mut i = 0;
    while let Some(bytes) = b.get(i..i + 10) {
        let word = |k: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[k..k + 8]);
            u64::from_le_bytes(w) | (ONES * 0x20)
        };
        let (x, y, z) = (word(0), word(1), word(2));
        // 0x80 in each byte of `w` equal to `c`.
        let eq = |w: u64, c: u8| {
            let s = w ^ (ONES * u64::from(c));
            !(((s & !HIGH) + !HIGH) | s) & HIGH
        };
        let mut starts = (eq(x, b'f') & eq(y, b'o') & eq(z, b'o'))
            | (eq(x, b'c')
                & ((eq(y, b'o') & eq(z, b'p'))
                    | (eq(y, b'a') & eq(z, b'p'))
                    | (eq(y, b'r') & eq(z, b'e'))))
            | (eq(x, b'l') & eq(y, b'i') & eq(z, b'c'))
            | (eq(x, b'a') & eq(y, b't') & eq(z, b't'));
        while starts != 0 {
            class_marks_at(
                b,
                i + starts.trailing_zeros() as usize / 8,
                &mut footer,
                &mut figure,
            );
            starts &= starts - 1;
        }
        i += 8;
    }
    for i in i..b.len() {
        class_marks_at(b, i, &mut footer, &mut figure);
    }
    (footer, figure)
}

/// [`class_marks`]' words starting at `b[i]`.
#[inline(always)]
fn class_marks_at(b: &[u8], i: usize, footer: &mut bool, figure: &mut bool) {
    match b[i].to_ascii_lowercase() {
        b'f' => *footer |= at_ignore_ascii_case(b, i, b"footer"),
        b'c' => {
            *footer |= at_ignore_ascii_case(b, i, b"copyright");
            *figure |=
                at_ignore_ascii_case(b, i, b"caption") || at_ignore_ascii_case(b, i, b"credit");
        }
        b'l' => {
            *footer |=
                at_ignore_ascii_case(b, i, b"license") || at_ignore_ascii_case(b, i, b"licence");
        }
        b'a' => *figure |= at_ignore_ascii_case(b, i, b"attribution"),
        _ => {}
    }
}

/// Whether an element opens a footer (`<footer>`, `role=contentinfo`, or
/// [`class_marks`] of its `id` or `class`) and a figure (`<figure>`,
/// `<figcaption>`, or [`class_marks`]).
fn marks(tag: &Tag) -> (bool, bool) {
    let mut footer = tag.name == local_name!("footer");
    let mut figure = tag.name == local_name!("figure") || tag.name == local_name!("figcaption");
    // The tokenizer keeps the first of repeated attributes only.
    for a in &tag.attrs {
        let name = &a.name.local;
        if *name == local_name!("role") {
            footer |= a.value.eq_ignore_ascii_case("contentinfo");
        } else if *name == local_name!("id") || *name == local_name!("class") {
            let (fo, fi) = class_marks(&a.value);
            footer |= fo;
            figure |= fi;
        }
    }
    (footer, figure)
}

impl State {
    fn for_base(base: Option<&url::Url>) -> Self {
        State {
            base_may_be_cc: crate::license::base_may_be_cc(base),
            ..State::default()
        }
    }

    fn body_section(&self) -> Section {
        if self.footer_depth > 0 {
            Section::Footer
        } else if self.in_head && !self.seen_body {
            Section::Head
        } else {
            Section::Body
        }
    }

    fn head_like_section(&self) -> Section {
        if self.footer_depth > 0 {
            Section::Footer
        } else {
            Section::Head
        }
    }

    fn text(&mut self, t: &str) {
        if self.in_raw {
            if let Some(j) = self.jsonld.as_mut()
                && j.len() + t.len() <= MAX_JSONLD
            {
                j.push_str(t);
            }
            return;
        }
        if t.bytes().all(is_ascii_space) {
            // Whitespace (between tags, mostly): one space at most, and no
            // phrase ends with one.
            if !self.context.ends_with(b" ") && !self.context.is_empty() {
                self.context.push(b' ');
            }
            keep_tail_bytes(&mut self.context, CONTEXT_CHARS);
            if let Some(OpenAnchor { anchor: Some(a) }) = self.anchor.as_mut() {
                push_collapsed(&mut a.text, t, false, MAX_TEXT);
            }
            return;
        }
        // Untrimmed until the phrase check below has seen all of `t`: a long
        // token trimmed first would lose a phrase near its start.
        let appended = push_lower_collapsed(&mut self.context, t);
        // (Nothing or one space appended, e.g. whitespace between tags: no
        // phrase ends with a space.)
        let only_space = appended == 0 || appended == 1 && self.context.ends_with(b" ");
        if !self.scan.all_rights_reserved && !only_space {
            // The window only grows at its end (text here, spaces in `end_tag`,
            // which no phrase ends with) and loses its front: a phrase not seen
            // at the last check ends in the appended text, so the tail of
            // `appended + MAX_PHRASE_BYTES` bytes holds it. Same answer as
            // searching the whole window, without rescanning it per token.
            // A phrase ending in the appended text has its last `v` within
            // `appended + MAX_BYTES_FROM_LAST_V` bytes of the end: no `v`
            // there, no new phrase (a byte search instead of seven).
            let bytes = &self.context[..];
            let v_from = bytes.len().saturating_sub(appended + MAX_BYTES_FROM_LAST_V);
            let tail = &bytes[v_from..];
            // (Short tails, most: a branch-free test for a `v` first, cheaper
            // than a `memchr` call.)
            let short = tail.len() <= 64;
            if (!short || tail.iter().fold(false, |any, &c| any | (c == b'v')))
                && memchr::memchr_iter(b'v', tail).any(|k| last_v_of_a_phrase(bytes, v_from + k))
            {
                let mut start = bytes.len().saturating_sub(appended + MAX_PHRASE_BYTES);
                while !is_char_boundary(bytes, start) {
                    start -= 1;
                }
                if says_all_rights_reserved_bytes(&bytes[start..]) {
                    self.scan.all_rights_reserved = true;
                }
            }
        }
        keep_tail_bytes(&mut self.context, CONTEXT_CHARS);
        if let Some(OpenAnchor { anchor: Some(a) }) = self.anchor.as_mut() {
            push_collapsed(&mut a.text, t, false, MAX_TEXT);
        }
    }

    fn eof(&mut self) {
        self.close_anchor();
        if let Some(text) = self.jsonld.take() {
            let section = self.body_section();
            self.scan.jsonld.push(JsonLd { text, section });
        }
    }

    fn close_anchor(&mut self) {
        if let Some(open) = self.anchor.take() {
            if self.anchors_seen < MAX_ITEMS
                && let Some(mut a) = open.anchor
            {
                a.text = cap(a.text.trim().to_string(), MAX_TEXT);
                self.scan.anchors.push(*a);
            }
            self.anchors_seen = self.anchors_seen.saturating_add(1);
        }
    }

    fn pop_to(&mut self, name: &LocalName) {
        if let Some(pos) = self.stack.iter().rposition(|f| f.name == *name) {
            for f in self.stack.drain(pos..) {
                if f.footer {
                    self.footer_depth -= 1;
                }
                if f.figure {
                    self.figure_depth -= 1;
                }
            }
        }
    }

    fn start_tag(&mut self, tag: &Tag) -> Option<RawKind> {
        match tag.name {
            local_name!("head") => self.in_head = true,
            local_name!("body") => {
                self.in_head = false;
                self.seen_body = true;
            }
            local_name!("meta") if self.scan.metas.len() < MAX_ITEMS => {
                let lower = |n: LocalName| attr(tag, &n).map(|v| v.trim().to_ascii_lowercase());
                let m = MetaTag {
                    name: lower(local_name!("name"))
                        .or_else(|| lower(local_name!("property")))
                        .or_else(|| lower(local_name!("itemprop")))
                        .unwrap_or_default(),
                    http_equiv: lower(local_name!("http-equiv")).unwrap_or_default(),
                    content: attr(tag, &local_name!("content"))
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                    section: Some(self.head_like_section()),
                    tag: render_tag(tag),
                };
                self.scan.metas.push(m);
            }
            local_name!("link") if self.scan.links.len() < MAX_ITEMS => {
                self.scan.links.push(LinkTag {
                    rel: attr(tag, &local_name!("rel"))
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                    itemprop: attr(tag, &local_name!("itemprop"))
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                    href: attr(tag, &local_name!("href"))
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                    section: self.head_like_section(),
                    tag: render_tag(tag),
                });
            }
            local_name!("a") => {
                self.close_anchor();
                let href = attr(tag, &local_name!("href")).unwrap_or("").trim();
                let anchor = crate::license::may_be_cc_url(href, self.base_may_be_cc).then(|| {
                    let before = {
                        // (The window's only whitespace is single spaces.)
                        let c = self.context.trim_ascii_end();
                        let mut start = c.len().saturating_sub(CONTEXT_CHARS);
                        while !is_char_boundary(c, start) {
                            start += 1;
                        }
                        String::from_utf8_lossy(&c[start..]).into_owned()
                    };
                    Box::new(Anchor {
                        href: href.to_string(),
                        rel: attr(tag, &local_name!("rel"))
                            .unwrap_or("")
                            .to_ascii_lowercase(),
                        itemprop: attr(tag, &local_name!("itemprop"))
                            .unwrap_or("")
                            .to_ascii_lowercase(),
                        text: String::new(),
                        section: if self.footer_depth > 0 {
                            Section::Footer
                        } else {
                            Section::Body
                        },
                        in_figure: self.figure_depth > 0,
                        before,
                        tag: render_tag(tag),
                    })
                });
                self.anchor = Some(OpenAnchor { anchor });
                if tag.self_closing {
                    self.close_anchor();
                }
                return None;
            }
            local_name!("img") => {
                // An image inside an anchor: its alt text is the anchor text.
                if let Some(OpenAnchor { anchor: Some(a) }) = self.anchor.as_mut()
                    && let Some(alt) = attr(tag, &local_name!("alt"))
                {
                    push_collapsed(&mut a.text, alt, false, MAX_TEXT);
                    a.text.push(' ');
                }
            }
            local_name!("script") => {
                let ty = attr(tag, &local_name!("type"))
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if ty == "application/ld+json" && self.scan.jsonld.len() < MAX_ITEMS {
                    self.jsonld = Some(String::new());
                }
                self.in_raw = true;
                return Some(RawKind::ScriptData);
            }
            local_name!("style")
            | local_name!("xmp")
            | local_name!("iframe")
            | local_name!("noembed")
            | local_name!("noframes") => {
                self.in_raw = true;
                return Some(RawKind::Rawtext);
            }
            local_name!("title") | local_name!("textarea") => return Some(RawKind::Rcdata),
            _ => {}
        }
        if !is_void(&tag.name) && !tag.self_closing && self.stack.len() < MAX_STACK {
            let (footer, figure) = marks(tag);
            if footer {
                self.footer_depth += 1;
            }
            if figure {
                self.figure_depth += 1;
            }
            self.stack.push(Frame {
                name: tag.name.clone(),
                footer,
                figure,
            });
        }
        None
    }

    fn end_tag(&mut self, tag: &Tag) {
        match tag.name {
            local_name!("head") => self.in_head = false,
            local_name!("a") => self.close_anchor(),
            local_name!("script") => {
                self.in_raw = false;
                if let Some(text) = self.jsonld.take() {
                    let section = self.body_section();
                    self.scan.jsonld.push(JsonLd { text, section });
                }
            }
            local_name!("style")
            | local_name!("xmp")
            | local_name!("iframe")
            | local_name!("noembed")
            | local_name!("noframes") => self.in_raw = false,
            // Block ends separate text runs in the context window.
            local_name!("p")
            | local_name!("div")
            | local_name!("li")
            | local_name!("td")
            | local_name!("tr")
            | local_name!("section")
            | local_name!("article")
            | local_name!("figure")
            | local_name!("figcaption")
            | local_name!("footer")
            | local_name!("header")
            | local_name!("ul")
            | local_name!("ol")
            | local_name!("br")
                if !self.context.ends_with(b" ") && !self.context.is_empty() =>
            {
                self.context.push(b' ');
            }
            _ => {}
        }
        self.pop_to(&tag.name);
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.state.borrow_mut();
        match token {
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => {
                    if let Some(kind) = st.start_tag(&tag) {
                        return TokenSinkResult::RawData(kind);
                    }
                }
                TagKind::EndTag => st.end_tag(&tag),
            },
            Token::CharacterTokens(t) => st.text(&t),
            Token::EOFToken if !self.nested => st.eof(),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Tokenizes `html` once and collects what the signal extractors need
/// (anchors only when they may be licenses on a page at `base`).
pub(crate) fn scan(html: &str, base: Option<&url::Url>) -> PageScan {
    let sink = Sink {
        state: RefCell::new(State::for_base(base)),
        nested: false,
    };
    let sink = tokenize(sink, html, true);
    sink.state.into_inner().scan
}

/// Runs html5ever's tokenizer over `html` into `sink` (`eof`: end with an
/// `EOFToken`, i.e. the whole document) and gives the sink back.
fn tokenize(sink: Sink, html: &str, eof: bool) -> Sink {
    let sink = Sink {
        state: sink.state,
        nested: !eof,
    };
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // `feed` returns early only for `Script` results, which this sink never
    // produces; loop defensively anyway, bounded.
    for _ in 0..4 {
        let _ = tok.feed(&input);
        if input.is_empty() {
            break;
        }
    }
    tok.end();
    tok.sink
}

/// Where the token stream of the driving tokenizer differs from the one this
/// crate's own tokenizer pass would see ([`HtmlScanner`]).
#[derive(Debug, Default)]
enum Divert {
    #[default]
    None,
    /// The scan reads raw text after `<name>` (script, style, title, ...) but
    /// the driver tokenizes markup there (its element was self-closing, or
    /// inside content it drops): up to `</name>`, tags are text.
    Raw { name: String },
    /// The driver reads raw text the scan would tokenize as markup
    /// (`<noscript>`, `<plaintext>`): collected and tokenized here at the
    /// driver's next end tag (`</noscript>`) or the end of the document.
    Collect { text: String },
}

/// The scan behind [`analyze_html`](crate::analyze_html), fed with the tokens
/// of a tokenizer pass made by someone else (e.g. an HTML→text extractor),
/// so that a page is tokenized once for both.
///
/// Feed every start tag (with what the driving tokenizer reads after it),
/// end tag and text token in document order, then call
/// [`finish`](HtmlScanner::finish). When the driver switches to raw text
/// exactly where this crate's own pass would (`script`, `style`, `xmp`,
/// `iframe`, `noembed`, `noframes`: raw text; `title`, `textarea`: RCDATA),
/// the result is that of [`analyze_html`](crate::analyze_html) on the same
/// page. Where it does not, the scanner makes up for it: in raw text the
/// driver reads as markup, up to its end tag, tags are taken as text
/// (rebuilt from the token: comments, character references and attribute
/// quoting may differ from the source), and markup the driver reads as raw
/// text (`noscript`, `plaintext`) is tokenized here.
#[derive(Debug)]
pub struct HtmlScanner {
    state: State,
    divert: Divert,
    /// The page URL, parsed (relative links resolve against it).
    base: Option<url::Url>,
}

impl HtmlScanner {
    /// A scanner for the page at `page_url` (relative links resolve
    /// against it, as in [`analyze_html`](crate::analyze_html)).
    pub fn new(page_url: Option<&str>) -> Self {
        let base = page_url.and_then(|u| url::Url::parse(u).ok());
        HtmlScanner {
            state: State::for_base(base.as_ref()),
            divert: Divert::None,
            base,
        }
    }

    /// A start tag; `next` is what the driving tokenizer's sink returned for
    /// it (`RawData`, `Plaintext` or `Continue`).
    pub fn start_tag(&mut self, tag: &Tag, next: &TokenSinkResult<()>) {
        match &self.divert {
            // The driver tokenizes what the scan reads as raw text: the tag
            // is text here, as near as it can be rebuilt.
            Divert::Raw { .. } => {
                let mut source = String::with_capacity(64);
                source.push('<');
                source.push_str(&tag.name);
                for a in &tag.attrs {
                    source.push(' ');
                    source.push_str(&a.name.local);
                    source.push_str("=\"");
                    source.push_str(&a.value);
                    source.push('"');
                }
                source.push_str(if tag.self_closing { "/>" } else { ">" });
                self.state.text(&source);
                return;
            }
            // A raw-text driver gives no start tags; be safe anyway.
            Divert::Collect { .. } => self.flush_collected(),
            Divert::None => {}
        }
        let wanted = self.state.start_tag(tag);
        let driver_raw = matches!(
            next,
            TokenSinkResult::RawData(_) | TokenSinkResult::Plaintext
        );
        self.divert = match (wanted, driver_raw) {
            (Some(_), false) => Divert::Raw {
                name: tag.name.to_string(),
            },
            (None, true) => Divert::Collect {
                text: String::new(),
            },
            _ => Divert::None,
        };
    }

    /// An end tag.
    pub fn end_tag(&mut self, tag: &Tag) {
        match &self.divert {
            Divert::None => {}
            Divert::Raw { name } => {
                if *name != *tag.name {
                    self.state.text(&format!("</{}>", tag.name));
                    return;
                }
                self.divert = Divert::None;
            }
            Divert::Collect { .. } => self.flush_collected(),
        }
        self.state.end_tag(tag);
    }

    /// A text token (character references decoded, as the tokenizer gives it).
    pub fn text(&mut self, text: &str) {
        match &mut self.divert {
            Divert::Collect { text: buf } => {
                if buf.len() + text.len() <= MAX_COLLECTED {
                    buf.push_str(text);
                }
            }
            Divert::None | Divert::Raw { .. } => self.state.text(text),
        }
    }

    /// Tokenizes collected raw text as markup, into the same state.
    fn flush_collected(&mut self) {
        if let Divert::Collect { text } = std::mem::take(&mut self.divert) {
            let sink = Sink {
                state: RefCell::new(std::mem::take(&mut self.state)),
                nested: true,
            };
            self.state = tokenize(sink, &text, false).state.into_inner();
        }
    }

    /// The end of the document: what the page says.
    pub(crate) fn end(mut self) -> (PageScan, Option<url::Url>) {
        self.flush_collected();
        self.state.eof();
        (self.state.scan, self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The incremental "all rights reserved" check gives, after every
        /// step, exactly what a search of the whole window gives.
        #[test]
        fn incremental_all_rights_reserved_check_is_exact(
            ops in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "all", "All", " rights", "rights ", "reserved", "RESERVED.", " ", "\n",
                        "tous droits", " réservés", "Ré", "servés", "alle rechte", " vorbehalten",
                        "x", "İ", "ÄÖ", "</p>",
                    ]),
                    proptest::sample::select(vec!["a", "b ", "é", "ok all ", "  "]),
                ],
                0..400,
            )
        ) {
            let mut new = State::default();
            let mut old = String::new();
            let mut old_found = false;
            for op in ops {
                if op == "</p>" {
                    // What `end_tag` does for a block end.
                    if !new.context.ends_with(b" ") && !new.context.is_empty() {
                        new.context.push(b' ');
                    }
                    if !old.ends_with(' ') && !old.is_empty() {
                        old.push(' ');
                    }
                } else {
                    new.text(op);
                    push_collapsed(&mut old, op, true, usize::MAX / 4);
                    old_found |= says_all_rights_reserved(&old);
                    keep_tail(&mut old, CONTEXT_CHARS);
                }
                proptest::prop_assert_eq!(std::str::from_utf8(&new.context), Ok(old.as_str()));
                proptest::prop_assert_eq!(new.scan.all_rights_reserved, old_found);
            }
        }
    }

    #[test]
    fn a_phrase_at_the_start_of_a_long_text_token_is_seen() {
        // One text token far longer than the window: the phrase near its
        // start must not be trimmed away before the check.
        let filler = "lorem ipsum dolor sit amet ".repeat(40);
        for text in [
            format!("All rights reserved. {filler}"),
            format!("{filler} All rights reserved. {filler}"),
        ] {
            let mut state = State::default();
            state.text(&text);
            assert!(state.scan.all_rights_reserved, "{}", &text[..40]);
            assert!(state.context.len() <= 2 * CONTEXT_CHARS);
        }
    }

    #[test]
    fn every_phrase_ends_with_a_recognized_last_v() {
        for p in ALL_RIGHTS_RESERVED {
            let b = p.as_bytes();
            let last_v = b.iter().rposition(|&c| c == b'v').expect("a v");
            assert!(last_v_of_a_phrase(b, last_v), "{p}");
            assert!(b.len() - last_v <= MAX_BYTES_FROM_LAST_V, "{p}");
        }
    }

    proptest::proptest! {
        /// `class_marks` is the lowercase-and-contains test it replaces.
        #[test]
        fn class_marks_equals_lowercase_contains(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "foot", "er", "Footer", "COPYRIGHT", "copy", "right", "licen", "se", "ce",
                    "caption", "Credit", "attribution", "ATTRIB", "x", " ", "-", "é", "İ",
                    "F", "o", "fO", "cR", "cA", "lI", "aT", "foo", "CoP", "caP", "crE", "LIC", "aTt", "@", "\u{c6}", "col-lg-4 ", "content",
                ]),
                0..16,
            ),
        ) {
            let v: String = parts.concat();
            let l = v.to_ascii_lowercase();
            let footer = ["footer", "copyright", "license", "licence"].iter().any(|n| l.contains(n));
            let figure = ["caption", "credit", "attribution"].iter().any(|n| l.contains(n));
            proptest::prop_assert_eq!(class_marks(&v), (footer, figure));
        }
    }

    proptest::proptest! {
        /// `push_collapsed`'s ASCII fast path appends what the plain
        /// character loop appends.
        #[test]
        fn push_collapsed_equals_the_character_loop(
            start in proptest::sample::select(vec!["", "x", "x ", "é"]),
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "AB c", " ", "\t\n", "\u{b}", "\u{c}\r", "\u{a0}", "\u{2003}", "É", "İ", "ß",
                    "Ω", "😀", "x\u{85}y", "ǅ", "K", "…",
                ]),
                0..30,
            ),
            lowercase: bool,
        ) {
            let text: String = parts.concat();
            let mut fast = start.to_string();
            let mut slow = start.to_string();
            let appended = push_collapsed(&mut fast, &text, lowercase, usize::MAX / 4);
            push_collapsed_chars(&mut slow, &text, lowercase);
            proptest::prop_assert_eq!(&fast, &slow);
            proptest::prop_assert_eq!(appended, slow.len() - start.len());
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

    #[test]
    fn collects_elements_with_context() {
        let html = r#"<html><head><meta name="Robots" content="noai">
            <link rel="license" href="https://creativecommons.org/licenses/by/4.0/">
            <script type="application/ld+json">{"license": "x</p>"}</script>
            <script>var a = "<a href='https://creativecommons.org/licenses/by/4.0/'>";</script>
            </head><body><p>Some text. <figure><img src=x><figcaption>Photo by X
            <a href="https://creativecommons.org/licenses/by/2.0/">CC BY</a></figcaption></figure>
            <div id="footer"><p>Content is licensed under <a rel="license" href="//creativecommons.org/licenses/by-sa/3.0/"><img alt="CC BY-SA"></a></p></div>
            <p>All Rights Reserved.</p></body></html>"#;
        let s = scan(html, None);
        assert_eq!(s.metas.len(), 1);
        assert_eq!(s.metas[0].name, "robots");
        assert_eq!(s.links[0].rel, "license");
        assert_eq!(s.jsonld.len(), 1);
        assert_eq!(s.jsonld[0].text, r#"{"license": "x</p>"}"#);
        assert_eq!(s.jsonld[0].section, Section::Head);
        assert_eq!(s.anchors.len(), 2, "{:?}", s.anchors);
        assert!(s.anchors[0].in_figure);
        assert!(s.anchors[0].before.ends_with("photo by x"));
        assert_eq!(s.anchors[1].section, Section::Footer);
        assert!(!s.anchors[1].in_figure);
        assert_eq!(s.anchors[1].text, "CC BY-SA");
        assert!(s.anchors[1].before.contains("licensed under"));
        assert!(s.all_rights_reserved);
    }
}
