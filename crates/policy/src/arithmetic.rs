//! Report and compensation arithmetic.

/// `part / whole`, 0 when `whole` is 0.
pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A pro-rata slice of `pool`: (share of `whole`, amount). Tokens may be
/// fractional (a content split among rightholders); 0 when `whole` is 0.
pub fn pro_rata(pool: f64, part: f64, whole: u64) -> (f64, f64) {
    let share = if whole == 0 { 0.0 } else { part / whole as f64 };
    (share, pool * share)
}

/// A content's tokens split equally among the distinct rightholders covering
/// it; each gets this many (0 rightholders: 0, the tokens stay unclaimed).
pub fn split_equally(tokens: u64, rightholders: usize) -> f64 {
    if rightholders == 0 {
        0.0
    } else {
        tokens as f64 / rightholders as f64
    }
}

/// Whether a content first seen at `first_seen` counts in a statement for
/// `[from, to]` (either end open when `None`, both ends included).
pub fn in_period(first_seen: i64, from: Option<i64>, to: Option<i64>) -> bool {
    !(from.is_some_and(|f| first_seen < f) || to.is_some_and(|t| first_seen > t))
}

/// How many registered domains the report lists as top domains: the top 10%
/// (rounded up), at least 1.
pub fn top_domain_count(domains: usize) -> usize {
    domains.div_ceil(10).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_amounts_by_hand() {
        assert_eq!(share(1, 4), 0.25);
        assert_eq!(share(3, 0), 0.0);
        // 100 over 1000 tokens: 600 / 300 / 100 → 60 / 30 / 10.
        assert_eq!(pro_rata(100.0, 600.0, 1000), (0.6, 60.0));
        assert_eq!(pro_rata(100.0, 300.0, 1000), (0.3, 30.0));
        assert_eq!(pro_rata(100.0, 100.0, 1000), (0.1, 10.0));
        assert_eq!(pro_rata(100.0, 5.0, 0), (0.0, 0.0));
    }

    #[test]
    fn equal_split_among_rightholders_by_hand() {
        // 300 tokens, 2 rightholders: 150 each; with a 200-token content of
        // one of them and a 500-token unclaimed content, pool 100 over 1000:
        // A = 150 + 200 = 350 → 35, B = 150 → 15, unclaimed 500 → 50.
        let each = split_equally(300, 2);
        assert_eq!(each, 150.0);
        let a = each + 200.0;
        assert_eq!(pro_rata(100.0, a, 1000).1, 35.0);
        assert_eq!(pro_rata(100.0, each, 1000).1, 15.0);
        assert_eq!(pro_rata(100.0, 500.0, 1000).1, 50.0);
        assert_eq!(split_equally(10, 3), 10.0 / 3.0);
        assert_eq!(split_equally(10, 0), 0.0);
    }

    #[test]
    fn periods_include_both_ends() {
        assert!(in_period(5, None, None));
        assert!(in_period(5, Some(5), Some(5)));
        assert!(!in_period(4, Some(5), None));
        assert!(!in_period(6, None, Some(5)));
    }

    #[test]
    fn top_domains_are_the_top_tenth_rounded_up() {
        assert_eq!(top_domain_count(0), 1);
        assert_eq!(top_domain_count(1), 1);
        assert_eq!(top_domain_count(10), 1);
        assert_eq!(top_domain_count(11), 2);
        assert_eq!(top_domain_count(25), 3);
    }
}
