use std::fmt;
use std::str::FromStr;

use crate::error::VeilError;

/// The kinds of personal data veil recognizes. Names follow Presidio's entity names so that
/// labels, configurations and evaluation data carry over unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityType {
    EmailAddress,
    PhoneNumber,
    Url,
    CreditCard,
    IbanCode,
    Crypto,
    UsBankNumber,
    AbaRoutingNumber,
    IpAddress,
    MacAddress,
    DateTime,
    UsSsn,
    UsItin,
    UsNpi,
    UsPassport,
    UsDriverLicense,
    UkNhs,
    UkNino,
}

impl EntityType {
    /// Every entity type, in a stable order.
    pub const ALL: &'static [EntityType] = &[
        EntityType::EmailAddress,
        EntityType::PhoneNumber,
        EntityType::Url,
        EntityType::CreditCard,
        EntityType::IbanCode,
        EntityType::Crypto,
        EntityType::UsBankNumber,
        EntityType::AbaRoutingNumber,
        EntityType::IpAddress,
        EntityType::MacAddress,
        EntityType::DateTime,
        EntityType::UsSsn,
        EntityType::UsItin,
        EntityType::UsNpi,
        EntityType::UsPassport,
        EntityType::UsDriverLicense,
        EntityType::UkNhs,
        EntityType::UkNino,
    ];

    /// The upper-case label used in SQL, options and replacement text.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::EmailAddress => "EMAIL_ADDRESS",
            EntityType::PhoneNumber => "PHONE_NUMBER",
            EntityType::Url => "URL",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::IbanCode => "IBAN_CODE",
            EntityType::Crypto => "CRYPTO",
            EntityType::UsBankNumber => "US_BANK_NUMBER",
            EntityType::AbaRoutingNumber => "ABA_ROUTING_NUMBER",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::MacAddress => "MAC_ADDRESS",
            EntityType::DateTime => "DATE_TIME",
            EntityType::UsSsn => "US_SSN",
            EntityType::UsItin => "US_ITIN",
            EntityType::UsNpi => "US_NPI",
            EntityType::UsPassport => "US_PASSPORT",
            EntityType::UsDriverLicense => "US_DRIVER_LICENSE",
            EntityType::UkNhs => "UK_NHS",
            EntityType::UkNino => "UK_NINO",
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
