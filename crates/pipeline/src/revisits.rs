//! The revisits stage: finds each revisit record's original — by
//! WARC-Refers-To record id, else payload digest, else target URL and date —
//! by merge joins of sorted runs: what the revisits ask for is sorted and
//! joined with the scan tasks' sorted lookup runs, so no task holds a map of
//! the captures or of the revisits ([`resolve_sorted`]). The rules are those
//! of a one-pass build that reads its own captures back: revisits are taken
//! in capture-id order, in passes, and a revisit resolved earlier is an
//! original for later ones, so chains resolve whatever the input order was.
//! That last rule (chain links: resolved revisits another revisit asks for
//! by record id or URL) is a merge join too, in rounds within a pass.
//!
//! Lookup runs written by the scan (every capture that is not a revisit;
//! `key` = capture_id ‖ input ordinal ‖ record number, the capture runs' key):
//! - `ids`: key → content_id (16 bytes, or empty: no text);
//! - `digests`: payload digest ‖ 0x00 ‖ key → content;
//! - `targets`: the capture's `urls` row key (SURT ‖ 0x00 ‖ time ‖
//!   capture_id) ‖ ordinal ‖ record number → content.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use provindex_index::keys;
use provindex_runs::{ExternalSorter, RunWriter};

use crate::prepare::PreparedCapture;

/// Candidate captures a target-URL lookup considers (the first in key order).
const TARGET_CANDIDATES: usize = 64;

/// A content reference as stored in the lookup runs.
pub fn encode_content(content: Option<u128>) -> Vec<u8> {
    content
        .map(|c| c.to_be_bytes().to_vec())
        .unwrap_or_default()
}

fn decode_content(value: &[u8]) -> Result<Option<u128>, String> {
    match value.len() {
        0 => Ok(None),
        16 => Ok(Some(u128::from_be_bytes(
            value.try_into().map_err(|_| "content of 16 bytes")?,
        ))),
        n => Err(format!(
            "a content reference of {n} bytes, expected 0 or 16"
        )),
    }
}

/// The `targets` run key of a capture: its `urls` row key, then `suffix`
/// (ordinal ‖ record number).
pub fn target_key(surt: &str, time: i64, capture_id: u128, suffix: &[u8]) -> Vec<u8> {
    let mut key = url_prefix(surt, Some(time));
    key.extend_from_slice(&capture_id.to_be_bytes());
    key.extend_from_slice(suffix);
    key
}

/// Whether a payload digest takes part in the digest join. The `digests`
/// run and the requests separate the digest from what follows by a NUL
/// byte, so a digest holding one would be read as a shorter digest (a
/// revisit asking for `D` matched a capture whose digest is `D\0x`): such a
/// digest matches nothing, on either side.
fn joinable_digest(digest: &str) -> bool {
    !digest.as_bytes().contains(&0)
}

/// The `digests` run key of a capture; `None` when its digest cannot join
/// ([`joinable_digest`]).
pub fn digest_key(digest: &str, capture_key: &[u8]) -> Option<Vec<u8>> {
    if !joinable_digest(digest) {
        return None;
    }
    let mut key = Vec::with_capacity(digest.len() + 1 + capture_key.len());
    key.extend_from_slice(digest.as_bytes());
    key.push(0);
    key.extend_from_slice(capture_key);
    Some(key)
}

/// Whether a SURT can take part in the URL joins: the runs end a SURT with
/// a NUL byte ([`keys::SURT_TERMINATOR`]), so one holding a NUL would be
/// read as a shorter SURT. `provindex_signals::surt` never makes one (a NUL
/// in a URL is escaped as `%00`, or the URL refused: its property test
/// `surt_keys_never_hold_a_nul_byte`), so a run holding one was not written
/// by this build's scan, and the stage refuses it ([`Failure::Refused`]).
fn nul_surt(surt: &[u8]) -> bool {
    surt.contains(&keys::SURT_TERMINATOR)
}

fn url_prefix(surt: &str, time: Option<i64>) -> Vec<u8> {
    let mut prefix = surt.as_bytes().to_vec();
    prefix.push(keys::SURT_TERMINATOR);
    if let Some(time) = time {
        prefix.extend_from_slice(&keys::encode_time(time));
    }
    prefix
}

/// A run's row: key, value.
pub type Row = (Vec<u8>, Vec<u8>);

/// A sorted lookup run's rows (merged over every scan task).
pub type Rows<'a> = Box<dyn Iterator<Item = Result<Row, String>> + 'a>;

/// A capture under a target prefix: its `urls` row key and its content.
type Candidate = (Vec<u8>, Option<u128>);

/// What the stage found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevisitCounts {
    pub resolved: u64,
    pub unresolved: u64,
    /// Revisits left without text: their original has none, or was not found.
    pub without_text: u64,
}

/// Which lookup run [`resolve_sorted`] asks to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Ids,
    Digests,
    Targets,
}

/// Opens the merged rows of a lookup run. Called once per join: the targets
/// twice (targets by URL, and by URL and time).
pub type OpenLookup<'a> = dyn Fn(Lookup) -> Result<Rows<'a>, String> + 'a;

// What the joins found for a revisit: rows of the answers run, keyed by the
// revisit's sequence number ‖ one of these kinds.
const ANSWER_ID: u8 = 0;
const ANSWER_IN_ORIGINALS: u8 = 1;
const ANSWER_WANTED_BY_ID: u8 = 2;
const ANSWER_DIGEST: u8 = 3;
const ANSWER_TARGET_STATIC: u8 = 4;
const ANSWER_TARGET_DYNAMIC: u8 = 5;
const ANSWER_WANTED_BY_TARGET: u8 = 6;

/// Why the joins failed.
enum Failure {
    /// Reading or writing a run failed, or a row was malformed.
    Runs(String),
    /// A run holds what this build's scan never writes (a SURT with a NUL
    /// byte): no retry resolves it.
    Refused(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Runs(message)
    }
}

/// Pass number of the revisits no pass resolved (they come last).
const UNRESOLVED_PASS: u32 = u32::MAX;

fn run_err(e: provindex_runs::RunError) -> String {
    e.to_string()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// Merged runs of this stage's scratch, each row read in place.
type Merged = provindex_runs::Merge<provindex_runs::RunReader<std::io::BufReader<File>>>;

fn open_runs(runs: &[(PathBuf, provindex_runs::RunInfo)]) -> Result<Merged, String> {
    let readers = runs
        .iter()
        .map(|(path, _)| provindex_runs::open_file(path).map_err(run_err))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(provindex_runs::Merge::new(readers))
}

/// The next row of `runs` without taking it ([`Cursor::peek`] in place).
fn peek(runs: &mut Merged) -> Result<Option<provindex_runs::RecordRef<'_>>, String> {
    runs.peek_ref().transpose().map_err(run_err)
}

/// Opens one run of this stage's scratch.
fn open_run(path: &Path) -> Result<provindex_runs::RunReader<std::io::BufReader<File>>, String> {
    provindex_runs::open_file(path).map_err(run_err)
}

fn seq_of(key: &[u8]) -> Result<&[u8], String> {
    key.len()
        .checked_sub(8)
        .map(|at| &key[at..])
        .ok_or_else(|| format!("a request key of {} bytes", key.len()))
}

