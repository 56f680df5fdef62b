//! Language of a content (issues 16, 17), by langid.py's identifier
//! ([`crate::langid`]: Lui & Baldwin's naive Bayes over byte 1–4-grams, 97
//! languages, its published model compiled in; no downloads, no I/O,
//! deterministic). Only the first [`LANG_SAMPLE_BYTES`] bytes of a text (cut
//! at a character boundary) are looked at: the cost per document is bounded,
//! and a long page is classified by its beginning. 2 KiB (8 KiB until index
//! format 11) are as accurate as 8 on translated debian-handbook pages and
//! cost half (crates/sketch/README.md). Until issue 17 this was
//! `whatlang`, 4.2–5.3× the CPU alone (435 µs a page against 82–104,
//! `examples/langid_bench.rs`; langid's table lookups suffer more from a
//! loaded machine) and 14–22 % of a one-file build's; an index records which
//! through its format version (10: langid; 11: its 2 KiB sample). Its Latin
//! class is left out ([`LANG_EXCLUDED_CLASSES`]).
//!
//! A guess is reliable when langid.py's probability is at least
//! [`LANG_RELIABLE_PROBABILITY`] on a sample of at least [`LANG_RELIABLE_MIN_BYTES`]
//! bytes in which some feature occurs. Chosen on debian-handbook pages (26
//! translations; 983 translated pages, chunks from mid-page): under 64 bytes
//! a chunk's answer is right 51–62 % of the time (16, 32 bytes) against 68 %
//! at 64 and 77 % at 512 (the rest mostly English commands inside translated
//! text); a probability under 0.9 marks the least sure of the short ones. On
//! whole pages (first 2 or 8 KiB) the probability is almost always 1.

/// Bytes of a text (from its start) that [`detect_language`] looks at.
pub const LANG_SAMPLE_BYTES: usize = 2048;

/// langid.py classes never answered: its Latin class takes English technical
/// prose (package names, paths, commands) for Latin — 154 of 7,500 real
/// Debian pages, 139 of them English by whatlang, 96 English once Latin is
/// left out — while real Latin prose then gets no reliable answer.
pub const LANG_EXCLUDED_CLASSES: &[&str] = &["la"];

/// Least langid.py probability of a reliable guess.
pub const LANG_RELIABLE_PROBABILITY: f64 = 0.9;

/// Least sample length (bytes) of a reliable guess.
pub const LANG_RELIABLE_MIN_BYTES: usize = 64;

/// What [`detect_language_info`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LanguageGuess {
    /// ISO 639-3 code (`"cmn"` Mandarin Chinese, `"jpn"`, `"eng"`, `"tha"`, …).
    pub code: &'static str,
    /// langid.py's probability of the guess in `[0, 1]` (softmax of its
    /// scores).
    pub confidence: f64,
    /// At least [`LANG_RELIABLE_PROBABILITY`] on at least [`LANG_RELIABLE_MIN_BYTES`]
    /// bytes of sample.
    pub reliable: bool,
}

/// The part of `text` the detector looks at: its longest prefix of at most
/// [`LANG_SAMPLE_BYTES`] bytes that ends at a character boundary.
#[must_use]
pub fn language_sample(text: &str) -> &str {
    language_sample_of(text, LANG_SAMPLE_BYTES)
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends at a
/// character boundary: [`language_sample`]'s rule for another size (to
/// measure one).
#[must_use]
pub fn language_sample_of(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// The language of `text` (raw or normalized) with langid.py's probability,
/// or `None` if no feature of the model occurs in its sample (no letters,
/// digits and punctuation only).
#[must_use]
pub fn detect_language_info(text: &str) -> Option<LanguageGuess> {
    language_guess(language_sample(text))
}

/// [`detect_language_info`]'s answer on `sample` as it is, not cut: what a
/// text whose sample is `sample` gets (to measure other sample sizes).
#[must_use]
pub fn language_guess(sample: &str) -> Option<LanguageGuess> {
    let answer = crate::langid::classify_excluding(sample.as_bytes(), LANG_EXCLUDED_CLASSES);
    (answer.features > 0).then_some(LanguageGuess {
        code: answer.code,
        confidence: answer.probability,
        reliable: answer.probability >= LANG_RELIABLE_PROBABILITY
            && sample.len() >= LANG_RELIABLE_MIN_BYTES,
    })
}

/// ISO 639-3 code of the language of `text` (raw or normalized), or `None`
/// when no language is found or the guess is not reliable (short or unsure
/// texts). Chinese (in either script) is `"cmn"`.
#[must_use]
pub fn detect_language(text: &str) -> Option<&'static str> {
    detect_language_info(text)
        .filter(|g| g.reliable)
        .map(|g| g.code)
}
