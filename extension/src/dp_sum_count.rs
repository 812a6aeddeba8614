//! `dp_sum(value, lower, upper, epsilon) -> double precision` and
//! `dp_count(value anyelement, epsilon) -> bigint`: parallel-safe aggregates with the
//! veil-core accumulators behind `internal`, shipped between workers as their byte encodings.

use pgrx::prelude::*;
use pgrx::{AnyElement, Internal};
use veil_core::dp::{DpCountAccumulator, DpSumAccumulator};

use crate::agg::partial_state_functions;
use crate::agg::{self, Use};
use crate::bounded::bounded_dp_aggregate;
use crate::error::OrRaise;
use crate::guc;

// ---------------------------------------------------------------------------------------
// dp_sum

const SUM: &str = "dp_sum";

bounded_dp_aggregate!(
    DpSumAccumulator,
    SUM,
    dp_sum_trans,
    dp_sum_trans_default,
    dp_sum_final,
    dp_sum_final_default
);
partial_state_functions!(
    DpSumAccumulator,
    SUM,
    crate::agg::Use::AggregateOnly,
    dp_sum_combine,
    dp_sum_serial,
    dp_sum_deserial
);

// ---------------------------------------------------------------------------------------
// dp_count

const COUNT: &str = "dp_count";

// Stable: reads `veil.noise` when a group starts.
#[pg_extern(stable, parallel_safe)]
fn dp_count_trans(
    mut state: Internal,
    value: Option<AnyElement>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let epsilon = agg::required(COUNT, "epsilon", epsilon);
    // SAFETY: this aggregate only ever stores a DpCountAccumulator in its state.
    if unsafe { state.get::<DpCountAccumulator>() }.is_none() {
        let acc = DpCountAccumulator::with_noise(epsilon, guc::Run::of(fcinfo).noise(COUNT))
            .or_raise(COUNT);
        state = agg::into_internal(acc, fcinfo, COUNT, Use::AggregateOnly);
    }
    // SAFETY: as above.
    let acc = unsafe { state.get_mut::<DpCountAccumulator>() }.expect("initialized above");
    agg::same_for_every_row(COUNT, "epsilon", acc.epsilon(), epsilon);
    if value.is_some() {
        acc.add(1);
    }
    state
}

partial_state_functions!(
    DpCountAccumulator,
    COUNT,
    crate::agg::Use::AggregateOnly,
    dp_count_combine,
    dp_count_serial,
    dp_count_deserial
);

#[pg_extern(volatile, parallel_safe)]
fn dp_count_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<i64> {
    count_release(state, fcinfo, false)
}

/// `dp_count(value)`: epsilon from `veil.epsilon`, read once per group.
#[pg_extern(stable, parallel_safe)]
fn dp_count_trans_default(
    state: Internal,
    value: Option<AnyElement>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    // SAFETY: see dp_count_trans.
    let epsilon = match unsafe { state.get::<DpCountAccumulator>() } {
        Some(acc) => acc.epsilon(),
        None => guc::Run::of(fcinfo).epsilon(COUNT),
    };
    dp_count_trans(state, value, Some(epsilon), fcinfo)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_count_final_default(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<i64> {
    count_release(state, fcinfo, true)
}

/// The final function; `epsilon_from_setting` for the call without epsilon.
fn count_release(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    epsilon_from_setting: bool,
) -> Option<i64> {
    let empty = || {
        let epsilon = agg::count_epsilon(fcinfo, COUNT, epsilon_from_setting);
        DpCountAccumulator::with_noise(epsilon, guc::Run::of(fcinfo).noise(COUNT))
            .and_then(|a| a.release())
    };
    // SAFETY: see dp_count_trans.
    unsafe {
        agg::release_final::<DpCountAccumulator, _>(COUNT, state, fcinfo, |a| a.release(), empty)
    }
}

extension_sql!(
    r#"
CREATE AGGREGATE dp_sum(value double precision, lower double precision,
                        upper double precision, epsilon double precision) (
    sfunc = dp_sum_trans, stype = internal, finalfunc = dp_sum_final,
    combinefunc = dp_sum_combine, serialfunc = dp_sum_serial, deserialfunc = dp_sum_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_sum(value double precision, lower double precision,
                        upper double precision) (
    sfunc = dp_sum_trans_default, stype = internal, finalfunc = dp_sum_final_default,
    combinefunc = dp_sum_combine, serialfunc = dp_sum_serial, deserialfunc = dp_sum_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_count(value anyelement) (
    sfunc = dp_count_trans_default, stype = internal, finalfunc = dp_count_final_default,
    combinefunc = dp_count_combine, serialfunc = dp_count_serial, deserialfunc = dp_count_deserial,
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
        dp_sum_trans_default,
        dp_sum_final_default,
        dp_count_trans_default,
        dp_count_final_default,
        dp_count_trans,
        dp_count_final,
        dp_count_combine,
        dp_count_serial,
        dp_count_deserial
    ]
);
