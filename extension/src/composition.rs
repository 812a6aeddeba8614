//! `veil_advise_composition(epsilon_total, n_queries [, delta])`: per-query budgets under
//! basic, advanced and zCDP composition, one row per rule.

use pgrx::prelude::*;

use crate::error::OrRaise;

#[pg_extern(immutable, parallel_safe, strict)]
fn veil_advise_composition(
    epsilon_total: f64,
    n_queries: i64,
    delta: default!(f64, 0.0),
) -> TableIterator<
    'static,
    (
        name!(rule, String),
        name!(per_query_epsilon, f64),
        name!(per_query_delta, f64),
        name!(per_query_rho, Option<f64>),
    ),
> {
    let n = u64::try_from(n_queries).unwrap_or(0);
    let advice = veil_core::dp::composition::advise(epsilon_total, n, delta)
        .or_raise("veil_advise_composition");
    TableIterator::new(advice.into_iter().map(|a| {
        (
            a.rule.to_string(),
            a.per_query_epsilon,
            a.per_query_delta,
            a.per_query_rho,
        )
    }))
}
