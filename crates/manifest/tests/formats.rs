//! Round trips, byte identity, determinism, empty files, footer metadata.

mod common;

use std::collections::BTreeMap;

use arrow_schema::{DataType, TimeUnit};
use common::{exclusion_row, exclusion_rows_of, manifest_row, manifest_rows_of, read_parquet};
use parquet::file::reader::{FileReader, SerializedFileReader};
use provindex_manifest::{ExclusionRow, ManifestFormat, ManifestRow, WriterOptions, write_to_vec};

fn options() -> WriterOptions {
    WriterOptions {
        metadata: BTreeMap::from([
            ("provindex.index_digest".to_owned(), "d1g35t".to_owned()),
            ("provindex.manifest_version".to_owned(), "1".to_owned()),
        ]),
        ..WriterOptions::default()
    }
}

fn rows(n: u64) -> Vec<ManifestRow> {
    (0..n).map(manifest_row).collect()
}

#[test]
fn parquet_round_trips_through_the_arrow_reader() {
    let input = rows(2_500);
    let small_groups = WriterOptions {
        row_group_rows: 1_000,
        ..options()
    };
    let (bytes, summary) = write_to_vec(ManifestFormat::Parquet, &small_groups, &input).unwrap();
    assert_eq!(summary.rows, 2_500);
    assert_eq!(summary.row_groups, 3);
    assert_eq!(summary.bytes, bytes.len() as u64);
    let (schema, batches, groups) = read_parquet(bytes);
    assert_eq!(groups, 3);
    assert_eq!(
        schema.field_with_name("capture_time").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert_eq!(
        schema.field_with_name("tokens").unwrap().data_type(),
        &DataType::UInt64
    );
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "content_id",
            "sha256",
            "record_id",
            "url",
            "crawl",
            "capture_time",
            "location_uri",
            "location_offset",
            "location_length",
            "location_framing",
            "tokens",
            "language",
            "license",
            "cluster_id"
        ]
    );
    assert_eq!(manifest_rows_of(&batches), input);
}

#[test]
fn parquet_footer_carries_the_callers_metadata_and_dictionaries_where_useful() {
    let (bytes, _) = write_to_vec(ManifestFormat::Parquet, &options(), &rows(100)).unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
    let meta = reader.metadata().file_metadata();
    let kv: BTreeMap<_, _> = meta
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(kv["provindex.index_digest"], "d1g35t");
    assert_eq!(kv["provindex.manifest_version"], "1");
    assert!(kv.contains_key("ARROW:schema"));
    assert!(meta.created_by().unwrap().starts_with("parquet-rs version"));
    let group = reader.metadata().row_group(0);
    let dictionary = |name: &str| {
        group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .unwrap()
            .dictionary_page_offset()
            .is_some()
    };
    assert!(dictionary("language") && dictionary("crawl") && dictionary("location_uri"));
    assert!(!dictionary("content_id") && !dictionary("url"));
}

#[test]
fn reserved_metadata_keys_are_refused() {
    let mut bad = options();
    bad.metadata.insert("ARROW:schema".into(), "x".into());
    assert!(write_to_vec::<ManifestRow>(ManifestFormat::Parquet, &bad, &[]).is_err());
}

#[test]
fn jsonl_round_trips_and_keeps_the_nested_location() {
    let input = rows(50);
    let (bytes, summary) = write_to_vec(ManifestFormat::Jsonl, &options(), &input).unwrap();
    assert_eq!(summary.bytes, bytes.len() as u64);
    let text = String::from_utf8(bytes).unwrap();
    let back: Vec<ManifestRow> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, input);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["location"]["framing"], "gzip_member");
    assert_eq!(first["capture_time"], 1_700_000_000);
}

#[test]
fn jsonl_zst_decompresses_to_the_plain_jsonl_bytes() {
    let input = rows(3_000);
    let (plain, _) = write_to_vec(ManifestFormat::Jsonl, &options(), &input).unwrap();
    let (zst, summary) = write_to_vec(ManifestFormat::JsonlZst, &options(), &input).unwrap();
    assert_eq!(summary.bytes, zst.len() as u64);
    assert!(
        zst.len() < plain.len() / 3,
        "{} vs {}",
        zst.len(),
        plain.len()
    );
    assert_eq!(zstd::stream::decode_all(&zst[..]).unwrap(), plain);
}

#[test]
fn same_rows_give_the_same_bytes_in_every_format() {
    for format in ManifestFormat::ALL {
        let a = write_to_vec(format, &options(), &rows(1_234)).unwrap().0;
        let b = write_to_vec(format, &options(), &rows(1_234)).unwrap().0;
        assert_eq!(a, b, "{format}");
        let e1 = write_to_vec(
            format,
            &options(),
            &(0..99).map(exclusion_row).collect::<Vec<_>>(),
        );
        let e2 = write_to_vec(
            format,
            &options(),
            &(0..99).map(exclusion_row).collect::<Vec<_>>(),
        );
        assert_eq!(e1.unwrap().0, e2.unwrap().0, "exclusions {format}");
    }
}

#[test]
fn an_empty_manifest_is_a_valid_file_in_every_format() {
    let (jsonl, s) = write_to_vec::<ManifestRow>(ManifestFormat::Jsonl, &options(), &[]).unwrap();
    assert!(jsonl.is_empty());
    assert_eq!(s.rows, 0);
    let (zst, _) = write_to_vec::<ManifestRow>(ManifestFormat::JsonlZst, &options(), &[]).unwrap();
    assert!(!zst.is_empty(), "a zstd frame even when empty");
    assert!(zstd::stream::decode_all(&zst[..]).unwrap().is_empty());
    let (parquet, s) =
        write_to_vec::<ManifestRow>(ManifestFormat::Parquet, &options(), &[]).unwrap();
    assert_eq!(s.row_groups, 0);
    let (schema, batches, groups) = read_parquet(parquet);
    assert_eq!(groups, 0);
    assert_eq!(schema.fields().len(), 14);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    let (parquet, _) =
        write_to_vec::<ExclusionRow>(ManifestFormat::Parquet, &options(), &[]).unwrap();
    assert_eq!(read_parquet(parquet).0.fields().len(), 6);
}

#[test]
fn exclusions_round_trip_in_every_format() {
    let input: Vec<ExclusionRow> = (0..300).map(exclusion_row).collect();
    let (bytes, _) = write_to_vec(ManifestFormat::Parquet, &options(), &input).unwrap();
    let (schema, batches, _) = read_parquet(bytes);
    assert!(
        schema
            .field_with_name("cluster_keeper")
            .unwrap()
            .is_nullable()
    );
    assert_eq!(exclusion_rows_of(&batches), input);
    let (plain, _) = write_to_vec(ManifestFormat::Jsonl, &options(), &input).unwrap();
    let back: Vec<ExclusionRow> = std::str::from_utf8(&plain)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, input);
    assert!(std::str::from_utf8(&plain).unwrap().starts_with(
        r#"{"cluster_keeper":null,"content_id":"000000000000000000000000def00000","detail":"robots_txt","reason":"crawl_signal:robots_txt","#
    ));
    let (zst, _) = write_to_vec(ManifestFormat::JsonlZst, &options(), &input).unwrap();
    assert_eq!(zstd::stream::decode_all(&zst[..]).unwrap(), plain);
}
