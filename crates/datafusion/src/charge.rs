//! Charging DP queries to the principal's budget before they run.
//!
//! [`ChargeBudget`] is an analyzer rule: when a plan is prepared for execution it finds
//! every DP aggregate in it (subqueries included), reads each one's ε (a constant, filled
//! from `veil.epsilon` when left out), and charges them all to the session's principal in
//! one ledger transaction. Only when that transaction has committed does the plan go on to
//! run; a refused charge fails the query before any row is read, so nothing is released.
//!
//! One charge per DP aggregate per query, whatever the number of groups: the groups of a
//! GROUP BY are disjoint, so their releases compose in parallel. DP aggregates used as
//! window functions are refused (each window frame would be a new release).
//!
//! A GROUP BY with DP aggregates also gets DP partition selection: the rule adds a
//! `veil_partition_select(ε_p, δ)` aggregate to it and keeps only the groups where it is
//! true, so the keys of tiny groups are never released (δ from `veil.delta`, required; ε_p
//! from `veil.partition_epsilon`, else the largest ε among that GROUP BY's DP aggregates).
//! The selection is charged like the aggregates. Grouping sets (ROLLUP, CUBE) put a row in
//! several groups and are refused with DP aggregates.
//!
//! With a privacy unit declared (`veil.privacy_unit`), each unit's contribution is bounded
//! below every DP aggregation and the mechanisms run with divided parameters; the charge is
//! the ε and δ as written (see [`crate::unit`]).
//!
//! `EXPLAIN` (without ANALYZE) is charged too: DataFusion analyzes the explained plan the
//! same way and the rule cannot tell it apart. That errs on the side of spending.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{plan_err, Column, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::{
    lit, Aggregate, AggregateUDF, Expr, GroupingSet, LogicalPlan, LogicalPlanBuilder,
};
use datafusion::optimizer::AnalyzerRule;
use veil_core::dp::budget::ChargeRequest;
use veil_core::dp::{
    check_epsilon, default_epsilon, BoundedMean, BoundedQuantile, BoundedSum, BoundedVariance,
    Noise, PartitionSelection, PrivacyCost, Spread, NOISE_CHOICE,
};
use veil_core::dp::{DpCountAccumulator, DpCountDistinctAccumulator, TopK};

use crate::ledger::{principal, session_ledger};
use crate::to_df_error;

/// The DP aggregates and the position of their ε argument.
pub const DP_AGGREGATES: [(&str, usize); 11] = [
    ("dp_mean", 3),
    ("dp_sum", 3),
    ("dp_count", 1),
    ("dp_variance", 3),
    ("dp_stddev", 3),
    ("dp_quantile", 4),
    ("dp_median", 3),
    (SELECT, 0),
    ("dp_count_distinct", 1),
    ("dp_mode", 2),
    ("dp_top_k", 3),
];

pub(crate) use crate::aggregate::veil_partition_select::NAME as SELECT;

/// Output column of the added partition selection.
const KEEP: &str = "__veil_partition_keep";

/// Longest plan text kept in the audit log.
const MAX_QUERY_TEXT: usize = 8192;

/// The analyzer rule; see the module docs.
#[derive(Debug, Default)]
pub struct ChargeBudget;

pub(crate) fn epsilon_position(name: &str) -> Option<usize> {
    DP_AGGREGATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, i)| *i)
}

/// The value of a constant argument: a literal, possibly under casts added by coercion.
fn constant(e: &Expr) -> Option<ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Cast(c) => constant(&c.expr)?.cast_to(c.field.data_type()).ok(),
        Expr::TryCast(c) => constant(&c.expr)?.cast_to(c.field.data_type()).ok(),
        Expr::Alias(a) => constant(&a.expr),
        _ => None,
    }
}

