//! `dp_mode(value, candidates [, epsilon]) -> text`

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::function::StateFieldsArgs;
use datafusion::logical_expr::{AggregateUDFImpl, Documentation, Signature, Volatility};
use datafusion_macros::user_doc;

use super::binary_state;
use super::dp_top_k::TopKState;
use super::groups::group_state_accumulators;

const NAME: &str = "dp_mode";

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "The most frequent value of `value` among a fixed set of candidates, chosen \
with ε-differential privacy (OpenDP's permute-and-flip over the candidates' counts). Values \
are compared by their text form; values that are not candidates are ignored, NULLs skipped. \
Only the chosen candidate is released, never a count. Every evaluation draws fresh noise. \
Same name and arguments in PostgreSQL.",
    syntax_example = "dp_mode(value, candidates [, epsilon])",
    sql_example = r#"```sql
> SELECT dp_mode(color, '["red","green","blue"]', 1.0) FROM cars;
red
```"#,
    argument(name = "value", description = "Expression whose values are counted."),
    argument(
        name = "candidates",
        description = "Constant JSON array of 1 to 10,000 distinct strings, e.g. '[\"red\",\"green\"]'; it must not be derived from the data."
    ),
    argument(
        name = "epsilon",
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon`, and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpMode {
    signature: Signature,
}

impl Default for DpMode {
    fn default() -> Self {
        Self::new()
    }
}

impl DpMode {
    pub fn new() -> Self {
        DpMode {
            signature: Signature::user_defined(Volatility::Volatile),
        }
    }
}

impl AggregateUDFImpl for DpMode {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// value and candidates as text, epsilon as a double.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8, DataType::Utf8]),
            3 => Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Float64]),
            n => {
                plan_err!("{NAME} takes 2 or 3 arguments (value, candidates [, epsilon]), got {n}")
            }
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
