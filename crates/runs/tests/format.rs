//! Round trips, the exact byte layout, writer checks, and corruption handling.

use provindex_runs::{
    END_MARKER, HEADER_MAGIC, MAX_FIELD_LEN, RunError, RunInfo, RunReader, RunWriter,
    TRAILER_MAGIC, open_file,
};
use xxhash_rust::xxh3::xxh3_64;

type Record = (Vec<u8>, Vec<u8>);

fn write_run(records: &[Record]) -> (RunInfo, Vec<u8>) {
    let mut w = RunWriter::new(Vec::new(), "test.run").unwrap();
    for (k, v) in records {
        w.push(k, v).unwrap();
    }
    w.finish().unwrap()
}

/// Reads every record; returns the records and the error, if any, that ended the run.
fn read_all(bytes: &[u8]) -> (Vec<Record>, Option<RunError>) {
    let reader = match RunReader::new(bytes, "test.run") {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    let mut reader = reader;
    let mut error = None;
    for item in reader.by_ref() {
        match item {
            Ok(rec) => out.push(rec),
            Err(e) => {
                assert!(error.is_none(), "two errors from one reader");
                error = Some(e);
            }
        }
    }
    // Fused after the end or an error.
    assert!(reader.next().is_none());
    (out, error)
}

fn sample() -> Vec<Record> {
    vec![
        (b"".to_vec(), b"empty key".to_vec()),
        (b"a".to_vec(), b"".to_vec()),
        (b"a".to_vec(), b"second a".to_vec()),
        (b"abc".to_vec(), vec![0xFF; 300]),
        (b"b\x00\xff".to_vec(), b"v".to_vec()),
    ]
}

#[test]
fn round_trip() {
    let records = sample();
    let (info, bytes) = write_run(&records);
    assert_eq!(info.records, records.len() as u64);
    assert_eq!(info.bytes, bytes.len() as u64);
    let mut reader = RunReader::new(&bytes[..], "test.run").unwrap();
    let got: Vec<Record> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(got, records);
    assert_eq!(reader.info(), Some(info));
    assert_eq!(reader.records_read(), records.len() as u64);
}

#[test]
fn exact_layout() {
    let (info, bytes) = write_run(&[(b"k".to_vec(), b"vv".to_vec())]);
    let record: &[u8] = b"\x00\x00\x00\x01\x00\x00\x00\x02kvv";
    let mut expected = HEADER_MAGIC.to_vec();
    expected.extend_from_slice(record);
    expected.extend_from_slice(&END_MARKER.to_be_bytes());
    expected.extend_from_slice(&1u64.to_be_bytes());
    expected.extend_from_slice(&xxh3_64(record).to_be_bytes());
    expected.extend_from_slice(TRAILER_MAGIC);
    assert_eq!(bytes, expected);
    assert_eq!(info.checksum, xxh3_64(record));
}

#[test]
fn empty_run() {
    let (info, bytes) = write_run(&[]);
    assert_eq!(
        info,
        RunInfo {
            records: 0,
            bytes: 32,
            checksum: xxh3_64(b"")
        }
    );
    assert_eq!(bytes.len(), 32);
    let (records, error) = read_all(&bytes);
    assert!(records.is_empty());
    assert!(error.is_none(), "{error:?}");
}

#[test]
fn out_of_order_push_rejected() {
    let mut w = RunWriter::new(Vec::new(), "ooo.run").unwrap();
    w.push(b"b", b"1").unwrap();
    w.push(b"b", b"2").unwrap(); // equal keys are fine
    match w.push(b"a", b"3") {
        Err(RunError::OutOfOrder { name, record }) => {
            assert_eq!(name, "ooo.run");
            assert_eq!(record, 2);
        }
        other => panic!("expected OutOfOrder, got {other:?}"),
    }
    // A prefix is smaller than the longer key.
    assert!(matches!(w.push(b"", b""), Err(RunError::OutOfOrder { .. })));
    // The rejected records were not written: the writer is still usable.
    w.push(b"c", b"4").unwrap();
    let (info, bytes) = w.finish().unwrap();
    assert_eq!(info.records, 3);
    let (records, error) = read_all(&bytes);
    assert!(error.is_none());
    assert_eq!(
        records,
        vec![
            (b"b".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"4".to_vec())
        ]
    );
}

#[test]
fn too_large_field_rejected_by_writer() {
    let big = vec![0u8; MAX_FIELD_LEN + 1];
    let mut w = RunWriter::new(Vec::new(), "big.run").unwrap();
    assert!(matches!(
        w.push(&big, b""),
        Err(RunError::TooLarge { field: "key", .. })
    ));
    assert!(matches!(
        w.push(b"", &big),
        Err(RunError::TooLarge { field: "value", .. })
    ));
    assert_eq!(w.records(), 0);
}

fn assert_corrupt(bytes: &[u8], what: &str) {
    let (_, error) = read_all(bytes);
    match error {
        Some(RunError::Corrupt { name, offset, .. }) => {
            assert_eq!(name, "test.run");
            assert!(
                offset <= bytes.len() as u64,
                "{what}: offset {offset} past the end"
            );
        }
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    }
}

#[test]
fn every_truncation_is_corrupt() {
    let (_, bytes) = write_run(&sample());
    for len in 0..bytes.len() {
        assert_corrupt(&bytes[..len], &format!("truncated to {len}"));
    }
    let (_, empty) = write_run(&[]);
    for len in 0..empty.len() {
        assert_corrupt(&empty[..len], &format!("empty run truncated to {len}"));
    }
}

#[test]
fn every_single_byte_corruption_is_corrupt() {
    let (_, bytes) = write_run(&sample());
    for pos in 0..bytes.len() {
        for mask in [0x01u8, 0x10, 0x80, 0xFF] {
            let mut damaged = bytes.clone();
            damaged[pos] ^= mask;
            assert_corrupt(&damaged, &format!("byte {pos} ^ {mask:#04x}"));
        }
    }
}

/// Hands out its bytes a few at a time, so records straddle every refill.
struct Trickle<'a>(&'a [u8], usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 = self.1 % 7 + 1;
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Records across many buffer refills, some larger than the 64 KiB read
/// buffer, read whole by `next_ref` and the iterator alike; damage deep in
/// the run is still found.
#[test]
fn records_across_refills_and_larger_than_the_buffer() {
    let mut records: Vec<Record> = (0u32..20_000)
        .map(|i| (i.to_be_bytes().to_vec(), vec![i as u8; (i % 13) as usize]))
        .collect();
    records.insert(
        7_000,
        (6_999u32.to_be_bytes().to_vec(), vec![0xAB; 200_000]),
    );
    records.push((vec![0xFF; 70_000], vec![0xCD; 150_000]));
    let (info, bytes) = write_run(&records);
    assert_eq!(info.bytes, bytes.len() as u64);
    let (got, error) = read_all(&bytes);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(got, records);

    let mut reader = RunReader::new(Trickle(&bytes, 0), "test.run").unwrap();
    let mut n = 0;
    while let Some(record) = reader.next_ref() {
        let (key, value) = record.unwrap();
        assert_eq!(
            (key, value),
            (&records[n].0[..], &records[n].1[..]),
            "record {n}"
        );
        n += 1;
    }
    assert_eq!(n, records.len());
    assert_eq!(reader.info(), Some(info));

    for at in [bytes.len() / 3, bytes.len() - 100_000, bytes.len() - 40] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x20;
        assert_corrupt(&damaged, &format!("byte {at}"));
        assert_corrupt(&bytes[..at], &format!("truncated to {at}"));
    }
}

