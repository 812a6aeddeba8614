//! DP variance and standard deviation of bounded values: `dp_variance`, `dp_stddev`.

use dashu::integer::IBig;

use super::explain::{Explanation, NoisePart};
use super::fixed::{FixedPoint, FIXED_POINT_BITS};
use super::noise::{Reader, PRIVACY_BYTES};
use super::{scale_pow2, Noise, Privacy, PrivacyCost};
use crate::error::{Fallible, VeilError};

/// Which statistic a [`BoundedVariance`] releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Population variance (divides by n).
    Variance,
    /// Its square root.
    StdDev,
}

impl Spread {
    fn function(self) -> &'static str {
        match self {
            Spread::Variance => "dp_variance",
            Spread::StdDev => "dp_stddev",
        }
    }
}

/// Parameters of a DP variance (or standard deviation) of values clamped to
/// `[lower, upper]`.
///
/// Computation: each value x is clamped, centred at the midpoint m of the bounds
/// (variance is shift-invariant, and centring halves the magnitudes), and quantized to
/// u = round((x − m)/q) with |u| ≤ S (see `FixedPoint`); its square is kept as the integer
/// w = round(u² / 2^k), with k chosen so that w ≤ 2^41. Count, Σu and Σw are exact
/// integers (no float summation error); one row changes them by at most 1, S and W =
/// round(S²/2^k) — these per-row transformations bound the sensitivities whatever the data.
///
/// Budget split: count, Σu and Σw each get a third — ε/3 of discrete Laplace noise each
/// (basic composition: ε), or ρ/3 of discrete Gaussian noise each (zCDP composition: ρ).
/// The release, Σw·2^k q²/ñ − (Σu q/ñ)² with ñ = max(noisy count, 1), clamped to
/// [0, ((upper − lower)/2)²] (the largest variance on the interval), is post-processing.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedVariance {
    lower: f64,
    upper: f64,
    mid: f64,
    /// Quantization of the centred values.
    centred: FixedPoint,
    /// Right shift of u² to its stored square.
    shift: u32,
    /// Sensitivity of Σw.
    square_sensitivity: u128,
    privacy: Privacy,
    spread: Spread,
}

impl BoundedVariance {
    /// Validates the arguments of `dp_variance(value, lower, upper, epsilon)` /
    /// `dp_stddev(…)`.
    pub fn new(
        lower: f64,
        upper: f64,
        epsilon: f64,
        noise: Noise,
        spread: Spread,
    ) -> Fallible<Self> {
        FixedPoint::new(lower, upper)?;
        let privacy = Privacy::new(epsilon, noise)?;
        let mid = lower / 2.0 + upper / 2.0;
        let half_range = upper / 2.0 - lower / 2.0;
        if !(half_range * half_range).is_finite() {
            return Err(VeilError::invalid(
                "upper",
                format!("((upper − lower)/2)² must be a finite number (the largest variance), got lower = {lower}, upper = {upper}"),
            ));
        }
        let centred = FixedPoint::new(lower - mid, upper - mid)?;
        let s = centred.sensitivity;
        let square_bits = 128 - (s * s).leading_zeros();
        let shift = square_bits.saturating_sub(FIXED_POINT_BITS as u32 + 1);
        Ok(BoundedVariance {
            lower,
            upper,
            mid,
            centred,
            shift,
            square_sensitivity: square_units(s as i128, shift) as u128,
            privacy,
            spread,
        })
    }

    pub fn lower(&self) -> f64 {
        self.lower
    }
    pub fn upper(&self) -> f64 {
        self.upper
    }
    pub fn epsilon(&self) -> f64 {
        self.privacy.epsilon()
    }
    pub fn privacy(&self) -> Privacy {
        self.privacy
    }
    pub fn spread(&self) -> Spread {
        self.spread
    }

    pub fn cost(&self) -> PrivacyCost {
        self.privacy.cost()
    }

    /// A deliberately broken copy that claims the same ε but noises the sum of squares as
    /// if one row could change it by 1/`divisor` of the true sensitivity: for the DP tester.
    #[cfg(test)]
    pub(crate) fn broken_square_sensitivity(mut self, divisor: u128) -> Self {
        self.square_sensitivity /= divisor;
        self
    }

    /// Adds one value (NaN skipped like NULL).
    pub fn accumulate(&self, state: &mut VarianceState, x: f64) {
        if x.is_nan() {
            return;
        }
        let u = self
            .centred
            .to_units(x.clamp(self.lower, self.upper) - self.mid);
        state.count = state.count.saturating_add(1);
        state.sum = state.sum.saturating_add(u);
        state.sum_squares = state
            .sum_squares
            .saturating_add(square_units(u, self.shift));
    }

