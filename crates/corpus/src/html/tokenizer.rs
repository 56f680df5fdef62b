//! An HTML5 tokenizer over one in-memory string (issue 17): the tokens
//! html5ever's tokenizer gives [`super::extract_observed`]'s sinks, found by
//! scanning bytes (`memchr`) instead of one character at a time through a
//! buffer queue, text handed out as slices of the input.
//!
//! It follows html5ever's tokenizer (the WHATWG tokenization states) for
//! everything the sinks see: tags and attributes (case folding, quoting,
//! duplicates, `/>`), text with character references decoded (named ones
//! from html5ever's own table, numeric ones with its replacements), the
//! raw-text, RCDATA, script-data (escaped and double-escaped) and PLAINTEXT
//! states the sink switches to, and the ends of comments, doctypes and bogus
//! comments (their contents are not needed). `\r\n` and `\r` read as `\n`,
//! NUL as U+FFFD (dropped in data, as html5ever's sinks see it). Text may
//! come in other pieces than html5ever's; the concatenated text between two
//! tags is the same. `differential` tests and the `html_diff` example check
//! it against html5ever.

use std::borrow::Cow;

use html5ever::Attribute;
use html5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{TagKind, TokenSinkResult};

use super::{HIGH, ONES, bytes_equal};

/// What the tokenizer gives: text and tags, then the end.
pub(crate) trait TokenSink {
    /// Text with character references decoded (a piece of it).
    fn text(&mut self, text: &str);
    /// A start or end tag; for a start tag, what to read after it.
    fn tag(&mut self, tag: &TagView<'_>) -> TokenSinkResult<()>;
    fn end(&mut self);
}

/// A start or end tag, borrowed from the tokenizer (issue 17: no interned
/// names, no owned attributes). Attribute values are decoded only when
/// asked for: most tags' attributes are never looked at.
#[derive(Clone, Copy)]
pub struct TagView<'a> {
    pub kind: TagKind,
    /// The name, ASCII lowercase (NUL as U+FFFD).
    pub name: &'a str,
    pub self_closing: bool,
    /// An attribute name was repeated (only the first is kept).
    pub had_duplicate_attributes: bool,
    /// [`super::name_key`] of the name as written (found while the name
    /// was read: the extractor looks the element up by it).
    pub(crate) key: u128,
    attrs: Attrs<'a>,
}

#[derive(Clone, Copy)]
enum Attrs<'a> {
    /// Where each attribute (the first of each name) is in the input.
    Spans { src: &'a str, spans: &'a [AttrSpan] },
    /// html5ever's (the reference tokenizer's) attributes.
    Html5ever(&'a [Attribute]),
}

/// Where an attribute's name and value are in the input (byte ranges; the
/// value as written, between its quotes).
#[derive(Clone, Copy)]
pub(crate) struct AttrSpan {
    name: (usize, usize),
    value: (usize, usize),
    /// The name has a NUL (folded, it is longer than as written).
    nul: bool,
}

impl<'a> TagView<'a> {
    /// A view of one of html5ever's tags.
    pub(crate) fn of_html5ever(tag: &'a html5ever::tokenizer::Tag) -> Self {
        TagView {
            kind: tag.kind,
            name: &tag.name,
            self_closing: tag.self_closing,
            had_duplicate_attributes: tag.had_duplicate_attributes,
            key: super::name_key(tag.name.as_bytes()),
            attrs: Attrs::Html5ever(&tag.attrs),
        }
    }

    /// The value of the attribute named `name` (ASCII lowercase), character
    /// references decoded.
    pub fn attr(&self, name: &str) -> Option<Cow<'a, str>> {
        match self.attrs {
            Attrs::Spans { src, spans } => spans
                .iter()
                // (Equal ignoring ASCII case to a lowercase name without
                // NUL is equal once folded.)
                .find(|a| src.as_bytes()[a.name.0..a.name.1].eq_ignore_ascii_case(name.as_bytes()))
                .map(|a| attr_value(src, a.value)),
            Attrs::Html5ever(attrs) => attrs
                .iter()
                .find(|a| &*a.name.local == name)
                .map(|a| Cow::Borrowed(&*a.value)),
        }
    }

    /// [`attr`](Self::attr) of each of `names` (ASCII lowercase, without
    /// NUL), in one pass over the attributes.
    pub fn attrs_named<const N: usize>(&self, names: [&str; N]) -> [Option<Cow<'a, str>>; N] {
        let mut values = [const { None }; N];
        self.for_each_named(names, |k, value| values[k] = Some(value));
        values
    }

    /// Calls `f(k, value)` for each of `names` (ASCII lowercase, without
    /// NUL) the tag has, `k` its index in `names`, in one pass over the
    /// attributes: [`attrs_named`](Self::attrs_named) without an array of
    /// values to move (issue 17: the signals scan asks it of most tags).
    #[inline]
    pub fn for_each_named<const N: usize>(
        &self,
        names: [&str; N],
        mut f: impl FnMut(usize, Cow<'a, str>),
    ) {
        match self.attrs {
            Attrs::Spans { src, spans } => {
                for a in spans {
                    let name = &src.as_bytes()[a.name.0..a.name.1];
                    // (The tokenizer keeps one attribute of each name.)
                    if let Some(k) = names.iter().position(|n| eq_lowercase(name, n.as_bytes())) {
                        f(k, attr_value(src, a.value));
                    }
                }
            }
            Attrs::Html5ever(_) => {
                for (k, name) in names.into_iter().enumerate() {
                    if let Some(value) = self.attr(name) {
                        f(k, value);
                    }
                }
            }
        }
    }

    /// The attributes in order (the first of each name): names ASCII
    /// lowercase, values with character references decoded.
    pub fn attrs(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        let (spans, html5ever) = match self.attrs {
            Attrs::Spans { src, spans } => (Some((src, spans)), None),
            Attrs::Html5ever(attrs) => (None, Some(attrs)),
        };
        let spans = spans.into_iter().flat_map(|(src, spans)| {
            spans.iter().map(move |a| {
                (
                    fold_name(&src[a.name.0..a.name.1]),
                    attr_value(src, a.value),
                )
            })
        });
        let html5ever = html5ever.into_iter().flat_map(|attrs| {
            attrs
                .iter()
                .map(|a| (Cow::Borrowed(&*a.name.local), Cow::Borrowed(&*a.value)))
        });
        spans.chain(html5ever)
    }
}

