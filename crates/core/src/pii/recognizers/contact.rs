//! EMAIL_ADDRESS, PHONE_NUMBER, URL.

use std::ops::Range;

use std::sync::OnceLock;

use phonenumber::country::Id as Country;
use phonenumber::metadata::DATABASE;
use phonenumber::{Metadata, Type};
use regex_automata::util::syntax;
use regex_automata::{meta, Anchored, Input};

use super::is_space;
use super::{matched, neighbours};
use crate::pii::recognizer::ascii_digits_at_least;
use crate::pii::{seed, shape, EntityType, PatternRecognizer, Scan, Windows};

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
    // Every match has an '@' and consists of letters, digits (non-ASCII: always in the
    // class) and `_%+-.@`.
    .with_windows(Windows::new(
        seed::AT,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'%' | b'+' | b'-' | b'.' | b'@'),
        |_| true,
    ))
}

fn validate_email(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let (local, domain) = matched(text, &m).rsplit_once('@')?;
    // RFC 5321 limits; the pattern already forbids empty labels and leading dots.
    (local.len() <= 64 && domain.len() <= 253).then_some((m, 0.95))
}

/// PHONE_NUMBER: international (`+44 20 7946 0958`, `0044 …`) and national formats,
/// validated against libphonenumber's metadata (the `phonenumber` crate). National numbers
/// are read as North American first; those starting with 0 as GB, DE, FR, IN or AU.
pub fn phone_number() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::PhoneNumber,
        r"(?:\+|\b00)?\(?\d{1,4}\)?(?:[ .\-\u{a0}]?\(?\d{1,5}\)?){1,6}(?:\s*(?:ext\.?|x)\s*\d{1,5})?\b",
        validate_phone,
        &[
            "phone", "telephone", "tel", "mobile", "cell", "call", "fax", "contact", "number",
            "office", "home", "work", "reach", "text", "sms", "whatsapp", "answering", "messages",
            "dial", "ring",
        ],
        0.2,
    )
    .expect("built-in phone pattern compiles")
    .with_shape(&shape::PHONE)
    .with_required_byte(|b| b.is_ascii_digit())
    // Matches are digits, `+().-`, spaces and "ext"/"x"; the validator wants 7 ASCII digits.
    .with_windows(Windows::new(
        seed::DIGITS,
        |b| {
            b.is_ascii_digit()
                || is_space(b)
                || matches!(b, b'+' | b'(' | b')' | b'.' | b'-' | b'e' | b'x' | b't')
        },
        |run| ascii_digits_at_least(run, 7),
    )
        .non_ascii(|c| c.is_numeric() || c.is_whitespace()).window_digits(7).min_digits(7).min_len(7))
}

const NATIONAL_ZERO_REGIONS: [Country; 5] = [
    Country::GB,
    Country::DE,
    Country::FR,
    Country::IN,
    Country::AU,
];

fn validate_phone(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    // Score the whole candidate and every shorter prefix ending before a space, and keep
    // the best (the longer on ties): "call 555-123-4567 2024" must still find the number.
    let before = text[..m.start].chars().next_back();
    if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '/') {
        return None; // inside a longer token ("ID-555-123-4567", "ab5551234567")
    }
    let value = matched(text, &m);
    // (A space byte is always the character ' ', so bytes are read, not characters.)
    let v = value.as_bytes();
    let ends = (1..v.len())
        .filter(|&i| v[i] == b' ' && v[i - 1].is_ascii_digit())
        .chain(std::iter::once(value.len()));
    let mut best: Option<(f64, usize)> = None;
    for end in ends {
        // (A prefix ends with a digit: only the whole candidate may need trimming.)
        let len = if end == value.len() {
            value.trim_end().len()
        } else {
            end
        };
        if let Some(score) = phone_score(&value[..len]) {
            if best.is_none_or(|(s, l)| score > s || (score == s && len > l)) {
                best = Some((score, len));
            }
        }
    }
    best.map(|(score, len)| (m.start..m.start + len, score))
}

