//! Personal information in contents (issue 19): detection of e-mail
//! addresses, phone numbers, Chinese resident identity numbers and payment
//! card numbers, and the keyed hash that lets a data subject's request
//! ("which samples contain my phone number?") be answered without the index
//! storing the identifiers.
//!
//! [`detect`] gives per kind the number of *distinct* identifiers in a text;
//! [`detect_each`] also hands each distinct canonical identifier to a
//! callback (for [`pii_key`]) — the findings never hold a value.
//! [`canonical_query`] turns a data subject's own notation into the same
//! canonical form, so `pii_key(key, kind, &canonical_query(kind, input)?)`
//! finds what the build hashed.
//!
//! Canonical forms:
//! - e-mail: `local@domain`, both parts lowercased. The local part is
//!   case-sensitive in RFC 5321, but no significant provider treats it so,
//!   and a subject types it however they like; nothing else is folded (no
//!   dot or `+tag` removal: `a.b+x@` and `ab@` are different addresses).
//!   Only ASCII addresses (IDN domains in their `xn--` form) whose domain
//!   ends in a known public suffix (`logo@2x.png` is not an address).
//! - phone: E.164 with its `+`: a Chinese mobile `+86` + 11 digits, a Chinese
//!   landline `+86` + area code without its trunk `0` + local number, an
//!   international number `+` + 8–15 digits as written (a `(0)` trunk group
//!   after the country code dropped).
//! - resident identity number: 18 characters, a final `x` uppercased.
//! - payment card: the digits.
//!
//! Full-width forms (`１３８`, `＠`, `＋`, `－`, `（`) count as their ASCII
//! counterparts and the ideographic space as a space: no normalization is
//! needed before [`detect`].
//!
//! What is *not* recognized, on purpose (false positives cost more than the
//! rare miss: every hit is a content flagged as holding personal data):
//! digits inside a longer digit run or glued to ASCII letters, `_` or `@`
//! (order numbers, hashes, QQ-mail local parts); runs next to `.` and a digit
//! (decimals, versions, IP addresses); a Chinese landline without a
//! separator after its area code (`01012345678` is as likely an order
//! number); international numbers without a `+` (except `0086`); a `+86`
//! number that is neither a mobile nor a landline; 15-digit first-generation
//! resident identity numbers (no check character to validate them).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A kind of personal identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    Email,
    Phone,
    ChineseResidentId,
    PaymentCard,
}

impl PiiKind {
    pub const ALL: [PiiKind; 4] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::ChineseResidentId,
        PiiKind::PaymentCard,
    ];

    /// Stable name: in reports, and in every keyed hash ([`pii_key`]) — do
    /// not rename.
    pub const fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::ChineseResidentId => "cn_resident_id",
            PiiKind::PaymentCard => "payment_card",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per kind, how many distinct identifiers a text holds. Never the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PiiFindings {
    counts: [u32; 4],
}

impl PiiFindings {
    pub fn count(&self, kind: PiiKind) -> u32 {
        self.counts[kind.index()]
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The kinds found, with their counts (zero counts left out).
    pub fn kinds(&self) -> impl Iterator<Item = (PiiKind, u32)> + '_ {
        PiiKind::ALL
            .into_iter()
            .map(|k| (k, self.count(k)))
            .filter(|&(_, n)| n > 0)
    }
}

/// Why a data subject's input is not an identifier of the asked kind. The
/// messages never repeat the input (they may be logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    #[error("empty input")]
    Empty,
    #[error("not an e-mail address: {0}")]
    InvalidEmail(&'static str),
    #[error(
        "not a recognized phone number (Chinese mobile, Chinese landline with area code, or +country code and 8-15 digits)"
    )]
    UnrecognizedPhone,
    #[error("more than one phone number, or digits besides the phone number")]
    ExtraDigits,
    #[error("unexpected character {0:?}")]
    InvalidCharacter(char),
    #[error("a {kind} has {expected}, not {len} characters")]
    WrongLength {
        kind: PiiKind,
        expected: &'static str,
        len: usize,
    },
    #[error("resident identity number: unknown province code")]
    UnknownRegion,
    #[error("resident identity number: implausible birth date")]
    ImplausibleBirthDate,
    #[error("resident identity number: wrong check character (ISO 7064 MOD 11-2)")]
    BadIdChecksum,
    #[error("payment card number: fails the Luhn check")]
    LuhnFailure,
    #[error("payment card number: not a known card network prefix")]
    UnknownIssuer,
}

/// The kinds and distinct counts of personal identifiers in `text`.
pub fn detect(text: &str) -> PiiFindings {
    detect_each(text, |_, _| {})
}

/// [`detect`], handing each distinct canonical identifier once to `each`
/// (in kind, then byte order) — e.g. to record its [`pii_key`].
pub fn detect_each(text: &str, mut each: impl FnMut(PiiKind, &str)) -> PiiFindings {
    let mut found: Vec<(PiiKind, String)> = Vec::new();
    scan(text, &mut |m| found.push((m.kind, m.canonical)));
    let mut findings = PiiFindings::default();
    if found.is_empty() {
        return findings;
    }
    found.sort_unstable();
    found.dedup();
    for (kind, canonical) in &found {
        findings.counts[kind.index()] += 1;
        each(*kind, canonical);
    }
    findings
}