/// Resolves the revisits of `revisits` — in scan-key order, as the merge of
/// the scan tasks' revisit runs gives them — against the lookup runs, with
/// the rules of [`crate::revisits`], holding no state proportional to the
/// revisits (sorter budgets, and at most [`TARGET_CANDIDATES`] URL entries
/// of one join group). Every revisit is given to `emit` once, in scan-key order, with
/// the scan key a one-pass build assigns it and its original's content id in
/// its record; spilled files live under `scratch` and are removed.
///
/// How: what the revisits ask for (ids, digests, target URLs; their own ids
/// and URLs, to know which are asked for) goes to sorted runs, merge-joined
/// with the lookup runs into answers per revisit; the revisits, annotated,
/// are then read back in passes, each pass writing the ones it could not
/// resolve to the next pass's run; within a pass, rounds of merge joins
/// with the revisits resolved before (chain links) decide them.
///
/// Errors: `fail` makes the error of a run that could not be read or
/// written, or of a malformed row; `refuse` that of a revisit record or
/// targets row whose SURT holds a NUL byte ([`nul_surt`]), which no retry
/// resolves.
pub fn resolve_sorted<'a, E>(
    revisits: impl Iterator<Item = Result<(Vec<u8>, PreparedCapture), E>>,
    open: &OpenLookup<'a>,
    scratch: &Path,
    budget: usize,
    fail: impl Fn(String) -> E,
    refuse: impl Fn(String) -> E,
    mut emit: impl FnMut(Vec<u8>, PreparedCapture) -> Result<(), E>,
) -> Result<RevisitCounts, E> {
    let dir = scratch.join("revisits-resolve");
    let result = (|| {
        let Some(wanted) = Wanted::write(revisits, &dir, budget, &fail, &refuse)? else {
            return Ok(RevisitCounts::default());
        };
        let keys = wanted.keys.clone();
        let (counts, out) = wanted.resolve(open, budget).map_err(|e| match e {
            Failure::Runs(message) => fail(message),
            Failure::Refused(message) => refuse(message),
        })?;
        emit_in_key_order(&keys, &out, &fail, &mut emit)?;
        Ok(counts)
    })();
    // Scratch space only; a failure to remove it does not change the result.
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Phase 1: the revisits, numbered in input order (their sequence number,
/// 8 bytes big-endian, keeps scan-key order), and what they ask for.
struct Wanted {
    dir: PathBuf,
    base: PathBuf,
    /// Every revisit's scan key, by sequence (scan-key order).
    keys: PathBuf,
    ids: Vec<(PathBuf, provindex_runs::RunInfo)>,
    id_requests: bool,
    digests: Vec<(PathBuf, provindex_runs::RunInfo)>,
    surts: Vec<(PathBuf, provindex_runs::RunInfo)>,
    times: Vec<(PathBuf, provindex_runs::RunInfo)>,
    own_urls: Vec<(PathBuf, provindex_runs::RunInfo)>,
}

impl Wanted {
    fn write<E>(
        revisits: impl Iterator<Item = Result<(Vec<u8>, PreparedCapture), E>>,
        dir: &Path,
        budget: usize,
        fail: &impl Fn(String) -> E,
        refuse: &impl Fn(String) -> E,
    ) -> Result<Option<Self>, E> {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        let part = (budget / 8).max(1);
        let sorter = |name: &str| ExternalSorter::new(dir, name, part);
        let (mut ids, mut digests, mut surts, mut times, mut own_urls) = (
            sorter("wanted-ids"),
            sorter("wanted-digests"),
            sorter("wanted-surts"),
            sorter("wanted-times"),
            sorter("own-urls"),
        );
        let base_path = dir.join("revisits.run");
        let base_name = base_path.display().to_string();
        let file = File::create(&base_path).map_err(|e| fail(format!("{base_name}: {e}")))?;
        let mut base = RunWriter::new(file, &base_name).map_err(|e| fail(run_err(e)))?;
        let keys_path = dir.join("keys.run");
        let keys_name = keys_path.display().to_string();
        let file = File::create(&keys_path).map_err(|e| fail(format!("{keys_name}: {e}")))?;
        let mut scan_keys = RunWriter::new(file, &keys_name).map_err(|e| fail(run_err(e)))?;
        let (mut count, mut id_requests) = (0u64, false);
        let mut last_key: Option<Vec<u8>> = None;
        for item in revisits {
            let (key, prepared) = item?;
            if last_key.as_ref().is_some_and(|last| key < *last) {
                return Err(fail(format!(
                    "revisit {count}: scan keys out of order (the passes need capture-id order)"
                )));
            }
            let Some(reference) = prepared.revisit.as_ref() else {
                // Not a revisit: the in-memory rules drop it too.
                continue;
            };
            let seq = count.to_be_bytes();
            count += 1;
            let cid = prepared.capture_id.to_be_bytes();
            let run = |e| fail(run_err(e));
            if let Some(original) = reference.refers_to_capture {
                ids.push(cat(&[&original.to_be_bytes(), &[0], &seq]), Vec::new())
                    .map_err(run)?;
                id_requests = true;
            }
            ids.push(cat(&[&cid, &[1], &seq]), Vec::new())
                .map_err(run)?;
            if let Some(digest) = &reference.payload_digest
                && joinable_digest(digest)
            {
                digests
                    .push(cat(&[digest.as_bytes(), &[0], &seq]), Vec::new())
                    .map_err(run)?;
            }
            let target = reference.target.as_ref();
            for (what, surt) in [
                ("its target SURT", target.map(|(surt, _)| surt.as_str())),
                ("its SURT", Some(prepared.record.surt.as_str())),
            ] {
                if let Some(surt) = surt.filter(|surt| nul_surt(surt.as_bytes())) {
                    return Err(refuse(format!(
                        "revisit run: the record of capture {:032x} ({} at offset {}): \
                         {what} {surt:?} holds a NUL byte, which no SURT key of this \
                         build holds (a run it did not write?)",
                        prepared.capture_id,
                        prepared.record.location_uri,
                        prepared.record.location_offset,
                    )));
                }
            }
            if let Some((surt, time)) = target {
                let prefix = url_prefix(surt, *time);
                let into = if time.is_some() {
                    &mut times
                } else {
                    &mut surts
                };
                into.push(cat(&[&prefix, &seq]), Vec::new()).map_err(run)?;
            }
            let surt = &prepared.record.surt;
            if !surt.is_empty() {
                let own = target_key(
                    surt,
                    prepared.record.capture_time,
                    prepared.capture_id,
                    &seq,
                );
                own_urls.push(own, Vec::new()).map_err(run)?;
            }
            let mut value = Vec::new();
            value.extend_from_slice(&(key.len() as u32).to_be_bytes());
            value.extend_from_slice(&key);
            value.extend_from_slice(&crate::scan_record::encode(&prepared));
            base.push(&seq, &value).map_err(run)?;
            scan_keys.push(&seq, &key).map_err(run)?;
            last_key = Some(key);
        }
        base.finish().map_err(|e| fail(run_err(e)))?;
        scan_keys.finish().map_err(|e| fail(run_err(e)))?;
        if count == 0 {
            return Ok(None);
        }
        let done = |s: ExternalSorter| s.finish().map_err(|e| fail(run_err(e)));
        Ok(Some(Wanted {
            dir: dir.to_path_buf(),
            base: base_path,
            keys: keys_path,
            ids: done(ids)?,
            id_requests,
            digests: done(digests)?,
            surts: done(surts)?,
            times: done(times)?,
            own_urls: done(own_urls)?,
        }))
    }

    /// Phases 2 and 3: the joins, then the passes. Returns the counts and
    /// the runs of every revisit (key: scan key ‖ sequence; value: pass ‖
    /// scan key ‖ scan record).
    fn resolve(
        self,
        open: &OpenLookup<'_>,
        budget: usize,
    ) -> Result<(RevisitCounts, Vec<(PathBuf, provindex_runs::RunInfo)>), Failure> {
        let mut answers = ExternalSorter::new(&self.dir, "answers", (budget / 2).max(1));
        join_ids(&self.ids, self.id_requests, open, &mut answers)?;
        join_digests(&self.digests, open, &mut answers)?;
        for (requests, timed) in [(&self.surts, false), (&self.times, true)] {
            join_targets(requests, &self.own_urls, timed, open, &mut answers)?;
        }
        let answers = answers.finish().map_err(run_err)?;
        let pending = self.dir.join("pass-00001-00000.run");
        annotate(&self.base, &answers, &pending)?;
        Ok(passes(&self.dir, pending, budget)?)
    }
}

/// A lookup run's rows with one row of look-ahead.
struct Cursor<'a> {
    rows: Rows<'a>,
    head: Option<Row>,
}

impl<'a> Cursor<'a> {
    fn new(rows: Rows<'a>) -> Self {
        Cursor { rows, head: None }
    }

    fn peek(&mut self) -> Result<Option<&Row>, String> {
        if self.head.is_none() {
            self.head = self.rows.next().transpose()?;
        }
        Ok(self.head.as_ref())
    }

    fn advance(&mut self) {
        self.head = None;
    }
}

fn id_of_row(key: &[u8]) -> Result<[u8; 16], String> {
    key.get(..16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or_else(|| format!("ids run key of {} bytes", key.len()))
}

/// Wanted ids (requests `id ‖ 0 ‖ seq`, and every revisit's own id
/// `id ‖ 1 ‖ seq`) joined with the `ids` run: the first capture of a
/// requested id answers its requests; a revisit whose own id is requested is
/// wanted (a chain link), and not an original when a capture has its id.
fn join_ids(
    wanted: &[(PathBuf, provindex_runs::RunInfo)],
    any_request: bool,
    open: &OpenLookup<'_>,
    answers: &mut ExternalSorter,
) -> Result<(), String> {
    let mut rows = if any_request {
        Some(Cursor::new(open(Lookup::Ids)?))
    } else {
        None
    };
    // The current id, whether it is requested, and its original's content.
    let mut group: Option<([u8; 16], bool, Option<Option<u128>>)> = None;
    let mut wanted = open_runs(wanted)?;
    while let Some(entry) = wanted.next_ref() {
        let (key, _) = entry.map_err(run_err)?;
        let id: [u8; 16] = key
            .get(..16)
            .and_then(|b| b.try_into().ok())
            .ok_or("a wanted-id key shorter than an id")?;
        let tag = *key.get(16).ok_or("a wanted-id key without its tag")?;
        let seq = seq_of(key)?;
        if group.as_ref().map(|g| g.0) != Some(id) {
            // Requests (tag 0) sort before the revisits with that id.
            let requested = tag == 0;
            let mut content = None;
            if requested && let Some(rows) = rows.as_mut() {
                while let Some((row, value)) = rows.peek()? {
                    let row_id = id_of_row(row)?;
                    if row_id < id {
                        rows.advance();
                        continue;
                    }
                    if row_id == id {
                        content = Some(decode_content(value)?);
                    }
                    break;
                }
            }
            group = Some((id, requested, content));
        }
        let (_, requested, content) = group.expect("set above");
        let answer = |kind: u8| cat(&[seq, &[kind]]);
        match tag {
            0 => {
                if let Some(content) = content {
                    answers
                        .push(answer(ANSWER_ID), encode_content(content))
                        .map_err(run_err)?;
                }
            }
            _ if requested => {
                answers
                    .push(answer(ANSWER_WANTED_BY_ID), Vec::new())
                    .map_err(run_err)?;
                if content.is_some() {
                    answers
                        .push(answer(ANSWER_IN_ORIGINALS), Vec::new())
                        .map_err(run_err)?;
                }
            }
            _ => {}
        }
    }
    // Read to the end: only a fully read run is proven intact.
    if let Some(mut rows) = rows {
        while let Some((row, _)) = rows.peek()? {
            id_of_row(row)?;
            rows.advance();
        }
    }
    Ok(())
}

fn digest_of_row(key: &[u8]) -> Result<&[u8], String> {
    let end = key
        .iter()
        .position(|b| *b == 0)
        .ok_or("digests run key without separator")?;
    std::str::from_utf8(&key[..end]).map_err(|_| "digests run key is not UTF-8".to_string())?;
    Ok(&key[..end])
}

/// Wanted digests (`digest ‖ 0 ‖ seq`) joined with the `digests` run: the
/// first known content with the digest, else "no text".
fn join_digests(
    wanted: &[(PathBuf, provindex_runs::RunInfo)],
    open: &OpenLookup<'_>,
    answers: &mut ExternalSorter,
) -> Result<(), String> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mut rows = Cursor::new(open(Lookup::Digests)?);
    let mut group: Option<(Vec<u8>, Option<Option<u128>>)> = None;
    let mut wanted = open_runs(wanted)?;
    while let Some(entry) = wanted.next_ref() {
        let (key, _) = entry.map_err(run_err)?;
        let seq = seq_of(key)?;
        let digest = &key[..key.len().saturating_sub(9)];
        if group.as_ref().map(|g| g.0.as_slice()) != Some(digest) {
            // Digests hold no NUL byte (requests with one are not made), so
            // byte order of digests is the rows' order.
            let mut found: Option<Option<u128>> = None;
            while let Some((row, value)) = rows.peek()? {
                match digest_of_row(row)?.cmp(digest) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        let content = decode_content(value)?;
                        // Equal payloads give equal text; prefer a known content.
                        if !matches!(found, Some(Some(_))) {
                            found = Some(content);
                        }
                    }
                    std::cmp::Ordering::Greater => break,
                }
                rows.advance();
            }
            group = Some((digest.to_vec(), found));
        }
        if let Some((_, Some(content))) = &group {
            answers
                .push(cat(&[seq, &[ANSWER_DIGEST]]), encode_content(*content))
                .map_err(run_err)?;
        }
    }
    while let Some((row, _)) = rows.peek()? {
        digest_of_row(row)?;
        rows.advance();
    }
    Ok(())
}

