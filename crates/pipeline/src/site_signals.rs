//! Site-level opt-out signals from the crawl itself: robots.txt,
//! `/.well-known/tdmrep.json` and `/ai.txt` captures found in the corpus apply
//! to every capture of the same origin (scheme, host and port, as RFC 9309
//! scopes robots.txt).
//!
//! # How
//!
//! 1. The reader threads recognise a site file by its URL path
//!    ([`provindex_corpus::site_file_path`]; the corpus reader keeps such a
//!    body as text whatever its media type) and [`site_file`] takes its body
//!    (at most [`MAX_FILE_BYTES`], cut at a character boundary) into the
//!    [`PreparedCapture`](crate::PreparedCapture).
//! 2. The scan task writes each site-file capture to a run of its own
//!    (`sitefiles-*.run`) besides the captures run. The build stage reads
//!    those runs first and keeps the files per host ([`SiteFiles::observe`]):
//!    at most [`MAX_FILES_PER_KIND`] captures of each file per origin (the
//!    earliest by capture time, then capture id, so the choice does not depend
//!    on input order) and at most [`MAX_TOTAL_BYTES`] in all; what is left out
//!    is counted in [`SiteSignalStats`].
//! 3. Then, as each capture (revisits included) is written,
//!    [`SiteFiles::apply_to`] evaluates the applicable files of its origin for
//!    the capture's path ([`provindex_signals::RobotsTxt`],
//!    [`provindex_signals::tdmrep_json_signals`]), appends the signals and
//!    recombines the verdict with [`provindex_signals::combine`]: the capture
//!    row is written once, complete.
//!
//! # Which file applies
//!
//! For a capture at time `t` and each kind of file separately: the **latest
//! capture of the file at or before `t`**; when there is none, the
//! **earliest capture after `t`** (the closest evidence of the site's policy
//! we have). Ties in time go to the smaller capture id.
//!
//! HTTP status of the file's capture: 2xx (or no status, e.g. a `resource`
//! record) → its body; 4xx → the file does not exist (RFC 9309 §2.3.1.3:
//! robots.txt "unavailable", no rules; no tdmrep.json / ai.txt) — it still
//! applies, so an older file is not used in its place; 3xx and 5xx → ignored
//! (a redirect we cannot follow here; an unreachable server is not a
//! rightholder's statement). Revisit records of a file are not used.
//!
//! # What is added
//!
//! The signals of the signals crate, stamped with the *file's* capture time,
//! with `\n-- from <url> captured <WARC-Date> (capture <capture_id>)` appended
//! to the evidence so every answer says which capture it came from. Page-level
//! and site-level signals are then combined by the signals crate's rules
//! (TDMRep: HTML meta > HTTP header > tdmrep.json; any remaining reservation
//! beats an explicit non-reservation; page signals come first in input order,
//! so a page-level reservation decides before a site-level one).
//!
//! # A robots.txt set given to the job
//!
//! `provindex index --robots DIR_OR_FILE`: each file is one host's
//! robots.txt, named by the host (`example.com`, `www.example.com`; an
//! optional `.txt` suffix is stripped). It applies to the default-port `http`
//! and `https` origins of exactly that host, only where the crawl has no
//! robots.txt capture for the origin. Its signals carry no capture time (0) and
//! `-- from robots.txt given to the job: <file>` in the evidence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use provindex_corpus::{DocKind, SourceDoc};
use provindex_index::records::{CaptureRecord, SignalRecord};
use provindex_signals::{RobotsTxt, Signal, Surt};

use crate::prepare::{signal_record, stored_verdict};

/// Bytes kept of one site file (RFC 9309 asks parsers to read at least 500 KiB).
pub const MAX_FILE_BYTES: usize = 512 * 1024;
/// Captures kept per origin and kind of file.
pub const MAX_FILES_PER_KIND: usize = 32;
/// Bytes of site files kept for the whole build.
pub const MAX_TOTAL_BYTES: usize = 256 << 20;

/// Which site file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteFileKind {
    RobotsTxt,
    TdmrepJson,
    AiTxt,
}

impl SiteFileKind {
    fn of_path(path: &str) -> Option<SiteFileKind> {
        match path {
            "/robots.txt" => Some(SiteFileKind::RobotsTxt),
            "/.well-known/tdmrep.json" => Some(SiteFileKind::TdmrepJson),
            "/ai.txt" => Some(SiteFileKind::AiTxt),
            _ => None,
        }
    }
}

