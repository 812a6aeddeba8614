//! Counts of detected entities over many texts: the state of the `pii_entity_summary`
//! aggregate, mergeable across partitions and parallel workers.

use std::collections::BTreeMap;

use super::{EntityType, PiiSpan};
use crate::error::{Fallible, VeilError};

/// How many spans of each entity type were found, and in how many texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntitySummary {
    pub counts: BTreeMap<EntityType, u64>,
}

impl EntitySummary {
    /// Adds the spans found in one text.
    pub fn add(&mut self, spans: &[PiiSpan]) {
        for s in spans {
            *self.counts.entry(s.entity).or_insert(0) += 1;
        }
    }

    pub fn merge(&mut self, other: &EntitySummary) {
        for (e, n) in &other.counts {
            *self.counts.entry(*e).or_insert(0) += n;
        }
    }

    /// A JSON object of the non-zero counts, keys in entity-name order:
    /// `{"CREDIT_CARD":2,"EMAIL_ADDRESS":5}`.
    pub fn to_json(&self) -> String {
        let mut by_name: Vec<(&str, u64)> =
            self.counts.iter().map(|(e, n)| (e.as_str(), *n)).collect();
        by_name.sort();
        let body: Vec<String> = by_name
            .iter()
            .map(|(k, n)| format!("\"{k}\":{n}"))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// Encoding for shipping partial states: (entity label length, label, count) triples.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (e, n) in &self.counts {
            let label = e.as_str().as_bytes();
            out.push(label.len() as u8);
            out.extend_from_slice(label);
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(mut bytes: &[u8]) -> Fallible<Self> {
        let corrupt = || VeilError::IncompatibleState("corrupt pii_entity_summary state".into());
        let mut summary = EntitySummary::default();
        while let Some((&len, rest)) = bytes.split_first() {
            let len = len as usize;
            if rest.len() < len + 8 {
                return Err(corrupt());
            }
            let label = std::str::from_utf8(&rest[..len]).map_err(|_| corrupt())?;
            let entity = EntityType::custom(label).map_err(|_| corrupt())?;
            let n = u64::from_le_bytes(rest[len..len + 8].try_into().map_err(|_| corrupt())?);
            *summary.counts.entry(entity).or_insert(0) += n;
            bytes = &rest[len + 8..];
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::Analyzer;

    #[test]
    fn counts_merge_and_round_trip() {
        let a = Analyzer::shared_default();
        let mut left = EntitySummary::default();
        left.add(&a.analyze("jane@example.com and bob@example.org"));
        let mut right = EntitySummary::default();
        right.add(&a.analyze("card 4111 1111 1111 1111, ssn 536-22-1234"));
        right.add(&a.analyze("nothing"));
        let right = EntitySummary::from_bytes(&right.to_bytes()).unwrap();
        left.merge(&right);
        assert_eq!(
            left.to_json(),
            r#"{"CREDIT_CARD":1,"EMAIL_ADDRESS":2,"US_SSN":1}"#
        );
        assert_eq!(EntitySummary::default().to_json(), "{}");
        assert!(EntitySummary::from_bytes(&[5, b'x']).is_err());
    }
}
