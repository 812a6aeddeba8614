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
    required_byte: Option<fn(u8) -> bool>,
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
            regex: Regex::new(pattern)?,
            validator,
            context,
            context_boost,
        })
    }

    /// Skips texts that contain no byte satisfying `pred` (a cheap prefilter).
    pub fn with_required_byte(mut self, pred: fn(u8) -> bool) -> Self {
        self.required_byte = Some(pred);
        self
    }

    /// Whether a context word (or phrase) stands as whole words near `range`.
    fn has_context(&self, text: &str, range: &Range<usize>) -> bool {
        context_near(text, range, self.context)
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
    words
        .iter()
        .any(|w| near.contains(&format!(" {} ", w.as_ref())))
}

/// Lower-cases `s` and turns every run of characters other than letters, digits and `#`
/// into one space, with a space at both ends, so " ssn " matches the word "SSN:" but not
/// the "ssn" inside "classnote".
pub(crate) fn normalize_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(' ');
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
        if let Some(pred) = self.required_byte {
            if !text.bytes().any(pred) {
                return;
            }
        }
        // A validator may accept only a prefix of a match ("4111 1111 1111 1111 2024"); the
        // search then resumes right after the accepted span, so the rest is scanned again.
        let mut pos = 0;
        while let Some(m) = self.regex.find_at(text, pos) {
            match (self.validator)(text, m.range()) {
                Some((range, score)) if !range.is_empty() => {
                    let score = if self.has_context(text, &range) {
                        (score + self.context_boost).min(1.0)
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
