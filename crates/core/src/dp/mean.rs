use dashu::integer::IBig;

use super::explain::{Explanation, NoisePart};
use super::fixed::FixedPoint;
use super::sum_count::split_tail;
use super::{Noise, Privacy, PrivacyCost};
use crate::error::{Fallible, VeilError};

/// Parameters of a DP mean of values clamped to `[lower, upper]`.
///
/// Privacy argument (add/remove-one-row neighbours): each value is clamped to the bounds
/// and rounded to a multiple of the quantum q = 2^exp, a per-row transformation, so one
/// row changes the fixed-point sum by at most Δ = ⌈max(|lower|, |upper|) / q⌉ units and the
/// count by 1. Sum and count each get half the budget: discrete Laplace noise with ε/2
/// (scales 2Δ/ε and 2/ε; basic composition gives ε), or discrete Gaussian noise with ρ/2
/// each (σ = Δ/√ρ and 1/√ρ; zCDP composition gives ρ). The ratio, clamped to the bounds,
/// is post-processing.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedMean {
    fixed: FixedPoint,
    privacy: Privacy,
}

impl BoundedMean {
    /// Validates the arguments of `dp_mean(value, lower, upper, epsilon)` (Laplace noise).
    pub fn new(lower: f64, upper: f64, epsilon: f64) -> Fallible<Self> {
        BoundedMean::with_noise(lower, upper, epsilon, Noise::Laplace)
    }

    /// [`BoundedMean::new`] with a choice of noise.
    pub fn with_noise(lower: f64, upper: f64, epsilon: f64, noise: Noise) -> Fallible<Self> {
        let fixed = FixedPoint::new(lower, upper)?;
        let privacy = Privacy::new(epsilon, noise)?;
        Ok(BoundedMean { fixed, privacy })
    }

    pub fn lower(&self) -> f64 {
        self.fixed.lower
    }
    pub fn upper(&self) -> f64 {
        self.fixed.upper
    }
    pub fn epsilon(&self) -> f64 {
        self.privacy.epsilon()
    }
    pub fn privacy(&self) -> Privacy {
        self.privacy
    }

    /// The privacy loss of one release.
    pub fn cost(&self) -> PrivacyCost {
        self.privacy.cost()
    }

    /// Mechanism, scales and the 95 % noise of sum and count. The mean's error depends on
    /// the (private) row count n, so only a formula in n is given.
    pub fn explain(&self) -> Fallible<Explanation> {
        let count = self.privacy.mechanism(1, (1, 2))?;
        let sum = self.privacy.mechanism(self.fixed.sensitivity, (1, 2))?;
        let (tc, ts) = (
            count.half_width_95(),
            self.fixed.units_to_value(sum.half_width_95()),
        );
        let m = self.fixed.lower.abs().max(self.fixed.upper.abs());
        Ok(Explanation {
            function: "dp_mean",
            mechanism: sum.name(),
            cost: self.cost(),
            parts: vec![
                NoisePart {
                    name: "count",
                    mechanism: count.name(),
                    sensitivity: 1.0,
                    scale: count.scale(),
                    half_width_95: tc,
                },
                NoisePart {
                    name: "sum",
                    mechanism: sum.name(),
                    sensitivity: self.fixed.units_to_value(self.fixed.sensitivity as f64),
                    scale: self.fixed.units_to_value(sum.scale()),
                    half_width_95: ts,
                },
            ],
            half_width_95: None,
            meaning: format!(
                "noisy sum / noisy count, clamped to [{}, {}]; sum and count each have a 95% noise interval above, so with at least 90% probability, for n rows (n > {tc}) the mean is within ±({ts} + {m}·{tc}) / (n − {tc}) of the exact mean of the clamped values",
                self.fixed.lower, self.fixed.upper
            ),
        })
    }

    /// Adds one value to a state. NULLs are the caller's to skip; NaN is skipped here.
    #[inline]
    pub fn accumulate(&self, state: &mut MeanState, x: f64) {
        if x.is_nan() {
            return;
        }
        state.count = state.count.saturating_add(1);
        state.sum = state.sum.saturating_add(self.fixed.to_units(x));
    }

    /// Releases the noisy mean of a state. Each call draws fresh noise and costs
    /// [`BoundedMean::cost`].
    pub fn release(&self, state: &MeanState) -> Fallible<f64> {
        let noisy_count = self
            .privacy
            .mechanism(1, (1, 2))?
            .add_noise(IBig::from(state.count))?;
        let noisy_sum = self
            .privacy
            .mechanism(self.fixed.sensitivity, (1, 2))?
            .add_noise(IBig::from(state.sum))?;
        let count = noisy_count.to_f64().value().max(1.0);
        let sum = self.fixed.value_of_units(&noisy_sum);
        Ok((sum / count).clamp(self.lower(), self.upper()))
    }
}

