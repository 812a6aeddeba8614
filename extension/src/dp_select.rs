//! `dp_count_distinct(value anyelement [, epsilon]) -> bigint`,
//! `dp_mode(value anyelement, candidates text [, epsilon]) -> text`,
//! `dp_top_k(value anyelement, candidates text, k integer [, epsilon]) -> text` and
//! `dp_explain(function, params) -> text`.
//!
//! Values are compared by their text form (the type's output function), as DataFusion
//! compares `CAST(value AS VARCHAR)`. The aggregates are parallel safe: their veil-core
//! states are shipped between workers as byte encodings.
//!
//! `dp_mode` / `dp_top_k` read `candidates`, `k` and `epsilon` from the call's constant
//! arguments (the Aggref), not from each row: the query is charged from those constants,
//! so a non-constant argument is refused before any row is counted. The parsed candidate
//! set is shared by all groups of one call.

use std::ffi::CStr;
use std::rc::Rc;

use pgrx::prelude::*;

use crate::agg::partial_state_functions;
use pgrx::{AnyElement, FromDatum, Internal, PgMemoryContexts};
use veil_core::dp::{DpCountDistinctAccumulator, DpTopKAccumulator, PrivacyCost, TopK};
use veil_core::VeilError;

use crate::agg::{self, PartialState, Use};
use crate::error::{raise, OrRaise};
use crate::guc;
use crate::unit::Parameter;

const DISTINCT: &str = "dp_count_distinct";
const MODE: &str = "dp_mode";
const TOP_K: &str = "dp_top_k";

/// Calls `f` with the text form of `value` (its type's output function).
fn with_text_form<R>(value: &AnyElement, f: impl FnOnce(&[u8]) -> R) -> R {
    // SAFETY: getTypeOutputInfo raises for an unknown type; the output function of the
    // value's own type accepts its datum and returns a palloc'd C string, freed here.
    unsafe {
        let mut output = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(value.oid(), &mut output, &mut varlena);
        let text = pg_sys::OidOutputFunctionCall(output, value.datum());
        let r = f(CStr::from_ptr(text).to_bytes());
        pg_sys::pfree(text.cast());
        r
    }
}

// ---------------------------------------------------------------------------------------
// dp_count_distinct

impl PartialState for DpCountDistinctAccumulator {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        self.merge(other)
    }
    fn to_bytes(&self) -> Vec<u8> {
        DpCountDistinctAccumulator::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        DpCountDistinctAccumulator::from_bytes(bytes)
    }
}

// Stable: reads `veil.noise` when a group starts.
#[pg_extern(stable, parallel_safe)]
fn dp_count_distinct_trans(
    mut state: Internal,
    value: Option<AnyElement>,
    epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let epsilon = agg::required(DISTINCT, "epsilon", epsilon);
    // SAFETY: this aggregate only ever stores a DpCountDistinctAccumulator in its state.
    if unsafe { state.get::<DpCountDistinctAccumulator>() }.is_none() {
        let acc = DpCountDistinctAccumulator::new(epsilon, guc::Run::of(fcinfo).noise(DISTINCT))
            .or_raise(DISTINCT);
        state = agg::into_internal(acc, fcinfo, DISTINCT, Use::AggregateOnly);
    }
    // SAFETY: as above.
    let acc = unsafe { state.get_mut::<DpCountDistinctAccumulator>() }.expect("initialized");
    agg::same_for_every_row(DISTINCT, "epsilon", acc.privacy().epsilon(), epsilon);
    if let Some(v) = value {
        with_text_form(&v, |bytes| acc.update(bytes));
    }
    state
}

/// `dp_count_distinct(value)`: epsilon from `veil.epsilon`, read once per group.
#[pg_extern(stable, parallel_safe)]
fn dp_count_distinct_trans_default(
    state: Internal,
    value: Option<AnyElement>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    // SAFETY: see dp_count_distinct_trans.
    let epsilon = match unsafe { state.get::<DpCountDistinctAccumulator>() } {
        Some(acc) => acc.privacy().epsilon(),
        None => guc::Run::of(fcinfo).epsilon(DISTINCT),
    };
    dp_count_distinct_trans(state, value, Some(epsilon), fcinfo)
}

partial_state_functions!(
    DpCountDistinctAccumulator,
    DISTINCT,
    Use::AggregateOnly,
    dp_count_distinct_combine,
    dp_count_distinct_serial,
    dp_count_distinct_deserial
);

