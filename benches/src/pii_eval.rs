//! Evaluates veil's PII analyzer against Presidio-research-format data: a JSON array of
//! `{ "full_text": …, "spans": [{ "entity_type", "entity_value", "start_position",
//! "end_position" }] }` with code-point offsets.
//!
//! A predicted span counts as correct when it overlaps a gold span of the same type (gold
//! labels mapped to veil's names, e.g. DOMAIN_NAME → URL); precision counts correct
//! predictions, recall counts gold spans found.

use std::collections::BTreeMap;

use serde::Deserialize;
use veil_core::pii::{Analyzer, EntityType};

#[derive(Debug, Deserialize)]
pub struct Record {
    pub full_text: String,
    pub spans: Vec<GoldSpan>,
}

#[derive(Debug, Deserialize)]
pub struct GoldSpan {
    pub entity_type: String,
    pub start_position: usize,
    pub end_position: usize,
}

/// Gold label → the veil entity type that should find it (None: veil has no recognizer).
pub fn map_gold(label: &str) -> Option<EntityType> {
    match label {
        "DOMAIN_NAME" => Some(EntityType::Url),
        // As presidio-research's evaluation does: places and addresses are LOCATION.
        "GPE" | "STREET_ADDRESS" => Some(EntityType::Location),
        other => other.parse().ok(),
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub predicted: usize,
    pub correct_predictions: usize,
    pub gold: usize,
    pub found_gold: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.correct_predictions, self.predicted)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.found_gold, self.gold)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn add(&mut self, o: &Counts) {
        self.predicted += o.predicted;
        self.correct_predictions += o.correct_predictions;
        self.gold += o.gold;
        self.found_gold += o.found_gold;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Per-label counts: keys are veil entity names for predictions and covered gold labels,
/// the raw gold label for labels veil does not cover.
#[derive(Debug, Default)]
pub struct Report {
    pub by_label: BTreeMap<String, Counts>,
    pub texts: usize,
    pub bytes: usize,
}

impl Report {
    /// Micro-averaged counts over labels veil covers.
    pub fn covered(&self) -> Counts {
        self.sum(|l| l.parse::<EntityType>().is_ok())
    }
    /// Micro-averaged counts over every gold label (uncovered ones are all misses).
    pub fn all(&self) -> Counts {
        self.sum(|_| true)
    }
    fn sum(&self, keep: impl Fn(&str) -> bool) -> Counts {
        let mut total = Counts::default();
        for (label, c) in &self.by_label {
            if keep(label) {
                total.add(c);
            }
        }
        total
    }
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Runs `analyzer` over every record and tallies the matches.
pub fn evaluate(analyzer: &Analyzer, records: &[Record]) -> Report {
    let mut report = Report::default();
    for rec in records {
        report.texts += 1;
        report.bytes += rec.full_text.len();
        let predicted = analyzer.analyze(&rec.full_text);
        let gold: Vec<(String, Option<EntityType>, (usize, usize))> = rec
            .spans
            .iter()
            .map(|g| {
                (
                    g.entity_type.clone(),
                    map_gold(&g.entity_type),
                    (g.start_position, g.end_position),
                )
            })
            .collect();
        for p in &predicted {
            let c = report
                .by_label
                .entry(p.entity.as_str().to_string())
                .or_default();
            c.predicted += 1;
            if gold
                .iter()
                .any(|(_, t, r)| *t == Some(p.entity) && overlaps(*r, (p.start, p.end)))
            {
                c.correct_predictions += 1;
            }
        }
        for (label, t, r) in &gold {
            let key = t
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| label.clone());
            let c = report.by_label.entry(key).or_default();
            c.gold += 1;
            if predicted
                .iter()
                .any(|p| Some(p.entity) == *t && overlaps(*r, (p.start, p.end)))
            {
                c.found_gold += 1;
            }
        }
    }
    report
}

/// Gold spans of `label` the analyzer missed, and its predictions of `label` that match no
/// gold span of that type, with their text, for error analysis.
pub fn errors(analyzer: &Analyzer, records: &[Record], label: &str) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut wrong = Vec::new();
    let text_of = |t: &str, r: (usize, usize)| -> String {
        t.chars().skip(r.0).take(r.1.saturating_sub(r.0)).collect()
    };
    for rec in records {
        let predicted = analyzer.analyze(&rec.full_text);
        for p in predicted.iter().filter(|p| p.entity.as_str() == label) {
            let hit = rec.spans.iter().any(|g| {
                map_gold(&g.entity_type) == Some(p.entity)
                    && overlaps((g.start_position, g.end_position), (p.start, p.end))
            });
            if !hit {
                wrong.push(text_of(&rec.full_text, (p.start, p.end)));
            }
        }
        let wanted = |g: &&GoldSpan| {
            g.entity_type == label || map_gold(&g.entity_type).is_some_and(|e| e.as_str() == label)
        };
        for g in rec.spans.iter().filter(wanted) {
            let t = map_gold(&g.entity_type);
            let r = (g.start_position, g.end_position);
            if !predicted
                .iter()
                .any(|p| Some(p.entity) == t && overlaps(r, (p.start, p.end)))
            {
                out.push(text_of(&rec.full_text, r));
            }
        }
    }
    (out, wrong)
}

/// The report as a Markdown table.
pub fn render(report: &Report) -> String {
    let mut out = String::from(
        "| entity | gold | predicted | precision | recall | F1 |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let row = |name: &str, c: &Counts| {
        format!(
            "| {name} | {} | {} | {:.3} | {:.3} | {:.3} |\n",
            c.gold,
            c.predicted,
            c.precision(),
            c.recall(),
            c.f1()
        )
    };
    for (label, c) in &report.by_label {
        out.push_str(&row(label, c));
    }
    out.push_str(&row("**micro, covered types**", &report.covered()));
    out.push_str(&row("**micro, all gold types**", &report.all()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_overlap_matches_by_type() {
        let records: Vec<Record> = serde_json::from_str(
            r#"[{"full_text": "mail jane@example.com or call Acme", "spans": [
                {"entity_type": "EMAIL_ADDRESS", "entity_value": "jane@example.com", "start_position": 5, "end_position": 21},
                {"entity_type": "ORGANIZATION", "entity_value": "Acme", "start_position": 30, "end_position": 34}]},
               {"full_text": "card 4111 1111 1111 1111", "spans": []}]"#,
        )
        .unwrap();
        let r = evaluate(&Analyzer::default(), &records);
        let email = r.by_label["EMAIL_ADDRESS"];
        assert_eq!(
            (
                email.gold,
                email.found_gold,
                email.predicted,
                email.correct_predictions
            ),
            (1, 1, 1, 1)
        );
        let card = r.by_label["CREDIT_CARD"];
        assert_eq!((card.predicted, card.correct_predictions), (1, 0));
        assert_eq!(r.by_label["ORGANIZATION"].gold, 1);
        assert!((r.covered().precision() - 0.5).abs() < 1e-9);
        assert!((r.all().recall() - 0.5).abs() < 1e-9);
        assert!(render(&r).contains("| ORGANIZATION | 1 | 0 |"));
    }
}