/// Scores a phone candidate:
/// * valid per libphonenumber metadata: 0.75 international, 0.6 national with separators,
///   0.4 bare digits;
/// * only plausible (parses; international with 8–15 digits, or NANP-shaped national with
///   separators, or another formatted 7–12 digit national number): 0.5 international,
///   0.35 otherwise, so a context word ("phone", "call", …) is needed to report it.
fn phone_score(candidate: &str) -> Option<f64> {
    // One pass over `main`, the number itself and not an extension ("x459", "ext. 12"):
    // its digits (the first 15 kept, without allocating) and whether it has a separator.
    let is_separator = |b: &u8| matches!(b, b' ' | b'-' | b'.' | b'(');
    let mut buf = [0u8; 15];
    let mut digits = 0;
    let mut main_len = candidate.len();
    let mut formatted_main = false;
    for (i, &b) in candidate.as_bytes().iter().enumerate() {
        if b.is_ascii_digit() {
            if let Some(d) = buf.get_mut(digits) {
                *d = b;
            }
            digits += 1;
        } else if b == b'x' || b == b'e' {
            main_len = i;
            break;
        } else {
            formatted_main |= is_separator(&b);
        }
    }
    let main = &candidate[..main_len];
    if !(7..=15).contains(&digits) || looks_like_date(candidate) {
        return None;
    }
    let formatted = formatted_main || candidate.as_bytes()[main_len..].iter().any(is_separator);
    classify_phone(
        candidate,
        PhoneDigits {
            main,
            all: &buf[..digits],
            formatted,
            formatted_main,
        },
    )
}

/// What [`phone_score`] reads off a candidate: `main`, the number without an extension;
/// `all`, its 7–15 digits (ASCII); whether the candidate and `main` have a separator.
struct PhoneDigits<'a> {
    main: &'a str,
    all: &'a [u8],
    formatted: bool,
    formatted_main: bool,
}

/// [`phone_score`]'s scores, from what it read off `candidate`.
fn classify_phone(candidate: &str, d: PhoneDigits<'_>) -> Option<f64> {
    let PhoneDigits {
        main,
        all,
        formatted,
        formatted_main,
    } = d;
    let digits = all.len();
    let international = candidate.starts_with('+') || candidate.starts_with("00");
    if international {
        let number = if candidate.starts_with('+') {
            all
        } else {
            &all[2..]
        };
        // Country calling codes are 1-3 digits; none is a prefix of another.
        let split = (1..=3.min(number.len())).find_map(|n| {
            let code = number[..n]
                .iter()
                .fold(0u16, |c, d| c * 10 + u16::from(d - b'0'));
            regions_of(code).map(|regions| (regions, &number[n..]))
        });
        return match split {
            Some((regions, national)) if valid_national(regions, national) => Some(0.75),
            Some(_) if digits >= 8 => Some(0.5),
            _ => None,
        };
    }
    let nanp_length =
        digits == 10 || (digits == 11 && main.trim_start_matches('(').starts_with('1'));
    if nanp_length {
        let national = &all[all.len() - 10..];
        if regions_of(1).is_some_and(|regions| valid_national(regions, national)) {
            return Some(if formatted { 0.6 } else { 0.4 });
        }
    }
    let national_zero = candidate.trim_start_matches('(').starts_with('0');
    if national_zero
        && digits >= 10
        && valid_national(national_zero_regions().iter().flatten().copied(), &all[1..])
    {
        return Some(if formatted { 0.6 } else { 0.4 });
    }
    (formatted_main && digits <= 12).then_some(0.35)
}

/// The number types a valid number must match one of (after the general descriptor).
const TYPES: [Type; 10] = [
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::PersonalNumber,
    Type::Voip,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

/// libphonenumber's validity rule applied to a national significant number directly: in one
/// of `regions` (those sharing a calling code) the general pattern and the pattern of one
/// number type match. `phonenumber::parse` reaches the same verdict, but its text
/// normalization costs ~60 µs per candidate, most of the detector's time.
fn valid_national<'a>(regions: impl IntoIterator<Item = &'a Region>, national: &[u8]) -> bool {
    regions.into_iter().any(|r| {
        r.matches(0, Type::Unknown, national)
            && TYPES
                .iter()
                .enumerate()
                .any(|(i, t)| r.matches(i + 1, *t, national))
    })
}

/// A region's metadata, with the patterns of its descriptors compiled on first use (slot 0
/// the general descriptor, then one per [`TYPES`]) and shared by every thread: the
/// `phonenumber` crate keeps its compiled patterns in a 100-entry LRU cache behind a mutex,
/// keyed by the pattern text (hashed with SipHash on every call), which cost more than the
/// matching; a cache per thread keyed by the pattern's address still cost a hash lookup.
struct Region {
    meta: &'static Metadata,
    compiled: [OnceLock<Option<meta::Regex>>; 1 + TYPES.len()],
}

