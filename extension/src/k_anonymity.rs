//! `k_anonymity(VARIADIC text[]) -> bigint`: the size of the smallest group of rows sharing
//! all the given quasi-identifier values; a parallel-safe aggregate with
//! combine/serial/deserial. Arguments are text: cast other types (`age::text`).

use pgrx::prelude::*;

use crate::agg::partial_state_functions;
use pgrx::{Internal, VariadicArray};
use veil_core::kanon::ClassSizes;

use crate::agg::{self, Use};
use crate::error::OrRaise;

const NAME: &str = "k_anonymity";

impl agg::PartialState for ClassSizes {
    fn merge_from(&mut self, other: &Self) -> Result<(), veil_core::VeilError> {
        self.merge(other)
    }
    fn to_bytes(&self) -> Vec<u8> {
        ClassSizes::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, veil_core::VeilError> {
        ClassSizes::from_bytes(bytes)
    }
}

#[pg_extern(immutable, parallel_safe)]
fn k_anonymity_trans(
    mut state: Internal,
    values: Option<VariadicArray<'_, &str>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    // SAFETY: this aggregate only ever stores a ClassSizes in its internal state.
    if unsafe { state.get_mut::<ClassSizes>() }.is_none() {
        state = agg::into_internal(ClassSizes::default(), fcinfo, NAME, Use::AggregateOrWindow);
    }
    // SAFETY: as above.
    let classes = unsafe { state.get_mut::<ClassSizes>() }.expect("initialized above");
    if let Some(values) = values {
        let row: Vec<Option<&str>> = values.iter().collect();
        classes.add(&row).or_raise(NAME);
    }
    state
}

partial_state_functions!(
    ClassSizes,
    NAME,
    Use::AggregateOrWindow,
    k_anonymity_combine,
    k_anonymity_serial,
    k_anonymity_deserial
);

#[pg_extern(immutable, parallel_safe)]
fn k_anonymity_final(state: Internal) -> Option<i64> {
    // SAFETY: see k_anonymity_trans.
    unsafe { state.get::<ClassSizes>() }
        .and_then(ClassSizes::smallest)
        .map(|n| n.min(i64::MAX as u64) as i64)
}

extension_sql!(
    r#"
CREATE AGGREGATE k_anonymity(VARIADIC columns text[]) (
    sfunc = k_anonymity_trans,
    stype = internal,
    finalfunc = k_anonymity_final,
    combinefunc = k_anonymity_combine,
    serialfunc = k_anonymity_serial,
    deserialfunc = k_anonymity_deserial,
    parallel = safe
);
COMMENT ON AGGREGATE k_anonymity(VARIADIC text[]) IS
'k of a table over quasi-identifier columns: rows in the smallest group sharing all their values';
"#,
    name = "k_anonymity_aggregate",
    requires = [
        k_anonymity_trans,
        k_anonymity_final,
        k_anonymity_combine,
        k_anonymity_serial,
        k_anonymity_deserial
    ]
);
