//! Robustness on arbitrary input: detection and every replacement strategy over many
//! generated strings (a deterministic stand-in for a fuzzer, which needs a nightly
//! compiler). Invariants: no panic; spans sorted, non-overlapping, non-empty, on char
//! boundaries, with code-point offsets matching the byte offsets; `keep` is the identity.

use super::{Analyzer, PiiOptions};
use crate::mask::Secrets;

/// xorshift64*: a tiny deterministic generator, enough to spread test inputs.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces that look like parts of PII, plus separators and multi-byte characters.
const PIECES: &[&str] = &[
    "0", "1", "4", "5", "9", "12", "536", "4111", "1111", " ", "-", ".", ":", "::", "/", "@", "+",
    "(", ")", "x", "a", "Z", "é", "ß", "ü", "😀", "中", "\u{0301}", "\n", "\t", "ssn", "card",
    "IBAN", "GB82", "WEST", "bc1", "1A1z", "www.", "https://", ".com", "example", "Jan", "March",
    "2024", "1977", "in ", "fe80", "%eth0", "NHS", "AB", "C", "phone", "routing", "00", "+44",
    "555", "0123", "ext", "\u{200b}", "\u{feff}",
];

fn check(text: &str, analyzer: &Analyzer, options: &PiiOptions, secrets: &Secrets) {
    let spans = analyzer.analyze_with(text, options);
    let mut last_end = 0;
    for s in &spans {
        assert!(s.byte_start < s.byte_end, "{text:?}: empty span {s:?}");
        assert!(
            s.byte_start >= last_end,
            "{text:?}: overlapping or unsorted {s:?}"
        );
        assert!(text.is_char_boundary(s.byte_start) && text.is_char_boundary(s.byte_end));
        assert_eq!(text[..s.byte_start].chars().count(), s.start, "{text:?}");
        assert_eq!(text[..s.byte_end].chars().count(), s.end, "{text:?}");
        assert!((0.0..=1.0).contains(&s.score));
        last_end = s.byte_end;
    }
    options
        .replacer
        .apply(text, &spans, secrets)
        .expect("strategies run");
}

#[test]
fn arbitrary_strings_never_break_detection_or_replacement() {
    let analyzer = Analyzer::shared_default();
    let secrets = Secrets::new(Some("robustness-test-key-000")).unwrap();
    let option_sets: Vec<PiiOptions> = [
        None,
        Some(r#"{"threshold":0}"#),
        Some(r#"{"strategy":"mask","keep_first":2,"keep_last":3}"#),
        Some(r#"{"strategy":"hash"}"#),
        Some(r#"{"strategy":"annotate"}"#),
    ]
    .iter()
    .map(|o| PiiOptions::parse(*o).unwrap())
    .collect();
    let keep = PiiOptions::parse(Some(r#"{"strategy":"keep","threshold":0}"#)).unwrap();
    let mut gen = Gen(0x9e37_79b9_7f4a_7c15);
    for i in 0..3000 {
        let text: String = if i % 5 == 0 {
            // raw bytes, made valid UTF-8 the way an engine would receive them
            let bytes: Vec<u8> = (0..gen.below(64)).map(|_| gen.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..gen.below(40))
                .map(|_| PIECES[gen.below(PIECES.len())])
                .collect()
        };
        for options in &option_sets {
            check(&text, analyzer, options, &secrets);
        }
        let spans = analyzer.analyze_with(&text, &keep);
        assert_eq!(keep.replacer.apply(&text, &spans, &secrets).unwrap(), text);
    }
}
