//! The whole build in one process: N reader threads, one index writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use provindex_corpus::ReadError;
use provindex_index::{BuildFacts, IndexBuilder, IndexError, Manifest};

use crate::prepare::{PreparedCapture, prepare};

/// Errors that stop a build. Bad records and bad files do not: they are
/// counted in the [`BuildReport`] and the manifest.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("input {0} does not exist")]
    MissingInput(String),
    #[error("no input files found in {0:?}")]
    NoInputs(Vec<String>),
    #[error("cannot list {path}: {source}")]
    ListInput {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// A local build's parameters.
#[derive(Debug, Clone)]
pub struct LocalBuild {
    /// Files or directories (searched recursively, in sorted order).
    pub inputs: Vec<String>,
    pub out: PathBuf,
    pub crawl: String,
    /// Reader threads; at least 1.
    pub workers: usize,
    /// How many error messages the report keeps (all are counted).
    pub max_reported_errors: usize,
    /// Build time recorded in the manifest (unix seconds); a parameter so that
    /// rebuilding the same corpus can reproduce a manifest exactly.
    pub built_at: i64,
    /// A robots.txt set given to the job (a file or a directory of files
    /// named by host); see [`crate::site_signals`].
    pub robots: Option<PathBuf>,
}

/// What a build did, for the CLI summary.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub manifest: Manifest,
    pub files: usize,
    /// The first `max_reported_errors` read errors (`uri@offset: reason`).
    pub errors: Vec<String>,
    pub error_count: u64,
    /// Records whose URL has no SURT key (kept, but not findable by URL).
    pub url_errors: u64,
    /// Records without extractable text (images, PDFs, empty pages).
    pub captures_without_text: u64,
    pub revisits_resolved: u64,
    pub revisits_unresolved: u64,
    /// The site-signal pass (robots.txt, tdmrep.json, ai.txt of the crawl).
    pub site_signals: crate::site_signals::SiteSignalStats,
}

enum Event {
    Capture(Box<PreparedCapture>),
    Error(ReadError),
}

/// Expands files and directories into a sorted, de-duplicated file list.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, PipelineError> {
    let mut files = Vec::new();
    for input in inputs {
        let path = Path::new(input.strip_prefix("file://").unwrap_or(input));
        if path.is_dir() {
            collect_files(path, &mut files).map_err(|source| PipelineError::ListInput {
                path: input.clone(),
                source,
            })?;
        } else if path.is_file() {
            files.push(path.to_path_buf());
        } else {
            return Err(PipelineError::MissingInput(input.clone()));
        }
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(PipelineError::NoInputs(inputs.to_vec()));
    }
    Ok(files)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

