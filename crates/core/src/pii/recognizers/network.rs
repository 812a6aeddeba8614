//! IP_ADDRESS (v4 and v6), MAC_ADDRESS.

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
        if colons < 2 || word(before) || !is_ipv6(addr.as_bytes()) {
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
    is_ipv4(value.as_bytes()).then_some((m, 0.6))
}

/// Whether `s` is an IPv4 address as `Ipv4Addr::from_str` reads one: four decimal numbers
/// 0–255 between dots, of one to three digits, without a leading zero.
fn is_ipv4(s: &[u8]) -> bool {
    read_ipv4(s, 0) == Some(s.len())
}

/// The end of the IPv4 address at `s[i..]` (as [`is_ipv4`] reads one), if one starts there.
fn read_ipv4(s: &[u8], mut i: usize) -> Option<usize> {
    for part in 0..4 {
        if part > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let n = s[i.min(s.len())..]
            .iter()
            .take(3)
            .take_while(|b| b.is_ascii_digit())
            .count();
        let value = s[i..i + n]
            .iter()
            .fold(0u32, |v, b| v * 10 + u32::from(b - b'0'));
        if n == 0 || value > 255 || (n > 1 && s[i] == b'0') {
            return None;
        }
        i += n;
    }
    Some(i)
}

/// Whether `s` is an IPv6 address as `Ipv6Addr::from_str` reads one: up to eight groups of
/// one to four hex digits between colons, the last two of which may be an IPv4 address,
/// with at most one `::` standing for one group of zeros or more.
fn is_ipv6(s: &[u8]) -> bool {
    let (head, head_v4, mut i) = read_groups(s, 0, 8);
    if head == 8 {
        return i == s.len();
    }
    if head_v4 || !s[i.min(s.len())..].starts_with(b"::") {
        return false;
    }
    i += 2;
    // `::` stands for one group at least: seven groups at most around it.
    let (_, _, end) = read_groups(s, i, 7 - head);
    end == s.len()
}

/// Up to `limit` groups at `s[i..]`, each after a colon but the first; an IPv4 address
/// may take the place of the last two. Returns how many groups were read, whether an IPv4
/// address ended them, and where they end.
fn read_groups(s: &[u8], mut i: usize, limit: usize) -> (usize, bool, usize) {
    for g in 0..limit {
        let at = if g > 0 {
            if s.get(i) != Some(&b':') {
                return (g, false, i);
            }
            i + 1
        } else {
            i
        };
        if g + 1 < limit {
            if let Some(end) = read_ipv4(s, at) {
                return (g + 2, true, end);
            }
        }
        let n = s[at.min(s.len())..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if n == 0 {
            return (g, false, i);
        }
        i = at + n;
    }
    (limit, false, i)
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

    /// The byte-level readers agree with `std::net`'s parsers.
    #[test]
    fn ip_readers_agree_with_std() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let mut next = super::super::test_util::xorshift(0x1F6E_A5E5_0000_0001);
        let pieces = [
            "1", "0", "00", "01", "12", "255", "256", "999", "1234", "abcd", "ABCD", "f", "fe80",
            "12345", "g", ":", ":", "::", ":::", ".", ".", "%", "x", "٤",
        ];
        let (mut v4, mut v6, mut all) = (0, 0, 0);
        for k in 0..300_000 {
            // Every other one numbers and dots (IPv4-shaped, alone or after colons).
            let s: String = if k % 2 == 0 {
                let head = ["", "", "::", "::ffff:", "1:2:3:4:5:6:", "1:"][(next() % 6) as usize];
                let nums = ["0", "1", "01", "12", "255", "256", "999", "1234", ""];
                let parts: Vec<&str> = (0..3 + next() % 3)
                    .map(|_| nums[(next() % nums.len() as u64) as usize])
                    .collect();
                format!("{head}{}", parts.join("."))
            } else {
                (0..next() % 14)
                    .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                    .collect()
            };
            let want4 = s.parse::<Ipv4Addr>().is_ok();
            let want6 = s.parse::<Ipv6Addr>().is_ok();
            assert_eq!(is_ipv4(s.as_bytes()), want4, "{s:?}");
            assert_eq!(is_ipv6(s.as_bytes()), want6, "{s:?}");
            v4 += usize::from(want4);
            v6 += usize::from(want6);
            all += 1;
        }
        for s in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1::2:3:4:5:6:7",
            "1::2:3:4:5:6:7:8",
            "::ffff:192.0.2.128",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3.4",
            "1.2.3.4::",
            "1:2:3:4:5::1.2.3.4",
            "1:2:3:4:5:6::1.2.3.4",
            "0.0.0.0",
            "01.2.3.4",
            "1.2.3.4.",
        ] {
            assert_eq!(
                is_ipv6(s.as_bytes()),
                s.parse::<Ipv6Addr>().is_ok(),
                "{s:?}"
            );
            assert_eq!(
                is_ipv4(s.as_bytes()),
                s.parse::<Ipv4Addr>().is_ok(),
                "{s:?}"
            );
        }
        assert!(v4 > 500 && v6 > 2000, "{v4} {v6} of {all}");
    }

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
