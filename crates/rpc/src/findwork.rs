//! `FindWork`: the exact match of a work's normalized text plus its
//! near-duplicates, found by probing the index's `lsh` buckets with the text's
//! band keys and ranked by estimated Jaccard over the `signatures` table.

use std::collections::BTreeSet;

use provindex_index::{IndexReader, Manifest};
use provindex_proto::v1::{FindWorkRequest, FindWorkResponse, WorkMatch};
use provindex_sketch::{MinHasher, NormalizationVersion, Signature, SketchSpec, jaccard_estimate};

use crate::{ApiError, convert};

/// Largest text FindWork accepts (bytes of UTF-8 before normalization).
pub const MAX_WORK_TEXT_BYTES: usize = 4 << 20;
/// Minimum similarity when the request leaves it unset.
pub const DEFAULT_MIN_SIMILARITY: f64 = 0.5;
/// Matches per page when the request leaves it 0, and the largest allowed.
pub const DEFAULT_MAX_RESULTS: u32 = 20;
pub const MAX_MAX_RESULTS: u32 = 100;
/// Captures listed per match when the request leaves it 0, and the largest allowed.
pub const DEFAULT_CAPTURES_PER_MATCH: u32 = 100;
pub const MAX_CAPTURES_PER_MATCH: u32 = 1000;
/// Contents read from one LSH bucket: a bucket holding more (boilerplate
/// shared by a huge number of pages) contributes only its first ones.
pub const MAX_BUCKET_READ: usize = 10_000;
/// Distinct candidates whose signatures are compared, over all bands.
pub const MAX_CANDIDATES: usize = 50_000;

/// The near-duplicate search parameters of one index: its sketch spec (from
/// the manifest, so a query uses the parameters the index was built with).
pub struct WorkSearch {
    hasher: Result<MinHasher, String>,
    spec_text: String,
}

impl WorkSearch {
    /// Parses the manifest's sketch spec. An index without one (or with one
    /// this build cannot compute) still answers exact matches; near-duplicate
    /// search then fails with FAILED_PRECONDITION.
    pub fn for_index(index: &IndexReader) -> Self {
        let spec_text = index.manifest().sketch_spec.clone();
        let hasher = if spec_text.is_empty() {
            Err("the index was built without MinHash signatures; rebuild it for near-duplicate search".to_owned())
        } else {
            spec_text
                .parse::<SketchSpec>()
                .map_err(|e| e.to_string())
                .and_then(|spec| MinHasher::new(&spec).map_err(|e| e.to_string()))
        };
        if let Err(reason) = &hasher {
            tracing::warn!(%reason, "FindWork answers exact matches only");
        }
        Self { hasher, spec_text }
    }
}

/// The normalization queries against an index use: the version its manifest
/// records (a version 1 index keeps answering with version 1, a version 2
/// index with version 2). A version this build does not implement is refused
/// with a message naming both.
pub(crate) fn index_normalization(manifest: &Manifest) -> Result<NormalizationVersion, String> {
    let n = manifest.normalization_version;
    NormalizationVersion::from_number(n).ok_or_else(|| {
        let known: Vec<String> = NormalizationVersion::ALL
            .iter()
            .map(|v| format!("v{v}"))
            .collect();
        format!(
            "the index uses normalization v{n}; this server implements {}",
            known.join(" and ")
        )
    })
}

/// Query text normalized the way the index's contents were
/// ([`index_normalization`]), with the version used.
pub(crate) fn normalize_query(
    manifest: &Manifest,
    text: &str,
) -> Result<(NormalizationVersion, String), String> {
    let version = index_normalization(manifest)?;
    Ok((version, provindex_sketch::normalize_with(version, text)))
}

/// The sketch spec work texts are signed with for this index: the
/// manifest's, else the default parameters with the index's normalization
/// version (an unknown version is refused where text is normalized).
pub(crate) fn index_sketch_spec(manifest: &Manifest) -> SketchSpec {
    manifest
        .sketch_spec
        .parse::<SketchSpec>()
        .ok()
        .filter(|spec| MinHasher::new(spec).is_ok())
        .unwrap_or_else(|| {
            SketchSpec::default()
                .with_normalization(index_normalization(manifest).unwrap_or_default())
        })
}

