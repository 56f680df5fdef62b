//! Fast HTML→text on an HTML5 tokenizer (no DOM).
//!
//! Drops `script`/`style`/`noscript`/`template`/`svg`/`math`/`iframe`/...
//! contents and everything in `<head>` except the title (kept apart), decodes
//! entities (the tokenizer does), turns block-level elements into line breaks,
//! collapses whitespace within lines and drops empty lines.
//!
//! The tokenizer is our own ([`tokenizer`], issue 17: extraction takes about
//! a third of the CPU it took on html5ever's); html5ever's, which it
//! follows, stays as [`extract_observed_html5ever`], the reference the
//! differential tests and the `html_diff` example compare it with.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, Token, TokenSink, Tokenizer, TokenizerOpts};
pub use html5ever::tokenizer::{TagKind, TokenSinkResult};

mod tokenizer;
pub use tokenizer::TagView;

/// Sees the tokens of [`extract_observed`]'s tokenizer pass, so another scan
/// of the page (license, opt-out signals) needs no second pass.
pub trait TokenObserver {
    /// A start tag, and what the extractor told the tokenizer to read after
    /// it: `RawData(kind)` (raw text up to the matching end tag),
    /// `Plaintext` (raw text to the end) or `Continue` (markup). The
    /// extractor switches to raw text after non-self-closing `script`,
    /// `style`, `xmp`, `iframe`, `noembed`, `noframes`, `noscript` (raw
    /// text), `title`, `textarea` (RCDATA) and `plaintext`, except inside
    /// content it drops (`svg`, `math`, `template`, `object`, `select`, ...).
    fn start_tag(&mut self, tag: &TagView<'_>, next: &TokenSinkResult<()>);
    fn end_tag(&mut self, tag: &TagView<'_>);
    /// Text, character references decoded (as the tokenizer gives it).
    fn text(&mut self, text: &str);
    /// The end of the document.
    fn end(&mut self);
}

/// Sees nothing ([`extract`]).
impl TokenObserver for () {
    fn start_tag(&mut self, _: &TagView<'_>, _: &TokenSinkResult<()>) {}
    fn end_tag(&mut self, _: &TagView<'_>) {}
    fn text(&mut self, _: &str) {}
    fn end(&mut self) {}
}

/// Result of [`extract`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extracted {
    /// Visible text: one line per block, whitespace collapsed, no empty lines.
    pub text: String,
    /// `<title>` text, whitespace collapsed.
    pub title: Option<String>,
    /// `<html lang>` attribute.
    pub lang: Option<String>,
}

/// Extracts readable text from an HTML document.
pub fn extract(html: &str) -> Extracted {
    extract_observed(html, &mut ())
}

/// [`extract`], with every token of its one tokenizer pass shown to
/// `observer` in document order.
pub fn extract_observed<O: TokenObserver + ?Sized>(html: &str, observer: &mut O) -> Extracted {
    let mut sink = Both {
        st: State {
            // (Most pages' text fits: no reallocation and copy as it grows,
            // issue 17; `finish` gives back what is left over.)
            out: String::with_capacity(html.len() / 4),
            ..State::default()
        },
        observer,
    };
    tokenizer::tokenize(html, &mut sink);
    sink.st.finish()
}

/// The extractor and an observer on [`tokenizer`]'s tokens, in the order
/// [`Sink`] gives them html5ever's.
struct Both<'o, O: ?Sized> {
    st: State,
    observer: &'o mut O,
}

impl<O: TokenObserver + ?Sized> tokenizer::TokenSink for Both<'_, O> {
    fn text(&mut self, text: &str) {
        self.observer.text(text);
        self.st.text(text);
    }

    #[inline(always)]
    fn tag(&mut self, tag: &TagView<'_>) -> TokenSinkResult<()> {
        match tag.kind {
            TagKind::StartTag => {
                let next = self.st.tag(tag);
                self.observer.start_tag(tag, &next);
                next
            }
            TagKind::EndTag => {
                self.observer.end_tag(tag);
                self.st.tag(tag)
            }
        }
    }

    fn end(&mut self) {
        self.observer.end();
    }
}

/// [`extract_observed`] on html5ever's tokenizer: the reference our own
/// [`tokenizer`] is checked against (same [`Extracted`], same tags and
/// text shown to `observer`; text may come in other pieces).
pub fn extract_observed_html5ever<O: TokenObserver + ?Sized>(
    html: &str,
    observer: &mut O,
) -> Extracted {
    let sink = Sink {
        st: RefCell::new(State::default()),
        observer: RefCell::new(observer),
    };
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    // One buffer: the tokenizer's text tokens then break where those of any
    // other whole-document pass do (an observer may depend on it).
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
    let st = tok.sink.st.into_inner();
    st.finish()
}

/// The first difference between what [`extract_observed`] and
/// [`extract_observed_html5ever`] make of `html` (the [`Extracted`], or the
/// tags and text an observer sees, text compared between tags), or None.
/// For the differential tests and the `html_diff` example (issue 17).
pub fn differs_from_html5ever(html: &str) -> Option<String> {
    let (mut ours, mut theirs) = (Recorder::default(), Recorder::default());
    let a = extract_observed(html, &mut ours);
    let b = extract_observed_html5ever(html, &mut theirs);
    if a != b {
        return Some(format!("extracted: ours {a:?}\nhtml5ever {b:?}"));
    }
    let (ours, theirs) = (ours.0, theirs.0);
    if let Some(i) = (0..ours.len().max(theirs.len())).find(|&i| ours.get(i) != theirs.get(i)) {
        let from = i.saturating_sub(2);
        return Some(format!(
            "token {i}: ours {:?}\nhtml5ever {:?}",
            &ours[from..ours.len().min(i + 2)],
            &theirs[from..theirs.len().min(i + 2)]
        ));
    }
    None
}

/// What an observer saw, text between tags joined.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Recorder {
    fn tag(&mut self, tag: &TagView<'_>, next: Option<&TokenSinkResult<()>>) {
        let attrs: Vec<_> = tag.attrs().collect();
        self.0.push(format!(
            "{:?} {:?} {attrs:?} self_closing={} duplicates={} next={next:?}",
            tag.kind, tag.name, tag.self_closing, tag.had_duplicate_attributes
        ));
    }
}

