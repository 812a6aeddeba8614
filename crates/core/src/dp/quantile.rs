//! DP quantiles of bounded values: `dp_quantile(x, q, lower, upper [, epsilon])`,
//! `dp_median`.
//!
//! Mechanism: the exponential mechanism over intervals of [lower, upper] (Smith 2011), on a
//! fixed grid. The interval is cut into G equal buckets; the state is the histogram of the
//! clamped values over them. Bucket j, holding the values of ranks a_j … b_j (a_j values
//! below it, b_j = a_j + count_j), gets the utility u_j = −dist(q·n, [a_j, b_j]) — 0 for the
//! bucket that holds the q-quantile, minus how many ranks away it is otherwise. Buckets
//! have equal widths, so Smith's weighting by width is uniform, and OpenDP's exact
//! permute-and-flip (see `select`) picks a bucket; the released value is its midpoint.
//!
//! Privacy argument (add/remove-one-row neighbours): adding a row at v moves a_j and b_j
//! by 0 or 1 (by 1 for buckets above v, b_j only for v's bucket) and q·n by q, so each
//! utility moves by at most max(q, 1 − q), not all in the same direction:
//! d_Range ≤ 2·max(q, 1 − q), and scale = d_Range/ε gives ε-DP. Utilities are exact
//! integers: q is rounded to a multiple of 2^-20 and utilities are counted in 2^-20 ranks.
//!
//! Memory/accuracy trade-off: the state is G counts (8·G bytes; 8 KiB at the default
//! G = 1024), whatever the number of rows, and merging adds histograms exactly. The price
//! is resolution: the answer is a bucket midpoint, within (upper − lower)/(2G) of a value
//! of the chosen rank. A sorted sample of all values would be exact but grow with n.

use super::explain::{Explanation, NoisePart};
use super::fixed::FixedPoint;
use super::noise::Reader;
use super::select::Selection;
use super::{check_epsilon, PrivacyCost};
use crate::error::{Fallible, VeilError};

/// Default number of buckets G.
pub const DEFAULT_QUANTILE_BINS: usize = 1024;
/// Largest G accepted (512 KiB of state).
pub const MAX_QUANTILE_BINS: usize = 65_536;
/// Utilities are counted in 1/2^20 of a rank, and q rounded to a multiple of 2^-20.
const RANK_UNITS: i64 = 1 << 20;

/// Parameters of a DP quantile.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedQuantile {
    lower: f64,
    upper: f64,
    q: f64,
    /// q in 2^-20 units.
    q_units: i64,
    bins: usize,
    selection: Selection,
}

impl BoundedQuantile {
    /// Validates the arguments of `dp_quantile(x, q, lower, upper, epsilon)` with the
    /// default number of buckets.
    pub fn new(q: f64, lower: f64, upper: f64, epsilon: f64) -> Fallible<Self> {
        BoundedQuantile::with_bins(q, lower, upper, epsilon, DEFAULT_QUANTILE_BINS)
    }

    /// `dp_median(x, lower, upper, epsilon)`.
    pub fn median(lower: f64, upper: f64, epsilon: f64) -> Fallible<Self> {
        BoundedQuantile::new(0.5, lower, upper, epsilon)
    }

    /// [`BoundedQuantile::new`] with G = `bins` buckets (1 to [`MAX_QUANTILE_BINS`]).
    pub fn with_bins(q: f64, lower: f64, upper: f64, epsilon: f64, bins: usize) -> Fallible<Self> {
        FixedPoint::new(lower, upper)?;
        if !(0.0..=1.0).contains(&q) {
            return Err(VeilError::invalid(
                "q",
                format!("must be a number from 0 to 1, got {q}"),
            ));
        }
        check_epsilon(epsilon)?;
        if !(1..=MAX_QUANTILE_BINS).contains(&bins) {
            return Err(VeilError::invalid(
                "bins",
                format!("must be from 1 to {MAX_QUANTILE_BINS}, got {bins}"),
            ));
        }
        let q_units = (q * RANK_UNITS as f64).round() as i64;
        let sensitivity = q_units.max(RANK_UNITS - q_units);
        Ok(BoundedQuantile {
            lower,
            upper,
            q,
            q_units,
            bins,
            selection: Selection::new(sensitivity, false, 1, epsilon)?,
        })
    }