/// A constant numeric argument of a logical call, with the aggregates' error messages.
pub(crate) fn number(function: &str, name: &str, arg: &Expr) -> Result<f64> {
    match constant(arg).map(|v| v.cast_to(&DataType::Float64)) {
        Some(Ok(ScalarValue::Float64(Some(x)))) => Ok(x),
        Some(Ok(ScalarValue::Float64(None))) => {
            plan_err!("{function}: invalid argument `{name}`: must not be NULL")
        }
        Some(_) => plan_err!("{function}: invalid argument `{name}`: expected a number, got {arg}"),
        None => plan_err!(
            "{function}: invalid argument `{name}`: must be a constant, not a column expression"
        ),
    }
}

/// The ε of a DP aggregate call: its constant `epsilon` argument, else `veil.epsilon` (the
/// `DefaultEpsilon` rewrite normally adds it; unset, the call is refused here).
pub(crate) fn call_epsilon(name: &str, args: &[Expr], config: &ConfigOptions) -> Result<f64> {
    match epsilon_position(name).and_then(|pos| args.get(pos)) {
        Some(arg) => number(name, "epsilon", arg),
        None => {
            let setting = config
                .extensions
                .get::<crate::config::VeilConfig>()
                .and_then(|c| c.epsilon);
            default_epsilon(setting).map_err(|e| to_df_error(name, e))
        }
    }
}

/// A DP aggregate call as the user wrote it (`dp_mean(salary, 0, 200000, 1)`), for the
/// audit log: casts added by type coercion are left out.
fn describe(f: &AggregateFunction) -> String {
    fn strip(e: &Expr) -> &Expr {
        match e {
            Expr::Cast(c) => strip(&c.expr),
            Expr::TryCast(c) => strip(&c.expr),
            other => other,
        }
    }
    let args: Vec<String> = f
        .params
        .args
        .iter()
        .map(|a| match strip(a) {
            Expr::Literal(v, _) => v.to_string(),
            other => other.human_display().to_string(),
        })
        .collect();
    let distinct = if f.params.distinct { "DISTINCT " } else { "" };
    format!("{}({distinct}{})", f.func.name(), args.join(", "))
}

/// The privacy cost of one DP aggregate call, after checking its constant arguments the way
/// the aggregate will (so an invalid call is refused before anything is charged).
fn cost_of(f: &AggregateFunction, config: &ConfigOptions) -> Result<PrivacyCost> {
    let name = f.func.name();
    let args = &f.params.args;
    if let Some(cost) = selection_cost(name, args, config)? {
        return Ok(cost);
    }
    let arg = |i: usize, arg: &str| match args.get(i) {
        Some(e) => number(name, arg, e),
        None => plan_err!("{name}: missing argument `{arg}`"),
    };
    let epsilon = || call_epsilon(name, args, config);
    // `f(value, lower, upper, …, epsilon)`: bounds first, then ε, as the aggregates check.
    let bounds_epsilon =
        || -> Result<(f64, f64, f64)> { Ok((arg(1, "lower")?, arg(2, "upper")?, epsilon()?)) };
    let noise = || session_noise(config);
    let cost = match name {
        SELECT => {
            let epsilon = epsilon()?;
            PartitionSelection::new(epsilon, arg(1, "delta")?).map(|s| s.cost())
        }
        "dp_mean" => {
            let (lower, upper, epsilon) = bounds_epsilon()?;
            BoundedMean::with_noise(lower, upper, epsilon, noise()?).map(|m| m.cost())
        }
        "dp_sum" => {
            let (lower, upper, epsilon) = bounds_epsilon()?;
            BoundedSum::with_noise(lower, upper, epsilon, noise()?).map(|m| m.cost())
        }
        "dp_variance" | "dp_stddev" => {
            let (lower, upper, epsilon) = bounds_epsilon()?;
            let spread = if name == "dp_stddev" {
                Spread::StdDev
            } else {
                Spread::Variance
            };
            BoundedVariance::new(lower, upper, epsilon, noise()?, spread).map(|m| m.cost())
        }
        "dp_median" => {
            let (lower, upper, epsilon) = bounds_epsilon()?;
            BoundedQuantile::median(lower, upper, epsilon).map(|m| m.cost())
        }
        "dp_quantile" => {
            let (q, lower, upper) = (arg(1, "q")?, arg(2, "lower")?, arg(3, "upper")?);
            BoundedQuantile::new(q, lower, upper, epsilon()?).map(|m| m.cost())
        }
        "dp_count" => DpCountAccumulator::with_noise(epsilon()?, noise()?).map(|c| c.cost()),
        _ => check_epsilon(epsilon()?).map(PrivacyCost::pure),
    };
    cost.map_err(|e| to_df_error(name, e))
}

