//! HTTP response parsing, transfer/content decoding and charset handling.

use std::io::Read;

use encoding_rs::Encoding;

/// The head of an HTTP response stored in a WARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHead {
    pub status: Option<u16>,
    /// Header fields as sent, in order.
    pub headers: Vec<(String, String)>,
    /// Offset of the body within the block.
    pub body_start: usize,
}

impl HttpHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// True if the block starts like an HTTP response (`HTTP/`).
pub fn looks_like_http(block: &[u8]) -> bool {
    let b = trim_start(block);
    b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"HTTP/")
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Parses status line and headers, tolerantly (LF or CRLF line ends, folded
/// lines, lines without a colon ignored). The head ends at the first empty
/// line, or at `max_head` bytes, or at the end of the block (a head-only
/// block, as in revisit records).
pub fn parse_head(block: &[u8], max_head: usize) -> Option<HttpHead> {
    let lead = block.len() - trim_start(block).len();
    let b = &block[lead..];
    if !looks_like_http(b) {
        return None;
    }
    let mut pos = 0usize;
    let mut status = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut first = true;
    let limit = b.len().min(max_head);
    loop {
        if pos >= limit {
            break;
        }
        let (line, next) = match memchr::memchr(b'\n', &b[pos..]) {
            Some(i) => (&b[pos..pos + i], pos + i + 1),
            None => (&b[pos..], b.len()),
        };
        pos = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if first {
            first = false;
            let s = crate::utf8_lossy(line);
            status = s
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse::<u16>().ok());
            continue;
        }
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(crate::utf8_lossy(line).trim());
            }
            continue;
        }
        if let Some(i) = memchr::memchr(b':', line) {
            headers.push((
                crate::utf8_lossy(&line[..i]).trim().to_string(),
                crate::utf8_lossy(&line[i + 1..]).trim().to_string(),
            ));
        }
    }
    Some(HttpHead {
        status,
        headers,
        body_start: lead + pos.min(b.len()),
    })
}

/// [`parse_head`]'s `body_start` for any block that starts with `prefix`,
/// when `prefix` decides it: the head's empty line ends (with its `\n`) in
/// `prefix`, before `max_head`. The head up to there, `block[..end]`, then
/// parses as the whole block does.
pub(crate) fn head_end(prefix: &[u8], max_head: usize) -> Option<usize> {
    let lead = prefix.len() - trim_start(prefix).len();
    let b = &prefix[lead..];
    if !looks_like_http(b) {
        return None;
    }
    // `parse_head`'s loop, without the fields; any line it might read
    // differently in a longer block (cut by the end of `prefix`) is None.
    let limit = b.len().min(max_head);
    let mut pos = memchr::memchr(b'\n', b)? + 1;
    while pos < limit {
        let i = memchr::memchr(b'\n', &b[pos..])?;
        let line = &b[pos..pos + i];
        pos += i + 1;
        if matches!(line, [] | [b'\r']) {
            return Some(lead + pos);
        }
    }
    None
}

