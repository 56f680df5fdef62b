//! `provindex info`: what an index holds — an index directory, a published
//! index (a local publication directory or an object-store URI, every
//! partition opened as one index, `fetch::open_described`), or one
//! partition's directory.

use std::path::PathBuf;

use anyhow::Context;
use provindex_index::{IndexReader, Manifest, TableSize};
use provindex_pipeline::publish::{KeyRange, Partition, Publication};

use crate::fetch;

pub fn run(
    index: PathBuf,
    json: bool,
    cache_dir: Option<PathBuf>,
    tables: bool,
) -> anyhow::Result<()> {
    let (whole, publication) = fetch::open_described(&index, cache_dir.as_deref())?;
    let view = whole.view();
    let m = view.manifest();
    // Each partition's tables (one for an index directory), then their sum.
    let part_sizes = if tables {
        view.parts()
            .iter()
            .map(|part| {
                part.table_sizes()
                    .with_context(|| format!("walking index {}", part.path().display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let sizes = sum_sizes(&part_sizes);
    let partitions = publication
        .as_ref()
        .map(|p| described_partitions(p, view.parts()))
        .transpose()?;
    if json {
        let mut value = serde_json::to_value(m)?;
        if tables {
            value["tables"] = serde_json::to_value(&sizes)?;
        }
        if let (Some(publication), Some(partitions)) = (&publication, &partitions) {
            value["publication"] = publication_json(publication, partitions, &part_sizes)?;
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("index: {}", index.display());
    if let (Some(publication), Some(partitions)) = (&publication, &partitions) {
        println!(
            "published: {} partition(s), {} bytes (job {})",
            partitions.len(),
            partitions.iter().map(|(p, _)| p.bytes).sum::<u64>(),
            publication.job
        );
    } else if m.partitions > 1 {
        // One partition's directory: its own rows and digest, not the index's.
        println!(
            "partition: {} of {} (counts and digest are this partition's; `info` on the publication describes the index)",
            m.partition, m.partitions
        );
    }
    print_manifest(m);
    if let Some(partitions) = &partitions {
        print_partitions(partitions);
    }
    if tables {
        if partitions.as_ref().is_some_and(|p| p.len() > 1) {
            println!(
                "tables of all partitions (a content's partition also holds copies of its captures owned by others):"
            );
        }
        print_tables(&sizes, m.captures);
    }
    Ok(())
}

/// The publication's partitions, in partition order, each with the
/// manifest of the database opened for it.
fn described_partitions<'a>(
    publication: &'a Publication,
    parts: &'a [IndexReader],
) -> anyhow::Result<Vec<(&'a Partition, &'a Manifest)>> {
    let mut out = Vec::new();
    for partition in &publication.partitions {
        let number = fetch::partition_number(&partition.id).with_context(|| {
            format!(
                "partition id {:?} is not p followed by its number",
                partition.id
            )
        })?;
        let part = parts
            .iter()
            .find(|p| p.manifest().partition == number)
            .with_context(|| format!("partition {} was not opened", partition.id))?;
        out.push((partition, part.manifest()));
    }
    out.sort_by_key(|(_, m)| m.partition);
    Ok(out)
}

fn print_manifest(m: &Manifest) {
    println!("format version: {}", m.format_version);
    println!("normalization version: {}", m.normalization_version);
    println!("crawls: {}", m.crawls.join(", "));
    println!("inputs: {}", m.inputs.len());
    println!("built at: {}", m.built_at);
    println!("captures: {}", m.captures);
    println!("contents: {}", m.contents);
    println!("urls: {}", m.urls);
    println!("read errors: {}", m.read_errors);
    println!("duplicate capture ids skipped: {}", m.duplicate_captures);
    println!(
        "near-duplicate clusters: {} ({} contents)",
        m.clusters, m.clustered_contents
    );
    println!("sketch spec: {}", m.sketch_spec);
    println!("digest: {}", m.digest);
}

/// `tables start..end` in hex (an empty side is unbounded); `all` for a
/// partition holding every table whole.
fn key_range_text(range: &KeyRange) -> String {
    match (range.start.as_deref(), range.end.as_deref()) {
        (None, None) => range.tables.clone(),
        (start, end) => format!(
            "{} {}..{}",
            range.tables,
            start.unwrap_or_default(),
            end.unwrap_or_default()
        ),
    }
}

fn print_partitions(partitions: &[(&Partition, &Manifest)]) {
    println!(
        "{:<9} {:<22} {:>8} {:>10} {:>10} {:>10} {:>14} {:>6}  digest",
        "partition", "key range", "chunks", "captures", "contents", "urls", "bytes", "files",
    );
    for (partition, m) in partitions {
        let chunks = partition
            .chunks
            .as_ref()
            .map_or_else(|| "all".to_owned(), |c| format!("{}..{}", c.start, c.end));
        let digest = partition
            .chunks
            .as_ref()
            .map_or(m.digest.as_str(), |c| c.digest.as_str());
        println!(
            "{:<9} {:<22} {:>8} {:>10} {:>10} {:>10} {:>14} {:>6}  {}",
            partition.id,
            key_range_text(&partition.key_range),
            chunks,
            m.captures,
            m.contents,
            m.urls,
            partition.bytes,
            partition.files.len(),
            digest
        );
        if let Some(location) = &partition.location {
            println!("{:<9} files at {location}", "");
        }
    }
}

fn print_tables(sizes: &[TableSize], captures: u64) {
    let per_capture = |bytes: u64| bytes as f64 / captures.max(1) as f64;
    println!(
        "{:<18} {:>12} {:>14} {:>14} {:>14} {:>12}",
        "table", "rows", "key bytes", "value bytes", "sst bytes", "sst/capture"
    );
    let mut total = 0;
    for size in sizes {
        total += size.sst_bytes;
        println!(
            "{:<18} {:>12} {:>14} {:>14} {:>14} {:>12.1}",
            size.table,
            size.rows,
            size.key_bytes,
            size.value_bytes,
            size.sst_bytes,
            per_capture(size.sst_bytes)
        );
    }
    println!(
        "{:<18} {:>12} {:>14} {:>14} {:>14} {:>12.1}",
        "all",
        "",
        "",
        "",
        total,
        per_capture(total)
    );
}

/// Per-table figures added up over partitions (every partition has every
/// table, in the same order).
fn sum_sizes(parts: &[Vec<TableSize>]) -> Vec<TableSize> {
    let mut sum: Vec<TableSize> = Vec::new();
    for part in parts {
        for size in part {
            match sum.iter_mut().find(|s| s.table == size.table) {
                Some(total) => {
                    total.rows += size.rows;
                    total.key_bytes += size.key_bytes;
                    total.value_bytes += size.value_bytes;
                    total.sst_bytes += size.sst_bytes;
                }
                None => sum.push(size.clone()),
            }
        }
    }
    sum
}

/// `publication` of `info --json`: the job and, per partition, what
/// `publication.json` lists (files as a count) with the partition's own
/// counts and, with `--tables`, its tables.
fn publication_json(
    publication: &Publication,
    partitions: &[(&Partition, &Manifest)],
    part_sizes: &[Vec<TableSize>],
) -> anyhow::Result<serde_json::Value> {
    let mut listed = Vec::new();
    for (n, (partition, m)) in partitions.iter().enumerate() {
        let mut value = serde_json::json!({
            "id": partition.id,
            "key_range": partition.key_range,
            "bytes": partition.bytes,
            "files": partition.files.len(),
            "captures": m.captures,
            "contents": m.contents,
            "urls": m.urls,
        });
        if let Some(chunks) = &partition.chunks {
            value["chunks"] = serde_json::to_value(chunks)?;
        }
        if let Some(location) = &partition.location {
            value["location"] = location.as_str().into();
        }
        if let Some(sizes) = part_sizes.get(n) {
            value["tables"] = serde_json::to_value(sizes)?;
        }
        listed.push(value);
    }
    Ok(serde_json::json!({ "job": publication.job, "partitions": listed }))
}
