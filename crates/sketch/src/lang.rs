//! Language of a content (issue 16), from the `whatlang` crate.
//!
//! `whatlang` (MIT) recognizes 69 languages from their script and, within a
//! script, from trigram profiles compiled into the crate: no model files, no
//! downloads, no I/O, deterministic. It needs no more than a few thousand
//! characters to decide, so only the first [`LANG_SAMPLE_BYTES`] bytes of a
//! text (cut at a character boundary) are looked at: the cost per document is
//! bounded, and a long page is classified by its beginning.

/// Bytes of a text (from its start) that [`detect_language`] looks at.
pub const LANG_SAMPLE_BYTES: usize = 8192;

/// What [`detect_language_info`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanguageGuess {
    /// ISO 639-3 code (`"cmn"` Mandarin Chinese, `"jpn"`, `"eng"`, `"tha"`, …).
    pub code: &'static str,
    /// `whatlang`'s confidence in `[0, 1]`.
    pub confidence: f64,
    /// `whatlang`'s own judgement that the guess is reliable (enough text and
    /// a clear margin over the runner-up).
    pub reliable: bool,
}

/// The longest prefix of `text` of at most [`LANG_SAMPLE_BYTES`] bytes that
/// ends at a character boundary.
fn sample(text: &str) -> &str {
    if text.len() <= LANG_SAMPLE_BYTES {
        return text;
    }
    let mut end = LANG_SAMPLE_BYTES;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// The language of `text` (raw or normalized) with `whatlang`'s confidence,
/// or `None` if the text has no letters `whatlang` can use.
#[must_use]
pub fn detect_language_info(text: &str) -> Option<LanguageGuess> {
    let info = whatlang::detect(sample(text))?;
    Some(LanguageGuess {
        code: info.lang().code(),
        confidence: info.confidence(),
        reliable: info.is_reliable(),
    })
}

/// ISO 639-3 code of the language of `text` (raw or normalized), or `None`
/// when `whatlang` finds no language or is not confident (short or mixed
/// texts). Chinese (in either script) is `"cmn"`.
#[must_use]
pub fn detect_language(text: &str) -> Option<&'static str> {
    detect_language_info(text)
        .filter(|g| g.reliable)
        .map(|g| g.code)
}