impl TokenObserver for Recorder {
    fn start_tag(&mut self, tag: &TagView<'_>, next: &TokenSinkResult<()>) {
        self.tag(tag, Some(next));
    }
    fn end_tag(&mut self, tag: &TagView<'_>) {
        self.tag(tag, None);
    }
    fn text(&mut self, text: &str) {
        match self.0.last_mut() {
            Some(last) if last.starts_with("text ") => last.push_str(text),
            _ => self.0.push(format!("text {text}")),
        }
    }
    fn end(&mut self) {
        self.0.push("end".into());
    }
}

#[derive(Default)]
struct State {
    /// The text so far; its last line (not ended yet) is `out[line_start..]`
    /// (written in place: no line buffer copied at every line end).
    out: String,
    line_start: usize,
    pending_space: bool,
    /// Inside elements whose content is dropped.
    skip: u32,
    /// Inside raw-text content of a dropped element (script, style, ...).
    raw_skip: bool,
    in_title: bool,
    title: String,
    in_head: bool,
    pre: u32,
    lang: Option<String>,
}

/// How [`State::text`] reads a byte: a character that is neither whitespace
/// nor control ([`VISIBLE`]: visible ASCII, a continuation byte, or the lead
/// byte of a character that never is), a space, other ASCII whitespace or
/// control ([`BLANK`]), or the lead byte of a character that may be
/// whitespace or control (`U+0080`–`U+00BF`, `U+1000`–`U+1FFF`,
/// `U+2000`–`U+2FFF`, `U+3000`–`U+3FFF`: decoded to tell).
const VISIBLE: u8 = 0;
const SPACE: u8 = 1;
const BLANK: u8 = 2;
const LEAD: u8 = 3;
const CLASS: [u8; 256] = {
    let mut t = [VISIBLE; 256];
    let mut b = 0;
    while b < 0x21 {
        t[b] = BLANK;
        b += 1;
    }
    t[b' ' as usize] = SPACE;
    t[0x7F] = BLANK;
    t[0xC2] = LEAD;
    t[0xE1] = LEAD;
    t[0xE2] = LEAD;
    t[0xE3] = LEAD;
    t
};

