use std::ops::Range;

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};

use super::shape::{self, ShapeMatcher};
use super::EntityType;

/// A possible PII span found by a recognizer, before thresholding and overlap resolution.
/// `range` is in bytes of the analyzed `&str` and always lies on char boundaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub entity: EntityType,
    pub range: Range<usize>,
    pub score: f64,
}

/// Finds one kind of PII. Implementations must never panic, whatever the text.
pub trait Recognizer: Send + Sync {
    /// The entity type this recognizer reports.
    fn entity(&self) -> EntityType;

    /// Appends every candidate found in `text` to `out`.
    fn find(&self, text: &str, out: &mut Vec<Candidate>);

    /// [`Recognizer::find`] given facts about `text` computed once per text by the analyzer
    /// ([`Scan`]: the bytes it contains, where its digits and some punctuation are), so
    /// recognizers can skip texts, or the parts of a text, where they cannot match.
    fn find_in(&self, text: &str, _scan: &Scan, out: &mut Vec<Candidate>) {
        self.find(text, out)
    }

    /// The regex every candidate comes from, if the recognizer is one regex: the analyzer
    /// then skips it for texts where the pattern matches nowhere.
    fn pattern(&self) -> Option<&str> {
        None
    }

    /// What a text's [`Scan`] must show for [`Recognizer::find_in`] to find anything: the
    /// analyzer checks it before calling, saving the call on the many texts that fail it.
    /// Must hold for every text where `find_in` finds a candidate (default: no condition).
    fn needs(&self) -> Needs {
        Needs::NOTHING
    }

    /// [`Recognizer::find_in`] without context lookups, for callers that need the scores
    /// only where they decide something: the same candidates, each with its score before
    /// any context boost. The score `find_in` gives it is one of that score `s` and
    /// `(s + self.context_boost()).min(1.0)`; [`Recognizer::boosted`] says which.
    /// Default: `find_in` (its scores have no boost to defer).
    fn find_unboosted(&self, text: &str, scan: &Scan, out: &mut Vec<Candidate>) {
        self.find_in(text, scan, out)
    }

    /// What a context word near a candidate adds to its score (see
    /// [`Recognizer::find_unboosted`]; default 0).
    fn context_boost(&self) -> f64 {
        0.0
    }

    /// The score [`Recognizer::find_in`] gives `c`, a candidate of
    /// [`Recognizer::find_unboosted`] in `text` (default: its score).
    fn boosted(&self, _text: &str, c: &Candidate) -> f64 {
        c.score
    }
}

/// A necessary condition on a text's [`Scan`] for a recognizer to find anything there
/// (see [`Recognizer::needs`]).
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// At least this many characters that may be digits ([`Scan::digits`]).
    pub min_digits: usize,
    /// A mark of one of these [`seed`] kinds (0: no condition).
    pub kinds: u16,
    /// One of these bytes (`None`: no condition).
    pub bytes: Option<ByteSet>,
    /// [`Scan::digit_run_bound`] at least this (0: no condition).
    pub min_digit_run: usize,
    /// In an ASCII text, a window of this class ([`gap`] atoms) with at least
    /// `class_digits` ASCII digits ([`Scan::window_digits_at_least`]; 0: no condition).
    pub class: u16,
    pub class_digits: usize,
    /// Any other condition, read from the scan (None: none).
    pub scan: Option<fn(&Scan) -> bool>,
}

impl Needs {
    /// No condition.
    pub const NOTHING: Needs = Needs {
        min_digits: 0,
        kinds: 0,
        bytes: None,
        min_digit_run: 0,
        class: 0,
        class_digits: 0,
        scan: None,
    };

    /// Whether `scan` meets the condition.
    #[inline]
    pub fn met_by(&self, scan: &Scan) -> bool {
        self.met_by_but_class(scan)
            && (self.class_digits == 0
                || scan.window_digits_at_least(self.class, self.class_digits))
    }

    /// [`Needs::met_by`] but for the class condition (which the analyzer checks for many
    /// recognizers at once).
    #[inline]
    pub(crate) fn met_by_but_class(&self, scan: &Scan) -> bool {
        scan.digits >= self.min_digits
            && scan.digit_run_bound >= self.min_digit_run
            && (self.kinds == 0 || scan.kinds & self.kinds != 0)
            && self.bytes.is_none_or(|b| b.intersects(&scan.bytes))
            && self.scan.is_none_or(|f| f(scan))
    }
}

/// A set of byte values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    /// The bytes that occur in `text`.
    pub fn of(text: &str) -> ByteSet {
        let mut set = ByteSet::default();
        for b in text.bytes() {
            set.insert(b);
        }
        set
    }

    /// The bytes satisfying `pred`.
    pub fn matching(pred: fn(u8) -> bool) -> ByteSet {
        let mut set = ByteSet::default();
        for b in 0..=255u8 {
            if pred(b) {
                set.insert(b);
            }
        }
        set
    }

    #[inline]
    pub(crate) fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }

    #[inline]
    pub fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }

    pub fn intersects(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
}

/// Kinds of [`Mark`]s, as bits: what a recognizer's [`Windows`] are seeded by.
pub mod seed {
    /// A run of decimal digits: ASCII, or any other character `char::is_numeric` accepts
    /// (a superset of the Unicode decimal digits `\d` matches).
    pub const DIGITS: u16 = 1;
    /// A digit run containing an ASCII `1` or `3` (Base58 Bitcoin addresses start so).
    pub const DIGITS_1_OR_3: u16 = 1 << 1;
    /// A digit run containing an ASCII `9`.
    pub const DIGITS_9: u16 = 1 << 2;
    /// A digit run containing an ASCII `1` or `2` (years 19xx and 20xx).
    pub const DIGITS_1_OR_2: u16 = 1 << 3;
    /// The kinds only digit runs have.
    pub(crate) const ANY_DIGITS: u16 = DIGITS | DIGITS_1_OR_3 | DIGITS_9 | DIGITS_1_OR_2;
    pub const AT: u16 = 1 << 4;
    pub const COLON: u16 = 1 << 5;
    pub const DOT: u16 = 1 << 6;
    pub const DASH: u16 = 1 << 7;
    /// A lower-case `y` (weekday names end in "day").
    pub const Y: u16 = 1 << 8;
}

