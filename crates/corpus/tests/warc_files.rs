//! Reads the bundled real-crawl corpus (tests/data/corpus) and checks counts, locations and errors.

use std::io::Read;
use std::path::{Path, PathBuf};

use provindex_corpus::*;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus")
        .join(rel)
}

struct All {
    docs: Vec<SourceDoc>,
    errors: Vec<ReadError>,
    stats: ReadStats,
}

fn read_all(rel: &str) -> All {
    let mut it = read_path(&corpus(rel));
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for r in it.by_ref() {
        match r {
            Ok(d) => docs.push(d),
            Err(e) => errors.push(e),
        }
    }
    All {
        docs,
        errors,
        stats: it.stats().clone(),
    }
}

#[test]
fn record_counts_match_the_readme_table() {
    // (file, [(type, count)], docs)
    let table: &[(&str, &[(&str, u64)])] = &[
        (
            "aut-archive.org-2008.warc.gz",
            &[("response", 299), ("request", 261), ("metadata", 261)],
        ),
        ("cc-main-2020-34-excerpt.warc", &[("response", 16)]),
        ("cc-main-2020-34-excerpt.warc.gz", &[("response", 16)]),
        ("cc-main-2024-22-whirlwind.warc.gz", &[("response", 1)]),
        (
            "cc-main-2024-22-whirlwind.warc.wet.gz",
            &[("conversion", 1)],
        ),
        ("cc-main-2024-22-whirlwind.warc.wat.gz", &[("metadata", 1)]),
        ("cc-single-response.warc.gz", &[("response", 1)]),
        ("clueweb09-quirk-eucjp.warc.gz", &[("response", 29)]),
        ("gov.uk-2014-crawl-a.warc.gz", &[("response", 65)]),
        (
            "gov.uk-2014-crawl-b-revisits.warc.gz",
            &[("response", 10), ("revisit", 55)],
        ),
        ("http-content-encoding-none.warc.gz", &[("response", 1)]),
        ("http-content-encoding-gzip.warc.gz", &[("response", 1)]),
        ("http-content-encoding-brotli.warc.gz", &[("response", 1)]),
        (
            "iana.org-2014.warc.gz",
            &[("response", 48), ("revisit", 123)],
        ),
        ("revisit-dupes.warc.gz", &[("response", 3), ("revisit", 9)]),
        ("wget-2024-sample-0000.warc.gz", &[("response", 22)]),
        ("wget-2024-sample-0001.warc.gz", &[("response", 15)]),
    ];
    for (file, counts) in table {
        let all = read_all(&format!("warc/{file}"));
        assert!(all.errors.is_empty(), "{file}: {:?}", all.errors);
        assert_eq!(all.stats.errors, 0, "{file}");
        for (ty, n) in *counts {
            assert_eq!(all.stats.records(ty), *n, "{file}: {ty} ({})", all.stats);
        }
        let doc_types = ["response", "resource", "revisit", "conversion"];
        let expect_docs: u64 = doc_types.iter().map(|t| all.stats.records(t)).sum();
        assert_eq!(all.docs.len() as u64, expect_docs, "{file}");
        assert_eq!(all.stats.docs, expect_docs, "{file}");
        assert_eq!(
            all.stats.docs + all.stats.skipped,
            all.stats.total_records(),
            "{file}"
        );
        for d in &all.docs {
            assert!(d.record_id.is_some(), "{file}: record without id");
            assert!(
                d.url.as_deref().is_some_and(|u| !u.starts_with('<')),
                "{file}"
            );
        }
    }
}

