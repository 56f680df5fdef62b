//! The lending merge (`Merge::next_ref`) over run readers: order, ties,
//! empty inputs, errors naming the run and the byte offset.

use proptest::prelude::*;
use provindex_runs::{IterInput, Merge, MergeInput, RunError, RunReader, RunWriter};

type Record = (Vec<u8>, Vec<u8>);

fn run_bytes(records: &[Record]) -> Vec<u8> {
    let mut w = RunWriter::new(Vec::new(), "w").unwrap();
    for (k, v) in records {
        w.push(k, v).unwrap();
    }
    w.finish().unwrap().1
}

fn readers(runs: &[Vec<u8>]) -> Vec<RunReader<&[u8]>> {
    runs.iter()
        .enumerate()
        .map(|(i, bytes)| RunReader::new(&bytes[..], &format!("{i}.run")).unwrap())
        .collect()
}

/// Drains a merge, copying each record; the error, if any, ends it.
fn drain<S: MergeInput>(merge: &mut Merge<S>) -> (Vec<Record>, Option<RunError>) {
    let mut out = Vec::new();
    while let Some(item) = merge.next_ref() {
        match item {
            Ok((k, v)) => out.push((k.to_vec(), v.to_vec())),
            Err(e) => {
                assert!(merge.next_ref().is_none(), "an error ends the merge");
                return (out, Some(e));
            }
        }
    }
    assert!(merge.next_ref().is_none());
    (out, None)
}

fn rec(k: &str, v: &str) -> Record {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

/// Stable sort by key of the inputs' concatenation: the merge's order.
fn reference(runs: &[Vec<Record>]) -> Vec<Record> {
    let mut all = runs.concat();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn equal_keys_come_in_input_order() {
    let runs = [
        vec![rec("a", "0.0"), rec("b", "0.1"), rec("b", "0.2")],
        vec![rec("a", "1.0"), rec("b", "1.1"), rec("c", "1.2")],
        vec![],
        vec![rec("", "3.0"), rec("b", "3.1")],
        vec![rec("b", "4.0")],
    ];
    let bytes: Vec<_> = runs.iter().map(|r| run_bytes(r)).collect();
    let (got, err) = drain(&mut Merge::new(readers(&bytes)));
    assert!(err.is_none());
    let want: Vec<Record> = [
        ("", "3.0"),
        ("a", "0.0"),
        ("a", "1.0"),
        ("b", "0.1"),
        ("b", "0.2"),
        ("b", "1.1"),
        ("b", "3.1"),
        ("b", "4.0"),
        ("c", "1.2"),
    ]
    .iter()
    .map(|(k, v)| rec(k, v))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn no_inputs_empty_inputs_and_one_input() {
    let mut none = Merge::new(Vec::<RunReader<&[u8]>>::new());
    assert!(none.peek_ref().is_none());
    assert!(none.next_ref().is_none());

    let bytes = vec![run_bytes(&[]), run_bytes(&[]), run_bytes(&[])];
    assert_eq!(
        drain(&mut Merge::new(readers(&bytes))).0,
        Vec::<Record>::new()
    );

    let one = vec![rec("a", "1"), rec("a", "2"), rec("b", "3")];
    let bytes = vec![run_bytes(&one)];
    assert_eq!(drain(&mut Merge::new(readers(&bytes))).0, one);
}

#[test]
fn peek_does_not_take_and_the_input_is_known() {
    let bytes = vec![
        run_bytes(&[rec("b", "0"), rec("d", "0")]),
        run_bytes(&[rec("a", "1"), rec("c", "1")]),
    ];
    let mut merge = Merge::new(readers(&bytes));
    let mut got = Vec::new();
    let mut from = Vec::new();
    loop {
        let peeked = merge
            .peek_ref()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap());
        let peeked_again = merge
            .peek_ref()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap());
        let taken = merge
            .next_ref()
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap());
        assert_eq!(peeked, taken);
        assert_eq!(peeked_again, taken);
        from.push(merge.taken_from());
        match taken {
            Some(record) => got.push(record),
            None => break,
        }
    }
    let keys: Vec<_> = got.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, [b"a", b"b", b"c", b"d"]);
    assert_eq!(from, [Some(1), Some(0), Some(1), Some(0), None]);
    assert_eq!(merge.inputs()[1].name(), "1.run");

    // One input takes a path of its own: peeks and takes in any mix.
    let bytes = vec![run_bytes(&[rec("a", "0"), rec("b", "1"), rec("c", "2")])];
    let mut one = Merge::new(readers(&bytes));
    let mut seen = Vec::new();
    for peek_first in [true, false, true, true, false, false] {
        if peek_first {
            let peeked = one.peek_ref().map(|r| r.unwrap().0.to_vec());
            let taken = one.next_ref().map(|r| r.unwrap().0.to_vec());
            assert_eq!(peeked, taken);
            seen.push(taken);
        } else {
            seen.push(one.next_ref().map(|r| r.unwrap().0.to_vec()));
        }
        assert_eq!(one.taken_from(), seen.last().unwrap().as_ref().map(|_| 0));
    }
    let want = [
        Some(b"a".to_vec()),
        Some(b"b".to_vec()),
        Some(b"c".to_vec()),
        None,
        None,
        None,
    ];
    assert_eq!(seen, want);
}

