//! The build stage's writer: prepared captures, in a deterministic order, into
//! an [`IndexBuilder`], each completed before it is written (site-level
//! signals from the crawl's site files, its content's near-duplicate
//! cluster); then the revisits, completed the same way, and the manifest (last).

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
    clusters: Clusters,
    revisits: Vec<PreparedCapture>,
    // Payload digest → content (None: the payload has no text), to resolve
    // revisits that name no record id.
    digests: HashMap<String, Option<u128>>,
}

impl IndexWriter {
    /// Creates the index at `out` (which must not exist or be empty), with
    /// the crawl's site files (every one, gathered before any capture is
    /// written) and the near-duplicate clusters of more than one content.
    pub fn create(
        out: &Path,
        robots: Option<&Path>,
        mut site_files: SiteFiles,
        clusters: Clusters,
    ) -> Result<Self, crate::PipelineError> {
        let builder = IndexBuilder::create(out)?;
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
            clusters,
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
        complete(&mut self.site_files, &self.clusters, &mut prepared);
        let added = self.builder.add_capture(
            prepared.capture_id,
            &prepared.record,
            prepared.content.as_ref(),
        )?;
        if added && let (Some(content), Some(sketch)) = (&prepared.content, &prepared.sketch) {
            let signature =
                provindex_sketch::Signature::from_bytes(&sketch.signature).map_err(|e| {
                    IndexError::Corrupt {
                        cf: "signatures",
                        reason: format!("signature of {:032x}: {e}", content.content_id),
                    }
                })?;
            self.builder
                .add_sketch(content.content_id, &signature.0, &sketch.band_keys)?;
        }
        Ok(())
    }

    /// Resolves and writes the revisits, writes the manifest last and
    /// closes the index.
    pub fn finish(
        mut self,
        facts: BuildFacts,
        mut report: BuildReport,
    ) -> Result<BuildReport, crate::PipelineError> {
        let site_files = &mut self.site_files;
        let clusters = &self.clusters;
        resolve_revisits(
            &mut self.builder,
            self.revisits,
            &self.digests,
            &mut self.report,
            // Site files apply to every capture of their origin, revisits included.
            |revisit| complete(site_files, clusters, revisit),
        )?;
        self.report.site_signals = self.site_files.finish();
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
    mut complete: impl FnMut(&mut PreparedCapture),
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
                    complete(&mut revisit);
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
    for mut revisit in pending {
        report.revisits_unresolved += 1;
        report.captures_without_text += 1;
        complete(&mut revisit);
        builder.add_capture(revisit.capture_id, &revisit.record, None)?;
    }
    Ok(())
}

/// Near-duplicate clusters of more than one content, by member content id
/// (the components stage's `clusters.run`).
pub type Clusters = HashMap<u128, ClusterInfo>;

/// Completes a capture before it is written: the site-level signals of its
/// origin, and its content's cluster (on the record, and on the content when
/// this capture brings it).
fn complete(site_files: &mut SiteFiles, clusters: &Clusters, prepared: &mut PreparedCapture) {
    site_files.apply_to(&mut prepared.record);
    let Some(content_id) = prepared.record.content_id() else {
        return;
    };
    let Some(cluster) = clusters.get(&content_id) else {
        return;
    };
    // A capture stores only a cluster id other than its content's own.
    if cluster.cluster_id != content_id {
        prepared.record.cluster_id = cluster.cluster_id.to_be_bytes().to_vec();
    }
    if let Some(content) = &mut prepared.content {
        content.cluster = Some(*cluster);
    }
}

pub(crate) fn empty_manifest() -> Manifest {
    Manifest {
        normalization_version: crate::prepare::default_hasher()
            .spec()
            .normalization_version
            .number(),
        ..provindex_index::Manifest::empty()
    }
}