    /// The value of `units` stored squares.
    fn squares_to_value(&self, units: f64) -> f64 {
        scale_pow2(units, 2 * self.centred.exp + self.shift as i32)
    }

    /// Releases the noisy variance or standard deviation; fresh noise on every call.
    pub fn release(&self, state: &VarianceState) -> Fallible<f64> {
        let third = (1, 3);
        let p = &self.privacy;
        let n = p.mechanism(1, third)?.add_noise(IBig::from(state.count))?;
        let s = p
            .mechanism(self.centred.sensitivity, third)?
            .add_noise(IBig::from(state.sum))?;
        let w = p
            .mechanism(self.square_sensitivity, third)?
            .add_noise(IBig::from(state.sum_squares))?;
        let n = n.to_f64().value().max(1.0);
        let mean = self.centred.value_of_units(&s) / n;
        let mean_square = self.squares_to_value(w.to_f64().value()) / n;
        let half_range = self.upper / 2.0 - self.lower / 2.0;
        let var = (mean_square - mean * mean).clamp(0.0, half_range * half_range);
        Ok(match self.spread {
            Spread::Variance => var,
            Spread::StdDev => var.sqrt(),
        })
    }

    /// Mechanism, scales and 95 % noise of the three parts; the released value's error
    /// depends on the (private) row count, so only a first-order formula in n is given.
    pub fn explain(&self) -> Fallible<Explanation> {
        let third = (1, 3);
        let count = self.privacy.mechanism(1, third)?;
        let sum = self.privacy.mechanism(self.centred.sensitivity, third)?;
        let squares = self.privacy.mechanism(self.square_sensitivity, third)?;
        let (tc, ts, tw) = (
            count.half_width_95(),
            self.centred.units_to_value(sum.half_width_95()),
            self.squares_to_value(squares.half_width_95()),
        );
        let m = self.upper / 2.0 - self.lower / 2.0;
        let what = match self.spread {
            Spread::Variance => "variance",
            Spread::StdDev => "variance (the standard deviation is its square root)",
        };
        Ok(Explanation {
            function: self.spread.function(),
            mechanism: count.name(),
            cost: self.cost(),
            parts: vec![
                NoisePart {
                    name: "count",
                    mechanism: count.name(),
                    sensitivity: 1.0,
                    scale: count.scale(),
                    half_width_95: tc,
                },
                NoisePart {
                    name: "sum of centred values",
                    mechanism: sum.name(),
                    sensitivity: self.centred.units_to_value(self.centred.sensitivity as f64),
                    scale: self.centred.units_to_value(sum.scale()),
                    half_width_95: ts,
                },
                NoisePart {
                    name: "sum of squared centred values",
                    mechanism: squares.name(),
                    sensitivity: self.squares_to_value(self.square_sensitivity as f64),
                    scale: self.squares_to_value(squares.scale()),
                    half_width_95: tw,
                },
            ],
            half_width_95: None,
            meaning: format!(
                "values are clamped to [{}, {}] and centred at {}; each third of the budget noises one part, and with at least 85% probability (all three parts within their 95% intervals), for n rows the {what} is within about ±({tw} + 2·{m}·{ts} + 3·{m}²·{tc}) / (n − {tc}) of the exact one (first-order bound)",
                self.lower, self.upper, self.mid
            ),
        })
    }
}

/// round(u² / 2^shift), half away from zero, in integers.
fn square_units(u: i128, shift: u32) -> i128 {
    let sq = u.unsigned_abs() * u.unsigned_abs();
    let rounded = if shift == 0 {
        sq
    } else {
        (sq >> shift) + ((sq >> (shift - 1)) & 1)
    };
    rounded as i128
}

/// Mergeable partial state of a DP variance: exact count, Σu and Σw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VarianceState {
    pub count: u64,
    pub sum: i128,
    pub sum_squares: i128,
}

impl VarianceState {
    pub fn merge(&mut self, other: &VarianceState) {
        self.count = self.count.saturating_add(other.count);
        self.sum = self.sum.saturating_add(other.sum);
        self.sum_squares = self.sum_squares.saturating_add(other.sum_squares);
    }
}

/// Parameters plus state of `dp_variance` / `dp_stddev`.
#[derive(Debug, Clone, PartialEq)]
pub struct DpVarianceAccumulator {
    pub params: BoundedVariance,
    pub state: VarianceState,
}

/// Size of [`DpVarianceAccumulator::to_bytes`].
pub const DP_VARIANCE_STATE_BYTES: usize = PRIVACY_BYTES + 2 * 8 + 1 + 8 + 16 + 16;