/// The cost of `dp_count_distinct`, `dp_mode` and `dp_top_k` (None for other aggregates),
/// after checking their constant arguments with the constructors the aggregates use.
fn selection_cost(
    name: &str,
    args: &[Expr],
    config: &ConfigOptions,
) -> Result<Option<PrivacyCost>> {
    if !matches!(name, "dp_count_distinct" | "dp_mode" | "dp_top_k") {
        return Ok(None);
    }
    let epsilon = call_epsilon(name, args, config)?;
    if name == "dp_count_distinct" {
        return DpCountDistinctAccumulator::new(epsilon, session_noise(config)?)
            .map(|a| Some(a.cost()))
            .map_err(|e| to_df_error(name, e));
    }
    let candidates = match args.get(1).map(|a| (a, constant(a))) {
        Some((_, Some(ScalarValue::Utf8(Some(s))))) => s,
        Some((_, Some(v))) if v.is_null() => {
            return plan_err!("{name}: invalid argument `candidates`: must not be NULL")
        }
        Some((a, Some(_))) => {
            return plan_err!("{name}: invalid argument `candidates`: expected text, got {a}")
        }
        Some((_, None)) => {
            return plan_err!(
                "{name}: invalid argument `candidates`: must be a constant, not a column expression"
            )
        }
        None => return plan_err!("{name}: missing argument `candidates`"),
    };
    let k = if name == "dp_top_k" {
        match args.get(2) {
            Some(e) => crate::aggregate::dp_top_k::whole(name, "k", number(name, "k", e)?)?,
            None => return plan_err!("{name}: missing argument `k`"),
        }
    } else {
        1
    };
    TopK::from_sql(&candidates, k, epsilon)
        .map(|t| Some(t.cost()))
        .map_err(|e| to_df_error(name, e))
}

/// The session's noise for the aggregates that offer a choice (`veil.noise`).
pub fn session_noise(config: &ConfigOptions) -> Result<Noise> {
    let veil = config.extensions.get::<crate::config::VeilConfig>();
    let setting = veil.and_then(|c| c.noise.as_deref()).map(str::trim);
    match setting {
        None | Some("") => Ok(Noise::Laplace),
        Some(name) => {
            Noise::parse(name, veil.and_then(|c| c.delta)).map_err(|e| to_df_error("veil.noise", e))
        }
    }
}

/// Swaps in aggregate instances that draw the session's noise when it is not the default.
/// The setting is read (and checked) only when the plan has an aggregate it applies to.
fn with_session_noise(plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
    use crate::aggregate::*;
    let mut noise: Option<Noise> = None;
    plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|e| {
            e.transform(|e| match e {
                Expr::AggregateFunction(mut f) if NOISE_CHOICE.contains(&f.func.name()) => {
                    let chosen = match noise {
                        Some(n) => n,
                        None => {
                            let n = session_noise(config)?;
                            noise = Some(n);
                            n
                        }
                    };
                    if chosen == Noise::Laplace {
                        return Ok(Transformed::no(Expr::AggregateFunction(f)));
                    }
                    let udaf = match f.func.name() {
                        "dp_count" => AggregateUDF::from(dp_count::DpCount::with_noise(chosen)),
                        "dp_count_distinct" => AggregateUDF::from(
                            dp_count_distinct::DpCountDistinct::with_noise(chosen),
                        ),
                        "dp_sum" => AggregateUDF::from(dp_sum::DpSum::with_noise(chosen)),
                        "dp_mean" => AggregateUDF::from(dp_mean::DpMean::with_noise(chosen)),
                        "dp_variance" => {
                            AggregateUDF::from(dp_variance::DpVariance::with_noise(chosen))
                        }
                        _ => AggregateUDF::from(dp_variance::DpStddev::with_noise(chosen)),
                    };
                    f.func = Arc::new(udaf);
                    Ok(Transformed::yes(Expr::AggregateFunction(f)))
                }
                other => Ok(Transformed::no(other)),
            })
        })
    })
    .map(|t| t.data)
}

