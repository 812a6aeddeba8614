//! `dp_mean(value, lower, upper, epsilon) -> double precision`, a parallel-safe aggregate.
//!
//! The transition state is a veil-core [`DpMeanAccumulator`] behind `internal`, allocated in
//! the aggregate's memory context; partial states travel between parallel workers as the
//! 48-byte encoding of `DpMeanAccumulator::to_bytes`.

use pgrx::prelude::*;
use veil_core::dp::DpMeanAccumulator;

use crate::agg::partial_state_functions;
use crate::bounded::bounded_dp_aggregate;

const NAME: &str = "dp_mean";

bounded_dp_aggregate!(
    DpMeanAccumulator,
    NAME,
    dp_mean_trans,
    dp_mean_trans_default,
    dp_mean_final,
    dp_mean_final_default
);
partial_state_functions!(
    DpMeanAccumulator,
    NAME,
    crate::agg::Use::AggregateOnly,
    dp_mean_combine,
    dp_mean_serial,
    dp_mean_deserial
);

extension_sql!(
    r#"
CREATE AGGREGATE dp_mean(value double precision, lower double precision,
                         upper double precision, epsilon double precision) (
    sfunc = dp_mean_trans,
    stype = internal,
    finalfunc = dp_mean_final,
    combinefunc = dp_mean_combine,
    serialfunc = dp_mean_serial,
    deserialfunc = dp_mean_deserial,
    parallel = safe
);
CREATE AGGREGATE dp_mean(value double precision, lower double precision,
                         upper double precision) (
    sfunc = dp_mean_trans_default,
    stype = internal,
    finalfunc = dp_mean_final_default,
    combinefunc = dp_mean_combine,
    serialfunc = dp_mean_serial,
    deserialfunc = dp_mean_deserial,
    parallel = safe
);
COMMENT ON AGGREGATE dp_mean(double precision, double precision, double precision) IS
'dp_mean with epsilon from the veil.epsilon setting';
COMMENT ON AGGREGATE dp_mean(double precision, double precision, double precision, double precision) IS
'epsilon-differentially private mean of value clamped to [lower, upper] (discrete Laplace noise from OpenDP)';
"#,
    name = "dp_mean_aggregate",
    requires = [
        dp_mean_trans,
        dp_mean_final,
        dp_mean_trans_default,
        dp_mean_final_default,
        dp_mean_combine,
        dp_mean_serial,
        dp_mean_deserial
    ]
);
