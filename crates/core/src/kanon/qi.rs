//! Suggests the role of each column before anonymization: direct identifier (remove or
//! pseudonymize), quasi-identifier (generalize), sensitive (protect its values, e.g. with
//! ℓ-diversity) or insensitive (release as is). These are the four attribute types of
//! ARX (arx.deidentifier.org) and of El Emam's "Guide to the De-Identification of Personal
//! Health Information" (2013).
//!
//! Two signals, combined deterministically by [`detect_qi`]:
//! - the column name, split into words (`PatientSSN` → `patient ssn`, `zip5` → `zip 5`)
//!   and looked up in [`DICTIONARY`] (English names and common abbreviations; runs of up to
//!   three words are also tried joined, so `first_name`, `FirstName` and `firstname` all
//!   match `first_name`);
//! - the uniqueness ratio `distinct / non-null values`: near 1, values single out rows.
//!
//! A suggestion is only a starting point, with its reason: the user decides. When the
//! signals are weak the suggestion leans to the more protective role.

use std::collections::HashSet;

use crate::error::{Fallible, VeilError};

/// The role of a column in anonymization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    /// Identifies a person on its own (name, e-mail, SSN): remove or pseudonymize.
    DirectIdentifier,
    /// Identifies in combination with other columns (zip, birth date, sex): generalize.
    QuasiIdentifier,
    /// The information to protect (diagnosis, salary): not known to an attacker.
    Sensitive,
    /// Neither identifying nor sensitive.
    Insensitive,
}

use AttributeKind::{DirectIdentifier as D, QuasiIdentifier as Q, Sensitive as S};

/// Column-name words and phrases (words joined by `_`) with the role they suggest.
pub const DICTIONARY: &[(&str, AttributeKind)] = &[
    // Direct identifiers.
    ("name", D),
    ("full_name", D),
    ("first_name", D),
    ("last_name", D),
    ("surname", D),
    ("forename", D),
    ("given_name", D),
    ("family_name", D),
    ("middle_name", D),
    ("maiden_name", D),
    ("nickname", D),
    ("username", D),
    ("login", D),
    ("email", D),
    ("ssn", D),
    ("social_security", D),
    ("nin", D),
    ("national_id", D),
    ("national_insurance", D),
    ("passport", D),
    ("driver_license", D),
    ("drivers_license", D),
    ("driving_licence", D),
    ("license_number", D),
    ("licence_number", D),
    ("phone", D),
    ("telephone", D),
    ("tel", D),
    ("mobile", D),
    ("cellphone", D),
    ("fax", D),
    ("address", D),
    ("street", D),
    ("ip", D),
    ("ipv4", D),
    ("ipv6", D),
    ("mac_address", D),
    ("iban", D),
    ("account_number", D),
    ("bank_account", D),
    ("credit_card", D),
    ("card_number", D),
    ("ccn", D),
    ("mrn", D),
    ("medical_record", D),
    ("health_plan", D),
    ("beneficiary", D),
    ("tax_id", D),
    ("tin", D),
    ("vin", D),
    ("license_plate", D),
    ("plate_number", D),
    ("url", D),
    ("website", D),
    ("device_id", D),
    ("imei", D),
    ("uuid", D),
    ("guid", D),
    ("id", D),
    ("uid", D),
    ("identifier", D),
    ("fingerprint", D),
    ("photo", D),
    // Quasi-identifiers.
    ("zip", Q),
    ("zip_code", Q),
    ("postcode", Q),
    ("postal_code", Q),
    ("dob", Q),
    ("birth", Q),
    ("birthday", Q),
    ("birth_date", Q),
    ("date_of_birth", Q),
    ("birth_year", Q),
    ("year_of_birth", Q),
    ("yob", Q),
    ("age", Q),
    ("sex", Q),
    ("gender", Q),
    ("race", Q),
    ("ethnicity", Q),
    ("ethnic", Q),
    ("nationality", Q),
    ("citizenship", Q),
    ("native_country", Q),
    ("marital", Q),
    ("marital_status", Q),
    ("occupation", Q),
    ("job", Q),
    ("job_title", Q),
    ("profession", Q),
    ("employer", Q),
    ("workclass", Q),
    ("education", Q),
    ("degree", Q),
    ("city", Q),
    ("town", Q),
    ("county", Q),
    ("state", Q),
    ("province", Q),
    ("region", Q),
    ("country", Q),
    ("municipality", Q),
    ("district", Q),
    ("neighborhood", Q),
    ("neighbourhood", Q),
    ("latitude", Q),
    ("lat", Q),
    ("longitude", Q),
    ("lon", Q),
    ("lng", Q),
    ("gps", Q),
    ("location", Q),
    ("height", Q),
    ("weight", Q),
    ("language", Q),
    ("household_size", Q),
    ("children", Q),
    ("dependents", Q),
    ("relationship", Q),
    ("admission_date", Q),
    ("admit_date", Q),
    ("discharge_date", Q),
    ("death_date", Q),
    ("date_of_death", Q),
    ("visit_date", Q),
    ("service_date", Q),
    ("veteran", Q),
    // Sensitive attributes.
    ("diagnosis", S),
    ("diag", S),
    ("icd", S),
    ("disease", S),
    ("illness", S),
    ("medical_condition", S),
    ("health_condition", S),
    ("medication", S),
    ("medicine", S),
    ("drug", S),
    ("prescription", S),
    ("treatment", S),
    ("procedure", S),
    ("symptom", S),
    ("allergy", S),
    ("test_result", S),
    ("lab_result", S),
    ("hiv", S),
    ("cancer", S),
    ("pregnancy", S),
    ("disability", S),
    ("mental_health", S),
    ("health", S),
    ("salary", S),
    ("income", S),
    ("wage", S),
    ("wages", S),
    ("earnings", S),
    ("compensation", S),
    ("net_worth", S),
    ("credit_score", S),
    ("debt", S),
    ("religion", S),
    ("religious", S),
    ("political", S),
    ("political_party", S),
    ("sexual_orientation", S),
    ("sexuality", S),
    ("criminal", S),
    ("conviction", S),
    ("offense", S),
    ("offence", S),
    ("arrest", S),
    ("genetic", S),
    ("genotype", S),
    ("blood_type", S),
    ("trade_union", S),
    ("union_membership", S),
];

