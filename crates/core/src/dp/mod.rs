//! Differentially private mechanisms.
//!
//! Noise comes only from OpenDP's exact samplers (`opendp::traits::samplers`, with the
//! `use-openssl` CSPRNG): values are summed in fixed point and noised with the discrete
//! Laplace (ε-DP, the default) or discrete Gaussian (ρ-zCDP, [`Noise::Gaussian`])
//! distribution, so no floating-point noise is ever generated and the float-sum rounding
//! error that breaks naive sensitivity analysis does not arise. Selections (quantiles,
//! modes) use OpenDP's exact permute-and-flip mechanism on integer scores.
//!
//! Every mechanism has an `explain()` giving the noise scales, the privacy spent and a 95 %
//! accuracy statement ([`Explanation`]).

pub mod budget;
pub mod composition;
mod cost;
mod count_distinct;
mod explain;
mod fixed;
mod mean;
mod noise;
mod partition;
mod quantile;
mod select;
mod sum_count;
pub mod tester;
mod top_k;
mod unit;
mod variance;

pub use cost::PrivacyCost;
pub use count_distinct::DpCountDistinctAccumulator;
pub use explain::{explain_call, Explanation, NoisePart};
pub use fixed::UNITS_PER_I64;
pub use mean::{BoundedMean, DpMeanAccumulator, MeanState};
pub use noise::{DiscreteGaussian, DiscreteLaplace, Noise, Privacy, NOISE_CHOICE};
pub use partition::PartitionSelection;
pub use quantile::{
    BoundedQuantile, DpQuantileAccumulator, DEFAULT_QUANTILE_BINS, MAX_QUANTILE_BINS,
};
pub use sum_count::{BoundedSum, DpCountAccumulator, DpSumAccumulator};
pub use top_k::{parse_candidates, DpTopKAccumulator, TopK, MAX_CANDIDATES};
pub use unit::{applicable_unit, parse_privacy_units, UnitColumn};
pub use variance::{BoundedVariance, DpVarianceAccumulator, Spread, VarianceState};

use crate::error::{Fallible, VeilError};

/// Checks a privacy-loss parameter: finite and strictly positive.
pub fn check_epsilon(epsilon: f64) -> Fallible<f64> {
    if epsilon.is_finite() && epsilon > 0.0 {
        Ok(epsilon)
    } else {
        Err(VeilError::invalid(
            "epsilon",
            format!("must be a finite number greater than 0, got {epsilon}"),
        ))
    }
}

/// The epsilon of an aggregate called without one: the session's `veil.epsilon` setting,
/// or an error (there is no built-in default: each query's privacy loss is a choice).
pub fn default_epsilon(setting: Option<f64>) -> Fallible<f64> {
    match setting {
        Some(e) => check_epsilon(e),
        None => Err(VeilError::invalid(
            "epsilon",
            "not given and veil.epsilon is not set (SET veil.epsilon = 1.0, or pass epsilon as the last argument)",
        )),
    }
}

/// Multiplies `x` by 2^k exactly (barring overflow/underflow of the result), for any k a
/// finite f64 exponent difference can produce.
pub(crate) fn scale_pow2(mut x: f64, mut k: i32) -> f64 {
    while k > 1000 {
        x *= 2f64.powi(1000);
        k -= 1000;
    }
    while k < -1000 {
        x *= 2f64.powi(-1000);
        k += 1000;
    }
    x * 2f64.powi(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_rules() {
        assert_eq!(check_epsilon(0.5), Ok(0.5));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = check_epsilon(bad).unwrap_err();
            assert!(e.to_string().contains("`epsilon`"), "{e}");
        }
    }

    #[test]
    fn pow2_scaling_is_exact_over_the_whole_range() {
        assert_eq!(scale_pow2(3.0, 4), 48.0);
        assert_eq!(
            scale_pow2(1e-300, 1037),
            1e-300 * 2f64.powi(1000) * 2f64.powi(37)
        );
        assert_eq!(scale_pow2(scale_pow2(1.5, -1060), 1060), 1.5);
    }
}
