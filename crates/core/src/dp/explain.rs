//! What a DP release did, for `dp_explain` and result metadata: the mechanism, the noise
//! scale of each noised part, the privacy spent, and a 95 % accuracy statement.
//!
//! An explanation depends only on the parameters (bounds, ε, noise), never on the data,
//! so showing it costs no privacy.

use std::fmt;

use super::PrivacyCost;

/// One noised part of a release (e.g. the count and the sum of a mean).
#[derive(Debug, Clone, PartialEq)]
pub struct NoisePart {
    /// What is noised: "count", "sum", "sum of squares", "score" …
    pub name: &'static str,
    /// "discrete Laplace", "discrete Gaussian", or "permute-and-flip".
    pub mechanism: &'static str,
    /// How much one row can change the part, in the part's own units.
    pub sensitivity: f64,
    /// Laplace b, Gaussian σ, or the exponential-mechanism temperature, in the part's units.
    pub scale: f64,
    /// With 95 % probability the noise added to the part is at most this (in its units).
    pub half_width_95: f64,
}

/// The explanation of one DP aggregate's release.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The SQL function, e.g. "dp_mean".
    pub function: &'static str,
    /// The mechanism of the release as a whole.
    pub mechanism: &'static str,
    /// The privacy loss of one release.
    pub cost: PrivacyCost,
    pub parts: Vec<NoisePart>,
    /// When the released value itself is within ± this of the exact answer (on the clamped
    /// data) with 95 % probability, this half-width; None when the error depends on the
    /// (private) data, e.g. the row count of a mean — `meaning` then says how.
    pub half_width_95: Option<f64>,
    /// What the numbers mean, in one or two sentences.
    pub meaning: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}, cost {}",
            self.function, self.mechanism, self.cost
        )?;
        for p in &self.parts {
            write!(
                f,
                "; {} ({}): sensitivity {}, scale {}, 95% noise within ±{}",
                p.name, p.mechanism, p.sensitivity, p.scale, p.half_width_95
            )?;
        }
        if let Some(h) = self.half_width_95 {
            write!(f, "; 95% interval ±{h}")?;
        }
        write!(f, ". {}", self.meaning)
    }
}
