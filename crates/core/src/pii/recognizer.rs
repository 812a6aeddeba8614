use std::ops::Range;

use regex::Regex;

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

    /// [`Recognizer::find`] given the set of bytes `text` contains, computed once per text
    /// by the analyzer so recognizers can skip texts without the bytes they need.
    fn find_in(&self, text: &str, _bytes: &ByteSet, out: &mut Vec<Candidate>) {
        self.find(text, out)
    }

    /// The regex every candidate comes from, if the recognizer is one regex: the analyzer
    /// then skips it for texts where the pattern matches nowhere.
    fn pattern(&self) -> Option<&str> {
        None
    }
}

/// A set of byte values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    /// The bytes that occur in `text`.
    pub fn of(text: &str) -> ByteSet {
        let mut set = [0u64; 4];
        for b in text.bytes() {
            set[(b >> 6) as usize] |= 1 << (b & 63);
        }
        ByteSet(set)
    }

    /// The bytes satisfying `pred`.
    pub fn matching(pred: fn(u8) -> bool) -> ByteSet {
        let mut set = [0u64; 4];
        for b in 0..=255u8 {
            if pred(b) {
                set[(b >> 6) as usize] |= 1 << (b & 63);
            }
        }
        ByteSet(set)
    }

    pub fn intersects(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
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
    regex: Regex,
    validator: Validator,
    context: &'static [&'static str],
    context_boost: f64,
}

/// How far (in bytes) before and after a match context words are looked for.
const CONTEXT_BEFORE: usize = 48;
const CONTEXT_AFTER: usize = 24;

impl PatternRecognizer {
    /// Builds a recognizer. `pattern` is compiled once here; it is a programming error (and a
    /// test failure) for a built-in pattern not to compile, so this returns the regex error
    /// for user-supplied patterns to report.
    pub fn new(
        entity: EntityType,
        pattern: &str,
        validator: Validator,
        context: &'static [&'static str],
        context_boost: f64,
    ) -> Result<Self, regex::Error> {
        Ok(PatternRecognizer {
            entity,
            required_byte: None,
            // A larger lazy-DFA cache than the default: with many alternations the default
            // one fills up and the search falls back to the much slower PikeVM.
            regex: regex::RegexBuilder::new(pattern)
                .dfa_size_limit(16 << 20)
                .build()?,
            validator,
            context,
            context_boost,
        })
    }

    /// Skips texts that contain no byte satisfying `pred` (a cheap prefilter).
    pub fn with_required_byte(mut self, pred: fn(u8) -> bool) -> Self {
        self.required_byte = Some(ByteSet::matching(pred));
        self
    }
}

/// `score` raised by `boost` (capped at 1.0) when one of the context `words` stands near
/// `range` (see [`context_near`]).
pub(crate) fn boosted_near<S: AsRef<str>>(
    text: &str,
    range: &Range<usize>,
    words: &[S],
    score: f64,
    boost: f64,
) -> f64 {
    if context_near(text, range, words) {
        (score + boost).min(1.0)
    } else {
        score
    }
}

/// Whether one of `words` (lower-case words or phrases) stands as whole words shortly
/// before or after `range`.
pub(crate) fn context_near<S: AsRef<str>>(text: &str, range: &Range<usize>, words: &[S]) -> bool {
    if words.is_empty() {
        return false;
    }
    let start = floor_char_boundary(text, range.start.saturating_sub(CONTEXT_BEFORE));
    let end = ceil_char_boundary(text, (range.end + CONTEXT_AFTER).min(text.len()));
    let near = normalize_words(&text[start..end]);
    words.iter().any(|w| contains_word(&near, w.as_ref()))
}

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
        self.find_in(text, &ByteSet::of(text), out)
    }

    fn pattern(&self) -> Option<&str> {
        Some(self.regex.as_str())
    }

    fn find_in(&self, text: &str, bytes: &ByteSet, out: &mut Vec<Candidate>) {
        if self.required_byte.is_some_and(|r| !r.intersects(bytes)) {
            return;
        }
        // A validator may accept only a prefix of a match ("4111 1111 1111 1111 2024"); the
        // search then resumes right after the accepted span, so the rest is scanned again.
        let mut pos = 0;
        while let Some(m) = self.regex.find_at(text, pos) {
            match (self.validator)(text, m.range()) {
                Some((range, score)) if !range.is_empty() => {
                    let score = boosted_near(text, &range, self.context, score, self.context_boost);
                    pos = range.end;
                    out.push(Candidate {
                        entity: self.entity,
                        range,
                        score,
                    });
                }
                _ => pos = m.end().max(m.start() + 1),
            }
            while pos < text.len() && !text.is_char_boundary(pos) {
                pos += 1;
            }
            if pos >= text.len() {
                break;
            }
        }
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
