//! The GROUP BY accumulators of `dp_count`, `dp_sum` and `dp_mean`: flat per-group columns
//! (a count, an exact fixed-point sum) instead of one veil-core accumulator per group. The
//! call's parameters are held once, a new group is a zero appended to a vector, and the
//! per-row loops touch 8 bytes per group, as DataFusion's own COUNT, SUM and AVG do. A
//! group's veil-core accumulator is built only to release or encode it, so the releases,
//! the partial states (the Binary encoding of the one-group accumulators, which they merge
//! with) and the parameter check on merge are veil-core's.
//!
//! A `dp_count`, `dp_sum` or `dp_mean` call can also carry its GROUP BY's partition
//! selection ([`FusedSelection`], set by the charge rule in place of a separate
//! `veil_partition_select` call, see [`crate::charge`]): the selection's row count of a
//! group is the call's own count plus the rows its state does not count (`skipped`: NULL
//! and NaN; for a sum, which keeps no count, every row, counted in the sum's own pass), so
//! each row is visited by one accumulator instead of two, and a group the selection drops
//! is released as NULL (the plan keeps the groups whose release is not NULL) without
//! drawing its noise.
//!
//! Sums stay exact: a value's fixed-point units (at most 2^41 in magnitude) are added to an
//! i64 partial of its group, and the partials are joined into i128 totals (saturating, as
//! veil-core adds) before [`UNITS_PER_I64`] units could have reached any one of them.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Float64Array, Int64Array, UInt32Array,
    UInt64Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::accumulate::{
    accumulate, accumulate_indices,
};
use veil_core::dp::{
    DpCountAccumulator, DpMeanAccumulator, DpSumAccumulator, MeanState, PartitionSelection,
    UNITS_PER_I64,
};

use super::binary_state::{merge_counts, merge_group_states, BinaryState};
use super::groups::{passes, single_group};
use crate::to_df_error;

/// The per-group columns a batch is added to: counts and i64 partial sums (each empty when
/// the aggregate keeps none).
pub struct Columns<'a> {
    counts: &'a mut [u64],
    partials: &'a mut [i64],
}

/// A DP aggregate whose per-group state is a count and/or a fixed-point sum.
pub trait FlatState: BinaryState + Clone + Send + 'static {
    /// Whether the state has a count.
    const COUNT: bool;
    /// Whether the state has a fixed-point sum.
    const SUM: bool;
    /// The count and fixed-point sum of this state (0 for what it does not keep).
    fn parts(&self) -> (u64, i128);
    /// Sets the count and sum, keeping the parameters.
    fn set_parts(&mut self, count: u64, sum: i128);
    /// Adds a whole batch of the first argument (as the one-group accumulator does).
    fn add_all(&mut self, values: &ArrayRef);
    /// Adds each row passing `filter` to its group `group_indices[row]` in `cols` (NULL
    /// skipped; for sums and means NaN too). At most [`UNITS_PER_I64`] rows. False when
    /// surely no row was skipped (then [`FlatState::for_skipped`] has nothing to find).
    fn add_rows(
        &self,
        cols: Columns<'_>,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) -> bool;
    /// The noisy releases of groups with these counts and sums (as [`FlatState::parts`]
    /// gives them), as one array; fresh noise for each.
    fn release_all(&mut self, counts: &[u64], sums: &[i128]) -> veil_core::Fallible<ArrayRef>;
    /// Calls `skip(row)` for every row of `values` that [`FlatState::add_rows`] does not
    /// count (NULL; for floats NaN too).
    fn for_skipped(values: &ArrayRef, skip: impl FnMut(usize)) {
        if let Some(nulls) = values.logical_nulls() {
            (0..values.len())
                .filter(|&i| nulls.is_null(i))
                .for_each(skip);
        }
    }
}

/// The GROUP BY accumulator of a `dp_count` / `dp_sum` / `dp_mean` call, carrying `select`
/// when the charge rule gave it one.
pub fn groups_accumulator<T: FlatState>(
    function: &'static str,
    prototype: T,
    select: Option<FusedSelection>,
) -> Result<Box<dyn GroupsAccumulator>> {
    let groups = FlatGroups::new(function, prototype);
    Ok(match select {
        None => Box::new(groups),
        Some(s) => Box::new(groups.selecting(s.selection().map_err(|e| to_df_error(function, e))?)),
    })
}

/// The partial state's fields: the Binary state, and `skipped` with a carried selection.
pub fn state_fields(name: &str, select: Option<FusedSelection>) -> Vec<FieldRef> {
    let mut fields = super::binary_state::state_fields(name);
    if select.is_some() {
        fields.push(FusedSelection::state_field(name));
    }
    fields
}

