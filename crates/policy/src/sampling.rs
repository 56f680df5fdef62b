//! Audit samples (issue 19): reproducible random samples of contents per
//! source, and the arithmetic of judging a source from its sample.
//!
//! A sample of size n with seed s is *the n contents of the source with the
//! smallest [`sample_rank`]`(s, id)`* (ties, which need a 64-bit collision,
//! by the smaller id). It depends only on the seed and the set of contents:
//! not on the build's worker count, partitioning or iteration order, and
//! [`BottomN`] selects it in one pass with O(n) memory — each worker keeps
//! one per source and the partial selectors [`BottomN::merge`].
//!
//! The rank is SHA-256 rather than a fast non-cryptographic hash (xxh3):
//! its definition is frozen by a standard, not a crate version, and nobody
//! who can shape content ids (they are content hashes) can steer a content
//! out of a sample for a seed they do not know yet. At ~200 ns per content it
//! is not the cost of a build.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

/// Domain separation: the rank is not any other SHA-256 in provindex.
const RANK_DOMAIN: &[u8] = b"provindex-audit-sample-v1\0";

/// The sampling rank of a content under `seed`: the first 8 bytes (big
/// endian) of SHA-256(`"provindex-audit-sample-v1\0"` ‖ seed as 8 bytes
/// big endian ‖ content id as 16 bytes big endian).
pub fn sample_rank(seed: u64, content_id: u128) -> u64 {
    let mut h = Sha256::new();
    h.update(RANK_DOMAIN);
    h.update(seed.to_be_bytes());
    h.update(content_id.to_be_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first)
}

/// The `n` contents with the smallest ranks among those offered: O(n)
/// memory, O(log n) per offer (O(1) for the common rejection once full).
/// Offering a content twice does not count it twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BottomN {
    seed: u64,
    n: usize,
    kept: BTreeSet<(u64, u128)>,
}

