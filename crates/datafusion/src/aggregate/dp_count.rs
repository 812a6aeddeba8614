//! `dp_count(value, epsilon) -> bigint`

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::stats::Precision;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, StatisticsArgs, TypeSignature,
    Volatility,
};
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion_macros::user_doc;
use std::sync::Arc;
use veil_core::dp::DpCountAccumulator;

use super::binary_state;
use super::flat_groups::FusedSelection;
use crate::to_df_error;
use crate::util::epsilon_arg;
use crate::util::NoiseChoice;

#[user_doc(
    doc_section(label = "Differential Privacy Functions"),
    description = "An ε-differentially private count of the non-NULL values of `value` (use \
a constant such as `1` to count rows): the exact count plus discrete Laplace noise of scale \
1/ε drawn by OpenDP's exact sampler, reported as at least 0. Every evaluation draws fresh \
noise. Same name and arguments in PostgreSQL.",
    syntax_example = "dp_count(value [, epsilon])",
    sql_example = r#"```sql
> SELECT dept, dp_count(1, 0.5) FROM staff GROUP BY dept;
```"#,
    argument(
        name = "value",
        description = "Expression whose non-NULL values are counted."
    ),
    argument(
        name = "epsilon",
        description = "Constant privacy-loss parameter ε > 0; when left out, the session setting `veil.epsilon` (`SET veil.epsilon = 1.0`), and without that setting the call is refused."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DpCount {
    signature: Signature,
    noise: NoiseChoice,
    /// The GROUP BY's partition selection, when the charge rule lets this call carry it.
    select: Option<FusedSelection>,
}

impl Default for DpCount {
    fn default() -> Self {
        Self::new()
    }
}

impl DpCount {
    /// This aggregate drawing `noise` (see [`NoiseChoice`]).
    pub fn with_noise(noise: veil_core::dp::Noise) -> Self {
        DpCount {
            noise: noise.into(),
            ..Self::new()
        }
    }

    pub fn new() -> Self {
        DpCount {
            signature: Signature::one_of(
                vec![TypeSignature::Any(1), TypeSignature::Any(2)],
                Volatility::Volatile,
            ),
            noise: NoiseChoice::default(),
            select: None,
        }
    }

    /// This call carrying its GROUP BY's partition selection (see
    /// [`super::flat_groups`]); the same noise.
    pub fn selecting(&self, select: FusedSelection) -> Self {
        DpCount {
            noise: self.noise,
            select: Some(select),
            ..Self::new()
        }
    }
}

impl AggregateUDFImpl for DpCount {
    fn name(&self) -> &str {
        "dp_count"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return plan_err!("dp_count does not support DISTINCT");
        }
        super::flat_groups::refuse_carried("dp_count", self.select)?;
        Ok(Box::new(DpCountAcc(prototype(
            args.exprs,
            self.noise.get(),
        )?)))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
        super::flat_groups::groups_accumulator(
            "dp_count",
            prototype(args.exprs, self.noise.get())?,
            self.select,
        )
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(super::flat_groups::state_fields(args.name, self.select))
    }

    /// Without GROUP BY, FILTER or DISTINCT, DataFusion answers an aggregate from exact
    /// input statistics when it can (as it does `count`): the number of non-NULL values is
    /// the row count less the column's NULL count (the row count for a non-NULL constant),
    /// and the release is the same noisy count the accumulator would give. The charge rule
    /// charged the query while analyzing it, before physical planning gets here; a
    /// failure falls back to the accumulator, which reports it.
    fn value_from_stats(&self, args: &StatisticsArgs) -> Option<ScalarValue> {
        if args.is_distinct || self.select.is_some() {
            return None;
        }
        let Precision::Exact(rows) = args.statistics.num_rows else {
            return None;
        };
        let value = args.exprs.first()?;
        let count = if let Some(c) = value.downcast_ref::<Column>() {
            match args.statistics.column_statistics.get(c.index())?.null_count {
                Precision::Exact(nulls) => rows.checked_sub(nulls)?,
                _ => return None,
            }
        } else if let Some(l) = value.downcast_ref::<Literal>() {
            if l.value().is_null() {
                0
            } else {
                rows
            }
        } else {
            return None;
        };
        let mut acc = prototype(args.exprs, self.noise.get()).ok()?;
        acc.add(u64::try_from(count).ok()?);
        acc.release().ok().map(|v| ScalarValue::Int64(Some(v)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// A fresh state with the ε of the call's arguments `exprs`.
fn prototype(
    exprs: &[Arc<dyn PhysicalExpr>],
    noise: veil_core::dp::Noise,
) -> Result<DpCountAccumulator> {
    let epsilon = epsilon_arg("dp_count", exprs, 1)?;
    DpCountAccumulator::with_noise(epsilon, noise).map_err(|e| to_df_error("dp_count", e))
}

#[derive(Debug)]
struct DpCountAcc(DpCountAccumulator);

impl Accumulator for DpCountAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("dp_count: missing argument `value`");
        };
        self.0
            .add((array.len() - array.logical_null_count()) as u64);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let v = self.0.release().map_err(|e| to_df_error("dp_count", e))?;
        Ok(ScalarValue::Int64(Some(v)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(binary_state::state(&self.0))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        binary_state::merge_batch(&mut self.0, states, "dp_count")
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use crate::test_util::run;

    /// An ungrouped count over a table with exact statistics is answered from them (no
    /// scan), with the same value and the same charge as the accumulator's.
    #[tokio::test]
    async fn ungrouped_count_from_exact_statistics() {
        let ctx = SessionContext::new();
        crate::register_all(&ctx);
        for sql in [
            "SET veil.ledger = ':memory:'",
            "SET veil.principal = 'stats-test'",
            "SELECT veil_budget_grant('stats-test', 100000, 0)",
            "CREATE TABLE t AS SELECT CASE WHEN value % 4 = 0 THEN NULL ELSE value END AS x FROM generate_series(1, 1000)",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
        let plan = run(&ctx, "EXPLAIN SELECT dp_count(x, 10000) FROM t").await;
        assert!(
            plan.contains("PlaceholderRowExec") && !plan.contains("AggregateExec"),
            "{plan}"
        );
        // ε = 10⁴: noise 0 with overwhelming probability
        let out = run(
            &ctx,
            "SELECT dp_count(x, 10000) AS a, dp_count(1, 10000) AS b FROM t",
        )
        .await;
        assert!(out.contains("| 750 | 1000 |"), "{out}");
        // with a filter the rows are counted by the accumulator: same answer
        let out = run(&ctx, "SELECT dp_count(x, 10000) AS a FROM t WHERE x > 500").await;
        assert!(out.contains("| 375 |"), "{out}");
        let spent = run(
            &ctx,
            "SELECT epsilon_spent, queries FROM veil_budget_status() WHERE principal = 'stats-test'",
        )
        .await;
        assert!(spent.contains("| 40000.0       | 3 "), "{spent}");
    }
}
