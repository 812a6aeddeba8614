//! A statistical test of differential privacy, after Google's DP stochastic tester: run a
//! mechanism many times on two neighbouring inputs, histogram the outputs, and measure
//! how far the histograms break the (ε, δ) inequality
//! `P[M(D) ∈ S] ≤ e^ε · P[M(D') ∈ S] + δ` in either direction:
//! `Σ_bins max(0, p_i − e^ε q_i)`. A sound mechanism scores near 0 (sampling noise only);
//! a mechanism with too little noise scores clearly above.

use std::collections::BTreeMap;

/// Empirical (ε, δ) violation of two samples of outputs already put into integer bins,
/// the larger of the two directions.
pub fn privacy_violation(a: &[i64], b: &[i64], epsilon: f64) -> f64 {
    let hist = |xs: &[i64]| {
        let mut h: BTreeMap<i64, f64> = BTreeMap::new();
        for &x in xs {
            *h.entry(x).or_insert(0.0) += 1.0 / xs.len() as f64;
        }
        h
    };
    let (p, q) = (hist(a), hist(b));
    let one_way = |p: &BTreeMap<i64, f64>, q: &BTreeMap<i64, f64>| -> f64 {
        p.iter()
            .map(|(k, pk)| (pk - epsilon.exp() * q.get(k).copied().unwrap_or(0.0)).max(0.0))
            .sum()
    };
    one_way(&p, &q).max(one_way(&q, &p))
}

/// Bins a float output into buckets of `width`.
pub fn bin(x: f64, width: f64) -> i64 {
    (x / width).floor() as i64
}

#[cfg(test)]
mod tests {
    use dashu::integer::IBig;
    use dashu::rational::RBig;

    use super::*;
    use crate::dp::{
        BoundedMean, BoundedQuantile, BoundedSum, BoundedVariance, DiscreteGaussian,
        DiscreteLaplace, DpCountAccumulator, DpCountDistinctAccumulator, DpMeanAccumulator,
        DpQuantileAccumulator, DpSumAccumulator, DpTopKAccumulator, DpVarianceAccumulator, Noise,
        Spread, TopK,
    };

    const N: usize = 20_000;
    /// Sampling noise inflates the statistic of a sound mechanism to ~0.01–0.03 at
    /// N = 20,000 draws; the broken mechanisms below score 0.3 and more.
    const TOLERANCE: f64 = 0.06;

    fn draws(n: usize, mut f: impl FnMut() -> i64) -> Vec<i64> {
        (0..n).map(|_| f()).collect()
    }

    #[test]
    fn dp_count_passes() {
        let eps = 1.0;
        let mut d = DpCountAccumulator::new(eps).unwrap();
        d.add(100);
        let mut d2 = DpCountAccumulator::new(eps).unwrap();
        d2.add(101);
        let a = draws(N, || d.release().unwrap());
        let b = draws(N, || d2.release().unwrap());
        let v = privacy_violation(&a, &b, eps);
        assert!(v <= TOLERANCE, "violation {v}");
    }

    #[test]
    fn the_tester_catches_a_count_with_half_the_noise() {
        // claims ε = 1 but adds noise for ε = 2: the true privacy loss is 2
        let broken = DiscreteLaplace::new(1, 2.0).unwrap();
        let sample =
            |c: i64| -> i64 { i64::try_from(broken.add_noise(IBig::from(c)).unwrap()).unwrap() };
        let a = draws(N, || sample(100));
        let b = draws(N, || sample(101));
        let v = privacy_violation(&a, &b, 1.0);
        assert!(
            v > 3.0 * TOLERANCE,
            "a broken mechanism passed: violation {v}"
        );
    }

    #[test]
    fn dp_sum_passes_and_a_sum_ignoring_clamping_fails() {
        let eps = 1.0;
        let params = BoundedSum::new(0.0, 10.0, eps).unwrap();
        let mut d = DpSumAccumulator::new(params.clone());
        (0..10).for_each(|_| d.update(5.0));
        let mut d2 = d.clone();
        d2.update(1000.0); // clamped to 10: neighbours differ by the sensitivity
        let a = draws(N, || bin(d.release().unwrap(), 2.0));
        let b = draws(N, || bin(d2.release().unwrap(), 2.0));
        let v = privacy_violation(&a, &b, eps);
        assert!(v <= TOLERANCE, "violation {v}");

        // without clamping the same noise hides a difference of 30, not 10
        let unclamped = DiscreteLaplace::new(10, eps).unwrap();
        let a = draws(N, || {
            i64::try_from(unclamped.add_noise(IBig::from(50)).unwrap()).unwrap()
        });
        let b = draws(N, || {
            i64::try_from(unclamped.add_noise(IBig::from(80)).unwrap()).unwrap()
        });
        let v = privacy_violation(&a, &b, eps);
        assert!(
            v > 3.0 * TOLERANCE,
            "a broken mechanism passed: violation {v}"
        );
    }

