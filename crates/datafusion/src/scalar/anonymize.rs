//! `anonymize(value, strategy [, options]) -> text`

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::config::secrets;
use crate::to_df_error;
use crate::util::try_map_strings;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Rewrites a whole value of known type with one strategy: `redact` \
(`<REDACTED>`, or `<ENTITY>` with `entity` in the options; `template` configurable), `mask` \
(`keep_first`, `keep_last`, `mask_char`; letters and digits masked, separators kept), `hash` \
(HMAC-SHA256 with `SET veil.hash_key`, 32 hex digits), `substitute` (a deterministic \
realistic fake from reserved ranges, keyed by `veil.hash_key`), `encrypt` (AES-SIV token \
under `SET veil.encryption_key`, reversed by `decrypt_pii`), `annotate`, `keep`. `strategy` and \
`options` must be constants. NULL in, NULL out. Same function in PostgreSQL.",
    syntax_example = "anonymize(value, strategy [, options])",
    sql_example = r#"```sql
> SELECT anonymize('4111-1111-1111-1234', 'mask', '{"keep_last":4}');
+---------------------+
| ****-****-****-1234 |
+---------------------+
```"#,
    argument(name = "value", description = "String expression to rewrite."),
    argument(
        name = "strategy",
        description = "redact, mask, hash, substitute, encrypt, annotate or keep."
    ),
    argument(
        name = "options",
        description = "Optional JSON: entity and strategy parameters."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Anonymize {
    signature: Signature,
}

impl Default for Anonymize {
    fn default() -> Self {
        Self::new()
    }
}

impl Anonymize {
    pub fn new() -> Self {
        Anonymize {
            signature: Signature::one_of(
                vec![TypeSignature::String(2), TypeSignature::String(3)],
                Volatility::Stable,
            ),
        }
    }
}

fn constant_string(name: &str, arg: &ColumnarValue) -> Result<Option<String>> {
    match arg {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v),
        ) => Ok(v.clone()),
        ColumnarValue::Scalar(ScalarValue::Null) => Ok(None),
        _ => exec_err!("anonymize: argument `{name}` must be a constant string"),
    }
}

impl ScalarUDFImpl for Anonymize {
    fn name(&self) -> &str {
        "anonymize"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        crate::util::string_return_type(self.name(), "value", &arg_types[0])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (value, strategy, options) = match args.args.as_slice() {
            [v, s] => (v, s, None),
            [v, s, o] => (v, s, Some(o)),
            _ => return exec_err!("anonymize takes `value`, `strategy` and optional `options`"),
        };
        let Some(strategy) = constant_string("strategy", strategy)? else {
            return exec_err!("anonymize: invalid argument `strategy`: must not be NULL");
        };
        let options = options
            .map(|o| constant_string("options", o))
            .transpose()?
            .flatten();
        let secrets = secrets(self.name(), &args.config_options)?;
        // validate once, even when every value is NULL
        veil_core::mask::anonymize("", &strategy, options.as_deref(), &secrets)
            .map_err(|e| to_df_error("anonymize", e))?;
        try_map_strings(self.name(), value, |v| {
            veil_core::mask::anonymize(v, &strategy, options.as_deref(), &secrets)
                .map_err(|e| to_df_error("anonymize", e))
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
