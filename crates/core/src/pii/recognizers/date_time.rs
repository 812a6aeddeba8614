//! DATE_TIME: calendar dates in numeric and written forms, with an optional time.

use std::ops::Range;

use super::is_space;
use super::matched;
use crate::pii::recognizer::ascii_digits_at_least;
use crate::pii::shape;
use crate::pii::{seed, EntityType, Mark, PatternRecognizer, Scan, Windows};

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// DATE_TIME: ISO 8601 (`2024-03-12`, `2024-03-12T08:30:00Z`), numeric day/month/year
/// (`12/03/2024`, `3.12.24`) and written dates (`12 March 2024`, `March 12th, 2024`,
/// `Mar 2024`). Day, month and leap years are checked.
pub fn date_time() -> PatternRecognizer {
    let iso = r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b";
    let numeric = r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b";
    let written = format!(
        r"(?i)\b(?:\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{MONTH}\.?,?\s+\d{{4}}|{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|{MONTH}\.?\s+\d{{4}})\b"
    );
    let pattern = format!("{iso}|{numeric}|{written}");
    PatternRecognizer::new(
        EntityType::DateTime,
        &pattern,
        validate_date,
        &[
            "date", "born", "birth", "dob", "since", "until", "expires", "expiry",
        ],
        0.15,
    )
    .expect("built-in date pattern compiles")
    .with_required_byte(|b| b.is_ascii_digit())
    // Letters, digits, spaces and `-/.:+,`; every match has a `\d` and the validator wants
    // four ASCII digits (a year, or day, month and a two-digit year). Every form has a
    // byte other than an ASCII digit (a separator, or a month name and a space), so runs of
    // ASCII digits alone ("#1234") are skipped. In an ASCII text the windows are chains of
    // digit runs (see `date_windows`).
    .with_windows(
        Windows::new(
            seed::DIGITS,
            |b| {
                b.is_ascii_alphanumeric()
                    || is_space(b)
                    || matches!(b, b'-' | b'/' | b'.' | b':' | b'+' | b',')
            },
            // (In an ASCII text `date_windows` decides.)
            |run| ascii_digits_at_least(run, 4) && !run.iter().all(u8::is_ascii_digit),
        )
        .non_ascii(|c| c.is_numeric() || c.is_whitespace() || matches!(c, '\u{17f}' | '\u{212a}'))
        .min_digits(4)
        .min_len(4)
        .ascii(date_windows),
    )
}

/// The windows of DATE_TIME in an ASCII text, far narrower than the runs of its class
/// (which take whole sentences): chains of digit runs whose gaps a date can hold, each
/// from the month name right before its first run to its last run and a `Z` after it;
/// only the chains that may hold a date the validator accepts.
///
/// Why every match lies inside a chain: a match's letters are month names, ordinal
/// suffixes, "of" and the `T` of ISO times (each a whole run of letters: a digit, `\b`
/// or `\s` borders each), its other bytes digits, ASCII whitespace and `-/.:+,`. So the
/// gaps between its digit runs are gaps [`date_gap`] accepts, and its digit runs lie in
/// one chain. It starts at a digit run or at a month name that `\.?\s+` separates from
/// its first digit run (which, having no digit run of the match before it, begins a chain
/// or lies inside one), and ends at its last digit run or at a `Z` right after it.
///
/// Which chains may hold an accepted date: ones with four digits (a year, or day, month
/// and a two-digit year) and a month name (a written date), or else the numeric or ISO
/// form, which need three digit runs joined by single separators and bounded by `\b`:
/// of 1–2, 1–2 and 2 or 4 digits with `/.-`, or of 4, 2 and 2 with `-` (phone numbers,
/// card numbers and SSNs have neither).
fn date_windows(scan: &Scan, window: &mut dyn FnMut(usize, usize)) {
    let t = scan.text();
    let marks = scan.digit_marks();
    // Whether run `a` is followed by one byte of `seps` and then run `b`.
    let joined = |a: &Mark, b: &Mark, seps: &[u8]| a.end + 1 == b.start && seps.contains(&t[a.end]);
    let len = |m: &Mark| m.end - m.start;
    let mut i = 0;
    while i < marks.len() {
        let first = i;
        let mut month = false;
        let mut digits = len(&marks[i]);
        let mut shaped = false;
        while i + 1 < marks.len() {
            let (gap_ok, gap_month) = date_gap(&t[marks[i].end..marks[i + 1].start]);
            if !gap_ok {
                break;
            }
            i += 1;
            month |= gap_month;
            digits += len(&marks[i]);
            if i >= first + 2 && !shaped {
                let (a, b, c) = (&marks[i - 2], &marks[i - 1], &marks[i]);
                let (la, lb, lc) = (len(a), len(b), len(c));
                shaped = (la <= 2
                    && lb <= 2
                    && (lc == 2 || lc == 4)
                    && joined(a, b, b"/.-")
                    && joined(b, c, b"/.-"))
                    || (la == 4 && lb == 2 && lc == 2 && joined(a, b, b"-") && joined(b, c, b"-"));
            }
        }
        let mut end = marks[i].end;
        if t.get(end) == Some(&b'Z') {
            end += 1;
        }
        i += 1;
        if digits < 4 {
            continue;
        }
        // (Looked for only now: most chains have fewer digits.)
        let start = month_before(t, marks[first].start);
        month |= start < marks[first].start;
        if month || shaped {
            window(start, end);
        }
    }
}

