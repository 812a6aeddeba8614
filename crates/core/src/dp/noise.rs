//! Integer noise from OpenDP's exact samplers, and the choice between Laplace and
//! Gaussian noise.
//!
//! * Discrete Laplace (`sample_discrete_laplace`): P[Z = z] ∝ exp(−|z|/b). For an integer
//!   query of sensitivity Δ, b = Δ/ε gives ε-DP.
//! * Discrete Gaussian (`sample_discrete_gaussian`): P[Z = z] ∝ exp(−z²/(2σ²)). For an
//!   integer query of sensitivity Δ it gives ρ-zCDP with ρ = Δ²/(2σ²) (Canonne, Kamath,
//!   Steinke 2020, Theorem 4), hence (ρ + 2√(ρ ln(1/δ)), δ)-DP for every δ > 0 (Bun,
//!   Steinke 2016, Proposition 1.3).
//!
//! Both samplers are exact (rational arithmetic, CSPRNG bits): no floating-point noise.

use dashu::integer::IBig;
use dashu::rational::RBig;
use opendp::traits::samplers::{sample_discrete_gaussian, sample_discrete_laplace};

use super::budget::{epsilon_of_rho, rho_for};
use super::{check_epsilon, PrivacyCost};
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
        check_epsilon(epsilon)?;
        Ok(DiscreteLaplace {
            scale: RBig::from(sensitivity) / exact(epsilon, "epsilon")?,
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

    /// The smallest integer t with P[|Z| > t] ≤ 0.05. For the discrete Laplace with
    /// p = e^{−1/b}, P[|Z| ≥ k] = 2p^k/(1 + p) for k ≥ 1.
    pub fn half_width_95(&self) -> f64 {
        let b = self.scale();
        if b == 0.0 {
            return 0.0;
        }
        let p = (-1.0 / b).exp();
        // P[|Z| ≥ t+1] ≤ 0.05  ⇔  t + 1 ≥ b ln(2 / (0.05 (1 + p)))
        ((b * (40.0 / (1.0 + p)).ln()).ceil() - 1.0).max(0.0)
    }
}

/// The discrete Gaussian mechanism on integers: adds noise with
/// P[Z = z] ∝ exp(−z² / (2σ²)). For a query of integer sensitivity Δ it is ρ-zCDP with
/// ρ = Δ² / (2σ²) (CKS20 Theorem 4).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteGaussian {
    sigma: RBig,
}

impl DiscreteGaussian {
    /// The mechanism for a query of integer `sensitivity` spending at most `rho` (exact
    /// rational, > 0): σ is Δ/√(2ρ) rounded up to an f64 for which Δ²/(2σ²) ≤ ρ holds
    /// exactly.
    pub fn new(sensitivity: u128, rho: &RBig) -> Fallible<Self> {
        if *rho <= RBig::ZERO {
            return Err(VeilError::invalid("rho", "must be greater than 0"));
        }
        let delta = RBig::from(sensitivity);
        let mut sigma = (sensitivity as f64) / (2.0 * rho.to_f64().value()).sqrt();
        if !sigma.is_finite() {
            return Err(VeilError::invalid(
                "delta",
                "gives a Gaussian noise scale too large to represent",
            ));
        }
        loop {
            let s = exact(sigma, "delta")?;
            if &delta * &delta <= RBig::from(2) * rho * &s * &s {
                return Ok(DiscreteGaussian { sigma: s });
            }
            sigma = sigma.next_up();
        }
    }

    /// σ, for reporting.
    pub fn sigma(&self) -> f64 {
        self.sigma.to_f64().value()
    }

    /// Returns `value + Z`, Z drawn exactly by OpenDP's CKS20 sampler from the CSPRNG.
    pub fn add_noise(&self, value: IBig) -> Fallible<IBig> {
        let z = sample_discrete_gaussian(self.sigma.clone())
            .map_err(|e| VeilError::Noise(e.to_string()))?;
        Ok(value + z)
    }

