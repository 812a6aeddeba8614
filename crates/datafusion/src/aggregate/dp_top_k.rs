//! `dp_top_k(value, candidates, k [, epsilon]) -> text`, and the accumulator it shares with
//! `dp_mode` ([`super::dp_mode`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::{DpTopKAccumulator, TopK};
use veil_core::VeilError;

use super::binary_state;
use crate::to_df_error;
use crate::util::{constant_argument, constant_f64, epsilon_arg};

const NAME: &str = "dp_top_k";

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "The k most frequent values of `value` among a fixed set of candidates, \
chosen with ε-differential privacy (OpenDP's permute-and-flip, ε/k per pick), as a JSON \
array of k distinct candidates, most frequent first. Values are compared by their text form; \
values that are not candidates are ignored, NULLs skipped. Only candidates are released, \
never counts. Every evaluation draws fresh noise. Same name and arguments in PostgreSQL.",
    syntax_example = "dp_top_k(value, candidates, k [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_top_k(color, '["red","green","blue","black"]', 2, 1.0) FROM cars;
["red","blue"]
```"#,
    argument(name = "value", description = "Expression whose values are counted."),
    argument(
        name = "candidates",
        description = "Constant JSON array of 1 to 10,000 distinct strings, e.g. '[\"red\",\"green\"]'; it must not be derived from the data."
    ),
    argument(
        name = "k",
        description = "Constant number of candidates to pick, from 1 to the number of candidates."
    ),
    argument(
        name = "epsilon",
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon`, and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpTopK {
    signature: Signature,
}

impl Default for DpTopK {
    fn default() -> Self {
        Self::new()
    }
}

impl DpTopK {
    pub fn new() -> Self {
        DpTopK {
            signature: Signature::user_defined(Volatility::Volatile),
        }
    }
}

