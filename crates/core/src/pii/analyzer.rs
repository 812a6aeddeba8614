use std::cell::RefCell;
use std::sync::OnceLock;

use super::recognizer::{Mark, Needs, Scan};
use super::{recognizers, Candidate, EntityType, PiiOptions, Recognizer};

/// Candidates scoring below this are not reported by default. Chosen so that every
/// validated structured match (email, Luhn-valid card, formatted SSN) passes, while weak
/// matches (nine bare digits as an SSN) need a context word.
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// One detected piece of PII.
#[derive(Debug, Clone, PartialEq)]
pub struct PiiSpan {
    pub entity: EntityType,
    /// 0-based Unicode code-point offset of the first character.
    pub start: usize,
    /// Code-point offset one past the last character.
    pub end: usize,
    /// Byte range in the analyzed text (for slicing the Rust `&str`).
    pub byte_start: usize,
    pub byte_end: usize,
    pub score: f64,
}

impl PiiSpan {
    /// The detected text.
    pub fn value<'a>(&self, text: &'a str) -> &'a str {
        &text[self.byte_start..self.byte_end]
    }
}

/// Runs a set of recognizers over texts.
pub struct Analyzer {
    recognizers: Vec<Box<dyn Recognizer>>,
    /// `recognizers[i].entity()`, read once here rather than by a call per text.
    entities: Vec<EntityType>,
    /// `builtin_bit` of each entity, for the per-call entity filter.
    bits: Vec<u32>,
    /// `recognizers[i].needs()`: recognizers are called only on texts that meet it.
    needs: Vec<Needs>,
    threshold: f64,
    /// One multi-pattern pass over the text that tells which regex recognizers can match
    /// at all; the others are skipped without running their own search. Recognizers that
    /// search only windows of the text (see [`super::Windows`]) are not in it.
    gate: Option<Gate>,
}

struct Gate {
    set: regex::RegexSet,
    /// Position in `set` of each recognizer's pattern (None: not gated).
    slot: Vec<Option<usize>>,
}

impl Gate {
    fn new(recognizers: &[Box<dyn Recognizer>]) -> Option<Gate> {
        let mut patterns = Vec::new();
        let slot = recognizers
            .iter()
            .map(|r| {
                r.pattern().map(|p| {
                    patterns.push(p.to_string());
                    patterns.len() - 1
                })
            })
            .collect();
        if patterns.is_empty() {
            return None;
        }
        let set = regex::RegexSetBuilder::new(&patterns)
            .dfa_size_limit(32 << 20)
            .build()
            .ok()?;
        Some(Gate { set, slot })
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(recognizers::builtin(), DEFAULT_THRESHOLD)
    }
}

impl Analyzer {
    pub fn new(recognizers: Vec<Box<dyn Recognizer>>, threshold: f64) -> Self {
        Analyzer {
            gate: Gate::new(&recognizers),
            entities: recognizers.iter().map(|r| r.entity()).collect(),
            bits: recognizers
                .iter()
                .map(|r| builtin_bit(r.entity()))
                .collect(),
            needs: recognizers.iter().map(|r| r.needs()).collect(),
            recognizers,
            threshold,
        }
    }