/// `name` equals `lower` (ASCII lowercase) ignoring ASCII case:
/// `eq_ignore_ascii_case` without folding both sides (issue 17: asked of
/// every attribute of most tags). Against a lowercase letter, only the
/// letter and its capital are `| 0x20` of it; against any other byte of
/// `lower`, only the byte itself folds to it.
#[inline(always)]
fn eq_lowercase(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name.iter().zip(lower).all(|(&a, &b)| {
            if b.is_ascii_lowercase() {
                a | 0x20 == b
            } else {
                a == b
            }
        })
}

/// An attribute value as written at `value` in `src`, with character
/// references decoded and NUL as U+FFFD (borrowed when it has neither).
#[inline(always)]
fn attr_value(src: &str, (start, end): (usize, usize)) -> Cow<'_, str> {
    match first_amp_or_nul(src.as_bytes(), start, end) {
        None => Cow::Borrowed(&src[start..end]),
        Some(first) => Cow::Owned(decode_value(src, (start, end), start + first)),
    }
}

/// [`attr_value`] of a value with a `&` or NUL at `first` (out of line: the
/// borrowed case, most values, is a few instructions where it is asked).
#[inline(never)]
fn decode_value(src: &str, (start, end): (usize, usize), first: usize) -> String {
    let b = &src.as_bytes()[..end];
    let mut value = String::with_capacity(end - start);
    let mut i = start;
    let mut j = first;
    loop {
        value.push_str(&src[i..j]);
        if b[j] == 0 {
            value.push('\u{fffd}');
            i = j + 1;
        } else {
            let mut buf = [0u8; 8];
            // (A reference ends before the value does: at a letter, digit
            // or `;`; the value at a quote, space or `>`.)
            let (text, next) = char_ref(src, j + 1, true, &mut buf);
            value.push_str(text);
            i = next;
        }
        match memchr::memchr2(b'&', 0, &b[i..]) {
            Some(k) => j = i + k,
            None => break,
        }
    }
    value.push_str(&src[i..end]);
    value
}

/// Offset from `start` of the first `&` or NUL in `src[start..end]`: most
/// values are short and have neither, so eight bytes at a time, in place
/// (a word may reach past `end` into `src`; bytes past `end` are masked).
#[inline]
fn first_amp_or_nul(src: &[u8], start: usize, end: usize) -> Option<usize> {
    let hits = |i: usize| {
        let w = u64::from_le_bytes(src[i..i + 8].try_into().unwrap_or([0; 8]));
        bytes_equal(w, b'&') | bytes_equal(w, 0)
    };
    let len = end - start;
    if len > 64 {
        return memchr::memchr2(b'&', 0, &src[start..end]);
    }
    if len < 8 {
        if start + 8 > src.len() {
            return src[start..end].iter().position(|&c| c == b'&' || c == 0);
        }
        let m = hits(start) & ((1u64 << (8 * len)) - 1);
        return (m != 0).then(|| m.trailing_zeros() as usize / 8);
    }
    let mut i = start;
    while i + 8 <= end {
        let m = hits(i);
        if m != 0 {
            return Some(i - start + m.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    // The last bytes, in the word that ends at `end` (its bytes before `i`
    // have neither).
    if i < end {
        let m = hits(end - 8);
        if m != 0 {
            return Some(end - 8 - start + m.trailing_zeros() as usize / 8);
        }
    }
    None
}

/// Reading mode between tags.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Data,
    Rcdata,
    Rawtext,
    Script,
    Plaintext,
}

/// Tokenizes `html` into `sink`.
pub(crate) fn tokenize<S: TokenSink + ?Sized>(html: &str, sink: &mut S) {
    // (html5ever drops a byte order mark at the start.)
    let html = html.strip_prefix('\u{feff}').unwrap_or(html);
    let input = normalize_newlines(html);
    let mut t = Tokenizer {
        s: &input,
        b: input.as_bytes(),
        last_start: Name::At(0, 0),
        last_start_folded: String::new(),
        name: String::new(),
        key: 0,
        spans: Vec::new(),
    };
    t.run(sink);
    sink.end();
}

/// `\r\n` and lone `\r` as `\n` (the input stream preprocessing).
fn normalize_newlines(html: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', html.as_bytes()).is_none() {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if rest.starts_with('\n') {
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0C | b' ')
}

struct Tokenizer<'a> {
    s: &'a str,
    b: &'a [u8],
    /// Name of the last start tag (the appropriate end tag of raw text;
    /// empty before the first).
    last_start: Name,
    /// [`Self::last_start`]'s name when it is [`Name::Folded`] (the
    /// folded name of the tag being read is in [`Self::name`]).
    last_start_folded: String,
    /// The folded name of the tag being read, when it is not as written.
    name: String,
    /// [`super::name_key`] of the name of the tag being read.
    key: u128,
    /// The attributes of the tag being read (reused from tag to tag).
    spans: Vec<AttrSpan>,
}

/// Where a tag's name is: as written (`At`) or folded into
/// [`Tokenizer::name`].
#[derive(Clone, Copy)]
enum Name {
    At(usize, usize),
    Folded,
}

/// Where a script-data escape state stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    Escaped,
    Double,
}