/// The order checks compare with the previous key wherever it is: in the
/// writer's buffer or written out, in the reader's buffer across refills.
#[test]
fn order_is_checked_across_flushes_and_refills() {
    for n in [1u32, 2_000, 5_000, 30_000] {
        let mut w = RunWriter::new(Vec::new(), "test.run").unwrap();
        for i in 0..n {
            w.push(&[&[7u8; 9][..], &i.to_be_bytes()].concat(), b"v")
                .unwrap();
        }
        let smaller = [&[7u8; 9][..], &(n - 1).to_be_bytes()[..3]].concat();
        assert!(
            matches!(w.push(&smaller, b""), Err(RunError::OutOfOrder { record, .. }) if record == u64::from(n)),
            "after {n} records"
        );
        let equal = [&[7u8; 9][..], &(n - 1).to_be_bytes()].concat();
        w.push(&equal, b"").unwrap();

        if n == 1 {
            continue;
        }
        let mut body = Vec::new();
        let mut offsets = Vec::new();
        for i in (0..n).chain([n - 2]) {
            offsets.push(HEADER_MAGIC.len() + body.len() + 8);
            let key = [&[7u8; 9][..], &i.to_be_bytes()].concat();
            body.extend_from_slice(&(key.len() as u32).to_be_bytes());
            body.extend_from_slice(&1u32.to_be_bytes());
            body.extend_from_slice(&key);
            body.push(b'v');
        }
        let mut bytes = HEADER_MAGIC.to_vec();
        bytes.extend_from_slice(&body);
        let mut reader = RunReader::new(Trickle(&bytes, 0), "test.run").unwrap();
        let mut read = 0;
        let error = loop {
            match reader.next_ref() {
                Some(Ok(_)) => read += 1,
                Some(Err(e)) => break e,
                None => panic!("no error after {n} records"),
            }
        };
        assert_eq!(read, n as usize);
        assert!(
            matches!(error, RunError::Corrupt { offset, .. } if offset == offsets[n as usize] as u64),
            "{error:?}"
        );
    }
}

