//! `dp_variance(value, lower, upper, epsilon) -> double` and
//! `dp_stddev(value, lower, upper, epsilon) -> double`

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::{BoundedVariance, DpVarianceAccumulator, Noise, Spread};

use super::binary_state;
use super::groups::group_state_accumulators;
use crate::to_df_error;
use crate::util::NoiseChoice;
use crate::util::{constant_f64, epsilon_arg};

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private population variance of `value`. Each value \
is clamped to [`lower`, `upper`] and centred at their midpoint; the count, the sum and the \
sum of squares are kept exactly in fixed point and each gets ε/3 of discrete Laplace noise \
from OpenDP's exact sampler. The result is clamped to [0, ((upper − lower)/2)²]. NULL and \
NaN values are skipped. Every evaluation draws fresh noise. Same name and arguments in \
veil's PostgreSQL extension.",
    syntax_example = "dp_variance(value, lower, upper [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_variance(salary, 0, 200000, 1.0) FROM staff;
```"#,
    argument(name = "value", description = "Numeric expression."),
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
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon`, and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpVariance {
    signature: Signature,
    noise: NoiseChoice,
}

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private population standard deviation of `value`: \
the square root of `dp_variance` with the same arguments (same mechanism and privacy \
cost). NULL and NaN values are skipped. Every evaluation draws fresh noise. Same name and \
arguments in veil's PostgreSQL extension.",
    syntax_example = "dp_stddev(value, lower, upper [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_stddev(salary, 0, 200000, 1.0) FROM staff;
```"#,
    argument(name = "value", description = "Numeric expression."),
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
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon`, and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpStddev {
    signature: Signature,
    noise: NoiseChoice,
}

/// `(value, lower, upper [, epsilon])`, all double.
fn signature() -> Signature {
    Signature::one_of(
        vec![
            TypeSignature::Uniform(3, vec![DataType::Float64]),
            TypeSignature::Uniform(4, vec![DataType::Float64]),
        ],
        Volatility::Volatile,
    )
}

impl Default for DpVariance {
    fn default() -> Self {
        Self::new()
    }
}

impl DpVariance {
    pub fn new() -> Self {
        DpVariance {
            signature: signature(),
            noise: NoiseChoice::default(),
        }
    }

    /// This aggregate drawing `noise` (see [`NoiseChoice`]).
    pub fn with_noise(noise: Noise) -> Self {
        DpVariance {
            noise: noise.into(),
            ..Self::new()
        }
    }
}

impl Default for DpStddev {
    fn default() -> Self {
        Self::new()
    }
}

impl DpStddev {
    pub fn new() -> Self {
        DpStddev {
            signature: signature(),
            noise: NoiseChoice::default(),
        }
    }

    /// This aggregate drawing `noise` (see [`NoiseChoice`]).
    pub fn with_noise(noise: Noise) -> Self {
        DpStddev {
            noise: noise.into(),
            ..Self::new()
        }
    }
}

/// A fresh state with the call's constant arguments.
fn prototype(
    function: &str,
    spread: Spread,
    noise: Noise,
    args: &AccumulatorArgs,
) -> Result<DpVarianceAccumulator> {
    if args.is_distinct {
        return plan_err!("{function} does not support DISTINCT");
    }
    let params = BoundedVariance::new(
        constant_f64(function, "lower", &args.exprs[1])?,
        constant_f64(function, "upper", &args.exprs[2])?,
        epsilon_arg(function, args.exprs, 3)?,
        noise,
        spread,
    )
    .map_err(|e| to_df_error(function, e))?;
    Ok(DpVarianceAccumulator::new(params))
}

macro_rules! spread_udaf {
    ($t:ty, $name:literal, $spread:expr) => {
        impl AggregateUDFImpl for $t {
            fn name(&self) -> &str {
                $name
            }

            fn signature(&self) -> &Signature {
                &self.signature
            }

            fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
                Ok(DataType::Float64)
            }

            group_state_accumulators!($name, |self, args| prototype(
                $name,
                $spread,
                self.noise.get(),
                &args
            ));

            fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
                Ok(binary_state::state_fields(args.name))
            }

            fn documentation(&self) -> Option<&Documentation> {
                self.doc()
            }
        }
    };
}

