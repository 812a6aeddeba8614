//! CREDIT_CARD, IBAN_CODE, CRYPTO, US_BANK_NUMBER, ABA_ROUTING_NUMBER.

use std::ops::Range;

use super::{matched, neighbours};
use crate::pii::checksum::{
    aba_valid, base58check_decode, bech32_valid, iban_mod97_valid, luhn_valid,
};
use crate::pii::recognizer::{ascii_digits_at_least, maybe_digits_at_least};
use crate::pii::shape;
use crate::pii::{seed, EntityType, PatternRecognizer, Scan, Windows};

/// CREDIT_CARD: 12–19 digits, contiguous or in groups separated by one space or dash,
/// with a valid Luhn check digit and a known issuer prefix for its length (12-digit
/// numbers only for Maestro ranges, scored lower).
pub fn credit_card() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::CreditCard,
        r"\b(?:\d{12,19}|\d{4}(?:[ -]\d{2,7}){2,4})\b",
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
    .with_shape(&shape::CARD)
    .with_required_byte(|b| b.is_ascii_digit())
    // Digits, spaces and dashes; the issuer check wants 12 ASCII digits.
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_digit() || b == b' ' || b == b'-',
            |run| ascii_digits_at_least(run, 12),
        )
        .non_ascii(char::is_numeric)
        .window_digits(12)
        .min_digits(12)
        .min_len(12),
    )
}

fn validate_credit_card(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    if let Some(sep) = value.bytes().find(|b| !b.is_ascii_digit()) {
        if value.bytes().any(|b| !b.is_ascii_digit() && b != sep) {
            return None; // mixed separators: "4111 1111-1111 1111" is not a card number
        }
    }
    // A grouped match may run into a following number ("… 1111 2024"): try the longest
    // prefix of whole groups first, then shorter ones. The prefixes end where a character
    // other than an ASCII digit starts, and at the end; the digits before each are the
    // first `n` of all the match's ASCII digits.
    // No issuer uses more than 19 digits, so only the first 19 are kept.
    let v = value.as_bytes();
    let mut d = [0u8; 19];
    let mut n = 0;
    for &b in v {
        if b.is_ascii_digit() {
            if let Some(x) = d.get_mut(n) {
                *x = b - b'0';
            }
            n += 1;
        }
    }
    let try_prefix = |end: usize, n: usize| {
        let d = d.get(..n)?;
        issuer_score(d)
            .filter(|_| luhn_valid(d))
            .map(|score| (m.start..m.start + end, score))
    };
    if let Some(found) = try_prefix(v.len(), n) {
        return Some(found);
    }
    for end in (0..v.len()).rev() {
        if v[end].is_ascii_digit() {
            n -= 1;
        } else if value.is_char_boundary(end) {
            if let Some(found) = try_prefix(end, n) {
                return Some(found);
            }
        }
    }
    None
}

/// The score of a digit string's issuer prefix and length, None if no issuer uses them:
/// Mir and Mastercard 2-series, JCB's 15-digit 1800/2131, Amex/Diners/JCB, Visa,
/// Mastercard/Maestro, Discover/UnionPay/Maestro at 13–19 digits; Maestro (50, 56–58, 6x,
/// 0604) also at 12 digits, which are common enough in other numbers to score lower.
fn issuer_score(d: &[u8]) -> Option<f64> {
    let prefix = |n: usize| d.iter().take(n).fold(0u32, |acc, &x| acc * 10 + x as u32);
    let (p2, p4) = (prefix(2), prefix(4));
    match d.len() {
        12 => {
            let maestro = p2 == 50 || (56..=58).contains(&p2) || d[0] == 6 || p4 == 604;
            maestro.then_some(0.6)
        }
        13..=19 => {
            let known = match d[0] {
                1 => d.len() == 15 && p4 == 1800,
                2 => {
                    (2200..=2204).contains(&p4)
                        || (2221..=2720).contains(&p4)
                        || (d.len() == 15 && p4 == 2131)
                }
                3..=6 => true,
                _ => false,
            };
            known.then_some(0.9)
        }
        _ => None,
    }
}

/// IBAN_CODE: country code, two check digits and the BBAN, with or without groups of four
/// (spaces or dashes between them); the length must match the country's (ISO 13616
/// registry) and mod-97 must give 1. Written in lower case too ("gb82 west 1234 …", as
/// Presidio's case-insensitive pattern finds), then scored lower.
pub fn iban_code() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::IbanCode,
        r"\b[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,3})?\b",
        validate_iban,
        &["iban", "bank", "account", "transfer", "swift", "bic"],
        0.05,
    )
    .expect("built-in IBAN pattern compiles")
    .with_required_byte(|b| b.is_ascii_alphabetic())
    // ASCII letters, digits (two `\d` check digits in every match), spaces and dashes; the
    // shortest IBAN has 15 characters, and in ASCII every match starts with two letters
    // and two digits.
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-',
            |run| {
                run.len() >= 15
                    && (!run.is_ascii()
                        || run.windows(4).any(|w| {
                            w[0].is_ascii_alphabetic()
                                && w[1].is_ascii_alphabetic()
                                && w[2].is_ascii_digit()
                                && w[3].is_ascii_digit()
                        }))
            },
        )
        .non_ascii(char::is_numeric)
        .text(iban_text)
        .min_digits(2)
        .min_len(15),
    )
}

