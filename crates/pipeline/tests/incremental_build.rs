//! Incremental builds (issue 18): new crawl files added to a base index
//! (`LocalBuild::base`, `provindex index --base`) give the index a build
//! from scratch over the base's inputs and the new ones gives — the same
//! digest, counts and input list — on real crawl files: the gov.uk revisit
//! crawl added to an index of the crawl it revisits, every test crawl file
//! split between a partitioned base and the new inputs, and a real-text
//! corpus split 90/10.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use provindex_index::IndexReader;
use provindex_pipeline::publish::Publication;
use provindex_pipeline::{BuildReport, LocalBuild, build_local};

fn warc(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus/warc")
        .join(name)
        .display()
        .to_string()
}

fn config(
    inputs: Vec<String>,
    out: &Path,
    base: Option<&Path>,
    index_partitions: u32,
) -> LocalBuild {
    LocalBuild {
        inputs,
        skip_failed_inputs: false,
        out: out.to_path_buf(),
        crawl: "incremental".into(),
        workers: 2,
        built_at: 0,
        robots: None,
        staging: None,
        partitions: 0,
        no_signals: false,
        signing_key: None,
        pii_key: None,
        index_partitions,
        base: base.map(|b| b.display().to_string()),
    }
}

fn build(
    inputs: Vec<String>,
    out: &Path,
    base: Option<&Path>,
    index_partitions: u32,
) -> BuildReport {
    build_local(&config(inputs, out, base, index_partitions))
        .unwrap_or_else(|e| panic!("build of {}: {e:#}", out.display()))
}

/// The facts two builds of the same corpus share.
fn assert_same_index(incremental: &BuildReport, scratch: &BuildReport) {
    let (a, b) = (&incremental.manifest, &scratch.manifest);
    assert_eq!(a.digest, b.digest, "digest");
    assert_eq!(
        (
            a.captures,
            a.contents,
            a.urls,
            a.clusters,
            a.clustered_contents
        ),
        (
            b.captures,
            b.contents,
            b.urls,
            b.clusters,
            b.clustered_contents
        ),
        "captures, contents, urls, clusters, clustered contents"
    );
    assert_eq!(a.inputs, b.inputs, "inputs");
    assert_eq!(
        (
            incremental.revisits_resolved,
            incremental.revisits_unresolved
        ),
        (scratch.revisits_resolved, scratch.revisits_unresolved),
        "revisits resolved, unresolved"
    );
}

#[test]
fn the_revisit_crawl_added_to_an_index_of_the_crawl_it_revisits_equals_building_both() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = (
        warc("gov.uk-2014-crawl-a.warc.gz"),
        warc("gov.uk-2014-crawl-b-revisits.warc.gz"),
    );
    let base_dir = tmp.path().join("base");
    let base = build(vec![first.clone()], &base_dir, None, 1);
    let incremental = build(
        vec![second.clone()],
        &tmp.path().join("incremental"),
        Some(&base_dir),
        1,
    );
    let scratch = build(vec![first, second], &tmp.path().join("scratch"), None, 1);
    assert_same_index(&incremental, &scratch);
    // The revisits of the second crawl found their originals in the base.
    assert_eq!(incremental.revisits_resolved, 55);
    assert!(incremental.manifest.captures > base.manifest.captures);
    // The base is read, never written.
    let reopened = IndexReader::open(&base_dir).unwrap();
    assert_eq!(reopened.digest().unwrap(), base.manifest.digest);
}

#[test]
fn every_test_crawl_added_to_a_partitioned_base_equals_the_build_from_scratch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus/warc");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        // One file per crawl: the excerpt comes plain and gzipped.
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let (base_files, new_files): (Vec<_>, Vec<_>) = files
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, String)>| v.into_iter().map(|(_, f)| f).collect::<Vec<_>>();

    let tmp = tempfile::tempdir().unwrap();
    let base_dir = tmp.path().join("base");
    build(strip(base_files), &base_dir, None, 4);
    let incremental = build(
        strip(new_files),
        &tmp.path().join("incremental"),
        Some(&base_dir),
        2,
    );
    let scratch = build(files, &tmp.path().join("scratch"), None, 1);
    assert_same_index(&incremental, &scratch);
    assert!(
        scratch.site_signals.files_kept > 0,
        "the corpus has site files"
    );
    assert_eq!(incremental.site_signals, scratch.site_signals);
}

/// The paragraphs (100 bytes or more) of the test corpus's Common Crawl
/// text documents (Dolma format), one record each, keeping the document's
/// fields: 419 real passages, some repeated boilerplate among them.
fn passages() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus/jsonl");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut passages = Vec::new();
    for file in files {
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&file).unwrap(),
        ));
        for line in reader.lines() {
            let doc: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            let text = doc["text"].as_str().unwrap().to_string();
            let id = doc["id"].as_str().unwrap().to_string();
            for (n, paragraph) in text.split('\n').filter(|p| p.len() >= 100).enumerate() {
                let mut passage = doc.clone();
                passage["text"] = paragraph.into();
                passage["id"] = format!("{id}#p{n}").into();
                passages.push(passage.to_string());
            }
        }
    }
    passages
}

