//! Check-digit algorithms used to tell real identifiers from look-alikes.

use sha2::{Digest, Sha256};

/// Decimal digits of an ASCII string, or `None` if it has any other character.
pub fn digits(s: &str) -> Option<Vec<u8>> {
    s.bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

/// The Luhn (mod 10) checksum of payment cards and NPIs.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = d as u32;
            match (i % 2 == 1, d * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => d,
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// ISO 13616 IBAN check: move the first four characters to the end, letters to 10..35,
/// the number mod 97 must be 1. `iban` is upper-case alphanumeric without spaces.
pub fn iban_mod97_valid(iban: &str) -> bool {
    if iban.len() < 5
        || !iban
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    let mut rem: u32 = 0;
    for b in rearranged {
        if b.is_ascii_digit() {
            rem = (rem * 10 + (b - b'0') as u32) % 97;
        } else {
            rem = (rem * 100 + (b - b'A' + 10) as u32) % 97;
        }
    }
    rem == 1
}

/// ABA routing number: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
pub fn aba_valid(d: &[u8]) -> bool {
    d.len() == 9 && {
        let w = [3u32, 7, 1];
        d.iter()
            .enumerate()
            .map(|(i, &x)| w[i % 3] * x as u32)
            .sum::<u32>()
            % 10
            == 0
    }
}

/// UK NHS number: weights 10..2 on the first nine digits; 11 − (sum mod 11) is the tenth
/// digit (11 → 0; 10 is never issued).
pub fn nhs_valid(d: &[u8]) -> bool {
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, &x)| (10 - i as u32) * x as u32)
        .sum();
    match 11 - sum % 11 {
        11 => d[9] == 0,
        10 => false,
        check => d[9] as u32 == check,
    }
}

/// US National Provider Identifier: Luhn over the digits prefixed with 80840.
pub fn npi_valid(d: &[u8]) -> bool {
    d.len() == 10 && {
        let mut full = vec![8, 0, 8, 4, 0];
        full.extend_from_slice(d);
        luhn_valid(&full)
    }
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Decodes a Base58Check string (Bitcoin alphabet) and verifies its 4-byte double-SHA-256
/// checksum; returns the payload (version byte first).
pub fn base58check_decode(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(s.len());
    for c in s.bytes() {
        let mut carry = BASE58.iter().position(|&a| a == c)? as u32;
        for b in bytes.iter_mut().rev() {
            carry += (*b as u32) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut decoded = vec![0u8; zeros];
    decoded.extend(bytes);
    if decoded.len() < 5 {
        return None;
    }
    let (payload, check) = decoded.split_at(decoded.len() - 4);
    let hash = Sha256::digest(Sha256::digest(payload));
    (hash[..4] == *check).then(|| payload.to_vec())
}

const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// BIP-173/BIP-350 checksum of a lower-case segwit address with human-readable part `hrp`:
/// true for a valid bech32 (witness v0) or bech32m (v1+) string.
pub fn bech32_valid(s: &str, hrp: &str) -> bool {
    let Some(data_part) = s.strip_prefix(hrp).and_then(|r| r.strip_prefix('1')) else {
        return false;
    };
    if data_part.len() < 6 || s.len() > 90 {
        return false;
    }
    let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|b| b & 31));
    let mut data = Vec::with_capacity(data_part.len());
    for c in data_part.bytes() {
        match BECH32_CHARSET.iter().position(|&a| a == c) {
            Some(v) => data.push(v as u8),
            None => return false,
        }
    }
    values.extend(&data);
    let polymod = bech32_polymod(&values);
    match data[0] {
        0 => polymod == 1,
        1..=16 => polymod == 0x2bc8_30a3,
        _ => false,
    }
}

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ v as u32;
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        digits(s).unwrap()
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid(&d("4111111111111111")));
        assert!(luhn_valid(&d("79927398713")));
        assert!(!luhn_valid(&d("4111111111111112")));
        assert!(!luhn_valid(&[]));
        assert_eq!(digits("12a"), None);
    }

    #[test]
    fn iban() {
        assert!(iban_mod97_valid("GB82WEST12345698765432"));
        assert!(iban_mod97_valid("DE89370400440532013000"));
        assert!(!iban_mod97_valid("GB82WEST12345698765431"));
        assert!(!iban_mod97_valid("gb82west12345698765432"));
    }

    #[test]
    fn aba_nhs_npi() {
        assert!(aba_valid(&d("011000015")));
        assert!(!aba_valid(&d("011000016")));
        assert!(nhs_valid(&d("9434765919")));
        assert!(!nhs_valid(&d("9434765918")));
        assert!(npi_valid(&d("1234567893")));
        assert!(!npi_valid(&d("1234567890")));
    }

    #[test]
    fn bitcoin_addresses() {
        // The genesis block's address and a P2SH example from the Bitcoin wiki.
        assert_eq!(
            base58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").map(|p| p[0]),
            Some(0)
        );
        assert_eq!(
            base58check_decode("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").map(|p| p[0]),
            Some(5)
        );
        assert_eq!(
            base58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
            None
        );
        // BIP-173 and BIP-350 test vectors.
        assert!(bech32_valid(
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc"
        ));
        assert!(bech32_valid(
            "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
            "bc"
        ));
        assert!(!bech32_valid(
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
            "bc"
        ));
    }
}
