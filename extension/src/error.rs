//! veil-core errors as PostgreSQL errors with a SQLSTATE.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use veil_core::VeilError;

/// Raises `e` as an SQL ERROR from SQL function `function`; never returns.
pub fn raise(function: &str, e: VeilError) -> ! {
    let code = match &e {
        VeilError::InvalidArgument { .. } | VeilError::IncompatibleState(_) => {
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE
        }
        VeilError::Noise(_) | VeilError::Ledger(_) => PgSqlErrorCode::ERRCODE_SYSTEM_ERROR,
        VeilError::BudgetExceeded(_) => PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES,
    };
    ereport!(ERROR, code, format!("{function}: {e}"));
}

/// Unwraps a veil-core result or raises its error.
pub trait OrRaise<T> {
    fn or_raise(self, function: &str) -> T;
}

impl<T> OrRaise<T> for Result<T, VeilError> {
    fn or_raise(self, function: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(function, e),
        }
    }
}