    /// The smallest integer t with P[|Z| > t] ≤ 0.05: summed from the probability mass
    /// function for small σ, ⌈1.96 σ⌉ (the continuous value, which the discrete Gaussian
    /// matches to within e^{−2π²σ²} by Poisson summation) for σ ≥ 50.
    pub fn half_width_95(&self) -> f64 {
        let s = self.sigma();
        if s == 0.0 {
            return 0.0;
        }
        if s >= 50.0 {
            return (1.959_963_984_540_054 * s).ceil();
        }
        let weight = |z: f64| (-(z * z) / (2.0 * s * s)).exp();
        let last = (40.0 * s).ceil() + 40.0;
        let mut total = 1.0;
        let mut z = 1.0;
        while z <= last {
            total += 2.0 * weight(z);
            z += 1.0;
        }
        let mut inside = 1.0;
        let mut t = 0.0;
        while inside / total < 0.95 {
            t += 1.0;
            inside += 2.0 * weight(t);
        }
        t
    }
}

/// The DP aggregates whose noise the `veil.noise` setting chooses (the others use the
/// exponential mechanism or partition selection, whatever the setting).
pub const NOISE_CHOICE: [&str; 6] = [
    "dp_count",
    "dp_count_distinct",
    "dp_sum",
    "dp_mean",
    "dp_variance",
    "dp_stddev",
];

/// Which noise distribution a mechanism adds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// Discrete Laplace: pure ε-DP. The default.
    Laplace,
    /// Discrete Gaussian: ρ-zCDP with the largest ρ whose (ε, δ) conversion
    /// ρ + 2√(ρ ln(1/δ)) stays within ε, so the release is (ε, δ)-DP.
    Gaussian { delta: f64 },
}

impl Noise {
    /// Reads a `veil.noise`-style setting: `laplace`, or `gaussian` with `delta` given.
    pub fn parse(name: &str, delta: Option<f64>) -> Fallible<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "laplace" => Ok(Noise::Laplace),
            "gaussian" => match delta {
                Some(delta) => Ok(Noise::Gaussian { delta }),
                None => Err(VeilError::invalid(
                    "delta",
                    "Gaussian noise needs a delta in (0, 1)",
                )),
            },
            _ => Err(VeilError::invalid(
                "noise",
                format!("must be 'laplace' or 'gaussian', got {name:?}"),
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Noise::Laplace => "laplace",
            Noise::Gaussian { .. } => "gaussian",
        }
    }
}

/// The validated privacy parameters of one release: ε and the noise that spends it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Privacy {
    epsilon: f64,
    noise: Noise,
    /// ρ of Gaussian noise (0 for Laplace).
    rho: f64,
}

impl Privacy {
    /// Checks ε (finite, > 0) and, for Gaussian noise, δ (in (0, 1)).
    pub fn new(epsilon: f64, noise: Noise) -> Fallible<Self> {
        check_epsilon(epsilon)?;
        let rho = match noise {
            Noise::Laplace => 0.0,
            Noise::Gaussian { delta } => {
                if !(delta > 0.0 && delta < 1.0) {
                    return Err(VeilError::invalid(
                        "delta",
                        format!(
                            "must be greater than 0 and below 1 for Gaussian noise, got {delta}"
                        ),
                    ));
                }
                let mut rho = rho_for(epsilon, delta);
                // float rounding must not let the conversion exceed the ε asked for
                while rho > 0.0 && epsilon_of_rho(rho, delta) > epsilon {
                    rho = rho.next_down();
                }
                if !(rho > 0.0 && rho.is_finite()) {
                    return Err(VeilError::invalid(
                        "delta",
                        format!("gives no usable ρ with epsilon = {epsilon}, got {delta}"),
                    ));
                }
                rho
            }
        };
        Ok(Privacy {
            epsilon,
            noise,
            rho,
        })
    }

    /// Pure ε-DP with Laplace noise.
    pub fn laplace(epsilon: f64) -> Fallible<Self> {
        Privacy::new(epsilon, Noise::Laplace)
    }

    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
    pub fn noise(&self) -> Noise {
        self.noise
    }
    /// δ of Gaussian noise, 0 for Laplace.
    pub fn delta(&self) -> f64 {
        match self.noise {
            Noise::Laplace => 0.0,
            Noise::Gaussian { delta } => delta,
        }
    }
    /// ρ of Gaussian noise, None for Laplace.
    pub fn rho(&self) -> Option<f64> {
        match self.noise {
            Noise::Laplace => None,
            Noise::Gaussian { .. } => Some(self.rho),
        }
    }

    /// The privacy loss of one release, whatever the number of noised parts.
    pub fn cost(&self) -> PrivacyCost {
        match self.noise {
            Noise::Laplace => PrivacyCost::pure(self.epsilon),
            Noise::Gaussian { delta } => PrivacyCost::zcdp(self.epsilon, delta, self.rho),
        }
    }