    #[test]
    fn dp_mean_passes() {
        let eps = 1.0;
        let mut d = DpMeanAccumulator::new(BoundedMean::new(0.0, 10.0, eps).unwrap());
        (0..20).for_each(|_| d.update(5.0));
        let mut d2 = d.clone();
        d2.update(10.0);
        let a = draws(N, || bin(d.release().unwrap(), 0.5));
        let b = draws(N, || bin(d2.release().unwrap(), 0.5));
        let v = privacy_violation(&a, &b, eps);
        assert!(v <= TOLERANCE, "violation {v}");
    }

    #[test]
    fn gaussian_count_passes_and_a_gaussian_with_a_tenth_of_sigma_fails() {
        let (eps, delta) = (1.0, 1e-6);
        let gauss = Noise::Gaussian { delta };
        let mut d = DpCountAccumulator::with_noise(eps, gauss).unwrap();
        d.add(100);
        let mut d2 = d.clone();
        d2.add(1);
        let a = draws(N, || d.release().unwrap());
        let b = draws(N, || d2.release().unwrap());
        let v = privacy_violation(&a, &b, eps);
        assert!(v <= TOLERANCE + delta, "violation {v}");

        // claims (1, 1e-6) but uses σ/10: ρ is 100 times what it claims
        let sigma = DiscreteGaussian::new(1, &RBig::try_from(d.privacy().rho().unwrap()).unwrap())
            .unwrap()
            .sigma();
        let broken =
            DiscreteGaussian::new(1, &RBig::try_from(0.5 / (sigma * sigma / 100.0)).unwrap())
                .unwrap();
        assert!((broken.sigma() - sigma / 10.0).abs() < 1e-9);
        let sample = |c: i64| i64::try_from(broken.add_noise(IBig::from(c)).unwrap()).unwrap();
        let a = draws(N, || sample(100));
        let b = draws(N, || sample(101));
        let v = privacy_violation(&a, &b, eps);
        assert!(
            v > 3.0 * TOLERANCE,
            "a broken mechanism passed: violation {v}"
        );
    }

    #[test]
    fn privacy_unit_shares_pass_and_unscaled_ones_fail() {
        use crate::dp::Privacy;
        // Laplace: one unit adds 3 rows to the count; the aggregate runs with ε / 3
        let eps = 1.0;
        let count = |epsilon: f64, rows: u64| {
            let mut d = DpCountAccumulator::new(epsilon).unwrap();
            d.add(rows);
            d
        };
        let share = Privacy::laplace(eps).unwrap().unit_epsilon(1, 3).unwrap();
        let (d, d2) = (count(share, 100), count(share, 103));
        let v = privacy_violation(
            &draws(N, || d.release().unwrap()),
            &draws(N, || d2.release().unwrap()),
            eps,
        );
        assert!(v <= TOLERANCE, "violation {v}");
        let (d, d2) = (count(eps, 100), count(eps, 103));
        let v = privacy_violation(
            &draws(N, || d.release().unwrap()),
            &draws(N, || d2.release().unwrap()),
            eps,
        );
        assert!(v > 3.0 * TOLERANCE, "unscaled Laplace passed: {v}");

        // Gaussian: one unit adds 5 rows to each of 4 groups' counts. With equal shifts
        // the sum of the four noisy counts is a sufficient statistic, so testing it
        // tests the joint release.
        let delta = 1e-6;
        let gauss = Noise::Gaussian { delta };
        let groups = |epsilon: f64, rows: u64| -> Vec<DpCountAccumulator> {
            (0..4)
                .map(|_| {
                    let mut d = DpCountAccumulator::with_noise(epsilon, gauss).unwrap();
                    d.add(rows);
                    d
                })
                .collect()
        };
        let total = |ds: &[DpCountAccumulator], width: f64| {
            bin(ds.iter().map(|d| d.release().unwrap() as f64).sum(), width)
        };
        let share = Privacy::new(eps, gauss)
            .unwrap()
            .unit_epsilon(4, 5)
            .unwrap();
        let (d, d2) = (groups(share, 100), groups(share, 105));
        let v = privacy_violation(
            &draws(N, || total(&d, 10.0)),
            &draws(N, || total(&d2, 10.0)),
            eps,
        );
        assert!(v <= TOLERANCE + delta, "violation {v}");
        let (d, d2) = (groups(eps, 100), groups(eps, 105));
        let v = privacy_violation(
            &draws(N, || total(&d, 1.0)),
            &draws(N, || total(&d2, 1.0)),
            eps,
        );
        assert!(v > 3.0 * TOLERANCE, "unscaled Gaussian passed: {v}");
    }

