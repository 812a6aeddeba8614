//! `detect_pii(text [, options]) -> list of (entity_type, start_pos, end_pos, score, value)`

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder, StructBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;
use veil_core::pii::Analyzer;

use crate::pii_args::{string_values, RowOptions};

/// The fields of one detected span, in the same order as PostgreSQL's `pii_span` type.
static SPAN_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("entity_type", DataType::Utf8, false),
        Field::new("start_pos", DataType::Int64, false),
        Field::new("end_pos", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
        Field::new("value", DataType::Utf8, false),
    ])
});

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(SPAN_FIELDS.clone()),
        true,
    )))
}

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Lists the personal data found in the text: one struct per span with \
`entity_type`, `start_pos` and `end_pos` (0-based Unicode code-point offsets, end exclusive), \
`score` and the detected `value`, in text order. `options` as for `redact_pii`. NULL in, \
NULL out. PostgreSQL returns the same spans as an array of the composite type `pii_span`.",
    syntax_example = "detect_pii(text [, options])",
    sql_example = r#"```sql
> SELECT detect_pii('mail jane@example.com');
+-----------------------------------------------------------------------------------------------+
| [{entity_type: EMAIL_ADDRESS, start_pos: 5, end_pos: 21, score: 0.95, value: jane@example.com}] |
+-----------------------------------------------------------------------------------------------+
```"#,
    argument(name = "text", description = "String expression to analyze."),
    argument(name = "options", description = "Optional JSON options string.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DetectPii {
    signature: Signature,
}

impl Default for DetectPii {
    fn default() -> Self {
        Self::new()
    }
}

impl DetectPii {
    pub fn new() -> Self {
        DetectPii {
            signature: Signature::one_of(
                vec![TypeSignature::String(1), TypeSignature::String(2)],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for DetectPii {
    fn name(&self) -> &str {
        "detect_pii"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (text, options) = match args.args.as_slice() {
            [t] => (t, None),
            [t, o] => (t, Some(o)),
            _ => return exec_err!("detect_pii takes `text` and an optional `options` argument"),
        };
        let is_scalar = matches!(text, ColumnarValue::Scalar(_))
            && options.is_none_or(|o| matches!(o, ColumnarValue::Scalar(_)));
        let rows = if is_scalar { 1 } else { args.number_rows };
        let opts = RowOptions::from_arg(self.name(), options, rows)?;
        let texts = text.to_array(rows)?;
        let analyzer = Analyzer::shared_default();
        let mut builder = ListBuilder::new(StructBuilder::from_fields(SPAN_FIELDS.clone(), 0));
        for (row, t) in string_values(&texts)?.enumerate() {
            let Some(t) = t else {
                builder.append(false);
                continue;
            };
            let spans = builder.values();
            for s in analyzer.analyze_with(t, opts.get(row)) {
                field::<StringBuilder>(spans, 0).append_value(s.entity.as_str());
                field::<Int64Builder>(spans, 1).append_value(s.start as i64);
                field::<Int64Builder>(spans, 2).append_value(s.end as i64);
                field::<Float64Builder>(spans, 3).append_value(s.score);
                field::<StringBuilder>(spans, 4).append_value(s.value(t));
                spans.append(true);
            }
            builder.append(true);
        }
        let array = Arc::new(builder.finish());
        if is_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                array.as_ref(),
                0,
            )?))
        } else {
            Ok(ColumnarValue::Array(array))
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn field<T: ArrayBuilder>(b: &mut StructBuilder, i: usize) -> &mut T {
    b.field_builder::<T>(i)
        .expect("field builder types match SPAN_FIELDS")
}
