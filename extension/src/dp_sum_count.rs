//! `dp_sum(value, lower, upper, epsilon) -> double precision` and
//! `dp_count(value anyelement, epsilon) -> bigint`: parallel-safe aggregates with the
//! veil-core accumulators behind `internal`, shipped between workers as their byte encodings.

use pgrx::prelude::*;
use pgrx::{AnyElement, Internal};
use veil_core::dp::{BoundedSum, DpCountAccumulator, DpSumAccumulator};
use veil_core::VeilError;

use crate::agg::{self, Use};
use crate::error::{raise, OrRaise};

fn required(function: &str, argument: &'static str, v: Option<f64>) -> f64 {
    v.unwrap_or_else(|| raise(function, VeilError::invalid(argument, "must not be NULL")))
}

fn same_for_every_row(function: &str, argument: &'static str, first: f64, now: f64) {
    if first != now {
        raise(
            function,
            VeilError::invalid(argument, "must be the same constant for every row"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// dp_sum

const SUM: &str = "dp_sum";

#[pg_extern(immutable, parallel_safe)]
fn dp_sum_trans(
    mut state: Internal,
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let (lower, upper, epsilon) = (
        required(SUM, "lower", lower),
        required(SUM, "upper", upper),
        required(SUM, "epsilon", epsilon),
    );
    // SAFETY: this aggregate only ever stores a DpSumAccumulator in its state.
    if unsafe { state.get::<DpSumAccumulator>() }.is_none() {
        let acc = DpSumAccumulator::new(BoundedSum::new(lower, upper, epsilon).or_raise(SUM));
        state = agg::into_internal(acc, fcinfo, SUM, Use::AggregateOnly);
    }
    // SAFETY: as above.
    let acc = unsafe { state.get_mut::<DpSumAccumulator>() }.expect("initialized above");
    same_for_every_row(SUM, "lower", acc.params.lower(), lower);
    same_for_every_row(SUM, "upper", acc.params.upper(), upper);
    same_for_every_row(SUM, "epsilon", acc.params.epsilon(), epsilon);
    if let Some(v) = value {
        acc.update(v);
    }
    state
}

#[pg_extern(immutable, parallel_safe)]
fn dp_sum_combine(
    mut left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    // SAFETY: both states are DpSumAccumulators made by this aggregate.
    let r = unsafe { right.get::<DpSumAccumulator>() }.cloned();
    match (unsafe { left.get_mut::<DpSumAccumulator>() }, r) {
        (_, None) => left,
        (None, Some(r)) => agg::into_internal(r, fcinfo, SUM, Use::AggregateOnly),
        (Some(l), Some(r)) => {
            l.merge(&r).or_raise(SUM);
            left
        }
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_sum_serial(state: Internal) -> Vec<u8> {
    // SAFETY: see dp_sum_trans.
    match unsafe { state.get::<DpSumAccumulator>() } {
        Some(acc) => acc.to_bytes(),
        None => error!("{SUM}: cannot serialize an empty state"),
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_sum_deserial(bytes: &[u8], _unused: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    let acc = DpSumAccumulator::from_bytes(bytes).or_raise(SUM);
    agg::into_internal(acc, fcinfo, SUM, Use::AggregateOnly)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_sum_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<f64> {
    agg::memory_context(fcinfo, SUM, Use::AggregateOnly); // refuses window use
                                                          // SAFETY: see dp_sum_trans.
    let released = match unsafe { state.get::<DpSumAccumulator>() } {
        Some(acc) => acc.release(),
        None => {
            let [lower, upper, epsilon] = agg::constant_f64_args(
                fcinfo,
                SUM,
                4,
                [(1, "lower"), (2, "upper"), (3, "epsilon")],
            );
            DpSumAccumulator::new(BoundedSum::new(lower, upper, epsilon).or_raise(SUM)).release()
        }
    };
    Some(released.or_raise(SUM))
}

// ---------------------------------------------------------------------------------------
// dp_count

const COUNT: &str = "dp_count";

#[pg_extern(immutable, parallel_safe)]
fn dp_count_trans(
    mut state: Internal,
    value: Option<AnyElement>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let epsilon = required(COUNT, "epsilon", epsilon);
    // SAFETY: this aggregate only ever stores a DpCountAccumulator in its state.
    if unsafe { state.get::<DpCountAccumulator>() }.is_none() {
        let acc = DpCountAccumulator::new(epsilon).or_raise(COUNT);
        state = agg::into_internal(acc, fcinfo, COUNT, Use::AggregateOnly);
    }
    // SAFETY: as above.
    let acc = unsafe { state.get_mut::<DpCountAccumulator>() }.expect("initialized above");
    same_for_every_row(COUNT, "epsilon", acc.epsilon(), epsilon);
    if value.is_some() {
        acc.add(1);
    }
    state
}

#[pg_extern(immutable, parallel_safe)]
fn dp_count_combine(
    mut left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    // SAFETY: both states are DpCountAccumulators made by this aggregate.
    let r = unsafe { right.get::<DpCountAccumulator>() }.cloned();
    match (unsafe { left.get_mut::<DpCountAccumulator>() }, r) {
        (_, None) => left,
        (None, Some(r)) => agg::into_internal(r, fcinfo, COUNT, Use::AggregateOnly),
        (Some(l), Some(r)) => {
            l.merge(&r).or_raise(COUNT);
            left
        }
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_count_serial(state: Internal) -> Vec<u8> {
    // SAFETY: see dp_count_trans.
    match unsafe { state.get::<DpCountAccumulator>() } {
        Some(acc) => acc.to_bytes(),
        None => error!("{COUNT}: cannot serialize an empty state"),
    }
}

#[pg_extern(immutable, parallel_safe, strict)]
fn dp_count_deserial(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let acc = DpCountAccumulator::from_bytes(bytes).or_raise(COUNT);
    agg::into_internal(acc, fcinfo, COUNT, Use::AggregateOnly)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_count_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<i64> {
    agg::memory_context(fcinfo, COUNT, Use::AggregateOnly); // refuses window use
                                                            // SAFETY: see dp_count_trans.
    let released = match unsafe { state.get::<DpCountAccumulator>() } {
        Some(acc) => acc.release(),
        None => {
            let [epsilon] = agg::constant_f64_args(fcinfo, COUNT, 2, [(1, "epsilon")]);
            DpCountAccumulator::new(epsilon).or_raise(COUNT).release()
        }
    };
    Some(released.or_raise(COUNT))
}

extension_sql!(
    r#"
CREATE AGGREGATE dp_sum(value double precision, lower double precision,
                        upper double precision, epsilon double precision) (
    sfunc = dp_sum_trans, stype = internal, finalfunc = dp_sum_final,
    combinefunc = dp_sum_combine, serialfunc = dp_sum_serial, deserialfunc = dp_sum_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_count(value anyelement, epsilon double precision) (
    sfunc = dp_count_trans, stype = internal, finalfunc = dp_count_final,
    combinefunc = dp_count_combine, serialfunc = dp_count_serial, deserialfunc = dp_count_deserial,
    parallel = safe
);
"#,
    name = "dp_sum_count_aggregates",
    requires = [
        dp_sum_trans,
        dp_sum_final,
        dp_sum_combine,
        dp_sum_serial,
        dp_sum_deserial,
        dp_count_trans,
        dp_count_final,
        dp_count_combine,
        dp_count_serial,
        dp_count_deserial
    ]
);
