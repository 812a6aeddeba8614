//! `veil_budget_status()`: one row per principal of the session's ledger.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result};
use datafusion::datasource::MemTable;

use crate::ledger::session_ledger;
use crate::to_df_error;

/// The table function.
#[derive(Debug, Default)]
pub struct BudgetStatus;

impl TableFunctionImpl for BudgetStatus {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return plan_err!("veil_budget_status takes no arguments");
        }
        let config = args.session().config_options();
        let rows = session_ledger(config)
            .and_then(|l| l.status(None))
            .map_err(|e| to_df_error("veil_budget_status", e))?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("principal", DataType::Utf8, false),
            Field::new("composition", DataType::Utf8, false),
            Field::new("epsilon_total", DataType::Float64, false),
            Field::new("epsilon_spent", DataType::Float64, false),
            Field::new("epsilon_remaining", DataType::Float64, false),
            Field::new("delta_total", DataType::Float64, false),
            Field::new("delta_spent", DataType::Float64, false),
            Field::new("rho_spent", DataType::Float64, false),
            Field::new("queries", DataType::Int64, false),
        ]));
        let f = |g: fn(&veil_core::dp::budget::Budget) -> f64| {
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|(_, b)| g(b)),
            ))
        };
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|(p, _)| p))),
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|(_, b)| b.composition.name()),
                )),
                f(|b| b.epsilon_total),
                f(|b| b.epsilon_spent_effective()),
                f(|b| b.epsilon_remaining()),
                f(|b| b.delta_total),
                f(|b| b.delta_spent),
                f(|b| b.rho_spent),
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|(_, b)| b.queries as i64),
                )),
            ],
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
