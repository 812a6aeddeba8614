//! `generalize(value, hierarchy, level) -> text`

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::kanon::{HierarchySpec, ValueGeneralizer};

use crate::to_df_error;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "The generalization of `value` at `level` of a hierarchy given as one \
quasi-identifier's hierarchy of a k-anonymization config: `{\"intervals\": [5, 10]}`, \
`{\"prefix\": true}`, `{\"dates\": true}`, `{\"top_coding\": [caps]}`, \
`{\"bottom_coding\": [floors]}` or `{\"levels\": {\"value\": [\"level 1\", …]}}`. Level 0 is \
the value itself; the last level is `*`. Each value is generalized on its own (the built-in \
hierarchies need no other values of the column); `arx_csv` and `table` hierarchies are \
refused. `hierarchy` must be a constant. NULL value or level in, NULL out. Same function in \
PostgreSQL.",
    syntax_example = "generalize(value, hierarchy, level)",
    sql_example = r#"```sql
> SELECT generalize(37, '{"intervals": [5, 10]}', 2), generalize('13053', '{"prefix": true}', 2);
+----------+-------+
| [30, 40) | 130** |
+----------+-------+
```"#,
    argument(
        name = "value",
        description = "The value (any type; read as text, integers as written)."
    ),
    argument(name = "hierarchy", description = "JSON hierarchy spec, a constant."),
    argument(name = "level", description = "Integer level, 0 = the value itself.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Generalize {
    signature: Signature,
}

impl Default for Generalize {
    fn default() -> Self {
        Self::new()
    }
}

impl Generalize {
    pub fn new() -> Self {
        Generalize {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Generalize {
    fn name(&self) -> &str {
        "generalize"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [_, hierarchy, level] = arg_types else {
            return plan_err!("generalize takes (value, hierarchy, level)");
        };
        if !matches!(
            hierarchy,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ) {
            return plan_err!("generalize: argument `hierarchy` must be a string, got {hierarchy}");
        }
        if !(level.is_integer() || *level == DataType::Null) {
            return plan_err!("generalize: argument `level` must be an integer, got {level}");
        }
        Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value, hierarchy, level] = args.args.as_slice() else {
            return exec_err!("generalize takes (value, hierarchy, level)");
        };
        let hierarchy = match hierarchy {
            ColumnarValue::Scalar(
                ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v),
            ) => v.clone(),
            ColumnarValue::Scalar(ScalarValue::Null) => None,
            _ => return exec_err!("generalize: argument `hierarchy` must be a constant string"),
        };
        let Some(hierarchy) = hierarchy else {
            return exec_err!("generalize: invalid argument `hierarchy`: must not be NULL");
        };
        let g = HierarchySpec::from_json(&hierarchy)
            .and_then(ValueGeneralizer::new)
            .map_err(|e| to_df_error("generalize", e))?;
        let apply = |v: &str, l: i64| -> Result<String> {
            let Ok(l) = usize::try_from(l) else {
                return exec_err!(
                    "generalize: invalid argument `level`: must be at least 0, got {l}"
                );
            };
            g.generalize(v, l).map_err(|e| to_df_error("generalize", e))
        };
        if let (ColumnarValue::Scalar(v), ColumnarValue::Scalar(l)) = (value, level) {
            let v = v.cast_to(&DataType::Utf8)?;
            let l = l.cast_to(&DataType::Int64)?;
            let out = match (v, l) {
                (ScalarValue::Utf8(Some(v)), ScalarValue::Int64(Some(l))) => Some(apply(&v, l)?),
                _ => None,
            };
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(out)));
        }
        let n = args.number_rows;
        let values = cast(&value.to_array(n)?, &DataType::Utf8)?;
        let levels = cast(&level.to_array(n)?, &DataType::Int64)?;
        let (values, levels) = (
            values.as_string::<i32>(),
            levels.as_primitive::<Int64Type>(),
        );
        let mut out = StringBuilder::with_capacity(n, values.values().len());
        for i in 0..n {
            if values.is_null(i) || levels.is_null(i) {
                out.append_null();
            } else {
                out.append_value(apply(values.value(i), levels.value(i))?);
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
