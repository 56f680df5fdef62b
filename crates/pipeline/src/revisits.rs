//! The revisits stage: finds each revisit record's original — by
//! WARC-Refers-To record id, else payload digest, else target URL and date —
//! by streaming the scan tasks' sorted lookup runs once each, so no task holds
//! a map of every capture (only the revisits themselves and what they ask
//! for). The rules are those of a one-pass build that reads its own captures
//! back: revisits are taken in capture-id order, in passes, and a revisit
//! resolved earlier is an original for later ones, so chains resolve whatever
//! the input order was.
//!
//! Lookup runs written by the scan (every capture that is not a revisit;
//! `key` = capture_id ‖ input ordinal ‖ record number, the capture runs' key):
//! - `ids`: key → content_id (16 bytes, or empty: no text);
//! - `digests`: payload digest ‖ 0x00 ‖ key → content;
//! - `targets`: the capture's `urls` row key (SURT ‖ 0x00 ‖ time ‖
//!   capture_id) ‖ ordinal ‖ record number → content.

use std::collections::{BTreeMap, HashMap, HashSet};

use provindex_index::keys;

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

/// The `digests` run key of a capture.
pub fn digest_key(digest: &str, capture_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(digest.len() + 1 + capture_key.len());
    key.extend_from_slice(digest.as_bytes());
    key.push(0);
    key.extend_from_slice(capture_key);
    key
}

fn url_prefix(surt: &str, time: Option<i64>) -> Vec<u8> {
    let mut prefix = surt.as_bytes().to_vec();
    prefix.push(keys::SURT_TERMINATOR);
    if let Some(time) = time {
        prefix.extend_from_slice(&keys::encode_time(time));
    }
    prefix
}

/// A sorted lookup run's rows (merged over every scan task).
pub type Rows<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), String>> + 'a>;

/// What the stage found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevisitCounts {
    pub resolved: u64,
    pub unresolved: u64,
    /// Revisits left without text: their original has none, or was not found.
    pub without_text: u64,
}

/// Resolves `revisits` (any order) against the lookup runs. Returns them in
/// the order a one-pass build adds them, each with its original's content id
/// in its record (empty when it has none or was not found), and the counts.
pub fn resolve(
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
    if originals.ids.contains_key(&revisit.capture_id) || added.contains_key(&revisit.capture_id) {
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
    targets: HashMap<Vec<u8>, Vec<(Vec<u8>, Option<u128>)>>,
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

#[cfg(test)]
mod tests {
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

    fn rows(rows: Vec<(Vec<u8>, Vec<u8>)>) -> Rows<'static> {
        Box::new(rows.into_iter().map(Ok))
    }

    fn key(id: u128) -> Vec<u8> {
        let mut key = id.to_be_bytes().to_vec();
        key.extend_from_slice(&[0; 12]);
        key
    }

    fn content_of(p: &PreparedCapture) -> Option<u128> {
        p.record.content_id()
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
            (digest_key("sha1:AAA", &key(2)), encode_content(None)),
            (digest_key("sha1:AAA", &key(3)), encode_content(Some(0xc3))),
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
        let (done, counts) = resolve(
            vec![lost, by_target, by_digest, late, chained, by_id],
            ids,
            digests,
            targets,
        )
        .unwrap();
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
        let err = resolve(vec![one], ids, rows(vec![]), rows(vec![])).unwrap_err();
        assert!(err.contains("3 bytes"), "{err}");
    }
}