impl Region {
    fn new(meta: &'static Metadata) -> Region {
        Region {
            meta,
            compiled: Default::default(),
        }
    }

    /// Whether the descriptor of type `t` (compiled in `slot`) matches `national`: the
    /// crate's `Descriptor::is_match`, with the same options as its cache (whitespace
    /// ignored) and the same rule: a possible length, and a leftmost match that starts at 0
    /// — that is, some match starting at 0 (the leftmost match starts where the first match
    /// does), which an anchored search answers without finding where the match ends or
    /// starts. A pattern that does not compile here is left to the crate.
    fn matches(&self, slot: usize, t: Type, national: &[u8]) -> bool {
        let Some(d) = self.meta.descriptors().get(t) else {
            return false;
        };
        let lengths = d.possible_length();
        if !lengths.is_empty() && !lengths.contains(&(national.len() as u16)) {
            return false;
        }
        let compiled = self.compiled[slot].get_or_init(|| {
            meta::Regex::builder()
                .syntax(syntax::Config::new().ignore_whitespace(true))
                .build(d.national_number().as_str())
                .ok()
        });
        match compiled {
            Some(re) => re.is_match(Input::new(national).anchored(Anchored::Yes)),
            None => std::str::from_utf8(national).is_ok_and(|n| d.is_match(n)),
        }
    }
}

/// The regions of calling code `code` (`DATABASE.by_code`), for every code below 1000
/// (calling codes have at most three digits), built once per process.
fn regions_of(code: u16) -> Option<&'static [Region]> {
    static BY_CODE: OnceLock<Vec<Option<Vec<Region>>>> = OnceLock::new();
    BY_CODE
        .get_or_init(|| {
            (0..1000u16)
                .map(|c| {
                    DATABASE
                        .by_code(&c)
                        .map(|metas| metas.into_iter().map(Region::new).collect())
                })
                .collect()
        })
        .get(usize::from(code))?
        .as_deref()
}

/// Each of [`NATIONAL_ZERO_REGIONS`] among [`regions_of`] its calling code, found once per
/// process.
fn national_zero_regions() -> &'static [Option<&'static Region>] {
    static REGIONS: OnceLock<Vec<Option<&'static Region>>> = OnceLock::new();
    REGIONS.get_or_init(|| {
        NATIONAL_ZERO_REGIONS
            .iter()
            .map(|r| {
                let meta = DATABASE.by_id(r.as_ref())?;
                regions_of(meta.country_code())?
                    .iter()
                    .find(|region| region.meta.id() == meta.id())
            })
            .collect()
    })
}

/// "12.03.2024", "2024-03-12", "12/03/24": digit groups that read as a calendar date —
/// three groups of ASCII digits between '.', '/' or '-', none empty, the first or last of
/// four digits or the last of two, one of two digits at most. (Read in one pass;
/// `tests::looks_like_date_split` is the version that splits, tested against it.)
fn looks_like_date(s: &str) -> bool {
    let mut lens = [0usize; 3];
    let mut group = 0;
    for b in s.bytes() {
        if matches!(b, b'.' | b'/' | b'-') {
            group += 1;
            if group == 3 {
                return false; // four groups or more
            }
        } else if b.is_ascii_digit() {
            lens[group] += 1;
        } else {
            return false;
        }
    }
    let [a, b, c] = lens;
    group == 2
        && a > 0
        && b > 0
        && c > 0
        && (a == 4 || c == 4 || c == 2)
        && (a <= 2 || b <= 2 || c <= 2)
}

/// URL: `scheme://…` or `www.…`, and bare domain names with a common top-level domain.
/// Trailing punctuation that ends a sentence is not part of the URL.
pub fn url() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::Url,
        r#"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>"'`]+|\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|org|net|edu|gov|mil|int|info|biz|io|ai|app|dev|co|me|tv|uk|us|ca|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|ie|au|nz|jp|cn|in|br|mx|ru|za)\b(?:/[^\s<>"'`]*)?"#,
        validate_url,
        &["url", "website", "site", "link", "web", "domain", "http"],
        0.1,
    )
    .expect("built-in URL pattern compiles")
    .with_required_byte(|b| b == b'.')
    // A match has no space, `<>"'` or backtick, and it has "://", "www." or a '.' right
    // before a top-level domain (see `url_run`).
    .with_windows(
        Windows::new(
            seed::DOT | seed::COLON,
            |b| !is_space(b) && !matches!(b, b'<' | b'>' | b'"' | b'\'' | b'`'),
            url_run,
        )
        .text(url_text),
    )
}

