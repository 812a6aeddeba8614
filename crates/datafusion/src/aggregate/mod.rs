//! Aggregate SQL functions, one per file.

pub mod dp_mean;