/// A site file captured in the crawl, as found by a reader thread.
#[derive(Debug, Clone)]
pub struct SiteFile {
    pub kind: SiteFileKind,
    /// `scheme://host[:port]` (host lowercase with `www.` kept; default port omitted).
    pub origin: String,
    /// The SURT key up to and including `)`: every capture of the host and port.
    pub host_prefix: String,
    /// The body; `None` when the server said the file does not exist (4xx).
    pub body: Option<String>,
    /// The body was longer than [`MAX_FILE_BYTES`].
    pub truncated: bool,
}

/// `scheme://host[:port]` of a SURT-canonicalised URL.
fn origin_of(surt: &Surt) -> String {
    match surt.port {
        Some(port) => format!("{}://{}:{port}", surt.scheme, surt.host),
        None => format!("{}://{}", surt.scheme, surt.host),
    }
}

fn host_prefix_of(surt: &Surt) -> Option<String> {
    surt.key.find(')').map(|i| surt.key[..=i].to_owned())
}

/// The site file `doc` is, if it is one (called in the reader threads).
pub fn site_file(doc: &SourceDoc, surt: Option<&Surt>) -> Option<SiteFile> {
    let surt = surt?;
    let kind = SiteFileKind::of_path(provindex_corpus::site_file_path(doc.url.as_deref()?)?)?;
    if !matches!(doc.kind, DocKind::Response | DocKind::Resource) {
        return None;
    }
    let (body, truncated) = match doc.http_status {
        None | Some(200..=299) => {
            // A file served as HTML keeps its markup in `html`; `text` would be
            // the extracted text, with its line structure lost.
            let text = doc.html.as_deref().or(doc.text.as_deref())?;
            let mut end = text.len().min(MAX_FILE_BYTES);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (Some(text[..end].to_owned()), end < text.len())
        }
        Some(400..=499) => (None, false),
        Some(_) => return None,
    };
    Some(SiteFile {
        kind,
        origin: origin_of(surt),
        host_prefix: host_prefix_of(surt)?,
        body,
        truncated,
    })
}

/// The site file a stored capture is, as [`site_file`] found it when its
/// record was scanned (the body is kept on the record): for a rescan of an
/// index ([`crate::rescan`]).
pub(crate) fn site_file_of_record(record: &CaptureRecord) -> Option<SiteFile> {
    use provindex_index::records::RecordKind;
    let kind = SiteFileKind::of_path(provindex_corpus::site_file_path(&record.url)?)?;
    if !matches!(
        record.record_kind(),
        RecordKind::Response | RecordKind::Resource
    ) {
        return None;
    }
    let surt = provindex_signals::surt(&record.url).ok()?;
    let body = match record.http_status {
        0 | 200..=299 => Some(record.site_file_body.clone()?),
        400..=499 => None,
        _ => return None,
    };
    Some(SiteFile {
        kind,
        origin: origin_of(&surt),
        host_prefix: host_prefix_of(&surt)?,
        body,
        truncated: record.site_file_truncated,
    })
}

/// Counters of the site-signal pass (in the build report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteSignalStats {
    /// Site file captures kept (robots.txt, tdmrep.json, ai.txt).
    pub files_kept: u64,
    /// Site file captures left out: over [`MAX_FILES_PER_KIND`] for their
    /// origin or over [`MAX_TOTAL_BYTES`] in all.
    pub files_dropped: u64,
    /// Site files cut at [`MAX_FILE_BYTES`].
    pub files_truncated: u64,
    /// Files of the `--robots` set given to the job.
    pub given_robots: u64,
    /// Hosts with site files.
    pub hosts: u64,
    /// Captures of those hosts.
    pub captures_visited: u64,
    /// Captures that received site-level signals.
    pub captures_updated: u64,
}

/// One kept capture of a site file.
#[derive(Debug, Clone)]
struct Kept {
    time: i64,
    capture_id: u128,
    url: String,
    time_raw: String,
    /// Parsed robots.txt / ai.txt, or the tdmrep.json text; `None`: absent (4xx).
    body: Option<Body>,
    bytes: usize,
}

#[derive(Debug, Clone)]
enum Body {
    Robots(Box<RobotsTxt>),
    Json(String),
}

#[derive(Debug, Default)]
struct OriginFiles {
    robots: Vec<Kept>,
    tdmrep: Vec<Kept>,
    ai_txt: Vec<Kept>,
    /// From `--robots`: (file, parsed), used when `robots` is empty.
    given_robots: Option<(String, RobotsTxt)>,
}

/// Site files collected during a build, per host prefix and origin.
#[derive(Debug, Default)]
pub struct SiteFiles {
    hosts: BTreeMap<String, BTreeMap<String, OriginFiles>>,
    bytes: usize,
    pub stats: SiteSignalStats,
}