/// Splits a Content-Type value into (lowercased mime, charset label).
pub fn parse_content_type(v: &str) -> (Option<String>, Option<String>) {
    let mut parts = v.split(';');
    let mime = parts
        .next()
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    let mut charset = None;
    for p in parts {
        if let Some((k, val)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("charset")
        {
            let c = val.trim().trim_matches(|c| c == '"' || c == '\'').trim();
            if !c.is_empty() {
                charset = Some(c.to_string());
            }
        }
    }
    (mime, charset)
}

/// True if the body starts with a chunk-size line (hex digits, optional
/// extension, line end). Archives often store de-chunked bodies while keeping
/// the `Transfer-Encoding: chunked` header.
pub fn looks_chunked(body: &[u8]) -> bool {
    let Some(nl) = memchr::memchr(b'\n', &body[..body.len().min(256)]) else {
        return false;
    };
    let line = String::from_utf8_lossy(&body[..nl]);
    let size = line.split(';').next().unwrap_or("").trim();
    !size.is_empty() && size.len() <= 15 && size.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Decodes `Transfer-Encoding: chunked`. Tolerates LF line ends, chunk
/// extensions and a missing final chunk at the end of the data.
pub fn dechunk(body: &[u8], max: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut pos = 0usize;
    loop {
        let rest = &body[pos..];
        if trim_start(rest).is_empty() {
            if out.is_empty() && !rest.is_empty() {
                return Err("empty chunked body".into());
            }
            return Ok(out);
        }
        let nl = memchr::memchr(b'\n', rest).ok_or("chunk size line without end")?;
        let line = crate::utf8_lossy(&rest[..nl]);
        let size_str = line.split(';').next().unwrap_or("").trim();
        if size_str.is_empty() || size_str.len() > 15 {
            return Err(format!("bad chunk size line {:?}", truncate(&line, 40)));
        }
        let size = u64::from_str_radix(size_str, 16)
            .map_err(|_| format!("bad chunk size {:?}", truncate(size_str, 40)))?;
        pos += nl + 1;
        if size == 0 {
            return Ok(out);
        }
        if out.len() as u64 + size > max {
            return Err(format!("chunked body larger than {max} bytes"));
        }
        let size = size as usize;
        if pos + size > body.len() {
            return Err(format!(
                "chunk of {size} bytes runs past the end of the body ({} bytes left)",
                body.len() - pos
            ));
        }
        out.extend_from_slice(&body[pos..pos + size]);
        pos += size;
        // Chunk data is followed by CRLF (or LF).
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        } else if body[pos..].starts_with(b"\n") {
            pos += 1;
        } else if pos < body.len() {
            return Err("chunk data not followed by CRLF".into());
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Error while decoding a Content-Encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The decoded payload exceeds the size limit (zip bomb guard).
    TooLarge(u64),
    /// The data is not valid for the encoding.
    Corrupt(String),
    /// An encoding this crate does not decode.
    Unsupported(String),
}

fn read_bounded(r: impl Read, max: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let mut limited = r.take(max.saturating_add(1));
    limited
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if out.len() as u64 > max {
        return Err(DecodeError::TooLarge(max));
    }
    Ok(out)
}

/// Decodes one Content-Encoding (`gzip`, `x-gzip`, `deflate`, `br`,
/// `identity`), bounded by `max` decoded bytes.
pub fn decode_content_encoding(
    body: &[u8],
    encoding: &str,
    max: u64,
) -> Result<Vec<u8>, DecodeError> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "" | "identity" | "none" => Ok(body.to_vec()),
        "gzip" | "x-gzip" => read_bounded(flate2::read::MultiGzDecoder::new(body), max),
        "deflate" => {
            // Usually zlib-wrapped; some servers send raw deflate.
            read_bounded(flate2::read::ZlibDecoder::new(body), max)
                .or_else(|_| read_bounded(flate2::read::DeflateDecoder::new(body), max))
        }
        "br" => read_bounded(brotli_decompressor::Decompressor::new(body, 4096), max),
        other => Err(DecodeError::Unsupported(other.to_string())),
    }
}

/// Bytes of an HTML document searched for a `<meta>` charset declaration
/// beyond the first 1024 (the HTML prescan's) when none is there: pages
/// put it after long scripts, styles or comments (issue 16: many GBK and
/// Big5 pages do), where browsers still honour it once the parser gets
/// there.
const LATE_META_BYTES: usize = 16 << 10;

/// Looks for a charset declared in a `<meta charset=...>` or `<meta
/// http-equiv=content-type content="...; charset=...">` of an HTML
/// document: in its first 1024 bytes (the HTML prescan), else before its
/// `<body` within its first [`LATE_META_BYTES`].
pub fn sniff_meta_charset(html: &[u8]) -> Option<&'static Encoding> {
    if let Some(enc) = meta_charset_in(&html[..html.len().min(1024)]) {
        return Some(enc);
    }
    if html.len() <= 1024 {
        return None;
    }
    let head = &html[..html.len().min(LATE_META_BYTES)];
    let end = find_ignore_ascii_case(head, b"<body").unwrap_or(head.len());
    if end <= 1024 {
        return None;
    }
    meta_charset_in(&head[..end])
}