    /// The noise for one part of a release: an integer query of `sensitivity` that gets
    /// `share` = (numerator, denominator) of the budget — ε·share (Laplace, basic
    /// composition) or ρ·share (Gaussian, zCDP composition). The shares of a release's
    /// parts must sum to at most 1; the split is done in exact rationals.
    pub(crate) fn mechanism(&self, sensitivity: u128, share: (u32, u32)) -> Fallible<Mechanism> {
        let share = RBig::from(share.0) / RBig::from(share.1);
        Ok(match self.noise {
            Noise::Laplace => Mechanism::Laplace(DiscreteLaplace {
                scale: RBig::from(sensitivity) / (exact(self.epsilon, "epsilon")? * share),
            }),
            Noise::Gaussian { .. } => Mechanism::Gaussian(DiscreteGaussian::new(
                sensitivity,
                &(exact(self.rho, "delta")? * share),
            )?),
        })
    }

    /// The bytes an accumulator appends after its ε to record the noise: nothing for
    /// Laplace (the original encodings), δ for Gaussian.
    pub(crate) fn tail_bytes(&self) -> Vec<u8> {
        match self.noise {
            Noise::Laplace => Vec::new(),
            Noise::Gaussian { delta } => delta.to_le_bytes().to_vec(),
        }
    }

    /// Inverse of [`Privacy::tail_bytes`]: `tail` is empty or 8 bytes.
    pub(crate) fn from_tail(epsilon: f64, tail: &[u8], what: &str) -> Fallible<Self> {
        match tail.len() {
            0 => Privacy::laplace(epsilon),
            8 => {
                let delta = f64::from_le_bytes(tail.try_into().expect("8 bytes"));
                Privacy::new(epsilon, Noise::Gaussian { delta })
            }
            n => Err(VeilError::IncompatibleState(format!(
                "{what} state has {n} bytes of noise parameters, expected 0 or 8"
            ))),
        }
    }
}

impl Privacy {
    /// The ε each group's aggregate runs with when one privacy unit may contribute up to
    /// `rows` rows to each of up to `groups` groups, so that the whole release stays within
    /// this (ε, noise) for the unit.
    ///
    /// * Laplace: a unit changes the groups' values by at most `groups × rows` times the
    ///   per-row sensitivity in L1 norm, so each group runs with ε / (groups × rows).
    /// * Gaussian: the change is at most √groups × rows times the per-row sensitivity in L2
    ///   norm, and ρ-zCDP scales with its square: each group runs with the ε whose ρ (at
    ///   the same δ) is ρ / (groups × rows²): noise √groups × rows times larger (Bun &
    ///   Steinke 2016, zCDP of the Gaussian mechanism at L2 sensitivity). The returned ε is
    ///   lowered until [`Privacy::new`] gives a ρ within that share, so float rounding
    ///   never spends more than the query is charged.
    pub fn unit_epsilon(&self, groups: u64, rows: u64) -> Fallible<f64> {
        if groups == 0 || rows == 0 {
            return Err(VeilError::invalid(
                "contributions",
                "max_groups_contributed and max_rows_contributed must be at least 1",
            ));
        }
        match self.noise {
            Noise::Laplace => Ok(self.epsilon / (groups as f64 * rows as f64)),
            Noise::Gaussian { delta } => {
                let target = self.rho / (groups as f64 * (rows as f64) * (rows as f64));
                let mut epsilon = epsilon_of_rho(target, delta).min(self.epsilon);
                for _ in 0..10_000 {
                    check_epsilon(epsilon).map_err(|_| {
                        VeilError::invalid(
                            "epsilon",
                            format!(
                                "{} split over {groups} groups × {rows} rows of one privacy unit leaves no usable Gaussian noise",
                                self.epsilon
                            ),
                        )
                    })?;
                    let share = Privacy::new(epsilon, self.noise)?;
                    if share.rho <= target {
                        return Ok(epsilon);
                    }
                    epsilon = epsilon.next_down();
                }
                Err(VeilError::invalid(
                    "epsilon",
                    "no Gaussian share of the privacy unit's budget found within float rounding",
                ))
            }
        }
    }
}

/// Size of [`Privacy::to_bytes`].
pub(crate) const PRIVACY_BYTES: usize = 17;