/// The start of the month name that `\s+` and an optional dot separate from `pos`, or
/// `pos` (ASCII text).
fn month_before(t: &[u8], pos: usize) -> usize {
    let mut j = pos;
    while j > 0 && is_space(t[j - 1]) {
        j -= 1;
    }
    if j == pos {
        return pos;
    }
    if j > 0 && t[j - 1] == b'.' {
        j -= 1;
    }
    let end = j;
    while j > 0 && t[j - 1].is_ascii_alphabetic() {
        j -= 1;
    }
    if is_month(&t[j..end]) {
        j
    } else {
        pos
    }
}

/// Whether a date can hold `gap`, the bytes between two digit runs of an ASCII text:
/// ASCII whitespace, `-/.:+,` and runs of letters that are month names, ordinal
/// suffixes, "of" or `T`; and whether it has a month name.
fn date_gap(gap: &[u8]) -> (bool, bool) {
    let mut month = false;
    let mut k = 0;
    while k < gap.len() {
        let b = gap[k];
        if b.is_ascii_alphabetic() {
            let s = k;
            while k < gap.len() && gap[k].is_ascii_alphabetic() {
                k += 1;
            }
            match date_word(&gap[s..k]) {
                Some(is_month) => month |= is_month,
                None => return (false, month),
            }
        } else if is_space(b) || matches!(b, b'-' | b'/' | b'.' | b':' | b'+' | b',') {
            k += 1;
        } else {
            return (false, month);
        }
    }
    (true, month)
}

/// Whether `word` (ASCII letters) is a month name [`MONTH`] takes, in any case.
pub(super) fn is_month(word: &[u8]) -> bool {
    date_word(word) == Some(true)
}

/// For a month name: `Some(true)`; for another word a date can hold: `Some(false)`; else
/// `None` (any case).
fn date_word(word: &[u8]) -> Option<bool> {
    let mut lower = [0u8; 9];
    let lower = lower.get_mut(..word.len())?;
    for (l, b) in lower.iter_mut().zip(word) {
        *l = b.to_ascii_lowercase();
    }
    match &*lower {
        b"jan" | b"january" | b"feb" | b"february" | b"mar" | b"march" | b"apr" | b"april"
        | b"may" | b"jun" | b"june" | b"jul" | b"july" | b"aug" | b"august" | b"sep" | b"sept"
        | b"september" | b"oct" | b"october" | b"nov" | b"november" | b"dec" | b"december" => {
            Some(true)
        }
        b"st" | b"nd" | b"rd" | b"th" | b"of" | b"t" => Some(false),
        _ => None,
    }
}

/// DATE_TIME: a weekday name ("on Tuesday morning").
pub fn weekday() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::DateTime,
        r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b",
        |_, m| Some((m, 0.5)),
        &[],
        0.0,
    )
    .expect("built-in weekday pattern compiles")
    .with_shape(&shape::WEEKDAY)
    .with_required_byte(|b| b == b'y')
    .with_windows(
        Windows::new(
            seed::Y,
            |b| b.is_ascii_alphabetic(),
            |run| run.windows(3).any(|w| w == b"day"),
        )
        .non_ascii(|_| false)
        .text(day_text)
        .min_len(3),
    )
}

