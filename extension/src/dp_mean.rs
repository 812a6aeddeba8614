//! `dp_mean(value, lower, upper, epsilon) -> double precision`, a parallel-safe aggregate.
//!
//! The transition state is a veil-core [`DpMeanAccumulator`] behind `internal`, allocated in
//! the aggregate's memory context; partial states travel between parallel workers as the
//! 48-byte encoding of `DpMeanAccumulator::to_bytes`.

use pgrx::prelude::*;
use pgrx::Internal;
use veil_core::dp::{BoundedMean, DpMeanAccumulator};
use veil_core::VeilError;

use crate::agg::{self, Use};
use crate::error::{raise, OrRaise};

const NAME: &str = "dp_mean";

fn into_internal(acc: DpMeanAccumulator, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    agg::into_internal(acc, fcinfo, NAME, Use::AggregateOnly)
}

fn required(argument: &'static str, v: Option<f64>) -> f64 {
    v.unwrap_or_else(|| raise(NAME, VeilError::invalid(argument, "must not be NULL")))
}

#[pg_extern(immutable, parallel_safe)]
fn dp_mean_trans(
    mut state: Internal,
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let (lower, upper, epsilon) = (
        required("lower", lower),
        required("upper", upper),
        required("epsilon", epsilon),
    );
    // SAFETY: this aggregate only ever stores a DpMeanAccumulator in its state.
    match unsafe { state.get_mut::<DpMeanAccumulator>() } {
        Some(acc) => {
            let p = &acc.params;
            for (name, first, now) in [
                ("lower", p.lower(), lower),
                ("upper", p.upper(), upper),
                ("epsilon", p.epsilon(), epsilon),
            ] {
                if first != now {
                    raise(
                        NAME,
                        VeilError::invalid(name, "must be the same constant for every row"),
                    );
                }
            }
            if let Some(v) = value {
                acc.update(v);
            }
            state
        }
        None => {
            let mut acc =
                DpMeanAccumulator::new(BoundedMean::new(lower, upper, epsilon).or_raise(NAME));
            if let Some(v) = value {
                acc.update(v);
            }
            into_internal(acc, fcinfo)
        }
    }
}

#[pg_extern(immutable, parallel_safe)]
fn dp_mean_combine(
    mut left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    // SAFETY: both states are DpMeanAccumulators made by this aggregate.
    let r = unsafe { right.get::<DpMeanAccumulator>() }.cloned();
    match (unsafe { left.get_mut::<DpMeanAccumulator>() }, r) {
        (_, None) => left,
        (None, Some(r)) => into_internal(r, fcinfo),
        (Some(l), Some(r)) => {
            l.merge(&r).or_raise(NAME);
            left
        }
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_mean_serial(state: Internal) -> Vec<u8> {
    // SAFETY: see dp_mean_trans.
    match unsafe { state.get::<DpMeanAccumulator>() } {
        Some(acc) => acc.to_bytes(),
        None => error!("{NAME}: cannot serialize an empty state"),
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_mean_deserial(bytes: &[u8], _unused: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    into_internal(DpMeanAccumulator::from_bytes(bytes).or_raise(NAME), fcinfo)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_mean_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    agg::memory_context(fcinfo, NAME, Use::AggregateOnly); // refuses window use
                                                           // SAFETY: see dp_mean_trans.
    let released = match unsafe { state.get::<DpMeanAccumulator>() } {
        Some(acc) => acc.release(),
        None => {
            let [lower, upper, epsilon] = agg::constant_f64_args(
                fcinfo,
                NAME,
                4,
                [(1, "lower"), (2, "upper"), (3, "epsilon")],
            );
            DpMeanAccumulator::new(BoundedMean::new(lower, upper, epsilon).or_raise(NAME)).release()
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
COMMENT ON AGGREGATE dp_mean(double precision, double precision, double precision, double precision) IS
'epsilon-differentially private mean of value clamped to [lower, upper] (discrete Laplace noise from OpenDP)';
"#,
    name = "dp_mean_aggregate",
    requires = [
        dp_mean_trans,
        dp_mean_final,
        dp_mean_combine,
        dp_mean_serial,
        dp_mean_deserial
    ]
);
