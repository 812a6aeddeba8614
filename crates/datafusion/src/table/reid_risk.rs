//! `reid_risk(source, config)`: re-identification risk of the source as it is and, when the
//! config asks for anonymization (`k`, `l_diversity` or `t_closeness`), of what `k_anon`
//! would release. One row per measure: `metric` (text), `before` (double), `after`
//! (double, NULL without anonymization), in the order of `veil_core::kanon::risk_rows`:
//! `rows`, `suppressed_rows`, `classes`, `smallest_class`, `threshold`,
//! `prosecutor_average`, `prosecutor_highest`, `prosecutor_records_at_risk`,
//! `journalist_average`, `journalist_highest`, `journalist_records_at_risk`, `marketer`.
//! A config of quasi-identifiers alone (`{"quasi_identifiers": ["age", "zip"]}`) needs no
//! hierarchies.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result};
use datafusion::datasource::MemTable;

use super::kanon_source::prepare;
use crate::to_df_error;

const NAME: &str = "reid_risk";

/// The table function.
#[derive(Debug, Default)]
pub struct ReidRisk;

impl TableFunctionImpl for ReidRisk {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().len() != 2 {
            return plan_err!("{NAME} takes (source, config)");
        }
        let call = prepare(NAME, &args)?;
        let values = call.source.values();
        let slices: Vec<&[Option<&str>]> = values.iter().map(Vec::as_slice).collect();
        let rows = call
            .job
            .reid_risk(&slices)
            .map_err(|e| to_df_error(NAME, e))?
            .rows();
        let schema = Arc::new(Schema::new(vec![
            Field::new("metric", DataType::Utf8, false),
            Field::new("before", DataType::Float64, false),
            Field::new("after", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.metric))),
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|r| r.before),
                )),
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.after))),
            ],
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
