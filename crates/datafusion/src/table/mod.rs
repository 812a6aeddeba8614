//! Table functions, one per file.

pub mod advise_composition;
pub mod audit_log;
pub mod budget_status;