/// A place in a text that seeds a recognizer's windows: a run of digits, or one of the
/// punctuation bytes of [`seed`]. `start..end` is in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub start: usize,
    pub end: usize,
    /// [`seed`] bits.
    pub kinds: u16,
}

/// The bytes between two digit runs, summarized as a set of atoms (bits): each ASCII byte
/// that is not a digit belongs to one atom. A window class made of whole atoms spans a gap
/// only if the gap's atoms are all in it (see [`Scan::window_digits_at_least`]).
pub mod gap {
    pub const SPACE: u16 = 1;
    /// `\t \n \x0B \x0C \r`.
    pub const OTHER_SPACE: u16 = 1 << 1;
    pub const DASH: u16 = 1 << 2;
    pub const PLUS: u16 = 1 << 3;
    pub const OPEN: u16 = 1 << 4;
    pub const CLOSE: u16 = 1 << 5;
    pub const DOT: u16 = 1 << 6;
    pub const SLASH: u16 = 1 << 7;
    pub const COLON: u16 = 1 << 8;
    pub const COMMA: u16 = 1 << 9;
    pub const UPPER: u16 = 1 << 10;
    /// `e`, `x`, `t` (phone extensions).
    pub const EXT: u16 = 1 << 11;
    pub const OTHER_LOWER: u16 = 1 << 12;
    pub const PERCENT: u16 = 1 << 13;
    /// Every other ASCII byte.
    pub const OTHER: u16 = 1 << 14;
    /// Not summarized (more than [`MAX_LEN`] bytes), or a byte >= 0x80: may be anything.
    pub const UNKNOWN: u16 = 1 << 15;
    /// Gaps longer than this are not summarized.
    pub const MAX_LEN: usize = 32;

    /// The atom of each byte (0 for ASCII digits, [`UNKNOWN`] for bytes >= 0x80).
    pub(crate) static ATOM: [u16; 256] = {
        let mut t = [UNKNOWN; 256];
        let mut b = 0;
        while b < 128 {
            t[b] = match b as u8 {
                b'0'..=b'9' => 0,
                b' ' => SPACE,
                b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r' => OTHER_SPACE,
                b'-' => DASH,
                b'+' => PLUS,
                b'(' => OPEN,
                b')' => CLOSE,
                b'.' => DOT,
                b'/' => SLASH,
                b':' => COLON,
                b',' => COMMA,
                b'A'..=b'Z' => UPPER,
                b'e' | b'x' | b't' => EXT,
                b'a'..=b'z' => OTHER_LOWER,
                b'%' => PERCENT,
                _ => OTHER,
            };
            b += 1;
        }
        t
    };

    /// The atoms of `bytes`, or [`UNKNOWN`] alone when there are too many to read.
    #[inline]
    pub(crate) fn of(bytes: &[u8]) -> u16 {
        if bytes.len() > MAX_LEN {
            return UNKNOWN;
        }
        bytes.iter().fold(0, |a, &b| a | ATOM[usize::from(b)])
    }

    /// `class`'s atoms, if it is made of whole atoms and takes every ASCII digit.
    pub(crate) fn atoms_of(class: &[bool; 256]) -> Option<u16> {
        let atoms = (0..0x80u8)
            .filter(|&b| class[usize::from(b)])
            .fold(0, |a, b| a | ATOM[usize::from(b)]);
        (0..0x80u8)
            .all(|b| {
                class[usize::from(b)] == (b.is_ascii_digit() || atoms & ATOM[usize::from(b)] != 0)
            })
            .then_some(atoms)
    }
}

/// Set in [`BYTE_KINDS`] for the bytes of non-ASCII characters (which may be numerics).
const NON_ASCII: u16 = 1 << 15;

/// The [`seed`] kind of each byte: ASCII digits with their extra bits (a run's kinds are
/// those of its digits), the marked punctuation, and [`NON_ASCII`] for bytes >= 0x80.
const fn byte_kinds() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut b = b'0';
    while b <= b'9' {
        t[b as usize] = seed::DIGITS;
        b += 1;
    }
    t[b'1' as usize] |= seed::DIGITS_1_OR_3 | seed::DIGITS_1_OR_2;
    t[b'2' as usize] |= seed::DIGITS_1_OR_2;
    t[b'3' as usize] |= seed::DIGITS_1_OR_3;
    t[b'9' as usize] |= seed::DIGITS_9;
    t[b'@' as usize] = seed::AT;
    t[b':' as usize] = seed::COLON;
    t[b'.' as usize] = seed::DOT;
    t[b'-' as usize] = seed::DASH;
    t[b'y' as usize] = seed::Y;
    let mut b = 0x80;
    while b < 256 {
        t[b] = NON_ASCII;
        b += 1;
    }
    t
}
static BYTE_KINDS: [u16; 256] = byte_kinds();

/// Facts about one text, computed in one pass by the analyzer and shared by every
/// recognizer: the bytes it contains and its [`Mark`]s in order.
pub struct Scan<'a> {
    pub bytes: ByteSet,
    /// Number of characters that may be digits (ASCII digits and non-ASCII numerics).
    pub digits: usize,
    /// The [`seed`] kinds of all marks.
    pub kinds: u16,
    /// A bound on the length in bytes of any run of ASCII digits and non-ASCII bytes: the
    /// longest digit mark if the text is ASCII, else `usize::MAX`. (In an ASCII text such a
    /// run is a digit mark.)
    pub digit_run_bound: usize,
    marks: &'a [Mark],
    /// The digit marks of `marks`, in order (windows seeded by digits only walk these).
    digit_marks: &'a [Mark],
    text: &'a [u8],
    /// Marks of each punctuation kind (see [`Scan::count`]).
    punct: [u32; 8],
}