impl Tokenizer<'_> {
    fn byte(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn run<S: TokenSink + ?Sized>(&mut self, sink: &mut S) {
        let mut i = 0;
        let mut mode = Mode::Data;
        while i < self.b.len() {
            (i, mode) = match mode {
                Mode::Data => self.data(i, sink),
                Mode::Rcdata | Mode::Rawtext => self.raw_text(i, mode, sink),
                Mode::Script => self.script(i, sink),
                Mode::Plaintext => {
                    self.text_until_eof(i, sink);
                    (self.b.len(), mode)
                }
            };
        }
    }

    /// Text with NUL as U+FFFD, to the end.
    fn text_until_eof<S: TokenSink + ?Sized>(&self, mut i: usize, sink: &mut S) {
        while let Some(j) = memchr::memchr(0, &self.b[i..]).map(|j| i + j) {
            emit(sink, &self.s[i..j]);
            sink.text("\u{fffd}");
            i = j + 1;
        }
        emit(sink, &self.s[i..]);
    }

    /// The data state from `i`, up to the next tag (included) or the end.
    fn data<S: TokenSink + ?Sized>(&mut self, mut i: usize, sink: &mut S) -> (usize, Mode) {
        loop {
            let Some(j) = data_stop(self.b, i) else {
                emit(sink, &self.s[i..]);
                return (self.b.len(), Mode::Data);
            };
            emit(sink, &self.s[i..j]);
            match self.b[j] {
                // (html5ever emits a NUL token, which its sinks ignore.)
                0 => i = j + 1,
                b'&' => {
                    let mut buf = [0u8; 8];
                    let (text, next) = char_ref(self.s, j + 1, false, &mut buf);
                    sink.text(text);
                    i = next;
                }
                _ => {
                    match self.tag_open(j, sink) {
                        // (Most tags: data goes on, without a return to
                        // `run` at every tag.)
                        Some((next, Mode::Data)) => {
                            i = next;
                            continue;
                        }
                        Some(r) => return r,
                        None => {}
                    }
                    // Not a tag: the `<` was text.
                    sink.text("<");
                    i = j + 1;
                }
            }
        }
    }

    /// After a `<` at `lt` in the data state: a tag, comment, doctype, ...
    /// Returns where to go on, or None if the `<` is text.
    fn tag_open<S: TokenSink + ?Sized>(
        &mut self,
        lt: usize,
        sink: &mut S,
    ) -> Option<(usize, Mode)> {
        let i = lt + 1;
        let end = self.b.len();
        match self.byte(i) {
            Some(b'!') => Some((self.markup_declaration(i + 1), Mode::Data)),
            Some(b'/') => match self.byte(i + 1) {
                Some(c) if c.is_ascii_alphabetic() => Some(self.tag(i + 1, TagKind::EndTag, sink)),
                Some(b'>') => Some((i + 2, Mode::Data)),
                None => {
                    sink.text("</");
                    Some((end, Mode::Data))
                }
                Some(_) => Some((self.bogus_comment(i + 1), Mode::Data)),
            },
            Some(c) if c.is_ascii_alphabetic() => Some(self.tag(i, TagKind::StartTag, sink)),
            Some(b'?') => Some((self.bogus_comment(i), Mode::Data)),
            _ => None,
        }
    }

    /// After `<!`: a comment, a doctype or a bogus comment; returns where it
    /// ends.
    fn markup_declaration(&self, i: usize) -> usize {
        let rest = &self.b[i..];
        if rest.starts_with(b"--") {
            let k = i + 2;
            // `<!-->` and `<!--->` end at once.
            if self.byte(k) == Some(b'>') {
                return k + 1;
            }
            if self.b[k..].starts_with(b"->") {
                return k + 2;
            }
            // Otherwise at the first `-->` or `--!>` (every path of the
            // comment states to the end passes through one of them).
            let mut from = k;
            while let Some(d) = memchr::memmem::find(&self.b[from..], b"--").map(|d| from + d) {
                let mut e = d + 2;
                // (`--->`: the comment end state stays on more dashes.)
                while self.byte(e) == Some(b'-') {
                    e += 1;
                }
                match self.byte(e) {
                    Some(b'>') => return e + 1,
                    Some(b'!') if self.byte(e + 1) == Some(b'>') => return e + 2,
                    None => return self.b.len(),
                    _ => from = e,
                }
            }
            return self.b.len();
        }
        if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"doctype") {
            // Every doctype state ends at `>`.
            return memchr::memchr(b'>', &self.b[i + 7..]).map_or(self.b.len(), |j| i + 7 + j + 1);
        }
        self.bogus_comment(i)
    }

    /// A bogus comment from `i`: up to and including the next `>`.
    fn bogus_comment(&self, i: usize) -> usize {
        memchr::memchr(b'>', &self.b[i..]).map_or(self.b.len(), |j| i + j + 1)
    }

    /// A tag whose name starts at `i` (an ASCII letter); emits it and
    /// returns where data goes on and in which mode. At the end of the
    /// input an unfinished tag is dropped.
    fn tag<S: TokenSink + ?Sized>(
        &mut self,
        i: usize,
        kind: TagKind,
        sink: &mut S,
    ) -> (usize, Mode) {
        let (j, key, fold) = tag_name(self.b, i);
        self.key = key;
        let name = if fold {
            self.name_at(i, j)
        } else {
            Name::At(i, j)
        };
        let (self_closing, duplicates, next) = if self.byte(j) == Some(b'>') {
            // (Most tags have no attributes: no call to read them.)
            self.spans.clear();
            (false, false, j + 1)
        } else {
            match self.attributes(j) {
                Some(end) => end,
                None => return (self.b.len(), Mode::Data),
            }
        };
        self.emit_tag(kind, name, self_closing, duplicates, next, sink)
    }

    /// The name at `i..j`, folded into `self.name` if it needs folding.
    fn name_at(&mut self, i: usize, j: usize) -> Name {
        match fold_name(&self.s[i..j]) {
            Cow::Borrowed(_) => Name::At(i, j),
            Cow::Owned(folded) => {
                self.name = folded;
                Name::Folded
            }
        }
    }

    /// The rest of a tag after its name (from the before-attribute-name
    /// state at `j`): attributes, `/>`, `>`. Returns whether the tag is
    /// self-closing, whether it had duplicate attributes and where it
    /// ends, or None if the input ends first (the tag is dropped). Attribute
    /// values are only delimited here: references in them do not change
    /// where they end (a reference ends at a character that is neither a
    /// quote, a space nor `>`), [`TagView::attr`] decodes them.
    fn attributes(&mut self, mut j: usize) -> Option<(bool, bool, usize)> {
        self.spans.clear();
        let mut duplicates = false;
        let n = self.b.len();
        let eof = None;
        loop {
            // Before attribute name.
            while j < n && is_space(self.b[j]) {
                j += 1;
            }
            let Some(c) = self.byte(j) else { return eof };
            match c {
                b'/' => {
                    // Self-closing start tag state.
                    match self.byte(j + 1) {
                        None => return eof,
                        Some(b'>') => {
                            return Some((true, duplicates, j + 2));
                        }
                        Some(_) => {
                            j += 1;
                            continue;
                        }
                    }
                }
                b'>' => return Some((false, duplicates, j + 1)),
                _ => {}
            }
            // Attribute name: the first character whatever it is (even `=`).
            let start = j;
            // (Whether the name has a NUL, found on the way.)
            let mut nul = self.b[j] == 0;
            j += self.s[j..].chars().next().map_or(1, char::len_utf8);
            let (end, nul_after) = attr_name_end(self.b, j);
            nul |= nul_after;
            j = end;
            let attr_name = (start, j);
            // After attribute name.
            while j < n && is_space(self.b[j]) {
                j += 1;
            }
            let mut value = (j, j);
            let mut closed = None;
            if self.byte(j) == Some(b'=') {
                j += 1;
                // Before attribute value.
                while j < n && is_space(self.b[j]) {
                    j += 1;
                }
                match self.byte(j) {
                    None => return eof,
                    Some(q @ (b'"' | b'\'')) => {
                        let end = find(self.b, j + 1, |w| bytes_equal(w, q), |c| c == q);
                        if end == n {
                            return eof;
                        }
                        value = (j + 1, end);
                        j = end + 1;
                        // After attribute value (quoted).
                        match self.byte(j) {
                            None => return eof,
                            Some(b'>') => closed = Some(j + 1),
                            // Space, `/` (self-closing state) and anything
                            // else go on in the before-attribute-name state.
                            Some(_) => {}
                        }
                    }
                    Some(b'>') => closed = Some(j + 1),
                    Some(_) => {
                        let end = find(
                            self.b,
                            j,
                            |w| bytes_to_space(w) | bytes_equal(w, b'>'),
                            |c| is_space(c) || c == b'>',
                        );
                        if end == n {
                            return eof;
                        }
                        value = (j, end);
                        j = end;
                        if self.b[j] == b'>' {
                            closed = Some(j + 1);
                        }
                    }
                }
            }
            duplicates |= !self.push_attr(attr_name, nul, value);
            if let Some(next) = closed {
                return Some((false, duplicates, next));
            }
        }
    }

    /// Adds an attribute unless the tag has one of that name (the first
    /// wins); whether it was added. `nul`: the name has a NUL.
    #[inline(always)]
    fn push_attr(&mut self, name: (usize, usize), nul: bool, value: (usize, usize)) -> bool {
        // (Names of other lengths without NUL differ: compared only by
        // length inline, issue 17.)
        let len = name.1 - name.0;
        let maybe_same = |a: &AttrSpan| a.nul || nul || a.name.1 - a.name.0 == len;
        if self
            .spans
            .iter()
            .any(|a| maybe_same(a) && same_name(self.s, a, name, nul))
        {
            return false;
        }
        self.spans.push(AttrSpan { name, value, nul });
        true
    }

    #[inline(always)]
    fn emit_tag<S: TokenSink + ?Sized>(
        &mut self,
        kind: TagKind,
        name: Name,
        self_closing: bool,
        had_duplicate_attributes: bool,
        next: usize,
        sink: &mut S,
    ) -> (usize, Mode) {
        let s = self.s;
        let tag = TagView {
            kind,
            name: match name {
                Name::At(i, j) => &s[i..j],
                Name::Folded => &self.name,
            },
            self_closing,
            had_duplicate_attributes,
            key: self.key,
            attrs: Attrs::Spans {
                src: s,
                spans: &self.spans,
            },
        };
        let result = sink.tag(&tag);
        if kind == TagKind::EndTag {
            // (An end tag's sink result is not acted on by html5ever's
            // sinks either: they return `Continue`.)
            return (next, Mode::Data);
        }
        let mode = match result {
            TokenSinkResult::Plaintext => Mode::Plaintext,
            TokenSinkResult::RawData(RawKind::Rcdata) => Mode::Rcdata,
            TokenSinkResult::RawData(RawKind::Rawtext) => Mode::Rawtext,
            TokenSinkResult::RawData(RawKind::ScriptData) => Mode::Script,
            // (Only the tokenizer itself enters the escaped states.)
            TokenSinkResult::RawData(RawKind::ScriptDataEscaped(_)) => Mode::Script,
            _ => Mode::Data,
        };
        // (Where the name is, copied only when folded.)
        self.last_start = name;
        if let Name::Folded = name {
            self.last_start_folded.clear();
            self.last_start_folded.push_str(&self.name);
        }
        (next, mode)
    }

    /// RCDATA (character references decoded) or RAWTEXT from `i`, up to
    /// the appropriate end tag (emitted) or the end.
    fn raw_text<S: TokenSink + ?Sized>(
        &mut self,
        mut i: usize,
        mode: Mode,
        sink: &mut S,
    ) -> (usize, Mode) {
        let rcdata = mode == Mode::Rcdata;
        loop {
            let found = if rcdata {
                memchr::memchr3(b'<', b'&', 0, &self.b[i..])
            } else {
                memchr::memchr2(b'<', 0, &self.b[i..])
            };
            let Some(j) = found.map(|j| i + j) else {
                emit(sink, &self.s[i..]);
                return (self.b.len(), mode);
            };
            emit(sink, &self.s[i..j]);
            match self.b[j] {
                0 => {
                    sink.text("\u{fffd}");
                    i = j + 1;
                }
                b'&' => {
                    let mut buf = [0u8; 8];
                    let (text, next) = char_ref(self.s, j + 1, false, &mut buf);
                    sink.text(text);
                    i = next;
                }
                _ => match self.raw_end_tag(j, sink) {
                    Ok(r) => return r,
                    Err(next) => i = next,
                },
            }
        }
    }

    /// At a `<` in raw text: the appropriate end tag (emitted: `Ok(where
    /// data goes on)`), or else the text it is emitted as and `Err(where
    /// the raw text goes on)`.
    fn raw_end_tag<S: TokenSink + ?Sized>(
        &mut self,
        lt: usize,
        sink: &mut S,
    ) -> Result<(usize, Mode), usize> {
        if self.byte(lt + 1) != Some(b'/') {
            sink.text("<");
            return Err(lt + 1);
        }
        let start = lt + 2;
        let mut j = start;
        while j < self.b.len() && self.b[j].is_ascii_alphabetic() {
            j += 1;
        }
        let letters = &self.s[start..j];
        let last_start = match self.last_start {
            Name::At(i, j) => &self.s[i..j],
            Name::Folded => &self.last_start_folded,
        };
        let appropriate = !letters.is_empty() && last_start.eq_ignore_ascii_case(letters);
        if appropriate
            && self
                .byte(j)
                .is_some_and(|c| is_space(c) || c == b'/' || c == b'>')
        {
            let name = self.name_at(start, j);
            self.key = super::name_key(letters.as_bytes());
            return Ok(match self.attributes(j) {
                Some((self_closing, duplicates, next)) => {
                    self.emit_tag(TagKind::EndTag, name, self_closing, duplicates, next, sink)
                }
                None => (self.b.len(), Mode::Data),
            });
        }
        sink.text("</");
        emit(sink, letters);
        Err(j)
    }

    /// Script data from `i`, with its escape states, up to the appropriate
    /// end tag (emitted) or the end.
    fn script<S: TokenSink + ?Sized>(&mut self, mut i: usize, sink: &mut S) -> (usize, Mode) {
        let n = self.b.len();
        // Script data state.
        loop {
            let Some(j) = memchr::memchr2(b'<', 0, &self.b[i..]).map(|j| i + j) else {
                emit(sink, &self.s[i..]);
                return (n, Mode::Script);
            };
            emit(sink, &self.s[i..j]);
            if self.b[j] == 0 {
                sink.text("\u{fffd}");
                i = j + 1;
                continue;
            }
            match self.byte(j + 1) {
                Some(b'/') => match self.raw_end_tag(j, sink) {
                    Ok(r) => return r,
                    Err(next) => i = next,
                },
                Some(b'!') => {
                    sink.text("<!");
                    i = j + 2;
                    // Script data escape start (dash) states: `<!--`.
                    if self.byte(i) == Some(b'-') {
                        sink.text("-");
                        i += 1;
                        if self.byte(i) == Some(b'-') {
                            sink.text("-");
                            i += 1;
                            match self.escaped(i, Escape::Escaped, true, sink) {
                                Ok(r) => return r,
                                Err(next) => i = next,
                            }
                        }
                    }
                }
                _ => {
                    sink.text("<");
                    i = j + 1;
                }
            }
        }
    }

    /// The script data escaped / double escaped states from `i` (`dashes`:
    /// in the dash-dash state). `Ok`: the script ended (end tag emitted, or
    /// the input); `Err(i)`: back to the script data state at `i`.
    fn escaped<S: TokenSink + ?Sized>(
        &mut self,
        mut i: usize,
        mut kind: Escape,
        dashes: bool,
        sink: &mut S,
    ) -> Result<(usize, Mode), usize> {
        let n = self.b.len();
        let eof = Ok((n, Mode::Script));
        // Dashes seen just before `i` (0, 1 or 2+): the escaped, escaped
        // dash and escaped dash dash states.
        let mut dash = if dashes { 2 } else { 0 };
        loop {
            if dash == 0 {
                let Some(j) = memchr::memchr3(b'-', b'<', 0, &self.b[i..]).map(|j| i + j) else {
                    emit(sink, &self.s[i..]);
                    return eof;
                };
                emit(sink, &self.s[i..j]);
                i = j;
            }
            let Some(c) = self.byte(i) else { return eof };
            match c {
                b'-' => {
                    sink.text("-");
                    dash = (dash + 1).min(2);
                    i += 1;
                    continue;
                }
                b'>' if dash == 2 => {
                    sink.text(">");
                    return Err(i + 1);
                }
                0 => {
                    sink.text("\u{fffd}");
                    dash = 0;
                    i += 1;
                    continue;
                }
                b'<' => {}
                _ => {
                    // (Only after dashes: the scan stops at `-`, `<`, NUL.)
                    emit(sink, self.char_at(i));
                    i += self.char_at(i).len();
                    dash = 0;
                    continue;
                }
            }
            dash = 0;
            // A `<`: the escaped / double escaped less-than sign states.
            i += 1;
            match kind {
                Escape::Escaped => match self.byte(i) {
                    Some(b'/') => match self.raw_end_tag(i - 1, sink) {
                        Ok(r) => return Ok(r),
                        Err(next) => i = next,
                    },
                    Some(c) if c.is_ascii_alphabetic() => {
                        sink.text("<");
                        // Double escape start: `<script` then a space, `/` or `>`.
                        let (next, word) = self.letters(i, sink);
                        i = next;
                        match self.byte(i) {
                            Some(c @ (b'\t' | b'\n' | 0x0C | b' ' | b'/' | b'>')) => {
                                if word {
                                    kind = Escape::Double;
                                }
                                emit(sink, char_str(c));
                                i += 1;
                            }
                            None => return eof,
                            Some(_) => {}
                        }
                    }
                    None => {
                        sink.text("<");
                        return eof;
                    }
                    Some(_) => sink.text("<"),
                },
                Escape::Double => {
                    sink.text("<");
                    if self.byte(i) == Some(b'/') {
                        sink.text("/");
                        i += 1;
                        // Double escape end: `</script` then a space, `/` or `>`.
                        let (next, word) = self.letters(i, sink);
                        i = next;
                        match self.byte(i) {
                            Some(c @ (b'\t' | b'\n' | 0x0C | b' ' | b'/' | b'>')) => {
                                if word {
                                    kind = Escape::Escaped;
                                }
                                emit(sink, char_str(c));
                                i += 1;
                            }
                            None => return eof,
                            Some(_) => {}
                        }
                    }
                }
            }
        }
    }

    /// ASCII letters from `i`, emitted as text; whether they spell
    /// `script` (any case).
    fn letters<S: TokenSink + ?Sized>(&self, i: usize, sink: &mut S) -> (usize, bool) {
        let mut j = i;
        while j < self.b.len() && self.b[j].is_ascii_alphabetic() {
            j += 1;
        }
        emit(sink, &self.s[i..j]);
        (j, self.s[i..j].eq_ignore_ascii_case("script"))
    }

    /// The character at byte `i` (a character boundary).
    fn char_at(&self, i: usize) -> &str {
        let len = self.s[i..].chars().next().map_or(0, char::len_utf8);
        &self.s[i..i + len]
    }
}

