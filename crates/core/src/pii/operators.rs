use super::PiiSpan;

/// How a detected span is rewritten.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// Replace the span with a template in which `{type}` stands for the entity label.
    Redact { template: String },
}

impl Default for Operator {
    fn default() -> Self {
        Operator::Redact {
            template: "<{type}>".to_string(),
        }
    }
}

impl Operator {
    /// Rewrites `text`, replacing each span (sorted, non-overlapping, as produced by
    /// [`super::Analyzer::analyze`]).
    pub fn apply(&self, text: &str, spans: &[PiiSpan]) -> String {
        if spans.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for s in spans {
            out.push_str(&text[pos..s.byte_start]);
            match self {
                Operator::Redact { template } => {
                    out.push_str(&template.replace("{type}", s.entity.as_str()))
                }
            }
            pos = s.byte_end;
        }
        out.push_str(&text[pos..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::Analyzer;

    #[test]
    fn custom_template() {
        let text = "a jane@example.com b";
        let spans = Analyzer::shared_default().analyze(text);
        let op = Operator::Redact {
            template: "[REDACTED_{type}]".into(),
        };
        assert_eq!(op.apply(text, &spans), "a [REDACTED_EMAIL_ADDRESS] b");
    }
}