    #[test]
    fn partition_selection_passes_and_one_without_its_threshold_fails() {
        use crate::dp::PartitionSelection;
        let (eps, delta) = (1.0, 0.05);
        let s = PartitionSelection::new(eps, delta).unwrap();
        // A group of one row against no group at all (never released): the δ part
        let absent = vec![0i64; N];
        let one = draws(N, || i64::from(s.keep(1).unwrap()));
        let v = privacy_violation(&one, &absent, eps);
        assert!(v <= delta + TOLERANCE, "violation {v}");
        // Neighbouring counts of a group: the ε part
        let three = draws(N, || i64::from(s.keep(3).unwrap()));
        let four = draws(N, || i64::from(s.keep(4).unwrap()));
        let v = privacy_violation(&three, &four, eps);
        assert!(v <= delta + TOLERANCE, "violation {v}");

        // Broken: releasing every group whose noisy count reaches 1 (no δ threshold) shows
        // a one-row group most of the time
        let noise = DiscreteLaplace::new(1, eps).unwrap();
        let broken = draws(N, || {
            i64::from(noise.add_noise(IBig::from(1)).unwrap() >= IBig::from(1))
        });
        let v = privacy_violation(&broken, &absent, eps);
        assert!(
            v > delta + 3.0 * TOLERANCE,
            "a broken mechanism passed: violation {v}"
        );
    }

    #[test]
    fn gaussian_mean_passes() {
        let eps = 1.0;
        let p = BoundedMean::with_noise(0.0, 10.0, eps, Noise::Gaussian { delta: 1e-6 }).unwrap();
        let mut d = DpMeanAccumulator::new(p);
        (0..20).for_each(|_| d.update(5.0));
        let mut d2 = d.clone();
        d2.update(10.0);
        let a = draws(N, || bin(d.release().unwrap(), 0.5));
        let b = draws(N, || bin(d2.release().unwrap(), 0.5));
        let v = privacy_violation(&a, &b, eps);
        assert!(v <= TOLERANCE, "violation {v}");
    }

    #[test]
    fn dp_variance_passes_and_one_with_a_tenth_of_the_square_sensitivity_fails() {
        let eps = 1.0;
        for noise in [Noise::Laplace, Noise::Gaussian { delta: 1e-6 }] {
            let p = BoundedVariance::new(0.0, 10.0, eps, noise, Spread::Variance).unwrap();
            let mut d = DpVarianceAccumulator::new(p);
            (0..20).for_each(|_| d.update(5.0));
            let mut d2 = d.clone();
            d2.update(10.0);
            let a = draws(N, || bin(d.release().unwrap(), 0.5));
            let b = draws(N, || bin(d2.release().unwrap(), 0.5));
            let v = privacy_violation(&a, &b, eps);
            assert!(v <= TOLERANCE, "{noise:?}: violation {v}");
        }
        let p = BoundedVariance::new(0.0, 10.0, eps, Noise::Laplace, Spread::StdDev)
            .unwrap()
            .broken_square_sensitivity(10);
        let mut d = DpVarianceAccumulator::new(p);
        (0..20).for_each(|_| d.update(5.0));
        let mut d2 = d.clone();
        d2.update(10.0);
        let a = draws(N, || bin(d.release().unwrap(), 0.1));
        let b = draws(N, || bin(d2.release().unwrap(), 0.1));
        let v = privacy_violation(&a, &b, eps);
        assert!(
            v > 3.0 * TOLERANCE,
            "a broken mechanism passed: violation {v}"
        );
    }

