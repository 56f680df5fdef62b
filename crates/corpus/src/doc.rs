//! Crawl records → [`SourceDoc`]s.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::http::{self, DecodeError};
use crate::input::Compression;
use crate::jsonl::JsonlReader;
use crate::warc::{RecordType, WarcReader, WarcRecord};
use crate::{DocKind, ReadError, ReadStats, ReaderOptions, SourceDoc};

/// Reads crawl records from any `Read` and yields [`SourceDoc`]s (response,
/// resource, revisit and conversion records); other record types are counted
/// in [`ReadStats::skipped`].
pub struct DocReader<R: Read> {
    warc: WarcReader<R>,
    warcinfo: Vec<WarcInfo>,
}

/// The fields of one `warcinfo` record (WARC 1.1 §6.2: an
/// `application/warc-fields` block of `name: value` lines): who crawled, with
/// what software, user agent and robots policy. Kept in order, names as
/// written; bounded ([`WarcInfo::MAX_FIELDS`] fields, values cut at
/// [`WarcInfo::MAX_VALUE`] bytes) so a hostile record cannot grow a build's
/// metadata.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WarcInfo {
    pub fields: Vec<(String, String)>,
}

impl WarcInfo {
    pub const MAX_FIELDS: usize = 64;
    pub const MAX_VALUE: usize = 1024;
    /// Distinct warcinfo records kept per input object.
    pub const MAX_PER_INPUT: usize = 16;

    /// Parses a `application/warc-fields` block; lines without a `:` and
    /// empty names are skipped, continuation lines are not joined.
    pub fn parse(block: &[u8]) -> WarcInfo {
        let text = String::from_utf8_lossy(block);
        let mut fields = Vec::new();
        for line in text.lines() {
            if fields.len() == Self::MAX_FIELDS {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                continue;
            }
            let mut value = value.trim().to_owned();
            if value.len() > Self::MAX_VALUE {
                let mut end = Self::MAX_VALUE;
                while !value.is_char_boundary(end) {
                    end -= 1;
                }
                value.truncate(end);
            }
            fields.push((name.to_owned(), value));
        }
        WarcInfo { fields }
    }

    /// The first field with this name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl<R: Read> DocReader<R> {
    pub fn new(reader: R, uri: impl Into<String>) -> Self {
        Self::with_options(reader, uri, ReaderOptions::default())
    }

    pub fn with_options(reader: R, uri: impl Into<String>, opts: ReaderOptions) -> Self {
        let mut warc = WarcReader::with_options(reader, uri, opts);
        warc.http_body_apart = true;
        DocReader {
            warc,
            warcinfo: Vec::new(),
        }
    }

    /// The distinct `warcinfo` records read so far, in order of appearance.
    pub fn warcinfo(&self) -> &[WarcInfo] {
        &self.warcinfo
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReadStats {
        &self.warc.stats
    }

    pub fn uri(&self) -> &str {
        self.warc.uri()
    }
}

impl<R: Read> Iterator for DocReader<R> {
    type Item = Result<SourceDoc, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rec = match self.warc.next_record()? {
                Ok(r) => r,
                Err(e) => return Some(Err(e)),
            };
            let offset = rec.location.offset;
            if rec.record_type == RecordType::Warcinfo
                && self.warcinfo.len() < WarcInfo::MAX_PER_INPUT
            {
                let info = WarcInfo::parse(&rec.block);
                if !info.fields.is_empty() && !self.warcinfo.contains(&info) {
                    self.warcinfo.push(info);
                }
            }
            match record_to_doc(rec, self.warc.options()) {
                Ok(Some(doc)) => {
                    self.warc.stats.docs += 1;
                    self.warc.stats.warnings += doc.warnings.len() as u64;
                    return Some(Ok(doc));
                }
                Ok(None) => self.warc.stats.skipped += 1,
                Err(reason) => {
                    self.warc.stats.errors += 1;
                    return Some(Err(ReadError {
                        uri: self.warc.uri().to_string(),
                        offset,
                        reason,
                    }));
                }
            }
        }
    }
}

