//! `k_anon_plan(source, config)`: what `k_anon` would choose, without releasing rows.
//!
//! One row per quasi-identifier, in config order:
//!
//! | column | type | |
//! |---|---|---|
//! | `quasi_identifier` | text | the column |
//! | `level` | bigint | chosen generalization level (0 = original); NULL for Mondrian |
//! | `levels` | bigint | levels of its hierarchy, the original included; NULL for Mondrian |
//!
//! followed by the plan's totals, repeated on every row: `method` (text), `metric` (text),
//! `loss` (double), `suppressed_rows`, `classes` (bigint), `min_class_size` (bigint, NULL
//! when every row is suppressed), `min_l`, `max_t` (double, NULL without l-diversity /
//! t-closeness), `evaluated`, `lattice_size` (bigint, NULL for Mondrian) and `rows`
//! (bigint, rows of the source).

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result};
use datafusion::datasource::MemTable;

use super::kanon_source::prepare;
use crate::to_df_error;

const NAME: &str = "k_anon_plan";

/// The table function.
#[derive(Debug, Default)]
pub struct KAnonPlan;

impl TableFunctionImpl for KAnonPlan {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().len() != 2 {
            return plan_err!("{NAME} takes (source, config)");
        }
        let call = prepare(NAME, &args)?;
        let values = call.source.values();
        let slices: Vec<&[Option<&str>]> = values.iter().map(Vec::as_slice).collect();
        let plan = call
            .job
            .plan(&slices, |_, _| {})
            .map_err(|e| to_df_error(NAME, e))?;
        let n = plan.quasi_identifiers.len();
        let int = |v: Option<usize>| Arc::new(Int64Array::from(vec![v.map(|x| x as i64); n]));
        let float = |v: Option<f64>| Arc::new(Float64Array::from(vec![v; n]));
        let text = |v: &str| Arc::new(StringArray::from(vec![v; n]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("quasi_identifier", DataType::Utf8, false),
            Field::new("level", DataType::Int64, true),
            Field::new("levels", DataType::Int64, true),
            Field::new("method", DataType::Utf8, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("loss", DataType::Float64, false),
            Field::new("suppressed_rows", DataType::Int64, false),
            Field::new("classes", DataType::Int64, false),
            Field::new("min_class_size", DataType::Int64, true),
            Field::new("min_l", DataType::Float64, true),
            Field::new("max_t", DataType::Float64, true),
            Field::new("evaluated", DataType::Int64, true),
            Field::new("lattice_size", DataType::Int64, true),
            Field::new("rows", DataType::Int64, false),
        ]));
        let q = &plan.quasi_identifiers;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(q.iter().map(|q| &q.name))),
                Arc::new(Int64Array::from_iter(
                    q.iter().map(|q| q.level.map(|l| l as i64)),
                )),
                Arc::new(Int64Array::from_iter(
                    q.iter().map(|q| q.levels.map(|l| l as i64)),
                )),
                text(plan.method.name()),
                text(plan.metric),
                float(Some(plan.loss)),
                int(Some(plan.suppressed_rows)),
                int(Some(plan.classes)),
                int(plan.min_class_size),
                float(plan.min_l),
                float(plan.max_t),
                int(plan.evaluated),
                int(plan.lattice_size),
                int(Some(plan.rows)),
            ],
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
