//! Issue 14 (3): one damaged gzip member of a per-record-gzip WARC costs that
//! member's record and nothing else. Every intact member is read, and the one
//! error names the file and the damaged member's offset. Member boundaries
//! come from flate2 alone and the expected records from warcio reading only
//! the intact members, so neither depends on the reader under test.

use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;
use std::process::Command;

use provindex_corpus::{Framing, ReadError, WarcReader};

#[path = "../../../tests/common/venv.rs"]
mod venv;
use venv::venv_python;

fn corpus(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/corpus/warc")
            .join(rel),
    )
    .unwrap()
}

/// The byte ranges of the gzip members of `data`, found with flate2 alone.
fn members(data: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let mut d = flate2::bufread::GzDecoder::new(&data[pos..]);
        io::copy(&mut d, &mut io::sink()).expect("the corpus file is intact");
        let end = data.len() - d.into_inner().len();
        assert!(end > pos);
        out.push(pos..end);
        pos = end;
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    /// FEXTRA set on a member without an extra field: the decoder takes
    /// deflate bytes for XLEN and skips that far.
    ExtraFlag,
    /// FNAME set without a name: the decoder skips to the next zero byte.
    UnterminatedName,
    /// The member's second half is gone.
    TruncatedHalf,
    /// 64 bytes of the deflate stream overwritten.
    Garbage,
}

/// The first three let the decoder read on into the members after the
/// damaged one before it notices; garbage may inflate to a record framed from
/// bad bytes before the checksum fails.
const DAMAGES: [Damage; 4] = [
    Damage::ExtraFlag,
    Damage::UnterminatedName,
    Damage::TruncatedHalf,
    Damage::Garbage,
];

/// `data` with member `m` damaged, and how many bytes it lost.
fn damage(data: &[u8], m: &Range<usize>, how: Damage) -> (Vec<u8>, usize) {
    let mut v = data.to_vec();
    match how {
        Damage::ExtraFlag => v[m.start + 3] |= 0x04,
        Damage::UnterminatedName => v[m.start + 3] |= 0x08,
        Damage::TruncatedHalf => {
            let cut = m.start + m.len() / 2;
            v.drain(cut..m.end);
            return (v, m.end - cut);
        }
        Damage::Garbage => {
            let mid = m.start + m.len() / 2;
            let g = (mid - 32).max(m.start + 10)..(mid + 32).min(m.end - 8);
            for (i, b) in v[g].iter_mut().enumerate() {
                *b = 0xa5 ^ (i as u8).wrapping_mul(37);
            }
        }
    }
    (v, 0)
}

struct Outcome {
    /// (WARC-Record-ID, offset, framing) of every record read.
    records: Vec<(String, u64, Framing)>,
    errors: Vec<ReadError>,
}

