//! Streaming WARC reader: framing, header parsing, compression, resync.

use std::io::{self, BufRead, BufReader, Read};

use crate::gzip::{GzMember, Inflater, ReadBlock};
use crate::input::{Compression, RawReader, ZstdMulti};
use crate::{Framing, ReadError, ReadStats, ReaderOptions, RecordLocation};

/// WARC-Type of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordType {
    Warcinfo,
    Response,
    Resource,
    Request,
    Metadata,
    Revisit,
    Conversion,
    Continuation,
    Other(String),
}

impl RecordType {
    pub fn parse(s: &str) -> RecordType {
        let s = s.trim();
        [
            RecordType::Warcinfo,
            RecordType::Response,
            RecordType::Resource,
            RecordType::Request,
            RecordType::Metadata,
            RecordType::Revisit,
            RecordType::Conversion,
            RecordType::Continuation,
        ]
        .into_iter()
        .find(|t| s.eq_ignore_ascii_case(t.as_str()))
        .unwrap_or_else(|| RecordType::Other(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            RecordType::Warcinfo => "warcinfo",
            RecordType::Response => "response",
            RecordType::Resource => "resource",
            RecordType::Request => "request",
            RecordType::Metadata => "metadata",
            RecordType::Revisit => "revisit",
            RecordType::Conversion => "conversion",
            RecordType::Continuation => "continuation",
            RecordType::Other(s) => s,
        }
    }
}

/// One framed WARC record: its named headers, its block and its location.
#[derive(Debug, Clone, PartialEq)]
pub struct WarcRecord {
    /// e.g. `WARC/1.0`, `WARC/0.17`.
    pub version: String,
    /// All header fields as written, in order.
    pub headers: Vec<(String, String)>,
    pub record_type: RecordType,
    pub record_id: Option<String>,
    /// WARC-Target-URI with surrounding `<>` removed.
    pub target_uri: Option<String>,
    pub date_raw: Option<String>,
    pub date_unix: Option<i64>,
    pub date_error: Option<String>,
    pub payload_digest: Option<String>,
    pub refers_to: Option<String>,
    pub refers_to_target_uri: Option<String>,
    pub refers_to_date: Option<String>,
    /// WARC Content-Type (of the block).
    pub content_type: Option<String>,
    pub content_length: u64,
    pub location: RecordLocation,
    /// The record block (Content-Length bytes), up to the end of its HTTP
    /// head when `http_body` holds the rest.
    pub block: Vec<u8>,
    /// The HTTP body of a response or revisit record that a [`DocReader`]'s
    /// reader kept apart from its head (so it becomes the doc's text where
    /// it is, not moved to the front of the block's buffer).
    ///
    /// [`DocReader`]: crate::DocReader
    pub(crate) http_body: Option<Vec<u8>>,
}

impl WarcRecord {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn from_parts(
        version: String,
        headers: Vec<(String, String)>,
        block: Block,
        location: RecordLocation,
    ) -> WarcRecord {
        let find = |name: &str| -> Option<&str> {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let get = |name: &str| find(name).map(str::to_string);
        let date_raw = get("WARC-Date");
        let (date_unix, date_error) = match &date_raw {
            Some(d) => match crate::date::parse_warc_date(d) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e)),
            },
            None => (None, None),
        };
        WarcRecord {
            record_type: RecordType::parse(find("WARC-Type").unwrap_or_default()),
            record_id: get("WARC-Record-ID"),
            target_uri: find("WARC-Target-URI").map(strip_angle),
            date_raw,
            date_unix,
            date_error,
            payload_digest: get("WARC-Payload-Digest"),
            refers_to: get("WARC-Refers-To"),
            refers_to_target_uri: find("WARC-Refers-To-Target-URI").map(strip_angle),
            refers_to_date: get("WARC-Refers-To-Date"),
            content_type: get("Content-Type"),
            content_length: (block.bytes.len() + block.http_body.as_ref().map_or(0, Vec::len))
                as u64,
            version,
            headers,
            location,
            block: block.bytes,
            http_body: block.http_body,
        }
    }
}

/// A record block as read: see [`WarcRecord::block`].
struct Block {
    bytes: Vec<u8>,
    http_body: Option<Vec<u8>>,
}

