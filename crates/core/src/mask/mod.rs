//! Replacement strategies: how a detected value is rewritten.
//!
//! | strategy | result for `jane@example.com` (EMAIL_ADDRESS) |
//! |---|---|
//! | `redact` (default) | `<EMAIL_ADDRESS>`; template configurable, `{type}` = label |
//! | `mask` | `****@*******.com` with `keep_last: 3`: letters and digits masked, separators kept |
//! | `hash` | 32 hex digits of HMAC-SHA256(key, value); refused without a key |
//! | `substitute` | a realistic fake such as `maria.keller42@example.net`: deterministic per key and value (joins survive), from reserved ranges or with failing checksums so it is never a real card/SSN; refused without a key |
//! | `encrypt` | `<enc:EMAIL_ADDRESS:…>`, AES-256-SIV under `veil.encryption_key`; `decrypt_pii` reverses it |
//! | `annotate` | `<EMAIL_ADDRESS>jane@example.com</EMAIL_ADDRESS>` |
//! | `keep` | the value unchanged |
//!
//! Hashing is keyed because an unkeyed hash of a phone number or SSN is reversed by
//! enumerating the few billion possible values. The key comes from engine configuration
//! ([`Secrets`]), never from a query's options.

mod crypto;
mod substitute;

pub use crypto::{decrypt_pii, encrypt};
pub use substitute::substitute;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Fallible, VeilError};

/// Secrets an engine supplies from its configuration.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Key of the `hash` and `substitute` strategies.
    pub hash_key: Option<Vec<u8>>,
    /// Key of the `encrypt` strategy and `decrypt_pii`.
    pub encryption_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("hash_key", &self.hash_key.as_ref().map(|_| "<set>"))
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

/// Minimum length of a hash key, in bytes.
pub const MIN_HASH_KEY_BYTES: usize = 16;

impl Secrets {
    /// Secrets from configuration text; an empty key counts as unset.
    pub fn new(hash_key: Option<&str>) -> Fallible<Self> {
        Ok(Secrets {
            hash_key: key_bytes("veil.hash_key", hash_key)?,
            encryption_key: None,
        })
    }

    /// The key of a keyed strategy (`hash`, `substitute`), or an error saying why
    /// `strategy` refuses to run without it.
    pub(crate) fn hash_key_for(&self, strategy: &str, why: &str) -> Fallible<&[u8]> {
        self.hash_key.as_deref().ok_or_else(|| {
            VeilError::invalid(
                "strategy",
                format!(
                    "{strategy} needs a key: set veil.hash_key in the engine configuration ({why})"
                ),
            )
        })
    }

    /// Adds the key of the `encrypt` strategy (empty counts as unset).
    pub fn with_encryption_key(mut self, key: Option<&str>) -> Fallible<Self> {
        self.encryption_key = key_bytes("veil.encryption_key", key)?;
        Ok(self)
    }
}

/// A configured key as bytes: unset when empty, at least [`MIN_HASH_KEY_BYTES`] long.
fn key_bytes(setting: &'static str, key: Option<&str>) -> Fallible<Option<Vec<u8>>> {
    let Some(k) = key.filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if k.len() < MIN_HASH_KEY_BYTES {
        return Err(VeilError::invalid(
            setting,
            format!(
                "must be at least {MIN_HASH_KEY_BYTES} bytes, got {}",
                k.len()
            ),
        ));
    }
    Ok(Some(k.as_bytes().to_vec()))
}

/// How strategies are written in options: `{"strategy": "mask", "keep_last": 4}`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    pub strategy: Option<String>,
    pub template: Option<String>,
    pub keep_first: Option<usize>,
    pub keep_last: Option<usize>,
    pub mask_char: Option<String>,
}

impl StrategySpec {
    /// Validates the spec: a known strategy name, and parameters only where they apply.
    pub fn build(&self) -> Fallible<Strategy> {
        let name = self.strategy.as_deref().unwrap_or("redact");
        let misplaced = |param: &str, applies_to: &str| {
            Err(VeilError::invalid(
                "options",
                format!("{param} only applies to strategy {applies_to}, not {name}"),
            ))
        };
        if name != "redact" && self.template.is_some() {
            return misplaced("template", "redact");
        }
        if name != "mask" {
            for (param, set) in [
                ("keep_first", self.keep_first.is_some()),
                ("keep_last", self.keep_last.is_some()),
                ("mask_char", self.mask_char.is_some()),
            ] {
                if set {
                    return misplaced(param, "mask");
                }
            }
        }
        Ok(match name {
            "redact" => Strategy::Redact {
                template: self
                    .template
                    .clone()
                    .unwrap_or_else(|| "<{type}>".to_string()),
            },
            "mask" => {
                let mask_char = match self.mask_char.as_deref() {
                    None => '*',
                    Some(s) => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => c,
                            _ => {
                                return Err(VeilError::invalid(
                                    "options",
                                    format!("mask_char must be exactly one character, got {s:?}"),
                                ))
                            }
                        }
                    }
                };
                Strategy::Mask {
                    keep_first: self.keep_first.unwrap_or(0),
                    keep_last: self.keep_last.unwrap_or(0),
                    mask_char,
                }
            }
            "hash" => Strategy::Hash,
            "substitute" => Strategy::Substitute,
            "encrypt" => Strategy::Encrypt,
            "annotate" => Strategy::Annotate,
            "keep" => Strategy::Keep,
            other => {
                return Err(VeilError::invalid(
                    "strategy",
                    format!(
                        "unknown strategy '{other}'; known strategies: {}",
                        Strategy::NAMES.join(", ")
                    ),
                ))
            }
        })
    }
}

