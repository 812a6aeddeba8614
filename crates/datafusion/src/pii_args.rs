//! The `(text [, options])` arguments shared by the PII functions.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use veil_core::pii::PiiOptions;

use crate::to_df_error;

/// Text values of a string array (any of the three string types) as `Option<&str>`s.
pub fn string_values(array: &ArrayRef) -> Result<Box<dyn Iterator<Item = Option<&str>> + '_>> {
    Ok(match array.data_type() {
        DataType::Utf8 => Box::new(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => Box::new(array.as_string::<i64>().iter()),
        DataType::Utf8View => Box::new(array.as_string_view().iter()),
        DataType::Null => Box::new(std::iter::repeat_n(None, array.len())),
        other => return exec_err!("expected a string, got {other}"),
    })
}

/// Options for every row: parsed once when the argument is a constant, per row (with a
/// one-entry cache) when it is a column. SQL NULL means the defaults.
pub enum RowOptions {
    Constant(PiiOptions),
    PerRow(Vec<PiiOptions>),
}

impl RowOptions {
    pub fn from_arg(function: &str, arg: Option<&ColumnarValue>, rows: usize) -> Result<Self> {
        let parse = |s: Option<&str>| PiiOptions::parse(s).map_err(|e| to_df_error(function, e));
        match arg {
            None => Ok(RowOptions::Constant(PiiOptions::default())),
            Some(ColumnarValue::Scalar(s)) => {
                let text = match s {
                    ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
                        v.as_deref()
                    }
                    ScalarValue::Null => None,
                    other => {
                        return exec_err!(
                            "{function}: argument `options` must be a JSON string, got {}",
                            other.data_type()
                        )
                    }
                };
                Ok(RowOptions::Constant(parse(text)?))
            }
            Some(ColumnarValue::Array(a)) => {
                let mut out = Vec::with_capacity(rows);
                let mut last: Option<(Option<&str>, PiiOptions)> = None;
                for v in string_values(a)? {
                    let parsed = match &last {
                        Some((prev, o)) if *prev == v => o.clone(),
                        _ => parse(v)?,
                    };
                    out.push(parsed.clone());
                    last = Some((v, parsed));
                }
                Ok(RowOptions::PerRow(out))
            }
        }
    }

    pub fn get(&self, row: usize) -> &PiiOptions {
        match self {
            RowOptions::Constant(o) => o,
            RowOptions::PerRow(v) => &v[row],
        }
    }
}