impl<'a> Scan<'a> {
    /// Scans `text`, keeping the marks in `buf` (cleared first; reused across texts).
    ///
    /// Per byte: a store into a table of the ASCII bytes seen and one lookup of its kind;
    /// bytes of no kind (most letters and spaces) need nothing more. A digit starts an
    /// inner loop over its run; a non-ASCII character is decoded and tested with
    /// `char::is_numeric`.
    pub fn new(text: &'a str, buf: &'a mut Vec<Mark>) -> Scan<'a> {
        buf.clear();
        let b = text.as_bytes();
        // seen[c] = 1 for each ASCII byte c of the text, packed into bits at the end.
        // (256 entries so that indexing with a byte needs no bounds check; only ASCII
        // bytes are stored.)
        let mut seen = [0u8; 256];
        let mut high = ByteSet::default();
        let mut digits = 0;
        let mut longest = 0;
        let mut punct = [0u32; 8];
        let mut i = 0;
        loop {
            // Bytes of no kind, in a tight loop.
            while i < b.len() && BYTE_KINDS[usize::from(b[i])] == 0 {
                seen[usize::from(b[i])] = 1;
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            let c = b[i];
            let k = BYTE_KINDS[usize::from(c)];
            if k & NON_ASCII != 0 {
                let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                let len = ch.len_utf8();
                for &x in &b[i..(i + len).min(b.len())] {
                    high.insert(x);
                }
                if ch.is_numeric() {
                    digits += 1;
                    push_mark(buf, i, i + len, seed::DIGITS);
                }
                i += len;
                continue;
            }
            if k & seed::DIGITS != 0 {
                let start = i;
                let mut kinds = 0;
                while i < b.len() && b[i].is_ascii_digit() {
                    kinds |= BYTE_KINDS[usize::from(b[i])];
                    seen[usize::from(b[i])] = 1;
                    i += 1;
                }
                digits += i - start;
                longest = longest.max(i - start);
                push_mark(buf, start, i, kinds);
                continue;
            }
            seen[usize::from(c)] = 1;
            // A punctuation mark has one kind bit, from `seed::AT` (bit 4) to `seed::Y`.
            punct[(k.trailing_zeros() as usize).wrapping_sub(4) & 7] += 1;
            buf.push(Mark {
                start: i,
                end: i + 1,
                kinds: k,
            });
            i += 1;
        }
        let kinds = buf.iter().fold(0, |k, m| k | m.kinds);
        // The digit marks are copied after the others, in order: `buf` holds both lists.
        let n = buf.len();
        if kinds & seed::DIGITS != 0 {
            for j in 0..n {
                if buf[j].kinds & seed::DIGITS != 0 {
                    buf.push(buf[j]);
                }
            }
        }
        let (marks, digit_marks) = buf.split_at(n);
        let mut bytes = high;
        for (w, chunk) in seen[..128].chunks_exact(64).enumerate() {
            for (j, eight) in chunk.chunks_exact(8).enumerate() {
                let mut x = [0u8; 8];
                x.copy_from_slice(eight);
                // Bytes of 0 or 1 to bits: byte j of `x` lands in bit 56 + j of the
                // product, with nothing carried into those bits.
                let packed = u64::from_le_bytes(x).wrapping_mul(0x0102_0408_1020_4080) >> 56;
                bytes.0[w] |= packed << (8 * j);
            }
        }
        // Non-ASCII bytes were inserted into `high` only.
        let ascii = high.0[2] | high.0[3] == 0;
        Scan {
            bytes,
            digits,
            kinds,
            digit_run_bound: if ascii { longest } else { usize::MAX },
            marks,
            digit_marks,
            text: b,
            punct,
        }
    }

    /// The number of marks of kind `kind`, one of the punctuation kinds of [`seed`] (`AT`,
    /// `COLON`, `DOT`, `DASH`, `Y`); 0 for any other.
    pub fn count(&self, kind: u16) -> usize {
        match kind {
            seed::AT | seed::COLON | seed::DOT | seed::DASH | seed::Y => {
                self.punct[kind.trailing_zeros() as usize - 4] as usize
            }
            _ => 0,
        }
    }

    pub fn marks(&self) -> &[Mark] {
        self.marks
    }

    /// Whether some window of a class made of the [`gap`] atoms `class` (and every ASCII
    /// digit) may hold `n` ASCII digits: always in a text that is not ASCII; in an ASCII
    /// text, whether some run of digit marks whose gaps may all lie in the class (gaps too
    /// long to summarize are taken as if they did) has `n` digits. A window's digits are
    /// those of the digit marks in it, and the gaps between them are in its class.
    pub fn window_digits_at_least(&self, class: u16, n: usize) -> bool {
        if self.digit_run_bound == usize::MAX {
            return true;
        }
        let mut run = 0;
        for (atoms, m) in self.digit_marks_with_gaps() {
            // (A gap too long to read may lie in the class.)
            if atoms & !class & !gap::UNKNOWN != 0 {
                run = 0;
            }
            run += m.end - m.start;
            if run >= n {
                return true;
            }
        }
        false
    }

    /// The digit marks with the [`gap`] atoms of the bytes before each (since the previous
    /// one; [`gap::UNKNOWN`] for the first), in an ASCII text.
    pub(crate) fn digit_marks_with_gaps(&self) -> impl Iterator<Item = (u16, &Mark)> {
        let mut prev_end = None;
        self.digit_marks.iter().map(move |m| {
            let atoms = prev_end.map_or(gap::UNKNOWN, |e| gap::of(&self.text[e..m.start]));
            prev_end = Some(m.end);
            (atoms, m)
        })
    }

    /// The digit marks, in order.
    pub(crate) fn digit_marks(&self) -> &'a [Mark] {
        self.digit_marks
    }

    /// The scanned text's bytes.
    pub(crate) fn text(&self) -> &'a [u8] {
        self.text
    }

    /// Whether the text is ASCII.
    pub(crate) fn is_ascii(&self) -> bool {
        self.digit_run_bound != usize::MAX
    }
}

/// Appends a mark, merging adjacent digits into one run.
#[inline]
fn push_mark(buf: &mut Vec<Mark>, start: usize, end: usize, kinds: u16) {
    if kinds & seed::DIGITS != 0 {
        if let Some(last) = buf.last_mut() {
            if last.end == start && last.kinds & seed::DIGITS != 0 {
                last.end = end;
                last.kinds |= kinds;
                return;
            }
        }
    }
    buf.push(Mark { start, end, kinds });
}