/// `text` with each detected identifier replaced by `[kind]` (e.g.
/// `[email]`), for what an index stores of a text (its preview): the
/// identifiers [`detect`] counts are not kept in clear.
pub fn redact(text: &str) -> String {
    let mut spans: Vec<(usize, usize, PiiKind)> = Vec::new();
    scan(text, &mut |m| spans.push((m.start, m.end, m.kind)));
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, kind) in spans {
        if start < at {
            // Overlapping matches: the earlier one already covers this start.
            at = at.max(end);
            continue;
        }
        out.push_str(&text[at..start]);
        out.push('[');
        out.push_str(kind.name());
        out.push(']');
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// HMAC-SHA-256 under the build's `key` of `kind name ‖ 0x00 ‖ canonical`:
/// the kind separates domains (a card number and a phone with the same
/// digits get different keys). The key table maps this to contents.
pub fn pii_key(key: &[u8], kind: PiiKind, canonical: &str) -> [u8; 32] {
    // HMAC takes keys of any length; new_from_slice cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(kind.name().as_bytes());
    mac.update(&[0]);
    mac.update(canonical.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A data subject's identifier in the canonical form detection produces
/// ("+86 138-0013-8000" → "+8613800138000"), or why it is not one.
pub fn canonical_query(kind: PiiKind, input: &str) -> Result<String, PiiError> {
    let input = input.trim_matches(|c: char| fold(c).is_whitespace());
    if input.is_empty() {
        return Err(PiiError::Empty);
    }
    match kind {
        PiiKind::Email => {
            let ats: Vec<usize> = input
                .char_indices()
                .filter(|&(_, c)| fold(c) == '@')
                .map(|(i, _)| i)
                .collect();
            let [at] = ats[..] else {
                return Err(PiiError::InvalidEmail("needs exactly one '@'"));
            };
            let at_len = input[at..].chars().next().map_or(1, char::len_utf8);
            let m = email_at(input, at, at_len).map_err(PiiError::InvalidEmail)?;
            if m.start != 0 {
                return Err(PiiError::InvalidEmail(
                    "invalid character in the local part",
                ));
            }
            if m.end != input.len() {
                return Err(PiiError::InvalidEmail("invalid character in the domain"));
            }
            Ok(m.canonical)
        }
        PiiKind::Phone => {
            let mut phones = Vec::new();
            scan_numbers(input, &mut |m| {
                if m.kind == PiiKind::Phone {
                    phones.push(m)
                }
            });
            let [m] = &phones[..] else {
                return Err(if phones.is_empty() {
                    PiiError::UnrecognizedPhone
                } else {
                    PiiError::ExtraDigits
                });
            };
            let outside = input[..m.start]
                .chars()
                .chain(input[m.end..].chars())
                .map(fold)
                .find(|c| c.is_ascii_alphanumeric());
            match outside {
                Some(c) if c.is_ascii_digit() => Err(PiiError::ExtraDigits),
                Some(c) => Err(PiiError::InvalidCharacter(c)),
                None => Ok(m.canonical.clone()),
            }
        }
        PiiKind::ChineseResidentId => {
            let s = compact(input)?;
            validate_resident_id(s.as_bytes())?;
            Ok(s)
        }
        PiiKind::PaymentCard => {
            let s = compact(input)?;
            validate_card(s.as_bytes())?;
            Ok(s)
        }
    }
}

/// The input without spaces and hyphens, folded to ASCII, `x` uppercased;
/// only digits and `X` allowed.
fn compact(input: &str) -> Result<String, PiiError> {
    let mut s = String::with_capacity(input.len());
    for c in input.chars().map(fold) {
        match c {
            '0'..='9' => s.push(c),
            'x' | 'X' => s.push('X'),
            ' ' | '-' => {}
            _ => return Err(PiiError::InvalidCharacter(c)),
        }
    }
    Ok(s)
}

/// Full-width ASCII variants to ASCII, other spaces to ' ', hyphen-like
/// dashes to '-': Chinese pages write `１３８－００１３－８０００` too.
fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' | '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' => ' ',
        '\u{2010}'..='\u{2013}' | '\u{2212}' => '-',
        _ => c,
    }
}

/// The folded char at byte `p` and its encoded length.
#[inline]
fn char_at(text: &str, p: usize) -> Option<(char, usize)> {
    // ASCII without decoding (`fold` keeps it): most chars the scanners
    // look at are digits, separators and letters.
    match text.as_bytes().get(p) {
        Some(&c) if c.is_ascii() => Some((char::from(c), 1)),
        _ => text[p..].chars().next().map(|c| (fold(c), c.len_utf8())),
    }
}

/// One detected identifier: canonical value and its byte span in the text.
struct Match {
    kind: PiiKind,
    canonical: String,
    start: usize,
    end: usize,
}

fn scan(text: &str, out: &mut impl FnMut(Match)) {
    scan_emails(text, out);
    scan_numbers_with(text, true, out);
}

// ---------------------------------------------------------------- e-mail

/// The addresses around each '@'; those around '＠' (EF BC A0) are found by
/// [`scan_numbers_with`], which stops at its lead byte anyway.
fn scan_emails(text: &str, out: &mut impl FnMut(Match)) {
    // Prefilter: most texts hold no '@'.
    for at in memchr::memchr_iter(b'@', text.as_bytes()) {
        if let Ok(m) = email_at(text, at, 1) {
            out(m);
        }
    }
}

fn is_local_char(c: char) -> bool {
    // The atext that occurs in real addresses; quotes, '/', '=' and friends
    // would swallow surrounding markup and punctuation.
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// The address around the '@' at byte `at` (`at_len` bytes long).
fn email_at(text: &str, at: usize, at_len: usize) -> Result<Match, &'static str> {
    let mut start = at;
    let mut chars = 0;
    for (i, c) in text[..at].char_indices().rev() {
        if !is_local_char(fold(c)) {
            break;
        }
        if chars == 64 {
            return Err("local part longer than 64 characters");
        }
        chars += 1;
        start = i;
    }
    // Room for the whole canonical address, built in this string.
    let mut local = String::with_capacity(chars + 64);
    local.extend(
        text[start..at]
            .chars()
            .map(|c| fold(c).to_ascii_lowercase()),
    );
    // "see:.foo@x.com": a leading dot is punctuation, not the address.
    while local.starts_with('.') {
        local.remove(0);
        start += text[start..].chars().next().map_or(1, char::len_utf8);
    }
    if local.is_empty() {
        return Err("empty local part");
    }
    if local.ends_with('.') || local.contains("..") {
        return Err("misplaced '.' in the local part");
    }
    let mut domain = String::with_capacity(64);
    let mut end = at + at_len;
    let mut p = end;
    while let Some((c, len)) = char_at(text, p) {
        if !(c.is_ascii_alphanumeric() || c == '.' || c == '-') {
            break;
        }
        if domain.len() == 253 {
            return Err("domain longer than 253 characters");
        }
        domain.push(c.to_ascii_lowercase());
        p += len;
        // The end of the address is after its last label char: a trailing
        // '.' ends the sentence.
        if c != '.' {
            end = p;
        }
    }
    let trimmed = domain.trim_end_matches('.').len();
    domain.truncate(trimmed);
    if !domain.contains('.') {
        return Err("domain without a '.'");
    }
    for l in domain.split('.') {
        if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
            return Err("invalid domain label");
        }
    }
    use psl::Psl as _;
    let known = psl::List
        .domain(domain.as_bytes())
        .is_some_and(|d| d.suffix().is_known());
    if !known {
        return Err("domain without a known public suffix");
    }
    let mut canonical = local;
    canonical.push('@');
    canonical.push_str(&domain);
    Ok(Match {
        kind: PiiKind::Email,
        canonical,
        start,
        end,
    })
}

// --------------------------------------------------------------- numbers

/// A maximal digit string inside a run (see [`scan_numbers`]).
#[derive(Debug, Clone, Copy)]
struct Group {
    /// Offset of its digits in the run's digit buffer.
    at: usize,
    len: usize,
    /// Followed by 'X'/'x' (a resident identity number's check character).
    x: bool,
    /// The separator before it (`Sep::None` for the first group).
    sep: Sep,
    /// Byte span in the text.
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    None,
    Space,
    Hyphen,
    /// Spaces, a hyphen and/or parentheses: "(010) ", ") ", " (".
    Mixed {
        open_paren: bool,
    },
}

#[derive(Default)]
struct Run {
    /// Byte offset of the run (its '+' if any).
    start: usize,
    plus: bool,
    groups: Vec<Group>,
    digits: Vec<u8>,
    /// Whether the first group may start an identifier / the last end one.
    left_ok: bool,
    right_ok: bool,
}

impl Run {
    fn d(&self, g: usize) -> &[u8] {
        let g = &self.groups[g];
        &self.digits[g.at..g.at + g.len]
    }
}

fn is_candidate_start(b: &[u8], i: usize) -> bool {
    match b[i] {
        b'0'..=b'9' | b'+' => true,
        // '０'..'９' are EF BC 90..99, '＋' is EF BC 8B.
        0xEF => {
            b.get(i + 1) == Some(&0xBC)
                && b.get(i + 2)
                    .is_some_and(|&c| (0x90..=0x99).contains(&c) || c == 0x8B)
        }
        _ => false,
    }
}

/// Runs are digit groups joined by short separators (spaces, one hyphen,
/// parentheses), optionally led by '+'. Identifiers are spans of whole
/// groups, so digits inside a longer digit string never match, while
/// "2024-01-01 138 0013 8000" still finds the phone.
fn scan_numbers(text: &str, out: &mut impl FnMut(Match)) {
    scan_numbers_with(text, false, out);
}

/// [`scan_numbers`], with `fullwidth_at` also the addresses around each '＠':
/// its lead byte 0xEF is a candidate byte, so this pass visits every one
/// (no run contains a '＠'), and the text is not searched a second time.
fn scan_numbers_with(text: &str, fullwidth_at: bool, out: &mut impl FnMut(Match)) {
    let b = text.as_bytes();
    let mut run = Run::default();
    let mut candidates = Candidates::new(b);
    let mut i = 0;
    while i < b.len() {
        // Skip to the next byte that may start a run: most bytes of most
        // texts start none.
        match candidates.next(i) {
            Some(at) => i = at,
            None => break,
        }
        if !is_candidate_start(b, i) {
            if fullwidth_at
                && b[i + 1..].starts_with(&[0xBC, 0xA0])
                && let Ok(m) = email_at(text, i, 3)
            {
                out(m);
            }
            i += 1;
            continue;
        }
        if let Some(end) = short_lone_group(b, i) {
            // What `parse_run` would return, with fewer than 8 digits.
            i = end;
            continue;
        }
        match parse_run(text, i, &mut run) {
            Some(end) => {
                // The shortest identifier (+CC and 7 digits) has 8 digits:
                // years, prices and list numbers stop here.
                if run.digits.len() >= 8 {
                    match_run(&run, out);
                }
                i = end;
            }
            None => i += 1,
        }
    }
}

/// The end of the run at `i` if it is a lone group of fewer than 8 ASCII
/// digits (a year, a section number, a version), decided from its bytes
/// without decoding; `None` if it may be more (then [`parse_run`] decides).
/// A group ends at the first byte that is not a digit; the run goes on only
/// if that byte starts a separator, a check character or a full-width
/// character ([`fold`]: ' ', '-', '(', ')', 'x', 'X', and the lead bytes
/// 0xC2, 0xE2, 0xE3, 0xEF of U+00A0, U+2002–U+2212, U+3000, U+FF01–U+FF5E).
#[inline]
fn short_lone_group(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?;
    let len = rest
        .iter()
        .take(8)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if len == 0 || len == 8 {
        return None;
    }
    let next = rest.get(len).copied();
    let may_continue = next.is_some_and(|c| {
        matches!(
            c,
            b' ' | b'-' | b'(' | b')' | b'x' | b'X' | 0xC2 | 0xE2 | 0xE3 | 0xEF
        )
    });
    (!may_continue).then_some(i + len)
}

/// Whether byte `c` may begin a run: an ASCII digit, `+`, or 0xEF (the lead
/// byte of the full-width digits and `＋`; [`is_candidate_start`] decides).
#[inline(always)]
fn is_candidate_byte(c: u8) -> bool {
    c.is_ascii_digit() || c == b'+' || c == 0xEF
}

/// Offset of the first [`is_candidate_byte`] at or after `from`, if any
/// ([`Candidates::next`] without a kept block).
#[cfg(test)]
fn next_candidate(b: &[u8], from: usize) -> Option<usize> {
    Candidates::new(b).next(from)
}