#[test]
fn a_real_text_corpus_split_90_10_equals_the_build_from_scratch() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = passages();
    assert!(lines.len() >= 400, "{} passages", lines.len());
    let cut = lines.len() * 9 / 10;
    let write = |name: &str, part: &[String]| -> String {
        let path: PathBuf = tmp.path().join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        for line in part {
            writeln!(file, "{line}").unwrap();
        }
        path.display().to_string()
    };
    // The new crawl: the last tenth, and pages of the base captured again —
    // every 20th unchanged, every 20th (offset 10) with its last word gone —
    // so exact and near duplicates span base and new inputs.
    let mut new_part = lines[cut..].to_vec();
    for (n, line) in lines[..cut].iter().enumerate() {
        let mut passage: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = passage["id"].as_str().unwrap().to_string();
        if n % 20 == 0 {
            passage["id"] = format!("{id}#again").into();
        } else if n % 20 == 10 {
            let text = passage["text"].as_str().unwrap();
            let edited = text
                .rsplit_once(' ')
                .map_or(text, |(head, _)| head)
                .to_string();
            passage["id"] = format!("{id}#edited").into();
            passage["text"] = edited.into();
        } else {
            continue;
        }
        new_part.push(passage.to_string());
    }
    let (ninety, ten) = (
        write("part-90.jsonl", &lines[..cut]),
        write("part-10.jsonl", &new_part),
    );

    let base_dir = tmp.path().join("base");
    let base = build(vec![ninety.clone()], &base_dir, None, 1);
    let incremental = build(
        vec![ten.clone()],
        &tmp.path().join("incremental"),
        Some(&base_dir),
        1,
    );
    let scratch = build(vec![ninety, ten], &tmp.path().join("scratch"), None, 1);
    assert_same_index(&incremental, &scratch);
    assert!(incremental.manifest.contents > base.manifest.contents);
    assert!(scratch.manifest.clusters > 0, "near-duplicate passages");
    assert!(
        scratch.manifest.duplicate_captures == 0
            && scratch.manifest.captures > scratch.manifest.contents
    );
}

#[test]
fn a_base_that_is_not_an_index_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-index");
    let single = vec![warc("cc-single-response.warc.gz")];
    let error = build_local(&config(
        single.clone(),
        &tmp.path().join("out"),
        Some(&missing),
        1,
    ))
    .expect_err("a missing base");
    let message = error.to_string();
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("no index directory"),
        "{message}"
    );

    // A directory that is not an index: RocksDB's own refusal, named.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let error = build_local(&config(single, &tmp.path().join("out2"), Some(&empty), 1))
        .expect_err("an empty base");
    assert!(
        error
            .to_string()
            .contains(&format!("base index {}", empty.display())),
        "{error}"
    );
    assert!(
        !tmp.path().join("out2").join("CURRENT").exists(),
        "nothing written"
    );
}

#[test]
fn unchanged_partitions_of_a_publication_are_referenced_not_copied() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus/warc");
    let added = warc("cc-single-response.warc.gz");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .map(|p| p.display().to_string())
        .filter(|f| *f != added)
        .collect();
    files.sort();
    let tmp = tempfile::tempdir().unwrap();
    let base_dir = tmp.path().join("base");
    build(files.clone(), &base_dir, None, 64);
    let next_dir = tmp.path().join("next");
    let incremental = build(vec![added.clone()], &next_dir, Some(&base_dir), 64);
    files.push(added);
    let scratch = build(files, &tmp.path().join("scratch"), None, 1);
    assert_same_index(&incremental, &scratch);

    let publication = |dir: &Path| -> Publication {
        serde_json::from_slice(&std::fs::read(dir.join("publication.json")).unwrap()).unwrap()
    };
    let (base, next) = (publication(&base_dir), publication(&next_dir));
    let base_location = base_dir.display().to_string();
    let referenced: Vec<&str> = next
        .partitions
        .iter()
        .filter(|p| p.location.as_deref() == Some(base_location.as_str()))
        .map(|p| p.id.as_str())
        .collect();
    // One capture adds rows to at most two partitions (its URL's, its content's).
    assert!(
        referenced.len() >= 62,
        "{} referenced: {referenced:?}",
        referenced.len()
    );
    for partition in &next.partitions {
        let stored = next_dir.join("partitions").join(&partition.id);
        match &partition.location {
            Some(_) => {
                // Referenced: no copy, and the base's own listing.
                assert!(!stored.exists(), "{} copied", partition.id);
                let original = base
                    .partitions
                    .iter()
                    .find(|b| b.id == partition.id)
                    .unwrap();
                assert_eq!(partition.files, original.files);
                assert_eq!(partition.chunks, original.chunks);
                // Where it points, the partition opens with the digest listed.
                let located = Path::new(partition.location.as_deref().unwrap())
                    .join("partitions")
                    .join(&partition.id);
                let reader = IndexReader::open(&located).unwrap();
                assert_eq!(
                    Some(&reader.manifest().digest),
                    partition.chunks.as_ref().map(|c| &c.digest)
                );
            }
            None => assert!(stored.join("CURRENT").is_file(), "{} missing", partition.id),
        }
    }
}
