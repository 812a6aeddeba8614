//! Table functions, one per file.

pub mod advise_composition;
pub mod audit_log;
pub mod budget_status;
pub mod k_anon;
pub mod k_anon_plan;
mod kanon_source;
pub mod reid_risk;
