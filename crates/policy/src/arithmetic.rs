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

/// The AI Act template's SME variant of the top-domain list (Commission
/// template, July 2025, §2.3): the top 5% of domain names or 1,000 of them,
/// whichever is lower (5% rounded up, at least 1).
pub fn sme_top_domain_count(domains: usize) -> usize {
    domains.div_ceil(20).clamp(1, 1000)
}

/// The AI Act template's size band for text training data, in tokens
/// (Commission template, July 2025, §1.2).
pub fn text_size_band(tokens: u64) -> &'static str {
    const BILLION: u64 = 1_000_000_000;
    const TEN_TRILLION: u64 = 10_000_000_000_000;
    if tokens < BILLION {
        "less than 1 billion tokens"
    } else if tokens <= TEN_TRILLION {
        "1 billion to 10 trillion tokens"
    } else {
        "more than 10 trillion tokens"
    }
}

/// `pool` integer minor units split over `weights` by the largest-remainder
/// (Hamilton) method: each row gets ⌊pool · w / Σw⌋, and the units left over
/// go one each to the rows with the largest remainders (ties: the earlier
/// row). The rows sum to `pool` exactly; all zero when every weight is 0.
pub fn largest_remainder(pool: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let mut amounts = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (row, &weight) in weights.iter().enumerate() {
        let exact = u128::from(pool) * u128::from(weight);
        // ⌊pool · w / Σw⌋ ≤ pool: fits in u64.
        amounts.push((exact / total) as u64);
        remainders.push((exact % total, row));
    }
    let given: u64 = amounts.iter().sum();
    let left = pool - given;
    // Largest remainder first, then the earlier row.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, row) in remainders.iter().take(left as usize) {
        amounts[row] += 1;
    }
    amounts
}

#[cfg(test)]
mod tests {
    #[test]
    fn ai_act_bands_and_sme_top_domains() {
        assert_eq!(super::sme_top_domain_count(1), 1);
        assert_eq!(super::sme_top_domain_count(20), 1);
        assert_eq!(super::sme_top_domain_count(21), 2);
        assert_eq!(super::sme_top_domain_count(1_000_000), 1000);
        assert_eq!(
            super::text_size_band(999_999_999),
            "less than 1 billion tokens"
        );
        assert_eq!(
            super::text_size_band(1_000_000_000),
            "1 billion to 10 trillion tokens"
        );
        assert_eq!(
            super::text_size_band(10_000_000_000_001),
            "more than 10 trillion tokens"
        );
    }

    use super::*;

    #[test]
    fn largest_remainder_sums_to_the_pool_by_hand() {
        // 100 over 1:1:1 → 33.33 each; one unit left, to the first row.
        assert_eq!(largest_remainder(100, &[1, 1, 1]), [34, 33, 33]);
        // 10 over 5:3:2 exactly.
        assert_eq!(largest_remainder(10, &[5, 3, 2]), [5, 3, 2]);
        // 7 over 1:2:4 → 1, 2, 4 exactly; 8 → 1.14, 2.29, 4.57: one left to
        // the largest remainder (.57).
        assert_eq!(largest_remainder(8, &[1, 2, 4]), [1, 2, 5]);
        assert_eq!(largest_remainder(5, &[0, 0]), [0, 0]);
        assert_eq!(largest_remainder(0, &[3, 4]), [0, 0]);
        assert_eq!(largest_remainder(9, &[]), Vec::<u64>::new());
        // Large values do not overflow.
        let rows = largest_remainder(u64::MAX, &[u64::MAX, u64::MAX, 1]);
        assert_eq!(
            rows.iter().map(|&r| u128::from(r)).sum::<u128>(),
            u128::from(u64::MAX)
        );
    }

    proptest::proptest! {
        #[test]
        fn largest_remainder_always_sums_and_stays_within_one_unit(
            pool in 0u64..1_000_000_000,
            weights in proptest::collection::vec(0u64..1_000_000, 0..20),
        ) {
            let rows = largest_remainder(pool, &weights);
            let total: u64 = weights.iter().sum();
            proptest::prop_assert_eq!(rows.len(), weights.len());
            if total > 0 {
                proptest::prop_assert_eq!(rows.iter().sum::<u64>(), pool);
                for (row, weight) in rows.iter().zip(&weights) {
                    let exact = pool as f64 * *weight as f64 / total as f64;
                    proptest::prop_assert!((*row as f64 - exact).abs() < 1.0 + 1e-6);
                }
            }
        }
    }

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