impl Privacy {
    /// ε, a noise tag (0 Laplace, 1 Gaussian) and δ (0 for Laplace), little-endian: the
    /// header of the newer accumulators' encodings.
    pub(crate) fn to_bytes(self) -> [u8; PRIVACY_BYTES] {
        let mut out = [0u8; PRIVACY_BYTES];
        out[..8].copy_from_slice(&self.epsilon.to_le_bytes());
        out[8] = match self.noise {
            Noise::Laplace => 0,
            Noise::Gaussian { .. } => 1,
        };
        out[9..].copy_from_slice(&self.delta().to_le_bytes());
        out
    }

    /// Inverse of [`Privacy::to_bytes`] on the first [`PRIVACY_BYTES`] of `bytes`,
    /// re-validating; returns the rest.
    pub(crate) fn from_bytes<'a>(bytes: &'a [u8], what: &str) -> Fallible<(Self, &'a [u8])> {
        if bytes.len() < PRIVACY_BYTES {
            return Err(VeilError::IncompatibleState(format!(
                "{what} state is truncated ({} bytes)",
                bytes.len()
            )));
        }
        let f = |i: usize| f64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let noise = match bytes[8] {
            0 => Noise::Laplace,
            1 => Noise::Gaussian { delta: f(9) },
            t => {
                return Err(VeilError::IncompatibleState(format!(
                    "{what} state has an unknown noise tag {t}"
                )))
            }
        };
        Ok((Privacy::new(f(0), noise)?, &bytes[PRIVACY_BYTES..]))
    }
}

/// Reads little-endian integers off the front of an encoded state.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Fallible<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(VeilError::IncompatibleState(format!(
                "{} state is truncated",
                self.what
            )));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    pub fn u64(&mut self) -> Fallible<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn f64(&mut self) -> Fallible<f64> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn i128(&mut self) -> Fallible<i128> {
        Ok(i128::from_le_bytes(
            self.take(16)?.try_into().expect("16 bytes"),
        ))
    }
    pub fn u128(&mut self) -> Fallible<u128> {
        Ok(u128::from_le_bytes(
            self.take(16)?.try_into().expect("16 bytes"),
        ))
    }
    /// Fails unless every byte was read.
    pub fn finish(&self) -> Fallible<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(VeilError::IncompatibleState(format!(
                "{} state has {} trailing bytes",
                self.what,
                self.bytes.len()
            )))
        }
    }
}

impl std::fmt::Display for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.noise {
            Noise::Laplace => write!(f, "epsilon {}, laplace", self.epsilon),
            Noise::Gaussian { delta } => {
                write!(f, "epsilon {}, gaussian with delta {delta}", self.epsilon)
            }
        }
    }
}

/// The integer noise of one part of a release.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mechanism {
    Laplace(DiscreteLaplace),
    Gaussian(DiscreteGaussian),
}

impl Mechanism {
    pub fn add_noise(&self, value: IBig) -> Fallible<IBig> {
        match self {
            Mechanism::Laplace(m) => m.add_noise(value),
            Mechanism::Gaussian(m) => m.add_noise(value),
        }
    }

    /// b or σ, in integer units.
    pub fn scale(&self) -> f64 {
        match self {
            Mechanism::Laplace(m) => m.scale(),
            Mechanism::Gaussian(m) => m.sigma(),
        }
    }

    /// The 95 % half-width of the noise, in integer units.
    pub fn half_width_95(&self) -> f64 {
        match self {
            Mechanism::Laplace(m) => m.half_width_95(),
            Mechanism::Gaussian(m) => m.half_width_95(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::Laplace(_) => "discrete Laplace",
            Mechanism::Gaussian(_) => "discrete Gaussian",
        }
    }
}

/// An f64 as the exact rational it is.
fn exact(x: f64, argument: &'static str) -> Fallible<RBig> {
    RBig::try_from(x).map_err(|_| VeilError::invalid(argument, "must be a finite number"))
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
        let g = DiscreteGaussian::new(0, &RBig::from(1)).unwrap();
        assert_eq!(g.add_noise(IBig::from(7)).unwrap(), IBig::from(7));
    }

    fn spread(draw: impl Fn() -> f64, n: usize) -> (f64, f64) {
        let draws: Vec<f64> = (0..n).map(|_| draw()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var)
    }

