//! Scalar SQL functions, one per file.

pub mod redact_pii;
