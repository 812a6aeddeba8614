//! A `GroupsAccumulator` for veil's DP aggregates: one veil-core accumulator per group in a
//! vector indexed by group, so GROUP BY updates rows in place instead of going through one
//! boxed `Accumulator` per group (`dp_count`, `dp_sum` and `dp_mean`, whose state is only a
//! count and a sum, keep flat columns instead: [`super::flat_groups`]). Partial states use the same Binary encoding as the
//! one-group accumulators (see [`super::binary_state`]), so both kinds merge with each other.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Float64Array,
};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use veil_core::dp::{DpQuantileAccumulator, DpVarianceAccumulator};

use super::binary_state::{merge_group_states, BinaryState};
use crate::to_df_error;

/// The three accumulator methods of a DP aggregate whose state is a [`GroupState`]:
/// [`OneGroup`] without GROUP BY, [`DpGroups`] with, both from the prototype state that
/// `$prototype` builds (an expression of `$self` and `$args` giving `Result<state>`).
macro_rules! group_state_accumulators {
    ($name:expr, |$self:ident, $args:ident| $prototype:expr) => {
        fn accumulator(
            &$self,
            $args: datafusion::logical_expr::function::AccumulatorArgs,
        ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::Accumulator>> {
            Ok(Box::new($crate::aggregate::groups::OneGroup::new(
                $name, $prototype?,
            )))
        }

        fn groups_accumulator_supported(
            &self,
            args: datafusion::logical_expr::function::AccumulatorArgs,
        ) -> bool {
            !args.is_distinct
        }

        fn create_groups_accumulator(
            &$self,
            $args: datafusion::logical_expr::function::AccumulatorArgs,
        ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
            Ok(Box::new($crate::aggregate::groups::DpGroups::new(
                $name, $prototype?,
            )))
        }
    };
}
pub(crate) use group_state_accumulators;

/// What a DP aggregate's per-group state needs beyond its byte encoding.
pub trait GroupState: BinaryState + Clone + Send + 'static {
    /// Adds row `row` of the first argument to this state (NULL skipped).
    fn add_row(&mut self, values: &ArrayRef, row: usize);
    /// Adds every row to the group `group_indices[row]` (rows failing `filter` skipped);
    /// the argument array is downcast once per batch.
    fn add_rows(
        groups: &mut [Self],
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    );
    /// Adds a whole batch when every row belongs to this group (fast path).
    fn add_all(&mut self, values: &ArrayRef);
    /// The noisy releases of `groups`, as one array.
    fn release_all(groups: &[Self], function: &str) -> Result<ArrayRef>;
    /// Bytes this state holds on the heap (a quantile's histogram).
    fn heap_bytes(&self) -> usize {
        0
    }
}

fn f64_values(values: &ArrayRef) -> &datafusion::arrow::array::PrimitiveArray<Float64Type> {
    values.as_primitive::<Float64Type>()
}

macro_rules! bounded_group_state {
    ($t:ty) => {
        bounded_group_state!($t, heap_bytes = |_: &$t| 0);
    };
    ($t:ty, heap_bytes = $heap:expr) => {
        impl GroupState for $t {
            fn heap_bytes(&self) -> usize {
                $heap(self)
            }
            fn add_row(&mut self, values: &ArrayRef, row: usize) {
                let v = f64_values(values);
                if v.is_valid(row) {
                    self.update(v.value(row));
                }
            }
            fn add_rows(
                groups: &mut [Self],
                values: &ArrayRef,
                group_indices: &[usize],
                filter: Option<&BooleanArray>,
            ) {
                let v = f64_values(values);
                if v.null_count() == 0 && filter.is_none() {
                    for (&x, &g) in v.values().iter().zip(group_indices) {
                        groups[g].update(x);
                    }
                } else {
                    for (row, &g) in group_indices.iter().enumerate() {
                        if passes(filter, row) && v.is_valid(row) {
                            groups[g].update(v.value(row));
                        }
                    }
                }
            }
            fn add_all(&mut self, values: &ArrayRef) {
                let v = f64_values(values);
                if v.null_count() == 0 {
                    self.update_slice(v.values());
                } else {
                    v.iter().flatten().for_each(|x| self.update(x));
                }
            }
            fn release_all(groups: &[Self], function: &str) -> Result<ArrayRef> {
                let out = groups
                    .iter()
                    .map(|g| g.release().map(Some))
                    .collect::<Result<Float64Array, _>>()
                    .map_err(|e| to_df_error(function, e))?;
                Ok(Arc::new(out))
            }
        }
    };
}

bounded_group_state!(DpVarianceAccumulator);
bounded_group_state!(
    DpQuantileAccumulator,
    heap_bytes = |a: &DpQuantileAccumulator| a.counts.capacity() * std::mem::size_of::<u64>()
);

/// The one-group `Accumulator` of a DP aggregate call over any [`GroupState`] (used
/// without GROUP BY); its partial state is the same Binary encoding as [`DpGroups`].
#[derive(Debug)]
pub struct OneGroup<T: GroupState> {
    function: &'static str,
    state: T,
}

impl<T: GroupState> OneGroup<T> {
    pub fn new(function: &'static str, state: T) -> Self {
        OneGroup { function, state }
    }

    #[cfg(test)]
    pub fn inner(&self) -> &T {
        &self.state
    }
}

