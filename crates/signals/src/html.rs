//! One streaming pass over an HTML document with html5ever's tokenizer (no
//! DOM): collects the `<meta>`, `<link>`, license-relevant `<a>` elements and
//! JSON-LD blocks that license detection and opt-out signals need, with the
//! structural context (head / footer / figure) each one was found in.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, Tokenizer, TokenizerOpts,
};
pub use html5ever::tokenizer::{Tag, TokenSinkResult};

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

#[derive(Debug)]
struct Frame {
    name: String,
    footer: bool,
    figure: bool,
}

#[derive(Debug)]
struct OpenAnchor {
    anchor: Anchor,
}

#[derive(Debug, Default)]
struct State {
    scan: PageScan,
    stack: Vec<Frame>,
    footer_depth: usize,
    figure_depth: usize,
    in_head: bool,
    seen_body: bool,
    /// Rolling window of recent visible text, lowercase, whitespace collapsed.
    context: String,
    anchor: Option<OpenAnchor>,
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

fn attr<'a>(tag: &'a Tag, name: &str) -> Option<&'a str> {
    tag.attrs
        .iter()
        .find(|a| &*a.name.local == name)
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
    let appended = buf.len() - before;
    if buf.len() > max * 2 {
        // Keep the tail (the most recent text).
        let mut start = buf.len() - max;
        while !buf.is_char_boundary(start) {
            start += 1;
        }
        buf.drain(..start);
    }
    appended
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
            | "param"
            | "keygen"
    )
}

fn marks_footer(tag: &Tag) -> bool {
    if &*tag.name == "footer" {
        return true;
    }
    if attr(tag, "role").is_some_and(|r| r.eq_ignore_ascii_case("contentinfo")) {
        return true;
    }
    let hit = |v: &str| {
        let v = v.to_ascii_lowercase();
        v.contains("footer")
            || v.contains("copyright")
            || v.contains("license")
            || v.contains("licence")
    };
    attr(tag, "id").is_some_and(hit) || attr(tag, "class").is_some_and(hit)
}

fn marks_figure(tag: &Tag) -> bool {
    if matches!(&*tag.name, "figure" | "figcaption") {
        return true;
    }
    let hit = |v: &str| {
        let v = v.to_ascii_lowercase();
        v.contains("caption") || v.contains("credit") || v.contains("attribution")
    };
    attr(tag, "id").is_some_and(hit) || attr(tag, "class").is_some_and(hit)
}