/// What every weekday match asks of the whole text: a `y` mark right after "da".
fn day_text(scan: &Scan) -> bool {
    let t = scan.text();
    scan.marks()
        .iter()
        .any(|m| m.kinds == seed::Y && m.start >= 2 && &t[m.start - 2..m.start] == b"da")
}

/// Words that, right before a four-digit number from 1900 to 2099, make it a year.
const YEAR_LEAD_WORDS: &[&str] = &[
    "in", "during", "since", "of", "from", "until", "till", "by", "year", "circa", "before",
    "after", "early", "late", "mid", "summer", "winter", "spring", "autumn", "fall",
];

/// DATE_TIME: a year 1900–2099 right after a word such as "in", "since", "during", "of"
/// ("founded in 1977", "the Civil Rights Act of 2004").
pub fn year() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::DateTime,
        r"\b(?:19|20)\d{2}\b",
        |text, m| {
            let after = text[m.end..].chars().next();
            let numeric_after = after.is_some_and(|c| c.is_ascii_digit() || c == '%');
            (!numeric_after && year_lead_word_before(text, m.start)).then_some((m, 0.6))
        },
        &[],
        0.0,
    )
    .expect("built-in year pattern compiles")
    .with_shape(&shape::YEAR)
    .with_required_byte(|b| b == b'1' || b == b'2')
    // A match is a whole window: `\b` never holds between two digits, and a window is a
    // run of digits (and non-ASCII characters, which may be digits `\d` takes). So an
    // ASCII window is four digits starting 19 or 20.
    .with_windows(
        Windows::new(
            seed::DIGITS_1_OR_2,
            |b| b.is_ascii_digit(),
            |run| {
                if run.is_ascii() {
                    run.len() == 4 && (run.starts_with(b"19") || run.starts_with(b"20"))
                } else {
                    run.len() >= 4
                }
            },
        )
        .non_ascii(char::is_numeric)
        .min_digits(4)
        .min_len(4),
    )
}

/// Whether the letters right before `pos` (after trimming spaces and commas), lower-cased,
/// are one of [`YEAR_LEAD_WORDS`].
fn year_lead_word_before(text: &str, pos: usize) -> bool {
    let before = text[..pos].trim_end_matches([' ', ',']);
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphabetic())
        .last()
        .map_or(before.len(), |(i, _)| i);
    let word = &before[start..];
    if word.is_ascii() {
        // ASCII lower-cases byte by byte: no allocation.
        return YEAR_LEAD_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word));
    }
    YEAR_LEAD_WORDS.contains(&word.to_lowercase().as_str())
}

fn days_in_month(month: u32, year: Option<i32>) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 => match year {
            Some(y) if !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) => 28,
            _ => 29,
        },
        _ => 31,
    }
}

fn valid_day(day: u32, month: u32, year: Option<i32>) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(month, year)
}

fn validate_date(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    let is_iso = value.len() >= 10
        && value.as_bytes()[4] == b'-'
        && value[..4].bytes().all(|b| b.is_ascii_digit());
    if !is_iso && value.bytes().any(|b| b.is_ascii_alphabetic()) {
        // written form: check the day if one is given (one or two numbers)
        let mut nums = value
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse::<u32>().ok());
        return match (nums.next(), nums.next(), nums.next()) {
            (Some(year), None, _) if (1000..=2999).contains(&year) => Some((m, 0.6)),
            (Some(day), Some(year), None)
                if (1000..=2999).contains(&year) && (1..=31).contains(&day) =>
            {
                Some((m, 0.7))
            }
            _ => None,
        };
    }
    // The first three fields (the pattern guarantees them), split at ASCII bytes (which
    // are never inside another character).
    let (p0, p1, p2) = three_fields(value)?;
    let num = |s: &str| s.parse::<u32>().ok();
    if is_iso {
        let (y, mo, d) = (num(p0)?, num(p1)?, num(p2)?);
        return valid_day(d, mo, Some(y as i32)).then_some((m, 0.75));
    }
    let (a, b, y) = (num(p0)?, num(p1)?, p2);
    let year = y.parse::<i32>().ok()?;
    let year = if y.len() == 2 { None } else { Some(year) };
    // day-month or month-day: valid either way counts
    let ok = valid_day(a, b, year) || valid_day(b, a, year);
    // (The three fields parsed: the value is ASCII digits and separators.)
    let separators_agree = {
        let mut seps = value.bytes().filter(|c| !c.is_ascii_digit());
        let first = seps.next();
        seps.all(|c| Some(c) == first)
    };
    (ok && separators_agree).then_some((m, if y.len() == 4 { 0.6 } else { 0.45 }))
}

