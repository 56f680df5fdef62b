//! Incremental builds (issue 18): a base index read back as scan output.
//!
//! `provindex index NEW… --base INDEX` plans one more scan task per
//! partition of the base. Such a task rescans its partition instead of
//! reading a crawl file: every capture the base holds goes into the runs a
//! scan writes ([`crate::tasks::ScanOutputs`]) as the scan of its record
//! wrote it, so the cluster, components, revisits and build stages treat the
//! base's captures and the new crawl's alike, and the index is the one a
//! build over the base's inputs and the new ones gives (same digest).
//!
//! What the base gives back, and from where:
//! - the capture record as stored, less what the build added to it: the
//!   site-level signals (sources robots.txt, tdmrep.json, ai.txt; the
//!   verdict is recombined over the page's own signals, as the scan did),
//!   the cluster id, and a revisit's content id (revisits are resolved
//!   again, against the base and the new crawl);
//! - the content: its row (SHA-256, length, tokens, preview, language, PII
//!   counts), its PII HMACs (`pii_keys`), its signature (the 8 compared
//!   bits of each value, all the build stores of it) and its band keys (the
//!   low 32 bits `lsh` keeps, which is also what the scan clusters on);
//! - a site file's body, kept on its capture row (`site_file_body`);
//! - a revisit's references: WARC-Refers-To and the payload digest on the
//!   record, the target URI and date in `revisit_target_*`.
//!
//! Each capture comes from one partition: a capture with text from the
//! partition holding its content (which holds a copy of every capture of
//! that content), any other from the partition owning it. A content is
//! rescanned in content order with its captures; the `lsh` and `pii_keys`
//! rows, keyed otherwise, are sorted by content first (external sorts).
//!
//! Where the result can differ from a build from scratch (docs/ARCHITECTURE.md):
//! a `--robots` set the base job was given is not recorded (give it again),
//! and the site-file byte budget ([`crate::site_signals::MAX_TOTAL_BYTES`])
//! keeps files in the order the build sees them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use provindex_index::partition::Partitioning;
use provindex_index::records::{CaptureRecord, ContentRecord, PiiCounts, RecordKind};
use provindex_index::{IndexError, IndexReader, NewContent};
use provindex_runs::ExternalSorter;

use crate::prepare::{PreparedCapture, PreparedSketch, RevisitRef, capture_id_for};
use crate::tasks::{ScanOutputs, ScanPayload, ScanResult, TaskContext, TaskError, scan_key};

/// The input ordinal of every rescanned capture in the scan keys: after any
/// crawl file's, so a record in both the base and a new input (the same
/// WARC record given twice) is taken from the new input's scan first — the
/// two are the same record.
const BASE_ORDINAL: u32 = u32::MAX;

/// Captures read per `content_captures` page.
const CAPTURES_PAGE: usize = 1024;

