//! `redact_pii(text) -> text`

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::util::map_strings;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Replaces every email address, Luhn-valid credit-card number and US social \
security number found in the text with its entity label: `<EMAIL_ADDRESS>`, `<CREDIT_CARD>`, \
`<US_SSN>`. NULL in, NULL out. The same function exists in veil's PostgreSQL extension.",
    syntax_example = "redact_pii(text)",
    sql_example = r#"```sql
> SELECT redact_pii('Mail jane.doe@example.com, card 4111 1111 1111 1111');
+-------------------------------------------+
| Mail <EMAIL_ADDRESS>, card <CREDIT_CARD>  |
+-------------------------------------------+
```"#,
    argument(name = "text", description = "String expression to redact.")
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
            signature: Signature::string(1, Volatility::Immutable),
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
        match &arg_types[0] {
            t @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => Ok(t.clone()),
            DataType::Null => Ok(DataType::Utf8),
            other => exec_err!("redact_pii: argument `text` must be a string, got {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text] = args.args.as_slice() else {
            return exec_err!("redact_pii takes exactly one argument `text`");
        };
        map_strings(self.name(), text, veil_core::pii::redact_pii)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Array, ArrayRef, AsArray, LargeStringArray, StringArray, StringViewArray,
    };
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;
    use datafusion::common::ScalarValue;

    use super::*;

    fn invoke(arg: ColumnarValue) -> ColumnarValue {
        let dt = arg.data_type();
        let n = match &arg {
            ColumnarValue::Array(a) => a.len(),
            ColumnarValue::Scalar(_) => 1,
        };
        RedactPii::new()
            .invoke_with_args(ScalarFunctionArgs {
                args: vec![arg],
                arg_fields: vec![Arc::new(Field::new("text", dt.clone(), true))],
                number_rows: n,
                return_field: Arc::new(Field::new("r", dt, true)),
                config_options: Arc::new(ConfigOptions::default()),
            })
            .unwrap()
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
            let ColumnarValue::Array(out) = invoke(ColumnarValue::Array(input)) else {
                panic!("array in, array out")
            };
            assert_eq!(out.data_type(), &dt);
            let got: Vec<Option<String>> = match dt {
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
            };
            let want: Vec<Option<String>> = OUT.iter().map(|v| v.map(String::from)).collect();
            assert_eq!(got, want, "{dt}");
        }
    }

    #[test]
    fn scalar_fast_path() {
        let out = invoke(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            "a@b.io".into(),
        ))));
        let ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) = out else {
            panic!("{out:?}")
        };
        assert_eq!(s, "<EMAIL_ADDRESS>");
        let out = invoke(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
        assert!(matches!(
            out,
            ColumnarValue::Scalar(ScalarValue::Utf8(None))
        ));
    }
}
