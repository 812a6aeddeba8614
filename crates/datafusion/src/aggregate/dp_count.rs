//! `dp_count(value, epsilon) -> bigint`

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::DpCountAccumulator;

use super::binary_state;
use super::flat_groups::FusedSelection;
use crate::to_df_error;
use crate::util::epsilon_arg;
use crate::util::NoiseChoice;

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private count of the non-NULL values of `value` (use \
a constant such as `1` to count rows): the exact count plus discrete Laplace noise of scale \
1/ε drawn by OpenDP's exact sampler, reported as at least 0. Every evaluation draws fresh \
noise. Same name and arguments in PostgreSQL.",
    syntax_example = "dp_count(value [, epsilon])",
    sql_example = r#"```sql
> SELECT dept, dp_count(1, 0.5) FROM staff GROUP BY dept;
```"#,
    argument(
        name = "value",
        description = "Expression whose non-NULL values are counted."
    ),
    argument(
        name = "epsilon",
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon` (`SET veil.epsilon = 1.0`), and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpCount {
    signature: Signature,
    noise: NoiseChoice,
    /// The GROUP BY's partition selection, when the charge rule lets this call carry it.
    select: Option<FusedSelection>,
}

impl Default for DpCount {
    fn default() -> Self {
        Self::new()
    }
}

impl DpCount {
    /// This aggregate drawing `noise` (see [`NoiseChoice`]).
    pub fn with_noise(noise: veil_core::dp::Noise) -> Self {
        DpCount {
            noise: noise.into(),
            ..Self::new()
        }
    }

    pub fn new() -> Self {
        DpCount {
            signature: Signature::one_of(
                vec![TypeSignature::Any(1), TypeSignature::Any(2)],
                Volatility::Volatile,
            ),
            noise: NoiseChoice::default(),
            select: None,
        }
    }

    /// This call carrying its GROUP BY's partition selection (see
    /// [`super::flat_groups`]); the same noise.
    pub fn selecting(&self, select: FusedSelection) -> Self {
        DpCount {
            noise: self.noise,
            select: Some(select),
            ..Self::new()
        }
    }
}

impl AggregateUDFImpl for DpCount {
    fn name(&self) -> &str {
        "dp_count"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return plan_err!("dp_count does not support DISTINCT");
        }
        if self.select.is_some() {
            return exec_err!("dp_count: the partition selection runs only in a GROUP BY");
        }
        Ok(Box::new(DpCountAcc(prototype(&args, self.noise.get())?)))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
        let groups =
            super::flat_groups::FlatGroups::new("dp_count", prototype(&args, self.noise.get())?);
        Ok(match self.select {
            None => Box::new(groups),
            Some(s) => {
                Box::new(groups.selecting(s.selection().map_err(|e| to_df_error("dp_count", e))?)?)
            }
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let mut fields = binary_state::state_fields(args.name);
        if self.select.is_some() {
            fields.push(FusedSelection::state_field(args.name));
        }
        Ok(fields)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// A fresh state with the call's ε.
fn prototype(args: &AccumulatorArgs, noise: veil_core::dp::Noise) -> Result<DpCountAccumulator> {
    let epsilon = epsilon_arg("dp_count", args.exprs, 1)?;
    DpCountAccumulator::with_noise(epsilon, noise).map_err(|e| to_df_error("dp_count", e))
}

#[derive(Debug)]
struct DpCountAcc(DpCountAccumulator);

impl Accumulator for DpCountAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("dp_count: missing argument `value`");
        };
        self.0
            .add((array.len() - array.logical_null_count()) as u64);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let v = self.0.release().map_err(|e| to_df_error("dp_count", e))?;
        Ok(ScalarValue::Int64(Some(v)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(binary_state::state(&self.0))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        binary_state::merge_batch(&mut self.0, states, "dp_count")
    }
}