/// Rescans one partition of the base index into the runs of a scan task.
pub(crate) fn rescan(
    ctx: &TaskContext,
    payload: &ScanPayload,
    attempt: &str,
    scratch: &Path,
    cancel: &AtomicBool,
) -> Result<ScanResult, TaskError> {
    let dir = match payload.input.rsplit_once('#') {
        // A partition of a publication in object storage: fetched and verified.
        Some((uri, id)) if crate::publish::is_remote(uri) => {
            crate::publish::fetch_partition(&ctx.store, uri, id, &scratch.join("base")).map_err(
                |e| {
                    let message = format!("base index partition {}: {e}", payload.input);
                    if e.is_transient() {
                        TaskError::Retry(message)
                    } else {
                        TaskError::Permanent(message)
                    }
                },
            )?
        }
        _ => Path::new(
            payload
                .input
                .strip_prefix("file://")
                .unwrap_or(&payload.input),
        )
        .to_path_buf(),
    };
    let dir = dir.display().to_string();
    let reader = IndexReader::open(Path::new(&dir))
        .map_err(|e| TaskError::Permanent(format!("base index partition {dir}: {e}")))?;
    let manifest = reader.manifest().clone();
    let base = Partitioning::new(manifest.partitions.max(1)).map_err(|e| {
        TaskError::Permanent(format!("base index partition {dir}: partitions: {e}"))
    })?;
    let partition = manifest.partition;
    let index_error = |e: IndexError| TaskError::Permanent(format!("base index {dir}: {e}"));
    let run_error = |e: provindex_runs::RunError| TaskError::Retry(e.to_string());

    // Band keys and PII HMACs by content.
    let mut bands = ExternalSorter::new(scratch, "base-bands", ctx.sort_budget / 4);
    reader
        .for_each_lsh_row(|band, band_key, content_id| {
            let mut key = content_id.to_be_bytes().to_vec();
            key.extend_from_slice(&band.to_be_bytes());
            bands
                .push(key, band_key.to_be_bytes())
                .map_err(|e| Failure::Task(run_error(e)))
        })
        .map_err(|f: Failure| f.into_task(&index_error))?;
    let mut pii = ExternalSorter::new(scratch, "base-pii", ctx.sort_budget / 8);
    reader
        .for_each_pii_row(|hmac, content_id| {
            let mut key = content_id.to_be_bytes().to_vec();
            key.extend_from_slice(hmac);
            pii.push(key, Vec::new())
                .map_err(|e| Failure::Task(run_error(e)))
        })
        .map_err(|f: Failure| f.into_task(&index_error))?;
    let mut bands = ByContent::open(bands.finish().map_err(run_error)?)?;
    let mut pii = ByContent::open(pii.finish().map_err(run_error)?)?;

    let mut outputs = ScanOutputs::new(ctx, scratch, payload)?;
    let mut result = ScanResult {
        attempt: attempt.to_string(),
        base_inputs: manifest.inputs.clone(),
        base_warcinfo: manifest.warcinfo.clone(),
        ..ScanResult::default()
    };
    let mut number = 0u64;
    let mut emit = |outputs: &mut ScanOutputs, prepared: PreparedCapture| {
        if number.is_multiple_of(1024) && cancel.load(Ordering::Relaxed) {
            return Err(TaskError::Cancelled);
        }
        let key = scan_key(prepared.capture_id, BASE_ORDINAL, number);
        number += 1;
        outputs.push(key, prepared)
    };

    // Captures with text, with their content, from the content's holder.
    reader
        .for_each_content(|content_id, record: ContentRecord| {
            let mut band_keys = Vec::new();
            bands.take(content_id, |_, value| {
                band_keys.push(band_key_of(value)?);
                Ok(())
            })?;
            let mut pii_keys = Vec::new();
            pii.take(content_id, |key, _| {
                let hmac = <[u8; 32]>::try_from(&key[16..])
                    .map_err(|_| Failure::corrupt(format!("pii run key of {} bytes", key.len())))?;
                pii_keys.push(hmac);
                Ok(())
            })?;
            let sketch = reader.signature(content_id)?.map(|values| PreparedSketch {
                signature: provindex_sketch::Signature(values).to_bytes(),
                band_keys,
            });
            let content = new_content(content_id, &record, pii_keys)?;
            let mut after = None;
            loop {
                let (captures, more) = reader.content_captures(content_id, after, CAPTURES_PAGE)?;
                after = captures.last().map(|(id, _)| *id);
                for (capture_id, capture) in captures {
                    if capture.record_kind() == RecordKind::Revisit {
                        continue;
                    }
                    let prepared = prepared_capture(
                        capture_id,
                        capture,
                        Some(content.clone()),
                        sketch.clone(),
                    );
                    emit(&mut outputs, prepared).map_err(Failure::Task)?;
                }
                if !more {
                    break;
                }
            }
            Ok(())
        })
        .map_err(|f: Failure| f.into_task(&index_error))?;

    // Revisits and captures without text, from their owner.
    reader
        .for_each_capture(|capture_id, record: CaptureRecord| {
            if base.of_capture(capture_id, &record.surt) != partition {
                return Ok(());
            }
            if record.record_kind() == RecordKind::Revisit {
                let revisit = revisit_of_record(&record);
                let mut prepared = prepared_capture(capture_id, record, None, None);
                prepared.record.content_id.clear();
                prepared.revisit = Some(revisit);
                emit(&mut outputs, prepared).map_err(Failure::Task)
            } else if record.content_id.is_empty() {
                emit(
                    &mut outputs,
                    prepared_capture(capture_id, record, None, None),
                )
                .map_err(Failure::Task)
            } else {
                Ok(())
            }
        })
        .map_err(|f: Failure| f.into_task(&index_error))?;

    result.records = number;
    outputs.finish(ctx, attempt, &mut result)?;
    Ok(result)
}

