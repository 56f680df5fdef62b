//! JSONL documents (Dolma and similar), plain, gzip or zstd.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use serde_json::Value;

use crate::input::{Compression, ZstdMulti};
use crate::{DocKind, Framing, ReadError, ReadStats, ReaderOptions, RecordLocation, SourceDoc};

/// Which JSON fields hold what. Each entry is a list of candidate paths
/// (dotted for nested objects, e.g. `metadata.url`); the first present wins.
/// The defaults read the Dolma format (`id`, `text`, `source`, `added`,
/// `created`, `metadata.url`) and most Common-Crawl-derived JSONL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlFields {
    pub text: Vec<String>,
    pub id: Vec<String>,
    pub url: Vec<String>,
    pub date: Vec<String>,
    pub language: Vec<String>,
    pub title: Vec<String>,
    pub digest: Vec<String>,
    pub source: Vec<String>,
}

fn v(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

impl Default for JsonlFields {
    fn default() -> Self {
        JsonlFields {
            text: v(&["text", "content", "raw_content"]),
            id: v(&["id", "doc_id", "warc_record_id", "metadata.warc_record_id"]),
            url: v(&[
                "url",
                "metadata.url",
                "metadata.WARC-Target-URI",
                "warc_target_uri",
            ]),
            date: v(&[
                "created",
                "date",
                "timestamp",
                "metadata.date_download",
                "metadata.date",
                "metadata.timestamp",
                "added",
            ]),
            language: v(&["language", "lang", "metadata.language", "metadata.lang"]),
            title: v(&["title", "metadata.title"]),
            digest: v(&["digest", "metadata.digest", "metadata.warc_payload_digest"]),
            source: v(&["source", "metadata.source"]),
        }
    }
}

impl JsonlFields {
    /// Fields with one explicit name each (dotted paths allowed); other
    /// fields keep their defaults.
    pub fn with(mut self, text: &str, id: &str, url: &str, date: &str) -> Self {
        self.text = vec![text.to_string()];
        self.id = vec![id.to_string()];
        self.url = vec![url.to_string()];
        self.date = vec![date.to_string()];
        self
    }
}

fn lookup<'a>(obj: &'a Value, paths: &[String]) -> Option<&'a Value> {
    paths.iter().find_map(|p| {
        let direct = obj.get(p.as_str());
        if direct.is_some_and(|x| !x.is_null()) {
            return direct;
        }
        let mut cur = obj;
        for part in p.split('.') {
            cur = cur.get(part)?;
        }
        (!cur.is_null()).then_some(cur)
    })
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

enum Input<R: Read> {
    Plain(BufReader<R>),
    Gzip(Box<BufReader<MultiGzDecoder<BufReader<R>>>>),
    Zstd(Box<BufReader<ZstdMulti<BufReader<R>>>>),
}

impl<R: Read> Input<R> {
    fn get(&mut self) -> &mut dyn BufRead {
        match self {
            Input::Plain(r) => r,
            Input::Gzip(r) => &mut **r,
            Input::Zstd(r) => &mut **r,
        }
    }
}

/// Reads one JSON document per line.
pub struct JsonlReader<R: Read> {
    uri: String,
    input: Option<Input<R>>,
    framing: Framing,
    pos: u64,
    line_no: u64,
    opts: ReaderOptions,
    fields: JsonlFields,
    stats: ReadStats,
    line: Vec<u8>,
}

impl<R: Read> JsonlReader<R> {
    /// `compression` as detected from the object's first bytes.
    pub fn new(
        reader: R,
        uri: impl Into<String>,
        compression: Compression,
        opts: ReaderOptions,
    ) -> Self {
        let raw = BufReader::with_capacity(64 * 1024, reader);
        let (input, framing) = match compression {
            Compression::None => (Input::Plain(raw), Framing::Plain),
            Compression::Gzip => (
                Input::Gzip(Box::new(BufReader::with_capacity(
                    64 * 1024,
                    MultiGzDecoder::new(raw),
                ))),
                Framing::Decompressed,
            ),
            Compression::Zstd => (
                Input::Zstd(Box::new(BufReader::with_capacity(
                    64 * 1024,
                    ZstdMulti::new(raw),
                ))),
                Framing::Decompressed,
            ),
        };
        JsonlReader {
            uri: uri.into(),
            input: Some(input),
            framing,
            pos: 0,
            line_no: 0,
            fields: opts.jsonl.clone(),
            opts,
            stats: ReadStats::default(),
            line: Vec::new(),
        }
    }

    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    fn error(&mut self, offset: u64, reason: String) -> ReadError {
        self.stats.errors += 1;
        ReadError {
            uri: self.uri.clone(),
            offset,
            reason,
        }
    }