/// A carried selection runs only in a GROUP BY (where the groups accumulator is used).
pub fn refuse_carried(function: &str, select: Option<FusedSelection>) -> Result<()> {
    match select {
        Some(_) => exec_err!("{function}: the partition selection runs only in a GROUP BY"),
        None => Ok(()),
    }
}

/// [`FlatState::add_rows`] of a fixed-point sum (and mean): each value's units added to its
/// group's partial and, when `cols.counts` is not empty, the value counted — in one pass
/// (`one_pass`, given the counts or None) when no row is NULL or filtered out, else row by
/// row with `units` (None for NaN, skipped). False when surely no row was skipped.
fn add_fixed_rows(
    cols: Columns<'_>,
    values: &ArrayRef,
    group_indices: &[usize],
    filter: Option<&BooleanArray>,
    one_pass: impl FnOnce(&[f64], &[usize], &mut [i64], Option<&mut [u64]>) -> Option<usize>,
    units: impl Fn(f64) -> Option<i64> + Sync,
) -> bool {
    let v = values.as_primitive::<Float64Type>();
    let (counts, partials) = (cols.counts, cols.partials);
    let counting = !counts.is_empty();
    if v.null_count() == 0 && filter.is_none() {
        let counts = counting.then_some(&mut *counts);
        if let Some(nans) = one_pass(v.values(), group_indices, partials, counts) {
            return nans > 0;
        }
    }
    accumulate(group_indices, v, filter, |g, x| {
        if let Some(u) = units(x) {
            partials[g] += u;
            if counting {
                counts[g] += 1;
            }
        }
    });
    true
}

/// Rows of floats that NULL or NaN make [`FlatState::add_rows`] skip.
fn skipped_floats(values: &ArrayRef, mut skip: impl FnMut(usize)) {
    let v = values.as_primitive::<Float64Type>();
    if v.null_count() == 0 && !v.values().iter().any(|x| x.is_nan()) {
        return;
    }
    (0..v.len())
        .filter(|&i| v.is_null(i) || v.value(i).is_nan())
        .for_each(&mut skip);
}

/// The partition selection a `dp_count` / `dp_mean` call carries for its GROUP BY (see the
/// module docs): ε and δ as bits, so the function instance stays hashable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FusedSelection {
    epsilon: u64,
    delta: u64,
}

impl FusedSelection {
    pub fn new(epsilon: f64, delta: f64) -> Self {
        FusedSelection {
            epsilon: epsilon.to_bits(),
            delta: delta.to_bits(),
        }
    }

    pub fn selection(&self) -> veil_core::Fallible<PartitionSelection> {
        PartitionSelection::new(f64::from_bits(self.epsilon), f64::from_bits(self.delta))
    }

    /// The partial state's extra column: rows per group the call itself skips.
    pub fn state_field(name: &str) -> FieldRef {
        Arc::new(Field::new(
            format!("{name}_skipped"),
            DataType::UInt64,
            true,
        ))
    }
}

/// Adds a batch of floats to a one-group accumulator: as one slice without NULLs, else
/// value by value.
fn add_floats<T>(acc: &mut T, values: &ArrayRef, slice: fn(&mut T, &[f64]), one: fn(&mut T, f64)) {
    let v = values.as_primitive::<Float64Type>();
    if v.null_count() == 0 {
        slice(acc, v.values());
    } else {
        v.iter().flatten().for_each(|x| one(acc, x));
    }
}

impl FlatState for DpCountAccumulator {
    const COUNT: bool = true;
    const SUM: bool = false;

    fn parts(&self) -> (u64, i128) {
        (self.count, 0)
    }
    fn set_parts(&mut self, count: u64, _sum: i128) {
        self.count = count;
    }
    fn add_all(&mut self, values: &ArrayRef) {
        self.add((values.len() - values.logical_null_count()) as u64);
    }
    fn add_rows(
        &self,
        cols: Columns<'_>,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) -> bool {
        let counts = cols.counts;
        let nulls = values.logical_nulls();
        accumulate_indices(group_indices, nulls.as_ref(), filter, |g| counts[g] += 1);
        nulls.is_some()
    }
    fn release_all(&mut self, counts: &[u64], _sums: &[i128]) -> veil_core::Fallible<ArrayRef> {
        let out = counts
            .iter()
            .map(|&c| {
                self.count = c;
                self.release().map(Some)
            })
            .collect::<veil_core::Fallible<Int64Array>>()?;
        Ok(Arc::new(out))
    }
}

impl FlatState for DpSumAccumulator {
    const COUNT: bool = false;
    const SUM: bool = true;