/// A failure inside a table walk: the index's, or the task's own.
enum Failure {
    Index(IndexError),
    Task(TaskError),
}

impl Failure {
    fn corrupt(reason: String) -> Self {
        Failure::Index(IndexError::Corrupt {
            cf: "base index",
            reason,
        })
    }

    fn into_task(self, index_error: &impl Fn(IndexError) -> TaskError) -> TaskError {
        match self {
            Failure::Index(e) => index_error(e),
            Failure::Task(e) => e,
        }
    }
}

impl From<IndexError> for Failure {
    fn from(e: IndexError) -> Self {
        Failure::Index(e)
    }
}

impl From<TaskError> for Failure {
    fn from(e: TaskError) -> Self {
        Failure::Task(e)
    }
}

fn band_key_of(value: &[u8]) -> Result<u64, Failure> {
    <[u8; 4]>::try_from(value)
        .map(|b| u64::from(u32::from_be_bytes(b)))
        .map_err(|_| Failure::corrupt(format!("band run value of {} bytes", value.len())))
}

/// Sorted runs keyed content_id ‖ …, read one content at a time in content
/// order, each row in place.
struct ByContent {
    merged: provindex_runs::Merge<provindex_runs::RunReader<std::io::BufReader<std::fs::File>>>,
}

impl ByContent {
    fn open(runs: Vec<(std::path::PathBuf, provindex_runs::RunInfo)>) -> Result<Self, TaskError> {
        let readers = runs
            .iter()
            .map(|(path, _)| provindex_runs::open_file(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TaskError::Retry(e.to_string()))?;
        Ok(Self {
            merged: provindex_runs::Merge::new(readers),
        })
    }

    /// Gives `row` the rows of `content_id` (skipping any of smaller ids).
    fn take(
        &mut self,
        content_id: u128,
        mut row: impl FnMut(&[u8], &[u8]) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let id = content_id.to_be_bytes();
        while let Some(next) = self.merged.peek_ref() {
            let (key, value) = next.map_err(|e| Failure::Task(TaskError::Retry(e.to_string())))?;
            match key.get(..16) {
                Some(k) if k > &id[..] => break,
                Some(k) if k == &id[..] => row(key, value)?,
                Some(_) => {}
                None => {
                    return Err(Failure::corrupt(format!(
                        "a run key of {} bytes, expected a content id first",
                        key.len()
                    )));
                }
            }
            self.merged.next_ref();
        }
        Ok(())
    }
}

fn new_content(
    content_id: u128,
    record: &ContentRecord,
    pii_keys: Vec<[u8; 32]>,
) -> Result<NewContent, Failure> {
    let sha256 = <[u8; 32]>::try_from(record.sha256.as_slice()).map_err(|_| {
        Failure::corrupt(format!(
            "content {content_id:032x}: sha256 of {} bytes",
            record.sha256.len()
        ))
    })?;
    Ok(NewContent {
        content_id,
        sha256,
        length_bytes: record.length_bytes,
        token_count: record.token_count,
        preview: record.preview.clone(),
        language: record.language.clone(),
        cluster: None,
        pii: PiiCounts([
            record.pii_emails,
            record.pii_phones,
            record.pii_cn_resident_ids,
            record.pii_payment_cards,
        ]),
        pii_keys,
    })
}

/// A stored capture as its scan prepared it.
fn prepared_capture(
    capture_id: u128,
    record: CaptureRecord,
    content: Option<NewContent>,
    sketch: Option<PreparedSketch>,
) -> PreparedCapture {
    let site_file = crate::site_signals::site_file_of_record(&record);
    let url_error = record
        .surt
        .is_empty()
        .then(|| provindex_signals::surt(&record.url).err())
        .flatten()
        .map(|error| format!("{:?}: {error}", record.url));
    PreparedCapture {
        capture_id,
        record: page_record(record),
        content,
        revisit: None,
        url_error,
        site_file,
        sketch,
    }
}

/// The record as the scan wrote it: without the site-level signals and the
/// cluster id the build added.
fn page_record(mut record: CaptureRecord) -> CaptureRecord {
    record.cluster_id.clear();
    let site_level = |s: &provindex_index::records::SignalRecord| {
        matches!(
            s.source().to_signals(),
            Some(
                provindex_signals::SignalSource::RobotsTxt
                    | provindex_signals::SignalSource::TdmrepJson
                    | provindex_signals::SignalSource::AiTxt
            )
        )
    };
    if record.signals.iter().any(site_level) {
        record.signals.retain(|s| !site_level(s));
        let signals: Vec<_> = record
            .signals
            .iter()
            .filter_map(crate::site_signals::signal_from_record)
            .collect();
        let (verdict, decider) = provindex_signals::combine(&signals);
        record.optout_verdict = crate::prepare::stored_verdict(verdict).into();
        record.optout_decider = decider.map(|i| i as u32);
    }
    record
}

/// Keeps what a revisit says of its target on its record, where the
/// incremental build finds it ([`revisit_of_record`]).
pub(crate) fn store_revisit_target(record: &mut CaptureRecord, revisit: &RevisitRef) {
    record.revisit_target_time = revisit.target.as_ref().and_then(|(_, time)| *time);
    record.revisit_target_surt = match &revisit.target {
        Some((surt, _)) if *surt == record.surt => None,
        Some((surt, _)) => Some(surt.clone()),
        None if record.surt.is_empty() => None,
        None => Some(String::new()),
    };
}

/// The inverse of [`store_revisit_target`] and of the record's fields.
fn revisit_of_record(record: &CaptureRecord) -> RevisitRef {
    let target_surt = match &record.revisit_target_surt {
        Some(surt) if surt.is_empty() => None,
        Some(surt) => Some(surt.clone()),
        None => (!record.surt.is_empty()).then(|| record.surt.clone()),
    };
    RevisitRef {
        refers_to_capture: (!record.refers_to.is_empty())
            .then(|| capture_id_for(Some(&record.refers_to), "", "")),
        payload_digest: (!record.payload_digest.is_empty()).then(|| record.payload_digest.clone()),
        target: target_surt.map(|surt| (surt, record.revisit_target_time)),
    }
}

/// The partitions of the base index `base`, one rescan task each — an index
/// directory or a local publication (their directories), or a publication
/// in object storage (`URI#pNNNN`: each task fetches its own partition) —
/// after checking that this build can extend it: the same normalization
/// and sketch spec, else the reason, naming the base.
pub fn base_partitions(
    store: &provindex_corpus::store::CorpusStore,
    base: &str,
) -> Result<Vec<String>, crate::PipelineError> {
    let refuse = |reason: String| crate::PipelineError::Job(format!("base index {base}: {reason}"));
    let spec = crate::prepare::default_hasher().spec();
    let check = |normalization_version: u32, sketch_spec: &str| {
        if normalization_version != spec.normalization_version.number() {
            return Err(refuse(format!(
                "normalization version {normalization_version}, but this build normalizes with version {}: build the index again from its inputs",
                spec.normalization_version.number()
            )));
        }
        if sketch_spec != spec.to_string() {
            return Err(refuse(format!(
                "sketch spec {sketch_spec:?}, but this build uses {:?}: build the index again from its inputs",
                spec.to_string()
            )));
        }
        Ok(())
    };
    let local = base.strip_prefix("file://").unwrap_or(base);
    if crate::publish::is_remote(base) {
        let (publication, _) = crate::publish::read_publication(store, base)?.ok_or_else(|| {
            refuse("no publication.json (not published, or still being published)".into())
        })?;
        if publication.index.format_version != provindex_index::FORMAT_VERSION {
            return Err(refuse(format!(
                "index format version {}, but this build reads version {}: build the index again from its inputs",
                publication.index.format_version,
                provindex_index::FORMAT_VERSION
            )));
        }
        check(
            publication.index.normalization_version,
            &publication.index.sketch_spec,
        )?;
        return Ok(publication
            .partitions
            .iter()
            .map(|p| format!("{base}#{}", p.id))
            .collect());
    }
    let dirs: Vec<std::path::PathBuf> = if Path::new(local).join("publication.json").is_file() {
        let (publication, _) = crate::publish::read_publication(store, local)?
            .ok_or_else(|| refuse("publication.json vanished".into()))?;
        publication
            .partitions
            .iter()
            .map(|p| Path::new(local).join("partitions").join(&p.id))
            .collect()
    } else if Path::new(local).is_dir() {
        vec![Path::new(local).to_path_buf()]
    } else {
        return Err(refuse("no index directory or publication there".into()));
    };
    let mut partitions = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let reader =
            IndexReader::open(&dir).map_err(|e| refuse(format!("{}: {e}", dir.display())))?;
        let manifest = reader.manifest();
        check(manifest.normalization_version, &manifest.sketch_spec)?;
        partitions.push(dir.display().to_string());
    }
    Ok(partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A publication of one partition whose index has these parameters.
    fn publish(store: &provindex_corpus::store::CorpusStore, uri: &str, norm: u32, spec: &str) {
        let publication = serde_json::json!({
            "format": "provindex-publication",
            "version": 1,
            "job": "base",
            "index": {
                "digest": "00", "format_version": provindex_index::FORMAT_VERSION,
                "normalization_version": norm, "sketch_spec": spec, "crawls": ["c"],
                "built_at": 0, "captures": 1, "contents": 1, "urls": 1,
                "clusters": 0, "clustered_contents": 0
            },
            "partitions": [{
                "id": "p0000",
                "key_range": {"tables": "all", "start": null, "end": null},
                "bytes": 0, "files": []
            }]
        });
        store
            .put(
                &crate::publish::publication_uri(uri),
                serde_json::to_vec(&publication).unwrap().into(),
            )
            .unwrap();
    }

    #[test]
    fn a_base_of_another_sketch_spec_or_normalization_is_refused_naming_both() {
        let store = provindex_corpus::store::CorpusStore::new().unwrap();
        let spec = crate::prepare::default_hasher().spec();
        let (norm, ours) = (spec.normalization_version.number(), spec.to_string());

        publish(&store, "memory://bases/same", norm, &ours);
        assert_eq!(
            base_partitions(&store, "memory://bases/same").unwrap(),
            vec!["memory://bases/same#p0000".to_string()]
        );

        let other = ours.replace("k=", "k=1");
        publish(&store, "memory://bases/spec", norm, &other);
        let error = base_partitions(&store, "memory://bases/spec")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("memory://bases/spec")
                && error.contains(&other)
                && error.contains(&ours),
            "{error}"
        );

        publish(&store, "memory://bases/norm", norm + 1, &ours);
        let error = base_partitions(&store, "memory://bases/norm")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!("normalization version {}", norm + 1))
                && error.contains(&format!("with version {norm}")),
            "{error}"
        );

        let error = base_partitions(&store, "memory://bases/none")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no publication.json"), "{error}");
    }
}