#[pg_extern(volatile, parallel_safe)]
fn dp_count_distinct_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<i64> {
    distinct_release(state, fcinfo, false)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_count_distinct_final_default(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<i64> {
    distinct_release(state, fcinfo, true)
}

fn distinct_release(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    epsilon_from_setting: bool,
) -> Option<i64> {
    let empty = || {
        let epsilon = agg::count_epsilon(fcinfo, DISTINCT, epsilon_from_setting);
        DpCountDistinctAccumulator::new(epsilon, guc::Run::of(fcinfo).noise(DISTINCT))
            .and_then(|a| a.release())
    };
    // SAFETY: see dp_count_distinct_trans.
    unsafe {
        agg::release_final::<DpCountDistinctAccumulator, _>(
            DISTINCT,
            state,
            fcinfo,
            |a| a.release(),
            empty,
        )
    }
}

// ---------------------------------------------------------------------------------------
// dp_mode / dp_top_k

/// Transition state of `dp_mode` / `dp_top_k`: the call's parameters, shared by all groups,
/// and one count per candidate.
#[derive(Clone, Debug)]
pub struct TopKState {
    params: Rc<TopK>,
    counts: Vec<u64>,
}

impl PartialState for TopKState {
    fn merge_from(&mut self, other: &Self) -> Result<(), VeilError> {
        if !Rc::ptr_eq(&self.params, &other.params) && *self.params != *other.params {
            return Err(VeilError::IncompatibleState(
                "partial states use different arguments".into(),
            ));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        Ok(())
    }
    fn to_bytes(&self) -> Vec<u8> {
        self.params.state_bytes(&self.counts)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, VeilError> {
        let acc = DpTopKAccumulator::from_bytes(bytes)?;
        Ok(TopKState {
            params: Rc::new(acc.params),
            counts: acc.counts,
        })
    }
}

/// A constant argument (0-based position) of an Aggref, or why not.
unsafe fn constant_arg(
    aggref: *mut pg_sys::Aggref,
    pos: usize,
    name: &'static str,
) -> Result<*mut pg_sys::Const, VeilError> {
    let args = crate::budget::list_ptrs((*aggref).args);
    let Some(&te) = args.get(pos) else {
        return Err(VeilError::invalid(name, "missing"));
    };
    let expr = (*(te as *mut pg_sys::TargetEntry)).expr as *mut pg_sys::Node;
    if expr.is_null() || (*expr).type_ != pg_sys::NodeTag::T_Const {
        return Err(VeilError::invalid(
            name,
            "must be a constant (the query's privacy cost is charged before it runs)",
        ));
    }
    let c = expr as *mut pg_sys::Const;
    if (*c).constisnull {
        return Err(VeilError::invalid(name, "must not be NULL"));
    }
    Ok(c)
}

/// The parameters of a `dp_mode` / `dp_top_k` call from its Aggref's constant arguments
/// (epsilon from `veil.epsilon` when the call leaves it out).
pub(crate) unsafe fn topk_params(
    aggref: *mut pg_sys::Aggref,
    name: &'static str,
    which: Parameter,
    run: guc::Run,
) -> Result<TopK, VeilError> {
    let arity = crate::budget::list_ptrs((*aggref).args).len();
    let top_k = name == TOP_K;
    let c = constant_arg(aggref, 1, "candidates")?;
    if (*c).consttype != pg_sys::TEXTOID {
        return Err(VeilError::invalid("candidates", "must be text"));
    }
    let candidates = String::from_datum((*c).constvalue, false)
        .ok_or_else(|| VeilError::invalid("candidates", "must not be NULL"))?;
    let k = if top_k {
        let c = constant_arg(aggref, 2, "k")?;
        if (*c).consttype != pg_sys::INT4OID {
            return Err(VeilError::invalid("k", "must be an integer"));
        }
        i64::from(i32::from_datum((*c).constvalue, false).unwrap_or(0))
    } else {
        1
    };
    let eps_pos = if top_k { 3 } else { 2 };
    let epsilon = if arity > eps_pos {
        crate::budget::aggref_parameter(aggref, eps_pos, "epsilon", which)?
    } else {
        run.epsilon(name)
    };
    TopK::from_sql(&candidates, k, epsilon)
}

/// The privacy cost of a `dp_count_distinct` / `dp_mode` / `dp_top_k` call, after checking
/// its arguments with the constructors the aggregate uses ([`crate::budget`]).
pub(crate) unsafe fn cost_of(
    aggref: *mut pg_sys::Aggref,
    name: &'static str,
    run: guc::Run,
) -> Result<PrivacyCost, VeilError> {
    if name == DISTINCT {
        let arity = crate::budget::list_ptrs((*aggref).args).len();
        let epsilon = if arity >= 2 {
            crate::budget::aggref_parameter(aggref, 1, "epsilon", Parameter::Charged)?
        } else {
            run.epsilon(name)
        };
        return DpCountDistinctAccumulator::new(epsilon, run.noise(DISTINCT)).map(|a| a.cost());
    }
    topk_params(aggref, name, Parameter::Charged, run).map(|t| t.cost())
}

/// The Aggref of the running aggregate call.
fn running_aggref(fcinfo: pg_sys::FunctionCallInfo, function: &str) -> *mut pg_sys::Aggref {
    // SAFETY: fcinfo is the live call info of an aggregate support function.
    let aggref = unsafe { pg_sys::AggGetAggref(fcinfo) };
    if aggref.is_null() {
        error!("{function}: cannot read the aggregate's arguments");
    }
    aggref
}

/// The shared parameters of this call: parsed on its first group, then kept for the call
/// in the transition function's `fn_extra` (freed with the query).
fn call_params(fcinfo: pg_sys::FunctionCallInfo, function: &'static str) -> Rc<TopK> {
    // SAFETY: flinfo is the transition function's lookup info, which lives as long as the
    // query in fn_mcxt; fn_extra is ours and only ever holds an Rc<TopK> set below.
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let cached = (*flinfo).fn_extra as *mut Rc<TopK>;
        if !cached.is_null() {
            return Rc::clone(&*cached);
        }
        let params = Rc::new(
            topk_params(
                running_aggref(fcinfo, function),
                function,
                Parameter::Effective,
                guc::Run::of(fcinfo),
            )
            .or_raise(function),
        );
        let slot =
            PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(Rc::clone(&params));
        (*flinfo).fn_extra = slot.cast();
        params
    }
}

fn topk_trans(
    mut state: Internal,
    value: Option<AnyElement>,
    fcinfo: pg_sys::FunctionCallInfo,
    function: &'static str,
) -> Internal {
    // SAFETY: these aggregates only ever store a TopKState in their state.
    if unsafe { state.get::<TopKState>() }.is_none() {
        agg::memory_context(fcinfo, function, Use::AggregateOnly); // refuses window use first
        let params = call_params(fcinfo, function);
        let counts = vec![0; params.candidates().len()];
        state = agg::into_internal(
            TopKState { params, counts },
            fcinfo,
            function,
            Use::AggregateOnly,
        );
    }
    // SAFETY: as above.
    let s = unsafe { state.get_mut::<TopKState>() }.expect("initialized");
    if let Some(v) = value {
        let slot = with_text_form(&v, |bytes| {
            std::str::from_utf8(bytes)
                .ok()
                .and_then(|t| s.params.position(t))
        });
        if let Some(i) = slot {
            s.counts[i] = s.counts[i].saturating_add(1);
        }
    }
    state
}

#[pg_extern(stable, parallel_safe)]
fn dp_mode_trans_default(
    state: Internal,
    value: Option<AnyElement>,
    _candidates: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    topk_trans(state, value, fcinfo, MODE)
}

#[pg_extern(immutable, parallel_safe)]
fn dp_mode_trans(
    state: Internal,
    value: Option<AnyElement>,
    _candidates: Option<&str>,
    _epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    topk_trans(state, value, fcinfo, MODE)
}

#[pg_extern(stable, parallel_safe)]
fn dp_top_k_trans_default(
    state: Internal,
    value: Option<AnyElement>,
    _candidates: Option<&str>,
    _k: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    topk_trans(state, value, fcinfo, TOP_K)
}

#[pg_extern(immutable, parallel_safe)]
fn dp_top_k_trans(
    state: Internal,
    value: Option<AnyElement>,
    _candidates: Option<&str>,
    _k: Option<i32>,
    _epsilon: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    topk_trans(state, value, fcinfo, TOP_K)
}

partial_state_functions!(
    TopKState,
    TOP_K,
    Use::AggregateOnly,
    dp_top_k_combine,
    dp_top_k_serial,
    dp_top_k_deserial
);

/// The final functions: the picks (a bare candidate for `dp_mode`, a JSON array for
/// `dp_top_k`); without rows, a release from zero counts.
fn topk_release(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    function: &'static str,
) -> Option<String> {
    let release = |params: &TopK, counts: &[u64]| {
        if function == TOP_K {
            params.release_json(counts)
        } else {
            params
                .release(counts)
                .map(|picks| picks.into_iter().next().unwrap_or_default())
        }
    };
    let empty = || {
        // SAFETY: the Aggref of this final function's call.
        let params = unsafe {
            topk_params(
                running_aggref(fcinfo, function),
                function,
                Parameter::Effective,
                guc::Run::of(fcinfo),
            )
        }?;
        release(&params, &vec![0; params.candidates().len()])
    };
    // SAFETY: see topk_trans.
    unsafe {
        agg::release_final::<TopKState, _>(
            function,
            state,
            fcinfo,
            |s| release(&s.params, &s.counts),
            empty,
        )
    }
}

#[pg_extern(volatile, parallel_safe)]
fn dp_mode_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<String> {
    topk_release(state, fcinfo, MODE)
}

#[pg_extern(volatile, parallel_safe)]
fn dp_top_k_final(state: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Option<String> {
    topk_release(state, fcinfo, TOP_K)
}

// ---------------------------------------------------------------------------------------
// dp_explain

/// The explanation of a DP aggregate call, as JSON; no data, no charge.
#[pg_extern(immutable, parallel_safe)]
fn dp_explain(function: &str, params: &str) -> String {
    veil_core::dp::explain_call(function, params).unwrap_or_else(|e| raise("dp_explain", e))
}

extension_sql!(
    r#"
CREATE AGGREGATE dp_count_distinct(value anyelement) (
    sfunc = dp_count_distinct_trans_default, stype = internal,
    finalfunc = dp_count_distinct_final_default,
    combinefunc = dp_count_distinct_combine, serialfunc = dp_count_distinct_serial,
    deserialfunc = dp_count_distinct_deserial, parallel = safe
);
CREATE AGGREGATE dp_count_distinct(value anyelement, epsilon double precision) (
    sfunc = dp_count_distinct_trans, stype = internal, finalfunc = dp_count_distinct_final,
    combinefunc = dp_count_distinct_combine, serialfunc = dp_count_distinct_serial,
    deserialfunc = dp_count_distinct_deserial, parallel = safe
);
CREATE AGGREGATE dp_mode(value anyelement, candidates text) (
    sfunc = dp_mode_trans_default, stype = internal, finalfunc = dp_mode_final,
    combinefunc = dp_top_k_combine, serialfunc = dp_top_k_serial,
    deserialfunc = dp_top_k_deserial, parallel = safe
);
CREATE AGGREGATE dp_mode(value anyelement, candidates text, epsilon double precision) (
    sfunc = dp_mode_trans, stype = internal, finalfunc = dp_mode_final,
    combinefunc = dp_top_k_combine, serialfunc = dp_top_k_serial,
    deserialfunc = dp_top_k_deserial, parallel = safe
);
CREATE AGGREGATE dp_top_k(value anyelement, candidates text, k integer) (
    sfunc = dp_top_k_trans_default, stype = internal, finalfunc = dp_top_k_final,
    combinefunc = dp_top_k_combine, serialfunc = dp_top_k_serial,
    deserialfunc = dp_top_k_deserial, parallel = safe
);
CREATE AGGREGATE dp_top_k(value anyelement, candidates text, k integer,
                          epsilon double precision) (
    sfunc = dp_top_k_trans, stype = internal, finalfunc = dp_top_k_final,
    combinefunc = dp_top_k_combine, serialfunc = dp_top_k_serial,
    deserialfunc = dp_top_k_deserial, parallel = safe
);
"#,
    name = "dp_select_aggregates",
    requires = [
        dp_count_distinct_trans,
        dp_count_distinct_trans_default,
        dp_count_distinct_combine,
        dp_count_distinct_serial,
        dp_count_distinct_deserial,
        dp_count_distinct_final,
        dp_count_distinct_final_default,
        dp_mode_trans_default,
        dp_mode_trans,
        dp_top_k_trans_default,
        dp_top_k_trans,
        dp_top_k_combine,
        dp_top_k_serial,
        dp_top_k_deserial,
        dp_mode_final,
        dp_top_k_final
    ]
);
