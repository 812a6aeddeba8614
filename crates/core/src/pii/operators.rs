use std::collections::BTreeMap;
use std::ops::Range;

use super::{EntityType, PiiSpan};
use crate::error::Fallible;
use crate::mask::{Secrets, Strategy};

/// How detected spans are rewritten: one strategy for every entity type, optionally
/// overridden per type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replacer {
    pub default: Strategy,
    pub per_entity: BTreeMap<EntityType, Strategy>,
}

impl Replacer {
    /// The strategy used for `entity`.
    pub fn strategy(&self, entity: EntityType) -> &Strategy {
        self.per_entity.get(&entity).unwrap_or(&self.default)
    }

    /// Rewrites `text`, replacing each span (sorted, non-overlapping, as produced by
    /// [`super::Analyzer::analyze`]).
    pub fn apply(&self, text: &str, spans: &[PiiSpan], secrets: &Secrets) -> Fallible<String> {
        let ranges = spans.iter().map(|s| (s.entity, s.byte_start..s.byte_end));
        self.rewrite(text, ranges, secrets)
    }

    /// [`Replacer::apply`] on the spans' types and byte ranges.
    pub(crate) fn rewrite(
        &self,
        text: &str,
        spans: impl ExactSizeIterator<Item = (EntityType, Range<usize>)>,
        secrets: &Secrets,
    ) -> Fallible<String> {
        self.default.check_secrets(secrets)?;
        for s in self.per_entity.values() {
            s.check_secrets(secrets)?;
        }
        if spans.len() == 0 {
            return Ok(text.to_string());
        }
        // Room for labels longer than their values ("<IP_ADDRESS>" for "10.0.0.1"), so
        // that the string is not grown on the way.
        let mut out = String::with_capacity(text.len() + 16 * spans.len());
        let mut pos = 0;
        for (entity, range) in spans {
            out.push_str(&text[pos..range.start]);
            match self.strategy(entity) {
                // What `Strategy::apply` returns, written in place.
                Strategy::Redact { template } => push_template(&mut out, template, entity.as_str()),
                strategy => {
                    out.push_str(&strategy.apply(entity.as_str(), &text[range.clone()], secrets)?)
                }
            }
            pos = range.end;
        }
        out.push_str(&text[pos..]);
        Ok(out)
    }
}

/// Appends `template` with every `{type}` replaced by `label`: `template.replace("{type}",
/// label)` without the intermediate string ("{type}" cannot overlap itself, so scanning for
/// its `{` finds the same occurrences).
fn push_template(out: &mut String, template: &str, label: &str) {
    if template == "<{type}>" {
        // The default template, without the search.
        out.push('<');
        out.push_str(label);
        out.push('>');
        return;
    }
    let mut rest = template;
    while let Some(i) = rest.bytes().position(|b| b == b'{') {
        if rest[i..].starts_with("{type}") {
            out.push_str(&rest[..i]);
            out.push_str(label);
            rest = &rest[i + "{type}".len()..];
        } else {
            out.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_are_filled_as_replace_fills_them() {
        for template in [
            "<{type}>",
            "<{type}>>",
            "<{type",
            "",
            "{type}",
            "{{type}}",
            "{typ{type}e}",
            "[REDACTED_{type}] {type}{type}",
            "{ty}{type",
            "ü{type}✓{",
        ] {
            let mut out = String::from("x");
            super::push_template(&mut out, template, "US_SSN");
            assert_eq!(out, format!("x{}", template.replace("{type}", "US_SSN")));
        }
    }

    use super::*;
    use crate::pii::Analyzer;

    #[test]
    fn default_and_per_entity_strategies() {
        let text = "a jane@example.com b 4111 1111 1111 1111";
        let spans = Analyzer::shared_default().analyze(text);
        let mut r = Replacer {
            default: Strategy::Redact {
                template: "[REDACTED_{type}]".into(),
            },
            per_entity: BTreeMap::new(),
        };
        r.per_entity.insert(
            EntityType::CreditCard,
            Strategy::Mask {
                keep_first: 0,
                keep_last: 4,
                mask_char: '*',
            },
        );
        assert_eq!(
            r.apply(text, &spans, &Secrets::default()).unwrap(),
            "a [REDACTED_EMAIL_ADDRESS] b **** **** **** 1111"
        );
    }
}
