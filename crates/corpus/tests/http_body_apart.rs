//! A `DocReader` reads the HTTP body of response and revisit records apart
//! from the head; its docs and errors are those of `record_to_doc` on the
//! whole blocks a `WarcReader` reads.

use std::io::Write;
use std::path::Path;

use flate2::{Compression, write::GzEncoder};
use provindex_corpus::doc::record_to_doc;
use provindex_corpus::*;

/// What `DocReader` yields, from whole blocks.
fn reference(data: &[u8], opts: &ReaderOptions) -> Vec<Result<SourceDoc, ReadError>> {
    let mut out = Vec::new();
    for item in WarcReader::with_options(data, "t", opts.clone()) {
        match item {
            Ok(rec) => {
                let offset = rec.location.offset;
                match record_to_doc(rec, opts) {
                    Ok(Some(doc)) => out.push(Ok(doc)),
                    Ok(None) => {}
                    Err(reason) => out.push(Err(ReadError {
                        uri: "t".into(),
                        offset,
                        reason,
                    })),
                }
            }
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

fn check(data: &[u8], opts: &ReaderOptions, label: &str) {
    let got: Vec<_> = DocReader::with_options(data, "t", opts.clone()).collect();
    assert_eq!(got, reference(data, opts), "{label}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Records whose HTTP heads end anywhere: with CRLF or LF, leading blank
/// lines, folded fields, no empty line, bodies from none to over two
/// inflate buffers; of types that are read as HTTP and some that are not.
fn records() -> Vec<Vec<u8>> {
    let mut x = 7u32;
    let mut next = |n: u32| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (x >> 8) % n
    };
    let mut out = Vec::new();
    for i in 0..40 {
        let eol = if next(3) == 0 { "\n" } else { "\r\n" };
        let mut block = String::new();
        if next(5) == 0 {
            block.push_str("\r\n ");
        }
        block.push_str(&format!("HTTP/1.1 200 OK{eol}"));
        for f in 0..next(12) {
            block.push_str(&format!("X-F{f}: {}{eol}", "v".repeat(next(300) as usize)));
            if next(6) == 0 {
                block.push_str(&format!(" folded{eol}"));
            }
        }
        block.push_str(&format!("Content-Type: text/html; charset=utf-8{eol}"));
        if next(8) != 0 {
            block.push_str(eol);
        }
        let len = [0, 10, 3_000, 40_000, 63_000, 70_000, 200_000][next(7) as usize];
        if len > 0 {
            // (Read as HTML when the head is cut before its Content-Type.)
            block.push_str("<html><body>");
        }
        while block.len() < len {
            block.push_str(&format!("<p>word{} é ", next(5000)));
        }
        let kind = [
            "response",
            " Response ",
            "revisit",
            "resource",
            "conversion",
        ][next(5) as usize];
        let mut rec = format!(
            "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Record-ID: <urn:uuid:{i}>\r\n\
             WARC-Target-URI: http://example.com/{i}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n\
             Content-Length: {}\r\n\r\n",
            block.len()
        )
        .into_bytes();
        rec.extend_from_slice(block.as_bytes());
        rec.extend_from_slice(b"\r\n\r\n");
        out.push(rec);
    }
    out
}

#[test]
fn docs_are_those_of_whole_blocks() {
    let records = records();
    let plain = records.concat();
    let per_record: Vec<u8> = records.iter().flat_map(|r| gzip(r)).collect();
    let whole = gzip(&plain);
    for max_header_size in [ReaderOptions::default().max_header_size, 250, 600] {
        let opts = ReaderOptions {
            max_header_size,
            ..ReaderOptions::default()
        };
        check(&plain, &opts, "plain");
        check(&per_record, &opts, "gzip per record");
        check(&whole, &opts, "whole-file gzip");
    }
    // Damaged: cut, and bytes flipped, anywhere in the first records.
    let opts = ReaderOptions::default();
    let per_record: Vec<u8> = records[..12].iter().flat_map(|r| gzip(r)).collect();
    for at in (0..per_record.len()).step_by(per_record.len() / 37) {
        check(&per_record[..at], &opts, &format!("cut at {at}"));
        let mut bad = per_record.clone();
        bad[at] ^= 0x10;
        check(&bad, &opts, &format!("byte {at} flipped"));
    }
    let whole = gzip(&records[..12].concat());
    for at in (0..whole.len()).step_by(whole.len() / 7) {
        check(&whole[..at], &opts, &format!("whole-file gzip cut at {at}"));
    }
}

#[test]
fn real_files_read_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus/warc");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        check(
            &data,
            &ReaderOptions::default(),
            &path.display().to_string(),
        );
        n += 1;
    }
    assert!(n >= 10);
}
