//! The `options` argument of the SQL PII functions: a JSON object such as
//! `{"entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"], "threshold": 0.6, "allow": ["help@example.com"],
//!   "strategy": "redact", "template": "[REDACTED_{type}]",
//!   "per_entity": {"PHONE_NUMBER": {"strategy": "mask", "keep_last": 4}}}`.
//! Unknown keys, entity names and strategies are errors, never silently ignored.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::{EntityType, Replacer, DEFAULT_THRESHOLD};
use crate::error::{Fallible, VeilError};
use crate::mask::StrategySpec;

/// What to look for and what to report.
#[derive(Debug, Clone, PartialEq)]
pub struct PiiOptions {
    /// Only these entity types (None: all).
    pub entities: Option<Vec<EntityType>>,
    /// Minimum score to report, in [0, 1].
    pub threshold: f64,
    /// Values never reported (exact match of the detected text).
    pub allow: Vec<String>,
    /// How `redact_pii` rewrites what it finds.
    pub replacer: Replacer,
}

impl Default for PiiOptions {
    fn default() -> Self {
        PiiOptions {
            entities: None,
            threshold: DEFAULT_THRESHOLD,
            allow: Vec::new(),
            replacer: Replacer::default(),
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
}

impl PiiOptions {
    /// Parses the JSON `options` argument. `None` or an empty/blank string means defaults.
    pub fn parse(json: Option<&str>) -> Fallible<Self> {
        let Some(json) = json.filter(|j| !j.trim().is_empty()) else {
            return Ok(PiiOptions::default());
        };
        let raw: Raw = serde_json::from_str(json).map_err(|e| {
            VeilError::invalid(
                "options",
                format!(
                    "must be a JSON object with keys entities, threshold, allow, strategy, \
                     template, keep_first, keep_last, mask_char, per_entity: {e}"
                ),
            )
        })?;
        let entities = raw
            .entities
            .map(|names| {
                names
                    .iter()
                    .map(|n| n.parse::<EntityType>())
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
            per_entity.insert(name.parse::<EntityType>()?, spec.build()?);
        }
        Ok(PiiOptions {
            entities,
            threshold,
            allow: raw.allow.unwrap_or_default(),
            replacer: Replacer {
                default,
                per_entity,
            },
        })
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
    fn rejects_unknown_keys_names_and_bad_values() {
        let err = |j: &str| PiiOptions::parse(Some(j)).unwrap_err().to_string();
        assert!(err(r#"{"entitys":["EMAIL_ADDRESS"]}"#).contains("unknown field `entitys`"));
        assert!(err(r#"{"entities":["EMAIL"]}"#).contains("unknown entity type 'EMAIL'"));
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