/// Fixed-size records (8-byte key, 8-byte value: 24 bytes framed), so an
/// offset is known: record `j` starts at 6 + 24 j.
fn numbered(keys: impl Iterator<Item = u64>) -> Vec<Record> {
    keys.map(|k| (k.to_be_bytes().to_vec(), (!k).to_be_bytes().to_vec()))
        .collect()
}

#[test]
fn a_corrupt_record_deep_in_one_input_names_the_run_and_offset() {
    // 10,000 records of 24 bytes: the damage is several buffer refills in.
    let n = 10_000u64;
    let evens = numbered((0..n).map(|i| 2 * i));
    let odds = numbered((0..n).map(|i| 2 * i + 1));
    let j = 7_321u64;
    let mut damaged = run_bytes(&odds);
    let at = (6 + 24 * j) as usize;
    damaged[at + 4..at + 8].copy_from_slice(&u32::MAX.to_be_bytes()); // value length
    let bytes = vec![run_bytes(&evens), damaged];
    let (got, err) = drain(&mut Merge::new(readers(&bytes)));
    // Every record up to odd record j - 1 (key 2j - 1) came out first.
    assert_eq!(got, reference(&[evens, odds])[..2 * j as usize]);
    match err {
        Some(RunError::Corrupt {
            name,
            offset,
            reason,
        }) => {
            assert_eq!(name, "1.run");
            assert_eq!(offset, 6 + 24 * j + 4);
            assert!(reason.contains("value length"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_damaged_checksum_is_an_error_after_every_record() {
    let a = numbered((0..3001).map(|i| 3 * i));
    let b = numbered((0..3000).map(|i| 3 * i + 1));
    let mut damaged = run_bytes(&b);
    let len = damaged.len();
    damaged[len - 10] ^= 1; // checksum, in the footer
    let bytes = vec![run_bytes(&a), damaged];
    let (got, err) = drain(&mut Merge::new(readers(&bytes)));
    // b's end is read when its last record (8998) is taken: a's 9000 never comes.
    assert_eq!(got.len(), 2 * 3000);
    assert!(
        matches!(&err, Some(RunError::Corrupt { name, offset, .. })
            if name == "1.run" && *offset == 6 + 24 * 3000 + 4 + 8),
        "{err:?}"
    );
}

#[test]
fn decreasing_keys_are_an_error() {
    // A run file whose keys decrease: the reader names the run and the offset.
    let records = numbered([1u64, 2, 3, 4].into_iter());
    let mut bytes = run_bytes(&records);
    let (r2, r3) = ((6 + 24 * 2) as usize, (6 + 24 * 3) as usize);
    bytes[r2 + 8..r2 + 16].copy_from_slice(&9u64.to_be_bytes()); // record 2: key 9 > 4
    let other = run_bytes(&numbered([0u64, 5].into_iter()));
    let runs = vec![other, bytes];
    let (got, err) = drain(&mut Merge::new(readers(&runs)));
    let keys: Vec<u64> = got
        .iter()
        .map(|(k, _)| u64::from_be_bytes(k[..].try_into().unwrap()))
        .collect();
    assert_eq!(keys, [0, 1, 2, 5, 9]);
    assert!(
        matches!(&err, Some(RunError::Corrupt { name, offset, reason })
            if name == "1.run" && *offset == r3 as u64 + 8 && reason.contains("record 3")),
        "{err:?}"
    );

    // An iterator input: OutOfOrder with its name and the record's index.
    let input = vec![Ok(rec("a", "")), Ok(rec("c", "")), Ok(rec("b", ""))];
    let mut merge = Merge::new(vec![IterInput::new(input.into_iter(), "rows")]);
    let (got, err) = drain(&mut merge);
    assert_eq!(got, [rec("a", ""), rec("c", "")]);
    assert!(
        matches!(&err, Some(RunError::OutOfOrder { name, record: 2 }) if name == "rows"),
        "{err:?}"
    );
}

#[test]
fn an_error_before_the_first_record_ends_the_merge() {
    let good = run_bytes(&[rec("a", "")]);
    let mut bad = run_bytes(&[rec("b", "")]);
    bad[6..10].copy_from_slice(&u32::MAX.to_be_bytes()[..]); // end marker at once: count 1 ≠ 0
    let runs = vec![good, bad];
    let mut merge = Merge::new(readers(&runs));
    assert!(matches!(
        merge.peek_ref(),
        Some(Err(RunError::Corrupt { name, .. })) if name == "1.run"
    ));
    assert!(merge.peek_ref().is_none());
    assert!(merge.next_ref().is_none());
}

/// Merges `runs` written as run files and checks the output is
/// [`reference`]'s; returns it.
fn merge_of_run_files_is_the_reference(runs: &[Vec<Record>]) -> Result<Vec<Record>, TestCaseError> {
    let want = reference(runs);
    let bytes: Vec<_> = runs.iter().map(|r| run_bytes(r)).collect();
    let (got, err) = drain(&mut Merge::new(readers(&bytes)));
    prop_assert!(err.is_none());
    prop_assert_eq!(&got, &want);
    Ok(want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Keys around the merge's 16-byte integer prefix: a shared head of
    /// 13 to 18 bytes, then a short tail, so keys end before, at and after
    /// byte 16 and differ there.
    #[test]
    fn long_keys_equal_a_stable_sort(
        runs in proptest::collection::vec(
            proptest::collection::vec(
                (13usize..19, proptest::collection::vec(0u8..3, 0..4), any::<u8>()),
                0..30,
            ),
            1..6,
        ),
    ) {
        let runs: Vec<Vec<Record>> = runs
            .into_iter()
            .map(|r| {
                let mut r: Vec<Record> = r
                    .into_iter()
                    .map(|(head, tail, v)| ([vec![7u8; head], tail].concat(), vec![v]))
                    .collect();
                r.sort_by(|a, b| a.0.cmp(&b.0));
                r
            })
            .collect();
        merge_of_run_files_is_the_reference(&runs)?;
    }

    /// The merge of sorted runs is the stable sort of their concatenation,
    /// through run files and through iterator inputs alike.
    #[test]
    fn equals_a_stable_sort_of_all_inputs(
        runs in proptest::collection::vec(
            proptest::collection::vec(
                (proptest::collection::vec(0u8..4, 0..4), proptest::collection::vec(any::<u8>(), 0..4)),
                0..40,
            ),
            0..11,
        ),
    ) {
        let runs: Vec<Vec<Record>> = runs
            .into_iter()
            .map(|mut r| {
                r.sort_by(|a, b| a.0.cmp(&b.0));
                r
            })
            .collect();
        let want = merge_of_run_files_is_the_reference(&runs)?;
        let iters = runs
            .into_iter()
            .map(|r| IterInput::new(r.into_iter().map(Ok), "rows"))
            .collect();
        let (got, err) = drain(&mut Merge::new(iters));
        prop_assert!(err.is_none());
        prop_assert_eq!(got, want);
    }
}
