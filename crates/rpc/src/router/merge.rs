//! Merging partitions' answers into the answer one server over the whole
//! index gives (pure: no I/O).
//!
//! LookupUrl: every partition scans the same `urls` key space, so their
//! pages are runs of one total order (the `urls` key: SURT, time, capture
//! id). A k-way merge by that key, cut at the smallest position some
//! partition has not read past, is the whole index's page; its token is the
//! last key given, as one server's is — resuming every partition after it
//! resumes each exactly where the merged page stopped.
//!
//! FindWork: each partition ranks its own contents; the router's token
//! records how many of each partition's ranked matches were given.
//!
//! DrawSample: a sample is the n contents of the source with the smallest
//! sampling rank, and every content is one partition's, so the n smallest
//! of the partitions' shares (each its own n smallest) are the whole
//! index's sample, chosen by the rule one server applies
//! (`provindex_policy::sampling::BottomN`), and the source's contents are
//! the sum of the partitions' counts.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use provindex_index::keys;
use provindex_policy::sampling::{self, BottomN};
use provindex_proto::v1::{
    Capture, DrawSampleResponse, FindWorkResponse, LookupUrlResponse, SampleItem, WorkMatch,
};
use tonic::Status;

/// The `urls` key a capture in a LookupUrl answer was found under.
pub(crate) fn capture_url_key(capture: &Capture) -> Result<Vec<u8>, Status> {
    let id = crate::convert::hex_u128(&capture.capture_id).ok_or_else(|| {
        Status::internal(format!(
            "a backend answered a capture with id {:?}, not 32 hex characters",
            capture.capture_id
        ))
    })?;
    Ok(keys::url_key(&capture.surt, capture.capture_time, id))
}

/// Merges partitions' pages of one LookupUrl query (same url, match, times,
/// page size `limit` and page token) into one page.
pub(crate) fn merge_url_pages(
    pages: Vec<LookupUrlResponse>,
    limit: usize,
    reverse: bool,
) -> Result<LookupUrlResponse, Status> {
    // Ascending key order, or descending for newest_first.
    let before = |a: &[u8], b: &[u8]| if reverse { a > b } else { a < b };
    let mut frontier: Option<Vec<u8>> = None;
    let mut hits: Vec<(Vec<u8>, Capture)> = Vec::new();
    for page in pages {
        if !page.next_page_token.is_empty() {
            // This partition may hold more after its token: nothing beyond
            // it can be given yet.
            let key = hex::decode(&page.next_page_token).map_err(|e| {
                Status::internal(format!(
                    "a backend answered a page token that is not hex: {e}"
                ))
            })?;
            if frontier.as_deref().is_none_or(|f| before(&key, f)) {
                frontier = Some(key);
            }
        }
        for capture in page.captures {
            hits.push((capture_url_key(&capture)?, capture));
        }
    }
    hits.sort_by(|a, b| {
        let order = a.0.cmp(&b.0);
        if reverse { order.reverse() } else { order }
    });
    let total = hits.len();
    let mut given: Vec<(Vec<u8>, Capture)> = Vec::with_capacity(limit.min(total));
    let mut held_back = false;
    for hit in hits {
        if given.len() == limit {
            held_back = true;
            break;
        }
        if frontier.as_deref().is_some_and(|f| before(f, &hit.0)) {
            held_back = true;
            break;
        }
        given.push(hit);
    }
    let next = match (given.len() == limit, &frontier) {
        // A full page: resume after its last key when anything may follow.
        (true, _) if held_back || frontier.is_some() => given.last().map(|(key, _)| key.clone()),
        (true, _) => None,
        // A short page with a partition not read to its end (it examined
        // its maximum of keys): resume after that partition's position;
        // everything up to it was given.
        (false, Some(f)) => Some(f.clone()),
        (false, None) => None,
    };
    Ok(LookupUrlResponse {
        captures: given.into_iter().map(|(_, capture)| capture).collect(),
        next_page_token: next.map(hex::encode).unwrap_or_default(),
    })
}