    #[test]
    fn dp_count_distinct_passes_and_one_with_a_third_of_the_noise_fails() {
        let eps = 1.0;
        let mut d = DpCountDistinctAccumulator::new(eps, Noise::Laplace).unwrap();
        (0..50u64).for_each(|i| d.update(&(i % 10).to_le_bytes()));
        let mut d2 = d.clone();
        d2.update(&99u64.to_le_bytes()); // a new distinct value
        let a = draws(N, || d.release().unwrap());
        let b = draws(N, || d2.release().unwrap());
        let v = privacy_violation(&a, &b, eps);
        assert!(v <= TOLERANCE, "violation {v}");

        // broken: the same states released with the noise of ε = 3 while claiming ε = 1
        let mut weak = DpCountDistinctAccumulator::new(3.0 * eps, Noise::Laplace).unwrap();
        (0..50u64).for_each(|i| weak.update(&(i % 10).to_le_bytes()));
        let mut weak2 = weak.clone();
        weak2.update(&99u64.to_le_bytes());
        let a = draws(N, || weak.release().unwrap());
        let b = draws(N, || weak2.release().unwrap());
        let v = privacy_violation(&a, &b, eps);
        assert!(
            v > 3.0 * TOLERANCE,
            "a broken mechanism passed: violation {v}"
        );
    }

    #[test]
    fn dp_quantile_passes_and_one_with_a_quarter_of_the_scale_fails() {
        let eps = 1.0;
        for q in [0.5, 0.2] {
            let p = BoundedQuantile::with_bins(q, 0.0, 10.0, eps, 16).unwrap();
            let mut d = DpQuantileAccumulator::new(p.clone());
            (0..20).for_each(|i| d.update(i as f64 * 0.5));
            let mut d2 = d.clone();
            d2.update(10.0);
            let a = draws(N, || bin(d.release().unwrap(), 0.625));
            let b = draws(N, || bin(d2.release().unwrap(), 0.625));
            let v = privacy_violation(&a, &b, eps);
            assert!(v <= TOLERANCE, "q {q}: violation {v}");
            if q == 0.5 {
                let broken = p.broken_selection(4.0);
                let a = draws(N, || {
                    bin(p.release_with(&broken, &d.counts).unwrap(), 0.625)
                });
                let b = draws(N, || {
                    bin(p.release_with(&broken, &d2.counts).unwrap(), 0.625)
                });
                let v = privacy_violation(&a, &b, eps);
                assert!(
                    v > 3.0 * TOLERANCE,
                    "a broken mechanism passed: violation {v}"
                );
            }
        }
    }

    #[test]
    fn dp_mode_and_top_k_pass_and_one_with_a_third_of_the_scale_fails() {
        let eps = 1.0;
        let cands: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        // the outputs as one integer: the indices of the picks in order
        let code = |picks: Vec<String>| {
            picks.iter().fold(0i64, |acc, p| {
                acc * 4 + cands.iter().position(|c| c == p).unwrap() as i64
            })
        };
        for k in [1, 2] {
            let p = TopK::new(cands.clone(), k, eps).unwrap();
            let mut d = DpTopKAccumulator::new(p.clone());
            d.counts = vec![5, 4, 4, 1];
            let mut d2 = d.clone();
            d2.update("b");
            let a = draws(N, || code(d.release().unwrap()));
            let b = draws(N, || code(d2.release().unwrap()));
            let v = privacy_violation(&a, &b, eps);
            assert!(v <= TOLERANCE, "k {k}: violation {v}");
            if k == 1 {
                let broken = p.broken_selection(3.0);
                let a = draws(N, || code(p.release_with(&broken, &d.counts).unwrap()));
                let b = draws(N, || code(p.release_with(&broken, &d2.counts).unwrap()));
                let v = privacy_violation(&a, &b, eps);
                assert!(
                    v > 3.0 * TOLERANCE,
                    "a broken mechanism passed: violation {v}"
                );
            }
        }
    }

    #[test]
    fn violation_of_identical_and_disjoint_samples() {
        assert_eq!(privacy_violation(&[1, 2, 3], &[1, 2, 3], 0.1), 0.0);
        assert!((privacy_violation(&[1, 1], &[2, 2], 1.0) - 1.0).abs() < 1e-12);
    }
}