/// Whether a character is dropped as whitespace (collapsed) by the text.
fn is_blank(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGH: u64 = ONES * 0x80;

/// 0x80 in each byte of `w` equal to `c` (SWAR, exact per byte: no carries
/// between bytes).
#[inline(always)]
fn bytes_equal(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    !(((x & !HIGH) + !HIGH) | x) & HIGH
}

/// 0x80 in each byte of `w` that is not [`VISIBLE`] (ASCII whitespace or
/// control, a space, a [`LEAD`] byte), exact per byte.
#[inline(always)]
fn not_visible(w: u64) -> u64 {
    let ascii = ascii_blank(w);
    // 0xC2, and 0xE1 to 0xE3 (0xE0 to 0xE3 but 0xE0); none in an ASCII
    // word (most words: issue 17, a quarter of the work for the others).
    if w & HIGH == 0 {
        return ascii;
    }
    let lead = bytes_equal(w, 0xC2) | (bytes_equal(w & !(ONES * 3), 0xE0) & !bytes_equal(w, 0xE0));
    ascii | lead
}

/// 0x80 in each byte of `w` that is ASCII whitespace or control ([`SPACE`]
/// or [`BLANK`]), exact per byte.
#[inline(always)]
fn ascii_blank(w: u64) -> u64 {
    let low = w & !HIGH;
    // (Low seven bits plus 0x5F reach 0x80 from 0x21 on; plus 1, at 0x7F.)
    let from_21 = (low + ONES * 0x5F) & HIGH;
    let from_7f = (low + ONES) & HIGH;
    ((from_21 ^ HIGH) | from_7f) & !(w & HIGH)
}

/// Where the run of ASCII whitespace and control characters of `b` from
/// `i` ends (at a visible or non-ASCII byte, or the end): eight bytes at a
/// time (issue 17: the indentation between tags, a byte at a time, was
/// a branch per byte and a mispredicted exit per run).
#[inline(always)]
fn blank_run_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        // (The zeros past the end are blank: a stop is within `b`.)
        let stops = !ascii_blank(word_from(b, i)) & HIGH;
        if stops != 0 {
            return i + stops.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    b.len()
}

/// 0x80 in each byte of `w` where a run of [`State::text`] stops: a byte
/// that is not [`VISIBLE`], except a space followed by one (the byte after
/// the last is taken as not visible).
#[inline(always)]
fn run_stops(w: u64) -> u64 {
    let not_visible = not_visible(w);
    let space = bytes_equal(w, b' ');
    let next_not_visible = (not_visible >> 8) | (0x80 << 56);
    not_visible & !(space & !next_not_visible)
}

/// The eight bytes of `b` from `i`, little-endian; past its end, zeros
/// (read from `b` itself, overlapping, when it has eight bytes).
#[inline(always)]
fn word_from(b: &[u8], i: usize) -> u64 {
    let load = |j: usize| match b.get(j..j + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        Some(w) => u64::from_le_bytes(w),
        None => 0,
    };
    if i + 8 <= b.len() {
        load(i)
    } else if b.len() >= 8 {
        load(b.len() - 8) >> ((8 - (b.len() - i)) * 8)
    } else {
        b[i..].iter().rev().fold(0, |t, &c| t << 8 | u64::from(c))
    }
}

impl State {
    fn line_is_empty(&self) -> bool {
        self.out.len() == self.line_start
    }

    fn newline(&mut self) {
        if !self.line_is_empty() {
            self.out.push('\n');
            self.line_start = self.out.len();
        }
        self.pending_space = false;
    }

    fn text(&mut self, s: &str) {
        if self.in_title {
            self.title.push_str(s);
            return;
        }
        if self.skip > 0 || self.raw_skip || self.in_head {
            return;
        }
        let b = s.as_bytes();
        let n = b.len();
        let mut i = 0;
        while i < n {
            // A run of visible characters with single spaces between them
            // is appended at once (it collapses to itself); eight bytes at
            // a time while no byte is one to look at ([`run_stops`]).
            let start = i;
            // (A run does not start with a space, nor with other ASCII
            // whitespace or control: straight to the blanks below.)
            if !matches!(CLASS[usize::from(b[start])], SPACE | BLANK) {
                loop {
                    while i < n {
                        let w = word_from(b, i);
                        let stop = run_stops(w);
                        if stop != 0 {
                            // (At most at the end: the bytes past it are zeros.)
                            i += stop.trailing_zeros() as usize / 8;
                            break;
                        }
                        i += 8;
                    }
                    let Some(&c) = b.get(i) else { break };
                    match CLASS[usize::from(c)] {
                        VISIBLE => i += 1,
                        SPACE
                            if i > start
                                && b.get(i + 1)
                                    .is_some_and(|&d| CLASS[usize::from(d)] == VISIBLE) =>
                        {
                            i += 2;
                        }
                        // (U+3040 to U+3FFF, kana among them, are none of
                        // them blank: skipped undecoded, issue 17.)
                        LEAD if c == 0xE3 && b.get(i + 1) != Some(&0x80) => i += 3,
                        LEAD => match s[i..].chars().next() {
                            Some(ch) if !is_blank(ch) => i += ch.len_utf8(),
                            _ => break,
                        },
                        _ => break,
                    }
                }
            }
            if i > start {
                if self.pending_space {
                    self.out.push(' ');
                    self.pending_space = false;
                }
                self.out.push_str(&s[start..i]);
                continue;
            }
            // Whitespace or a control character (collapsed): one at a time
            // in `<pre>` (a line feed ends the line there), else the run.
            if b[i] < 0x80 {
                if self.pre > 0 {
                    if b[i] == b'\n' {
                        self.newline();
                    } else if !self.line_is_empty() {
                        self.pending_space = true;
                    }
                    i += 1;
                } else {
                    i = blank_run_end(b, i);
                    if !self.line_is_empty() {
                        self.pending_space = true;
                    }
                }
                continue;
            }
            // A non-ASCII whitespace or control character (the run above
            // stopped at it).
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            if !self.line_is_empty() {
                self.pending_space = true;
            }
        }
    }

    fn finish(mut self) -> Extracted {
        self.newline();
        if self.out.ends_with('\n') {
            self.out.pop();
        }
        if self.out.capacity() > self.out.len() + self.out.len() / 2 {
            self.out.shrink_to_fit();
        }
        let title = self.title.split_whitespace().collect::<Vec<_>>().join(" ");
        Extracted {
            text: self.out,
            title: (!title.is_empty()).then_some(title),
            lang: self.lang,
        }
    }
}

struct Sink<'o, O: ?Sized> {
    st: RefCell<State>,
    observer: RefCell<&'o mut O>,
}

