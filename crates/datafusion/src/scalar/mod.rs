//! Scalar SQL functions, one per file.

pub mod anonymize;
pub mod detect_pii;
pub mod redact_pii;