/// What every IBAN match asks of the whole text: two ASCII letters right before a digit
/// run of two bytes at least (the country code and the check digits; a non-ASCII digit
/// has two bytes or more).
fn iban_text(scan: &Scan) -> bool {
    let t = scan.text();
    scan.digit_marks().iter().any(|m| {
        m.end - m.start >= 2
            && m.start >= 2
            && t[m.start - 1].is_ascii_alphabetic()
            && t[m.start - 2].is_ascii_alphabetic()
    })
}

/// IBAN lengths by country (ISO 13616 IBAN registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

fn validate_iban(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    let separator = |c: char| c == ' ' || c == '-';
    // (Upper-cased: the registry and the checksum read capitals.)
    let compact: String = value
        .chars()
        .filter(|c| !separator(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let expected = IBAN_LENGTHS
        .iter()
        .find(|(cc, _)| compact.starts_with(cc))?
        .1;
    // a longer match may have swallowed a following word: keep the first `expected` chars
    if compact.len() < expected {
        return None;
    }
    let mut kept = 0;
    let mut end = 0;
    for (i, c) in value.char_indices() {
        if !separator(c) {
            kept += 1;
            if kept == expected {
                end = i + 1;
                break;
            }
        }
    }
    let (_, after) = neighbours(text, &(m.start..m.start + end));
    if after.is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    // Lower-case letters are less usual in an IBAN (and in prose more often look like
    // one): scored lower, still above the default threshold.
    let lower = value[..end].bytes().any(|b| b.is_ascii_lowercase());
    iban_mod97_valid(&compact[..expected])
        .then_some((m.start..m.start + end, if lower { 0.75 } else { 0.9 }))
}

/// CRYPTO: Bitcoin addresses — Base58Check P2PKH/P2SH (`1…`, `3…`) and bech32/bech32m
/// segwit (`bc1…`), each with its checksum verified.
pub fn crypto() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::Crypto,
        r"\b(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{8,87})\b",
        validate_crypto,
        &["bitcoin", "btc", "wallet", "crypto", "address"],
        0.05,
    )
    .expect("built-in crypto pattern compiles")
    // ASCII letters and digits, with a '1' or '3' ("1…", "3…", "bc1…"); 11 at least.
    .with_windows(
        Windows::new(
            seed::DIGITS_1_OR_3,
            |b| b.is_ascii_alphanumeric(),
            |run| run.len() >= 11,
        )
        .non_ascii(|_| false)
        .min_digits(1)
        .min_len(11),
    )
}

fn validate_crypto(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    let ok = if value.starts_with("bc1") {
        bech32_valid(value, "bc")
    } else {
        base58check_decode(value).is_some_and(|p| p.len() == 21 && (p[0] == 0 || p[0] == 5))
    };
    ok.then_some((m, 0.95))
}

/// US_BANK_NUMBER: 8–17 digits. Far too common a shape to report alone: it needs a context
/// word ("account", "bank", "checking", …).
pub fn us_bank_number() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UsBankNumber,
        r"\b\d{8,17}\b",
        |_, m| Some((m, 0.05)),
        &[
            "account", "acct", "bank", "checking", "savings", "deposit", "routing",
        ],
        0.5,
    )
    .expect("built-in bank number pattern compiles")
    .with_shape(&shape::BANK)
    .with_required_byte(|b| b.is_ascii_digit())
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_digit(),
            |run| maybe_digits_at_least(run, 8),
        )
        .non_ascii(char::is_numeric)
        .min_digits(8)
        .min_len(8),
    )
}

/// ABA_ROUTING_NUMBER: nine digits (or `dddd-dddd-d`) with a Federal Reserve prefix
/// (00–12, 21–32, 61–72, 80) and the 3-7-1 checksum; needs a context word to pass.
pub fn aba_routing_number() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::AbaRoutingNumber,
        r"\b(?:\d{9}|\d{4}-\d{4}-\d)\b",
        validate_aba,
        &["routing", "aba", "rtn", "transit", "bank", "wire"],
        0.45,
    )
    .expect("built-in ABA pattern compiles")
    .with_shape(&shape::ABA)
    .with_required_byte(|b| b.is_ascii_digit())
    // The checksum wants nine ASCII digits.
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_digit() || b == b'-',
            |run| ascii_digits_at_least(run, 9),
        )
        .non_ascii(char::is_numeric)
        .window_digits(9)
        .min_digits(9)
        .min_len(9),
    )
}

