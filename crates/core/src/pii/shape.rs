//! Hand-written matchers for the recognizers whose regex is only a shape of ASCII digits,
//! capitals and separators between word boundaries (`\b\d{3}[- ]?\d{2}[- ]?\d{4}\b`).
//!
//! Each matcher returns, for a start position, the end of the match the regex would
//! report there: alternatives and greedy repetitions are tried in the regex's order, which
//! is the regex crate's leftmost-first semantics. A greedy digit run `\d{m,n}` followed by
//! `\b` or by a non-digit can only end where the digits end (any shorter take is followed
//! by a digit, and `\b` never holds between two digits), so most shapes need no
//! backtracking. The matchers are only used where that equivalence is easy to keep: on
//! spans whose bytes, and the byte on either side (what `\b` looks at), are all ASCII,
//! where `\d` is `[0-9]` and `\w` is `[0-9A-Za-z_]`; elsewhere the regex runs. Tests check
//! that both find the same match from every start on generated texts.

use std::ops::Range;

use super::recognizers::is_space;

/// `\w` on ASCII.
#[inline]
fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `\b` at `i` of `t`, looking outside the searched span as the regex does.
#[inline]
fn boundary(t: &[u8], i: usize) -> bool {
    let before = i > 0 && word(t[i - 1]);
    let after = i < t.len() && word(t[i]);
    before != after
}

/// ASCII digits at `t[i..]`, at most `max` and not past `end`.
#[inline]
fn digits(t: &[u8], i: usize, end: usize, max: usize) -> usize {
    t[i.min(end)..end.min(i + max)]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// Whether `t[i..i + n]` (within `end`) are all ASCII digits.
#[inline]
fn digits_exactly(t: &[u8], i: usize, end: usize, n: usize) -> bool {
    i + n <= end && t[i..i + n].iter().all(u8::is_ascii_digit)
}

/// The end of a greedy `\d{min,max}\b` at `i`, if it matches.
#[inline]
fn digit_run(t: &[u8], i: usize, end: usize, min: usize, max: usize) -> Option<usize> {
    let n = digits(t, i, end, max);
    (n >= min && boundary(t, i + n)).then_some(i + n)
}

/// One optional `[- ]` at `i`: the position after it (greedy: taken when present).
#[inline]
fn opt_sep(t: &[u8], i: usize, end: usize) -> usize {
    if i < end && matches!(t[i], b'-' | b' ') {
        i + 1
    } else {
        i
    }
}

/// Whether [`ShapeMatcher::find`] may stand in for the regex on `text[start..end]`: the
/// span and the byte on either side are ASCII.
pub(crate) fn applies(text: &[u8], start: usize, end: usize) -> bool {
    text[start.saturating_sub(1)..(end + 1).min(text.len())].is_ascii()
}

/// A recognizer's regex as a hand-written matcher.
pub struct ShapeMatcher {
    /// The end of the regex's match starting at `s` (`\b` included) within `t[..end]`.
    at: fn(t: &[u8], s: usize, end: usize) -> Option<usize>,
    /// Holds for every byte a match can start with.
    first: fn(u8) -> bool,
    /// The pattern starts with `\b` and a word byte, so matches start only where a word
    /// does.
    word_start: bool,
    /// The longest span the matcher is used on; longer spans run the regex.
    pub(crate) max_span: usize,
}

impl ShapeMatcher {
    /// The bytes a match can start with, as a table for [`ShapeMatcher::find`] (built once
    /// per recognizer: a lookup per byte instead of a call).
    pub(crate) fn first_bytes(&self) -> [bool; 256] {
        let mut table = [false; 256];
        for (b, t) in table.iter_mut().enumerate() {
            *t = u8::try_from(b).is_ok_and(self.first);
        }
        table
    }

    /// The leftmost-first match in `text[start..end]`, `\b` seeing the bytes around the
    /// span, given the [`ShapeMatcher::first_bytes`] table. Only meaningful where
    /// [`applies`] holds and the span is at most `max_span` bytes long.
    pub(crate) fn find(
        &self,
        first: &[bool; 256],
        text: &[u8],
        start: usize,
        end: usize,
    ) -> Option<Range<usize>> {
        (start..end)
            .filter(|&s| {
                first[usize::from(text[s])] && !(self.word_start && s > 0 && word(text[s - 1]))
            })
            .find_map(|s| (self.at)(text, s, end).map(|e| s..e))
    }
}

/// `\b\d{3}[- ]?\d{mid}[- ]?\d{4}\b`. A separator, when present, must be taken: the
/// other branch wants a digit there.
fn grouped(t: &[u8], s: usize, end: usize, mid: usize) -> Option<usize> {
    if !digits_exactly(t, s, end, 3) {
        return None;
    }
    let i = opt_sep(t, s + 3, end);
    if !digits_exactly(t, i, end, mid) {
        return None;
    }
    let i = opt_sep(t, i + mid, end);
    (digits_exactly(t, i, end, 4) && boundary(t, i + 4)).then_some(i + 4)
}

/// `\b\d{3}[- ]?\d{2}[- ]?\d{4}\b` (SSN, ITIN).
pub(crate) const NINE_DIGITS: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| grouped(t, s, end, 2),
    first: |b| b.is_ascii_digit(),
    word_start: true,
    max_span: usize::MAX,
};

