//! The keeper rule: of a near-duplicate cluster only one member counts as a
//! training sample (in the export, the report's token totals and the
//! compensation statement) — the member with the earliest first capture
//! time, ties by the smallest content id. Independent of worker count,
//! partitioning, task order and retries.

/// Whether member `a` (first capture time, content id) is a better keeper
/// than member `b`.
pub fn precedes(a: (i64, u128), b: (i64, u128)) -> bool {
    a < b
}

/// The keeper of a cluster given its members as (first capture time,
/// content id); `None` for an empty cluster.
pub fn keeper_of(members: impl IntoIterator<Item = (i64, u128)>) -> Option<u128> {
    members
        .into_iter()
        .reduce(|best, m| if precedes(m, best) { m } else { best })
        .map(|(_, id)| id)
}

/// Whether a content counts: it is its cluster's keeper (`cluster_keeper`
/// as stored by the build; a content outside any cluster is its own keeper).
pub fn is_keeper(content_id: u128, cluster_keeper: u128) -> bool {
    content_id == cluster_keeper
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_capture_wins_then_the_smallest_id() {
        assert_eq!(keeper_of([(300, 1), (100, 9), (200, 2)]), Some(9));
        assert_eq!(keeper_of([(100, 7), (100, 3), (100, 5)]), Some(3));
        assert_eq!(keeper_of([(100, 7)]), Some(7));
        assert_eq!(keeper_of([]), None);
        assert!(precedes((99, 50), (100, 1)));
        assert!(precedes((100, 1), (100, 2)));
        assert!(!precedes((100, 2), (100, 2)));
        assert!(is_keeper(3, 3) && !is_keeper(5, 3));
    }
}