/// Options of `anonymize(value, strategy, options)`: the entity label used by `redact`
/// and `annotate`, plus the strategy's parameters.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnonymizeOptions {
    entity: Option<String>,
    template: Option<String>,
    keep_first: Option<usize>,
    keep_last: Option<usize>,
    mask_char: Option<String>,
}

/// `anonymize(value, strategy [, options])`: rewrites a whole value of known type, e.g. an
/// email column with `mask`. Without `entity` in the options the label is `REDACTED`.
pub fn anonymize(
    value: &str,
    strategy: &str,
    options: Option<&str>,
    secrets: &Secrets,
) -> Fallible<String> {
    let raw: AnonymizeOptions = match options.filter(|o| !o.trim().is_empty()) {
        None => AnonymizeOptions::default(),
        Some(json) => serde_json::from_str(json).map_err(|e| {
            VeilError::invalid(
                "options",
                format!("must be a JSON object with keys entity, template, keep_first, keep_last, mask_char: {e}"),
            )
        })?,
    };
    let label = match &raw.entity {
        Some(e) => crate::pii::EntityType::custom(e)?.as_str(),
        None => "REDACTED",
    };
    let spec = StrategySpec {
        strategy: Some(strategy.to_string()),
        template: raw.template,
        keep_first: raw.keep_first,
        keep_last: raw.keep_last,
        mask_char: raw.mask_char,
    };
    spec.build()?.apply(label, value, secrets)
}

/// One way of rewriting a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Redact {
        template: String,
    },
    Mask {
        keep_first: usize,
        keep_last: usize,
        mask_char: char,
    },
    Hash,
    Substitute,
    Encrypt,
    Annotate,
    Keep,
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::Redact {
            template: "<{type}>".to_string(),
        }
    }
}

impl Strategy {
    /// The strategy names accepted in options.
    pub const NAMES: &'static [&'static str] = &[
        "redact",
        "mask",
        "hash",
        "substitute",
        "encrypt",
        "annotate",
        "keep",
    ];

    /// Fails when the strategy needs a key that is not configured, before any text is
    /// looked at, so a misconfiguration shows on every call, not only on rows with PII.
    pub fn check_secrets(&self, secrets: &Secrets) -> Fallible<()> {
        match self {
            Strategy::Hash => secrets.hash_key_for("hash", HASH_WHY).map(|_| ()),
            Strategy::Substitute => secrets
                .hash_key_for("substitute", substitute::WHY_KEYED)
                .map(|_| ()),
            Strategy::Encrypt if secrets.encryption_key.is_none() => {
                encrypt("", "", secrets).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// Rewrites one detected `value` whose entity label is `label` (e.g. "EMAIL_ADDRESS").
    pub fn apply(&self, label: &str, value: &str, secrets: &Secrets) -> Fallible<String> {
        Ok(match self {
            Strategy::Redact { template } => template.replace("{type}", label),
            Strategy::Mask {
                keep_first,
                keep_last,
                mask_char,
            } => mask(value, *keep_first, *keep_last, *mask_char),
            Strategy::Hash => hash(value, secrets)?,
            Strategy::Substitute => substitute(label, value, secrets)?,
            Strategy::Encrypt => encrypt(label, value, secrets)?,
            Strategy::Annotate => format!("<{label}>{value}</{label}>"),
            Strategy::Keep => value.to_string(),
        })
    }
}

/// Replaces letters and digits with `mask_char`, except the first `keep_first` and the last
/// `keep_last` of them; separators and punctuation stay so the shape remains readable. A
/// value with no more letters and digits than `keep_first + keep_last` is masked entirely:
/// keeping them all would hand the value out unmasked.
pub fn mask(value: &str, keep_first: usize, keep_last: usize, mask_char: char) -> String {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let (keep_first, keep_last) = if keep_first.saturating_add(keep_last) >= total {
        (0, 0)
    } else {
        (keep_first, keep_last)
    };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen <= keep_first || seen > total.saturating_sub(keep_last) {
                c
            } else {
                mask_char
            }
        })
        .collect()
}