impl<T: GroupState + Sync + std::fmt::Debug> Accumulator for OneGroup<T> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else {
            return exec_err!("{}: missing argument `value`", self.function);
        };
        self.state.add_all(values);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let released = T::release_all(std::slice::from_ref(&self.state), self.function)?;
        ScalarValue::try_from_array(&released, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.state.heap_bytes()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(super::binary_state::state(&self.state))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        super::binary_state::merge_batch(&mut self.state, states, self.function)
    }
}

/// The groups accumulator of one DP aggregate call.
pub struct DpGroups<T: GroupState> {
    function: &'static str,
    /// A fresh state with the call's parameters, cloned for each new group.
    prototype: T,
    groups: Vec<T>,
}

impl<T: GroupState> DpGroups<T> {
    pub fn new(function: &'static str, prototype: T) -> Self {
        DpGroups {
            function,
            prototype,
            groups: Vec::new(),
        }
    }

    fn grow(&mut self, total_num_groups: usize) {
        if self.groups.len() < total_num_groups {
            self.groups.resize(total_num_groups, self.prototype.clone());
        }
    }
}

/// The one group of a whole unfiltered batch, if all its rows are in one (common after
/// sorting or with few groups): the batch can then be added as a whole.
pub(super) fn single_group(
    group_indices: &[usize],
    filter: Option<&BooleanArray>,
) -> Option<usize> {
    let &first = group_indices.first()?;
    (filter.is_none() && group_indices.iter().all(|&g| g == first)).then_some(first)
}

pub(super) fn passes(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

impl<T: GroupState> GroupsAccumulator for DpGroups<T> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let Some(values) = values.first() else {
            return exec_err!("{}: missing argument `value`", self.function);
        };
        self.grow(total_num_groups);
        if let Some(g) = single_group(group_indices, opt_filter) {
            self.groups[g].add_all(values);
            return Ok(());
        }
        T::add_rows(&mut self.groups, values, group_indices, opt_filter);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        T::release_all(&groups, self.function)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.groups);
        let mut out = BinaryBuilder::new();
        for g in &groups {
            out.append_value(g.encode());
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let function = self.function;
        merge_group_states::<T>(values, group_indices, function, |g, other| {
            self.groups[g]
                .merge_with(other)
                .map_err(|e| to_df_error(function, e))
        })
    }

    /// Each row as its own group's state (when pre-aggregation does not pay off).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let Some(values) = values.first() else {
            return exec_err!("{}: missing argument `value`", self.function);
        };
        let mut out = BinaryBuilder::new();
        for row in 0..values.len() {
            let mut state = self.prototype.clone();
            if passes(opt_filter, row) {
                state.add_row(values, row);
            }
            out.append_value(state.encode());
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn size(&self) -> usize {
        // Every group of one call holds the same amount of heap as the prototype.
        std::mem::size_of_val(self)
            + self.groups.capacity() * std::mem::size_of::<T>()
            + (self.groups.len() + 1) * self.prototype.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::BinaryArray;
    use veil_core::dp::{BoundedVariance, Noise, Spread};

    use super::*;

    fn fresh() -> DpVarianceAccumulator {
        DpVarianceAccumulator::new(
            BoundedVariance::new(0.0, 10.0, 1.0, Noise::Laplace, Spread::Variance).unwrap(),
        )
    }

    #[test]
    fn grouped_states_merge_to_the_one_pass_states() {
        let values: ArrayRef = Arc::new(Float64Array::from(
            (0..300)
                .map(|i| (i % 11 != 0).then_some((i % 13) as f64))
                .collect::<Vec<_>>(),
        ));
        let groups: Vec<usize> = (0..300).map(|i| i % 4).collect();
        // One pass.
        let mut whole = DpGroups::new("dp_variance", fresh());
        whole
            .update_batch(std::slice::from_ref(&values), &groups, None, 4)
            .unwrap();
        // Two halves, states merged.
        let mut merged = DpGroups::new("dp_variance", fresh());
        for half in [0..150, 150..300] {
            let mut part = DpGroups::new("dp_variance", fresh());
            part.update_batch(
                &[values.slice(half.start, half.len())],
                &groups[half.clone()],
                None,
                4,
            )
            .unwrap();
            let state = part.state(EmitTo::All).unwrap();
            merged.merge_batch(&state, &[0, 1, 2, 3], 4).unwrap();
        }
        let a = whole.state(EmitTo::All).unwrap();
        let b = merged.state(EmitTo::All).unwrap();
        let (a, b): (&BinaryArray, &BinaryArray) = (a[0].as_binary(), b[0].as_binary());
        assert_eq!(a, b);
        // And each group equals a one-group accumulator fed that group's rows.
        for g in 0..4 {
            let mut single = fresh();
            let v = f64_values(&values);
            for row in (0..300).filter(|r| r % 4 == g) {
                if v.is_valid(row) {
                    single.update(v.value(row));
                }
            }
            assert_eq!(single.encode(), a.value(g));
        }
    }

    #[test]
    fn filter_skips_rows() {
        let mut c = DpGroups::new("dp_variance", fresh());
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.0),
            None,
            Some(3.0),
            Some(4.0),
        ]));
        let filter = BooleanArray::from(vec![Some(true), Some(true), Some(false), None]);
        c.update_batch(&[values], &[0, 0, 1, 1], Some(&filter), 2)
            .unwrap();
        let s = c.state(EmitTo::All).unwrap();
        let s = s[0].as_binary::<i32>();
        let mut one = fresh();
        one.update(1.0);
        assert_eq!(s.value(0), one.encode());
        assert_eq!(s.value(1), fresh().encode());
    }
}