/// Bytes read ahead for format detection, then chained before the rest.
pub type Prefixed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Docs of one input object, whatever its format (WARC/WET or JSONL; plain,
/// gzip or zstd), detected from its content.
pub enum Docs<R: Read> {
    Warc(Box<DocReader<Prefixed<R>>>),
    Jsonl(Box<JsonlReader<Prefixed<R>>>),
    /// The input could not be opened or read at all.
    Failed(Option<ReadError>, ReadStats),
}

impl<R: Read> Docs<R> {
    /// Counters so far.
    pub fn stats(&self) -> &ReadStats {
        match self {
            Docs::Warc(r) => r.stats(),
            Docs::Jsonl(r) => r.stats(),
            Docs::Failed(_, s) => s,
        }
    }

    /// The `warcinfo` records read so far (none for JSONL).
    pub fn warcinfo(&self) -> &[WarcInfo] {
        match self {
            Docs::Warc(r) => r.warcinfo(),
            Docs::Jsonl(_) | Docs::Failed(..) => &[],
        }
    }

    fn failed(uri: String, reason: String) -> Self {
        let stats = ReadStats {
            errors: 1,
            ..ReadStats::default()
        };
        Docs::Failed(
            Some(ReadError {
                uri,
                offset: 0,
                reason,
            }),
            stats,
        )
    }
}

impl<R: Read> Iterator for Docs<R> {
    type Item = Result<SourceDoc, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Docs::Warc(r) => r.next(),
            Docs::Jsonl(r) => r.next(),
            Docs::Failed(e, _) => e.take().map(Err),
        }
    }
}

const SNIFF_LEN: usize = 64 * 1024;

/// Detects the format of `reader`'s content and returns its docs.
pub fn open_docs<R: Read>(mut reader: R, uri: impl Into<String>, opts: ReaderOptions) -> Docs<R> {
    let uri = uri.into();
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    if let Err(e) = (&mut reader)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
    {
        return Docs::failed(uri, format!("read error: {e}"));
    }
    let compression = Compression::detect(&prefix);
    let mut head = Vec::with_capacity(512);
    match compression {
        Compression::None => head.extend_from_slice(&prefix[..prefix.len().min(512)]),
        Compression::Gzip => {
            let _ = flate2::read::MultiGzDecoder::new(&prefix[..])
                .take(512)
                .read_to_end(&mut head);
        }
        Compression::Zstd => {
            if let Ok(d) = ruzstd::decoding::StreamingDecoder::new(&prefix[..]) {
                let _ = d.take(512).read_to_end(&mut head);
            }
        }
    }
    let first = head
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xef | 0xbb | 0xbf));
    let chained = io::Cursor::new(prefix).chain(reader);
    if first == Some(b'{') {
        Docs::Jsonl(Box::new(JsonlReader::new(chained, uri, compression, opts)))
    } else {
        Docs::Warc(Box::new(DocReader::with_options(chained, uri, opts)))
    }
}

/// Reads a local file: WARC/WET (plain, gzip per record, or whole-file gzip)
/// or JSONL (plain, gzip, zstd). Open errors come out as the first item.
pub fn read_path(path: &Path) -> Docs<File> {
    read_path_with(path, ReaderOptions::default())
}

pub fn read_path_with(path: &Path, opts: ReaderOptions) -> Docs<File> {
    let uri = path.display().to_string();
    // Never open a FIFO or other special file: opening one may block.
    match crate::store::local_input_problem(path) {
        Ok(Some(reason)) => return Docs::failed(uri, reason),
        Ok(None) => {}
        Err(e) => return Docs::failed(uri, format!("cannot open: {e}")),
    }
    match File::open(path) {
        Ok(f) => open_docs(f, uri, opts),
        Err(e) => Docs::failed(uri, format!("cannot open: {e}")),
    }
}

fn is_html_mime(m: &str) -> bool {
    matches!(
        m,
        "text/html" | "application/xhtml+xml" | "application/xhtml" | "text/xhtml"
    )
}

fn is_plain_mime(m: &str) -> bool {
    matches!(m, "text/plain" | "text/markdown" | "text/x-markdown")
}

/// Site-wide policy files whose body is kept as `SourceDoc::text` whatever
/// their media type (a tdmrep.json is `application/json`, a robots.txt may be
/// served as `application/octet-stream`): returns the URL's path when it is
/// exactly `/robots.txt`, `/ai.txt` or `/.well-known/tdmrep.json` (no query).
pub fn site_file_path(url: &str) -> Option<&'static str> {
    let (scheme, rest) = url.trim().split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or(rest);
    let path = &rest[rest.find('/')?..];
    ["/robots.txt", "/ai.txt", "/.well-known/tdmrep.json"]
        .into_iter()
        .find(|p| *p == path)
}

