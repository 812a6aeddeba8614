//! Privacy units in PostgreSQL: `veil.privacy_unit`, `veil.max_groups_contributed`,
//! `veil.max_rows_contributed`.
//!
//! `veil.privacy_unit` is superuser-only (PGC_SUSET, like the keys): the unit is what the
//! guarantee protects, so it is declared by whoever manages the data — per role or per
//! database with `ALTER ROLE analyst SET veil.privacy_unit = 'visits.user_id'` — and an
//! analyst cannot SET, RESET or `set_config` it to a finer unit (e.g. rows) to learn more
//! about one person. The contribution bounds stay user-settable: any value is sound, since
//! the noise scales with them.
//!
//! Same semantics as in DataFusion (`veil_datafusion::unit`): with a unit column declared,
//! each unit keeps at most `max_groups` groups of a GROUP BY and at most `max_rows` rows per
//! group (chosen at random); every DP aggregate then runs with ε / (max_rows × L0) (L0 =
//! max_groups with GROUP BY, else 1) — with `veil.noise = 'gaussian'`, the ε whose ρ is
//! ρ / (max_rows² × L0) — and is charged ε; partition selection counts a group's units at
//! (ε / L0, δ / L0).
//!
//! How: the post-parse-analysis hook ([`crate::partition`]) calls [`bound_units`] on each
//! query level with DP aggregates. The level must read one table or view; its range-table
//! entry is replaced by a subquery over the same relation that numbers each unit's rows and
//! groups with window functions and keeps the first ones, with the relation's columns at
//! the same positions (so the query's Vars still point at them) plus a boolean "first row
//! of its unit in its group" column for the selection's FILTER. The ε (and the selection's
//! δ) argument of each DP Aggref is wrapped as `veil_unit_share(ε, M)` (Gaussian noise:
//! `veil_unit_share(ε, L0, max_rows, δ)`, and the execution refuses the query if
//! `veil.noise` / `veil.delta` changed since it was parsed): a STABLE function,
//! so the planner keeps it as written; the budget check charges its first argument and the
//! aggregate runs with the quotient. A query parsed without the hook while a unit is set
//! (library not loaded yet, or a statement prepared before the SET) has unwrapped ε and is
//! refused at execution ([`check_bounded`]).

use std::ffi::{CStr, CString};

use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use veil_core::VeilError;

use crate::budget::{dp_name, epsilon_position, list_ptrs};
use crate::error::raise;
use crate::guc::Run;
use veil_core::dp::{
    applicable_unit, parse_privacy_units, Noise, Privacy, UnitColumn, NOISE_CHOICE,
};

pub const SHARE: &str = "veil_unit_share";

/// Largest accepted contribution bound.
const MAX_CONTRIBUTIONS: i32 = 1_000_000;

pub static PRIVACY_UNIT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static MAX_GROUPS: GucSetting<i32> = GucSetting::<i32>::new(1);
pub static MAX_ROWS: GucSetting<i32> = GucSetting::<i32>::new(1);

