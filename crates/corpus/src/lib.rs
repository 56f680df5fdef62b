//! `provindex-corpus`: reading web crawls.
//!
//! * [`WarcReader`]: a streaming, resynchronizing WARC reader over any
//!   [`std::io::Read`] (WARC 1.0/1.1, 0.17/0.18 quirks; uncompressed,
//!   gzip-per-record and whole-file gzip, detected by magic bytes).
//! * [`DocReader`] / [`read_path`]: crawl records turned into [`SourceDoc`]s
//!   (HTTP parsing, content decoding, charset detection, HTML→text).
//! * [`html::extract`]: a fast HTML→text extractor on html5ever's tokenizer.
//!
//! Errors are per record ([`ReadError`]); a reader never stops at a bad record
//! when more good data follows.

#![forbid(unsafe_code)]

pub mod aws_profile;
pub mod date;
pub mod doc;
mod gzip;
pub mod html;
pub mod http;
mod input;
pub mod jsonl;
pub mod revisit;
pub mod store;
pub mod upload;
pub mod warc;

pub use doc::{DocReader, Docs, WarcInfo, open_docs, read_path, read_path_with, site_file_path};
pub use input::Compression;
pub use jsonl::{JsonlFields, JsonlReader};
pub use revisit::{ResolvedBy, RevisitResolver};
pub use warc::{RecordType, WarcReader, WarcRecord};

use std::collections::BTreeMap;
use std::fmt;

/// Decodes the single record stored at a location's bytes (as returned by a
/// byte-range read of `offset..offset+length` for [`Framing::Plain`] and
/// [`Framing::GzipMember`], or sliced from the decompressed stream for
/// [`Framing::Decompressed`]).
pub fn decode_record(bytes: &[u8], uri: &str) -> Result<WarcRecord, ReadError> {
    let mut r = WarcReader::new(bytes, uri);
    match r.next_record() {
        Some(res) => res,
        None => Err(ReadError {
            uri: uri.to_string(),
            offset: 0,
            reason: "no record in the given bytes".into(),
        }),
    }
}

/// `String::from_utf8_lossy`, checking valid UTF-8 (nearly every header
/// line) first: that check is several times faster on short ASCII strings than
/// the lossy decoder's chunk loop, and header lines come by the dozen per record.
pub(crate) fn utf8_lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Default bound for one record's block and for a decompressed payload.
pub const DEFAULT_MAX_RECORD_SIZE: u64 = 64 * 1024 * 1024;
/// Default bound for one record's header block (WARC or HTTP).
pub const DEFAULT_MAX_HEADER_SIZE: usize = 256 * 1024;

/// How `offset`/`length` of a [`RecordLocation`] address the stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// Uncompressed object: `offset..offset+length` are the record's bytes.
    #[default]
    Plain,
    /// Gzip member holding exactly this record: `offset..offset+length` are
    /// the compressed bytes of the member (decompress it on its own).
    GzipMember,
    /// The record lies inside a compressed stream (whole-file gzip, or a gzip
    /// member holding several records, or zstd): `offset..offset+length` are
    /// positions in the *decompressed* stream of the whole object.
    Decompressed,
}

/// Where a record's original bytes live, so they can be fetched again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RecordLocation {
    /// The object's URI or path, as given to the reader.
    pub uri: String,
    pub offset: u64,
    pub length: u64,
    pub framing: Framing,
}

/// What kind of input record a [`SourceDoc`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DocKind {
    #[default]
    Response,
    Resource,
    Revisit,
    /// WET `conversion` record: the block is extracted text.
    Conversion,
    /// One line of a JSONL (e.g. Dolma) file.
    JsonDoc,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Response => "response",
            DocKind::Resource => "resource",
            DocKind::Revisit => "revisit",
            DocKind::Conversion => "conversion",
            DocKind::JsonDoc => "jsondoc",
        }
    }
}