/// Removes one pair of surrounding `<>` (WARC 1.1 writes URIs bare, some
/// writers wrap them).
pub(crate) fn strip_angle(s: &str) -> String {
    let t = s.trim();
    t.strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(t)
        .to_string()
}

struct MemberState<R: Read> {
    dec: GzMember<R>,
    raw_start: u64,
    dec_start: u64,
    records: u32,
    /// While the member has framed at most one record: that record (when
    /// more data follows it) and the framing errors so far. A member that
    /// then fails a check (inflate, CRC) was damaged and these are symptoms:
    /// it gets one error from `member_failed`. Otherwise they come out in
    /// order once the member ends or frames a second record.
    held: Vec<Held>,
}

/// Held framing errors per member, at most; more are reported at once.
const MAX_HELD: usize = 4;

enum Held {
    Record(String, Vec<(String, String)>, Block, RecordLocation),
    /// Offset and reason.
    Error(u64, String),
}

impl<R: Read> MemberState<R> {
    fn raw_pos(&self) -> u64 {
        self.dec.raw().pos()
    }
}

enum Stream<R: Read> {
    Start(RawReader<R>),
    Plain(RawReader<R>),
    Between(RawReader<R>),
    Zstd(Box<BufReader<ZstdMulti<RawReader<R>>>>),
    Member(Box<MemberState<R>>),
    Done,
}

enum Parsed {
    Record {
        start: u64,
        end: u64,
        version: String,
        headers: Vec<(String, String)>,
        block: Block,
    },
    Eof,
    Error {
        offset: u64,
        reason: String,
    },
    Io {
        offset: u64,
        error: io::Error,
    },
    Fatal {
        offset: u64,
        reason: String,
    },
}

enum Line {
    Ok,
    TooLong,
    Eof,
}

/// Streaming WARC reader over any `Read`.
///
/// Yields every record (all types) with its exact location; bad records
/// become [`ReadError`]s and the reader resynchronizes on the next record.
pub struct WarcReader<R: Read> {
    uri: String,
    opts: ReaderOptions,
    stream: Stream<R>,
    /// Position in the decompressed stream (= raw position for plain input).
    dec_pos: u64,
    /// Scanning lines for the next `WARC/` version line after an error.
    resync: bool,
    /// Scanning compressed data for the next gzip member after an inflate
    /// error; errors of false candidates are suppressed.
    raw_resync: bool,
    compression: Option<Compression>,
    /// The inflate state and buffer of the last gzip member, for the next.
    inflater: Option<Box<Inflater>>,
    /// Records and errors to return, in order, before reading on.
    pending: std::collections::VecDeque<Result<WarcRecord, ReadError>>,
    /// Reads the HTTP body of response and revisit records apart from the
    /// head where it can ([`WarcRecord::http_body`]).
    pub(crate) http_body_apart: bool,
    pub(crate) stats: ReadStats,
}

impl<R: Read> WarcReader<R> {
    /// A reader over `reader`; `uri` labels locations and errors.
    pub fn new(reader: R, uri: impl Into<String>) -> Self {
        Self::with_options(reader, uri, ReaderOptions::default())
    }