/// Below this many non-null values, uniqueness says little (3 rows are easily all
/// distinct) and is not used to downgrade or upgrade a suggestion.
pub const MIN_ROWS_FOR_UNIQUENESS: u64 = 20;
/// A column without a name hint whose values are at least this unique behaves like an
/// identifier.
pub const IDENTIFIER_UNIQUENESS: f64 = 0.9;
/// A column named like a direct identifier but less unique than this (first names, a
/// `country_id`) is suggested as a quasi-identifier instead.
pub const NAMED_IDENTIFIER_UNIQUENESS: f64 = 0.5;

/// What [`detect_qi`] needs to know about a column; engines can get it from one query
/// (`count(*)`, `count(col)`, `count(DISTINCT col)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnStats {
    pub name: String,
    pub rows: u64,
    pub non_null: u64,
    pub distinct: u64,
}

impl ColumnStats {
    /// Counts rows, non-null values (`Some`) and distinct non-null values.
    pub fn from_values<'a, I>(name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = Option<&'a str>>,
    {
        let (mut rows, mut non_null) = (0u64, 0u64);
        let mut seen: HashSet<&str> = HashSet::new();
        for v in values {
            rows += 1;
            if let Some(v) = v {
                non_null += 1;
                seen.insert(v);
            }
        }
        ColumnStats {
            name: name.to_string(),
            rows,
            non_null,
            distinct: seen.len() as u64,
        }
    }
}

/// The suggested role of one column and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QiSuggestion {
    pub column: String,
    pub kind: AttributeKind,
    /// The dictionary entry the name matched, if any.
    pub matched: Option<&'static str>,
    pub reason: String,
}

