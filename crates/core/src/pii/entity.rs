use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use crate::error::{Fallible, VeilError};

/// The kinds of personal data veil recognizes. Names follow Presidio's entity names so that
/// labels, configurations and evaluation data carry over unchanged. `Custom` labels come
/// from user-defined patterns and deny lists in the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityType {
    Person,
    Location,
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
    /// A label defined at run time (see [`EntityType::custom`]).
    Custom(CustomLabel),
}

/// An interned user-defined label such as `EMPLOYEE_ID`: upper-case ASCII letters, digits
/// and `_`, starting with a letter, at most 64 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomLabel(&'static str);

/// At most this many distinct custom labels per process: labels are interned for the
/// process's lifetime, so the cap bounds that memory.
pub const MAX_CUSTOM_LABELS: usize = 4096;

impl EntityType {
    /// Every entity type, in a stable order.
    pub const ALL: &'static [EntityType] = &[
        EntityType::Person,
        EntityType::Location,
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
            EntityType::Person => "PERSON",
            EntityType::Location => "LOCATION",
            EntityType::Custom(CustomLabel(name)) => name,
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

    /// A user-defined label. Built-in names return the built-in type, so a user pattern for
    /// `PHONE_NUMBER` adds to the phone recognizer's findings.
    pub fn custom(name: &str) -> Fallible<EntityType> {
        if let Some(e) = EntityType::ALL.iter().find(|e| e.as_str() == name) {
            return Ok(*e);
        }
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.as_bytes()[0].is_ascii_uppercase()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(VeilError::invalid(
                "options",
                format!(
                    "entity name {name:?} must be upper-case letters, digits and _, starting \
                     with a letter, at most 64 bytes (like EMPLOYEE_ID)"
                ),
            ));
        }
        static LABELS: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
        let mut labels = LABELS.lock().unwrap_or_else(|e| e.into_inner());
        let labels = labels.get_or_insert_with(HashSet::new);
        if let Some(l) = labels.get(name) {
            return Ok(EntityType::Custom(CustomLabel(l)));
        }
        if labels.len() >= MAX_CUSTOM_LABELS {
            return Err(VeilError::invalid(
                "options",
                format!("too many distinct custom entity names in this process (limit {MAX_CUSTOM_LABELS})"),
            ));
        }
        let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
        labels.insert(leaked);
        Ok(EntityType::Custom(CustomLabel(leaked)))
    }

    /// Whether this is a user-defined label.
    pub fn is_custom(self) -> bool {
        matches!(self, EntityType::Custom(_))
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

    #[test]
    fn custom_labels_are_interned_and_validated() {
        let a = EntityType::custom("EMPLOYEE_ID").unwrap();
        assert_eq!(a, EntityType::custom("EMPLOYEE_ID").unwrap());
        assert_eq!(a.as_str(), "EMPLOYEE_ID");
        assert!(a.is_custom());
        assert_eq!(EntityType::custom("US_SSN").unwrap(), EntityType::UsSsn);
        for bad in ["", "employee", "1ID", "EMP-ID", &"A".repeat(65)] {
            assert!(EntityType::custom(bad).is_err(), "{bad}");
        }
        // Custom labels are not built-in names.
        assert!("EMPLOYEE_ID".parse::<EntityType>().is_err());
    }
}
