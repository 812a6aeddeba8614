//! DP sum of clamped values and DP count, with Laplace (ε-DP) or Gaussian (ρ-zCDP) noise.

use dashu::integer::IBig;

use super::explain::{Explanation, NoisePart};
use super::fixed::FixedPoint;
use super::{Noise, Privacy, PrivacyCost};
use crate::error::{Fallible, VeilError};

/// Parameters of a DP sum of values clamped to `[lower, upper]`.
///
/// Privacy argument (add/remove-one-row neighbours): the fixed-point sum changes by at most
/// Δ quanta (see `FixedPoint`); discrete Laplace noise of scale Δ/ε gives ε-DP, discrete
/// Gaussian noise of σ = Δ/√(2ρ) gives ρ-zCDP.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedSum {
    fixed: FixedPoint,
    privacy: Privacy,
}

impl BoundedSum {
    /// Validates the arguments of `dp_sum(value, lower, upper, epsilon)` (Laplace noise).
    pub fn new(lower: f64, upper: f64, epsilon: f64) -> Fallible<Self> {
        BoundedSum::with_noise(lower, upper, epsilon, Noise::Laplace)
    }

    /// [`BoundedSum::new`] with a choice of noise.
    pub fn with_noise(lower: f64, upper: f64, epsilon: f64, noise: Noise) -> Fallible<Self> {
        let fixed = FixedPoint::new(lower, upper)?;
        let privacy = Privacy::new(epsilon, noise)?;
        Ok(BoundedSum { fixed, privacy })
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

    pub fn cost(&self) -> PrivacyCost {
        self.privacy.cost()
    }

    /// Mechanism, scale and 95 % interval of a release (in the values' units).
    pub fn explain(&self) -> Fallible<Explanation> {
        let m = self.privacy.mechanism(self.fixed.sensitivity, (1, 1))?;
        let half = self.fixed.units_to_value(m.half_width_95());
        Ok(Explanation {
            function: "dp_sum",
            mechanism: m.name(),
            cost: self.cost(),
            parts: vec![NoisePart {
                name: "sum",
                mechanism: m.name(),
                sensitivity: self.fixed.units_to_value(self.fixed.sensitivity as f64),
                scale: self.fixed.units_to_value(m.scale()),
                half_width_95: half,
            }],
            half_width_95: Some(half),
            meaning: format!(
                "with 95% probability the released sum is within ±{half} of the exact sum of the values clamped to [{}, {}]",
                self.lower(),
                self.upper()
            ),
        })
    }
}

/// Mergeable state of `dp_sum`: parameters and the exact fixed-point sum.
#[derive(Debug, Clone, PartialEq)]
pub struct DpSumAccumulator {
    pub params: BoundedSum,
    pub sum: i128,
}

/// Size of [`DpSumAccumulator::to_bytes`] with Laplace noise (Gaussian adds 8 bytes of δ).
pub const DP_SUM_STATE_BYTES: usize = 3 * 8 + 16;

impl DpSumAccumulator {
    pub fn new(params: BoundedSum) -> Self {
        DpSumAccumulator { params, sum: 0 }
    }

    /// Adds one value; NaN is skipped like NULL.
    #[inline]
    pub fn update(&mut self, x: f64) {
        if !x.is_nan() {
            self.sum = self.sum.saturating_add(self.params.fixed.to_units(x));
        }
    }

    /// Adds many values at once (NaN skipped): same result as `update` on each, faster.
    pub fn update_slice(&mut self, xs: &[f64]) {
        self.sum = self.sum.saturating_add(self.params.fixed.sum_units(xs).1);
    }

    /// GROUP BY in one pass: adds [`DpSumAccumulator::units`] of `xs[i]` to
    /// `partials[groups[i]]` (NaN skipped), and with `counts` 1 to `counts[groups[i]]`. The caller joins the i64 partials into i128
    /// sums before [`super::UNITS_PER_I64`] values have reached any one. The number of NaN
    /// skipped, or None (nothing added) when the bounds need the slow path (then use
    /// `units`).
    pub fn add_grouped(
        &self,
        xs: &[f64],
        groups: &[usize],
        partials: &mut [i64],
        counts: Option<&mut [u64]>,
    ) -> Option<usize> {
        self.params.fixed.add_grouped(xs, groups, partials, counts)
    }

