//! `dp_quantile(value, q, lower, upper, epsilon) -> double` and
//! `dp_median(value, lower, upper, epsilon) -> double`

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::{BoundedQuantile, DpQuantileAccumulator};

use super::binary_state;
use super::groups::group_state_accumulators;
use crate::to_df_error;
use crate::util::{constant_f64, epsilon_arg};

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private `q`-quantile of `value`. [`lower`, `upper`] \
is cut into 1024 equal buckets; each value, clamped to the bounds, counts in its bucket, and \
OpenDP's exact permute-and-flip mechanism picks a bucket whose ranks are close to q·n. The \
result is the chosen bucket's midpoint, always within the bounds. NULL and NaN values are \
skipped. Every evaluation draws fresh randomness. Same name and arguments in veil's \
PostgreSQL extension.",
    syntax_example = "dp_quantile(value, q, lower, upper [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_quantile(salary, 0.9, 0, 200000, 1.0) FROM staff;
```"#,
    argument(name = "value", description = "Numeric expression."),
    argument(
        name = "q",
        description = "Constant quantile from 0 to 1 (0.5 is the median)."
    ),
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
pub struct DpQuantile {
    signature: Signature,
}

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private median of `value`: `dp_quantile` with \
q = 0.5 (same mechanism and privacy cost). NULL and NaN values are skipped. Every \
evaluation draws fresh randomness. Same name and arguments in veil's PostgreSQL extension.",
    syntax_example = "dp_median(value, lower, upper [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_median(salary, 0, 200000, 1.0) FROM staff;
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
pub struct DpMedian {
    signature: Signature,
}

/// `arity` doubles, or one more (epsilon).
fn signature(arity: usize) -> Signature {
    Signature::one_of(
        vec![
            TypeSignature::Uniform(arity, vec![DataType::Float64]),
            TypeSignature::Uniform(arity + 1, vec![DataType::Float64]),
        ],
        Volatility::Volatile,
    )
}

impl Default for DpQuantile {
    fn default() -> Self {
        Self::new()
    }
}

impl DpQuantile {
    pub fn new() -> Self {
        DpQuantile {
            signature: signature(4),
        }
    }
}

impl Default for DpMedian {
    fn default() -> Self {
        Self::new()
    }
}

impl DpMedian {
    pub fn new() -> Self {
        DpMedian {
            signature: signature(3),
        }
    }
}

/// A fresh state with the call's constant arguments; `dp_median` has no `q` argument.
fn prototype(function: &str, args: &AccumulatorArgs) -> Result<DpQuantileAccumulator> {
    if args.is_distinct {
        return plan_err!("{function} does not support DISTINCT");
    }
    let (q, first_bound) = if function == "dp_median" {
        (0.5, 1)
    } else {
        (constant_f64(function, "q", &args.exprs[1])?, 2)
    };
    let params = BoundedQuantile::new(
        q,
        constant_f64(function, "lower", &args.exprs[first_bound])?,
        constant_f64(function, "upper", &args.exprs[first_bound + 1])?,
        epsilon_arg(function, args.exprs, first_bound + 2)?,
    )
    .map_err(|e| to_df_error(function, e))?;
    Ok(DpQuantileAccumulator::new(params))
}

macro_rules! quantile_udaf {
    ($t:ty, $name:literal) => {
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

            group_state_accumulators!($name, |self, args| prototype($name, &args));

            fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
                Ok(binary_state::state_fields(args.name))
            }

            fn documentation(&self) -> Option<&Documentation> {
                self.doc()
            }
        }
    };
}

quantile_udaf!(DpQuantile, "dp_quantile");
quantile_udaf!(DpMedian, "dp_median");

#[cfg(test)]
mod tests {
    use crate::aggregate::groups::{DpGroups, OneGroup};
    use datafusion::logical_expr::{Accumulator, GroupsAccumulator};
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::EmitTo;

    use super::*;

    fn fresh(q: f64) -> DpQuantileAccumulator {
        DpQuantileAccumulator::new(BoundedQuantile::new(q, 0.0, 100.0, 1.0).unwrap())
    }

    fn data() -> Vec<Option<f64>> {
        (0..2000)
            .map(|i| (i % 9 != 0).then_some((i % 150) as f64 - 20.0))
            .collect()
    }

    /// Like DataFusion's state_compat checks: one pass and split→state→merge agree.
    #[test]
    fn split_state_merge_equals_one_pass() {
        let data = data();
        let mut whole = OneGroup::new("dp_quantile", fresh(0.25));
        whole
            .update_batch(&[Arc::new(Float64Array::from(data.clone()))])
            .unwrap();
        let mut parts = Vec::new();
        for chunk in data.chunks(333) {
            let mut a = OneGroup::new("dp_quantile", fresh(0.25));
            a.update_batch(&[Arc::new(Float64Array::from(chunk.to_vec()))])
                .unwrap();
            parts.push(a.state().unwrap().remove(0));
        }
        let mut merged = OneGroup::new("dp_quantile", fresh(0.25));
        merged
            .merge_batch(&[ScalarValue::iter_to_array(parts).unwrap()])
            .unwrap();
        assert_eq!(merged.inner(), whole.inner());
        let total: u64 = whole.inner().counts.iter().sum();
        assert_eq!(total, data.iter().flatten().count() as u64);
        let ScalarValue::Float64(Some(v)) = merged.evaluate().unwrap() else {
            panic!("not a double");
        };
        assert!((0.0..=100.0).contains(&v), "{v}");
        assert!(whole.size() > 1024 * 8, "the histogram counts in size()");
    }

    /// Grouped states, split in two and merged, equal one-group states of each group's rows.
    #[test]
    fn grouped_split_state_merge_equals_one_pass() {
        let values: ArrayRef = Arc::new(Float64Array::from(data()));
        let groups: Vec<usize> = (0..2000).map(|i| i % 4).collect();
        let mut merged = DpGroups::new("dp_median", fresh(0.5));
        for half in [0..900, 900..2000] {
            let mut part = DpGroups::new("dp_median", fresh(0.5));
            part.update_batch(
                &[values.slice(half.start, half.len())],
                &groups[half.clone()],
                None,
                4,
            )
            .unwrap();
            merged
                .merge_batch(&part.state(EmitTo::All).unwrap(), &[0, 1, 2, 3], 4)
                .unwrap();
        }
        let states = merged.state(EmitTo::All).unwrap();
        let states = states[0].as_binary::<i32>();
        for g in 0..4 {
            let mut single = fresh(0.5);
            for (i, v) in data().into_iter().enumerate() {
                if let (true, Some(v)) = (i % 4 == g, v) {
                    single.update(v);
                }
            }
            assert_eq!(
                DpQuantileAccumulator::from_bytes(states.value(g)).unwrap(),
                single
            );
        }
    }

    #[test]
    fn merge_rejects_other_parameters() {
        let mut a = OneGroup::new("dp_quantile", fresh(0.5));
        let mut b = OneGroup::new("dp_quantile", fresh(0.9));
        let state = ScalarValue::iter_to_array(b.state().unwrap()).unwrap();
        let err = a.merge_batch(&[state]).unwrap_err().to_string();
        assert!(err.contains("different arguments"), "{err}");
    }
}
