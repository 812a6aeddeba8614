//! Private selection with OpenDP's exact permute-and-flip mechanism (McKenna & Sheldon
//! 2020), used by `dp_quantile`, `dp_median`, `dp_mode` and `dp_top_k`.
//!
//! Why this and not a hand-written exponential mechanism: OpenDP's `make_noisy_top_k` with
//! the `MaxDivergence` measure runs permute-and-flip on exact rationals — candidates are
//! visited in a uniformly random order (`sample_uniform_uint_below`) and each is accepted
//! with probability exp(−(max score − score)/scale), drawn exactly by the CKS20 Bernoulli
//! sampler — so no floating-point exponentials or inverse CDFs are involved. It is ε-DP
//! for scale = d_Range/ε (per selected candidate), where d_Range bounds how much one row can
//! change the difference between two scores, and it is never less accurate than the
//! exponential mechanism in expectation (MS20, Theorem 2). Selecting k candidates peels
//! (select, remove, repeat) and costs k times as much, so the scale is k·d_Range/ε.
//!
//! Accuracy (used by `explain`): let r* be a best candidate. The output is the first
//! candidate accepted in a random order, and r* is always accepted, so a candidate r with
//! score gap g is output only if it comes before r* (probability 1/2) and is accepted
//! (e^{−g/scale}). Over m candidates, P[gap of the output ≥ T] ≤ (m/2)·e^{−T/scale}, which
//! is 0.05 at T = scale·ln(10 m).

use opendp::domains::{AtomDomain, VectorDomain};
use opendp::measurements::make_noisy_top_k;
use opendp::measures::MaxDivergence;
use opendp::metrics::LInfDistance;

use crate::error::{Fallible, VeilError};

/// OpenDP's permute-and-flip measurement on integer scores.
type TopKMeasurement = opendp::core::Measurement<
    VectorDomain<AtomDomain<i64>>,
    LInfDistance<i64>,
    MaxDivergence,
    Vec<usize>,
>;

/// The permute-and-flip selection of `k` of the integer scores (highest first), where one
/// row changes each score by at most `sensitivity`, all in the same direction when
/// `monotonic` (else d_Range = 2·sensitivity), for ε-DP.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selection {
    pub sensitivity: i64,
    pub monotonic: bool,
    pub k: usize,
    pub epsilon: f64,
    /// The scale given to OpenDP: k·d_Range/ε, rounded up until OpenDP's own privacy map
    /// confirms ε.
    pub scale: f64,
}

impl Selection {
    pub fn new(sensitivity: i64, monotonic: bool, k: usize, epsilon: f64) -> Fallible<Self> {
        super::check_epsilon(epsilon)?;
        let range = if monotonic { 1.0 } else { 2.0 } * sensitivity as f64;
        let mut sel = Selection {
            sensitivity,
            monotonic,
            k,
            epsilon,
            scale: k as f64 * range / epsilon,
        };
        if !sel.scale.is_finite() {
            return Err(VeilError::invalid(
                "epsilon",
                format!("is too small for this selection, got {epsilon}"),
            ));
        }
        // OpenDP rounds its privacy map up: nudge the scale until the map is within ε.
        for _ in 0..64 {
            if sel.epsilon_of_opendp(k)? <= epsilon {
                return Ok(sel);
            }
            sel.scale = sel.scale.next_up();
        }
        Err(VeilError::Noise(format!(
            "OpenDP's privacy map does not confirm ε = {epsilon} for scale {}",
            sel.scale
        )))
    }

    fn measurement(&self, k: usize) -> Fallible<TopKMeasurement> {
        make_noisy_top_k(
            VectorDomain::new(AtomDomain::<i64>::default()),
            LInfDistance::new(self.monotonic),
            MaxDivergence,
            k,
            self.scale,
            false,
        )
        .map_err(|e| VeilError::Noise(e.to_string()))
    }

    /// ε of the selection according to OpenDP's privacy map.
    fn epsilon_of_opendp(&self, k: usize) -> Fallible<f64> {
        self.measurement(k)?
            .map(&self.sensitivity)
            .map_err(|e| VeilError::Noise(e.to_string()))
    }

    /// Indices of the selected scores, best first; fresh randomness on every call.
    pub fn select(&self, scores: Vec<i64>) -> Fallible<Vec<usize>> {
        let k = self.k.min(scores.len());
        self.measurement(k)?
            .invoke(&scores)
            .map_err(|e| VeilError::Noise(e.to_string()))
    }

    /// The score gap T (in score units) that a selected candidate falls short of the best
    /// remaining one by at most, with 95 % probability, among `m` candidates.
    pub fn gap_95(&self, m: usize) -> f64 {
        self.scale * (10.0 * m.max(1) as f64).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_matches_the_privacy_argument_and_opendp_confirms_it() {
        let s = Selection::new(1, true, 1, 1.0).unwrap();
        assert!((s.scale - 1.0).abs() < 1e-12);
        let s = Selection::new(3, false, 2, 0.5).unwrap();
        assert!((s.scale - 24.0).abs() < 1e-9, "{}", s.scale);
        assert!(s.epsilon_of_opendp(2).unwrap() <= 0.5);
        let s = Selection::new(1, true, 1, 0.1).unwrap(); // 1/0.1 is not exact in binary
        assert!(s.epsilon_of_opendp(1).unwrap() <= 0.1);
        assert!(Selection::new(1, true, 1, 0.0).is_err());
    }

    #[test]
    fn picks_clear_winners_and_follows_the_gap_bound() {
        let s = Selection::new(1, true, 1, 1.0).unwrap();
        assert_eq!(s.select(vec![0, 1000, 3]).unwrap(), vec![1]);
        let s2 = Selection::new(1, true, 2, 1.0).unwrap();
        assert_eq!(s2.select(vec![500, 0, 1000, 3]).unwrap(), vec![2, 0]);
        // 20 candidates, one at 0 and the rest far below: gaps beyond the bound are rare
        let mut scores = vec![-100i64; 20];
        scores[7] = 0;
        for (i, sc) in scores.iter_mut().enumerate() {
            if i != 7 {
                *sc = -(i as i64);
            }
        }
        let t = s.gap_95(20);
        let bad = (0..2000)
            .filter(|_| {
                let i = s.select(scores.clone()).unwrap()[0];
                (-scores[i]) as f64 >= t
            })
            .count();
        assert!(bad <= 100, "{bad}");
    }
}
