//! `veil_budget_grant(principal, epsilon, delta [, composition]) -> double`

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;
use veil_core::dp::budget::Composition;

use crate::ledger::session_ledger;
use crate::to_df_error;
use crate::util::arg_arrays;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Grants a principal (ε, δ) more privacy budget in the session's ledger \
(`veil.ledger`), creating the budget under `composition` ('basic', the default, or 'zcdp', \
which needs δ > 0) on first grant. Returns the ε the principal has left. Spending is never \
undone: grants add to what was granted. Embedded DataFusion trusts its caller, so any \
session may grant; PostgreSQL lets only roles given EXECUTE on it (superusers by default).",
    syntax_example = "veil_budget_grant(principal, epsilon, delta [, composition])",
    sql_example = r#"```sql
> SELECT veil_budget_grant('alice', 1.0, 1e-6);
+-----+
| 1.0 |
+-----+
```"#,
    argument(
        name = "principal",
        description = "Who may spend the budget (`veil.principal`)."
    ),
    argument(name = "epsilon", description = "ε to add, > 0."),
    argument(name = "delta", description = "δ to add, in [0, 1)."),
    argument(name = "composition", description = "'basic' (default) or 'zcdp'.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VeilBudgetGrant {
    signature: Signature,
}

impl Default for VeilBudgetGrant {
    fn default() -> Self {
        Self::new()
    }
}

impl VeilBudgetGrant {
    pub fn new() -> Self {
        use DataType::{Float64, Utf8};
        VeilBudgetGrant {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![Utf8, Float64, Float64]),
                    TypeSignature::Exact(vec![Utf8, Float64, Float64, Utf8]),
                ],
                Volatility::Volatile,
            ),
        }
    }
}

impl ScalarUDFImpl for VeilBudgetGrant {
    fn name(&self) -> &str {
        "veil_budget_grant"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let ledger = session_ledger(&args.config_options).map_err(|e| to_df_error(name, e))?;
        let arrays = arg_arrays(&args)?;
        let principal = arrays[0].as_string::<i32>();
        let epsilon = arrays[1].as_primitive::<Float64Type>();
        let delta = arrays[2].as_primitive::<Float64Type>();
        let composition = arrays.get(3).map(|a| a.as_string::<i32>());
        let mut out = Vec::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            if principal.is_null(i) || epsilon.is_null(i) || delta.is_null(i) {
                return exec_err!("{name}: principal, epsilon and delta must not be NULL");
            }
            let comp = match composition {
                Some(c) if c.is_null(i) => {
                    return exec_err!("{name}: invalid argument `composition`: must not be NULL")
                }
                Some(c) => Some(Composition::parse(c.value(i)).map_err(|e| to_df_error(name, e))?),
                None => None,
            };
            let b = ledger
                .grant(principal.value(i), epsilon.value(i), delta.value(i), comp)
                .map_err(|e| to_df_error(name, e))?;
            out.push(b.epsilon_remaining());
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