    pub fn with_options(reader: R, uri: impl Into<String>, opts: ReaderOptions) -> Self {
        WarcReader {
            uri: uri.into(),
            opts,
            stream: Stream::Start(RawReader::new(reader)),
            dec_pos: 0,
            resync: false,
            raw_resync: false,
            compression: None,
            inflater: None,
            pending: Default::default(),
            http_body_apart: false,
            stats: ReadStats::default(),
        }
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn options(&self) -> &ReaderOptions {
        &self.opts
    }

    /// Counters so far (records by type, errors).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Detected compression (after the first call to `next_record`).
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    fn error(&mut self, offset: u64, reason: impl Into<String>) -> ReadError {
        self.stats.errors += 1;
        ReadError {
            uri: self.uri.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn at_eof(&mut self) -> Option<Result<WarcRecord, ReadError>> {
        self.stream = Stream::Done;
        if self.stats.total_records() == 0 && self.stats.errors == 0 {
            return Some(Err(self.error(0, "no WARC records in input (empty)")));
        }
        None
    }

    /// The next record, or an error for a bad one; `None` at the end.
    pub fn next_record(&mut self) -> Option<Result<WarcRecord, ReadError>> {
        if let Some(item) = self.pending.pop_front() {
            return Some(item);
        }
        loop {
            match std::mem::replace(&mut self.stream, Stream::Done) {
                Stream::Done => return None,
                Stream::Start(mut raw) => {
                    let head = match raw.peek(4) {
                        Ok(h) => h.to_vec(),
                        Err(e) => return Some(Err(self.error(0, format!("read error: {e}")))),
                    };
                    let c = Compression::detect(&head);
                    self.compression = Some(c);
                    match c {
                        Compression::None => self.stream = Stream::Plain(raw),
                        Compression::Gzip => self.stream = Stream::Between(raw),
                        Compression::Zstd => {
                            self.stream = Stream::Zstd(Box::new(BufReader::with_capacity(
                                64 * 1024,
                                ZstdMulti::new(raw),
                            )))
                        }
                    }
                }
                Stream::Plain(mut raw) => {
                    let parsed = self.parse(&mut raw);
                    match parsed {
                        Parsed::Record {
                            start,
                            end,
                            version,
                            headers,
                            block,
                        } => {
                            self.stream = Stream::Plain(raw);
                            let loc = RecordLocation {
                                uri: self.uri.clone(),
                                offset: start,
                                length: end - start,
                                framing: Framing::Plain,
                            };
                            return Some(Ok(self.finish_record(version, headers, block, loc)));
                        }
                        Parsed::Eof => return self.at_eof(),
                        Parsed::Error { offset, reason } => {
                            self.stream = Stream::Plain(raw);
                            return Some(Err(self.error(offset, reason)));
                        }
                        Parsed::Io { offset, error } => {
                            return Some(Err(self.error(offset, format!("read error: {error}"))));
                        }
                        Parsed::Fatal { offset, reason } => {
                            return Some(Err(self.error(offset, reason)));
                        }
                    }
                }
                Stream::Zstd(mut z) => {
                    let parsed = self.parse(&mut *z);
                    match parsed {
                        Parsed::Record {
                            start,
                            end,
                            version,
                            headers,
                            block,
                        } => {
                            self.stream = Stream::Zstd(z);
                            let loc = self.dec_location(start, end);
                            return Some(Ok(self.finish_record(version, headers, block, loc)));
                        }
                        Parsed::Eof => return self.at_eof(),
                        Parsed::Error { offset, reason } => {
                            self.stream = Stream::Zstd(z);
                            return Some(Err(self.error(
                                offset,
                                format!("{reason} (offset in decompressed stream)"),
                            )));
                        }
                        Parsed::Io { offset, error } => {
                            let reason = format!("zstd/read error: {error}; stopping this file");
                            return Some(Err(self.error(offset, reason)));
                        }
                        Parsed::Fatal { offset, reason } => {
                            return Some(Err(self.error(offset, reason)));
                        }
                    }
                }
                Stream::Between(mut raw) => {
                    let head = match raw.peek(4) {
                        Ok(h) => h.to_vec(),
                        Err(e) => {
                            let off = raw.pos();
                            return Some(Err(self.error(off, format!("read error: {e}"))));
                        }
                    };
                    if head.is_empty() {
                        return self.at_eof();
                    }
                    if head.len() >= 4 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 {
                        // A new member is a natural sync point.
                        self.resync = false;
                        let raw_start = raw.pos();
                        // Kept until the member ends, to rescan it if it is damaged.
                        raw.start_recording();
                        self.stream = Stream::Member(Box::new(MemberState {
                            dec: GzMember::new(
                                raw,
                                self.inflater.take().unwrap_or_else(Inflater::new),
                            ),
                            raw_start,
                            dec_start: self.dec_pos,
                            records: 0,
                            held: Vec::new(),
                        }));
                        continue;
                    }
                    // Not a gzip member: padding or garbage between members.
                    let off = raw.pos();
                    let only_padding = match skip_padding(&mut raw) {
                        Ok(p) => p,
                        Err(e) => return Some(Err(self.error(off, format!("read error: {e}")))),
                    };
                    if only_padding {
                        return self.at_eof();
                    }
                    let found = raw.scan_gzip_magic();
                    let reason = match found {
                        Ok(true) => {
                            let next = raw.pos();
                            self.stream = Stream::Between(raw);
                            format!(
                                "{} bytes of non-gzip data between gzip members; resynchronized at byte {next}",
                                next - off
                            )
                        }
                        Ok(false) => {
                            "trailing non-gzip data after the last gzip member".to_string()
                        }
                        Err(e) => format!("read error: {e}"),
                    };
                    return Some(Err(self.error(off, reason)));
                }
                Stream::Member(mut m) => {
                    match m.dec.fill_buf() {
                        Ok([]) => {
                            // The member ends sound: what it held is real.
                            self.release_held(&mut m);
                            let mut raw = self.end_member(*m);
                            raw.stop_recording();
                            self.stream = Stream::Between(raw);
                            match self.pending.pop_front() {
                                Some(item) => return Some(item),
                                None => continue,
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            if let Some(err) = self.member_failed(*m, e) {
                                return Some(Err(err));
                            }
                            continue;
                        }
                    }
                    let parsed = self.parse(&mut m.dec);
                    match parsed {
                        Parsed::Record {
                            start,
                            end,
                            version,
                            headers,
                            block,
                        } => {
                            // Does this record fill its member exactly?
                            let first = m.records == 0 && start == m.dec_start;
                            m.records += 1;
                            self.raw_resync = false;
                            match m.dec.fill_buf() {
                                Ok([]) if first => {
                                    let loc = RecordLocation {
                                        uri: self.uri.clone(),
                                        offset: m.raw_start,
                                        length: m.raw_pos() - m.raw_start,
                                        framing: Framing::GzipMember,
                                    };
                                    let mut raw = self.end_member(*m);
                                    raw.stop_recording();
                                    self.stream = Stream::Between(raw);
                                    return Some(Ok(
                                        self.finish_record(version, headers, block, loc)
                                    ));
                                }
                                Ok([]) => {
                                    let loc = self.dec_location(start, end);
                                    self.release_held(&mut m);
                                    let rec = self.finish_record(version, headers, block, loc);
                                    self.pending.push_back(Ok(rec));
                                    let mut raw = self.end_member(*m);
                                    raw.stop_recording();
                                    self.stream = Stream::Between(raw);
                                }
                                Ok(_) if m.records == 1 => {
                                    // More data after the member's only record
                                    // so far: wait for the member to prove sound.
                                    let loc = self.dec_location(start, end);
                                    m.held.push(Held::Record(version, headers, block, loc));
                                    self.stream = Stream::Member(m);
                                    continue;
                                }
                                Ok(_) => {
                                    let loc = self.dec_location(start, end);
                                    self.release_held(&mut m);
                                    let rec = self.finish_record(version, headers, block, loc);
                                    self.pending.push_back(Ok(rec));
                                    self.stream = Stream::Member(m);
                                }
                                Err(e) if m.records == 1 => {
                                    // The member's only record, followed by a
                                    // failed check (inflate, CRC): its bytes
                                    // cannot be trusted, so only the error.
                                    let loc = self.dec_location(start, end);
                                    m.held.push(Held::Record(version, headers, block, loc));
                                    if let Some(err) = self.member_failed(*m, e) {
                                        return Some(Err(err));
                                    }
                                    continue;
                                }
                                Err(e) => {
                                    // One of several records: the failure
                                    // comes after it.
                                    let loc = self.dec_location(start, end);
                                    self.release_held(&mut m);
                                    let rec = self.finish_record(version, headers, block, loc);
                                    self.pending.push_back(Ok(rec));
                                    if let Some(err) = self.member_failed(*m, e) {
                                        self.pending.push_back(Err(err));
                                    }
                                }
                            }
                            return self.pending.pop_front();
                        }
                        Parsed::Eof => {
                            self.stream = Stream::Member(m);
                            continue;
                        }
                        Parsed::Error { offset, reason } => {
                            let suppress = self.raw_resync && m.records == 0;
                            let in_stream = m.records > 0 || offset != m.dec_start;
                            if suppress {
                                self.stream = Stream::Member(m);
                                continue;
                            }
                            let (offset, reason) = if in_stream {
                                (offset, format!("{reason} (offset in decompressed stream)"))
                            } else {
                                let raw_start = m.raw_start;
                                (
                                    raw_start,
                                    format!("gzip member at byte {raw_start}: {reason}"),
                                )
                            };
                            m.held.push(Held::Error(offset, reason));
                            if m.records > 1 || m.held.len() > MAX_HELD {
                                self.release_held(&mut m);
                            }
                            self.stream = Stream::Member(m);
                            match self.pending.pop_front() {
                                Some(item) => return Some(item),
                                None => continue,
                            }
                        }
                        Parsed::Io { offset: _, error } => {
                            if let Some(err) = self.member_failed(*m, error) {
                                return Some(Err(err));
                            }
                            continue;
                        }
                        Parsed::Fatal { offset, reason } => {
                            return Some(Err(self.error(offset, reason)));
                        }
                    }
                }
            }
        }
    }

    /// The raw reader after a member; its inflater is kept for the next.
    fn end_member(&mut self, m: MemberState<R>) -> RawReader<R> {
        let (raw, inflater) = m.dec.into_parts();
        self.inflater = Some(inflater);
        raw
    }

    /// Queues what a member held, in order: it read on soundly.
    fn release_held(&mut self, m: &mut MemberState<R>) {
        for held in std::mem::take(&mut m.held) {
            let item = match held {
                Held::Record(version, headers, block, loc) => {
                    Ok(self.finish_record(version, headers, block, loc))
                }
                Held::Error(offset, reason) => Err(self.error(offset, reason)),
            };
            self.pending.push_back(item);
        }
    }

    fn dec_location(&self, start: u64, end: u64) -> RecordLocation {
        RecordLocation {
            uri: self.uri.clone(),
            offset: start,
            length: end - start,
            framing: Framing::Decompressed,
        }
    }

    /// Handles an inflate/CRC/read error inside a gzip member: report it and
    /// resynchronize on the next gzip member, or stop for whole-file gzip.
    fn member_failed(&mut self, m: MemberState<R>, e: io::Error) -> Option<ReadError> {
        let raw_start = m.raw_start;
        let fail_at = m.raw_pos();
        let records = m.records;
        let whole_file = raw_start == 0 && records > 1;
        let suppress = self.raw_resync && records == 0;
        // What the member held is dropped with it (see `MemberState::held`).
        let dropped = m.held.iter().find_map(|h| match h {
            Held::Record(_, headers, _, _) => Some(
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("WARC-Record-ID"))
                    .map_or_else(|| "without WARC-Record-ID".to_string(), |(_, v)| v.clone()),
            ),
            Held::Error(..) => None,
        });
        // The decompressed position restarts being meaningful at the next member.
        let mut raw = self.end_member(m);
        let mut reason = format!(
            "gzip member at byte {raw_start}: {} (near compressed byte {fail_at})",
            describe_io(&e)
        );
        if let Some(id) = dropped {
            reason.push_str(&format!("; its record {id} is not read"));
        }
        if whole_file {
            raw.stop_recording();
            reason.push_str("; whole-file gzip cannot be resynchronized, stopping this file");
            self.stream = Stream::Done;
        } else {
            // Rescan from just after the member's first byte, not from where
            // inflating failed: a truncated member or a false header field
            // (FEXTRA, FNAME) lets the decoder read on into the members
            // after it before it notices.
            if !raw.rewind(raw_start + 1) && raw.pos() == raw_start {
                raw.consume(1);
            }
            self.raw_resync = true;
            match raw.scan_gzip_magic() {
                Ok(true) => {
                    reason.push_str(&format!(
                        "; resynchronized at gzip member at byte {}",
                        raw.pos()
                    ));
                    self.stream = Stream::Between(raw);
                }
                Ok(false) => {
                    reason.push_str("; no further gzip member");
                    self.stream = Stream::Done;
                }
                Err(e) => {
                    reason.push_str(&format!("; read error while resynchronizing: {e}"));
                    self.stream = Stream::Done;
                }
            }
        }
        if suppress {
            None
        } else {
            Some(self.error(raw_start, reason))
        }
    }

    fn finish_record(
        &mut self,
        version: String,
        headers: Vec<(String, String)>,
        block: Block,
        loc: RecordLocation,
    ) -> WarcRecord {
        let rec = WarcRecord::from_parts(version, headers, block, loc);
        let counts = &mut self.stats.records_by_type;
        match counts.get_mut(rec.record_type.as_str()) {
            Some(n) => *n += 1,
            None => {
                counts.insert(rec.record_type.as_str().to_string(), 1);
            }
        }
        rec
    }

    /// Frames one record from a decompressed byte stream.
    fn parse<B: ReadBlock>(&mut self, r: &mut B) -> Parsed {
        let max_header = self.opts.max_header_size;
        let max_record = self.opts.max_record_size;
        let pos = &mut self.dec_pos;
        macro_rules! io_try {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(error) => {
                        return Parsed::Io {
                            offset: *pos,
                            error,
                        }
                    }
                }
            };
        }
        // 1. Skip blank lines between records.
        loop {
            let buf = io_try!(r.fill_buf());
            if buf.is_empty() {
                return Parsed::Eof;
            }
            let n = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
                .count();
            let all = n == buf.len();
            r.consume(n);
            *pos += n as u64;
            if !all {
                break;
            }
        }
        // 2. Version line (scanning forward when resynchronizing).
        let mut line = Vec::with_capacity(128);
        let mut start;
        loop {
            start = *pos;
            match io_try!(read_line(r, pos, &mut line, 4096)) {
                Line::Eof => return Parsed::Eof,
                Line::TooLong => {}
                Line::Ok => {
                    if is_version_line(&line) {
                        break;
                    }
                    if start == 0
                        && self.stats.total_records() == 0
                        && line.starts_with(b"filedesc://")
                    {
                        return Parsed::Fatal {
                            offset: 0,
                            reason: "this is an ARC file (filedesc:// header), not WARC; ARC is not supported".into(),
                        };
                    }
                }
            }
            if !self.resync {
                self.resync = true;
                return Parsed::Error {
                    offset: start,
                    reason: format!(
                        "expected a WARC/ version line, found {:?}; skipping to the next record",
                        snippet(&line)
                    ),
                };
            }
        }
        self.resync = false;
        let version = crate::utf8_lossy(trim_eol(&line)).trim().to_string();
        // 3. Header fields.
        let mut headers: Vec<(String, String)> = Vec::with_capacity(16);
        let mut total = line.len();
        loop {
            let budget = max_header.saturating_sub(total).max(1);
            match io_try!(read_line(r, pos, &mut line, budget)) {
                Line::Eof => {
                    return Parsed::Error {
                        offset: start,
                        reason: "truncated record: end of input inside the WARC header".into(),
                    };
                }
                Line::TooLong => {
                    self.resync = true;
                    return Parsed::Error {
                        offset: start,
                        reason: format!("WARC header block larger than {max_header} bytes"),
                    };
                }
                Line::Ok => {}
            }
            total += line.len();
            let l = trim_eol(&line);
            if l.is_empty() {
                break;
            }
            if matches!(l[0], b' ' | b'\t') {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(crate::utf8_lossy(l).trim());
                }
                continue;
            }
            if let Some(i) = memchr::memchr(b':', l) {
                let name = crate::utf8_lossy(&l[..i]).trim().to_string();
                let value = crate::utf8_lossy(&l[i + 1..]).trim().to_string();
                headers.push((name, value));
            } else if is_version_line(l) {
                // A new record starts inside this header: the previous one is cut.
                self.resync = true;
                return Parsed::Error {
                    offset: start,
                    reason: "truncated WARC header: a new record starts before the blank line"
                        .into(),
                };
            }
            // Other lines without a colon are ignored (tolerant).
        }
        // 4. Content-Length.
        let cl = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
            .map(|(_, v)| v.trim().parse::<u64>());
        let cl = match cl {
            Some(Ok(n)) => n,
            Some(Err(_)) | None => {
                self.resync = true;
                return Parsed::Error {
                    offset: start,
                    reason: "missing or invalid Content-Length in WARC header".into(),
                };
            }
        };
        if cl > max_record {
            let skipped = io_try!(io::copy(&mut r.by_ref().take(cl), &mut io::sink()));
            *pos += skipped;
            return Parsed::Error {
                offset: start,
                reason: format!(
                    "record block of {cl} bytes exceeds the limit of {max_record} bytes; skipped"
                ),
            };
        }
        // 5. Block.
        let head_len = if self.http_body_apart && is_http_record(&headers) {
            let buffered = r.buffered();
            let n = usize::try_from(cl).map_or(buffered.len(), |cl| cl.min(buffered.len()));
            crate::http::head_end(&buffered[..n], max_header)
        } else {
            None
        };
        let (block, got) = match head_len {
            // The head is read ahead already: reading it, then the body, ends
            // inflate calls where reading the block at once does.
            Some(head_len) => {
                let mut head = Vec::with_capacity(head_len);
                let mut got = io_try!(r.read_block(head_len as u64, &mut head));
                let mut body = Vec::new();
                if got == head_len {
                    let rest = cl - head_len as u64;
                    body.reserve(rest.min(1 << 20) as usize);
                    got += io_try!(r.read_block(rest, &mut body));
                }
                let block = Block {
                    bytes: head,
                    http_body: Some(body),
                };
                (block, got)
            }
            None => {
                let mut bytes = Vec::with_capacity(cl.min(1 << 20) as usize);
                let got = io_try!(r.read_block(cl, &mut bytes));
                let block = Block {
                    bytes,
                    http_body: None,
                };
                (block, got)
            }
        };
        *pos += got as u64;
        if (got as u64) < cl {
            return Parsed::Error {
                offset: start,
                reason: format!(
                    "truncated record: Content-Length {cl} but input ends after {got} bytes of the block"
                ),
            };
        }
        // 6. Record trailer (CRLF CRLF, tolerantly).
        let mut trailer = 0;
        while trailer < 4 {
            let buf = io_try!(r.fill_buf());
            match buf.first() {
                Some(b'\r' | b'\n') => {
                    r.consume(1);
                    *pos += 1;
                    trailer += 1;
                }
                _ => break,
            }
        }
        Parsed::Record {
            start,
            end: *pos,
            version,
            headers,
            block,
        }
    }
}

