//! Privacy units: bounding each individual's contribution before DP aggregation.
//!
//! Without a declared unit every row is one individual. `SET veil.privacy_unit = 'user_id'`
//! declares that the rows of one `user_id` belong to one individual; then, right below every
//! aggregation with DP aggregates, veil keeps for each unit at most
//! `veil.max_groups_contributed` groups (chosen at random; a query without GROUP BY has one
//! group) and in each kept group at most `veil.max_rows_contributed` rows (chosen at random),
//! like BigQuery's `max_groups_contributed`.
//!
//! After bounding, one individual changes at most `L0 = max_groups` groups (1 without GROUP
//! BY) and at most `max_rows` rows in each. Every DP aggregate is defined per row, so by group
//! privacy over `M = max_rows × L0` rows it is run with ε / M and the query is charged ε:
//! the answer is ε-DP for the unit, with the noise of an ε / M release. With
//! `veil.noise = 'gaussian'` the aggregates that take it run with the ε whose ρ is
//! ρ / (max_rows² × L0) (the unit's L2 sensitivity, [`veil_core::dp::Privacy::unit_epsilon`])
//! and the query is charged (ε, δ, ρ) as written. Partition selection
//! counts a group's distinct units (each unit adds one to at most L0 groups) and runs with
//! (ε / L0, δ / L0) per group, (ε, δ) over the groups one unit touches (basic composition).
//!
//! The unit column must be a column of the aggregation's input: `column`, or `table.column`
//! to pick one side of a join; a comma-separated list declares a unit per table
//! (`'visits.user_id, orders.customer_id'`), and exactly one declaration must apply. Ambiguous or missing names are refused, so a misspelled unit
//! never silently falls back to rows.

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{plan_err, Column, Result, ScalarValue};
use datafusion::functions::expr_fn::random;
use datafusion::functions_aggregate::min_max::min_udaf;
use datafusion::functions_window::expr_fn::{dense_rank, row_number};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    col, lit, Aggregate, Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder,
    WindowFunctionDefinition,
};
use std::sync::Arc;

use crate::charge::{call_epsilon, dp_call, epsilon_position, number, session_noise, SELECT};
use crate::config::VeilConfig;
use crate::to_df_error;
use veil_core::dp::{
    applicable_unit, parse_privacy_units, Noise, Privacy, UnitColumn, NOISE_CHOICE,
};

/// Column of the bounded input: whether the row is its unit's first row in its group.
const FIRST: &str = "__veil_unit_first";
const ROW: &str = "__veil_unit_row";
const PRIORITY: &str = "__veil_unit_priority";
const GROUP_RANK: &str = "__veil_unit_group_rank";

/// Largest accepted `veil.max_groups_contributed` / `veil.max_rows_contributed`.
pub const MAX_CONTRIBUTIONS: u64 = 1_000_000;

/// The session's privacy unit and contribution bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitBounds {
    /// The declarations of `veil.privacy_unit` (`column` or `table.column`, see
    /// [`veil_core::dp::parse_privacy_units`]).
    pub units: Vec<UnitColumn>,
    pub max_groups: u64,
    pub max_rows: u64,
}

/// The declared privacy unit, or None when each row is one individual.
pub fn unit_bounds(config: &ConfigOptions) -> Result<Option<UnitBounds>> {
    let Some(veil) = config.extensions.get::<VeilConfig>() else {
        return Ok(None);
    };
    let units = match parse_privacy_units(veil.privacy_unit.as_deref().unwrap_or("")) {
        Ok(Some(units)) => units,
        Ok(None) => return Ok(None),
        Err(e) => return Err(to_df_error("veil", e)),
    };
    for (name, value) in [
        ("veil.max_groups_contributed", veil.max_groups_contributed),
        ("veil.max_rows_contributed", veil.max_rows_contributed),
    ] {
        if !(1..=MAX_CONTRIBUTIONS).contains(&value) {
            return plan_err!(
                "veil: invalid setting `{name}`: must be between 1 and {MAX_CONTRIBUTIONS}, got {value}"
            );
        }
    }
    Ok(Some(UnitBounds {
        units,
        max_groups: veil.max_groups_contributed,
        max_rows: veil.max_rows_contributed,
    }))
}

/// Bounds contributions below every aggregation with DP aggregates (no-op without a unit).
pub fn bound_contributions(plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
    let Some(bounds) = unit_bounds(config)? else {
        return Ok(plan);
    };
    plan.transform_up_with_subqueries(|node| match &node {
        LogicalPlan::Aggregate(agg) if agg.aggr_expr.iter().any(|e| dp_call(e).is_some()) => {
            bound_aggregate(agg, &bounds, config).map(Transformed::yes)
        }
        _ => Ok(Transformed::no(node)),
    })
    .map(|t| t.data)
}

