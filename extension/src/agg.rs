//! Helpers for aggregates whose state is a Rust value behind `internal`.

use pgrx::prelude::*;
use pgrx::{Internal, PgMemoryContexts, PgSqlErrorCode};
use veil_core::VeilError;

use crate::error::raise;

/// Where an aggregate may run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Plain aggregation only. Noisy aggregates refuse window use: every row of the window
    /// would get its own noisy release of the same data.
    AggregateOnly,
    /// Plain aggregation or as a window function.
    AggregateOrWindow,
}

/// The aggregate memory context of this call; an error outside an aggregate, or in a
/// window when `usage` forbids it.
pub fn memory_context(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    usage: Use,
) -> PgMemoryContexts {
    let mut cx = std::ptr::null_mut();
    // SAFETY: fcinfo is the live call info of this function call.
    let kind = unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut cx) };
    if kind == pg_sys::AGG_CONTEXT_WINDOW as i32 && usage == Use::AggregateOnly {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("{function} cannot be used as a window function: each row would release fresh noise")
        );
    }
    if kind == 0 || cx.is_null() {
        error!(
            "{function} support functions can only be called as part of the {function} aggregate"
        );
    }
    PgMemoryContexts::For(cx)
}

/// Moves `value` into memory owned by the aggregate context.
pub fn into_internal<T>(
    value: T,
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    usage: Use,
) -> Internal {
    // SAFETY: switching to a valid context; Internal::new allocates in the current one.
    unsafe { memory_context(fcinfo, function, usage).switch_to(|_| Internal::new(value)) }
}

/// Reads constant float8 arguments of the aggregate call being finalized (position, name),
/// for aggregates that saw no rows: a noisy release must not depend on whether rows exist,
/// so the final function needs the parameters even without a transition state.
pub fn constant_f64_args<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    arity: i32,
    wanted: [(usize, &'static str); N],
) -> [f64; N] {
    let mut values = [0.0f64; N];
    // SAFETY: AggGetAggref returns the Aggref of the running aggregate (or null); its args
    // list holds TargetEntry nodes; we only read Const nodes of type float8.
    unsafe {
        let aggref = pg_sys::AggGetAggref(fcinfo);
        if aggref.is_null() || (*aggref).args.is_null() || (*(*aggref).args).length != arity {
            error!("{function}: cannot read the aggregate's arguments");
        }
        for (slot, (pos, name)) in values.iter_mut().zip(wanted) {
            // The value the mechanism runs with (divided under a privacy unit).
            *slot = crate::budget::aggref_parameter(
                aggref,
                pos,
                name,
                crate::unit::Parameter::Effective,
            )
            .unwrap_or_else(|e| raise(function, e));
        }
    }
    values
}

/// A required float argument of `function`, or an error naming it.
pub fn required(function: &str, argument: &'static str, v: Option<f64>) -> f64 {
    v.unwrap_or_else(|| raise(function, VeilError::invalid(argument, "must not be NULL")))
}

/// Errors unless a per-row argument still has the value it had on the first row.
pub fn same_for_every_row(function: &str, argument: &'static str, first: f64, now: f64) {
    if first != now {
        raise(
            function,
            VeilError::invalid(argument, "must be the same constant for every row"),
        );
    }
}

/// A transition state that can be merged and shipped between parallel workers.
pub trait PartialState: Clone + 'static {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError>;
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError>;
}

/// The body of a combine function: merges `right` into `left` (either may be empty).
pub fn combine<T: PartialState>(
    mut left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    usage: Use,
) -> Internal {
    // SAFETY: callers pass states of their own aggregate, which only ever stores a T.
    let r = unsafe { right.get::<T>() }.cloned();
    match (unsafe { left.get_mut::<T>() }, r) {
        (_, None) => left,
        (None, Some(r)) => into_internal(r, fcinfo, function, usage),
        (Some(l), Some(r)) => {
            if let Err(e) = l.merge_from(&r) {
                raise(function, e);
            }
            left
        }
    }
}

/// The body of a serial function.
pub fn serialize<T: PartialState>(state: &Internal, function: &str) -> Vec<u8> {
    // SAFETY: as in `combine`.
    match unsafe { state.get::<T>() } {
        Some(s) => s.to_bytes(),
        None => error!("{function}: cannot serialize an empty state"),
    }
}

/// The body of a deserial function.
pub fn deserialize<T: PartialState>(
    bytes: &[u8],
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    usage: Use,
) -> Internal {
    match T::from_bytes(bytes) {
        Ok(state) => into_internal(state, fcinfo, function, usage),
        Err(e) => raise(function, e),
    }
}