impl<R: Read> Iterator for WarcReader<R> {
    type Item = Result<WarcRecord, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

/// Whether a record's WARC-Type (as [`WarcRecord::record_type`] reads it)
/// is response or revisit: those whose block [`crate::record_to_doc`] reads
/// as HTTP when it starts like HTTP.
fn is_http_record(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("WARC-Type"))
        .is_some_and(|(_, v)| {
            let v = v.trim();
            v.eq_ignore_ascii_case("response") || v.eq_ignore_ascii_case("revisit")
        })
}

fn is_version_line(line: &[u8]) -> bool {
    let l = trim_eol(line);
    l.len() >= 8 && l.starts_with(b"WARC/") && l[5].is_ascii_digit()
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\r' | b'\n'] = l {
        l = rest;
    }
    l
}

fn snippet(line: &[u8]) -> String {
    let l = trim_eol(line);
    let s = String::from_utf8_lossy(&l[..l.len().min(60)]).to_string();
    s.chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect()
}

/// Reads one line (through `\n`) into `out`; a line longer than `max` is
/// consumed but reported as `TooLong`.
fn read_line<B: BufRead>(
    r: &mut B,
    pos: &mut u64,
    out: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    out.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(if !any {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Ok
            });
        }
        any = true;
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let n = chunk.len();
        if !too_long {
            if out.len() + n > max {
                too_long = true;
                out.clear();
            } else {
                out.extend_from_slice(chunk);
            }
        }
        r.consume(n);
        *pos += n as u64;
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Ok });
        }
    }
}

