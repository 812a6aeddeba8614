//! Scalar SQL functions, one per file.

pub mod detect_pii;
pub mod redact_pii;
