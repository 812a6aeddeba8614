//! The bounded DP aggregates `f(value, lower, upper [, epsilon]) -> double precision`
//! (`dp_sum`, `dp_mean`, `dp_variance`, `dp_stddev`): one veil-core accumulator behind
//! `internal`, the same transition and final logic for each, and [`bounded_dp_aggregate!`]
//! declaring each one's support functions.

use pgrx::prelude::*;
use pgrx::Internal;
use veil_core::dp::{
    BoundedMean, BoundedSum, BoundedVariance, DpMeanAccumulator, DpSumAccumulator,
    DpVarianceAccumulator, Spread,
};
use veil_core::VeilError;

use crate::agg::{self, PartialState, Use};
use crate::error::OrRaise;
use crate::guc::Run;

/// A bounded DP aggregate's accumulator.
pub trait Bounded: PartialState {
    /// The accumulator of `function` for values clamped to [lower, upper], checked.
    fn create(
        function: &str,
        lower: f64,
        upper: f64,
        epsilon: f64,
        run: Run,
    ) -> Result<Self, VeilError>;
    /// (lower, upper, epsilon) it was created with.
    fn parameters(&self) -> (f64, f64, f64);
    fn add(&mut self, value: f64);
    fn release(&self) -> Result<f64, VeilError>;
}

/// Implements [`Bounded`] for a veil-core accumulator built (`new`) from the parameters
/// `$make(function, lower, upper, epsilon, noise)` returns.
macro_rules! impl_bounded {
    ($acc:ty, $make:expr) => {
        impl Bounded for $acc {
            fn create(
                function: &str,
                lower: f64,
                upper: f64,
                epsilon: f64,
                run: Run,
            ) -> Result<Self, VeilError> {
                let make = $make;
                make(function, lower, upper, epsilon, run.noise(function)).map(<$acc>::new)
            }
            fn parameters(&self) -> (f64, f64, f64) {
                let p = &self.params;
                (p.lower(), p.upper(), p.epsilon())
            }
            fn add(&mut self, value: f64) {
                self.update(value)
            }
            fn release(&self) -> Result<f64, VeilError> {
                <$acc>::release(self)
            }
        }
    };
}

impl_bounded!(DpSumAccumulator, |_: &str, l, u, e, noise| {
    BoundedSum::with_noise(l, u, e, noise)
});
impl_bounded!(DpMeanAccumulator, |_: &str, l, u, e, noise| {
    BoundedMean::with_noise(l, u, e, noise)
});
// `dp_variance` and `dp_stddev` share this state; the function name picks the statistic.
impl_bounded!(DpVarianceAccumulator, |function: &str, l, u, e, noise| {
    let spread = if function == "dp_stddev" {
        Spread::StdDev
    } else {
        Spread::Variance
    };
    BoundedVariance::new(l, u, e, noise, spread)
});

/// The transition function: `epsilon` Some(ε) for the call with epsilon, None for the call
/// without (`veil.epsilon`, read once per execution). The noise (`veil.noise`) is read when
/// a group starts; every row must repeat the group's bounds and epsilon.
#[allow(clippy::too_many_arguments)]
pub fn trans<T: Bounded>(
    function: &'static str,
    mut state: Internal,
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    epsilon: Option<Option<f64>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let lower = agg::required(function, "lower", lower);
    let upper = agg::required(function, "upper", upper);
    // SAFETY: a bounded aggregate only ever stores its T in its state.
    let existing = unsafe { state.get::<T>() }.map(|a| a.parameters().2);
    let epsilon = match epsilon {
        Some(e) => agg::required(function, "epsilon", e),
        None => existing.unwrap_or_else(|| Run::of(fcinfo).epsilon(function)),
    };
    if existing.is_none() {
        let acc = T::create(function, lower, upper, epsilon, Run::of(fcinfo)).or_raise(function);
        state = agg::into_internal(acc, fcinfo, function, Use::AggregateOnly);
    }
    // SAFETY: as above.
    let acc = unsafe { state.get_mut::<T>() }.expect("initialized above");
    let (l, u, e) = acc.parameters();
    agg::same_for_every_row(function, "lower", l, lower);
    agg::same_for_every_row(function, "upper", u, upper);
    agg::same_for_every_row(function, "epsilon", e, epsilon);
    if let Some(v) = value {
        acc.add(v);
    }
    state
}

/// The final function: refuses window use, charges the query, then releases (without rows,
/// from the call's constant arguments: a release must not depend on whether rows exist).
pub fn release<T: Bounded>(
    function: &'static str,
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    epsilon_from_setting: bool,
) -> Option<f64> {
    let empty = || {
        let (lower, upper, epsilon) = agg::bounded_params(fcinfo, function, epsilon_from_setting);
        T::create(function, lower, upper, epsilon, Run::of(fcinfo)).and_then(|a| a.release())
    };
    // SAFETY: see trans.
    unsafe { agg::release_final::<T, _>(function, state, fcinfo, |a| a.release(), empty) }
}

/// Declares the four support functions of one bounded DP aggregate `$name` over state `$acc`:
/// transition and final functions with and without epsilon.
macro_rules! bounded_dp_aggregate {
    ($acc:ty, $name:expr, $trans:ident, $trans_default:ident, $final:ident, $final_default:ident) => {
        // Stable: reads `veil.noise` (and `veil.epsilon`) when a group starts.
        #[pg_extern(stable, parallel_safe)]
        fn $trans(
            state: pgrx::Internal,
            value: Option<f64>,
            lower: Option<f64>,
            upper: Option<f64>,
            epsilon: Option<f64>,
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> pgrx::Internal {
            let e = Some(epsilon);
            $crate::bounded::trans::<$acc>($name, state, value, lower, upper, e, fcinfo)
        }

        #[pg_extern(stable, parallel_safe)]
        fn $trans_default(
            state: pgrx::Internal,
            value: Option<f64>,
            lower: Option<f64>,
            upper: Option<f64>,
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> pgrx::Internal {
            $crate::bounded::trans::<$acc>($name, state, value, lower, upper, None, fcinfo)
        }

        #[pg_extern(volatile, parallel_safe)]
        fn $final(state: pgrx::Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
            $crate::bounded::release::<$acc>($name, state, fcinfo, false)
        }

        #[pg_extern(volatile, parallel_safe)]
        fn $final_default(state: pgrx::Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
            $crate::bounded::release::<$acc>($name, state, fcinfo, true)
        }
    };
}
pub(crate) use bounded_dp_aggregate;