spread_udaf!(DpVariance, "dp_variance", Spread::Variance);
spread_udaf!(DpStddev, "dp_stddev", Spread::StdDev);

#[cfg(test)]
mod tests {
    use crate::aggregate::groups::{DpGroups, OneGroup};
    use datafusion::logical_expr::{Accumulator, GroupsAccumulator};
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::EmitTo;

    use super::*;

    fn fresh(spread: Spread) -> DpVarianceAccumulator {
        DpVarianceAccumulator::new(
            BoundedVariance::new(-50.0, 500.0, 1.0, Noise::Laplace, spread).unwrap(),
        )
    }

    fn data() -> Vec<Option<f64>> {
        (0..500)
            .map(|i| (i % 7 != 0).then_some(i as f64 * 1.5 - 100.0))
            .collect()
    }

    /// Like DataFusion's state_compat checks: one pass and split→state→merge agree.
    #[test]
    fn split_state_merge_equals_one_pass() {
        for spread in [Spread::Variance, Spread::StdDev] {
            let data = data();
            let mut whole = OneGroup::new("dp_variance", fresh(spread));
            whole
                .update_batch(&[Arc::new(Float64Array::from(data.clone()))])
                .unwrap();
            let mut parts = Vec::new();
            for chunk in data.chunks(120) {
                let mut a = OneGroup::new("dp_variance", fresh(spread));
                a.update_batch(&[Arc::new(Float64Array::from(chunk.to_vec()))])
                    .unwrap();
                parts.push(a.state().unwrap().remove(0));
            }
            let mut merged = OneGroup::new("dp_variance", fresh(spread));
            merged
                .merge_batch(&[ScalarValue::iter_to_array(parts).unwrap()])
                .unwrap();
            assert_eq!(merged.inner(), whole.inner());
            assert_eq!(whole.inner().state.count, 428);
            let ScalarValue::Float64(Some(v)) = merged.evaluate().unwrap() else {
                panic!("not a double");
            };
            let max = if spread == Spread::Variance {
                275.0 * 275.0
            } else {
                275.0
            };
            assert!((0.0..=max).contains(&v), "{v}");
        }
    }

    /// Grouped states, split in two and merged, equal one-group states of each group's rows;
    /// and a one-group partial state merges into a grouped one.
    #[test]
    fn grouped_split_state_merge_equals_one_pass() {
        let values: ArrayRef = Arc::new(Float64Array::from(data()));
        let groups: Vec<usize> = (0..500).map(|i| i % 3).collect();
        let mut merged = DpGroups::new("dp_stddev", fresh(Spread::StdDev));
        for half in [0..250, 250..500] {
            let mut part = DpGroups::new("dp_stddev", fresh(Spread::StdDev));
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
        let states = merged.state(EmitTo::All).unwrap();
        let states = states[0].as_binary::<i32>();
        for g in 0..3 {
            let mut single = fresh(Spread::StdDev);
            for (i, v) in data().into_iter().enumerate() {
                if let (true, Some(v)) = (i % 3 == g, v) {
                    single.update(v);
                }
            }
            assert_eq!(
                DpVarianceAccumulator::from_bytes(states.value(g)).unwrap(),
                single
            );
        }
    }

    #[test]
    fn merge_rejects_other_parameters() {
        let mut a = OneGroup::new("dp_variance", fresh(Spread::Variance));
        let mut b = OneGroup::new("dp_stddev", fresh(Spread::StdDev));
        let state = ScalarValue::iter_to_array(b.state().unwrap()).unwrap();
        let err = a.merge_batch(&[state]).unwrap_err().to_string();
        assert!(err.contains("different arguments"), "{err}");
    }
}