/// One aggregation, with its input bounded and its DP aggregates' parameters divided.
fn bound_aggregate(
    agg: &Aggregate,
    bounds: &UnitBounds,
    config: &ConfigOptions,
) -> Result<LogicalPlan> {
    let input_schema = agg.input.schema();
    if input_schema.has_column_with_unqualified_name(FIRST) {
        return plan_err!("veil: the input of a DP aggregation was already bounded per unit");
    }
    // The input's columns a declaration names: `table.column` picks one side of a join.
    let columns_of = |u: &UnitColumn| -> Vec<Column> {
        let named = input_schema.columns_with_unqualified_name(&u.column);
        match &u.table {
            Some(table) => named
                .into_iter()
                .filter(|c| c.relation.as_ref().is_some_and(|r| r.table() == table))
                .collect(),
            None => named,
        }
    };
    let declared = applicable_unit(&bounds.units, |u| !columns_of(u).is_empty())
        .map_err(|e| to_df_error("veil", e))?;
    let unit = match columns_of(declared).as_slice() {
        [c] => Expr::Column(c.clone()),
        _ => {
            return plan_err!(
                "veil: invalid setting `veil.privacy_unit`: column `{declared}` is ambiguous in the DP aggregation's input (several tables have it; qualify it, e.g. 'table.column')"
            )
        }
    };
    let groups: Vec<Expr> = agg.group_expr.iter().map(|g| g.clone().unalias()).collect();
    let grouped = !groups.is_empty();
    let l0 = if grouped { bounds.max_groups } else { 1 };

    // Rows of a unit in a group: numbered in random order, the first max_rows kept.
    let mut unit_group = vec![unit.clone()];
    unit_group.extend(groups.iter().cloned());
    let row = row_number()
        .partition_by(unit_group.clone())
        .order_by(vec![random().sort(true, false)])
        .build()?
        .alias(ROW);
    let mut builder = LogicalPlanBuilder::from(Arc::clone(&agg.input));
    let mut keep = col(ROW).lt_eq(lit(ScalarValue::UInt64(Some(bounds.max_rows))));
    if grouped {
        // Groups of a unit: one random priority per (unit, group), ranked; the first
        // max_groups kept. Ties (equal priorities) are broken by the group keys.
        let priority = Expr::WindowFunction(Box::new(WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(min_udaf()),
            vec![random()],
        )))
        .partition_by(unit_group)
        .build()?
        .alias(PRIORITY);
        // One window node per sort key (DataFusion plans a node's windows with one sort).
        builder = builder.window(vec![priority])?.window(vec![row])?;
        let mut order = vec![col(PRIORITY).sort(true, false)];
        order.extend(groups.iter().map(|g| g.clone().sort(true, true)));
        let rank = dense_rank()
            .partition_by(vec![unit])
            .order_by(order)
            .build()?
            .alias(GROUP_RANK);
        builder = builder.window(vec![rank])?;
        keep = keep.and(col(GROUP_RANK).lt_eq(lit(ScalarValue::UInt64(Some(l0)))));
    } else {
        builder = builder.window(vec![row])?;
    }
    let mut columns: Vec<Expr> = input_schema
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    columns.push(col(ROW).eq(lit(ScalarValue::UInt64(Some(1)))).alias(FIRST));
    let bounded = builder.filter(keep)?.project(columns)?.build()?;

    // Same output names as before, so the plan above still resolves them.
    let group_len = agg.group_expr_len()?;
    let mut aggr_expr = Vec::with_capacity(agg.aggr_expr.len());
    for (i, e) in agg.aggr_expr.iter().enumerate() {
        let Some(f) = dp_call(e) else {
            aggr_expr.push(e.clone());
            continue;
        };
        let mut f = f.clone();
        let name = f.func.name().to_string();
        if name == SELECT {
            // Counts distinct units: one per unit in each of at most L0 groups.
            let epsilon = number(&name, "epsilon", &f.params.args[0])?;
            let delta = number(&name, "delta", &f.params.args[1])?;
            f.params.args = vec![lit(epsilon / l0 as f64), lit(delta / l0 as f64)];
            f.params.filter = Some(Box::new(col(FIRST)));
        } else {
            let pos = epsilon_position(&name).unwrap_or(usize::MAX);
            let epsilon = call_epsilon(&name, &f.params.args, config)?;
            // Gaussian noise scales ρ by L2 sensitivity, Laplace ε by L1 (veil-core).
            let noise = if NOISE_CHOICE.contains(&name.as_str()) {
                session_noise(config)?
            } else {
                Noise::Laplace
            };
            let share = Privacy::new(epsilon, noise)
                .and_then(|p| p.unit_epsilon(l0, bounds.max_rows))
                .map_err(|e| to_df_error(&name, e))?;
            let scaled = lit(ScalarValue::Float64(Some(share)));
            if pos < f.params.args.len() {
                f.params.args[pos] = scaled;
            } else {
                f.params.args.push(scaled);
            }
        }
        let (qualifier, field) = agg.schema.qualified_field(group_len + i);
        aggr_expr
            .push(Expr::AggregateFunction(f).alias_qualified(qualifier.cloned(), field.name()));
    }
    Ok(LogicalPlan::Aggregate(Aggregate::try_new(
        Arc::new(bounded),
        agg.group_expr.clone(),
        aggr_expr,
    )?))
}
