//! Property tests: readers and the HTML extractor never panic or loop, on
//! arbitrary bytes and on real records with truncations and bit flips.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use provindex_corpus::*;

fn corpus_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/corpus")
            .join(rel),
    )
    .unwrap()
}

fn small_opts() -> ReaderOptions {
    ReaderOptions {
        max_record_size: 1 << 20,
        max_header_size: 8 << 10,
        ..ReaderOptions::default()
    }
}

/// Drains every reader over `data`; the item count is bounded by the input
/// size (each item consumes input).
fn drain_all(data: &[u8]) {
    let bound = data.len() + 4;
    let n = WarcReader::with_options(data, "p", small_opts())
        .take(bound + 1)
        .count();
    assert!(n <= bound, "{n} records from {} bytes", data.len());
    let mut docs = open_docs(data, "p", small_opts());
    let n = docs.by_ref().take(bound + 1).count();
    assert!(n <= bound);
    let s = docs.stats();
    assert!(s.docs + s.errors >= n as u64);
}

fn gzip_members(records: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(r).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

fn record() -> Vec<u8> {
    let http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<p>hi\r\n6\r\n there\r\n0\r\n\r\n";
    let mut v = format!(
        "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:1>\r\nWARC-Target-URI: http://example.com/\r\nWARC-Date: 2020-01-01T00:00:00Z\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n",
        http.len()
    )
    .into_bytes();
    v.extend_from_slice(http);
    v.extend_from_slice(b"\r\n\r\n");
    v
}

#[test]
fn the_seed_record_is_valid() {
    let rec = record();
    let docs: Vec<_> = open_docs(&rec[..], "r", ReaderOptions::default()).collect();
    assert_eq!(docs.len(), 1, "{docs:?}");
    let d = docs[0].as_ref().unwrap();
    assert_eq!(d.text.as_deref(), Some("hi there"));
    let gz = gzip_members(&[&rec, &rec]);
    assert_eq!(
        open_docs(&gz[..], "r", ReaderOptions::default())
            .filter(|d| d.is_ok())
            .count(),
        2
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        drain_all(&data);
    }

    #[test]
    fn warc_prefixed_garbage(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut v = b"WARC/1.0\r\nContent-Length: 5\r\n\r\n".to_vec();
        v.extend(&data);
        drain_all(&v);
        let gz = gzip_members(&[&v, &data]);
        drain_all(&gz);
    }

    #[test]
    fn mutated_plain_record(cut in 0usize..400, flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..6)) {
        let r = record();
        let mut v = [&r[..], &r, &r].concat();
        for (i, b) in flips {
            let i = i % v.len();
            v[i] ^= b;
        }
        let cut = cut.min(v.len());
        v.truncate(v.len() - cut);
        drain_all(&v);
    }

    #[test]
    fn mutated_gzip_members(cut in 0usize..300, flips in proptest::collection::vec((0usize..1000, any::<u8>()), 0..4)) {
        let r = record();
        let mut v = gzip_members(&[&r, &r, &r]);
        for (i, b) in flips {
            let i = i % v.len();
            v[i] ^= b;
        }
        let cut = cut.min(v.len());
        v.truncate(v.len() - cut);
        drain_all(&v);
    }

    #[test]
    fn html_extractor(s in "\\PC{0,400}") {
        let e = html::extract(&s);
        prop_assert!(!e.text.lines().any(|l| l.trim().is_empty()));
    }

    #[test]
    fn html_extractor_tags(parts in proptest::collection::vec(prop_oneof![
        Just("<p>".to_string()), Just("</p>".to_string()), Just("<script>".to_string()), Just("</script>".to_string()),
        Just("<svg>".to_string()), Just("</svg>".to_string()), Just("<title>".to_string()), Just("&amp;".to_string()),
        Just("<br/>".to_string()), Just("<!--".to_string()), Just("<head>".to_string()), Just("<pre>\n".to_string()),
        "[a-z <>&;/=\"']{0,12}",
    ], 0..40)) {
        let html = parts.concat();
        let _ = html::extract(&html);
    }
}

#[test]
fn real_files_with_random_damage() {
    // Deterministic damage to real files (a cheap complement to the fuzzers).
    let files = [
        "warc/cc-main-2024-22-whirlwind.warc.gz",
        "warc/http-content-encoding-brotli.warc.gz",
        "warc/cc-single-response.warc.gz",
        "warc/revisit-dupes.warc.gz",
    ];
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for f in files {
        let orig = corpus_bytes(f);
        for _ in 0..20 {
            let mut v = orig.clone();
            for _ in 0..(rnd() % 4) {
                let i = (rnd() as usize) % v.len();
                v[i] ^= 1 << (rnd() % 8);
            }
            let cut = (rnd() as usize) % (v.len() / 4 + 1);
            v.truncate(v.len() - cut);
            drain_all(&v);
        }
    }
}