    /// The fixed-point units `update(x)` adds to the sum; None for NaN, which it skips.
    /// At most 2^41 in magnitude, so [`super::UNITS_PER_I64`] of them sum in an i64.
    #[inline]
    pub fn units(&self, x: f64) -> Option<i64> {
        (!x.is_nan()).then(|| self.params.fixed.to_units(x) as i64)
    }

    pub fn merge(&mut self, other: &DpSumAccumulator) -> Fallible<()> {
        if self.params != other.params {
            return Err(VeilError::IncompatibleState(
                "dp_sum partial states use different arguments".into(),
            ));
        }
        self.sum = self.sum.saturating_add(other.sum);
        Ok(())
    }

    /// The noisy sum; fresh noise on every call.
    pub fn release(&self) -> Fallible<f64> {
        let p = &self.params;
        let noisy = p
            .privacy
            .mechanism(p.fixed.sensitivity, (1, 1))?
            .add_noise(IBig::from(self.sum))?;
        Ok(p.fixed.value_of_units(&noisy))
    }

    /// lower, upper, epsilon, sum (little-endian), then δ for Gaussian noise.
    pub fn to_bytes(&self) -> Vec<u8> {
        let p = &self.params;
        let mut out = Vec::with_capacity(DP_SUM_STATE_BYTES + 8);
        for f in [p.fixed.lower, p.fixed.upper, p.epsilon()] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend_from_slice(&self.sum.to_le_bytes());
        out.extend_from_slice(&p.privacy.tail_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let (head, tail) = split_tail(bytes, DP_SUM_STATE_BYTES, "dp_sum")?;
        let ([f0, f1, f2], rest) = split_f64s::<3>(head, DP_SUM_STATE_BYTES, "dp_sum")?;
        let sum = i128::from_le_bytes(rest.try_into().expect("length checked"));
        let privacy = Privacy::from_tail(f2, tail, "dp_sum")?;
        Ok(DpSumAccumulator {
            params: BoundedSum::with_noise(f0, f1, f2, privacy.noise())?,
            sum,
        })
    }
}

/// Mergeable state of `dp_count`: privacy parameters and the exact count of non-NULL values.
///
/// Privacy argument: one row changes the count by at most 1; discrete Laplace noise of
/// scale 1/ε gives ε-DP, discrete Gaussian noise of σ = 1/√(2ρ) gives ρ-zCDP. Negative
/// noisy counts are reported as 0 (post-processing).
#[derive(Debug, Clone, PartialEq)]
pub struct DpCountAccumulator {
    privacy: Privacy,
    pub count: u64,
}

/// Size of [`DpCountAccumulator::to_bytes`] with Laplace noise (Gaussian adds 8 bytes of δ).
pub const DP_COUNT_STATE_BYTES: usize = 16;

impl DpCountAccumulator {
    /// Validates the `epsilon` of `dp_count(value, epsilon)` (Laplace noise).
    pub fn new(epsilon: f64) -> Fallible<Self> {
        DpCountAccumulator::with_noise(epsilon, Noise::Laplace)
    }

    /// [`DpCountAccumulator::new`] with a choice of noise.
    pub fn with_noise(epsilon: f64, noise: Noise) -> Fallible<Self> {
        Ok(DpCountAccumulator {
            privacy: Privacy::new(epsilon, noise)?,
            count: 0,
        })
    }

    pub fn epsilon(&self) -> f64 {
        self.privacy.epsilon()
    }
    pub fn privacy(&self) -> Privacy {
        self.privacy
    }

    #[inline]
    pub fn add(&mut self, n: u64) {
        self.count = self.count.saturating_add(n);
    }

    pub fn merge(&mut self, other: &DpCountAccumulator) -> Fallible<()> {
        if self.privacy != other.privacy {
            return Err(VeilError::IncompatibleState(format!(
                "dp_count partial states use different privacy parameters: ({}) vs ({})",
                self.privacy, other.privacy
            )));
        }
        self.add(other.count);
        Ok(())
    }

    pub fn cost(&self) -> PrivacyCost {
        self.privacy.cost()
    }

    /// The noisy count, at least 0; fresh noise on every call.
    pub fn release(&self) -> Fallible<i64> {
        release_count(&self.privacy, self.count)
    }