/// Elements whose content is dropped.
const SKIPPED: [&str; 12] = [
    "script", "style", "noscript", "template", "svg", "math", "iframe", "noembed", "noframes",
    "object", "select", "datalist",
];

/// Elements that start and end a line.
const BLOCK: [&str; 50] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
    "textarea",
    "frameset",
    "img",
];

/// Elements that do not end `<head>`.
const IN_HEAD: [&str; 10] = [
    "head", "html", "title", "meta", "link", "base", "script", "style", "noscript", "template",
];

/// Elements after whose start tag the tokenizer reads raw text.
const RAW: [(&str, RawKind); 9] = [
    ("script", RawKind::ScriptData),
    ("style", RawKind::Rawtext),
    ("xmp", RawKind::Rawtext),
    ("iframe", RawKind::Rawtext),
    ("noembed", RawKind::Rawtext),
    ("noframes", RawKind::Rawtext),
    ("noscript", RawKind::Rawtext),
    ("title", RawKind::Rcdata),
    ("textarea", RawKind::Rcdata),
];

/// Elements [`State::tag`] treats each its own way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Named {
    #[default]
    Other,
    Html,
    Head,
    Title,
    Pre,
    /// `td`, `th`.
    Cell,
    /// `svg`, `math`.
    Foreign,
    Plaintext,
}

const NAMED: [(&str, Named); 9] = [
    ("html", Named::Html),
    ("head", Named::Head),
    ("title", Named::Title),
    ("pre", Named::Pre),
    ("td", Named::Cell),
    ("th", Named::Cell),
    ("svg", Named::Foreign),
    ("math", Named::Foreign),
    ("plaintext", Named::Plaintext),
];

/// What the extractor does with an element, found once per tag
/// ([`Element::of`]) rather than by matching the name against each list
/// (and against the names in [`NAMED`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Element {
    skipped: bool,
    block: bool,
    in_head: bool,
    raw: Option<RawKind>,
    named: Named,
}

/// Slots of [`Elements`] (a power of two, over four times the names).
const SLOTS: usize = 256;

/// The [`Element`] of every name in the lists above, in a table keyed by
/// [`name_key`] with one name a slot (issue 17: no probing).
struct Elements([(u128, Element); SLOTS]);