/// 32 lower-case hex digits (128 bits) of HMAC-SHA256(key, value).
const HASH_WHY: &str = "an unkeyed hash of a phone number or SSN can be reversed by enumeration";

pub fn hash(value: &str, secrets: &Secrets) -> Fallible<String> {
    let key = secrets.hash_key_for("hash", HASH_WHY)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|e| VeilError::invalid("veil.hash_key", e.to_string()))?;
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    Ok(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secrets {
        Secrets::new(Some("0123456789abcdef-test-key")).unwrap()
    }

    #[test]
    fn masking_keeps_separators_and_requested_ends() {
        assert_eq!(
            mask("4111-1111-1111-1234", 0, 4, '*'),
            "****-****-****-1234"
        );
        assert_eq!(mask("jane@example.com", 1, 3, '#'), "j###@#######.com");
        // Keeping every letter and digit would not mask anything: all are masked.
        assert_eq!(mask("ab", 5, 5, '*'), "**");
        assert_eq!(mask("536-22-1234", 6, 6, '*'), "***-**-****");
        assert_eq!(mask("536-22-1234", 4, 4, '*'), "536-2*-1234");
        assert_eq!(mask("Zoë", 0, 0, 'x'), "xxx");
    }

    #[test]
    fn hash_is_keyed_deterministic_and_refused_without_key() {
        let a = hash("555-0100", &key()).unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a, hash("555-0100", &key()).unwrap());
        assert_ne!(a, hash("555-0101", &key()).unwrap());
        let other = Secrets::new(Some("another-key-of-16-bytes")).unwrap();
        assert_ne!(a, hash("555-0100", &other).unwrap());
        let err = hash("x", &Secrets::default()).unwrap_err().to_string();
        assert!(err.contains("hash needs a key"), "{err}");
        assert!(Secrets::new(Some("short")).is_err());
        assert_eq!(Secrets::new(Some("")).unwrap(), Secrets::default());
    }

    #[test]
    fn specs_validate_names_and_parameters() {
        let spec = |j: &str| serde_json::from_str::<StrategySpec>(j).unwrap().build();
        assert_eq!(
            spec(r##"{"strategy":"mask","keep_last":4,"mask_char":"#"}"##).unwrap(),
            Strategy::Mask {
                keep_first: 0,
                keep_last: 4,
                mask_char: '#'
            }
        );
        assert_eq!(spec("{}").unwrap(), Strategy::default());
        let err = |j: &str| spec(j).unwrap_err().to_string();
        assert!(err(r#"{"strategy":"scramble"}"#).contains("unknown strategy 'scramble'"));
        assert!(err(r#"{"strategy":"hash","keep_last":2}"#)
            .contains("keep_last only applies to strategy mask"));
        assert!(err(r#"{"strategy":"mask","template":"x"}"#)
            .contains("template only applies to strategy redact"));
        assert!(err(r#"{"strategy":"mask","mask_char":"ab"}"#).contains("exactly one character"));
    }

    #[test]
    fn anonymize_whole_values() {
        let s = Secrets::default();
        assert_eq!(
            anonymize("jane@example.com", "redact", None, &s).unwrap(),
            "<REDACTED>"
        );
        assert_eq!(
            anonymize(
                "jane@example.com",
                "redact",
                Some(r#"{"entity":"EMAIL_ADDRESS"}"#),
                &s
            )
            .unwrap(),
            "<EMAIL_ADDRESS>"
        );
        assert_eq!(
            anonymize("555-867-5309", "mask", Some(r#"{"keep_last":4}"#), &s).unwrap(),
            "***-***-5309"
        );
        assert_eq!(anonymize("x", "hash", None, &key()).unwrap().len(), 32);
        assert!(anonymize("x", "hash", None, &s).is_err());
        assert!(anonymize("x", "mask", Some(r#"{"keep":1}"#), &s).is_err());
        assert!(anonymize("x", "nope", None, &s)
            .unwrap_err()
            .to_string()
            .contains("unknown strategy"));
    }

    #[test]
    fn strategies() {
        let e = "EMAIL_ADDRESS";
        let s = Secrets::default();
        assert_eq!(
            Strategy::default().apply(e, "a@b.io", &s).unwrap(),
            "<EMAIL_ADDRESS>"
        );
        let t = Strategy::Redact {
            template: "[REDACTED_{type}]".into(),
        };
        assert_eq!(
            t.apply(e, "a@b.io", &s).unwrap(),
            "[REDACTED_EMAIL_ADDRESS]"
        );
        assert_eq!(
            Strategy::Annotate.apply(e, "a@b.io", &s).unwrap(),
            "<EMAIL_ADDRESS>a@b.io</EMAIL_ADDRESS>"
        );
        assert_eq!(Strategy::Keep.apply(e, "a@b.io", &s).unwrap(), "a@b.io");
        assert!(format!("{:?}", key()).contains("<set>"));
    }
}