/// Suggests a role for each column, in order. Statistics that cannot be (more distinct
/// than non-null values, more non-null values than rows) are an error naming the column.
///
/// Rules, first match wins (`u` = distinct / non-null, "enough" = at least
/// [`MIN_ROWS_FOR_UNIQUENESS`] non-null values):
/// 1. no non-null value → insensitive;
/// 2. name suggests sensitive → sensitive (even if constant: a shared value is still
///    disclosed);
/// 3. a single distinct value → insensitive (it distinguishes no one);
/// 4. name suggests a direct identifier → direct identifier, unless there are enough
///    values and `u` < [`NAMED_IDENTIFIER_UNIQUENESS`]: then quasi-identifier;
/// 5. name suggests a quasi-identifier → quasi-identifier;
/// 6. no name hint, enough values and `u` ≥ [`IDENTIFIER_UNIQUENESS`] → direct identifier;
/// 7. otherwise → quasi-identifier (an unknown column could be known to an attacker;
///    mark it insensitive yourself if it cannot).
pub fn detect_qi(columns: &[ColumnStats]) -> Fallible<Vec<QiSuggestion>> {
    columns.iter().map(suggest).collect()
}

fn suggest(c: &ColumnStats) -> Fallible<QiSuggestion> {
    if c.distinct > c.non_null || c.non_null > c.rows || (c.non_null > 0 && c.distinct == 0) {
        return Err(VeilError::invalid(
            format!("columns.{}", c.name),
            format!(
                "statistics must satisfy 1 <= distinct <= non-null <= rows (0 distinct without \
                 values), got {} distinct, {} non-null, {} rows",
                c.distinct, c.non_null, c.rows
            ),
        ));
    }
    let hint = name_hint(&c.name);
    let ratio = if c.non_null == 0 {
        0.0
    } else {
        c.distinct as f64 / c.non_null as f64
    };
    let enough = c.non_null >= MIN_ROWS_FOR_UNIQUENESS;
    let uniqueness = format!(
        "{} of {} non-null values distinct ({:.0}%)",
        c.distinct,
        c.non_null,
        ratio * 100.0
    );
    let named = |kind: &str| {
        hint.map(|(word, _)| format!("name matches {word:?} ({kind})"))
            .unwrap_or_default()
    };
    let (kind, reason) = match hint.map(|(_, k)| k) {
        _ if c.non_null == 0 => (
            AttributeKind::Insensitive,
            format!("no non-null values in {} rows", c.rows),
        ),
        Some(S) => (
            S,
            format!(
                "{}; {uniqueness}: protect its values (e.g. l-diversity) rather than generalize",
                named("sensitive")
            ),
        ),
        hint_kind if c.distinct == 1 => {
            let prefix = match hint_kind {
                Some(_) => format!("{}, but ", named("identifying")),
                None => String::new(),
            };
            (
                AttributeKind::Insensitive,
                format!(
                    "{prefix}one value in all {} non-null rows: distinguishes no one",
                    c.non_null
                ),
            )
        }
        Some(D) if enough && ratio < NAMED_IDENTIFIER_UNIQUENESS => (
            Q,
            format!(
                "{}, but only {uniqueness}: generalize it as a quasi-identifier or remove it",
                named("usually a direct identifier")
            ),
        ),
        Some(D) => (D, format!("{}; {uniqueness}", named("direct identifier"))),
        Some(_) => {
            let note = if enough && ratio >= IDENTIFIER_UNIQUENESS {
                ": nearly unique, needs strong generalization"
            } else {
                ""
            };
            (
                Q,
                format!("{}; {uniqueness}{note}", named("quasi-identifier")),
            )
        }
        None if enough && ratio >= IDENTIFIER_UNIQUENESS => (
            D,
            format!("no known name, but {uniqueness}: values single out rows like an identifier"),
        ),
        None => (
            Q,
            format!(
                "no known name; {uniqueness}: treated as quasi-identifying to be safe (mark it \
                 insensitive if an attacker cannot know it)"
            ),
        ),
    };
    Ok(QiSuggestion {
        column: c.name.clone(),
        kind,
        matched: hint.map(|(word, _)| word),
        reason,
    })
}