    #[test]
    fn noise_has_laplace_spread() {
        // Var of the discrete Laplace with scale b is 2e^{-1/b}/(1-e^{-1/b})^2 ≈ 2b² for large b.
        // The sample variance of a Laplace (kurtosis 6) has relative SD √(5/n): 40,000 draws
        // put the 15 % bound 13 SD out (4,000 put it 4 SD out, and it failed once in CI).
        let m = DiscreteLaplace::new(10, 1.0).unwrap();
        let (mean, var) = spread(|| m.add_noise(IBig::ZERO).unwrap().to_f64().value(), 40_000);
        let p = (-0.1f64).exp();
        let expected_var = 2.0 * p / (1.0 - p).powi(2);
        assert!(mean.abs() < 1.5, "mean {mean}");
        assert!(
            (var / expected_var - 1.0).abs() < 0.15,
            "var {var} vs {expected_var}"
        );
    }

    #[test]
    fn gaussian_sigma_is_exactly_sound_and_has_gaussian_spread() {
        // Δ = 3, ρ = 1/8: σ = 3/√(1/4) = 6
        let g = DiscreteGaussian::new(3, &(RBig::from(1) / RBig::from(8))).unwrap();
        assert_eq!(g.sigma(), 6.0);
        // ρ = 0.1 (not exact in binary): Δ²/(2σ²) ≤ ρ must hold exactly
        let rho = RBig::try_from(0.1).unwrap();
        let g = DiscreteGaussian::new(7, &rho).unwrap();
        let s = RBig::try_from(g.sigma()).unwrap();
        assert!(RBig::from(49) <= RBig::from(2) * &rho * &s * &s);
        assert!((g.sigma() - 7.0 / 0.2f64.sqrt()).abs() < 1e-9);
        let g = DiscreteGaussian::new(10, &(RBig::from(1) / RBig::from(2))).unwrap(); // σ = 10
        let (mean, var) = spread(|| g.add_noise(IBig::ZERO).unwrap().to_f64().value(), 4000);
        assert!(mean.abs() < 1.0, "mean {mean}");
        assert!((var / 100.0 - 1.0).abs() < 0.15, "var {var}");
    }

    #[test]
    fn half_widths_cover_95_percent() {
        for b in [0.5, 1.0, 3.0, 20.0] {
            let m = DiscreteLaplace::new(1, 1.0 / b).unwrap();
            let t = m.half_width_95();
            let p = (-1.0 / b).exp();
            let outside = |t: f64| 2.0 * p.powf(t + 1.0) / (1.0 + p);
            assert!(
                outside(t) <= 0.05 && (t == 0.0 || outside(t - 1.0) > 0.05),
                "{b} {t}"
            );
        }
        assert_eq!(DiscreteLaplace::new(1, 0.05).unwrap().half_width_95(), 60.0); // ≈ 20 ln 20 = 59.9
        for sigma2 in [1u32, 4, 100] {
            let rho = RBig::from(1) / (RBig::from(2) * RBig::from(sigma2));
            let g = DiscreteGaussian::new(1, &rho).unwrap();
            let s = g.sigma();
            let t = g.half_width_95();
            assert!((t - 1.96 * s).abs() <= 1.0 + 0.1 * s, "σ {s}: {t}");
            let inside = (0..20_000)
                .filter(|_| g.add_noise(IBig::ZERO).unwrap().to_f64().value().abs() <= t)
                .count();
            assert!(inside >= 18_800, "σ {s} t {t}: {inside}");
        }
        let big = DiscreteGaussian::new(100, &RBig::from(1)).unwrap();
        assert_eq!(
            big.half_width_95(),
            (1.959_963_984_540_054 * big.sigma()).ceil()
        );
    }

    #[test]
    fn gaussian_privacy_stays_within_epsilon_and_splits_exactly() {
        let p = Privacy::new(1.0, Noise::Gaussian { delta: 1e-6 }).unwrap();
        let rho = p.rho().unwrap();
        assert!(epsilon_of_rho(rho, 1e-6) <= 1.0);
        assert!(epsilon_of_rho(rho, 1e-6) > 0.999_999);
        let c = p.cost();
        assert_eq!((c.epsilon, c.delta, c.rho), (1.0, 1e-6, Some(rho)));
        // a third of ρ for a part of sensitivity 1: σ = 1/√(2ρ/3)
        match p.mechanism(1, (1, 3)).unwrap() {
            Mechanism::Gaussian(g) => {
                assert!((g.sigma() - (1.5 / rho).sqrt()).abs() < 1e-9 * g.sigma())
            }
            m => panic!("{m:?}"),
        }
        match Privacy::laplace(0.3).unwrap().mechanism(5, (1, 3)).unwrap() {
            Mechanism::Laplace(l) => {
                assert_eq!(l.scale, RBig::from(15) / RBig::try_from(0.3).unwrap())
            }
            m => panic!("{m:?}"),
        }
        assert_eq!(
            Privacy::laplace(0.5).unwrap().cost(),
            PrivacyCost::pure(0.5)
        );
    }

