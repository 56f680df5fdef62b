//! JSONL inputs, zstd, and revisit resolution.

use std::io::Read;
use std::path::{Path, PathBuf};

use provindex_corpus::*;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus")
        .join(rel)
}

fn split(
    it: impl Iterator<Item = Result<SourceDoc, ReadError>>,
) -> (Vec<SourceDoc>, Vec<ReadError>) {
    let mut d = Vec::new();
    let mut e = Vec::new();
    for r in it {
        match r {
            Ok(x) => d.push(x),
            Err(x) => e.push(x),
        }
    }
    (d, e)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn dolma_jsonl_gz_without_configuration() {
    for f in [
        "jsonl/cc_en_head-0091.jsonl.gz",
        "jsonl/cc_en_head-0174.jsonl.gz",
    ] {
        let p = corpus(f);
        let mut it = read_path(&p);
        let (docs, errs) = split(it.by_ref());
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(docs.len(), 10);
        assert_eq!(it.stats().docs, 10);
        let plain = gunzip(&std::fs::read(&p).unwrap());
        for d in &docs {
            assert_eq!(d.kind, DocKind::JsonDoc);
            let url = d.url.as_deref().unwrap();
            assert!(url.starts_with("http"), "{url}");
            assert!(d.record_id.is_some());
            assert!(d.date_unix.is_some(), "{:?}", d.date_raw);
            assert_eq!(d.source.as_deref(), Some("common-crawl"));
            assert_eq!(d.language.as_deref(), Some("en"));
            assert!(!d.text.as_deref().unwrap().is_empty());
            assert_eq!(d.location.framing, Framing::Decompressed);
            // The location addresses exactly the JSON line.
            let line = &plain
                [d.location.offset as usize..(d.location.offset + d.location.length) as usize];
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert_eq!(v["text"].as_str(), d.text.as_deref());
        }
    }
}

#[test]
fn jsonl_bad_lines_are_counted_and_skipped() {
    let data = b"{\"text\":\"one\",\"id\":1}\n{not json\n\n[1,2]\n{\"id\":\"x\"}\n{\"text\":\"two\",\"url\":\"http://a/\",\"date\":\"2020-01-01T00:00:00Z\"}\n";
    let mut it = open_docs(&data[..], "mem.jsonl", ReaderOptions::default());
    let (docs, errs) = split(it.by_ref());
    assert_eq!(docs.len(), 2);
    assert_eq!(errs.len(), 3);
    assert_eq!(errs[0].offset, 22);
    assert!(errs[0].reason.contains("invalid JSON"));
    assert!(errs[2].reason.contains("no text field"));
    assert_eq!(docs[0].record_id.as_deref(), Some("1"));
    assert_eq!(docs[1].date_unix, Some(1577836800));
    assert_eq!(docs[1].location.framing, Framing::Plain);
    assert_eq!(it.stats().errors, 3);
}

#[test]
fn jsonl_custom_fields() {
    let data = b"{\"body\":\"hello\",\"meta\":{\"u\":\"http://x/\",\"t\":\"2021-02-03\"},\"key\":\"k1\"}\n";
    let opts = ReaderOptions {
        jsonl: JsonlFields::default().with("body", "key", "meta.u", "meta.t"),
        ..ReaderOptions::default()
    };
    let (docs, errs) = split(open_docs(&data[..], "m", opts));
    assert!(errs.is_empty());
    assert_eq!(docs[0].text.as_deref(), Some("hello"));
    assert_eq!(docs[0].record_id.as_deref(), Some("k1"));
    assert_eq!(docs[0].url.as_deref(), Some("http://x/"));
    assert_eq!(docs[0].date_unix, Some(1612310400));
}

#[test]
fn zstd_jsonl_and_zstd_warc() {
    let plain = gunzip(&std::fs::read(corpus("jsonl/cc_en_head-0091.jsonl.gz")).unwrap());
    let zst =
        ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest);
    let (docs, errs) = split(open_docs(&zst[..], "x.jsonl.zst", ReaderOptions::default()));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(docs.len(), 10);

    let warc = std::fs::read(corpus("warc/cc-main-2020-34-excerpt.warc")).unwrap();
    let zst =
        ruzstd::encoding::compress_to_vec(&warc[..], ruzstd::encoding::CompressionLevel::Fastest);
    let mut it = open_docs(&zst[..], "x.warc.zst", ReaderOptions::default());
    let (docs, errs) = split(it.by_ref());
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(docs.len(), 16);
    let plain_docs: Vec<_> = read_path(&corpus("warc/cc-main-2020-34-excerpt.warc"))
        .map(|d| d.unwrap())
        .collect();
    for (a, b) in docs.iter().zip(&plain_docs) {
        assert_eq!(a.text, b.text);
        assert_eq!(
            (a.location.offset, a.location.length),
            (b.location.offset, b.location.length)
        );
        assert_eq!(a.location.framing, Framing::Decompressed);
    }
}

