use dashu::integer::IBig;
use dashu::rational::RBig;
use opendp::traits::samplers::sample_discrete_laplace;

use crate::error::{Fallible, VeilError};

/// The discrete Laplace mechanism on integers: adds noise with
/// P[Z = z] ∝ exp(-|z| / scale). For a query whose value changes by at most Δ between
/// neighbouring datasets, scale = Δ / ε gives ε-differential privacy.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteLaplace {
    scale: RBig,
}

impl DiscreteLaplace {
    /// The mechanism for a query of integer `sensitivity` under privacy loss `epsilon`.
    /// The scale is the exact rational Δ/ε (ε's f64 value is exact in binary).
    pub fn new(sensitivity: u128, epsilon: f64) -> Fallible<Self> {
        super::check_epsilon(epsilon)?;
        let eps = RBig::try_from(epsilon)
            .map_err(|_| VeilError::invalid("epsilon", "must be a finite number"))?;
        Ok(DiscreteLaplace {
            scale: RBig::from(sensitivity) / eps,
        })
    }

    /// The noise scale (b of the Laplace distribution), for reporting.
    pub fn scale(&self) -> f64 {
        self.scale.to_f64().value()
    }

    /// Returns `value + Z`, Z drawn exactly by OpenDP's CKS20 sampler from the CSPRNG.
    pub fn add_noise(&self, value: IBig) -> Fallible<IBig> {
        let z = sample_discrete_laplace(self.scale.clone())
            .map_err(|e| VeilError::Noise(e.to_string()))?;
        Ok(value + z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_sensitivity_over_epsilon() {
        assert_eq!(DiscreteLaplace::new(4, 0.5).unwrap().scale(), 8.0);
        assert!(DiscreteLaplace::new(1, 0.0).is_err());
    }

    #[test]
    fn zero_sensitivity_adds_no_noise() {
        let m = DiscreteLaplace::new(0, 1.0).unwrap();
        assert_eq!(m.add_noise(IBig::from(7)).unwrap(), IBig::from(7));
    }

    #[test]
    fn noise_has_laplace_spread() {
        // Var of the discrete Laplace with scale b is 2e^{-1/b}/(1-e^{-1/b})^2 ≈ 2b² for large b.
        let m = DiscreteLaplace::new(10, 1.0).unwrap();
        let n = 4000;
        let draws: Vec<f64> = (0..n)
            .map(|_| m.add_noise(IBig::ZERO).unwrap().to_f64().value())
            .collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let p = (-0.1f64).exp();
        let expected_var = 2.0 * p / (1.0 - p).powi(2);
        assert!(mean.abs() < 1.5, "mean {mean}");
        assert!(
            (var / expected_var - 1.0).abs() < 0.15,
            "var {var} vs {expected_var}"
        );
        assert!(draws.iter().any(|&x| x != draws[0]), "noise never varies");
    }
}