/// `\b\d{3}[- ]?\d{3}[- ]?\d{4}\b` (NHS).
pub(crate) const NHS: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| grouped(t, s, end, 3),
    first: |b| b.is_ascii_digit(),
    word_start: true,
    max_span: usize::MAX,
};

/// `\b[12]\d{9}\b` (NPI).
pub(crate) const NPI: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        (s < end && digits_exactly(t, s + 1, end, 9) && boundary(t, s + 10)).then_some(s + 10)
    },
    first: |b| b == b'1' || b == b'2',
    word_start: true,
    max_span: usize::MAX,
};

/// `\b\d{8,17}\b` (US bank account number).
pub(crate) const BANK: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| digit_run(t, s, end, 8, 17),
    first: |b| b.is_ascii_digit(),
    word_start: true,
    max_span: usize::MAX,
};

/// `\b(?:\d{9}|\d{4}-\d{4}-\d)\b` (ABA routing number).
pub(crate) const ABA: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        if digits_exactly(t, s, end, 9) && boundary(t, s + 9) {
            return Some(s + 9);
        }
        let dashed = digits_exactly(t, s, end, 4)
            && s + 11 <= end
            && t[s + 4] == b'-'
            && digits_exactly(t, s + 5, end, 4)
            && t[s + 9] == b'-'
            && t[s + 10].is_ascii_digit()
            && boundary(t, s + 11);
        dashed.then_some(s + 11)
    },
    first: |b| b.is_ascii_digit(),
    word_start: true,
    max_span: usize::MAX,
};

/// `(?:[ -]\d{2,7}){2,4}\b` after `done` groups, at `p`: more groups first (greedy), then
/// the boundary.
fn card_groups(t: &[u8], end: usize, p: usize, done: usize) -> Option<usize> {
    if done < 4 && p < end && matches!(t[p], b' ' | b'-') {
        let m = digits(t, p + 1, end, 7);
        for c in (2..=m).rev() {
            if let Some(e) = card_groups(t, end, p + 1 + c, done + 1) {
                return Some(e);
            }
        }
    }
    (done >= 2 && boundary(t, p)).then_some(p)
}

/// `\b(?:\d{12,19}|\d{4}(?:[ -]\d{2,7}){2,4})\b` (credit card).
pub(crate) const CARD: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        digit_run(t, s, end, 12, 19).or_else(|| {
            digits_exactly(t, s, end, 4)
                .then(|| card_groups(t, end, s + 4, 0))
                .flatten()
        })
    },
    first: |b| b.is_ascii_digit(),
    word_start: true,
    max_span: usize::MAX,
};