#[test]
fn trailing_data_is_corrupt() {
    let (_, mut bytes) = write_run(&sample());
    bytes.push(0);
    assert_corrupt(&bytes, "trailing byte");
}

#[test]
fn huge_length_is_corrupt_without_allocation() {
    // Header, then a record claiming a 4 GiB - 2 key.
    let mut bytes = HEADER_MAGIC.to_vec();
    bytes.extend_from_slice(&0xFFFF_FFFEu32.to_be_bytes());
    bytes.extend_from_slice(&0u32.to_be_bytes());
    let (_, error) = read_all(&bytes);
    assert!(
        matches!(error, Some(RunError::Corrupt { offset: 6, .. })),
        "{error:?}"
    );
    // A length just under the limit but no data: truncated, not a 64 MiB buffer.
    let mut bytes = HEADER_MAGIC.to_vec();
    bytes.extend_from_slice(&0u32.to_be_bytes());
    bytes.extend_from_slice(&(MAX_FIELD_LEN as u32).to_be_bytes());
    bytes.extend_from_slice(b"some");
    let (_, error) = read_all(&bytes);
    assert!(matches!(error, Some(RunError::Corrupt { .. })), "{error:?}");
}

#[test]
fn decreasing_keys_in_file_are_corrupt() {
    // Hand-build a run whose keys decrease but whose footer is consistent.
    let mut body = Vec::new();
    for key in [b"b", b"a"] {
        body.extend_from_slice(&1u32.to_be_bytes());
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(key);
    }
    let mut bytes = HEADER_MAGIC.to_vec();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&END_MARKER.to_be_bytes());
    bytes.extend_from_slice(&2u64.to_be_bytes());
    bytes.extend_from_slice(&xxh3_64(&body).to_be_bytes());
    bytes.extend_from_slice(TRAILER_MAGIC);
    let (records, error) = read_all(&bytes);
    assert_eq!(records.len(), 1);
    assert!(
        matches!(error, Some(RunError::Corrupt { offset: 23, .. })),
        "{error:?}"
    );
}

#[test]
fn open_file_reads_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.run");
    let (_, bytes) = write_run(&sample());
    std::fs::write(&path, &bytes).unwrap();
    let got: Vec<Record> = open_file(&path).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(got, sample());

    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = open_file(&path).unwrap().find_map(Result::err).unwrap();
    assert!(err.to_string().contains("x.run"), "{err}");
    assert!(matches!(err, RunError::Corrupt { .. }));

    let missing = dir.path().join("missing.run");
    assert!(matches!(open_file(&missing), Err(RunError::Io { .. })));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn sorted_records() -> impl Strategy<Value = Vec<Record>> {
        proptest::collection::vec(
            (
                proptest::collection::vec(0u8..4, 0..4),
                proptest::collection::vec(any::<u8>(), 0..8),
            ),
            0..12,
        )
        .prop_map(|mut v| {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        })
    }

    proptest! {
        #[test]
        fn round_trips(records in sorted_records()) {
            let (info, bytes) = write_run(&records);
            prop_assert_eq!(info.bytes, bytes.len() as u64);
            let (got, error) = read_all(&bytes);
            prop_assert!(error.is_none());
            prop_assert_eq!(got, records);
        }

        #[test]
        fn damage_is_detected(
            records in sorted_records(),
            pos in any::<proptest::sample::Index>(),
            mask in 1u8..=255,
            cut in any::<proptest::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let (_, mut bytes) = write_run(&records);
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            } else {
                let i = pos.index(bytes.len());
                bytes[i] ^= mask;
            }
            let (got, error) = read_all(&bytes);
            prop_assert!(matches!(error, Some(RunError::Corrupt { .. })), "{:?}", error);
            // Whatever was yielded before the error is a prefix-compatible, bounded amount.
            prop_assert!(got.len() <= records.len() + bytes.len() / 8);
        }
    }
}