impl DpVarianceAccumulator {
    pub fn new(params: BoundedVariance) -> Self {
        DpVarianceAccumulator {
            params,
            state: VarianceState::default(),
        }
    }

    pub fn update(&mut self, x: f64) {
        self.params.accumulate(&mut self.state, x);
    }

    pub fn update_slice(&mut self, xs: &[f64]) {
        xs.iter().for_each(|&x| self.update(x));
    }

    pub fn merge(&mut self, other: &DpVarianceAccumulator) -> Fallible<()> {
        if self.params != other.params {
            return Err(VeilError::IncompatibleState(format!(
                "{} partial states use different arguments",
                self.params.spread.function()
            )));
        }
        self.state.merge(&other.state);
        Ok(())
    }

    pub fn release(&self) -> Fallible<f64> {
        self.params.release(&self.state)
    }

    /// privacy (ε, noise tag, δ), lower, upper, spread (0 variance, 1 stddev), count, Σu,
    /// Σw; little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let p = &self.params;
        let mut out = Vec::with_capacity(DP_VARIANCE_STATE_BYTES);
        out.extend_from_slice(&p.privacy.to_bytes());
        out.extend_from_slice(&p.lower.to_le_bytes());
        out.extend_from_slice(&p.upper.to_le_bytes());
        out.push(match p.spread {
            Spread::Variance => 0,
            Spread::StdDev => 1,
        });
        out.extend_from_slice(&self.state.count.to_le_bytes());
        out.extend_from_slice(&self.state.sum.to_le_bytes());
        out.extend_from_slice(&self.state.sum_squares.to_le_bytes());
        out
    }

    /// Decodes [`DpVarianceAccumulator::to_bytes`], re-validating the parameters.
    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let (privacy, rest) = Privacy::from_bytes(bytes, "dp_variance")?;
        let mut r = Reader {
            bytes: rest,
            what: "dp_variance",
        };
        let (lower, upper) = (r.f64()?, r.f64()?);
        let spread = match r.take(1)?[0] {
            0 => Spread::Variance,
            1 => Spread::StdDev,
            t => {
                return Err(VeilError::IncompatibleState(format!(
                    "dp_variance state has an unknown kind {t}"
                )))
            }
        };
        let params =
            BoundedVariance::new(lower, upper, privacy.epsilon(), privacy.noise(), spread)?;
        let state = VarianceState {
            count: r.u64()?,
            sum: r.i128()?,
            sum_squares: r.i128()?,
        };
        r.finish()?;
        Ok(DpVarianceAccumulator { params, state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(lower: f64, upper: f64, eps: f64) -> BoundedVariance {
        BoundedVariance::new(lower, upper, eps, Noise::Laplace, Spread::Variance).unwrap()
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let msg = |r: Fallible<BoundedVariance>| r.unwrap_err().to_string();
        let v = |l, u, e, n| BoundedVariance::new(l, u, e, n, Spread::Variance);
        assert!(msg(v(1.0, 0.0, 1.0, Noise::Laplace)).contains("`lower`"));
        assert!(msg(v(0.0, f64::INFINITY, 1.0, Noise::Laplace)).contains("`upper`"));
        assert!(msg(v(-1e308, 1e308, 1.0, Noise::Laplace)).contains("`upper`"));
        assert!(msg(v(0.0, 1.0, 0.0, Noise::Laplace)).contains("`epsilon`"));
        assert!(msg(v(0.0, 1.0, 1.0, Noise::Gaussian { delta: 2.0 })).contains("`delta`"));
    }

    #[test]
    fn sensitivities_bound_every_row() {
        for (lo, hi) in [
            (0.0, 100.0),
            (-7.5, 3.0),
            (1e-300, 2e-300),
            (-1e150, 1e150),
            (5.0, 5.0),
        ] {
            let p = var(lo, hi, 1.0);
            assert!(
                p.square_sensitivity <= 1u128 << (FIXED_POINT_BITS + 1),
                "{lo} {hi}"
            );
            for x in [
                lo,
                hi,
                (lo + hi) / 2.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                lo * 0.3 + hi * 0.7,
            ] {
                let mut s = VarianceState::default();
                p.accumulate(&mut s, x);
                assert!(
                    s.sum.unsigned_abs() <= p.centred.sensitivity,
                    "{lo} {hi} {x}"
                );
                assert!(
                    s.sum_squares.unsigned_abs() <= p.square_sensitivity,
                    "{lo} {hi} {x}"
                );
                assert!(s.sum_squares >= 0);
            }
        }
        assert_eq!(square_units(3, 0), 9);
        assert_eq!(square_units(-3, 1), 5); // 4.5 rounds up
        assert_eq!(square_units(3, 2), 2); // 2.25
    }

    fn data() -> Vec<f64> {
        // uniform on 0..=100: variance (101² − 1)/12 = 850
        (0..100_000u64).map(|i| (i % 101) as f64).collect()
    }

    #[test]
    fn variance_and_stddev_are_accurate_on_large_n_and_within_bounds() {
        for noise in [Noise::Laplace, Noise::Gaussian { delta: 1e-6 }] {
            let p = BoundedVariance::new(0.0, 100.0, 1.0, noise, Spread::Variance).unwrap();
            let mut acc = DpVarianceAccumulator::new(p);
            acc.update_slice(&data());
            for _ in 0..10 {
                let v = acc.release().unwrap();
                assert!((v - 850.0).abs() < 10.0, "{noise:?} {v}");
            }
            let p = BoundedVariance::new(0.0, 100.0, 1.0, noise, Spread::StdDev).unwrap();
            let mut acc = DpVarianceAccumulator::new(p);
            acc.update_slice(&data());
            let sd = acc.release().unwrap();
            assert!((sd - 850f64.sqrt()).abs() < 0.3, "{sd}");
        }
        // exact arithmetic: with no noise left over, the centred sums give the true variance
        let p = var(-3.0, 5.0, 1.0);
        let mut s = VarianceState::default();
        for x in [-3.0, 5.0, 1.0, 1.0, 9.0] {
            p.accumulate(&mut s, x); // 9 clamped to 5
        }
        let n = s.count as f64;
        let mean = p.centred.value_of_units(&IBig::from(s.sum)) / n;
        let ms = p.squares_to_value(s.sum_squares as f64) / n;
        let exact = [-3.0f64, 5.0, 1.0, 1.0, 5.0];
        let m = exact.iter().sum::<f64>() / 5.0;
        let v = exact.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 5.0;
        assert!(
            (ms - mean * mean - v).abs() < 1e-9,
            "{} vs {v}",
            ms - mean * mean
        );
        // without rows, or with few, the release stays in [0, (range/2)²]
        let empty = DpVarianceAccumulator::new(var(-1.0, 3.0, 0.1));
        for _ in 0..200 {
            let v = empty.release().unwrap();
            assert!((0.0..=4.0).contains(&v), "{v}");
        }
    }

    #[test]
    fn split_and_merged_states_equal_one_pass_and_bytes_round_trip() {
        for noise in [Noise::Laplace, Noise::Gaussian { delta: 1e-9 }] {
            let p = BoundedVariance::new(-50.0, 50.0, 0.7, noise, Spread::StdDev).unwrap();
            let xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 80.0).collect();
            let mut whole = DpVarianceAccumulator::new(p.clone());
            whole.update_slice(&xs);
            let mut left = DpVarianceAccumulator::new(p.clone());
            let mut right = DpVarianceAccumulator::new(p);
            left.update_slice(&xs[..400]);
            right.update_slice(&xs[400..]);
            let bytes = right.to_bytes();
            assert_eq!(bytes.len(), DP_VARIANCE_STATE_BYTES);
            left.merge(&DpVarianceAccumulator::from_bytes(&bytes).unwrap())
                .unwrap();
            assert_eq!(left, whole);
        }
        let mut a = DpVarianceAccumulator::new(var(0.0, 1.0, 1.0));
        let b = DpVarianceAccumulator::new(var(0.0, 2.0, 1.0));
        assert!(a.merge(&b).is_err());
        let mut bytes = a.to_bytes();
        bytes.push(0);
        assert!(DpVarianceAccumulator::from_bytes(&bytes).is_err());
        assert!(DpVarianceAccumulator::from_bytes(&bytes[..30]).is_err());
    }

    #[test]
    fn explanation_lists_three_parts_with_a_third_each() {
        let e = var(0.0, 100.0, 0.3).explain().unwrap();
        assert_eq!(e.function, "dp_variance");
        assert_eq!(e.parts.len(), 3);
        // centred at 50: sensitivity 50 for the sum, 2500 for the squares; b = 3Δ/ε = 10Δ
        assert_eq!(e.parts[1].sensitivity, 50.0);
        assert!((e.parts[0].scale - 10.0).abs() < 1e-9);
        assert!((e.parts[1].scale - 500.0).abs() < 1e-6);
        assert!((e.parts[2].sensitivity / 2500.0 - 1.0).abs() < 1e-9);
        assert!(e.meaning.contains("n rows"));
    }
}