    /// Mechanism, scale and 95 % interval of a release.
    pub fn explain(&self) -> Fallible<Explanation> {
        explain_count(&self.privacy, "dp_count", "rows with a non-NULL value")
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.epsilon().to_le_bytes().to_vec();
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.privacy.tail_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let (head, tail) = split_tail(bytes, DP_COUNT_STATE_BYTES, "dp_count")?;
        let ([eps], rest) = split_f64s::<1>(head, DP_COUNT_STATE_BYTES, "dp_count")?;
        let privacy = Privacy::from_tail(eps, tail, "dp_count")?;
        Ok(DpCountAccumulator {
            privacy,
            count: u64::from_le_bytes(rest.try_into().expect("length checked")),
        })
    }
}

/// A count of sensitivity 1 released with `privacy`, at least 0.
pub(crate) fn release_count(privacy: &Privacy, count: u64) -> Fallible<i64> {
    let noisy = privacy.mechanism(1, (1, 1))?.add_noise(IBig::from(count))?;
    Ok(i64::try_from(noisy).unwrap_or(i64::MAX).max(0))
}

/// The explanation of a count of sensitivity 1 released with `privacy`.
pub(crate) fn explain_count(
    privacy: &Privacy,
    function: &'static str,
    what: &str,
) -> Fallible<Explanation> {
    let m = privacy.mechanism(1, (1, 1))?;
    let half = m.half_width_95();
    Ok(Explanation {
        function,
        mechanism: m.name(),
        cost: privacy.cost(),
        parts: vec![NoisePart {
            name: "count",
            mechanism: m.name(),
            sensitivity: 1.0,
            scale: m.scale(),
            half_width_95: half,
        }],
        half_width_95: Some(half),
        meaning: format!(
            "with 95% probability the released count is within ±{half} of the exact number of {what} (negative results are reported as 0)"
        ),
    })
}

/// Splits an encoded state into its fixed head of `len` bytes and its noise tail (0 or 8
/// bytes).
pub(crate) fn split_tail<'a>(
    bytes: &'a [u8],
    len: usize,
    what: &str,
) -> Fallible<(&'a [u8], &'a [u8])> {
    if bytes.len() != len && bytes.len() != len + 8 {
        return Err(VeilError::IncompatibleState(format!(
            "{what} state must be {len} or {} bytes, got {}",
            len + 8,
            bytes.len()
        )));
    }
    Ok(bytes.split_at(len))
}

/// Checks the length of an encoded state and reads its first N little-endian f64s; the
/// returned array's tail is the remaining bytes.
pub(crate) fn split_f64s<'a, const N: usize>(
    bytes: &'a [u8],
    len: usize,
    what: &str,
) -> Fallible<([f64; N], &'a [u8])> {
    if bytes.len() != len {
        return Err(VeilError::IncompatibleState(format!(
            "{what} state must be {len} bytes, got {}",
            bytes.len()
        )));
    }
    let mut out = [0.0; N];
    for (i, v) in out.iter_mut().enumerate() {
        *v = f64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("length checked"));
    }
    Ok((out, &bytes[N * 8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_is_near_truth_clamped_and_mergeable() {
        let p = BoundedSum::new(0.0, 10.0, 1.0).unwrap();
        let mut a = DpSumAccumulator::new(p.clone());
        let mut b = DpSumAccumulator::new(p);
        for i in 0..1000 {
            a.update((i % 5) as f64); // sum 2000
        }
        b.update(50.0); // clamped to 10
        b.update(f64::NAN);
        let b = DpSumAccumulator::from_bytes(&b.to_bytes()).unwrap();
        a.merge(&b).unwrap();
        let v = a.release().unwrap();
        assert!((v - 2010.0).abs() < 200.0, "{v}"); // Laplace scale 10: 20 sd
        let other = DpSumAccumulator::new(BoundedSum::new(0.0, 11.0, 1.0).unwrap());
        assert!(a.merge(&other).is_err());
        assert!(BoundedSum::new(0.0, 1.0, 0.0).is_err());
    }

    #[test]
    fn units_are_what_update_adds() {
        for (lo, hi) in [(0.0, 10.0), (-7.5, 3.0), (-1e300, 1e308), (1e-300, 2e-300)] {
            let p = BoundedSum::new(lo, hi, 1.0).unwrap();
            let m = crate::dp::BoundedMean::new(lo, hi, 1.0).unwrap();
            for x in [lo, hi, (lo + hi) / 3.0, f64::INFINITY, -5.5, f64::NAN] {
                let mut a = DpSumAccumulator::new(p.clone());
                a.update(x);
                let u = a.units(x);
                assert_eq!(u.is_none(), x.is_nan(), "{x}");
                assert_eq!(u.map_or(0, i128::from), a.sum, "{lo} {hi} {x}");
                assert!(u.unwrap_or(0).unsigned_abs() <= 1 << 41);
                let mut mean = crate::dp::DpMeanAccumulator::new(m.clone());
                mean.update(x);
                assert_eq!(mean.units(x), u);
                assert_eq!(mean.state.count, u64::from(u.is_some()));
            }
        }
    }

    #[test]
    fn count_is_near_truth_never_negative_and_mergeable() {
        let mut a = DpCountAccumulator::new(1.0).unwrap();
        a.add(1000);
        let b = DpCountAccumulator::from_bytes(&DpCountAccumulator::new(1.0).unwrap().to_bytes())
            .unwrap();
        a.merge(&b).unwrap();
        let v = a.release().unwrap();
        assert!((v - 1000).abs() < 30, "{v}");
        let empty = DpCountAccumulator::new(0.1).unwrap();
        assert!((0..200).all(|_| empty.release().unwrap() >= 0));
        assert!(a.merge(&DpCountAccumulator::new(2.0).unwrap()).is_err());
        assert!(DpCountAccumulator::new(-1.0).is_err());
        assert!(DpCountAccumulator::from_bytes(&[0; 3]).is_err());
    }

    const GAUSS: Noise = Noise::Gaussian { delta: 1e-6 };

    #[test]
    fn gaussian_count_and_sum_are_accurate_round_trip_and_refuse_mixing() {
        let mut c = DpCountAccumulator::with_noise(1.0, GAUSS).unwrap();
        c.add(10_000);
        let bytes = c.to_bytes();
        assert_eq!(bytes.len(), DP_COUNT_STATE_BYTES + 8);
        let c2 = DpCountAccumulator::from_bytes(&bytes).unwrap();
        assert_eq!(c2, c);
        let e = c.explain().unwrap();
        assert_eq!(e.mechanism, "discrete Gaussian");
        assert_eq!(e.cost.rho, c.privacy().rho());
        let hw = e.half_width_95.unwrap();
        // ρ(1, 1e-6) ≈ 0.0187: σ ≈ 5.2, 95 % within ≈ ±10
        assert!((9.0..=12.0).contains(&hw), "{hw}");
        let within = (0..400)
            .filter(|_| (c.release().unwrap() - 10_000).abs() as f64 <= hw)
            .count();
        assert!(within >= 360, "{within}");
        let mut laplace = DpCountAccumulator::new(1.0).unwrap();
        assert!(laplace.merge(&c).is_err());

        let p = BoundedSum::with_noise(-10.0, 10.0, 0.5, GAUSS).unwrap();
        let mut s = DpSumAccumulator::new(p);
        s.update_slice(&[3.0; 1000]);
        let s2 = DpSumAccumulator::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(s2, s);
        let e = s.params.explain().unwrap();
        assert_eq!(e.parts[0].sensitivity, 10.0);
        let hw = e.half_width_95.unwrap();
        let within = (0..400)
            .filter(|_| (s.release().unwrap() - 3000.0).abs() <= hw)
            .count();
        assert!(within >= 360, "{within} within ±{hw}");
        assert!(
            BoundedSum::with_noise(0.0, 1.0, 1.0, Noise::Gaussian { delta: 0.0 })
                .unwrap_err()
                .to_string()
                .contains("`delta`")
        );
    }

    #[test]
    fn laplace_explanations_give_scale_and_interval() {
        let e = DpCountAccumulator::new(0.5).unwrap().explain().unwrap();
        assert_eq!(e.parts[0].scale, 2.0);
        assert_eq!(e.cost, PrivacyCost::pure(0.5));
        // ≈ b ln 20 = 5.99 for the continuous Laplace
        assert_eq!(e.half_width_95, Some(6.0));
        assert!(e.to_string().contains("dp_count: discrete Laplace"), "{e}");
        let e = BoundedSum::new(0.0, 100.0, 1.0).unwrap().explain().unwrap();
        assert_eq!(e.parts[0].sensitivity, 100.0);
        assert!((e.parts[0].scale - 100.0).abs() < 1e-9);
        let hw = e.half_width_95.unwrap();
        assert!((hw - 100.0 * 20f64.ln()).abs() < 1.0, "{hw}");
    }
}
