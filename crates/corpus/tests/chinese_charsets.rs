//! Issue 16: pages in GBK, GB18030 and Big5 decode correctly whether the
//! charset is in the HTTP header, in a `<meta>` tag, or nowhere.
//!
//! Each case builds a WARC response record in memory whose HTML body carries
//! real Chinese paragraphs (the debian-handbook excerpts of
//! `crates/sketch/tests/data/zh/`, CC-BY-SA-3.0 / GPL-2+, see its README:
//! `zh_cn` for Simplified, the independent `zh_tw` translation for
//! Traditional) encoded with `encoding_rs`, reads it back with
//! [`open_docs`], and checks that the extracted text is exactly the text
//! extracted from the same page in UTF-8, without U+FFFD.

use std::io::Cursor;

use encoding_rs::{BIG5, Encoding, GB18030, GBK};
use provindex_corpus::{ReaderOptions, open_docs};

const HANDBOOK: &str = include_str!("../../sketch/tests/data/zh/handbook_zh.jsonl");

/// Paragraphs of field `field` (`zh_cn` or `zh_tw`) that `enc` encodes
/// without an unmappable character, at most `n`.
fn paragraphs(field: &str, enc: &'static Encoding, n: usize) -> Vec<String> {
    HANDBOOK
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v[field].as_str().map(str::to_string)
        })
        .filter(|p| !enc.encode(p).2)
        .take(n)
        .collect()
}

/// Where the page says its charset.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Declared {
    /// `Content-Type: text/html; charset=<label>` in the HTTP head.
    Header,
    /// `<meta charset="<label>">` only.
    MetaCharset,
    /// `<meta http-equiv="Content-Type" content="text/html; charset=<label>">` only.
    MetaHttpEquiv,
    /// `<meta charset>` only, after more than 1024 bytes of `<head>`.
    LateMeta,
    /// Nowhere.
    Nowhere,
}

fn html(title: &str, paras: &[String], declared: Declared, label: &str) -> String {
    let meta = match declared {
        Declared::MetaCharset => format!("<meta charset=\"{label}\">"),
        Declared::MetaHttpEquiv => {
            format!("<meta http-equiv=\"Content-Type\" content=\"text/html; charset={label}\">")
        }
        Declared::LateMeta => format!(
            "<script>var config = {{{}}};</script><meta charset=\"{label}\">",
            (0..80)
                .map(|i| format!("\"key{i}\": {i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Declared::Header | Declared::Nowhere => String::new(),
    };
    let body: String = paras.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n{meta}\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    )
}

/// A WARC file holding one response record for `url` with `body`.
fn warc(url: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut block = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    block.extend_from_slice(body);
    let mut out = format!(
        "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000016>\r\nWARC-Date: 2024-05-01T00:00:00Z\r\nWARC-Target-URI: {url}\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n",
        block.len()
    )
    .into_bytes();
    out.extend_from_slice(&block);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// The (charset, title, text) the reader gives for one record.
fn read(url: &str, content_type: &str, body: &[u8]) -> (String, String, String) {
    let bytes = warc(url, content_type, body);
    let docs: Vec<_> = open_docs(Cursor::new(bytes), "mem.warc", ReaderOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(docs.len(), 1);
    let d = docs.into_iter().next().unwrap();
    (
        d.charset.unwrap_or_default(),
        d.title.unwrap_or_default(),
        d.text.unwrap_or_default(),
    )
}

/// Every placement of `enc`'s label (`label`) on a page of `paras`, at each
/// of `urls`: decodes to the UTF-8 page's title and text, as `declared_name`
/// when declared and as `sniffed_name` when not.
fn check(
    enc: &'static Encoding,
    label: &str,
    paras: &[String],
    urls: &[&str],
    declared_name: &str,
    sniffed_name: &str,
) {
    assert!(paras.len() >= 3, "{label}: too few paragraphs");
    let title = paras[0].chars().take(12).collect::<String>();
    for declared in [
        Declared::Header,
        Declared::MetaCharset,
        Declared::MetaHttpEquiv,
        Declared::LateMeta,
        Declared::Nowhere,
    ] {
        for &url in urls {
            // The same page in UTF-8, declared in the header.
            let page = html(&title, paras, declared, label);
            let (_, want_title, want) = read(url, "text/html; charset=utf-8", page.as_bytes());
            assert!(want.contains(&paras[1]), "UTF-8 extraction");
            assert!(!want.contains('\u{FFFD}'));

            let (encoded, _, unmappable) = enc.encode(&page);
            assert!(!unmappable, "{label}: test page not encodable");
            assert_ne!(encoded.as_ref(), page.as_bytes());
            let content_type = match declared {
                Declared::Header => format!("text/html; charset={label}"),
                _ => "text/html".to_string(),
            };
            let (charset, got_title, got) = read(url, &content_type, &encoded);
            let case = format!("{label} {declared:?} {url}");
            assert!(!got.contains('\u{FFFD}'), "{case}: U+FFFD in {got:.200}");
            let expect_name = match declared {
                Declared::Nowhere => sniffed_name,
                _ => declared_name,
            };
            assert_eq!(charset, expect_name, "{case}: charset");
            assert_eq!(got_title, want_title, "{case}: title");
            assert_eq!(got, want, "{case}: text");
        }
    }
}

const URLS: &[&str] = &[
    "http://www.example.com/handbook/page.html",
    "http://www.example.cn/handbook/page.html",
    "http://www.example.com.tw/handbook/page.html",
    "http://www.example.hk/handbook/page.html",
];

#[test]
fn gbk_simplified() {
    let paras = paragraphs("zh_cn", GBK, 6);
    check(GBK, "GBK", &paras, URLS, "GBK", "GBK");
    // gb2312 (the label most Chinese pages use) is GBK in the Encoding
    // Standard; x-gbk and cp936 too.
    check(GBK, "gb2312", &paras, URLS, "GBK", "GBK");
    check(GBK, "cp936", &paras, &URLS[..1], "GBK", "GBK");
}

#[test]
fn gb18030_simplified_and_beyond_gbk() {
    let mut paras = paragraphs("zh_cn", GB18030, 6);
    // Characters only GB18030's four-byte sequences encode (CJK Extension A
    // and B, a supplementary-plane character) and the euro sign.
    paras.push("扩展字符：㐀㐁㒸 𠀀𠀁𪚥，欧元符号 €。".to_string());
    assert!(GBK.encode(&paras[6]).2, "not encodable in GBK");
    // Declared GB18030, it decodes as GB18030; undeclared, it is detected as
    // GBK, whose decoder (the Encoding Standard's) reads GB18030's four-byte
    // sequences too: the text is the same.
    check(GB18030, "gb18030", &paras, URLS, "gb18030", "GBK");
    check(GB18030, "GB18030", &paras, &URLS[..1], "gb18030", "GBK");
}

#[test]
fn big5_traditional() {
    let paras = paragraphs("zh_tw", BIG5, 6);
    check(BIG5, "big5", &paras, URLS, "Big5", "Big5");
    // Big5-HKSCS is Big5 in the Encoding Standard (its decoder includes
    // the HKSCS extension).
    check(BIG5, "big5-hkscs", &paras, URLS, "Big5", "Big5");
    check(BIG5, "x-x-big5", &paras, &URLS[..1], "Big5", "Big5");
}

#[test]
fn gbk_traditional() {
    // Traditional characters are in GBK too (some Taiwanese and Hong Kong
    // pages are served that way).
    let paras = paragraphs("zh_tw", GBK, 6);
    check(GBK, "gbk", &paras, &URLS[..2], "GBK", "GBK");
}
