//! `dp_count_distinct(value [, epsilon]) -> bigint`

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, GroupsAccumulator, Signature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::DpCountDistinctAccumulator;
use veil_core::Fallible;

use super::binary_state::{self, BinaryState};
use super::groups::{DpGroups, GroupState};
use crate::to_df_error;
use crate::util::epsilon_arg;
use crate::util::NoiseChoice;

const NAME: &str = "dp_count_distinct";

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private count of the distinct non-NULL values of \
`value`, compared by their text form (`CAST(value AS VARCHAR)`): the exact distinct count \
plus discrete Laplace noise of scale 1/ε (one row adds or removes at most one distinct \
value), reported as at least 0. Every evaluation draws fresh noise. Same name and \
arguments in PostgreSQL.",
    syntax_example = "dp_count_distinct(value [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_count_distinct(customer_id, 0.5) FROM orders;
```"#,
    argument(
        name = "value",
        description = "Expression whose distinct non-NULL values are counted."
    ),
    argument(
        name = "epsilon",
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon`, and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpCountDistinct {
    signature: Signature,
    noise: NoiseChoice,
}

impl Default for DpCountDistinct {
    fn default() -> Self {
        Self::new()
    }
}

impl DpCountDistinct {
    /// This aggregate drawing `noise` (see [`NoiseChoice`]).
    pub fn with_noise(noise: veil_core::dp::Noise) -> Self {
        DpCountDistinct {
            noise: noise.into(),
            ..Self::new()
        }
    }

    pub fn new() -> Self {
        DpCountDistinct {
            signature: Signature::user_defined(Volatility::Volatile),
            noise: NoiseChoice::default(),
        }
    }
}

impl AggregateUDFImpl for DpCountDistinct {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The value as text (its canonical form), epsilon as a double.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            1 => Ok(vec![DataType::Utf8]),
            2 => Ok(vec![DataType::Utf8, DataType::Float64]),
            n => plan_err!("{NAME} takes 1 or 2 arguments (value [, epsilon]), got {n}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DpCountDistinctAcc(prototype(
            &args,
            self.noise.get(),
        )?)))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(DpGroups::new(
            NAME,
            prototype(&args, self.noise.get())?,
        )))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(binary_state::state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// A fresh state with the call's ε; checks that the value arrives as text.
fn prototype(
    args: &AccumulatorArgs,
    noise: veil_core::dp::Noise,
) -> Result<DpCountDistinctAccumulator> {
    if args.is_distinct {
        return plan_err!("{NAME} does not take DISTINCT (it counts distinct values already)");
    }
    match args.expr_fields.first().map(|f| f.data_type()) {
        Some(DataType::Utf8) => {}
        other => return plan_err!("{NAME}: expected the value as Utf8, got {other:?}"),
    }
    let epsilon = epsilon_arg(NAME, args.exprs, 1)?;
    DpCountDistinctAccumulator::new(epsilon, noise).map_err(|e| to_df_error(NAME, e))
}

#[derive(Debug)]
struct DpCountDistinctAcc(DpCountDistinctAccumulator);

impl Accumulator for DpCountDistinctAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("{NAME}: missing argument `value`");
        };
        self.0.add_all(array);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let v = self.0.release().map_err(|e| to_df_error(NAME, e))?;
        Ok(ScalarValue::Int64(Some(v)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + 32 * self.0.len()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(binary_state::state(&self.0))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        binary_state::merge_batch(&mut self.0, states, NAME)
    }
}

impl BinaryState for DpCountDistinctAccumulator {
    fn encode(&self) -> Vec<u8> {
        self.to_bytes()
    }
    fn decode(bytes: &[u8]) -> Fallible<Self> {
        DpCountDistinctAccumulator::from_bytes(bytes)
    }
    fn merge_with(&mut self, other: &Self) -> Fallible<()> {
        self.merge(other)
    }
}

/// The text values (the signature casts every input to Utf8; anything else adds nothing,
/// which `prototype` has ruled out).
fn text(values: &ArrayRef) -> Option<&datafusion::arrow::array::StringArray> {
    values.as_string_opt::<i32>()
}

impl GroupState for DpCountDistinctAccumulator {
    fn add_row(&mut self, values: &ArrayRef, row: usize) {
        if let Some(v) = text(values) {
            if v.is_valid(row) {
                self.update(v.value(row).as_bytes());
            }
        }
    }
    fn add_rows(
        groups: &mut [Self],
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) {
        let Some(v) = text(values) else { return };
        for (row, &g) in group_indices.iter().enumerate() {
            let kept = filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if kept && v.is_valid(row) {
                groups[g].update(v.value(row).as_bytes());
            }
        }
    }
    fn add_all(&mut self, values: &ArrayRef) {
        if let Some(v) = text(values) {
            v.iter().flatten().for_each(|s| self.update(s.as_bytes()));
        }
    }
    fn release_all(groups: &[Self], function: &str) -> Result<ArrayRef> {
        let out = groups
            .iter()
            .map(|g| g.release().map(Some))
            .collect::<Result<Int64Array, _>>()
            .map_err(|e| to_df_error(function, e))?;
        Ok(Arc::new(out))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;
    use datafusion::logical_expr::EmitTo;

    use super::*;

    fn proto() -> DpCountDistinctAccumulator {
        DpCountDistinctAccumulator::new(1.0, veil_core::dp::Noise::Laplace).unwrap()
    }

    #[test]
    fn split_states_merge_to_the_one_pass_state() {
        let values: ArrayRef = Arc::new(StringArray::from(
            (0..400)
                .map(|i| (i % 7 != 0).then(|| format!("v{}", i % 53)))
                .collect::<Vec<_>>(),
        ));
        let groups: Vec<usize> = (0..400).map(|i| i % 3).collect();
        let mut whole = DpGroups::new(NAME, proto());
        whole
            .update_batch(std::slice::from_ref(&values), &groups, None, 3)
            .unwrap();
        let mut merged = DpGroups::new(NAME, proto());
        for half in [0..250, 250..400] {
            let mut part = DpGroups::new(NAME, proto());
            part.update_batch(
                &[values.slice(half.start, half.len())],
                &groups[half.clone()],
                None,
                3,
            )
            .unwrap();
            merged
                .merge_batch(&part.state(EmitTo::All).unwrap(), &[0, 1, 2], 3)
                .unwrap();
        }
        let (a, b) = (
            whole.state(EmitTo::All).unwrap(),
            merged.state(EmitTo::All).unwrap(),
        );
        assert_eq!(a[0].as_binary::<i32>(), b[0].as_binary::<i32>());
        // the groups' states merged into one equal the one-group accumulator on all rows
        let mut one = DpCountDistinctAcc(proto());
        one.update_batch(&[values]).unwrap();
        let mut union = DpCountDistinctAcc(proto());
        union.merge_batch(&a).unwrap();
        assert_eq!(union.0, one.0);
        assert_eq!(one.0.len(), 53);
    }
}