    #[test]
    fn bad_noise_arguments_name_the_argument() {
        let msg = |r: Fallible<Privacy>| r.unwrap_err().to_string();
        for d in [0.0, 1.0, -1e-9, f64::NAN] {
            assert!(msg(Privacy::new(1.0, Noise::Gaussian { delta: d })).contains("`delta`"));
        }
        assert!(msg(Privacy::new(0.0, Noise::Laplace)).contains("`epsilon`"));
        assert!(Noise::parse("gauss", None)
            .unwrap_err()
            .to_string()
            .contains("`noise`"));
        assert!(Noise::parse("Gaussian", None)
            .unwrap_err()
            .to_string()
            .contains("`delta`"));
        assert_eq!(
            Noise::parse(" Gaussian ", Some(1e-7)).unwrap(),
            Noise::Gaussian { delta: 1e-7 }
        );
        assert_eq!(Noise::parse("laplace", None).unwrap(), Noise::Laplace);
        assert!(Privacy::from_tail(1.0, &[0; 3], "x").is_err());
        let g = Privacy::new(1.0, Noise::Gaussian { delta: 1e-5 }).unwrap();
        assert_eq!(Privacy::from_tail(1.0, &g.tail_bytes(), "x").unwrap(), g);
        let l = Privacy::laplace(0.25).unwrap();
        for p in [g, l] {
            let mut b = p.to_bytes().to_vec();
            b.push(7);
            assert_eq!(Privacy::from_bytes(&b, "x").unwrap(), (p, &[7u8][..]));
        }
        let mut b = g.to_bytes();
        b[8] = 9;
        assert!(Privacy::from_bytes(&b, "x").is_err());
        assert!(Privacy::from_bytes(&b[..5], "x").is_err());
    }

    #[test]
    fn unit_epsilon_scales_l1_for_laplace_and_l2_squared_rho_for_gaussian() {
        let laplace = Privacy::laplace(1.5).unwrap();
        assert_eq!(laplace.unit_epsilon(1, 1).unwrap(), 1.5);
        assert_eq!(laplace.unit_epsilon(3, 2).unwrap(), 0.25);
        assert!(laplace.unit_epsilon(0, 2).is_err());
        assert!(laplace.unit_epsilon(2, 0).is_err());

        for &(epsilon, delta) in &[(1.0, 1e-6), (0.3, 1e-9), (5.0, 1e-5), (50.0, 1e-6)] {
            let p = Privacy::new(epsilon, Noise::Gaussian { delta }).unwrap();
            let rho = p.rho().unwrap();
            for &(groups, rows) in &[(1u64, 1u64), (1, 3), (4, 1), (5, 7), (1, 1_000_000)] {
                let e = p.unit_epsilon(groups, rows).unwrap();
                let share = Privacy::new(e, p.noise()).unwrap().rho().unwrap();
                let bound = rho / (groups as f64 * (rows * rows) as f64);
                // never above the share, and not needlessly below it
                assert!(
                    share <= bound,
                    "{epsilon} {groups} {rows}: {share} > {bound}"
                );
                assert!(share > bound * (1.0 - 1e-9), "{share} ≪ {bound}");
                // the unit's total: groups × rows² × share ≤ ρ charged for the query
                assert!(groups as f64 * (rows * rows) as f64 * share <= rho * (1.0 + 1e-12));
            }
        }
        // noise grows as √groups × rows: σ ∝ 1/√ρ
        let p = Privacy::new(1.0, Noise::Gaussian { delta: 1e-6 }).unwrap();
        let sigma = |groups, rows| {
            let e = p.unit_epsilon(groups, rows).unwrap();
            match Privacy::new(e, p.noise())
                .unwrap()
                .mechanism(1, (1, 1))
                .unwrap()
            {
                Mechanism::Gaussian(g) => g.sigma(),
                Mechanism::Laplace(_) => unreachable!(),
            }
        };
        let ratio = sigma(4, 3) / sigma(1, 1);
        assert!((ratio - 6.0).abs() < 1e-6, "{ratio}");
    }
}
