//! A DP aggregate call with its constant arguments held by the function instance instead of
//! being evaluated for every batch.
//!
//! DataFusion evaluates every argument of an aggregate for every batch, and a literal
//! becomes an array as long as the batch: `dp_sum(x, 0, 1000, 1.0)` filled three 8,192-row
//! arrays per batch (allocation, page faults, memset — a sixth of the query's time on 10M
//! rows). Once the charge rule has costed a plan it replaces each such call by
//! [`ConstArgs`] over the same aggregate, taking only the value argument(s); the constants
//! go back in as literal expressions when the accumulator is built, so the aggregate reads
//! them exactly as before (`veil_partition_select`, which has no value argument, gets an
//! input column to count rows of). The instance keeps the aggregate's name: should the rewritten
//! plan ever be costed again, the call no longer has its constant arguments and the
//! costing refuses it (fail closed).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, Signature, StatisticsArgs,
    Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_expr::PhysicalExpr;

/// See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConstArgs {
    inner: Arc<AggregateUDF>,
    /// Types of the value arguments (those still passed per row).
    value_types: Vec<DataType>,
    /// The constant arguments that follow them, in order.
    constants: Vec<ScalarValue>,
    signature: Signature,
}

impl ConstArgs {
    pub fn new(
        inner: Arc<AggregateUDF>,
        value_types: Vec<DataType>,
        constants: Vec<ScalarValue>,
    ) -> Self {
        let signature = Signature::exact(value_types.clone(), Volatility::Volatile);
        ConstArgs {
            inner,
            value_types,
            constants,
            signature,
        }
    }

    fn all_types(&self, value_types: &[DataType]) -> Vec<DataType> {
        value_types
            .iter()
            .cloned()
            .chain(self.constants.iter().map(|c| c.data_type()))
            .collect()
    }

    fn constant_fields(&self) -> Vec<FieldRef> {
        self.constants
            .iter()
            .enumerate()
            .map(|(i, c)| Arc::new(Field::new(format!("c{i}"), c.data_type(), c.is_null())))
            .collect()
    }

    /// The constant arguments as literal expressions.
    fn literals(&self) -> impl Iterator<Item = Arc<dyn PhysicalExpr>> + '_ {
        self.constants
            .iter()
            .map(|c| Arc::new(Literal::new(c.clone())) as Arc<dyn PhysicalExpr>)
    }

    /// The call's full argument list: the values, then the constants as literals.
    fn with_constants<R>(&self, args: &AccumulatorArgs, f: impl FnOnce(AccumulatorArgs) -> R) -> R {
        let exprs: Vec<Arc<dyn PhysicalExpr>> =
            args.exprs.iter().cloned().chain(self.literals()).collect();
        let fields: Vec<FieldRef> = args
            .expr_fields
            .iter()
            .cloned()
            .chain(self.constant_fields())
            .collect();
        f(AccumulatorArgs {
            return_field: Arc::clone(&args.return_field),
            schema: args.schema,
            ignore_nulls: args.ignore_nulls,
            order_bys: args.order_bys,
            is_reversed: args.is_reversed,
            name: args.name,
            is_distinct: args.is_distinct,
            exprs: &exprs,
            expr_fields: &fields,
        })
    }
}

impl AggregateUDFImpl for ConstArgs {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(&self.all_types(arg_types))
    }

    fn is_nullable(&self) -> bool {
        self.inner.is_nullable()
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.with_constants(&args, |a| self.inner.accumulator(a))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let input_fields: Vec<FieldRef> = args
            .input_fields
            .iter()
            .cloned()
            .chain(self.constant_fields())
            .collect();
        self.inner.state_fields(StateFieldsArgs {
            name: args.name,
            input_fields: &input_fields,
            return_field: args.return_field,
            ordering_fields: args.ordering_fields,
            is_distinct: args.is_distinct,
        })
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.with_constants(&args, |a| self.inner.groups_accumulator_supported(a))
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        self.with_constants(&args, |a| self.inner.create_groups_accumulator(a))
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner.default_value(data_type)
    }

    fn value_from_stats(&self, args: &StatisticsArgs) -> Option<ScalarValue> {
        let exprs: Vec<Arc<dyn PhysicalExpr>> =
            args.exprs.iter().cloned().chain(self.literals()).collect();
        self.inner.value_from_stats(&StatisticsArgs {
            statistics: args.statistics,
            return_type: args.return_type,
            is_distinct: args.is_distinct,
            exprs: &exprs,
        })
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use crate::test_util::run;

    #[tokio::test]
    async fn rewritten_calls_keep_their_names_and_results() {
        let ctx = SessionContext::new();
        crate::register_all(&ctx);
        for sql in [
            "SET veil.ledger = ':memory:'",
            "SELECT veil_budget_grant(veil_principal(), 1000000, 0.5)",
            "SET veil.delta = 0.000001",
            "CREATE TABLE t AS SELECT value AS x, value % 2 AS g FROM generate_series(1, 1000)",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
        // ε = 10⁴: noise far below the rounding of the check
        let out = run(
            &ctx,
            "SELECT round(dp_sum(x, 0, 1000, 10000)), dp_count(x, 10000), dp_mode(CAST(x % 3 AS VARCHAR), '[\"0\",\"1\",\"2\"]', 10000) FROM t",
        )
        .await;
        assert!(out.contains("500500"), "{out}");
        assert!(out.contains("| 1000 "), "{out}");
        assert!(
            out.contains("dp_sum(t.x,Int64(0),Int64(1000),Int64(10000))"),
            "{out}"
        );
        let grouped = run(
            &ctx,
            "SELECT g, dp_count(x, 10000) AS c FROM t GROUP BY g ORDER BY g",
        )
        .await;
        assert!(
            grouped.contains("| 0 | 500 |") && grouped.contains("| 1 | 500 |"),
            "{grouped}"
        );
        // the executed plan passes only the value to the aggregate
        let plan = run(&ctx, "EXPLAIN SELECT dp_sum(x, 0, 1000, 1.0) FROM t").await;
        assert!(plan.contains("dp_sum(t.x)"), "{plan}");
    }
}
