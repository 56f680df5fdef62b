//! LSH banding: choosing bands × rows for a Jaccard threshold, and band keys.

use xxhash_rust::xxh3::xxh3_64;

/// Probability that two documents with Jaccard similarity `s` share at least
/// one band key with `bands` bands of `rows` rows: `1 - (1 - s^rows)^bands`.
#[must_use]
pub fn candidate_probability(s: f64, bands: u32, rows: u32) -> f64 {
    let s = if s.is_nan() { 0.0 } else { s.clamp(0.0, 1.0) };
    1.0 - (1.0 - s.powf(f64::from(rows))).powf(f64::from(bands))
}

/// 5-point Gauss–Legendre nodes on [-1, 1] and their weights.
const GL5: [(f64, f64); 5] = [
    (0.0, 0.568_888_888_888_888_9),
    (-0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (-0.906_179_845_938_664, 0.236_926_885_056_189_1),
    (0.906_179_845_938_664, 0.236_926_885_056_189_1),
];

/// Composite 5-point Gauss–Legendre quadrature over `SUBINTERVALS` equal
/// pieces: exact to ~1e-12 for the smooth polynomials integrated here, the
/// same figures `scipy.integrate.quad` gives to datasketch.
fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    const SUBINTERVALS: u32 = 128;
    if hi <= lo {
        return 0.0;
    }
    let h = (hi - lo) / f64::from(SUBINTERVALS);
    let mut area = 0.0;
    for k in 0..SUBINTERVALS {
        let mid = lo + (f64::from(k) + 0.5) * h;
        let half = 0.5 * h;
        for &(x, w) in &GL5 {
            area += w * half * f(mid + half * x);
        }
    }
    area
}

/// Weighted false-positive area `∫_0^t P(s) ds` and false-negative area
/// `∫_t^1 (1 - P(s)) ds` for `P` = [`candidate_probability`].
#[must_use]
pub fn banding_error_areas(threshold: f64, bands: u32, rows: u32) -> (f64, f64) {
    let fp = integrate(|s| candidate_probability(s, bands, rows), 0.0, threshold);
    let fn_ = integrate(
        |s| 1.0 - candidate_probability(s, bands, rows),
        threshold,
        1.0,
    );
    (fp, fn_)
}

/// Chooses `(bands, rows)` with `bands * rows <= num_perm` minimizing
/// `fp_weight * FP + fn_weight * FN`, where FP and FN are the areas of
/// [`banding_error_areas`] — the same search as datasketch's
/// `MinHashLSH._optimal_param` (bands ascending, then rows ascending; the
/// first strict minimum wins). For `(0.8, 128)` it gives `(9, 13)`.
///
/// Never panics: `threshold` is clamped to `[0, 1]` (NaN counts as 0),
/// `num_perm == 0` is treated as 1, and non-finite or negative weights as 0.
#[must_use]
pub fn optimal_param(threshold: f64, num_perm: u32, fp_weight: f64, fn_weight: f64) -> (u32, u32) {
    let t = if threshold.is_nan() {
        0.0
    } else {
        threshold.clamp(0.0, 1.0)
    };
    let weight = |w: f64| if w.is_finite() && w > 0.0 { w } else { 0.0 };
    let (fpw, fnw) = (weight(fp_weight), weight(fn_weight));
    let k = num_perm.max(1);
    let mut best = (1, 1);
    let mut min_error = f64::INFINITY;
    for b in 1..=k {
        for r in 1..=k / b {
            let (fp, fn_) = banding_error_areas(t, b, r);
            let error = fp * fpw + fn_ * fnw;
            if error < min_error {
                min_error = error;
                best = (b, r);
            }
        }
    }
    best
}

/// Key of one LSH band: xxh3-64 of `band` as 4 bytes big-endian followed by
/// the band's values, each 4 bytes big-endian — i.e. of the band index and the
/// matching slice of [`crate::Signature::to_bytes`]. Including the band index
/// keeps equal values in different band positions from colliding.
#[must_use]
pub fn band_key(band: u32, values: &[u32]) -> u64 {
    let mut buf = Vec::with_capacity(4 + 4 * values.len());
    band_key_with(&mut buf, band, values)
}

pub(crate) fn band_key_with(buf: &mut Vec<u8>, band: u32, values: &[u32]) -> u64 {
    buf.clear();
    buf.extend_from_slice(&band.to_be_bytes());
    for v in values {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    xxh3_64(buf)
}
