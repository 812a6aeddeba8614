//! US_SSN, US_ITIN, US_NPI, US_PASSPORT, US_DRIVER_LICENSE, UK_NHS, UK_NINO.

use std::ops::Range;

use super::matched;
use crate::pii::checksum::{digits, nhs_valid, npi_valid};
use crate::pii::recognizer::ascii_digits_at_least;
use crate::pii::shape;
use crate::pii::{seed, EntityType, PatternRecognizer, Scan, Windows};

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
    .non_ascii(char::is_numeric)
    .window_digits(n)
    .min_digits(n)
    .min_len(n)
}

/// Nine digits as `ddd-dd-dddd`, `ddd dd dddd` or bare; separators must agree.
const NINE_DIGITS: &str = r"\b\d{3}[- ]?\d{2}[- ]?\d{4}\b";

/// Splits a nine-digit match into (area, group, serial) and the score its formatting
/// earns: dashes 0.85, spaces 0.6, bare 0.4; None for inconsistent separators.
/// (Read in one pass without allocating; [`tests::nine_digit_parts_reference`] is the
/// collecting version it is tested against.)
fn nine_digit_parts(value: &str) -> Option<((u32, u32, u32), f64)> {
    let (mut seps, mut n_seps) = ([0u8; 2], 0);
    let (mut d, mut n_digits) = ([0u32; 9], 0);
    for b in value.bytes() {
        if b.is_ascii_digit() {
            if let Some(x) = d.get_mut(n_digits) {
                *x = u32::from(b - b'0');
            }
            n_digits += 1;
        } else {
            if let Some(x) = seps.get_mut(n_seps) {
                *x = b;
            }
            n_seps += 1;
        }
    }
    let score = match (n_seps, seps) {
        (0, _) => 0.4,
        (2, [b'-', b'-']) => 0.85,
        (2, [b' ', b' ']) => 0.6,
        _ => return None,
    };
    if n_digits < 9 {
        return None; // never from the pattern, which has nine digits
    }
    let n = |r: Range<usize>| d[r].iter().fold(0, |acc, &x| acc * 10 + x);
    Some(((n(0..3), n(3..5), n(5..9)), score))
}

/// The ASCII digits of `value` with the bytes in `skip` left out, written into `buf`: what
/// `digits(&value.replace(skip, ""))` gives, without allocating. `None` when another byte
/// remains, and for more digits than `buf` holds (the callers' checks want fewer).
pub(super) fn digits_skipping<'a>(value: &str, skip: &[u8], buf: &'a mut [u8]) -> Option<&'a [u8]> {
    let mut n = 0;
    for b in value.bytes() {
        if b.is_ascii_digit() {
            *buf.get_mut(n)? = b - b'0';
            n += 1;
        } else if !skip.contains(&b) {
            return None;
        }
    }
    Some(&buf[..n])
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
        .non_ascii(char::is_numeric)
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
    // The validator wants nine bytes; a match has eight `\d`.
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
            |run| run.len() >= 9,
        )
        .non_ascii(char::is_numeric)
        .window_digits(8)
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
        .non_ascii(char::is_numeric)
        // Every branch has four `\d` at least.
        .window_digits(4)
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
            let mut buf = [0u8; 32];
            let d = digits_skipping(matched(text, &m), b"- ", &mut buf)?;
            nhs_valid(d).then_some((m, 0.4))
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
        .non_ascii(char::is_numeric)
        .text(nino_text)
        // A match has six `\d`.
        .window_digits(6)
        .min_digits(6)
        .min_len(9),
    )
}

/// What every NINO match asks of the whole text: a digit run right after a capital, or
/// after a space that follows one.
fn nino_text(scan: &Scan) -> bool {
    let t = scan.text();
    let upper = |i: usize| t[i].is_ascii_uppercase();
    scan.digit_marks().iter().any(|m| {
        let s = m.start;
        (s >= 1 && upper(s - 1)) || (s >= 2 && t[s - 1] == b' ' && upper(s - 2))
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{finds, found, rejects};
    use super::*;

    /// [`nine_digit_parts`] as first written, collecting the separators and digits.
    pub(super) fn nine_digit_parts_reference(value: &str) -> Option<((u32, u32, u32), f64)> {
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

    /// Nine digits in groups of 3, 2 and 4 with every kind of separator, ASCII and other
    /// digits, and the digit counts of the NHS and ABA shapes.
    fn digit_group_values() -> Vec<String> {
        let mut next = crate::pii::recognizers::test_util::xorshift(0x5EED_0FD1_6175_0042);
        const DIGITS: &[&str] = &["0", "1", "5", "9", "3", "٣", "７"];
        const SEPS: &[&str] = &["", "", "-", " ", ".", "/", "\u{a0}", "x"];
        let mut out = Vec::new();
        for groups in [[3, 2, 4], [3, 3, 4], [4, 4, 1], [3, 2, 5], [2, 2, 4]] {
            for _ in 0..2000 {
                let mut v = String::new();
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        v.push_str(SEPS[(next() % SEPS.len() as u64) as usize]);
                    }
                    for _ in 0..*g {
                        // Mostly ASCII digits, so that many values pass.
                        let k = (next() % 40) as usize;
                        v.push_str(
                            DIGITS
                                .get(k)
                                .copied()
                                .unwrap_or(["2", "4", "6", "7", "8"][k % 5]),
                        );
                    }
                }
                out.push(v);
            }
        }
        out
    }

    #[test]
    fn allocation_free_digit_readers_agree_with_collecting_ones() {
        let values = digit_group_values();
        let mut parsed = 0;
        for v in &values {
            // The reference indexes nine digits (the pattern always has them): it is asked
            // only when the value has nine or more; with fewer, the one-pass reader refuses.
            if v.bytes().filter(u8::is_ascii_digit).count() >= 9 {
                let want = nine_digit_parts_reference(v);
                assert_eq!(nine_digit_parts(v), want, "{v:?}");
                parsed += usize::from(want.is_some());
            } else {
                assert_eq!(nine_digit_parts(v), None, "{v:?}");
            }
            for skip in [&b"- "[..], b"-"] {
                let text: String = v
                    .chars()
                    .filter(|c| !skip.contains(&(*c as u8)) || !c.is_ascii())
                    .collect();
                let want = digits(&text);
                let mut buf = [0u8; 32];
                assert_eq!(
                    digits_skipping(v, skip, &mut buf).map(<[u8]>::to_vec),
                    want,
                    "{v:?}"
                );
            }
        }
        assert!(parsed > 300, "{parsed}");
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