/// The group of a `targets` row or own-URL key: SURT ‖ 0, and the time
/// when `timed`.
fn url_group(key: &[u8], timed: bool) -> Result<&[u8], String> {
    let end = key
        .iter()
        .position(|b| *b == keys::SURT_TERMINATOR)
        .ok_or("targets run key without terminator")?;
    let len = end + 1 + if timed { 8 } else { 0 };
    key.get(..len)
        .ok_or_else(|| format!("targets run key of {} bytes", key.len()))
}

/// The bytes of a `targets` row after its SURT: the terminator, time (8),
/// capture id (16), input ordinal (4) and record number (8).
const TARGET_ROW_TAIL: usize = 1 + 8 + 16 + 4 + 8;

/// A `targets` row's `urls` row key (SURT ‖ 0 ‖ time ‖ capture id). The
/// SURT ends where the fixed tail begins, so one holding a NUL byte is
/// seen, and refused ([`nul_surt`]), not read as a shorter SURT.
fn target_url_key(row: &[u8]) -> Result<&[u8], Failure> {
    let end = row
        .len()
        .checked_sub(TARGET_ROW_TAIL)
        .filter(|end| row[*end] == keys::SURT_TERMINATOR)
        .ok_or_else(|| {
            format!(
                "targets run key of {} bytes, not SURT ‖ 0 ‖ {} bytes",
                row.len(),
                TARGET_ROW_TAIL - 1
            )
        })?;
    let (surt, tail) = (&row[..end], &row[end + 1..]);
    if nul_surt(surt) {
        let number = |at: std::ops::Range<usize>| {
            tail[at]
                .iter()
                .fold(0u128, |n, b| (n << 8) | u128::from(*b))
        };
        return Err(Failure::Refused(format!(
            "targets lookup run: the row of capture {:032x} (input {}, record {}): its SURT \
             {:?} holds a NUL byte, which no SURT key of this build holds (a run it did not \
             write?)",
            number(8..24),
            number(24..28),
            number(28..36),
            String::from_utf8_lossy(surt),
        )));
    }
    Ok(&row[..end + 1 + 8 + 16])
}

/// Wanted target prefixes (SURT ‖ 0 [‖ time] ‖ seq) joined with the
/// `targets` run and the revisits' own URLs: a request gets the first
/// [`TARGET_CANDIDATES`] captures under its prefix — their first content
/// with text when no revisit lies under it (static), else the candidates
/// themselves, to be merged with the revisits resolved before it (dynamic);
/// a revisit under a requested prefix is wanted.
fn join_targets(
    wanted: &[(PathBuf, provindex_runs::RunInfo)],
    own_urls: &[(PathBuf, provindex_runs::RunInfo)],
    timed: bool,
    open: &OpenLookup<'_>,
    answers: &mut ExternalSorter,
) -> Result<(), Failure> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mut rows = Cursor::new(open(Lookup::Targets)?);
    let mut own = open_runs(own_urls)?;
    let mut group: Option<(Vec<u8>, Vec<Candidate>, bool)> = None;
    let mut wanted = open_runs(wanted)?;
    while let Some(entry) = wanted.next_ref() {
        let (key, _) = entry.map_err(run_err)?;
        let seq = seq_of(key)?;
        let prefix = &key[..key.len() - 8];
        if group.as_ref().map(|g| g.0.as_slice()) != Some(prefix) {
            let mut dynamic = false;
            while let Some((url, _)) = peek(&mut own)? {
                match url_group(url, timed)?.cmp(prefix) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        dynamic = true;
                        let own_seq = seq_of(url)?;
                        answers
                            .push(cat(&[own_seq, &[ANSWER_WANTED_BY_TARGET]]), Vec::new())
                            .map_err(run_err)?;
                    }
                    std::cmp::Ordering::Greater => break,
                }
                own.next_ref();
            }
            let mut candidates = Vec::new();
            let mut last_url_key: Option<Vec<u8>> = None;
            while let Some((row, value)) = rows.peek()? {
                let url_key = target_url_key(row)?;
                match url_group(url_key, timed)?.cmp(prefix) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        // A capture id seen twice has one urls row: the first.
                        if last_url_key.as_deref() != Some(url_key) {
                            last_url_key = Some(url_key.to_vec());
                            let content = decode_content(value)?;
                            if candidates.len() < TARGET_CANDIDATES {
                                candidates.push((url_key.to_vec(), content));
                            }
                        }
                    }
                    std::cmp::Ordering::Greater => break,
                }
                rows.advance();
            }
            group = Some((prefix.to_vec(), candidates, dynamic));
        }
        let (_, candidates, dynamic) = group.as_ref().expect("set above");
        if *dynamic {
            answers
                .push(
                    cat(&[seq, &[ANSWER_TARGET_DYNAMIC]]),
                    encode_candidates(candidates),
                )
                .map_err(run_err)?;
        } else if !candidates.is_empty() {
            let content = candidates.iter().find_map(|(_, c)| *c);
            answers
                .push(
                    cat(&[seq, &[ANSWER_TARGET_STATIC]]),
                    encode_content(content),
                )
                .map_err(run_err)?;
        }
    }
    while let Some((row, _)) = rows.peek()? {
        target_url_key(row)?;
        rows.advance();
    }
    Ok(())
}

fn encode_candidates(candidates: &[Candidate]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, content) in candidates {
        let content = encode_content(*content);
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        out.push(content.len() as u8);
        out.extend_from_slice(&content);
    }
    out
}

/// Reads length-prefixed fields of an annotated revisit.
struct Fields<'b> {
    bytes: &'b [u8],
}

impl<'b> Fields<'b> {
    fn take(&mut self, len: usize) -> Result<&'b [u8], String> {
        if self.bytes.len() < len {
            return Err(format!(
                "an annotated revisit ends {} bytes short",
                len - self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn content(&mut self) -> Result<Option<u128>, String> {
        let len = self.take(1)?[0] as usize;
        decode_content(self.take(len)?)
    }
}

fn decode_candidates(mut bytes: &[u8]) -> Result<Vec<Candidate>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut fields = Fields { bytes };
        let len = fields.u32()? as usize;
        let key = fields.take(len)?.to_vec();
        out.push((key, fields.content()?));
        bytes = fields.bytes;
    }
    Ok(out)
}

/// Where a revisit's target lookup stands after the joins.
#[derive(Default)]
enum TargetAnswer {
    #[default]
    None,
    /// No revisit under the prefix: the lookup's result.
    Static(Option<u128>),
    /// The first originals under the prefix, to merge with resolved revisits.
    Dynamic(Vec<Candidate>),
}

/// A revisit with what the joins found for it.
#[derive(Default)]
struct Annotated {
    id: Option<Option<u128>>,
    digest: Option<Option<u128>>,
    target: TargetAnswer,
    in_originals: bool,
    wanted_by_id: bool,
    wanted_by_target: bool,
    /// Another revisit has its capture id (a duplicate record): only such
    /// a revisit's id goes to a pass's `dups` run or is looked up in it.
    has_dup: bool,
    /// A revisit with its capture id was resolved in an earlier pass: later
    /// revisits find that one, not this.
    dup_done: bool,
    /// The scan key, length-prefixed, then the scan record.
    record: Vec<u8>,
}

const FLAG_IN_ORIGINALS: u8 = 1;
const FLAG_WANTED_BY_ID: u8 = 2;
const FLAG_WANTED_BY_TARGET: u8 = 4;
const FLAG_HAS_DUP: u8 = 8;
const FLAG_DUP_DONE: u8 = 16;

impl Annotated {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.record.len() + 64);
        let flags = [
            (self.in_originals, FLAG_IN_ORIGINALS),
            (self.wanted_by_id, FLAG_WANTED_BY_ID),
            (self.wanted_by_target, FLAG_WANTED_BY_TARGET),
            (self.has_dup, FLAG_HAS_DUP),
            (self.dup_done, FLAG_DUP_DONE),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0u8, |f, (_, bit)| f | bit);
        out.push(flags);
        for answer in [self.id, self.digest] {
            match answer {
                None => out.push(0),
                Some(content) => {
                    out.push(1);
                    let content = encode_content(content);
                    out.push(content.len() as u8);
                    out.extend_from_slice(&content);
                }
            }
        }
        match &self.target {
            TargetAnswer::None => out.push(0),
            TargetAnswer::Static(content) => {
                out.push(1);
                let content = encode_content(*content);
                out.push(content.len() as u8);
                out.extend_from_slice(&content);
            }
            TargetAnswer::Dynamic(candidates) => {
                out.push(2);
                let candidates = encode_candidates(candidates);
                out.extend_from_slice(&(candidates.len() as u32).to_be_bytes());
                out.extend_from_slice(&candidates);
            }
        }
        out.extend_from_slice(&self.record);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut fields = Fields { bytes };
        let flags = fields.take(1)?[0];
        let mut answers = [None, None];
        for answer in &mut answers {
            if fields.take(1)?[0] == 1 {
                *answer = Some(fields.content()?);
            }
        }
        let target = match fields.take(1)?[0] {
            0 => TargetAnswer::None,
            1 => TargetAnswer::Static(fields.content()?),
            _ => {
                let len = fields.u32()? as usize;
                TargetAnswer::Dynamic(decode_candidates(fields.take(len)?)?)
            }
        };
        Ok(Annotated {
            id: answers[0],
            digest: answers[1],
            target,
            in_originals: flags & FLAG_IN_ORIGINALS != 0,
            wanted_by_id: flags & FLAG_WANTED_BY_ID != 0,
            wanted_by_target: flags & FLAG_WANTED_BY_TARGET != 0,
            has_dup: flags & FLAG_HAS_DUP != 0,
            dup_done: flags & FLAG_DUP_DONE != 0,
            record: fields.bytes.to_vec(),
        })
    }

    /// The scan key and the capture.
    fn capture(&self) -> Result<(Vec<u8>, PreparedCapture), String> {
        split_record(&self.record)
    }
}