    /// The default analyzer, built once per process (its regexes compile once).
    pub fn shared_default() -> &'static Analyzer {
        static DEFAULT: OnceLock<Analyzer> = OnceLock::new();
        DEFAULT.get_or_init(Analyzer::default)
    }

    /// Finds PII in `text`: candidates at or above the threshold, overlaps resolved to the
    /// higher score (then the longer span, then the earlier one), sorted by position.
    pub fn analyze(&self, text: &str) -> Vec<PiiSpan> {
        self.find(text, &[], |_, _| true, self.threshold, &[])
    }

    /// Like [`Analyzer::analyze`] with per-call options: entity filter (recognizers of
    /// other types do not run, user patterns and deny lists included), threshold, allow
    /// list, and the options' own recognizers.
    pub fn analyze_with(&self, text: &str, options: &PiiOptions) -> Vec<PiiSpan> {
        // `options.wants` for the built-in types as bits, from one pass over the entity
        // list, rather than a search of the list for every recognizer.
        let builtin = options.entities.as_ref().map_or(u32::MAX, |list| {
            list.iter().fold(0u32, |m, e| m | builtin_bit(*e))
        });
        self.find(
            text,
            &options.custom.recognizers,
            |e, bit| match bit {
                0 => options.wants(e),
                bit => builtin & bit != 0,
            },
            options.threshold,
            &options.allow,
        )
    }

    fn find(
        &self,
        text: &str,
        extra: &[Box<dyn Recognizer>],
        wants: impl Fn(EntityType, u32) -> bool,
        threshold: f64,
        allow: &[String],
    ) -> Vec<PiiSpan> {
        thread_local! {
            static BUFFERS: RefCell<Buffers> = const { RefCell::new(Buffers::new()) };
        }
        // Taken out of the cell (not borrowed), so a nested call cannot conflict.
        let mut buffers = BUFFERS.with(|m| m.take());
        buffers.candidates.clear();
        let spans = self.find_scanned(text, &mut buffers, extra, wants, threshold, allow);
        BUFFERS.with(|m| m.replace(buffers));
        spans
    }

    fn find_scanned(
        &self,
        text: &str,
        buffers: &mut Buffers,
        extra: &[Box<dyn Recognizer>],
        // The entity and its `builtin_bit`.
        wants: impl Fn(EntityType, u32) -> bool,
        threshold: f64,
        allow: &[String],
    ) -> Vec<PiiSpan> {
        let Buffers { marks, candidates } = buffers;
        let scan = Scan::new(text, marks);
        let hits = self.gate.as_ref().map(|g| g.set.matches(text));
        for (i, (r, e)) in self.recognizers.iter().zip(&self.entities).enumerate() {
            if !self.needs[i].met_by(&scan) || !wants(*e, self.bits[i]) {
                continue;
            }
            let gated_out = match (&self.gate, &hits) {
                (Some(g), Some(h)) => g.slot[i].is_some_and(|j| !h.matched(j)),
                _ => false,
            };
            if !gated_out {
                r.find_in(text, &scan, candidates);
            }
        }
        for r in extra.iter() {
            let e = r.entity();
            if r.needs().met_by(&scan) && wants(e, builtin_bit(e)) {
                r.find_in(text, &scan, candidates);
            }
        }
        candidates.retain(|c| {
            c.score >= threshold && !allow.iter().any(|a| a.as_str() == &text[c.range.clone()])
        });
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then((b.range.end - b.range.start).cmp(&(a.range.end - a.range.start)))
                .then(a.range.start.cmp(&b.range.start))
        });
        let mut kept: Vec<Candidate> = Vec::with_capacity(candidates.len());
        for c in candidates.drain(..) {
            if kept
                .iter()
                .all(|k| c.range.end <= k.range.start || k.range.end <= c.range.start)
            {
                kept.push(c);
            }
        }
        kept.sort_by_key(|c| c.range.start);
        to_spans(text, kept)
    }
}

/// The marks and candidates of one text, reused across texts (per thread).
#[derive(Default)]
struct Buffers {
    marks: Vec<Mark>,
    candidates: Vec<Candidate>,
}

impl Buffers {
    const fn new() -> Buffers {
        Buffers {
            marks: Vec::new(),
            candidates: Vec::new(),
        }
    }
}

/// One bit per built-in entity type, 0 for custom labels. Every variant is listed, so a new
/// one cannot be forgotten here.
fn builtin_bit(e: EntityType) -> u32 {
    let i = match e {
        EntityType::Person => 0,
        EntityType::Location => 1,
        EntityType::EmailAddress => 2,
        EntityType::PhoneNumber => 3,
        EntityType::Url => 4,
        EntityType::CreditCard => 5,
        EntityType::IbanCode => 6,
        EntityType::Crypto => 7,
        EntityType::UsBankNumber => 8,
        EntityType::AbaRoutingNumber => 9,
        EntityType::IpAddress => 10,
        EntityType::MacAddress => 11,
        EntityType::DateTime => 12,
        EntityType::UsSsn => 13,
        EntityType::UsItin => 14,
        EntityType::UsNpi => 15,
        EntityType::UsPassport => 16,
        EntityType::UsDriverLicense => 17,
        EntityType::UkNhs => 18,
        EntityType::UkNino => 19,
        EntityType::Custom(_) => return 0,
    };
    1 << i
}

