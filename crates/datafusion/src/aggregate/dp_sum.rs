//! `dp_sum(value, lower, upper, epsilon) -> double`

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::{BoundedSum, DpSumAccumulator};

use super::binary_state;
use super::flat_groups::FusedSelection;
use crate::to_df_error;
use crate::util::NoiseChoice;
use crate::util::{constant_f64, epsilon_arg};

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private sum of `value`, each value clamped to \
[`lower`, `upper`] and summed exactly in fixed point; discrete Laplace noise of scale \
max(|lower|, |upper|)/ε is drawn by OpenDP's exact sampler. NULL and NaN values are \
skipped. Every evaluation draws fresh noise. Same name and arguments in PostgreSQL.",
    syntax_example = "dp_sum(value, lower, upper [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_sum(hours, 0, 80, 0.5) FROM timesheets;
```"#,
    argument(name = "value", description = "Numeric expression to sum."),
    argument(
        name = "lower",
        description = "Constant lower clamping bound (finite)."
    ),
    argument(
        name = "upper",
        description = "Constant upper clamping bound (finite, ≥ lower)."
    ),
    argument(
        name = "epsilon",
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon` (`SET veil.epsilon = 1.0`), and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpSum {
    signature: Signature,
    noise: NoiseChoice,
    /// The GROUP BY's partition selection, when the charge rule lets this call carry it.
    select: Option<FusedSelection>,
}

impl Default for DpSum {
    fn default() -> Self {
        Self::new()
    }
}

impl DpSum {
    /// This aggregate drawing `noise` (see [`NoiseChoice`]).
    pub fn with_noise(noise: veil_core::dp::Noise) -> Self {
        DpSum {
            noise: noise.into(),
            ..Self::new()
        }
    }

    pub fn new() -> Self {
        DpSum {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Uniform(3, vec![DataType::Float64]),
                    TypeSignature::Uniform(4, vec![DataType::Float64]),
                ],
                Volatility::Volatile,
            ),
            noise: NoiseChoice::default(),
            select: None,
        }
    }

    /// This call carrying its GROUP BY's partition selection (see
    /// [`super::flat_groups`]); the same noise.
    pub fn selecting(&self, select: FusedSelection) -> Self {
        DpSum {
            noise: self.noise,
            select: Some(select),
            ..Self::new()
        }
    }
}

impl AggregateUDFImpl for DpSum {
    fn name(&self) -> &str {
        "dp_sum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return plan_err!("dp_sum does not support DISTINCT");
        }
        super::flat_groups::refuse_carried("dp_sum", self.select)?;
        Ok(Box::new(DpSumAcc(prototype(&args, self.noise.get())?)))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
        super::flat_groups::groups_accumulator(
            "dp_sum",
            prototype(&args, self.noise.get())?,
            self.select,
        )
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(super::flat_groups::state_fields(args.name, self.select))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// A fresh state with the call's constant arguments.
fn prototype(args: &AccumulatorArgs, noise: veil_core::dp::Noise) -> Result<DpSumAccumulator> {
    let params = BoundedSum::with_noise(
        constant_f64("dp_sum", "lower", &args.exprs[1])?,
        constant_f64("dp_sum", "upper", &args.exprs[2])?,
        epsilon_arg("dp_sum", args.exprs, 3)?,
        noise,
    )
    .map_err(|e| to_df_error("dp_sum", e))?;
    Ok(DpSumAccumulator::new(params))
}

#[derive(Debug)]
struct DpSumAcc(DpSumAccumulator);

impl Accumulator for DpSumAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("dp_sum: missing argument `value`");
        };
        let values = array.as_primitive::<Float64Type>();
        if values.null_count() == 0 {
            self.0.update_slice(values.values());
        } else {
            values.iter().flatten().for_each(|x| self.0.update(x));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let v = self.0.release().map_err(|e| to_df_error("dp_sum", e))?;
        Ok(ScalarValue::Float64(Some(v)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(binary_state::state(&self.0))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        binary_state::merge_batch(&mut self.0, states, "dp_sum")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Float64Array;

    use super::*;

    #[test]
    fn split_state_merge_equals_one_pass() {
        let acc = || {
            DpSumAcc(DpSumAccumulator::new(
                BoundedSum::new(-5.0, 5.0, 1.0).unwrap(),
            ))
        };
        let data: Vec<Option<f64>> = (0..300)
            .map(|i| (i % 9 != 0).then_some(i as f64 - 150.0))
            .collect();
        let mut whole = acc();
        whole
            .update_batch(&[Arc::new(Float64Array::from(data.clone()))])
            .unwrap();
        let mut parts = Vec::new();
        for chunk in data.chunks(77) {
            let mut a = acc();
            a.update_batch(&[Arc::new(Float64Array::from(chunk.to_vec()))])
                .unwrap();
            parts.push(a.state().unwrap().remove(0));
        }
        let mut merged = acc();
        merged
            .merge_batch(&[ScalarValue::iter_to_array(parts).unwrap()])
            .unwrap();
        assert_eq!(merged.0, whole.0);
    }
}
