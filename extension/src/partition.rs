//! DP partition selection in PostgreSQL: `veil_partition_select(epsilon, delta)` and the
//! parse hook that adds it to every GROUP BY with DP aggregates.
//!
//! When the veil library is loaded, a post-parse-analysis hook appends
//! `AND veil_partition_select(ε_p, δ)` to the HAVING clause of each query level that groups
//! DP aggregates (δ from `veil.delta`, required; ε_p from `veil.partition_epsilon`, else the
//! largest ε of those aggregates), so only groups whose noisy row count passes the
//! threshold are released. The library is loaded by the first veil function a session
//! calls — after that query was parsed — so the budget check ([`crate::budget`]) refuses any
//! grouped DP aggregation whose HAVING lacks the selection; `session_preload_libraries =
//! 'veil'` makes the hook present from a session's first query.

use pgrx::prelude::*;

use crate::agg::partial_state_functions;
use pgrx::Internal;
use veil_core::dp::PartitionSelection;
use veil_core::VeilError;

use crate::agg::{self, PartialState, Use};
use crate::error::{raise, OrRaise};

pub const NAME: &str = "veil_partition_select";

/// Transition state: rows seen and the selection's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectState {
    rows: u64,
    epsilon: f64,
    delta: f64,
}

impl PartialState for SelectState {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        if self.epsilon != other.epsilon || self.delta != other.delta {
            return Err(VeilError::IncompatibleState(
                "partition selection states with different parameters".into(),
            ));
        }
        self.rows = self.rows.saturating_add(other.rows);
        Ok(())
    }
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&self.epsilon.to_le_bytes());
        out.extend_from_slice(&self.delta.to_le_bytes());
        out
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        let field = |i: usize| -> Result<[u8; 8], VeilError> {
            bytes
                .get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| VeilError::IncompatibleState("truncated partition state".into()))
        };
        if bytes.len() != 24 {
            return Err(VeilError::IncompatibleState(
                "bad partition state length".into(),
            ));
        }
        Ok(SelectState {
            rows: u64::from_le_bytes(field(0)?),
            epsilon: f64::from_le_bytes(field(1)?),
            delta: f64::from_le_bytes(field(2)?),
        })
    }
}

#[pg_extern(immutable, parallel_safe)]
fn veil_partition_select_trans(
    mut state: Internal,
    epsilon: Option<f64>,
    delta: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let epsilon = agg::required(NAME, "epsilon", epsilon);
    let delta = agg::required(NAME, "delta", delta);
    // SAFETY: this aggregate only ever stores a SelectState.
    if unsafe { state.get::<SelectState>() }.is_none() {
        PartitionSelection::new(epsilon, delta).or_raise(NAME);
        let s = SelectState {
            rows: 0,
            epsilon,
            delta,
        };
        state = agg::into_internal(s, fcinfo, NAME, Use::AggregateOnly);
    }
    // SAFETY: as above.
    let s = unsafe { state.get_mut::<SelectState>() }.expect("initialized above");
    agg::same_for_every_row(NAME, "epsilon", s.epsilon, epsilon);
    agg::same_for_every_row(NAME, "delta", s.delta, delta);
    s.rows += 1;
    state
}

partial_state_functions!(
    SelectState,
    NAME,
    Use::AggregateOnly,
    veil_partition_select_combine,
    veil_partition_select_serial,
    veil_partition_select_deserial
);

#[pg_extern(volatile, parallel_safe)]
fn veil_partition_select_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<bool> {
    let keep = |rows: u64, epsilon: f64, delta: f64| {
        PartitionSelection::new(epsilon, delta).and_then(|s| s.keep(rows))
    };
    let empty = || {
        let [e, d] = agg::constant_f64_args(fcinfo, NAME, 2, [(0, "epsilon"), (1, "delta")]);
        keep(0, e, d)
    };
    // SAFETY: as in the transition function.
    unsafe {
        agg::release_final::<SelectState, _>(
            NAME,
            state,
            fcinfo,
            |s| keep(s.rows, s.epsilon, s.delta),
            empty,
        )
    }
}

