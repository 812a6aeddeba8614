//! Partial aggregate states shipped as one Binary column: the veil-core accumulators'
//! byte encodings, merged with their own `merge` (which checks the parameters agree).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use veil_core::dp::{
    DpCountAccumulator, DpMeanAccumulator, DpQuantileAccumulator, DpSumAccumulator,
    DpVarianceAccumulator,
};
use veil_core::kanon::ClassSizes;
use veil_core::pii::EntitySummary;
use veil_core::Fallible;

use crate::to_df_error;

/// A veil-core accumulator with a byte encoding.
pub trait BinaryState: Sized {
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Fallible<Self>;
    fn merge_with(&mut self, other: &Self) -> Fallible<()>;
}

/// The single state field, named after the aggregate call.
pub fn state_fields(name: &str) -> Vec<FieldRef> {
    vec![Arc::new(Field::new(
        format!("{name}[state]"),
        DataType::Binary,
        true,
    ))]
}

/// `Accumulator::state` for a binary-encoded accumulator.
pub fn state<T: BinaryState>(acc: &T) -> Vec<ScalarValue> {
    vec![ScalarValue::Binary(Some(acc.encode()))]
}

/// `Accumulator::merge_batch` for a binary-encoded accumulator of SQL function `function`.
pub fn merge_batch<T: BinaryState>(acc: &mut T, states: &[ArrayRef], function: &str) -> Result<()> {
    let Some(states) = states.first() else {
        return exec_err!("{function}: missing partial state");
    };
    for bytes in states.as_binary::<i32>().iter().flatten() {
        let other = T::decode(bytes).map_err(|e| to_df_error(function, e))?;
        acc.merge_with(&other)
            .map_err(|e| to_df_error(function, e))?;
    }
    Ok(())
}

/// `GroupsAccumulator::merge_batch` body for binary-encoded states: decodes each non-NULL
/// state row and hands it to `merge` with its group index.
pub fn merge_group_states<T: BinaryState>(
    states: &[ArrayRef],
    group_indices: &[usize],
    function: &str,
    mut merge: impl FnMut(usize, &T) -> Result<()>,
) -> Result<()> {
    let Some(states) = states.first() else {
        return exec_err!("{function}: missing partial state");
    };
    let states = states.as_binary::<i32>();
    for (row, &g) in group_indices.iter().enumerate() {
        if states.is_null(row) {
            continue;
        }
        let other = T::decode(states.value(row)).map_err(|e| to_df_error(function, e))?;
        merge(g, &other)?;
    }
    Ok(())
}

/// Adds a UInt64 partial-state column of per-group counts (NULL skipped) to `counts`
/// (saturating); `missing` gives the error when the column is absent.
pub fn merge_counts(
    state: Option<&ArrayRef>,
    group_indices: &[usize],
    counts: &mut [u64],
    missing: impl FnOnce() -> String,
) -> Result<()> {
    let Some(state) = state.and_then(|v| v.as_primitive_opt::<UInt64Type>()) else {
        return exec_err!("{}", missing());
    };
    for (row, &g) in group_indices.iter().enumerate() {
        if state.is_valid(row) {
            counts[g] = counts[g].saturating_add(state.value(row));
        }
    }
    Ok(())
}

macro_rules! binary_state {
    ($t:ty, merge = $merge:expr) => {
        impl BinaryState for $t {
            fn encode(&self) -> Vec<u8> {
                self.to_bytes()
            }
            fn decode(bytes: &[u8]) -> Fallible<Self> {
                <$t>::from_bytes(bytes)
            }
            fn merge_with(&mut self, other: &Self) -> Fallible<()> {
                $merge(self, other)
            }
        }
    };
}

binary_state!(DpMeanAccumulator, merge = DpMeanAccumulator::merge);
binary_state!(DpSumAccumulator, merge = DpSumAccumulator::merge);
binary_state!(DpCountAccumulator, merge = DpCountAccumulator::merge);
binary_state!(DpVarianceAccumulator, merge = DpVarianceAccumulator::merge);
binary_state!(DpQuantileAccumulator, merge = DpQuantileAccumulator::merge);
binary_state!(
    EntitySummary,
    merge = |a: &mut EntitySummary, b: &EntitySummary| {
        a.merge(b);
        Ok(())
    }
);
binary_state!(ClassSizes, merge = ClassSizes::merge);
