//! The training-manifest export, streamed (issue 20): one walk over the
//! index writes each kept content through a [`ManifestWriter`] and each
//! excluded one, with its reason, through an [`ExclusionWriter`], both over
//! [`ObjectWriter`]s (a scratch file or a multipart upload), so memory is
//! bounded by a Parquet row group and the upload parts, not by the corpus.
//!
//! # Names
//!
//! The format is `format` when given, else the manifest name's extension
//! (`.parquet`, `.jsonl.zst`, `.jsonl`), else JSONL; a `format` that
//! contradicts the extension is refused. With `STEM` the manifest name
//! without that extension (the whole name when it has none):
//!
//! | output | name |
//! |---|---|
//! | manifest | as given |
//! | exclusions (one row per excluded content, same format) | `STEM.exclusions.EXT` (`EXT` = `jsonl`, `jsonl.zst`, `parquet`) |
//! | summary (JSON, written last) | `STEM.summary.json` |
//!
//! # Commit
//!
//! Nothing is visible under the three names until the walk is over and the
//! totals reconcile (kept + excluded == contents walked == the index
//! manifest's count): the manifest and exclusions are written to scratch
//! files beside their targets (local) or as multipart uploads not yet
//! completed (object stores); on any failure they are removed / aborted.
//! Then the manifest is committed, the exclusions, the summary last; if a
//! later one fails, the earlier ones are deleted again. With `create_only`
//! none of the three may exist (see `provindex_corpus::upload` for the one
//! race a multipart object leaves).

use std::collections::BTreeMap;

use provindex_corpus::store::{CorpusStore, StoreError};
use provindex_corpus::upload::{self, Committed, ObjectWriter, UploadOptions};
use provindex_index::registry::ListFilter;
use provindex_manifest::{
    ExclusionRow, ExclusionWriter, Location, ManifestError, ManifestFormat, ManifestRow,
    ManifestWriter, RowSink, WriteSummary, WriterOptions,
};
use provindex_policy::Reason;
use provindex_policy::export::{NEAR_DUPLICATE, export_reasons};
use serde::Serialize;

use crate::lineage::{self, ExportOutput, LINEAGE_FORMAT, Lineage};
use crate::{
    DEDUP_RULE, DisclosureError, PROGRESS_EVERY, REASON_RULE, Removals, Result, Sources,
    WalkProgress, destination_error, hex, language_of, license_of, reservation_of, walk_contents,
};

/// The export summary (`STEM.summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportSummary {
    pub index: String,
    /// The index manifest's digest: which index version was exported.
    pub index_digest: String,
    pub registry: Option<String>,
    /// The registry as it was used (`None`: no registry).
    pub registry_state: Option<RegistryState>,
    pub at: i64,
    /// `jsonl`, `jsonl.zst` or `parquet` (manifest and exclusions alike).
    pub format: String,
    /// Where the manifest was written.
    pub manifest: String,
    pub manifest_bytes: u64,
    /// Where the exclusions were written: one row per excluded content.
    pub exclusions: String,
    pub exclusions_bytes: u64,
    pub contents: u64,
    pub kept: u64,
    pub kept_tokens: u64,
    pub excluded: u64,
    pub excluded_by_reason: BTreeMap<String, u64>,
    pub matched_by_reason: BTreeMap<String, u64>,
    pub reason_rule: String,
    pub dedup: String,
    /// What the export used and wrote, as recorded in the registry's
    /// lineage log ([`crate::lineage`]).
    pub lineage: Lineage,
}

/// The registry's entries when the export read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryState {
    /// Entries, active and revoked.
    pub entries: u64,
    /// Entries in force at `at` (not revoked, effective at or before it).
    pub in_force: u64,
    /// The highest entry id (entries are numbered in registration order).
    pub last_entry_id: Option<u64>,
}

/// How an export is written.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The format; `None`: from the manifest's name (JSONL when it says none).
    pub format: Option<ManifestFormat>,
    /// Refuse to replace the manifest, exclusions or summary.
    pub create_only: bool,
    pub upload: UploadOptions,
    /// Parquet row groups (its metadata is the export's own).
    pub rows: WriterOptions,
}

