//! `veil_budget_revoke(principal) -> boolean`

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::ledger::session_ledger;
use crate::to_df_error;
use crate::util::arg_arrays;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Leaves a principal nothing more to spend: its granted totals become what \
it has spent (the history stays). Returns false when the principal had no budget. A later \
`veil_budget_grant` gives it new budget.",
    syntax_example = "veil_budget_revoke(principal)",
    sql_example = r#"```sql
> SELECT veil_budget_revoke('alice');
+------+
| true |
+------+
```"#,
    argument(name = "principal", description = "Whose budget to close.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VeilBudgetRevoke {
    signature: Signature,
}

impl Default for VeilBudgetRevoke {
    fn default() -> Self {
        Self::new()
    }
}

impl VeilBudgetRevoke {
    pub fn new() -> Self {
        VeilBudgetRevoke {
            signature: Signature::one_of(
                vec![TypeSignature::Exact(vec![DataType::Utf8])],
                Volatility::Volatile,
            ),
        }
    }
}

impl ScalarUDFImpl for VeilBudgetRevoke {
    fn name(&self) -> &str {
        "veil_budget_revoke"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let ledger = session_ledger(&args.config_options).map_err(|e| to_df_error(name, e))?;
        let arrays = arg_arrays(&args)?;
        let principal = arrays[0].as_string::<i32>();
        let mut out = Vec::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            if principal.is_null(i) {
                return exec_err!("{name}: invalid argument `principal`: must not be NULL");
            }
            out.push(
                ledger
                    .revoke(principal.value(i))
                    .map_err(|e| to_df_error(name, e))?,
            );
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
