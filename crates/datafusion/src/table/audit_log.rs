//! `veil_audit_log()`: every charge attempt in the session's ledger, oldest first.

use std::sync::Arc;

use datafusion::arrow::array::{
    BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result};
use datafusion::datasource::MemTable;

use crate::ledger::session_ledger;
use crate::to_df_error;

/// The table function.
#[derive(Debug, Default)]
pub struct AuditLog;

impl TableFunctionImpl for AuditLog {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return plan_err!("veil_audit_log takes no arguments");
        }
        let config = args.session().config_options();
        let rows = session_ledger(config)
            .and_then(|l| l.audit(None))
            .map_err(|e| to_df_error("veil_audit_log", e))?;
        let utc: Arc<str> = "UTC".into();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some(utc.clone())),
                false,
            ),
            Field::new("principal", DataType::Utf8, false),
            Field::new("query", DataType::Utf8, false),
            Field::new("mechanisms", DataType::Utf8, false),
            Field::new("epsilon", DataType::Float64, false),
            Field::new("delta", DataType::Float64, false),
            Field::new("accepted", DataType::Boolean, false),
            Field::new("reason", DataType::Utf8, false),
        ]));
        let s = |g: fn(&veil_core::dp::budget::AuditEntry) -> &str| {
            Arc::new(StringArray::from_iter_values(rows.iter().map(g)))
        };
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|e| e.id))),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        rows.iter().map(|e| (e.at * 1e6) as i64),
                    )
                    .with_timezone(utc),
                ),
                s(|e| &e.principal),
                s(|e| &e.query),
                s(|e| &e.mechanisms),
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|e| e.epsilon),
                )),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|e| e.delta))),
                Arc::new(BooleanArray::from_iter(
                    rows.iter().map(|e| Some(e.accepted)),
                )),
                s(|e| &e.reason),
            ],
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
