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

/// ASCII bytes `\s` matches.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

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

    /// A small deterministic PRNG (xorshift64) for generated test texts.
    pub fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

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

    /// Texts of random tokens and separators that exercise every window's edges: PII
    /// shapes, their near misses, non-ASCII digits and spaces, glued punctuation.
    pub fn random_texts(n: usize, state: u64) -> Vec<String> {
        const TOKENS: &[&str] = &[
            "Apt",
            "#5",
            "Suite",
            "1600",
            "Pennsylvania",
            "Avenue",
            "Rua",
            "Via",
            "50",
            "Strickstrasse",
            "P.O.",
            "Box",
            "PSC",
            "APO",
            "AE",
            "New",
            "York",
            "Paris",
            "Parisian",
            "John",
            "Smith",
            "Dr.",
            "Monday",
            "holiday",
            "4111",
            "1111",
            "4111111111111111",
            "5555-5555-5555-4444",
            "536-22-1234",
            "536221234",
            "912-70-1234",
            "(212)",
            "555-0123",
            "+44",
            "20",
            "7946",
            "0958",
            "0044",
            "212.555.0123",
            "x459",
            "ext.",
            "2024-03-12T08:30:00Z",
            "12/03/1990",
            "March",
            "1990,",
            "Sept.",
            "12th",
            "of",
            "Dec.",
            "jan",
            "MAY",
            "1st",
            "T",
            "in",
            "1977",
            "jane.doe@example.com",
            "zoë@bücher.de",
            "https://example.com/a?b=c.",
            "www.example.org",
            "example.com",
            "http://localhost",
            "192.168.0.1",
            "1.2.3.4.5",
            "2001:db8::8a2e:370:7334",
            "::1",
            "fe80::1%eth0",
            "00:1A:2b:3C:4d:5E",
            "001a.2b3c.4d5e",
            "GB82",
            "WEST",
            "1234",
            "5698",
            "7654",
            "DE89370400440532013000",
            "gb82west12345698765432",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "account",
            "routing",
            "011000015",
            "1234567893",
            "passport",
            "A12345678",
            "D1234567",
            "NHS",
            "943",
            "476",
            "5919",
            "AB",
            "34",
            "56",
            "C",
            "JG103729A",
            "SSN",
            "٤١١١",
            "١١١١",
            "٨٨٨٨٨٨٨٨",
            "\u{a0}",
            "\u{2003}",
            "Grüße",
            "\u{212a}",
            "\u{17f}",
            "1",
            "2",
            "3",
            "9",
            "0",
            "12",
        ];
        const SEPARATORS: &[&str] = &[
            " ", " ", " ", "", "", ", ", ". ", "-", "\t", "\n", "/", ":", "#", ".", "@", "%", "(",
            ")", "'",
        ];
        let mut next = crate::pii::recognizers::test_util::xorshift(state);
        (0..n)
            .map(|_| {
                let mut t = String::new();
                for _ in 0..(next() % 16 + 1) {
                    t.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
                    t.push_str(SEPARATORS[(next() % SEPARATORS.len() as u64) as usize]);
                }
                t
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::{Candidate, PatternRecognizer};

    /// Searching only the windows finds exactly what searching the whole text finds.
    #[test]
    fn windows_find_what_whole_text_search_finds() {
        let all = patterns();
        let mut found = 0;
        let mut texts = test_util::random_texts(4000, 0x9E37_79B9_7F4A_7C15);
        // Other scripts between and around the tokens: windows that stop at characters
        // no match can hold (and the ones they must not stop at: digits, spaces, ſ, K).
        for (i, t) in test_util::random_texts(1500, 0x0C1C_C1D0_5C21_9715)
            .iter()
            .enumerate()
        {
            let glue = [
                "Иван", "电话", "ж", "٤", "\u{a0}", "\u{2003}", "ſ", "\u{212a}", "é",
            ][i % 9];
            texts.push(t.replace(' ', glue));
            texts.push(t.replace(", ", &format!(" {glue} ")));
            texts.push(format!("{glue}{t}{glue}"));
        }
        for text in texts {
            for r in &all {
                let (mut windowed, mut whole) = (Vec::<Candidate>::new(), Vec::new());
                r.find(&text, &mut windowed);
                r.find_whole(&text, &mut whole);
                assert_eq!(windowed, whole, "{:?} in {text:?}", r.entity());
                found += whole.len();
            }
        }
        assert!(found > 4000, "the texts should contain PII: {found}");
    }

    /// [`Recognizer::find_unboosted`] finds what [`Recognizer::find_in`] finds, and
    /// [`Recognizer::boosted`] gives its score, one of the base score and the base score
    /// raised by [`Recognizer::context_boost`].
    #[test]
    fn unboosted_candidates_boost_to_found_ones() {
        let all = builtin();
        let (mut found, mut raised) = (0, 0);
        for text in test_util::random_texts(3000, 0xBB67_AE85_84CA_A73B) {
            let mut marks = Vec::new();
            let scan = crate::pii::Scan::new(&text, &mut marks);
            for r in &all {
                let (mut exact, mut base) = (Vec::<Candidate>::new(), Vec::new());
                r.find_in(&text, &scan, &mut exact);
                r.find_unboosted(&text, &scan, &mut base);
                assert_eq!(exact.len(), base.len(), "{:?} in {text:?}", r.entity());
                for (e, b) in exact.iter().zip(&base) {
                    assert_eq!((e.entity, &e.range), (b.entity, &b.range), "{text:?}");
                    assert_eq!(r.boosted(&text, b), e.score, "{text:?}");
                    let alt = (b.score + r.context_boost()).min(1.0);
                    assert!(e.score == b.score || e.score == alt, "{text:?}");
                    raised += usize::from(e.score != b.score);
                }
                found += exact.len();
            }
        }
        assert!(found > 4000 && raised > 200, "{found} {raised}");
    }

    /// Each built-in recognizer's [`Recognizer::needs`] (by which the analyzer skips it)
    /// holds wherever it finds anything.
    #[test]
    fn needs_hold_wherever_candidates_are_found() {
        let all = builtin();
        let mut texts = test_util::random_texts(4000, 0x6A09_E667_F3BC_C908);
        texts.extend(["", "x", "Paris", "MAY 2020", "ok 1234567"].map(String::from));
        let (mut found, mut skipped) = (0, 0);
        for text in &texts {
            let mut marks = Vec::new();
            let scan = crate::pii::Scan::new(text, &mut marks);
            for r in &all {
                let mut out: Vec<Candidate> = Vec::new();
                r.find_in(text, &scan, &mut out);
                let met = r.needs().met_by(&scan);
                assert!(met || out.is_empty(), "{:?} in {text:?}", r.entity());
                skipped += usize::from(!met);
                found += out.len();
            }
        }
        assert!(found > 4000 && skipped > 4000, "{found} {skipped}");
    }

    /// The class conditions of the recognizers' needs: each stated one is in force (its
    /// class is made of whole atoms), every candidate lies in a run of its class holding
    /// that many ASCII digits, and [`Scan::window_digits_at_least`] holds wherever such a
    /// run exists (it is allowed to hold elsewhere, across gaps too long to read).
    #[test]
    fn class_digit_needs_hold() {
        let stated = [
            (phone_number(), 7),
            (credit_card(), 12),
            (aba_routing_number(), 9),
            (us_ssn(), 9),
            (us_itin(), 9),
            (uk_nhs(), 10),
            (us_passport(), 8),
            (us_driver_license(), 4),
            (uk_nino(), 6),
        ];
        let mut texts: Vec<String> = test_util::random_texts(4000, 0x1F83_D9AB_FB41_BD6B)
            .into_iter()
            .filter(|t| t.is_ascii())
            .collect();
        // Digit groups far apart, with a long gap in or out of the classes between them.
        for (i, t) in test_util::random_texts(600, 0x5BE0_CD19_137E_2179)
            .iter()
            .filter(|t| t.is_ascii())
            .enumerate()
        {
            let gap = [
                "                                          ",
                "-".repeat(40).as_str(),
                "and so on and so forth, for a long while",
            ][i % 3]
                .to_string();
            texts.push(format!("4111 1111 {gap} 1111 1111 {t}"));
        }
        let (mut found, mut skipped) = (0, 0);
        for (r, n) in &stated {
            let needs = r.needs();
            assert_eq!(needs.class_digits, *n, "{:?}", r.entity());
            let w = r.windows().expect("windowed");
            for text in &texts {
                let mut marks = Vec::new();
                let scan = crate::pii::Scan::new(text, &mut marks);
                // The runs of the class, with their ASCII digits.
                let b = text.as_bytes();
                let mut runs = Vec::new();
                let mut i = 0;
                while i < b.len() {
                    let start = i;
                    while i < b.len() && w.takes(b[i]) {
                        i += 1;
                    }
                    if i > start {
                        runs.push((
                            start,
                            i,
                            b[start..i].iter().filter(|c| c.is_ascii_digit()).count(),
                        ));
                    } else {
                        i += 1;
                    }
                }
                let exists = runs.iter().any(|r| r.2 >= *n);
                let met = scan.window_digits_at_least(needs.class, *n);
                assert!(met || !exists, "{:?} in {text:?}", r.entity());
                skipped += usize::from(!met);
                let mut out = Vec::new();
                r.find_whole(text, &mut out);
                for c in &out {
                    let run = runs
                        .iter()
                        .find(|r| r.0 <= c.range.start && c.range.end <= r.1)
                        .unwrap_or_else(|| panic!("{:?} {c:?} in {text:?}", r.entity()));
                    assert!(run.2 >= *n, "{:?} {c:?} in {text:?}", r.entity());
                    found += 1;
                }
            }
        }
        // The other recognizers state none.
        for r in builtin() {
            if !stated.iter().any(|(s, _)| s.entity() == r.entity()) {
                assert_eq!(r.needs().class_digits, 0, "{:?}", r.entity());
            }
        }
        assert!(found > 1000 && skipped > 5000, "{found} {skipped}");
    }

    /// Recognizers whose windows are digit runs need a digit run as long as their shortest
    /// window: the year one 4 bytes, the bank-number one 8; a non-ASCII text may have
    /// longer runs than its digit marks (non-ASCII bytes are in every class), so it meets
    /// any length.
    #[test]
    fn digit_run_needs() {
        let (year, bank) = (year(), us_bank_number());
        assert_eq!(year.needs().min_digit_run, 4);
        assert_eq!(bank.needs().min_digit_run, 8);
        // The phone number's windows take spaces and letters too: no length condition.
        assert_eq!(phone_number().needs().min_digit_run, 0);
        for (text, bound, year_met, bank_met) in [
            ("in 201 or 9", 3, false, false),
            ("in 2019", 4, true, false),
            ("acct 1234 5678", 4, true, false),
            ("acct 12345678", 8, true, true),
            ("acct 1234é5678", usize::MAX, true, true),
        ] {
            let mut marks = Vec::new();
            let scan = crate::pii::Scan::new(text, &mut marks);
            assert_eq!(scan.digit_run_bound, bound, "{text:?}");
            assert_eq!(year.needs().met_by(&scan), year_met, "{text:?}");
            assert_eq!(bank.needs().met_by(&scan), bank_met, "{text:?}");
        }
    }

    /// Every built-in pattern recognizer, in registry order.
    fn patterns() -> Vec<PatternRecognizer> {
        vec![
            email(),
            phone_number(),
            url(),
            credit_card(),
            iban_code(),
            crypto(),
            us_bank_number(),
            aba_routing_number(),
            ip_address(),
            mac_address(),
            date_time(),
            weekday(),
            year(),
            us_ssn(),
            us_itin(),
            us_npi(),
            us_passport(),
            us_driver_license(),
            uk_nhs(),
            uk_nino(),
        ]
    }

    /// The hand-written shape matchers (see `pii::shape`) change no recognizer's
    /// candidates, nor the analyzer's spans, against running the regexes everywhere.
    #[test]
    fn shapes_change_no_result() {
        let fast = patterns();
        let slow: Vec<PatternRecognizer> =
            patterns().into_iter().map(|r| r.without_shape()).collect();
        let mut texts = test_util::random_texts(4000, 0xD1B5_4A32_D192_ED03);
        texts.extend(
            test_util::random_texts(200, 3)
                .iter()
                .map(|t| t.replace(' ', "")),
        );
        let mut found = 0;
        for text in &texts {
            for (f, s) in fast.iter().zip(&slow) {
                let (mut a, mut b) = (Vec::<Candidate>::new(), Vec::new());
                f.find(text, &mut a);
                s.find(text, &mut b);
                assert_eq!(a, b, "{:?} in {text:?}", f.entity());
                found += a.len();
            }
        }
        assert!(found > 4000, "the texts should contain PII: {found}");
        let boxed = |rs: Vec<PatternRecognizer>| -> Vec<Box<dyn Recognizer>> {
            let mut v: Vec<Box<dyn Recognizer>> = rs
                .into_iter()
                .map(|r| Box::new(r) as Box<dyn Recognizer>)
                .collect();
            v.push(Box::new(person()));
            v.push(Box::new(location()));
            v
        };
        let fast = crate::pii::Analyzer::new(boxed(patterns()), 0.0);
        let slow = crate::pii::Analyzer::new(
            boxed(patterns().into_iter().map(|r| r.without_shape()).collect()),
            0.0,
        );
        for text in &texts {
            assert_eq!(fast.analyze(text), slow.analyze(text), "{text:?}");
        }
    }
}