/// `\b(?:19|20)\d{2}\b` (a year).
pub(crate) const YEAR: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        let century = t[s..end].starts_with(b"19") || t[s..end].starts_with(b"20");
        (century && digits_exactly(t, s + 2, end, 2) && boundary(t, s + 4)).then_some(s + 4)
    },
    first: |b| b == b'1' || b == b'2',
    word_start: true,
    max_span: usize::MAX,
};

/// `\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b` (a weekday). At most one of the
/// prefixes matches at a position.
pub(crate) const WEEKDAY: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        let rest = &t[s..end];
        let prefix = ["Mon", "Tues", "Wednes", "Thurs", "Fri", "Satur", "Sun"]
            .iter()
            .find(|p| rest.starts_with(p.as_bytes()))?;
        let e = s + prefix.len() + 3;
        (rest[prefix.len()..].starts_with(b"day") && boundary(t, e)).then_some(e)
    },
    first: |b| matches!(b, b'M' | b'T' | b'W' | b'F' | b'S'),
    word_start: true,
    max_span: usize::MAX,
};

/// `\b[A-Z]?\d{8,9}\b` (US passport). With a capital at the start the optional letter
/// must be taken (the other branch wants a digit).
pub(crate) const PASSPORT: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        let i = if t[s].is_ascii_uppercase() { s + 1 } else { s };
        digit_run(t, i, end, 8, 9)
    },
    first: |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
    word_start: true,
    max_span: usize::MAX,
};

/// `\b(?:[A-Z]\d{4,14}|[A-Z]{2}\d{6}[A-Z]?|\d{7,9})\b` (US driver license).
pub(crate) const DRIVER_LICENSE: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        let upper = |i: usize| i < end && t[i].is_ascii_uppercase();
        if upper(s) {
            if let Some(e) = digit_run(t, s + 1, end, 4, 14) {
                return Some(e);
            }
            if upper(s + 1) && digits_exactly(t, s + 2, end, 6) {
                let q = s + 8;
                if upper(q) && boundary(t, q + 1) {
                    return Some(q + 1);
                }
                if boundary(t, q) {
                    return Some(q);
                }
            }
            return None;
        }
        digit_run(t, s, end, 7, 9)
    },
    first: |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
    word_start: true,
    max_span: usize::MAX,
};

/// `\b(?:\d{1,3}\.){3}\d{1,3}\b|[0-9A-Fa-f:.]*::?[0-9A-Fa-f:.]*(?:%[0-9A-Za-z]+)?` (IP
/// address). The dotted quad first: each `\d{1,3}` is followed by '.' or `\b`, which a
/// shorter take would leave before a digit, so only the greedy one can match. Then the
/// IPv6 branch, which needs no boundary: its stars take the run of hex digits, ':' and '.'
/// from the start, giving back the least that lets `::?` match, so it matches exactly when
/// that run holds a ':', and then ends where the run does, plus a `%zone` when one follows.
pub(crate) const IP: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        let dot = |i: usize| i < end && t[i] == b'.';
        if boundary(t, s) {
            let mut i = s;
            let mut quad = true;
            for _ in 0..3 {
                let d = digits(t, i, end, 3);
                if d == 0 || !dot(i + d) {
                    quad = false;
                    break;
                }
                i += d + 1;
            }
            if quad {
                let d = digits(t, i, end, 3);
                if d > 0 && boundary(t, i + d) {
                    return Some(i + d);
                }
            }
        }
        let run = t[s..end]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
            .count();
        if !t[s..s + run].contains(&b':') {
            return None;
        }
        let e = s + run;
        let zone = if e < end && t[e] == b'%' {
            t[e + 1..end]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count()
        } else {
            0
        };
        Some(if zone > 0 { e + 1 + zone } else { e })
    },
    first: |b| b.is_ascii_hexdigit() || b == b':' || b == b'.',
    word_start: false,
    max_span: usize::MAX,
};

/// The phone matcher's memo covers spans up to this long (on the stack).
const PHONE_MAX_SPAN: usize = 64;

