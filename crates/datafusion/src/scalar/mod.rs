//! Scalar SQL functions, one per file.

pub mod anonymize;
pub mod decrypt_pii;
pub mod detect_pii;
pub mod dp_explain;
pub mod generalize;
pub mod redact_pii;
pub mod veil_budget_grant;
pub mod veil_budget_revoke;
pub mod veil_principal;
