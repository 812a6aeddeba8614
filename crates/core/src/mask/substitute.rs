//! The `substitute` strategy: a realistic fake of the same type, deterministic for a given
//! key and value so joins and GROUP BY survive. Fakes are never real-looking valid numbers:
//! they come from reserved or test ranges (555-01xx phone lines, RFC 5737/3849 addresses,
//! `example.com`, SSN area 666, NHS 999 numbers, NINO prefix QQ) or carry a checksum that
//! fails (cards, IBANs, NPIs, routing numbers). Types without a rule keep the value's shape:
//! digits become other digits, letters other letters of the same case.
//!
//! The fake is drawn from HMAC-SHA256(`veil.hash_key`, label, value): without the key it
//! would be a public function of the value, and enumerating values would map fakes back.
//! Distinct values can share a fake (e.g. only 100 phone lines per area code), so a fake
//! is a pseudonym for display and joins, not a unique identifier.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Secrets;
use crate::error::{Fallible, VeilError};
use crate::pii::checksum::{aba_valid, iban_mod97_valid, luhn_valid, nhs_valid, npi_valid};
use crate::pii::dictionaries;

/// Deterministic bytes expanded from the keyed seed.
struct Stream {
    seed: [u8; 32],
    block: [u8; 32],
    used: usize,
    counter: u64,
}

impl Stream {
    fn new(key: &[u8], label: &str, value: &str) -> Fallible<Self> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|e| VeilError::invalid("veil.hash_key", e.to_string()))?;
        mac.update(b"veil substitute v1\0");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        Ok(Stream {
            seed: mac.finalize().into_bytes().into(),
            block: [0; 32],
            used: 32,
            counter: 0,
        })
    }

    fn byte(&mut self) -> u8 {
        if self.used == 32 {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.block = h.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        self.used += 1;
        self.block[self.used - 1]
    }

    /// A number in `0..n` (n > 0); 64 random bits keep the modulo bias negligible.
    fn below(&mut self, n: usize) -> usize {
        let mut x = 0u64;
        for _ in 0..8 {
            x = (x << 8) | u64::from(self.byte());
        }
        (x % n as u64) as usize
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }

    fn digit(&mut self) -> u8 {
        self.below(10) as u8
    }
}

/// `substitute` for one value of entity `label`.
/// Why `substitute` refuses to run without `veil.hash_key`.
pub(super) const WHY_KEYED: &str =
    "fakes drawn without a key could be mapped back to the values by enumeration";

pub fn substitute(label: &str, value: &str, secrets: &Secrets) -> Fallible<String> {
    let key = secrets.hash_key_for("substitute", WHY_KEYED)?;
    let mut r = Stream::new(key, label, value)?;
    Ok(match label {
        "PERSON" => person(value, &mut r),
        "LOCATION" => r.pick(dictionaries::cities()).to_string(),
        "EMAIL_ADDRESS" => email(&mut r),
        "PHONE_NUMBER" => phone(value, &mut r),
        "URL" => url(value, &mut r),
        "IP_ADDRESS" => ip(value, &mut r),
        "MAC_ADDRESS" => mac(value, &mut r),
        "DATE_TIME" => date(&mut r),
        "CREDIT_CARD" => {
            // Keep the issuer's first digit so the shape reads as a card; fail Luhn.
            let first = value.chars().find(|c| c.is_ascii_digit()).unwrap_or('4');
            digits(value, &mut r, &[first as u8 - b'0'], not_a_card)
        }
        "US_SSN" => digits(value, &mut r, &[6, 6, 6], |_| true),
        "US_ITIN" => {
            let mut fake = digits(value, &mut r, &[9], |_| true);
            // Group 89 or 93 is never issued for ITINs.
            let group = if r.below(2) == 0 { "89" } else { "93" };
            replace_digits(&mut fake, 3, group);
            fake
        }
        "US_NPI" => digits(value, &mut r, &[], |d| !npi_valid(d)),
        "ABA_ROUTING_NUMBER" => digits(value, &mut r, &[], |d| !aba_valid(d)),
        "UK_NHS" => digits(value, &mut r, &[9, 9, 9], |d| !nhs_valid(d)),
        "UK_NINO" => nino(value, &mut r),
        "IBAN_CODE" => iban(value, &mut r),
        "CRYPTO" => crypto(value, &mut r),
        _ => shape(value, &mut r),
    })
}