/// A base or resolved run value: scan key (length-prefixed) ‖ scan record.
fn split_record(bytes: &[u8]) -> Result<(Vec<u8>, PreparedCapture), String> {
    let mut fields = Fields { bytes };
    let len = fields.u32()? as usize;
    let key = fields.take(len)?.to_vec();
    let prepared = crate::scan_record::decode(fields.bytes)?;
    Ok((key, prepared))
}

fn capture_id_of(record: &[u8]) -> Result<u128, String> {
    Ok(split_record(record)?.1.capture_id)
}

/// Joins the revisits (by sequence) with their answers into the first
/// pass's run.
fn annotate(
    base: &Path,
    answers: &[(PathBuf, provindex_runs::RunInfo)],
    pending: &Path,
) -> Result<(), String> {
    let name = pending.display().to_string();
    let file = File::create(pending).map_err(|e| format!("{name}: {e}"))?;
    let mut out = RunWriter::new(file, &name).map_err(run_err)?;
    let mut answers = open_runs(answers)?;
    // One revisit of look-ahead, to mark duplicate capture ids.
    let mut previous: Option<(Vec<u8>, u128, Annotated)> = None;
    let mut base = open_run(base)?;
    while let Some(row) = base.next_ref() {
        let (seq, record) = row.map_err(run_err)?;
        let mut annotated = Annotated::default();
        while let Some((key, value)) = peek(&mut answers)? {
            if key.len() != seq.len() + 1 || !key.starts_with(seq) {
                break;
            }
            match key[seq.len()] {
                ANSWER_ID => annotated.id = Some(decode_content(value)?),
                ANSWER_IN_ORIGINALS => annotated.in_originals = true,
                ANSWER_WANTED_BY_ID => annotated.wanted_by_id = true,
                ANSWER_DIGEST => annotated.digest = Some(decode_content(value)?),
                ANSWER_TARGET_STATIC => {
                    annotated.target = TargetAnswer::Static(decode_content(value)?)
                }
                ANSWER_TARGET_DYNAMIC => {
                    annotated.target = TargetAnswer::Dynamic(decode_candidates(value)?)
                }
                ANSWER_WANTED_BY_TARGET => annotated.wanted_by_target = true,
                kind => return Err(format!("an answer of unknown kind {kind}")),
            }
            answers.next_ref();
        }
        let capture_id = capture_id_of(record)?;
        annotated.record = record.to_vec();
        if let Some((prev_seq, prev_id, mut prev)) = previous.take() {
            if prev_id == capture_id {
                prev.has_dup = true;
                annotated.has_dup = true;
            }
            out.push(&prev_seq, &encode_state(Status::Undecided, &prev.encode()))
                .map_err(run_err)?;
        }
        previous = Some((seq.to_vec(), capture_id, annotated));
    }
    if let Some((seq, _, last)) = previous {
        out.push(&seq, &encode_state(Status::Undecided, &last.encode()))
            .map_err(run_err)?;
    }
    if let Some((key, _)) = peek(&mut answers)? {
        return Err(format!("an answer for no revisit ({} bytes)", key.len()));
    }
    out.finish().map_err(run_err)?;
    Ok(())
}

/// Where a revisit stands in its pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Waits for a revisit before it in the pass (a chain link).
    Undecided,
    Unresolved,
    Resolved(Option<u128>),
}

/// A pass run's value: the status, then the annotated revisit.
fn encode_state(status: Status, annotated: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(annotated.len() + 18);
    match status {
        Status::Undecided => out.push(0),
        Status::Unresolved => out.push(1),
        Status::Resolved(content) => {
            out.push(2);
            let content = encode_content(content);
            out.push(content.len() as u8);
            out.extend_from_slice(&content);
        }
    }
    out.extend_from_slice(annotated);
    out
}

fn decode_state(bytes: &[u8]) -> Result<(Status, Annotated), String> {
    let mut fields = Fields { bytes };
    let status = match fields.take(1)?[0] {
        0 => Status::Undecided,
        1 => Status::Unresolved,
        2 => Status::Resolved(fields.content()?),
        other => return Err(format!("a revisit status of unknown kind {other}")),
    };
    Ok((status, Annotated::decode(fields.bytes)?))
}

/// A resolved revisit as later revisits find it (by id or URL): its
/// original's content, or not known yet (it, or an earlier revisit with its
/// capture id, is undecided).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Known(Option<u128>),
    Unknown,
}

fn encode_entry(entry: Entry) -> Vec<u8> {
    match entry {
        Entry::Unknown => vec![0],
        Entry::Known(content) => {
            let content = encode_content(content);
            let mut out = vec![1, content.len() as u8];
            out.extend_from_slice(&content);
            out
        }
    }
}

fn decode_entry(fields: &mut Fields<'_>) -> Result<Entry, String> {
    match fields.take(1)?[0] {
        0 => Ok(Entry::Unknown),
        _ => Ok(Entry::Known(fields.content()?)),
    }
}

/// Which revisit of a capture id later revisits find: the first resolved
/// one, in pass then sequence order, unless a capture has the id (it is then
/// the original) — as the in-memory `added` maps kept only the first.
/// Fed a pass's revisits in sequence order, so copies of an id are adjacent.
#[derive(Default)]
struct Reps {
    id: Option<u128>,
    /// The first copy of the id in this pass that is not unresolved.
    first: Option<Status>,
}

impl Reps {
    fn entry(&mut self, capture_id: u128, annotated: &Annotated, status: Status) -> Option<Entry> {
        if self.id != Some(capture_id) {
            self.id = Some(capture_id);
            self.first = None;
        }
        if annotated.in_originals || annotated.dup_done || status == Status::Unresolved {
            return None;
        }
        match self.first.replace(self.first.unwrap_or(status)) {
            Some(Status::Resolved(_)) => None,
            Some(_) => Some(Entry::Unknown),
            None => Some(match status {
                Status::Resolved(content) => Entry::Known(content),
                _ => Entry::Unknown,
            }),
        }
    }
}

// The join of the chain links: keys are kind ‖ group ‖ phase ‖ sequence ‖
// tag. The group is the requested capture id (KIND_ID), or the length and
// bytes of a requested URL prefix (KIND_URL); entries of earlier passes
// (PHASE_EARLIER) come before this pass's, and this pass's requests before
// the entries at their own sequence number, so a request sees exactly the
// revisits resolved before it.
const KIND_ID: u8 = 0;
const KIND_URL: u8 = 1;
const PHASE_EARLIER: u8 = 0;
const PHASE_THIS: u8 = 1;
const TAG_REQUEST: u8 = 0;
const TAG_ENTRY: u8 = 1;

fn join_key(kind: u8, group: &[u8], phase: u8, seq: &[u8], tag: u8) -> Vec<u8> {
    let len = if kind == KIND_URL {
        (group.len() as u32).to_be_bytes().to_vec()
    } else {
        Vec::new()
    };
    cat(&[&[kind], &len, group, &[phase], seq, &[tag]])
}

/// Splits a join key into kind ‖ group, sequence and tag.
fn split_join_key(key: &[u8]) -> Result<(&[u8], &[u8], u8), String> {
    let bad = || format!("a chain-link join key of {} bytes", key.len());
    let end = match key.first() {
        Some(&KIND_ID) => 17,
        Some(&KIND_URL) => {
            let len = key.get(1..5).ok_or_else(bad)?;
            5 + u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize
        }
        _ => return Err(bad()),
    };
    if key.len() != end + 10 {
        return Err(bad());
    }
    Ok((&key[..end], &key[end + 1..end + 9], key[end + 9]))
}

/// Pushes the join entries of a revisit later revisits may find.
fn push_entries(
    join: &mut ExternalSorter,
    phase: u8,
    seq: &[u8],
    annotated: &Annotated,
    revisit: &PreparedCapture,
    entry: Entry,
) -> Result<(), String> {
    let value = encode_entry(entry);
    let id = revisit.capture_id.to_be_bytes();
    if annotated.wanted_by_id {
        join.push(join_key(KIND_ID, &id, phase, seq, TAG_ENTRY), value.clone())
            .map_err(run_err)?;
    }
    if !revisit.record.surt.is_empty() && annotated.wanted_by_target {
        let mut url_key = url_prefix(&revisit.record.surt, Some(revisit.record.capture_time));
        url_key.extend_from_slice(&id);
        let item = cat(&[&(url_key.len() as u32).to_be_bytes(), &url_key, &value]);
        // The request prefixes the key lies under: SURT ‖ 0, with and
        // without its time.
        for timed in [false, true] {
            let group = url_group(&url_key, timed)?;
            join.push(
                join_key(KIND_URL, group, phase, seq, TAG_ENTRY),
                item.clone(),
            )
            .map_err(run_err)?;
        }
    }
    Ok(())
}

/// Whether an undecided revisit's URL lookup goes through the join: its
/// prefix, when the lookup can matter and may see resolved revisits.
fn url_request(annotated: &Annotated, revisit: &PreparedCapture) -> Option<Vec<u8>> {
    let (surt, time) = revisit.revisit.as_ref()?.target.as_ref()?;
    let dynamic = matches!(annotated.target, TargetAnswer::Dynamic(_));
    (dynamic && annotated.digest.is_none() && annotated.id.is_none())
        .then(|| url_prefix(surt, *time))
}

