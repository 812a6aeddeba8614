//! The `options` argument of the SQL PII functions: a JSON object such as
//! `{"entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"], "threshold": 0.6, "allow": ["help@example.com"],
//!   "strategy": "redact", "template": "[REDACTED_{type}]",
//!   "per_entity": {"PHONE_NUMBER": {"strategy": "mask", "keep_last": 4}}}`.
//! `patterns` and `deny` add recognizers for this call (see [`super::custom`]); their labels
//! may then be used in `entities` and `per_entity`.
//! Unknown keys, entity names and strategies are errors, never silently ignored.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::custom::{self, DenySpec, PatternSpec};
use super::{EntityType, Recognizer, Replacer, DEFAULT_THRESHOLD};
use crate::error::{Fallible, VeilError};
use crate::mask::StrategySpec;

/// What to look for and what to report.
#[derive(Debug, Clone, PartialEq)]
pub struct PiiOptions {
    /// Only these entity types (None: all).
    entities: Option<Vec<EntityType>>,
    /// The built-in types of `entities` as the analyzer's entity bits (all bits: no
    /// filter), computed once here rather than for every text.
    builtin: u32,
    /// Minimum score to report, in [0, 1].
    pub threshold: f64,
    /// Values never reported (exact match of the detected text).
    pub allow: Vec<String>,
    /// How `redact_pii` rewrites what it finds.
    pub replacer: Replacer,
    /// Recognizers from the `patterns` and `deny` options.
    pub custom: CustomRecognizers,
}

/// The recognizers an options object defines, shared between clones; equal when defined by
/// the same JSON.
#[derive(Clone, Default)]
pub struct CustomRecognizers {
    pub recognizers: Arc<Vec<Box<dyn Recognizer>>>,
    source: String,
}

impl std::fmt::Debug for CustomRecognizers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomRecognizers({})", self.source)
    }
}

impl PartialEq for CustomRecognizers {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Default for PiiOptions {
    fn default() -> Self {
        PiiOptions {
            entities: None,
            builtin: u32::MAX,
            threshold: DEFAULT_THRESHOLD,
            allow: Vec::new(),
            replacer: Replacer::default(),
            custom: CustomRecognizers::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    entities: Option<Vec<String>>,
    threshold: Option<f64>,
    allow: Option<Vec<String>>,
    strategy: Option<String>,
    template: Option<String>,
    keep_first: Option<usize>,
    keep_last: Option<usize>,
    mask_char: Option<String>,
    per_entity: Option<HashMap<String, StrategySpec>>,
    patterns: Option<Vec<PatternSpec>>,
    deny: Option<DenySpec>,
}

const KEYS: &str = "entities, threshold, allow, deny, patterns, strategy, template, keep_first, \
                    keep_last, mask_char, per_entity";

impl PiiOptions {
    /// Parses the JSON `options` argument. `None` or an empty/blank string means defaults.
    pub fn parse(json: Option<&str>) -> Fallible<Self> {
        let Some(json) = json.filter(|j| !j.trim().is_empty()) else {
            return Ok(PiiOptions::default());
        };
        let raw: Raw = serde_json::from_str(json).map_err(|e| {
            VeilError::invalid(
                "options",
                format!("must be a JSON object with keys {KEYS}: {e}"),
            )
        })?;
        let patterns = raw.patterns.unwrap_or_default();
        let recognizers = custom::build(&patterns, raw.deny.as_ref())?;
        let defined: Vec<EntityType> = recognizers.iter().map(|r| r.entity()).collect();
        // Built-in names, or labels this options object defines.
        let resolve = |name: &str| -> Fallible<EntityType> {
            match name.parse::<EntityType>() {
                Ok(e) => Ok(e),
                Err(err) => defined
                    .iter()
                    .copied()
                    .find(|e| e.as_str() == name)
                    .ok_or(err),
            }
        };
        if raw.entities.as_ref().is_some_and(Vec::is_empty) {
            // An empty list would look for nothing and report every text clean (Presidio
            // reads it as "every type"): refused rather than guessed.
            return Err(VeilError::invalid(
                "entities",
                "the list is empty: name at least one entity type, or leave `entities` out \
                 to look for every type",
            ));
        }
        let entities = raw
            .entities
            .map(|names| {
                names
                    .iter()
                    .map(|n| resolve(n))
                    .collect::<Fallible<Vec<_>>>()
            })
            .transpose()?;
        let threshold = raw.threshold.unwrap_or(DEFAULT_THRESHOLD);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(VeilError::invalid(
                "options",
                format!("threshold must be between 0 and 1, got {threshold}"),
            ));
        }
        let default = StrategySpec {
            strategy: raw.strategy,
            template: raw.template,
            keep_first: raw.keep_first,
            keep_last: raw.keep_last,
            mask_char: raw.mask_char,
        }
        .build()?;
        let mut per_entity = BTreeMap::new();
        for (name, spec) in raw.per_entity.unwrap_or_default() {
            per_entity.insert(resolve(&name)?, spec.build()?);
        }
        Ok(PiiOptions {
            builtin: entities.as_ref().map_or(u32::MAX, |list| {
                list.iter()
                    .fold(0, |m, e| m | super::analyzer::builtin_bit(*e))
            }),
            entities,
            threshold,
            allow: raw.allow.unwrap_or_default(),
            replacer: Replacer {
                default,
                per_entity,
            },
            custom: CustomRecognizers {
                recognizers: Arc::new(recognizers),
                source: if defined.is_empty() {
                    String::new()
                } else {
                    json.to_string()
                },
            },
        })
    }

    /// [`PiiOptions::parse`] with a small per-process cache, for engines that see the same
    /// options text on every row (user regexes then compile once, not per row).
    pub fn parse_cached(json: Option<&str>) -> Fallible<Arc<PiiOptions>> {
        const SLOTS: usize = 8;
        static CACHE: Mutex<Vec<(String, Arc<PiiOptions>)>> = Mutex::new(Vec::new());
        let key = json.unwrap_or("");
        {
            let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, o)) = cache.iter().find(|(k, _)| k == key) {
                return Ok(Arc::clone(o));
            }
        }
        let parsed = Arc::new(PiiOptions::parse(json)?);
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= SLOTS {
            cache.remove(0);
        }
        cache.push((key.to_string(), Arc::clone(&parsed)));
        Ok(parsed)
    }