/// The router's FindWork page token: the text's content id and how many of
/// each partition's ranked matches earlier pages gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkToken {
    pub content_id: u128,
    pub offsets: Vec<usize>,
}

const WORK_TOKEN_PREFIX: &str = "fw1";

impl WorkToken {
    pub fn encode(&self) -> String {
        let mut token = format!("{WORK_TOKEN_PREFIX}.{:032x}", self.content_id);
        for offset in &self.offsets {
            token.push_str(&format!(".{offset:x}"));
        }
        token
    }

    /// Parses a token of a router over `partitions` partitions.
    pub fn decode(token: &str, partitions: usize) -> Result<Self, String> {
        let mut parts = token.split('.');
        if parts.next() != Some(WORK_TOKEN_PREFIX) {
            return Err("not a FindWork page token of this router".into());
        }
        let content_id = parts
            .next()
            .filter(|id| id.len() == 32)
            .and_then(crate::convert::hex_u128)
            .ok_or("not a FindWork page token of this router (content id)")?;
        let offsets = parts
            .map(|o| usize::from_str_radix(o, 16).map_err(|_| format!("offset {o:?} is not hex")))
            .collect::<Result<Vec<_>, _>>()?;
        if offsets.len() != partitions {
            return Err(format!(
                "has {} partition offsets; this index has {partitions} partitions",
                offsets.len()
            ));
        }
        Ok(Self {
            content_id,
            offsets,
        })
    }
}

/// The order of FindWork matches: exact first, then by similarity
/// descending, ties by content id (fixed-width lowercase hex sorts as the id).
pub(crate) fn work_order(a: &WorkMatch, b: &WorkMatch) -> Ordering {
    b.exact
        .cmp(&a.exact)
        .then(b.similarity.total_cmp(&a.similarity))
        .then_with(|| content_id_of(a).cmp(content_id_of(b)))
}

fn content_id_of(m: &WorkMatch) -> &str {
    m.content.as_ref().map_or("", |c| c.content_id.as_str())
}

/// Merges partitions' FindWork pages (partition `i` answered from offset
/// `offsets[i]`, at most `max_results` each) into the best `max_results`.
/// Returns the merged answer with the offsets after it.
pub(crate) fn merge_work_pages(
    answers: Vec<FindWorkResponse>,
    offsets: &[usize],
    max_results: usize,
) -> (FindWorkResponse, Vec<usize>) {
    let mut merged = FindWorkResponse::default();
    let mut tagged: Vec<(usize, WorkMatch)> = Vec::new();
    let mut total: u64 = 0;
    let mut candidates: u64 = 0;
    for (partition, answer) in answers.into_iter().enumerate() {
        total += u64::from(answer.total_matches);
        candidates += u64::from(answer.candidates);
        if merged.content_id.is_empty() {
            merged.content_id = answer.content_id;
        }
        if merged.sketch_spec.is_empty() {
            merged.sketch_spec = answer.sketch_spec;
        }
        tagged.extend(answer.matches.into_iter().map(|m| (partition, m)));
    }
    tagged.sort_by(|a, b| work_order(&a.1, &b.1));
    let mut next_offsets = offsets.to_vec();
    for (partition, m) in tagged.into_iter().take(max_results) {
        next_offsets[partition] += 1;
        merged.matches.push(m);
    }
    merged.total_matches = u32::try_from(total).unwrap_or(u32::MAX);
    merged.candidates = u32::try_from(candidates).unwrap_or(u32::MAX);
    (merged, next_offsets)
}