impl SiteFiles {
    /// Keeps a site file captured as `capture_id` (writer thread).
    pub fn observe(&mut self, file: SiteFile, capture_id: u128, record: &CaptureRecord) {
        if file.truncated {
            self.stats.files_truncated += 1;
        }
        let bytes = file.body.as_ref().map_or(0, String::len);
        if self.bytes + bytes > MAX_TOTAL_BYTES {
            self.stats.files_dropped += 1;
            return;
        }
        let body = file.body.map(|text| match file.kind {
            SiteFileKind::TdmrepJson => Body::Json(text),
            SiteFileKind::RobotsTxt | SiteFileKind::AiTxt => {
                Body::Robots(Box::new(RobotsTxt::parse(&text)))
            }
        });
        let origin = self
            .hosts
            .entry(file.host_prefix)
            .or_default()
            .entry(file.origin)
            .or_default();
        let list = match file.kind {
            SiteFileKind::RobotsTxt => &mut origin.robots,
            SiteFileKind::TdmrepJson => &mut origin.tdmrep,
            SiteFileKind::AiTxt => &mut origin.ai_txt,
        };
        let kept = Kept {
            time: record.capture_time,
            capture_id,
            url: record.url.clone(),
            time_raw: record.capture_time_raw.clone(),
            body,
            bytes,
        };
        let at = list.partition_point(|k| (k.time, k.capture_id) < (kept.time, kept.capture_id));
        list.insert(at, kept);
        self.bytes += bytes;
        self.stats.files_kept += 1;
        if list.len() > MAX_FILES_PER_KIND
            && let Some(last) = list.pop()
        {
            self.bytes -= last.bytes;
            self.stats.files_kept -= 1;
            self.stats.files_dropped += 1;
        }
    }

    /// Reads the `--robots` set: a file, or every file in a directory (not
    /// recursive), each named by its host.
    pub fn add_given_robots(&mut self, path: &Path) -> std::io::Result<()> {
        let mut files: Vec<PathBuf> = if path.is_dir() {
            let mut list = Vec::new();
            for entry in std::fs::read_dir(path)? {
                let p = entry?.path();
                if p.is_file() {
                    list.push(p);
                }
            }
            list
        } else {
            vec![path.to_path_buf()]
        };
        files.sort();
        for file in files {
            let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let host = name.strip_suffix(".txt").unwrap_or(name);
            let bytes = std::fs::read(&file)?;
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_FILE_BYTES)]);
            for scheme in ["http", "https"] {
                let Ok(surt) = provindex_signals::surt(&format!("{scheme}://{host}/")) else {
                    tracing::warn!(file = %file.display(), "robots.txt file name is not a host");
                    break;
                };
                let Some(prefix) = host_prefix_of(&surt) else {
                    continue;
                };
                let origin = self
                    .hosts
                    .entry(prefix)
                    .or_default()
                    .entry(origin_of(&surt))
                    .or_default();
                origin.given_robots = Some((file.display().to_string(), RobotsTxt::parse(&text)));
            }
            self.stats.given_robots += 1;
        }
        Ok(())
    }

    /// Adds the site-level signals of the capture's origin to `record` and
    /// recombines its verdict, before the capture is written.
    pub fn apply_to(&mut self, record: &mut CaptureRecord) {
        let Some(end) = record.surt.find(')') else {
            return;
        };
        let Some(origins) = self.hosts.get(&record.surt[..=end]) else {
            return;
        };
        self.stats.captures_visited += 1;
        if apply_to_capture(origins, record) {
            self.stats.captures_updated += 1;
        }
    }

    /// The counters, once every capture has passed [`Self::apply_to`].
    pub fn finish(mut self) -> SiteSignalStats {
        self.stats.hosts = self.hosts.len() as u64;
        self.stats
    }
}

/// The latest file captured at or before `time`, else the earliest after it
/// (`files` is sorted by time, then capture id).
fn applicable(files: &[Kept], time: i64) -> Option<&Kept> {
    let after = files.partition_point(|k| k.time <= time);
    if after > 0 {
        // The last of the files at or before `time`; among equal times the
        // smaller capture id wins.
        let last_time = files[after - 1].time;
        let first_of_time = files[..after].partition_point(|k| k.time < last_time);
        files.get(first_of_time)
    } else {
        files.first()
    }
}

fn from_capture(mut signals: Vec<Signal>, file: &Kept) -> Vec<Signal> {
    provindex_signals::stamp(&mut signals, file.time);
    for s in &mut signals {
        s.evidence = format!(
            "{}\n-- from {} captured {} (capture {:032x})",
            s.evidence, file.url, file.time_raw, file.capture_id
        );
    }
    signals
}