/// Phase 3: passes over the revisits in capture-id order until one resolves
/// nothing; each pass's unresolved revisits are the next pass's run. Within
/// a pass a revisit sees the revisits resolved before it (chain links):
/// rounds of merge joins decide, each, every revisit whose links before it
/// are decided — one round per link of a chain inside the pass. What earlier
/// passes resolved is kept as join runs (`earlier`). Returns the counts and
/// the runs of every revisit (key: capture id ‖ pass ‖ sequence; value: scan
/// record).
fn passes(
    dir: &Path,
    mut pending: PathBuf,
    budget: usize,
) -> Result<(RevisitCounts, Vec<(PathBuf, provindex_runs::RunInfo)>), String> {
    let mut counts = RevisitCounts::default();
    let mut earlier: Vec<(PathBuf, provindex_runs::RunInfo)> = Vec::new();
    let mut resolved = ExternalSorter::new(dir, "resolved", (budget / 4).max(1));
    let mut pass = 0u32;
    loop {
        pass += 1;
        let mut round = 0u32;
        loop {
            round += 1;
            let next = dir.join(format!("pass-{pass:05}-{round:05}.run"));
            let undecided = run_round(dir, &pending, &next, &earlier, (pass, round), budget)?;
            let _ = std::fs::remove_file(&pending);
            pending = next;
            if undecided == 0 {
                break;
            }
        }
        // The pass is decided: its resolved revisits go to the output and
        // become entries for later passes; the unresolved are the next pass.
        let mut added =
            ExternalSorter::new(dir, &format!("earlier-{pass:05}"), (budget / 4).max(1));
        let dups_path = dir.join(format!("dups-{pass:05}.run"));
        let dups_name = dups_path.display().to_string();
        let file = File::create(&dups_path).map_err(|e| format!("{dups_name}: {e}"))?;
        let mut dups = RunWriter::new(file, &dups_name).map_err(run_err)?;
        let mut reps = Reps::default();
        let mut last_dup: Option<[u8; 16]> = None;
        let (mut before, mut left) = (0u64, 0u64);
        let mut run = open_run(&pending)?;
        while let Some(row) = run.next_ref() {
            let (seq, value) = row.map_err(run_err)?;
            before += 1;
            let (status, annotated) = decode_state(value)?;
            let (_, mut revisit) = annotated.capture()?;
            let entry = reps.entry(revisit.capture_id, &annotated, status);
            if let Some(entry) = entry {
                let id = revisit.capture_id.to_be_bytes();
                // Only a duplicated id can mark another revisit; copies of
                // an id are adjacent: the first found is the one.
                if annotated.has_dup && last_dup != Some(id) {
                    dups.push(&id, &[]).map_err(run_err)?;
                    last_dup = Some(id);
                }
                push_entries(&mut added, PHASE_EARLIER, seq, &annotated, &revisit, entry)?;
            }
            match status {
                Status::Resolved(original) => {
                    match original {
                        Some(content_id) => {
                            revisit.record.content_id = content_id.to_be_bytes().to_vec();
                        }
                        None => counts.without_text += 1,
                    }
                    counts.resolved += 1;
                    let key = cat(&[&revisit.capture_id.to_be_bytes(), &pass.to_be_bytes(), seq]);
                    resolved
                        .push(key, crate::scan_record::encode(&revisit))
                        .map_err(run_err)?;
                }
                Status::Unresolved => left += 1,
                Status::Undecided => {
                    return Err(format!("revisit pass {pass}: a revisit left undecided"));
                }
            }
        }
        dups.finish().map_err(run_err)?;
        earlier.extend(added.finish().map_err(run_err)?);
        // The next pass: the unresolved, marked when a copy of their id was
        // resolved (it is the one later revisits find).
        let next = dir.join(format!("pass-{:05}-00000.run", pass + 1));
        let name = next.display().to_string();
        let file = File::create(&next).map_err(|e| format!("{name}: {e}"))?;
        let mut unresolved = RunWriter::new(file, &name).map_err(run_err)?;
        let mut dups_rows = provindex_runs::Merge::new(vec![open_run(&dups_path)?]);
        let mut run = open_run(&pending)?;
        while let Some(row) = run.next_ref() {
            let (seq, value) = row.map_err(run_err)?;
            let (status, mut annotated) = decode_state(value)?;
            if status != Status::Unresolved {
                continue;
            }
            // Only a revisit another has the id of can find it in `dups`;
            // the others skip decoding their record for the id.
            if annotated.has_dup {
                let id = capture_id_of(&annotated.record)?.to_be_bytes();
                while let Some((row, _)) = peek(&mut dups_rows)? {
                    if row >= id.as_slice() {
                        break;
                    }
                    dups_rows.next_ref();
                }
                if peek(&mut dups_rows)?.is_some_and(|(row, _)| row == id.as_slice()) {
                    annotated.dup_done = true;
                }
            }
            unresolved
                .push(seq, &encode_state(Status::Undecided, &annotated.encode()))
                .map_err(run_err)?;
        }
        unresolved.finish().map_err(run_err)?;
        let _ = std::fs::remove_file(&dups_path);
        let _ = std::fs::remove_file(&pending);
        pending = next;
        if left == 0 || left == before {
            break;
        }
    }
    // The unresolved, in capture-id order, after every pass's resolved.
    let mut run = open_run(&pending)?;
    while let Some(row) = run.next_ref() {
        let (seq, value) = row.map_err(run_err)?;
        let (_, annotated) = decode_state(value)?;
        counts.unresolved += 1;
        counts.without_text += 1;
        let (_, revisit) = annotated.capture()?;
        let key = cat(&[
            &revisit.capture_id.to_be_bytes(),
            &UNRESOLVED_PASS.to_be_bytes(),
            seq,
        ]);
        resolved
            .push(key, crate::scan_record::encode(&revisit))
            .map_err(run_err)?;
    }
    let _ = std::fs::remove_file(&pending);
    for (path, _) in &earlier {
        let _ = std::fs::remove_file(path);
    }
    Ok((counts, resolved.finish().map_err(run_err)?))
}

/// One round of a pass: the pass's revisits (`state`) give the join their
/// entries and their undecided revisits' requests; the join's answers decide
/// every undecided revisit whose links before it are decided, into `next`.
/// Returns how many are still undecided.
fn run_round(
    dir: &Path,
    state: &Path,
    next: &Path,
    earlier: &[(PathBuf, provindex_runs::RunInfo)],
    (pass, round): (u32, u32),
    budget: usize,
) -> Result<u64, String> {
    let tag = format!("{pass:05}-{round:05}");
    let mut join = ExternalSorter::new(dir, &format!("join-{tag}"), (budget / 4).max(1));
    let mut reps = Reps::default();
    let mut requests = 0u64;
    let mut run = open_run(state)?;
    while let Some(row) = run.next_ref() {
        let (seq, value) = row.map_err(run_err)?;
        let (status, annotated) = decode_state(value)?;
        let (_, revisit) = annotated.capture()?;
        if let Some(entry) = reps.entry(revisit.capture_id, &annotated, status) {
            push_entries(&mut join, PHASE_THIS, seq, &annotated, &revisit, entry)?;
        }
        if status != Status::Undecided {
            continue;
        }
        if let Some(original) = revisit.revisit.as_ref().and_then(|r| r.refers_to_capture)
            && annotated.id.is_none()
        {
            requests += 1;
            join.push(
                join_key(
                    KIND_ID,
                    &original.to_be_bytes(),
                    PHASE_THIS,
                    seq,
                    TAG_REQUEST,
                ),
                Vec::new(),
            )
            .map_err(run_err)?;
        }
        if let Some(prefix) = url_request(&annotated, &revisit) {
            requests += 1;
            join.push(
                join_key(KIND_URL, &prefix, PHASE_THIS, seq, TAG_REQUEST),
                Vec::new(),
            )
            .map_err(run_err)?;
        }
    }
    let join = join.finish().map_err(run_err)?;
    let mut answers = ExternalSorter::new(dir, &format!("links-{tag}"), (budget / 4).max(1));
    if requests > 0 {
        let runs: Vec<_> = earlier.iter().chain(&join).cloned().collect();
        answer_links(&runs, &mut answers)?;
    }
    for (path, _) in &join {
        let _ = std::fs::remove_file(path);
    }
    let answers = answers.finish().map_err(run_err)?;
    let name = next.display().to_string();
    let file = File::create(next).map_err(|e| format!("{name}: {e}"))?;
    let mut out = RunWriter::new(file, &name).map_err(run_err)?;
    let mut answer_rows = open_runs(&answers)?;
    let mut undecided = 0u64;
    let mut run = open_run(state)?;
    while let Some(row) = run.next_ref() {
        let (seq, value) = row.map_err(run_err)?;
        let (status, annotated) = decode_state(value)?;
        let (mut id_answer, mut url_answer) = (None, Vec::new());
        while let Some((key, value)) = peek(&mut answer_rows)? {
            if key.len() != seq.len() + 1 || !key.starts_with(seq) {
                break;
            }
            let mut fields = Fields { bytes: value };
            if key[seq.len()] == KIND_ID {
                id_answer = Some(decode_entry(&mut fields)?);
            } else {
                while !fields.bytes.is_empty() {
                    let len = fields.u32()? as usize;
                    let url_key = fields.take(len)?.to_vec();
                    url_answer.push((url_key, decode_entry(&mut fields)?));
                }
            }
            answer_rows.next_ref();
        }
        if status != Status::Undecided {
            out.push(seq, value).map_err(run_err)?;
            continue;
        }
        let (_, revisit) = annotated.capture()?;
        let decided = decide(&annotated, &revisit, id_answer, &url_answer);
        let status = match decided {
            None => {
                undecided += 1;
                Status::Undecided
            }
            Some(None) => Status::Unresolved,
            Some(Some(content)) => Status::Resolved(content),
        };
        out.push(seq, &encode_state(status, &annotated.encode()))
            .map_err(run_err)?;
    }
    if let Some((key, _)) = peek(&mut answer_rows)? {
        return Err(format!(
            "a chain-link answer for no revisit ({} bytes)",
            key.len()
        ));
    }
    out.finish().map_err(run_err)?;
    for (path, _) in &answers {
        let _ = std::fs::remove_file(path);
    }
    Ok(undecided)
}

/// The merge join of the chain links: per requested id, the first entry
/// before the request (one of an earlier pass, else of this pass in
/// sequence order) answers it; per requested URL prefix, the first
/// [`TARGET_CANDIDATES`] entries in URL-key order among those before the
/// request. Answers are keyed sequence ‖ kind.
fn answer_links(
    runs: &[(PathBuf, provindex_runs::RunInfo)],
    answers: &mut ExternalSorter,
) -> Result<(), String> {
    let mut group: Vec<u8> = Vec::new();
    let mut first: Option<Entry> = None;
    let mut under: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
    let mut rows = open_runs(runs)?;
    while let Some(row) = rows.next_ref() {
        let (key, value) = row.map_err(run_err)?;
        let (this_group, seq, tag) = split_join_key(key)?;
        if this_group != group.as_slice() {
            group = this_group.to_vec();
            first = None;
            under.clear();
        }
        let kind = group[0];
        match (kind, tag) {
            (KIND_ID, TAG_ENTRY) => {
                if first.is_none() {
                    first = Some(decode_entry(&mut Fields { bytes: value })?);
                }
            }
            (KIND_ID, _) => {
                if let Some(entry) = first {
                    answers
                        .push(cat(&[seq, &[KIND_ID]]), encode_entry(entry))
                        .map_err(run_err)?;
                }
            }
            (_, TAG_ENTRY) => {
                let mut fields = Fields { bytes: value };
                let len = fields.u32()? as usize;
                let url_key = fields.take(len)?.to_vec();
                under.insert(url_key, decode_entry(&mut fields)?);
                if under.len() > TARGET_CANDIDATES {
                    under.pop_last();
                }
            }
            _ => {
                if !under.is_empty() {
                    let mut out = Vec::new();
                    for (url_key, entry) in &under {
                        out.extend_from_slice(&(url_key.len() as u32).to_be_bytes());
                        out.extend_from_slice(url_key);
                        out.extend_from_slice(&encode_entry(*entry));
                    }
                    answers
                        .push(cat(&[seq, &[KIND_URL]]), out)
                        .map_err(run_err)?;
                }
            }
        }
    }
    Ok(())
}