fn gunzip_all(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn locations_are_exact() {
    let dir = corpus("warc");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut checked = 0;
    for p in files {
        let bytes = std::fs::read(&p).unwrap();
        let mut decompressed: Option<Vec<u8>> = None;
        for rec in WarcReader::new(std::fs::File::open(&p).unwrap(), p.display().to_string()) {
            let rec = rec.unwrap();
            let loc = &rec.location;
            let (s, e) = (loc.offset as usize, (loc.offset + loc.length) as usize);
            let slice: &[u8] = match loc.framing {
                Framing::Plain | Framing::GzipMember => &bytes[s..e],
                Framing::Decompressed => {
                    &decompressed.get_or_insert_with(|| gunzip_all(&bytes))[s..e]
                }
            };
            let again = decode_record(slice, "x").unwrap();
            assert_eq!(again.record_id, rec.record_id, "{}", p.display());
            assert_eq!(again.block, rec.block);
            assert_eq!(
                again.location.length, loc.length,
                "a location holds exactly one record"
            );
            checked += 1;
        }
    }
    assert!(checked > 1500, "{checked}");
}

#[test]
fn gzip_framing_kinds() {
    let f = |rel: &str| {
        let p = corpus(rel);
        WarcReader::new(std::fs::File::open(&p).unwrap(), rel)
            .map(|r| r.unwrap().location.framing)
            .collect::<Vec<_>>()
    };
    assert!(
        f("warc/cc-main-2020-34-excerpt.warc.gz")
            .iter()
            .all(|x| *x == Framing::GzipMember)
    );
    assert!(
        f("warc/cc-main-2020-34-excerpt.warc")
            .iter()
            .all(|x| *x == Framing::Plain)
    );
    // A whole-file gzip made from the plain excerpt: records are addressed in
    // the decompressed stream, at the same offsets as in the plain file.
    let plain = std::fs::read(corpus("warc/cc-main-2020-34-excerpt.warc")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &plain).unwrap();
    let whole = enc.finish().unwrap();
    let a: Vec<_> = WarcReader::new(&plain[..], "p")
        .map(|r| r.unwrap().location)
        .collect();
    let b: Vec<_> = WarcReader::new(&whole[..], "p")
        .map(|r| r.unwrap().location)
        .collect();
    assert_eq!(a.len(), 50);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.offset, x.length), (y.offset, y.length));
        assert_eq!(y.framing, Framing::Decompressed);
    }
}

#[test]
fn html_text_and_fields() {
    let all = read_all("warc/cc-main-2024-22-whirlwind.warc.gz");
    let d = &all.docs[0];
    assert_eq!(d.kind, DocKind::Response);
    assert_eq!(
        d.url.as_deref(),
        Some("https://an.wikipedia.org/wiki/Escopete")
    );
    assert_eq!(d.http_status, Some(200));
    assert_eq!(d.content_type.as_deref(), Some("text/html"));
    assert_eq!(d.charset.as_deref(), Some("UTF-8"));
    let text = d.text.as_deref().unwrap();
    assert!(text.contains("Escopete"), "{text}");
    assert!(
        !text.contains("<script") && !text.contains("function("),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.trim().is_empty()));
    assert!(d.title.as_deref().unwrap().contains("Escopete"));
    assert!(d.date_unix.is_some() && d.date_raw.is_some());
    assert!(d.payload_digest.as_deref().unwrap().starts_with("sha1:"));
    assert!(
        d.http_headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    );
}

#[test]
fn content_encodings_decode_to_the_same_text() {
    let texts: Vec<String> = ["none", "gzip", "brotli"]
        .iter()
        .map(|e| {
            let all = read_all(&format!("warc/http-content-encoding-{e}.warc.gz"));
            let d = all
                .docs
                .iter()
                .find(|d| d.kind == DocKind::Response)
                .unwrap();
            assert!(d.warnings.is_empty(), "{e}: {:?}", d.warnings);
            d.text.clone().unwrap()
        })
        .collect();
    assert!(!texts[0].is_empty());
    assert_eq!(texts[0], texts[1]);
    assert_eq!(texts[0], texts[2]);
}

#[test]
fn clueweb_eucjp_and_bad_dates() {
    let all = read_all("warc/clueweb09-quirk-eucjp.warc.gz");
    assert_eq!(all.docs.len(), 29);
    let mut japanese = 0;
    for d in &all.docs {
        assert!(d.date_unix.is_none());
        assert_eq!(d.date_raw.as_deref(), Some("2008-10-294T05:21:46-0700"));
        assert!(d.date_error.is_some());
        if d.charset.as_deref() == Some("EUC-JP") {
            let t = d.text.as_deref().unwrap();
            if t.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)) {
                japanese += 1;
            }
        }
    }
    assert!(japanese >= 20, "{japanese}");
}

#[test]
fn wet_links_to_warc() {
    let warc = read_all("warc/cc-main-2024-22-whirlwind.warc.gz");
    let wet = read_all("warc/cc-main-2024-22-whirlwind.warc.wet.gz");
    let conv = &wet.docs[0];
    assert_eq!(conv.kind, DocKind::Conversion);
    assert_eq!(conv.refers_to, warc.docs[0].record_id);
    assert_eq!(conv.url, warc.docs[0].url);
    assert!(conv.text.as_deref().unwrap().contains("Escopete"));
    let wat = read_all("warc/cc-main-2024-22-whirlwind.warc.wat.gz");
    assert!(wat.docs.is_empty());
    assert_eq!(wat.stats.skipped, 2);
}