/// The first occurrence of `needle` (lowercase ASCII) in `hay`, ASCII case
/// ignored.
fn find_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'<', hay).find(|&i| {
        hay.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

fn meta_charset_in(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.to_ascii_lowercase();
    let mut i = 0;
    while let Some(j) = memchr::memmem::find(&lower[i..], b"<meta") {
        let tag_start = i + j;
        let tag_end = memchr::memchr(b'>', &lower[tag_start..])
            .map(|e| tag_start + e)
            .unwrap_or(lower.len());
        let tag = &lower[tag_start..tag_end];
        if let Some(k) = memchr::memmem::find(tag, b"charset") {
            let mut rest = &tag[k + 7..];
            rest = trim_start(rest);
            if let Some(r) = rest.strip_prefix(b"=") {
                let r = trim_start(r);
                let r = r
                    .strip_prefix(b"\"")
                    .or_else(|| r.strip_prefix(b"'"))
                    .unwrap_or(r);
                let n = r
                    .iter()
                    .take_while(|c| {
                        !matches!(
                            c,
                            b'"' | b'\'' | b';' | b' ' | b'/' | b'>' | b'\t' | b'\r' | b'\n'
                        )
                    })
                    .count();
                if let Some(enc) = Encoding::for_label(&r[..n]) {
                    // A meta UTF-16 declaration means UTF-8 per the HTML spec.
                    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                        return Some(encoding_rs::UTF_8);
                    }
                    return Some(enc);
                }
            }
        }
        i = tag_end.max(tag_start + 5);
        if i >= lower.len() {
            break;
        }
    }
    None
}

/// Decodes bytes to UTF-8: BOM, then the declared charset (HTTP header), then
/// `<meta>` (for HTML), then chardetng sniffing. Returns the text and the
/// encoding's name. Takes the bytes so that text already in UTF-8 (or ASCII
/// in an ASCII-compatible encoding) keeps their buffer instead of a copy.
pub fn decode_text(
    bytes: Vec<u8>,
    declared: Option<&str>,
    is_html: bool,
    tld: Option<&[u8]>,
) -> (String, &'static str) {
    let enc = Encoding::for_bom(&bytes)
        .map(|(e, _)| e)
        .or_else(|| declared.and_then(|l| Encoding::for_label(l.as_bytes())))
        .or_else(|| {
            if is_html {
                sniff_meta_charset(&bytes)
            } else {
                None
            }
        });
    let Some(enc) = enc else {
        return sniff_and_decode(bytes, tld);
    };
    decode_with(enc, bytes)
}

/// `enc.decode(&bytes)`, reusing the buffer when decoding would return the
/// bytes unchanged: no BOM, and UTF-8 that is valid or ASCII in an encoding
/// whose bytes 0x00–0x7F are ASCII.
fn decode_with(enc: &'static Encoding, bytes: Vec<u8>) -> (String, &'static str) {
    let bytes = if Encoding::for_bom(&bytes).is_some() {
        bytes
    } else if enc == encoding_rs::UTF_8 || (enc.is_ascii_compatible() && bytes.is_ascii()) {
        match String::from_utf8(bytes) {
            Ok(text) => return (text, enc.name()),
            Err(e) => e.into_bytes(),
        }
    } else {
        bytes
    };
    let (text, used, _had_errors) = enc.decode(&bytes);
    (text.into_owned(), used.name())
}

/// Decodes undeclared bytes: UTF-8 when they are, else chardetng's guess
/// with the URL's top-level domain as a hint (`cn` → GBK, `tw` → Big5, …,
/// as browsers guess). The guess from the content alone (no hint) is taken
/// instead when it differs, decodes without errors, and either the hinted
/// guess decodes with errors or the two are GBK and Big5 (issue 16: the
/// hint outweighs the content, so a GBK page on a `.tw` host was read as
/// Big5, replacement characters in it, and a Big5 page on a `.cn` host as
/// GBK, which accepts Big5's bytes: mojibake without an error).
fn sniff_and_decode(bytes: Vec<u8>, tld: Option<&[u8]>) -> (String, &'static str) {
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return (text, encoding_rs::UTF_8.name()),
        Err(e) => e.into_bytes(),
    };
    let mut det = chardetng::EncodingDetector::new();
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    det.feed(sample, sample.len() == bytes.len());
    // (chardetng panics on a TLD with upper case, a period or non-ASCII.)
    let tld = tld.filter(|t| {
        t.iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    });
    let enc = det.guess(tld, true);
    let (text, used, had_errors) = enc.decode(&bytes);
    if tld.is_some() {
        let generic = det.guess(None, true);
        let chinese = |e: &'static Encoding| e == encoding_rs::GBK || e == encoding_rs::BIG5;
        if generic != enc && (had_errors || (chinese(enc) && chinese(generic))) {
            let (other, other_used, other_errors) = generic.decode(&bytes);
            if !other_errors {
                return (other.into_owned(), other_used.name());
            }
        }
    }
    (text.into_owned(), used.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that make each case of `decode_with` likely: BOMs, ASCII, UTF-8
    /// and bytes that are not.
    fn decodable_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just(b"\xFF\xFE".to_vec()),
            Just(b"\xFE\xFF".to_vec()),
            Just("caf\u{e9} \u{4e2d}\u{6587}".as_bytes().to_vec()),
            proptest::collection::vec(0x20u8..0x7f, 0..12),
            proptest::collection::vec(any::<u8>(), 0..6),
        ];
        proptest::collection::vec(piece, 0..5).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        /// Reusing the buffer gives what decoding a copy gives, in every
        /// encoding kind: UTF-8, ASCII-compatible single and multi-byte,
        /// and the ones that are not (UTF-16, ISO-2022-JP).
        #[test]
        fn decode_with_equals_encoding_decode(
            bytes in decodable_bytes(),
            enc in proptest::sample::select(vec![
                encoding_rs::UTF_8, encoding_rs::WINDOWS_1252, encoding_rs::GBK,
                encoding_rs::SHIFT_JIS, encoding_rs::UTF_16LE, encoding_rs::UTF_16BE,
                encoding_rs::ISO_2022_JP,
            ]),
        ) {
            let (expected, used, _) = enc.decode(&bytes);
            proptest::prop_assert_eq!(
                decode_with(enc, bytes.clone()),
                (expected.into_owned(), used.name())
            );
        }

        /// Where `head_end` decides from a prefix of a block, it is where
        /// `parse_head` ends the head of the whole block, and the head up
        /// to there parses as the whole block does; it decides for a whole
        /// head ended by an empty line.
        #[test]
        fn head_end_is_parse_heads_end(
            lead in proptest::sample::select(vec!["", "\r\n", " \t", "x"]),
            status in proptest::sample::select(vec!["HTTP/1.1 200 OK", "http/1.0 404", "HTTP/", "HTTX"]),
            lines in proptest::collection::vec((
                proptest::sample::select(vec!["", "A: b", " folded", "Content-Type: text/html", "x", "\r"]),
                proptest::sample::select(vec!["\r\n", "\n", ""]),
            ), 0..8),
            cut in 0usize..120,
            max_head in proptest::prop_oneof![0usize..80, proptest::strategy::Just(1 << 16)],
        ) {
            let mut block = format!("{lead}{status}");
            for (line, eol) in lines {
                block.push_str(eol);
                block.push_str(line);
            }
            block.push_str("\r\n\r\nbody");
            let block = block.into_bytes();
            let cut = cut.min(block.len());
            let whole = parse_head(&block, max_head);
            if let Some(end) = head_end(&block[..cut], max_head) {
                let whole = whole.expect("a head");
                proptest::prop_assert_eq!(end, whole.body_start);
                proptest::prop_assert_eq!(parse_head(&block[..end], max_head), Some(whole));
            }
        }

        /// Undeclared bytes that are UTF-8 come back as they are.
        #[test]
        fn undeclared_utf8_is_kept(text in "\\PC{0,40}") {
            let (decoded, name) = decode_text(text.clone().into_bytes(), None, false, None);
            proptest::prop_assert_eq!((decoded.as_str(), name), (text.as_str(), "UTF-8"));
        }
    }

    #[test]
    fn head_and_chunks() {
        let b = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=ISO-8859-1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        let h = parse_head(b, 1 << 16).unwrap();
        assert_eq!(h.status, Some(200));
        assert_eq!(h.headers.len(), 2);
        let body = &b[h.body_start..];
        assert_eq!(dechunk(body, 1000).unwrap(), b"hello world");
        assert!(dechunk(b"zz\r\nabc", 1000).is_err());
        assert_eq!(
            parse_content_type("Text/HTML; Charset=\"utf-8\""),
            (Some("text/html".into()), Some("utf-8".into()))
        );
    }

    #[test]
    fn head_end_of_whole_heads() {
        let b = b"\r\n HTTP/1.1 200 OK\r\nA: b\r\n c\n\r\nbody\r\n\r\nmore";
        let end = head_end(b, 1 << 16);
        assert_eq!(end, Some(parse_head(b, 1 << 16).unwrap().body_start));
        assert_eq!(&b[end.unwrap()..], b"body\r\n\r\nmore");
        // Not decided: no empty line yet, or the head runs past `max_head`.
        assert_eq!(head_end(&b[..end.unwrap() - 1], 1 << 16), None);
        assert_eq!(head_end(b, 20), None);
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r\n", 1 << 16), Some(19));
        assert_eq!(head_end(b"<html>\r\n\r\n", 1 << 16), None);
    }

    #[test]
    fn lf_only_head_and_meta() {
        let b = b"HTTP/1.0 404 Not Found\nA: b\n\n<html><meta http-equiv='Content-Type' content='text/html; charset=EUC-JP'>";
        let h = parse_head(b, 1 << 16).unwrap();
        assert_eq!(h.status, Some(404));
        assert_eq!(
            sniff_meta_charset(&b[h.body_start..]).map(|e| e.name()),
            Some("EUC-JP")
        );
        assert_eq!(
            sniff_meta_charset(b"<meta charset=utf-8>").map(|e| e.name()),
            Some("UTF-8")
        );
    }

    #[test]
    fn late_meta_before_body_only() {
        let pad = format!("<script>{}</script>", "x".repeat(2000));
        let late = format!("<html><head>{pad}<meta charset=\"gb2312\"></head><body>");
        assert_eq!(
            sniff_meta_charset(late.as_bytes()).map(|e| e.name()),
            Some("GBK")
        );
        let in_body = format!("<html><head>{pad}</head><BODY><meta charset=\"big5\">");
        assert_eq!(sniff_meta_charset(in_body.as_bytes()), None);
        let beyond = format!(
            "<html><head>{}<meta charset=big5>",
            "x".repeat(LATE_META_BYTES)
        );
        assert_eq!(sniff_meta_charset(beyond.as_bytes()), None);
    }

    #[test]
    fn bomb_guard() {
        let data = vec![0u8; 1 << 20];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, &data).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(
            decode_content_encoding(&gz, "gzip", 1000),
            Err(DecodeError::TooLarge(1000))
        );
        assert_eq!(
            decode_content_encoding(&gz, "gzip", 2 << 20).unwrap().len(),
            1 << 20
        );
    }
}
