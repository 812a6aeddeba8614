//! `k_anonymity(col1 [, col2, …]) -> bigint`: the size of the smallest equivalence class

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::kanon::ClassSizes;

use super::binary_state;
use crate::to_df_error;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "The k of a table over the given quasi-identifier columns: the number of \
rows in the smallest group of rows that share all their values (NULL counts as a value, as \
in GROUP BY). NULL for no rows. Values are compared as text. Same function in PostgreSQL \
(arguments `text`: cast other types).",
    syntax_example = "k_anonymity(column [, column, ...])",
    sql_example = r#"```sql
> SELECT k_anonymity(age_band, zip3, sex) FROM published;
+---+
| 4 |
+---+
```"#,
    argument(name = "column", description = "Quasi-identifier columns, any type.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KAnonymityAgg {
    signature: Signature,
}

impl Default for KAnonymityAgg {
    fn default() -> Self {
        Self::new()
    }
}

impl KAnonymityAgg {
    pub fn new() -> Self {
        KAnonymityAgg {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for KAnonymityAgg {
    fn name(&self) -> &str {
        "k_anonymity"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(KAnonymityAcc::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(binary_state::state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug, Default)]
struct KAnonymityAcc {
    classes: ClassSizes,
}

impl Accumulator for KAnonymityAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if values.is_empty() {
            return exec_err!("k_anonymity: invalid argument `column`: need at least one column");
        }
        let texts: Vec<ArrayRef> = values
            .iter()
            .map(|a| cast(a, &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()?;
        let columns: Vec<_> = texts.iter().map(|a| a.as_string::<i32>()).collect();
        let mut row: Vec<Option<&str>> = Vec::with_capacity(columns.len());
        for i in 0..values[0].len() {
            row.clear();
            row.extend(columns.iter().map(|c| c.is_valid(i).then(|| c.value(i))));
            self.classes
                .add(&row)
                .map_err(|e| to_df_error("k_anonymity", e))?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(
            self.classes
                .smallest()
                .map(|n| n.min(i64::MAX as u64) as i64),
        ))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.classes.classes() * 64
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(binary_state::state(&self.classes))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        binary_state::merge_batch(&mut self.classes, states, "k_anonymity")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};

    use super::*;

    #[test]
    fn split_state_merge_equals_one_pass() {
        let ages: Vec<Option<i64>> = vec![Some(30), Some(30), Some(40), None, Some(30), None];
        let zips = [
            Some("130"),
            Some("130"),
            Some("148"),
            Some("148"),
            Some("130"),
            Some("148"),
        ];
        let batch = |r: std::ops::Range<usize>| -> Vec<ArrayRef> {
            vec![
                Arc::new(Int64Array::from(ages[r.clone()].to_vec())),
                Arc::new(StringArray::from(zips[r].to_vec())),
            ]
        };
        let mut whole = KAnonymityAcc::default();
        whole.update_batch(&batch(0..6)).unwrap();
        assert_eq!(whole.evaluate().unwrap(), ScalarValue::Int64(Some(1)));
        let mut parts = Vec::new();
        for r in [0..3, 3..6] {
            let mut a = KAnonymityAcc::default();
            a.update_batch(&batch(r)).unwrap();
            parts.push(a.state().unwrap().remove(0));
        }
        let mut merged = KAnonymityAcc::default();
        merged
            .merge_batch(&[ScalarValue::iter_to_array(parts).unwrap()])
            .unwrap();
        assert_eq!(merged.classes, whole.classes);
    }
}