/// The mergeable partial state of a DP mean: exact count and fixed-point sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeanState {
    pub count: u64,
    pub sum: i128,
}

impl MeanState {
    pub fn merge(&mut self, other: &MeanState) {
        self.count = self.count.saturating_add(other.count);
        self.sum = self.sum.saturating_add(other.sum);
    }
}

/// Parameters plus state: what an engine keeps per group and ships between workers.
#[derive(Debug, Clone, PartialEq)]
pub struct DpMeanAccumulator {
    pub params: BoundedMean,
    pub state: MeanState,
}

/// Size of [`DpMeanAccumulator::to_bytes`] with Laplace noise (Gaussian adds 8 bytes of δ).
pub const DP_MEAN_STATE_BYTES: usize = 3 * 8 + 8 + 16;

impl DpMeanAccumulator {
    pub fn new(params: BoundedMean) -> Self {
        DpMeanAccumulator {
            params,
            state: MeanState::default(),
        }
    }

    #[inline]
    pub fn update(&mut self, x: f64) {
        self.params.accumulate(&mut self.state, x);
    }

    /// The fixed-point units `update(x)` adds to the sum (and 1 to the count); None for NaN,
    /// which it skips. At most 2^41 in magnitude, so [`super::UNITS_PER_I64`] of them sum in
    /// an i64.
    #[inline]
    pub fn units(&self, x: f64) -> Option<i64> {
        (!x.is_nan()).then(|| self.params.fixed.to_units(x) as i64)
    }

    /// GROUP BY in one pass: adds [`DpMeanAccumulator::units`] of `xs[i]` to
    /// `partials[groups[i]]` and 1 to `counts[groups[i]]` (NaN skipped), as
    /// [`super::DpSumAccumulator::add_grouped`] does.
    pub fn add_grouped(
        &self,
        xs: &[f64],
        groups: &[usize],
        partials: &mut [i64],
        counts: &mut [u64],
    ) -> Option<usize> {
        self.params
            .fixed
            .add_grouped(xs, groups, partials, Some(counts))
    }

    /// Adds many values at once (NaN skipped): same result as `update` on each, faster.
    pub fn update_slice(&mut self, xs: &[f64]) {
        let (count, sum) = self.params.fixed.sum_units(xs);
        self.state.count = self.state.count.saturating_add(count);
        self.state.sum = self.state.sum.saturating_add(sum);
    }

    /// Merges another partial state computed with the same parameters.
    pub fn merge(&mut self, other: &DpMeanAccumulator) -> Fallible<()> {
        if self.params != other.params {
            return Err(VeilError::IncompatibleState(format!(
                "dp_mean partial states use different arguments: (lower {}, upper {}, {}) vs (lower {}, upper {}, {})",
                self.params.lower(), self.params.upper(), self.params.privacy,
                other.params.lower(), other.params.upper(), other.params.privacy
            )));
        }
        self.state.merge(&other.state);
        Ok(())
    }

    pub fn release(&self) -> Fallible<f64> {
        self.params.release(&self.state)
    }