/// The DP mechanisms of a plan with their costs, in plan order.
pub fn mechanisms(
    plan: &LogicalPlan,
    config: &ConfigOptions,
) -> Result<Vec<(String, PrivacyCost)>> {
    let mut found = Vec::new();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                match e {
                    Expr::AggregateFunction(f) if epsilon_position(f.func.name()).is_some() => {
                        found.push((describe(f), cost_of(f, config)?));
                    }
                    Expr::WindowFunction(w) => {
                        let WindowFunction { fun, .. } = w.as_ref();
                        if let WindowFunctionDefinition::AggregateUDF(u) = fun {
                            if epsilon_position(u.name()).is_some() {
                                return plan_err!(
                                    "{} cannot be used as a window function (every window frame would release a new noisy value); aggregate with GROUP BY instead",
                                    u.name()
                                );
                            }
                        }
                    }
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(found)
}

/// The DP aggregate call inside an aggregate expression (possibly aliased).
pub(crate) fn dp_call(e: &Expr) -> Option<&AggregateFunction> {
    match e {
        Expr::Alias(a) => dp_call(&a.expr),
        Expr::AggregateFunction(f) if epsilon_position(f.func.name()).is_some() => Some(f),
        _ => None,
    }
}

/// Whether an aggregate expression is the selection veil added (see [`select_partitions`]).
fn is_keep(e: &Expr) -> bool {
    matches!(e, Expr::Alias(a) if a.name == KEEP && dp_call(&a.expr).is_some_and(|f| f.func.name() == SELECT))
}

/// Adds partition selection to one Aggregate node if it groups DP aggregates.
fn select_partitions(agg: &Aggregate, config: &ConfigOptions) -> Result<Option<LogicalPlan>> {
    let calls: Vec<&AggregateFunction> = agg.aggr_expr.iter().filter_map(dp_call).collect();
    // Only veil's own selection (named KEEP, with the Filter on it) counts as one: a
    // `veil_partition_select` written in the query is one more DP aggregate, whose value
    // filters nothing.
    if agg.group_expr.is_empty() || calls.is_empty() || agg.aggr_expr.iter().any(is_keep) {
        return Ok(None);
    }
    if agg.group_expr.iter().any(|g| {
        matches!(
            g,
            Expr::GroupingSet(
                GroupingSet::Rollup(_) | GroupingSet::Cube(_) | GroupingSet::GroupingSets(_)
            )
        )
    }) {
        return plan_err!(
            "DP aggregates cannot be used with ROLLUP, CUBE or GROUPING SETS: a row would count in several groups"
        );
    }
    let veil = config.extensions.get::<crate::config::VeilConfig>();
    let Some(delta) = veil.and_then(|c| c.delta) else {
        return plan_err!(
            "a GROUP BY with DP aggregates releases group keys only through DP partition selection: SET veil.delta = 1e-6 (or another δ) first"
        );
    };
    let epsilon = match veil.and_then(|c| c.partition_epsilon) {
        Some(e) => e,
        None => {
            let mut max = 0.0f64;
            for f in &calls {
                max = max.max(cost_of(f, config)?.epsilon);
            }
            max
        }
    };
    // Checked here so a bad setting names itself.
    PartitionSelection::new(epsilon, delta)
        .map_err(|e| to_df_error("veil.delta / veil.partition_epsilon", e))?;
    let udaf = Arc::new(AggregateUDF::from(
        crate::aggregate::veil_partition_select::VeilPartitionSelect::new(),
    ));
    let keep = Expr::AggregateFunction(AggregateFunction::new_udf(
        udaf,
        vec![lit(epsilon), lit(delta)],
        false,
        None,
        vec![],
        None,
    ))
    .alias(KEEP);
    let mut aggr_expr = agg.aggr_expr.clone();
    aggr_expr.push(keep);
    let widened = Aggregate::try_new(Arc::clone(&agg.input), agg.group_expr.clone(), aggr_expr)?;
    let original: Vec<Expr> = agg.schema.columns().into_iter().map(Expr::Column).collect();
    let plan = LogicalPlanBuilder::from(LogicalPlan::Aggregate(widened))
        .filter(Expr::Column(Column::new_unqualified(KEEP)))?
        .project(original)?
        .build()?;
    Ok(Some(plan))
}

/// Moves the constant arguments of every DP aggregate call into the function instance
/// ([`crate::aggregate::const_args`]), once the plan is costed.
fn with_const_args(plan: LogicalPlan) -> Result<LogicalPlan> {
    use crate::aggregate::const_args::ConstArgs;
    use datafusion::logical_expr::ExprSchemable;
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::Aggregate(agg) = &node else {
            return Ok(Transformed::no(node));
        };
        let input = agg.input.schema();
        let group_len = agg.group_expr_len()?;
        let fused = fusable_selection(agg);
        let mut changed = false;
        let mut aggr_expr = Vec::with_capacity(agg.aggr_expr.len());
        for (i, e) in agg.aggr_expr.iter().enumerate() {
            if fused.as_ref().is_some_and(|(s, _, _)| *s == i) {
                continue;
            }
            let call = dp_call(e);
            // The selection only counts rows: any input column stands in for its value.
            let selection = call.is_some_and(|f| f.func.name() == SELECT);
            let first_constant = usize::from(!selection);
            let constants: Option<Vec<ScalarValue>> = call.and_then(|f| {
                (f.params.args.len() > first_constant)
                    .then(|| {
                        f.params.args[first_constant..]
                            .iter()
                            .map(constant)
                            .collect()
                    })
                    .flatten()
            });
            let value = if selection {
                input.columns().into_iter().next().map(Expr::Column)
            } else {
                call.map(|f| f.params.args[0].clone())
            };
            let (Some(f), Some(constants), Some(value)) = (call, constants, value) else {
                if fused.as_ref().is_some_and(|(_, h, _)| *h == i) {
                    // fail closed: the selection was taken out for this call to carry
                    return plan_err!(
                        "veil: internal error: the DP aggregate meant to carry the partition selection has non-constant parameters"
                    );
                }
                aggr_expr.push(e.clone());
                continue;
            };
            let value_type = value.get_type(input)?;
            let mut f = f.clone();
            let func = match &fused {
                Some((_, h, carrier)) if *h == i => Arc::clone(carrier),
                _ => Arc::clone(&f.func),
            };
            f.func = Arc::new(AggregateUDF::from(ConstArgs::new(
                func,
                vec![value_type],
                constants,
            )));
            f.params.args = vec![value];
            let (qualifier, field) = agg.schema.qualified_field(group_len + i);
            aggr_expr
                .push(Expr::AggregateFunction(f).alias_qualified(qualifier.cloned(), field.name()));
            changed = true;
        }
        if !changed {
            return Ok(Transformed::no(node));
        }
        let rewritten = LogicalPlan::Aggregate(Aggregate::try_new(
            Arc::clone(&agg.input),
            agg.group_expr.clone(),
            aggr_expr,
        )?);
        let Some((s, h, _)) = fused else {
            return Ok(Transformed::yes(rewritten));
        };
        // The selection's column comes back as "the carrier's release is not NULL", so the
        // Filter above keeps exactly the groups the selection keeps.
        let columns = agg.schema.columns();
        let carrier = Expr::Column(columns[group_len + h].clone());
        let exprs: Vec<Expr> = columns
            .into_iter()
            .enumerate()
            .map(|(j, c)| {
                if j == group_len + s {
                    carrier.clone().is_not_null().alias(c.name)
                } else {
                    Expr::Column(c)
                }
            })
            .collect();
        Ok(Transformed::yes(
            LogicalPlanBuilder::from(rewritten)
                .project(exprs)?
                .build()?,
        ))
    })
    .map(|t| t.data)
}

