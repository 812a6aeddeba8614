//! Recognizers defined at run time in the options: user patterns and deny lists.
//!
//! ```json
//! {"patterns": [{"name": "EMPLOYEE_ID", "regex": "\\bEMP-\\d{6}\\b", "score": 0.8,
//!                "context": ["employee", "staff id"]}],
//!  "deny": ["Project Falcon"]}
//! ```
//! A pattern match scores `score` (default 0.6), raised by [`CONTEXT_BOOST`] when one of its
//! context words stands near it. Deny-list values are always reported (score 1.0, label
//! `DENY_LIST`, or the label given with `{"deny": {"CODENAME": ["Falcon"]}}`), matched as
//! whole words, ignoring case.

use std::ops::Range;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::recognizer::{normalize_words, ContextWords};
use super::{Candidate, EntityType, Recognizer};
use crate::error::{Fallible, VeilError};

/// How much a context word raises a user pattern's score (Presidio's default factor).
pub const CONTEXT_BOOST: f64 = 0.35;
/// Score of a user pattern match without `score` in the options.
pub const DEFAULT_PATTERN_SCORE: f64 = 0.6;
/// Upper bound on the compiled size of one user regex, so a query cannot make the engine
/// build a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The label of deny-list values given as a plain list.
pub const DENY_LIST_LABEL: &str = "DENY_LIST";

/// A user pattern as written in the options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    pub name: String,
    pub regex: String,
    pub score: Option<f64>,
    pub context: Option<Vec<String>>,
}

/// The `deny` option: a list of values (label `DENY_LIST`) or label → values.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DenySpec {
    List(Vec<String>),
    Labelled(std::collections::BTreeMap<String, Vec<String>>),
}

/// A regex recognizer from the options.
pub struct UserPattern {
    entity: EntityType,
    regex: Regex,
    score: f64,
    context: ContextWords,
}

impl UserPattern {
    /// Validates and compiles `spec`; `index` names it in errors (`patterns[2]`).
    pub fn new(spec: &PatternSpec, index: usize) -> Fallible<Self> {
        let field = |f: &str| format!("options.patterns[{index}].{f}");
        let entity = EntityType::custom(&spec.name).map_err(|e| e.for_argument(field("name")))?;
        let score = spec.score.unwrap_or(DEFAULT_PATTERN_SCORE);
        if !(0.0..=1.0).contains(&score) {
            return Err(VeilError::invalid(
                field("score"),
                format!("must be between 0 and 1, got {score}"),
            ));
        }
        let regex = RegexBuilder::new(&spec.regex)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| VeilError::invalid(field("regex"), e.to_string()))?;
        if regex.is_match("") {
            return Err(VeilError::invalid(
                field("regex"),
                format!("{:?} matches the empty string", spec.regex),
            ));
        }
        let context: Vec<String> = spec
            .context
            .iter()
            .flatten()
            .map(|w| normalize_words(w).trim().to_string())
            .filter(|w| !w.is_empty())
            .collect();
        Ok(UserPattern {
            entity,
            regex,
            score,
            context: ContextWords::new(&context),
        })
    }
}

impl Recognizer for UserPattern {
    fn entity(&self) -> EntityType {
        self.entity
    }

    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.regex.find_iter(text) {
            if m.is_empty() {
                continue;
            }
            let range = m.range();
            let score = self
                .context
                .boosted(text, &range, self.score, CONTEXT_BOOST);
            out.push(Candidate {
                entity: self.entity,
                range,
                score,
            });
        }
    }
}

/// Values that are always reported, as whole words, ignoring case.
pub struct DenyList {
    entity: EntityType,
    regex: Regex,
}

impl DenyList {
    /// `field` names the option in errors.
    pub fn new(entity: EntityType, values: &[String], field: &str) -> Fallible<Self> {
        let mut values: Vec<&str> = values.iter().map(|v| v.trim()).collect();
        if let Some(i) = values.iter().position(|v| v.is_empty()) {
            return Err(VeilError::invalid(
                field.to_string(),
                format!("value {i} is empty; deny-list values must contain text"),
            ));
        }
        // Longest first, so a value that extends another wins at the same position.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let alternation: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
        let regex = RegexBuilder::new(&format!("(?i)(?:{})", alternation.join("|")))
            .size_limit(REGEX_SIZE_LIMIT * 8)
            .build()
            .map_err(|e| VeilError::invalid(field.to_string(), e.to_string()))?;
        Ok(DenyList { entity, regex })
    }
}

