//! Lineage (issue 18): which index version and registry state an export
//! used, and — later — which recorded exports and index versions held a
//! content, and whether a registry entry covered it at the export's time.
//!
//! # Recorded
//!
//! Every export's summary carries a [`Lineage`] object: the index version
//! (its digest and, when the index has a `ledger.json`, the signed ledger
//! manifest as found, with its roots and signature), the registry's
//! [`RegistrySnapshot`] (last audit sequence number, entry count, highest
//! entry id, SHA-256 over the entries), the export's time, the registry time
//! `at` it judged entries at, and its outputs with their counts.
//!
//! # The log
//!
//! An export that honours a registry appends its [`Lineage`] as one line to
//! `REGISTRY_DIR/lineage.jsonl` ([`LINEAGE_LOG`]; RocksDB ignores a file it
//! did not write), after its summary is committed, with one `write` in
//! append mode and an fsync. If the append fails the export's outputs are
//! deleted again and the export fails: a committed export is a recorded one.
//! The log only grows; a last line without its newline (a crash mid-append,
//! whose export then reported an error) is skipped with a warning, any
//! other unreadable line is an error naming the line. Exports without a
//! registry are not logged (their summaries still carry lineage).
//!
//! # Answers ([`content_lineage`])
//!
//! A recorded export *included* a content when the content was in the
//! export's index version and the export's exclusions file does not list
//! it: kept plus excluded is every content of the version (the export
//! refuses to commit otherwise). Whether the version holds the content is
//! asked of the served index when it is that version, else of the recorded
//! index directory when it is still there with the same digest, else of the
//! export's manifest file (the kept rows). Exclusions and manifests are read
//! in JSONL; other formats answer `unknown`, saying so. Whether a registry
//! entry covered the content then is the policy's reservation rule at the
//! export's `at` over the entries the export could see: entries registered
//! after it (id above its snapshot's highest id) are left out, and an entry
//! revoked after the export counts as not yet revoked.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use provindex_corpus::store::{CorpusStore, StoreError};
use provindex_index::registry::{Registry, RegistrySnapshot};
use provindex_index::{IndexParts, IndexReader};
use provindex_policy::{Reason, RegistryCover};
use serde::{Deserialize, Serialize};

use crate::{DisclosureError, Result, Sources, registry_covers, reservation_with, view_of};

/// The `format` of a [`Lineage`] object.
pub const LINEAGE_FORMAT: &str = "provindex-lineage-v1";
/// The lineage log's file name inside the registry directory.
pub const LINEAGE_LOG: &str = "lineage.jsonl";
/// The signed ledger manifest's file name inside an index directory
/// (`provindex_pipeline::ledger::LEDGER_FILE`).
pub const LEDGER_FILE: &str = "ledger.json";

/// What an export used and wrote (the summary's `lineage`, one log line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// [`LINEAGE_FORMAT`].
    pub format: String,
    /// When the export ran (unix seconds).
    pub exported_at: i64,
    /// Registry entries in force at this time applied (unix seconds).
    pub at: i64,
    pub index: IndexVersion,
    /// `None`: no registry was honoured.
    pub registry: Option<RegistryUse>,
    pub output: ExportOutput,
}

/// One index version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexVersion {
    /// Where it was read (the index directory).
    pub uri: String,
    /// The index manifest's digest.
    pub digest: String,
    pub built_at: i64,
    pub contents: u64,
    /// The signed ledger manifest, when the index has a `ledger.json`.
    pub ledger: Option<LedgerFacts>,
}

/// An index version's signed ledger manifest as found in `ledger.json`
/// (checked by `provindex serve` and `provindex verify`, not by the export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerFacts {
    pub content_root: String,
    pub sha256_root: String,
    /// The ledger manifest digest of the version this one was built on.
    pub base_version_digest: Option<String>,
    pub public_key: String,
    /// The Ed25519 signature over the canonical manifest: deterministic, so
    /// it fingerprints the signed manifest.
    pub signature: String,
    /// `ledger.json` as found, so a reader with `provindex-ledger` can
    /// recompute its manifest digest (`GetSignedManifest.manifest_digest`).
    pub signed_manifest: serde_json::Value,
}