fn validate_aba(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let mut buf = [0u8; 32];
    let d = super::national_id::digits_skipping(matched(text, &m), b"-", &mut buf)?;
    if d.len() < 2 {
        return None; // never from the pattern, which has nine digits
    }
    let prefix = d[0] * 10 + d[1];
    let known = matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80);
    (known && aba_valid(d)).then_some((m, 0.3))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{finds, found, rejects};
    use super::*;

    /// [`validate_credit_card`] as first written, collecting the group ends and digits.
    fn validate_credit_card_reference(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
        let value = matched(text, &m);
        if let Some(sep) = value.bytes().find(|b| !b.is_ascii_digit()) {
            if value.bytes().any(|b| !b.is_ascii_digit() && b != sep) {
                return None;
            }
        }
        let group_ends = value
            .char_indices()
            .filter(|&(_, c)| !c.is_ascii_digit())
            .map(|(i, _)| i)
            .chain(std::iter::once(value.len()))
            .collect::<Vec<_>>();
        for &end in group_ends.iter().rev() {
            let d: Vec<u8> = value[..end]
                .bytes()
                .filter(u8::is_ascii_digit)
                .map(|b| b - b'0')
                .collect();
            if let Some(score) = issuer_score(&d) {
                if luhn_valid(&d) {
                    return Some((m.start..m.start + end, score));
                }
            }
        }
        None
    }

    #[test]
    fn card_validation_agrees_with_the_collecting_version() {
        let mut next = crate::pii::recognizers::test_util::xorshift(0xC4AD_5EED_0042_1177);
        const GROUPS: &[&str] = &[
            "4111",
            "1111",
            "5555",
            "4444",
            "3782",
            "822463",
            "10005",
            "2024",
            "12",
            "630427373398",
            "4111111111111111",
            "٤١١١",
            "0",
            "6011",
            "0000",
            "1800",
            "2131",
        ];
        const SEPS: &[&str] = &[" ", " ", "-", "-", "", "\u{a0}"];
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut v = String::from("pay ");
            let start = v.len();
            for i in 0..(next() % 6 + 1) {
                if i > 0 {
                    v.push_str(SEPS[(next() % SEPS.len() as u64) as usize]);
                }
                v.push_str(GROUPS[(next() % GROUPS.len() as u64) as usize]);
            }
            let m = start..v.len();
            let want = validate_credit_card_reference(&v, m.clone());
            assert_eq!(validate_credit_card(&v, m), want, "{v:?}");
            accepted += usize::from(want.is_some());
        }
        assert!(accepted > 500, "{accepted}");
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
            "2223003122003222",
            "6759649826438453",
            "4111111111111111110",
            "630427373398",    // 12-digit Maestro
            "180016070420458", // 15-digit JCB
            "213176828496175", // 15-digit JCB
        ] {
            finds(&r, &format!("pay {ok} now"), ok);
        }
        for bad in [
            "4111 1111 1111 1112",
            "4111 1111-1111 1111",
            "1234 5678 9012 3452",
            "2019 2020 2021 2022",
            "411111111117",    // Luhn-valid, but no issuer uses 12 digits from 4
            "180016070420459", // JCB 1800 range, bad check digit
        ] {
            assert!(found(&r, &format!("pay {bad} now")).is_empty(), "{bad}");
        }
        finds(&r, "4111 1111 1111 1111 2024", "4111 1111 1111 1111");
    }

    #[test]
    fn ibans() {
        let r = iban_code();
        finds(
            &r,
            "IBAN GB82 WEST 1234 5698 7654 32.",
            "GB82 WEST 1234 5698 7654 32",
        );
        finds(
            &r,
            "to DE89370400440532013000 please",
            "DE89370400440532013000",
        );
        rejects(&r, "IBAN GB82 WEST 1234 5698 7654 31");
        rejects(&r, "GB82WEST1234569876543"); // one character short for GB

        // Lower case: found, scored below the capitals' 0.9.
        finds(
            &r,
            "iban gb82 west 1234 5698 7654 32",
            "gb82 west 1234 5698 7654 32",
        );
        finds(&r, "to de89370400440532013000.", "de89370400440532013000");
        assert_eq!(found(&r, "x gb82west12345698765432 y")[0].1, 0.75);
        rejects(&r, "iban gb82 west 1234 5698 7654 31");
        rejects(&r, "code ab12 test case here okay now"); // no such country length
    }

    #[test]
    fn bitcoin() {
        let r = crypto();
        finds(
            &r,
            "send to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        );
        finds(
            &r,
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        );
        rejects(&r, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb");
    }

    #[test]
    fn bank_and_routing_need_context() {
        rejects(&us_bank_number(), "order 12345678 shipped");
        finds(&us_bank_number(), "checking account 12345678", "12345678");
        rejects(&aba_routing_number(), "id 011000015");
        finds(
            &aba_routing_number(),
            "routing number 011000015",
            "011000015",
        );
        rejects(&aba_routing_number(), "routing number 011000016");
    }
}