impl AggregateUDFImpl for DpTopK {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// value and candidates as text, k and epsilon as doubles (k is checked to be whole).
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (t, f) = (DataType::Utf8, DataType::Float64);
        match arg_types.len() {
            3 => Ok(vec![t.clone(), t, f]),
            4 => Ok(vec![t.clone(), t, f.clone(), f]),
            n => plan_err!(
                "{NAME} takes 3 or 4 arguments (value, candidates, k [, epsilon]), got {n}"
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(TopKAcc::new(NAME, &args)?))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(binary_state::state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The constant `candidates` argument (JSON text) at `index`.
fn candidates_arg(function: &str, args: &AccumulatorArgs, index: usize) -> Result<String> {
    let Some(expr) = args.exprs.get(index) else {
        return plan_err!("{function}: missing argument `candidates`");
    };
    match constant_argument(expr)? {
        Some(ScalarValue::Utf8(Some(s))) => Ok(s),
        Some(v) if v.is_null() => {
            plan_err!("{function}: invalid argument `candidates`: must not be NULL")
        }
        Some(v) => plan_err!(
            "{function}: invalid argument `candidates`: expected text, got {}",
            v.data_type()
        ),
        None => plan_err!(
            "{function}: invalid argument `candidates`: must be a constant, not a column expression"
        ),
    }
}

/// A whole number read as f64 (`k`), as i64 for [`TopK::from_sql`].
pub(crate) fn whole(function: &str, name: &'static str, x: f64) -> Result<i64> {
    if x.fract() != 0.0 || !x.is_finite() || x.abs() > 1e15 {
        return Err(to_df_error(
            function,
            VeilError::invalid(name, format!("must be a whole number, got {x}")),
        ));
    }
    Ok(x as i64)
}

/// Shared state of `dp_mode` and `dp_top_k`: the call's parameters (one copy for all
/// groups) and one count per candidate.
#[derive(Debug)]
pub(super) struct TopKAcc {
    function: &'static str,
    params: Arc<TopK>,
    counts: Vec<u64>,
}

impl TopKAcc {
    /// Reads `candidates` (argument 1), `k` (argument 2 for `dp_top_k`, else 1) and
    /// `epsilon` (the next one) from the call's constant arguments.
    pub(super) fn new(function: &'static str, args: &AccumulatorArgs) -> Result<Self> {
        if args.is_distinct {
            return plan_err!("{function} does not take DISTINCT");
        }
        match args.expr_fields.first().map(|f| f.data_type()) {
            Some(DataType::Utf8) => {}
            other => return plan_err!("{function}: expected the value as Utf8, got {other:?}"),
        }
        let candidates = candidates_arg(function, args, 1)?;
        let (k, eps_index) = if function == NAME {
            let k = match args.exprs.get(2) {
                Some(e) => whole(function, "k", constant_f64(function, "k", e)?)?,
                None => return plan_err!("{function}: missing argument `k`"),
            };
            (k, 3)
        } else {
            (1, 2)
        };
        let epsilon = epsilon_arg(function, args.exprs, eps_index)?;
        let params =
            TopK::from_sql(&candidates, k, epsilon).map_err(|e| to_df_error(function, e))?;
        let counts = vec![0; params.candidates().len()];
        Ok(TopKAcc {
            function,
            params: Arc::new(params),
            counts,
        })
    }
}

impl Accumulator for TopKAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("{}: missing argument `value`", self.function);
        };
        let Some(text) = array.as_string_opt::<i32>() else {
            return exec_err!("{}: expected the value as Utf8", self.function);
        };
        for v in text.iter().flatten() {
            if let Some(i) = self.params.position(v) {
                self.counts[i] = self.counts[i].saturating_add(1);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let out = if self.function == NAME {
            self.params.release_json(&self.counts)
        } else {
            self.params
                .release(&self.counts)
                .map(|picks| picks.into_iter().next().unwrap_or_default())
        }
        .map_err(|e| to_df_error(self.function, e))?;
        Ok(ScalarValue::Utf8(Some(out)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + 8 * self.counts.capacity()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(
            self.params.state_bytes(&self.counts),
        ))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return exec_err!("{}: missing partial state", self.function);
        };
        for bytes in states.as_binary::<i32>().iter().flatten() {
            let other =
                DpTopKAccumulator::from_bytes(bytes).map_err(|e| to_df_error(self.function, e))?;
            if other.params != *self.params {
                return Err(to_df_error(
                    self.function,
                    VeilError::IncompatibleState("partial states use different arguments".into()),
                ));
            }
            for (a, b) in self.counts.iter_mut().zip(&other.counts) {
                *a = a.saturating_add(*b);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;

    use super::*;

    fn acc(k: usize) -> TopKAcc {
        let params = TopK::new(
            ["a", "b", "c"].iter().map(|s| s.to_string()).collect(),
            k,
            1.0,
        )
        .unwrap();
        TopKAcc {
            function: if k == 1 { "dp_mode" } else { NAME },
            counts: vec![0; 3],
            params: Arc::new(params),
        }
    }

    #[test]
    fn split_states_merge_to_the_one_pass_counts() {
        let values: ArrayRef = Arc::new(StringArray::from(
            (0..300)
                .map(|i| (i % 11 != 0).then(|| ["a", "b", "c", "zz"][i % 4].to_string()))
                .collect::<Vec<_>>(),
        ));
        let mut whole = acc(2);
        whole.update_batch(std::slice::from_ref(&values)).unwrap();
        let mut merged = acc(2);
        for half in [0..120, 120..300] {
            let mut part = acc(2);
            part.update_batch(&[values.slice(half.start, half.len())])
                .unwrap();
            let state = part.state().unwrap()[0].to_array().unwrap();
            merged.merge_batch(&[state]).unwrap();
        }
        assert_eq!(merged.counts, whole.counts);
        assert_eq!(
            whole.counts.iter().sum::<u64>(),
            (0..300).filter(|i| i % 11 != 0 && i % 4 != 3).count() as u64
        );
        // states of another k do not merge
        let other = acc(1).state().unwrap()[0].to_array().unwrap();
        assert!(merged.merge_batch(&[other]).is_err());
        // dp_top_k releases JSON, dp_mode a bare candidate
        let ScalarValue::Utf8(Some(json)) = whole.evaluate().unwrap() else {
            panic!()
        };
        assert!(
            json.starts_with("[\"") && json.ends_with("\"]") && json.matches(',').count() == 1,
            "{json}"
        );
        let ScalarValue::Utf8(Some(mode)) = acc(1).evaluate().unwrap() else {
            panic!()
        };
        assert!(["a", "b", "c"].contains(&mode.as_str()));
    }
}