/// The partition selection of a GROUP BY that a `dp_count`, `dp_sum` or `dp_mean` call of
/// the same aggregation can carry ([`crate::aggregate::flat_groups`]: one count per row instead of
/// two): a selection without FILTER (so without a privacy unit, whose selection counts units)
/// and a call without FILTER, DISTINCT or ORDER BY. The position of the selection, that of
/// the call, and the call's function carrying the selection.
fn fusable_selection(agg: &Aggregate) -> Option<(usize, usize, Arc<AggregateUDF>)> {
    use crate::aggregate::dp_sum::DpSum;
    use crate::aggregate::{dp_count::DpCount, dp_mean::DpMean, flat_groups::FusedSelection};
    let calls: Vec<Option<&AggregateFunction>> = agg.aggr_expr.iter().map(dp_call).collect();
    let s = agg.aggr_expr.iter().position(is_keep)?;
    if calls[s]?.params.filter.is_some() {
        return None;
    }
    let [epsilon, delta] = calls[s]?.params.args.as_slice() else {
        return None;
    };
    let float = |e: &Expr| match constant(e)?.cast_to(&DataType::Float64).ok()? {
        ScalarValue::Float64(Some(v)) => Some(v),
        _ => None,
    };
    let fused = FusedSelection::new(float(epsilon)?, float(delta)?);
    fused.selection().ok()?;
    calls.iter().enumerate().find_map(|(h, call)| {
        let f = (*call)?;
        if f.params.filter.is_some() || f.params.distinct || !f.params.order_by.is_empty() {
            return None;
        }
        let inner = f.func.inner();
        let carrier = if let Some(c) = inner.downcast_ref::<DpCount>() {
            AggregateUDF::from(c.selecting(fused))
        } else if let Some(m) = inner.downcast_ref::<DpMean>() {
            AggregateUDF::from(m.selecting(fused))
        } else {
            AggregateUDF::from(inner.downcast_ref::<DpSum>()?.selecting(fused))
        };
        Some((s, h, Arc::new(carrier)))
    })
}

