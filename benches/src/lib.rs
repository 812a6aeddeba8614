//! Shared pieces of veil's benchmarks and evaluation harnesses.

pub mod corpus;
pub mod pii_eval;