fn person(value: &str, r: &mut Stream) -> String {
    let first = r.pick(dictionaries::first_names());
    if value.split_whitespace().count() < 2 {
        return first.to_string();
    }
    format!("{first} {}", r.pick(dictionaries::last_names()))
}

/// An ASCII lower-case name for an email local part.
fn ascii_name(list: &[&str], r: &mut Stream) -> String {
    for _ in 0..16 {
        let n = r.pick(list);
        if n.bytes().all(|b| b.is_ascii_alphabetic()) {
            return n.to_ascii_lowercase();
        }
    }
    "user".to_string()
}

fn email(r: &mut Stream) -> String {
    let first = ascii_name(dictionaries::first_names(), r);
    let last = ascii_name(dictionaries::last_names(), r);
    let tld = r.pick(&["com", "net", "org"]);
    format!("{first}.{last}{}@example.{tld}", r.below(100))
}

fn phone(value: &str, r: &mut Stream) -> String {
    let n = value.chars().filter(char::is_ascii_digit).count();
    let leading_one = value
        .chars()
        .find(char::is_ascii_digit)
        .is_some_and(|c| c == '1');
    if n == 10 || (n == 11 && leading_one) {
        // NANP: any area code, exchange 555, line 0100-0199 (reserved for fiction).
        let mut d: Vec<u8> = if n == 11 { vec![1] } else { vec![] };
        let npa = loop {
            let a = [2 + r.below(8) as u8, r.digit(), r.digit()];
            if !(a[1] == 1 && a[2] == 1) {
                break a;
            }
        };
        d.extend(npa);
        d.extend([5, 5, 5, 0, 1, r.digit(), r.digit()]);
        return write_digits(value, &d);
    }
    // Elsewhere: keep the country code's first digits (or the trunk 0), new subscriber digits.
    let keep = if value.trim_start().starts_with('+') {
        2
    } else {
        1
    };
    let orig: Vec<u8> = value
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let d: Vec<u8> = (0..n)
        .map(|i| if i < keep { orig[i] } else { r.digit() })
        .collect();
    write_digits(value, &d)
}

fn url(value: &str, r: &mut Stream) -> String {
    let scheme = if value.starts_with("http://") {
        "http"
    } else {
        "https"
    };
    let path: String = (0..8).map(|_| hex_digit(r.below(16))).collect();
    format!("{scheme}://www.example.com/{path}")
}

fn ip(value: &str, r: &mut Stream) -> String {
    if value.contains(':') {
        // 2001:db8::/32 is reserved for documentation (RFC 3849).
        let groups: Vec<String> = (0..6).map(|_| format!("{:x}", r.below(0x10000))).collect();
        return format!("2001:db8:{}", groups.join(":"));
    }
    // TEST-NET-1/2/3 (RFC 5737).
    let net = r.pick(&["192.0.2", "198.51.100", "203.0.113"]);
    format!("{net}.{}", 1 + r.below(254))
}

fn mac(value: &str, r: &mut Stream) -> String {
    let sep = if value.contains('-') { "-" } else { ":" };
    // 0x02: a locally administered unicast address, never a vendor's.
    let bytes: Vec<String> = std::iter::once("02".to_string())
        .chain((0..5).map(|_| format!("{:02x}", r.byte())))
        .collect();
    bytes.join(sep)
}

fn date(r: &mut Stream) -> String {
    format!(
        "{}-{:02}-{:02}",
        1950 + r.below(56),
        1 + r.below(12),
        1 + r.below(28)
    )
}

fn nino(value: &str, r: &mut Stream) -> String {
    // QQ is never issued (HMRC uses it in examples); digits new, suffix A-D.
    let mut letters_seen = 0;
    let total_letters = value.chars().filter(char::is_ascii_alphabetic).count();
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                letters_seen += 1;
                if letters_seen <= 2 {
                    'Q'
                } else if letters_seen == total_letters {
                    (b'A' + r.below(4) as u8) as char
                } else {
                    c
                }
            } else if c.is_ascii_digit() {
                (b'0' + r.digit()) as char
            } else {
                c
            }
        })
        .collect()
}

