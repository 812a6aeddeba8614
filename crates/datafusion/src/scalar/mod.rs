//! Scalar SQL functions, one per file.

pub mod anonymize;
pub mod decrypt_pii;
pub mod detect_pii;
pub mod redact_pii;
