use std::fmt;

/// The privacy loss of one release under (ε, δ)-differential privacy, plus its ρ when the
/// mechanism is ρ-zCDP (Gaussian noise): zCDP budgets spend ρ directly, basic budgets the
/// (ε, δ) it was converted to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrivacyCost {
    pub epsilon: f64,
    pub delta: f64,
    /// ρ of a ρ-zCDP mechanism whose (ε, δ) above is its conversion
    /// ρ + 2√(ρ ln(1/δ)) ≤ ε; None for ε-DP and other (ε, δ) mechanisms.
    pub rho: Option<f64>,
}

impl PrivacyCost {
    /// Pure ε-DP (δ = 0).
    pub fn pure(epsilon: f64) -> Self {
        PrivacyCost {
            epsilon,
            delta: 0.0,
            rho: None,
        }
    }

    /// A ρ-zCDP mechanism, converted to (ε, δ)-DP for basic composition.
    pub fn zcdp(epsilon: f64, delta: f64, rho: f64) -> Self {
        PrivacyCost {
            epsilon,
            delta,
            rho: Some(rho),
        }
    }
}

impl fmt::Display for PrivacyCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rho {
            None => write!(f, "(ε = {}, δ = {})", self.epsilon, self.delta),
            Some(rho) => write!(f, "(ε = {}, δ = {}, ρ = {rho})", self.epsilon, self.delta),
        }
    }
}
