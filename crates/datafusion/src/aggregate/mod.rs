//! Aggregate SQL functions, one per file.

mod binary_state;
pub mod const_args;
pub mod dp_count;
pub mod dp_count_distinct;
pub mod dp_mean;
pub mod dp_mode;
pub mod dp_quantile;
pub mod dp_sum;
pub mod dp_top_k;
pub mod dp_variance;
pub(crate) mod flat_groups;
mod groups;
pub mod k_anonymity;
pub mod pii_entity_summary;
pub mod veil_partition_select;