/// Whether the attribute `a` has the name at `name` in `s` once folded
/// (`nul`: that name has a NUL).
#[inline(never)]
fn same_name(s: &str, a: &AttrSpan, name: (usize, usize), nul: bool) -> bool {
    // (Bytes: names start and end at character boundaries.)
    let b = s.as_bytes();
    if a.nul || nul {
        fold_name(&s[a.name.0..a.name.1]) == fold_name(&s[name.0..name.1])
    } else {
        b[a.name.0..a.name.1].eq_ignore_ascii_case(&b[name.0..name.1])
    }
}

/// The first `<`, `&` or NUL of `b` from `i` (where the data state stops).
/// Most are within eight bytes (the next tag, after a line feed or a
/// word): one word looked at before `memchr`'s call (issue 17).
#[inline(always)]
fn data_stop(b: &[u8], i: usize) -> Option<usize> {
    if let Some(w) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let w = u64::from_le_bytes(w);
        let m = bytes_equal(w, b'<') | bytes_equal(w, b'&') | bytes_equal(w, 0);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize / 8);
        }
        return memchr::memchr3(b'<', b'&', 0, &b[i + 8..]).map(|j| i + 8 + j);
    }
    memchr::memchr3(b'<', b'&', 0, &b[i..]).map(|j| i + j)
}