/// `(?:\+|\b00)?\(?\d{1,4}\)?(?:[ .\-\u{a0}]?\(?\d{1,5}\)?){1,6}(?:\s*(?:ext\.?|x)\s*\d{1,5})?\b`
/// (phone number) on ASCII, where `\u{a0}` cannot occur and `\s` is `[\t\n\x0B\x0C\r ]`.
///
/// Every choice is tried in the regex's order (optional parts taken first, the longest
/// digit run first, one more group first), which is leftmost-first. Digit runs split
/// between the groups in many ways, so the end reached from "after `c` groups at `i`"
/// is remembered: it does not depend on how `i` was reached, which keeps the search
/// polynomial on long digit runs that end where `\b` fails.
pub(crate) const PHONE: ShapeMatcher = ShapeMatcher {
    at: |t, s, end| {
        phone_first_choices(t, s, end).or_else(|| {
            if let Some(found) = phone_digit_run(t, s, end) {
                return found;
            }
            let mut search = PhoneSearch {
                t,
                s,
                end,
                memo: [0; (PHONE_MAX_SPAN + 1) * 7],
            };
            search.start()
        })
    },
    first: |b| b == b'+' || b == b'(' || b.is_ascii_digit(),
    word_start: false,
    max_span: PHONE_MAX_SPAN,
};

/// The first path [`PhoneSearch`] tries from `s`, if it matches (then it is the match):
/// every optional part taken where present, the longest digit runs, as many groups as
/// there are, then the extension or `\b`. (Where a group's first choices find no digit,
/// no other choice does: the separator and `(` are not digits.) Most phone numbers, and
/// most digit groups that are not, end there without the memo.
fn phone_first_choices(t: &[u8], s: usize, end: usize) -> Option<usize> {
    let byte_is = |i: usize, b: u8| i < end && t[i] == b;
    let mut i = if byte_is(s, b'+') {
        s + 1
    } else if boundary(t, s) && byte_is(s, b'0') && byte_is(s + 1, b'0') {
        s + 2
    } else {
        s
    };
    i += usize::from(byte_is(i, b'('));
    let d = digits(t, i, end, 4);
    if d == 0 {
        return None;
    }
    i += d;
    i += usize::from(byte_is(i, b')'));
    let mut groups = 0;
    while groups < 6 {
        let mut j = i;
        j += usize::from(j < end && matches!(t[j], b' ' | b'.' | b'-'));
        j += usize::from(byte_is(j, b'('));
        let d = digits(t, j, end, 5);
        if d == 0 {
            break;
        }
        j += d;
        i = j + usize::from(byte_is(j, b')'));
        groups += 1;
    }
    if groups == 0 {
        return None;
    }
    phone_end(t, end, i)
}

/// [`PHONE`]'s match at `s` when `s` starts a run of at most 34 digits that nothing can
/// continue (no separator, bracket or `+`/`\b00` prefix at either end), if so: every way
/// of splitting the run into the first part and the groups ends where the run does, so the
/// match is the whole run followed by the extension or `\b` — or there is none (one digit
/// leaves no group; 34 = 4 + 6 × 5 digits at most). `None` when the case does not apply.
fn phone_digit_run(t: &[u8], s: usize, end: usize) -> Option<Option<usize>> {
    let starts_00 = boundary(t, s) && t[s..end].starts_with(b"00");
    let run = digits(t, s, end, 35);
    if run == 0 || run > 34 || starts_00 {
        return None;
    }
    let r = s + run;
    if r < end && matches!(t[r], b' ' | b'.' | b'-' | b'(' | b')') {
        return None;
    }
    if run < 2 {
        return Some(None);
    }
    Some(phone_end(t, end, r))
}

/// The end of [`PHONE`] after its groups at `i`: the extension, else `\b`.
fn phone_end(t: &[u8], end: usize, i: usize) -> Option<usize> {
    phone_extension(t, end, i).or_else(|| boundary(t, i).then_some(i))
}

