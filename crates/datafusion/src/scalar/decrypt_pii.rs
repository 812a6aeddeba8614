//! `decrypt_pii(text) -> text`

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::config::secrets;
use crate::to_df_error;
use crate::util::try_map_strings;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Reverses the `encrypt` strategy: replaces every `<enc:LABEL:…>` token in \
the text with the value it encrypts, using `SET veil.encryption_key`. Fails (releasing \
nothing) when a token does not decrypt with that key or was altered. Text without tokens is \
returned unchanged. NULL in, NULL out. Same function in PostgreSQL.",
    syntax_example = "decrypt_pii(text)",
    sql_example = r#"```sql
> SET veil.encryption_key = 'a key of at least 16 bytes';
> SELECT decrypt_pii(redact_pii('mail jane@example.com', '{"strategy":"encrypt"}'));
+-----------------------+
| mail jane@example.com |
+-----------------------+
```"#,
    argument(name = "text", description = "Text containing encrypt tokens.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DecryptPii {
    signature: Signature,
}

impl Default for DecryptPii {
    fn default() -> Self {
        Self::new()
    }
}

impl DecryptPii {
    pub fn new() -> Self {
        DecryptPii {
            signature: Signature::string(1, Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for DecryptPii {
    fn name(&self) -> &str {
        "decrypt_pii"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        crate::util::string_return_type(self.name(), "text", &arg_types[0])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text] = args.args.as_slice() else {
            return exec_err!("decrypt_pii takes one argument `text`");
        };
        let secrets = secrets(self.name(), &args.config_options)?;
        try_map_strings(self.name(), text, |v| {
            veil_core::mask::decrypt_pii(v, &secrets).map_err(|e| to_df_error("decrypt_pii", e))
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