/// The column name's words: lowercase, split at non-alphanumeric characters, at camelCase
/// boundaries (`patientSSN`, `SSNumber` → `ss number`) and between letters and digits.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some(prev) = i.checked_sub(1).map(|p| chars[p]) {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (prev.is_lowercase() && c.is_uppercase())
                || (prev.is_uppercase() && c.is_uppercase() && next_lower)
                || (prev.is_alphabetic() && c.is_numeric())
                || (prev.is_numeric() && c.is_alphabetic());
            if boundary && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The dictionary entry matching the most consecutive words of `name` (ties: direct
/// identifier, then quasi-identifier, then sensitive; then the first in the name).
fn name_hint(name: &str) -> Option<(&'static str, AttributeKind)> {
    let words = words(name);
    let rank = |k: AttributeKind| match k {
        D => 3,
        Q => 2,
        S => 1,
        AttributeKind::Insensitive => 0,
    };
    let mut best: Option<(usize, u8, &'static str, AttributeKind)> = None;
    for len in 1..=3.min(words.len()) {
        for window in words.windows(len) {
            let joined: String = window.concat();
            for (entry, kind) in DICTIONARY {
                if entry.replace('_', "") != joined {
                    continue;
                }
                let score = (len, rank(*kind));
                if best.is_none_or(|(l, r, _, _)| score > (l, r)) {
                    best = Some((len, rank(*kind), entry, *kind));
                }
            }
        }
    }
    best.map(|(_, _, entry, kind)| (entry, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttributeKind::*;

    fn stats(name: &str, rows: u64, non_null: u64, distinct: u64) -> ColumnStats {
        ColumnStats {
            name: name.into(),
            rows,
            non_null,
            distinct,
        }
    }

    fn kind(name: &str, rows: u64, non_null: u64, distinct: u64) -> AttributeKind {
        detect_qi(&[stats(name, rows, non_null, distinct)]).unwrap()[0].kind
    }

    #[test]
    fn splits_names_into_words() {
        assert_eq!(words("PatientSSN"), ["patient", "ssn"]);
        assert_eq!(words("SSNumber"), ["ss", "number"]);
        assert_eq!(words("date_of_birth"), ["date", "of", "birth"]);
        assert_eq!(words("e-mail Address"), ["e", "mail", "address"]);
        assert_eq!(words("zip5"), ["zip", "5"]);
        assert_eq!(words("ICD10Code"), ["icd", "10", "code"]);
        assert_eq!(words("  __ "), Vec::<String>::new());
    }

    #[test]
    fn name_hints() {
        let hint = name_hint;
        assert_eq!(hint("FirstName"), Some(("first_name", DirectIdentifier)));
        assert_eq!(hint("firstname"), Some(("first_name", DirectIdentifier)));
        assert_eq!(hint("e-mail"), Some(("email", DirectIdentifier)));
        assert_eq!(hint("PatientSSN"), Some(("ssn", DirectIdentifier)));
        assert_eq!(hint("ZIP"), Some(("zip", QuasiIdentifier)));
        assert_eq!(hint("zip5"), Some(("zip", QuasiIdentifier)));
        assert_eq!(hint("PostalCode"), Some(("postal_code", QuasiIdentifier)));
        assert_eq!(hint("DOB"), Some(("dob", QuasiIdentifier)));
        assert_eq!(hint("birthdate"), Some(("birth_date", QuasiIdentifier)));
        assert_eq!(
            hint("Date of Birth"),
            Some(("date_of_birth", QuasiIdentifier))
        );
        assert_eq!(hint("icd10_code"), Some(("icd", Sensitive)));
        assert_eq!(hint("ipv4"), Some(("ipv4", DirectIdentifier)));
        // The longest phrase wins: not `sex`.
        assert_eq!(
            hint("sexual_orientation"),
            Some(("sexual_orientation", Sensitive))
        );
        // Ties go to the more protective role.
        assert_eq!(hint("employer_name"), Some(("name", DirectIdentifier)));
        // Whole words only.
        for none in [
            "usage", "message", "homepage", "sussex", "tellers", "notes", "",
        ] {
            assert_eq!(hint(none), None, "{none}");
        }
    }

    #[test]
    fn suggestions_on_hand_made_columns() {
        assert_eq!(kind("email", 30, 30, 30), DirectIdentifier);
        // A name column with few distinct values: quasi-identifier.
        assert_eq!(kind("first_name", 100, 100, 30), QuasiIdentifier);
        // … unless there are too few values to judge.
        assert_eq!(kind("FirstName", 5, 5, 2), DirectIdentifier);
        assert_eq!(kind("customer_id", 100, 100, 100), DirectIdentifier);
        assert_eq!(kind("country_id", 100, 100, 12), QuasiIdentifier);
        assert_eq!(kind("ZIP", 100, 98, 12), QuasiIdentifier);
        assert_eq!(kind("date_of_birth", 100, 100, 95), QuasiIdentifier);
        assert_eq!(kind("Diagnosis", 100, 100, 7), Sensitive);
        // Nearly unique but named sensitive.
        assert_eq!(kind("salary", 100, 100, 99), Sensitive);
        // A constant sensitive column still discloses its value.
        assert_eq!(kind("hiv_status", 50, 50, 1), Sensitive);
        assert_eq!(kind("order_total", 100, 100, 100), DirectIdentifier);
        assert_eq!(kind("order_total", 10, 10, 10), QuasiIdentifier);
        assert_eq!(kind("notes", 100, 80, 40), QuasiIdentifier);
        assert_eq!(kind("country", 100, 100, 1), Insensitive);
        assert_eq!(kind("email", 100, 0, 0), Insensitive);
        assert_eq!(kind("anything", 0, 0, 0), Insensitive);
    }

    #[test]
    fn reasons_say_why() {
        let out = detect_qi(&[
            stats("first_name", 100, 100, 30),
            stats("zip", 100, 100, 95),
            stats("serial", 40, 40, 40),
            stats("country", 10, 10, 1),
        ])
        .unwrap();
        assert_eq!(out[0].column, "first_name");
        assert_eq!(out[0].matched, Some("first_name"));
        assert!(
            out[0].reason.contains("usually a direct identifier"),
            "{}",
            out[0].reason
        );
        assert!(out[0]
            .reason
            .contains("30 of 100 non-null values distinct (30%)"));
        assert!(out[1].reason.contains("nearly unique"), "{}", out[1].reason);
        assert_eq!(out[2].matched, None);
        assert!(
            out[2].reason.contains("single out rows"),
            "{}",
            out[2].reason
        );
        assert!(
            out[3].reason.contains("distinguishes no one"),
            "{}",
            out[3].reason
        );
        // Deterministic and in input order.
        let again = detect_qi(&[
            stats("first_name", 100, 100, 30),
            stats("zip", 100, 100, 95),
            stats("serial", 40, 40, 40),
            stats("country", 10, 10, 1),
        ])
        .unwrap();
        assert_eq!(out, again);
    }

    #[test]
    fn stats_from_values() {
        let values = [Some("a"), None, Some("b"), Some("a"), None];
        let s = ColumnStats::from_values("x", values);
        assert_eq!(s, stats("x", 5, 3, 2));
        let emails: Vec<String> = (0..25).map(|i| format!("p{i}@example.org")).collect();
        let s = ColumnStats::from_values("Email", emails.iter().map(|e| Some(e.as_str())));
        let out = detect_qi(&[s]).unwrap();
        assert_eq!(out[0].kind, DirectIdentifier);
        assert!(out[0].reason.contains("25 of 25"));
    }

    #[test]
    fn impossible_statistics_are_refused() {
        for (n, nn, d) in [(10, 10, 11), (10, 11, 5), (10, 5, 0)] {
            let e = detect_qi(&[stats("age", n, nn, d)])
                .unwrap_err()
                .to_string();
            assert!(e.contains("`columns.age`"), "{e}");
        }
    }

    #[test]
    fn dictionary_is_consistent() {
        for (i, (entry, _)) in DICTIONARY.iter().enumerate() {
            assert!(
                !entry.is_empty() && *entry == entry.to_lowercase(),
                "{entry}"
            );
            let key = entry.replace('_', "");
            assert!(
                DICTIONARY[..i]
                    .iter()
                    .all(|(e, _)| e.replace('_', "") != key),
                "{entry} appears twice"
            );
            assert!(
                entry.split('_').count() <= 3,
                "{entry}: at most 3 words match"
            );
            // Every entry is reachable through its own name.
            assert_eq!(name_hint(entry).map(|(w, _)| w), Some(*entry), "{entry}");
        }
    }
}
