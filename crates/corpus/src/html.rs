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
        st: State::default(),
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
    out: String,
    line: String,
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

impl State {
    fn newline(&mut self) {
        if !self.line.is_empty() {
            self.out.push_str(&self.line);
            self.out.push('\n');
            self.line.clear();
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
        let mut i = 0;
        while i < b.len() {
            // A run of visible ASCII (neither whitespace nor control) is
            // copied at once; the rest one character at a time.
            let start = i;
            while i < b.len() && (0x21..0x7F).contains(&b[i]) {
                i += 1;
            }
            if i > start {
                if self.pending_space {
                    self.line.push(' ');
                    self.pending_space = false;
                }
                self.line.push_str(&s[start..i]);
                continue;
            }
            if b[i] < 0x80 {
                // ASCII but not visible: whitespace or a control character
                // (the loop below without decoding a character).
                if b[i] == b'\n' && self.pre > 0 {
                    self.newline();
                } else if !self.line.is_empty() {
                    self.pending_space = true;
                }
                i += 1;
                continue;
            }
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
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

    fn finish(mut self) -> Extracted {
        self.newline();
        if self.out.ends_with('\n') {
            self.out.pop();
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

fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "math"
            | "iframe"
            | "noembed"
            | "noframes"
            | "object"
            | "select"
            | "datalist"
    )
}

fn raw_kind(name: &str) -> Option<RawKind> {
    match name {
        "script" => Some(RawKind::ScriptData),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => Some(RawKind::Rawtext),
        "title" | "textarea" => Some(RawKind::Rcdata),
        _ => None,
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "body"
            | "br"
            | "caption"
            | "center"
            | "dd"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "legend"
            | "li"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "option"
            | "p"
            | "pre"
            | "section"
            | "summary"
            | "table"
            | "tbody"
            | "tfoot"
            | "thead"
            | "tr"
            | "ul"
            | "textarea"
            | "frameset"
            | "img"
    )
}

fn allowed_in_head(name: &str) -> bool {
    matches!(
        name,
        "head"
            | "html"
            | "title"
            | "meta"
            | "link"
            | "base"
            | "script"
            | "style"
            | "noscript"
            | "template"
    )
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
    fn tag(&mut self, tag: &TagView<'_>) -> TokenSinkResult<()> {
        let st = self;
        let name: &str = tag.name;
        match tag.kind {
            TagKind::StartTag => {
                if name == "html" && st.lang.is_none() {
                    st.lang = tag
                        .attr("lang")
                        .map(|v| v.trim().to_string())
                        .filter(|l| !l.is_empty());
                }
                if name == "head" {
                    st.in_head = true;
                } else if st.in_head && !allowed_in_head(name) {
                    st.in_head = false;
                }
                if name == "title" && st.skip == 0 {
                    st.in_title = !tag.self_closing;
                } else if is_skipped(name) {
                    if !tag.self_closing {
                        if raw_kind(name).is_some() {
                            st.raw_skip = true;
                        } else {
                            st.skip = st.skip.saturating_add(1);
                        }
                    }
                } else if name == "pre" {
                    st.pre = st.pre.saturating_add(1);
                } else if (name == "td" || name == "th") && !st.line.is_empty() {
                    st.pending_space = true;
                }
                if is_block(name) {
                    st.newline();
                }
                if tag.self_closing || st.skip > 0 && name != "svg" && name != "math" {
                    return TokenSinkResult::Continue;
                }
                if name == "plaintext" {
                    return TokenSinkResult::Plaintext;
                }
                if let Some(k) = raw_kind(name) {
                    return TokenSinkResult::RawData(k);
                }
            }
            TagKind::EndTag => {
                if name == "title" {
                    st.in_title = false;
                } else if name == "head" {
                    st.in_head = false;
                } else if is_skipped(name) {
                    if raw_kind(name).is_some() {
                        st.raw_skip = false;
                    } else {
                        st.skip = st.skip.saturating_sub(1);
                    }
                } else if name == "pre" {
                    st.pre = st.pre.saturating_sub(1);
                }
                if is_block(name) {
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

    #[test]
    fn unclosed_head_and_garbage() {
        let e = extract("<head><title>t</title><p>body text");
        assert_eq!(e.text, "body text");
        let e = extract("<<<>>><p <a></");
        assert!(!e.text.lines().any(str::is_empty));
        assert_eq!(extract("").text, "");
    }
}