pub fn register() {
    GucRegistry::define_string_guc(
        c"veil.privacy_unit",
        c"Privacy unit: the column whose rows belong to one individual (e.g. user_id), or one per table ('visits.user_id, orders.customer_id').",
        c"Unset or empty: each row is one individual. DP aggregations then bound each unit's contribution. Only superusers set it (ALTER ROLE / ALTER DATABASE ... SET), so an analyst cannot weaken the unit.",
        &PRIVACY_UNIT,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"veil.max_groups_contributed",
        c"With a privacy unit: the most groups of one GROUP BY a unit may contribute to.",
        c"Groups beyond it are dropped for that unit, chosen at random.",
        &MAX_GROUPS,
        1,
        MAX_CONTRIBUTIONS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"veil.max_rows_contributed",
        c"With a privacy unit: the most rows a unit may contribute to one group.",
        c"Rows beyond it are dropped for that unit, chosen at random.",
        &MAX_ROWS,
        1,
        MAX_CONTRIBUTIONS,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// The `veil.privacy_unit` setting (a unit column, or a list of `table.column` per table;
/// see [`veil_core::dp::parse_privacy_units`]), if set.
pub fn privacy_unit() -> Option<String> {
    PRIVACY_UNIT
        .get()
        .map(|s| s.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `veil_unit_share(value, contributions) = value / contributions`: the share of a privacy
/// parameter each row gets when one unit contributes `contributions` rows. STABLE (not
/// IMMUTABLE) so the planner leaves the call in place for the budget check to read.
#[pg_extern(stable, parallel_safe, strict)]
fn veil_unit_share(value: f64, contributions: f64) -> f64 {
    share(value, contributions).unwrap_or_else(|e| raise(SHARE, e))
}

fn share(value: f64, contributions: f64) -> Result<f64, VeilError> {
    Ok(value / whole(contributions, "contributions")? as f64)
}

/// `veil_unit_share(epsilon, groups, rows, delta)`: the ε each group's aggregate with
/// Gaussian noise (δ = `delta`) runs with when one unit contributes up to `rows` rows to
/// each of up to `groups` groups: the ε whose ρ is ρ(ε, δ) / (groups × rows²)
/// (veil-core `Privacy::unit_epsilon`: ρ scales with the squared L2 sensitivity). STABLE
/// like the two-argument form.
#[pg_extern(stable, parallel_safe, strict, name = "veil_unit_share")]
fn veil_unit_share_gaussian(epsilon: f64, groups: f64, rows: f64, delta: f64) -> f64 {
    gaussian_share(epsilon, groups, rows, delta).unwrap_or_else(|e| raise(SHARE, e))
}

fn gaussian_share(epsilon: f64, groups: f64, rows: f64, delta: f64) -> Result<f64, VeilError> {
    let (groups, rows) = (whole(groups, "groups")?, whole(rows, "rows")?);
    Privacy::new(epsilon, Noise::Gaussian { delta })?.unit_epsilon(groups, rows)
}

fn whole(value: f64, name: &'static str) -> Result<u64, VeilError> {
    if !((1.0..=1e12).contains(&value) && value.fract() == 0.0) {
        return Err(VeilError::invalid(
            name,
            format!("must be a whole number between 1 and 1e12, got {value}"),
        ));
    }
    Ok(value as u64)
}

thread_local! {
    static OIDS: std::cell::RefCell<Vec<(String, pg_sys::Oid)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The oid of a function of the veil extension with this name whose argument types are
/// those of `like` (its declared types) followed by `extra` (found through the extension's
/// membership, not the search path, so a look-alike cannot stand in).
pub(crate) fn extension_function(
    name: &str,
    like: Option<pg_sys::Oid>,
    extra: &[pg_sys::Oid],
) -> Option<pg_sys::Oid> {
    let key = format!("{name}/{like:?}/{extra:?}");
    if let Some(oid) = OIDS.with(|c| c.borrow().iter().find(|(k, _)| *k == key).map(|(_, o)| *o)) {
        return Some(oid);
    }
    // oidvector's text form: the type oids separated by spaces.
    let base = match like {
        Some(oid) => format!(
            "(SELECT proargtypes::pg_catalog.text FROM pg_catalog.pg_proc WHERE oid = {})",
            u32::from(oid)
        ),
        None => "''".to_string(),
    };
    let extra: Vec<String> = extra.iter().map(|t| u32::from(*t).to_string()).collect();
    let sql = format!(
        "SELECT p.oid FROM pg_catalog.pg_proc p
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                                      AND d.objid = p.oid AND d.deptype = 'e'
           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'veil'
          WHERE p.proname = '{name}'
            AND p.proargtypes::pg_catalog.text = pg_catalog.btrim({base} || ' {}')",
        extra.join(" ")
    );
    match read_oid(&sql) {
        Some(o) => {
            OIDS.with(|c| c.borrow_mut().push((key, o)));
            Some(o)
        }
        _ => None,
    }
}

/// The first oid a catalog query returns, through a read-only SPI call: no transaction id
/// is assigned, so it also works in the leader of a parallel query (pgrx's `Spi::get_one`
/// marks the transaction as writing, which PostgreSQL refuses there).
pub fn read_oid(sql: &str) -> Option<pg_sys::Oid> {
    Spi::connect(|c| {
        c.select(sql, Some(1), &[])
            .ok()
            .and_then(|t| t.first().get_one::<pg_sys::Oid>().ok().flatten())
    })
}

fn share_oid() -> Option<pg_sys::Oid> {
    extension_function(SHARE, None, &[pg_sys::FLOAT8OID; 2])
}

fn gaussian_share_oid() -> Option<pg_sys::Oid> {
    extension_function(SHARE, None, &[pg_sys::FLOAT8OID; 4])
}

/// How an Aggref argument was divided by the parse hook.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shared {
    /// `veil_unit_share(ε, M)`: ε / M.
    Divided,
    /// `veil_unit_share(ε, groups, rows, δ)`: the Gaussian share at this δ.
    Gaussian { delta: f64 },
}

/// The wrapper of an argument expression, with its constant arguments: None when the
/// expression is not a call of `veil_unit_share`.
unsafe fn shared_call(expr: *mut pg_sys::Node) -> Option<(Shared, Vec<*mut pg_sys::Node>)> {
    if expr.is_null() || (*expr).type_ != pg_sys::NodeTag::T_FuncExpr {
        return None;
    }
    let f = expr as *mut pg_sys::FuncExpr;
    let args: Vec<*mut pg_sys::Node> = list_ptrs((*f).args)
        .into_iter()
        .map(|a| a as *mut pg_sys::Node)
        .collect();
    if args.len() == 2 && Some((*f).funcid) == share_oid() {
        return Some((Shared::Divided, args));
    }
    if args.len() == 4 && Some((*f).funcid) == gaussian_share_oid() {
        let delta = float8_const(args[3], "delta").ok()?;
        return Some((Shared::Gaussian { delta }, args));
    }
    None
}

/// The value of a float8 Const.
unsafe fn float8_const(node: *mut pg_sys::Node, name: &'static str) -> Result<f64, VeilError> {
    if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Const {
        return Err(VeilError::invalid(
            name,
            "must be a constant (the query's privacy cost is charged before it runs)",
        ));
    }
    let c = node as *mut pg_sys::Const;
    if (*c).consttype != pg_sys::FLOAT8OID {
        return Err(VeilError::invalid(name, "must be double precision"));
    }
    f64::from_datum((*c).constvalue, (*c).constisnull)
        .ok_or_else(|| VeilError::invalid(name, "must not be NULL"))
}

/// Which value of a privacy parameter argument to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parameter {
    /// What the query is charged: the value as the user wrote it.
    Charged,
    /// What the mechanism runs with (divided by the unit's contributions).
    Effective,
}

/// A constant float8 argument expression: a Const, or a `veil_unit_share` call of Consts.
pub unsafe fn float8_parameter(
    expr: *mut pg_sys::Node,
    name: &'static str,
    which: Parameter,
) -> Result<f64, VeilError> {
    let Some((shared, args)) = shared_call(expr) else {
        return float8_const(expr, name);
    };
    let value = float8_const(args[0], name)?;
    if which == Parameter::Charged {
        return Ok(value);
    }
    match shared {
        Shared::Divided => share(value, float8_const(args[1], "contributions")?),
        Shared::Gaussian { delta } => gaussian_share(
            value,
            float8_const(args[1], "groups")?,
            float8_const(args[2], "rows")?,
            delta,
        ),
    }
}

/// How the Aggref's argument at `pos` was divided by the parse hook, if it was.
unsafe fn wrapper(aggref: *mut pg_sys::Aggref, pos: usize) -> Option<Shared> {
    let args = list_ptrs((*aggref).args);
    let te = *args.get(pos)?;
    shared_call((*(te as *mut pg_sys::TargetEntry)).expr as *mut pg_sys::Node).map(|(s, _)| s)
}

/// The division the parse hook applies to a DP aggregate's ε under `noise`.
fn division_for(name: &str, noise: Noise) -> Shared {
    match noise {
        Noise::Gaussian { delta } if NOISE_CHOICE.contains(&name) => Shared::Gaussian { delta },
        _ => Shared::Divided,
    }
}

/// At execution: with a unit declared, every DP aggregate must have been bounded by the
/// parse hook (its ε wrapped) for the noise it runs with, or the query is refused.
pub unsafe fn check_bounded(aggref: *mut pg_sys::Aggref, name: &'static str, run: Run) {
    if privacy_unit().is_none() {
        return;
    }
    let Some(shared) = wrapper(aggref, epsilon_position(name)) else {
        raise(
            name,
            VeilError::invalid(
                "veil.privacy_unit",
                "is set, but this query was parsed before veil bounded it (the veil library was not loaded yet, or the statement was prepared before the setting): run the query again, or set session_preload_libraries = 'veil'",
            ),
        );
    };
    let noise = if NOISE_CHOICE.contains(&name) {
        run.noise(name)
    } else {
        Noise::Laplace
    };
    if shared != division_for(name, noise) {
        raise(
            name,
            VeilError::invalid(
                "veil.noise",
                "or veil.delta changed after this query was parsed (its privacy-unit shares were computed for the previous noise): run the query again",
            ),
        );
    }
}

fn refuse(rule: &str) -> ! {
    raise(
        "veil",
        VeilError::invalid("veil.privacy_unit", rule.to_string()),
    )
}

unsafe fn cstr(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

struct VarCheck {
    depth: u32,
    bad: Option<&'static str>,
}

/// Finds references to range-table entry 1 of the bounded level that a subquery cannot
/// provide: whole-row and system columns.
#[pg_guard]
unsafe extern "C-unwind" fn check_vars(node: *mut pg_sys::Node, cx: *mut std::ffi::c_void) -> bool {
    if node.is_null() {
        return false;
    }
    let check = &mut *(cx as *mut VarCheck);
    match (*node).type_ {
        pg_sys::NodeTag::T_Var => {
            let v = node as *mut pg_sys::Var;
            if (*v).varlevelsup == check.depth && (*v).varno == 1 && (*v).varattno <= 0 {
                check.bad = Some("whole-row or system column references");
            }
            false
        }
        pg_sys::NodeTag::T_Query => {
            check.depth += 1;
            let r = pg_sys::query_tree_walker(node as *mut pg_sys::Query, Some(check_vars), cx, 0);
            check.depth -= 1;
            r
        }
        _ => pg_sys::expression_tree_walker(node, Some(check_vars), cx),
    }
}

/// Whether a GROUP BY expression can be re-evaluated inside the bounding subquery: only
/// this level's Vars of the table, no sublinks, parameters or volatile functions.
#[pg_guard]
unsafe extern "C-unwind" fn unsafe_group_key(
    node: *mut pg_sys::Node,
    cx: *mut std::ffi::c_void,
) -> bool {
    if node.is_null() {
        return false;
    }
    match (*node).type_ {
        pg_sys::NodeTag::T_Var => {
            let v = node as *mut pg_sys::Var;
            (*v).varlevelsup != 0 || (*v).varno != 1 || (*v).varattno <= 0
        }
        pg_sys::NodeTag::T_SubLink | pg_sys::NodeTag::T_Param | pg_sys::NodeTag::T_Query => true,
        _ => pg_sys::expression_tree_walker(node, Some(unsafe_group_key), cx),
    }
}

/// Wraps the Aggref argument at `pos` as `veil_unit_share(arg, extra...)`.
unsafe fn wrap_argument(
    aggref: *mut pg_sys::Aggref,
    pos: usize,
    extra: &[f64],
    share: pg_sys::Oid,
) {
    let args = list_ptrs((*aggref).args);
    let te = args[pos] as *mut pg_sys::TargetEntry;
    let mut list: *mut pg_sys::List = std::ptr::null_mut();
    list = pg_sys::lappend(list, (*te).expr as *mut std::ffi::c_void);
    for &value in extra {
        list = pg_sys::lappend(
            list,
            crate::partition::float8_const(value) as *mut std::ffi::c_void,
        );
    }
    let call = pg_sys::makeFuncExpr(
        share,
        pg_sys::FLOAT8OID,
        list,
        pg_sys::InvalidOid,
        pg_sys::InvalidOid,
        pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
    );
    (*te).expr = call as *mut pg_sys::Expr;
}

/// A DP aggregate called without ε (for `veil.epsilon`) becomes the call with ε stated, so
/// that its ε can be divided.
unsafe fn state_epsilon(aggref: *mut pg_sys::Aggref, name: &'static str) {
    let pos = epsilon_position(name);
    let n = list_ptrs((*aggref).args).len();
    if n > pos {
        return;
    }
    let epsilon = Run::now().epsilon(name);
    let Some(full) = extension_function(name, Some((*aggref).aggfnoid), &[pg_sys::FLOAT8OID])
    else {
        raise(
            name,
            VeilError::invalid("epsilon", "cannot find the call with epsilon stated"),
        );
    };
    let te = pg_sys::makeTargetEntry(
        crate::partition::float8_const(epsilon) as *mut pg_sys::Expr,
        (n + 1) as i16,
        std::ptr::null_mut(),
        false,
    );
    (*aggref).args = pg_sys::lappend((*aggref).args, te as *mut std::ffi::c_void);
    (*aggref).aggargtypes = pg_sys::lappend_oid((*aggref).aggargtypes, pg_sys::FLOAT8OID);
    (*aggref).aggfnoid = full;
}

/// Bounds each unit's contribution at one query level whose DP Aggrefs are `dp` (the
/// partition selection included); see the module docs.
pub unsafe fn bound_units(q: *mut pg_sys::Query, dp: &[*mut pg_sys::Aggref]) {
    let Some(setting) = privacy_unit() else {
        return;
    };
    if dp.is_empty() {
        return;
    }
    let units = match parse_privacy_units(&setting) {
        Ok(Some(units)) => units,
        Ok(None) => return,
        Err(e) => raise("veil", e),
    };
    let noise = Run::now().noise("veil.noise");
    let (Some(share), Some(gaussian)) = (share_oid(), gaussian_share_oid()) else {
        return; // not veil's aggregates: the extension is not installed in this database
    };
    let jointree = (*q).jointree;
    let from = if jointree.is_null() {
        Vec::new()
    } else {
        list_ptrs((*jointree).fromlist)
    };
    let rtable = list_ptrs((*q).rtable);
    let single = from.len() == 1
        && (*(from[0] as *mut pg_sys::Node)).type_ == pg_sys::NodeTag::T_RangeTblRef
        && (*(from[0] as *mut pg_sys::RangeTblRef)).rtindex == 1
        && !rtable.is_empty();
    let rte = if single {
        rtable[0] as *mut pg_sys::RangeTblEntry
    } else {
        std::ptr::null_mut()
    };
    if rte.is_null() || (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION {
        refuse("a query level with DP aggregates over privacy units must read one table or view directly (FROM table; put joins or subqueries in a view)");
    }
    if !(*rte).tablesample.is_null() {
        refuse("TABLESAMPLE cannot be combined with DP aggregates over privacy units");
    }
    let relid = (*rte).relid;
    // The declaration for this table (or view): `table.column` for it, else a bare column.
    let rel = cstr(pg_sys::get_rel_name(relid));
    let has = |u: &UnitColumn| {
        let column = CString::new(u.column.as_str()).unwrap_or_default();
        u.table.as_deref().is_none_or(|t| t == rel)
            && pg_sys::get_attnum(relid, column.as_ptr()) > 0
    };
    let unit = match applicable_unit(&units, has) {
        Ok(u) => u.column.clone(),
        Err(e) => raise("veil", e),
    };
    let mut check = VarCheck {
        depth: 0,
        bad: None,
    };
    pg_sys::query_tree_walker(
        q,
        Some(check_vars),
        &mut check as *mut VarCheck as *mut _,
        0,
    );
    if let Some(bad) = check.bad {
        refuse(&format!(
            "is set: a DP query over privacy units cannot use {bad} of its table"
        ));
    }

    // GROUP BY keys, deparsed against the relation.
    let relname = cstr(pg_sys::get_rel_name(relid));
    let relname_c = CString::new(relname.clone()).unwrap_or_default();
    let context = pg_sys::deparse_context_for(relname_c.as_ptr(), relid);
    let mut keys = Vec::new();
    for sgc in list_ptrs((*q).groupClause) {
        let sgc = sgc as *mut pg_sys::SortGroupClause;
        let te = pg_sys::get_sortgroupref_tle((*sgc).tleSortGroupRef, (*q).targetList);
        let expr = (*te).expr as *mut pg_sys::Node;
        if unsafe_group_key(expr, std::ptr::null_mut()) || pg_sys::contain_volatile_functions(expr)
        {
            refuse("with privacy units, GROUP BY keys must be expressions over the table's columns (no subqueries, parameters or volatile functions)");
        }
        keys.push(format!(
            "({})",
            cstr(pg_sys::deparse_expression(expr, context, false, false))
        ));
    }
    let grouped = !keys.is_empty();
    let max_rows = MAX_ROWS.get().max(1) as u64;
    let l0 = if grouped {
        MAX_GROUPS.get().max(1) as u64
    } else {
        1
    };

    // The bounding subquery, columns at the relation's attribute positions.
    let colnames: Vec<String> = list_ptrs((*(*rte).eref).colnames)
        .into_iter()
        .map(|s| cstr((*(s as *mut pg_sys::String)).sval))
        .collect();
    let natts = colnames.len();
    let columns: Vec<String> = colnames
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if n.is_empty() {
                format!("NULL::pg_catalog.int4 AS \"__veil_dropped_{}\"", i + 1)
            } else {
                format!("b.{}", quote(n))
            }
        })
        .collect();
    let schema = cstr(pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid)));
    let only = if (*rte).inh { "" } else { "ONLY " };
    let table = format!("{only}{}.{}", quote(&schema), quote(&relname));
    let unit_q = quote(&unit);
    let unit_group = std::iter::once(unit_q.clone())
        .chain(keys.iter().cloned())
        .collect::<Vec<_>>()
        .join(", ");
    let sql = if grouped {
        format!(
            "SELECT {cols}, b.__veil_unit_row = 1 AS __veil_unit_first FROM (\
               SELECT a.*, pg_catalog.row_number() OVER (PARTITION BY {unit_group} ORDER BY pg_catalog.random()) AS __veil_unit_row, \
                      pg_catalog.dense_rank() OVER (PARTITION BY {unit_q} ORDER BY a.__veil_unit_priority, {keys}) AS __veil_unit_group_rank \
               FROM (SELECT {relq}.*, pg_catalog.min(pg_catalog.random()) OVER (PARTITION BY {unit_group}) AS __veil_unit_priority FROM {table} AS {relq}) AS a\
             ) AS b WHERE b.__veil_unit_row <= {max_rows} AND b.__veil_unit_group_rank <= {l0}",
            cols = columns.join(", "),
            keys = keys.join(", "),
            relq = quote(&relname),
        )
    } else {
        format!(
            "SELECT {cols}, b.__veil_unit_row = 1 AS __veil_unit_first FROM (\
               SELECT {relq}.*, pg_catalog.row_number() OVER (PARTITION BY {unit_q} ORDER BY pg_catalog.random()) AS __veil_unit_row FROM {table} AS {relq}\
             ) AS b WHERE b.__veil_unit_row <= {max_rows}",
            cols = columns.join(", "),
            relq = quote(&relname),
        )
    };
    let sql_c = CString::new(sql).unwrap_or_default();
    let text = pg_sys::pstrdup(sql_c.as_ptr());
    let raw = list_ptrs(pg_sys::pg_parse_query(text));
    if raw.len() != 1 {
        error!("veil.privacy_unit: cannot build the bounding subquery");
    }
    let sub = pg_sys::parse_analyze_fixedparams(
        raw[0] as *mut pg_sys::RawStmt,
        text,
        std::ptr::null(),
        0,
        std::ptr::null_mut(),
    );
    (*sub).canSetTag = false;

    (*rte).rtekind = pg_sys::RTEKind::RTE_SUBQUERY;
    (*rte).subquery = sub;
    (*rte).relid = pg_sys::InvalidOid;
    (*rte).relkind = 0;
    (*rte).rellockmode = 0;
    (*rte).inh = false;
    (*rte).security_barrier = false;
    (*rte).requiredPerms = 0;
    (*rte).checkAsUser = pg_sys::InvalidOid;
    (*rte).selectedCols = std::ptr::null_mut();
    (*rte).insertedCols = std::ptr::null_mut();
    (*rte).updatedCols = std::ptr::null_mut();
    (*rte).extraUpdatedCols = std::ptr::null_mut();
    let first = CString::new("__veil_unit_first").unwrap_or_default();
    (*(*rte).eref).colnames = pg_sys::lappend(
        (*(*rte).eref).colnames,
        pg_sys::makeString(pg_sys::pstrdup(first.as_ptr())) as *mut std::ffi::c_void,
    );

    // Divided privacy parameters; the selection counts units.
    let m = max_rows * l0;
    for &a in dp {
        let name = dp_name((*a).aggfnoid).unwrap_or("dp");
        if name == crate::partition::NAME {
            wrap_argument(a, 0, &[l0 as f64], share);
            wrap_argument(a, 1, &[l0 as f64], share);
            let first = pg_sys::makeVar(
                1,
                (natts + 1) as i16,
                pg_sys::BOOLOID,
                -1,
                pg_sys::InvalidOid,
                0,
            );
            (*a).aggfilter = if (*a).aggfilter.is_null() {
                first as *mut pg_sys::Expr
            } else {
                pg_sys::make_and_qual(
                    (*a).aggfilter as *mut pg_sys::Node,
                    first as *mut pg_sys::Node,
                ) as *mut pg_sys::Expr
            };
        } else {
            state_epsilon(a, name);
            let pos = epsilon_position(name);
            match division_for(name, noise) {
                Shared::Divided => wrap_argument(a, pos, &[m as f64], share),
                Shared::Gaussian { delta } => {
                    wrap_argument(a, pos, &[l0 as f64, max_rows as f64, delta], gaussian)
                }
            }
        }
    }
}
