//! `veil_partition_select(epsilon, delta) -> boolean`: DP partition selection for a group.
//!
//! veil adds it by itself to every GROUP BY that has DP aggregates (see [`crate::charge`]),
//! and keeps only the groups for which it is true; it can also be called directly.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature,
    TypeSignature, Volatility,
};
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::accumulate::accumulate_indices;
use datafusion_macros::user_doc;
use std::sync::Arc;
use veil_core::dp::PartitionSelection;

use crate::to_df_error;
use crate::util::constant_f64;

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "Whether a group may be released: its row count plus discrete Laplace noise \
(scale 1/ε) reaches the threshold that makes the release (ε, δ)-differentially private. \
Added automatically (ε from `veil.partition_epsilon`, else the largest ε of the query's DP \
aggregates; δ from `veil.delta`) to every GROUP BY with DP aggregates, so group keys of tiny \
groups are never released. Same function in PostgreSQL.",
    syntax_example = "veil_partition_select(epsilon, delta)",
    sql_example = r#"```sql
> SET veil.delta = 1e-6;
> SELECT dept, dp_count(1, 0.5) FROM staff GROUP BY dept;  -- selection added by veil
```"#,
    argument(name = "epsilon", description = "Constant ε > 0 of the selection."),
    argument(name = "delta", description = "Constant δ in (0, 1) of the selection.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VeilPartitionSelect {
    signature: Signature,
}

impl Default for VeilPartitionSelect {
    fn default() -> Self {
        Self::new()
    }
}

impl VeilPartitionSelect {
    pub fn new() -> Self {
        VeilPartitionSelect {
            signature: Signature::one_of(
                vec![TypeSignature::Exact(vec![
                    DataType::Float64,
                    DataType::Float64,
                ])],
                Volatility::Volatile,
            ),
        }
    }
}

pub const NAME: &str = "veil_partition_select";

impl AggregateUDFImpl for VeilPartitionSelect {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SelectAcc {
            selection: selection(&args)?,
            rows: 0,
        }))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(SelectGroups {
            selection: selection(&args)?,
            rows: Vec::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_rows", args.name),
            DataType::UInt64,
            true,
        ))])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The selection's parameters: `(epsilon, delta)` as called in SQL, or `(rows, epsilon,
/// delta)` as the charge rule passes them after costing (`rows` is any column of the
/// input, only counted, so the constants need not become per-batch arrays; see
/// [`crate::aggregate::const_args`]).
fn selection(args: &AccumulatorArgs) -> Result<PartitionSelection> {
    let n = args.exprs.len();
    if args.is_distinct || !(2..=3).contains(&n) {
        return plan_err!("{NAME} takes (epsilon, delta)");
    }
    PartitionSelection::new(
        constant_f64(NAME, "epsilon", &args.exprs[n - 2])?,
        constant_f64(NAME, "delta", &args.exprs[n - 1])?,
    )
    .map_err(|e| to_df_error(NAME, e))
}

/// Row counts of every group; the same UInt64 state as [`SelectAcc`].
struct SelectGroups {
    selection: PartitionSelection,
    rows: Vec<u64>,
}

impl GroupsAccumulator for SelectGroups {
    fn update_batch(
        &mut self,
        _values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.rows.resize(total_num_groups.max(self.rows.len()), 0);
        // Every row counts (NULLs too): the selection protects the group keys.
        let rows = &mut self.rows;
        accumulate_indices(group_indices, None, opt_filter, |g| rows[g] += 1);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let rows = emit_to.take_needed(&mut self.rows);
        let keep = rows
            .iter()
            .map(|&n| self.selection.keep(n).map(Some))
            .collect::<Result<BooleanArray, _>>()
            .map_err(|e| to_df_error(NAME, e))?;
        Ok(Arc::new(keep))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let rows = emit_to.take_needed(&mut self.rows);
        Ok(vec![Arc::new(UInt64Array::from(rows))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.rows.resize(total_num_groups.max(self.rows.len()), 0);
        let missing = || format!("{NAME}: missing state");
        super::binary_state::merge_counts(values.first(), group_indices, &mut self.rows, missing)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let n = values.first().map_or(0, |v| v.len());
        let rows: UInt64Array = (0..n)
            .map(|row| {
                Some(u64::from(
                    opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row)),
                ))
            })
            .collect();
        Ok(vec![Arc::new(rows)])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.capacity() * 8
    }
}

#[derive(Debug)]
struct SelectAcc {
    selection: PartitionSelection,
    rows: u64,
}

impl Accumulator for SelectAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("{NAME}: missing arguments");
        };
        self.rows += array.len() as u64;
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let keep = self
            .selection
            .keep(self.rows)
            .map_err(|e| to_df_error(NAME, e))?;
        Ok(ScalarValue::Boolean(Some(keep)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::UInt64(Some(self.rows))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(rows) = states.first() else {
            return exec_err!("{NAME}: missing state");
        };
        for v in rows.as_primitive::<UInt64Type>().iter().flatten() {
            self.rows = self.rows.saturating_add(v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int64Array;

    use super::*;

    fn groups() -> SelectGroups {
        SelectGroups {
            selection: PartitionSelection::new(1.0, 1e-6).unwrap(),
            rows: Vec::new(),
        }
    }

    fn rows(acc: &mut SelectGroups) -> Vec<u64> {
        let s = acc.state(EmitTo::All).unwrap();
        s[0].as_primitive::<UInt64Type>().values().to_vec()
    }

    /// Rows are counted per group whatever their values (NULLs too), filtered rows not, and
    /// states merge by adding.
    #[test]
    fn counts_rows_per_group_and_merges() {
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), None]));
        let mut a = groups();
        a.update_batch(std::slice::from_ref(&values), &[0, 0, 2, 0], None, 3)
            .unwrap();
        assert_eq!(rows(&mut a), vec![3, 0, 1]);
        let filter = BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]);
        let mut b = groups();
        b.update_batch(&[values], &[1, 1, 1, 0], Some(&filter), 2)
            .unwrap();
        // (b holds [1, 1]; state() would take the rows)
        let state: ArrayRef = Arc::new(UInt64Array::from(vec![Some(5), None, Some(7)]));
        b.merge_batch(&[state], &[1, 0, 2], 3).unwrap();
        assert_eq!(rows(&mut b), vec![1, 6, 7]);
    }

    /// Large groups are kept, empty ones dropped (threshold ≈ 15 at ε = 1, δ = 10⁻⁶).
    #[test]
    fn keeps_large_groups_only() {
        let mut acc = groups();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![0; 1000]));
        let g: Vec<usize> = (0..1000).map(|i| usize::from(i == 0)).collect();
        acc.update_batch(&[values], &g, None, 3).unwrap();
        let keep = acc.evaluate(EmitTo::All).unwrap();
        let keep = keep.as_boolean();
        assert!(keep.value(0));
        assert!(!keep.value(2));
    }
}
