//! ε-DP sum of clamped values and ε-DP count.

use dashu::integer::IBig;

use super::fixed::FixedPoint;
use super::{check_epsilon, DiscreteLaplace, PrivacyCost};
use crate::error::{Fallible, VeilError};

/// Parameters of an ε-DP sum of values clamped to `[lower, upper]`.
///
/// Privacy argument (add/remove-one-row neighbours): the fixed-point sum changes by at most
/// Δ quanta (see `FixedPoint`); discrete Laplace noise of scale Δ/ε gives ε-DP.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedSum {
    fixed: FixedPoint,
    epsilon: f64,
}

impl BoundedSum {
    /// Validates the arguments of `dp_sum(value, lower, upper, epsilon)`.
    pub fn new(lower: f64, upper: f64, epsilon: f64) -> Fallible<Self> {
        let fixed = FixedPoint::new(lower, upper)?;
        check_epsilon(epsilon)?;
        Ok(BoundedSum { fixed, epsilon })
    }

    pub fn lower(&self) -> f64 {
        self.fixed.lower
    }
    pub fn upper(&self) -> f64 {
        self.fixed.upper
    }
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    pub fn cost(&self) -> PrivacyCost {
        PrivacyCost::pure(self.epsilon)
    }
}

/// Mergeable state of `dp_sum`: parameters and the exact fixed-point sum.
#[derive(Debug, Clone, PartialEq)]
pub struct DpSumAccumulator {
    pub params: BoundedSum,
    pub sum: i128,
}

/// Size of [`DpSumAccumulator::to_bytes`].
pub const DP_SUM_STATE_BYTES: usize = 3 * 8 + 16;

impl DpSumAccumulator {
    pub fn new(params: BoundedSum) -> Self {
        DpSumAccumulator { params, sum: 0 }
    }

    /// Adds one value; NaN is skipped like NULL.
    pub fn update(&mut self, x: f64) {
        if !x.is_nan() {
            self.sum = self.sum.saturating_add(self.params.fixed.to_units(x));
        }
    }

    /// Adds many values at once (NaN skipped): same result as `update` on each, faster.
    pub fn update_slice(&mut self, xs: &[f64]) {
        self.sum = self.sum.saturating_add(self.params.fixed.sum_units(xs).1);
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
        let noisy = DiscreteLaplace::new(p.fixed.sensitivity, p.epsilon)?
            .add_noise(IBig::from(self.sum))?;
        Ok(p.fixed.from_units(&noisy))
    }

    /// lower, upper, epsilon, sum (little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let p = &self.params;
        let mut out = Vec::with_capacity(DP_SUM_STATE_BYTES);
        for f in [p.fixed.lower, p.fixed.upper, p.epsilon] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend_from_slice(&self.sum.to_le_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let ([f0, f1, f2], rest) = split_f64s::<3>(bytes, DP_SUM_STATE_BYTES, "dp_sum")?;
        let sum = i128::from_le_bytes(rest.try_into().expect("length checked"));
        Ok(DpSumAccumulator {
            params: BoundedSum::new(f0, f1, f2)?,
            sum,
        })
    }
}

/// Mergeable state of `dp_count`: ε and the exact count of non-NULL values.
///
/// Privacy argument: one row changes the count by at most 1; discrete Laplace noise of
/// scale 1/ε gives ε-DP. Negative noisy counts are reported as 0 (post-processing).
#[derive(Debug, Clone, PartialEq)]
pub struct DpCountAccumulator {
    epsilon: f64,
    pub count: u64,
}

/// Size of [`DpCountAccumulator::to_bytes`].
pub const DP_COUNT_STATE_BYTES: usize = 16;

impl DpCountAccumulator {
    /// Validates the `epsilon` of `dp_count(value, epsilon)`.
    pub fn new(epsilon: f64) -> Fallible<Self> {
        Ok(DpCountAccumulator {
            epsilon: check_epsilon(epsilon)?,
            count: 0,
        })
    }

    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    pub fn add(&mut self, n: u64) {
        self.count = self.count.saturating_add(n);
    }

    pub fn merge(&mut self, other: &DpCountAccumulator) -> Fallible<()> {
        if self.epsilon != other.epsilon {
            return Err(VeilError::IncompatibleState(
                "dp_count partial states use different epsilons".into(),
            ));
        }
        self.add(other.count);
        Ok(())
    }

    pub fn cost(&self) -> PrivacyCost {
        PrivacyCost::pure(self.epsilon)
    }

    /// The noisy count, at least 0; fresh noise on every call.
    pub fn release(&self) -> Fallible<i64> {
        let noisy = DiscreteLaplace::new(1, self.epsilon)?.add_noise(IBig::from(self.count))?;
        Ok(i64::try_from(noisy).unwrap_or(i64::MAX).max(0))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.epsilon.to_le_bytes().to_vec();
        out.extend_from_slice(&self.count.to_le_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let ([eps], rest) = split_f64s::<1>(bytes, DP_COUNT_STATE_BYTES, "dp_count")?;
        let mut acc = DpCountAccumulator::new(eps)?;
        acc.count = u64::from_le_bytes(rest.try_into().expect("length checked"));
        Ok(acc)
    }
}

/// Checks the length of an encoded state and reads its first N little-endian f64s; the
/// returned array's tail is the remaining bytes.
fn split_f64s<'a, const N: usize>(
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
}