/// An undecided revisit's resolution by the rules of [`crate::revisits`],
/// given its chain-link answers: `None` while a link before it is undecided,
/// else `Some(None)` (not found) or `Some(Some(content))`.
fn decide(
    annotated: &Annotated,
    revisit: &PreparedCapture,
    id_answer: Option<Entry>,
    url_answer: &[(Vec<u8>, Entry)],
) -> Option<Option<Option<u128>>> {
    let Some(reference) = revisit.revisit.as_ref() else {
        return Some(None);
    };
    let mut content = None;
    if reference.refers_to_capture.is_some() {
        content = match (annotated.id, id_answer) {
            (Some(content), _) => Some(content),
            (None, Some(Entry::Known(content))) => Some(content),
            (None, Some(Entry::Unknown)) => return None,
            (None, None) => None,
        };
    }
    if content.is_none() {
        content = annotated.digest;
    }
    if content.is_none() && reference.target.is_some() {
        content = match &annotated.target {
            TargetAnswer::Static(content) => Some(*content),
            TargetAnswer::Dynamic(candidates) => url_content(candidates, url_answer)?,
            TargetAnswer::None => None,
        };
    }
    Some(content)
}

/// A URL lookup once revisits may lie under its prefix: of the first
/// [`TARGET_CANDIDATES`] originals and resolved revisits in key order
/// (originals first on equal keys), the first with text, else `Some(None)`
/// when there is any, else `None` — and `None` outside while an undecided
/// revisit comes first (it may or may not count).
fn url_content(
    originals: &[Candidate],
    resolved: &[(Vec<u8>, Entry)],
) -> Option<Option<Option<u128>>> {
    let mut candidates: Vec<(&[u8], Entry)> = originals
        .iter()
        .map(|(k, v)| (k.as_slice(), Entry::Known(*v)))
        .collect();
    candidates.extend(resolved.iter().map(|(k, e)| (k.as_slice(), *e)));
    candidates.sort_by(|a, b| a.0.cmp(b.0));
    candidates.truncate(TARGET_CANDIDATES);
    let mut found = None;
    for (_, entry) in candidates {
        match entry {
            Entry::Unknown => return None,
            Entry::Known(Some(content)) => return Some(Some(Some(content))),
            Entry::Known(None) => found = Some(None),
        }
    }
    Some(found)
}

/// Phase 4: the revisits in scan-key order. Revisits sharing a capture id
/// get their scan keys in the order a one-pass build adds them (by pass,
/// then sequence), as the in-memory stage assigned them: the keys, read in
/// order from `keys`, are zipped with the revisits sorted by capture id,
/// pass and sequence — both runs group the copies of an id together.
fn emit_in_key_order<E>(
    keys_run: &Path,
    resolved: &[(PathBuf, provindex_runs::RunInfo)],
    fail: &impl Fn(String) -> E,
    emit: &mut impl FnMut(Vec<u8>, PreparedCapture) -> Result<(), E>,
) -> Result<(), E> {
    let mut revisits = open_runs(resolved).map_err(fail)?;
    let mut keys = open_run(keys_run).map_err(fail)?;
    while let Some(row) = keys.next_ref() {
        let (_, key) = row.map_err(|e| fail(run_err(e)))?;
        let (_, record) = revisits
            .next_ref()
            .ok_or_else(|| fail("fewer resolved revisits than scan keys".to_string()))?
            .map_err(|e| fail(run_err(e)))?;
        let revisit = crate::scan_record::decode(record).map_err(&fail)?;
        if key.get(..16) != Some(&revisit.capture_id.to_be_bytes()[..]) {
            return Err(fail(format!(
                "scan key of capture {:032x} given to capture {:032x}",
                u128::from_be_bytes(
                    key.get(..16)
                        .and_then(|k| k.try_into().ok())
                        .unwrap_or([0; 16])
                ),
                revisit.capture_id
            )));
        }
        emit(key.to_vec(), revisit)?;
    }
    if revisits.next_ref().is_some() {
        return Err(fail("more resolved revisits than scan keys".to_string()));
    }
    Ok(())
}

/// The in-memory resolution this module replaced (every revisit, the
/// originals and the chain passes' maps in memory), kept as the reference
/// the bounded one is compared with.
#[cfg(test)]
mod reference {
    use std::collections::{HashMap, HashSet};

    use super::*;

