//! merge and ExternalSorter: determinism, stability, error propagation.

use proptest::prelude::*;
use provindex_runs::{ExternalSorter, RunError, RunInfo, RunWriter, merge, merge_iters, open_file};

type Record = (Vec<u8>, Vec<u8>);
type Item = Result<Record, RunError>;

fn rec(k: &str, v: &str) -> Record {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn ok_run(records: Vec<Record>) -> std::vec::IntoIter<Item> {
    records.into_iter().map(Ok).collect::<Vec<_>>().into_iter()
}

fn stable_sorted(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

/// Sorts `input` externally and merges the runs read back from disk.
fn external_sort(
    input: &[Record],
    budget: usize,
) -> (Vec<(std::path::PathBuf, RunInfo)>, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let mut sorter = ExternalSorter::new(dir.path().join("spill"), "part", budget);
    for (k, v) in input {
        sorter.push(k.clone(), v.clone()).unwrap();
    }
    let runs = sorter.finish().unwrap();
    let readers = runs.iter().map(|(p, _)| open_file(p).unwrap()).collect();
    let merged = merge(readers).collect::<Result<Vec<_>, _>>().unwrap();
    (runs, merged)
}

#[test]
fn merge_equal_keys_in_run_order() {
    let runs = vec![
        ok_run(vec![rec("a", "0.0"), rec("b", "0.1"), rec("b", "0.2")]),
        ok_run(vec![rec("a", "1.0"), rec("b", "1.1"), rec("c", "1.2")]),
        ok_run(vec![]),
        ok_run(vec![rec("", "3.0"), rec("b", "3.1")]),
    ];
    let got: Vec<Record> = merge_iters(runs).collect::<Result<_, _>>().unwrap();
    let want = vec![
        rec("", "3.0"),
        rec("a", "0.0"),
        rec("a", "1.0"),
        rec("b", "0.1"),
        rec("b", "0.2"),
        rec("b", "1.1"),
        rec("b", "3.1"),
        rec("c", "1.2"),
    ];
    assert_eq!(got, want);
}

#[test]
fn merge_of_nothing() {
    assert_eq!(
        merge_iters(Vec::<std::vec::IntoIter<Item>>::new()).count(),
        0
    );
    assert_eq!(merge_iters(vec![ok_run(vec![]), ok_run(vec![])]).count(), 0);
}

#[test]
fn merge_error_ends_the_merge() {
    let bad: Vec<Item> = vec![
        Ok(rec("b", "1")),
        Err(RunError::Corrupt {
            name: "bad".into(),
            offset: 7,
            reason: "test".into(),
        }),
        Ok(rec("c", "never")),
    ];
    let good = vec![Ok(rec("a", "g")), Ok(rec("d", "g"))];
    let out: Vec<Item> = merge_iters(vec![good.into_iter(), bad.into_iter()]).collect();
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0].as_ref().unwrap(), &rec("a", "g"));
    assert_eq!(out[1].as_ref().unwrap(), &rec("b", "1"));
    assert!(matches!(&out[2], Err(RunError::Corrupt { name, offset: 7, .. }) if name == "bad"));

    // An error as a run's first item ends the merge before anything is yielded.
    let first_bad: Vec<Item> = vec![Err(RunError::Corrupt {
        name: "x".into(),
        offset: 0,
        reason: "test".into(),
    })];
    let out: Vec<Item> =
        merge_iters(vec![ok_run(vec![rec("a", "")]), first_bad.into_iter()]).collect();
    assert_eq!(out.len(), 1);
    assert!(out[0].is_err());
}

#[test]
fn merge_rejects_decreasing_input() {
    let runs = vec![ok_run(vec![rec("a", ""), rec("c", ""), rec("b", "")])];
    let out: Vec<Item> = merge_iters(runs).collect();
    assert_eq!(out.len(), 3);
    assert!(
        matches!(&out[2], Err(RunError::OutOfOrder { name, record: 2 }) if name == "merge input 0")
    );
}

#[test]
fn merge_reports_corrupt_run_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.run");
    let mut w = RunWriter::new(Vec::new(), "r").unwrap();
    w.push(b"a", b"1").unwrap();
    w.push(b"b", b"2").unwrap();
    let (_, mut bytes) = w.finish().unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1; // checksum
    std::fs::write(&path, &bytes).unwrap();
    let out: Vec<Item> = merge(vec![open_file(&path).unwrap()]).collect();
    assert_eq!(out.len(), 3);
    assert!(matches!(&out[2], Err(RunError::Corrupt { .. })));
}

#[test]
fn sorter_file_names_and_spills() {
    let dir = tempfile::tempdir().unwrap();
    let mut sorter = ExternalSorter::new(dir.path(), "shard-3", 0);
    for i in (0..3u8).rev() {
        sorter.push(vec![i], vec![i; 2]).unwrap();
    }
    assert_eq!(sorter.spilled(), 2);
    let runs = sorter.finish().unwrap();
    let names: Vec<_> = runs
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "shard-3-00000.run",
            "shard-3-00001.run",
            "shard-3-00002.run"
        ]
    );
    for (path, info) in &runs {
        assert_eq!(info.records, 1);
        assert_eq!(info.bytes, std::fs::metadata(path).unwrap().len());
    }
}