/// Where a regex recognizer can find anything: the maximal runs of `class` bytes around
/// the marks of kinds `seeds`, that pass `keep`.
///
/// For the results to equal a search of the whole text, three things must hold for the
/// recognizer's regex and validator, and each built-in recognizer's comment says why they
/// do: every match consists of `class` bytes only (so no match crosses a run's edge); every
/// match the validator accepts contains a `seeds` mark; and `keep` is false only for runs
/// in which no match can be accepted. Bytes of non-ASCII characters are always in the
/// class. Within a run the regex still sees the whole text around it (`\b` stays exact).
/// Texts with fewer than [`Windows::min_digits`] digits are skipped at once.
#[derive(Clone)]
pub struct Windows {
    seeds: u16,
    class: [bool; 256],
    /// Every ASCII digit is in `class`, so a digit mark lies inside its window.
    digits_in_class: bool,
    /// The ASCII bytes of `class` are the digits: a window is a run of digits and
    /// non-ASCII bytes, at most [`Scan::digit_run_bound`] long.
    digits_only: bool,
    /// `class` as [`gap`] atoms, if it is made of whole atoms and takes every ASCII digit.
    atoms: Option<u16>,
    /// In an ASCII text, no window with fewer ASCII digits holds a candidate (0: no
    /// such bound): see [`Windows::window_digits`].
    window_digits: usize,
    keep: fn(&[u8]) -> bool,
    /// The non-ASCII characters a match can contain (None: any; `class` has every
    /// non-ASCII byte either way). With it, in a text that is not ASCII a window stops at a
    /// non-ASCII character outside it: in a text in another script the windows stay around
    /// the marks instead of spanning the words between them, where the regex would run
    /// without its DFA (Unicode `\b`).
    non_ascii: Option<fn(char) -> bool>,
    min_digits: usize,
    /// Runs shorter than this are skipped without calling `keep` (which rejects them).
    min_len: usize,
    /// A condition on the whole text that every text with a candidate meets (None: none).
    text: Option<fn(&Scan) -> bool>,
    /// In an ASCII text, the windows themselves (None: the class runs): see
    /// [`Windows::ascii`].
    ascii: Option<AsciiWindows>,
}

/// Calls its second argument on each window of an ASCII text, in order (see
/// [`Windows::ascii`]).
pub type AsciiWindows = fn(&Scan, &mut dyn FnMut(usize, usize));

impl Windows {
    pub fn new(seeds: u16, class: fn(u8) -> bool, keep: fn(&[u8]) -> bool) -> Windows {
        let mut table = [false; 256];
        for (b, t) in table.iter_mut().enumerate() {
            *t = b >= 0x80 || class(b as u8);
        }
        Windows {
            seeds,
            digits_in_class: (b'0'..=b'9').all(|d| table[usize::from(d)]),
            digits_only: (0..0x80u8).all(|b| table[usize::from(b)] == b.is_ascii_digit()),
            atoms: gap::atoms_of(&table),
            window_digits: 0,
            class: table,
            keep,
            non_ascii: None,
            min_digits: 0,
            min_len: 0,
            text: None,
            ascii: None,
        }
    }

    /// In an ASCII text, searches the spans `windows` yields (disjoint, in order) instead
    /// of the class runs that pass `keep`; the class runs may be much wider (a class with
    /// letters and spaces takes whole sentences). Every match of the regex in an ASCII
    /// text, accepted by the validator or not, must lie inside one of the spans
    /// `windows` considers, and it may leave out those that hold no accepted match.
    pub fn ascii(mut self, windows: AsciiWindows) -> Windows {
        self.ascii = Some(windows);
        self
    }

    /// Takes in a window only the non-ASCII characters satisfying `pred`, which must hold
    /// for every non-ASCII character a match can contain (`\d`: [`char::is_numeric`];
    /// `\s`: [`char::is_whitespace`]; under `(?i)` also the non-ASCII characters that fold
    /// to ASCII letters, U+017F `ſ` and U+212A `K`). The seeding mark itself is always
    /// taken whole.
    pub fn non_ascii(mut self, pred: fn(char) -> bool) -> Windows {
        self.non_ascii = Some(pred);
        self
    }

    /// Skips runs shorter than `n` bytes without calling `keep`, saving a call on the many
    /// short runs (single digit groups): `keep` must reject every run shorter than `n`
    /// (checked in tests on every run seen).
    pub fn min_len(mut self, n: usize) -> Windows {
        self.min_len = n;
        self
    }

    /// States that in an ASCII text no window with fewer than `n` ASCII digits holds a
    /// candidate (`keep` rejects it, or no match the validator accepts has fewer `\d`,
    /// which in ASCII are the ASCII digits): the analyzer then skips texts where no window
    /// of the class can have `n` ([`Scan::window_digits_at_least`]). Only for classes
    /// made of whole [`gap`] atoms (checked in tests); ignored otherwise.
    pub fn window_digits(mut self, n: usize) -> Windows {
        self.window_digits = n;
        self
    }

    /// Whether the class takes the ASCII byte `b`.
    #[cfg(test)]
    pub(crate) fn takes(&self, b: u8) -> bool {
        self.class[usize::from(b)]
    }

    /// The class condition of [`Needs`]: (atoms, digits), or (0, 0).
    fn class_digits(&self) -> (u16, usize) {
        match self.atoms {
            Some(atoms) if self.window_digits > 0 => (atoms, self.window_digits),
            _ => (0, 0),
        }
    }

    /// Skips texts whose scan fails `pred`, which must hold for every text where a window
    /// holds a match the validator accepts: part of the recognizer's [`Needs`], which the
    /// analyzer checks before calling (a direct call walks the windows regardless, and
    /// finds the same).
    pub fn text(mut self, pred: fn(&Scan) -> bool) -> Windows {
        self.text = Some(pred);
        self
    }

    /// Skips texts with fewer than `n` characters that may be digits ([`Scan::digits`]):
    /// `n` must be at most the number of `\d` characters in any match the validator accepts.
    pub fn min_digits(mut self, n: usize) -> Windows {
        self.min_digits = n;
        self
    }

    /// The length a text's [`Scan::digit_run_bound`] must reach for a window to pass
    /// `min_len`: `min_len` if windows are digit runs, else 0 (no condition).
    fn min_digit_run(&self) -> usize {
        if self.digits_only {
            self.min_len
        } else {
            0
        }
    }