/// [`url_run`]'s condition on the whole text: some '.' before a letter or after "www", or
/// some ':' before "//", read at the scan's marks.
fn url_text(scan: &Scan) -> bool {
    let t = scan.text();
    scan.marks().iter().any(|m| match m.kinds {
        seed::DOT => {
            t.get(m.start + 1)
                .is_some_and(|&n| n.is_ascii_alphabetic() || n >= 0x80)
                || (m.start >= 3 && t[m.start - 3..m.start].eq_ignore_ascii_case(b"www"))
        }
        seed::COLON => t[m.start + 1..].starts_with(b"//"),
        _ => false,
    })
}

/// Whether a URL match can lie in `run`: the scheme branch has "://", the `www.` branch
/// "www." in any case, and a bare domain a '.' followed by its top-level domain, whose
/// first letter is an ASCII letter or, matched case-insensitively, a non-ASCII character
/// ('ſ' matches 's'). Dots between digits ("10.0.0.12") and a lone ':' ("Note:") fail.
///
/// One pass that stops only at '.' and ':' (each of the three contains one).
fn url_run(run: &[u8]) -> bool {
    run.iter().enumerate().any(|(i, &b)| match b {
        b'.' => {
            run.get(i + 1)
                .is_some_and(|&n| n.is_ascii_alphabetic() || n >= 0x80)
                || (i >= 3 && run[i - 3..i].eq_ignore_ascii_case(b"www"))
        }
        b':' => run[i + 1..].starts_with(b"//"),
        _ => false,
    })
}

fn validate_url(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    let trimmed = value.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '"']);
    // an opening parenthesis inside the URL keeps its closing one (Wikipedia-style links)
    let trimmed = if trimmed.len() < value.len()
        && trimmed.contains('(')
        && value[trimmed.len()..].starts_with(')')
    {
        &value[..trimmed.len() + 1]
    } else {
        trimmed
    };
    let (before, _) = neighbours(text, &m);
    if before == Some('@') {
        return None; // the domain of an email address
    }
    let score = if has_scheme_or_www(trimmed) { 0.6 } else { 0.5 };
    Some((m.start..m.start + trimmed.len(), score))
}