impl PartialState for veil_core::dp::DpMeanAccumulator {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        self.merge(other)
    }
    fn to_bytes(&self) -> Vec<u8> {
        veil_core::dp::DpMeanAccumulator::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        veil_core::dp::DpMeanAccumulator::from_bytes(bytes)
    }
}

impl PartialState for veil_core::dp::DpSumAccumulator {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        self.merge(other)
    }
    fn to_bytes(&self) -> Vec<u8> {
        veil_core::dp::DpSumAccumulator::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        veil_core::dp::DpSumAccumulator::from_bytes(bytes)
    }
}

impl PartialState for veil_core::dp::DpCountAccumulator {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        self.merge(other)
    }
    fn to_bytes(&self) -> Vec<u8> {
        veil_core::dp::DpCountAccumulator::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        veil_core::dp::DpCountAccumulator::from_bytes(bytes)
    }
}

impl PartialState for veil_core::dp::DpVarianceAccumulator {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        self.merge(other)
    }
    fn to_bytes(&self) -> Vec<u8> {
        veil_core::dp::DpVarianceAccumulator::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        veil_core::dp::DpVarianceAccumulator::from_bytes(bytes)
    }
}

impl PartialState for veil_core::dp::DpQuantileAccumulator {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        self.merge(other)
    }
    fn to_bytes(&self) -> Vec<u8> {
        veil_core::dp::DpQuantileAccumulator::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        veil_core::dp::DpQuantileAccumulator::from_bytes(bytes)
    }
}

/// The body of a DP aggregate's final function: refuses window use, charges the query
/// before anything is computed, then releases the state, or without rows (no state)
/// `empty()`, built from the call's constant arguments — a release must not depend on
/// whether rows exist.
///
/// # Safety
/// `state` must be empty or hold a `T` (the aggregate only ever stores a `T`).
pub unsafe fn release_final<T: 'static, R>(
    function: &str,
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    release: impl FnOnce(&T) -> Result<R, VeilError>,
    empty: impl FnOnce() -> Result<R, VeilError>,
) -> Option<R> {
    memory_context(fcinfo, function, Use::AggregateOnly);
    crate::budget::ensure_charged(fcinfo, function);
    let released = match state.get::<T>() {
        Some(acc) => release(acc),
        None => empty(),
    };
    match released {
        Ok(r) => Some(r),
        Err(e) => raise(function, e),
    }
}

/// The epsilon of a call `f(value [, epsilon])` that saw no rows: its constant argument, or
/// `veil.epsilon` for the call without it.
pub fn count_epsilon(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    epsilon_from_setting: bool,
) -> f64 {
    if epsilon_from_setting {
        crate::guc::Run::of(fcinfo).epsilon(function)
    } else {
        constant_f64_args(fcinfo, function, 2, [(1, "epsilon")])[0]
    }
}

/// `(lower, upper, epsilon)` of a bounded DP aggregate `f(value, lower, upper [, epsilon])`
/// (`dp_mean`, `dp_sum`, `dp_variance`, `dp_stddev`, `dp_median`) that saw no
/// rows, read from the call's constant arguments; epsilon from `veil.epsilon` when the call
/// leaves it out.
pub fn bounded_params(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    epsilon_from_setting: bool,
) -> (f64, f64, f64) {
    if epsilon_from_setting {
        let [l, u] = constant_f64_args(fcinfo, function, 3, [(1, "lower"), (2, "upper")]);
        (l, u, crate::guc::Run::of(fcinfo).epsilon(function))
    } else {
        let [l, u, e] = constant_f64_args(
            fcinfo,
            function,
            4,
            [(1, "lower"), (2, "upper"), (3, "epsilon")],
        );
        (l, u, e)
    }
}

/// Declares the combine, serial and deserial functions of an aggregate state `$acc` shipped
/// between parallel workers as its byte encoding (`$usage`: where the aggregate may run).
macro_rules! partial_state_functions {
    ($acc:ty, $name:expr, $usage:expr, $combine:ident, $serial:ident, $deserial:ident) => {
        #[pg_extern(immutable, parallel_safe)]
        fn $combine(
            left: pgrx::Internal,
            right: pgrx::Internal,
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> pgrx::Internal {
            $crate::agg::combine::<$acc>(left, right, fcinfo, $name, $usage)
        }

        #[pg_extern(immutable, parallel_safe, strict)]
        fn $serial(state: pgrx::Internal) -> Vec<u8> {
            $crate::agg::serialize::<$acc>(&state, $name)
        }

        #[pg_extern(immutable, parallel_safe, strict)]
        fn $deserial(
            bytes: &[u8],
            _unused: pgrx::Internal,
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> pgrx::Internal {
            $crate::agg::deserialize::<$acc>(bytes, fcinfo, $name, $usage)
        }
    };
}
pub(crate) use partial_state_functions;