impl State {
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
        let appended = push_collapsed(&mut self.context, t, true, CONTEXT_CHARS);
        if !self.scan.all_rights_reserved {
            // The window only grows at its end (text here, spaces in `end_tag`,
            // which no phrase ends with) and loses its front: a phrase not seen
            // at the last check ends in the appended text, so the tail of
            // `appended + MAX_PHRASE_BYTES` bytes holds it. Same answer as
            // searching the whole window, without rescanning it per token.
            let mut start = self
                .context
                .len()
                .saturating_sub(appended + MAX_PHRASE_BYTES);
            while !self.context.is_char_boundary(start) {
                start -= 1;
            }
            if says_all_rights_reserved(&self.context[start..]) {
                self.scan.all_rights_reserved = true;
            }
        }
        if let Some(a) = self.anchor.as_mut() {
            push_collapsed(&mut a.anchor.text, t, false, MAX_TEXT);
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
            let mut a = open.anchor;
            a.text = cap(a.text.trim().to_string(), MAX_TEXT);
            if self.scan.anchors.len() < MAX_ITEMS {
                self.scan.anchors.push(a);
            }
        }
    }

    fn pop_to(&mut self, name: &str) {
        if let Some(pos) = self.stack.iter().rposition(|f| f.name == name) {
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
        let name = &*tag.name;
        match name {
            "head" => self.in_head = true,
            "body" => {
                self.in_head = false;
                self.seen_body = true;
            }
            "meta" if self.scan.metas.len() < MAX_ITEMS => {
                let lower = |n| attr(tag, n).map(|v| v.trim().to_ascii_lowercase());
                let m = MetaTag {
                    name: lower("name")
                        .or_else(|| lower("property"))
                        .or_else(|| lower("itemprop"))
                        .unwrap_or_default(),
                    http_equiv: lower("http-equiv").unwrap_or_default(),
                    content: attr(tag, "content").unwrap_or("").trim().to_string(),
                    section: Some(self.head_like_section()),
                    tag: render_tag(tag),
                };
                self.scan.metas.push(m);
            }
            "link" if self.scan.links.len() < MAX_ITEMS => {
                self.scan.links.push(LinkTag {
                    rel: attr(tag, "rel").unwrap_or("").to_ascii_lowercase(),
                    itemprop: attr(tag, "itemprop").unwrap_or("").to_ascii_lowercase(),
                    href: attr(tag, "href").unwrap_or("").trim().to_string(),
                    section: self.head_like_section(),
                    tag: render_tag(tag),
                });
            }
            "a" => {
                self.close_anchor();
                let href = attr(tag, "href").unwrap_or("").trim().to_string();
                let before = {
                    let c = self.context.trim_end();
                    let mut start = c.len().saturating_sub(CONTEXT_CHARS);
                    while !c.is_char_boundary(start) {
                        start += 1;
                    }
                    c[start..].to_string()
                };
                self.anchor = Some(OpenAnchor {
                    anchor: Anchor {
                        href,
                        rel: attr(tag, "rel").unwrap_or("").to_ascii_lowercase(),
                        itemprop: attr(tag, "itemprop").unwrap_or("").to_ascii_lowercase(),
                        text: String::new(),
                        section: if self.footer_depth > 0 {
                            Section::Footer
                        } else {
                            Section::Body
                        },
                        in_figure: self.figure_depth > 0,
                        before,
                        tag: render_tag(tag),
                    },
                });
                if tag.self_closing {
                    self.close_anchor();
                }
                return None;
            }
            "img" => {
                // An image inside an anchor: its alt text is the anchor text.
                if let Some(a) = self.anchor.as_mut()
                    && let Some(alt) = attr(tag, "alt")
                {
                    push_collapsed(&mut a.anchor.text, alt, false, MAX_TEXT);
                    a.anchor.text.push(' ');
                }
            }
            "script" => {
                let ty = attr(tag, "type").unwrap_or("").trim().to_ascii_lowercase();
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
            _ => {}
        }
        if !is_void(name) && !tag.self_closing && self.stack.len() < MAX_STACK {
            let footer = marks_footer(tag);
            let figure = marks_figure(tag);
            if footer {
                self.footer_depth += 1;
            }
            if figure {
                self.figure_depth += 1;
            }
            self.stack.push(Frame {
                name: name.to_string(),
                footer,
                figure,
            });
        }
        None
    }

    fn end_tag(&mut self, tag: &Tag) {
        let name = &*tag.name;
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
            // Block ends separate text runs in the context window.
            "p" | "div" | "li" | "td" | "tr" | "section" | "article" | "figure" | "figcaption"
            | "footer" | "header" | "ul" | "ol" | "br"
                if !self.context.ends_with(' ') && !self.context.is_empty() =>
            {
                self.context.push(' ');
            }
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

/// Tokenizes `html` once and collects what the signal extractors need.
pub(crate) fn scan(html: &str) -> PageScan {
    let sink = Sink {
        state: RefCell::new(State::default()),
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
#[derive(Debug, Default)]
pub struct HtmlScanner {
    state: State,
    divert: Divert,
}

impl HtmlScanner {
    pub fn new() -> Self {
        Self::default()
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
        let driver_raw = matches!(next, TokenSinkResult::RawData(_) | TokenSinkResult::Plaintext);
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
    pub(crate) fn end(mut self) -> PageScan {
        self.flush_collected();
        self.state.eof();
        self.state.scan
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
                    for ctx in [&mut new.context, &mut old] {
                        if !ctx.ends_with(' ') && !ctx.is_empty() {
                            ctx.push(' ');
                        }
                    }
                } else {
                    new.text(op);
                    push_collapsed(&mut old, op, true, CONTEXT_CHARS);
                    old_found |= says_all_rights_reserved(&old);
                }
                proptest::prop_assert_eq!(&new.context, &old);
                proptest::prop_assert_eq!(new.scan.all_rights_reserved, old_found);
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
        let s = scan(html);
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