/// Merges partitions' DrawSample shares of one request (`seed`, at most `n`
/// items each) into the whole index's items, ascending by rank, and the
/// source's content count. The caller decides whether that count can give
/// `n` (one server's NOT_FOUND and FAILED_PRECONDITION).
pub(crate) fn merge_sample_shares(
    shares: Vec<DrawSampleResponse>,
    seed: u64,
    n: usize,
) -> Result<(Vec<SampleItem>, u64), Status> {
    let mut selector = BottomN::new(seed, n);
    let mut items = BTreeMap::new();
    let mut source_contents = 0u64;
    for share in shares {
        if share.seed != seed {
            return Err(Status::internal(format!(
                "a backend answered a sample of seed {}, asked for seed {seed}",
                share.seed
            )));
        }
        source_contents += share.source_contents;
        for item in share.items {
            let id = crate::convert::hex_u128(&item.content_id).ok_or_else(|| {
                Status::internal(format!(
                    "a backend answered a sample item with content id {:?}, not 32 hex \
                     characters",
                    item.content_id
                ))
            })?;
            // A rank the backend did not compute as policy::sampling does
            // would merge into no sample at all.
            let rank = sampling::sample_rank(seed, id);
            if item.rank != rank {
                return Err(Status::internal(format!(
                    "a backend ranked content {id:032x} {} under seed {seed}; its rank is {rank}",
                    item.rank
                )));
            }
            if items.insert(id, item).is_some() {
                return Err(Status::internal(format!(
                    "content {id:032x} is in the samples of two partitions"
                )));
            }
            selector.offer(id);
        }
    }
    let merged = selector
        .sample()
        .into_iter()
        .filter_map(|id| items.remove(&id))
        .collect();
    Ok((merged, source_contents))
}

#[cfg(test)]
mod tests {
    use super::*;
    use provindex_proto::v1::Content;

    fn capture(surt: &str, time: i64, id: u128) -> Capture {
        Capture {
            capture_id: format!("{id:032x}"),
            surt: surt.into(),
            capture_time: time,
            ..Default::default()
        }
    }

    fn page(captures: Vec<Capture>, next: Option<&Capture>) -> LookupUrlResponse {
        LookupUrlResponse {
            next_page_token: next
                .map(|c| hex::encode(capture_url_key(c).unwrap()))
                .unwrap_or_default(),
            captures,
        }
    }

    fn ids(response: &LookupUrlResponse) -> Vec<String> {
        response.captures.iter().map(|c| c.surt.clone()).collect()
    }

    #[test]
    fn url_pages_merge_in_key_order_and_resume_after_the_last_key() {
        let a = [capture("com,a)/", 1, 1), capture("com,c)/", 1, 3)];
        let b = [capture("com,b)/", 1, 2), capture("com,d)/", 1, 4)];
        // Page size 2: partition a and b each gave 2 and have no more.
        let merged = merge_url_pages(
            vec![page(a.to_vec(), None), page(b.to_vec(), None)],
            2,
            false,
        )
        .unwrap();
        assert_eq!(ids(&merged), ["com,a)/", "com,b)/"]);
        assert_eq!(
            merged.next_page_token,
            hex::encode(capture_url_key(&b[0]).unwrap())
        );
        // Reverse order.
        let merged = merge_url_pages(
            vec![
                page(vec![a[1].clone(), a[0].clone()], None),
                page(vec![b[1].clone(), b[0].clone()], None),
            ],
            3,
            true,
        )
        .unwrap();
        assert_eq!(ids(&merged), ["com,d)/", "com,c)/", "com,b)/"]);
        assert!(!merged.next_page_token.is_empty());
        // Everything fits: no token.
        let merged = merge_url_pages(vec![page(a.to_vec(), None)], 2, false).unwrap();
        assert_eq!(ids(&merged), ["com,a)/", "com,c)/"]);
        assert!(merged.next_page_token.is_empty());
    }

    #[test]
    fn a_partition_read_only_part_way_holds_back_what_lies_beyond_it() {
        // Partition a stopped (examined its maximum) at com,b: nothing after
        // it may be given, the token resumes there.
        let a_stop = capture("com,b)/", 1, 9);
        let merged = merge_url_pages(
            vec![
                page(vec![capture("com,a)/", 1, 1)], Some(&a_stop)),
                page(vec![capture("com,c)/", 1, 3)], None),
            ],
            10,
            false,
        )
        .unwrap();
        assert_eq!(ids(&merged), ["com,a)/"]);
        assert_eq!(
            merged.next_page_token,
            hex::encode(capture_url_key(&a_stop).unwrap())
        );
    }

