//! The built-in recognizers and their validators, grouped by kind of data.

mod contact;
mod date_time;
mod financial;
mod names;
mod national_id;
mod network;

use std::ops::Range;

pub use contact::{email, phone_number, url};
pub use date_time::{date_time, weekday, year};
pub use financial::{aba_routing_number, credit_card, crypto, iban_code, us_bank_number};
pub use names::{location, person, LocationRecognizer, PersonRecognizer};
pub use national_id::{uk_nhs, uk_nino, us_driver_license, us_itin, us_npi, us_passport, us_ssn};
pub use network::{ip_address, mac_address};

use super::Recognizer;

/// Every built-in recognizer, in registry order.
pub fn builtin() -> Vec<Box<dyn Recognizer>> {
    vec![
        Box::new(email()),
        Box::new(phone_number()),
        Box::new(url()),
        Box::new(credit_card()),
        Box::new(iban_code()),
        Box::new(crypto()),
        Box::new(us_bank_number()),
        Box::new(aba_routing_number()),
        Box::new(ip_address()),
        Box::new(mac_address()),
        Box::new(date_time()),
        Box::new(weekday()),
        Box::new(year()),
        Box::new(us_ssn()),
        Box::new(us_itin()),
        Box::new(us_npi()),
        Box::new(us_passport()),
        Box::new(us_driver_license()),
        Box::new(uk_nhs()),
        Box::new(uk_nino()),
        Box::new(person()),
        Box::new(location()),
    ]
}

/// The matched text.
fn matched<'a>(text: &'a str, m: &Range<usize>) -> &'a str {
    &text[m.clone()]
}

/// The character just before and just after a match (None at the text's ends).
fn neighbours(text: &str, m: &Range<usize>) -> (Option<char>, Option<char>) {
    (
        text[..m.start].chars().next_back(),
        text[m.end..].chars().next(),
    )
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::pii::{Candidate, PatternRecognizer, Recognizer};

    /// The (text, score) of every candidate `r` finds in `text`.
    pub fn found(r: &dyn Recognizer, text: &str) -> Vec<(String, f64)> {
        let mut out: Vec<Candidate> = Vec::new();
        r.find(text, &mut out);
        out.into_iter()
            .map(|c| (text[c.range].to_string(), c.score))
            .collect()
    }

    /// Asserts that `r` finds exactly `expected` (as the whole detected value) in `text`.
    pub fn finds(r: &PatternRecognizer, text: &str, expected: &str) {
        let got = found(r, text);
        assert_eq!(got.len(), 1, "{text:?}: {got:?}");
        assert_eq!(got[0].0, expected, "{text:?}");
    }

    /// Asserts that `r` finds nothing at or above 0.5 in `text`.
    pub fn rejects(r: &PatternRecognizer, text: &str) {
        let got: Vec<_> = found(r, text)
            .into_iter()
            .filter(|(_, s)| *s >= 0.5)
            .collect();
        assert!(got.is_empty(), "{text:?}: {got:?}");
    }
}