/// Whether `url` has "://" or starts with "www." in any case (without lower-casing a copy:
/// "://" has no letters).
fn has_scheme_or_www(url: &str) -> bool {
    url.contains("://")
        || url
            .as_bytes()
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"www."))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{finds, found, rejects};
    use super::*;

    /// [`looks_like_date`] as first written, splitting the string.
    fn looks_like_date_split(s: &str) -> bool {
        let mut split = s.split(['.', '/', '-']);
        let (Some(a), Some(b), Some(c), None) =
            (split.next(), split.next(), split.next(), split.next())
        else {
            return false; // not three groups
        };
        let groups = [a, b, c];
        groups
            .iter()
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
            && (a.len() == 4 || c.len() == 4 || c.len() == 2)
            && groups.iter().any(|g| g.len() <= 2)
    }

    #[test]
    fn looks_like_date_agrees_with_splitting() {
        let mut next = super::super::test_util::xorshift(0x0DA7_E0F1_2345_6789);
        let pieces = [
            "1", "12", "123", "2024", "0", ".", "/", "-", "--", " ", "a", "٤", "(", "x",
        ];
        let (mut dates, mut all) = (0, 0);
        for _ in 0..100_000 {
            // Half of them three groups and two separators, with sometimes more.
            let n = if next().is_multiple_of(2) {
                5 + next() % 3
            } else {
                next() % 7
            };
            let s: String = (0..n)
                .map(|i| {
                    let k = if n >= 5 && i < 5 {
                        i % 2 * 5 + next() % 5
                    } else {
                        next()
                    };
                    pieces[(k % pieces.len() as u64) as usize]
                })
                .collect();
            let want = looks_like_date_split(&s);
            assert_eq!(looks_like_date(&s), want, "{s:?}");
            dates += usize::from(want);
            all += 1;
        }
        assert!(dates > 1000 && dates < all, "{dates} of {all}");
    }

    /// [`phone_score`] as written before it read the candidate in one pass (a pass for
    /// each fact), with the same [`classify_phone`]: what the one-pass reading is compared
    /// with.
    fn phone_score_passes(candidate: &str) -> Option<f64> {
        // digits of the number itself, not of an extension ("x459", "ext. 12")
        let main = candidate
            .bytes()
            .position(|b| b == b'x' || b == b'e')
            .map_or(candidate, |i| &candidate[..i]);
        let digits = main.bytes().filter(u8::is_ascii_digit).count();
        if !(7..=15).contains(&digits) || looks_like_date_split(candidate) {
            return None;
        }
        let formatted = candidate
            .bytes()
            .any(|b| matches!(b, b' ' | b'-' | b'.' | b'('));
        // The digits of `main` (at most 15, checked above), without allocating.
        let mut buf = [0u8; 15];
        for (d, b) in buf.iter_mut().zip(main.bytes().filter(u8::is_ascii_digit)) {
            *d = b;
        }
        let formatted_main = main.bytes().any(|b| matches!(b, b' ' | b'-' | b'.' | b'('));
        classify_phone(
            candidate,
            PhoneDigits {
                main,
                all: &buf[..digits],
                formatted,
                formatted_main,
            },
        )
    }

    #[test]
    fn phone_score_agrees_with_several_passes() {
        let mut next = super::super::test_util::xorshift(0x1F83_D9AB_5BE0_CD19);
        let pieces = [
            "+", "00", "0", "1", "2", "5", "7", "9", "44", "212", "555", "0123", "7946", "(", ")",
            " ", "-", ".", "x", "ext. ", "e", "2024", "12", "/",
        ];
        let (mut scored, mut all) = (0, 0);
        for _ in 0..50_000 {
            let candidate: String = (0..next() % 10 + 1)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let got = phone_score(&candidate);
            assert_eq!(got, phone_score_passes(&candidate), "{candidate:?}");
            scored += usize::from(got.is_some());
            all += 1;
        }
        assert!(scored > 1000 && scored < all, "{scored} of {all}");
    }

    /// The compiled, anchored descriptor check answers what `Descriptor::is_match` (the
    /// crate's own) answers, for every number type of the regions the validator asks.
    #[test]
    fn descriptor_match_agrees_with_the_crate() {
        let mut next = super::super::test_util::xorshift(0xD1A1_7E57_0000_0001);
        let mut regions: Vec<&Region> = Vec::new();
        for code in [1, 44, 49, 33, 91, 61, 34, 7, 86] {
            regions.extend(regions_of(code).unwrap_or_default());
        }
        let zero: Vec<&Region> = national_zero_regions().iter().flatten().copied().collect();
        assert_eq!(zero.len(), NATIONAL_ZERO_REGIONS.len());
        regions.extend(zero);
        let (mut checked, mut matched) = (0, 0);
        for r in regions {
            let d = r.meta.descriptors();
            let slots = std::iter::once(Type::Unknown).chain(TYPES).enumerate();
            for (slot, t) in slots {
                let Some(desc) = d.get(t) else { continue };
                for _ in 0..300 {
                    let len = 6 + (next() % 8) as usize;
                    let mut n: String = (0..len)
                        .map(|_| char::from(b'0' + (next() % 10) as u8))
                        .collect();
                    // A real-looking start now and then: the pattern's own first digits.
                    if next().is_multiple_of(2) {
                        n.replace_range(..1, ["2", "7", "3", "6", "9"][(next() % 5) as usize]);
                    }
                    let want = desc.is_match(&n);
                    assert_eq!(
                        r.matches(slot, t, n.as_bytes()),
                        want,
                        "{:?} {t:?} {n}",
                        r.meta.id()
                    );
                    checked += 1;
                    matched += usize::from(want);
                }
            }
        }
        assert!(checked > 10_000 && matched > 200, "{matched} of {checked}");
    }

    #[test]
    fn emails() {
        let r = email();
        finds(
            &r,
            "write to jane.doe+x@mail.example.co.uk.",
            "jane.doe+x@mail.example.co.uk",
        );
        finds(&r, "zoë@bücher.de", "zoë@bücher.de");
        finds(&r, "'quoted@example.com'", "quoted@example.com");
        rejects(&r, "no at sign here, user at example dot com");
        rejects(&r, "@handle and a@b");
    }

    #[test]
    fn phones() {
        let r = phone_number();
        finds(&r, "call (212) 555-0123 now", "(212) 555-0123");
        finds(&r, "call 212-555-0123.", "212-555-0123");
        finds(&r, "tel +44 20 7946 0958", "+44 20 7946 0958");
        finds(&r, "tel 0044 20 7946 0958", "0044 20 7946 0958");
        finds(&r, "Berlin: +49 30 901820", "+49 30 901820");
        finds(&r, "London 020 7946 0958 office", "020 7946 0958");
        finds(&r, "call 212-555-0123 2024", "212-555-0123");
        rejects(&r, "card 4111 1111 1111 1111");
        rejects(&r, "on 12.03.2024 and 2024-03-12");
        rejects(&r, "ssn 536-22-1234");
        rejects(&r, "order 12345");
        rejects(&r, "ID-212-555-0123");
        // plausible but not valid per metadata: reported only with a context word
        rejects(&r, "see 699 956 915 here");
        finds(&r, "Phone: 699 956 915", "699 956 915");
        finds(&r, "+1-984-182-0190 mobile", "+1-984-182-0190");
        finds(&r, "call 259.735.7502x459 today", "259.735.7502x459");
    }

    /// The URL windows' condition holds for every run that holds a match of the regex.
    #[test]
    fn scheme_or_www_as_lower_cased_copy_says() {
        let mut next = super::super::test_util::xorshift(0x510E_527F_ADE6_82D1);
        let pieces = [
            "w", "W", "ww", ".", ":", "/", "://", "www.", "WwW.", "x", "é", "ſ", "K",
        ];
        for _ in 0..20_000 {
            let url: String = (0..next() % 6)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let lower = url.to_ascii_lowercase();
            let expected = lower.contains("://") || lower.starts_with("www.");
            assert_eq!(has_scheme_or_www(&url), expected, "{url:?}");
        }
    }

    #[test]
    fn url_runs_hold_every_match() {
        let re = regex::Regex::new(url().pattern_text()).unwrap();
        let mut texts = super::super::test_util::random_texts(3000, 0xA5A5_1234_0F0F_9999);
        texts.extend(
            [
                "x.\u{17f}e",
                "a.u\u{212a}",
                "WWW.5",
                "wWw.x",
                "ftp://h",
                "HTTPS://A.COM",
                "httpſ://x",
                "a.b.c",
                "1.2.3.4",
                "x:y",
                "e.g.",
                "a.",
                ".com",
                "x.COM",
            ]
            .map(String::from),
        );
        let (mut runs, mut matched) = (0, 0);
        for text in &texts {
            // The runs of the windows' class (non-ASCII characters are in it).
            let outside = |c: char| c.is_ascii() && (is_space(c as u8) || "<>\"'`".contains(c));
            for run in text.split(outside) {
                let any = re.is_match(run);
                let b = run.as_bytes();
                let defined = b
                    .windows(2)
                    .any(|w| w[0] == b'.' && (w[1].is_ascii_alphabetic() || w[1] >= 0x80))
                    || b.windows(3).any(|w| w == b"://")
                    || b.windows(4).any(|w| w.eq_ignore_ascii_case(b"www."));
                assert_eq!(url_run(b), defined, "{run:?}");
                assert!(!any || defined, "{run:?}");
                runs += 1;
                matched += usize::from(any);
            }
        }
        assert!(matched > 500 && matched < runs, "{matched} of {runs}");
    }

    #[test]
    fn urls() {
        let r = url();
        finds(
            &r,
            "see https://example.com/a?b=c.",
            "https://example.com/a?b=c",
        );
        finds(&r, "(www.example.org)", "www.example.org");
        finds(&r, "visit example.com today", "example.com");
        finds(
            &r,
            "https://en.wikipedia.org/wiki/Foo_(bar).",
            "https://en.wikipedia.org/wiki/Foo_(bar)",
        );
        assert!(found(&r, "mail jane@example.com").is_empty());
        rejects(&r, "version 1.2.3 and file.txt");
    }
}