/// `\s*` (greedy) in `t[..end]`: the position after the spaces at `i`.
fn phone_spaces(t: &[u8], end: usize, mut i: usize) -> usize {
    while i < end && is_space(t[i]) {
        i += 1;
    }
    i
}

/// `\s*(?:ext\.?|x)\s*\d{1,5}\b` at `i` of `t[..end]`. Fewer spaces than all of them
/// leave a space where a letter or digit must come, so only the greedy count is tried.
fn phone_extension(t: &[u8], end: usize, i: usize) -> Option<usize> {
    let byte_is = |i: usize, b: u8| i < end && t[i] == b;
    let j = phone_spaces(t, end, i);
    let ext = j + 3 <= end && &t[j..j + 3] == b"ext";
    let mut after = [0; 3];
    let mut n = 0;
    if ext && byte_is(j + 3, b'.') {
        after[n] = j + 4;
        n += 1;
    }
    if ext {
        after[n] = j + 3;
        n += 1;
    }
    if byte_is(j, b'x') {
        after[n] = j + 1;
        n += 1;
    }
    after[..n].iter().find_map(|&p| {
        let q = phone_spaces(t, end, p);
        let digits = digits(t, q, end, 5);
        (1..=digits).rev().map(|d| q + d).find(|&e| boundary(t, e))
    })
}

/// One start of [`PHONE`]'s search.
struct PhoneSearch<'a> {
    t: &'a [u8],
    s: usize,
    end: usize,
    /// For `(i - s) * 7 + c`: 0 not computed, 1 no match, else the match end - s + 2.
    memo: [u8; (PHONE_MAX_SPAN + 1) * 7],
}

