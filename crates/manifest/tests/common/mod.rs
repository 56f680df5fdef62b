//! Synthetic rows shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use provindex_manifest::{ExclusionRow, Location, ManifestRow};

pub fn manifest_row(i: u64) -> ManifestRow {
    ManifestRow {
        capture_time: 1_700_000_000 + i as i64,
        cluster_id: format!("{:032x}", i / 3),
        content_id: format!("{:032x}", 0xabc0_0000_0000_u128 + i as u128),
        crawl: format!("CC-MAIN-2024-{:02}", 10 + i % 3),
        language: ["en", "de", "und"][(i % 3) as usize].to_owned(),
        license: if i.is_multiple_of(5) {
            "CC-BY-4.0"
        } else {
            "unknown"
        }
        .to_owned(),
        location: Location {
            framing: "gzip_member".to_owned(),
            length: 1000 + i % 977,
            offset: i * 4096,
            uri: format!("s3://commoncrawl/crawl-data/seg-{}.warc.gz", i % 7),
        },
        record_id: format!("<urn:uuid:{:08x}-0000-4000-8000-{:012x}>", i, i),
        sha256: format!("{:064x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        tokens: 100 + i % 1000,
        url: format!("https://example{}.org/page/{i}?q=\"é\"", i % 11),
    }
}

pub fn exclusion_row(i: u64) -> ExclusionRow {
    let (reason, detail, keeper) = match i % 3 {
        0 => ("crawl_signal:robots_txt", "robots_txt".to_owned(), None),
        1 => ("registry:domain", format!("entry:{i}"), None),
        _ => (
            "near_duplicate",
            String::new(),
            Some(format!("{:032x}", i / 3)),
        ),
    };
    ExclusionRow {
        cluster_keeper: keeper,
        content_id: format!("{:032x}", 0xdef0_0000_u128 + i as u128),
        detail,
        reason: reason.to_owned(),
        sha256: format!("{:064x}", i),
        url: format!("https://excluded.example/{i}"),
    }
}

pub fn read_parquet(bytes: Vec<u8>) -> (Arc<arrow_schema::Schema>, Vec<RecordBatch>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
    let groups = builder.metadata().num_row_groups();
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches, groups)
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(name).unwrap().as_string::<i32>();
    (0..col.len())
        .map(|i| (!col.is_null(i)).then(|| col.value(i).to_owned()))
        .collect()
}

fn u64s(batch: &RecordBatch, name: &str) -> Vec<u64> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

pub fn manifest_rows_of(batches: &[RecordBatch]) -> Vec<ManifestRow> {
    let mut rows = Vec::new();
    for b in batches {
        let s = |n| {
            strings(b, n)
                .into_iter()
                .map(Option::unwrap)
                .collect::<Vec<_>>()
        };
        let (content_id, sha256, record_id, url, crawl) = (
            s("content_id"),
            s("sha256"),
            s("record_id"),
            s("url"),
            s("crawl"),
        );
        let (uri, framing, language, license, cluster) = (
            s("location_uri"),
            s("location_framing"),
            s("language"),
            s("license"),
            s("cluster_id"),
        );
        let (offset, length, tokens) = (
            u64s(b, "location_offset"),
            u64s(b, "location_length"),
            u64s(b, "tokens"),
        );
        let time = b
            .column_by_name("capture_time")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>();
        for i in 0..b.num_rows() {
            rows.push(ManifestRow {
                capture_time: time.value(i) / 1000,
                cluster_id: cluster[i].clone(),
                content_id: content_id[i].clone(),
                crawl: crawl[i].clone(),
                language: language[i].clone(),
                license: license[i].clone(),
                location: Location {
                    framing: framing[i].clone(),
                    length: length[i],
                    offset: offset[i],
                    uri: uri[i].clone(),
                },
                record_id: record_id[i].clone(),
                sha256: sha256[i].clone(),
                tokens: tokens[i],
                url: url[i].clone(),
            });
        }
    }
    rows
}

pub fn exclusion_rows_of(batches: &[RecordBatch]) -> Vec<ExclusionRow> {
    let mut rows = Vec::new();
    for b in batches {
        let s = |n| strings(b, n);
        let (content_id, sha256, url, reason, detail, keeper) = (
            s("content_id"),
            s("sha256"),
            s("url"),
            s("reason"),
            s("detail"),
            s("cluster_keeper"),
        );
        for i in 0..b.num_rows() {
            rows.push(ExclusionRow {
                cluster_keeper: keeper[i].clone(),
                content_id: content_id[i].clone().unwrap(),
                detail: detail[i].clone().unwrap(),
                reason: reason[i].clone().unwrap(),
                sha256: sha256[i].clone().unwrap(),
                url: url[i].clone().unwrap(),
            });
        }
    }
    rows
}
