//! The built-in recognizers and their validators.

use std::ops::Range;

use super::{EntityType, PatternRecognizer, Recognizer};

/// Every built-in recognizer, in registry order.
pub fn builtin() -> Vec<Box<dyn Recognizer>> {
    vec![
        Box::new(email()),
        Box::new(credit_card()),
        Box::new(us_ssn()),
    ]
}

/// EMAIL_ADDRESS: `local@domain.tld`, Unicode letters allowed (RFC 6531). Quotes and other
/// rarely used local-part symbols are left out so surrounding punctuation is never swallowed.
pub fn email() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::EmailAddress,
        r"[\p{L}\p{N}_%+-]+(?:\.[\p{L}\p{N}_%+-]+)*@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}\b",
        validate_email,
        &["email", "e-mail", "mail", "contact"],
        0.05,
    )
    .expect("built-in email pattern compiles")
    .with_required_byte(|b| b == b'@')
}

fn validate_email(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = &text[m.clone()];
    let (local, domain) = value.rsplit_once('@')?;
    // RFC 5321 limits; the pattern already forbids empty labels and leading dots.
    if local.len() > 64 || domain.len() > 253 {
        return None;
    }
    Some((m, 0.95))
}

/// CREDIT_CARD: 13–19 digits, contiguous or in groups separated by one space or dash,
/// with a valid Luhn check digit and a known issuer prefix.
pub fn credit_card() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::CreditCard,
        r"\b(?:\d{13,19}|\d{4}(?:[ -]\d{2,7}){2,4})\b",
        validate_credit_card,
        &[
            "card",
            "credit",
            "visa",
            "mastercard",
            "amex",
            "debit",
            "cc#",
            "payment",
        ],
        0.1,
    )
    .expect("built-in credit card pattern compiles")
    .with_required_byte(|b| b.is_ascii_digit())
}

fn validate_credit_card(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = &text[m.clone()];
    let separator = value.bytes().find(|b| !b.is_ascii_digit());
    if let Some(sep) = separator {
        if value.bytes().any(|b| !b.is_ascii_digit() && b != sep) {
            return None; // mixed separators: "4111 1111-1111 1111" is not a card number
        }
    }
    // A grouped match may run into a following number ("… 1111 2024"): try the longest
    // prefix of whole groups first, then shorter ones.
    let group_ends: Vec<usize> = value
        .char_indices()
        .filter(|&(_, c)| !c.is_ascii_digit())
        .map(|(i, _)| i)
        .chain(std::iter::once(value.len()))
        .collect();
    for &end in group_ends.iter().rev() {
        let digits: Vec<u8> = value[..end]
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        if (13..=19).contains(&digits.len()) && known_issuer(&digits) && luhn_valid(&digits) {
            return Some((m.start..m.start + end, 0.9));
        }
    }
    None
}

/// Issuer identification numbers in use: Mir and Mastercard 2-series, Amex/Diners/JCB,
/// Visa, Mastercard/Maestro, Discover/UnionPay/Maestro.
fn known_issuer(d: &[u8]) -> bool {
    let prefix4 = d.iter().take(4).fold(0u32, |acc, &x| acc * 10 + x as u32);
    match d[0] {
        2 => (2200..=2204).contains(&prefix4) || (2221..=2720).contains(&prefix4),
        3..=6 => true,
        _ => false,
    }
}

/// The Luhn (mod 10) checksum used by payment cards.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = d as u32;
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum % 10 == 0
}

/// US_SSN: `AAA-GG-SSSS` (dashes, spaces or none, used consistently). Numbers the SSA never
/// issues are rejected: area 000, 666 or 900–999, group 00, serial 0000. Nine bare digits
/// score below the default threshold unless a context word ("ssn", "social security") is near.
pub fn us_ssn() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UsSsn,
        r"\b\d{3}[- ]?\d{2}[- ]?\d{4}\b",
        validate_us_ssn,
        &["ssn", "social security", "social sec", "ss#", "ss #", "ssa"],
        0.4,
    )
    .expect("built-in SSN pattern compiles")
    .with_required_byte(|b| b.is_ascii_digit())
}