impl BottomN {
    pub fn new(seed: u64, n: usize) -> Self {
        BottomN {
            seed,
            n,
            kept: BTreeSet::new(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The sample size asked for.
    pub fn capacity(&self) -> usize {
        self.n
    }

    /// How many contents are kept (fewer than the capacity while the source
    /// has fewer contents).
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Offers a content; whether it is in the sample so far.
    pub fn offer(&mut self, content_id: u128) -> bool {
        self.offer_ranked(sample_rank(self.seed, content_id), content_id)
    }

    fn offer_ranked(&mut self, rank: u64, content_id: u128) -> bool {
        if self.n == 0 {
            return false;
        }
        let entry = (rank, content_id);
        if self.kept.len() == self.n {
            match self.kept.last() {
                Some(&worst) if entry < worst => {
                    if !self.kept.insert(entry) {
                        return true;
                    }
                    self.kept.pop_last();
                    true
                }
                Some(&worst) => entry == worst,
                None => false,
            }
        } else {
            self.kept.insert(entry);
            true
        }
    }

    /// Adds another worker's selector for the same source: the result is the
    /// selector of the union of both workers' contents.
    ///
    /// # Panics
    /// If the seeds or capacities differ (a programming error: the merged
    /// sample would be no sample).
    pub fn merge(&mut self, other: &BottomN) {
        assert!(
            self.seed == other.seed && self.n == other.n,
            "merging audit samples of different seeds or sizes"
        );
        for &(rank, id) in &other.kept {
            self.offer_ranked(rank, id);
        }
    }

    /// The largest kept rank once the selector is full: contents ranked above
    /// it cannot enter (lets a caller skip work before offering).
    pub fn threshold(&self) -> Option<u64> {
        (self.kept.len() == self.n)
            .then(|| self.kept.last().map(|&(r, _)| r))
            .flatten()
    }

    /// The sample, by ascending rank (so a prefix of a size-n sample is the
    /// size-m sample for m < n with the same seed).
    pub fn sample(&self) -> Vec<u128> {
        self.kept.iter().map(|&(_, id)| id).collect()
    }
}

/// A two-sided confidence interval for a proportion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// z for a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for a failure rate of `failures` out of `n` at
/// normal quantile `z` (e.g. [`Z_95`]). Unlike the normal approximation it
/// stays inside [0, 1] and is informative at 0 failures — the common case
/// of a clean source. `n == 0` gives [0, 1] (nothing known);
/// `failures > n` is clamped to `n`.
pub fn wilson_interval(failures: u64, n: u64, z: f64) -> Interval {
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let nf = n as f64;
    let p = failures.min(n) as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Interval {
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    }
}

// TC260-003 "Basic security requirements for generative artificial
// intelligence service" (2024). Its corpus rules, as integer percentages so
// that the boundaries (exactly 96%, exactly 5%) are exact.

/// The security assessment's manual spot check draws at least this many
/// items from the training corpus...
pub const TC260_MIN_SAMPLE: u64 = 4000;
/// ...and the corpus is acceptable when at least this percentage passes.
pub const TC260_MIN_PASS_PERCENT: u64 = 96;
/// A corpus source with more than this percentage of unlawful or harmful
/// content is not to be used.
pub const TC260_MAX_SOURCE_UNLAWFUL_PERCENT: u64 = 5;

/// The verdict on a spot-checked sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleVerdict {
    Acceptable,
    Unacceptable,
    /// Fewer than [`TC260_MIN_SAMPLE`] items checked: no verdict.
    TooFewItems,
}

/// TC260 manual spot check: `passed` of `sampled` items passed.
pub fn tc260_sample_verdict(passed: u64, sampled: u64) -> SampleVerdict {
    if sampled < TC260_MIN_SAMPLE {
        SampleVerdict::TooFewItems
    } else if u128::from(passed.min(sampled)) * 100
        >= u128::from(sampled) * u128::from(TC260_MIN_PASS_PERCENT)
    {
        SampleVerdict::Acceptable
    } else {
        SampleVerdict::Unacceptable
    }
}

/// TC260 source rule on the sampled rate: `unlawful` of `sampled` items of
/// the source were unlawful; usable unless that exceeds 5%. A point
/// estimate — report [`wilson_interval`] beside it (an upper bound above 5%
/// means the sample cannot vouch for the source). `sampled == 0`: false
/// (nothing vouches for the source).
pub fn tc260_source_usable(unlawful: u64, sampled: u64) -> bool {
    sampled > 0
        && u128::from(unlawful.min(sampled)) * 100
            <= u128::from(sampled) * u128::from(TC260_MAX_SOURCE_UNLAWFUL_PERCENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, by brute force: sort everything by (rank, id).
    fn brute(seed: u64, ids: &[u128], n: usize) -> Vec<u128> {
        let mut all: Vec<(u64, u128)> = ids.iter().map(|&id| (sample_rank(seed, id), id)).collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter().take(n).map(|(_, id)| id).collect()
    }

    fn select(seed: u64, n: usize, ids: impl IntoIterator<Item = u128>) -> Vec<u128> {
        let mut b = BottomN::new(seed, n);
        for id in ids {
            b.offer(id);
        }
        b.sample()
    }

    /// Content-id-like values (spread over the u128 range).
    fn ids(count: u128) -> Vec<u128> {
        (0..count)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
            .collect()
    }

    #[test]
    fn rank_known_answer() {
        // Python: int.from_bytes(hashlib.sha256(b"provindex-audit-sample-v1\0"
        //   + (42).to_bytes(8, "big") + (1).to_bytes(16, "big")).digest()[:8], "big")
        assert_eq!(sample_rank(42, 1), 14_631_695_924_998_152_884);
    }

    #[test]
    fn same_seed_same_sample_whatever_the_order_or_workers() {
        let all = ids(5000);
        let want = brute(7, &all, 100);
        assert_eq!(want.len(), 100);
        assert_eq!(select(7, 100, all.iter().copied()), want);
        assert_eq!(select(7, 100, all.iter().rev().copied()), want);
        // Three "workers" over interleaved partitions, merged in any order.
        let mut workers: Vec<BottomN> = (0..3).map(|_| BottomN::new(7, 100)).collect();
        for (i, &id) in all.iter().enumerate() {
            workers[i % 3].offer(id);
        }
        let mut merged = workers[2].clone();
        merged.merge(&workers[0]);
        merged.merge(&workers[1]);
        assert_eq!(merged.sample(), want);
        // A smaller sample with the same seed is a prefix of the larger.
        assert_eq!(select(7, 10, all.iter().copied()), want[..10]);
    }

    #[test]
    fn different_seeds_give_different_samples() {
        let all = ids(5000);
        let a = select(1, 100, all.iter().copied());
        let b = select(2, 100, all.iter().copied());
        let common = a.iter().filter(|id| b.contains(id)).count();
        // Independent 2% samples share ~2 contents; far from all 100.
        assert!(common < 20, "{common}");
    }

    #[test]
    fn duplicates_small_sources_and_empty_samples() {
        let mut b = BottomN::new(3, 5);
        for _ in 0..3 {
            for id in [10u128, 20, 30] {
                assert!(b.offer(id));
            }
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.threshold(), None);
        assert_eq!(b.sample(), brute(3, &[10, 20, 30], 5));
        let mut full = BottomN::new(3, 2);
        for id in ids(50) {
            full.offer(id);
        }
        let kept = full.sample();
        let t = full.threshold().unwrap();
        assert_eq!(t, sample_rank(3, kept[1]));
        // Re-offering a kept content keeps it, once.
        assert!(full.offer(kept[1]));
        assert_eq!(full.sample(), kept);
        let mut none = BottomN::new(3, 0);
        assert!(!none.offer(1));
        assert!(none.is_empty());
    }

    #[test]
    #[should_panic(expected = "different seeds")]
    fn merging_different_seeds_is_a_bug() {
        BottomN::new(1, 5).merge(&BottomN::new(2, 5));
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn wilson_intervals_by_hand() {
        // 0 of 4000, z = 1.96: z²/n = 0.00096, centre = (z²/2n)/(1 + z²/n)
        // = 0.00047974 = half width → [0, 0.00095944]. Python gives
        // 0.0009594432897014865 with z = 1.959963984540054.
        let i = wilson_interval(0, 4000, Z_95);
        assert_eq!(i.low, 0.0);
        assert!(close(i.high, 0.000_959_443_289_701_486_5), "{i:?}");
        // 160 of 4000 (p = 0.04): centre 0.0404404, half width 0.0060858
        // → [0.034356, 0.046527] (Python: 0.03435550734181986,
        // 0.04652718048470553).
        let i = wilson_interval(160, 4000, Z_95);
        assert!(close(i.low, 0.034_355_507_341_819_86), "{i:?}");
        assert!(close(i.high, 0.046_527_180_484_705_53), "{i:?}");
        // 5 of 100: [0.021544, 0.111750].
        let i = wilson_interval(5, 100, Z_95);
        assert!(close(i.low, 0.021_543_679_154_367_96), "{i:?}");
        assert!(close(i.high, 0.111_750_469_231_919_13), "{i:?}");
        // 1 of 1: [0.206549, 1].
        let i = wilson_interval(1, 1, Z_95);
        assert!(
            close(i.low, 0.206_549_314_377_237_45) && i.high == 1.0,
            "{i:?}"
        );
        assert_eq!(
            wilson_interval(0, 0, Z_95),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
    }

    #[test]
    fn tc260_rules_at_their_boundaries() {
        // 96% of 4000 = 3840.
        assert_eq!(tc260_sample_verdict(3840, 4000), SampleVerdict::Acceptable);
        assert_eq!(
            tc260_sample_verdict(3839, 4000),
            SampleVerdict::Unacceptable
        );
        assert_eq!(tc260_sample_verdict(4000, 4000), SampleVerdict::Acceptable);
        assert_eq!(tc260_sample_verdict(3999, 3999), SampleVerdict::TooFewItems);
        assert_eq!(
            tc260_sample_verdict(9600, 10_000),
            SampleVerdict::Acceptable
        );
        // 5% of 4000 = 200: at most 5% is still usable.
        assert!(tc260_source_usable(200, 4000));
        assert!(!tc260_source_usable(201, 4000));
        assert!(tc260_source_usable(0, 1));
        assert!(!tc260_source_usable(0, 0));
    }

    proptest! {
        #[test]
        fn sample_is_independent_of_order(
            shuffled in Just(ids(300)).prop_shuffle(),
            seed in any::<u64>(),
            n in 0usize..40,
        ) {
            prop_assert_eq!(select(seed, n, shuffled), brute(seed, &ids(300), n));
        }
    }
}