/// Sniffs HTML from the first bytes of a payload without a useful type.
fn sniff_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(1024)];
    let n = head
        .iter()
        .take_while(|c| c.is_ascii_whitespace() || **c == 0xef || **c == 0xbb || **c == 0xbf)
        .count();
    let h = head[n..].to_ascii_lowercase();
    h.starts_with(b"<!doctype html")
        || h.starts_with(b"<html")
        || h.starts_with(b"<head")
        || h.starts_with(b"<body")
        || (h.starts_with(b"<!--") && memchr::memmem::find(&h, b"<html").is_some())
}

fn tld_of(url: Option<&str>) -> Option<Vec<u8>> {
    let u = url?;
    let after = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
    let host = after.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = host.split(':').next()?;
    let tld = host.rsplit('.').next()?;
    (!tld.is_empty() && tld.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| tld.to_ascii_lowercase().into_bytes())
}

/// Turns one WARC record into a doc; `Ok(None)` for record types that are
/// not documents (request, metadata, warcinfo, ...); `Err` for a record that
/// cannot be decoded (e.g. payload over the size limit).
pub fn record_to_doc(rec: WarcRecord, opts: &ReaderOptions) -> Result<Option<SourceDoc>, String> {
    let kind = match rec.record_type {
        RecordType::Response => DocKind::Response,
        RecordType::Resource => DocKind::Resource,
        RecordType::Revisit => DocKind::Revisit,
        RecordType::Conversion => DocKind::Conversion,
        _ => return Ok(None),
    };
    let language = rec
        .header("WARC-Identified-Content-Language")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let mut doc = SourceDoc {
        record_id: rec.record_id,
        kind,
        url: rec.target_uri,
        date_unix: rec.date_unix,
        date_raw: rec.date_raw,
        date_error: None,
        payload_digest: rec.payload_digest,
        refers_to: rec.refers_to,
        refers_to_target_uri: rec.refers_to_target_uri,
        refers_to_date: rec.refers_to_date,
        language,
        location: rec.location,
        record_length: rec.content_length,
        ..SourceDoc::default()
    };
    if let Some(e) = rec.date_error {
        doc.warnings.push(format!("WARC-Date: {e}"));
        doc.date_error = Some(e);
    }
    if let Some(u) = &doc.url
        && u.contains(char::is_whitespace)
    {
        doc.warnings
            .push("WARC-Target-URI contains whitespace".into());
    }
    let (warc_mime, warc_charset) = rec
        .content_type
        .as_deref()
        .map(http::parse_content_type)
        .unwrap_or((None, None));

    // Split off the HTTP head when there is one (the reader may have).
    let mut block = rec.block;
    let http_body = rec.http_body;
    let is_http_block = matches!(kind, DocKind::Response | DocKind::Revisit)
        && (warc_mime.as_deref() == Some("application/http") || http::looks_like_http(&block));
    let (mime, declared_charset, body): (Option<String>, Option<String>, Vec<u8>) = if is_http_block
    {
        let Some(head) = http::parse_head(&block, opts.max_header_size) else {
            if kind == DocKind::Revisit {
                // Revisits may carry no HTTP head at all.
                return Ok(Some(doc));
            }
            return Err(
                "response record with application/http type but no HTTP status line".into(),
            );
        };
        doc.http_status = head.status;
        let (m, cs) = head
            .header("Content-Type")
            .map(http::parse_content_type)
            .unwrap_or((None, None));
        if doc.language.is_none() {
            doc.language = head
                .header("Content-Language")
                .and_then(|l| l.split(',').next())
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty());
        }
        let te = head
            .header("Transfer-Encoding")
            .map(str::to_ascii_lowercase);
        let ce = head.header("Content-Encoding").map(str::to_string);
        doc.http_headers = head.headers;
        let mut body = match http_body {
            // (`block` is the head then: `body_start` is its end.)
            Some(body) => body,
            None => {
                // The body moved to the front of the block's buffer: no second copy.
                block.drain(..head.body_start.min(block.len()));
                block
            }
        };
        if kind == DocKind::Revisit {
            doc.content_type = m;
            return Ok(Some(doc));
        }
        if te.as_deref().is_some_and(|t| t.contains("chunked")) && http::looks_chunked(&body) {
            match http::dechunk(&body, opts.max_record_size) {
                    Ok(b) => body = b,
                    Err(e) => doc
                        .warnings
                        .push(format!("Transfer-Encoding chunked but body is not validly chunked ({e}); using it as is")),
                }
        }
        // Otherwise the archive stored the body already de-chunked.
        if let Some(ce) = ce {
            for enc in ce.split(',').map(str::trim).filter(|e| !e.is_empty()).rev() {
                match http::decode_content_encoding(&body, enc, opts.max_record_size) {
                    Ok(b) => body = b,
                    Err(DecodeError::TooLarge(max)) => {
                        return Err(format!(
                            "payload decompresses to more than {max} bytes (Content-Encoding {enc})"
                        ));
                    }
                    Err(DecodeError::Unsupported(e)) => {
                        doc.warnings.push(format!(
                            "unsupported Content-Encoding {e:?}; payload left as is"
                        ));
                        break;
                    }
                    Err(DecodeError::Corrupt(e)) => {
                        // Archives often store the decoded body but keep the header.
                        doc.warnings.push(format!(
                            "Content-Encoding {enc} could not be decoded ({e}); using the body as stored"
                        ));
                        break;
                    }
                }
            }
        }
        (m, cs, body)
    } else {
        if kind == DocKind::Revisit {
            return Ok(Some(doc));
        }
        // (Not read apart by the reader: its HTTP records are HTTP blocks.)
        block.extend(http_body.unwrap_or_default());
        (warc_mime.clone(), warc_charset.clone(), block)
    };
    let mime = mime.filter(|m| !m.is_empty());
    doc.content_type = mime.clone();

    let tld = tld_of(doc.url.as_deref());
    let as_html = match mime.as_deref() {
        Some(m) if is_html_mime(m) => true,
        Some(m) if is_plain_mime(m) => false,
        Some("application/octet-stream" | "unknown/unknown" | "application/unknown") | None => {
            sniff_html(&body)
        }
        Some(_) if kind == DocKind::Conversion => false,
        // robots.txt, ai.txt and tdmrep.json are read as text whatever their type.
        Some(_) if doc.url.as_deref().and_then(site_file_path).is_some() => false,
        Some(_) => {
            doc.text = None;
            return Ok(Some(doc));
        }
    };
    if kind == DocKind::Conversion {
        let (text, cs) = http::decode_text(
            body,
            declared_charset.as_deref().or(Some("utf-8")),
            false,
            None,
        );
        doc.charset = Some(cs.to_string());
        doc.text = Some(text);
        return Ok(Some(doc));
    }
    if as_html {
        let (html, cs) = http::decode_text(body, declared_charset.as_deref(), true, tld.as_deref());
        doc.charset = Some(cs.to_string());
        if !opts.html_text {
            doc.html = Some(html);
            return Ok(Some(doc));
        }
        let ex = crate::html::extract(&html);
        doc.title = ex.title;
        if doc.language.is_none() {
            doc.language = ex.lang;
        }
        doc.text = Some(ex.text);
        if opts.keep_html {
            doc.html = Some(html);
        }
    } else if mime.as_deref().is_some_and(is_plain_mime)
        || doc.url.as_deref().and_then(site_file_path).is_some()
    {
        let (text, cs) =
            http::decode_text(body, declared_charset.as_deref(), false, tld.as_deref());
        doc.charset = Some(cs.to_string());
        doc.text = Some(text);
    }
    Ok(Some(doc))
}

