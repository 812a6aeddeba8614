//! IP_ADDRESS (v4 and v6), MAC_ADDRESS.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::{matched, neighbours};
use crate::pii::recognizer::ascii_digits_at_least;
use crate::pii::{seed, shape, EntityType, PatternRecognizer, Scan, Windows};

/// IP_ADDRESS: dotted-quad IPv4 and every IPv6 notation std::net parses (compressed `::`,
/// embedded IPv4, zone ids). Version strings such as `1.2.3.4.5` are not addresses.
pub fn ip_address() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::IpAddress,
        r"\b(?:\d{1,3}\.){3}\d{1,3}\b|[0-9A-Fa-f:.]*::?[0-9A-Fa-f:.]*(?:%[0-9A-Za-z]+)?",
        validate_ip,
        &["ip", "ipv4", "ipv6", "address", "host", "server", "client"],
        0.1,
    )
    .expect("built-in IP pattern compiles")
    .with_shape(&shape::IP)
    .with_required_byte(|b| b == b'.' || b == b':')
    // Letters, digits, `:.%`. IPv6 matches have a ':' and the validator wants two; IPv4
    // ones have digits, and parsing wants three dots and four ASCII digits.
    .with_windows(
        Windows::new(
            seed::DIGITS | seed::COLON,
            |b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'%'),
            |run| {
                let count = |c: u8| run.iter().filter(|&&b| b == c).count();
                count(b':') >= 2 || (count(b'.') >= 3 && ascii_digits_at_least(run, 4))
            },
        )
        .non_ascii(char::is_numeric)
        .text(ip_text)
        .min_len(2),
    )
}

/// What the IP windows' condition asks of the whole text: two colons, or three dots and
/// four characters that may be digits (as the scan counted them).
fn ip_text(scan: &Scan) -> bool {
    scan.count(seed::COLON) >= 2 || (scan.count(seed::DOT) >= 3 && scan.digits >= 4)
}

fn validate_ip(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    let (before, after) = neighbours(text, &m);
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    if value.contains(':') {
        // trailing sentence punctuation is not part of the address
        let trimmed = value.trim_end_matches('.');
        let (addr, _zone) = trimmed.split_once('%').unwrap_or((trimmed, ""));
        // (Colons counted as bytes: cheaper than a character search.)
        let colons = trimmed.bytes().filter(|&b| b == b':').count();
        if colons < 2 || word(before) || addr.parse::<Ipv6Addr>().is_err() {
            return None;
        }
        let end = m.start + trimmed.len();
        let after = text[end..].chars().next();
        if word(after) {
            return None;
        }
        return Some((m.start..end, 0.7));
    }
    let dotted_continues = |c: Option<char>, next: Option<char>| {
        c == Some('.') && next.is_some_and(|n| n.is_ascii_digit())
    };
    let after_next = text[m.end..].chars().nth(1);
    let before_prev = text[..m.start].chars().rev().nth(1);
    if dotted_continues(after, after_next) || dotted_continues(before, before_prev) {
        return None;
    }
    value.parse::<Ipv4Addr>().ok().map(|_| (m, 0.6))
}

/// MAC_ADDRESS: six hex pairs separated consistently by `:` or `-`, or Cisco `xxxx.xxxx.xxxx`.
pub fn mac_address() -> PatternRecognizer {
    PatternRecognizer::new(
        EntityType::MacAddress,
        r"\b(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\b|\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b",
        validate_mac,
        &["mac", "ethernet", "wifi", "hardware", "device", "nic"],
        0.1,
    )
    .expect("built-in MAC pattern compiles")
    // Hex digits and `:-.`, 14 at least, with a separator in every match: five colons or
    // dashes, or two dots.
    .with_windows(Windows::new(
        seed::COLON | seed::DASH | seed::DOT,
        |b| b.is_ascii_hexdigit() || matches!(b, b':' | b'-' | b'.'),
        |run| run.len() >= 14,
    )
        .non_ascii(|_| false).text(mac_text).min_len(14))
}

/// What every MAC match asks of the whole text: five colons or dashes, or two dots.
fn mac_text(scan: &Scan) -> bool {
    scan.count(seed::COLON) + scan.count(seed::DASH) >= 5 || scan.count(seed::DOT) >= 2
}

fn validate_mac(text: &str, m: Range<usize>) -> Option<(Range<usize>, f64)> {
    let value = matched(text, &m);
    if value.contains('.') {
        // Cisco notation must contain a hex letter or it is more likely a number
        return value
            .bytes()
            .any(|b| b.is_ascii_alphabetic())
            .then_some((m, 0.6));
    }
    let sep = value.as_bytes()[2];
    value
        .bytes()
        .skip(2)
        .step_by(3)
        .all(|b| b == sep)
        .then_some((m, 0.8))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{finds, rejects};
    use super::*;

    #[test]
    fn ipv4() {
        let r = ip_address();
        finds(&r, "from 192.168.0.1.", "192.168.0.1");
        finds(&r, "host=10.0.0.255,", "10.0.0.255");
        rejects(&r, "version 1.2.3.4.5");
        rejects(&r, "300.1.1.1");
        rejects(&r, "12:30 and 1.2.3");
    }

    #[test]
    fn ipv6() {
        let r = ip_address();
        finds(
            &r,
            "addr 2001:db8::8a2e:370:7334 ok",
            "2001:db8::8a2e:370:7334",
        );
        finds(&r, "loopback ::1.", "::1");
        finds(&r, "ll fe80::1%eth0 up", "fe80::1%eth0");
        finds(&r, "mapped ::ffff:192.0.2.128", "::ffff:192.0.2.128");
        rejects(&r, "at 12:30:45 sharp");
        rejects(&r, "ratio 3:2");
    }

    #[test]
    fn macs() {
        let r = mac_address();
        finds(&r, "nic 00:1A:2b:3C:4d:5E up", "00:1A:2b:3C:4d:5E");
        finds(&r, "nic 00-1A-2B-3C-4D-5E", "00-1A-2B-3C-4D-5E");
        finds(&r, "cisco 001a.2b3c.4d5e", "001a.2b3c.4d5e");
        rejects(&r, "00:1A-2B:3C-4D:5E");
        rejects(&r, "1234.5678.9012");
    }
}