/// The [`is_candidate_byte`]s of a text, found a 64-byte block at a time
/// (a bit per byte), the last block's bits kept: in text dense with digits
/// (dates, prices, tables) each search after the first in a block is a
/// `trailing_zeros`, not a scan of the block again from its start.
struct Candidates<'a> {
    b: &'a [u8],
    /// Start of the block `mask` is of (a multiple of 64), or `usize::MAX`.
    block: usize,
    mask: u64,
}

impl<'a> Candidates<'a> {
    fn new(b: &'a [u8]) -> Self {
        Candidates {
            b,
            block: usize::MAX,
            mask: 0,
        }
    }

    /// Offset of the first candidate byte at or after `from`, if any.
    #[inline]
    fn next(&mut self, from: usize) -> Option<usize> {
        if from >= self.b.len() {
            return None;
        }
        let mut block = from & !63;
        if block != self.block {
            self.block = block;
            self.mask = block_candidates(self.b, block);
        }
        let mut mask = self.mask & (!0u64 << (from & 63));
        while mask == 0 {
            block += 64;
            if block >= self.b.len() {
                return None;
            }
            mask = block_candidates(self.b, block);
            self.block = block;
            self.mask = mask;
        }
        Some(block + mask.trailing_zeros() as usize)
    }
}

