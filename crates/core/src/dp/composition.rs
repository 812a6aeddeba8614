//! How to split a total privacy budget over `n` queries: `veil_advise_composition`.
//!
//! * basic: ε/n per query (δ/n for approximate-DP queries) — sequential composition.
//! * advanced: ε-DP queries composed with the advanced composition theorem (Dwork,
//!   Rothblum, Vadhan 2010): n queries of ε₀ are (√(2n ln(1/δ)) ε₀ + n ε₀ (e^ε₀ − 1), δ)-DP.
//! * zcdp: zero-concentrated DP (Bun, Steinke 2016): a total ρ with
//!   ε = ρ + 2√(ρ ln(1/δ)), split as ρ/n per query; an ε₀-DP (Laplace) query is
//!   (ε₀²/2)-zCDP, a Gaussian query spends its ρ directly.
//!
//! The advice with the largest per-query ε is the one to use; the others are shown so the
//! trade-off is visible.

use crate::error::{Fallible, VeilError};

/// One composition rule's advice.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub rule: &'static str,
    /// ε for each of the n (Laplace / pure-DP) queries.
    pub per_query_epsilon: f64,
    /// δ for each query (0 for pure-DP queries).
    pub per_query_delta: f64,
    /// ρ for each query under zCDP (Gaussian queries), None for the other rules.
    pub per_query_rho: Option<f64>,
}

/// Per-query budgets so that `n` queries together stay within (`epsilon_total`, `delta`).
/// `delta` = 0 allows only basic composition.
pub fn advise(epsilon_total: f64, n: u64, delta: f64) -> Fallible<Vec<Advice>> {
    if !(epsilon_total.is_finite() && epsilon_total > 0.0) {
        return Err(VeilError::invalid(
            "epsilon_total",
            format!("must be a finite number greater than 0, got {epsilon_total}"),
        ));
    }
    if n == 0 {
        return Err(VeilError::invalid("n_queries", "must be at least 1"));
    }
    if !(0.0..1.0).contains(&delta) {
        return Err(VeilError::invalid(
            "delta",
            format!("must be at least 0 and below 1, got {delta}"),
        ));
    }
    let k = n as f64;
    let mut out = vec![Advice {
        rule: "basic",
        per_query_epsilon: epsilon_total / k,
        per_query_delta: delta / k,
        per_query_rho: None,
    }];
    if delta > 0.0 {
        let ln = (1.0 / delta).ln();
        // The advanced bound grows with ε₀: bisect for the largest ε₀ within the total.
        let total = |e0: f64| (2.0 * k * ln).sqrt() * e0 + k * e0 * e0.exp_m1();
        let (mut lo, mut hi) = (0.0f64, epsilon_total);
        for _ in 0..200 {
            let mid = (lo + hi) / 2.0;
            if total(mid) <= epsilon_total {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        out.push(Advice {
            rule: "advanced",
            per_query_epsilon: lo,
            per_query_delta: 0.0,
            per_query_rho: None,
        });
        let rho = ((ln + epsilon_total).sqrt() - ln.sqrt()).powi(2);
        out.push(Advice {
            rule: "zcdp",
            per_query_epsilon: (2.0 * rho / k).sqrt(),
            per_query_delta: 0.0,
            per_query_rho: Some(rho / k),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_stay_within_the_total() {
        let a = advise(1.0, 100, 1e-6).unwrap();
        assert_eq!(a[0].per_query_epsilon, 0.01);
        let adv = a[1].per_query_epsilon;
        let k = 100.0;
        let ln = 1e6f64.ln();
        let spent = (2.0 * k * ln).sqrt() * adv + k * adv * adv.exp_m1();
        assert!(spent <= 1.0 && spent > 0.999, "{spent}");
        // zCDP: n queries of ε₀ give ρ = n ε₀²/2, which converts back to ε_total.
        let rho = k * a[2].per_query_epsilon.powi(2) / 2.0;
        let eps = rho + 2.0 * (rho * ln).sqrt();
        assert!((eps - 1.0).abs() < 1e-9, "{eps}");
        // Many queries: advanced and zCDP beat basic; few queries: basic wins.
        let many = advise(1.0, 1000, 1e-6).unwrap();
        assert!(many[2].per_query_epsilon > many[0].per_query_epsilon);
        let few = advise(1.0, 2, 1e-6).unwrap();
        assert!(few[0].per_query_epsilon > few[1].per_query_epsilon);
        assert_eq!(advise(1.0, 10, 0.0).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_argument() {
        assert!(advise(0.0, 1, 0.0)
            .unwrap_err()
            .to_string()
            .contains("`epsilon_total`"));
        assert!(advise(1.0, 0, 0.0)
            .unwrap_err()
            .to_string()
            .contains("`n_queries`"));
        assert!(advise(1.0, 1, 1.0)
            .unwrap_err()
            .to_string()
            .contains("`delta`"));
    }
}