    /// A fixed little-endian encoding: lower, upper, epsilon, count, sum, then δ for
    /// Gaussian noise.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DP_MEAN_STATE_BYTES + 8);
        out.extend_from_slice(&self.params.lower().to_le_bytes());
        out.extend_from_slice(&self.params.upper().to_le_bytes());
        out.extend_from_slice(&self.params.epsilon().to_le_bytes());
        out.extend_from_slice(&self.state.count.to_le_bytes());
        out.extend_from_slice(&self.state.sum.to_le_bytes());
        out.extend_from_slice(&self.params.privacy.tail_bytes());
        out
    }

    /// Decodes [`DpMeanAccumulator::to_bytes`], re-validating the parameters.
    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let (bytes, tail) = split_tail(bytes, DP_MEAN_STATE_BYTES, "dp_mean")?;
        let f = |i: usize| f64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let privacy = Privacy::from_tail(f(16), tail, "dp_mean")?;
        let params = BoundedMean::with_noise(f(0), f(8), f(16), privacy.noise())?;
        let count = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes"));
        let sum = i128::from_le_bytes(bytes[32..48].try_into().expect("16 bytes"));
        Ok(DpMeanAccumulator {
            params,
            state: MeanState { count, sum },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_errors_name_the_argument() {
        let msg = |r: Fallible<BoundedMean>| r.unwrap_err().to_string();
        assert!(msg(BoundedMean::new(10.0, 0.0, 1.0))
            .contains("`lower`: must not be greater than upper"));
        assert!(msg(BoundedMean::new(f64::NEG_INFINITY, 0.0, 1.0)).contains("`lower`"));
        assert!(msg(BoundedMean::new(0.0, f64::NAN, 1.0)).contains("`upper`"));
        assert!(msg(BoundedMean::new(0.0, 100.0, 0.0)).contains("`epsilon`"));
        assert!(msg(BoundedMean::new(0.0, 100.0, -2.0)).contains("`epsilon`"));
    }

    #[test]
    fn values_are_clamped_and_nan_skipped() {
        let p = BoundedMean::new(0.0, 10.0, 1.0).unwrap();
        let mut s = MeanState::default();
        for x in [-5.0, 5.0, 50.0, f64::NAN] {
            p.accumulate(&mut s, x);
        }
        assert_eq!(s.count, 3);
        assert_eq!(p.fixed.value_of_units(&IBig::from(s.sum)), 15.0);
    }

    #[test]
    fn release_is_near_the_true_mean_and_noisy() {
        let p = BoundedMean::new(0.0, 100.0, 1.0).unwrap();
        let mut acc = DpMeanAccumulator::new(p);
        for i in 0..100_000u64 {
            acc.update((i % 101) as f64);
        }
        let outs: Vec<f64> = (0..20).map(|_| acc.release().unwrap()).collect();
        for o in &outs {
            assert!((o - 50.0).abs() < 0.5, "{o}");
        }
        assert!(outs.iter().any(|&o| o != outs[0]), "no noise: {outs:?}");
    }

    #[test]
    fn release_stays_within_bounds_even_without_rows() {
        let acc = DpMeanAccumulator::new(BoundedMean::new(-1.0, 3.0, 0.1).unwrap());
        for _ in 0..200 {
            let v = acc.release().unwrap();
            assert!((-1.0..=3.0).contains(&v), "{v}");
        }
    }

    #[test]
    fn split_and_merged_states_equal_one_pass() {
        let p = BoundedMean::new(-50.0, 50.0, 1.0).unwrap();
        let data: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 80.0).collect();
        let mut whole = DpMeanAccumulator::new(p.clone());
        data.iter().for_each(|&x| whole.update(x));
        let mut left = DpMeanAccumulator::new(p.clone());
        let mut right = DpMeanAccumulator::new(p);
        data[..333].iter().for_each(|&x| left.update(x));
        data[333..].iter().for_each(|&x| right.update(x));
        let right = DpMeanAccumulator::from_bytes(&right.to_bytes()).unwrap();
        left.merge(&right).unwrap();
        assert_eq!(left, whole);
    }

    #[test]
    fn merging_different_arguments_fails() {
        let mut a = DpMeanAccumulator::new(BoundedMean::new(0.0, 1.0, 1.0).unwrap());
        let b = DpMeanAccumulator::new(BoundedMean::new(0.0, 2.0, 1.0).unwrap());
        assert!(matches!(a.merge(&b), Err(VeilError::IncompatibleState(_))));
        assert!(DpMeanAccumulator::from_bytes(&[1, 2, 3]).is_err());
    }

    #[test]
    fn gaussian_mean_is_accurate_and_round_trips() {
        let p = BoundedMean::with_noise(0.0, 100.0, 1.0, Noise::Gaussian { delta: 1e-6 }).unwrap();
        let mut acc = DpMeanAccumulator::new(p);
        acc.update_slice(
            &(0..100_000u64)
                .map(|i| (i % 101) as f64)
                .collect::<Vec<_>>(),
        );
        for _ in 0..20 {
            let o = acc.release().unwrap();
            assert!((o - 50.0).abs() < 0.5, "{o}");
        }
        let back = DpMeanAccumulator::from_bytes(&acc.to_bytes()).unwrap();
        assert_eq!(back, acc);
        assert_eq!(acc.params.cost().delta, 1e-6);
        let e = acc.params.explain().unwrap();
        assert_eq!(e.parts.len(), 2);
        assert_eq!(e.parts[1].sensitivity, 100.0);
        assert!(
            e.half_width_95.is_none() && e.meaning.contains("n rows"),
            "{e}"
        );
        // σ of each half is 1/√ρ times the sensitivity
        let rho = acc.params.privacy().rho().unwrap();
        assert!((e.parts[0].scale - 1.0 / rho.sqrt()).abs() < 1e-9);
        let mut laplace = DpMeanAccumulator::new(BoundedMean::new(0.0, 100.0, 1.0).unwrap());
        assert!(laplace.merge(&acc).is_err());
    }
}
