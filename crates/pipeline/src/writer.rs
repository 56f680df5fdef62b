//! The build stage's writer: prepared captures, in a deterministic order, into
//! an [`IndexBuilder`]; then revisits, site signals, near-duplicate clusters,
//! and the manifest (last).

use std::collections::HashMap;
use std::path::Path;

use provindex_index::records::ClusterInfo;
use provindex_index::{BuildFacts, IndexBuilder, IndexError, Manifest};
use serde::{Deserialize, Serialize};

use crate::prepare::PreparedCapture;
use crate::site_signals::{SiteFiles, SiteSignalStats};

/// What a build did, for the CLI summary and the job status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    pub manifest: Manifest,
    pub files: usize,
    /// The first read errors (`uri@offset: reason`).
    pub errors: Vec<String>,
    pub error_count: u64,
    /// Records whose URL has no SURT key (kept, but not findable by URL).
    pub url_errors: u64,
    /// Records without extractable text (images, PDFs, empty pages).
    pub captures_without_text: u64,
    pub revisits_resolved: u64,
    pub revisits_unresolved: u64,
    /// The site-signal pass (robots.txt, tdmrep.json, ai.txt of the crawl).
    pub site_signals: SiteSignalStats,
    /// Inputs left out because their scan task kept failing (job policy
    /// `skip_failed_inputs`), with the reason.
    #[serde(default)]
    pub skipped_inputs: Vec<String>,
}

/// Writes one index from prepared captures. Feed it every capture in the
/// same order for the same corpus (the build stage merges the scan runs by
/// capture id) and the index is the same, byte for byte in its logical digest.
pub struct IndexWriter {
    builder: IndexBuilder,
    report: BuildReport,
    site_files: SiteFiles,
    revisits: Vec<PreparedCapture>,
    // Payload digest → content (None: the payload has no text), to resolve
    // revisits that name no record id.
    digests: HashMap<String, Option<u128>>,
}

impl IndexWriter {
    /// Creates the index at `out` (which must not exist or be empty).
    pub fn create(out: &Path, robots: Option<&Path>) -> Result<Self, crate::PipelineError> {
        let builder = IndexBuilder::create(out)?;
        let mut site_files = SiteFiles::default();
        if let Some(robots) = robots {
            site_files.add_given_robots(robots).map_err(|source| {
                crate::PipelineError::ListInput {
                    path: robots.display().to_string(),
                    source,
                }
            })?;
        }
        Ok(Self {
            builder,
            report: BuildReport {
                manifest: empty_manifest(),
                files: 0,
                errors: Vec::new(),
                error_count: 0,
                url_errors: 0,
                captures_without_text: 0,
                revisits_resolved: 0,
                revisits_unresolved: 0,
                site_signals: SiteSignalStats::default(),
                skipped_inputs: Vec::new(),
            },
            site_files,
            revisits: Vec::new(),
            digests: HashMap::new(),
        })
    }

    /// Adds one capture (revisits are kept until [`Self::finish`]).
    pub fn add(&mut self, mut prepared: PreparedCapture) -> Result<(), IndexError> {
        if let Some(reason) = &prepared.url_error {
            tracing::debug!(%reason, "url without SURT key");
            self.report.url_errors += 1;
        }
        if prepared.revisit.is_some() {
            self.revisits.push(prepared);
            return Ok(());
        }
        if !prepared.record.payload_digest.is_empty() {
            let content = prepared.content.as_ref().map(|c| c.content_id);
            let entry = self
                .digests
                .entry(prepared.record.payload_digest.clone())
                .or_insert(content);
            // Equal payloads give equal text; prefer a known content.
            if entry.is_none() {
                *entry = content;
            }
        }
        if prepared.content.is_none() {
            self.report.captures_without_text += 1;
        }
        let added = self.builder.add_capture(
            prepared.capture_id,
            &prepared.record,
            prepared.content.as_ref(),
        )?;
        if added && let (Some(content), Some(sketch)) = (&prepared.content, &prepared.sketch) {
            self.builder
                .add_sketch(content.content_id, &sketch.signature, &sketch.band_keys)?;
        }
        if added && let Some(file) = prepared.site_file.take() {
            self.site_files
                .observe(file, prepared.capture_id, &prepared.record);
        }
        Ok(())
    }

    /// Resolves revisits, applies site signals, records the near-duplicate
    /// clusters (`(content_id, cluster)` for every member of a cluster of more
    /// than one), writes the manifest last and closes the index.
    pub fn finish(
        mut self,
        clusters: impl IntoIterator<Item = Result<(u128, ClusterInfo), crate::PipelineError>>,
        facts: BuildFacts,
        mut report: BuildReport,
    ) -> Result<BuildReport, crate::PipelineError> {
        resolve_revisits(
            &mut self.builder,
            self.revisits,
            &self.digests,
            &mut self.report,
        )?;
        // Site files apply to every capture of their origin, revisits included.
        self.report.site_signals = self.site_files.apply(&mut self.builder)?;
        for member in clusters {
            let (content_id, cluster) = member?;
            self.builder.set_cluster(content_id, cluster)?;
        }
        let summary = self.builder.finish(facts)?;
        report.manifest = summary.manifest;
        report.url_errors = self.report.url_errors;
        report.captures_without_text = self.report.captures_without_text;
        report.revisits_resolved = self.report.revisits_resolved;
        report.revisits_unresolved = self.report.revisits_unresolved;
        report.site_signals = self.report.site_signals;
        Ok(report)
    }
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
) -> Result<(), IndexError> {
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

pub(crate) fn empty_manifest() -> Manifest {
    Manifest {
        format_version: provindex_index::FORMAT_VERSION,
        normalization_version: crate::prepare::default_hasher()
            .spec()
            .normalization_version
            .number(),
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
        clusters: 0,
        clustered_contents: 0,
    }
}
