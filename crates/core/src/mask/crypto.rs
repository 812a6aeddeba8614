//! The `encrypt` strategy and `decrypt_pii`: deterministic authenticated encryption
//! (AES-256-SIV, RFC 5297) of detected values, so equal values give equal tokens (joins and
//! GROUP BY still work) and only holders of `veil.encryption_key` can read them back.
//!
//! A value becomes the token `<enc:LABEL:BASE64URL>`; the label is authenticated with the
//! value (associated data), so a token moved to another label does not decrypt. The cipher
//! key is derived from the configured key text with HKDF-SHA256.

use std::sync::OnceLock;

use aes_siv::siv::Aes256Siv;
use aes_siv::KeyInit;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use regex::Regex;
use sha2::Sha256;

use super::Secrets;
use crate::error::{Fallible, VeilError};

const KDF_INFO: &[u8] = b"veil encrypt strategy v1: AES-256-SIV key";

fn cipher(secrets: &Secrets, function: &str) -> Fallible<Aes256Siv> {
    let Some(key) = &secrets.encryption_key else {
        return Err(VeilError::invalid(
            "veil.encryption_key",
            format!("{function} needs a key: set veil.encryption_key in the engine configuration"),
        ));
    };
    let mut okm = [0u8; 64];
    Hkdf::<Sha256>::new(None, key)
        .expand(KDF_INFO, &mut okm)
        .map_err(|e| VeilError::invalid("veil.encryption_key", e.to_string()))?;
    Ok(Aes256Siv::new(&okm.into()))
}

/// The token for `value` of entity `label`.
pub fn encrypt(label: &str, value: &str, secrets: &Secrets) -> Fallible<String> {
    let ciphertext = cipher(secrets, "the encrypt strategy")?
        .encrypt([label.as_bytes()], value.as_bytes())
        .map_err(|_| VeilError::invalid("value", "cannot be encrypted"))?;
    Ok(format!(
        "<enc:{label}:{}>",
        URL_SAFE_NO_PAD.encode(ciphertext)
    ))
}

fn token_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"<enc:([A-Z][A-Z0-9_]{0,63}):([A-Za-z0-9_-]+)>").expect("token regex")
    })
}

/// `decrypt_pii(text)`: replaces every `<enc:…>` token in `text` with the value it
/// encrypts. Fails, releasing nothing, when a token does not authenticate under the
/// configured key (wrong key, or altered text). Text without tokens comes back unchanged.
pub fn decrypt_pii(text: &str, secrets: &Secrets) -> Fallible<String> {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut siv: Option<Aes256Siv> = None;
    for caps in token_regex().captures_iter(text) {
        let whole = caps.get(0).expect("group 0");
        let siv = match &mut siv {
            Some(s) => s,
            None => siv.insert(cipher(secrets, "decrypt_pii")?),
        };
        let at = text[..whole.start()].chars().count();
        let fail = || {
            VeilError::invalid(
                "text",
                format!(
                    "the token at character {at} does not decrypt with veil.encryption_key \
                     (different key, or the token was altered)"
                ),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(&caps[2]).map_err(|_| fail())?;
        let plain = siv
            .decrypt([caps[1].as_bytes()], &bytes)
            .map_err(|_| fail())?;
        let plain = String::from_utf8(plain).map_err(|_| fail())?;
        out.push_str(&text[pos..whole.start()]);
        out.push_str(&plain);
        pos = whole.end();
    }
    out.push_str(&text[pos..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(key: &str) -> Secrets {
        Secrets::default().with_encryption_key(Some(key)).unwrap()
    }

    #[test]
    fn round_trip_is_deterministic_and_label_bound() {
        let s = secrets("0123456789abcdef-test-key");
        let t = encrypt("EMAIL_ADDRESS", "jane@example.com", &s).unwrap();
        assert!(t.starts_with("<enc:EMAIL_ADDRESS:"), "{t}");
        assert_eq!(t, encrypt("EMAIL_ADDRESS", "jane@example.com", &s).unwrap());
        assert_ne!(t, encrypt("PERSON", "jane@example.com", &s).unwrap());
        let text = format!("mail {t} and {t}, Grüße");
        assert_eq!(
            decrypt_pii(&text, &s).unwrap(),
            "mail jane@example.com and jane@example.com, Grüße"
        );
        // Moved to another label, altered, or under another key: refused.
        let moved = t.replace("EMAIL_ADDRESS", "PERSON");
        assert!(decrypt_pii(&moved, &s).is_err());
        let mut altered = t.clone();
        altered.replace_range(25..26, if &t[25..26] == "A" { "B" } else { "A" });
        let err = decrypt_pii(&format!("é {altered}"), &s)
            .unwrap_err()
            .to_string();
        assert!(err.contains("token at character 2"), "{err}");
        assert!(decrypt_pii(&t, &secrets("another key of 16+ bytes")).is_err());
    }

    #[test]
    fn refuses_without_key() {
        let none = Secrets::default();
        assert!(encrypt("URL", "x", &none)
            .unwrap_err()
            .to_string()
            .contains("veil.encryption_key"));
        assert_eq!(decrypt_pii("no tokens", &none).unwrap(), "no tokens");
        assert!(decrypt_pii("<enc:URL:AAAA>", &none).is_err());
    }
}