fn validate_us_ssn(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = text[m.clone()].as_bytes();
    let seps: Vec<u8> = value
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_digit())
        .collect();
    let score = match seps.as_slice() {
        [] => 0.4,
        [a, b] if a == b && *a == b'-' => 0.85,
        [a, b] if a == b => 0.6,
        _ => return None, // "123-45 6789" or a single separator
    };
    let digits: Vec<u32> = value
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| (b - b'0') as u32)
        .collect();
    let area = digits[0] * 100 + digits[1] * 10 + digits[2];
    let group = digits[3] * 10 + digits[4];
    let serial = digits[5..].iter().fold(0, |acc, d| acc * 10 + d);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return None;
    }
    if digits.iter().all(|&d| d == digits[0]) {
        return None; // 111-11-1111 and the like are placeholders, not SSNs
    }
    Some((m, score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::Candidate;

    fn found(r: &PatternRecognizer, text: &str) -> Vec<(String, f64)> {
        let mut out: Vec<Candidate> = Vec::new();
        r.find(text, &mut out);
        out.into_iter()
            .map(|c| (text[c.range].to_string(), c.score))
            .collect()
    }

    #[test]
    fn luhn() {
        let d = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn_valid(&d("4111111111111111")));
        assert!(luhn_valid(&d("79927398713")));
        assert!(!luhn_valid(&d("4111111111111112")));
        assert!(!luhn_valid(&[]));
    }

    #[test]
    fn credit_cards_valid_and_invalid() {
        let r = credit_card();
        for ok in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "378282246310005",
            "3782 822463 10005",
            "2223003122003222",    // Mastercard 2-series
            "6759649826438453",    // Maestro
            "4111111111111111110", // 19-digit Visa
        ] {
            assert_eq!(found(&r, &format!("pay {ok} now")).len(), 1, "{ok}");
        }
        for bad in [
            "4111 1111 1111 1112", // Luhn fails
            "4111 1111-1111 1111", // mixed separators
            "1234 5678 9012 3452", // no issuer starts with 1
            "2019 2020 2021 2022", // years, not a 2-series card
            "411111111111",        // too short
        ] {
            assert!(found(&r, &format!("pay {bad} now")).is_empty(), "{bad}");
        }
    }

    #[test]
    fn credit_card_followed_by_another_number() {
        let r = credit_card();
        assert_eq!(
            found(&r, "4111 1111 1111 1111 2024")[0].0,
            "4111 1111 1111 1111"
        );
    }

    #[test]
    fn ssn_rules_and_context() {
        let r = us_ssn();
        assert_eq!(
            found(&r, "id 536-22-1234"),
            vec![("536-22-1234".into(), 0.85)]
        );
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "536-00-1234",
            "536-22-0000",
            "111-11-1111",
            "536-22 1234",
        ] {
            assert!(found(&r, bad).is_empty(), "{bad}");
        }
        assert_eq!(found(&r, "id 536221234"), vec![("536221234".into(), 0.4)]);
        let with_context = found(&r, "SSN: 536221234");
        assert_eq!(with_context.len(), 1);
        assert!((with_context[0].1 - 0.8).abs() < 1e-9);
        // context counts as whole words only: "classnote" does not contain the word "ssn"
        assert_eq!(
            found(&r, "classnote 536221234"),
            vec![("536221234".into(), 0.4)]
        );
        assert_eq!(found(&r, "Social  Security: 536221234")[0].1, 0.8);
    }

    #[test]
    fn emails() {
        let r = email();
        assert_eq!(
            found(&r, "write to jane.doe+x@mail.example.co.uk.")[0].0,
            "jane.doe+x@mail.example.co.uk"
        );
        assert_eq!(found(&r, "zoë@bücher.de")[0].0, "zoë@bücher.de");
        assert!(found(&r, "no at sign here, user at example dot com").is_empty());
        assert!(found(&r, "@handle and a@b").is_empty());
    }
}
