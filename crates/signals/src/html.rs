//! One streaming pass over an HTML document with html5ever's tokenizer (no
//! DOM): collects the `<meta>`, `<link>`, license-relevant `<a>` elements and
//! JSON-LD blocks that license detection and opt-out signals need, with the
//! structural context (head / footer / figure) each one was found in.

use std::borrow::Cow;
use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, Tokenizer, TokenizerOpts};
pub use html5ever::tokenizer::{Tag, TokenSinkResult};

use crate::visible_text::VisibleText;
pub(crate) use crate::visible_text::says_all_rights_reserved;

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
    /// The tag as found, when it may be read
    /// (`optout::meta_tag_may_be_read`), else empty.
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
    /// Up to [`CONTEXT_CHARS`](crate::visible_text::CONTEXT_CHARS) bytes of text before the anchor (lowercase).
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
    /// License links (`license::rel_is_license`) among the first
    /// [`MAX_ITEMS`] links.
    pub links: Vec<LinkTag>,
    pub anchors: Vec<Anchor>,
    pub jsonld: Vec<JsonLd>,
    /// The visible text says "all rights reserved" (or a translation).
    pub all_rights_reserved: bool,
}

const MAX_ITEMS: usize = 2000;
const MAX_STACK: usize = 512;
/// Buckets of [`NameKey::bucket`].
const BUCKETS: usize = 32;
const _: () = assert!(BUCKETS <= 256);
const _: () = assert!(MAX_STACK <= u16::MAX as usize);

/// An element name as the stack keeps it: its first eight bytes (zeros
/// past its end, little-endian) and its length. Names are equal when their
/// keys are and, past eight bytes, their tails (kept in `State::names`):
/// most names are compared and moved as two integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameKey {
    head: u64,
    len: usize,
}

impl NameKey {
    #[inline]
    fn of(name: &str) -> Self {
        let b = name.as_bytes();
        let len = b.len();
        // (Shorter names from overlapping loads: a byte loaded twice is
        // or-ed into its own place.)
        let head = match (
            b.first_chunk::<8>(),
            b.first_chunk::<4>(),
            b.last_chunk::<4>(),
        ) {
            (Some(w), _, _) => u64::from_le_bytes(*w),
            (None, Some(lo), Some(hi)) => {
                u64::from(u32::from_le_bytes(*lo))
                    | u64::from(u32::from_le_bytes(*hi)) << (8 * (len - 4))
            }
            _ => match (b.first(), b.last()) {
                (Some(&first), Some(&last)) => {
                    u64::from(first)
                        | u64::from(b[len / 2]) << (8 * (len / 2))
                        | u64::from(last) << (8 * (len - 1))
                }
                _ => 0,
            },
        };
        NameKey {
            head,
            len: name.len(),
        }
    }

    /// One of [`BUCKETS`] (the top bits of a multiplicative hash).
    #[inline]
    fn bucket(self) -> usize {
        let h = (self.head ^ self.len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - BUCKETS.trailing_zeros())) as usize
    }
}
const MAX_TEXT: usize = 300;
const MAX_JSONLD: usize = 1 << 20;
const MAX_TAG: usize = 600;
/// Raw text collected for [`HtmlScanner`] to tokenize (a `<noscript>`).
const MAX_COLLECTED: usize = 64 << 20;

/// A start or end tag as the scan reads it: html5ever's [`Tag`], or a
/// borrowed view of another tokenizer's (issue 17: no interned names, no
/// owned attributes; values decoded only when asked for).
pub trait HtmlTag {
    /// The name, ASCII lowercase.
    fn name(&self) -> &str;
    fn self_closing(&self) -> bool;
    /// The value of the (first) attribute named `name` (ASCII lowercase).
    fn attr(&self, name: &str) -> Option<Cow<'_, str>>;
    /// Every attribute (the first of each name), in order.
    fn for_each_attr(&self, f: &mut dyn FnMut(&str, &str));
    /// `f(k, value)` for each of `role`, `id` and `class` (`k` = 0, 1, 2)
    /// the tag has, as [`attr`](Self::attr) gives them (asked of most
    /// elements: one pass over the attributes where a tag can, and no
    /// array of values moved through the calls).
    fn for_role_id_class(&self, f: &mut dyn FnMut(usize, &str)) {
        for (k, name) in ["role", "id", "class"].into_iter().enumerate() {
            if let Some(value) = self.attr(name) {
                f(k, &value);
            }
        }
    }
}