/// Whether `range` is not glued to letters or digits on either side (only checked where the
/// value itself begins/ends with one).
fn whole_word(text: &str, range: &Range<usize>) -> bool {
    let inner_first = text[range.clone()].chars().next();
    let inner_last = text[range.clone()].chars().next_back();
    let before = text[..range.start].chars().next_back();
    let after = text[range.end..].chars().next();
    let glued = |outer: Option<char>, inner: Option<char>| matches!((outer, inner), (Some(o), Some(i)) if o.is_alphanumeric() && i.is_alphanumeric());
    !glued(before, inner_first) && !glued(after, inner_last)
}

impl Recognizer for DenyList {
    fn entity(&self) -> EntityType {
        self.entity
    }

    fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        let mut pos = 0;
        while pos < text.len() {
            let Some(m) = self.regex.find_at(text, pos) else {
                break;
            };
            if whole_word(text, &m.range()) {
                out.push(Candidate {
                    entity: self.entity,
                    range: m.range(),
                    score: 1.0,
                });
                pos = m.end();
            } else {
                // Retry from the next character: a shorter value may still match here.
                pos = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
}

/// Builds the recognizers of the `patterns` and `deny` options.
pub fn build(
    patterns: &[PatternSpec],
    deny: Option<&DenySpec>,
) -> Fallible<Vec<Box<dyn Recognizer>>> {
    let mut out: Vec<Box<dyn Recognizer>> = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        out.push(Box::new(UserPattern::new(p, i)?));
    }
    match deny {
        Some(DenySpec::List(values)) if !values.is_empty() => {
            let label = EntityType::custom(DENY_LIST_LABEL)?;
            out.push(Box::new(DenyList::new(label, values, "options.deny")?));
        }
        None | Some(DenySpec::List(_)) => {}
        Some(DenySpec::Labelled(map)) => {
            for (name, values) in map {
                let field = format!("options.deny.{name}");
                let label = EntityType::custom(name).map_err(|e| e.for_argument(field.clone()))?;
                if !values.is_empty() {
                    out.push(Box::new(DenyList::new(label, values, &field)?));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::recognizers::test_util::found;

    fn pattern(json: &str) -> Fallible<UserPattern> {
        UserPattern::new(&serde_json::from_str(json).unwrap(), 0)
    }

    #[test]
    fn user_pattern_scores_and_context() {
        let p = pattern(
            r#"{"name":"EMPLOYEE_ID","regex":"\\bEMP-\\d{6}\\b","score":0.5,"context":["Staff  ID"]}"#,
        )
        .unwrap();
        assert_eq!(
            found(&p, "ticket EMP-123456"),
            vec![("EMP-123456".into(), 0.5)]
        );
        assert_eq!(
            found(&p, "staff id: EMP-123456, EMP-1234567"),
            vec![("EMP-123456".into(), 0.85)]
        );
        assert_eq!(p.entity().as_str(), "EMPLOYEE_ID");
    }

    #[test]
    fn user_pattern_errors_name_the_field() {
        let err = |j: &str| pattern(j).err().unwrap().to_string();
        assert!(err(r#"{"name":"emp","regex":"x"}"#).contains("patterns[0].name"));
        assert!(err(r#"{"name":"EMP","regex":"(x"}"#).contains("patterns[0].regex"));
        assert!(err(r#"{"name":"EMP","regex":"x*"}"#).contains("matches the empty string"));
        assert!(err(r#"{"name":"EMP","regex":"x","score":1.5}"#).contains("patterns[0].score"));
        assert!(
            err(r#"{"name":"EMP","regex":"\\w{1000}\\w{1000}\\w{1000}"}"#)
                .contains("patterns[0].regex")
        );
    }

    #[test]
    fn deny_list_matches_whole_words_ignoring_case() {
        let label = EntityType::custom("CODENAME").unwrap();
        let d = DenyList::new(
            label,
            &["Falcon".into(), "falcon heavy".into(), "Ünïcorn".into()],
            "options.deny",
        )
        .unwrap();
        assert_eq!(
            found(&d, "FALCON, Falcons, Falcon Heavy and ünïcorn."),
            vec![
                ("FALCON".into(), 1.0),
                ("Falcon Heavy".into(), 1.0),
                ("ünïcorn".into(), 1.0)
            ]
        );
        assert!(DenyList::new(label, &[" ".into()], "options.deny").is_err());
    }
}