/// Adds partition selection to every grouped DP aggregation of the plan.
fn with_partition_selection(plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match &node {
        LogicalPlan::Aggregate(agg) => match select_partitions(agg, config)? {
            Some(p) => Ok(Transformed::yes(p)),
            None => Ok(Transformed::no(node)),
        },
        _ => Ok(Transformed::no(node)),
    })
    .map(|t| t.data)
}

impl AnalyzerRule for ChargeBudget {
    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = with_partition_selection(plan, config)?;
        let plan = with_session_noise(plan, config)?;
        // Costed as written (the ε the user asked for), before privacy-unit bounding
        // divides the parameters the mechanisms run with.
        let found = mechanisms(&plan, config)?;
        if found.is_empty() {
            return Ok(plan);
        }
        let plan = crate::unit::bound_contributions(plan, config)?;
        let charge = || -> veil_core::Fallible<()> {
            let mut query = plan.display_indent().to_string();
            if query.len() > MAX_QUERY_TEXT {
                let mut cut = MAX_QUERY_TEXT;
                while !query.is_char_boundary(cut) {
                    cut -= 1;
                }
                query.truncate(cut);
                query.push('…');
            }
            let request = ChargeRequest {
                principal: principal(config)?,
                query,
                mechanisms: found,
            };
            session_ledger(config)?.charge(&request).map(|_| ())
        };
        charge().map_err(|e| DataFusionError::Plan(format!("veil: {e}")))?;
        with_const_args(plan)
    }

    fn name(&self) -> &str {
        "veil_charge_budget"
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{SessionConfig, SessionContext};

    use crate::test_util::run;

    /// A grouped `dp_count` / `dp_sum` / `dp_mean` carries the selection (no separate selection
    /// aggregate); a call with FILTER cannot, nor can a selection over privacy units; groups
    /// below the threshold are dropped either way, also across partitions and batches.
    #[tokio::test]
    async fn selection_rides_on_a_count_when_it_can() {
        let ctx = SessionContext::new_with_config(
            SessionConfig::new()
                .with_target_partitions(3)
                .with_batch_size(64),
        );
        crate::register_all(&ctx);
        for sql in [
            "SET veil.ledger = ':memory:'",
            "SELECT veil_budget_grant(veil_principal(), 10000000, 0.001)",
            "SET veil.delta = 0.000001",
            // the selection's threshold is then ≈ 15 rows (the aggregates' ε hides their noise)
            "SET veil.partition_epsilon = 1",
            // groups 0 and 1: 500 rows each (a third of group 1's x NULL); group 9: 2 rows
            "CREATE TABLE t AS SELECT value % 2 AS g, value AS u, CASE WHEN value % 6 = 1 THEN NULL ELSE CAST(value AS DOUBLE) END AS x FROM generate_series(1, 1000) UNION ALL SELECT 9, 1, 1.0 UNION ALL SELECT 9, 2, 2.0",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
        let plan = |sql: &'static str| {
            let ctx = ctx.clone();
            async move { run(&ctx, &format!("EXPLAIN {sql}")).await }
        };
        for sql in [
            "SELECT g, dp_count(x, 1000) FROM t GROUP BY g",
            "SELECT g, dp_sum(x, 0, 10, 1000), dp_mean(x, 0, 10, 1000) FROM t GROUP BY g",
            "SELECT g, dp_sum(x, 0, 10, 1000) FROM t GROUP BY g",
            "SELECT g, dp_count(x, 1000) FILTER (WHERE x > 3), dp_count(1, 1000) FROM t GROUP BY g",
        ] {
            let p = plan(sql).await;
            assert!(!p.contains("veil_partition_select"), "{sql}\n{p}");
            assert!(p.contains("IS NOT NULL"), "{sql}\n{p}");
        }
        for sql in [
            "SELECT g, dp_count(x, 1000) FILTER (WHERE x > 3) FROM t GROUP BY g",
            "SELECT g, dp_quantile(x, 0.5, 0, 10, 1000) FROM t GROUP BY g",
        ] {
            let p = plan(sql).await;
            assert!(p.contains("veil_partition_select"), "{sql}\n{p}");
        }
        let out = run(
            &ctx,
            "SELECT g, dp_count(x, 1000) AS c, dp_count(1, 1000) AS n FROM t GROUP BY g ORDER BY g",
        )
        .await;
        assert!(out.contains("| 0 | 500 | 500 |"), "{out}");
        assert!(out.contains("| 1 | 333 | 500 |"), "{out}");
        assert!(!out.contains("| 9 "), "{out}");
        let out = run(
            &ctx,
            "SELECT g, round(dp_mean(x, 0, 1000, 1000000)) AS m FROM t GROUP BY g ORDER BY g",
        )
        .await;
        assert!(
            out.contains("| 0 | 501.0 |") && out.contains("| 1 |"),
            "{out}"
        );
        assert!(!out.contains("| 9 "), "{out}");
        // a sum carries it too: group 1's NULLs still count as rows for the selection
        let out = run(
            &ctx,
            "SELECT g, round(dp_sum(x, 0, 1000, 1000000)) AS s FROM t GROUP BY g ORDER BY g",
        )
        .await;
        assert!(out.contains("| 0 | 250500.0 |"), "{out}");
        assert!(out.contains("| 1 |") && !out.contains("| 9 "), "{out}");
        // a privacy unit's selection counts units: not carried
        ctx.sql("SET veil.privacy_unit = 'u'")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let p = plan("SELECT g, dp_count(x, 1000) FROM t GROUP BY g").await;
        assert!(p.contains("veil_partition_select"), "{p}");
    }
}
