//! A partitioned build (issue 17) against the one-partition build of the same
//! real crawl files (revisits across files included): the same digest, every
//! row in the partition the partitioning names, the counts summing up, and
//! the copies each partition needs to answer on its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use provindex_index::partition::Partitioning;
use provindex_index::{IndexReader, PartitionedIndex};
use provindex_pipeline::publish::Publication;
use provindex_pipeline::{LocalBuild, build_local};

fn corpus() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus/warc")
        .display()
        .to_string()
}

fn build(out: PathBuf, index_partitions: u32, workers: usize) -> String {
    let report = build_local(&LocalBuild {
        inputs: vec![corpus()],
        skip_failed_inputs: false,
        out,
        crawl: "partitioned".into(),
        workers,
        built_at: 0,
        robots: None,
        staging: None,
        partitions: 0,
        no_signals: false,
        signing_key: None,
        pii_key: None,
        index_partitions,
        base: None,
    })
    .expect("build");
    assert!(report.revisits_resolved > 0, "the corpus has revisits");
    report.manifest.digest
}

#[test]
fn four_partitions_hold_the_one_partition_index_split_by_the_partitioning() {
    let tmp = tempfile::tempdir().unwrap();
    let whole_dir = tmp.path().join("whole");
    let expected = build(whole_dir.clone(), 1, 2);
    let parted_dir = tmp.path().join("parted");
    assert_eq!(build(parted_dir.clone(), 4, 3), expected, "digest");

    let publication: Publication = serde_json::from_slice(
        &std::fs::read(parted_dir.join("publication.json")).expect("publication.json"),
    )
    .expect("publication");
    assert_eq!(publication.index.digest, expected);
    assert_eq!(publication.partitions.len(), 4);

    let whole = IndexReader::open(&whole_dir).expect("open whole");
    let partitioning = Partitioning::new(4).unwrap();
    let parts: Vec<IndexReader> = (0..4)
        .map(|p| {
            let reader = IndexReader::open(&parted_dir.join(format!("partitions/p{p:04}")))
                .expect("open partition");
            assert_eq!(reader.manifest().partition, p);
            assert_eq!(reader.manifest().partitions, 4);
            reader
        })
        .collect();
    let sum = |f: fn(&provindex_index::Manifest) -> u64| -> u64 {
        parts.iter().map(|p| f(p.manifest())).sum()
    };
    let m = whole.manifest();
    assert_eq!(sum(|m| m.captures), m.captures);
    assert_eq!(sum(|m| m.contents), m.contents);
    assert_eq!(sum(|m| m.urls), m.urls);
    assert_eq!(sum(|m| m.clusters), m.clusters);
    assert_eq!(publication.index.captures, m.captures);

    // Every capture in its owner, equal, and in no other partition's
    // `captures` (format 13); every content in its holder, equal, with each
    // of its captures readable there (copies in `content_captures`) and its
    // signature, which no other partition holds (not copied: format 12).
    let mut captures = 0;
    let mut contents_of: HashMap<u128, Vec<u128>> = HashMap::new();
    whole
        .for_each_capture::<provindex_index::IndexError>(|id, record| {
            captures += 1;
            let owner = partitioning.of_capture(id, &record.surt) as usize;
            for (p, part) in parts.iter().enumerate() {
                let expected = (p == owner).then_some(&record);
                assert_eq!(
                    part.capture(id)?.as_ref(),
                    expected,
                    "capture {id:032x} in p{p} (owned by p{owner})"
                );
            }
            if let Some(content) = record.content_id() {
                contents_of.entry(content).or_default().push(id);
                let holder = partitioning.of_content(content) as usize;
                for (p, part) in parts.iter().enumerate() {
                    let expected = match p == holder {
                        true => whole.signature(content)?,
                        false => None,
                    };
                    assert_eq!(
                        part.signature(content)?,
                        expected,
                        "signature of {content:032x} in p{p} (held by p{holder})"
                    );
                    assert_eq!(part.holds_content(content), p == holder);
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(captures > 100, "{captures} captures");
    let mut spread = [0usize; 4];
    whole
        .for_each_content::<provindex_index::IndexError>(|id, record| {
            let holder = partitioning.of_content(id) as usize;
            spread[holder] += 1;
            let part = &parts[holder];
            assert_eq!(
                part.content(id)?.as_ref(),
                Some(&record),
                "content {id:032x}"
            );
            let (captures, _) = part.content_captures(id, None, 10_000)?;
            let (whole_captures, _) = whole.content_captures(id, None, 10_000)?;
            assert_eq!(captures, whole_captures, "captures of {id:032x}");
            assert_eq!(
                part.content_id_by_sha256(&record.sha256.clone().try_into().unwrap())?,
                Some(id)
            );
            for other in parts.iter().filter(|p| !std::ptr::eq(*p, part)) {
                assert!(other.content(id)?.is_none(), "content {id:032x} held twice");
            }
            Ok(())
        })
        .unwrap();
    assert!(
        spread.iter().all(|n| *n > 0),
        "contents spread over every partition: {spread:?}"
    );
    assert!(!contents_of.is_empty());
}

/// The partitions' owned rows assembled into one database are the
/// one-partition index: the same digest, the same rows in every table, the
/// same answers.
#[test]
fn assembled_partitions_are_the_one_partition_index() {
    let tmp = tempfile::tempdir().unwrap();
    let whole_dir = tmp.path().join("whole");
    let expected = build(whole_dir.clone(), 1, 1);
    let parted_dir = tmp.path().join("parted");
    assert_eq!(build(parted_dir.clone(), 4, 2), expected, "digest");
    let dirs: Vec<PathBuf> = (0..4)
        .map(|p| parted_dir.join(format!("partitions/p{p:04}")))
        .collect();
    let parted = PartitionedIndex::open(&parted_dir, &dirs, Some(&expected)).expect("open");
    let out = tmp.path().join("assembled");
    let assembled = parted.assemble(&out, 8 << 20).expect("assemble");
    let whole = IndexReader::open(&whole_dir).expect("open whole");

    let (a, w) = (assembled.manifest(), whole.manifest());
    assert_eq!(a.digest, expected);
    assert_eq!(a, w, "manifest");
    let rows = |reader: &IndexReader| -> Vec<(&'static str, u64, u64, u64)> {
        reader
            .table_sizes()
            .expect("table sizes")
            .into_iter()
            .filter(|t| t.table != provindex_index::schema::META)
            .map(|t| (t.table, t.rows, t.key_bytes, t.value_bytes))
            .collect()
    };
    let whole_rows = rows(&whole);
    assert!(
        whole_rows.iter().any(|(_, n, _, _)| *n > 100),
        "{whole_rows:?}"
    );
    assert_eq!(rows(&assembled), whole_rows);
    let mut captures = 0;
    whole
        .for_each_capture::<provindex_index::IndexError>(|id, record| {
            captures += 1;
            assert_eq!(assembled.capture(id)?, Some(record));
            Ok(())
        })
        .unwrap();
    assert_eq!(captures, w.captures);

    // The output is never overwritten.
    let again = parted.assemble(&out, 8 << 20);
    assert!(
        matches!(again, Err(provindex_index::IndexError::AlreadyExists(_))),
        "{:?}",
        again.err()
    );
}

#[test]
fn partition_counts_must_be_powers_of_two() {
    let tmp = tempfile::tempdir().unwrap();
    let err = build_local(&LocalBuild {
        inputs: vec![corpus()],
        skip_failed_inputs: false,
        out: tmp.path().join("x"),
        crawl: "c".into(),
        workers: 1,
        built_at: 0,
        robots: None,
        staging: None,
        partitions: 0,
        no_signals: false,
        signing_key: None,
        pii_key: None,
        index_partitions: 3,
        base: None,
    })
    .expect_err("3 partitions");
    assert!(
        err.to_string().contains("index_partitions") && err.to_string().contains("power of two"),
        "{err}"
    );
}