fn iban(value: &str, r: &mut Stream) -> String {
    // Country kept, check digits 00 (issued IBANs have 02-98), the rest drawn until the
    // mod-97 check fails too.
    for _ in 0..256 {
        let fake = iban_draw(value, r);
        let compact: String = fake.chars().filter(char::is_ascii_alphanumeric).collect();
        if !iban_mod97_valid(&compact) {
            return fake;
        }
    }
    shape(value, r)
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

fn iban_draw(value: &str, r: &mut Stream) -> String {
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_ascii_alphanumeric() {
                return c;
            }
            seen += 1;
            match seen {
                1 | 2 => c.to_ascii_uppercase(),
                3 | 4 => '0',
                _ => fake_char(c, r),
            }
        })
        .collect()
}

fn crypto(value: &str, r: &mut Stream) -> String {
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    const BECH32: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let lower = value.to_ascii_lowercase();
    let (prefix, alphabet) = match ["bc1", "tb1"].iter().find(|p| lower.starts_with(*p)) {
        Some(p) => (&value[..p.len() + 1], BECH32),
        None => (value.get(..1).unwrap_or(""), BASE58),
    };
    // A random tail fails the address checksum (Base58Check or bech32) but for a chance
    // of about 2^-30.
    let tail: String = value[prefix.len()..]
        .chars()
        .map(|_| alphabet[r.below(alphabet.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

/// Digits replaced (the first ones by `prefix`), drawn again until `accept` holds for the
/// digit string; separators kept. Every caller's rule holds for a large share of draws; if
/// 256 draws fail, the value is masked with zeros rather than returned as a valid number.
fn digits(value: &str, r: &mut Stream, prefix: &[u8], accept: impl Fn(&[u8]) -> bool) -> String {
    let n = value.chars().filter(char::is_ascii_digit).count();
    for _ in 0..256 {
        let d: Vec<u8> = (0..n)
            .map(|i| prefix.get(i).copied().unwrap_or_else(|| r.digit()))
            .collect();
        if accept(&d) {
            return write_digits(value, &d);
        }
    }
    write_digits(value, &vec![0; n])
}

/// No run of 12 or more leading digits passes Luhn, so no prefix reads as a card either.
fn not_a_card(d: &[u8]) -> bool {
    (12..=d.len()).all(|n| !luhn_valid(&d[..n]))
}

/// Writes `digits` into the digit positions of `value`, in order.
fn write_digits(value: &str, digits: &[u8]) -> String {
    let mut it = digits.iter();
    value
        .chars()
        .map(|c| match c.is_ascii_digit() {
            true => it.next().map_or(c, |d| (b'0' + d) as char),
            false => c,
        })
        .collect()
}

/// Overwrites the digits from digit position `from` with `with`.
fn replace_digits(value: &mut String, from: usize, with: &str) {
    let mut pos = 0;
    let mut w = with.chars();
    *value = value
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            pos += 1;
            if pos > from {
                w.next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect();
}

/// Same kind of character: digit, upper- or lower-case ASCII letter.
fn fake_char(c: char, r: &mut Stream) -> char {
    if c.is_ascii_digit() {
        (b'0' + r.digit()) as char
    } else if c.is_uppercase() {
        (b'A' + r.below(26) as u8) as char
    } else if c.is_alphabetic() {
        (b'a' + r.below(26) as u8) as char
    } else {
        c
    }
}

fn shape(value: &str, r: &mut Stream) -> String {
    value.chars().map(|c| fake_char(c, r)).collect()
}

fn hex_digit(n: usize) -> char {
    char::from_digit(n as u32, 16).unwrap_or('0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::{recognizers, Analyzer, EntityType};

    fn key() -> Secrets {
        Secrets::new(Some("substitute-test-key-0123")).unwrap()
    }

    fn sub(label: &str, value: &str) -> String {
        substitute(label, value, &key()).unwrap()
    }

    #[test]
    fn deterministic_keyed_and_refused_without_key() {
        assert_eq!(sub("PERSON", "Jane Doe"), sub("PERSON", "Jane Doe"));
        let other = Secrets::new(Some("another-key-0123456789")).unwrap();
        let values = ["jane@example.org", "bob@example.org", "x@y.io"];
        assert!(values
            .iter()
            .any(|v| sub("EMAIL_ADDRESS", v) != substitute("EMAIL_ADDRESS", v, &other).unwrap()));
        assert!(substitute("PERSON", "Jane", &Secrets::default())
            .unwrap_err()
            .to_string()
            .contains("veil.hash_key"));
    }

    #[test]
    fn fakes_keep_shapes_and_use_reserved_ranges() {
        let phone = sub("PHONE_NUMBER", "(212) 555-7890");
        assert!(
            phone.starts_with('(') && phone[5..].starts_with(" 555-01"),
            "{phone}"
        );
        let intl = sub("PHONE_NUMBER", "+44 20 7946 0958");
        assert!(intl.starts_with("+44 ") && intl.len() == 16, "{intl}");
        let ssn = sub("US_SSN", "536-22-1234");
        assert!(ssn.starts_with("666-") && ssn.len() == 11, "{ssn}");
        let itin = sub("US_ITIN", "912-70-1234");
        assert!(
            itin.starts_with('9') && (itin[4..6] == *"89" || itin[4..6] == *"93"),
            "{itin}"
        );
        assert!(sub("EMAIL_ADDRESS", "jane@corp.com").contains("@example."));
        let ip = sub("IP_ADDRESS", "10.1.2.3");
        assert!(
            ["192.0.2.", "198.51.100.", "203.0.113."]
                .iter()
                .any(|p| ip.starts_with(p)),
            "{ip}"
        );
        assert!(sub("IP_ADDRESS", "fe80::1").starts_with("2001:db8:"));
        assert!(sub("MAC_ADDRESS", "00-1A-2B-3C-4D-5E").starts_with("02-"));
        assert!(sub("URL", "https://corp.example.org/x").starts_with("https://www.example.com/"));
        assert!(sub("UK_NINO", "AB 12 34 56 C").starts_with("QQ "));
        assert_eq!(
            sub("IBAN_CODE", "DE89 3704 0044 0532 0130 00")[..4],
            *"DE00"
        );
        assert!(sub("UK_NHS", "943 476 5919").starts_with("999 "));
        assert_eq!(sub("PERSON", "Jane Doe").split(' ').count(), 2);
        let custom = sub("EMPLOYEE_ID", "EMP-123456");
        assert!(
            custom.starts_with(|c: char| c.is_ascii_uppercase()),
            "{custom}"
        );
        assert_eq!(custom.len(), 10);
        assert_eq!(&custom[3..4], "-");
    }

    #[test]
    fn checked_numbers_never_validate() {
        // Over many values, the fake of a card/SSN/IBAN/… is never found again by veil's
        // own recognizer of that type: it fails its checksum or lies in a reserved range.
        let a = Analyzer::new(recognizers::builtin(), 0.0);
        let cases: &[(EntityType, &str)] = &[
            (EntityType::CreditCard, "4111 1111 1111 1111"),
            (EntityType::CreditCard, "5555-5555-5555-4444"),
            (EntityType::UsSsn, "536-22-1234"),
            (EntityType::IbanCode, "GB82 WEST 1234 5698 7654 32"),
            (EntityType::UsNpi, "1234567893"),
            (EntityType::AbaRoutingNumber, "011000015"),
            (EntityType::UkNhs, "943 476 5919"),
            (EntityType::UkNino, "AB 12 34 56 C"),
            (EntityType::Crypto, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
        ];
        for (entity, value) in cases {
            for i in 0..200 {
                // Distinct inputs (trailing spaces) draw distinct fakes.
                let v = format!("{value}{}", " ".repeat(i));
                let fake = substitute(entity.as_str(), &v, &key()).unwrap();
                let found = a
                    .analyze(&format!("value {fake} end"))
                    .iter()
                    .any(|s| s.entity == *entity);
                assert!(!found, "{entity}: {v:?} -> {fake} is detected again");
            }
        }
    }
}
