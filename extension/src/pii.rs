//! PII functions: `redact_pii(text [, options jsonb])`, `detect_pii(text [, options jsonb])`.

use pgrx::prelude::*;
use pgrx::{AllocatedByRust, IntoDatum, JsonB};
use veil_core::pii::{Analyzer, PiiOptions};

use crate::error::OrRaise;
use crate::guc;

/// Parses the `options` argument; SQL NULL means the defaults. The same options text on
/// every row is parsed (and its user patterns compiled) once per backend.
fn options(function: &str, options: Option<JsonB>) -> std::sync::Arc<PiiOptions> {
    let json = options.map(|j| j.0.to_string());
    PiiOptions::parse_cached(json.as_deref()).or_raise(function)
}

/// `redact_pii(text) -> text`: replaces every piece of personal data found with its entity
/// label (`<EMAIL_ADDRESS>`, `<CREDIT_CARD>`, …). STRICT: NULL in, NULL out.
#[pg_extern(immutable, parallel_safe, strict)]
fn redact_pii(text: &str) -> String {
    veil_core::pii::redact_pii(text)
}

/// `redact_pii(text, options jsonb) -> text`: with detection options (`entities`,
/// `threshold`, `allow`) and replacement strategies (`strategy`, `per_entity`, …). NULL
/// options mean the defaults; NULL text gives NULL. STABLE: `hash` reads `veil.hash_key`.
#[pg_extern(stable, parallel_safe, name = "redact_pii")]
fn redact_pii_with_options(text: Option<&str>, options: Option<JsonB>) -> Option<String> {
    let text = text?;
    let opts = self::options("redact_pii", options);
    let secrets = guc::secrets("redact_pii");
    Some(veil_core::pii::redact_pii_with(text, &opts, &secrets).or_raise("redact_pii"))
}

/// `anonymize(value, strategy [, options jsonb]) -> text`: rewrites a whole value of known
/// type (`redact`, `mask`, `hash`, `substitute`, `encrypt`, `annotate`, `keep`). NULL
/// value gives NULL.
#[pg_extern(stable, parallel_safe)]
fn anonymize(
    value: Option<&str>,
    strategy: &str,
    options: default!(Option<JsonB>, "NULL"),
) -> Option<String> {
    let json = options.map(|j| j.0.to_string());
    let secrets = guc::secrets("anonymize");
    // validate once, even for NULL values
    veil_core::mask::anonymize("", strategy, json.as_deref(), &secrets).or_raise("anonymize");
    let value = value?;
    Some(
        veil_core::mask::anonymize(value, strategy, json.as_deref(), &secrets)
            .or_raise("anonymize"),
    )
}

/// `decrypt_pii(text) -> text`: replaces every `<enc:LABEL:…>` token of the `encrypt`
/// strategy with its value, using `veil.encryption_key`. Refuses (SQLSTATE 22023) a token
/// that does not decrypt. Only superusers may run it until they GRANT EXECUTE to a role.
#[pg_extern(stable, parallel_safe, strict)]
fn decrypt_pii(text: &str) -> String {
    let secrets = guc::secrets("decrypt_pii");
    veil_core::mask::decrypt_pii(text, &secrets).or_raise("decrypt_pii")
}

extension_sql!(
    r#"
REVOKE EXECUTE ON FUNCTION decrypt_pii(text) FROM PUBLIC;
COMMENT ON FUNCTION decrypt_pii(text) IS 'reverses the encrypt strategy with veil.encryption_key; GRANT EXECUTE to the roles allowed to see the original values';
"#,
    name = "decrypt_pii_grants",
    requires = [decrypt_pii]
);

extension_sql!(
    r#"
CREATE TYPE pii_span AS (
    entity_type text,
    start_pos   bigint,
    end_pos     bigint,
    score       double precision,
    value       text
);
COMMENT ON TYPE pii_span IS 'a piece of personal data found by detect_pii: 0-based code-point offsets, end exclusive';
"#,
    name = "pii_span_type",
    bootstrap
);

/// `detect_pii(text [, options jsonb]) -> pii_span[]`: the spans found, in text order.
#[pg_extern(immutable, parallel_safe)]
fn detect_pii(
    text: Option<&str>,
    options: default!(Option<JsonB>, "NULL"),
) -> Option<Vec<pgrx::composite_type!('static, "pii_span")>> {
    let text = text?;
    let opts = self::options("detect_pii", options);
    let spans = Analyzer::shared_default().analyze_with(text, &opts);
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        let mut t = PgHeapTuple::new_composite_type("pii_span")
            .unwrap_or_else(|e| error!("detect_pii: type pii_span is missing: {e}"));
        set(&mut t, "entity_type", s.entity.as_str());
        set(&mut t, "start_pos", s.start as i64);
        set(&mut t, "end_pos", s.end as i64);
        set(&mut t, "score", s.score);
        set(&mut t, "value", s.value(text));
        out.push(t);
    }
    Some(out)
}

fn set<T: IntoDatum>(t: &mut PgHeapTuple<'static, AllocatedByRust>, name: &str, value: T) {
    if let Err(e) = t.set_by_name(name, value) {
        error!("detect_pii: cannot set pii_span.{name}: {e}");
    }
}
