//! `veil_advise_composition(epsilon_total, n_queries [, delta])`: per-query budgets under
//! basic, advanced and zCDP composition, one row per rule.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Expr;

use crate::to_df_error;

/// The table function.
#[derive(Debug, Default)]
pub struct AdviseComposition;

fn number(args: &[Expr], i: usize, name: &str) -> Result<Option<f64>> {
    match args.get(i) {
        None => Ok(None),
        Some(Expr::Literal(v, _)) if !v.is_null() && v.data_type().is_numeric() => {
            match v.cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(x)) => Ok(Some(x)),
                _ => plan_err!("veil_advise_composition: argument `{name}` must be a number"),
            }
        }
        Some(_) => {
            plan_err!("veil_advise_composition: argument `{name}` must be a constant number")
        }
    }
}

impl TableFunctionImpl for AdviseComposition {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=3).contains(&exprs.len()) {
            return plan_err!("veil_advise_composition takes (epsilon_total, n_queries [, delta])");
        }
        let epsilon = number(exprs, 0, "epsilon_total")?.unwrap_or(f64::NAN);
        let n = number(exprs, 1, "n_queries")?.unwrap_or(0.0);
        if n.fract() != 0.0 {
            return plan_err!(
                "veil_advise_composition: invalid argument `n_queries`: must be a whole number, got {n}"
            );
        }
        let delta = number(exprs, 2, "delta")?.unwrap_or(0.0);
        let advice = veil_core::dp::composition::advise(epsilon, n.max(0.0) as u64, delta)
            .map_err(|e| to_df_error("veil_advise_composition", e))?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("rule", DataType::Utf8, false),
            Field::new("per_query_epsilon", DataType::Float64, false),
            Field::new("per_query_delta", DataType::Float64, false),
            Field::new("per_query_rho", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(advice.iter().map(|a| a.rule))),
                Arc::new(Float64Array::from_iter_values(
                    advice.iter().map(|a| a.per_query_epsilon),
                )),
                Arc::new(Float64Array::from_iter_values(
                    advice.iter().map(|a| a.per_query_delta),
                )),
                Arc::new(Float64Array::from_iter(
                    advice.iter().map(|a| a.per_query_rho),
                )),
            ],
        )?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