pub fn build_local(config: &LocalBuild) -> Result<BuildReport, PipelineError> {
    let files = expand_inputs(&config.inputs)?;
    let mut builder = IndexBuilder::create(&config.out)?;
    let mut report = BuildReport {
        manifest: empty_manifest(),
        files: files.len(),
        errors: Vec::new(),
        error_count: 0,
        url_errors: 0,
        captures_without_text: 0,
        revisits_resolved: 0,
        revisits_unresolved: 0,
        site_signals: Default::default(),
    };
    let mut site_files = crate::site_signals::SiteFiles::default();
    if let Some(robots) = &config.robots {
        site_files
            .add_given_robots(robots)
            .map_err(|source| PipelineError::ListInput {
                path: robots.display().to_string(),
                source,
            })?;
    }
    let mut revisits: Vec<PreparedCapture> = Vec::new();
    // Payload digest → content (None: the payload has no text), to resolve
    // revisits that name no record id.
    let mut digests: HashMap<String, Option<u128>> = HashMap::new();

    let next_file = AtomicUsize::new(0);
    let workers = config.workers.max(1);
    std::thread::scope(|scope| -> Result<(), PipelineError> {
        let (sender, receiver) = mpsc::sync_channel::<Event>(1024);
        for _ in 0..workers {
            let sender = sender.clone();
            let files = &files;
            let next_file = &next_file;
            let crawl = config.crawl.as_str();
            // HTML pages are left to `prepare` (text and signals in one pass).
            let reader_options = crate::prepare::reader_options();
            scope.spawn(move || {
                loop {
                    let index = next_file.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(index) else { break };
                    for item in provindex_corpus::read_path_with(path, reader_options.clone()) {
                        let event = match item {
                            Ok(doc) => Event::Capture(Box::new(prepare(doc, crawl))),
                            Err(error) => Event::Error(error),
                        };
                        if sender.send(event).is_err() {
                            return; // the writer stopped on an index error
                        }
                    }
                }
            });
        }
        drop(sender);
        for event in receiver {
            match event {
                Event::Error(error) => {
                    tracing::debug!(%error, "unreadable record");
                    report.error_count += 1;
                    if report.errors.len() < config.max_reported_errors {
                        report.errors.push(error.to_string());
                    }
                }
                Event::Capture(mut prepared) => {
                    if let Some(reason) = &prepared.url_error {
                        tracing::debug!(%reason, "url without SURT key");
                        report.url_errors += 1;
                    }
                    if prepared.revisit.is_some() {
                        revisits.push(*prepared);
                        continue;
                    }
                    if !prepared.record.payload_digest.is_empty() {
                        let content = prepared.content.as_ref().map(|c| c.content_id);
                        let entry = digests
                            .entry(prepared.record.payload_digest.clone())
                            .or_insert(content);
                        // Equal payloads give equal text; prefer a known content.
                        if entry.is_none() {
                            *entry = content;
                        }
                    }
                    if prepared.content.is_none() {
                        report.captures_without_text += 1;
                    }
                    let added = builder.add_capture(
                        prepared.capture_id,
                        &prepared.record,
                        prepared.content.as_ref(),
                    )?;
                    if added
                        && let (Some(content), Some(sketch)) = (&prepared.content, &prepared.sketch)
                    {
                        builder.add_sketch(
                            content.content_id,
                            &sketch.signature,
                            &sketch.band_keys,
                        )?;
                    }
                    if added && let Some(file) = prepared.site_file.take() {
                        site_files.observe(file, prepared.capture_id, &prepared.record);
                    }
                }
            }
        }
        Ok(())
    })?;

    resolve_revisits(&mut builder, revisits, &digests, &mut report)?;
    // Site files apply to every capture of their origin, revisits included.
    report.site_signals = site_files.apply(&mut builder)?;

    let summary = builder.finish(BuildFacts {
        normalization_version: provindex_sketch::NORMALIZATION_VERSION,
        crawls: vec![config.crawl.clone()],
        inputs: files.iter().map(|p| p.display().to_string()).collect(),
        read_errors: report.error_count,
        built_at: config.built_at,
        sketch_spec: crate::prepare::default_hasher().spec().to_string(),
    })?;
    report.manifest = summary.manifest;
    Ok(report)
}

/// Points each revisit at its original's content: by WARC-Refers-To record id,
/// else by payload digest, else by target URL and date. Revisits are handled
/// in capture-id order, in passes, so chains of revisits resolve whatever the
/// input order was.
fn resolve_revisits(
    builder: &mut IndexBuilder,
    mut pending: Vec<PreparedCapture>,
    digests: &HashMap<String, Option<u128>>,
    report: &mut BuildReport,
) -> Result<(), PipelineError> {
    pending.sort_by_key(|p| p.capture_id);
    loop {
        let before = pending.len();
        let mut unresolved = Vec::new();
        for mut revisit in pending {
            let Some(reference) = revisit.revisit.as_ref() else {
                continue;
            };
            let mut content = None;
            if let Some(original) = reference.refers_to_capture {
                content = builder.capture_content(original)?;
            }
            if content.is_none() {
                content = reference
                    .payload_digest
                    .as_ref()
                    .and_then(|digest| digests.get(digest).copied());
            }
            if content.is_none()
                && let Some((surt, time)) = &reference.target
            {
                content = builder.url_content(surt, *time)?;
            }
            match content {
                Some(original) => {
                    // An original without text leaves the revisit without text too.
                    if let Some(content_id) = original {
                        revisit.record.content_id = content_id.to_be_bytes().to_vec();
                    } else {
                        report.captures_without_text += 1;
                    }
                    builder.add_capture(revisit.capture_id, &revisit.record, None)?;
                    report.revisits_resolved += 1;
                }
                None => unresolved.push(revisit),
            }
        }
        pending = unresolved;
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    // Unresolved revisits are still captures: provenance without known text.
    for revisit in pending {
        report.revisits_unresolved += 1;
        report.captures_without_text += 1;
        builder.add_capture(revisit.capture_id, &revisit.record, None)?;
    }
    Ok(())
}

fn empty_manifest() -> Manifest {
    Manifest {
        format_version: provindex_index::FORMAT_VERSION,
        normalization_version: provindex_sketch::NORMALIZATION_VERSION,
        crawls: Vec::new(),
        inputs: Vec::new(),
        built_at: 0,
        captures: 0,
        contents: 0,
        urls: 0,
        read_errors: 0,
        duplicate_captures: 0,
        digest: String::new(),
        sketch_spec: String::new(),
    }
}