/// The three names of an export (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportNames {
    pub format: ManifestFormat,
    pub manifest: String,
    pub exclusions: String,
    pub summary: String,
}

/// The names an export to `out` writes; `field` names `out` in errors
/// (the format's own field is `format`).
pub fn export_names(
    out: &str,
    format: Option<ManifestFormat>,
    field: &'static str,
) -> Result<ExportNames> {
    if out.trim().is_empty() {
        return Err(DisclosureError::invalid(field, "is empty"));
    }
    if out.ends_with('/') {
        return Err(DisclosureError::invalid(
            field,
            format!("{out:?} names a folder; give the manifest's object name"),
        ));
    }
    let named = ManifestFormat::from_file_name(out);
    let format = match (format, named) {
        (Some(given), Some(named)) if given != named => {
            return Err(DisclosureError::invalid(
                "format",
                format!("{given} contradicts the manifest name {out:?} (a .{named} name)"),
            ));
        }
        (Some(given), _) => given,
        (None, Some(named)) => named,
        (None, None) => ManifestFormat::Jsonl,
    };
    let stem = match named {
        // The extension is ASCII: the cut is on a char boundary.
        Some(named) => &out[..out.len() - named.as_str().len() - 1],
        None => out,
    };
    Ok(ExportNames {
        format,
        manifest: out.to_owned(),
        exclusions: format!("{stem}.exclusions.{format}"),
        summary: format!("{stem}.summary.json"),
    })
}

/// `X.jsonl`, `X.jsonl.zst`, `X.parquet` → `X.summary.json`; any other
/// name: `NAME.summary.json`.
pub fn summary_uri(out: &str) -> String {
    let stem = ManifestFormat::from_file_name(out)
        .map_or(out, |f| &out[..out.len() - f.as_str().len() - 1]);
    format!("{stem}.summary.json")
}

/// A manifest or exclusions write error: a store's refusal keeps its own
/// error (and status), anything else names the output.
fn write_error(error: ManifestError, uri: &str, field: &'static str) -> DisclosureError {
    if let ManifestError::Io(io) = error {
        if io.get_ref().is_some_and(|e| e.is::<StoreError>()) {
            let inner = io.into_inner().expect("checked above");
            if let Ok(store) = inner.downcast::<StoreError>() {
                return destination_error(*store, field);
            }
            unreachable!("checked above");
        }
        return DisclosureError::Store(StoreError::Io {
            uri: uri.to_owned(),
            source: io,
        });
    }
    DisclosureError::Inconsistent(format!("writing {uri}: {error}"))
}