/// Adds the applicable site signals to one capture; `true` when it changed.
fn apply_to_capture(origins: &BTreeMap<String, OriginFiles>, record: &mut CaptureRecord) -> bool {
    let Ok(surt) = provindex_signals::surt(&record.url) else {
        return false;
    };
    let Some(files) = origins.get(&origin_of(&surt)) else {
        return false;
    };
    let url = record.url.as_str();
    let time = record.capture_time;
    let mut added = Vec::new();
    match applicable(&files.robots, time) {
        Some(file) => {
            if let Some(Body::Robots(robots)) = &file.body {
                added.extend(from_capture(robots.robots_reservations(url), file));
            }
        }
        None => {
            if let Some((name, robots)) = &files.given_robots {
                for mut s in robots.robots_reservations(url) {
                    s.evidence = format!(
                        "{}\n-- from robots.txt given to the job: {name}",
                        s.evidence
                    );
                    added.push(s);
                }
            }
        }
    }
    if let Some(file) = applicable(&files.tdmrep, time)
        && let Some(Body::Json(json)) = &file.body
    {
        added.extend(from_capture(
            provindex_signals::tdmrep_json_signals(json, url),
            file,
        ));
    }
    if let Some(file) = applicable(&files.ai_txt, time)
        && let Some(Body::Robots(ai_txt)) = &file.body
    {
        added.extend(from_capture(ai_txt.ai_txt_reservations(url), file));
    }
    if added.is_empty() {
        return false;
    }
    let mut all: Vec<Signal> = record
        .signals
        .iter()
        .filter_map(signal_from_record)
        .collect();
    if all.len() != record.signals.len() {
        // A stored signal we cannot read back: keep the record as it is
        // rather than recombine over part of its evidence.
        tracing::warn!(
            url,
            "capture has an unreadable signal; site signals not applied"
        );
        return false;
    }
    all.extend(added);
    let (verdict, decider) = provindex_signals::combine(&all);
    record.signals = all.iter().map(signal_record).collect();
    record.optout_verdict = stored_verdict(verdict).into();
    record.optout_decider = decider.map(|i| i as u32);
    true
}

