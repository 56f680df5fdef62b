//! Builder and reader against a real RocksDB in a temp dir: URL scans in every
//! mode with pagination, content links and aggregates, order-independent
//! digests, and refusal of unfinished indexes.

use std::collections::BTreeSet;

use provindex_index::records::{CaptureRecord, RecordKind};
use provindex_index::{BuildFacts, IndexBuilder, IndexReader, NewContent, UrlScan, keys, schema};

/// (url, SURT key, time) of real pages from the shared corpus, plus a port and
/// a look-alike host that a domain scan must not include.
const PAGES: &[(&str, &str, i64)] = &[
    ("https://www.gov.uk/", "uk,gov)/", 1_400_000_000),
    ("https://www.gov.uk/", "uk,gov)/", 1_400_000_660),
    (
        "https://www.gov.uk/browse/benefits",
        "uk,gov)/browse/benefits",
        1_400_000_100,
    ),
    (
        "https://www.gov.uk/browse/births-deaths-marriages",
        "uk,gov)/browse/births-deaths-marriages",
        1_400_000_200,
    ),
    (
        "https://assets.gov.uk/css/main.css",
        "uk,gov,assets)/css/main.css",
        1_400_000_300,
    ),
    (
        "http://gov.uk:8080/admin",
        "uk,gov:8080)/admin",
        1_400_000_400,
    ),
    ("https://gov-uk.example/", "example,gov-uk)/", 1_400_000_500),
    (
        "https://www.iana.org/domains",
        "org,iana)/domains",
        1_300_000_000,
    ),
];

fn content(text: &str) -> NewContent {
    let id = u128::from_be_bytes(*b"0123456789abcdef") ^ text.len() as u128;
    let mut sha = [0u8; 32];
    sha[..text.len().min(32)].copy_from_slice(&text.as_bytes()[..text.len().min(32)]);
    NewContent {
        content_id: id,
        sha256: sha,
        length_bytes: text.len() as u64,
        token_count: text.split_whitespace().count() as u64,
        language: String::new(),
        preview: text.to_owned(),
        cluster: None,
        pii: Default::default(),
        pii_keys: Vec::new(),
    }
}

fn build(dir: &std::path::Path, order: &[usize]) -> IndexReader {
    let texts = ["welcome to gov uk", "benefits and support"];
    let mut builder = IndexBuilder::create(dir).expect("create");
    for &i in order {
        let (url, surt, time) = PAGES[i];
        let text = texts[i % 2];
        let c = content(text);
        let record = CaptureRecord {
            url: url.into(),
            surt: surt.into(),
            capture_time: time,
            content_id: c.content_id.to_be_bytes().to_vec(),
            record_kind: RecordKind::Response.into(),
            ..Default::default()
        };
        assert!(
            builder
                .add_capture(i as u128 + 1, &record, Some(&c))
                .expect("add")
        );
    }
    // The same capture id again is skipped, not double counted.
    let (url, surt, time) = PAGES[order[0]];
    let again = CaptureRecord {
        url: url.into(),
        surt: surt.into(),
        capture_time: time,
        ..Default::default()
    };
    assert!(
        !builder
            .add_capture(order[0] as u128 + 1, &again, None)
            .expect("add")
    );
    let summary = builder
        .finish(BuildFacts {
            normalization_version: 1,
            crawls: vec!["test".into()],
            ..Default::default()
        })
        .expect("finish");
    assert_eq!(summary.manifest.captures, PAGES.len() as u64);
    assert_eq!(summary.manifest.duplicate_captures, 1);
    assert_eq!(summary.manifest.contents, 2);
    IndexReader::open(dir).expect("open")
}

fn scan_all(
    reader: &IndexReader,
    prefixes: Vec<Vec<u8>>,
    reverse: bool,
    limit: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = reader
            .scan_urls(&UrlScan {
                prefixes: prefixes.clone(),
                from_time: None,
                to_time: None,
                after: after.clone(),
                limit,
                reverse,
            })
            .expect("scan");
        out.extend(page.hits.iter().map(|h| format!("{}@{}", h.surt, h.time)));
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}

fn domain_prefixes(domain: &str) -> Vec<Vec<u8>> {
    [")", ",", ":"]
        .iter()
        .map(|b| format!("{domain}{b}").into_bytes())
        .collect()
}