/// 0x80 in each byte of `w` that is at most 0x20 (ASCII whitespace, a
/// control character or a space; exact per byte).
#[inline(always)]
fn bytes_to_space(w: u64) -> u64 {
    !(((w & !HIGH) + ONES * 0x5F) | w) & HIGH
}

/// The first byte of `b` from `i` for which `is` holds, or `b.len()`;
/// `candidates(w)` has 0x80 in (at least) each such byte of the word `w`.
/// Eight bytes at a time (issue 17: a loop a byte at a time mispredicts
/// its exit at every tag name, attribute name and value; `memchr`'s call
/// costs more than it saves on a value of a few bytes).
#[inline(always)]
fn find(
    b: &[u8],
    mut i: usize,
    candidates: impl Fn(u64) -> u64,
    mut is: impl FnMut(u8) -> bool,
) -> usize {
    while let Some(w) = b.get(i..i + 8) {
        let mut m = candidates(<[u8; 8]>::try_from(w).map_or(!0, u64::from_le_bytes));
        while m != 0 {
            let k = i + m.trailing_zeros() as usize / 8;
            if is(b[k]) {
                return k;
            }
            m &= m - 1;
        }
        i += 8;
    }
    while i < b.len() && !is(b[i]) {
        i += 1;
    }
    i
}

