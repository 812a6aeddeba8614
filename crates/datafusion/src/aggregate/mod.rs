//! Aggregate SQL functions, one per file.

pub mod dp_mean;
pub mod pii_entity_summary;
