//! Privacy budgets in PostgreSQL: tables `veil.budget` and `veil.audit`, the SQL functions
//! that manage them, and the charge every DP query pays before it releases anything.
//!
//! **Who**: the session user (`session_user`, unaffected by `SET ROLE` and SECURITY DEFINER).
//!
//! **When**: the first time a DP aggregate of a query is finalized, before its value is
//! computed, the whole executing plan is inspected: every DP aggregate in it (subqueries
//! included) is costed from its constant arguments, and all of them are charged in one
//! ledger transaction. The query's later finalizations (other groups, other DP aggregates)
//! find the query already charged. A DP aggregate that the executor could rescan (inside a
//! correlated subquery, a LATERAL/nested-loop inner side, a memoized or recursive part)
//! would release fresh noise per rescan, so such plans are refused.
//!
//! **Committed first**: the charge is written by a short-lived background worker in its own
//! transaction, and the query waits until it has committed. Rolling back the query's
//! transaction afterwards does not undo the charge (otherwise `BEGIN; SELECT dp_…; ROLLBACK`
//! would release values for free).

use std::cell::RefCell;
use std::ffi::CStr;

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use veil_core::dp::budget::{
    apply_grant, check_principal, settle, Budget, ChargeRequest, Composition,
};
use veil_core::dp::{
    BoundedMean, BoundedQuantile, BoundedSum, BoundedVariance, DpCountAccumulator, PrivacyCost,
    Spread,
};
use veil_core::VeilError;

use crate::error::{raise, OrRaise};

extension_sql!(
    r#"
CREATE SCHEMA IF NOT EXISTS veil;
REVOKE ALL ON SCHEMA veil FROM PUBLIC;
CREATE TABLE veil.budget (
    principal     text PRIMARY KEY,
    composition   text NOT NULL CHECK (composition IN ('basic', 'zcdp')),
    epsilon_total double precision NOT NULL,
    delta_total   double precision NOT NULL,
    epsilon_spent double precision NOT NULL,
    delta_spent   double precision NOT NULL,
    rho_spent     double precision NOT NULL,
    queries       bigint NOT NULL,
    updated       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE veil.audit (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal  text NOT NULL,
    query      text NOT NULL,
    mechanisms text NOT NULL,
    epsilon    double precision NOT NULL,
    delta      double precision NOT NULL,
    accepted   boolean NOT NULL,
    reason     text NOT NULL
);
REVOKE ALL ON veil.budget, veil.audit FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('veil.budget', '');
SELECT pg_catalog.pg_extension_config_dump('veil.audit', '');
"#,
    name = "budget_tables",
);

const READ: &str = "SELECT composition, epsilon_total, delta_total, epsilon_spent, delta_spent, \
                    rho_spent, queries FROM veil.budget WHERE principal = $1 FOR UPDATE";

fn spi_err(e: pgrx::spi::SpiError) -> VeilError {
    VeilError::Ledger(e.to_string())
}

/// The budget in columns `first..first + 7` of a row: composition, epsilon_total,
/// delta_total, epsilon_spent, delta_spent, rho_spent, queries (1-based ordinals).
fn budget_from_row(
    row: &pgrx::spi::SpiHeapTupleData<'_>,
    first: usize,
) -> Result<Budget, VeilError> {
    let f = |i: usize| -> Result<f64, VeilError> {
        Ok(row.get::<f64>(first + i).map_err(spi_err)?.unwrap_or(0.0))
    };
    let name: String = row.get(first).map_err(spi_err)?.unwrap_or_default();
    let composition = Composition::parse(&name)
        .map_err(|_| VeilError::Ledger(format!("unknown composition {name:?}")))?;
    Ok(Budget {
        composition,
        epsilon_total: f(1)?,
        delta_total: f(2)?,
        epsilon_spent: f(3)?,
        delta_spent: f(4)?,
        rho_spent: f(5)?,
        queries: row
            .get::<i64>(first + 6)
            .map_err(spi_err)?
            .unwrap_or(0)
            .max(0) as u64,
    })
}

/// The principal's budget, locked until the end of the transaction.
fn read_budget(c: &mut SpiClient<'_>, principal: &str) -> Result<Option<Budget>, VeilError> {
    let rows = c
        .update(READ, Some(1), &[principal.into()])
        .map_err(spi_err)?;
    rows.into_iter()
        .next()
        .map(|row| budget_from_row(&row, 1))
        .transpose()
}

fn write_budget(c: &mut SpiClient<'_>, principal: &str, b: &Budget) -> Result<(), VeilError> {
    c.update(
        "INSERT INTO veil.budget (principal, composition, epsilon_total, delta_total, epsilon_spent,
                                  delta_spent, rho_spent, queries)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (principal) DO UPDATE SET
             composition = excluded.composition, epsilon_total = excluded.epsilon_total,
             delta_total = excluded.delta_total, epsilon_spent = excluded.epsilon_spent,
             delta_spent = excluded.delta_spent, rho_spent = excluded.rho_spent,
             queries = excluded.queries, updated = clock_timestamp()",
        None,
        &[
            principal.into(),
            b.composition.name().into(),
            b.epsilon_total.into(),
            b.delta_total.into(),
            b.epsilon_spent.into(),
            b.delta_spent.into(),
            b.rho_spent.into(),
            (b.queries as i64).into(),
        ],
    )
    .map_err(spi_err)?;
    Ok(())
}