/// One crawl record that becomes a capture.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceDoc {
    /// WARC-Record-ID (with its `<>`), or the JSONL `id`.
    pub record_id: Option<String>,
    pub kind: DocKind,
    /// WARC-Target-URI without `<>`, or the JSONL url.
    pub url: Option<String>,
    /// Capture time (WARC-Date or JSONL date) as unix seconds.
    pub date_unix: Option<i64>,
    /// The date exactly as written in the input.
    pub date_raw: Option<String>,
    /// Why `date_raw` could not be parsed, if it could not.
    pub date_error: Option<String>,
    pub http_status: Option<u16>,
    /// HTTP response headers as sent, in order.
    pub http_headers: Vec<(String, String)>,
    /// Payload media type, lowercased, without parameters.
    pub content_type: Option<String>,
    /// Character encoding used to decode the payload (encoding_rs name).
    pub charset: Option<String>,
    pub payload_digest: Option<String>,
    /// WARC-Refers-To (revisits, conversions).
    pub refers_to: Option<String>,
    pub refers_to_target_uri: Option<String>,
    pub refers_to_date: Option<String>,
    /// Content language if the input says so (WARC-Identified-Content-Language,
    /// HTTP Content-Language, `<html lang>`, JSONL metadata).
    pub language: Option<String>,
    pub location: RecordLocation,
    /// The WARC record's Content-Length (block size); JSONL: line length.
    pub record_length: u64,
    /// Decoded HTML when the payload is HTML.
    pub html: Option<String>,
    /// `<title>` of an HTML payload.
    pub title: Option<String>,
    /// Extracted plain text; None for non-text payloads (images, PDF, ...).
    pub text: Option<String>,
    /// Non-fatal problems with this record (bad chunking, bad date, ...).
    pub warnings: Vec<String>,
    /// JSONL `source` field (Dolma), if present.
    pub source: Option<String>,
}

/// A bad record (or bad input) at a byte offset. Reading continues after it
/// whenever more good data can be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{uri}@{offset}: {reason}")]
pub struct ReadError {
    pub uri: String,
    /// Byte offset of the bad record: in the stored object for plain files and
    /// gzip members, in the decompressed stream for records inside one.
    pub offset: u64,
    pub reason: String,
}

/// Counters a caller can read while or after iterating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records successfully framed, by WARC-Type (or "jsonl").
    pub records_by_type: BTreeMap<String, u64>,
    /// SourceDocs produced.
    pub docs: u64,
    /// Records skipped on purpose (request, metadata, warcinfo, ...).
    pub skipped: u64,
    /// ReadErrors produced.
    pub errors: u64,
    /// Non-fatal warnings attached to produced docs.
    pub warnings: u64,
}

impl ReadStats {
    pub fn records(&self, record_type: &str) -> u64 {
        self.records_by_type.get(record_type).copied().unwrap_or(0)
    }
    pub fn total_records(&self) -> u64 {
        self.records_by_type.values().sum()
    }
    /// Adds another file's counters.
    pub fn merge(&mut self, other: &ReadStats) {
        for (k, v) in &other.records_by_type {
            *self.records_by_type.entry(k.clone()).or_insert(0) += v;
        }
        self.docs += other.docs;
        self.skipped += other.skipped;
        self.errors += other.errors;
        self.warnings += other.warnings;
    }
}

impl fmt::Display for ReadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "docs={} skipped={} errors={} warnings={} records={{",
            self.docs, self.skipped, self.errors, self.warnings
        )?;
        for (i, (k, v)) in self.records_by_type.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{k}: {v}")?;
        }
        write!(f, "}}")
    }
}

/// Reader limits and switches.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// Max record block size and max decompressed payload size.
    pub max_record_size: u64,
    /// Max size of a WARC or HTTP header block.
    pub max_header_size: usize,
    /// Keep the decoded HTML in `SourceDoc::html`.
    pub keep_html: bool,
    /// Extract the text, title and `<html lang>` of HTML payloads (the
    /// default). When false, an HTML payload's doc has its decoded HTML in
    /// `SourceDoc::html` (whatever `keep_html` says) and `text: None`: the
    /// caller extracts it, e.g. with [`html::extract_observed`] to scan the
    /// page for more in the same tokenizer pass.
    pub html_text: bool,
    /// Field names for JSONL inputs.
    pub jsonl: JsonlFields,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            keep_html: true,
            html_text: true,
            jsonl: JsonlFields::default(),
        }
    }
}

#[cfg(test)]
mod utf8_lossy_tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn same_as_the_lossy_decoder(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(super::utf8_lossy(&b), String::from_utf8_lossy(&b));
        }

        #[test]
        fn same_on_text(s in "\\PC{0,40}", cut in 0usize..200) {
            let b = s.as_bytes();
            let b = &b[..cut.min(b.len())];
            prop_assert_eq!(super::utf8_lossy(b), String::from_utf8_lossy(b));
        }
    }
}