/// Consumes zero bytes / whitespace; true if only padding remained until EOF.
fn skip_padding<R: Read>(raw: &mut RawReader<R>) -> io::Result<bool> {
    loop {
        let buf = raw.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        let n = buf
            .iter()
            .take_while(|b| matches!(b, 0 | b'\r' | b'\n' | b' ' | b'\t'))
            .count();
        let all = n == buf.len();
        raw.consume(n);
        if !all {
            return Ok(false);
        }
    }
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("truncated gzip data ({e})"),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            format!("corrupt gzip data ({e})")
        }
        _ => format!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `RecordType::parse` as it was written: on the trimmed,
        /// lowercased value.
        #[test]
        fn record_types_parse_as_lowercased(
            pad in "[ \t]{0,2}",
            name in proptest::sample::select(vec![
                "warcinfo", "Response", "RESOURCE", "request", "metaData", "revisit",
                "conversion", "continuation", "responses", "", "x-Custom", "ﬀresponse",
            ]),
        ) {
            let s = format!("{pad}{name}{pad}");
            let want = match s.trim().to_ascii_lowercase().as_str() {
                "warcinfo" => RecordType::Warcinfo,
                "response" => RecordType::Response,
                "resource" => RecordType::Resource,
                "request" => RecordType::Request,
                "metadata" => RecordType::Metadata,
                "revisit" => RecordType::Revisit,
                "conversion" => RecordType::Conversion,
                "continuation" => RecordType::Continuation,
                other => RecordType::Other(other.to_string()),
            };
            proptest::prop_assert_eq!(RecordType::parse(&s), want);
        }
    }
}