/// The registry an export honoured, as it was then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryUse {
    pub uri: String,
    #[serde(flatten)]
    pub snapshot: RegistrySnapshot,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportOutput {
    pub format: String,
    pub manifest: String,
    pub exclusions: String,
    pub summary: String,
    pub contents: u64,
    pub kept: u64,
    pub excluded: u64,
}

fn io_error(uri: &Path, source: std::io::Error) -> DisclosureError {
    DisclosureError::Store(StoreError::Io {
        uri: uri.display().to_string(),
        source,
    })
}

/// The index version `reader` reads, with its `ledger.json` if any (in the
/// index directory). A `ledger.json` that cannot be read as a signed
/// manifest is an error naming the file and field. A partitioned index's
/// ledger (a publication manifest over partition manifests) is not
/// recorded yet: `ledger` is `None` for it.
pub fn index_version(reader: IndexParts<'_>) -> Result<IndexVersion> {
    let manifest = reader.manifest();
    let ledger = match reader.parts() {
        [one] => {
            let path = one.path().join(LEDGER_FILE);
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(ledger_facts(&path, &text)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_error(&path, e)),
            }
        }
        _ => None,
    };
    let uri = std::fs::canonicalize(reader.path()).unwrap_or_else(|_| reader.path().to_owned());
    Ok(IndexVersion {
        uri: uri.display().to_string(),
        digest: manifest.digest.clone(),
        built_at: manifest.built_at,
        contents: manifest.contents,
        ledger,
    })
}

fn ledger_facts(path: &Path, text: &str) -> Result<LedgerFacts> {
    let bad =
        |reason: String| DisclosureError::Inconsistent(format!("{}: {reason}", path.display()));
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let field = |value: &serde_json::Value, name: &str| -> Result<String> {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("no string field {name:?}")))
    };
    let manifest = doc
        .get("manifest")
        .ok_or_else(|| bad("no field \"manifest\"".into()))?;
    Ok(LedgerFacts {
        content_root: field(manifest, "content_root")?,
        sha256_root: field(manifest, "sha256_root")?,
        base_version_digest: manifest
            .get("base_version_digest")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        public_key: field(&doc, "public_key")?,
        signature: field(&doc, "signature")?,
        signed_manifest: doc,
    })
}

/// The registry `sources` honours, as it is now (`None` without one).
pub fn registry_use(sources: &Sources<'_>) -> Result<Option<RegistryUse>> {
    let Some(registry) = sources.registry else {
        return Ok(None);
    };
    Ok(Some(RegistryUse {
        uri: registry.path().display().to_string(),
        snapshot: registry.snapshot()?,
    }))
}

/// The lineage log of the registry at `registry_dir`.
pub fn log_path(registry_dir: &Path) -> PathBuf {
    registry_dir.join(LINEAGE_LOG)
}

/// Appends `lineage` to the registry's lineage log (one line, one write,
/// fsync).
pub fn record(registry: &Registry, lineage: &Lineage) -> Result<()> {
    let path = log_path(registry.path());
    let mut line = serde_json::to_vec(lineage)
        .map_err(|e| DisclosureError::Inconsistent(format!("encoding the lineage: {e}")))?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .map_err(|e| io_error(&path, e))
}

/// Every export recorded in the registry's lineage log, in the order
/// recorded (none when there is no log yet).
pub fn recorded(registry: &Registry) -> Result<Vec<Lineage>> {
    read_log(&log_path(registry.path()))
}

fn read_log(path: &Path) -> Result<Vec<Lineage>> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(path, e)),
    };
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let last = n + 1 == lines.len();
        if line.is_empty() {
            continue;
        }
        if last && !complete {
            tracing::warn!(log = %path.display(), line = n + 1, "skipping a partial last line of the lineage log");
            continue;
        }
        let lineage: Lineage = serde_json::from_slice(line).map_err(|e| {
            DisclosureError::Inconsistent(format!("{} line {}: {e}", path.display(), n + 1))
        })?;
        if lineage.format != LINEAGE_FORMAT {
            return Err(DisclosureError::Inconsistent(format!(
                "{} line {}: format {:?}, expected {LINEAGE_FORMAT:?}",
                path.display(),
                n + 1,
                lineage.format
            )));
        }
        out.push(lineage);
    }
    Ok(out)
}