#[test]
fn gov_uk_revisits_resolve_to_crawl_a() {
    let mut resolver: RevisitResolver<String> = RevisitResolver::new();
    let (a, errs) = split(read_path(&corpus("warc/gov.uk-2014-crawl-a.warc.gz")));
    assert!(errs.is_empty());
    let mut a_ids = std::collections::HashMap::new();
    for d in &a {
        resolver.add_original(d, d.record_id.clone().unwrap());
        a_ids.insert(d.record_id.clone().unwrap(), d.clone());
    }
    let (b, errs) = split(read_path(&corpus(
        "warc/gov.uk-2014-crawl-b-revisits.warc.gz",
    )));
    assert!(errs.is_empty());
    let mut resolved = 0;
    for d in b.iter().filter(|d| d.kind == DocKind::Revisit) {
        let (orig, by) = resolver
            .resolve(d)
            .unwrap_or_else(|| panic!("unresolved revisit {:?}", d.url));
        let o = &a_ids[&orig];
        assert_eq!(o.payload_digest, d.payload_digest);
        assert_eq!(by, ResolvedBy::PayloadDigest);
        resolved += 1;
    }
    assert_eq!(resolved, 55);
}

#[test]
fn same_file_revisits_resolve_in_stream_order() {
    // (file, revisits, resolvable within the file)
    for (f, expect, resolvable) in [
        ("warc/iana.org-2014.warc.gz", 123, 123),
        ("warc/revisit-dupes.warc.gz", 9, 1),
    ] {
        let mut r: RevisitResolver<String> = RevisitResolver::new();
        let (mut n, mut ok) = (0, 0);
        for d in read_path(&corpus(f)) {
            let d = d.unwrap();
            if d.kind == DocKind::Revisit {
                n += 1;
                ok += usize::from(r.resolve(&d).is_some());
            } else {
                r.observe(&d, |d| d.record_id.clone().unwrap());
            }
        }
        assert_eq!((n, ok), (expect, resolvable), "{f}");
    }
}

#[test]
fn resolve_by_record_id_and_uri_date() {
    let orig = SourceDoc {
        record_id: Some("<urn:uuid:1>".into()),
        kind: DocKind::Response,
        url: Some("http://a/".into()),
        date_unix: Some(1_000_000),
        text: Some("x".into()),
        ..SourceDoc::default()
    };
    let mut r = RevisitResolver::new();
    assert!(r.add_original(&orig, 7u32));
    let by_id = SourceDoc {
        kind: DocKind::Revisit,
        refers_to: Some("<urn:uuid:1>".into()),
        ..SourceDoc::default()
    };
    assert_eq!(r.resolve(&by_id), Some((7, ResolvedBy::RecordId)));
    let by_uri = SourceDoc {
        kind: DocKind::Revisit,
        refers_to_target_uri: Some("http://a/".into()),
        refers_to_date: Some("1970-01-12T13:46:40Z".into()),
        ..SourceDoc::default()
    };
    assert_eq!(r.resolve(&by_uri), Some((7, ResolvedBy::TargetUriDate)));
    assert_eq!(r.resolve(&SourceDoc::default()), None);
}

#[test]
fn revisits_resolve_across_files_in_order() {
    // revisit-dupes revisits iana.org pages whose originals are in iana.org-2014.
    let mut r: RevisitResolver<String> = RevisitResolver::new();
    for d in read_path(&corpus("warc/iana.org-2014.warc.gz")) {
        r.observe(&d.unwrap(), |d| d.record_id.clone().unwrap());
    }
    let mut ok = 0;
    for d in read_path(&corpus("warc/revisit-dupes.warc.gz")) {
        let d = d.unwrap();
        if d.kind == DocKind::Revisit {
            ok += usize::from(r.resolve(&d).is_some());
        } else {
            r.observe(&d, |d| d.record_id.clone().unwrap());
        }
    }
    assert!(ok > 1, "{ok}");
}
