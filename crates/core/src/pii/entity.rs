use std::fmt;
use std::str::FromStr;

use crate::error::VeilError;

/// The kinds of personal data veil recognizes. Names follow Presidio's entity names so that
/// labels, configurations and evaluation data carry over unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityType {
    EmailAddress,
    CreditCard,
    UsSsn,
}

impl EntityType {
    /// Every entity type, in a stable order.
    pub const ALL: &'static [EntityType] = &[
        EntityType::EmailAddress,
        EntityType::CreditCard,
        EntityType::UsSsn,
    ];

    /// The upper-case label used in SQL, options and replacement text.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::EmailAddress => "EMAIL_ADDRESS",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::UsSsn => "US_SSN",
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityType {
    type Err = VeilError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityType::ALL
            .iter()
            .copied()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = EntityType::ALL.iter().map(|e| e.as_str()).collect();
                VeilError::invalid(
                    "entities",
                    format!(
                        "unknown entity type '{s}'; known types: {}",
                        known.join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for e in EntityType::ALL {
            assert_eq!(e.as_str().parse::<EntityType>().unwrap(), *e);
        }
        let err = "EMAIL".parse::<EntityType>().unwrap_err().to_string();
        assert!(err.contains("unknown entity type 'EMAIL'"), "{err}");
    }
}
