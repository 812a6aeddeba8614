//! The `veil` PostgreSQL extension: thin SQL wrappers over veil-core.
//!
//! Function names and argument orders are the same as in veil's DataFusion functions; the
//! shared `.slt` suite in `tests/slt` runs against both.

mod agg;
mod bounded;
mod budget;
mod composition;
mod dp_mean;
mod dp_select;
mod dp_spread;
mod dp_sum_count;
mod error;
mod guc;
mod k_anon;
mod k_anonymity;
mod partition;
mod pii;
mod pii_summary;
mod unit;

::pgrx::pg_module_magic!(name, version);

#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    guc::register();
    unit::register();
    partition::install_hook();
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn redact_pii_in_sql() {
        let got = Spi::get_one::<String>(
            "SELECT redact_pii('Mail jane.doe@example.com, card 4111 1111 1111 1111')",
        );
        assert_eq!(
            got,
            Ok(Some("Mail <EMAIL_ADDRESS>, card <CREDIT_CARD>".to_string()))
        );
        assert_eq!(Spi::get_one::<String>("SELECT redact_pii(NULL)"), Ok(None));
    }

    /// The ledger worker charges in its own transaction, so a grant that is not committed
    /// does not count: the query is refused and releases nothing. (Releasing values is
    /// covered by the .slt suite, whose grants are committed.)
    #[pg_test]
    fn dp_aggregates_refuse_without_a_committed_budget() {
        Spi::run("SELECT veil_budget_grant('pgrx_test_principal', 10, 0)").unwrap();
        let status = Spi::get_one::<i64>(
            "SELECT count(*) FROM veil_budget_status() WHERE principal = 'pgrx_test_principal'",
        );
        assert_eq!(status, Ok(Some(1)));
        let refused = PgTryBuilder::new(|| {
            Spi::get_one::<f64>("SELECT dp_mean(x, 0, 1, 0.5) FROM generate_series(1, 10) x")
                .map(|_| String::new())
                .unwrap_or_default()
        })
        .catch_others(|e| match e {
            pgrx::pg_sys::panic::CaughtError::PostgresError(r) => r.message().to_string(),
            _ => "other".to_string(),
        })
        .execute();
        assert!(refused.contains("has no privacy budget"), "{refused}");
    }

    #[pg_test]
    fn hash_strategy_uses_the_superuser_key() {
        Spi::run("SET veil.hash_key = 'pg-test-key-0123456789'").unwrap();
        let a = Spi::get_one::<String>("SELECT anonymize('555-0100', 'hash')")
            .unwrap()
            .unwrap();
        let b = Spi::get_one::<String>(
            r#"SELECT redact_pii('ssn 536-22-1234', '{"strategy":"hash"}')"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.len(), 32);
        assert!(b.starts_with("ssn ") && b.len() == 36, "{b}");
    }

    #[pg_test(
        error = "anonymize: invalid argument `strategy`: hash needs a key: set veil.hash_key in the engine configuration (an unkeyed hash of a phone number or SSN can be reversed by enumeration)"
    )]
    fn hash_strategy_refused_without_key() {
        Spi::get_one::<String>("SELECT anonymize('555-0100', 'hash')").unwrap();
    }

    #[pg_test(
        error = "dp_mean: invalid argument `lower`: must not be greater than upper, got lower = 10, upper = 0"
    )]
    fn dp_mean_rejects_inverted_bounds() {
        Spi::get_one::<f64>("SELECT dp_mean(x, 10, 0, 1.0) FROM generate_series(1, 10) x").unwrap();
    }

    #[pg_test(
        error = "dp_mean: invalid argument `epsilon`: must be a finite number greater than 0, got 0"
    )]
    fn dp_mean_rejects_zero_epsilon() {
        Spi::get_one::<f64>("SELECT dp_mean(x, 0, 100, 0) FROM generate_series(1, 10) x").unwrap();
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
