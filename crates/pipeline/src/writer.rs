//! The build stage's writer: prepared captures, in a deterministic order, into
//! an [`IndexBuilder`], each completed before it is written (site-level
//! signals from the crawl's site files, its content's near-duplicate
//! cluster); then the revisits (resolved by [`crate::revisits`]), completed
//! the same way, and the manifest (last).

use std::path::Path;

use provindex_index::partition::Partitioning;
use provindex_index::{BuildFacts, IndexBuilder, IndexError, Manifest};
use serde::{Deserialize, Serialize};

use crate::cluster_lookup::{ClusterLookup, ClusterLookupError};
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

/// Writes one index — or one partition of it — from prepared captures. Feed
/// it every capture of the partition in the same order for the same corpus
/// (the build stage merges the scan runs by capture id), then the resolved
/// revisits ([`crate::revisits`]), and the index is the same, byte for byte
/// in its logical digest.
pub struct IndexWriter {
    builder: IndexBuilder,
    report: BuildReport,
    site_files: SiteFiles,
    clusters: ClusterLookup,
}

impl IndexWriter {
    /// Creates the index at `out` (which must not exist or be empty), with
    /// the crawl's site files (every one, gathered before any capture is
    /// written) and the near-duplicate clusters of more than one content.
    pub fn create(
        out: &Path,
        robots: Option<&Path>,
        site_files: SiteFiles,
        clusters: ClusterLookup,
    ) -> Result<Self, crate::PipelineError> {
        Self::create_partition(out, robots, site_files, clusters, Partitioning::WHOLE, 0)
    }

    /// Creates partition `partition` of a partitioned index at `out`.
    pub fn create_partition(
        out: &Path,
        robots: Option<&Path>,
        mut site_files: SiteFiles,
        clusters: ClusterLookup,
        partitioning: Partitioning,
        partition: u32,
    ) -> Result<Self, crate::PipelineError> {
        let builder = IndexBuilder::create_partition(out, partitioning, partition)?;
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
        })
    }

    /// Adds one capture that is not a revisit: its URL-side rows when this
    /// partition owns it, its content-side rows when it holds its content.
    /// Only owned captures are counted.
    pub fn add(&mut self, mut prepared: PreparedCapture) -> Result<(), IndexError> {
        let owned = self
            .builder
            .owns_capture(prepared.capture_id, &prepared.record);
        if owned {
            if let Some(reason) = &prepared.url_error {
                tracing::debug!(%reason, "url without SURT key");
                self.report.url_errors += 1;
            }
            if prepared.content.is_none() {
                self.report.captures_without_text += 1;
            }
        }
        self.complete(&mut prepared, owned)?;
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

    /// Adds a revisit whose original the revisits stage looked up (its
    /// record's content id set, or left empty when none has text).
    pub fn add_revisit(&mut self, mut revisit: PreparedCapture) -> Result<(), IndexError> {
        let owned = self
            .builder
            .owns_capture(revisit.capture_id, &revisit.record);
        if owned && let Some(reason) = &revisit.url_error {
            tracing::debug!(%reason, "url without SURT key");
            self.report.url_errors += 1;
        }
        self.complete(&mut revisit, owned)?;
        self.builder
            .add_capture(revisit.capture_id, &revisit.record, None)?;
        Ok(())
    }

    /// Completes a capture; only owned captures count in the site-signal
    /// statistics (a copy is completed the same way in its owner).
    fn complete(&mut self, prepared: &mut PreparedCapture, owned: bool) -> Result<(), IndexError> {
        let before = self.site_files.stats;
        complete(&mut self.site_files, &mut self.clusters, prepared)?;
        if !owned {
            self.site_files.stats = before;
        }
        Ok(())
    }

    /// Writes the manifest last and closes the index.
    pub fn finish(
        self,
        facts: BuildFacts,
        mut report: BuildReport,
    ) -> Result<BuildReport, crate::PipelineError> {
        let site_signals = self.site_files.finish();
        let summary = self.builder.finish(facts)?;
        report.manifest = summary.manifest;
        report.url_errors += self.report.url_errors;
        report.captures_without_text += self.report.captures_without_text;
        report.site_signals = site_signals;
        Ok(report)
    }
}

/// Completes a capture before it is written: the site-level signals of its
/// origin, and its content's cluster (on the record, and on the content when
/// this capture brings it).
fn complete(
    site_files: &mut SiteFiles,
    clusters: &mut ClusterLookup,
    prepared: &mut PreparedCapture,
) -> Result<(), IndexError> {
    site_files.apply_to(&mut prepared.record);
    let Some(content_id) = prepared.record.content_id() else {
        return Ok(());
    };
    let cluster = clusters.get(content_id).map_err(|e| match e {
        ClusterLookupError::Io { path, source } => IndexError::Io { path, source },
        ClusterLookupError::Record { .. } => IndexError::Corrupt {
            cf: "clusters",
            reason: format!("cluster of {content_id:032x}: {e}"),
        },
    })?;
    let Some(cluster) = cluster else {
        return Ok(());
    };
    // A capture stores only a cluster id other than its content's own.
    if cluster.cluster_id != content_id {
        prepared.record.cluster_id = cluster.cluster_id.to_be_bytes().to_vec();
    }
    if let Some(content) = &mut prepared.content {
        content.cluster = Some(cluster);
    }
    Ok(())
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

/// One report for a partitioned index: the partitions' own counts summed,
/// the job-wide facts (inputs, read errors, site files kept) taken once.
pub fn merge_reports<'a>(reports: impl IntoIterator<Item = &'a BuildReport>) -> BuildReport {
    let mut reports = reports.into_iter();
    let Some(first) = reports.next() else {
        return BuildReport {
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
        };
    };
    let mut merged = first.clone();
    merged.manifest.partition = 0;
    merged.manifest.chunk_digests = Vec::new();
    for report in reports {
        let (m, r) = (&mut merged.manifest, &report.manifest);
        m.captures += r.captures;
        m.contents += r.contents;
        m.urls += r.urls;
        m.duplicate_captures += r.duplicate_captures;
        m.clusters += r.clusters;
        m.clustered_contents += r.clustered_contents;
        merged.url_errors += report.url_errors;
        merged.captures_without_text += report.captures_without_text;
        merged.revisits_resolved += report.revisits_resolved;
        merged.revisits_unresolved += report.revisits_unresolved;
        merged.site_signals.captures_visited += report.site_signals.captures_visited;
        merged.site_signals.captures_updated += report.site_signals.captures_updated;
    }
    merged
}