fn bounded(field: &'static str, value: u32, default: u32, max: u32) -> Result<usize, ApiError> {
    match value {
        0 => Ok(default as usize),
        n if n <= max => Ok(n as usize),
        n => Err(ApiError::invalid(
            field,
            format!("{n} is larger than the maximum {max}"),
        )),
    }
}

/// Page token: the query text's content_id and the offset of the next match.
fn page_token(content_id: u128, offset: usize) -> String {
    format!("{content_id:032x}{offset:016x}")
}

fn parse_page_token(token: &str, content_id: u128) -> Result<usize, ApiError> {
    if token.is_empty() {
        return Ok(0);
    }
    let parsed = (token.len() == 48)
        .then(|| {
            let id = crate::convert::hex_u128(token.get(..32)?)?;
            let offset = token
                .get(32..)
                .filter(|o| o.bytes().all(|b| b.is_ascii_hexdigit()))?;
            let offset = u64::from_str_radix(offset, 16).ok()?;
            Some((id, offset))
        })
        .flatten();
    match parsed {
        Some((id, offset)) if id == content_id => usize::try_from(offset)
            .map_err(|_| ApiError::invalid("page_token", "offset out of range")),
        Some(_) => Err(ApiError::invalid(
            "page_token",
            "does not belong to this query (the text must not change between pages)",
        )),
        None => Err(ApiError::invalid("page_token", "not a FindWork page token")),
    }
}