/// A name of at most 15 bytes without NUL as a number: its bytes ASCII
/// lowercase (the name as the tokenizer folds it), and its length in the
/// top byte; 0 for other names, which are in no list. The tokenizer
/// computes it as it reads a tag's name ([`TagView`]'s `key`).
const fn name_key(name: &[u8]) -> u128 {
    if name.len() > 15 {
        return 0;
    }
    let mut k = (name.len() as u128) << 120;
    let mut i = 0;
    while i < name.len() {
        if name[i] == 0 {
            return 0;
        }
        k |= (name[i].to_ascii_lowercase() as u128) << (8 * i);
        i += 1;
    }
    k
}

const fn slot(key: u128) -> usize {
    let h = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
    // (A multiplier that gives every listed name a slot of its own.)
    (h.wrapping_mul(0x30FD_14E8_CE0E_2E5D) >> 56) as usize % SLOTS
}

/// Whether `names` has `name` (a `const` `contains`).
const fn listed(names: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        let (a, b) = (names[i].as_bytes(), name.as_bytes());
        let mut k = 0;
        while k < a.len() && k < b.len() && a[k] == b[k] {
            k += 1;
        }
        if k == a.len() && k == b.len() {
            return true;
        }
        i += 1;
    }
    false
}

/// The table, built at compile time (issue 17: no `OnceLock` to check at
/// every tag).
static ELEMENTS: Elements = Elements::build();

impl Elements {
    const fn build() -> Self {
        let mut t = Elements([(0, Element::DEFAULT); SLOTS]);
        let lists: [&[&str]; 3] = [&SKIPPED, &BLOCK, &IN_HEAD];
        let mut l = 0;
        while l < lists.len() {
            let mut n = 0;
            while n < lists[l].len() {
                t.insert(lists[l][n]);
                n += 1;
            }
            l += 1;
        }
        let mut n = 0;
        while n < RAW.len() {
            t.insert(RAW[n].0);
            n += 1;
        }
        let mut n = 0;
        while n < NAMED.len() {
            t.insert(NAMED[n].0);
            n += 1;
        }
        t
    }

    const fn insert(&mut self, name: &str) {
        let key = name_key(name.as_bytes());
        let element = Element {
            skipped: listed(&SKIPPED, name),
            block: listed(&BLOCK, name),
            in_head: listed(&IN_HEAD, name),
            raw: raw_kind(name),
            named: named(name),
        };
        let i = slot(key);
        // (A name in two lists is inserted twice.)
        assert!(
            self.0[i].0 == 0 || self.0[i].0 == key,
            "two names in one slot"
        );
        self.0[i] = (key, element);
    }
}

impl Element {
    const DEFAULT: Element = Element {
        skipped: false,
        block: false,
        in_head: false,
        raw: None,
        named: Named::Other,
    };

    /// The element of the name whose [`name_key`] is `key`: one slot
    /// looked at (every listed name has its own; the others, key 0
    /// included, find an empty slot or another name's).
    #[inline]
    fn of(key: u128) -> Element {
        match ELEMENTS.0[slot(key)] {
            (k, element) if k == key => element,
            _ => Element::DEFAULT,
        }
    }
}

const fn named(name: &str) -> Named {
    let mut i = 0;
    while i < NAMED.len() {
        if listed(&[NAMED[i].0], name) {
            return NAMED[i].1;
        }
        i += 1;
    }
    Named::Other
}

const fn raw_kind(name: &str) -> Option<RawKind> {
    let mut i = 0;
    while i < RAW.len() {
        if listed(&[RAW[i].0], name) {
            return Some(RAW[i].1);
        }
        i += 1;
    }
    None
}

impl<O: TokenObserver + ?Sized> TokenSink for Sink<'_, O> {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut observer = self.observer.borrow_mut();
        match &token {
            Token::CharacterTokens(t) => observer.text(t),
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => {
                    let next = self.process(&token);
                    observer.start_tag(&TagView::of_html5ever(tag), &next);
                    return next;
                }
                TagKind::EndTag => observer.end_tag(&TagView::of_html5ever(tag)),
            },
            Token::EOFToken => observer.end(),
            _ => {}
        }
        self.process(&token)
    }
}

impl<O: ?Sized> Sink<'_, O> {
    /// The extractor's own handling of a token.
    fn process(&self, token: &Token) -> TokenSinkResult<()> {
        let mut st = self.st.borrow_mut();
        match token {
            Token::CharacterTokens(t) => st.text(t),
            Token::TagToken(tag) => return st.tag(&TagView::of_html5ever(tag)),
            Token::NullCharacterToken
            | Token::CommentToken(_)
            | Token::DoctypeToken(_)
            | Token::EOFToken
            | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }
}