    /// Resolves `revisits` (any order) against the lookup runs. Returns them in
    /// the order a one-pass build adds them, each with its original's content id
    /// in its record (empty when it has none or was not found), and the counts.
    pub(super) fn resolve(
        mut revisits: Vec<PreparedCapture>,
        ids: Rows<'_>,
        digests: Rows<'_>,
        targets: Rows<'_>,
    ) -> Result<(Vec<PreparedCapture>, RevisitCounts), String> {
        revisits.sort_by_key(|p| p.capture_id);
        let originals = Originals::gather(&revisits, ids, digests, targets)?;
        let mut counts = RevisitCounts::default();
        // Revisits added so far: capture id → content; url key → content.
        let mut added: HashMap<u128, Option<u128>> = HashMap::new();
        let mut added_urls: BTreeMap<Vec<u8>, Option<u128>> = BTreeMap::new();
        let mut done = Vec::with_capacity(revisits.len());
        let mut pending = revisits;
        loop {
            let before = pending.len();
            let mut unresolved = Vec::new();
            for mut revisit in pending {
                let Some(reference) = revisit.revisit.as_ref() else {
                    continue;
                };
                let mut content = None;
                if let Some(original) = reference.refers_to_capture {
                    content = originals
                        .ids
                        .get(&original)
                        .copied()
                        .or_else(|| added.get(&original).copied());
                }
                if content.is_none() {
                    content = reference
                        .payload_digest
                        .as_ref()
                        .and_then(|digest| originals.digests.get(digest).copied());
                }
                if content.is_none()
                    && let Some((surt, time)) = &reference.target
                {
                    content = originals.url_content(surt, *time, &added_urls);
                }
                match content {
                    Some(original) => {
                        match original {
                            Some(content_id) => {
                                revisit.record.content_id = content_id.to_be_bytes().to_vec();
                            }
                            None => counts.without_text += 1,
                        }
                        counts.resolved += 1;
                        remember(&originals, &mut added, &mut added_urls, &revisit, original);
                        done.push(revisit);
                    }
                    None => unresolved.push(revisit),
                }
            }
            pending = unresolved;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for revisit in pending {
            counts.unresolved += 1;
            counts.without_text += 1;
            done.push(revisit);
        }
        Ok((done, counts))
    }

    /// Makes an added revisit an original for later ones, unless a capture with
    /// its id is already in the index (then the revisit is a duplicate and is
    /// not written).
    fn remember(
        originals: &Originals,
        added: &mut HashMap<u128, Option<u128>>,
        added_urls: &mut BTreeMap<Vec<u8>, Option<u128>>,
        revisit: &PreparedCapture,
        content: Option<u128>,
    ) {
        if originals.ids.contains_key(&revisit.capture_id)
            || added.contains_key(&revisit.capture_id)
        {
            return;
        }
        added.insert(revisit.capture_id, content);
        if !revisit.record.surt.is_empty() {
            let mut key = url_prefix(&revisit.record.surt, Some(revisit.record.capture_time));
            key.extend_from_slice(&revisit.capture_id.to_be_bytes());
            added_urls.insert(key, content);
        }
    }

    /// What the revisits ask of the captures that are not revisits.
    #[derive(Default)]
    struct Originals {
        /// Referred capture id → its content (the first capture with that id).
        ids: HashMap<u128, Option<u128>>,
        /// Payload digest → the first content with it, else `None` (no text).
        digests: HashMap<String, Option<u128>>,
        /// Target prefix (SURT, and time when known) → the first candidates in
        /// `urls` key order: (url key, content).
        targets: HashMap<Vec<u8>, Vec<Candidate>>,
    }

    impl Originals {
        fn gather(
            revisits: &[PreparedCapture],
            ids: Rows<'_>,
            digests: Rows<'_>,
            targets: Rows<'_>,
        ) -> Result<Self, String> {
            let mut wanted_ids = HashSet::new();
            let mut wanted_digests = HashSet::new();
            // SURT → the target prefixes asked for under it.
            let mut wanted_targets: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
            for reference in revisits.iter().filter_map(|r| r.revisit.as_ref()) {
                if let Some(id) = reference.refers_to_capture {
                    wanted_ids.insert(id);
                }
                if let Some(digest) = &reference.payload_digest {
                    wanted_digests.insert(digest.clone());
                }
                if let Some((surt, time)) = &reference.target {
                    let prefixes = wanted_targets.entry(surt.clone()).or_default();
                    let prefix = url_prefix(surt, *time);
                    if !prefixes.contains(&prefix) {
                        prefixes.push(prefix);
                    }
                }
            }
            let mut originals = Originals::default();
            if !wanted_ids.is_empty() {
                for row in ids {
                    let (key, value) = row?;
                    let id = key
                        .get(..16)
                        .and_then(|b| <[u8; 16]>::try_from(b).ok())
                        .map(u128::from_be_bytes)
                        .ok_or_else(|| format!("ids run key of {} bytes", key.len()))?;
                    if wanted_ids.contains(&id) && !originals.ids.contains_key(&id) {
                        originals.ids.insert(id, decode_content(&value)?);
                    }
                }
            }
            if !wanted_digests.is_empty() {
                for row in digests {
                    let (key, value) = row?;
                    let end = key
                        .iter()
                        .position(|b| *b == 0)
                        .ok_or("digests run key without separator")?;
                    let digest = std::str::from_utf8(&key[..end])
                        .map_err(|_| "digests run key is not UTF-8".to_string())?;
                    if !wanted_digests.contains(digest) {
                        continue;
                    }
                    let content = decode_content(&value)?;
                    let entry = originals
                        .digests
                        .entry(digest.to_string())
                        .or_insert(content);
                    // Equal payloads give equal text; prefer a known content.
                    if entry.is_none() {
                        *entry = content;
                    }
                }
            }
            if !wanted_targets.is_empty() {
                let mut last_url_key: Option<Vec<u8>> = None;
                for row in targets {
                    let (key, value) = row?;
                    let end = key
                        .iter()
                        .position(|b| *b == keys::SURT_TERMINATOR)
                        .ok_or("targets run key without terminator")?;
                    let Some(prefixes) = std::str::from_utf8(&key[..end])
                        .ok()
                        .and_then(|surt| wanted_targets.get(surt))
                    else {
                        continue;
                    };
                    // The urls row key: SURT ‖ 0 ‖ time (8) ‖ capture_id (16).
                    let url_key_len = end + 1 + 8 + 16;
                    let url_key = key
                        .get(..url_key_len)
                        .ok_or_else(|| format!("targets run key of {} bytes", key.len()))?;
                    // A capture id seen twice has one urls row: the first.
                    if last_url_key.as_deref() == Some(url_key) {
                        continue;
                    }
                    last_url_key = Some(url_key.to_vec());
                    let content = decode_content(&value)?;
                    for prefix in prefixes.iter().filter(|p| url_key.starts_with(p)) {
                        let candidates = originals.targets.entry(prefix.clone()).or_default();
                        if candidates.len() < TARGET_CANDIDATES {
                            candidates.push((url_key.to_vec(), content));
                        }
                    }
                }
            }
            Ok(originals)
        }

        /// The content of a capture of `surt` at `time` (any time when `None`):
        /// of the first candidates in key order, one with text, else `Some(None)`
        /// when there are candidates, else `None`.
        fn url_content(
            &self,
            surt: &str,
            time: Option<i64>,
            added_urls: &BTreeMap<Vec<u8>, Option<u128>>,
        ) -> Option<Option<u128>> {
            let prefix = url_prefix(surt, time);
            let mut candidates: Vec<(&[u8], Option<u128>)> = self
                .targets
                .get(&prefix)
                .map(|c| c.iter().map(|(k, v)| (k.as_slice(), *v)).collect())
                .unwrap_or_default();
            candidates.extend(
                added_urls
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .take(TARGET_CANDIDATES)
                    .map(|(k, v)| (k.as_slice(), *v)),
            );
            candidates.sort_by(|a, b| a.0.cmp(b.0));
            candidates.truncate(TARGET_CANDIDATES);
            let mut found = None;
            for (_, content) in candidates {
                match content {
                    Some(content) => return Some(Some(content)),
                    None => found = Some(None),
                }
            }
            found
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use provindex_index::records::CaptureRecord;

    use super::*;
    use crate::prepare::RevisitRef;

    fn revisit(id: u128, reference: RevisitRef) -> PreparedCapture {
        PreparedCapture {
            capture_id: id,
            record: CaptureRecord {
                surt: format!("org,example)/r{id}"),
                capture_time: 100,
                ..CaptureRecord::default()
            },
            content: None,
            revisit: Some(reference),
            url_error: None,
            site_file: None,
            sketch: None,
        }
    }

    /// A revisit with its scan key.
    type Keyed = (Vec<u8>, PreparedCapture);

    /// Revisits, and the ids, digests and targets lookup rows.
    type Corpus = (Vec<Keyed>, Vec<Row>, Vec<Row>, Vec<Row>);

    fn rows(rows: Vec<Row>) -> Rows<'static> {
        Box::new(rows.into_iter().map(Ok))
    }

    fn collect(rows: Rows<'static>) -> Vec<Row> {
        rows.map(|r| r.unwrap()).collect()
    }

    fn key(id: u128) -> Vec<u8> {
        let mut key = id.to_be_bytes().to_vec();
        key.extend_from_slice(&[0; 12]);
        key
    }

    fn content_of(p: &PreparedCapture) -> Option<u128> {
        p.record.content_id()
    }

    /// [`resolve_sorted`] over in-memory lookup rows, spilling under a
    /// fresh scratch directory with `budget` bytes for its sorters. A
    /// refusal's error starts with "refused: ".
    fn bounded(
        revisits: &[Keyed],
        ids: &[Row],
        digests: &[Row],
        targets: &[Row],
        budget: usize,
    ) -> Result<(Vec<Keyed>, RevisitCounts), String> {
        let scratch = tempfile::tempdir().unwrap();
        fn owned<'r>(rows: &'r [Row]) -> Rows<'r> {
            Box::new(rows.iter().cloned().map(Ok))
        }
        let open = |lookup: Lookup| {
            Ok(owned(match lookup {
                Lookup::Ids => ids,
                Lookup::Digests => digests,
                Lookup::Targets => targets,
            }))
        };
        let mut out = Vec::new();
        let counts = resolve_sorted(
            revisits.iter().cloned().map(Ok::<_, String>),
            &open,
            scratch.path(),
            budget,
            |e| e,
            |e| format!("refused: {e}"),
            |key, revisit| {
                out.push((key, revisit));
                Ok(())
            },
        )?;
        let left = std::fs::read_dir(scratch.path()).unwrap().count();
        assert_eq!(left, 0, "scratch files left behind");
        Ok((out, counts))
    }

