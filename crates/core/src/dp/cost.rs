use std::fmt;

/// The privacy loss of one release under (ε, δ)-differential privacy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrivacyCost {
    pub epsilon: f64,
    pub delta: f64,
}

impl PrivacyCost {
    /// Pure ε-DP (δ = 0).
    pub fn pure(epsilon: f64) -> Self {
        PrivacyCost {
            epsilon,
            delta: 0.0,
        }
    }
}

impl fmt::Display for PrivacyCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(ε = {}, δ = {})", self.epsilon, self.delta)
    }
}
