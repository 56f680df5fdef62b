//! Resolving revisit records to the captures they repeat.

use std::collections::HashMap;

use crate::{DocKind, SourceDoc};

/// How a revisit was matched to its original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedBy {
    /// WARC-Refers-To = the original's WARC-Record-ID.
    RecordId,
    /// WARC-Refers-To-Target-URI + WARC-Refers-To-Date = the original's URI and date.
    TargetUriDate,
    /// Same WARC-Payload-Digest (identical-payload-digest profile).
    PayloadDigest,
}

/// Remembers originals (response/resource captures) and resolves later
/// revisits to them, by record id, by target URI + date, or by payload
/// digest, in that order. `T` is whatever identity the caller needs for the
/// original's content (e.g. its record id, or a content hash); only that is
/// stored, never the text. Originals must come from the same or an earlier
/// input; the first original wins for a digest or URI+date.
#[derive(Debug, Clone)]
pub struct RevisitResolver<T> {
    by_id: HashMap<String, T>,
    by_uri_date: HashMap<(String, i64), T>,
    by_digest: HashMap<String, T>,
}

impl<T> Default for RevisitResolver<T> {
    fn default() -> Self {
        RevisitResolver {
            by_id: HashMap::new(),
            by_uri_date: HashMap::new(),
            by_digest: HashMap::new(),
        }
    }
}

impl<T: Clone> RevisitResolver<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of originals remembered.
    pub fn len(&self) -> usize {
        self.by_id.len().max(self.by_digest.len())
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.by_digest.is_empty() && self.by_uri_date.is_empty()
    }

    /// Remembers an original capture (response or resource); other kinds are
    /// ignored (returns false).
    pub fn add_original(&mut self, doc: &SourceDoc, identity: T) -> bool {
        if !matches!(doc.kind, DocKind::Response | DocKind::Resource) {
            return false;
        }
        if let Some(id) = &doc.record_id {
            self.by_id
                .entry(id.clone())
                .or_insert_with(|| identity.clone());
        }
        if let (Some(u), Some(t)) = (&doc.url, doc.date_unix) {
            self.by_uri_date
                .entry((u.clone(), t))
                .or_insert_with(|| identity.clone());
        }
        if let Some(d) = &doc.payload_digest {
            self.by_digest
                .entry(normalize_digest(d))
                .or_insert(identity);
        }
        true
    }

    /// The original a revisit refers to, if it was seen.
    pub fn resolve(&self, revisit: &SourceDoc) -> Option<(T, ResolvedBy)> {
        if let Some(r) = &revisit.refers_to
            && let Some(t) = self.by_id.get(r.trim())
        {
            return Some((t.clone(), ResolvedBy::RecordId));
        }
        if let (Some(u), Some(d)) = (&revisit.refers_to_target_uri, &revisit.refers_to_date)
            && let Ok(t) = crate::date::parse_warc_date(d)
            && let Some(x) = self.by_uri_date.get(&(u.clone(), t))
        {
            return Some((x.clone(), ResolvedBy::TargetUriDate));
        }
        if let Some(d) = &revisit.payload_digest
            && let Some(x) = self.by_digest.get(&normalize_digest(d))
        {
            return Some((x.clone(), ResolvedBy::PayloadDigest));
        }
        None
    }

    /// Convenience for a stream: remembers originals (identity from `id`) and
    /// resolves revisits. Returns the resolution for revisits, None otherwise.
    pub fn observe(
        &mut self,
        doc: &SourceDoc,
        id: impl FnOnce(&SourceDoc) -> T,
    ) -> Option<(T, ResolvedBy)> {
        match doc.kind {
            DocKind::Revisit => self.resolve(doc),
            _ => {
                if matches!(doc.kind, DocKind::Response | DocKind::Resource) {
                    let t = id(doc);
                    self.add_original(doc, t);
                }
                None
            }
        }
    }
}

/// `sha1:ABC` / `SHA1:abc` → `sha1:ABC` (algorithm lowercased, base32 value uppercased).
fn normalize_digest(d: &str) -> String {
    match d.trim().split_once(':') {
        Some((alg, val)) => format!(
            "{}:{}",
            alg.to_ascii_lowercase(),
            val.trim().to_ascii_uppercase()
        ),
        None => d.trim().to_ascii_uppercase(),
    }
}