    pub fn lower(&self) -> f64 {
        self.lower
    }
    pub fn upper(&self) -> f64 {
        self.upper
    }
    pub fn q(&self) -> f64 {
        self.q
    }
    pub fn bins(&self) -> usize {
        self.bins
    }
    pub fn epsilon(&self) -> f64 {
        self.selection.epsilon
    }

    /// Pure ε-DP (under a zcdp budget it spends ε²/2).
    pub fn cost(&self) -> PrivacyCost {
        PrivacyCost::pure(self.epsilon())
    }

    fn half_range(&self) -> f64 {
        self.upper / 2.0 - self.lower / 2.0
    }

    /// The bucket of a (non-NaN) value: a per-row function of the value alone.
    fn bucket(&self, x: f64) -> usize {
        let half = self.half_range();
        if half == 0.0 {
            return 0;
        }
        let t = (x.clamp(self.lower, self.upper) / 2.0 - self.lower / 2.0) / half;
        ((t * self.bins as f64).floor().max(0.0) as usize).min(self.bins - 1)
    }

    /// The midpoint of bucket j.
    fn midpoint(&self, j: usize) -> f64 {
        let offset = self.half_range() * (2 * j + 1) as f64 / self.bins as f64;
        (self.lower + offset).clamp(self.lower, self.upper)
    }

    /// Exact integer utilities (in 2^-20 ranks) of the buckets of a histogram.
    fn scores(&self, counts: &[u64]) -> Fallible<Vec<i64>> {
        let n: u64 = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
        let limit = (i64::MAX / RANK_UNITS) as u64;
        if n > limit {
            return Err(VeilError::invalid(
                "value",
                format!("dp_quantile handles at most {limit} rows per group, got {n}"),
            ));
        }
        let target = self.q_units * n as i64;
        let mut below = 0i64;
        Ok(counts
            .iter()
            .map(|&c| {
                let (a, b) = (below * RANK_UNITS, (below + c as i64) * RANK_UNITS);
                below += c as i64;
                -(a - target).max(0).max(target - b)
            })
            .collect())
    }

    /// Releases the quantile of a histogram; fresh randomness on every call.
    pub fn release(&self, counts: &[u64]) -> Fallible<f64> {
        self.release_with(&self.selection, counts)
    }

    pub(crate) fn release_with(&self, selection: &Selection, counts: &[u64]) -> Fallible<f64> {
        if counts.len() != self.bins {
            return Err(VeilError::IncompatibleState(format!(
                "dp_quantile histogram has {} buckets, expected {}",
                counts.len(),
                self.bins
            )));
        }
        let chosen = selection.select(self.scores(counts)?)?;
        let j = *chosen
            .first()
            .ok_or_else(|| VeilError::Noise("permute-and-flip selected nothing".into()))?;
        Ok(self.midpoint(j))
    }

    /// The selection with a `factor` times smaller scale than ε requires: for the DP tester.
    #[cfg(test)]
    pub(crate) fn broken_selection(&self, factor: f64) -> Selection {
        let mut s = self.selection.clone();
        s.scale /= factor;
        s
    }

    pub fn explain(&self) -> Fallible<Explanation> {
        let s = &self.selection;
        let unit = RANK_UNITS as f64;
        let gap = s.gap_95(self.bins) / unit;
        let width = 2.0 * self.half_range() / self.bins as f64;
        Ok(Explanation {
            function: if self.q == 0.5 { "dp_median" } else { "dp_quantile" },
            mechanism: "permute-and-flip (exponential mechanism)",
            cost: self.cost(),
            parts: vec![NoisePart {
                name: "rank distance of a bucket to q·n",
                mechanism: "permute-and-flip",
                sensitivity: s.sensitivity as f64 / unit,
                scale: s.scale / unit,
                half_width_95: gap,
            }],
            half_width_95: None,
            meaning: format!(
                "[{}, {}] is cut into {} buckets of width {width}; the result is the midpoint of a private choice among them, and with 95% probability the chosen bucket holds ranks within ±{gap} of q·n = {}·n, so the result is within {} of a value whose rank is that close to the exact {}-quantile of the clamped values",
                self.lower, self.upper, self.bins, self.q, width / 2.0, self.q
            ),
        })
    }
}