    /// Extends a window's start backwards from `start` over class bytes and the non-ASCII
    /// characters `pred` takes.
    fn extend_back(&self, text: &str, mut start: usize, pred: fn(char) -> bool) -> usize {
        let b = text.as_bytes();
        while start > 0 {
            if b[start - 1] < 0x80 {
                if !self.class[usize::from(b[start - 1])] {
                    break;
                }
                start -= 1;
                continue;
            }
            let from = floor_char_boundary(text, start - 1);
            match text[from..start].chars().next() {
                Some(c) if pred(c) => start = from,
                _ => break,
            }
        }
        start
    }

    /// Extends a window's end forwards from `end` over class bytes and the non-ASCII
    /// characters `pred` takes.
    fn extend_forward(&self, text: &str, mut end: usize, pred: fn(char) -> bool) -> usize {
        let b = text.as_bytes();
        while end < b.len() {
            if b[end] < 0x80 {
                if !self.class[usize::from(b[end])] {
                    break;
                }
                end += 1;
            } else if !text.is_char_boundary(end) {
                // Only after `m.start + 1` inside a mark's first character: its other bytes.
                end += 1;
            } else {
                match text[end..].chars().next() {
                    Some(c) if pred(c) => end += c.len_utf8(),
                    _ => break,
                }
            }
        }
        end
    }

    /// Calls `search` on each window of `text`, in order.
    pub(crate) fn each(&self, text: &str, scan: &Scan, mut search: impl FnMut(usize, usize)) {
        if scan.digits < self.min_digits
            || scan.kinds & self.seeds == 0
            || scan.digit_run_bound < self.min_digit_run()
        {
            return;
        }
        let b = text.as_bytes();
        let mut covered = 0;
        let marks = if self.seeds & !seed::ANY_DIGITS == 0 {
            scan.digit_marks
        } else {
            scan.marks
        };
        if scan.digit_run_bound == usize::MAX {
            if let Some(pred) = self.non_ascii {
                // Not ASCII (see `Scan::digit_run_bound`): windows read characters.
                return self.each_char(text, marks, pred, &mut search);
            }
        } else if let Some(windows) = self.ascii {
            return windows(scan, &mut search);
        } else if self.digits_only && self.seeds & !seed::ANY_DIGITS == 0 {
            // In an ASCII text a run of digits is a digit mark: nothing to extend.
            for m in marks {
                if m.kinds & self.seeds != 0
                    && m.end - m.start >= self.min_len
                    && (self.keep)(&b[m.start..m.end])
                {
                    search(m.start, m.end);
                }
            }
            return;
        }
        for m in marks {
            if m.kinds & self.seeds == 0 || m.start < covered || !self.class[b[m.start] as usize] {
                continue;
            }
            let mut start = m.start;
            while start > 0 && self.class[b[start - 1] as usize] {
                start -= 1;
            }
            // The mark's own bytes are in the class (a punctuation mark is one byte; a digit
            // run's bytes are ASCII digits or non-ASCII bytes) unless digits are not.
            let mut end = if self.digits_in_class || m.kinds & seed::DIGITS == 0 {
                m.end
            } else {
                m.start + 1
            };
            while end < b.len() && self.class[b[end] as usize] {
                end += 1;
            }
            covered = end;
            if end - start < self.min_len {
                #[cfg(test)]
                assert!(!(self.keep)(&b[start..end]), "min_len {}", self.min_len);
                continue;
            }
            if (self.keep)(&b[start..end]) {
                search(start, end);
            }
        }
    }

    /// [`Windows::each`] in a text that is not ASCII, for windows that take only some
    /// non-ASCII characters (`pred`): each window's edges are read a character at a time.
    /// (Kept apart so that the byte loop above, which every ASCII text takes, stays as
    /// tight as it was.)
    #[cold]
    #[inline(never)]
    fn each_char(
        &self,
        text: &str,
        marks: &[Mark],
        pred: fn(char) -> bool,
        search: &mut dyn FnMut(usize, usize),
    ) {
        let b = text.as_bytes();
        let mut covered = 0;
        for m in marks {
            if m.kinds & self.seeds == 0 || m.start < covered || !self.class[b[m.start] as usize] {
                continue;
            }
            // The mark itself is taken whole; the characters around it as `pred` says.
            let start = self.extend_back(text, m.start, pred);
            let end = if self.digits_in_class || m.kinds & seed::DIGITS == 0 {
                m.end
            } else {
                m.start + 1
            };
            let end = self.extend_forward(text, end, pred);
            covered = end;
            if end - start < self.min_len {
                #[cfg(test)]
                assert!(!(self.keep)(&b[start..end]), "min_len {}", self.min_len);
                continue;
            }
            if (self.keep)(&b[start..end]) {
                search(start, end);
            }
        }
    }
}

/// Whether `run` has at least `n` bytes that are ASCII digits or belong to non-ASCII
/// characters (which may be digits): a bound on the `\d` characters a match in it can have.
pub(crate) fn maybe_digits_at_least(run: &[u8], n: usize) -> bool {
    run.iter()
        .filter(|b| b.is_ascii_digit() || **b >= 0x80)
        .take(n)
        .count()
        == n
}

/// Whether `run` has at least `n` ASCII digits.
pub(crate) fn ascii_digits_at_least(run: &[u8], n: usize) -> bool {
    let mut missing = n;
    for &b in run {
        if missing == 0 {
            break;
        }
        missing -= usize::from(b.is_ascii_digit());
    }
    missing == 0
}

/// Checks a regex match and returns the span to report (possibly narrower than the match)
/// with its base score, or `None` to reject a look-alike.
pub type Validator = fn(text: &str, matched: Range<usize>) -> Option<(Range<usize>, f64)>;

/// A recognizer made of a regular expression, a validator and context words.
///
/// The score of a validated match is raised by `context_boost` (capped at 1.0) when one of
/// the `context` words occurs shortly before or after it, case-insensitively.
pub struct PatternRecognizer {
    entity: EntityType,
    /// A byte that every match contains; texts without it are skipped without running the
    /// regex (`None`: always run).
    required_byte: Option<ByteSet>,
    pattern: String,
    regex: Regex,
    /// Where to search (`None`: the whole text).
    windows: Option<Windows>,
    validator: Validator,
    context: ContextWords,
    context_boost: f64,
    /// The regex as a hand-written matcher, used on ASCII spans (see [`super::shape`]),
    /// with the table of the bytes its matches start with.
    shape: Option<(&'static ShapeMatcher, Box<[bool; 256]>)>,
}

/// Compiles `pattern` with the `regex` crate's syntax and semantics (leftmost-first,
/// Unicode), for searches bounded with [`Input::span`].
pub(crate) fn compile(pattern: &str) -> Result<Regex, Box<meta::BuildError>> {
    Ok(meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(MatchKind::LeftmostFirst)
                .utf8_empty(true)
                .nfa_size_limit(Some(10 << 20))
                // A larger lazy-DFA cache than the default: with many alternations the
                // default one fills up and the search falls back to the slower PikeVM.
                .hybrid_cache_capacity(16 << 20),
        )
        .syntax(syntax::Config::new().utf8(true))
        .build(pattern)?)
}