fn registry_state(sources: &Sources<'_>) -> Result<Option<RegistryState>> {
    let Some(registry) = sources.registry else {
        return Ok(None);
    };
    let filter = ListFilter {
        include_revoked: true,
        ..ListFilter::default()
    };
    let mut state = RegistryState {
        entries: 0,
        in_force: 0,
        last_entry_id: None,
    };
    let mut after = None;
    loop {
        let (page, next) = registry.list(&filter, after, 1000)?;
        for entry in &page {
            state.entries += 1;
            state.in_force += u64::from(entry.is_active() && entry.in_effect_at(sources.at));
            state.last_entry_id = state.last_entry_id.max(Some(entry.id));
        }
        match next {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    Ok(Some(state))
}

/// Deletes committed outputs after a later one failed.
fn remove_committed(store: &CorpusStore, committed: &[&Committed]) {
    for done in committed {
        if let Err(cleanup) = upload::delete(store, &done.uri) {
            tracing::error!(%cleanup, uri = done.uri, "could not delete an export output after a later one failed");
        }
    }
}

/// Exports the training manifest to `out`: every keeper not erased, not in a
/// blocked source, not opted out by crawl signals or by registry entries in
/// force at `sources.at`, streamed
/// (see the module doc for names, formats and the commit). Blocking: call it
/// from a plain thread (`spawn_blocking`), with `store` on a multi-threaded
/// runtime. `field` names `out` in errors. Returns the summary as written.
pub fn build_export(
    store: &CorpusStore,
    sources: Sources<'_>,
    out: &str,
    options: &ExportOptions,
    field: &'static str,
) -> Result<ExportSummary> {
    build_export_observed(store, sources, out, options, field, &mut |_| {})
}

/// [`build_export`], telling `observe` how far the walk over the contents
/// has got (kept and excluded so far): every [`PROGRESS_EVERY`] contents
/// and once the walk is over.
pub fn build_export_observed(
    store: &CorpusStore,
    sources: Sources<'_>,
    out: &str,
    options: &ExportOptions,
    field: &'static str,
    observe: &mut dyn FnMut(&WalkProgress<'_>),
) -> Result<ExportSummary> {
    let names = export_names(out, options.format, field)?;
    let reader = sources.reader;
    if options.create_only {
        // Refuse before any work when an output is there already.
        for uri in [&names.summary, &names.manifest, &names.exclusions] {
            match upload::exists(store, uri) {
                Ok(true) => return Err(DisclosureError::AlreadyExists(uri.clone())),
                Err(error @ StoreError::InvalidUri { .. }) => {
                    return Err(destination_error(error, field));
                }
                _ => {}
            }
        }
    }
    let registry_state = registry_state(&sources)?;
    let exported_at = crate::now();
    let index_version = lineage::index_version(reader)?;
    let registry_use = lineage::registry_use(&sources)?;
    let removals = Removals::gather(&sources)?;
    let mut rows = options.rows.clone();
    rows.metadata.extend([
        (
            "provindex.index_digest".to_owned(),
            reader.manifest().digest.clone(),
        ),
        ("provindex.at".to_owned(), sources.at.to_string()),
        (
            "provindex.registry".to_owned(),
            sources.registry_label().unwrap_or_default(),
        ),
    ]);
    let open = |uri: &str| {
        ObjectWriter::create(store, uri, options.upload)
            .map_err(|error| destination_error(error, field))
    };
    let mut manifest = ManifestWriter::new(open(&names.manifest)?, names.format, &rows)
        .map_err(|e| write_error(e, &names.manifest, field))?;
    let mut exclusions = ExclusionWriter::new(open(&names.exclusions)?, names.format, &rows)
        .map_err(|e| write_error(e, &names.exclusions, field))?;

    let mut kept = 0u64;
    let mut kept_tokens = 0u64;
    let mut excluded: BTreeMap<String, u64> = BTreeMap::new();
    let mut matched: BTreeMap<String, u64> = BTreeMap::new();
    let total = reader.manifest().contents;
    // Every content walked is kept or excluded (an error ends the walk).
    let mut walked = 0u64;
    let mut tick = |walked: u64, kept: u64| {
        if walked.is_multiple_of(PROGRESS_EVERY) {
            observe(&WalkProgress {
                step: "contents",
                done: walked,
                total,
                counts: &[("kept", kept), ("excluded", walked - kept)],
            });
        }
    };
    // On an error the writers drop: scratch files removed, uploads aborted.
    let contents = walk_contents(reader, |view| {
        let removal = removals.of(&view, sources.at)?;
        let reservation = reservation_of(&sources, &view)?;
        let reasons = export_reasons(&removal, &reservation, view.keeper());
        for reason in &reasons.matched {
            *matched.entry(reason.clone()).or_default() += 1;
        }
        let earliest = view.earliest()?;
        if let Some(reason) = reasons.excluded_by {
            let removed_by = removal
                .reasons()
                .find(|(removed, _)| *removed == reason)
                .map(|(_, entry)| entry);
            let (detail, cluster_keeper) = if let Some(entry) = removed_by {
                (format!("entry:{entry}"), None)
            } else if reason == NEAR_DUPLICATE {
                let keeper = view.record.cluster(view.id).keeper;
                (String::new(), Some(format!("{keeper:032x}")))
            } else if reason.starts_with("crawl_signal:") {
                let detail = match reservation.crawl_signal() {
                    Some(Reason::CrawlSignal { capture_id, .. }) => {
                        format!("capture:{capture_id:032x}")
                    }
                    _ => String::new(),
                };
                (detail, None)
            } else {
                let detail = reservation
                    .registry_entries()
                    .next()
                    .map(|entry| format!("entry:{}", entry.entry_id))
                    .unwrap_or_default();
                (detail, None)
            };
            exclusions
                .write_row(&ExclusionRow {
                    cluster_keeper,
                    content_id: format!("{:032x}", view.id),
                    detail,
                    reason: reason.clone(),
                    sha256: hex(&view.record.sha256),
                    url: earliest.url.clone(),
                })
                .map_err(|e| write_error(e, &names.exclusions, field))?;
            *excluded.entry(reason).or_default() += 1;
            walked += 1;
            tick(walked, kept);
            return Ok(());
        }
        manifest
            .write_row(&ManifestRow {
                capture_time: earliest.capture_time,
                cluster_id: format!("{:032x}", view.record.cluster(view.id).cluster_id),
                content_id: format!("{:032x}", view.id),
                crawl: earliest.crawl.clone(),
                language: language_of(&view.record),
                license: license_of(earliest),
                location: Location {
                    framing: earliest.location_framing().as_str().to_owned(),
                    length: earliest.location_length,
                    offset: earliest.location_offset,
                    uri: earliest.location_uri.clone(),
                },
                record_id: earliest.record_id.clone(),
                sha256: hex(&view.record.sha256),
                tokens: view.record.token_count,
                url: earliest.url.clone(),
            })
            .map_err(|e| write_error(e, &names.manifest, field))?;
        kept += 1;
        kept_tokens += view.record.token_count;
        walked += 1;
        tick(walked, kept);
        Ok(())
    })?;
    let excluded_total: u64 = excluded.values().sum();
    observe(&WalkProgress {
        step: "contents",
        done: contents,
        total,
        counts: &[("kept", kept), ("excluded", excluded_total)],
    });
    let (manifest_out, manifest_written): (ObjectWriter, WriteSummary) = manifest
        .finish()
        .map_err(|e| write_error(e, &names.manifest, field))?;
    let (exclusions_out, exclusions_written) = exclusions
        .finish()
        .map_err(|e| write_error(e, &names.exclusions, field))?;
    let problem = if kept + excluded_total != contents {
        Some(format!(
            "export does not reconcile: kept {kept} + excluded {excluded_total} != {contents} contents walked"
        ))
    } else if contents != reader.manifest().contents {
        Some(format!(
            "export does not reconcile: {contents} contents walked, the manifest says {}",
            reader.manifest().contents
        ))
    } else if manifest_written.rows != kept || exclusions_written.rows != excluded_total {
        Some(format!(
            "export does not reconcile: {} manifest rows for {kept} kept, {} exclusion rows for {excluded_total} excluded",
            manifest_written.rows, exclusions_written.rows
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        // Nothing was committed: the outputs vanish with their scratch
        // files / uncompleted uploads.
        for writer in [manifest_out, exclusions_out] {
            let uri = writer.uri().to_owned();
            if let Err(cleanup) = writer.abort() {
                tracing::error!(%cleanup, uri, "could not discard an unreconciled export output");
            }
        }
        return Err(DisclosureError::Inconsistent(problem));
    }

    let store_error = |error: StoreError| destination_error(error, field);
    let manifest_done = match manifest_out.commit(options.create_only) {
        Ok(done) => done,
        Err(error) => {
            drop(exclusions_out);
            return Err(store_error(error));
        }
    };
    let exclusions_done = match exclusions_out.commit(options.create_only) {
        Ok(done) => done,
        Err(error) => {
            remove_committed(store, &[&manifest_done]);
            return Err(store_error(error));
        }
    };
    let summary = ExportSummary {
        index: sources.index_label(),
        index_digest: reader.manifest().digest.clone(),
        registry: sources.registry_label(),
        registry_state,
        at: sources.at,
        format: names.format.to_string(),
        manifest: names.manifest.clone(),
        manifest_bytes: manifest_done.bytes,
        exclusions: names.exclusions.clone(),
        exclusions_bytes: exclusions_done.bytes,
        contents,
        kept,
        kept_tokens,
        excluded: excluded_total,
        excluded_by_reason: excluded,
        matched_by_reason: matched,
        reason_rule: REASON_RULE.into(),
        dedup: DEDUP_RULE.into(),
        lineage: Lineage {
            format: LINEAGE_FORMAT.into(),
            exported_at,
            at: sources.at,
            index: index_version,
            registry: registry_use,
            output: ExportOutput {
                format: names.format.to_string(),
                manifest: names.manifest.clone(),
                exclusions: names.exclusions.clone(),
                summary: names.summary.clone(),
                contents,
                kept,
                excluded: excluded_total,
            },
        },
    };
    let mut summary_bytes = serde_json::to_vec_pretty(&summary)
        .map_err(|e| DisclosureError::Inconsistent(format!("encoding the summary: {e}")))?;
    summary_bytes.push(b'\n');
    let written = upload::put(store, &names.summary, &summary_bytes, options.create_only);
    if let Err(error) = written {
        remove_committed(store, &[&manifest_done, &exclusions_done]);
        return Err(store_error(error));
    }
    // Recorded last: a committed export is a recorded one.
    if let Some(registry) = sources.registry
        && let Err(error) = lineage::record(registry, &summary.lineage)
    {
        remove_committed(store, &[&manifest_done, &exclusions_done]);
        if let Err(cleanup) = upload::delete(store, &names.summary) {
            tracing::error!(%cleanup, uri = names.summary, "could not delete an export summary after its lineage was not recorded");
        }
        return Err(error);
    }
    tracing::info!(
        manifest = names.manifest,
        bytes = manifest_done.bytes,
        parts = manifest_done.parts,
        kept,
        excluded = excluded_total,
        "export written"
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_format() {
        let names = export_names("s3://b/x/m.parquet", None, "out").unwrap();
        assert_eq!(names.format, ManifestFormat::Parquet);
        assert_eq!(names.exclusions, "s3://b/x/m.exclusions.parquet");
        assert_eq!(names.summary, "s3://b/x/m.summary.json");
        let names = export_names("/t/m.JSONL.zst", None, "out").unwrap();
        assert_eq!(names.format, ManifestFormat::JsonlZst);
        assert_eq!(names.exclusions, "/t/m.exclusions.jsonl.zst");
        assert_eq!(names.summary, "/t/m.summary.json");
        let names = export_names("/t/m", Some(ManifestFormat::Parquet), "out").unwrap();
        assert_eq!(names.exclusions, "/t/m.exclusions.parquet");
        assert_eq!(names.summary, "/t/m.summary.json");
        let names = export_names("/t/m", None, "out").unwrap();
        assert_eq!(names.format, ManifestFormat::Jsonl);
        assert_eq!(names.exclusions, "/t/m.exclusions.jsonl");
        match export_names("/t/m.jsonl", Some(ManifestFormat::Parquet), "out") {
            Err(DisclosureError::InvalidArgument { field, reason }) => {
                assert_eq!(field, "format");
                assert!(reason.contains("parquet contradicts"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        for bad in ["", "  ", "s3://b/x/"] {
            assert!(matches!(
                export_names(bad, None, "out"),
                Err(DisclosureError::InvalidArgument { field: "out", .. })
            ));
        }
        assert_eq!(summary_uri("s3://b/x/m.jsonl"), "s3://b/x/m.summary.json");
        assert_eq!(summary_uri("s3://b/x/m.parquet"), "s3://b/x/m.summary.json");
        assert_eq!(summary_uri("/tmp/m"), "/tmp/m.summary.json");
    }
}