/// Mergeable state of `dp_quantile` / `dp_median`: parameters and the histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct DpQuantileAccumulator {
    pub params: BoundedQuantile,
    pub counts: Vec<u64>,
}

impl DpQuantileAccumulator {
    pub fn new(params: BoundedQuantile) -> Self {
        let counts = vec![0; params.bins];
        DpQuantileAccumulator { params, counts }
    }

    /// Adds one value (NaN skipped like NULL).
    pub fn update(&mut self, x: f64) {
        if !x.is_nan() {
            let j = self.params.bucket(x);
            self.counts[j] = self.counts[j].saturating_add(1);
        }
    }

    pub fn update_slice(&mut self, xs: &[f64]) {
        xs.iter().for_each(|&x| self.update(x));
    }

    pub fn merge(&mut self, other: &DpQuantileAccumulator) -> Fallible<()> {
        if self.params != other.params {
            return Err(VeilError::IncompatibleState(
                "dp_quantile partial states use different arguments".into(),
            ));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        Ok(())
    }

    pub fn release(&self) -> Fallible<f64> {
        self.params.release(&self.counts)
    }

    /// q, lower, upper, epsilon, G, then G counts; little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let p = &self.params;
        let mut out = Vec::with_capacity(40 + 8 * p.bins);
        for f in [p.q, p.lower, p.upper, p.epsilon()] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend_from_slice(&(p.bins as u64).to_le_bytes());
        for c in &self.counts {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let mut r = Reader {
            bytes,
            what: "dp_quantile",
        };
        let (q, lower, upper, eps) = (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
        let bins = r.u64()?;
        if r.bytes.len() as u64 != bins.saturating_mul(8) {
            return Err(VeilError::IncompatibleState(format!(
                "dp_quantile state announces {bins} buckets but has {} bytes of them",
                r.bytes.len()
            )));
        }
        let params = BoundedQuantile::with_bins(q, lower, upper, eps, bins as usize)?;
        let counts = (0..bins).map(|_| r.u64()).collect::<Fallible<Vec<u64>>>()?;
        r.finish()?;
        Ok(DpQuantileAccumulator { params, counts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_errors_name_the_argument() {
        let msg = |r: Fallible<BoundedQuantile>| r.unwrap_err().to_string();
        assert!(msg(BoundedQuantile::new(1.5, 0.0, 1.0, 1.0)).contains("`q`"));
        assert!(msg(BoundedQuantile::new(f64::NAN, 0.0, 1.0, 1.0)).contains("`q`"));
        assert!(msg(BoundedQuantile::new(0.5, 2.0, 1.0, 1.0)).contains("`lower`"));
        assert!(msg(BoundedQuantile::new(0.5, 0.0, f64::NAN, 1.0)).contains("`upper`"));
        assert!(msg(BoundedQuantile::new(0.5, 0.0, 1.0, -1.0)).contains("`epsilon`"));
        assert!(msg(BoundedQuantile::with_bins(0.5, 0.0, 1.0, 1.0, 0)).contains("`bins`"));
        assert!(msg(BoundedQuantile::with_bins(0.5, 0.0, 1.0, 1.0, 1 << 20)).contains("`bins`"));
    }

    #[test]
    fn scores_are_exact_rank_distances() {
        // 4 buckets over [0, 4): counts 2, 0, 5, 3 (n = 10); the median rank 5 is in bucket 2
        let p = BoundedQuantile::with_bins(0.5, 0.0, 4.0, 1.0, 4).unwrap();
        let u = RANK_UNITS;
        assert_eq!(
            p.scores(&[2, 0, 5, 3]).unwrap(),
            vec![-3 * u, -3 * u, 0, -2 * u]
        );
        let p = BoundedQuantile::with_bins(0.0, 0.0, 4.0, 1.0, 4).unwrap();
        assert_eq!(
            p.scores(&[2, 0, 5, 3]).unwrap(),
            vec![0, -2 * u, -2 * u, -7 * u]
        );
        assert_eq!(p.bucket(-5.0), 0);
        assert_eq!(p.bucket(3.99), 3);
        assert_eq!(p.bucket(4.0), 3);
        assert_eq!(p.bucket(1.0), 1);
        assert_eq!(p.midpoint(1), 1.5);
        let degenerate = BoundedQuantile::with_bins(0.3, 2.0, 2.0, 1.0, 8).unwrap();
        assert_eq!(degenerate.bucket(7.0), 0);
        assert_eq!(degenerate.midpoint(0), 2.0);
    }

    #[test]
    fn quantiles_are_accurate_on_large_n_and_within_bounds() {
        let xs: Vec<f64> = (0..100_000u64).map(|i| (i % 1000) as f64 / 10.0).collect(); // 0 … 99.9
        for (q, want) in [
            (0.5, 50.0),
            (0.1, 10.0),
            (0.9, 90.0),
            (0.0, 0.0),
            (1.0, 99.9),
        ] {
            let mut acc =
                DpQuantileAccumulator::new(BoundedQuantile::new(q, 0.0, 100.0, 1.0).unwrap());
            acc.update_slice(&xs);
            for _ in 0..5 {
                let v = acc.release().unwrap();
                assert!((v - want).abs() < 0.5, "q {q}: {v}");
            }
        }
        let mut acc =
            DpQuantileAccumulator::new(BoundedQuantile::median(-10.0, 10.0, 0.5).unwrap());
        acc.update_slice(&[1e9, -1e9, f64::NAN, 3.0]);
        for _ in 0..200 {
            let v = acc.release().unwrap();
            assert!((-10.0..=10.0).contains(&v), "{v}");
        }
        let empty = DpQuantileAccumulator::new(BoundedQuantile::median(5.0, 6.0, 1.0).unwrap());
        assert!((5.0..=6.0).contains(&empty.release().unwrap()));
    }

    #[test]
    fn explanation_bound_holds() {
        let p = BoundedQuantile::with_bins(0.25, 0.0, 64.0, 1.0, 64).unwrap();
        let e = p.explain().unwrap();
        assert_eq!(e.function, "dp_quantile");
        let gap = e.parts[0].half_width_95;
        // scale 2·0.75/ε = 1.5 ranks, ln(640) ≈ 6.46
        assert!((e.parts[0].scale - 1.5).abs() < 1e-9);
        assert!((gap - 1.5 * 640f64.ln()).abs() < 1e-9);
        let mut acc = DpQuantileAccumulator::new(p.clone());
        acc.update_slice(&(0..400).map(|i| (i % 64) as f64 + 0.5).collect::<Vec<_>>()); // 6–7 per bucket
        let scores = p.scores(&acc.counts).unwrap();
        let bad = (0..1000)
            .filter(|_| {
                let v = acc.release().unwrap();
                -(scores[p.bucket(v)] as f64) / RANK_UNITS as f64 > gap
            })
            .count();
        assert!(bad <= 50, "{bad}");
        assert_eq!(
            BoundedQuantile::median(0.0, 1.0, 1.0)
                .unwrap()
                .explain()
                .unwrap()
                .function,
            "dp_median"
        );
    }

    #[test]
    fn split_and_merged_states_equal_one_pass_and_bytes_round_trip() {
        let p = BoundedQuantile::with_bins(0.3, -5.0, 5.0, 0.7, 100).unwrap();
        let xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 8.0).collect();
        let mut whole = DpQuantileAccumulator::new(p.clone());
        whole.update_slice(&xs);
        let mut left = DpQuantileAccumulator::new(p.clone());
        let mut right = DpQuantileAccumulator::new(p);
        left.update_slice(&xs[..600]);
        right.update_slice(&xs[600..]);
        let bytes = right.to_bytes();
        assert_eq!(bytes.len(), 40 + 800);
        left.merge(&DpQuantileAccumulator::from_bytes(&bytes).unwrap())
            .unwrap();
        assert_eq!(left, whole);
        let other = DpQuantileAccumulator::new(
            BoundedQuantile::with_bins(0.3, -5.0, 5.0, 0.7, 99).unwrap(),
        );
        assert!(left.merge(&other).is_err());
        assert!(DpQuantileAccumulator::from_bytes(&bytes[..bytes.len() - 8]).is_err());
        assert!(DpQuantileAccumulator::from_bytes(&bytes[..20]).is_err());
    }
}