/// Charges a query in the current transaction (the ledger worker's), recording the attempt.
fn charge_in_transaction(request: &ChargeRequest) -> Result<Budget, VeilError> {
    Spi::connect_mut(|c| {
        let (outcome, e) = settle(read_budget(c, &request.principal)?, request);
        if let Ok(b) = &outcome {
            write_budget(c, &request.principal, b)?;
        }
        c.update(
            "INSERT INTO veil.audit (principal, query, mechanisms, epsilon, delta, accepted, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            None,
            &[
                e.principal.as_str().into(),
                e.query.as_str().into(),
                e.mechanisms.as_str().into(),
                e.epsilon.into(),
                e.delta.into(),
                e.accepted.into(),
                e.reason.as_str().into(),
            ],
        )
        .map_err(spi_err)?;
        outcome
    })
}

// ---------------------------------------------------------------------------------------
// SQL functions

/// The session user: who DP queries charge.
#[pg_extern(stable, parallel_safe)]
fn veil_principal() -> String {
    session_user()
}

fn session_user() -> String {
    // SAFETY: GetSessionUserId is valid in a backend with a session; noerr = false raises
    // for an unknown role, which cannot happen for the session user.
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetSessionUserId(), false);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

fn is_superuser() -> bool {
    // SAFETY: plain catalog lookup for the session user.
    unsafe { pg_sys::superuser_arg(pg_sys::GetSessionUserId()) }
}

/// Grants (ε, δ) more to `principal`; returns the ε it has left. EXECUTE is revoked from
/// PUBLIC: superusers may grant, and may GRANT EXECUTE to a privacy officer role.
#[pg_extern(volatile, security_definer)]
fn veil_budget_grant(
    principal: &str,
    epsilon: f64,
    delta: f64,
    composition: default!(Option<&str>, "NULL"),
) -> f64 {
    const NAME: &str = "veil_budget_grant";
    check_principal(principal).or_raise(NAME);
    let composition = composition
        .map(Composition::parse)
        .transpose()
        .or_raise(NAME);
    Spi::connect_mut(|c| -> Result<f64, VeilError> {
        let b = apply_grant(read_budget(c, principal)?, epsilon, delta, composition)?;
        write_budget(c, principal, &b)?;
        Ok(b.epsilon_remaining())
    })
    .or_raise(NAME)
}

/// Leaves `principal` nothing to spend; false when it had no budget.
#[pg_extern(volatile, security_definer)]
fn veil_budget_revoke(principal: &str) -> bool {
    Spi::connect_mut(|c| -> Result<bool, VeilError> {
        match read_budget(c, principal)? {
            None => Ok(false),
            Some(mut b) => {
                b.revoke();
                write_budget(c, principal, &b)?;
                Ok(true)
            }
        }
    })
    .or_raise("veil_budget_revoke")
}