#[test]
fn url_scans_page_completely_in_both_directions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reader = build(dir.path(), &(0..PAGES.len()).collect::<Vec<_>>());

    let domain = scan_all(&reader, domain_prefixes("uk,gov"), false, 1000);
    assert_eq!(domain.len(), 6, "{domain:?}");
    assert!(domain.iter().all(|k| !k.starts_with("example")));
    for limit in 1..=4 {
        assert_eq!(
            scan_all(&reader, domain_prefixes("uk,gov"), false, limit),
            domain
        );
        let mut reversed = scan_all(&reader, domain_prefixes("uk,gov"), true, limit);
        reversed.reverse();
        assert_eq!(reversed, domain, "reverse, limit {limit}");
    }
    let unique: BTreeSet<_> = domain.iter().collect();
    assert_eq!(unique.len(), domain.len(), "no duplicates across pages");

    let exact = scan_all(&reader, vec![b"uk,gov)/\0".to_vec()], false, 1);
    assert_eq!(exact, ["uk,gov)/@1400000000", "uk,gov)/@1400000660"]);
    let newest_first = scan_all(&reader, vec![b"uk,gov)/\0".to_vec()], true, 1);
    assert_eq!(newest_first, ["uk,gov)/@1400000660", "uk,gov)/@1400000000"]);
    let prefix = scan_all(&reader, vec![b"uk,gov)/browse".to_vec()], false, 1);
    assert_eq!(prefix.len(), 2);

    let ranged = reader
        .scan_urls(&UrlScan {
            prefixes: domain_prefixes("uk,gov"),
            from_time: Some(1_400_000_100),
            to_time: Some(1_400_000_300),
            after: None,
            limit: 100,
            reverse: false,
        })
        .expect("scan");
    assert_eq!(ranged.hits.len(), 3);
    assert!(ranged.next.is_none());
}

#[test]
fn contents_link_their_captures_and_aggregate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reader = build(dir.path(), &(0..PAGES.len()).collect::<Vec<_>>());
    let welcome = content("welcome to gov uk");
    let record = reader
        .content(welcome.content_id)
        .expect("read")
        .expect("present");
    assert_eq!(record.capture_count, 4);
    assert_eq!(record.first_seen, Some(1_400_000_000));
    assert_eq!(
        reader.content_id_by_sha256(&welcome.sha256).expect("sha"),
        Some(welcome.content_id)
    );
    let (first, more) = reader
        .content_captures(welcome.content_id, None, 3)
        .expect("page");
    assert_eq!(first.len(), 3);
    assert!(more);
    let (rest, more) = reader
        .content_captures(welcome.content_id, first.last().map(|(id, _)| *id), 3)
        .expect("page");
    assert_eq!(rest.len(), 1);
    assert!(!more);
    for (capture_id, record) in first.iter().chain(&rest) {
        let stored = reader.capture(*capture_id).expect("read");
        assert_eq!(stored.as_ref(), Some(record));
        assert_eq!(record.content_id(), Some(welcome.content_id));
    }
}

#[test]
fn digest_does_not_depend_on_insertion_order() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let forward: Vec<usize> = (0..PAGES.len()).collect();
    let backward: Vec<usize> = forward.iter().rev().copied().collect();
    let first = build(a.path(), &forward);
    let second = build(b.path(), &backward);
    assert_eq!(first.manifest().digest, second.manifest().digest);
    assert_eq!(first.digest().expect("digest"), first.manifest().digest);
    assert_eq!(first.manifest().digest.len(), 64);
}

#[test]
fn unfinished_or_foreign_directories_do_not_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = IndexReader::open(dir.path())
        .err()
        .expect("empty dir is no index");
    assert!(error.to_string().contains("no RocksDB database"), "{error}");

    let unfinished = dir.path().join("unfinished");
    let mut builder = IndexBuilder::create(&unfinished).expect("create");
    builder
        .add_capture(1, &CaptureRecord::default(), None)
        .expect("add");
    drop(builder);
    let error = IndexReader::open(&unfinished).err().expect("no manifest");
    assert!(error.to_string().contains("no manifest"), "{error}");

    let error = IndexBuilder::create(&unfinished).err().expect("exists");
    assert!(error.to_string().contains("already exists"), "{error}");
    let _ = keys::ID_LEN;
}