impl HtmlTag for Tag {
    fn name(&self) -> &str {
        &self.name
    }
    fn self_closing(&self) -> bool {
        self.self_closing
    }
    fn attr(&self, name: &str) -> Option<Cow<'_, str>> {
        self.attrs
            .iter()
            .find(|a| &*a.name.local == name)
            .map(|a| Cow::Borrowed(&*a.value))
    }
    fn for_each_attr(&self, f: &mut dyn FnMut(&str, &str)) {
        for a in &self.attrs {
            f(&a.name.local, &a.value);
        }
    }
}

/// An open element: its name is `key`, and past its eighth byte
/// `names[start..]` up to the next frame's `start` (one buffer for the
/// stack: no allocation per element).
#[derive(Debug)]
struct Frame {
    key: NameKey,
    /// `key.bucket()`.
    bucket: u8,
    start: usize,
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
    /// The names of the open elements in `stack` past their eighth bytes,
    /// one after the other.
    names: Vec<u8>,
    /// How many open elements have a name in each [`NameKey::bucket`]: an end
    /// tag whose bucket is empty closes none, and the stack is not searched
    /// (issue 17: unclosed elements such as `<p>` pile up on it, and end
    /// tags that close nothing searched all of it).
    open_in_bucket: [u16; BUCKETS],
    footer_depth: usize,
    figure_depth: usize,
    in_head: bool,
    seen_body: bool,
    /// The visible text so far (its end), for the phrase search and the
    /// context before anchors.
    visible: VisibleText,
    anchor: Option<OpenAnchor>,
    /// Anchors closed so far (kept or not): the first [`MAX_ITEMS`] count.
    anchors_seen: usize,
    /// `<link>`s so far (license links or not): the first [`MAX_ITEMS`]
    /// count.
    links_seen: usize,
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

fn render_tag<T: HtmlTag + ?Sized>(tag: &T) -> String {
    let mut s = String::with_capacity(64);
    s.push('<');
    s.push_str(tag.name());
    tag.for_each_attr(&mut |name, value| {
        s.push(' ');
        s.push_str(name);
        s.push_str("=\"");
        // (`replace('"', "&quot;")` without a copy of every value.)
        let mut rest = value;
        while let Some(i) = memchr::memchr(b'"', rest.as_bytes()) {
            s.push_str(&rest[..i]);
            s.push_str("&quot;");
            rest = &rest[i + 1..];
        }
        s.push_str(rest);
        s.push('"');
    });
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
pub(crate) fn push_collapsed_chars(buf: &mut String, text: &str, lowercase: bool) {
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

/// `hay[i..]` starts with `needle` (lowercase ASCII), ASCII case ignored.
pub(crate) fn at_ignore_ascii_case(hay: &[u8], i: usize, needle: &[u8]) -> bool {
    hay.get(i..i + needle.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(needle))
}

/// The words [`class_marks`] looks for (lowercase), each with whether it
/// marks a footer (else a figure).
const CLASS_WORDS: [(&str, bool); 7] = [
    ("footer", true),
    ("copyright", true),
    ("license", true),
    ("licence", true),
    ("caption", false),
    ("credit", false),
    ("attribution", false),
];

/// [`CLASS_WORDS`] for a shift-and (bitap) search: each word has one bit
/// per letter, the words one after the other; `masks[b]` has the bits of
/// the letters byte `b` is, ASCII case ignored.
struct ClassBitap {
    masks: [u64; 256],
    /// The first letter of each word.
    starts: u64,
    /// The last letter of each footer word, of each figure word.
    footer_ends: u64,
    figure_ends: u64,
}

const CLASS_BITAP: ClassBitap = {
    let mut t = ClassBitap {
        masks: [0; 256],
        starts: 0,
        footer_ends: 0,
        figure_ends: 0,
    };
    let mut offset = 0;
    let mut w = 0;
    while w < CLASS_WORDS.len() {
        let (word, footer) = CLASS_WORDS[w];
        let word = word.as_bytes();
        t.starts |= 1 << offset;
        let mut j = 0;
        while j < word.len() {
            t.masks[word[j] as usize] |= 1 << (offset + j);
            t.masks[word[j].to_ascii_uppercase() as usize] |= 1 << (offset + j);
            j += 1;
        }
        let last = 1 << (offset + word.len() - 1);
        if footer {
            t.footer_ends |= last;
        } else {
            t.figure_ends |= last;
        }
        offset += word.len();
        w += 1;
    }
    assert!(offset <= 64);
    t
};

/// Whether an `id`/`class` value marks a footer (it contains `footer`,
/// `copyright`, `license` or `licence`) and a figure (`caption`, `credit`,
/// `attribution`), in any ASCII case: one pass over the value.
fn class_marks(v: &str) -> (bool, bool) {
    // (The shortest words, `footer` and `credit`, have six letters.)
    if v.len() < 6 {
        return (false, false);
    }
    let t = &CLASS_BITAP;
    // Bit k of `d`: the bytes up to this one are the letters of a word up
    // to bit k's.
    let (mut d, mut seen) = (0u64, 0u64);
    for &b in v.as_bytes() {
        d = ((d << 1) | t.starts) & t.masks[usize::from(b)];
        seen |= d;
    }
    (seen & t.footer_ends != 0, seen & t.figure_ends != 0)
}

/// Whether an element opens a footer (`<footer>`, `role=contentinfo`, or
/// [`class_marks`] of its `id` or `class`) and a figure (`<figure>`,
/// `<figcaption>`, or [`class_marks`]).
fn marks<T: HtmlTag + ?Sized>(tag: &T) -> (bool, bool) {
    let name = tag.name();
    let mut footer = name == "footer";
    let mut figure = name == "figure" || name == "figcaption";
    // The tokenizer keeps the first of repeated attributes only.
    tag.for_role_id_class(&mut |k, v| {
        if k == 0 {
            footer |= v.eq_ignore_ascii_case("contentinfo");
        } else {
            let (fo, fi) = class_marks(v);
            footer |= fo;
            figure |= fi;
        }
    });
    (footer, figure)
}

impl State {
    fn for_base(base_may_be_cc: bool) -> Self {
        State {
            base_may_be_cc,
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
        self.visible.push(t);
        if let Some(OpenAnchor { anchor: Some(a) }) = self.anchor.as_mut() {
            push_collapsed(&mut a.text, t, false, MAX_TEXT);
        }
    }

    fn eof(&mut self) {
        self.scan.all_rights_reserved = self.visible.says_all_rights_reserved();
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

    // (Inlined into its one caller, once per end tag: as a call it saved
    // and restored most registers.)
    #[inline(always)]
    fn pop_to(&mut self, name: &str) {
        let key = NameKey::of(name);
        if self.open_in_bucket[key.bucket()] == 0 {
            return;
        }
        let names = &self.names;
        let found = self.stack.iter().rposition(|f| {
            // (No slice compare for short names: memcmp of nothing at the
            // empty buffer's dangling address costs a masked-load assist.)
            f.key == key
                && (key.len <= 8
                    || names.get(f.start..f.start + key.len - 8) == name.as_bytes().get(8..))
        });
        if let Some(pos) = found {
            self.names.truncate(self.stack[pos].start);
            for f in &self.stack[pos..] {
                self.open_in_bucket[usize::from(f.bucket)] -= 1;
                self.footer_depth -= usize::from(f.footer);
                self.figure_depth -= usize::from(f.figure);
            }
            self.stack.truncate(pos);
        }
    }

    fn start_tag<T: HtmlTag + ?Sized>(&mut self, tag: &T) -> Option<RawKind> {
        let name = tag.name();
        // Void elements never open a frame; the one match over the name
        // tells them too (no second pass over the names).
        let mut void = false;
        match name {
            "head" => self.in_head = true,
            "body" => {
                self.in_head = false;
                self.seen_body = true;
            }
            "meta" if self.scan.metas.len() < MAX_ITEMS => {
                let lower = |n: &str| tag.attr(n).map(|v| v.trim().to_ascii_lowercase());
                let name = lower("name")
                    .or_else(|| lower("property"))
                    .or_else(|| lower("itemprop"))
                    .unwrap_or_default();
                let http_equiv = lower("http-equiv").unwrap_or_default();
                let content = tag
                    .attr("content")
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let read = crate::optout::meta_tag_may_be_read(&name, &http_equiv, &content);
                let m = MetaTag {
                    name,
                    http_equiv,
                    content,
                    section: Some(self.head_like_section()),
                    tag: if read { render_tag(tag) } else { String::new() },
                };
                self.scan.metas.push(m);
                void = true;
            }
            "link" if self.links_seen < MAX_ITEMS => {
                self.links_seen += 1;
                let lower = |n: &str| tag.attr(n).as_deref().unwrap_or("").to_ascii_lowercase();
                let (rel, itemprop) = (lower("rel"), lower("itemprop"));
                // Only license links are read (stylesheets, icons, ... are
                // not rendered and kept).
                if crate::license::rel_is_license(&rel, &itemprop) {
                    self.scan.links.push(LinkTag {
                        rel,
                        itemprop,
                        href: tag.attr("href").as_deref().unwrap_or("").trim().to_string(),
                        section: self.head_like_section(),
                        tag: render_tag(tag),
                    });
                }
                void = true;
            }
            "a" => {
                self.close_anchor();
                let href = tag.attr("href");
                let href = href.as_deref().unwrap_or("").trim();
                let anchor = crate::license::may_be_cc_url(href, self.base_may_be_cc).then(|| {
                    let before = self.visible.context();
                    Box::new(Anchor {
                        href: href.to_string(),
                        rel: tag
                            .attr("rel")
                            .as_deref()
                            .unwrap_or("")
                            .to_ascii_lowercase(),
                        itemprop: tag
                            .attr("itemprop")
                            .as_deref()
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
                if tag.self_closing() {
                    self.close_anchor();
                }
                return None;
            }
            "img" => {
                // An image inside an anchor: its alt text is the anchor text.
                if let Some(OpenAnchor { anchor: Some(a) }) = self.anchor.as_mut()
                    && let Some(alt) = tag.attr("alt")
                {
                    push_collapsed(&mut a.text, &alt, false, MAX_TEXT);
                    a.text.push(' ');
                }
                void = true;
            }
            "script" => {
                let ty = tag
                    .attr("type")
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if ty == "application/ld+json" && self.scan.jsonld.len() < MAX_ITEMS {
                    self.jsonld = Some(String::new());
                }
                self.in_raw = true;
                return Some(RawKind::ScriptData);
            }
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                self.in_raw = true;
                return Some(RawKind::Rawtext);
            }
            "title" | "textarea" => return Some(RawKind::Rcdata),
            // (`meta` and `link` here once their lists are full.)
            "area" | "base" | "br" | "col" | "embed" | "hr" | "input" | "link" | "meta"
            | "source" | "track" | "wbr" | "param" | "keygen" => void = true,
            _ => {}
        }
        if !void && !tag.self_closing() && self.stack.len() < MAX_STACK {
            let (footer, figure) = marks(tag);
            if footer {
                self.footer_depth += 1;
            }
            if figure {
                self.figure_depth += 1;
            }
            let key = NameKey::of(name);
            let bucket = key.bucket();
            self.stack.push(Frame {
                key,
                bucket: bucket as u8,
                start: self.names.len(),
                footer,
                figure,
            });
            if let Some(tail) = name.as_bytes().get(8..) {
                self.names.extend_from_slice(tail);
            }
            self.open_in_bucket[bucket] += 1;
        }
        None
    }

    fn end_tag<T: HtmlTag + ?Sized>(&mut self, tag: &T) {
        let name = tag.name();
        match name {
            "head" => self.in_head = false,
            "a" => self.close_anchor(),
            "script" => {
                self.in_raw = false;
                if let Some(text) = self.jsonld.take() {
                    let section = self.body_section();
                    self.scan.jsonld.push(JsonLd { text, section });
                }
            }
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => self.in_raw = false,
            // Block ends separate text runs (a space in the visible text).
            "p" | "div" | "li" | "td" | "tr" | "section" | "article" | "figure" | "figcaption"
            | "footer" | "header" | "ul" | "ol" | "br" => self.visible.push(" "),
            _ => {}
        }
        self.pop_to(name);
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
/// (anchors only when they may be licenses on a page whose URL
/// `base_may_be_cc`: `license::PageUrl::may_be_cc`).
pub(crate) fn scan(html: &str, base_may_be_cc: bool) -> PageScan {
    let sink = Sink {
        state: RefCell::new(State::for_base(base_may_be_cc)),
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
    /// The page URL (relative links resolve against it; parsed at the end
    /// if a link needs it).
    page_url: Option<String>,
}

impl HtmlScanner {
    /// A scanner for the page at `page_url` (relative links resolve
    /// against it, as in [`analyze_html`](crate::analyze_html)).
    pub fn new(page_url: Option<&str>) -> Self {
        HtmlScanner {
            state: State::for_base(crate::license::PageUrl::new(page_url).may_be_cc()),
            divert: Divert::None,
            page_url: page_url.map(str::to_owned),
        }
    }

    /// A start tag; `next` is what the driving tokenizer's sink returned for
    /// it (`RawData`, `Plaintext` or `Continue`).
    pub fn start_tag<T: HtmlTag + ?Sized>(&mut self, tag: &T, next: &TokenSinkResult<()>) {
        match &self.divert {
            // The driver tokenizes what the scan reads as raw text: the tag
            // is text here, as near as it can be rebuilt.
            Divert::Raw { .. } => {
                let mut source = String::with_capacity(64);
                source.push('<');
                source.push_str(tag.name());
                tag.for_each_attr(&mut |name, value| {
                    source.push(' ');
                    source.push_str(name);
                    source.push_str("=\"");
                    source.push_str(value);
                    source.push('"');
                });
                source.push_str(if tag.self_closing() { "/>" } else { ">" });
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
                name: tag.name().to_string(),
            },
            (None, true) => Divert::Collect {
                text: String::new(),
            },
            _ => Divert::None,
        };
    }

    /// An end tag.
    pub fn end_tag<T: HtmlTag + ?Sized>(&mut self, tag: &T) {
        match &self.divert {
            Divert::None => {}
            Divert::Raw { name } => {
                if name != tag.name() {
                    self.state.text(&format!("</{}>", tag.name()));
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
    pub(crate) fn end(mut self) -> (PageScan, Option<String>) {
        self.flush_collected();
        self.state.eof();
        (self.state.scan, self.page_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `class_marks` is the lowercase-and-contains test it replaces.
        #[test]
        fn class_marks_equals_lowercase_contains(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "foot", "er", "Footer", "COPYRIGHT", "copy", "right", "licen", "se", "ce",
                    "caption", "Credit", "attribution", "ATTRIB", "x", " ", "-", "é", "İ",
                    "F", "o", "fO", "cR", "cA", "lI", "aT", "foo", "CoP", "caP", "crE", "LIC", "aTt", "@", "\u{c6}", "col-lg-4 ", "content",
                    "attrib", "Ution", "cred", "IT", "capt", "ion", "li", "cense", "COPY", "ff",
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
        /// `NameKey::of` (overlapping loads) is the byte-by-byte fold it
        /// replaced.
        #[test]
        fn name_key_equals_the_byte_fold(name in "[a-zé\u{fffd}-]{0,12}") {
            let b = name.as_bytes();
            let head = match b.first_chunk::<8>() {
                Some(w) => u64::from_le_bytes(*w),
                None => b.iter().rev().fold(0, |k, &c| k << 8 | u64::from(c)),
            };
            proptest::prop_assert_eq!(NameKey::of(&name), NameKey { head, len: b.len() });
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

    /// A tag with a name and a class.
    struct Named(&'static str, Option<&'static str>);

    impl HtmlTag for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn self_closing(&self) -> bool {
            false
        }
        fn attr(&self, name: &str) -> Option<Cow<'_, str>> {
            (name == "class")
                .then_some(self.1.map(Cow::Borrowed))
                .flatten()
        }
        fn for_each_attr(&self, f: &mut dyn FnMut(&str, &str)) {
            if let Some(class) = self.1 {
                f("class", class);
            }
        }
    }

    proptest::proptest! {
        /// The open elements (and footer and figure depths) after start
        /// and end tags are those of a plain search of the stack at every
        /// end tag: the name buckets only skip searches that find nothing.
        #[test]
        fn end_tags_close_what_a_plain_search_closes(
            tags in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "p", "div", "li", "ul", "span", "footer", "figure", "b", "bd", "db", "pp",
                        "section", "sectiom", "td", "tr", "a", "br", "figcaption", "x", "xx",
                        "blockquote", "blockquotf", "blockquo", "blockquotes", "custom-element-x",
                        "custom-element-y", "é", "\u{fffd}",
                    ]),
                    proptest::option::of(proptest::sample::select(vec!["footer", "credit", "x"])),
                    proptest::bool::ANY,
                ),
                0..200,
            ),
        ) {
            let mut st = State::default();
            let mut reference: Vec<(&str, bool, bool)> = Vec::new();
            for (name, class, start) in tags {
                let tag = Named(name, class);
                if start {
                    let depth = st.stack.len();
                    st.start_tag(&tag);
                    if st.stack.len() > depth {
                        let f = st.stack.last().map(|f| (f.footer, f.figure)).unwrap_or_default();
                        reference.push((name, f.0, f.1));
                    }
                } else {
                    st.end_tag(&tag);
                    if let Some(pos) = reference.iter().rposition(|e| e.0 == name) {
                        reference.truncate(pos);
                    }
                }
                let mut open = Vec::new();
                let mut end = st.names.len();
                for f in st.stack.iter().rev() {
                    let mut name = f.key.head.to_le_bytes()[..f.key.len.min(8)].to_vec();
                    name.extend_from_slice(&st.names[f.start..end]);
                    open.push((String::from_utf8(name).unwrap_or_default(), f.footer, f.figure));
                    end = f.start;
                }
                open.reverse();
                let reference: Vec<(String, bool, bool)> =
                    reference.iter().map(|&(n, fo, fi)| (n.to_string(), fo, fi)).collect();
                proptest::prop_assert_eq!(&open, &reference);
                proptest::prop_assert_eq!(st.footer_depth, reference.iter().filter(|e| e.1).count());
                proptest::prop_assert_eq!(st.figure_depth, reference.iter().filter(|e| e.2).count());
            }
        }
    }

    /// Only license links are kept, but every link counts towards
    /// [`MAX_ITEMS`]: a license link is read when at most `MAX_ITEMS - 1`
    /// links come before it.
    #[test]
    fn license_links_after_other_links() {
        for (before, kept) in [(0, true), (MAX_ITEMS - 1, true), (MAX_ITEMS, false)] {
            let html = format!(
                "<head>{}<LINK REL=License href=\"https://creativecommons.org/licenses/by/4.0/\"></head>",
                r#"<link rel="stylesheet" href="/a.css">"#.repeat(before)
            );
            let s = scan(&html, false);
            assert_eq!(s.links.len(), usize::from(kept), "{before}");
            if kept {
                assert_eq!(s.links[0].rel, "license");
                assert_eq!(
                    s.links[0].tag,
                    r#"<link rel="License" href="https://creativecommons.org/licenses/by/4.0/">"#
                );
            }
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
        let s = scan(html, false);
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
