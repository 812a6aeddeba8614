//! US_SSN, US_ITIN, US_NPI, US_PASSPORT, US_DRIVER_LICENSE, UK_NHS, UK_NINO.

use std::ops::Range;

use super::matched;
use crate::pii::checksum::{digits, nhs_valid, npi_valid};
use crate::pii::recognizer::ascii_digits_at_least;
use crate::pii::shape;
use crate::pii::{seed, EntityType, PatternRecognizer, Windows};

/// Windows for digit-and-separator shapes whose validator parses `n` ASCII digits.
fn digit_windows(seeds: u16, n: usize) -> Windows {
    let keep: fn(&[u8]) -> bool = match n {
        9 => |run| ascii_digits_at_least(run, 9),
        _ => |run| ascii_digits_at_least(run, 10),
    };
    Windows::new(
        seeds,
        |b| b.is_ascii_digit() || b == b'-' || b == b' ',
        keep,
    )
    .min_digits(n)
    .min_len(n)
}

/// Nine digits as `ddd-dd-dddd`, `ddd dd dddd` or bare; separators must agree.
const NINE_DIGITS: &str = r"\b\d{3}[- ]?\d{2}[- ]?\d{4}\b";

/// Splits a nine-digit match into (area, group, serial) and the score its formatting
/// earns: dashes 0.85, spaces 0.6, bare 0.4; None for inconsistent separators.
fn nine_digit_parts(value: &str) -> Option<((u32, u32, u32), f64)> {
    let seps: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_digit()).collect();
    let score = match seps.as_slice() {
        [] => 0.4,
        [b'-', b'-'] => 0.85,
        [b' ', b' '] => 0.6,
        _ => return None,
    };
    let d = digits(&value.replace(['-', ' '], ""))?;
    let n = |r: Range<usize>| d[r].iter().fold(0u32, |acc, &x| acc * 10 + x as u32);
    Some(((n(0..3), n(3..5), n(5..9)), score))
}

/// US_SSN: `AAA-GG-SSSS` (dashes, spaces or none, used consistently). Numbers the SSA never
/// issues are rejected: area 000, 666 or 900–999, group 00, serial 0000, and placeholders
/// of one repeated digit. Nine bare digits score below the default threshold unless a
/// context word ("ssn", "social security") is near.
pub fn us_ssn() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UsSsn,
        NINE_DIGITS,
        validate_us_ssn,
        &["ssn", "social security", "social sec", "ss#", "ss #", "ssa"],
        0.4,
    )
    .expect("built-in SSN pattern compiles")
    .with_shape(&shape::NINE_DIGITS)
    .with_required_byte(|b| b.is_ascii_digit())
    .with_windows(digit_windows(seed::DIGITS, 9))
}

fn validate_us_ssn(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    let ((area, group, serial), score) = nine_digit_parts(value)?;
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return None;
    }
    let first = value.as_bytes()[0];
    if value.bytes().filter(u8::is_ascii_digit).all(|b| b == first) {
        return None;
    }
    Some((m, score))
}

/// US_ITIN: `9XX-GG-XXXX` with the group in the IRS's ranges 50–65, 70–88, 90–92, 94–99.
pub fn us_itin() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UsItin,
        NINE_DIGITS,
        validate_us_itin,
        &["itin", "taxpayer", "tax id", "tin", "individual taxpayer"],
        0.4,
    )
    .expect("built-in ITIN pattern compiles")
    .with_shape(&shape::NINE_DIGITS)
    .with_required_byte(|b| b == b'9')
    // The area number starts with an ASCII 9.
    .with_windows(digit_windows(seed::DIGITS_9, 9))
}

fn validate_us_itin(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let ((area, group, _), score) = nine_digit_parts(matched(text, &m))?;
    let group_ok = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
    (area >= 900 && group_ok).then_some((m, score * 0.9))
}

/// US_NPI: ten digits starting with 1 or 2 whose Luhn check (with prefix 80840) holds;
/// needs a context word, since ten digits are often phone numbers.
pub fn us_npi() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UsNpi,
        r"\b[12]\d{9}\b",
        |text, m| {
            digits(matched(text, &m))
                .filter(|d| npi_valid(d))
                .map(|_| (m, 0.3))
        },
        &["npi", "national provider", "provider", "prescriber"],
        0.5,
    )
    .expect("built-in NPI pattern compiles")
    .with_shape(&shape::NPI)
    .with_required_byte(|b| b.is_ascii_digit())
    .with_windows(
        Windows::new(
            seed::DIGITS_1_OR_2,
            |b| b.is_ascii_digit(),
            |run| ascii_digits_at_least(run, 10),
        )
        .min_digits(10)
        .min_len(10),
    )
}