/// Converts byte ranges (sorted, non-overlapping) to code-point offsets in one pass.
fn to_spans(text: &str, kept: Vec<Candidate>) -> Vec<PiiSpan> {
    let mut spans = Vec::with_capacity(kept.len());
    if text.is_ascii() {
        // One byte per code point.
        spans.extend(kept.into_iter().map(|c| PiiSpan {
            entity: c.entity,
            start: c.range.start,
            end: c.range.end,
            byte_start: c.range.start,
            byte_end: c.range.end,
            score: c.score,
        }));
        return spans;
    }
    let mut chars_before = 0usize; // code points in text[..byte_pos]
    let mut byte_pos = 0usize;
    for c in kept {
        chars_before += text[byte_pos..c.range.start].chars().count();
        let start = chars_before;
        chars_before += text[c.range.clone()].chars().count();
        byte_pos = c.range.end;
        spans.push(PiiSpan {
            entity: c.entity,
            start,
            end: chars_before,
            byte_start: c.range.start,
            byte_end: c.range.end,
            score: c.score,
        });
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_code_points() {
        let text = "Ünïcödé ✓ jane@example.com";
        let spans = Analyzer::shared_default().analyze(text);
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!((s.start, s.end), (10, 26));
        assert_eq!(s.value(text), "jane@example.com");
        let by_chars: String = text.chars().skip(s.start).take(s.end - s.start).collect();
        assert_eq!(by_chars, "jane@example.com");
    }

    fn fixed(entity: EntityType, pattern: &str, score: fn() -> f64) -> Box<dyn Recognizer> {
        // Validators are plain fns, so each score gets its own tiny fn.
        let v: super::super::Validator = match score() {
            s if s > 0.8 => |_, m| Some((m, 0.9)),
            _ => |_, m| Some((m, 0.6)),
        };
        Box::new(super::super::PatternRecognizer::new(entity, pattern, v, &[], 0.0).unwrap())
    }

    #[test]
    fn overlaps_resolve_to_higher_score_then_longer() {
        let wide = fixed(EntityType::CreditCard, r"\d{4} \d{4}", || 0.6);
        let narrow = fixed(EntityType::UsSsn, r"\d{4}", || 0.9);
        let a = Analyzer::new(vec![wide, narrow], 0.5);
        let got: Vec<_> = a
            .analyze("x 1234 5678")
            .into_iter()
            .map(|s| (s.entity, s.start))
            .collect();
        assert_eq!(got, vec![(EntityType::UsSsn, 2), (EntityType::UsSsn, 7)]);

        let wide = fixed(EntityType::CreditCard, r"\d{4} \d{4}", || 0.9);
        let narrow = fixed(EntityType::UsSsn, r"\d{4}", || 0.9);
        let a = Analyzer::new(vec![narrow, wide], 0.5);
        let got: Vec<_> = a
            .analyze("x 1234 5678")
            .into_iter()
            .map(|s| (s.entity, s.start, s.end))
            .collect();
        assert_eq!(got, vec![(EntityType::CreditCard, 2, 11)]);
    }

    #[test]
    fn options_filter_types_threshold_and_allow_list() {
        let a = Analyzer::shared_default();
        let text = "jane@example.com, help@example.com, 536-22-1234";
        let o = PiiOptions::parse(Some(
            r#"{"entities":["EMAIL_ADDRESS"],"allow":["help@example.com"]}"#,
        ))
        .unwrap();
        let got: Vec<_> = a
            .analyze_with(text, &o)
            .iter()
            .map(|s| s.value(text).to_string())
            .collect();
        assert_eq!(got, vec!["jane@example.com"]);
        let strict = PiiOptions::parse(Some(r#"{"threshold":0.9}"#)).unwrap();
        let types: Vec<_> = a
            .analyze_with(text, &strict)
            .iter()
            .map(|s| s.entity)
            .collect();
        assert_eq!(
            types,
            vec![EntityType::EmailAddress, EntityType::EmailAddress]
        );
    }

    #[test]
    fn builtin_bits_are_distinct() {
        let bits: Vec<u32> = EntityType::ALL.iter().map(|e| builtin_bit(*e)).collect();
        assert!(bits.iter().all(|b| b.count_ones() == 1));
        assert_eq!(
            bits.iter().fold(0, |m, b| m | b).count_ones() as usize,
            bits.len()
        );
        assert_eq!(builtin_bit(EntityType::custom("EMPLOYEE_ID").unwrap()), 0);
    }

    #[test]
    fn threshold_filters_weak_candidates() {
        let a = Analyzer::default();
        assert!(a.analyze("ref 536221234").is_empty());
        let strict = Analyzer::new(recognizers::builtin(), 0.99);
        assert!(strict.analyze("jane@example.com").is_empty());
    }
}
