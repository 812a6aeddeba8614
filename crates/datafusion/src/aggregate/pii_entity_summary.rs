//! `pii_entity_summary(text [, options]) -> text` (JSON counts per entity type)

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, TypeSignature, Volatility,
};
use datafusion_macros::user_doc;
use veil_core::pii::{Analyzer, EntitySummary, PiiOptions};

use super::binary_state;
use crate::pii_args::string_values;
use crate::to_df_error;
use crate::util::constant_argument;

#[user_doc(
    doc_section(label = "Privacy Functions"),
    description = "Counts the personal data found in a text column, per entity type, as a \
JSON object with the non-zero counts in entity-name order, e.g. \
`{\"CREDIT_CARD\":2,\"EMAIL_ADDRESS\":5}`. `options` (constant) as for `detect_pii`. NULL \
texts are skipped. Same function in PostgreSQL (returning text).",
    syntax_example = "pii_entity_summary(text [, options])",
    sql_example = r#"```sql
> SELECT pii_entity_summary(notes) FROM tickets;
+------------------------------------------------+
| {"CREDIT_CARD":2,"EMAIL_ADDRESS":5,"US_SSN":1} |
+------------------------------------------------+
```"#,
    argument(name = "text", description = "String column to scan."),
    argument(
        name = "options",
        description = "Optional constant JSON options string."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PiiEntitySummary {
    signature: Signature,
}

impl Default for PiiEntitySummary {
    fn default() -> Self {
        Self::new()
    }
}

impl PiiEntitySummary {
    pub fn new() -> Self {
        PiiEntitySummary {
            // aggregates do not coerce TypeSignature::String; Uniform does the same job here
            signature: Signature::one_of(
                vec![
                    TypeSignature::Uniform(1, strings()),
                    TypeSignature::Uniform(2, strings()),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

fn strings() -> Vec<DataType> {
    vec![DataType::Utf8View, DataType::Utf8, DataType::LargeUtf8]
}

impl AggregateUDFImpl for PiiEntitySummary {
    fn name(&self) -> &str {
        "pii_entity_summary"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let options = match args.exprs.get(1) {
            None => PiiOptions::default(),
            Some(expr) => match constant_argument(expr)? {
                Some(
                    ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v),
                ) => PiiOptions::parse(v.as_deref()).map_err(|e| to_df_error(self.name(), e))?,
                Some(ScalarValue::Null) => PiiOptions::default(),
                Some(other) => {
                    return plan_err!(
                        "pii_entity_summary: argument `options` must be a JSON string, got {}",
                        other.data_type()
                    )
                }
                None => {
                    return plan_err!(
                        "pii_entity_summary: invalid argument `options`: must be a constant"
                    )
                }
            },
        };
        Ok(Box::new(SummaryAcc {
            options,
            summary: EntitySummary::default(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(binary_state::state_fields(args.name))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct SummaryAcc {
    options: PiiOptions,
    summary: EntitySummary,
}

impl Accumulator for SummaryAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(texts) = values.first() else {
            return exec_err!("pii_entity_summary: missing argument `text`");
        };
        let analyzer = Analyzer::shared_default();
        for t in string_values(texts)?.flatten() {
            self.summary.add(&analyzer.analyze_with(t, &self.options));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.summary.to_json())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.summary.counts.len() * 16
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(binary_state::state(&self.summary))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        binary_state::merge_batch(&mut self.summary, states, "pii_entity_summary")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::StringArray;

    use super::*;

    #[test]
    fn split_state_merge_equals_one_pass() {
        let texts: Vec<Option<&str>> = vec![
            Some("jane@example.com"),
            None,
            Some("card 4111 1111 1111 1111 and bob@example.org"),
            Some("ssn 536-22-1234"),
        ];
        let fresh = || SummaryAcc {
            options: PiiOptions::default(),
            summary: EntitySummary::default(),
        };
        let mut whole = fresh();
        whole
            .update_batch(&[Arc::new(StringArray::from(texts.clone()))])
            .unwrap();
        let mut parts = Vec::new();
        for chunk in texts.chunks(2) {
            let mut a = fresh();
            a.update_batch(&[Arc::new(StringArray::from(chunk.to_vec()))])
                .unwrap();
            parts.push(a.state().unwrap().remove(0));
        }
        let mut merged = fresh();
        merged
            .merge_batch(&[ScalarValue::iter_to_array(parts).unwrap()])
            .unwrap();
        assert_eq!(merged.summary, whole.summary);
        assert_eq!(
            merged.evaluate().unwrap(),
            ScalarValue::Utf8(Some(
                r#"{"CREDIT_CARD":1,"EMAIL_ADDRESS":2,"US_SSN":1}"#.into()
            ))
        );
    }
}