    /// Reads the next line; Ok(None) at EOF; Err(reason) for an over-long line.
    fn read_line(&mut self) -> io::Result<Option<Result<u64, String>>> {
        let max = self.opts.max_record_size;
        let Some(input) = self.input.as_mut() else {
            return Ok(None);
        };
        let r = input.get();
        self.line.clear();
        let start = self.pos;
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            if !too_long {
                if (self.line.len() + n) as u64 > max {
                    too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            r.consume(n);
            self.pos += n as u64;
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some(Err(format!(
                "line {} longer than {max} bytes; skipped",
                self.line_no
            ))));
        }
        Ok(Some(Ok(start)))
    }

    fn to_doc(&self, start: u64, obj: &Value) -> Result<SourceDoc, String> {
        if !obj.is_object() {
            return Err(format!("line {}: not a JSON object", self.line_no));
        }
        let f = &self.fields;
        let text = match lookup(obj, &f.text) {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(format!("line {}: text field is not a string", self.line_no)),
            None => {
                return Err(format!(
                    "line {}: no text field ({})",
                    self.line_no,
                    f.text.join(", ")
                ));
            }
        };
        let len = trim_eol(&self.line).len() as u64;
        let date_raw = lookup(obj, &f.date).and_then(as_string);
        let (date_unix, date_error) = match &date_raw {
            Some(d) => match crate::date::parse_warc_date(d) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e)),
            },
            None => (None, None),
        };
        let mut doc = SourceDoc {
            record_id: lookup(obj, &f.id).and_then(as_string),
            kind: DocKind::JsonDoc,
            url: lookup(obj, &f.url).and_then(as_string),
            date_unix,
            date_raw,
            content_type: Some("text/plain".into()),
            charset: Some("UTF-8".into()),
            payload_digest: lookup(obj, &f.digest).and_then(as_string),
            language: lookup(obj, &f.language).and_then(as_string),
            title: lookup(obj, &f.title).and_then(as_string),
            source: lookup(obj, &f.source).and_then(as_string),
            location: RecordLocation {
                uri: self.uri.clone(),
                offset: start,
                length: len,
                framing: self.framing,
            },
            record_length: len,
            text: Some(text),
            ..SourceDoc::default()
        };
        if let Some(e) = date_error {
            doc.warnings.push(format!("date: {e}"));
            doc.date_error = Some(e);
        }
        Ok(doc)
    }
}

fn trim_eol(l: &[u8]) -> &[u8] {
    let mut l = l;
    while let [rest @ .., b'\r' | b'\n'] = l {
        l = rest;
    }
    l
}

impl<R: Read> Iterator for JsonlReader<R> {
    type Item = Result<SourceDoc, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line_start = self.pos;
            let start = match self.read_line() {
                Ok(None) => {
                    self.input = None;
                    return None;
                }
                Ok(Some(Ok(s))) => s,
                Ok(Some(Err(reason))) => return Some(Err(self.error(line_start, reason))),
                Err(e) => {
                    // Decompression/read errors cannot be resynchronized here.
                    self.input = None;
                    let reason = format!(
                        "line {}: read error: {e}; stopping this file",
                        self.line_no + 1
                    );
                    return Some(Err(self.error(line_start, reason)));
                }
            };
            let body = trim_eol(&self.line);
            if body.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            *self
                .stats
                .records_by_type
                .entry("jsonl".into())
                .or_insert(0) += 1;
            let parsed: Result<Value, _> = serde_json::from_slice(body);
            let res = match parsed {
                Ok(v) => self.to_doc(start, &v),
                Err(e) => Err(format!("line {}: invalid JSON: {e}", self.line_no)),
            };
            return Some(match res {
                Ok(doc) => {
                    self.stats.docs += 1;
                    self.stats.warnings += doc.warnings.len() as u64;
                    Ok(doc)
                }
                Err(reason) => Err(self.error(start, reason)),
            });
        }
    }
}
