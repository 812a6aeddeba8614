//! `k_anon(source, config [, target])`: the source's rows, k-anonymized as the JSON config
//! says (see `veil_core::kanon::config`).
//!
//! Two forms:
//! * `SELECT * FROM k_anon('people', '{…}')` returns the table: every column of the source
//!   in its order, the quasi-identifier columns replaced by their generalized values (type
//!   text; `*` in every one for a suppressed row under `"suppression": "mask"`), the other
//!   columns unchanged; rows suppressed under `"suppression": "drop"` are left out.
//! * `SELECT * FROM k_anon('people', '{…}', 'people_anon')` registers those rows as the
//!   new table `people_anon` (refused if a table of that name exists) and returns one row,
//!   column `k_anon`: the job's JSON report (plan, transformation, risk before and after),
//!   as PostgreSQL's `k_anon(source, config, target)` does.
//!
//! `source` is a registered table or a CSV/Parquet/JSON path. The job runs when the query
//! is planned; see [`super::kanon_source`].

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result, TableReference};
use datafusion::datasource::MemTable;

use super::kanon_source::{prepare, string_arg};
use crate::to_df_error;

const NAME: &str = "k_anon";

/// The table function.
#[derive(Debug, Default)]
pub struct KAnon;

impl TableFunctionImpl for KAnon {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=3).contains(&exprs.len()) {
            return plan_err!("{NAME} takes (source, config [, target])");
        }
        let target = string_arg(NAME, exprs, 2, "target")?;
        if let Some(t) = &target {
            if t.is_empty() {
                return plan_err!("{NAME}: invalid argument `target`: must not be empty");
            }
        }
        let call = prepare(NAME, &args)?;
        if let Some(t) = &target {
            if call.ctx.table_exist(TableReference::from(t.as_str()))? {
                return plan_err!(
                    "{NAME}: invalid argument `target`: a table named {t:?} already exists"
                );
            }
        }
        let values = call.source.values();
        let slices: Vec<&[Option<&str>]> = values.iter().map(Vec::as_slice).collect();
        let outcome = call
            .job
            .run(&slices, |_, _| {})
            .map_err(|e| to_df_error(NAME, e))?;

        let batch = &call.source.batch;
        let qis = call.job.config().quasi_identifier_names();
        let keep: BooleanArray = outcome.rows.iter().map(|r| Some(r.is_some())).collect();
        let mut fields = Vec::with_capacity(batch.num_columns());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (i, field) in batch.schema().fields().iter().enumerate() {
            match qis.iter().position(|q| q == field.name()) {
                Some(j) => {
                    fields.push(Field::new(field.name(), DataType::Utf8, true));
                    columns.push(Arc::new(StringArray::from_iter_values(
                        outcome.rows.iter().flatten().map(|r| r[j].as_str()),
                    )));
                }
                None => {
                    fields.push(field.as_ref().clone());
                    columns.push(filter(batch.column(i), &keep)?);
                }
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let rows = RecordBatch::try_new(schema.clone(), columns)?;
        let table = Arc::new(MemTable::try_new(schema, vec![vec![rows]])?);
        let Some(target) = target else {
            return Ok(table);
        };
        call.ctx
            .register_table(TableReference::from(target.as_str()), table)?;
        let schema = Arc::new(Schema::new(vec![Field::new(NAME, DataType::Utf8, false)]));
        let report = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![outcome.to_report_json()]))],
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![report]])?))
    }
}
