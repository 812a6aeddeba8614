//! Helpers for aggregates whose state is a Rust value behind `internal`.

use pgrx::prelude::*;
use pgrx::{Internal, PgMemoryContexts, PgSqlErrorCode};

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
