//! In-place updates of captures already added to an index being built: the
//! site-signal pass (robots.txt, tdmrep.json, ai.txt found in the crawl) walks
//! a host's captures through the `urls` table and rewrites their records
//! before [`IndexBuilder::finish`], so the digest covers the result.
//!
//! Only the `captures` value changes: the SURT key and capture time (the
//! `urls` key) and the content link stay as they were.

use prost::Message;
use rocksdb::WriteBatch;

use super::{BATCH_BYTES, IndexBuilder, unlogged};
use crate::IndexError;
use crate::keys;
use crate::records::{self, CaptureRecord};
use crate::schema::{CAPTURES, URLS};

/// What [`IndexBuilder::update_captures_by_surt_prefix`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureUpdates {
    /// Captures whose SURT key starts with the prefix.
    pub visited: u64,
    /// Captures whose record was rewritten.
    pub rewritten: u64,
}

impl IndexBuilder {
    /// Calls `update` on every capture whose SURT key starts with
    /// `surt_prefix` (in `urls` key order: SURT, then capture time), with its
    /// capture id, time and record; when it returns `true` the (changed)
    /// record is written back. Everything added before is visible (pending
    /// writes are flushed first). A host's captures are `com,example)` — the
    /// SURT up to and including `)`, which covers every path and no other
    /// host or port.
    pub fn update_captures_by_surt_prefix(
        &mut self,
        surt_prefix: &str,
        mut update: impl FnMut(u128, &mut CaptureRecord) -> bool,
    ) -> Result<CaptureUpdates, IndexError> {
        self.flush()?;
        let mut counts = CaptureUpdates::default();
        let db = &self.db;
        let rocks = |source| IndexError::Rocks {
            path: self.path.clone(),
            source,
        };
        let captures_cf = self.cf(CAPTURES);
        let prefix = surt_prefix.as_bytes();
        let mut batch = WriteBatch::default();
        let mut iter = db.raw_iterator_cf(self.cf(URLS));
        iter.seek(prefix);
        while iter.valid() {
            let Some(key) = iter.key() else { break };
            if !key.starts_with(prefix) {
                break;
            }
            let url_key = keys::decode_url_key(key).ok_or_else(|| IndexError::Corrupt {
                cf: URLS,
                reason: format!("undecodable key of {} bytes", key.len()),
            })?;
            let capture_id = url_key.capture_id;
            let bytes = db
                .get_pinned_cf(captures_cf, keys::id_key(capture_id))
                .map_err(rocks)?
                .ok_or_else(|| IndexError::Corrupt {
                    cf: CAPTURES,
                    reason: format!("capture {capture_id:032x} is in urls but has no record"),
                })?;
            let mut record: CaptureRecord = records::decode(CAPTURES, &bytes)?;
            counts.visited += 1;
            if update(capture_id, &mut record) {
                batch.put_cf(
                    captures_cf,
                    keys::id_key(capture_id),
                    record.encode_to_vec(),
                );
                counts.rewritten += 1;
                if batch.size_in_bytes() >= BATCH_BYTES {
                    db.write_opt(std::mem::take(&mut batch), &unlogged())
                        .map_err(rocks)?;
                }
            }
            iter.next();
        }
        iter.status().map_err(rocks)?;
        db.write_opt(batch, &unlogged()).map_err(rocks)?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(url: &str, surt: &str, time: i64) -> CaptureRecord {
        CaptureRecord {
            url: url.into(),
            surt: surt.into(),
            capture_time: time,
            ..Default::default()
        }
    }

    #[test]
    fn rewrites_only_the_captures_of_the_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut builder = IndexBuilder::create(&dir.path().join("i")).expect("create");
        let rows = [
            (1u128, "http://a.com/", "com,a)/", 10),
            (2, "http://a.com/x", "com,a)/x", 5),
            (3, "http://a.com:8080/", "com,a:8080)/", 1),
            (4, "http://ab.com/", "com,ab)/", 1),
        ];
        for (id, url, surt, time) in rows {
            builder
                .add_capture(id, &record(url, surt, time), None)
                .expect("add");
        }
        let mut seen = Vec::new();
        let counts = builder
            .update_captures_by_surt_prefix("com,a)", |id, rec| {
                seen.push(id);
                rec.optout_verdict = "reserved".into();
                id == 2
            })
            .expect("update");
        assert_eq!(seen, vec![1, 2]);
        assert_eq!(
            counts,
            CaptureUpdates {
                visited: 2,
                rewritten: 1
            }
        );
        let verdicts: Vec<String> = (1..=4)
            .map(|id| {
                let bytes = builder
                    .db
                    .get_cf(builder.cf(CAPTURES), keys::id_key(id))
                    .expect("get")
                    .expect("record");
                records::decode::<CaptureRecord>(CAPTURES, &bytes)
                    .expect("decode")
                    .optout_verdict
            })
            .collect();
        assert_eq!(verdicts, vec!["", "reserved", "", ""]);
    }
}