/// The end of a tag name from `i`: a space, `/` or `>`, or the end.
#[inline]
fn tag_name_end(b: &[u8], i: usize) -> usize {
    find(
        b,
        i,
        |w| bytes_to_space(w) | bytes_equal(w, b'/') | bytes_equal(w, b'>'),
        |c| is_space(c) || c == b'/' || c == b'>',
    )
}

/// The end of an attribute name from `i` (a space, `/`, `>` or `=`, or
/// the end), and whether the name has a NUL before it.
#[inline]
fn attr_name_end(b: &[u8], i: usize) -> (usize, bool) {
    let mut nul = false;
    // (A NUL is a candidate: every one before the end is looked at.)
    let end = find(
        b,
        i,
        |w| bytes_to_space(w) | bytes_equal(w, b'/') | bytes_equal(w, b'>') | bytes_equal(w, b'='),
        |c| {
            nul |= c == 0;
            is_space(c) || c == b'/' || c == b'>' || c == b'='
        },
    );
    (end, nul)
}

/// 0x80 in each byte of `w` that is an ASCII uppercase letter (exact per
/// byte: no carries between bytes).
#[inline(always)]
fn bytes_upper(w: u64) -> u64 {
    let low = w & !HIGH;
    // (Low seven bits plus 0x3F reach 0x80 from `A` on; plus 0x25, past `Z`.)
    let from_a = (low + ONES * 0x3F) & HIGH;
    let past_z = (low + ONES * 0x25) & HIGH;
    from_a & !past_z & !w
}

/// The tag name from `i` (an ASCII letter): where it ends (a space, `/`,
/// `>` or the end), its [`super::name_key`], and whether it needs folding
/// (it has an ASCII uppercase letter or a NUL). A name of at most seven
/// bytes ends within the word from `i`: one word's work (issue 17: a loop
/// a byte at a time, shifting a `u128`, was a quarter of the data state's
/// time, and mispredicts its exit at every tag).
#[inline(always)]
fn tag_name(b: &[u8], i: usize) -> (usize, u128, bool) {
    if let Some(w) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let w = u64::from_le_bytes(w);
        // (NUL and the other control characters are candidates too: when
        // the first is a space, `/` or `>`, the name has none of them.)
        let stops = bytes_to_space(w) | bytes_equal(w, b'/') | bytes_equal(w, b'>');
        let len = stops.trailing_zeros() as usize / 8;
        if len < 8 && matches!(b[i + len], b'\t' | b'\n' | 0x0C | b' ' | b'/' | b'>') {
            let name = w & !(!0 << (8 * len));
            let upper = bytes_upper(name);
            let key = u128::from(name | upper >> 2) | (len as u128) << 120;
            return (i + len, key, upper != 0);
        }
    }
    long_tag_name(b, i)
}

/// [`tag_name`] of a name that does not end within its first word (or
/// near the end of the input).
#[cold]
#[inline(never)]
fn long_tag_name(b: &[u8], i: usize) -> (usize, u128, bool) {
    let j = tag_name_end(b, i);
    let name = &b[i..j];
    let fold = name.iter().any(|&c| c.is_ascii_uppercase() || c == 0);
    (j, super::name_key(name), fold)
}

/// A character reference in `s` after the `&` (`i`): the text it stands for
/// (`&` itself if none) and where the input goes on.
fn char_ref<'b>(s: &str, i: usize, in_attribute: bool, buf: &'b mut [u8; 8]) -> (&'b str, usize) {
    match byte(s, i) {
        Some(b'#') => numeric_ref(s, i + 1, buf),
        Some(c) if c.is_ascii_alphanumeric() => named_ref(s, i, in_attribute, buf),
        _ => (amp(buf), i),
    }
}

fn numeric_ref<'b>(s: &str, i: usize, buf: &'b mut [u8; 8]) -> (&'b str, usize) {
    let (base, mut j) = match byte(s, i) {
        Some(b'x' | b'X') => (16, i + 1),
        _ => (10, i),
    };
    let start = j;
    let mut num: u32 = 0;
    let mut too_big = false;
    while let Some(d) = byte(s, j).and_then(|c| char::from(c).to_digit(base)) {
        num = num.wrapping_mul(base);
        if num > 0x10FFFF {
            too_big = true;
        }
        num = num.wrapping_add(d);
        j += 1;
    }
    if j == start {
        // No digits: `&` is text, and so is `#` / `#x` after it.
        return (amp(buf), i - 1);
    }
    if byte(s, j) == Some(b';') {
        j += 1;
    }
    let c = match num {
        n if n > 0x10FFFF || too_big => '\u{fffd}',
        0x00 | 0xD800..=0xDFFF => '\u{fffd}',
        0x80..=0x9F => C1_REPLACEMENTS[(num - 0x80) as usize]
            .unwrap_or_else(|| char::from_u32(num).unwrap_or('\u{fffd}')),
        n => char::from_u32(n).unwrap_or('\u{fffd}'),
    };
    (c.encode_utf8(&mut buf[..4]), j)
}