/// How far (in bytes) before and after a match context words are looked for.
const CONTEXT_BEFORE: usize = 48;
const CONTEXT_AFTER: usize = 24;

impl PatternRecognizer {
    /// Builds a recognizer. `pattern` is compiled once here, with the `regex` crate's syntax
    /// and semantics (leftmost-first, Unicode); it is a programming error (and a test
    /// failure) for a built-in pattern not to compile, so this returns the build error for
    /// user-supplied patterns to report.
    pub fn new(
        entity: EntityType,
        pattern: &str,
        validator: Validator,
        context: &'static [&'static str],
        context_boost: f64,
    ) -> Result<Self, Box<meta::BuildError>> {
        let regex = compile(pattern)?;
        Ok(PatternRecognizer {
            entity,
            required_byte: None,
            pattern: pattern.to_string(),
            regex,
            windows: None,
            validator,
            context: ContextWords::new(context),
            context_boost,
            shape: None,
        })
    }

    /// Skips texts that contain no byte satisfying `pred` (a cheap prefilter).
    pub fn with_required_byte(mut self, pred: fn(u8) -> bool) -> Self {
        self.required_byte = Some(ByteSet::matching(pred));
        self
    }

    /// Searches only the given [`Windows`] of each text (see there for the conditions that
    /// keep the results equal to a whole-text search).
    pub fn with_windows(mut self, windows: Windows) -> Self {
        self.windows = Some(windows);
        self
    }

    /// Matches ASCII spans with `shape` instead of the regex. `shape` must find exactly what
    /// the regex finds there (the built-in shapes are tested against their regexes).
    pub(crate) fn with_shape(mut self, shape: &'static ShapeMatcher) -> Self {
        self.shape = Some((shape, Box::new(shape.first_bytes())));
        self
    }

    /// The regex's source.
    #[cfg(test)]
    pub(crate) fn pattern_text(&self) -> &str {
        &self.pattern
    }

    /// The recognizer's windows.
    #[cfg(test)]
    pub(crate) fn windows(&self) -> Option<&Windows> {
        self.windows.as_ref()
    }

    /// The recognizer without its shape: every search runs the regex.
    #[cfg(test)]
    pub(crate) fn without_shape(mut self) -> Self {
        self.shape = None;
        self
    }

    /// The first match in `text[pos..end]`: the shape's on ASCII spans, else the regex's.
    #[inline]
    fn find_at(&self, text: &str, pos: usize, end: usize) -> Option<Range<usize>> {
        match &self.shape {
            Some((s, first))
                if end - pos <= s.max_span && shape::applies(text.as_bytes(), pos, end) =>
            {
                s.find(first, text.as_bytes(), pos, end)
            }
            _ => self
                .regex
                .search(&Input::new(text).span(pos..end))
                .map(|m| m.range()),
        }
    }

    /// Runs the regex and validator over `text[start..end]` (look-around sees the whole
    /// text). A validator may accept only a prefix of a match ("4111 1111 1111 1111 2024");
    /// the search then resumes right after the accepted span, so the rest is scanned again.
    /// With `boost` false, scores are left without their context boost (see
    /// [`Recognizer::find_unboosted`]); the spans do not depend on it.
    fn search(
        &self,
        text: &str,
        mut pos: usize,
        end: usize,
        boost: bool,
        out: &mut Vec<Candidate>,
    ) {
        while pos < end {
            let Some(m) = self.find_at(text, pos, end) else {
                break;
            };
            match (self.validator)(text, m.clone()) {
                Some((range, score)) if !range.is_empty() => {
                    let score = if boost {
                        self.context
                            .boosted(text, &range, score, self.context_boost)
                    } else {
                        score
                    };
                    pos = range.end;
                    out.push(Candidate {
                        entity: self.entity,
                        range,
                        score,
                    });
                }
                _ => pos = m.end.max(m.start + 1),
            }
            while pos < text.len() && !text.is_char_boundary(pos) {
                pos += 1;
            }
        }
    }

    /// The candidates of a search over the whole text, windows ignored: what the windows
    /// must reproduce.
    #[cfg(test)]
    pub(crate) fn find_whole(&self, text: &str, out: &mut Vec<Candidate>) {
        if self
            .required_byte
            .is_none_or(|r| r.intersects(&ByteSet::of(text)))
        {
            self.search(text, 0, text.len(), true, out)
        }
    }

    /// The candidates of [`Recognizer::find_in`] (`boost`) or of
    /// [`Recognizer::find_unboosted`].
    fn find_scanned(&self, text: &str, scan: &Scan, boost: bool, out: &mut Vec<Candidate>) {
        if self
            .required_byte
            .is_some_and(|r| !r.intersects(&scan.bytes))
        {
            return;
        }
        match &self.windows {
            None => self.search(text, 0, text.len(), boost, out),
            Some(w) => w.each(text, scan, |start, end| {
                self.search(text, start, end, boost, out)
            }),
        }
    }
}

/// Whether one of `words` (lower-case words or phrases) stands as whole words shortly
/// before or after `range`, by normalizing the text around it: the reference that
/// [`ContextWords::near`] is tested against.
#[cfg(test)]
pub(crate) fn context_near<S: AsRef<str>>(text: &str, range: &Range<usize>, words: &[S]) -> bool {
    if words.is_empty() {
        return false;
    }
    let start = floor_char_boundary(text, range.start.saturating_sub(CONTEXT_BEFORE));
    let end = ceil_char_boundary(text, (range.end + CONTEXT_AFTER).min(text.len()));
    let near = normalize_words(&text[start..end]);
    words.iter().any(|w| contains_word(&near, w.as_ref()))
}