fn read(data: &[u8], uri: &str) -> Outcome {
    let mut out = Outcome {
        records: Vec::new(),
        errors: Vec::new(),
    };
    // Each item consumes input: more items than bytes would be a loop.
    for item in WarcReader::new(data, uri).take(data.len() + 2) {
        match item {
            Ok(r) => out.records.push((
                r.record_id.unwrap_or_default(),
                r.location.offset,
                r.location.framing,
            )),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// Damages member `k` of `data` every way and checks that exactly the other
/// members' records are read, with one error at member `k`.
fn check_member(data: &[u8], ms: &[Range<usize>], intact: &Outcome, k: usize, label: &str) {
    assert_eq!(
        intact.records.len(),
        ms.len(),
        "{label}: one record per member"
    );
    assert!(
        intact.records.iter().all(|r| r.2 == Framing::GzipMember),
        "{label}"
    );
    let m = &ms[k];
    for how in DAMAGES {
        let (bad, lost) = damage(data, m, how);
        let uri = format!("{label}#{k}:{how:?}");
        let got = read(&bad, &uri);
        let expected: Vec<(String, u64, Framing)> = intact
            .records
            .iter()
            .filter(|(_, off, _)| *off != m.start as u64)
            .map(|(id, off, framing)| {
                let off = if *off > m.start as u64 {
                    off - lost as u64
                } else {
                    *off
                };
                (id.clone(), off, *framing)
            })
            .collect();
        assert_eq!(
            got.records, expected,
            "{uri}: the intact members' records (errors: {:?})",
            got.errors
        );
        assert_eq!(got.errors.len(), 1, "{uri}: {:?}", got.errors);
        let e = &got.errors[0];
        assert_eq!(e.uri, uri);
        assert_eq!(e.offset, m.start as u64, "{uri}: {e}");
        assert!(e.reason.contains("gzip member"), "{uri}: {e}");
    }
}

/// The case: member 100 of a real crawl file, each kind of damage.
#[test]
fn damaged_member_100_of_a_real_crawl_costs_only_its_record() {
    let data = corpus("gov.uk-2014-crawl-a.warc.gz");
    let ms = members(&data);
    assert!(ms.len() > 150, "{}", ms.len());
    let intact = read(&data, "gov.uk");
    assert!(intact.errors.is_empty(), "{:?}", intact.errors);
    check_member(&data, &ms, &intact, 100, "gov.uk");
}

/// Every member of a run of real members (the first, the last and all in
/// between), from three crawlers' files.
#[test]
fn every_damaged_member_costs_only_its_record() {
    for (file, run) in [
        ("gov.uk-2014-crawl-a.warc.gz", 90..130),
        ("iana.org-2014.warc.gz", 0..40),
        ("aut-archive.org-2008.warc.gz", 1..30),
    ] {
        let whole = corpus(file);
        let all = members(&whole);
        let run = run.start..run.end.min(all.len());
        let base = all[run.start].start;
        let data = whole[base..all[run.end - 1].end].to_vec();
        let ms: Vec<Range<usize>> = all[run]
            .iter()
            .map(|m| m.start - base..m.end - base)
            .collect();
        let intact = read(&data, file);
        assert!(intact.errors.is_empty(), "{file}: {:?}", intact.errors);
        for k in 0..ms.len() {
            check_member(&data, &ms, &intact, k, file);
        }
    }
}

/// The WARC-Record-IDs warcio reads from `data`, in order.
fn warcio_ids(python: &Path, data: &[u8]) -> Vec<String> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!(
        "provindex-damaged-members.{}.{n}.warc.gz",
        std::process::id()
    ));
    std::fs::write(&file, data).unwrap();
    let script = "import sys\nfrom warcio.archiveiterator import ArchiveIterator\nwith open(sys.argv[1], 'rb') as f:\n    for r in ArchiveIterator(f):\n        print(r.rec_headers.get_header('WARC-Record-ID'))\n";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("running warcio");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "warcio: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::new();
    out.stdout.as_slice().read_to_string(&mut text).unwrap();
    text.lines().map(str::to_string).collect()
}

/// The captures read from a file with one damaged member are those warcio
/// reads from the intact members alone.
#[test]
fn damaged_member_reads_what_warcio_reads_from_the_intact_members() {
    let python = venv_python("warcio", &["warcio"], "warcio");
    for file in [
        "gov.uk-2014-crawl-a.warc.gz",
        "iana.org-2014.warc.gz",
        "aut-archive.org-2008.warc.gz",
    ] {
        let data = corpus(file);
        let ms = members(&data);
        let k = 100.min(ms.len() / 2);
        let m = &ms[k];
        let mut intact_members = data[..m.start].to_vec();
        intact_members.extend_from_slice(&data[m.end..]);
        let expected = warcio_ids(&python, &intact_members);
        assert_eq!(expected.len(), ms.len() - 1, "{file}");
        for how in DAMAGES {
            let (bad, _) = damage(&data, m, how);
            let got = read(&bad, file);
            let ids: Vec<String> = got.records.into_iter().map(|r| r.0).collect();
            assert_eq!(ids, expected, "{file} member {k} {how:?}: {:?}", got.errors);
            assert_eq!(got.errors.len(), 1, "{file} {how:?}: {:?}", got.errors);
        }
    }
}
