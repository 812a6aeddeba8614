//! `dp_mean(value, lower, upper, epsilon) -> double precision`, a parallel-safe aggregate.
//!
//! The transition state is a veil-core [`DpMeanAccumulator`] behind `internal`, allocated in
//! the aggregate's memory context; partial states travel between parallel workers as the
//! 48-byte encoding of `DpMeanAccumulator::to_bytes`.

use pgrx::prelude::*;
use pgrx::Internal;
use veil_core::dp::{BoundedMean, DpMeanAccumulator};

use crate::agg::{self, Use};
use crate::error::OrRaise;
use crate::guc;

const NAME: &str = "dp_mean";

// Stable: reads `veil.noise` when a group starts.
#[pg_extern(stable, parallel_safe)]
fn dp_mean_trans(
    mut state: Internal,
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let lower = agg::required(NAME, "lower", lower);
    let upper = agg::required(NAME, "upper", upper);
    let epsilon = agg::required(NAME, "epsilon", epsilon);
    // SAFETY: this aggregate only ever stores a DpMeanAccumulator in its state.
    match unsafe { state.get_mut::<DpMeanAccumulator>() } {
        Some(acc) => {
            let p = &acc.params;
            agg::same_for_every_row(NAME, "lower", p.lower(), lower);
            agg::same_for_every_row(NAME, "upper", p.upper(), upper);
            agg::same_for_every_row(NAME, "epsilon", p.epsilon(), epsilon);
            if let Some(v) = value {
                acc.update(v);
            }
            state
        }
        None => {
            let mut acc = DpMeanAccumulator::new(
                BoundedMean::with_noise(lower, upper, epsilon, guc::Run::of(fcinfo).noise(NAME))
                    .or_raise(NAME),
            );
            if let Some(v) = value {
                acc.update(v);
            }
            agg::into_internal(acc, fcinfo, NAME, Use::AggregateOnly)
        }
    }
}

#[pg_extern(immutable, parallel_safe)]
fn dp_mean_combine(left: Internal, right: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    agg::combine::<DpMeanAccumulator>(left, right, fcinfo, NAME, Use::AggregateOnly)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_mean_serial(state: Internal) -> Vec<u8> {
    agg::serialize::<DpMeanAccumulator>(&state, NAME)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_mean_deserial(bytes: &[u8], _unused: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    agg::deserialize::<DpMeanAccumulator>(bytes, fcinfo, NAME, Use::AggregateOnly)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_mean_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    release(state, fcinfo, false)
}

/// `dp_mean(value, lower, upper)`: epsilon from `veil.epsilon`, read once per group.
#[pg_extern(stable, parallel_safe)]
fn dp_mean_trans_default(
    state: Internal,
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    // SAFETY: see dp_mean_trans.
    let epsilon = match unsafe { state.get::<DpMeanAccumulator>() } {
        Some(acc) => acc.params.epsilon(),
        None => guc::Run::of(fcinfo).epsilon(NAME),
    };
    dp_mean_trans(state, value, lower, upper, Some(epsilon), fcinfo)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_mean_final_default(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    release(state, fcinfo, true)
}

/// The final function; `epsilon_from_setting` for the call without epsilon (with no rows
/// there is no state, and the setting gives epsilon).
fn release(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    epsilon_from_setting: bool,
) -> Option<f64> {
    // Refuses window use; then the query is charged before anything is computed.
    agg::memory_context(fcinfo, NAME, Use::AggregateOnly);
    crate::budget::ensure_charged(fcinfo, NAME);
    // SAFETY: see dp_mean_trans.
    let released = match unsafe { state.get::<DpMeanAccumulator>() } {
        Some(acc) => acc.release(),
        None => {
            let (lower, upper, epsilon) = agg::bounded_params(fcinfo, NAME, epsilon_from_setting);
            DpMeanAccumulator::new(
                BoundedMean::with_noise(lower, upper, epsilon, guc::Run::of(fcinfo).noise(NAME))
                    .or_raise(NAME),
            )
            .release()
        }
    };
    Some(released.or_raise(NAME))
}

extension_sql!(
    r#"
CREATE AGGREGATE dp_mean(value double precision, lower double precision,
                         upper double precision, epsilon double precision) (
    sfunc = dp_mean_trans,
    stype = internal,
    finalfunc = dp_mean_final,
    combinefunc = dp_mean_combine,
    serialfunc = dp_mean_serial,
    deserialfunc = dp_mean_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_mean(value double precision, lower double precision,
                         upper double precision) (
    sfunc = dp_mean_trans_default,
    stype = internal,
    finalfunc = dp_mean_final_default,
    combinefunc = dp_mean_combine,
    serialfunc = dp_mean_serial,
    deserialfunc = dp_mean_deserial,
    parallel = safe
);
COMMENT ON AGGREGATE dp_mean(double precision, double precision, double precision) IS
'dp_mean with epsilon from the veil.epsilon setting';
COMMENT ON AGGREGATE dp_mean(double precision, double precision, double precision, double precision) IS
'epsilon-differentially private mean of value clamped to [lower, upper] (discrete Laplace noise from OpenDP)';
"#,
    name = "dp_mean_aggregate",
    requires = [
        dp_mean_trans,
        dp_mean_final,
        dp_mean_trans_default,
        dp_mean_final_default,
        dp_mean_combine,
        dp_mean_serial,
        dp_mean_deserial
    ]
);