#[test]
fn revisits_carry_their_references() {
    let b = read_all("warc/gov.uk-2014-crawl-b-revisits.warc.gz");
    let revisits: Vec<_> = b
        .docs
        .iter()
        .filter(|d| d.kind == DocKind::Revisit)
        .collect();
    assert_eq!(revisits.len(), 55);
    for r in revisits {
        assert!(
            r.payload_digest.is_some() || r.refers_to.is_some() || r.refers_to_target_uri.is_some()
        );
        assert!(r.text.is_none());
    }
}

// ---------- malformed inputs ----------

fn check_errors(all: &All) {
    for e in &all.errors {
        assert!(!e.reason.is_empty());
        assert!(e.to_string().contains(&format!("@{}: ", e.offset)));
    }
    assert_eq!(all.stats.errors, all.errors.len() as u64);
}

#[test]
fn malformed_arc() {
    let all = read_all("malformed/aut-archive.org-2008.arc.gz");
    check_errors(&all);
    assert_eq!(all.errors.len(), 1);
    assert!(all.errors[0].reason.contains("ARC"));
    assert_eq!(all.errors[0].offset, 0);
}

#[test]
fn malformed_clipped_and_inflate_errors() {
    for f in [
        "clipped.warc.gz",
        "double-single-inflate-error.gz",
        "empty.gz",
    ] {
        let all = read_all(&format!("malformed/{f}"));
        check_errors(&all);
        assert_eq!(all.errors.len(), 1, "{f}: {:?}", all.errors);
        assert!(all.docs.is_empty());
    }
}

#[test]
fn malformed_wrong_chunks_keeps_going() {
    let all = read_all("malformed/example-wrong-chunks.warc.gz");
    check_errors(&all);
    assert!(!all.errors.is_empty());
    // The request record after the broken response is still read.
    assert_eq!(all.stats.records("request"), 1);
}

#[test]
fn malformed_files_that_still_read() {
    // (file, records framed, docs, min warnings)
    let table: &[(&str, u64, usize, u64)] = &[
        ("example-bad-non-chunked.warc.gz", 6, 2, 0),
        ("example-bad.warc.gz.bad", 6, 3, 0),
        ("example-space-in-target-uri.warc.gz", 2, 1, 1),
        ("example-trunc.warc", 4, 1, 1),
        ("example-wget-bad-target-uri.warc.gz", 6, 3, 0),
        ("gzip-extra-field.warc.gz", 1, 0, 0),
        ("truncated-datetime.warc", 5, 2, 0),
    ];
    for (f, recs, docs, warns) in table {
        let all = read_all(&format!("malformed/{f}"));
        check_errors(&all);
        assert_eq!(all.stats.total_records(), *recs, "{f}: {}", all.stats);
        assert_eq!(all.docs.len(), *docs, "{f}");
        assert!(all.stats.warnings >= *warns, "{f}: {}", all.stats);
    }
}

#[test]
fn every_malformed_file_terminates() {
    let dir = corpus("malformed");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let mut it = read_path(&p);
        let n = it.by_ref().take(100_000).count();
        assert!(n < 100_000, "{}", p.display());
    }
}

/// warcinfo records (issue 19): kept per input, fields as written, for the
/// AI Act summary's crawler list.
#[test]
fn warcinfo_fields_are_read() {
    let mut docs = read_path(&corpus("warc/gov.uk-2014-crawl-a.warc.gz"));
    assert!(docs.warcinfo().is_empty(), "nothing read yet");
    let n = docs.by_ref().filter(Result::is_ok).count();
    assert!(n > 0);
    let info = docs.warcinfo();
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(
        info[0].get("http-header-user-agent"),
        Some(
            "bl.uk_lddc_bot/3.1.1 (+http://www.bl.uk/aboutus/legaldeposit/websites/websites/faqswebmaster/index.html)"
        )
    );
    assert_eq!(info[0].get("ROBOTS"), Some("classic"));
    assert_eq!(
        info[0].get("software"),
        Some("Heritrix/3.1.1 http://crawler.archive.org")
    );
    // JSONL has none.
    let mut jsonl = read_path(&corpus("jsonl/cc_en_head-0091.jsonl.gz"));
    jsonl.by_ref().for_each(drop);
    assert!(jsonl.warcinfo().is_empty());
    let parsed =
        WarcInfo::parse(b"software: x\r\nno colon here\r\n: empty\r\nrobots: obey\r\n\r\n");
    assert_eq!(
        parsed.fields,
        [
            ("software".to_owned(), "x".to_owned()),
            ("robots".to_owned(), "obey".to_owned())
        ]
    );
}