impl PhoneSearch<'_> {
    fn byte_is(&self, i: usize, b: u8) -> bool {
        i < self.end && self.t[i] == b
    }

    /// `(?:\+|\b00)?\(?\d{1,4}\)?` then the groups.
    fn start(&mut self) -> Option<usize> {
        let (t, s) = (self.t, self.s);
        let mut prefixes = [s; 3];
        let mut n = 0;
        if self.byte_is(s, b'+') {
            prefixes[n] = s + 1;
            n += 1;
        }
        if boundary(t, s) && self.byte_is(s, b'0') && self.byte_is(s + 1, b'0') {
            prefixes[n] = s + 2;
            n += 1;
        }
        prefixes[n] = s;
        n += 1;
        for &p in &prefixes[..n] {
            for k in self.optional(p, b'(') {
                let digits = digits(t, k, self.end, 4);
                for d in (1..=digits).rev() {
                    for q in self.optional(k + d, b')') {
                        if let Some(e) = self.groups(q, 0) {
                            return Some(e);
                        }
                    }
                }
            }
        }
        None
    }

    /// The positions after an optional `b` at `i`, in the order tried: taken, then not.
    fn optional(&self, i: usize, b: u8) -> impl Iterator<Item = usize> {
        let taken = self.byte_is(i, b);
        [i + 1, i].into_iter().skip(usize::from(!taken))
    }

    /// After `c` groups at `i`: another `[ .-]?\(?\d{1,5}\)?` group first (up to six),
    /// then (after one at least) the extension and `\b`.
    fn groups(&mut self, i: usize, c: usize) -> Option<usize> {
        // Within `max_span` (as the recognizer uses it) every key is in the memo and every
        // end - s + 2 fits in a byte; past it the search is only slower.
        let key = (i - self.s) * 7 + c;
        match self.memo.get(key) {
            Some(0) | None => {}
            Some(1) => return None,
            Some(&e) => return Some(self.s + usize::from(e) - 2),
        }
        let found = self.groups_uncached(i, c);
        if let Some(m) = self.memo.get_mut(key) {
            *m = found.map_or(1, |e| u8::try_from(e - self.s + 2).unwrap_or(0));
        }
        found
    }

    fn groups_uncached(&mut self, i: usize, c: usize) -> Option<usize> {
        if c < 6 {
            let separated = i < self.end && matches!(self.t[i], b' ' | b'.' | b'-');
            for j in [i + 1, i].into_iter().skip(usize::from(!separated)) {
                for k in self.optional(j, b'(') {
                    let digits = digits(self.t, k, self.end, 5);
                    for d in (1..=digits).rev() {
                        for q in self.optional(k + d, b')') {
                            if let Some(e) = self.groups(q, c + 1) {
                                return Some(e);
                            }
                        }
                    }
                }
            }
        }
        if c == 0 {
            return None;
        }
        phone_end(self.t, self.end, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::recognizer::compile;
    use crate::pii::recognizers::test_util::random_texts;
    use regex_automata::Input;

    /// `n` texts of 1 to `most` pieces drawn from `pieces` (a seeded xorshift).
    fn piece_texts(pieces: &[&str], n: usize, most: u64, state: u64) -> Vec<String> {
        let mut next = crate::pii::recognizers::test_util::xorshift(state);
        (0..n)
            .map(|_| {
                (0..(next() % most + 1))
                    .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    /// Texts dense in digit groups, separators and capitals: the shapes' edge cases.
    fn digit_texts(n: usize, state: u64) -> Vec<String> {
        const PIECES: &[&str] = &[
            "1", "12", "123", "1234", "19", "20", "2024", "536", "22", "4111", "12345", "1234567",
            "12345678", " ", " ", "-", "--", "A", "AB", "x", "_", ".", "/", "é", "٤", "Mon", "day",
            "Tues", "Sun", "days", "\n",
        ];
        piece_texts(PIECES, n, 24, state)
    }

    /// Texts of phone-number pieces: digit groups of every length, separators, brackets,
    /// `+`, `00` and extensions, glued or spaced.
    fn phone_texts(n: usize, state: u64) -> Vec<String> {
        const PIECES: &[&str] = &[
            "1", "12", "123", "1234", "12345", "123456", "00", "0", "+", "(", ")", " ", " ", "  ",
            "-", ".", "ext", "ext.", "x", "e", "\t", "\n", "a", "_", "/", "é", "\u{a0}", "٤",
        ];
        piece_texts(PIECES, n, 28, state)
    }

    /// Compares `shape` with `regex` on every text, from every start to the end and to a
    /// span end inside it (spans over `max_span` bytes left out): asserts they find the
    /// same match and returns how many spans were compared and how many matched.
    fn compare_with_regex(
        shape: &ShapeMatcher,
        regex: &regex_automata::meta::Regex,
        texts: &[String],
        max_span: usize,
        label: &str,
    ) -> (usize, usize) {
        let first = shape.first_bytes();
        let (mut compared, mut matched) = (0, 0);
        for text in texts {
            let t = text.as_bytes();
            let bounds: Vec<usize> = (0..=t.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            for (n, &start) in bounds.iter().enumerate() {
                // The whole rest of the text, and a span ending inside it.
                let ends = [
                    t.len(),
                    bounds[(n + (n * 7 + 3) % (bounds.len() - n)).min(bounds.len() - 1)],
                ];
                for end in ends {
                    if !applies(t, start, end) || end - start > max_span {
                        continue;
                    }
                    let want = regex
                        .search(&Input::new(text).span(start..end))
                        .map(|m| m.range());
                    assert_eq!(
                        shape.find(&first, t, start, end),
                        want,
                        "{label} in {text:?} [{start}..{end}]"
                    );
                    compared += 1;
                    matched += usize::from(want.is_some());
                }
            }
        }
        (compared, matched)
    }

    /// The IP matcher finds what the IP regex finds, from every start.
    #[test]
    fn ip_shape_finds_what_the_regex_finds() {
        let pattern = crate::pii::recognizers::ip_address()
            .pattern_text()
            .to_string();
        let regex = compile(&pattern).unwrap();
        const PIECES: &[&str] = &[
            "1", "12", "123", "1234", "0", "255", "256", ".", ".", ":", ":", "::", "%", "eth0",
            "a", "f", "F", "g", "G", "x", " ", "-", "_", "db8", "fe80", "é", "٤", "%%", "\n",
        ];
        let mut texts = piece_texts(PIECES, 5000, 20, 0xC0FF_EE00_1234_5678);
        texts.extend(random_texts(1000, 0x0F0F_F0F0_1357_2468));
        texts.extend(
            [
                "from 192.168.0.1.",
                "1.2.3.4.5",
                "2001:db8::8a2e:370:7334",
                "fe80::1%eth0 up",
                "::ffff:192.0.2.128",
                "a1.2.3.4",
                "1.2.3.4a",
                "1234.5.6.7",
                "x%",
                "ab:%",
            ]
            .map(String::from),
        );
        let (compared, matched) = compare_with_regex(&IP, &regex, &texts, usize::MAX, "IP");
        assert!(
            compared > 100_000 && matched > 20_000,
            "{matched} of {compared}"
        );
    }

    /// The phone matcher finds what the phone regex finds, from every start, on spans up
    /// to its `max_span` (the recognizer's own regex, so the two cannot drift apart).
    #[test]
    fn phone_shape_finds_what_the_regex_finds() {
        let pattern = crate::pii::recognizers::phone_number()
            .pattern_text()
            .to_string();
        let regex = compile(&pattern).unwrap();
        let mut texts = phone_texts(6000, 0x9E37_79B9_7F4A_7C15);
        texts.extend(random_texts(1000, 0x0123_4567_89AB_CDEF));
        texts.extend(
            [
                "+1 (212) 555-0123 ext. 12",
                "0044 20 7946 0958x12",
                "call 212-555-0123 2024",
                "12345678901234567890123456789012345678901234567890a",
                "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6",
                "(1)(2)(3)(4)(5)(6)(7)(8)",
                "555 0123 ext 5 x 6",
                "a00 123 4567",
            ]
            .map(String::from),
        );
        let (compared, matched) =
            compare_with_regex(&PHONE, &regex, &texts, PHONE.max_span, "phone");
        assert!(
            compared > 100_000 && matched > 30_000,
            "{matched} of {compared}"
        );
    }

    #[test]
    fn shapes_find_what_their_regex_finds() {
        let cases: [(&ShapeMatcher, &str); 10] = [
            (&NINE_DIGITS, r"\b\d{3}[- ]?\d{2}[- ]?\d{4}\b"),
            (&NHS, r"\b\d{3}[- ]?\d{3}[- ]?\d{4}\b"),
            (&NPI, r"\b[12]\d{9}\b"),
            (&BANK, r"\b\d{8,17}\b"),
            (&ABA, r"\b(?:\d{9}|\d{4}-\d{4}-\d)\b"),
            (&CARD, r"\b(?:\d{12,19}|\d{4}(?:[ -]\d{2,7}){2,4})\b"),
            (&YEAR, r"\b(?:19|20)\d{2}\b"),
            (&WEEKDAY, r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b"),
            (&PASSPORT, r"\b[A-Z]?\d{8,9}\b"),
            (
                &DRIVER_LICENSE,
                r"\b(?:[A-Z]\d{4,14}|[A-Z]{2}\d{6}[A-Z]?|\d{7,9})\b",
            ),
        ];
        let mut texts = random_texts(1500, 0x5DEE_CE66_D1CE_4E5B);
        texts.extend(digit_texts(3000, 0xA076_1D64_78BD_642F));
        texts.extend(
            [
                "4111 1111 1111 1111 2024",
                "4111 1111 1111a",
                "4111-1111 1111-1111",
                "4111 11 1111111 12 5",
                "0123-4567-8",
                "on Monday, Sunday's Tuesdays",
                "A1234 AB123456C AB123456CD 1234567890",
            ]
            .map(String::from),
        );
        for (shape, pattern) in cases {
            let regex = compile(pattern).unwrap();
            let (compared, matched) =
                compare_with_regex(shape, &regex, &texts, usize::MAX, pattern);
            // Each shape is compared on many spans, matches included.
            assert!(
                compared > 100_000 && matched > 1000,
                "{pattern}: {matched} of {compared}"
            );
        }
    }
}