    fn parts(&self) -> (u64, i128) {
        (0, self.sum)
    }
    fn set_parts(&mut self, _count: u64, sum: i128) {
        self.sum = sum;
    }
    fn add_all(&mut self, values: &ArrayRef) {
        add_floats(self, values, Self::update_slice, Self::update);
    }
    fn add_rows(
        &self,
        cols: Columns<'_>,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) -> bool {
        // `counts` only for a carried selection's rows
        add_fixed_rows(
            cols,
            values,
            group_indices,
            filter,
            |xs, groups, partials, counts| self.add_grouped(xs, groups, partials, counts),
            |x| self.units(x),
        )
    }
    fn release_all(&mut self, _counts: &[u64], sums: &[i128]) -> veil_core::Fallible<ArrayRef> {
        let out = sums
            .iter()
            .map(|&s| {
                self.sum = s;
                self.release().map(Some)
            })
            .collect::<veil_core::Fallible<Float64Array>>()?;
        Ok(Arc::new(out))
    }
    fn for_skipped(values: &ArrayRef, skip: impl FnMut(usize)) {
        skipped_floats(values, skip);
    }
}

impl FlatState for DpMeanAccumulator {
    const COUNT: bool = true;
    const SUM: bool = true;

    fn parts(&self) -> (u64, i128) {
        (self.state.count, self.state.sum)
    }
    fn set_parts(&mut self, count: u64, sum: i128) {
        self.state = MeanState { count, sum };
    }
    fn add_all(&mut self, values: &ArrayRef) {
        add_floats(self, values, Self::update_slice, Self::update);
    }
    fn add_rows(
        &self,
        cols: Columns<'_>,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) -> bool {
        // `counts` is as long as `partials` (both per group)
        add_fixed_rows(
            cols,
            values,
            group_indices,
            filter,
            |xs, groups, partials, counts| {
                self.add_grouped(xs, groups, partials, counts.unwrap_or_default())
            },
            |x| self.units(x),
        )
    }
    fn release_all(&mut self, counts: &[u64], sums: &[i128]) -> veil_core::Fallible<ArrayRef> {
        let out = counts
            .iter()
            .zip(sums)
            .map(|(&count, &sum)| self.params.release(&MeanState { count, sum }).map(Some))
            .collect::<veil_core::Fallible<Float64Array>>()?;
        Ok(Arc::new(out))
    }
    fn for_skipped(values: &ArrayRef, skip: impl FnMut(usize)) {
        skipped_floats(values, skip);
    }
}

/// The groups accumulator of one `dp_count`, `dp_sum` or `dp_mean` call; see the module docs.
pub struct FlatGroups<T: FlatState> {
    function: &'static str,
    /// The call's parameters; its count and sum are scratch (set before each use).
    prototype: T,
    /// Per group, when `T::COUNT`.
    counts: Vec<u64>,
    /// Per group, when `T::SUM`: the sum is `totals[g] + partials[g]`.
    totals: Vec<i128>,
    partials: Vec<i64>,
    /// Rows added to the partials since they were last joined into the totals (an upper
    /// bound of the units any one partial holds).
    pending: usize,
    /// The most units a partial may take; [`UNITS_PER_I64`] (lowered in tests).
    flush_every: usize,
    /// The GROUP BY's partition selection, when this call carries it.
    select: Option<PartitionSelection>,
    /// Per group, with `select`: the rows not in `counts` (NULL, NaN; without `T::COUNT`,
    /// every row).
    skipped: Vec<u64>,
}

impl<T: FlatState> FlatGroups<T> {
    pub fn new(function: &'static str, prototype: T) -> Self {
        FlatGroups {
            function,
            prototype,
            counts: Vec::new(),
            totals: Vec::new(),
            partials: Vec::new(),
            pending: 0,
            flush_every: UNITS_PER_I64,
            select: None,
            skipped: Vec::new(),
        }
    }

    /// This accumulator carrying its GROUP BY's partition selection (see the module docs).
    pub fn selecting(mut self, selection: PartitionSelection) -> Self {
        self.select = Some(selection);
        self
    }

    /// Adds the rows of `values` this call skips to their groups' `skipped`.
    fn add_skipped(&mut self, values: &ArrayRef, group_indices: &[usize]) {
        let skipped = &mut self.skipped;
        T::for_skipped(values, |row| skipped[group_indices[row]] += 1);
    }

    fn grow(&mut self, total_num_groups: usize) {
        if T::COUNT && self.counts.len() < total_num_groups {
            self.counts.resize(total_num_groups, 0);
        }
        if self.select.is_some() && self.skipped.len() < total_num_groups {
            self.skipped.resize(total_num_groups, 0);
        }
        if T::SUM && self.totals.len() < total_num_groups {
            self.totals.resize(total_num_groups, 0);
            self.partials.resize(total_num_groups, 0);
        }
    }

    /// Joins the partial sums into the totals.
    fn flush(&mut self) {
        for (t, p) in self.totals.iter_mut().zip(self.partials.iter_mut()) {
            *t = t.saturating_add(i128::from(*p));
            *p = 0;
        }
        self.pending = 0;
    }

