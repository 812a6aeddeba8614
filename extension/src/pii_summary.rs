//! `pii_entity_summary(text [, options jsonb]) -> text`: JSON counts per entity type over a
//! column; a parallel-safe aggregate with combine/serial/deserial.

use pgrx::prelude::*;

use crate::agg::partial_state_functions;
use pgrx::{Internal, JsonB};
use veil_core::pii::{Analyzer, EntitySummary, PiiOptions};

use crate::agg::{self, Use};
use crate::error::OrRaise;

const NAME: &str = "pii_entity_summary";

/// Counts plus the options they were found with (the JSON text, to check every row agrees).
#[derive(Clone)]
struct State {
    options: Option<(Option<String>, PiiOptions)>,
    summary: EntitySummary,
}

/// Partial states carry only the counts: options matter while scanning rows.
impl agg::PartialState for State {
    fn merge_from(&mut self, other: &Self) -> Result<(), veil_core::VeilError> {
        self.summary.merge(&other.summary);
        Ok(())
    }
    fn to_bytes(&self) -> Vec<u8> {
        self.summary.to_bytes()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, veil_core::VeilError> {
        Ok(State {
            options: None,
            summary: EntitySummary::from_bytes(bytes)?,
        })
    }
}

fn state_mut(state: &mut Internal) -> Option<&mut State> {
    // SAFETY: this aggregate only ever stores a State in its internal state.
    unsafe { state.get_mut::<State>() }
}

fn add(
    mut state: Internal,
    text: Option<&str>,
    options: Option<String>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    if state_mut(&mut state).is_none() {
        state = agg::into_internal(
            State {
                options: None,
                summary: EntitySummary::default(),
            },
            fcinfo,
            NAME,
            Use::AggregateOrWindow,
        );
    }
    let st = state_mut(&mut state).expect("initialized above");
    let opts = match &st.options {
        Some((json, o)) if *json == options => o,
        Some(_) => {
            let e = veil_core::VeilError::invalid("options", "must be the same for every row");
            crate::error::raise(NAME, e)
        }
        None => {
            let parsed = PiiOptions::parse(options.as_deref()).or_raise(NAME);
            &st.options.insert((options, parsed)).1
        }
    };
    if let Some(text) = text {
        let spans = Analyzer::shared_default().analyze_with(text, opts);
        st.summary.add(&spans);
    }
    state
}

#[pg_extern(immutable, parallel_safe)]
fn pii_entity_summary_trans(
    state: Internal,
    text: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    add(state, text, None, fcinfo)
}

#[pg_extern(immutable, parallel_safe)]
fn pii_entity_summary_trans_options(
    state: Internal,
    text: Option<&str>,
    options: Option<JsonB>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    add(state, text, options.map(|j| j.0.to_string()), fcinfo)
}

partial_state_functions!(
    State,
    NAME,
    Use::AggregateOrWindow,
    pii_entity_summary_combine,
    pii_entity_summary_serial,
    pii_entity_summary_deserial
);

#[pg_extern(immutable, parallel_safe)]
fn pii_entity_summary_final(state: Internal) -> String {
    // SAFETY: see state_mut.
    match unsafe { state.get::<State>() } {
        Some(s) => s.summary.to_json(),
        None => EntitySummary::default().to_json(),
    }
}

extension_sql!(
    r#"
CREATE AGGREGATE pii_entity_summary(text text) (
    sfunc = pii_entity_summary_trans,
    stype = internal,
    finalfunc = pii_entity_summary_final,
    combinefunc = pii_entity_summary_combine,
    serialfunc = pii_entity_summary_serial,
    deserialfunc = pii_entity_summary_deserial,
    parallel = safe
);
CREATE AGGREGATE pii_entity_summary(text text, options jsonb) (
    sfunc = pii_entity_summary_trans_options,
    stype = internal,
    finalfunc = pii_entity_summary_final,
    combinefunc = pii_entity_summary_combine,
    serialfunc = pii_entity_summary_serial,
    deserialfunc = pii_entity_summary_deserial,
    parallel = safe
);
COMMENT ON AGGREGATE pii_entity_summary(text) IS
'JSON counts of the personal data found in a text column, per entity type';
"#,
    name = "pii_entity_summary_aggregates",
    requires = [
        pii_entity_summary_trans,
        pii_entity_summary_trans_options,
        pii_entity_summary_final,
        pii_entity_summary_combine,
        pii_entity_summary_serial,
        pii_entity_summary_deserial
    ]
);
