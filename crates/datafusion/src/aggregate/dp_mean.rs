//! `dp_mean(value, lower, upper, epsilon) -> double`

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::{BoundedMean, DpMeanAccumulator};

use super::binary_state;
use super::flat_groups::FusedSelection;
use crate::to_df_error;
use crate::util::NoiseChoice;
use crate::util::{constant_f64, epsilon_arg};

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private mean of `value`. Each value is clamped to \
[`lower`, `upper`]; a noisy sum and a noisy count, each with ε/2 and discrete Laplace noise \
drawn by OpenDP's exact sampler, are divided and the result clamped to the bounds. NULL and \
NaN values are skipped. Every evaluation draws fresh noise. Same name and arguments in \
veil's PostgreSQL extension.",
    syntax_example = "dp_mean(value, lower, upper [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_mean(salary, 0, 200000, 1.0) FROM staff;
```"#,
    argument(name = "value", description = "Numeric expression to average."),
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
pub struct DpMean {
    signature: Signature,
    noise: NoiseChoice,
    /// The GROUP BY's partition selection, when the charge rule lets this call carry it.
    select: Option<FusedSelection>,
}

impl Default for DpMean {
    fn default() -> Self {
        Self::new()
    }
}

impl DpMean {
    /// This aggregate drawing `noise` (see [`NoiseChoice`]).
    pub fn with_noise(noise: veil_core::dp::Noise) -> Self {
        DpMean {
            noise: noise.into(),
            ..Self::new()
        }
    }

    pub fn new() -> Self {
        DpMean {
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
        DpMean {
            noise: self.noise,
            select: Some(select),
            ..Self::new()
        }
    }
}

impl AggregateUDFImpl for DpMean {
    fn name(&self) -> &str {
        "dp_mean"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return plan_err!("dp_mean does not support DISTINCT");
        }
        super::flat_groups::refuse_carried("dp_mean", self.select)?;
        Ok(Box::new(DpMeanAcc(prototype(&args, self.noise.get())?)))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
        super::flat_groups::groups_accumulator(
            "dp_mean",
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
fn prototype(args: &AccumulatorArgs, noise: veil_core::dp::Noise) -> Result<DpMeanAccumulator> {
    let params = BoundedMean::with_noise(
        constant_f64("dp_mean", "lower", &args.exprs[1])?,
        constant_f64("dp_mean", "upper", &args.exprs[2])?,
        epsilon_arg("dp_mean", args.exprs, 3)?,
        noise,
    )
    .map_err(|e| to_df_error("dp_mean", e))?;
    Ok(DpMeanAccumulator::new(params))
}

/// One group's state: parameters, exact count and fixed-point sum (see veil-core).
#[derive(Debug)]
struct DpMeanAcc(DpMeanAccumulator);

impl Accumulator for DpMeanAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("dp_mean: missing argument `value`");
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
        let v = self.0.release().map_err(|e| to_df_error("dp_mean", e))?;
        Ok(ScalarValue::Float64(Some(v)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(binary_state::state(&self.0))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        binary_state::merge_batch(&mut self.0, states, "dp_mean")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Float64Array;

    use super::*;

    fn acc(lower: f64, upper: f64, eps: f64) -> DpMeanAcc {
        DpMeanAcc(DpMeanAccumulator::new(
            BoundedMean::new(lower, upper, eps).unwrap(),
        ))
    }

    /// Like DataFusion's state_compat checks: one pass and split→state→merge agree.
    #[test]
    fn split_state_merge_equals_one_pass() {
        let data: Vec<Option<f64>> = (0..500)
            .map(|i| {
                if i % 7 == 0 {
                    None
                } else {
                    Some(i as f64 * 1.5 - 100.0)
                }
            })
            .collect();
        let mut whole = acc(-50.0, 500.0, 1.0);
        whole
            .update_batch(&[Arc::new(Float64Array::from(data.clone()))])
            .unwrap();

        let mut parts = Vec::new();
        for chunk in data.chunks(120) {
            let mut a = acc(-50.0, 500.0, 1.0);
            a.update_batch(&[Arc::new(Float64Array::from(chunk.to_vec()))])
                .unwrap();
            parts.push(a.state().unwrap().remove(0));
        }
        let mut merged = acc(-50.0, 500.0, 1.0);
        merged
            .merge_batch(&[ScalarValue::iter_to_array(parts).unwrap()])
            .unwrap();
        assert_eq!(merged.0, whole.0);
    }

    #[test]
    fn merge_rejects_other_parameters() {
        let mut a = acc(0.0, 1.0, 1.0);
        let mut b = acc(0.0, 1.0, 2.0);
        let state = ScalarValue::iter_to_array(b.state().unwrap()).unwrap();
        let err = a.merge_batch(&[state]).unwrap_err().to_string();
        assert!(err.contains("different arguments"), "{err}");
    }
}
