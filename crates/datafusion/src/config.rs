//! veil's session settings, set with `SET veil.<name> = '…'`.
//!
//! Embedded DataFusion trusts its caller: whoever can run SQL in the session can set and
//! read these (`SHOW veil.hash_key`). Hosts that serve untrusted users must set them
//! themselves and not let users run `SET`.

use datafusion::common::config::{ConfigExtension, ConfigOptions};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{extensions_options, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{lit, Expr};
use veil_core::mask::Secrets;

use crate::to_df_error;

extensions_options! {
    /// veil settings (prefix `veil`).
    pub struct VeilConfig {
        /// Key of the `hash` replacement strategy (HMAC-SHA256), at least 16 bytes.
        pub hash_key: Option<String>, default = None
        /// Key of the `encrypt` strategy and `decrypt_pii` (AES-256-SIV), at least 16 bytes.
        pub encryption_key: Option<String>, default = None
        /// Epsilon of DP aggregates called without one (`dp_mean(x, lower, upper)`); unset:
        /// such calls are refused.
        pub epsilon: Option<f64>, default = None
        /// δ of DP partition selection: a GROUP BY with DP aggregates releases only groups
        /// that pass it; unset: such queries are refused.
        pub delta: Option<f64>, default = None
        /// ε of DP partition selection; unset: the largest ε of the grouped DP aggregates.
        pub partition_epsilon: Option<f64>, default = None
        /// Noise of dp_count, dp_count_distinct, dp_sum, dp_mean, dp_variance and dp_stddev:
        /// 'laplace' (unset: the default, ε-DP) or 'gaussian' ((ε, δ)-DP with δ from
        /// `veil.delta`; composes in ρ under zCDP budgets).
        pub noise: Option<String>, default = None
        /// Privacy unit: the column whose rows belong to one individual (`user_id`), or one
        /// per table (`visits.user_id, orders.customer_id`); unset or empty: each row is one
        /// individual. See `veil_datafusion::unit`.
        pub privacy_unit: Option<String>, default = None
        /// With a privacy unit: the most groups of one GROUP BY a unit may contribute to.
        pub max_groups_contributed: u64, default = 1
        /// With a privacy unit: the most rows a unit may contribute to one group.
        pub max_rows_contributed: u64, default = 1
        /// Principal charged by DP queries; unset: the OS user.
        pub principal: Option<String>, default = None
        /// Budget ledger: a SQLite file path, or ':memory:' for one in process memory;
        /// unset: $VEIL_LEDGER, else <data dir>/veil/ledger.sqlite.
        pub ledger: Option<String>, default = None
    }
}

impl ConfigExtension for VeilConfig {
    const PREFIX: &'static str = "veil";
}

/// The secrets configured for this session.
pub fn secrets(function: &str, config: &ConfigOptions) -> Result<Secrets> {
    let veil = config.extensions.get::<VeilConfig>();
    Secrets::new(veil.and_then(|c| c.hash_key.as_deref()))
        .and_then(|s| s.with_encryption_key(veil.and_then(|c| c.encryption_key.as_deref())))
        .map_err(|e| to_df_error(function, e))
}

/// Completes DP aggregate calls that leave out epsilon (`dp_mean(x, 0, 100)`,
/// `dp_sum(x, 0, 100)`, `dp_count(x)`, `dp_quantile(x, 0.9, 0, 100)`, …) with the session's `veil.epsilon`, read when the
/// query is planned. Without the setting the call is left alone and the aggregate refuses it.
#[derive(Debug, Default)]
pub struct DefaultEpsilon;

impl FunctionRewrite for DefaultEpsilon {
    fn name(&self) -> &str {
        "veil_default_epsilon"
    }

    fn rewrite(
        &self,
        expr: Expr,
        _schema: &DFSchema,
        config: &ConfigOptions,
    ) -> Result<Transformed<Expr>> {
        let epsilon = config
            .extensions
            .get::<VeilConfig>()
            .and_then(|c| c.epsilon);
        match (expr, epsilon) {
            (Expr::AggregateFunction(mut f), Some(epsilon))
                // A call without ε has exactly as many arguments as ε's position (the
                // partition selection, ε first, always states it).
                if crate::charge::DP_AGGREGATES.iter().any(|(n, pos)| {
                    f.func.name() == *n && *pos > 0 && f.params.args.len() == *pos
                }) =>
            {
                f.params.args.push(lit(ScalarValue::Float64(Some(epsilon))));
                Ok(Transformed::yes(Expr::AggregateFunction(
                    AggregateFunction {
                        func: f.func,
                        params: f.params,
                    },
                )))
            }
            (expr, _) => Ok(Transformed::no(expr)),
        }
    }
}