    #[test]
    fn work_tokens_round_trip_and_are_checked() {
        let token = WorkToken {
            content_id: 0xabc,
            offsets: vec![0, 17, 3, 0],
        };
        assert_eq!(WorkToken::decode(&token.encode(), 4).unwrap(), token);
        assert!(WorkToken::decode(&token.encode(), 2).is_err());
        assert!(WorkToken::decode("0123", 4).is_err());
        assert!(WorkToken::decode("fw1.zz", 1).is_err());
    }

    fn work(id: u128, similarity: f64, exact: bool) -> WorkMatch {
        WorkMatch {
            content: Some(Content {
                content_id: format!("{id:032x}"),
                ..Default::default()
            }),
            similarity,
            exact,
            ..Default::default()
        }
    }

    fn share(seed: u64, n: usize, contents: &[u128]) -> DrawSampleResponse {
        let mut selector = BottomN::new(seed, n);
        for &id in contents {
            selector.offer(id);
        }
        DrawSampleResponse {
            seed,
            source_contents: contents.len() as u64,
            items: selector
                .sample()
                .into_iter()
                .map(|id| SampleItem {
                    content_id: format!("{id:032x}"),
                    rank: sampling::sample_rank(seed, id),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn sample_shares_merge_into_the_whole_sources_sample() {
        let seed = 42;
        let contents: Vec<u128> = (1..=40u128).map(|i| i * 0x1_0000_0001).collect();
        for n in [1, 5, 17, 40] {
            let mut whole = BottomN::new(seed, n);
            for &id in &contents {
                whole.offer(id);
            }
            // Four uneven partitions: one empty, one with a single content.
            let parts = [
                &contents[..1],
                &contents[1..1],
                &contents[1..30],
                &contents[30..],
            ];
            let shares = parts.iter().map(|p| share(seed, n, p)).collect();
            let (items, count) = merge_sample_shares(shares, seed, n).unwrap();
            let ids: Vec<u128> = items
                .iter()
                .map(|i| crate::convert::hex_u128(&i.content_id).unwrap())
                .collect();
            assert_eq!(ids, whole.sample(), "n = {n}");
            assert_eq!(count, 40);
            assert!(items.windows(2).all(|w| w[0].rank < w[1].rank));
        }
        // A share ranked under another seed, or a content twice: refused.
        let other = share(seed + 1, 3, &contents[..5]);
        assert!(merge_sample_shares(vec![other], seed, 3).is_err());
        let mut forged = share(seed, 3, &contents[..5]);
        forged.items[0].rank ^= 1;
        assert!(merge_sample_shares(vec![forged], seed, 3).is_err());
        let twice = share(seed, 3, &contents[..5]);
        assert!(merge_sample_shares(vec![twice.clone(), twice], seed, 3).is_err());
    }

    #[test]
    fn work_pages_merge_exact_first_then_similarity_then_id() {
        let p0 = FindWorkResponse {
            matches: vec![work(5, 0.9, false), work(1, 0.6, false)],
            total_matches: 3,
            candidates: 4,
            ..Default::default()
        };
        let p1 = FindWorkResponse {
            matches: vec![work(9, 1.0, true), work(2, 0.9, false)],
            total_matches: 2,
            candidates: 1,
            ..Default::default()
        };
        let (merged, offsets) = merge_work_pages(vec![p0, p1], &[0, 0], 3);
        let order: Vec<&str> = merged.matches.iter().map(content_id_of).collect();
        assert_eq!(
            order,
            [
                format!("{:032x}", 9),
                format!("{:032x}", 2),
                format!("{:032x}", 5)
            ]
        );
        assert_eq!(offsets, [1, 2]);
        assert_eq!(merged.total_matches, 5);
        assert_eq!(merged.candidates, 5);
    }
}
