//! `dp_explain(function, params) -> text`

use std::sync::Arc;

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::to_df_error;

const NAME: &str = "dp_explain";

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "Explains a DP aggregate call without running it (no data read, no budget \
spent): a JSON object with the mechanism, the privacy cost (`cost`: `epsilon`, `delta`, \
`rho`), each noised part's sensitivity, noise `scale` and 95 % noise half-width, the 95 % \
half-width of the released value when it does not depend on the data (else null), and \
what these numbers mean. NULL in, NULL out. Same name and arguments in PostgreSQL.",
    syntax_example = "dp_explain(function, params)",
    sql_example = r#"```sql
> SELECT dp_explain('dp_count', '{"epsilon":0.5}');
{"function":"dp_count","mechanism":"discrete Laplace","cost":{"epsilon":0.5,"delta":0.0,"rho":null},"parts":[{"name":"count","mechanism":"discrete Laplace","sensitivity":1.0,"scale":2.0,…}],…}
```"#,
    argument(
        name = "function",
        description = "The DP aggregate: dp_count, dp_count_distinct, dp_sum, dp_mean, dp_variance, dp_stddev, dp_median, dp_quantile, dp_mode or dp_top_k."
    ),
    argument(
        name = "params",
        description = "JSON object with the call's constant arguments, exactly those the function takes: `epsilon`, and `lower`/`upper`, `q`, `k`, `candidates` (an array of strings); optionally the session settings it runs under: `noise` (\"gaussian\" with `delta`) and a privacy unit's `max_groups_contributed` / `max_rows_contributed`."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpExplain {
    signature: Signature,
}

impl Default for DpExplain {
    fn default() -> Self {
        Self::new()
    }
}

impl DpExplain {
    pub fn new() -> Self {
        DpExplain {
            signature: Signature::one_of(vec![TypeSignature::String(2)], Volatility::Immutable),
        }
    }
}

fn explain(function: &str, params: &str) -> Result<String> {
    veil_core::dp::explain_call(function, params).map_err(|e| to_df_error(NAME, e))
}

impl ScalarUDFImpl for DpExplain {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Fast path: constant arguments (the usual call).
        if let [ColumnarValue::Scalar(f), ColumnarValue::Scalar(p)] = args.args.as_slice() {
            let text = |v: &ScalarValue| v.cast_to(&DataType::Utf8);
            let out = match (text(f)?, text(p)?) {
                (ScalarValue::Utf8(Some(f)), ScalarValue::Utf8(Some(p))) => Some(explain(&f, &p)?),
                _ => None,
            };
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(out)));
        }
        let arrays = args
            .args
            .iter()
            .map(|a| cast(&a.to_array(args.number_rows)?, &DataType::Utf8).map_err(Into::into))
            .collect::<Result<Vec<_>>>()?;
        let (functions, params) = (
            datafusion::arrow::array::AsArray::as_string::<i32>(&arrays[0]),
            datafusion::arrow::array::AsArray::as_string::<i32>(&arrays[1]),
        );
        let out = (0..args.number_rows)
            .map(|i| {
                if functions.is_null(i) || params.is_null(i) {
                    Ok(None)
                } else {
                    explain(functions.value(i), params.value(i)).map(Some)
                }
            })
            .collect::<Result<StringArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