extension_sql!(
    r#"
REVOKE EXECUTE ON FUNCTION veil_budget_grant(text, double precision, double precision, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION veil_budget_revoke(text) FROM PUBLIC;
"#,
    name = "budget_grant_privileges",
    requires = [veil_budget_grant, veil_budget_revoke],
);

/// Budgets: every principal's for superusers, the session user's own for everyone else.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, security_definer)]
fn veil_budget_status() -> TableIterator<
    'static,
    (
        name!(principal, String),
        name!(composition, String),
        name!(epsilon_total, f64),
        name!(epsilon_spent, f64),
        name!(epsilon_remaining, f64),
        name!(delta_total, f64),
        name!(delta_spent, f64),
        name!(rho_spent, f64),
        name!(queries, i64),
    ),
> {
    let only = (!is_superuser()).then(session_user);
    let rows = Spi::connect(|c| -> Result<Vec<_>, VeilError> {
        let table = c
            .select(
                "SELECT principal, composition, epsilon_total, delta_total, epsilon_spent,
                        delta_spent, rho_spent, queries
                 FROM veil.budget WHERE $1::text IS NULL OR principal = $1 ORDER BY principal",
                None,
                &[only.clone().into()],
            )
            .map_err(spi_err)?;
        let mut out = Vec::new();
        for row in table {
            let b = budget_from_row(&row, 2)?;
            let principal: String = row.get(1).map_err(spi_err)?.unwrap_or_default();
            out.push((
                principal,
                b.composition.name().to_string(),
                b.epsilon_total,
                b.epsilon_spent_effective(),
                b.epsilon_remaining(),
                b.delta_total,
                b.delta_spent,
                b.rho_spent,
                b.queries as i64,
            ));
        }
        Ok(out)
    })
    .or_raise("veil_budget_status");
    TableIterator::new(rows)
}

/// The audit log: every principal's for superusers, the session user's own otherwise.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, security_definer)]
fn veil_audit_log() -> TableIterator<
    'static,
    (
        name!(id, i64),
        name!(at, pgrx::datum::TimestampWithTimeZone),
        name!(principal, String),
        name!(query, String),
        name!(mechanisms, String),
        name!(epsilon, f64),
        name!(delta, f64),
        name!(accepted, bool),
        name!(reason, String),
    ),
> {
    let only = (!is_superuser()).then(session_user);
    let rows = Spi::connect(|c| -> Result<Vec<_>, VeilError> {
        let table = c
            .select(
                "SELECT id, at, principal, query, mechanisms, epsilon, delta, accepted, reason
                 FROM veil.audit WHERE $1::text IS NULL OR principal = $1 ORDER BY id",
                None,
                &[only.clone().into()],
            )
            .map_err(spi_err)?;
        let mut out = Vec::new();
        for row in table {
            let s = |i: usize| -> Result<String, VeilError> {
                Ok(row.get::<String>(i).map_err(spi_err)?.unwrap_or_default())
            };
            let f = |i: usize| -> Result<f64, VeilError> {
                Ok(row.get::<f64>(i).map_err(spi_err)?.unwrap_or(0.0))
            };
            let at = row
                .get::<pgrx::datum::TimestampWithTimeZone>(2)
                .map_err(spi_err)?
                .ok_or_else(|| VeilError::Ledger("audit entry without a time".into()))?;
            out.push((
                row.get::<i64>(1).map_err(spi_err)?.unwrap_or(0),
                at,
                s(3)?,
                s(4)?,
                s(5)?,
                f(6)?,
                f(7)?,
                row.get::<bool>(8).map_err(spi_err)?.unwrap_or(false),
                s(9)?,
            ));
        }
        Ok(out)
    })
    .or_raise("veil_audit_log");
    TableIterator::new(rows)
}

// ---------------------------------------------------------------------------------------
// Charging a query

thread_local! {
    /// EStates (executions) already charged; an entry is removed when the execution's
    /// memory is freed, so a later execution at the same address is charged again.
    static CHARGED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

#[pg_guard]
unsafe extern "C-unwind" fn forget_execution(arg: *mut std::ffi::c_void) {
    let key = arg as usize;
    CHARGED.with(|c| c.borrow_mut().retain(|&k| k != key));
}

/// A DP aggregate found in the plan.
struct Found {
    aggref: *mut pg_sys::Aggref,
    /// The combining half of a parallel aggregate (arguments replaced; not costed).
    combining: bool,
    /// The plan node computing it.
    node: *mut pg_sys::Plan,
    rescannable: bool,
}

struct Walk {
    found: Vec<Found>,
    node: *mut pg_sys::Plan,
    rescannable: bool,
}

#[pg_guard]
unsafe extern "C-unwind" fn find_aggrefs(
    node: *mut pg_sys::Node,
    cx: *mut std::ffi::c_void,
) -> bool {
    if node.is_null() {
        return false;
    }
    let walk = &mut *(cx as *mut Walk);
    if (*node).type_ == pg_sys::NodeTag::T_Aggref {
        let aggref = node as *mut pg_sys::Aggref;
        // A parallel aggregate is split in a partial Aggref (full arguments, below Gather)
        // and a combining one (its arguments replaced by the partial result): the partial
        // one is costed, the combining one only marks where the aggregate is finalized.
        if dp_name((*aggref).aggfnoid).is_some() {
            walk.found.push(Found {
                aggref,
                combining: ((*aggref).aggsplit & pg_sys::AGGSPLITOP_COMBINE) != 0,
                node: walk.node,
                rescannable: walk.rescannable,
            });
        }
        return false;
    }
    pg_sys::expression_tree_walker(node, Some(find_aggrefs), cx)
}

/// The veil DP aggregate (or the partition selection) a function oid names, if any.
pub(crate) fn dp_name(oid: pg_sys::Oid) -> Option<&'static str> {
    // SAFETY: catalog lookup; returns null for unknown oids.
    let name = unsafe {
        let p = pg_sys::get_func_name(oid);
        if p.is_null() {
            return None;
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    };
    DP_AGGREGATES
        .into_iter()
        .chain([crate::partition::NAME])
        .find(|n| *n == name)
}

/// veil's DP aggregates (without the partition selection), named as in SQL.
pub(crate) const DP_AGGREGATES: [&str; 10] = [
    "dp_mean",
    "dp_sum",
    "dp_count",
    "dp_variance",
    "dp_stddev",
    "dp_quantile",
    "dp_median",
    "dp_count_distinct",
    "dp_mode",
    "dp_top_k",
];

/// The 0-based position of a DP aggregate's `epsilon` argument (absent when the call
/// leaves it out for `veil.epsilon`).
pub(crate) fn epsilon_position(name: &str) -> usize {
    match name {
        "dp_count" | "dp_count_distinct" => 1,
        "dp_mode" => 2,
        "dp_quantile" => 4,
        crate::partition::NAME => 0,
        _ => 3,
    }
}

pub(crate) unsafe fn list_ptrs(list: *mut pg_sys::List) -> Vec<*mut std::ffi::c_void> {
    if list.is_null() {
        return Vec::new();
    }
    (0..(*list).length as usize)
        .map(|i| (*(*list).elements.add(i)).ptr_value)
        .collect()
}

/// Walks a plan tree, recording DP aggregates and which init plans it reaches.
unsafe fn walk_plan(
    plan: *mut pg_sys::Plan,
    rescannable: bool,
    subplans: &[*mut std::ffi::c_void],
    visited: &mut [bool],
    found: &mut Vec<Found>,
) {
    if plan.is_null() {
        return;
    }
    let mut walk = Walk {
        found: Vec::new(),
        node: plan,
        rescannable,
    };
    let cx = &mut walk as *mut Walk as *mut std::ffi::c_void;
    find_aggrefs((*plan).targetlist as *mut pg_sys::Node, cx);
    find_aggrefs((*plan).qual as *mut pg_sys::Node, cx);
    // A grouped aggregation that finalizes DP aggregates must filter its groups on DP
    // partition selection (added to HAVING by the parse hook), or group keys would leak.
    if (*(plan as *mut pg_sys::Node)).type_ == pg_sys::NodeTag::T_Agg {
        let agg = plan as *mut pg_sys::Agg;
        let finalizes = ((*agg).aggsplit & pg_sys::AGGSPLITOP_SKIPFINAL) == 0;
        let grouped = (*agg).numCols > 0 || !(*agg).groupingSets.is_null();
        let dp = walk
            .found
            .iter()
            .any(|f| dp_name((*f.aggref).aggfnoid) != Some(crate::partition::NAME));
        if finalizes && grouped && dp && !crate::partition::filters_on_selection(plan) {
            crate::partition::missing_selection();
        }
    }
    found.append(&mut walk.found);
    // Init plans (uncorrelated subqueries, CTEs) run once per execution of this node.
    for sp in list_ptrs((*plan).initPlan) {
        let sp = sp as *mut pg_sys::SubPlan;
        let id = (*sp).plan_id as usize;
        if id >= 1 && id <= subplans.len() && !visited[id - 1] {
            visited[id - 1] = true;
            walk_plan(
                subplans[id - 1] as *mut pg_sys::Plan,
                rescannable,
                subplans,
                visited,
                found,
            );
        }
    }
    let tag = (*(plan as *mut pg_sys::Node)).type_;
    let (left_again, right_again) = match tag {
        pg_sys::NodeTag::T_NestLoop => (false, true),
        pg_sys::NodeTag::T_RecursiveUnion => (false, true),
        pg_sys::NodeTag::T_Memoize => (true, true),
        _ => (false, false),
    };
    walk_plan(
        (*plan).lefttree,
        rescannable || left_again,
        subplans,
        visited,
        found,
    );
    walk_plan(
        (*plan).righttree,
        rescannable || right_again,
        subplans,
        visited,
        found,
    );
    let children: Vec<*mut std::ffi::c_void> = match tag {
        pg_sys::NodeTag::T_Append => list_ptrs((*(plan as *mut pg_sys::Append)).appendplans),
        pg_sys::NodeTag::T_MergeAppend => {
            list_ptrs((*(plan as *mut pg_sys::MergeAppend)).mergeplans)
        }
        pg_sys::NodeTag::T_SubqueryScan => {
            vec![(*(plan as *mut pg_sys::SubqueryScan)).subplan as _]
        }
        pg_sys::NodeTag::T_CustomScan => {
            list_ptrs((*(plan as *mut pg_sys::CustomScan)).custom_plans)
        }
        _ => Vec::new(),
    };
    for child in children {
        walk_plan(
            child as *mut pg_sys::Plan,
            rescannable,
            subplans,
            visited,
            found,
        );
    }
}

/// A constant float8 argument of an Aggref (0-based position), or why not.
unsafe fn aggref_constant(
    aggref: *mut pg_sys::Aggref,
    pos: usize,
    name: &'static str,
) -> Result<f64, VeilError> {
    // The value as written: privacy units divide it for the mechanism, not for the charge.
    aggref_parameter(aggref, pos, name, crate::unit::Parameter::Charged)
}

/// A constant float8 argument of an Aggref (0-based position), as charged or as the
/// mechanism runs with it (see [`crate::unit::float8_parameter`]).
pub(crate) unsafe fn aggref_parameter(
    aggref: *mut pg_sys::Aggref,
    pos: usize,
    name: &'static str,
    which: crate::unit::Parameter,
) -> Result<f64, VeilError> {
    let args = list_ptrs((*aggref).args);
    let Some(&te) = args.get(pos) else {
        return Err(VeilError::invalid(name, "missing"));
    };
    let expr = (*(te as *mut pg_sys::TargetEntry)).expr as *mut pg_sys::Node;
    crate::unit::float8_parameter(expr, name, which)
}

/// The privacy cost of one DP aggregate call.
unsafe fn cost_of(
    aggref: *mut pg_sys::Aggref,
    name: &'static str,
    run: crate::guc::Run,
) -> Result<PrivacyCost, VeilError> {
    let arity = list_ptrs((*aggref).args).len();
    match name {
        crate::partition::NAME => {
            let epsilon = aggref_constant(aggref, 0, "epsilon")?;
            let delta = aggref_constant(aggref, 1, "delta")?;
            veil_core::dp::PartitionSelection::new(epsilon, delta).map(|s| s.cost())
        }
        "dp_count_distinct" | "dp_mode" | "dp_top_k" => {
            crate::dp_select::cost_of(aggref, name, run)
        }
        _ => {
            // Constant arguments in order, as the aggregate checks them, then epsilon.
            let pos = epsilon_position(name);
            let epsilon = || {
                if arity > pos {
                    aggref_constant(aggref, pos, "epsilon")
                } else {
                    Ok(run.epsilon(name))
                }
            };
            let bounds = |first: usize| -> Result<(f64, f64), VeilError> {
                Ok((
                    aggref_constant(aggref, first, "lower")?,
                    aggref_constant(aggref, first + 1, "upper")?,
                ))
            };
            match name {
                "dp_count" => {
                    DpCountAccumulator::with_noise(epsilon()?, run.noise(name)).map(|c| c.cost())
                }
                "dp_mean" => {
                    let (lower, upper) = bounds(1)?;
                    BoundedMean::with_noise(lower, upper, epsilon()?, run.noise(name))
                        .map(|m| m.cost())
                }
                "dp_sum" => {
                    let (lower, upper) = bounds(1)?;
                    BoundedSum::with_noise(lower, upper, epsilon()?, run.noise(name))
                        .map(|m| m.cost())
                }
                "dp_variance" | "dp_stddev" => {
                    let (lower, upper) = bounds(1)?;
                    let spread = if name == "dp_stddev" {
                        Spread::StdDev
                    } else {
                        Spread::Variance
                    };
                    BoundedVariance::new(lower, upper, epsilon()?, run.noise(name), spread)
                        .map(|m| m.cost())
                }
                "dp_median" => {
                    let (lower, upper) = bounds(1)?;
                    BoundedQuantile::median(lower, upper, epsilon()?).map(|m| m.cost())
                }
                "dp_quantile" => {
                    let q = aggref_constant(aggref, 1, "q")?;
                    let (lower, upper) = bounds(2)?;
                    BoundedQuantile::new(q, lower, upper, epsilon()?).map(|m| m.cost())
                }
                other => Err(VeilError::invalid(
                    "value",
                    format!("{other} is not a DP aggregate veil can cost"),
                )),
            }
        }
    }
}

/// Makes sure the query running this final function has paid for its DP aggregates;
/// charges them all on the first call. Raises when the budget does not cover them.
pub fn ensure_charged(fcinfo: pg_sys::FunctionCallInfo, function: &str) {
    // SAFETY: fcinfo is the live call info of an aggregate final function; context is the
    // AggState when called by the executor's Agg node (checked by tag).
    unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_AggState {
            raise(
                function,
                VeilError::invalid(
                    "value",
                    "DP aggregates run only in an aggregation (not as window functions)",
                ),
            );
        }
        let estate = (*(context as *mut pg_sys::AggState)).ss.ps.state;
        let key = estate as usize;
        if CHARGED.with(|c| c.borrow().contains(&key)) {
            return;
        }
        // The settings this execution's aggregates read (pinned at the first read).
        let run = crate::guc::Run::estate(estate);
        if pg_sys::IsInParallelMode() && pg_sys::ParallelWorkerNumber >= 0 {
            raise(
                function,
                VeilError::invalid(
                    "value",
                    "DP aggregates cannot be finalized in a parallel worker",
                ),
            );
        }
        let stmt = (*estate).es_plannedstmt;
        if stmt.is_null() {
            error!("{function}: cannot find the executing plan to charge its privacy cost");
        }
        let subplans = list_ptrs((*stmt).subplans);
        let mut visited = vec![false; subplans.len()];
        let mut found = Vec::new();
        walk_plan((*stmt).planTree, false, &subplans, &mut visited, &mut found);
        // Subplans not reached as init plans are correlated: run once per outer row.
        for (i, &sp) in subplans.iter().enumerate() {
            if !visited[i] {
                walk_plan(
                    sp as *mut pg_sys::Plan,
                    true,
                    &subplans,
                    &mut visited,
                    &mut found,
                );
            }
        }
        let mut mechanisms: Vec<(String, PrivacyCost)> = Vec::new();
        let mut seen: Vec<(*mut pg_sys::Plan, *mut pg_sys::Aggref)> = Vec::new();
        for f in found.iter().filter(|f| !f.combining) {
            let name = dp_name((*f.aggref).aggfnoid).unwrap_or("dp");
            if f.rescannable {
                raise(
                    name,
                    VeilError::invalid(
                        "value",
                        "cannot run in a correlated subquery, LATERAL join or recursive query: every rescan would release fresh noise",
                    ),
                );
            }
            // Identical calls in one Agg node share one state and one release.
            if seen
                .iter()
                .any(|&(n, a)| n == f.node && pg_sys::equal(a as *const _, f.aggref as *const _))
            {
                continue;
            }
            seen.push((f.node, f.aggref));
            crate::unit::check_bounded(f.aggref, name, run);
            let cost = cost_of(f.aggref, name, run).or_raise(name);
            mechanisms.push((name.to_string(), cost));
        }
        if mechanisms.is_empty() {
            error!("{function}: the executing plan has no DP aggregate to charge");
        }
        let query = if pg_sys::debug_query_string.is_null() {
            String::new()
        } else {
            CStr::from_ptr(pg_sys::debug_query_string)
                .to_string_lossy()
                .chars()
                .take(8192)
                .collect()
        };
        let request = ChargeRequest {
            principal: session_user(),
            query,
            mechanisms,
        };
        charge_committed(&request).or_raise(function);
        // Remember the execution until its memory goes away.
        crate::guc::at_execution_end(estate, forget_execution);
        CHARGED.with(|c| c.borrow_mut().push(key));
    }
}

// ---------------------------------------------------------------------------------------
// The ledger worker: commits a charge in its own transaction

/// Shared-memory layout: header, request (JSON), reply message.
#[repr(C)]
struct Header {
    database: u32,
    status: u32,
    request_len: u32,
    reply_len: u32,
}

const PENDING: u32 = 0;
const ACCEPTED: u32 = 1;
const REFUSED: u32 = 2;
const FAILED: u32 = 3;
const REPLY_CAP: usize = 4096;

fn encode(request: &ChargeRequest) -> Vec<u8> {
    let mechanisms: Vec<serde_json::Value> = request
        .mechanisms
        .iter()
        .map(|(m, c)| serde_json::json!([m, c.epsilon, c.delta, c.rho]))
        .collect();
    serde_json::json!({
        "principal": request.principal,
        "query": request.query,
        "mechanisms": mechanisms,
    })
    .to_string()
    .into_bytes()
}

fn decode(bytes: &[u8]) -> Option<ChargeRequest> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let mechanisms = v["mechanisms"]
        .as_array()?
        .iter()
        .map(|m| {
            Some((
                m[0].as_str()?.to_string(),
                PrivacyCost {
                    epsilon: m[1].as_f64()?,
                    delta: m[2].as_f64()?,
                    rho: m[3].as_f64(),
                },
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ChargeRequest {
        principal: v["principal"].as_str()?.to_string(),
        query: v["query"].as_str()?.to_string(),
        mechanisms,
    })
}

/// Runs the charge in a background worker and waits for its commit.
fn charge_committed(request: &ChargeRequest) -> Result<(), VeilError> {
    let payload = encode(request);
    let size = std::mem::size_of::<Header>() + payload.len() + REPLY_CAP;
    // SAFETY: a fresh DSM segment of `size` bytes, owned by the current resource owner
    // (detached at the end of the transaction, or explicitly below).
    unsafe {
        let seg = pg_sys::dsm_create(size, 0);
        let base = pg_sys::dsm_segment_address(seg) as *mut u8;
        let header = base as *mut Header;
        (*header).database = pg_sys::MyDatabaseId.into();
        (*header).status = PENDING;
        (*header).request_len = payload.len() as u32;
        (*header).reply_len = 0;
        std::ptr::copy_nonoverlapping(
            payload.as_ptr(),
            base.add(std::mem::size_of::<Header>()),
            payload.len(),
        );
        let handle = pg_sys::dsm_segment_handle(seg);
        // Worker slots (max_worker_processes) may all be busy under load: retry for up to
        // 30 s before giving up (nothing is released either way).
        let mut attempts = 0;
        let worker = loop {
            let started = BackgroundWorkerBuilder::new("veil ledger")
                .set_type("veil ledger")
                .set_library("veil")
                .set_function("veil_ledger_worker")
                .set_argument(Some(pg_sys::Datum::from(handle)))
                .enable_spi_access()
                .set_start_time(BgWorkerStartTime::RecoveryFinished)
                .set_restart_time(None)
                .set_notify_pid(pg_sys::MyProcPid)
                .load_dynamic();
            match started {
                Ok(w) => break w,
                Err(_) if attempts < 3000 => {
                    attempts += 1;
                    pg_sys::pg_usleep(10_000);
                    pgrx::check_for_interrupts!();
                }
                Err(_) => {
                    return Err(VeilError::Ledger(
                        "could not start the ledger worker within 30 s (max_worker_processes exhausted?); nothing was released"
                            .into(),
                    ))
                }
            }
        };
        worker.wait_for_shutdown().map_err(|s| {
            VeilError::Ledger(format!(
                "the ledger worker did not finish ({s:?}); nothing was released"
            ))
        })?;
        let status = std::ptr::read_volatile(&(*header).status);
        let reply_len = ((*header).reply_len as usize).min(REPLY_CAP);
        let reply = std::slice::from_raw_parts(
            base.add(std::mem::size_of::<Header>() + payload.len()),
            reply_len,
        );
        let message = String::from_utf8_lossy(reply).into_owned();
        pg_sys::dsm_detach(seg);
        match status {
            ACCEPTED => Ok(()),
            REFUSED => Err(VeilError::BudgetExceeded(message)),
            FAILED => Err(VeilError::Ledger(message)),
            _ => Err(VeilError::Ledger(
                "the ledger worker ended without an answer (see the server log); nothing was released".into(),
            )),
        }
    }
}

/// Entry point of the ledger worker (a dynamic background worker per charge).
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn veil_ledger_worker(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGTERM);
    let handle = arg.value() as pg_sys::dsm_handle;
    // SAFETY: the requesting backend created the segment with a Header followed by the
    // request and REPLY_CAP bytes; it keeps it alive while it waits for us.
    unsafe {
        let seg = pg_sys::dsm_attach(handle);
        if seg.is_null() {
            // The requester is gone: it releases nothing, so there is nothing to charge.
            return;
        }
        let base = pg_sys::dsm_segment_address(seg) as *mut u8;
        let header = base as *mut Header;
        let request_len = (*header).request_len as usize;
        let bytes =
            std::slice::from_raw_parts(base.add(std::mem::size_of::<Header>()), request_len);
        let reply_at = base.add(std::mem::size_of::<Header>() + request_len);
        let reply = |status: u32, message: &str| {
            let m = message.as_bytes();
            let n = m.len().min(REPLY_CAP);
            std::ptr::copy_nonoverlapping(m.as_ptr(), reply_at, n);
            (*header).reply_len = n as u32;
            std::ptr::write_volatile(&mut (*header).status, status);
        };
        let Some(request) = decode(bytes) else {
            reply(FAILED, "malformed charge request");
            pg_sys::dsm_detach(seg);
            return;
        };
        BackgroundWorker::connect_worker_to_spi_by_oid(
            Some(pg_sys::Oid::from((*header).database)),
            None,
        );
        let outcome = BackgroundWorker::transaction(|| charge_in_transaction(&request));
        // The transaction has committed when `transaction` returns.
        match outcome {
            Ok(_) => reply(ACCEPTED, ""),
            Err(VeilError::BudgetExceeded(m)) => reply(REFUSED, &m),
            Err(e) => reply(FAILED, &e.to_string()),
        }
        pg_sys::dsm_detach(seg);
    }
}