    /// Adds at most `flush_every` rows to their groups.
    fn add_chunk(
        &mut self,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) {
        if T::SUM {
            if self.pending + group_indices.len() > self.flush_every {
                self.flush();
            }
            self.pending += group_indices.len();
        }
        // A carried selection without a count of the call's own counts in `skipped`.
        let counts = if !T::COUNT && self.select.is_some() {
            &mut self.skipped
        } else {
            &mut self.counts
        };
        let cols = Columns {
            counts,
            partials: &mut self.partials,
        };
        let maybe_skipped = self.prototype.add_rows(cols, values, group_indices, filter);
        if maybe_skipped && self.select.is_some() {
            self.add_skipped(values, group_indices);
        }
    }

    /// The count and sum of a group.
    fn group_parts(&self, g: usize) -> (u64, i128) {
        let count = if T::COUNT { self.counts[g] } else { 0 };
        let sum = if T::SUM {
            self.totals[g].saturating_add(i128::from(self.partials[g]))
        } else {
            0
        };
        (count, sum)
    }

    /// Sets the count and sum of a group (partial sum emptied).
    fn set_group_parts(&mut self, g: usize, (count, sum): (u64, i128)) {
        if T::COUNT {
            self.counts[g] = count;
        }
        if T::SUM {
            self.totals[g] = sum;
            self.partials[g] = 0;
        }
    }

    /// Removes the groups `emit_to` asks for: their counts and sums.
    fn take(&mut self, emit_to: EmitTo) -> (Vec<u64>, Vec<i128>) {
        let mut counts = Vec::new();
        let mut sums = Vec::new();
        if T::COUNT {
            counts = emit_to.take_needed(&mut self.counts);
        }
        if T::SUM {
            self.flush();
            sums = emit_to.take_needed(&mut self.totals);
            emit_to.take_needed(&mut self.partials);
        }
        (counts, sums)
    }

    /// Entry `i` of a taken column, or 0 when the aggregate keeps no such column.
    fn nth<V: Copy + Default>(column: &[V], i: usize) -> V {
        column.get(i).copied().unwrap_or_default()
    }
}