    /// The `entities` option: only these entity types are looked for (None: all).
    pub fn entities(&self) -> Option<&[EntityType]> {
        self.entities.as_deref()
    }

    /// `entities` as built-in entity bits (see [`PiiOptions::wants`]).
    pub(crate) fn builtin_mask(&self) -> u32 {
        self.builtin
    }

    /// Whether recognizers of `entity` should run.
    pub fn wants(&self, entity: EntityType) -> bool {
        self.entities
            .as_ref()
            .is_none_or(|list| list.contains(&entity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::Strategy;

    #[test]
    fn parses_and_defaults() {
        assert_eq!(PiiOptions::parse(None).unwrap(), PiiOptions::default());
        assert_eq!(PiiOptions::parse(Some(" ")).unwrap(), PiiOptions::default());
        let o = PiiOptions::parse(Some(
            r#"{"entities":["EMAIL_ADDRESS","US_SSN"],"threshold":0.7,"allow":["a@b.io"]}"#,
        ))
        .unwrap();
        assert_eq!(
            o.entities,
            Some(vec![EntityType::EmailAddress, EntityType::UsSsn])
        );
        assert_eq!(o.threshold, 0.7);
        assert_eq!(o.allow, vec!["a@b.io".to_string()]);
        assert!(o.wants(EntityType::UsSsn) && !o.wants(EntityType::CreditCard));
        let o = PiiOptions::parse(Some(
            r#"{"template":"[{type}]","per_entity":{"US_SSN":{"strategy":"mask","keep_last":4}}}"#,
        ))
        .unwrap();
        assert_eq!(
            o.replacer.default,
            Strategy::Redact {
                template: "[{type}]".into()
            }
        );
        assert_eq!(
            o.replacer.strategy(EntityType::UsSsn),
            &Strategy::Mask {
                keep_first: 0,
                keep_last: 4,
                mask_char: '*'
            }
        );
    }

    #[test]
    fn patterns_and_deny_lists_define_labels() {
        let a = crate::pii::Analyzer::shared_default();
        let text = "EMP-123456 wrote to jane@example.com about Project Falcon and ACME.";
        let o = PiiOptions::parse(Some(
            r#"{"patterns":[{"name":"EMPLOYEE_ID","regex":"\\bEMP-\\d{6}\\b","score":0.7}],
                "deny":{"CODENAME":["project falcon"],"COMPANY":["Acme"]},
                "entities":["EMPLOYEE_ID","CODENAME","COMPANY"],
                "per_entity":{"CODENAME":{"strategy":"mask"}}}"#,
        ))
        .unwrap();
        let got: Vec<_> = a
            .analyze_with(text, &o)
            .iter()
            .map(|s| (s.entity.as_str(), s.value(text)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("EMPLOYEE_ID", "EMP-123456"),
                ("CODENAME", "Project Falcon"),
                ("COMPANY", "ACME")
            ]
        );
        let spans = a.analyze_with(text, &o);
        assert_eq!(
            o.replacer.apply(text, &spans, &Default::default()).unwrap(),
            "<EMPLOYEE_ID> wrote to jane@example.com about ******* ****** and <COMPANY>."
        );
        let plain = PiiOptions::parse(Some(r#"{"deny":["Falcon"]}"#)).unwrap();
        let labels: Vec<_> = a
            .analyze_with(text, &plain)
            .iter()
            .map(|s| s.entity.as_str())
            .collect();
        assert_eq!(labels, vec!["EMAIL_ADDRESS", "DENY_LIST"]);
        // A label must be defined before entities/per_entity may name it.
        let err = PiiOptions::parse(Some(r#"{"entities":["EMPLOYEE_ID"]}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown entity type 'EMPLOYEE_ID'"), "{err}");
        let cached = PiiOptions::parse_cached(Some(r#"{"deny":["Falcon"]}"#)).unwrap();
        assert_eq!(*cached, plain);
    }

    #[test]
    fn rejects_unknown_keys_names_and_bad_values() {
        let err = |j: &str| PiiOptions::parse(Some(j)).unwrap_err().to_string();
        assert!(err(r#"{"entitys":["EMAIL_ADDRESS"]}"#).contains("unknown field `entitys`"));
        assert!(err(r#"{"entities":["EMAIL"]}"#).contains("unknown entity type 'EMAIL'"));
        assert!(err(r#"{"entities":[]}"#).contains("`entities`: the list is empty"));
        assert!(err(r#"{"threshold":2}"#).contains("threshold must be between 0 and 1"));
        assert!(err("[1]").contains("`options`"));
        assert!(err(r#"{"per_entity":{"EMAIL":{"strategy":"keep"}}}"#)
            .contains("unknown entity type 'EMAIL'"));
        assert!(
            err(r#"{"per_entity":{"US_SSN":{"strategy":"keep","x":1}}}"#)
                .contains("unknown field `x`")
        );
        assert!(err(r##"{"strategy":"hash","mask_char":"#"}"##)
            .contains("mask_char only applies to strategy mask"));
        assert!(err("not json").contains("`options`"));
    }
}