fn named_ref<'b>(s: &str, i: usize, in_attribute: bool, buf: &'b mut [u8; 8]) -> (&'b str, usize) {
    match common_ref(&s.as_bytes()[i..]) {
        Some((text, len)) => (text, i + len),
        None => longest_named_ref(s, i, in_attribute, buf),
    }
}

/// The commonest named references, when `rest` starts with one: its text
/// and length (issue 17: [`longest_named_ref`] looks up every prefix of a
/// name in html5ever's table, hashed with SipHash). What it gives them: no
/// name in the table goes on after a `;`, so the longest match is the
/// whole reference, in an attribute or not.
#[inline]
fn common_ref(rest: &[u8]) -> Option<(&'static str, usize)> {
    let (name, text): (&[u8], &str) = match rest.first()? {
        b'a' => (b"amp;", "&"),
        b'n' => (b"nbsp;", "\u{a0}"),
        b'l' => (b"lt;", "<"),
        b'g' => (b"gt;", ">"),
        b'q' => (b"quot;", "\""),
        _ => return None,
    };
    rest.starts_with(name).then_some((text, name.len()))
}

fn longest_named_ref<'b>(
    s: &str,
    i: usize,
    in_attribute: bool,
    buf: &'b mut [u8; 8],
) -> (&'b str, usize) {
    // Longest full match among the prefixes html5ever's table knows
    // (its keys are ASCII letters, digits and `;`).
    let mut best: Option<(usize, (u32, u32))> = None;
    let mut k = i;
    while let Some(c) = byte(s, k) {
        if !(c.is_ascii_alphanumeric() || c == b';') {
            break;
        }
        let Some(&m) = NAMED_ENTITIES.get(&s[i..=k]) else {
            break;
        };
        if m.0 != 0 {
            best = Some((k + 1, m));
        }
        k += 1;
    }
    let Some((end, (c1, c2))) = best else {
        // No reference: `&` and the name are text.
        return (amp(buf), i);
    };
    if in_attribute
        && s.as_bytes()[end - 1] != b';'
        && byte(s, end).is_some_and(|c| c == b'=' || c.is_ascii_alphanumeric())
    {
        return (amp(buf), i);
    }
    let mut len = 0;
    for cp in [c1, c2] {
        if cp != 0 {
            let c = char::from_u32(cp).unwrap_or('\u{fffd}');
            len += c.encode_utf8(&mut buf[len..]).len();
        }
    }
    (std::str::from_utf8(&buf[..len]).unwrap_or("\u{fffd}"), end)
}

fn byte(s: &str, i: usize) -> Option<u8> {
    s.as_bytes().get(i).copied()
}

fn amp(buf: &mut [u8; 8]) -> &str {
    buf[0] = b'&';
    std::str::from_utf8(&buf[..1]).unwrap_or("&")
}

fn char_str(c: u8) -> &'static str {
    match c {
        b'\t' => "\t",
        b'\n' => "\n",
        0x0C => "\x0C",
        b' ' => " ",
        b'/' => "/",
        _ => ">",
    }
}

fn emit<S: TokenSink + ?Sized>(sink: &mut S, text: &str) {
    if !text.is_empty() {
        sink.text(text);
    }
}

