//! `dp_variance(value, lower, upper, epsilon)`, `dp_stddev(value, lower, upper, epsilon)`,
//! `dp_quantile(value, q, lower, upper, epsilon)` and `dp_median(value, lower, upper,
//! epsilon)`, all `-> double precision`: parallel-safe aggregates with the veil-core
//! accumulators behind `internal`, shipped between workers as their byte encodings.
//!
//! `dp_variance` and `dp_stddev` share one state type (it records which statistic it
//! releases), and so do `dp_quantile` and `dp_median` (a median is the 0.5-quantile): each
//! pair shares its combine, serial and deserial functions. Each aggregate also has a form
//! without `epsilon` that reads `veil.epsilon`.

use pgrx::prelude::*;
use pgrx::Internal;
use veil_core::dp::{BoundedQuantile, DpQuantileAccumulator, DpVarianceAccumulator};

use crate::agg::partial_state_functions;
use crate::agg::{self, Use};
use crate::bounded::bounded_dp_aggregate;
use crate::error::OrRaise;
use crate::guc;

// ---------------------------------------------------------------------------------------
// dp_variance, dp_stddev

const VARIANCE: &str = "dp_variance";
const STDDEV: &str = "dp_stddev";

bounded_dp_aggregate!(
    DpVarianceAccumulator,
    VARIANCE,
    dp_variance_trans,
    dp_variance_trans_default,
    dp_variance_final,
    dp_variance_final_default
);
bounded_dp_aggregate!(
    DpVarianceAccumulator,
    STDDEV,
    dp_stddev_trans,
    dp_stddev_trans_default,
    dp_stddev_final,
    dp_stddev_final_default
);
// One state for both: dp_stddev's aggregates use these too.
partial_state_functions!(
    DpVarianceAccumulator,
    VARIANCE,
    crate::agg::Use::AggregateOnly,
    dp_variance_combine,
    dp_variance_serial,
    dp_variance_deserial
);

// ---------------------------------------------------------------------------------------
// dp_quantile, dp_median

const QUANTILE: &str = "dp_quantile";
const MEDIAN: &str = "dp_median";

/// The transition of `dp_quantile` / `dp_median` (`q` None for the median); `epsilon` None
/// reads `veil.epsilon` once per group.
#[allow(clippy::too_many_arguments)]
fn quantile_trans(
    function: &'static str,
    mut state: Internal,
    value: Option<f64>,
    q: Option<Option<f64>>,
    lower: Option<f64>,
    upper: Option<f64>,
    epsilon: Option<Option<f64>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let q = match q {
        Some(q) => agg::required(function, "q", q),
        None => 0.5,
    };
    let lower = agg::required(function, "lower", lower);
    let upper = agg::required(function, "upper", upper);
    // SAFETY: these aggregates only ever store a DpQuantileAccumulator in their state.
    let existing = unsafe { state.get::<DpQuantileAccumulator>() }.map(|a| a.params.epsilon());
    let epsilon = match epsilon {
        Some(e) => agg::required(function, "epsilon", e),
        None => existing.unwrap_or_else(|| guc::Run::of(fcinfo).epsilon(function)),
    };
    if existing.is_none() {
        let params = BoundedQuantile::new(q, lower, upper, epsilon).or_raise(function);
        let acc = DpQuantileAccumulator::new(params);
        state = agg::into_internal(acc, fcinfo, function, Use::AggregateOnly);
    }
    // SAFETY: as above.
    let acc = unsafe { state.get_mut::<DpQuantileAccumulator>() }.expect("initialized above");
    agg::same_for_every_row(function, "q", acc.params.q(), q);
    agg::same_for_every_row(function, "lower", acc.params.lower(), lower);
    agg::same_for_every_row(function, "upper", acc.params.upper(), upper);
    agg::same_for_every_row(function, "epsilon", acc.params.epsilon(), epsilon);
    if let Some(v) = value {
        acc.update(v);
    }
    state
}

/// The final function of `dp_quantile` / `dp_median`.
fn quantile_release(
    function: &'static str,
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    epsilon_from_setting: bool,
) -> Option<f64> {
    // No rows: the parameters come from the call's constant arguments.
    let empty = || {
        let params = if function == MEDIAN {
            let (lower, upper, epsilon) =
                agg::bounded_params(fcinfo, function, epsilon_from_setting);
            BoundedQuantile::median(lower, upper, epsilon)
        } else if epsilon_from_setting {
            let [q, lower, upper] =
                agg::constant_f64_args(fcinfo, function, 4, [(1, "q"), (2, "lower"), (3, "upper")]);
            BoundedQuantile::new(q, lower, upper, guc::Run::of(fcinfo).epsilon(function))
        } else {
            let [q, lower, upper, epsilon] = agg::constant_f64_args(
                fcinfo,
                function,
                5,
                [(1, "q"), (2, "lower"), (3, "upper"), (4, "epsilon")],
            );
            BoundedQuantile::new(q, lower, upper, epsilon)
        };
        DpQuantileAccumulator::new(params?).release()
    };
    // SAFETY: see quantile_trans.
    unsafe {
        agg::release_final::<DpQuantileAccumulator, _>(
            function,
            state,
            fcinfo,
            |a| a.release(),
            empty,
        )
    }
}

#[pg_extern(immutable, parallel_safe)]
fn dp_quantile_trans(
    state: Internal,
    value: Option<f64>,
    q: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let (q, e) = (Some(q), Some(epsilon));
    quantile_trans(QUANTILE, state, value, q, lower, upper, e, fcinfo)
}