#[test]
fn an_index_of_another_format_version_names_both_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v3");
    drop(build(&path, &(0..PAGES.len()).collect::<Vec<_>>()));
    {
        let store = provindex_store::Store::open(
            &path,
            &schema::TABLES,
            provindex_store::OpenMode::ReadWrite,
            1 << 20,
        )
        .expect("open as a store");
        let mut manifest = store
            .get::<schema::Meta>(&schema::MetaKey::Manifest)
            .expect("read manifest")
            .expect("a manifest");
        manifest.format_version = 3;
        store
            .put::<schema::Meta>(
                &schema::MetaKey::Manifest,
                &manifest,
                provindex_store::Durability::Synced,
            )
            .expect("write manifest");
    }
    let error = IndexReader::open(&path).err().expect("version 3 refused");
    let text = error.to_string();
    assert!(text.contains("index format version 3"), "{text}");
    assert!(
        text.contains(&format!(
            "reads version {}",
            provindex_index::FORMAT_VERSION
        )),
        "{text}"
    );
}

/// Two contents whose ids share their first 4 bytes and one that does not,
/// each captured once and sketched with the same band keys; and two
/// contents whose SHA-256 values share their first 8 bytes.
fn build_prefix_collisions(dir: &std::path::Path) -> (IndexReader, [u128; 3]) {
    let shared = 0x0123_4567_u128 << 96;
    let ids = [shared | 1, shared | 2, (0x0123_4568_u128 << 96) | 1];
    let mut builder = IndexBuilder::create(dir).expect("create");
    for (i, id) in ids.iter().enumerate() {
        let mut sha = [7u8; 32];
        sha[31] = i as u8;
        let c = NewContent {
            content_id: *id,
            sha256: sha,
            ..content("text")
        };
        let record = CaptureRecord {
            url: format!("https://example.com/{i}"),
            surt: format!("com,example)/{i}"),
            capture_time: 1_400_000_000,
            content_id: id.to_be_bytes().to_vec(),
            ..Default::default()
        };
        assert!(
            builder
                .add_capture(i as u128 + 1, &record, Some(&c))
                .expect("add")
        );
        builder
            .add_sketch(*id, &[1, 2, 3, i as u32], &[10, 20])
            .expect("sketch");
    }
    builder.finish(BuildFacts::default()).expect("finish");
    (IndexReader::open(dir).expect("open"), ids)
}

#[test]
fn contents_sharing_an_id_or_sha256_prefix_are_told_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (reader, ids) = build_prefix_collisions(dir.path());
    // Both bands hold all three contents, each by its own id.
    for (band, key) in [(0, 10), (1, 20)] {
        let (bucket, more) = reader.lsh_bucket(band, key, 10).expect("bucket");
        assert_eq!(bucket, ids.to_vec(), "band {band}");
        assert!(!more);
    }
    let (first, more) = reader.lsh_bucket(0, 10, 2).expect("bucket");
    assert_eq!((first, more), (ids[..2].to_vec(), true));
    let mut rows = Vec::new();
    reader
        .for_each_lsh_row(|band, key, id| {
            rows.push((band, key, id));
            Ok::<_, provindex_index::IndexError>(())
        })
        .expect("rows");
    assert_eq!(
        rows,
        [
            (0, 10, ids[0]),
            (0, 10, ids[1]),
            (0, 10, ids[2]),
            (1, 20, ids[0]),
            (1, 20, ids[1]),
            (1, 20, ids[2])
        ]
    );
    // The shared prefix is stored in full, the other by its 4 bytes.
    let lsh = reader
        .table_sizes()
        .expect("sizes")
        .into_iter()
        .find(|t| t.table == "lsh")
        .expect("lsh");
    assert_eq!(lsh.rows, 6);
    assert_eq!(
        lsh.key_bytes,
        2 * (2 * keys::LSH_KEY_LEN + keys::LSH_SHORT_KEY_LEN) as u64
    );
    // Every SHA-256 shares its first 8 bytes with the others: the full
    // value decides.
    for (i, id) in ids.iter().enumerate() {
        let mut sha = [7u8; 32];
        sha[31] = i as u8;
        assert_eq!(reader.content_id_by_sha256(&sha).expect("sha"), Some(*id));
    }
    let mut absent = [7u8; 32];
    absent[31] = 9;
    assert_eq!(reader.content_id_by_sha256(&absent).expect("sha"), None);
    assert_eq!(reader.content_id_by_sha256(&[8u8; 32]).expect("sha"), None);
}