/// FNV-1a: word tables are hit once per word, where SipHash's setup cost dominates; the
/// keys are fixed word lists, so flooding is not a concern.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(crate) type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

/// Context words prepared for [`ContextWords::near`]: the same answer as [`context_near`],
/// found for ASCII text by looking up each nearby word in a hash table instead of
/// normalizing the text and searching it once per context word.
pub(crate) struct ContextWords {
    words: Vec<String>,
    /// First part of each phrase that can match at all → the phrases' other parts.
    first: std::collections::HashMap<Vec<u8>, Vec<Vec<Vec<u8>>>, FnvBuild>,
    /// Length of the longest first part.
    longest: usize,
    /// For each first byte of a first part, bit `n` set when a first part of `n` bytes
    /// starts with it: tokens that fail this are not looked up.
    shapes: [u64; 128],
}

impl ContextWords {
    pub(crate) fn new<S: AsRef<str>>(words: &[S]) -> ContextWords {
        let mut first: std::collections::HashMap<Vec<u8>, Vec<Vec<Vec<u8>>>, FnvBuild> =
            Default::default();
        let mut longest = 0;
        let mut shapes = [0u64; 128];
        for w in words {
            let parts: Vec<Vec<u8>> = w
                .as_ref()
                .split(' ')
                .map(|p| p.as_bytes().to_vec())
                .collect();
            // A part that is empty or has a byte normalization never produces cannot match.
            let possible = parts.iter().all(|p| {
                !p.is_empty()
                    && p.iter()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'#')
            });
            if possible {
                longest = longest.max(parts[0].len());
                if parts[0].len() < 64 {
                    shapes[usize::from(parts[0][0] & 0x7f)] |= 1 << parts[0].len();
                }
                first
                    .entry(parts[0].clone())
                    .or_default()
                    .push(parts[1..].to_vec());
            }
        }
        ContextWords {
            words: words.iter().map(|w| w.as_ref().to_string()).collect(),
            first,
            longest,
            shapes,
        }
    }

    /// Whether one of the words stands near `range` (see [`context_near`]).
    pub(crate) fn near(&self, text: &str, range: &Range<usize>) -> bool {
        if self.words.is_empty() {
            return false;
        }
        let start = floor_char_boundary(text, range.start.saturating_sub(CONTEXT_BEFORE));
        let end = ceil_char_boundary(text, (range.end + CONTEXT_AFTER).min(text.len()));
        let near = &text[start..end];
        match self.ascii_near(near.as_bytes()) {
            Some(found) => found,
            None => {
                let near = normalize_words(near);
                self.words.iter().any(|w| contains_word(&near, w))
            }
        }
    }

    /// `score` raised by `boost` (capped at 1.0) when one of the words stands near `range`.
    pub(crate) fn boosted(&self, text: &str, range: &Range<usize>, score: f64, boost: f64) -> f64 {
        if self.near(text, range) {
            (score + boost).min(1.0)
        } else {
            score
        }
    }

    /// The words of [`normalize_words`] (runs of letters, digits and `#`, lower-cased) are
    /// compared in place, read one at a time (the words after one that starts a phrase
    /// only when it does). `None` when `near` is not ASCII.
    fn ascii_near(&self, near: &[u8]) -> Option<bool> {
        if !near.is_ascii() {
            return None;
        }
        let is_word = |b: u8| WORD_BYTES[usize::from(b)];
        // The first word at or after `i`, as (start, end).
        let next_word = |mut i: usize| -> Option<(usize, usize)> {
            while i < near.len() && !is_word(near[i]) {
                i += 1;
            }
            if i == near.len() {
                return None;
            }
            let start = i;
            while i < near.len() && is_word(near[i]) {
                i += 1;
            }
            Some((start, i))
        };
        let word_is = |(s, e): (usize, usize), part: &[u8]| {
            let w = &near[s..e];
            w.len() == part.len()
                && w.iter()
                    .zip(part)
                    .all(|(a, b)| a.to_ascii_lowercase() == *b)
        };
        let mut lower = [0u8; 64];
        let mut pos = 0;
        while let Some((s, e)) = next_word(pos) {
            pos = e;
            // Lengths of 64 and more pass `longest` only when some first part is that long,
            // and are then looked up.
            if e - s > self.longest
                || e - s > lower.len()
                || (e - s < 64
                    && self.shapes[usize::from(near[s].to_ascii_lowercase())] >> (e - s) & 1 == 0)
            {
                continue;
            }
            for (l, b) in lower.iter_mut().zip(&near[s..e]) {
                *l = b.to_ascii_lowercase();
            }
            let Some(phrases) = self.first.get(&lower[..e - s]) else {
                continue;
            };
            let phrase_here = |parts: &Vec<Vec<u8>>| {
                let mut at = e;
                parts.iter().all(|part| match next_word(at) {
                    Some(w) if word_is(w, part) => {
                        at = w.1;
                        true
                    }
                    _ => false,
                })
            };
            if phrases.iter().any(phrase_here) {
                return Some(true);
            }
        }
        Some(false)
    }
}

/// The bytes of [`normalize_words`]'s words: ASCII letters and digits, and `#`.
static WORD_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric() || b == b'#' as usize;
        b += 1;
    }
    t
};

/// Whether `word` (one or more words joined by single spaces) occurs in `near` (normalized:
/// words separated by single spaces, a space at both ends) as whole words.
fn contains_word(near: &str, word: &str) -> bool {
    let bytes = near.as_bytes();
    near.match_indices(word)
        .any(|(i, _)| i > 0 && bytes[i - 1] == b' ' && bytes.get(i + word.len()) == Some(&b' '))
}

