//! PII functions.

use pgrx::prelude::*;

/// `redact_pii(text) -> text`: replaces emails, Luhn-valid card numbers and US SSNs with
/// `<EMAIL_ADDRESS>`, `<CREDIT_CARD>`, `<US_SSN>`. STRICT: NULL in, NULL out.
#[pg_extern(immutable, parallel_safe, strict)]
fn redact_pii(text: &str) -> String {
    veil_core::pii::redact_pii(text)
}
