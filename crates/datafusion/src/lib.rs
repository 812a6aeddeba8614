//! veil's privacy functions for Apache DataFusion.
//!
//! One SQL function per file: scalar functions in [`scalar`], aggregates in [`aggregate`].
//! [`register_all`] adds every function to a [`SessionContext`]; the function names and
//! argument orders are the same as in veil's PostgreSQL extension.

use std::sync::Arc;

use datafusion::common::DataFusionError;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use veil_core::VeilError;

pub mod aggregate;
pub mod charge;
pub mod config;
pub mod ledger;
pub mod pii_args;
pub mod scalar;
pub mod table;
pub mod unit;
mod util;

/// Every scalar function veil provides.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(scalar::redact_pii::RedactPii::new()),
        ScalarUDF::from(scalar::detect_pii::DetectPii::new()),
        ScalarUDF::from(scalar::anonymize::Anonymize::new()),
        ScalarUDF::from(scalar::decrypt_pii::DecryptPii::new()),
        ScalarUDF::from(scalar::veil_budget_grant::VeilBudgetGrant::new()),
        ScalarUDF::from(scalar::veil_budget_revoke::VeilBudgetRevoke::new()),
        ScalarUDF::from(scalar::veil_principal::VeilPrincipal::new()),
        ScalarUDF::from(scalar::generalize::Generalize::new()),
        ScalarUDF::from(scalar::dp_explain::DpExplain::new()),
    ]
}

/// Every aggregate function veil provides.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::from(aggregate::dp_mean::DpMean::new()),
        AggregateUDF::from(aggregate::dp_sum::DpSum::new()),
        AggregateUDF::from(aggregate::dp_count::DpCount::new()),
        AggregateUDF::from(aggregate::dp_variance::DpVariance::new()),
        AggregateUDF::from(aggregate::dp_variance::DpStddev::new()),
        AggregateUDF::from(aggregate::dp_quantile::DpQuantile::new()),
        AggregateUDF::from(aggregate::dp_quantile::DpMedian::new()),
        AggregateUDF::from(aggregate::pii_entity_summary::PiiEntitySummary::new()),
        AggregateUDF::from(aggregate::k_anonymity::KAnonymityAgg::new()),
        AggregateUDF::from(aggregate::veil_partition_select::VeilPartitionSelect::new()),
        AggregateUDF::from(aggregate::dp_count_distinct::DpCountDistinct::new()),
        AggregateUDF::from(aggregate::dp_mode::DpMode::new()),
        AggregateUDF::from(aggregate::dp_top_k::DpTopK::new()),
    ]
}

/// Registers every veil function with `ctx`.
pub fn register_all(ctx: &SessionContext) {
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        if state
            .config()
            .options()
            .extensions
            .get::<config::VeilConfig>()
            .is_none()
        {
            state
                .config_mut()
                .options_mut()
                .extensions
                .insert(config::VeilConfig::default());
        }
        datafusion::execution::FunctionRegistry::register_function_rewrite(
            &mut *state,
            Arc::new(config::DefaultEpsilon),
        )
        .expect("SessionState accepts function rewrites");
        // After the function rewrites (which fill in veil.epsilon) and type coercion.
        state.add_analyzer_rule(Arc::new(charge::ChargeBudget));
    }
    for f in scalar_functions() {
        ctx.register_udf(f);
    }
    for f in aggregate_functions() {
        ctx.register_udaf(f);
    }
    ctx.register_udtf(
        "veil_advise_composition",
        Arc::new(table::advise_composition::AdviseComposition),
    );
    ctx.register_udtf(
        "veil_budget_status",
        Arc::new(table::budget_status::BudgetStatus),
    );
    ctx.register_udtf("veil_audit_log", Arc::new(table::audit_log::AuditLog));
    ctx.register_udtf("k_anon", Arc::new(table::k_anon::KAnon));
    ctx.register_udtf("k_anon_plan", Arc::new(table::k_anon_plan::KAnonPlan));
    ctx.register_udtf("reid_risk", Arc::new(table::reid_risk::ReidRisk));
}

/// Converts a veil-core error into a DataFusion error that names the SQL function.
pub(crate) fn to_df_error(function: &str, e: VeilError) -> DataFusionError {
    DataFusionError::Execution(format!("{function}: {e}"))
}

/// Helpers for the crate's SQL tests.
#[cfg(test)]
pub(crate) mod test_util {
    use datafusion::prelude::SessionContext;

    /// Runs `sql` and returns its result as a pretty-printed table (panics on an error).
    pub async fn run(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn no_two_functions_share_a_name() {
        let mut names = HashSet::new();
        for f in scalar_functions() {
            assert!(names.insert(f.name().to_string()), "duplicate {}", f.name());
        }
        for f in aggregate_functions() {
            assert!(names.insert(f.name().to_string()), "duplicate {}", f.name());
        }
    }

    #[test]
    fn every_function_is_documented() {
        for f in scalar_functions() {
            assert!(
                f.documentation().is_some(),
                "{} has no documentation",
                f.name()
            );
        }
        for f in aggregate_functions() {
            assert!(
                f.documentation().is_some(),
                "{} has no documentation",
                f.name()
            );
        }
    }

    #[tokio::test]
    async fn register_all_makes_functions_callable() {
        let ctx = SessionContext::new();
        register_all(&ctx);
        let formatted = test_util::run(&ctx, "SELECT redact_pii('x jane@example.com') AS r").await;
        assert!(formatted.contains("x <EMAIL_ADDRESS>"), "{formatted}");
    }
}