    /// The reference: in-memory resolution, then the scan keys assigned as
    /// the stage did before (the n-th revisit of a capture id in one-pass
    /// order gets the n-th of its keys), sorted by key.
    fn in_memory(
        revisits: &[Keyed],
        ids: &[Row],
        digests: &[Row],
        targets: &[Row],
    ) -> (Vec<Row>, RevisitCounts) {
        let mut keys: HashMap<u128, Vec<Vec<u8>>> = HashMap::new();
        for (key, p) in revisits {
            keys.entry(p.capture_id).or_default().push(key.clone());
        }
        let (done, counts) = reference::resolve(
            revisits.iter().map(|(_, p)| p.clone()).collect(),
            rows(ids.to_vec()),
            rows(digests.to_vec()),
            rows(targets.to_vec()),
        )
        .unwrap();
        let mut used: HashMap<u128, usize> = HashMap::new();
        let mut out: Vec<Row> = done
            .iter()
            .map(|p| {
                let n = used.entry(p.capture_id).or_default();
                let key = keys[&p.capture_id][*n].clone();
                *n += 1;
                (key, crate::scan_record::encode(p))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        (out, counts)
    }

    #[test]
    fn originals_are_found_by_id_digest_and_target_and_chains_resolve() {
        let by_id = revisit(
            10,
            RevisitRef {
                refers_to_capture: Some(1),
                payload_digest: None,
                target: None,
            },
        );
        // Refers to revisit 10, which sorts before it: resolved in the same pass.
        let chained = revisit(
            11,
            RevisitRef {
                refers_to_capture: Some(10),
                payload_digest: None,
                target: None,
            },
        );
        // Refers to revisit 30, which sorts after it: a second pass.
        let late = revisit(
            5,
            RevisitRef {
                refers_to_capture: Some(30),
                payload_digest: None,
                target: None,
            },
        );
        let by_digest = revisit(
            30,
            RevisitRef {
                refers_to_capture: Some(999),
                payload_digest: Some("sha1:AAA".into()),
                target: None,
            },
        );
        let by_target = revisit(
            40,
            RevisitRef {
                refers_to_capture: None,
                payload_digest: None,
                target: Some(("org,example)/page".into(), Some(50))),
            },
        );
        let lost = revisit(
            50,
            RevisitRef {
                refers_to_capture: Some(12345),
                payload_digest: Some("sha1:ZZZ".into()),
                target: Some(("org,example)/nowhere".into(), None)),
            },
        );
        let ids = rows(vec![
            (key(1), encode_content(Some(0xc1))),
            (key(2), encode_content(Some(0xc2))),
        ]);
        let digests = rows(vec![
            (
                digest_key("sha1:AAA", &key(2)).unwrap(),
                encode_content(None),
            ),
            (
                digest_key("sha1:AAA", &key(3)).unwrap(),
                encode_content(Some(0xc3)),
            ),
        ]);
        let targets = rows(vec![
            (
                target_key("org,example)/page", 40, 7, &[0; 12]),
                encode_content(Some(0xc4)),
            ),
            (
                target_key("org,example)/page", 50, 6, &[0; 12]),
                encode_content(None),
            ),
            (
                target_key("org,example)/page", 50, 8, &[0; 12]),
                encode_content(Some(0xc5)),
            ),
        ]);
        let revisits: Vec<Keyed> = {
            let mut all = vec![lost, by_target, by_digest, late, chained, by_id];
            all.sort_by_key(|p| p.capture_id);
            all.into_iter().map(|p| (key(p.capture_id), p)).collect()
        };
        let (ids, digests, targets) = (collect(ids), collect(digests), collect(targets));
        // The bounded resolution, spilling at every record, gives the same.
        let (bounded, bounded_counts) = bounded(&revisits, &ids, &digests, &targets, 64).unwrap();
        let done = reference::resolve(
            revisits.iter().map(|(_, p)| p.clone()).collect(),
            rows(ids.clone()),
            rows(digests.clone()),
            rows(targets.clone()),
        )
        .unwrap();
        let (done, counts) = done;
        assert_eq!(bounded_counts, counts);
        let order: Vec<u128> = bounded.iter().map(|(_, p)| p.capture_id).collect();
        assert_eq!(order, vec![5, 10, 11, 30, 40, 50], "scan-key order");
        for (_, p) in &bounded {
            let same = done.iter().find(|d| d.capture_id == p.capture_id).unwrap();
            assert_eq!(content_of(p), content_of(same), "revisit {}", p.capture_id);
        }
        let content: HashMap<u128, Option<u128>> =
            done.iter().map(|p| (p.capture_id, content_of(p))).collect();
        assert_eq!(content[&10], Some(0xc1), "by record id");
        assert_eq!(content[&11], Some(0xc1), "chain, same pass");
        assert_eq!(
            content[&30],
            Some(0xc3),
            "by digest: the first known content"
        );
        assert_eq!(content[&5], Some(0xc3), "chain, second pass");
        assert_eq!(content[&40], Some(0xc5), "by target at its time, with text");
        assert_eq!(content[&50], None, "not found");
        assert_eq!(
            counts,
            RevisitCounts {
                resolved: 5,
                unresolved: 1,
                without_text: 1
            }
        );
        let order: Vec<u128> = done.iter().map(|p| p.capture_id).collect();
        assert_eq!(
            order,
            vec![10, 11, 30, 40, 5, 50],
            "passes, then the unresolved"
        );
    }

    #[test]
    fn a_bad_lookup_row_is_an_error_naming_it() {
        let one = revisit(
            1,
            RevisitRef {
                refers_to_capture: Some(2),
                payload_digest: None,
                target: None,
            },
        );
        let ids = rows(vec![(key(2), vec![1, 2, 3])]);
        let ids = collect(ids);
        let err = bounded(&[(key(1), one.clone())], &ids, &[], &[], 1 << 20).unwrap_err();
        assert!(err.contains("3 bytes"), "{err}");
        let err = reference::resolve(vec![one], rows(ids), rows(vec![]), rows(vec![])).unwrap_err();
        assert!(err.contains("3 bytes"), "{err}");
    }

    /// A SURT with a NUL byte, which `provindex_signals::surt` never makes,
    /// in a revisit record (its own or its target) or in a targets row is
    /// refused, naming the record or row: not matched by bytes, nor read
    /// as the shorter SURT before the NUL.
    #[test]
    fn a_surt_with_a_nul_byte_is_refused_naming_its_record() {
        let by_target = |surt: &str| {
            revisit(
                1,
                RevisitRef {
                    refers_to_capture: None,
                    payload_digest: None,
                    target: Some((surt.into(), None)),
                },
            )
        };
        let row = |surt: &str, content: u128| {
            let key = scan_key(7, 2, 9);
            (
                target_key(surt, 100, 7, &key[16..]),
                encode_content(Some(content)),
            )
        };
        let targets = vec![row("org,example)/a", 0xc1)];
        let fine = by_target("org,example)/a");
        let (out, _) = bounded(&[(key(1), fine.clone())], &[], &[], &targets, 1 << 20).unwrap();
        assert_eq!(content_of(&out[0].1), Some(0xc1), "resolved without NULs");

        let mut bad_target = by_target("org,example)/a\0b");
        bad_target.record.location_uri = "in.warc".into();
        bad_target.record.location_offset = 1234;
        let mut bad_own = fine.clone();
        bad_own.record.surt = "org,example)/r\0b".into();
        bad_own.record.location_uri = "in.warc".into();
        bad_own.record.location_offset = 1234;
        let record = "refused: revisit run: the record of capture \
                      00000000000000000000000000000001 (in.warc at offset 1234): ";
        for (bad, what) in [
            (bad_target, r#"its target SURT "org,example)/a\0b""#),
            (bad_own, r#"its SURT "org,example)/r\0b""#),
        ] {
            let err = bounded(&[(key(1), bad)], &[], &[], &targets, 1 << 20).unwrap_err();
            assert!(
                err.starts_with(&format!("{record}{what} holds a NUL byte")),
                "{err}"
            );
        }

        // The row of "org,example)/a\0b" was read as one of "org,example)/a".
        let nul_row = vec![row("org,example)/a\0b", 0xc2)];
        let err = bounded(&[(key(1), fine.clone())], &[], &[], &nul_row, 1 << 20).unwrap_err();
        assert!(
            err.starts_with(
                "refused: targets lookup run: the row of capture \
                 00000000000000000000000000000007 (input 2, record 9): \
                 its SURT \"org,example)/a\\0b\" holds a NUL byte"
            ),
            "{err}"
        );
        // A row cut short is malformed, not refused.
        let short = vec![(targets[0].0[..30].to_vec(), targets[0].1.clone())];
        let err = bounded(&[(key(1), fine)], &[], &[], &short, 1 << 20).unwrap_err();
        assert!(err.starts_with("targets run key of 30 bytes"), "{err}");
    }

    /// A deterministic generator (xorshift64*), so a failure reproduces.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
            items[self.below(items.len() as u64) as usize]
        }
    }

    fn scan_key(id: u128, ordinal: u32, number: u64) -> Vec<u8> {
        crate::tasks::scan_key(id, ordinal, number)
    }

    /// Originals and revisits over a small id, digest and URL space, so
    /// chains (revisits of revisits, in either capture-id order),
    /// duplicated record ids, digests and URLs with several candidate
    /// originals, and originals in other inputs (ordinals) all occur.
    fn corpus(seed: u64) -> Corpus {
        let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        const DIGESTS: &[&str] = &["sha1:A", "sha1:B", "sha1:C", "sha1:D"];
        const SURTS: &[&str] = &["org,ex)/a", "org,ex)/b", "org,ex)/a/b", "org,ey)/"];
        let ids_space = 10 + g.below(50) as u128;
        let (mut ids, mut digests, mut targets) = (Vec::new(), Vec::new(), Vec::new());
        let mut number = 0;
        for _ in 0..g.below(30) {
            let id = 1 + g.next() as u128 % ids_space;
            number += 1;
            let key = scan_key(id, g.below(3) as u32, number);
            let content = encode_content((g.below(4) > 0).then(|| 0xc000 + g.below(8) as u128));
            ids.push((key.clone(), content.clone()));
            if g.below(3) > 0 {
                digests.push((digest_key(g.pick(DIGESTS), &key).unwrap(), content.clone()));
            }
            if g.below(6) > 0 {
                let time = 100 * (1 + g.below(3) as i64);
                targets.push((target_key(g.pick(SURTS), time, id, &key[16..]), content));
            }
        }
        let mut revisits = Vec::new();
        for _ in 0..g.below(40) {
            let id = 1 + g.next() as u128 % ids_space;
            number += 1;
            let key = scan_key(id, g.below(3) as u32, number);
            let reference = RevisitRef {
                refers_to_capture: (g.below(3) > 0).then(|| 1 + g.next() as u128 % ids_space),
                payload_digest: (g.below(2) > 0)
                    .then(|| g.pick(&[DIGESTS, &["sha1:Z"]].concat()).to_string()),
                target: (g.below(3) > 0).then(|| {
                    let time = (g.below(2) > 0).then(|| 100 * (1 + g.below(3) as i64));
                    (g.pick(SURTS).to_string(), time)
                }),
            };
            let mut prepared = revisit(id, reference);
            prepared.record.surt = if g.below(8) > 0 {
                g.pick(SURTS).to_string()
            } else {
                String::new()
            };
            prepared.record.capture_time = 100 * (1 + g.below(3) as i64);
            revisits.push((key, prepared));
        }
        if seed % 3 == 2 {
            // Long chains: each revisit names one generated before it (in
            // random capture-id order, so links point either way: within a
            // pass and across passes), by id or by its URL and time.
            for i in 1..revisits.len() {
                let j = if g.below(4) > 0 {
                    i - 1
                } else {
                    g.below(i as u64) as usize
                };
                let (id, surt, time) = {
                    let p = &revisits[j].1;
                    (p.capture_id, p.record.surt.clone(), p.record.capture_time)
                };
                let reference = revisits[i].1.revisit.as_mut().expect("a revisit");
                reference.payload_digest = None;
                match g.below(3) {
                    0 => {
                        reference.refers_to_capture = None;
                        reference.target = Some((surt, (g.below(3) > 0).then_some(time)));
                    }
                    1 => {
                        reference.refers_to_capture = Some(id);
                        reference.target = Some((surt, Some(time)));
                    }
                    _ => {
                        reference.refers_to_capture = Some(id);
                        reference.target = None;
                    }
                }
            }
        }
        revisits.sort_by(|a, b| a.0.cmp(&b.0));
        ids.sort();
        digests.sort();
        targets.sort();
        (revisits, ids, digests, targets)
    }

    #[test]
    fn bounded_resolution_with_spilled_runs_equals_the_in_memory_one() {
        let (mut chained, mut duplicated, mut resolved) = (0, 0, 0);
        let mut longest = 0;
        for seed in 0..400 {
            let (revisits, ids, digests, targets) = corpus(seed);
            let (expected, expected_counts) = in_memory(&revisits, &ids, &digests, &targets);
            // A budget of a few records spills nearly every push; a large
            // one keeps each sorter in one run.
            let budget = if seed % 2 == 0 { 512 } else { 64 << 20 };
            let (out, counts) = bounded(&revisits, &ids, &digests, &targets, budget)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let out: Vec<Row> = out
                .iter()
                .map(|(key, p)| (key.clone(), crate::scan_record::encode(p)))
                .collect();
            assert_eq!(counts, expected_counts, "seed {seed}: counts");
            assert!(out == expected, "seed {seed}: records differ");
            let revisit_ids: HashSet<u128> = revisits.iter().map(|(_, p)| p.capture_id).collect();
            let original_ids: HashSet<Vec<u8>> =
                ids.iter().map(|(k, _)| k[..16].to_vec()).collect();
            chained += revisits
                .iter()
                .filter_map(|(_, p)| p.revisit.as_ref()?.refers_to_capture)
                .filter(|o| {
                    revisit_ids.contains(o) && !original_ids.contains(o.to_be_bytes().as_slice())
                })
                .count();
            duplicated += revisits.len() - revisit_ids.len();
            // The longest chain by record id among revisits.
            let names: HashMap<u128, u128> = revisits
                .iter()
                .filter_map(|(_, p)| Some((p.capture_id, p.revisit.as_ref()?.refers_to_capture?)))
                .collect();
            for start in names.keys() {
                let (mut at, mut links) = (*start, 0);
                while let Some(next) = names.get(&at)
                    && links < revisits.len()
                {
                    at = *next;
                    links += 1;
                }
                // A cycle is not a chain.
                if links < revisits.len() {
                    longest = longest.max(links);
                }
            }
            resolved += counts.resolved;
        }
        // The generator exercises what it is for.
        assert!(chained > 100, "{chained} chain links");
        assert!(duplicated > 100, "{duplicated} duplicated record ids");
        assert!(resolved > 1000, "{resolved} resolved");
        assert!(longest >= 8, "longest chain {longest}");
    }
}