#[cfg(test)]
mod site_file_tests {
    use super::*;

    #[test]
    fn site_file_paths() {
        assert_eq!(
            site_file_path("https://example.com/robots.txt"),
            Some("/robots.txt")
        );
        assert_eq!(
            site_file_path("HTTP://Example.com:8080/ai.txt#x"),
            Some("/ai.txt")
        );
        assert_eq!(
            site_file_path("http://example.com/.well-known/tdmrep.json"),
            Some("/.well-known/tdmrep.json")
        );
        for not in [
            "http://example.com/robots.txt?x=1",
            "http://example.com/a/robots.txt",
            "http://example.com/ROBOTS.TXT",
            "ftp://example.com/robots.txt",
            "http://example.com",
            "robots.txt",
        ] {
            assert_eq!(site_file_path(not), None, "{not}");
        }
    }

    #[test]
    fn tdmrep_json_keeps_its_body() {
        let body = r#"[{"location":"/","tdm-reservation":1}]"#;
        let block = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let warc = format!(
            "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:1>\r\nWARC-Target-URI: http://example.com/.well-known/tdmrep.json\r\nWARC-Date: 2024-01-01T00:00:00Z\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n{block}\r\n\r\n",
            block.len()
        );
        let docs: Vec<_> = DocReader::new(warc.as_bytes(), "mem").collect();
        let doc = docs[0].as_ref().expect("doc");
        assert_eq!(doc.text.as_deref(), Some(body));
    }
}