/// US_PASSPORT: nine digits, or a letter and eight digits (next-generation books); only
/// with a context word.
pub fn us_passport() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UsPassport,
        r"\b[A-Z]?\d{8,9}\b",
        |text, m| {
            let v = matched(text, &m);
            let letter = v.as_bytes()[0].is_ascii_uppercase();
            (v.len() == 9).then_some((m, if letter { 0.2 } else { 0.1 }))
        },
        &["passport", "travel document", "passport#", "passport no"],
        0.5,
    )
    .expect("built-in passport pattern compiles")
    .with_shape(&shape::PASSPORT)
    .with_required_byte(|b| b.is_ascii_digit())
    // The validator wants nine bytes.
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
            |run| run.len() >= 9,
        )
        .min_digits(8)
        .min_len(9),
    )
}

/// US_DRIVER_LICENSE: the shapes most states use (a letter and 4–14 digits, 7–9 digits,
/// two letters and six digits); only with a context word.
pub fn us_driver_license() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UsDriverLicense,
        r"\b(?:[A-Z]\d{4,14}|[A-Z]{2}\d{6}[A-Z]?|\d{7,9})\b",
        |_, m| Some((m, 0.2)),
        &[
            "driver", "driver's", "drivers", "license", "licence", "dl", "dmv",
        ],
        0.45,
    )
    .expect("built-in driver license pattern compiles")
    .with_shape(&shape::DRIVER_LICENSE)
    .with_required_byte(|b| b.is_ascii_digit())
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
            |run| run.len() >= 5,
        )
        .min_digits(4)
        .min_len(5),
    )
}

/// UK_NHS: ten digits (`ddd ddd dddd`) with a valid mod-11 check digit.
pub fn uk_nhs() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UkNhs,
        r"\b\d{3}[- ]?\d{3}[- ]?\d{4}\b",
        |text, m| {
            let d = digits(&matched(text, &m).replace(['-', ' '], ""))?;
            nhs_valid(&d).then_some((m, 0.4))
        },
        &["nhs", "health service", "national health", "patient"],
        0.45,
    )
    .expect("built-in NHS pattern compiles")
    .with_shape(&shape::NHS)
    .with_required_byte(|b| b.is_ascii_digit())
    .with_windows(digit_windows(seed::DIGITS, 10))
}

/// UK_NINO: National Insurance number `AB 12 34 56 C`; first letters never D, F, I, Q, U, V
/// (second also not O), prefixes BG, GB, KN, NK, NT, TN, ZZ never issued, suffix A–D.
pub fn uk_nino() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::UkNino,
        r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        |text, m| {
            let v = matched(text, &m);
            let prefix = &v[..2];
            let banned = ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&prefix);
            (!banned).then_some((m, 0.6))
        },
        &[
            "national insurance",
            "nino",
            "ni number",
            "ni no",
            "insurance",
        ],
        0.3,
    )
    .expect("built-in NINO pattern compiles")
    .with_required_byte(|b| b.is_ascii_digit())
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ',
            |run| run.len() >= 9,
        )
        .min_digits(6)
        .min_len(9),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{finds, found, rejects};
    use super::*;

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
        assert!((with_context[0].1 - 0.8).abs() < 1e-9);
        // context counts as whole words only: "classnote" does not contain the word "ssn"
        assert_eq!(
            found(&r, "classnote 536221234"),
            vec![("536221234".into(), 0.4)]
        );
        assert!((found(&r, "Social  Security: 536221234")[0].1 - 0.8).abs() < 1e-9);
    }

    #[test]
    fn itin() {
        finds(&us_itin(), "ITIN 912-70-1234", "912-70-1234");
        rejects(&us_itin(), "ITIN 912-93-1234");
        rejects(&us_itin(), "ITIN 812-70-1234");
    }

    #[test]
    fn npi_passport_license_need_context() {
        rejects(&us_npi(), "call 1234567893");
        finds(&us_npi(), "NPI 1234567893", "1234567893");
        rejects(&us_npi(), "NPI 1234567890");
        rejects(&us_passport(), "ref 123456789");
        finds(&us_passport(), "passport A12345678", "A12345678");
        rejects(&us_driver_license(), "code D1234567");
        finds(&us_driver_license(), "driver license D1234567", "D1234567");
    }

    #[test]
    fn nhs_and_nino() {
        finds(&uk_nhs(), "NHS number 943 476 5919", "943 476 5919");
        rejects(&uk_nhs(), "NHS number 943 476 5918");
        rejects(&uk_nhs(), "943 476 5919");
        finds(&uk_nino(), "NI: AB 12 34 56 C", "AB 12 34 56 C");
        finds(&uk_nino(), "nino JG103729A", "JG103729A");
        rejects(&uk_nino(), "QQ123456C");
        rejects(&uk_nino(), "GB123456A");
        rejects(&uk_nino(), "AB123456E");
    }
}