/// Bit `k` set iff `b[start + k]` is a candidate byte (`k` < 64).
fn block_candidates(b: &[u8], start: usize) -> u64 {
    let rest = &b[start..];
    let Some(block) = rest.first_chunk::<64>() else {
        return rest
            .iter()
            .enumerate()
            .fold(0, |m, (k, &c)| m | u64::from(is_candidate_byte(c)) << k);
    };
    // Most blocks of most texts have none: an OR over 64 byte tests (a few
    // vector instructions) tells.
    if !block.iter().fold(false, |a, &c| a | is_candidate_byte(c)) {
        return 0;
    }
    let mut mask = 0;
    for (k, word) in block.chunks_exact(8).enumerate() {
        let bits = candidate_bits(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
        // The high bit of each byte, gathered into the top byte in byte
        // order (the multiplier's terms never overlap: no carry).
        let byte = (bits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= byte << (8 * k);
    }
    mask
}

/// The high bit of byte `k` of the result set iff byte `k` of `x` (eight
/// bytes, little-endian) is a candidate byte; every other bit clear. Exact
/// per byte (no carry crosses a byte), so the lowest set bit is the first
/// candidate.
#[inline]
fn candidate_bits(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = x & !HIGH;
    // Each sum stays below 0x100 per byte: its high bit tells low7 >= 0x30,
    // resp. low7 >= 0x3A.
    let ge0 = low7.wrapping_add((0x80 - u64::from(b'0')) * ONES);
    let gt9 = low7.wrapping_add((0x80 - u64::from(b'9') - 1) * ONES);
    let digit = ge0 & !gt9 & !x & HIGH;
    // Byte equal to `p`: its xor is zero, i.e. neither its low seven bits
    // (added to 0x7F) nor its high bit set.
    let equal = |p: u8| {
        let t = x ^ (u64::from(p) * ONES);
        !((t & !HIGH).wrapping_add(!HIGH) | t) & HIGH
    };
    digit | equal(b'+') | equal(0xEF)
}

fn left_ok(text: &str, pos: usize) -> bool {
    let mut before = text[..pos].chars().rev().map(fold);
    match before.next() {
        None => true,
        Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '@' => false,
        // "3.14", "192.168.0.1", "v1.2.3": not the start of an identifier.
        Some('.') => !before.next().is_some_and(|c| c.is_ascii_digit()),
        _ => true,
    }
}

fn right_ok(text: &str, end: usize) -> bool {
    let mut after = text[end..].chars().map(fold);
    match after.next() {
        None => true,
        Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '@' => false,
        Some('.') => !after.next().is_some_and(|c| c.is_ascii_digit()),
        _ => true,
    }
}

/// Parses the run at byte `pos` into `run`; its end, or `None` if `pos`
/// starts no run (a '+' without a digit).
fn parse_run(text: &str, pos: usize, run: &mut Run) -> Option<usize> {
    run.groups.clear();
    run.digits.clear();
    run.start = pos;
    let mut p = pos;
    let (first, len) = char_at(text, p)?;
    run.plus = first == '+';
    if run.plus {
        p += len;
        if !char_at(text, p).is_some_and(|(c, _)| c.is_ascii_digit()) {
            return None;
        }
    }
    run.left_ok = left_ok(text, pos);
    let mut sep = Sep::None;
    loop {
        let start = p;
        let at = run.digits.len();
        loop {
            // ASCII digits without decoding; full-width ones through fold.
            match text.as_bytes().get(p) {
                Some(&c) if c.is_ascii_digit() => {
                    run.digits.push(c);
                    p += 1;
                }
                Some(0xEF) => match char_at(text, p).filter(|(c, _)| c.is_ascii_digit()) {
                    Some((c, len)) => {
                        run.digits.push(c as u8);
                        p += len;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        let x = match char_at(text, p) {
            Some(('X' | 'x', len)) => {
                p += len;
                true
            }
            _ => false,
        };
        run.groups.push(Group {
            at,
            len: run.digits.len() - at,
            x,
            sep,
            start,
            end: p,
        });
        if x {
            break;
        }
        let (next_sep, q) = separator(text, p);
        match next_sep {
            Some(s) if char_at(text, q).is_some_and(|(c, _)| c.is_ascii_digit()) => {
                sep = s;
                p = q;
            }
            _ => break,
        }
    }
    run.right_ok = right_ok(text, p);
    Some(p)
}

/// The separator at byte `p` (at most 3 chars: spaces, one '-', one '(',
/// one ')') and the byte after it.
fn separator(text: &str, mut p: usize) -> (Option<Sep>, usize) {
    let (mut spaces, mut hyphens, mut open, mut close, mut n) = (0, 0, 0, 0, 0);
    while n < 3 {
        match char_at(text, p) {
            Some((' ', l)) => {
                spaces += 1;
                p += l;
            }
            Some(('-', l)) => {
                hyphens += 1;
                p += l;
            }
            Some(('(', l)) => {
                open += 1;
                p += l;
            }
            Some((')', l)) => {
                close += 1;
                p += l;
            }
            _ => break,
        }
        n += 1;
    }
    let sep = if n == 0 || hyphens > 1 || open > 1 || close > 1 {
        None
    } else {
        match (spaces, hyphens, open, close) {
            (1, 0, 0, 0) => Some(Sep::Space),
            (0, 1, 0, 0) => Some(Sep::Hyphen),
            // Several spaces alone: table columns, not one number.
            (_, 0, 0, 0) => None,
            _ => Some(Sep::Mixed {
                open_paren: open == 1,
            }),
        }
    };
    (sep, p)
}

/// Finds identifiers among the run's groups, left to right; a matched span
/// is consumed.
fn match_run(run: &Run, out: &mut impl FnMut(Match)) {
    let k = run.groups.len();
    let mut i = usize::from(!run.left_ok);
    while i < k {
        let found = match_resident_id(run, i)
            .or_else(|| match_cn_phone(run, i))
            .or_else(|| match_international(run, i))
            .or_else(|| match_card(run, i));
        match found {
            Some((kind, canonical, j)) => {
                // A span from the first group includes the '+'.
                let start = if i == 0 {
                    run.start
                } else {
                    run.groups[i].start
                };
                out(Match {
                    kind,
                    canonical,
                    start,
                    end: run.groups[j - 1].end,
                });
                i = j;
            }
            None => i += 1,
        }
    }
}

type Found = Option<(PiiKind, String, usize)>;

/// Whether a span ending before group `j` may end there.
fn end_ok(run: &Run, j: usize) -> bool {
    j < run.groups.len() || run.right_ok
}

fn lens(run: &Run, i: usize, j: usize) -> impl Iterator<Item = usize> + '_ {
    run.groups[i..j].iter().map(|g| g.len)
}

/// The digits of groups `i..j`: consecutive in the run's digit buffer
/// ([`parse_run`] appends each group's digits after the previous one's).
fn concat(run: &Run, i: usize, j: usize) -> &[u8] {
    let (first, last) = (&run.groups[i], &run.groups[j - 1]);
    &run.digits[first.at..last.at + last.len]
}

fn match_resident_id(run: &Run, i: usize) -> Found {
    // 18 characters as one string, or 6-8-4 / 6-4-4-4.
    const SHAPES: [&[usize]; 3] = [&[18], &[6, 8, 4], &[6, 4, 4, 4]];
    for shape in SHAPES {
        let j = i + shape.len();
        if j > run.groups.len() || !end_ok(run, j) {
            continue;
        }
        let last = &run.groups[j - 1];
        let fits = run.groups[i..j - 1].iter().all(|g| !g.x)
            && lens(run, i, j)
                .zip(shape.iter())
                .enumerate()
                .all(|(n, (len, &want))| {
                    len == want || (n + 1 == shape.len() && last.x && len + 1 == want)
                });
        if !fits {
            continue;
        }
        let digits = concat(run, i, j);
        if digits.len() + usize::from(last.x) != 18 {
            // 18 digits and an 'X': not an identity number.
            continue;
        }
        let mut id = [b'X'; 18];
        id[..digits.len()].copy_from_slice(digits);
        if validate_resident_id(&id).is_ok() {
            return Some((PiiKind::ChineseResidentId, ascii(&id), j));
        }
    }
    None
}

fn ascii(v: &[u8]) -> String {
    v.iter().copied().map(char::from).collect()
}

/// Chinese mobile or landline, with an optional +86 / 0086 / 86 prefix.
fn match_cn_phone(run: &Run, i: usize) -> Found {
    let k = run.groups.len();
    let plus = i == 0 && run.plus;
    for j in (i + 1..=(i + 4).min(k)).rev() {
        if !end_ok(run, j) || run.groups[i..j].iter().any(|g| g.x) {
            continue;
        }
        if let Some(canonical) = cn_phone(run, i, j, plus) {
            return Some((PiiKind::Phone, canonical, j));
        }
    }
    None
}

fn cn_phone(run: &Run, i: usize, j: usize, plus: bool) -> Option<String> {
    let first = run.d(i);
    // Group lengths of the national number (at most 4 groups), and its digits.
    let mut lens_buf = [0; 4];
    let (national_lens, national, prefixed): (&[usize], &[u8], bool) = {
        let prefix = if plus {
            Some(2).filter(|_| first.starts_with(b"86"))
        } else if first.starts_with(b"0086") {
            Some(4)
        } else if first.starts_with(b"86") {
            Some(2)
        } else {
            None
        };
        match prefix {
            // "+86 138 0013 8000": the prefix is a group of its own.
            Some(p) if first.len() == p && j > i + 1 => (
                lens_of(run, i + 1, j, &mut lens_buf),
                concat(run, i + 1, j),
                true,
            ),
            // "+8613800138000": glued to a single-group national number.
            Some(p) if first.len() > p && j == i + 1 => {
                lens_buf[0] = first.len() - p;
                (&lens_buf[..1], &first[p..], true)
            }
            _ if plus => return None,
            _ => (lens_of(run, i, j, &mut lens_buf), concat(run, i, j), false),
        }
    };
    if is_cn_mobile(national) && matches!(national_lens, [11] | [3, 4, 4] | [3, 8]) {
        return Some(format!("+86{}", ascii(national)));
    }
    // Landline: area code, then a 7-8 digit local number (possibly 3-4/4-4);
    // the area code keeps its trunk '0' unless prefixed.
    let (&area_len, local_lens) = national_lens.split_first()?;
    let (area, local) = national.split_at(area_len);
    let area = if prefixed {
        area.strip_prefix(b"0").unwrap_or(area)
    } else {
        area.strip_prefix(b"0")?
    };
    let local_ok = matches!(local_lens, [7] | [8] | [3, 4] | [4, 4])
        && matches!(local.first(), Some(b'2'..=b'9'));
    (is_cn_area_code(area) && local_ok).then(|| format!("+86{}{}", ascii(area), ascii(local)))
}

/// The lengths of groups `i..j` (at most `buf.len()` groups) in `buf`.
fn lens_of<'a>(run: &Run, i: usize, j: usize, buf: &'a mut [usize]) -> &'a [usize] {
    for (slot, len) in buf.iter_mut().zip(lens(run, i, j)) {
        *slot = len;
    }
    &buf[..j - i]
}

/// 1[3-9] and 9 more digits.
fn is_cn_mobile(d: &[u8]) -> bool {
    d.len() == 11 && d[0] == b'1' && (b'3'..=b'9').contains(&d[1])
}

/// An area code without its trunk '0': 10, 2x, or three digits from 3xx.
fn is_cn_area_code(a: &[u8]) -> bool {
    matches!(a, [b'1', b'0'] | [b'2', _] | [b'3'..=b'9', _, _])
}

/// '+' and a country code other than 86: the whole run, 8-15 digits.
fn match_international(run: &Run, i: usize) -> Found {
    if i != 0 || !run.plus || run.d(0).starts_with(b"86") || run.d(0)[0] == b'0' {
        return None;
    }
    let k = run.groups.len();
    if !end_ok(run, k) || run.groups.iter().any(|g| g.x) {
        return None;
    }
    let mut digits = b"+".to_vec();
    for g in 0..k {
        // "+44 (0)20 7946 0958": the trunk prefix is not dialled from abroad.
        let trunk = g == 1
            && run.d(1) == b"0"
            && matches!(run.groups[1].sep, Sep::Mixed { open_paren: true });
        if !trunk {
            digits.extend_from_slice(run.d(g));
        }
    }
    (9..=16)
        .contains(&digits.len())
        .then(|| (PiiKind::Phone, ascii(&digits), k))
}

fn match_card(run: &Run, i: usize) -> Found {
    let k = run.groups.len();
    let g0 = &run.groups[i];
    let j = if (13..=19).contains(&g0.len) {
        i + 1
    } else if g0.len == 4 {
        // Groups of four with one separator kind, a shorter last group
        // allowed; or Amex 4-6-5 / Diners 4-6-4.
        let mut j = i + 1;
        let mut total = 4;
        let sep = run.groups.get(j).map(|g| g.sep);
        if sep.is_some_and(|s| s == Sep::Space || s == Sep::Hyphen)
            && run.groups[j].len == 6
            && run
                .groups
                .get(j + 1)
                .is_some_and(|g| (g.len == 5 || g.len == 4) && Some(g.sep) == sep)
        {
            j += 2;
        } else {
            while j < k && Some(run.groups[j].sep) == sep && total <= 19 {
                let len = run.groups[j].len;
                if len > 4 {
                    break;
                }
                total += len;
                j += 1;
                if len < 4 {
                    break;
                }
            }
            if total > 19 {
                return None;
            }
        }
        if !matches!(sep, Some(Sep::Space | Sep::Hyphen)) {
            return None;
        }
        j
    } else {
        return None;
    };
    if !end_ok(run, j) || run.groups[i..j].iter().any(|g| g.x) {
        return None;
    }
    let digits = concat(run, i, j);
    // A resident identity number with a typo is still not a card number.
    if matches!(validate_resident_id(digits), Err(PiiError::BadIdChecksum)) {
        return None;
    }
    validate_card(digits)
        .is_ok()
        .then(|| (PiiKind::PaymentCard, ascii(digits), j))
}

// ------------------------------------------------------------ validators

/// Province-level codes of GB/T 2260 (81/82/83: Hong Kong, Macao and Taiwan
/// residence permits).
fn is_cn_region(a: u8, b: u8) -> bool {
    matches!(
        (a, b),
        (b'1', b'1'..=b'5')
            | (b'2', b'1'..=b'3')
            | (b'3', b'1'..=b'7')
            | (b'4', b'1'..=b'6')
            | (b'5', b'0'..=b'4')
            | (b'6', b'1'..=b'5')
            | (b'7', b'1')
            | (b'8', b'1'..=b'3')
    )
}

/// GB 11643: 6-digit region, YYYYMMDD birth date, 3-digit sequence, ISO 7064
/// MOD 11-2 check character (0-9 or X).
fn validate_resident_id(id: &[u8]) -> Result<(), PiiError> {
    if id.len() != 18 {
        return Err(PiiError::WrongLength {
            kind: PiiKind::ChineseResidentId,
            expected: "18",
            len: id.len(),
        });
    }
    if let Some(&c) = id[..17].iter().find(|c| !c.is_ascii_digit()) {
        return Err(PiiError::InvalidCharacter(char::from(c)));
    }
    if !(id[17].is_ascii_digit() || id[17] == b'X') {
        return Err(PiiError::InvalidCharacter(char::from(id[17])));
    }
    if !is_cn_region(id[0], id[1]) {
        return Err(PiiError::UnknownRegion);
    }
    let num = |s: &[u8]| s.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    let (year, month, day) = (num(&id[6..10]), num(&id[10..12]), num(&id[12..14]));
    if !(1890..=2099).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in(year, month)
    {
        return Err(PiiError::ImplausibleBirthDate);
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = id[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d - b'0') * w)
        .sum();
    if b"10X98765432"[(sum % 11) as usize] != id[17] {
        return Err(PiiError::BadIdChecksum);
    }
    Ok(())
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 13-19 digits, a network prefix (3-6, or Mastercard's 2221-2720), Luhn.
fn validate_card(d: &[u8]) -> Result<(), PiiError> {
    if !(13..=19).contains(&d.len()) {
        return Err(PiiError::WrongLength {
            kind: PiiKind::PaymentCard,
            expected: "13 to 19",
            len: d.len(),
        });
    }
    if let Some(&c) = d.iter().find(|c| !c.is_ascii_digit()) {
        return Err(PiiError::InvalidCharacter(char::from(c)));
    }
    let iin = match d[0] {
        b'3'..=b'6' => true,
        b'2' => (b"2221".as_slice()..=b"2720".as_slice()).contains(&&d[..4]),
        _ => false,
    };
    if !iin {
        return Err(PiiError::UnknownIssuer);
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(n, &c)| {
            let v = u32::from(c - b'0');
            if n % 2 == 1 {
                if v * 2 > 9 { v * 2 - 9 } else { v * 2 }
            } else {
                v
            }
        })
        .sum();
    if !sum.is_multiple_of(10) {
        return Err(PiiError::LuhnFailure);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_exactly_the_detected_identifiers() {
        let text = "Mail Wei.Zhang@Example.com or call 138-0013-8000; ID 11010519491231002X, \
                    card 4111 1111 1111 1111. Not: 4111 1111 1111 1112, logo@2x.png.";
        let redacted = redact(text);
        assert_eq!(
            redacted,
            "Mail [email] or call [phone]; ID [cn_resident_id], card [payment_card]. \
             Not: 4111 1111 1111 1112, logo@2x.png."
        );
        assert_eq!(redact("nothing here"), "nothing here");
        // Every identifier detect counts is gone from the redacted text.
        assert!(detect(&redacted).is_empty());
    }

    /// The distinct (kind, canonical) pairs detection hands out.
    fn found(text: &str) -> Vec<(PiiKind, String)> {
        let mut v = Vec::new();
        detect_each(text, |k, c| v.push((k, c.to_owned())));
        v
    }

    fn phones(text: &str) -> Vec<String> {
        found(text)
            .into_iter()
            .filter(|(k, _)| *k == PiiKind::Phone)
            .map(|(_, c)| c)
            .collect()
    }

    fn one(kind: PiiKind, canonical: &str) -> Vec<(PiiKind, String)> {
        vec![(kind, canonical.to_owned())]
    }

    #[test]
    fn kind_names_are_stable() {
        let names: Vec<&str> = PiiKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["email", "phone", "cn_resident_id", "payment_card"]);
        for k in PiiKind::ALL {
            assert_eq!(PiiKind::from_name(k.name()), Some(k));
        }
        assert_eq!(PiiKind::from_name("Email"), None);
    }

    #[test]
    fn emails_in_chinese_and_english_text() {
        assert_eq!(
            found("联系邮箱：foo@example.cn。"),
            one(PiiKind::Email, "foo@example.cn")
        );
        assert_eq!(
            found("邮箱Foo.Bar+news@Mail.Example.COM.cn请联系"),
            one(PiiKind::Email, "foo.bar+news@mail.example.com.cn")
        );
        // Sentence-final '.', angle brackets, full-width '＠' and letters.
        assert_eq!(
            found("Write to <jane_doe@example.org>. Or jane_doe@example.org."),
            one(PiiKind::Email, "jane_doe@example.org")
        );
        assert_eq!(
            found("ｆｏｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
            one(PiiKind::Email, "foo@example.com")
        );
        // QQ mail: the digits are the address, not a phone.
        assert_eq!(
            found("QQ邮箱13800138000@qq.com"),
            one(PiiKind::Email, "13800138000@qq.com")
        );
        for not_email in [
            "logo@2x.png",
            "user@localhost",
            "@example.com",
            "a@b",
            "foo@-example.com",
            "foo..bar@example.com",
            "价格 @ 100 元",
            "foo@example.invalidtld",
        ] {
            assert_eq!(found(not_email), [], "{not_email}");
        }
    }

    #[test]
    fn chinese_mobiles_in_many_notations() {
        for text in [
            "电话13800138000",
            "电话：138 0013 8000。",
            "138-0013-8000",
            "+86 138 0013 8000",
            "+86-138-0013-8000",
            "(+86) 138 0013 8000",
            "+8613800138000",
            "0086 13800138000",
            "008613800138000",
            "86 138 0013 8000",
            "8613800138000",
            "１３８００１３８０００",
            "＋８６　１３８－００１３－８０００",
            "手机:138 00138000,",
        ] {
            assert_eq!(phones(text), ["+8613800138000"], "{text}");
        }
        // Two phones, one repeated: distinct count 2.
        let text = "张三 13912345678，李四 15000000001，再次 139-1234-5678";
        let f = detect(text);
        assert_eq!(f.count(PiiKind::Phone), 2);
        assert_eq!(f.total(), 2);
        assert_eq!(phones(text), ["+8613912345678", "+8615000000001"]);
    }

    #[test]
    fn chinese_landlines_and_international_numbers() {
        assert_eq!(phones("电话：010-62345678"), ["+861062345678"]);
        assert_eq!(phones("(010) 6552 9988"), ["+861065529988"]);
        assert_eq!(phones("0755-2345678 转 801"), ["+867552345678"]);
        assert_eq!(phones("+86 10 6552 9988"), ["+861065529988"]);
        assert_eq!(phones("+86-755-23456789"), ["+8675523456789"]);
        assert_eq!(phones("Call +1 (415) 555-2671 today"), ["+14155552671"]);
        assert_eq!(phones("+44 (0)20 7946 0958"), ["+442079460958"]);
        assert_eq!(phones("+49 30 901820"), ["+4930901820"]);
        assert_eq!(phones("+33 1 23 45 67 89"), ["+33123456789"]);
        // Too short / too long for E.164; +86 that is no Chinese number.
        assert_eq!(phones("+1 555 12"), Vec::<String>::new());
        assert_eq!(phones("+1 234 567 890 123 456"), Vec::<String>::new());
        assert_eq!(phones("+86 12345"), Vec::<String>::new());
        // A landline needs its separator (an 11-digit 0... is an order number).
        assert_eq!(phones("01012345678"), Vec::<String>::new());
        // Local numbers do not start with 0 or 1.
        assert_eq!(phones("010-12345"), Vec::<String>::new());
    }

    #[test]
    fn resident_ids_by_checksum() {
        // GB 11643's example: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 over
        // 11010519491231002 give 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167,
        // 167 mod 11 = 2 → "10X98765432"[2] = 'X'.
        assert_eq!(
            found("身份证号：11010519491231002X。"),
            one(PiiKind::ChineseResidentId, "11010519491231002X")
        );
        assert_eq!(
            found("身份证号11010519491231002x"),
            one(PiiKind::ChineseResidentId, "11010519491231002X")
        );
        // 44030419900307301: 28+36+0+15+0+16+2+9+54+0+0+27+0+15+56+12+2 = 272,
        // 272 mod 11 = 8 → '6'.
        assert_eq!(
            found("证件 440304 19900307 3016"),
            one(PiiKind::ChineseResidentId, "440304199003073016")
        );
        // Born on 2000-02-29 (a leap day): 31011520000229123, sum 215,
        // 215 mod 11 = 6 → '5'.
        assert_eq!(
            found("310115 2000 0229 1235"),
            one(PiiKind::ChineseResidentId, "310115200002291235")
        );
        // Wrong check character; 1999-02-29 does not exist; region 99.
        assert_eq!(found("110105194912310021"), []);
        assert_eq!(found("310115199902291234"), []);
        assert_eq!(found("990105194912310021"), []);
        // 440304199003073013 has the wrong check character ('6' is right) but
        // passes Luhn: a mistyped identity number, not a card.
        assert_eq!(found("440304199003073013"), []);
        // Not also a phone or a card.
        let f = detect("11010519491231002X 440304199003073016");
        assert_eq!(f.count(PiiKind::ChineseResidentId), 2);
        assert_eq!(f.total(), 2);
    }

    #[test]
    fn payment_cards_by_luhn_and_prefix() {
        assert_eq!(
            found("卡号4111 1111 1111 1111"),
            one(PiiKind::PaymentCard, "4111111111111111")
        );
        assert_eq!(
            found("5555555555554444"),
            one(PiiKind::PaymentCard, "5555555555554444")
        );
        assert_eq!(
            found("5555-5555-5555-4444"),
            one(PiiKind::PaymentCard, "5555555555554444")
        );
        assert_eq!(
            found("Amex 3782 822463 10005"),
            one(PiiKind::PaymentCard, "378282246310005")
        );
        assert_eq!(
            found("2221 0000 0000 0009"),
            one(PiiKind::PaymentCard, "2221000000000009")
        );
        // A 19-digit UnionPay number, 4-4-4-4-3.
        assert_eq!(
            found("6212 2611 0000 0000 007"),
            one(PiiKind::PaymentCard, "6212261100000000007")
        );
        // Luhn failure; a Luhn-valid number without a card prefix; mixed
        // separators; five groups of four (20 digits).
        assert_eq!(found("4111 1111 1111 1112"), []);
        assert_eq!(found("1111 1111 1111 1117"), []);
        assert_eq!(found("4111 1111-1111 1111"), []);
        assert_eq!(found("4111 1111 1111 1111 1111"), []);
        let f = detect("4111111111111111, 4111-1111-1111-1111 and 5555555555554444");
        assert_eq!(f.count(PiiKind::PaymentCard), 2);
    }

    #[test]
    fn look_alikes_are_not_identifiers() {
        for text in [
            "服务器 192.168.100.138 与 10.0.0.1",
            "发布于 2024-01-01 12:30:00",
            "2024年01月01日",
            "ISBN 978-7-111-54742-6",
            "ISBN 9787111547426",
            "版本 v13.800.138.000 或 13800138000.5",
            "3.13800138000",
            "订单号：202401011380013800",
            "订单号 1380013800012345678",
            "SN13800138000",
            "id=13800138000abc",
            "hash 4111111111111111a",
            "1920x1080 分辨率",
            "价格 13,800,138,000 元",
            "时间戳 1717171717171",
            "邮编 100000，电话区号 010",
            "0000000000000000000000000",
            // A valid identity number with a digit check character, and an
            // 'X' after it: 19 characters.
            "身份证 110105194912310003X",
            "身份证 110105 19491231 0003X",
        ] {
            assert_eq!(found(text), [], "{text}");
        }
        assert_eq!(
            found("身份证 110105194912310003"),
            one(PiiKind::ChineseResidentId, "110105194912310003")
        );
        // A date before a phone does not swallow it.
        assert_eq!(phones("2024-01-01 138 0013 8000"), ["+8613800138000"]);
    }

    #[test]
    fn mixed_text_counts_distinct_values_per_kind() {
        let text = "客服邮箱：Service@Example.cn，service@example.cn；\
                    电话 400-810-8888 或 138 0013 8000 / +86 13800138000；\
                    身份证 11010519491231002X；卡号 4111111111111111。";
        let f = detect(text);
        assert_eq!(f.count(PiiKind::Email), 1);
        assert_eq!(f.count(PiiKind::Phone), 1);
        assert_eq!(f.count(PiiKind::ChineseResidentId), 1);
        assert_eq!(f.count(PiiKind::PaymentCard), 1);
        assert_eq!(f.kinds().count(), 4);
        assert!(detect("没有个人信息的普通文本 123 456.").is_empty());
    }

    #[test]
    fn hmac_known_answers() {
        // Computed once with Python:
        //   hmac.new(key, kind.encode() + b"\0" + canonical.encode(),
        //            hashlib.sha256).hexdigest()
        let hex = |k: [u8; 32]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(pii_key(
                b"provindex-test-key",
                PiiKind::Phone,
                "+8613800138000"
            )),
            "f48f0bd3c7de6cb8fe446afce91bb08945161c7e780c7ba8039e1acc6e57e656"
        );
        assert_eq!(
            hex(pii_key(
                b"provindex-test-key",
                PiiKind::Email,
                "foo@example.com"
            )),
            "a22f9e0265d98f0572355ef38ae2a2d5c6bdf060da0b717c8bba087a64f7f150"
        );
        assert_eq!(
            hex(pii_key(
                b"",
                PiiKind::ChineseResidentId,
                "11010519491231002X"
            )),
            "83306b6e2c8ec9a3b633e0cf9a76fd8a5ec78885508d7f335c0ab5a3f40e2d84"
        );
        // Domain separation by kind.
        assert_ne!(
            pii_key(b"k", PiiKind::Phone, "4111111111111111"),
            pii_key(b"k", PiiKind::PaymentCard, "4111111111111111")
        );
    }

    #[test]
    fn queries_canonicalize_like_detection() {
        let q = canonical_query;
        for input in [
            "+86 138-0013-8000",
            "138 0013 8000",
            "13800138000",
            " 0086 138 0013 8000 ",
            "(+86) 13800138000",
        ] {
            assert_eq!(
                q(PiiKind::Phone, input).as_deref(),
                Ok("+8613800138000"),
                "{input}"
            );
        }
        assert_eq!(
            q(PiiKind::Phone, "(010) 6552-9988").as_deref(),
            Ok("+861065529988")
        );
        assert_eq!(
            q(PiiKind::Phone, "+1 (415) 555-2671").as_deref(),
            Ok("+14155552671")
        );
        assert_eq!(
            q(PiiKind::Email, "Foo@Example.COM").as_deref(),
            Ok("foo@example.com")
        );
        assert_eq!(
            q(PiiKind::ChineseResidentId, "110105 19491231 002x").as_deref(),
            Ok("11010519491231002X")
        );
        assert_eq!(
            q(PiiKind::PaymentCard, "4111-1111-1111-1111").as_deref(),
            Ok("4111111111111111")
        );
        // Every canonical form detection produced is its own query.
        for (kind, canonical) in found(
            "a foo@example.cn b +8613800138000 c 11010519491231002X d 4111111111111111 e +14155552671",
        ) {
            assert_eq!(q(kind, &canonical).as_deref(), Ok(canonical.as_str()));
        }
    }

    #[test]
    fn queries_say_what_is_wrong() {
        let q = canonical_query;
        assert_eq!(q(PiiKind::Email, "  "), Err(PiiError::Empty));
        assert_eq!(
            q(PiiKind::Email, "foo.example.com"),
            Err(PiiError::InvalidEmail("needs exactly one '@'"))
        );
        assert!(matches!(
            q(PiiKind::Email, "foo@localhost"),
            Err(PiiError::InvalidEmail(_))
        ));
        assert!(matches!(
            q(PiiKind::Email, "my mail: foo@example.com"),
            Err(PiiError::InvalidEmail(_))
        ));
        assert_eq!(
            q(PiiKind::Phone, "138 0013 800"),
            Err(PiiError::UnrecognizedPhone)
        );
        assert_eq!(
            q(PiiKind::Phone, "13800138000 13900139000"),
            Err(PiiError::ExtraDigits)
        );
        assert_eq!(
            q(PiiKind::Phone, "13800138000 ext. 12"),
            Err(PiiError::InvalidCharacter('e'))
        );
        assert_eq!(
            q(PiiKind::ChineseResidentId, "110105194912310021"),
            Err(PiiError::BadIdChecksum)
        );
        assert_eq!(
            q(PiiKind::ChineseResidentId, "310115199902291234"),
            Err(PiiError::ImplausibleBirthDate)
        );
        assert_eq!(
            q(PiiKind::ChineseResidentId, "990105194912310021"),
            Err(PiiError::UnknownRegion)
        );
        assert_eq!(
            q(PiiKind::ChineseResidentId, "11010519491231002"),
            Err(PiiError::WrongLength {
                kind: PiiKind::ChineseResidentId,
                expected: "18",
                len: 17
            })
        );
        assert_eq!(
            q(PiiKind::ChineseResidentId, "1101051949123100X2"),
            Err(PiiError::InvalidCharacter('X'))
        );
        assert_eq!(
            q(PiiKind::PaymentCard, "4111 1111 1111 1112"),
            Err(PiiError::LuhnFailure)
        );
        assert_eq!(
            q(PiiKind::PaymentCard, "1111 1111 1111 1117"),
            Err(PiiError::UnknownIssuer)
        );
        assert_eq!(
            q(PiiKind::PaymentCard, "4111/1111"),
            Err(PiiError::InvalidCharacter('/'))
        );
        // The messages never repeat the input.
        let msg = q(PiiKind::ChineseResidentId, "110105194912310021")
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("1101"), "{msg}");
    }

    /// `email_at` as it was before issue 17 (a local part built a char at a
    /// time from the '@' back, the labels collected, `format!`).
    fn email_at_reference(text: &str, at: usize, at_len: usize) -> Result<Match, &'static str> {
        let mut start = at;
        let mut local = String::new();
        for (i, c) in text[..at].char_indices().rev() {
            let c = fold(c);
            if !is_local_char(c) {
                break;
            }
            if local.len() == 64 {
                return Err("local part longer than 64 characters");
            }
            local.insert(0, c.to_ascii_lowercase());
            start = i;
        }
        while local.starts_with('.') {
            local.remove(0);
            start += text[start..].chars().next().map_or(1, char::len_utf8);
        }
        if local.is_empty() {
            return Err("empty local part");
        }
        if local.ends_with('.') || local.contains("..") {
            return Err("misplaced '.' in the local part");
        }
        let mut domain = String::new();
        let mut end = at + at_len;
        let mut p = end;
        while let Some((c, len)) = char_at(text, p) {
            if !(c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                break;
            }
            if domain.len() == 253 {
                return Err("domain longer than 253 characters");
            }
            domain.push(c.to_ascii_lowercase());
            p += len;
            if c != '.' {
                end = p;
            }
        }
        let trimmed = domain.trim_end_matches('.').len();
        domain.truncate(trimmed);
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err("domain without a '.'");
        }
        for l in &labels {
            if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
                return Err("invalid domain label");
            }
        }
        use psl::Psl as _;
        let known = psl::List
            .domain(domain.as_bytes())
            .is_some_and(|d| d.suffix().is_known());
        if !known {
            return Err("domain without a known public suffix");
        }
        Ok(Match {
            kind: PiiKind::Email,
            canonical: format!("{local}@{domain}"),
            start,
            end,
        })
    }

    /// `scan` as it was before issue 17: '@' and '＠' each searched for in a
    /// pass of their own, then the numbers.
    fn scan_reference(text: &str, out: &mut impl FnMut(Match)) {
        for at in memchr::memchr_iter(b'@', text.as_bytes()) {
            if let Ok(m) = email_at(text, at, 1) {
                out(m);
            }
        }
        for at in memchr::memmem::find_iter(text.as_bytes(), "＠".as_bytes()) {
            if let Ok(m) = email_at(text, at, 3) {
                out(m);
            }
        }
        scan_numbers(text, out);
    }

    /// Every match of a scan, as sorted (kind, canonical, start, end).
    fn sorted_matches(
        text: &str,
        scan: fn(&str, &mut dyn FnMut(Match)),
    ) -> Vec<(PiiKind, String, usize, usize)> {
        let mut v = Vec::new();
        scan(text, &mut |m: Match| {
            v.push((m.kind, m.canonical, m.start, m.end))
        });
        v.sort();
        v
    }

    #[test]
    fn fullwidth_at_is_found_in_the_number_pass() {
        for text in [
            "ｆｏｏ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            "13800138000＠qq.com",
            "tel 138-0013-8000＠qq.com，ａ＠ｂ．ｃｎ＋ｘ＠ｙ．ｃｏｍ",
            "＋＠ａ．ｃｎ ＠＠ x＠ x＠y.cn\u{ff20}",
            "１２＠x.cn 1＠x.cn 123456789012＠x.cn",
        ] {
            let fast = sorted_matches(text, |t, out| scan(t, &mut |m| out(m)));
            let slow = sorted_matches(text, |t, out| scan_reference(t, &mut |m| out(m)));
            assert_eq!(fast, slow, "{text}");
            assert!(fast.iter().any(|m| m.0 == PiiKind::Email), "{text}");
        }
    }

    /// `email_at` at every '@' and '＠' of `text`, as comparable values.
    fn emails_with(
        text: &str,
        f: fn(&str, usize, usize) -> Result<Match, &'static str>,
    ) -> Vec<Result<(String, usize, usize), &'static str>> {
        text.char_indices()
            .filter(|&(_, c)| fold(c) == '@')
            .map(|(at, c)| f(text, at, c.len_utf8()).map(|m| (m.canonical, m.start, m.end)))
            .collect()
    }

    #[test]
    fn email_at_equals_reference_on_long_parts() {
        let long_local = "a".repeat(64);
        let longer_local = "b".repeat(65);
        let long_label = "c".repeat(63);
        let longer_label = "d".repeat(64);
        let long_domain = format!("{}.com", "e.".repeat(125));
        for text in [
            format!("{long_local}@example.com"),
            format!("x {longer_local}@example.com"),
            format!("{long_local}@{long_label}.com"),
            format!("x@{longer_label}.com"),
            format!("x@{long_domain}"),
            format!("x@{long_domain}e.com"),
            "..a.b@x.cn. ＡＢ＠ｅｘａｍｐｌｅ．ｃｏｍ a..b@x.cn a.@x.cn @x.cn a@x".to_owned(),
        ] {
            assert_eq!(
                emails_with(&text, email_at),
                emails_with(&text, email_at_reference),
                "{text}"
            );
        }
    }

    /// `scan_numbers` without its shortcuts (the loop before issue 17):
    /// every candidate start goes through `parse_run`.
    fn scan_numbers_reference(text: &str, out: &mut impl FnMut(Match)) {
        let b = text.as_bytes();
        let mut run = Run::default();
        let mut i = 0;
        while i < b.len() {
            match b[i..]
                .iter()
                .position(|&c| c.is_ascii_digit() || c == b'+' || c == 0xEF)
            {
                Some(o) => i += o,
                None => break,
            }
            if !is_candidate_start(b, i) {
                i += 1;
                continue;
            }
            match parse_run(text, i, &mut run) {
                Some(end) => {
                    if run.digits.len() >= 8 {
                        match_run(&run, out);
                    }
                    i = end;
                }
                None => i += 1,
            }
        }
    }

    /// Every match of `scan_numbers`, as (kind, canonical, start, end).
    fn number_matches(
        text: &str,
        scan: fn(&str, &mut dyn FnMut(Match)),
    ) -> Vec<(PiiKind, String, usize, usize)> {
        let mut v = Vec::new();
        scan(text, &mut |m: Match| {
            v.push((m.kind, m.canonical, m.start, m.end))
        });
        v
    }

    fn check_numbers(text: &str) {
        let fast = number_matches(text, |t, out| scan_numbers(t, &mut |m| out(m)));
        let slow = number_matches(text, |t, out| scan_numbers_reference(t, &mut |m| out(m)));
        assert_eq!(fast, slow, "{text:?}");
    }

    /// Short digit groups next to every byte that may or may not continue a
    /// run, before identifiers: the shortcut finds what `parse_run` finds.
    #[test]
    fn short_groups_do_not_hide_identifiers() {
        let phone = "13800138000";
        let nexts = [
            "", ".", ",", ":", "a", "x", "X", " ", "-", "(", ")", "\u{a0}", "\u{2010}", "\u{2212}",
            "\u{3000}", "－", "（", "）", "ｘ", "０", "1", "  ", " -", "é", "中", "@", "_",
        ];
        for digits in [
            "1",
            "12",
            "86",
            "010",
            "0086",
            "1234567",
            "12345678",
            "123456789",
        ] {
            for next in nexts {
                for tail in [phone, "0013 8000", "-0013-8000", "3800138000", "12345678"] {
                    check_numbers(&format!("{digits}{next}{tail}"));
                    check_numbers(&format!("a {digits}{next}{tail} b"));
                    check_numbers(&format!("+86 {digits}{next}{tail}"));
                }
            }
        }
        // The reference sees these identifiers, so the comparison can fail.
        assert_eq!(
            number_matches("138 0013 8000", |t, out| scan_numbers(t, &mut |m| out(m))).len(),
            1
        );
        assert_eq!(
            number_matches("2024 13800138000", |t, out| scan_numbers(t, &mut |m| out(
                m
            )))
            .len(),
            1
        );
    }

    /// `next_candidate`'s definition: the first candidate byte, one byte at a
    /// time (the loop it replaced).
    fn next_candidate_bytewise(b: &[u8], from: usize) -> Option<usize> {
        b.get(from..)?
            .iter()
            .position(|&c| c.is_ascii_digit() || c == b'+' || c == 0xEF)
            .map(|o| from + o)
    }

    /// Every start offset of texts around the 8-byte words and 64-byte
    /// blocks, with one
    /// candidate byte (each kind) at every position, or none.
    #[test]
    fn next_candidate_finds_the_first_candidate_byte() {
        for len in [
            0, 1, 7, 8, 9, 15, 16, 17, 40, 63, 64, 65, 127, 128, 129, 140,
        ] {
            for hit in (0..len).map(Some).chain([None]) {
                for c in [b'0', b'9', b'+', 0xEF] {
                    let mut b = vec![b'a'; len];
                    // Near misses of the candidate test around it.
                    for (k, slot) in b.iter_mut().enumerate() {
                        *slot = [b'a', b'/', b':', b'*', b',', 0xEE, 0xF0, 0x80][k % 8];
                    }
                    if let Some(h) = hit {
                        b[h] = c;
                    }
                    for from in 0..=len + 1 {
                        assert_eq!(
                            next_candidate(&b, from),
                            next_candidate_bytewise(&b, from),
                            "len {len}, hit {hit:?}, byte {c:#x}, from {from}"
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// On any bytes and start, the word-wise skip equals the bytewise one.
        #[test]
        fn next_candidate_equals_bytewise(
            b in proptest::collection::vec(proptest::prop_oneof![
                // Near misses: the neighbours of '0'..'9', '+' and 0xEF.
                8 => proptest::sample::select(b"ab /:*,.\n\xEE\xF0\xBC\x80\xB0\xAB".to_vec()),
                1 => proptest::sample::select(b"0123456789+\xEF".to_vec()),
                1 => proptest::prelude::any::<u8>(),
            ], 0..200),
            from in 0usize..210,
        ) {
            proptest::prop_assert_eq!(next_candidate(&b, from), next_candidate_bytewise(&b, from));
        }

        /// One `Candidates` asked at increasing offsets (as `scan_numbers`
        /// asks, its block kept from search to search) finds what the
        /// bytewise search finds.
        #[test]
        fn kept_candidates_equal_bytewise(
            b in proptest::collection::vec(proptest::prop_oneof![
                4 => proptest::sample::select(b"ab /:*,.\n\xEE\xF0\xBC\x80\xB0\xAB".to_vec()),
                1 => proptest::sample::select(b"0123456789+\xEF".to_vec()),
                1 => proptest::prelude::any::<u8>(),
            ], 0..400),
            steps in proptest::collection::vec(0usize..90, 0..40),
        ) {
            let mut candidates = Candidates::new(&b);
            let mut from = 0;
            for step in steps {
                proptest::prop_assert_eq!(candidates.next(from), next_candidate_bytewise(&b, from), "from {}", from);
                from += step;
            }
        }

        /// On digit soup with every separator `fold` knows, `scan_numbers`
        /// equals the shortcut-free reference.
        #[test]
        fn scan_numbers_equals_reference(
            s in "[0-9０-９xXｘ+＋@.,:\\- ()（）－a-z中\u{a0}\u{2010}\u{2212}\u{3000}]{0,60}"
        ) {
            let fast = number_matches(&s, |t, out| scan_numbers(t, &mut |m| out(m)));
            let slow = number_matches(&s, |t, out| scan_numbers_reference(t, &mut |m| out(m)));
            proptest::prop_assert_eq!(fast, slow);
        }

        /// `scan` equals its reference (a pass of its own for '＠') on
        /// address and number soup.
        #[test]
        fn scan_equals_reference(
            s in "([a-z0-9.\\-＠@．ｃｘ０-９＋+ ，中]|\\.cn|\\.com|13800138000){0,40}"
        ) {
            let fast = sorted_matches(&s, |t, out| scan(t, &mut |m| out(m)));
            let slow = sorted_matches(&s, |t, out| scan_reference(t, &mut |m| out(m)));
            proptest::prop_assert_eq!(fast, slow);
        }

        /// `email_at` equals its reference on address soup.
        #[test]
        fn email_at_equals_reference(
            s in "[a-zA-Z0-9._%+\\-@＠．ａＡ０ -中]{0,40}(@|＠)[a-zA-Z0-9.\\-．ｃ]{0,20}(com|cn|co\\.uk|png|)[ .。]{0,2}"
        ) {
            proptest::prop_assert_eq!(emails_with(&s, email_at), emails_with(&s, email_at_reference));
        }

        /// `concat` (a slice of the run's digit buffer) is the digits of
        /// the groups, one after the other.
        #[test]
        fn concat_is_the_groups_digits(s in "[0-9０-９xX+ \\-()a]{1,40}") {
            let mut run = Run::default();
            for pos in (0..s.len()).filter(|&p| s.is_char_boundary(p)) {
                if parse_run(&s, pos, &mut run).is_none() {
                    continue;
                }
                for i in 0..run.groups.len() {
                    for j in i + 1..=run.groups.len() {
                        let joined: Vec<u8> = (i..j).flat_map(|g| run.d(g).to_vec()).collect();
                        proptest::prop_assert_eq!(concat(&run, i, j), &joined[..]);
                    }
                }
            }
        }

        /// `char_at`'s ASCII shortcut gives what decoding and folding give.
        #[test]
        fn char_at_equals_decoding(s in "[0-9a-zX +\\-().@_\u{0}\u{7f}\u{a0}\u{3000}０-９＋－（中é]{0,20}") {
            for p in (0..=s.len()).filter(|&p| s.is_char_boundary(p)) {
                let decoded = s[p..].chars().next().map(|c| (fold(c), c.len_utf8()));
                proptest::prop_assert_eq!(char_at(&s, p), decoded);
            }
        }

        #[test]
        fn detect_never_panics(s in "\\PC*") {
            let _ = detect(&s);
        }

        #[test]
        fn detect_never_panics_on_number_soup(s in "[0-9０-９xX+＋@.\\- ()（）a-z，。电话]{0,80}") {
            let mut n = 0;
            let f = detect_each(&s, |_, _| n += 1);
            proptest::prop_assert_eq!(f.total(), n);
        }

        /// Any mobile number in any supported notation, inside Chinese text,
        /// is found as +86 and its 11 digits, and queries to the same.
        #[test]
        fn mobiles_round_trip(
            second in 3u8..=9,
            rest in proptest::collection::vec(0u8..=9, 9),
            notation in 0usize..6,
        ) {
            let d: String = [1, second].iter().chain(&rest).map(|&n| char::from(b'0' + n)).collect();
            let written = match notation {
                0 => d.clone(),
                1 => format!("{} {} {}", &d[..3], &d[3..7], &d[7..]),
                2 => format!("+86-{}-{}-{}", &d[..3], &d[3..7], &d[7..]),
                3 => format!("0086 {d}"),
                4 => format!("(+86) {} {}", &d[..3], &d[3..]),
                _ => d.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect(),
            };
            let want = format!("+86{d}");
            proptest::prop_assert_eq!(phones(&format!("请致电{written}。")), vec![want.clone()]);
            proptest::prop_assert_eq!(canonical_query(PiiKind::Phone, &written), Ok(want));
        }

        /// Any resident identity number with its computed check character is
        /// found (and only as that); with another check character, nothing.
        #[test]
        fn resident_ids_round_trip(
            region in proptest::sample::select(vec![11u32, 31, 44, 65, 82]),
            area in 0u32..10_000,
            year in 1900u32..2030,
            month in 1u32..=12,
            day in 1u32..=28,
            seq in 0u32..1000,
            wrong in 1u8..11,
        ) {
            let body = format!("{region:02}{area:04}{year:04}{month:02}{day:02}{seq:03}");
            const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
            let right = (sum % 11) as u8;
            let check = |r: u8| char::from(b"10X98765432"[usize::from(r)]);
            let id = format!("{body}{}", check(right));
            proptest::prop_assert_eq!(found(&format!("身份证：{id}，")), one(PiiKind::ChineseResidentId, &id));
            let bad = format!("{body}{}", check((right + wrong) % 11));
            let f = detect(&bad);
            proptest::prop_assert_eq!(f.count(PiiKind::ChineseResidentId), 0);
            proptest::prop_assert_eq!(f.count(PiiKind::PaymentCard), 0);
        }

        /// A 16-digit Visa-prefixed number with its Luhn digit is a card in
        /// either notation; with any other last digit it is not.
        #[test]
        fn cards_round_trip(body in proptest::collection::vec(0u8..=9, 14), delta in 1u8..10) {
            let mut d = vec![4u8];
            d.extend(&body);
            let sum: u32 = d.iter().rev().enumerate().map(|(n, &v)| {
                let v = u32::from(v);
                if n % 2 == 0 { if v * 2 > 9 { v * 2 - 9 } else { v * 2 } } else { v }
            }).sum();
            let luhn = ((10 - sum % 10) % 10) as u8;
            let digits = |last: u8| d.iter().chain([&last]).map(|&n| char::from(b'0' + n)).collect::<String>();
            let card = digits(luhn);
            let grouped = format!("{} {} {} {}", &card[..4], &card[4..8], &card[8..12], &card[12..]);
            proptest::prop_assert_eq!(found(&card), one(PiiKind::PaymentCard, &card));
            proptest::prop_assert_eq!(found(&format!("卡号：{grouped}。")), one(PiiKind::PaymentCard, &card));
            proptest::prop_assert_eq!(found(&digits((luhn + delta) % 10)), vec![]);
        }

        #[test]
        fn queries_never_panic(s in "\\PC{0,40}", k in 0usize..4) {
            let _ = canonical_query(PiiKind::ALL[k], &s);
        }
    }

    /// Throughput on ~4 MB of mixed Chinese/English text; run with
    /// `cargo test --release -p provindex-policy -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement"]
    fn detect_throughput() {
        let para = "据新华社报道，2024年1月1日，北京市发布了新版城市规划（第3.2版），\
            涉及 1,380 个项目，总投资 4500 亿元。详情见 https://www.example.gov.cn/news/20240101/123456.html。\
            The report (ISBN 978-7-111-54742-6) covers 192.168.0.1 networks and v1.2.3 releases. \
            联系人：王先生，电话 138 0013 8000，邮箱 wang@example.cn。\n";
        let plain = "这是一段没有任何个人信息的普通中文文本，用于测量检测速度，其中包含一些标点符号和英文单词 like this one.\n";
        let english = "The quick brown fox jumps over the lazy dog; in 2023 it did so 42 times, see page 7.\n";
        let build = |parts: &[(&str, usize)]| {
            let mut text = String::new();
            while text.len() < 4 << 20 {
                for &(p, n) in parts {
                    for _ in 0..n {
                        text.push_str(p);
                    }
                }
            }
            text
        };
        for (name, text) in [
            (
                "mixed (1 in 10 lines with numbers and PII)",
                build(&[(para, 1), (plain, 9)]),
            ),
            ("every line numbers and PII", build(&[(para, 1)])),
            ("Chinese prose", build(&[(plain, 1)])),
            ("English prose", build(&[(english, 1)])),
        ] {
            let rounds = 5;
            let t = std::time::Instant::now();
            let mut total = 0;
            for _ in 0..rounds {
                total += detect(std::hint::black_box(&text)).total();
            }
            let secs = t.elapsed().as_secs_f64();
            let mb = (text.len() * rounds) as f64 / 1e6;
            println!(
                "detect, {name}: {:.0} MB/s over {mb:.0} MB ({total} findings)",
                mb / secs
            );
        }
    }
}