pub fn find_work(
    index: &IndexReader,
    search: &WorkSearch,
    request: &FindWorkRequest,
) -> Result<FindWorkResponse, ApiError> {
    if request.text.len() > MAX_WORK_TEXT_BYTES {
        return Err(ApiError::invalid(
            "text",
            format!(
                "is {} bytes, larger than the maximum {MAX_WORK_TEXT_BYTES}",
                request.text.len()
            ),
        ));
    }
    let min_similarity = request.min_similarity.unwrap_or(DEFAULT_MIN_SIMILARITY);
    if !(min_similarity > 0.0 && min_similarity <= 1.0) {
        return Err(ApiError::invalid(
            "min_similarity",
            format!("{min_similarity} is not in (0, 1]"),
        ));
    }
    let max_results = bounded(
        "max_results",
        request.max_results,
        DEFAULT_MAX_RESULTS,
        MAX_MAX_RESULTS,
    )?;
    let captures_per_match = bounded(
        "captures_per_match",
        request.captures_per_match,
        DEFAULT_CAPTURES_PER_MATCH,
        MAX_CAPTURES_PER_MATCH,
    )?;
    let (_, normalized) =
        normalize_query(index.manifest(), &request.text).map_err(ApiError::FailedPrecondition)?;
    if normalized.is_empty() {
        return Err(ApiError::invalid("text", "is empty after normalization"));
    }
    let content_id = provindex_sketch::content_id(&normalized).0;
    let offset = parse_page_token(&request.page_token, content_id)?;

    // (similarity, exact, content_id), best first.
    let mut ranked: Vec<(f64, bool, u128)> = Vec::new();
    if index.content(content_id)?.is_some() {
        ranked.push((1.0, true, content_id));
    }
    let mut candidates = BTreeSet::new();
    let hasher = match &search.hasher {
        Ok(hasher) => Some(hasher),
        // Without sketches only the exact match can be answered.
        Err(_) if !ranked.is_empty() => None,
        Err(reason) => return Err(ApiError::FailedPrecondition(reason.clone())),
    };
    if let Some((hasher, signature)) = hasher.and_then(|h| h.signature(&normalized).map(|s| (h, s)))
    {
        for (band, key) in hasher.band_keys(&signature).into_iter().enumerate() {
            let band = u16::try_from(band).unwrap_or(u16::MAX);
            let (ids, _more) = index.lsh_bucket(band, key, MAX_BUCKET_READ)?;
            for id in ids {
                if candidates.len() >= MAX_CANDIDATES {
                    break;
                }
                candidates.insert(id);
            }
        }
        candidates.remove(&content_id);
        let num_perm = hasher.spec().num_perm as usize;
        for &candidate in &candidates {
            let Some(values) = index.signature(candidate)? else {
                continue;
            };
            if values.len() != num_perm {
                return Err(provindex_index::IndexError::Corrupt {
                    cf: provindex_index::schema::SIGNATURES,
                    reason: format!(
                        "signature of {candidate:032x} has {} values, the sketch spec {num_perm}",
                        values.len()
                    ),
                }
                .into());
            }
            let stored = Signature(values);
            let similarity = jaccard_estimate(&signature, &stored);
            if similarity >= min_similarity {
                ranked.push((similarity, false, candidate));
            }
        }
    }
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.total_cmp(&a.0)).then(a.2.cmp(&b.2)));

    let total = ranked.len();
    let mut matches = Vec::new();
    for &(similarity, exact, id) in ranked.iter().skip(offset).take(max_results) {
        let Some(record) = index.content(id)? else {
            continue;
        };
        let capture_count = record.capture_count;
        let (captures, more) = index.content_captures(id, None, captures_per_match)?;
        let captures_page_token = match (more, captures.last()) {
            (true, Some((last, _))) => format!("{last:032x}"),
            _ => String::new(),
        };
        let captures = convert::content_captures(captures);
        matches.push(WorkMatch {
            content: Some(convert::content(id, record)),
            similarity,
            exact,
            captures,
            capture_count,
            captures_page_token,
        });
    }
    let next = offset.saturating_add(max_results);
    Ok(FindWorkResponse {
        matches,
        next_page_token: if next < total {
            page_token(content_id, next)
        } else {
            String::new()
        },
        content_id: format!("{content_id:032x}"),
        candidates: u32::try_from(candidates.len()).unwrap_or(u32::MAX),
        total_matches: u32::try_from(total).unwrap_or(u32::MAX),
        sketch_spec: search.spec_text.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_are_tied_to_the_query() {
        let token = page_token(7, 40);
        assert_eq!(parse_page_token(&token, 7).expect("token"), 40);
        assert!(parse_page_token(&token, 8).is_err());
        assert!(parse_page_token("zz", 7).is_err());
        assert!(parse_page_token(&"g".repeat(48), 7).is_err());
        assert_eq!(parse_page_token("", 7).expect("first page"), 0);
    }

    fn manifest(version: u32, spec: &str) -> Manifest {
        Manifest {
            format_version: provindex_index::FORMAT_VERSION,
            normalization_version: version,
            crawls: Vec::new(),
            inputs: Vec::new(),
            built_at: 0,
            captures: 0,
            contents: 0,
            urls: 0,
            read_errors: 0,
            duplicate_captures: 0,
            digest: String::new(),
            sketch_spec: spec.to_owned(),
            ..Manifest::empty()
        }
    }

    #[test]
    fn queries_normalize_with_the_index_manifest_version() {
        let text = "中文文本，用Rust写的。";
        // A version 1 index (built before issue 16): the clause is one word.
        let v1 = manifest(1, "norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1");
        let (version, normalized) = normalize_query(&v1, text).expect("v1");
        assert_eq!(version, NormalizationVersion::V1);
        assert_eq!(normalized, provindex_sketch::normalize(text));
        assert_eq!(normalized, "中文文本 用rust写的");
        assert_eq!(
            index_sketch_spec(&v1).normalization_version,
            NormalizationVersion::V1
        );
        // A manifest without a spec still signs work texts with its version.
        assert_eq!(
            index_sketch_spec(&manifest(1, "")).normalization_version,
            NormalizationVersion::V1
        );
        // A version 2 index: one token per Han character.
        let v2 = manifest(2, &SketchSpec::latest().to_string());
        let (version, normalized) = normalize_query(&v2, text).expect("v2");
        assert_eq!(version, NormalizationVersion::V2);
        assert_eq!(normalized, "中 文 文 本 用 rust 写 的");
        assert_eq!(
            index_sketch_spec(&v2).normalization_version,
            NormalizationVersion::V2
        );
        // Unknown: refused, naming the index's version and the ones served.
        let error = normalize_query(&manifest(3, ""), text).expect_err("v3");
        assert_eq!(
            error,
            "the index uses normalization v3; this server implements v1 and v2"
        );
    }
}
