//! `veil_principal() -> text`

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::ledger::principal;
use crate::to_df_error;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "The principal whose privacy budget this session's DP queries spend: \
`veil.principal` if set, else the OS user. In PostgreSQL, the session user.",
    syntax_example = "veil_principal()",
    sql_example = r#"```sql
> SET veil.principal = 'alice';
> SELECT veil_principal();
+-------+
| alice |
+-------+
```"#
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VeilPrincipal {
    signature: Signature,
}

impl Default for VeilPrincipal {
    fn default() -> Self {
        Self::new()
    }
}

impl VeilPrincipal {
    pub fn new() -> Self {
        VeilPrincipal {
            signature: Signature::nullary(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for VeilPrincipal {
    fn name(&self) -> &str {
        "veil_principal"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let p = principal(&args.config_options).map_err(|e| to_df_error(self.name(), e))?;
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(p))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