#[test]
fn sorter_empty_input_gives_no_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sorter = ExternalSorter::new(dir.path(), "p", 1 << 20);
    assert!(sorter.finish().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn sorter_large_budget_single_run() {
    let input: Vec<Record> = (0..100u32)
        .map(|i| {
            (
                (i * 7919 % 100).to_be_bytes().to_vec(),
                i.to_le_bytes().to_vec(),
            )
        })
        .collect();
    let (runs, merged) = external_sort(&input, 1 << 20);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].1.records, 100);
    assert_eq!(merged, stable_sorted(input));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn external_sort_then_merge_is_stable_sort(
        input in proptest::collection::vec(
            (proptest::collection::vec(0u8..3, 0..3), proptest::collection::vec(any::<u8>(), 0..6)),
            0..80,
        ),
        budget in 0usize..400,
    ) {
        let (runs, merged) = external_sort(&input, budget);
        prop_assert_eq!(runs.iter().map(|(_, i)| i.records).sum::<u64>(), input.len() as u64);
        prop_assert_eq!(runs.is_empty(), input.is_empty());
        prop_assert_eq!(merged, stable_sorted(input));
    }

    #[test]
    fn merge_of_sorted_runs_is_stable_sort_of_concatenation(
        runs in proptest::collection::vec(
            proptest::collection::vec(
                (proptest::collection::vec(0u8..3, 0..3), proptest::collection::vec(any::<u8>(), 0..4)),
                0..10,
            ),
            0..6,
        ),
    ) {
        let runs: Vec<Vec<Record>> = runs.into_iter().map(stable_sorted).collect();
        let want = stable_sorted(runs.concat());
        let got: Vec<Record> = merge_iters(runs.into_iter().map(ok_run).collect()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got, want);
    }
}

/// The sorter before its arena (issue 17): a `Vec` of owned pairs, charged 48
/// bytes each on top of key and value, stably sorted at each spill. Returns
/// the bytes of each run it would spill.
fn reference_runs(input: &[Record], budget: usize) -> Vec<(Vec<u8>, RunInfo)> {
    fn spill(buffer: &mut Vec<Record>, runs: &mut Vec<(Vec<u8>, RunInfo)>) {
        buffer.sort_by(|a, b| a.0.cmp(&b.0));
        let mut writer = RunWriter::new(Vec::new(), "reference").unwrap();
        for (key, value) in buffer.drain(..) {
            writer.push(&key, &value).unwrap();
        }
        let (info, bytes) = writer.finish().unwrap();
        runs.push((bytes, info));
    }
    let (mut buffer, mut buffered, mut runs) = (Vec::new(), 0usize, Vec::new());
    for (key, value) in input {
        let size = key.len() + value.len() + 48;
        if !buffer.is_empty() && buffered.saturating_add(size) > budget {
            spill(&mut buffer, &mut runs);
            buffered = 0;
        }
        buffer.push((key.clone(), value.clone()));
        buffered += size;
    }
    if !buffer.is_empty() {
        spill(&mut buffer, &mut runs);
    }
    runs
}

fn check_against_reference(input: &[Record], budget: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut sorter = ExternalSorter::new(dir.path(), "d", budget);
    for (k, v) in input {
        sorter.push(k, v).unwrap();
    }
    let got: Vec<(Vec<u8>, RunInfo)> = sorter
        .finish()
        .unwrap()
        .into_iter()
        .map(|(p, info)| (std::fs::read(p).unwrap(), info))
        .collect();
    assert!(
        got == reference_runs(input, budget),
        "run files differ from the reference's"
    );
}

/// Keys that tie on the sort's 8-byte prefix: shorter than 8 with trailing
/// zeros ("a" and "a\0"), equal first 8 bytes and different tails, equal keys
/// with different values (their push order must survive).
#[test]
fn sorter_runs_equal_the_reference_on_prefix_ties() {
    let keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        b"a".to_vec(),
        b"a\0".to_vec(),
        b"a\0\0\0\0\0\0\0".to_vec(),
        b"a\0\0\0\0\0\0\0\0".to_vec(),
        b"abcdefgh".to_vec(),
        b"abcdefgh\0".to_vec(),
        b"abcdefghi".to_vec(),
        b"abcdefghij".to_vec(),
        b"abcdefgg\xff".to_vec(),
        vec![0xff; 9],
        vec![0xff; 8],
    ];
    let mut input = Vec::new();
    for round in 0..5u8 {
        for (n, k) in keys.iter().enumerate().rev() {
            input.push((k.clone(), vec![round, n as u8]));
        }
    }
    for budget in [0, 100, 500, 1 << 20] {
        check_against_reference(&input, budget);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The arena sorter spills byte-identical runs to the old one's.
    #[test]
    fn sorter_runs_equal_the_reference(
        input in proptest::collection::vec(
            (
                prop_oneof![
                    proptest::collection::vec(0u8..3, 0..12),
                    (proptest::collection::vec(0u8..2, 0..4), 0usize..12)
                        .prop_map(|(tail, n)| [b"prefix-0".to_vec(), vec![0; n], tail].concat()),
                ],
                proptest::collection::vec(any::<u8>(), 0..6),
            ),
            0..120,
        ),
        budget in 0usize..2000,
    ) {
        check_against_reference(&input, budget);
    }
}
