//! `redact_pii(text [, options]) -> text`

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, GenericStringArray, StringViewArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;
use veil_core::pii::{redact_pii, redact_pii_with};

use crate::config::secrets;
use crate::pii_args::{string_values, RowOptions};
use crate::to_df_error;
use crate::util::{map_strings, try_map_strings};

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Replaces every piece of personal data found in the text with its entity \
label, e.g. `<EMAIL_ADDRESS>`, `<CREDIT_CARD>`, `<US_SSN>`, `<PHONE_NUMBER>`. `options` is a \
JSON object: `entities` (list of entity types to look for), `threshold` (minimum score, \
default 0.5), `allow` (values never redacted), `strategy` (`redact`, `mask`, `hash`, \
`annotate`, `keep`) with its parameters (`template`, `keep_first`, `keep_last`, \
`mask_char`), and `per_entity` strategies. `hash` needs `SET veil.hash_key`. NULL in, NULL \
out. The same function exists in veil's PostgreSQL extension.",
    syntax_example = "redact_pii(text [, options])",
    sql_example = r#"```sql
> SELECT redact_pii('Mail jane.doe@example.com, card 4111 1111 1111 1111');
+-------------------------------------------+
| Mail <EMAIL_ADDRESS>, card <CREDIT_CARD>  |
+-------------------------------------------+
> SELECT redact_pii('jane@example.com, 536-22-1234', '{"entities":["US_SSN"]}');
+-------------------------------+
| jane@example.com, <US_SSN>    |
+-------------------------------+
```"#,
    argument(name = "text", description = "String expression to redact."),
    argument(name = "options", description = "Optional JSON options string.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RedactPii {
    signature: Signature,
}

impl Default for RedactPii {
    fn default() -> Self {
        Self::new()
    }
}

impl RedactPii {
    pub fn new() -> Self {
        RedactPii {
            signature: Signature::one_of(
                vec![TypeSignature::String(1), TypeSignature::String(2)],
                // the hash strategy reads the session's veil.hash_key
                Volatility::Stable,
            ),
        }
    }
}

impl ScalarUDFImpl for RedactPii {
    fn name(&self) -> &str {
        "redact_pii"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        crate::util::string_return_type(self.name(), "text", &arg_types[0])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.as_slice() {
            [text] => map_strings(self.name(), text, redact_pii),
            [text, options] => {
                let rows = args.number_rows;
                let opts = RowOptions::from_arg(self.name(), Some(options), rows)?;
                let secrets = secrets(self.name(), &args.config_options)?;
                let redact = |t: &str, o| {
                    redact_pii_with(t, o, &secrets).map_err(|e| to_df_error("redact_pii", e))
                };
                if let RowOptions::Constant(o) = &opts {
                    return try_map_strings(self.name(), text, |t| redact(t, o));
                }
                let texts = text.to_array(rows)?;
                let out = string_values(&texts)?
                    .enumerate()
                    .map(|(i, t)| t.map(|t| redact(t, opts.get(i))).transpose())
                    .collect::<Result<Vec<Option<String>>>>()?;
                let array: ArrayRef = match texts.data_type() {
                    DataType::LargeUtf8 => Arc::new(GenericStringArray::<i64>::from(out)),
                    DataType::Utf8View => Arc::new(StringViewArray::from(out)),
                    _ => Arc::new(GenericStringArray::<i32>::from(out)),
                };
                Ok(ColumnarValue::Array(array))
            }
            _ => exec_err!("redact_pii takes `text` and an optional `options` argument"),
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{
        Array, ArrayRef, AsArray, LargeStringArray, StringArray, StringViewArray,
    };
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;
    use datafusion::common::ScalarValue;

    use super::*;

    fn invoke(args: Vec<ColumnarValue>, rows: usize) -> Result<ColumnarValue> {
        let dt = args[0].data_type();
        RedactPii::new().invoke_with_args(ScalarFunctionArgs {
            arg_fields: args
                .iter()
                .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
                .collect(),
            args,
            number_rows: rows,
            return_field: Arc::new(Field::new("r", dt, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    fn strings(out: &ArrayRef) -> Vec<Option<String>> {
        match out.data_type() {
            DataType::Utf8 => out
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(String::from))
                .collect(),
            DataType::LargeUtf8 => out
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(String::from))
                .collect(),
            _ => out
                .as_string_view()
                .iter()
                .map(|v| v.map(String::from))
                .collect(),
        }
    }

    const IN: [Option<&str>; 3] = [Some("card 4111-1111-1111-1111 ok"), None, Some("none here")];
    const OUT: [Option<&str>; 3] = [Some("card <CREDIT_CARD> ok"), None, Some("none here")];

    #[test]
    fn every_string_type_keeps_its_type_and_nulls() {
        let inputs: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(IN.to_vec())),
            Arc::new(LargeStringArray::from(IN.to_vec())),
            Arc::new(StringViewArray::from(IN.to_vec())),
        ];
        for input in inputs {
            let dt = input.data_type().clone();
            let ColumnarValue::Array(out) = invoke(vec![ColumnarValue::Array(input)], 3).unwrap()
            else {
                panic!("array in, array out")
            };
            assert_eq!(out.data_type(), &dt);
            let want: Vec<Option<String>> = OUT.iter().map(|v| v.map(String::from)).collect();
            assert_eq!(strings(&out), want, "{dt}");
        }
    }

    #[test]
    fn scalar_fast_path() {
        let out = invoke(
            vec![ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                "a@b.io".into(),
            )))],
            1,
        )
        .unwrap();
        let ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) = out else {
            panic!("{out:?}")
        };
        assert_eq!(s, "<EMAIL_ADDRESS>");
        let out = invoke(vec![ColumnarValue::Scalar(ScalarValue::Utf8(None))], 1).unwrap();
        assert!(matches!(
            out,
            ColumnarValue::Scalar(ScalarValue::Utf8(None))
        ));
    }

    #[test]
    fn options_per_row_and_constant() {
        let text = ColumnarValue::Array(Arc::new(StringArray::from(vec![
            "a@b.io 536-22-1234",
            "a@b.io 536-22-1234",
        ])));
        let per_row = ColumnarValue::Array(Arc::new(StringArray::from(vec![
            Some(r#"{"entities":["US_SSN"]}"#),
            None,
        ])));
        let ColumnarValue::Array(out) = invoke(vec![text.clone(), per_row], 2).unwrap() else {
            panic!()
        };
        assert_eq!(
            strings(&out),
            vec![
                Some("a@b.io <US_SSN>".to_string()),
                Some("<EMAIL_ADDRESS> <US_SSN>".to_string())
            ]
        );
        let bad = ColumnarValue::Scalar(ScalarValue::Utf8(Some(r#"{"bogus":1}"#.into())));
        let err = invoke(vec![text, bad], 2).unwrap_err().to_string();
        assert!(
            err.contains("redact_pii: invalid argument `options`"),
            "{err}"
        );
        assert!(err.contains("unknown field `bogus`"), "{err}");
    }
}