extension_sql!(
    r#"
CREATE AGGREGATE veil_partition_select(epsilon double precision, delta double precision) (
    sfunc = veil_partition_select_trans, stype = internal,
    finalfunc = veil_partition_select_final,
    combinefunc = veil_partition_select_combine,
    serialfunc = veil_partition_select_serial, deserialfunc = veil_partition_select_deserial,
    parallel = safe
);
COMMENT ON AGGREGATE veil_partition_select(double precision, double precision) IS
'DP partition selection: true when the group''s noisy row count passes the (epsilon, delta) threshold. Added by veil to every GROUP BY with DP aggregates.';
"#,
    name = "veil_partition_select_aggregate",
    requires = [
        veil_partition_select_trans,
        veil_partition_select_final,
        veil_partition_select_combine,
        veil_partition_select_serial,
        veil_partition_select_deserial
    ],
);

// ---------------------------------------------------------------------------------------
// The parse hook

static mut PREVIOUS_HOOK: pg_sys::post_parse_analyze_hook_type = None;

/// Installs the hook (from `_PG_init`).
pub fn install_hook() {
    // SAFETY: _PG_init runs once per backend on the main thread; we chain the previous hook.
    unsafe {
        PREVIOUS_HOOK = pg_sys::post_parse_analyze_hook;
        pg_sys::post_parse_analyze_hook = Some(after_parse_analysis);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn after_parse_analysis(
    pstate: *mut pg_sys::ParseState,
    query: *mut pg_sys::Query,
    jstate: *mut pg_sys::JumbleState,
) {
    if let Some(prev) = PREVIOUS_HOOK {
        prev(pstate, query, jstate);
    }
    if !query.is_null() {
        visit(query as *mut pg_sys::Node, std::ptr::null_mut());
    }
}

/// Visits every query level (subqueries in FROM, CTEs, sublinks).
#[pg_guard]
unsafe extern "C-unwind" fn visit(node: *mut pg_sys::Node, cx: *mut std::ffi::c_void) -> bool {
    if node.is_null() {
        return false;
    }
    if (*node).type_ == pg_sys::NodeTag::T_Query {
        let q = node as *mut pg_sys::Query;
        add_selection(q);
        if (*q).hasAggs {
            crate::unit::bound_units(q, &level_dp_aggrefs(q));
        }
        return pg_sys::query_tree_walker(q, Some(visit), cx, 0);
    }
    pg_sys::expression_tree_walker(node, Some(visit), cx)
}

struct Collect {
    aggrefs: Vec<*mut pg_sys::Aggref>,
}

/// Collects this level's veil Aggrefs (not those of subqueries).
#[pg_guard]
unsafe extern "C-unwind" fn collect(node: *mut pg_sys::Node, cx: *mut std::ffi::c_void) -> bool {
    if node.is_null() {
        return false;
    }
    match (*node).type_ {
        pg_sys::NodeTag::T_Query => false,
        pg_sys::NodeTag::T_Aggref => {
            let a = node as *mut pg_sys::Aggref;
            if (*a).agglevelsup == 0 && crate::budget::dp_name((*a).aggfnoid).is_some() {
                (*(cx as *mut Collect)).aggrefs.push(a);
            }
            false
        }
        _ => pg_sys::expression_tree_walker(node, Some(collect), cx),
    }
}

/// The ε of a DP Aggref, from its (constant-folded) arguments or `veil.epsilon`.
unsafe fn epsilon_of(a: *mut pg_sys::Aggref, name: &'static str) -> f64 {
    let args = crate::budget::list_ptrs((*a).args);
    let pos = crate::budget::epsilon_position(name);
    let Some(&te) = args.get(pos) else {
        return crate::guc::Run::now().epsilon(name);
    };
    let expr = (*(te as *mut pg_sys::TargetEntry)).expr as *mut pg_sys::Node;
    let folded = pg_sys::eval_const_expressions(
        std::ptr::null_mut(),
        pg_sys::copyObjectImpl(expr as *const _) as *mut _,
    );
    if folded.is_null() || (*folded).type_ != pg_sys::NodeTag::T_Const {
        raise(
            name,
            VeilError::invalid(
                "epsilon",
                "must be a constant (the query's privacy cost is charged before it runs)",
            ),
        );
    }
    let c = folded as *mut pg_sys::Const;
    if (*c).consttype != pg_sys::FLOAT8OID {
        raise(
            name,
            VeilError::invalid("epsilon", "must be double precision"),
        );
    }
    f64::from_datum((*c).constvalue, (*c).constisnull)
        .unwrap_or_else(|| raise(name, VeilError::invalid("epsilon", "must not be NULL")))
}

pub(crate) unsafe fn float8_const(v: f64) -> *mut pg_sys::Node {
    pg_sys::makeConst(
        pg_sys::FLOAT8OID,
        -1,
        pg_sys::InvalidOid,
        8,
        v.into_datum().unwrap_or(pg_sys::Datum::from(0usize)),
        false,
        true,
    ) as *mut pg_sys::Node
}

/// The oid of the veil extension's own `veil_partition_select(float8, float8)` (found through
/// the extension's membership, not the search path, so a look-alike cannot stand in).
pub fn selection_oid() -> pg_sys::Oid {
    find_selection_oid().unwrap_or_else(|| {
        error!(
            "{NAME}: cannot find the aggregate (is the veil extension installed in this database?)"
        )
    })
}

/// [`selection_oid`], or None in a database without the veil extension (the library may be
/// preloaded cluster-wide; then the hook leaves queries of such databases alone).
fn find_selection_oid() -> Option<pg_sys::Oid> {
    crate::unit::extension_function(NAME, None, &[pg_sys::FLOAT8OID, pg_sys::FLOAT8OID])
}

/// The veil DP Aggrefs of one query level (the partition selection included).
unsafe fn level_dp_aggrefs(q: *mut pg_sys::Query) -> Vec<*mut pg_sys::Aggref> {
    let mut c = Collect {
        aggrefs: Vec::new(),
    };
    let cx = &mut c as *mut Collect as *mut std::ffi::c_void;
    collect((*q).targetList as *mut pg_sys::Node, cx);
    collect((*q).havingQual, cx);
    c.aggrefs
}

/// Appends the selection to a grouped query level with DP aggregates.
unsafe fn add_selection(q: *mut pg_sys::Query) {
    if !(*q).hasAggs || ((*q).groupClause.is_null() && (*q).groupingSets.is_null()) {
        return;
    }
    let c = Collect {
        aggrefs: level_dp_aggrefs(q),
    };
    let names: Vec<&'static str> = c
        .aggrefs
        .iter()
        .filter_map(|&a| crate::budget::dp_name((*a).aggfnoid))
        .collect();
    // Every DP aggregate, a `veil_partition_select` in the target list too (it releases a
    // value per group, so the group keys need the selection as much).
    let dp: Vec<(*mut pg_sys::Aggref, &'static str)> = c
        .aggrefs
        .iter()
        .zip(&names)
        .map(|(a, n)| (*a, *n))
        .collect();
    if dp.is_empty() {
        return;
    }
    let Some(selection) = find_selection_oid() else {
        return; // not veil's aggregates: the extension is not installed in this database
    };
    // A selection the query calls itself is one more DP aggregate: only one that HAVING
    // filters on (veil's own, or written there) stands for the group's selection.
    if having_selects((*q).havingQual, selection) {
        return;
    }
    if !(*q).groupingSets.is_null() {
        ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "DP aggregates cannot be used with ROLLUP, CUBE or GROUPING SETS: a row would count in several groups"
        );
    }
    let Some(delta) = crate::guc::Run::now().delta(NAME) else {
        raise(
            NAME,
            VeilError::invalid(
                "veil.delta",
                "is not set: a GROUP BY with DP aggregates releases group keys only through DP partition selection; SET veil.delta = 1e-6 (or another δ) first",
            ),
        );
    };
    let epsilon = match crate::guc::partition_epsilon(NAME) {
        Some(e) => e,
        None => dp
            .iter()
            .map(|&(a, n)| epsilon_of(a, n))
            .fold(0.0f64, f64::max),
    };
    PartitionSelection::new(epsilon, delta).or_raise("veil.delta / veil.partition_epsilon");

    let aggref = pg_sys::palloc0(std::mem::size_of::<pg_sys::Aggref>()) as *mut pg_sys::Aggref;
    (*aggref).xpr.type_ = pg_sys::NodeTag::T_Aggref;
    (*aggref).aggfnoid = selection;
    (*aggref).aggtype = pg_sys::BOOLOID;
    (*aggref).aggcollid = pg_sys::InvalidOid;
    (*aggref).inputcollid = pg_sys::InvalidOid;
    (*aggref).aggtranstype = pg_sys::InvalidOid;
    let mut argtypes: *mut pg_sys::List = std::ptr::null_mut();
    let mut args: *mut pg_sys::List = std::ptr::null_mut();
    for (i, v) in [epsilon, delta].into_iter().enumerate() {
        argtypes = pg_sys::lappend_oid(argtypes, pg_sys::FLOAT8OID);
        let te = pg_sys::makeTargetEntry(
            float8_const(v) as *mut pg_sys::Expr,
            (i + 1) as i16,
            std::ptr::null_mut(),
            false,
        );
        args = pg_sys::lappend(args, te as *mut std::ffi::c_void);
    }
    (*aggref).aggargtypes = argtypes;
    (*aggref).aggdirectargs = std::ptr::null_mut();
    (*aggref).args = args;
    (*aggref).aggorder = std::ptr::null_mut();
    (*aggref).aggdistinct = std::ptr::null_mut();
    (*aggref).aggfilter = std::ptr::null_mut();
    (*aggref).aggstar = false;
    (*aggref).aggvariadic = false;
    (*aggref).aggkind = b'n' as std::ffi::c_char; // AGGKIND_NORMAL
    (*aggref).agglevelsup = 0;
    (*aggref).aggsplit = pg_sys::AggSplit::AGGSPLIT_SIMPLE;
    (*aggref).aggno = -1;
    (*aggref).aggtransno = -1;
    (*aggref).location = -1;
    let node = aggref as *mut pg_sys::Node;
    (*q).havingQual = if (*q).havingQual.is_null() {
        node
    } else {
        pg_sys::make_and_qual((*q).havingQual, node)
    };
}

/// Whether a parsed HAVING clause is, or is an AND of terms one of which is, a call of the
/// selection `selection` (as [`filters_on_selection`] later requires of the plan).
unsafe fn having_selects(having: *mut pg_sys::Node, selection: pg_sys::Oid) -> bool {
    if having.is_null() {
        return false;
    }
    match (*having).type_ {
        pg_sys::NodeTag::T_Aggref => (*(having as *mut pg_sys::Aggref)).aggfnoid == selection,
        pg_sys::NodeTag::T_BoolExpr => {
            let b = having as *mut pg_sys::BoolExpr;
            (*b).boolop == pg_sys::BoolExprType::AND_EXPR
                && crate::budget::list_ptrs((*b).args)
                    .into_iter()
                    .any(|a| having_selects(a as *mut pg_sys::Node, selection))
        }
        _ => false,
    }
}

/// Whether an Agg plan node's HAVING filters on a partition selection (a top-level conjunct
/// that is a `veil_partition_select` Aggref).
pub unsafe fn filters_on_selection(plan: *mut pg_sys::Plan) -> bool {
    let selection = selection_oid();
    crate::budget::list_ptrs((*plan).qual).into_iter().any(|e| {
        let n = e as *mut pg_sys::Node;
        !n.is_null()
            && (*n).type_ == pg_sys::NodeTag::T_Aggref
            && (*(n as *mut pg_sys::Aggref)).aggfnoid == selection
    })
}

/// For the error of a grouped DP aggregation without selection.
pub fn missing_selection() -> ! {
    raise(
        NAME,
        VeilError::invalid(
            "GROUP BY",
            "grouped DP aggregates need DP partition selection, which veil adds when its library is loaded before the query is parsed: run the query again (the library is loaded now), or set session_preload_libraries = 'veil'; set veil.delta",
        ),
    )
}
