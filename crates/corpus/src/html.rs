//! Fast HTML→text on html5ever's tokenizer (no DOM).
//!
//! Drops `script`/`style`/`noscript`/`template`/`svg`/`math`/`iframe`/...
//! contents and everything in `<head>` except the title (kept apart), decodes
//! entities (the tokenizer does), turns block-level elements into line breaks,
//! collapses whitespace within lines and drops empty lines.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

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
    let sink = Sink {
        st: RefCell::new(State::default()),
    };
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    // Feed in slices so the tokenizer's buffers stay small.
    let mut rest = html;
    while !rest.is_empty() {
        let mut cut = rest.len().min(64 * 1024);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        input.push_back(StrTendril::from_slice(&rest[..cut]));
        rest = &rest[cut..];
        let _ = tok.feed(&input);
    }
    tok.end();
    let st = tok.sink.st.into_inner();
    st.finish()
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

struct Sink {
    st: RefCell<State>,
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

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.st.borrow_mut();
        match token {
            Token::CharacterTokens(t) => st.text(&t),
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                match tag.kind {
                    TagKind::StartTag => {
                        if name == "html" && st.lang.is_none() {
                            st.lang = tag
                                .attrs
                                .iter()
                                .find(|a| &*a.name.local == "lang")
                                .map(|a| a.value.trim().to_string())
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
            }
            Token::NullCharacterToken
            | Token::CommentToken(_)
            | Token::DoctypeToken(_)
            | Token::EOFToken
            | Token::ParseError(_) => {}
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

    #[test]
    fn unclosed_head_and_garbage() {
        let e = extract("<head><title>t</title><p>body text");
        assert_eq!(e.text, "body text");
        let e = extract("<<<>>><p <a></");
        assert!(!e.text.lines().any(str::is_empty));
        assert_eq!(extract("").text, "");
    }
}