/// The inverse of `prepare::signal_record`.
pub(crate) fn signal_from_record(r: &SignalRecord) -> Option<Signal> {
    Some(Signal {
        kind: r.kind().to_signals()?,
        source: r.source().to_signals()?,
        stance: r.stance().to_signals()?,
        value: r.value.clone(),
        agent: (!r.agent.is_empty()).then(|| r.agent.clone()),
        evidence: r.evidence.clone(),
        captured_at: Some(r.captured_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(time: i64, id: u128) -> Kept {
        Kept {
            time,
            capture_id: id,
            url: String::new(),
            time_raw: String::new(),
            body: None,
            bytes: 0,
        }
    }

    #[test]
    fn latest_at_or_before_else_earliest_after() {
        let files = [kept(10, 5), kept(10, 7), kept(20, 1), kept(30, 2)];
        let pick = |t| applicable(&files, t).map(|k| (k.time, k.capture_id));
        assert_eq!(pick(5), Some((10, 5)));
        assert_eq!(pick(10), Some((10, 5)));
        assert_eq!(pick(19), Some((10, 5)));
        assert_eq!(pick(20), Some((20, 1)));
        assert_eq!(pick(99), Some((30, 2)));
        assert!(applicable(&[], 1).is_none());
    }

    #[test]
    fn records_round_trip() {
        let mut signals = provindex_signals::header_signals(&[
            ("tdm-reservation".into(), "1".into()),
            ("X-Robots-Tag".into(), "GPTBot: noai".into()),
            ("Content-Usage".into(), "train-ai=y".into()),
        ]);
        signals.extend(provindex_signals::robots_reservations(
            "User-agent: *\nDisallow: /\n",
            "/x",
        ));
        provindex_signals::stamp(&mut signals, 42);
        for s in &signals {
            assert_eq!(signal_from_record(&signal_record(s)).as_ref(), Some(s));
        }
    }

    fn capture(url: &str, time: i64, signals: Vec<Signal>) -> CaptureRecord {
        let (verdict, decider) = provindex_signals::combine(&signals);
        CaptureRecord {
            url: url.into(),
            capture_time: time,
            signals: signals.iter().map(signal_record).collect(),
            optout_verdict: stored_verdict(verdict).into(),
            optout_decider: decider.map(|i| i as u32),
            ..Default::default()
        }
    }

    fn files_with(robots: &str, tdmrep: Option<&str>) -> BTreeMap<String, OriginFiles> {
        let mut files = OriginFiles::default();
        files.robots.push(Kept {
            body: Some(Body::Robots(Box::new(RobotsTxt::parse(robots)))),
            url: "https://example.com/robots.txt".into(),
            time_raw: "2024-01-01T00:00:00Z".into(),
            ..kept(100, 9)
        });
        if let Some(json) = tdmrep {
            files.tdmrep.push(Kept {
                body: Some(Body::Json(json.into())),
                ..kept(50, 8)
            });
        }
        BTreeMap::from([("https://example.com".to_owned(), files)])
    }

    #[test]
    fn page_and_site_precedence() {
        let robots = "User-agent: GPTBot\nDisallow: /private\n";
        // A page reservation decides before a site reservation (input order).
        let page = provindex_signals::header_signals(&[("X-Robots-Tag".into(), "noai".into())]);
        let mut rec = capture("https://example.com/private/a", 10, page);
        assert!(apply_to_capture(&files_with(robots, None), &mut rec));
        assert_eq!(rec.optout_verdict().as_str(), "reserved");
        assert_eq!(
            rec.signals[rec.optout_decider.unwrap() as usize]
                .source()
                .as_str(),
            "http_header"
        );
        assert_eq!(rec.signals[1].source().as_str(), "robots_txt");
        assert_eq!(rec.signals[1].captured_at, 100);
        assert!(
            rec.signals[1]
                .evidence
                .contains("(capture 00000000000000000000000000000009)")
        );

        // An explicit page non-reservation does not override a robots.txt
        // reservation for an AI crawler (a remaining reservation wins).
        let page =
            provindex_signals::header_signals(&[("Content-Usage".into(), "train-ai=y".into())]);
        let mut rec = capture("https://example.com/private/a", 10, page);
        assert_eq!(rec.optout_verdict().as_str(), "not_reserved");
        assert!(apply_to_capture(&files_with(robots, None), &mut rec));
        assert_eq!(rec.optout_verdict().as_str(), "reserved");
        assert_eq!(
            rec.signals[rec.optout_decider.unwrap() as usize]
                .source()
                .as_str(),
            "robots_txt"
        );

        // TDMRep: the page's header `tdm-reservation: 0` supersedes tdmrep.json's 1.
        let json = r#"[{"location":"/*","tdm-reservation":1}]"#;
        let page = provindex_signals::header_signals(&[("tdm-reservation".into(), "0".into())]);
        let mut rec = capture("https://example.com/open", 10, page);
        assert!(apply_to_capture(&files_with(robots, Some(json)), &mut rec));
        assert_eq!(rec.optout_verdict().as_str(), "not_reserved");
        assert_eq!(rec.optout_decider, Some(0));
        // Without a page value, tdmrep.json decides.
        let mut rec = capture("https://example.com/open", 10, Vec::new());
        assert!(apply_to_capture(&files_with(robots, Some(json)), &mut rec));
        assert_eq!(rec.optout_verdict().as_str(), "reserved");
        assert_eq!(
            rec.signals[rec.optout_decider.unwrap() as usize]
                .source()
                .as_str(),
            "tdmrep_json"
        );
        assert_eq!(rec.signals[0].captured_at, 50);

        // Another origin (http, or www.) is not covered.
        let mut rec = capture("http://example.com/private/a", 10, Vec::new());
        assert!(!apply_to_capture(&files_with(robots, None), &mut rec));
        let mut rec = capture("https://www.example.com/private/a", 10, Vec::new());
        assert!(!apply_to_capture(&files_with(robots, None), &mut rec));
        // A path the robots.txt allows gets nothing.
        let mut rec = capture("https://example.com/public", 10, Vec::new());
        assert!(!apply_to_capture(&files_with(robots, None), &mut rec));
        assert_eq!(rec.optout_verdict().as_str(), "unknown");
    }

    #[test]
    fn a_404_robots_txt_applies_as_no_rules() {
        let mut files = OriginFiles::default();
        files.robots.push(Kept {
            body: Some(Body::Robots(Box::new(RobotsTxt::parse(
                "User-agent: GPTBot\nDisallow: /\n",
            )))),
            ..kept(10, 1)
        });
        files.robots.push(kept(20, 2)); // 404 later
        let origins = BTreeMap::from([("https://example.com".to_owned(), files)]);
        let mut early = capture("https://example.com/a", 15, Vec::new());
        assert!(apply_to_capture(&origins, &mut early));
        assert_eq!(early.optout_verdict().as_str(), "reserved");
        let mut late = capture("https://example.com/a", 25, Vec::new());
        assert!(!apply_to_capture(&origins, &mut late));
    }
}
