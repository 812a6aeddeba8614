//! DP partition selection: which GROUP BY groups may be released at all.
//!
//! A group's key is itself personal data (a group of one person names that person), so a
//! grouped DP query releases a group only if its row count plus discrete Laplace noise
//! (scale 1/ε) reaches a threshold T. With each individual in at most one group (every row
//! is one individual), neighbouring datasets differ in one group's count by one:
//!
//! * both counts ≥ 1: the noisy comparison is post-processing of an ε-DP count;
//! * one group exists only in one dataset (count 1 vs absent): it is released with
//!   probability P(1 + Z ≥ T) = P(Z ≥ T − 1) = p^(T−1) / (1 + p), p = e^(−ε), for the
//!   discrete Laplace Z. T = 1 + ⌈ln(1 / (δ (1 + p))) / ε⌉ makes that at most δ.
//!
//! So selection is (ε, δ)-DP (Korolova et al. 2009; Wilson et al., "Differentially Private
//! SQL with Bounded User Contribution", 2020), charged like any other mechanism.

use dashu::integer::IBig;

use super::{check_epsilon, DiscreteLaplace, PrivacyCost};
use crate::error::{Fallible, VeilError};

/// Laplace partition selection with parameters (ε, δ).
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSelection {
    epsilon: f64,
    delta: f64,
    threshold: u64,
    noise: DiscreteLaplace,
}

impl PartitionSelection {
    pub fn new(epsilon: f64, delta: f64) -> Fallible<Self> {
        check_epsilon(epsilon)?;
        if !(delta > 0.0 && delta < 1.0) {
            return Err(VeilError::invalid(
                "delta",
                format!("partition selection needs 0 < delta < 1, got {delta}"),
            ));
        }
        let p = (-epsilon).exp();
        // Rounded up (and nudged up against float error): a larger T only lowers δ.
        let steps = ((1.0 / (delta * (1.0 + p))).ln() / epsilon + 1e-9)
            .ceil()
            .max(0.0);
        if !steps.is_finite() || steps > 1e15 {
            return Err(VeilError::invalid(
                "epsilon",
                format!("gives an unusable partition threshold with delta = {delta}"),
            ));
        }
        Ok(PartitionSelection {
            epsilon,
            delta,
            threshold: 1 + steps as u64,
            noise: DiscreteLaplace::new(1, epsilon)?,
        })
    }

    /// The noisy row count a group needs to be released.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    pub fn cost(&self) -> PrivacyCost {
        PrivacyCost {
            epsilon: self.epsilon,
            delta: self.delta,
            rho: None,
        }
    }

    /// Whether a group of `count` rows is released (fresh noise on every call).
    pub fn keep(&self, count: u64) -> Fallible<bool> {
        let noisy = self.noise.add_noise(IBig::from(count))?;
        Ok(noisy >= IBig::from(self.threshold))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_bounds_the_release_of_a_single_row_group_by_delta() {
        for (eps, delta) in [(1.0f64, 1e-6), (0.5, 1e-5), (0.1, 0.01), (2.0, 0.3)] {
            let s = PartitionSelection::new(eps, delta).unwrap();
            let p: f64 = (-eps).exp();
            let t = s.threshold() as i32;
            // P(Z ≥ T − 1) ≤ δ, and T − 1 is the smallest such threshold (up to rounding).
            let tail = |m: i32| if m <= 0 { 1.0 } else { p.powi(m) / (1.0 + p) };
            assert!(
                tail(t - 1) <= delta * (1.0 + 1e-9),
                "{eps} {delta}: T = {t}"
            );
            assert!(
                tail(t - 3) > delta,
                "{eps} {delta}: T = {t} is needlessly high"
            );
        }
        assert_eq!(
            PartitionSelection::new(1.0, 1e-6).unwrap().cost().delta,
            1e-6
        );
    }

    #[test]
    fn empirical_release_rates_match_the_guarantee() {
        // ε = 1, δ = 0.05: a one-row group is released at most ~5 % of the time, a large
        // group always, and neighbouring counts' rates differ by at most e^ε (+ δ).
        let s = PartitionSelection::new(1.0, 0.05).unwrap();
        let rate = |c: u64| {
            let n = 20_000;
            (0..n).filter(|_| s.keep(c).unwrap()).count() as f64 / n as f64
        };
        let r1 = rate(1);
        assert!(r1 <= 0.05 + 0.01, "single-row group released {r1}");
        let r2 = rate(2);
        assert!(r2 <= std::f64::consts::E * r1 + 0.05 + 0.02, "{r2} vs {r1}");
        assert!(rate(s.threshold() + 40) > 0.999);
    }

    #[test]
    fn bad_parameters_name_the_argument() {
        for (e, d, arg) in [
            (0.0, 1e-6, "`epsilon`"),
            (1.0, 0.0, "`delta`"),
            (1.0, 1.0, "`delta`"),
        ] {
            let err = PartitionSelection::new(e, d).unwrap_err();
            assert!(err.to_string().contains(arg), "{err}");
        }
    }
}