/// A tag or attribute name as the tokenizer keeps it: ASCII lowercase,
/// NUL as U+FFFD.
fn fold_name(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|c| c.is_ascii_uppercase() || c == 0) {
        Cow::Owned(
            name.chars()
                .map(|c| {
                    if c == '\0' {
                        '\u{fffd}'
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks every tag's `attrs_named` against `attr`.
    struct Check(Vec<String>);

    impl TokenSink for Check {
        fn text(&mut self, _: &str) {}
        fn tag(&mut self, tag: &TagView<'_>) -> TokenSinkResult<()> {
            let names = ["role", "id", "class", "data-x"];
            let one_pass = tag.attrs_named(names);
            let each = names.map(|n| tag.attr(n));
            if one_pass != each {
                self.0
                    .push(format!("{:?}: {one_pass:?} != {each:?}", tag.name));
            }
            TokenSinkResult::Continue
        }
        fn end(&mut self) {}
    }

    /// Raw text ends at the end tag of its start tag however either is
    /// written (the start tag's name kept where it is, or folded), as in
    /// html5ever.
    #[test]
    fn raw_text_ends_at_its_end_tag_in_any_case() {
        for page in [
            "<STYLE>a</style>b<TiTle>x</TITLE>y<Script>z</sCRIPT>w<XMP>q</xmp>e",
            "<title>a</TITLE>b<STYLE>c</styl></STYLE>d<textarea>e</title></textarea>f",
            "<TITLE>a<STYLE>b</style></title>c<xmp>d</XMP >e<Sty\0le>f</sty\u{fffd}le>g",
        ] {
            assert_eq!(super::super::differs_from_html5ever(page), None, "{page}");
        }
    }

    /// Checks every tag's key against its name, and reads after it what
    /// the extractor reads (raw text after `script`, `title`, ...).
    struct Keys(Vec<String>, super::super::State);

    impl TokenSink for Keys {
        fn text(&mut self, _: &str) {}
        fn tag(&mut self, tag: &TagView<'_>) -> TokenSinkResult<()> {
            use super::super::{Element, name_key};
            let (by_key, by_name) = (
                Element::of(tag.key),
                Element::of(name_key(tag.name.as_bytes())),
            );
            if by_key != by_name {
                self.0
                    .push(format!("{:?}: {by_key:?} != {by_name:?}", tag.name));
            }
            self.1.tag(tag)
        }
        fn end(&mut self) {}
    }

    proptest::proptest! {
        /// `first_amp_or_nul` finds what a byte-at-a-time search finds, for
        /// every value span of any bytes (words reaching past the span's
        /// end, and past the input's, included).
        #[test]
        fn first_amp_or_nul_equals_the_bytewise_search(
            b in proptest::collection::vec(proptest::prop_oneof![
                6 => proptest::sample::select(b"ab\"' =>%\x26\x27\x01\xFF".to_vec()),
                1 => proptest::sample::select(b"&\0".to_vec()),
            ], 0..100),
            start in 0usize..100,
            len in 0usize..90,
        ) {
            let start = start.min(b.len());
            let end = (start + len).min(b.len());
            let bytewise = b[start..end].iter().position(|&c| c == b'&' || c == 0);
            proptest::prop_assert_eq!(first_amp_or_nul(&b, start, end), bytewise);
        }
    }

    proptest::proptest! {
        /// The key the tokenizer computes as it reads a start or end tag's
        /// name finds the element its folded name finds (any case, NUL,
        /// long names, raw text's end tags).
        #[test]
        fn tag_keys_find_the_elements_of_their_names(
            tags in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "div", "DIV", "Div", "p", "P", "script", "sCrIpT", "title", "TITLE", "style",
                        "STYLE", "textarea", "TextArea", "td", "Th", "br", "BR", "head", "HEAD",
                        "html", "Html", "pre", "PRE", "svg", "SVG", "math", "figcaption",
                        "FIGCAPTION", "blockquote", "BlockQuote", "noscript", "NOSCRIPT", "a\0b",
                        "Scr\0ipt", "span", "abcdefghijklmno", "abcdefghijklmnop", "ABCDEFGHIJKLMNOP",
                        "\u{e9}", "X\u{e9}", "iframe", "IFRAME", "xmp", "XMP", "select",
                    ]),
                    proptest::sample::select(vec![">", " a=1>", "/>", "\t>"]),
                    proptest::bool::ANY,
                ),
                1..8,
            ),
        ) {
            let html: String = tags
                .iter()
                .map(|(name, rest, upper)| {
                    let end = if *upper { name.to_ascii_uppercase() } else { name.to_ascii_lowercase() };
                    format!("<{name}{rest}x</{end}>y")
                })
                .collect();
            let mut keys = Keys(Vec::new(), super::super::State::default());
            tokenize(&html, &mut keys);
            proptest::prop_assert!(keys.0.is_empty(), "{:?}: {:?}", html, keys.0);
        }
    }

    proptest::proptest! {
        /// `tag_name` (one word at a time) finds the end of a name as a
        /// byte-at-a-time loop does, with `name_key` and whether the name
        /// has an ASCII uppercase letter or a NUL, for names of any length,
        /// anywhere in the input (up to its end).
        #[test]
        fn tag_name_equals_the_byte_loop(
            rest in proptest::collection::vec(
                proptest::sample::select(vec![
                    b'a', b'z', b'A', b'Z', b'@', b'[', b'`', b'{', b'0', b'-', 0, 1, 0x1F, b'\r',
                    0x7F, 0x80, 0xC3, 0xDA, 0xC1, 0xE1, 0xFF, b'\t', b'\n', 0x0C, b' ', b'/',
                    b'>', b'=', b'"',
                ]),
                0..24,
            ),
        ) {
            let mut b = b"<a".to_vec();
            b.extend_from_slice(&rest);
            let j = (1..b.len())
                .find(|&j| matches!(b[j], b'\t' | b'\n' | 0x0C | b' ' | b'/' | b'>'))
                .unwrap_or(b.len());
            let name = &b[1..j];
            let want = (
                j,
                super::super::name_key(name),
                name.iter().any(|&c| c.is_ascii_uppercase() || c == 0),
            );
            proptest::prop_assert_eq!(tag_name(&b, 1), want, "{:?}", b);
        }
    }

    proptest::proptest! {
        /// `named_ref` (the commonest references at once) gives what the
        /// longest-match loop gives, in text and in attributes.
        #[test]
        fn named_ref_equals_the_longest_match(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "amp", "amp;", "AMP;", "nbsp", "nbsp;", "nbs", "lt", "lt;", "gt;", "gtr;",
                    "quot;", "quo", "ampx", "a", "n", "l", "g", "q", ";", "=", "x", "1", " ",
                    "notin;", "not", "nbs;", "ltrif;", "gt", "quot", "\u{e9}",
                ]),
                1..5,
            ),
            in_attribute: bool,
        ) {
            let s = format!("&{}", parts.concat());
            let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
            let fast = named_ref(&s, 1, in_attribute, &mut a);
            let fast = (fast.0.to_string(), fast.1);
            let slow = longest_named_ref(&s, 1, in_attribute, &mut b);
            proptest::prop_assert_eq!(fast, (slow.0.to_string(), slow.1), "{:?}", s);
        }
    }

    proptest::proptest! {
        /// `data_stop` (a word, then `memchr3`) finds what `memchr3` finds,
        /// from anywhere in the input.
        #[test]
        fn data_stop_equals_memchr3(
            b in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b' ', b'<', b'&', 0, b'>', b';', 0x3C ^ 0x80, 0xA6, 0x80]),
                0..40,
            ),
            from in 0usize..40,
        ) {
            let i = from.min(b.len());
            proptest::prop_assert_eq!(data_stop(&b, i), memchr::memchr3(b'<', b'&', 0, &b[i..]).map(|j| i + j));
        }
    }

    #[test]
    fn eq_lowercase_equals_eq_ignore_ascii_case() {
        for b in 0u8..=255 {
            if b.is_ascii_uppercase() {
                continue;
            }
            for a in 0u8..=255 {
                assert_eq!(
                    eq_lowercase(&[a], &[b]),
                    a.eq_ignore_ascii_case(&b),
                    "{a:#x} {b:#x}"
                );
                let (name, lower) = ([b'x', a, b'Y'], [b'x', b, b'y']);
                assert_eq!(
                    eq_lowercase(&name, &lower),
                    name.eq_ignore_ascii_case(&lower)
                );
            }
        }
        assert!(!eq_lowercase(b"clas", b"class"));
        assert!(!eq_lowercase(b"classes", b"class"));
        assert!(eq_lowercase(b"", b""));
    }

    proptest::proptest! {
        /// `attrs_named` finds what `attr` finds, name by name (case,
        /// repeats, references, NUL, unquoted values).
        #[test]
        fn attrs_named_equals_attr(
            tags in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec![
                        " id=a", " ID='b c'", " class=\"x footer\"", " Class=y", " role=contentinfo",
                        " rOLE=\"n&amp;m\"", " id=\"&lt;&#x41;\"", " data-x", " data-X=1", " idd=2",
                        " i\0d=3", " clas=4", " class", " =5", " role='\0'", " /", " ids=6",
                        " ROLE=7", " cLaSs=8", " iD", " cl@ss=9", " cl[ss", " r\u{f6}le=10", " r`le",
                        " classes=11", " data-role=12", " Id\u{e9}=13",
                    ]),
                    0..6,
                ),
                1..4,
            ),
            // (Names near the end of the input: no word to read past them.)
            end in proptest::sample::select(vec!["t</div>", ""]),
        ) {
            let html: String = tags.iter().map(|t| format!("<div{}>{end}", t.concat())).collect();
            let mut check = Check(Vec::new());
            tokenize(&html, &mut check);
            proptest::prop_assert!(check.0.is_empty(), "{}: {:?}", html, check.0);
        }
    }
}