impl State {
    /// The extractor's handling of a tag: what to read after it.
    #[inline(always)]
    fn tag(&mut self, tag: &TagView<'_>) -> TokenSinkResult<()> {
        let st = self;
        let element = Element::of(tag.key);
        let named = element.named;
        match tag.kind {
            TagKind::StartTag => {
                if named == Named::Html && st.lang.is_none() {
                    st.lang = tag
                        .attr("lang")
                        .map(|v| v.trim().to_string())
                        .filter(|l| !l.is_empty());
                }
                if named == Named::Head {
                    st.in_head = true;
                } else if st.in_head && !element.in_head {
                    st.in_head = false;
                }
                if named == Named::Title && st.skip == 0 {
                    st.in_title = !tag.self_closing;
                } else if element.skipped {
                    if !tag.self_closing {
                        if element.raw.is_some() {
                            st.raw_skip = true;
                        } else {
                            st.skip = st.skip.saturating_add(1);
                        }
                    }
                } else if named == Named::Pre {
                    st.pre = st.pre.saturating_add(1);
                } else if named == Named::Cell && !st.line_is_empty() {
                    st.pending_space = true;
                }
                if element.block {
                    st.newline();
                }
                if tag.self_closing || st.skip > 0 && named != Named::Foreign {
                    return TokenSinkResult::Continue;
                }
                if named == Named::Plaintext {
                    return TokenSinkResult::Plaintext;
                }
                if let Some(k) = element.raw {
                    return TokenSinkResult::RawData(k);
                }
            }
            TagKind::EndTag => {
                if named == Named::Title {
                    st.in_title = false;
                } else if named == Named::Head {
                    st.in_head = false;
                } else if element.skipped {
                    if element.raw.is_some() {
                        st.raw_skip = false;
                    } else {
                        st.skip = st.skip.saturating_sub(1);
                    }
                } else if named == Named::Pre {
                    st.pre = st.pre.saturating_sub(1);
                }
                if element.block {
                    st.newline();
                }
            }
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic() {
        let e = extract(
            "<!doctype html><html lang=en><head><title> A  page </title><style>p{}</style>\
             <script>var x = '<p>no</p>';</script></head><body><h1>Hello&amp;bye</h1>\
             <p>one   two\n three</p><div>x<br>y</div><ul><li>a</li><li>b</li></ul>\
             <svg><text>no</text><svg></svg><text>no</text></svg><noscript>no</noscript>\
             <template><p>no</p></template><p>&nbsp;</p><p>end&#33;</p></body></html>",
        );
        assert_eq!(e.title.as_deref(), Some("A page"));
        assert_eq!(e.lang.as_deref(), Some("en"));
        assert_eq!(e.text, "Hello&bye\none two three\nx\ny\na\nb\nend!");
    }

    /// The text does not depend on how the input is cut into buffers (it
    /// was fed in 64 KiB slices before the one-buffer feed).
    #[test]
    fn text_does_not_depend_on_input_buffers() {
        fn extract_in_slices(html: &str, size: usize) -> Extracted {
            let mut none = ();
            let sink = Sink {
                st: RefCell::new(State::default()),
                observer: RefCell::new(&mut none),
            };
            let tok = Tokenizer::new(sink, TokenizerOpts::default());
            let input = BufferQueue::default();
            let mut rest = html;
            while !rest.is_empty() {
                let mut cut = rest.len().min(size);
                while !rest.is_char_boundary(cut) {
                    cut += 1;
                }
                input.push_back(StrTendril::from_slice(&rest[..cut]));
                rest = &rest[cut..];
                let _ = tok.feed(&input);
            }
            tok.end();
            tok.sink.st.into_inner().finish()
        }
        let pages = [
            "<!doctype html><html lang=de><head><title> Ä  page &amp; x</title>\r\n\
             <style>p{}</style><script>if (a<b) x = '</scr' + 'ipt>';</script></head>\r\n\
             <body><pre>a\r\n b</pre><p>caf&eacute; &#x1F600; na\u{ef}ve&nbsp;x</p><table><tr>\
             <td>1</td><td>2</td></tr></table><noscript><p>no</p></noscript><svg><title>s</title>\
             <script>x</script></svg><plaintext><p>plain &amp; text",
            "<<<>>><p <a></",
            "",
        ];
        for page in pages {
            let whole = extract(page);
            for size in [1, 2, 3, 5, 7, 16, 64, 1 << 16] {
                assert_eq!(
                    extract_in_slices(page, size),
                    whole,
                    "slices of {size}: {page}"
                );
            }
        }
    }

    /// The extractor's text handling before its run-at-once scan (with a
    /// line buffer): the reference the scan is checked against.
    #[derive(Default)]
    struct Reference {
        out: String,
        line: String,
        pending_space: bool,
        pre: u32,
    }

    impl Reference {
        fn newline(&mut self) {
            if !self.line.is_empty() {
                self.out.push_str(&self.line);
                self.out.push('\n');
                self.line.clear();
            }
            self.pending_space = false;
        }

        fn text(&mut self, s: &str) {
            for c in s.chars() {
                if c == '\n' && self.pre > 0 {
                    self.newline();
                } else if c.is_whitespace() || c.is_control() {
                    if !self.line.is_empty() {
                        self.pending_space = true;
                    }
                } else {
                    if self.pending_space {
                        self.line.push(' ');
                        self.pending_space = false;
                    }
                    self.line.push(c);
                }
            }
        }
    }

    /// Every non-ASCII character that is whitespace or control starts with
    /// a byte `State::text` decodes (it copies the others undecoded).
    #[test]
    fn blank_characters_start_with_a_lead_byte() {
        for c in (0x80..=0x10FFFF).filter_map(char::from_u32) {
            if is_blank(c) {
                let mut buf = [0u8; 4];
                let lead = c.encode_utf8(&mut buf).as_bytes()[0];
                assert_eq!(CLASS[usize::from(lead)], LEAD, "{c:?}");
            }
        }
        // (What `State::text` skips undecoded after 0xE3.)
        for c in '\u{3040}'..='\u{3fff}' {
            assert!(!is_blank(c), "{c:?}");
        }
        for b in 0u8..0x80 {
            let blank = is_blank(char::from(b));
            assert_eq!(CLASS[usize::from(b)] != VISIBLE, blank, "{b:#x}");
            let w = u64::from_le_bytes([b'a', b'b', b, b'c', 0x7E, 0x21, b'x', b'y']);
            assert_eq!(not_visible(w) != 0, blank, "{b:#x}");
        }
        // A run stops at a space only before a byte that is not visible
        // ASCII, or at the end of the word.
        let w = u64::from_le_bytes(*b"a b  c\td");
        assert_eq!(run_stops(w), 0x80 << 24 | 0x80 << 48);
        let w = u64::from_le_bytes(*b"abcdefg ");
        assert_eq!(run_stops(w), 0x80 << 56);
        let w = u64::from_le_bytes(*b" \xC3\xA9 a~ !");
        assert_eq!(run_stops(w), 0);
        let w = u64::from_le_bytes(*b"a \xE2\x80\x99 \xC2\xA0");
        assert_eq!(
            run_stops(w),
            0x80 << 8 | 0x80 << 16 | 0x80 << 40 | 0x80 << 48
        );
        for b in 0x80..=0xFFu8 {
            let w = u64::from_le_bytes([b'a', b'b', b'c', b'd', b'e', b'f', b'g', b]);
            let lead = CLASS[usize::from(b)] == LEAD;
            assert_eq!(not_visible(w), (u64::from(lead) * 0x80) << 56, "{b:#x}");
            let w = u64::from_le_bytes([b, 0xE0, 0xE4, 0xC3, 0x80, 0xBF, b'a', b'~']);
            assert_eq!(not_visible(w), u64::from(lead) * 0x80, "{b:#x}");
        }
        let b = b"abcdefghij k";
        assert_eq!(word_from(b, 9), u64::from_le_bytes(*b"j k\0\0\0\0\0"));
        assert_eq!(word_from(&b[..5], 2), u64::from_le_bytes(*b"cde\0\0\0\0\0"));
        assert_eq!(word_from(b, 1), u64::from_le_bytes(*b"bcdefghi"));
    }

    proptest::proptest! {
        /// `State::text` (runs at once, eight bytes at a time, no line
        /// buffer) gives the text of the character-at-a-time loop, in and
        /// out of `<pre>`, with lines ended between pieces.
        #[test]
        fn text_equals_the_character_loop(
            steps in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        proptest::sample::select(vec![
                            "a", "word", "Two words", "exactly8", "sixteen bytes ok", " ", "  ",
                            "\t", "\n", "\u{b}", "\u{c}", "\r", "\u{1}", "\u{7f}", "~!", "\u{85}",
                            "\u{a0}", "\u{a9}", "\u{1680}", "\u{1e9e}", "\u{2003}", "\u{2019}",
                            "\u{2028}", "\u{202f}", "\u{3000}", "\u{3042}", "\u{e9}t\u{e9}", "\u{1F600}",
                            "x \u{2019}", "a b c d e f g h", "abcdefg\u{80}", "\u{9f}", " a", "b ",
                            "\n        ", "\t\t\t\t\t\t\t\t\t", " \r\n \u{1}       x",
                        ]),
                        0..12,
                    ),
                    0u8..4,
                    proptest::bool::ANY,
                ),
                0..8,
            ),
        ) {
            let mut st = State::default();
            let mut reference = Reference::default();
            for (pieces, action, joined) in steps {
                // (One text token, or one per piece.)
                let pieces = if joined { vec![pieces.concat()] } else { pieces.iter().map(|p| p.to_string()).collect() };
                for piece in pieces.iter() {
                    st.text(piece);
                    reference.text(piece);
                }
                match action {
                    0 => {
                        st.newline();
                        reference.newline();
                    }
                    1 => {
                        st.pre += 1;
                        reference.pre += 1;
                    }
                    2 => {
                        st.pre = st.pre.saturating_sub(1);
                        reference.pre = reference.pre.saturating_sub(1);
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(st.line_is_empty(), reference.line.is_empty());
                proptest::prop_assert_eq!(st.pending_space, reference.pending_space);
            }
            st.newline();
            reference.newline();
            proptest::prop_assert_eq!(&st.out, &reference.out);
        }
    }

    proptest::proptest! {
        /// `blank_run_end` (a word at a time) ends where the byte loop it
        /// replaced does, from anywhere in the input.
        #[test]
        fn blank_run_end_equals_the_byte_loop(
            b in proptest::collection::vec(
                proptest::sample::select(vec![b' ', b'\t', b'\n', 0, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xC2, 0xFF, b'a']),
                0..40,
            ),
            from in 0usize..40,
        ) {
            let i = from.min(b.len());
            let want = (i..b.len())
                .find(|&j| b[j] >= 0x80 || CLASS[usize::from(b[j])] == VISIBLE)
                .unwrap_or(b.len());
            proptest::prop_assert_eq!(blank_run_end(&b, i), want);
        }
    }

    /// `Element::of` says of every name what the lists say.
    #[test]
    fn elements_are_the_lists() {
        let listed = SKIPPED.iter().chain(&BLOCK).chain(&IN_HEAD).copied();
        let listed = listed.chain(NAMED.iter().map(|&(n, _)| n));
        let others = [
            "a",
            "span",
            "b",
            "x",
            "scrip",
            "scripts",
            "h7",
            "svgs",
            "tablea",
            "\u{fffd}",
            "",
            "abcdefghijklmno",
            "abcdefghijklmnop",
            "blockquotes",
            "figcaptio",
            "xmp",
        ];
        for name in listed.chain(RAW.iter().map(|&(n, _)| n)).chain(others) {
            let want = Element {
                skipped: SKIPPED.contains(&name),
                block: BLOCK.contains(&name),
                in_head: IN_HEAD.contains(&name),
                raw: RAW.iter().find(|&&(n, _)| n == name).map(|&(_, k)| k),
                named: NAMED
                    .iter()
                    .find(|&&(n, _)| n == name)
                    .map_or(Named::Other, |&(_, k)| k),
            };
            assert_eq!(Element::of(name_key(name.as_bytes())), want, "{name:?}");
        }
        let of = |name: &str| Element::of(name_key(name.as_bytes()));
        assert!(of("div").block && of("script").raw.is_some());
        assert_eq!(of("span"), Element::default());
    }

    #[test]
    fn unclosed_head_and_garbage() {
        let e = extract("<head><title>t</title><p>body text");
        assert_eq!(e.text, "body text");
        let e = extract("<<<>>><p <a></");
        assert!(!e.text.lines().any(str::is_empty));
        assert_eq!(extract("").text, "");
    }
}