/// Lower-cases `s` and turns every run of characters other than letters, digits and `#`
/// into one space, with a space at both ends, so " ssn " matches the word "SSN:" but not
/// the "ssn" inside "classnote".
pub(crate) fn normalize_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(' ');
    if s.is_ascii() {
        // Fast path: byte by byte, no Unicode case tables.
        let mut last_space = true;
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b == b'#' {
                out.push(b.to_ascii_lowercase() as char);
                last_space = false;
            } else if !last_space {
                out.push(' ');
                last_space = true;
            }
        }
        if !last_space {
            out.push(' ');
        }
        return out;
    }
    for c in s.chars() {
        if c.is_alphanumeric() || c == '#' {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

impl Recognizer for PatternRecognizer {
    fn entity(&self) -> EntityType {
        self.entity
    }

    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        let mut buf = Vec::new();
        self.find_in(text, &Scan::new(text, &mut buf), out)
    }

    /// The regex, for the analyzer's one-pass gate, unless windows already narrow the
    /// search more cheaply.
    fn pattern(&self) -> Option<&str> {
        self.windows.is_none().then_some(self.pattern.as_str())
    }

    /// The required byte, and the windows' digit count, seed kinds and digit-run length: `find_in`
    /// returns at once without them.
    fn needs(&self) -> Needs {
        let (class, class_digits) = self.windows.as_ref().map_or((0, 0), Windows::class_digits);
        Needs {
            min_digits: self.windows.as_ref().map_or(0, |w| w.min_digits),
            kinds: self.windows.as_ref().map_or(0, |w| w.seeds),
            bytes: self.required_byte,
            min_digit_run: self.windows.as_ref().map_or(0, Windows::min_digit_run),
            class,
            class_digits,
            scan: self.windows.as_ref().and_then(|w| w.text),
        }
    }

    fn find_in(&self, text: &str, scan: &Scan, out: &mut Vec<Candidate>) {
        self.find_scanned(text, scan, true, out)
    }

    fn find_unboosted(&self, text: &str, scan: &Scan, out: &mut Vec<Candidate>) {
        self.find_scanned(text, scan, false, out)
    }

    /// The boost, or 0 when no context word can ever be found (no boost is ever applied).
    fn context_boost(&self) -> f64 {
        if self.context.words.is_empty() {
            0.0
        } else {
            self.context_boost
        }
    }

    fn boosted(&self, text: &str, c: &Candidate) -> f64 {
        self.context
            .boosted(text, &c.range, c.score, self.context_boost)
    }
}

pub(crate) fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub(crate) fn ceil_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::recognizers::test_util::random_texts;

    #[test]
    fn scan_bytes_are_the_text_bytes() {
        let mut texts = random_texts(500, 0x0123_4567_89AB_CDEF);
        texts.push((0u8..128).map(char::from).collect());
        for text in &texts {
            let mut buf = Vec::new();
            assert_eq!(
                Scan::new(text, &mut buf).bytes,
                ByteSet::of(text),
                "{text:?}"
            );
        }
    }

    /// The scan as first written, one byte and one `push_mark` at a time: what
    /// [`Scan::new`] is compared with.
    fn scan_reference(text: &str) -> (ByteSet, usize, Vec<Mark>) {
        let mut marks = Vec::new();
        let mut digits = 0;
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c < 0x80 {
                let k = BYTE_KINDS[usize::from(c)];
                if k != 0 {
                    digits += usize::from(k & seed::DIGITS != 0);
                    push_mark(&mut marks, i, i + 1, k);
                }
                i += 1;
            } else {
                let ch = text[i..].chars().next().unwrap();
                if ch.is_numeric() {
                    digits += 1;
                    push_mark(&mut marks, i, i + ch.len_utf8(), seed::DIGITS);
                }
                i += ch.len_utf8();
            }
        }
        (ByteSet::of(text), digits, marks)
    }

    #[test]
    fn scan_agrees_with_reference() {
        let mut texts = random_texts(3000, 0x0DDB_1A5E_5BAD_5EED);
        texts.extend(random_texts(300, 11).iter().map(|t| t.replace(' ', "")));
        texts.push((0u8..128).map(char::from).collect());
        texts.extend(
            [
                "",
                "٤1١2",
                "12٣",
                "x²³y",
                "Ⅻ 4",
                "\u{10FFFF}9",
                "yy..--@@::",
                "9",
            ]
            .map(String::from),
        );
        for text in &texts {
            let mut buf = Vec::new();
            let scan = Scan::new(text, &mut buf);
            let (bytes, digits, marks) = scan_reference(text);
            assert_eq!(scan.bytes, bytes, "{text:?}");
            assert_eq!(scan.digits, digits, "{text:?}");
            assert_eq!(scan.marks(), &marks[..], "{text:?}");
            let digit_marks: Vec<Mark> = marks
                .iter()
                .filter(|m| m.kinds & seed::DIGITS != 0)
                .copied()
                .collect();
            assert_eq!(scan.digit_marks, &digit_marks[..], "{text:?}");
            for kind in [
                seed::AT,
                seed::COLON,
                seed::DOT,
                seed::DASH,
                seed::Y,
                seed::DIGITS,
            ] {
                let n = marks
                    .iter()
                    .filter(|m| m.kinds == kind && kind != seed::DIGITS)
                    .count();
                assert_eq!(scan.count(kind), n, "{text:?}");
            }
            assert_eq!(
                scan.kinds,
                marks.iter().fold(0, |k, m| k | m.kinds),
                "{text:?}"
            );
            // The longest run of ASCII digits and non-ASCII bytes, in an ASCII text.
            let longest = text
                .as_bytes()
                .split(|b| !b.is_ascii_digit() && b.is_ascii())
                .map(<[u8]>::len)
                .max()
                .unwrap_or(0);
            let bound = if text.is_ascii() { longest } else { usize::MAX };
            assert_eq!(scan.digit_run_bound, bound, "{text:?}");
        }
    }

    #[test]
    fn context_words_agree_with_normalized_search() {
        let words = [
            "ssn",
            "social security",
            "ss #",
            "cc#",
            "e-mail",
            "name",
            "in",
            "at",
            "phone",
            "account",
            "tax id",
            "ni no",
            "#",
            "Phone",
            "2024",
            "new york",
            "grüße",
        ];
        let context = ContextWords::new(&words);
        let (mut checked, mut near) = (0, 0);
        for (k, text) in random_texts(3000, 0x2545_F491_4F6C_DD1D).iter().enumerate() {
            let bounds: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            for step in [1, 7, 31] {
                let a = bounds[(k * step) % bounds.len()];
                let b = bounds[(k * step * 3 + 5) % bounds.len()];
                let range = a.min(b)..a.max(b);
                let expected = context_near(text, &range, &words);
                assert_eq!(context.near(text, &range), expected, "{text:?} {range:?}");
                checked += 1;
                near += usize::from(expected);
            }
        }
        assert!(near > checked / 10 && near < checked, "{near} of {checked}");
    }
}
