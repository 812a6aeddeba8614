//! `dp_top_k(value, candidates, k [, epsilon]) -> text`, and the accumulator it shares with
//! `dp_mode` ([`super::dp_mode`]).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{AggregateUDFImpl, Documentation, Signature, Volatility};
use datafusion_macros::user_doc;
use veil_core::dp::{DpTopKAccumulator, TopK};
use veil_core::{Fallible, VeilError};

use super::binary_state::{self, BinaryState};
use super::groups::{group_state_accumulators, GroupState};
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

    group_state_accumulators!(NAME, |self, args| TopKState::prototype(NAME, &args));

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

/// Per-group state of `dp_mode` and `dp_top_k`: the call's parameters (one copy shared by
/// all groups) and one count per candidate.
#[derive(Debug, Clone)]
pub(super) struct TopKState {
    params: Arc<TopK>,
    counts: Vec<u64>,
}

impl TopKState {
    /// Reads `candidates` (argument 1), `k` (argument 2 for `dp_top_k`, else 1) and
    /// `epsilon` (the next one) from the call's constant arguments.
    pub(super) fn prototype(function: &'static str, args: &AccumulatorArgs) -> Result<Self> {
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
        Ok(TopKState {
            params: Arc::new(params),
            counts,
        })
    }

    fn add(&mut self, value: &str) {
        if let Some(i) = self.params.position(value) {
            self.counts[i] = self.counts[i].saturating_add(1);
        }
    }
}

fn text(values: &ArrayRef) -> &StringArray {
    // The signature coerces the value to Utf8 (checked again in `prototype`).
    values.as_string::<i32>()
}

impl BinaryState for TopKState {
    fn encode(&self) -> Vec<u8> {
        self.params.state_bytes(&self.counts)
    }
    fn decode(bytes: &[u8]) -> Fallible<Self> {
        let acc = DpTopKAccumulator::from_bytes(bytes)?;
        Ok(TopKState {
            params: Arc::new(acc.params),
            counts: acc.counts,
        })
    }
    fn merge_with(&mut self, other: &Self) -> Fallible<()> {
        if !Arc::ptr_eq(&self.params, &other.params) && *other.params != *self.params {
            return Err(VeilError::IncompatibleState(
                "partial states use different arguments".into(),
            ));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        Ok(())
    }
}

impl GroupState for TopKState {
    fn add_row(&mut self, values: &ArrayRef, row: usize) {
        let t = text(values);
        if t.is_valid(row) {
            self.add(t.value(row));
        }
    }
    fn add_rows(
        groups: &mut [Self],
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) {
        let t = text(values);
        for (row, &g) in group_indices.iter().enumerate() {
            if super::groups::passes(filter, row) && t.is_valid(row) {
                groups[g].add(t.value(row));
            }
        }
    }
    fn add_all(&mut self, values: &ArrayRef) {
        for v in text(values).iter().flatten() {
            self.add(v);
        }
    }
    fn release_all(groups: &[Self], function: &str) -> Result<ArrayRef> {
        let out = groups
            .iter()
            .map(|g| {
                if function == NAME {
                    g.params.release_json(&g.counts)
                } else {
                    g.params
                        .release(&g.counts)
                        .map(|picks| picks.into_iter().next().unwrap_or_default())
                }
                .map(Some)
            })
            .collect::<Fallible<StringArray>>()
            .map_err(|e| to_df_error(function, e))?;
        Ok(Arc::new(out))
    }
    fn heap_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use crate::aggregate::groups::OneGroup;
    use datafusion::arrow::array::StringArray;
    use datafusion::logical_expr::Accumulator;

    use super::*;

    fn acc(k: usize) -> OneGroup<TopKState> {
        let params = TopK::new(
            ["a", "b", "c"].iter().map(|s| s.to_string()).collect(),
            k,
            1.0,
        )
        .unwrap();
        OneGroup::new(
            if k == 1 { "dp_mode" } else { NAME },
            TopKState {
                counts: vec![0; 3],
                params: Arc::new(params),
            },
        )
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
        assert_eq!(merged.inner().counts, whole.inner().counts);
        assert_eq!(
            whole.inner().counts.iter().sum::<u64>(),
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