// ---------------------------------------------------------------- answers

/// A content asked about, and how the question reached it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageSubject {
    pub content_id: u128,
    /// `content_id`, `url` (a capture of the URL holds it), `exact` (the
    /// work's normalized text) or `near_duplicate`.
    pub matched: String,
    /// Estimated Jaccard to the work's text (`near_duplicate`, `exact`).
    pub similarity: Option<f64>,
}

/// An index version known to the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    /// `served`, `base` (the served version's ledger names it as its base)
    /// or `exported` (a recorded export read it).
    pub relation: String,
    /// Empty for a base version known only by its ledger manifest digest.
    pub index_digest: String,
    pub uri: String,
    pub built_at: Option<i64>,
    pub ledger: Option<LedgerFacts>,
    /// SHA-256 of the ledger manifest's canonical bytes; filled in by a
    /// reader with `provindex-ledger` (the base: known from the start).
    pub manifest_digest: Option<String>,
}

/// A recorded export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportInfo {
    pub summary: String,
    pub manifest: String,
    pub exclusions: String,
    pub format: String,
    pub exported_at: i64,
    pub at: i64,
    pub index_digest: String,
    pub registry_audit_seq: Option<u64>,
    pub registry_last_entry_id: Option<u64>,
}

/// A registry entry that covered a content at an export's time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Covering {
    pub entry_id: u64,
    pub rightholder: String,
    pub scope_kind: String,
    pub scope_value: String,
    /// `domain`, `url_prefix`, `content`, `work_exact`, `work_near`.
    pub how: String,
    /// Effective from (unix seconds).
    pub since: i64,
}

/// One content in one recorded export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportPresence {
    pub summary: String,
    pub exported_at: i64,
    /// `included`, `excluded`, `not_in_version` or `unknown`.
    pub inclusion: String,
    /// `excluded`: the exclusion's reason; `unknown`: why.
    pub reason: String,
    /// `excluded`: the exclusion's detail (`entry:ID`, `capture:ID`).
    pub detail: String,
    /// Whether a registry entry covered it at the export's `at`, as the
    /// export could see the registry (`None`: the content's captures are
    /// not at hand to ask).
    pub covered: Option<bool>,
    pub covering: Vec<Covering>,
    /// The policy's verdict then (crawl signals and entries): `reserved`,
    /// `not_reserved`, `unknown`; empty when not asked.
    pub verdict: String,
}

/// One index version's answer for one content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionPresence {
    pub index_digest: String,
    /// `None`: that version is not at hand.
    pub present: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentLineage {
    /// 32 hex digits.
    pub content_id: String,
    pub matched: String,
    pub similarity: Option<f64>,
    pub versions: Vec<VersionPresence>,
    pub exports: Vec<ExportPresence>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageAnswer {
    /// Served first, then its base, then the versions exports read.
    pub versions: Vec<VersionInfo>,
    /// Recorded exports, in the order recorded.
    pub exports: Vec<ExportInfo>,
    pub contents: Vec<ContentLineage>,
    /// The registry whose log was read (`None`: no registry, no exports).
    pub registry: Option<String>,
}

const INCLUDED: &str = "included";
const EXCLUDED: &str = "excluded";
const NOT_IN_VERSION: &str = "not_in_version";
const UNKNOWN: &str = "unknown";

/// The rows of an export file naming one of `ids`, or why it was not read.
/// JSONL only: other formats would need their readers here.
fn rows_naming(
    store: &CorpusStore,
    uri: &str,
    format: &str,
    ids: &BTreeSet<String>,
) -> std::result::Result<HashMap<String, serde_json::Value>, String> {
    if format != "jsonl" {
        return Err(format!(
            "{uri} is {format}: lineage reads jsonl exports only"
        ));
    }
    let reader = store.open(uri).map_err(|e| e.to_string())?;
    let mut found = HashMap::new();
    for (n, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| format!("{uri}: {e}"))?;
        if line.is_empty() {
            continue;
        }
        let row: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{uri} line {}: {e}", n + 1))?;
        let Some(id) = row.get("content_id").and_then(serde_json::Value::as_str) else {
            return Err(format!("{uri} line {}: no content_id", n + 1));
        };
        if ids.contains(id) {
            found.insert(id.to_owned(), row);
        }
    }
    Ok(found)
}