impl<T: FlatState> GroupsAccumulator for FlatGroups<T> {
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
        if self.select.is_some() {
            // The selection counts every row of a group: no FILTER can apply to its rows.
            if opt_filter.is_some() {
                return exec_err!(
                    "{}: a call carrying the partition selection cannot have a FILTER",
                    self.function
                );
            }
        }
        if let Some(g) = single_group(group_indices, opt_filter) {
            if self.select.is_some() {
                if T::COUNT {
                    self.add_skipped(values, group_indices);
                } else {
                    self.skipped[g] = self.skipped[g].saturating_add(values.len() as u64);
                }
            }
            self.prototype.set_parts(0, 0);
            self.prototype.add_all(values);
            let (count, sum) = self.prototype.parts();
            let (c, s) = self.group_parts(g);
            self.set_group_parts(g, (c.saturating_add(count), s.saturating_add(sum)));
            return Ok(());
        }
        let n = group_indices.len();
        if n <= self.flush_every || !T::SUM {
            self.add_chunk(values, group_indices, opt_filter);
            return Ok(());
        }
        for start in (0..n).step_by(self.flush_every) {
            let len = self.flush_every.min(n - start);
            let filter = opt_filter.map(|f| f.slice(start, len));
            self.add_chunk(
                &values.slice(start, len),
                &group_indices[start..start + len],
                filter.as_ref(),
            );
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (counts, sums) = self.take(emit_to);
        let function = self.function;
        let Some(selection) = &self.select else {
            return self
                .prototype
                .release_all(&counts, &sums)
                .map_err(|e| to_df_error(function, e));
        };
        // The selection first, on each group's rows; then only the kept groups draw the
        // call's noise, and the others are NULL.
        let skipped = emit_to.take_needed(&mut self.skipped);
        let mut kept = Vec::new();
        let mut at: Vec<Option<u32>> = Vec::with_capacity(skipped.len());
        for (g, &skip) in skipped.iter().enumerate() {
            let keep = selection
                .keep(Self::nth(&counts, g).saturating_add(skip))
                .map_err(|e| to_df_error(function, e))?;
            at.push(keep.then_some(kept.len() as u32));
            if keep {
                kept.push(g);
            }
        }
        let kept_counts: Vec<u64> = kept.iter().map(|&g| Self::nth(&counts, g)).collect();
        let kept_sums: Vec<i128> = kept.iter().map(|&g| Self::nth(&sums, g)).collect();
        let released = self
            .prototype
            .release_all(&kept_counts, &kept_sums)
            .map_err(|e| to_df_error(function, e))?;
        Ok(take(&released, &UInt32Array::from(at), None)?)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (counts, sums) = self.take(emit_to);
        let mut out = BinaryBuilder::new();
        for i in 0..counts.len().max(sums.len()) {
            self.prototype
                .set_parts(Self::nth(&counts, i), Self::nth(&sums, i));
            out.append_value(self.prototype.encode());
        }
        let mut state: Vec<ArrayRef> = vec![Arc::new(out.finish())];
        if self.select.is_some() {
            let skipped = emit_to.take_needed(&mut self.skipped);
            state.push(Arc::new(UInt64Array::from(skipped)));
        }
        Ok(state)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let function = self.function;
        if self.select.is_some() {
            merge_counts(values.get(1), group_indices, &mut self.skipped, || {
                format!("{function}: missing state `skipped`")
            })?;
        }
        merge_group_states::<T>(values, group_indices, function, |g, other| {
            let (count, sum) = self.group_parts(g);
            self.prototype.set_parts(count, sum);
            // veil-core's merge: refuses a state with other parameters
            self.prototype
                .merge_with(other)
                .map_err(|e| to_df_error(function, e))?;
            let merged = self.prototype.parts();
            self.set_group_parts(g, merged);
            Ok(())
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
        let mut one = self.prototype.clone();
        let mut out = BinaryBuilder::new();
        for row in 0..values.len() {
            one.set_parts(0, 0);
            if passes(opt_filter, row) {
                one.add_all(&values.slice(row, 1));
            }
            out.append_value(one.encode());
        }
        let mut state: Vec<ArrayRef> = vec![Arc::new(out.finish())];
        if self.select.is_some() {
            if opt_filter.is_some() {
                return exec_err!(
                    "{}: a call carrying the partition selection cannot have a FILTER",
                    self.function
                );
            }
            let mut skipped = vec![u64::from(!T::COUNT); values.len()];
            T::for_skipped(values, |row| skipped[row] = 1);
            state.push(Arc::new(UInt64Array::from(skipped)));
        }
        Ok(state)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.counts.capacity() * std::mem::size_of::<u64>()
            + self.totals.capacity() * std::mem::size_of::<i128>()
            + self.partials.capacity() * std::mem::size_of::<i64>()
            + self.skipped.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{BinaryArray, Int64Array};
    use datafusion::arrow::datatypes::UInt64Type;
    use veil_core::dp::{BoundedMean, BoundedSum};

    use super::*;

    fn sum_proto() -> DpSumAccumulator {
        DpSumAccumulator::new(BoundedSum::new(-3.5, 10.0, 1.0).unwrap())
    }
    fn mean_proto() -> DpMeanAccumulator {
        DpMeanAccumulator::new(BoundedMean::new(-3.5, 10.0, 1.0).unwrap())
    }
    fn count_proto() -> DpCountAccumulator {
        DpCountAccumulator::new(1.0).unwrap()
    }

    /// Values with NULLs, NaN and values outside the bounds (when `nulls`).
    fn values(n: usize, nulls: bool) -> ArrayRef {
        Arc::new(Float64Array::from(
            (0..n)
                .map(|i| match i % 11 {
                    0 if nulls => None,
                    1 => Some(f64::NAN),
                    2 => Some(1e9),
                    3 => Some(-7.25),
                    _ => Some((i % 13) as f64 * 0.731),
                })
                .collect::<Vec<_>>(),
        ))
    }

    fn groups_of(n: usize, groups: usize) -> Vec<usize> {
        (0..n).map(|i| (i * 7 + i / 3) % groups).collect()
    }

    fn filter_of(n: usize) -> BooleanArray {
        (0..n)
            .map(|i| match i % 5 {
                0 => Some(false),
                1 => None,
                _ => Some(true),
            })
            .collect()
    }

    fn encoded(acc: &mut dyn GroupsAccumulator) -> Vec<Vec<u8>> {
        let s = acc.state(EmitTo::All).unwrap();
        let s: &BinaryArray = s[0].as_binary();
        s.iter().map(|b| b.unwrap().to_vec()).collect()
    }

    /// Each group's state equals a veil-core accumulator fed that group's rows one by one
    /// (`update`, `add`): on the vectorized path, with NULLs, with a filter, with both, and
    /// when a batch has a single group.
    fn grouped_equals_row_by_row<T: FlatState + PartialEq + std::fmt::Debug>(
        proto: T,
        add_one: impl Fn(&mut T, &ArrayRef, usize),
    ) {
        let n = 1000;
        let k = 17;
        for (nulls, filtered) in [(false, false), (true, false), (false, true), (true, true)] {
            let v = values(n, nulls);
            let groups = groups_of(n, k);
            let filter = filtered.then(|| filter_of(n));
            let mut acc = FlatGroups::new("f", proto.clone());
            // two batches, the second all in group 3
            acc.update_batch(
                &[v.slice(0, 600)],
                &groups[..600],
                filter.as_ref().map(|f| f.slice(0, 600)).as_ref(),
                k,
            )
            .unwrap();
            let last = filter.as_ref().map(|f| f.slice(600, 400));
            acc.update_batch(&[v.slice(600, 400)], &[3; 400], last.as_ref(), k)
                .unwrap();
            let mut expected = vec![proto.clone(); k];
            let batch_groups = groups[..600].iter().copied().chain([3; 400]);
            for (row, g) in batch_groups.enumerate() {
                if passes(filter.as_ref(), row) {
                    add_one(&mut expected[g], &v, row);
                }
            }
            let got = encoded(&mut acc);
            for g in 0..k {
                assert_eq!(
                    T::decode(&got[g]).unwrap(),
                    expected[g],
                    "group {g}, nulls {nulls}, filter {filtered}"
                );
            }
        }
    }

    fn update_f64<T>(update: impl Fn(&mut T, f64)) -> impl Fn(&mut T, &ArrayRef, usize) {
        move |acc, v, row| {
            if v.is_valid(row) {
                update(acc, v.as_primitive::<Float64Type>().value(row));
            }
        }
    }

    #[test]
    fn sums_equal_row_by_row_sums() {
        grouped_equals_row_by_row(sum_proto(), update_f64(DpSumAccumulator::update));
    }

    #[test]
    fn means_equal_row_by_row_means() {
        grouped_equals_row_by_row(mean_proto(), update_f64(DpMeanAccumulator::update));
    }

    #[test]
    fn counts_equal_row_by_row_counts() {
        grouped_equals_row_by_row(count_proto(), |acc, v, row| {
            if v.is_valid(row) {
                acc.add(1);
            }
        });
    }

    #[test]
    fn extreme_bounds_take_the_slow_path_and_stay_exact() {
        let proto = DpSumAccumulator::new(BoundedSum::new(-1e-300, 1e-300, 1.0).unwrap());
        grouped_equals_row_by_row(proto, update_f64(DpSumAccumulator::update));
    }

    /// Partial sums are joined into the totals before `flush_every` units reach them, also
    /// when one batch is longer than that (it is split).
    #[test]
    fn partial_sums_are_flushed_in_time() {
        let v = values(1000, true);
        let groups = groups_of(1000, 5);
        let mut whole = FlatGroups::new("dp_mean", mean_proto());
        whole
            .update_batch(std::slice::from_ref(&v), &groups, None, 5)
            .unwrap();
        let mut small = FlatGroups::new("dp_mean", mean_proto());
        small.flush_every = 7;
        for (start, len) in [(0, 5), (5, 3), (8, 500), (508, 492)] {
            small
                .update_batch(&[v.slice(start, len)], &groups[start..start + len], None, 5)
                .unwrap();
            assert!(small.pending <= 7, "{}", small.pending);
        }
        assert_eq!(encoded(&mut whole), encoded(&mut small));
    }

    /// One pass and split → state → merge agree, and states merge with the one-group
    /// accumulator's (same encoding).
    #[test]
    fn split_states_merge_to_the_one_pass_states() {
        let v = values(900, true);
        let groups = groups_of(900, 6);
        let mut whole = FlatGroups::new("dp_mean", mean_proto());
        whole
            .update_batch(std::slice::from_ref(&v), &groups, None, 6)
            .unwrap();
        let mut merged = FlatGroups::new("dp_mean", mean_proto());
        merged
            .update_batch(&[v.slice(0, 100)], &groups[..100], None, 6)
            .unwrap();
        for (start, len) in [(100, 400), (500, 400)] {
            let mut part = FlatGroups::new("dp_mean", mean_proto());
            part.update_batch(&[v.slice(start, len)], &groups[start..start + len], None, 6)
                .unwrap();
            let state = part.state(EmitTo::All).unwrap();
            merged.merge_batch(&state, &[0, 1, 2, 3, 4, 5], 6).unwrap();
        }
        assert_eq!(encoded(&mut whole), encoded(&mut merged));
        // a NULL state is skipped; EmitTo::First emits the first groups only
        let mut acc = FlatGroups::new("dp_sum", sum_proto());
        let mut one = sum_proto();
        one.update(2.0);
        let states: ArrayRef = Arc::new(BinaryArray::from(vec![
            Some(one.to_bytes().as_slice()),
            None,
        ]));
        acc.merge_batch(&[states], &[1, 0], 3).unwrap();
        let first = acc.state(EmitTo::First(2)).unwrap();
        let first: &BinaryArray = first[0].as_binary();
        assert_eq!(first.len(), 2);
        assert_eq!(first.value(0), sum_proto().to_bytes());
        assert_eq!(first.value(1), one.to_bytes());
        assert_eq!(encoded(&mut acc).len(), 1);
    }

    #[test]
    fn merge_refuses_states_with_other_parameters() {
        let mut acc = FlatGroups::new("dp_sum", sum_proto());
        let other = DpSumAccumulator::new(BoundedSum::new(-3.5, 10.0, 2.0).unwrap());
        let states: ArrayRef = Arc::new(BinaryArray::from(vec![other.to_bytes().as_slice()]));
        let err = acc.merge_batch(&[states], &[0], 1).unwrap_err().to_string();
        assert!(
            err.contains("dp_sum") && err.contains("different arguments"),
            "{err}"
        );
        let mut counts = FlatGroups::new("dp_count", count_proto());
        let states: ArrayRef = Arc::new(BinaryArray::from(vec![DpCountAccumulator::new(0.5)
            .unwrap()
            .to_bytes()
            .as_slice()]));
        assert!(counts.merge_batch(&[states], &[0], 1).is_err());
        let garbage: ArrayRef = Arc::new(BinaryArray::from(vec![&[1u8, 2, 3][..]]));
        assert!(counts.merge_batch(&[garbage], &[0], 1).is_err());
    }

    /// Saturating like veil-core: a sum past i128 stays at the maximum.
    #[test]
    fn sums_saturate_like_veil_core() {
        let mut big = sum_proto();
        big.sum = i128::MAX - 5;
        let mut acc = FlatGroups::new("dp_sum", sum_proto());
        let states: ArrayRef = Arc::new(BinaryArray::from(vec![big.to_bytes().as_slice()]));
        acc.merge_batch(&[states], &[0], 2).unwrap();
        let v: ArrayRef = Arc::new(Float64Array::from(vec![10.0, 10.0, 10.0]));
        acc.update_batch(&[v], &[0, 1, 0], None, 2).unwrap();
        let more = values(50, false);
        acc.update_batch(std::slice::from_ref(&more), &[0; 50], None, 2)
            .unwrap();
        let (mut g0, mut g1) = (big, sum_proto());
        g0.update(10.0);
        g0.update(10.0);
        g0.update_slice(more.as_primitive::<Float64Type>().values());
        g1.update(10.0);
        assert_eq!(g0.sum, i128::MAX);
        assert_eq!(encoded(&mut acc), vec![g0.to_bytes(), g1.to_bytes()]);
    }

    #[test]
    fn releases_are_near_the_exact_values() {
        // ε = 10⁶: noise far below the tolerance
        let n = 3000;
        let v: ArrayRef = Arc::new(Float64Array::from(
            (0..n).map(|i| (i % 3) as f64).collect::<Vec<_>>(),
        ));
        let groups: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let mut mean = FlatGroups::new(
            "dp_mean",
            DpMeanAccumulator::new(BoundedMean::new(0.0, 10.0, 1e6).unwrap()),
        );
        mean.update_batch(std::slice::from_ref(&v), &groups, None, 3)
            .unwrap();
        let out = mean.evaluate(EmitTo::All).unwrap();
        let out = out.as_primitive::<Float64Type>();
        for g in 0..3 {
            assert!(
                (out.value(g) - g as f64).abs() < 1e-3,
                "{g}: {}",
                out.value(g)
            );
        }
        let mut count = FlatGroups::new("dp_count", DpCountAccumulator::new(1e6).unwrap());
        let ints: ArrayRef = Arc::new(Int64Array::from(
            (0..n)
                .map(|i| (i % 4 != 0).then_some(i as i64))
                .collect::<Vec<_>>(),
        ));
        count.update_batch(&[ints], &groups, None, 3).unwrap();
        let out = count.evaluate(EmitTo::All).unwrap();
        let out = out.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(out.values().iter().sum::<i64>(), 2250);
    }

    fn selection() -> PartitionSelection {
        // threshold ≈ 15 rows at ε = 1, δ = 10⁻⁶
        PartitionSelection::new(1.0, 1e-6).unwrap()
    }

    /// With the selection, a group's rows are its count plus its skipped rows (NULL, NaN),
    /// whether added in one pass, split into states and merged, or converted row by row.
    #[test]
    fn carried_selection_counts_skipped_rows_through_states() {
        // with NULLs (the row-by-row path) and with NaN only (the one-pass path); a mean
        // skips NULL and NaN rows, a sum (no count of its own) counts every row as skipped
        for nulls in [true, false] {
            carried_selection_counts_skipped_rows(mean_proto(), false, nulls);
            carried_selection_counts_skipped_rows(sum_proto(), true, nulls);
        }
    }

    fn carried_selection_counts_skipped_rows<T: FlatState>(proto: T, every_row: bool, nulls: bool) {
        let v = values(900, nulls);
        let groups = groups_of(900, 6);
        let floats = v.as_primitive::<Float64Type>();
        let skips = |row: usize| every_row || floats.is_null(row) || floats.value(row).is_nan();
        let mut expected = [0u64; 6];
        for (row, &g) in groups.iter().enumerate() {
            expected[g] += u64::from(skips(row));
        }
        assert!(expected.iter().all(|&n| n > 0));
        let whole = || FlatGroups::new("f", proto.clone()).selecting(selection());
        let skipped_of = |acc: &mut FlatGroups<T>| {
            let state = acc.state(EmitTo::All).unwrap();
            assert_eq!(state.len(), 2);
            state[1].as_primitive::<UInt64Type>().values().to_vec()
        };
        let mut one = whole();
        one.update_batch(std::slice::from_ref(&v), &groups, None, 6)
            .unwrap();
        assert_eq!(skipped_of(&mut one), expected);
        // split into partial states (one batch all in group 2), then merged
        let mut merged = whole();
        for (start, len, single) in [(0, 300, false), (300, 300, true), (600, 300, false)] {
            let mut part = whole();
            let g: Vec<usize> = if single {
                vec![2; len]
            } else {
                groups[start..start + len].to_vec()
            };
            part.update_batch(&[v.slice(start, len)], &g, None, 6)
                .unwrap();
            let state = part.state(EmitTo::All).unwrap();
            merged.merge_batch(&state, &[0, 1, 2, 3, 4, 5], 6).unwrap();
        }
        let mut direct = [0u64; 6];
        for (row, g) in groups.iter().enumerate() {
            let g = if (300..600).contains(&row) { 2 } else { *g };
            direct[g] += u64::from(skips(row));
        }
        assert_eq!(skipped_of(&mut merged), direct);
        // rows converted to states: 1 for a skipped row, else 0
        let state = one.convert_to_state(&[v.slice(0, 12)], None).unwrap();
        let got = state[1].as_primitive::<UInt64Type>().values().to_vec();
        let want: Vec<u64> = (0..12).map(|r| u64::from(skips(r))).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn carried_selection_count_skips_nulls_only() {
        // a count skips NULLs only
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, None, Some(4)]));
        let mut count = FlatGroups::new("dp_count", count_proto()).selecting(selection());
        count.update_batch(&[ints], &[0, 1, 1, 0], None, 2).unwrap();
        let state = count.state(EmitTo::All).unwrap();
        assert_eq!(
            state[1].as_primitive::<UInt64Type>().values().to_vec(),
            [0, 2]
        );
    }

    /// Groups the selection drops are NULL; kept groups are released (a group of only
    /// NULLs is kept when it has enough rows: the selection counts rows, not values).
    #[test]
    fn carried_selection_releases_kept_groups_only() {
        let mut count = FlatGroups::new("dp_count", DpCountAccumulator::new(1e6).unwrap())
            .selecting(selection());
        // group 0: 200 values; group 1: 2 values; group 2: 200 NULLs
        let values: ArrayRef = Arc::new(Int64Array::from(
            (0..402)
                .map(|i| (i < 202).then_some(i as i64))
                .collect::<Vec<_>>(),
        ));
        let groups: Vec<usize> = (0..402)
            .map(|i| match i {
                0..200 => 0,
                200..202 => 1,
                _ => 2,
            })
            .collect();
        count.update_batch(&[values], &groups, None, 3).unwrap();
        let out = count.evaluate(EmitTo::All).unwrap();
        let out = out.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(out.len(), 3);
        assert_eq!(out.value(0), 200);
        assert!(out.is_null(1));
        assert!(out.is_valid(2) && out.value(2) == 0);
    }

    #[test]
    fn carried_selection_refuses_filters() {
        let mut count = FlatGroups::new("dp_count", count_proto()).selecting(selection());
        let v = values(4, false);
        let filter = BooleanArray::from(vec![true, false, true, true]);
        let err = count
            .update_batch(std::slice::from_ref(&v), &[0, 0, 1, 1], Some(&filter), 2)
            .unwrap_err();
        assert!(err.to_string().contains("FILTER"), "{err}");
        assert!(count.convert_to_state(&[v], Some(&filter)).is_err());
    }

    #[test]
    fn rows_converted_to_states_are_one_row_states() {
        let acc = FlatGroups::new("dp_mean", mean_proto());
        let v: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(2.0),
            None,
            Some(f64::NAN),
            Some(3.0),
        ]));
        let filter = BooleanArray::from(vec![true, true, true, false]);
        let s = acc.convert_to_state(&[v], Some(&filter)).unwrap();
        let s: &BinaryArray = s[0].as_binary();
        let mut two = mean_proto();
        two.update(2.0);
        assert_eq!(s.value(0), two.to_bytes());
        for row in 1..4 {
            assert_eq!(s.value(row), mean_proto().to_bytes(), "{row}");
        }
    }
}
