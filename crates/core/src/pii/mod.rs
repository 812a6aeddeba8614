//! Detection and replacement of personal data (PII) in free text.
//!
//! An [`Analyzer`] runs a registry of [`Recognizer`]s over a text, scores every candidate
//! (validators such as Luhn reject look-alikes; context words nearby raise the score), keeps
//! the candidates at or above a threshold and resolves overlaps to one span each. An
//! [`Replacer`] then rewrites the text with the strategies of [`crate::mask`].
//!
//! Offsets in [`PiiSpan`] are 0-based Unicode code-point offsets with an exclusive end, the
//! same in every engine, so `substr(text, start + 1, end - start)` returns the value in SQL.

mod analyzer;
pub mod checksum;
pub mod custom;
pub mod dictionaries;
mod entity;
mod operators;
mod options;
mod recognizer;
pub mod recognizers;
#[cfg(test)]
mod robustness;
mod shape;
mod summary;

use crate::error::Fallible;
use crate::mask::Secrets;
pub use analyzer::{Analyzer, PiiSpan, DEFAULT_THRESHOLD};
pub use entity::{CustomLabel, EntityType};
pub use operators::Replacer;
pub use options::{CustomRecognizers, PiiOptions};
pub use summary::EntitySummary;

pub use recognizer::{
    seed, ByteSet, Candidate, Mark, Needs, PatternRecognizer, Recognizer, Scan, Validator, Windows,
};

/// Replaces every PII span that the default analyzer finds (every built-in recognizer,
/// default threshold) with `<ENTITY_TYPE>`.
///
/// This is what the SQL function `redact_pii(text)` does in both engines.
pub fn redact_pii(text: &str) -> String {
    Analyzer::shared_default().redact_with(text, None, |kept| {
        // (Room for labels longer than their values, as in `Replacer::apply`.)
        let mut out = String::with_capacity(text.len() + 16 * kept.len());
        let mut pos = 0;
        for c in kept {
            out.push_str(&text[pos..c.range.start]);
            out.push('<');
            out.push_str(c.entity.as_str());
            out.push('>');
            pos = c.range.end;
        }
        out.push_str(&text[pos..]);
        out
    })
}

/// `redact_pii(text, options)`: like [`redact_pii`] with the given [`PiiOptions`]
/// (detection settings and replacement strategies). Fails only when a strategy cannot run,
/// e.g. `hash` without a configured key.
pub fn redact_pii_with(text: &str, options: &PiiOptions, secrets: &Secrets) -> Fallible<String> {
    Analyzer::shared_default().redact_with(text, Some(options), |kept| {
        let spans = kept.iter().map(|c| (c.entity, c.range.clone()));
        options.replacer.rewrite(text, spans, secrets)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_email_card_and_ssn() {
        assert_eq!(
            redact_pii("Mail jane.doe@example.com, card 4111 1111 1111 1111"),
            "Mail <EMAIL_ADDRESS>, card <CREDIT_CARD>"
        );
        assert_eq!(
            redact_pii("SSN 536-22-1234 on file"),
            "SSN <US_SSN> on file"
        );
    }

    #[test]
    fn leaves_text_without_pii_alone() {
        let text = "Order 12 shipped to the north office, 3 boxes of 24.";
        assert_eq!(redact_pii(text), text);
        assert_eq!(redact_pii(""), "");
    }

    #[test]
    fn keeps_non_ascii_text_around_spans_intact() {
        assert_eq!(
            redact_pii("Grüße an zoë@example.org — Karte 5555 5555 5555 4444 ✓"),
            "Grüße an <EMAIL_ADDRESS> — Karte <CREDIT_CARD> ✓"
        );
    }
}