fn how(cover: &RegistryCover) -> &'static str {
    match cover.cover {
        provindex_policy::Cover::Domain => "domain",
        provindex_policy::Cover::UrlPrefix => "url_prefix",
        provindex_policy::Cover::Content => "content",
        provindex_policy::Cover::WorkExact => "work_exact",
        provindex_policy::Cover::WorkNear { .. } => "work_near",
    }
}

/// The registry facts as the export saw them: entries registered after it
/// left out, revocations after it not yet made.
fn as_of(covers: Vec<RegistryCover>, export: &Lineage) -> Vec<RegistryCover> {
    let last = export
        .registry
        .as_ref()
        .and_then(|r| r.snapshot.last_entry_id);
    covers
        .into_iter()
        .filter(|c| last.is_some_and(|last| c.entry_id <= last))
        .map(|mut c| {
            if c.revoked_at.is_some_and(|t| t > export.exported_at) {
                c.revoked_at = None;
            }
            c
        })
        .collect()
}

/// Which recorded exports and index versions held each of `subjects`, and
/// whether a registry entry covered it at each export's time (see the
/// module doc). `sources.reader` is the served index; `sources.registry`
/// holds the log (`sources.at` is not used: each export's own `at` is).
/// Blocking (reads export files through `store`).
pub fn content_lineage(
    store: &CorpusStore,
    sources: Sources<'_>,
    subjects: &[LineageSubject],
) -> Result<LineageAnswer> {
    let served = index_version(sources.reader)?;
    let exports = match sources.registry {
        Some(registry) => recorded(registry)?,
        None => Vec::new(),
    };
    let mut versions = vec![VersionInfo {
        relation: "served".into(),
        index_digest: served.digest.clone(),
        uri: served.uri.clone(),
        built_at: Some(served.built_at),
        ledger: served.ledger.clone(),
        manifest_digest: None,
    }];
    if let Some(base) = served
        .ledger
        .as_ref()
        .and_then(|l| l.base_version_digest.clone())
    {
        versions.push(VersionInfo {
            relation: "base".into(),
            index_digest: String::new(),
            uri: String::new(),
            built_at: None,
            ledger: None,
            manifest_digest: Some(base),
        });
    }
    // Other versions the exports read, opened when still there unchanged.
    let mut readers: BTreeMap<String, Option<IndexReader>> = BTreeMap::new();
    for export in &exports {
        let digest = &export.index.digest;
        if *digest == served.digest || readers.contains_key(digest) {
            continue;
        }
        let path = Path::new(&export.index.uri);
        let reader = path
            .is_dir()
            .then(|| IndexReader::open(path).ok())
            .flatten()
            .filter(|r| r.manifest().digest == *digest);
        readers.insert(digest.clone(), reader);
        versions.push(VersionInfo {
            relation: "exported".into(),
            index_digest: digest.clone(),
            uri: export.index.uri.clone(),
            built_at: Some(export.index.built_at),
            ledger: export.index.ledger.clone(),
            manifest_digest: None,
        });
    }
    let reader_of = |digest: &str| -> Option<IndexParts<'_>> {
        if digest == served.digest {
            Some(sources.reader)
        } else {
            readers
                .get(digest)
                .and_then(Option::as_ref)
                .map(IndexParts::from)
        }
    };

    let ids: BTreeSet<String> = subjects
        .iter()
        .map(|s| format!("{:032x}", s.content_id))
        .collect();
    // Per export: its exclusions naming the ids (or why unread), and its
    // kept rows when its version is not at hand.
    let mut excluded_rows = Vec::with_capacity(exports.len());
    let mut kept_rows = Vec::with_capacity(exports.len());
    for export in &exports {
        let out = &export.output;
        excluded_rows.push(rows_naming(store, &out.exclusions, &out.format, &ids));
        kept_rows.push(if reader_of(&export.index.digest).is_none() {
            Some(rows_naming(store, &out.manifest, &out.format, &ids))
        } else {
            None
        });
    }

    let mut contents = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let id = subject.content_id;
        let hex = format!("{id:032x}");
        let mut presence = Vec::new();
        for version in &versions {
            let present = match version.relation.as_str() {
                "base" => None,
                _ => match reader_of(&version.index_digest) {
                    Some(reader) => Some(reader.content(id)?.is_some()),
                    None => None,
                },
            };
            presence.push(VersionPresence {
                index_digest: version.index_digest.clone(),
                present,
            });
        }
        let mut in_exports = Vec::with_capacity(exports.len());
        for (n, export) in exports.iter().enumerate() {
            let version = reader_of(&export.index.digest);
            let record = match version {
                Some(reader) => reader.content(id)?,
                None => None,
            };
            let mut answer = ExportPresence {
                summary: export.output.summary.clone(),
                exported_at: export.exported_at,
                inclusion: UNKNOWN.into(),
                reason: String::new(),
                detail: String::new(),
                covered: None,
                covering: Vec::new(),
                verdict: String::new(),
            };
            match (&excluded_rows[n], version, &record) {
                // Not in the version it exported: nothing to read.
                (_, Some(_), None) => answer.inclusion = NOT_IN_VERSION.into(),
                (Err(why), _, _) => answer.reason = why.clone(),
                (Ok(excluded), _, _) => {
                    if let Some(row) = excluded.get(&hex) {
                        answer.inclusion = EXCLUDED.into();
                        let text = |name: &str| {
                            row.get(name)
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        answer.reason = text("reason");
                        answer.detail = text("detail");
                    } else if record.is_some() {
                        answer.inclusion = INCLUDED.into();
                    } else {
                        match &kept_rows[n] {
                            Some(Ok(kept)) if kept.contains_key(&hex) => {
                                answer.inclusion = INCLUDED.into();
                            }
                            Some(Ok(_)) => answer.inclusion = NOT_IN_VERSION.into(),
                            Some(Err(why)) => answer.reason = why.clone(),
                            None => {}
                        }
                    }
                }
            }
            if let (Some(reader), Some(record)) = (version, record) {
                let at_export = Sources {
                    reader,
                    registry: sources.registry,
                    at: export.at,
                };
                let view = view_of(reader.part_of_content(id), id, record)?;
                let covers = if export.registry.is_some() {
                    as_of(registry_covers(&at_export, &view)?, export)
                } else {
                    Vec::new()
                };
                let decision = reservation_with(&at_export, &view, &covers);
                answer.covering = decision
                    .by
                    .iter()
                    .filter_map(|reason| match reason {
                        Reason::Registry(cover) => Some(Covering {
                            entry_id: cover.entry_id,
                            rightholder: cover.rightholder.clone(),
                            scope_kind: cover.scope_kind.clone(),
                            scope_value: cover.scope_value.clone(),
                            how: how(cover).to_owned(),
                            since: cover.effective_from,
                        }),
                        Reason::CrawlSignal { .. } => None,
                    })
                    .collect();
                answer.covered = Some(!answer.covering.is_empty());
                answer.verdict = decision.verdict.as_str().to_owned();
            }
            in_exports.push(answer);
        }
        contents.push(ContentLineage {
            content_id: hex,
            matched: subject.matched.clone(),
            similarity: subject.similarity,
            versions: presence,
            exports: in_exports,
        });
    }
    Ok(LineageAnswer {
        versions,
        exports: exports
            .iter()
            .map(|e| ExportInfo {
                summary: e.output.summary.clone(),
                manifest: e.output.manifest.clone(),
                exclusions: e.output.exclusions.clone(),
                format: e.output.format.clone(),
                exported_at: e.exported_at,
                at: e.at,
                index_digest: e.index.digest.clone(),
                registry_audit_seq: e.registry.as_ref().map(|r| r.snapshot.audit_seq),
                registry_last_entry_id: e.registry.as_ref().and_then(|r| r.snapshot.last_entry_id),
            })
            .collect(),
        contents,
        registry: sources.registry.map(|r| r.path().display().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_facts_name_the_missing_field() {
        let path = Path::new("/i/ledger.json");
        let good = r#"{"format":"provindex-ledger-signed-manifest-v1","manifest":{"content_root":"aa","sha256_root":"bb","base_version_digest":null},"public_key":"cc","signature":"dd"}"#;
        let facts = ledger_facts(path, good).expect("facts");
        assert_eq!(facts.content_root, "aa");
        assert_eq!(facts.signature, "dd");
        assert_eq!(facts.base_version_digest, None);
        let missing = good.replace("\"signature\":\"dd\"", "\"sig\":\"dd\"");
        match ledger_facts(path, &missing) {
            Err(DisclosureError::Inconsistent(reason)) => {
                assert!(
                    reason.contains("/i/ledger.json") && reason.contains("\"signature\""),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_log_skips_a_partial_last_line_and_names_a_bad_one() {
        let dir = std::env::temp_dir().join(format!("lineage-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(LINEAGE_LOG);
        assert!(read_log(&path).expect("no log yet").is_empty());
        let mut one = sample(Some(1));
        one.output.summary = "/x/a.summary.json".into();
        let line = serde_json::to_string(&one).expect("json");
        // A crash mid-append leaves a last line without its newline.
        std::fs::write(&path, format!("{line}\n{}", &line[..line.len() / 2])).expect("write");
        assert_eq!(read_log(&path).expect("log"), vec![one.clone()]);
        std::fs::write(&path, format!("{line}\n{{\"format\": 1}}\n")).expect("write");
        match read_log(&path) {
            Err(DisclosureError::Inconsistent(reason)) => {
                assert!(reason.contains("line 2"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let mut other = one;
        other.format = "provindex-lineage-v0".into();
        let other = serde_json::to_string(&other).expect("json");
        std::fs::write(&path, format!("{line}\n{other}\n")).expect("write");
        match read_log(&path) {
            Err(DisclosureError::Inconsistent(reason)) => {
                assert!(
                    reason.contains("line 2") && reason.contains("v0"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    fn sample(last_entry_id: Option<u64>) -> Lineage {
        Lineage {
            format: LINEAGE_FORMAT.into(),
            exported_at: 100,
            at: 100,
            index: IndexVersion {
                uri: String::new(),
                digest: String::new(),
                built_at: 0,
                contents: 0,
                ledger: None,
            },
            registry: Some(RegistryUse {
                uri: String::new(),
                snapshot: RegistrySnapshot {
                    audit_seq: 1,
                    entries: 1,
                    last_entry_id,
                    entries_digest: String::new(),
                },
            }),
            output: ExportOutput {
                format: "jsonl".into(),
                manifest: String::new(),
                exclusions: String::new(),
                summary: String::new(),
                contents: 0,
                kept: 0,
                excluded: 0,
            },
        }
    }

    #[test]
    fn the_registry_is_seen_as_the_export_saw_it() {
        let cover = |entry_id, revoked_at| RegistryCover {
            entry_id,
            rightholder: "A".into(),
            scope_kind: "work".into(),
            scope_value: "x".into(),
            cover: provindex_policy::Cover::WorkExact,
            effective_from: 10,
            revoked_at,
            sketch_spec: String::new(),
        };
        let lineage = sample;
        // Entry 2 came after the export; entry 1's revocation at 150 too.
        let seen = as_of(
            vec![cover(1, Some(150)), cover(2, None), cover(3, Some(50))],
            &lineage(Some(1)),
        );
        assert_eq!(seen, vec![cover(1, None)]);
        assert!(as_of(vec![cover(1, None)], &lineage(None)).is_empty());
        // Revoked before the export: still revoked (the policy leaves it out).
        assert_eq!(
            as_of(vec![cover(2, None), cover(3, Some(50))], &lineage(Some(3))),
            vec![cover(2, None), cover(3, Some(50))]
        );
    }
}