/// The first three fields of `value` split at `-/.T :`, as `str::split` gives them.
fn three_fields(value: &str) -> Option<(&str, &str, &str)> {
    let mut seps = value
        .bytes()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'-' | b'/' | b'.' | b'T' | b' ' | b':'))
        .map(|(i, _)| i);
    let first = seps.next()?;
    let second = seps.next()?;
    let third = seps.next().unwrap_or(value.len());
    Some((
        &value[..first],
        &value[first + 1..second],
        &value[second + 1..third],
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{finds, rejects};
    use super::*;

    /// The validator as first written, collecting the fields into vectors: what
    /// [`validate_date`] is compared with.
    fn validate_date_collected(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
        let value = matched(text, &m);
        let is_iso = value.len() >= 10
            && value.as_bytes()[4] == b'-'
            && value[..4].bytes().all(|b| b.is_ascii_digit());
        if !is_iso && value.bytes().any(|b| b.is_ascii_alphabetic()) {
            // written form: check the day if one is given
            let nums: Vec<u32> = value
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|s| s.parse().ok())
                .collect();
            return match nums.as_slice() {
                [year] if (1000..=2999).contains(year) => Some((m, 0.6)),
                [day, year] if (1000..=2999).contains(year) && (1..=31).contains(day) => {
                    Some((m, 0.7))
                }
                _ => None,
            };
        }
        let parts: Vec<&str> = value.split(['-', '/', '.', 'T', ' ', ':']).collect();
        let num = |s: &str| s.parse::<u32>().ok();
        if is_iso {
            let (y, mo, d) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
            return valid_day(d, mo, Some(y as i32)).then_some((m, 0.75));
        }
        let (a, b, y) = (num(parts[0])?, num(parts[1])?, parts[2]);
        let year = y.parse::<i32>().ok()?;
        let year = if y.len() == 2 { None } else { Some(year) };
        // day-month or month-day: valid either way counts
        let ok = valid_day(a, b, year) || valid_day(b, a, year);
        let separators_agree = {
            let seps: Vec<char> = value.chars().filter(|c| !c.is_ascii_digit()).collect();
            seps.windows(2).all(|w| w[0] == w[1])
        };
        (ok && separators_agree).then_some((m, if y.len() == 4 { 0.6 } else { 0.45 }))
    }

    #[test]
    fn validate_date_agrees_with_collecting_version() {
        let r = regex::Regex::new(date_time().pattern_text()).unwrap();
        let mut next = super::super::test_util::xorshift(0x9B05_688C_2B3E_6C1F);
        let nums = [
            "1", "3", "9", "12", "31", "29", "30", "02", "13", "00", "24", "2024", "1999", "2100",
            "0999",
        ];
        let seps = ["-", "/", ".", " ", ":", "T", ", "];
        let words = ["March", "feb", "Sept.", "MAY", "of", "th", "on"];
        let mut pick = |list: &[&'static str]| list[(next() % list.len() as u64) as usize];
        let mut matched = 0;
        let mut accepted = 0;
        for _ in 0..100_000 {
            let mut text = String::new();
            for _ in 0..5 {
                let kind = pick(&["n", "n", "n", "w", "s"]);
                text.push_str(match kind {
                    "n" => pick(&nums),
                    "w" => pick(&words),
                    _ => "",
                });
                text.push_str(pick(&seps));
            }
            for m in r.find_iter(&text) {
                let range = m.range();
                let got = validate_date(&text, range.clone());
                assert_eq!(got, validate_date_collected(&text, range), "{text:?}");
                matched += 1;
                accepted += usize::from(got.is_some());
            }
        }
        assert!(matched > 3000 && accepted > 500, "{matched} {accepted}");
    }

    #[test]
    fn dates() {
        let r = date_time();
        finds(&r, "on 2024-03-12.", "2024-03-12");
        finds(&r, "at 2024-03-12T08:30:00Z", "2024-03-12T08:30:00Z");
        finds(&r, "born 12/03/1990", "12/03/1990");
        finds(&r, "born 29.02.2024", "29.02.2024");
        finds(&r, "born 12 March 1990, in", "12 March 1990");
        finds(&r, "since March 12th, 1990", "March 12th, 1990");
        finds(&r, "in Sept. 2021 we", "Sept. 2021");
        rejects(&r, "2023-02-29");
        rejects(&r, "13/13/2020");
        rejects(&r, "12/03-1990");
        rejects(&r, "version 1.2.3");
    }

    /// The windows are the date-shaped chains of digit runs, not the sentences around them
    /// (nor phone numbers, SSNs or card numbers).
    #[test]
    fn date_windows_are_narrow() {
        let windows = |text: &str| {
            let mut buf = Vec::new();
            let scan = Scan::new(text, &mut buf);
            let mut found = Vec::new();
            date_windows(&scan, &mut |s, e| found.push(text[s..e].to_string()));
            found
        };
        assert_eq!(
            windows("Call 555-0123 on 12 March 1990, born Sept. 3rd, 1990 at 2024-03-12T08:30Z!"),
            ["12 March 1990", "Sept. 3rd, 1990", "2024-03-12T08:30Z"]
        );
        assert_eq!(
            windows("room 12 of 30 in may 2024, the 3rd of 2024"),
            ["may 2024"]
        );
        assert_eq!(
            windows("1/2/3 and 12/1/2024, 1/2/345 and 1234-12-12"),
            ["12/1/2024, 1/2/345", "1234-12-12"]
        );
        assert_eq!(
            windows("555-123-4567, 123-45-6789, 4111 1111 1111 1111, 2024-3-12, no digits"),
            Vec::<String>::new()
        );
    }

    /// The month names and date words are the ones the pattern takes, in any case.
    #[test]
    fn date_words_agree_with_the_pattern() {
        let month = regex::Regex::new(&format!("(?i)^{MONTH}$")).unwrap();
        let other = regex::Regex::new("(?i)^(?:st|nd|rd|th|of|t)$").unwrap();
        let mut words: Vec<String> = Vec::new();
        for w in [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
            "sept",
            "state",
            "thursday",
            "off",
        ] {
            for end in 1..=w.len() + 1 {
                let w = format!("{w}x");
                words.push(w[..end].to_string());
                words.push(w[..end].to_uppercase());
                words.push(w[..1].to_uppercase() + &w[1..end]);
            }
        }
        let mut months = 0;
        for w in &words {
            let want = month.is_match(w);
            assert_eq!(is_month(w.as_bytes()), want, "{w}");
            assert_eq!(
                date_word(w.as_bytes()).is_some(),
                want || other.is_match(w),
                "{w}"
            );
            months += usize::from(want);
        }
        assert!(months >= 3 * 24, "{months}");
    }

    /// The lead-word check finds what lower-casing the whole word finds.
    #[test]
    fn year_lead_word_agrees_with_lowercasing() {
        let reference = |text: &str, pos: usize| {
            let word: String = text[..pos]
                .trim_end_matches([' ', ','])
                .chars()
                .rev()
                .take_while(|c| c.is_alphabetic())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
                .to_lowercase();
            YEAR_LEAD_WORDS.contains(&word.as_str())
        };
        let mut texts = crate::pii::recognizers::test_util::random_texts(1000, 99);
        texts.extend(
            [
                "in 1999",
                "IN, 1999",
                "Since  2001",
                "ıN 2000",
                "İn 1990",
                "SİNCE 1990",
                "fAll 1990",
            ]
            .map(String::from),
        );
        let mut leads = 0;
        for text in &texts {
            for pos in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let want = reference(text, pos);
                assert_eq!(year_lead_word_before(text, pos), want, "{text:?} {pos}");
                leads += usize::from(want);
            }
        }
        assert!(leads >= 50, "{leads}");
    }

    #[test]
    fn weekdays_and_years() {
        finds(&weekday(), "flew on Tuesday morning", "Tuesday");
        rejects(&weekday(), "a holiday");
        finds(&year(), "was founded in 1977. Since", "1977");
        finds(&year(), "the Civil Rights Act of 2004 protects", "2004");
        finds(&year(), "During 1971, they", "1971");
        rejects(&year(), "ordered 1977 boxes");
        rejects(&year(), "in 2050%");
        rejects(&year(), "in 1850");
        finds(&year(), "IN 1999", "1999");
        finds(&year(), "Ende  Of, 2001", "2001");
        rejects(&year(), "pin 1999");
        rejects(&year(), "inß 1999");
    }
}