#[pg_extern(stable, parallel_safe)]
fn dp_quantile_trans_default(
    state: Internal,
    value: Option<f64>,
    q: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    quantile_trans(QUANTILE, state, value, Some(q), lower, upper, None, fcinfo)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_quantile_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    quantile_release(QUANTILE, state, fcinfo, false)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_quantile_final_default(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    quantile_release(QUANTILE, state, fcinfo, true)
}

#[pg_extern(immutable, parallel_safe)]
fn dp_median_trans(
    state: Internal,
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let e = Some(epsilon);
    quantile_trans(MEDIAN, state, value, None, lower, upper, e, fcinfo)
}

#[pg_extern(stable, parallel_safe)]
fn dp_median_trans_default(
    state: Internal,
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    quantile_trans(MEDIAN, state, value, None, lower, upper, None, fcinfo)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_median_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    quantile_release(MEDIAN, state, fcinfo, false)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_median_final_default(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    quantile_release(MEDIAN, state, fcinfo, true)
}

partial_state_functions!(
    DpQuantileAccumulator,
    QUANTILE,
    crate::agg::Use::AggregateOnly,
    dp_quantile_combine,
    dp_quantile_serial,
    dp_quantile_deserial
);

extension_sql!(
    r#"
CREATE AGGREGATE dp_variance(value double precision, lower double precision,
                             upper double precision, epsilon double precision) (
    sfunc = dp_variance_trans, stype = internal, finalfunc = dp_variance_final,
    combinefunc = dp_variance_combine,
    serialfunc = dp_variance_serial, deserialfunc = dp_variance_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_variance(value double precision, lower double precision,
                             upper double precision) (
    sfunc = dp_variance_trans_default, stype = internal, finalfunc = dp_variance_final_default,
    combinefunc = dp_variance_combine,
    serialfunc = dp_variance_serial, deserialfunc = dp_variance_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_stddev(value double precision, lower double precision,
                           upper double precision, epsilon double precision) (
    sfunc = dp_stddev_trans, stype = internal, finalfunc = dp_stddev_final,
    combinefunc = dp_variance_combine,
    serialfunc = dp_variance_serial, deserialfunc = dp_variance_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_stddev(value double precision, lower double precision,
                           upper double precision) (
    sfunc = dp_stddev_trans_default, stype = internal, finalfunc = dp_stddev_final_default,
    combinefunc = dp_variance_combine,
    serialfunc = dp_variance_serial, deserialfunc = dp_variance_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_quantile(value double precision, q double precision,
                             lower double precision, upper double precision,
                             epsilon double precision) (
    sfunc = dp_quantile_trans, stype = internal, finalfunc = dp_quantile_final,
    combinefunc = dp_quantile_combine,
    serialfunc = dp_quantile_serial, deserialfunc = dp_quantile_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_quantile(value double precision, q double precision,
                             lower double precision, upper double precision) (
    sfunc = dp_quantile_trans_default, stype = internal, finalfunc = dp_quantile_final_default,
    combinefunc = dp_quantile_combine,
    serialfunc = dp_quantile_serial, deserialfunc = dp_quantile_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_median(value double precision, lower double precision,
                           upper double precision, epsilon double precision) (
    sfunc = dp_median_trans, stype = internal, finalfunc = dp_median_final,
    combinefunc = dp_quantile_combine,
    serialfunc = dp_quantile_serial, deserialfunc = dp_quantile_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_median(value double precision, lower double precision,
                           upper double precision) (
    sfunc = dp_median_trans_default, stype = internal, finalfunc = dp_median_final_default,
    combinefunc = dp_quantile_combine,
    serialfunc = dp_quantile_serial, deserialfunc = dp_quantile_deserial,
    parallel = safe
);
COMMENT ON AGGREGATE dp_variance(double precision, double precision, double precision, double precision) IS
'epsilon-differentially private population variance of value clamped to [lower, upper] (discrete Laplace noise from OpenDP)';
COMMENT ON AGGREGATE dp_variance(double precision, double precision, double precision) IS
'dp_variance with epsilon from the veil.epsilon setting';
COMMENT ON AGGREGATE dp_stddev(double precision, double precision, double precision, double precision) IS
'epsilon-differentially private population standard deviation of value clamped to [lower, upper]';
COMMENT ON AGGREGATE dp_stddev(double precision, double precision, double precision) IS
'dp_stddev with epsilon from the veil.epsilon setting';
COMMENT ON AGGREGATE dp_quantile(double precision, double precision, double precision, double precision, double precision) IS
'epsilon-differentially private q-quantile of value clamped to [lower, upper] (1024 buckets, permute-and-flip from OpenDP)';
COMMENT ON AGGREGATE dp_quantile(double precision, double precision, double precision, double precision) IS
'dp_quantile with epsilon from the veil.epsilon setting';
COMMENT ON AGGREGATE dp_median(double precision, double precision, double precision, double precision) IS
'epsilon-differentially private median of value clamped to [lower, upper] (dp_quantile with q = 0.5)';
COMMENT ON AGGREGATE dp_median(double precision, double precision, double precision) IS
'dp_median with epsilon from the veil.epsilon setting';
"#,
    name = "dp_spread_aggregates",
    requires = [
        dp_variance_trans,
        dp_variance_trans_default,
        dp_variance_final,
        dp_variance_final_default,
        dp_stddev_trans,
        dp_stddev_trans_default,
        dp_stddev_final,
        dp_stddev_final_default,
        dp_variance_combine,
        dp_variance_serial,
        dp_variance_deserial,
        dp_quantile_trans,
        dp_quantile_trans_default,
        dp_quantile_final,
        dp_quantile_final_default,
        dp_median_trans,
        dp_median_trans_default,
        dp_median_final,
        dp_median_final_default,
        dp_quantile_combine,
        dp_quantile_serial,
        dp_quantile_deserial
    ]
);
