//! `pii_spans DATASET.json [N]`: every span (type, offsets, score) the analyzers find and
//! every `redact_pii` output, one line each, over the dataset's texts, the bench corpus and
//! `N` generated texts (default 40,000): dump it before and after a change to the PII code
//! and diff the two files to prove that detection did not change.
//!
//! Configurations: the default analyzer, the pattern-only set, threshold 0 (every
//! candidate), thresholds 0.3 and 0.7 with an allow list; `redact_pii` and `redact_pii_with`
//! (pattern-only, thresholds 0.3 and 0.7).

use std::fmt::Write as _;
use std::io::Write as _;

use veil_benches::corpus::notes;
use veil_core::pii::{recognizers, redact_pii, redact_pii_with, Analyzer, EntityType, PiiOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().expect("usage: pii_spans DATASET.json [N]");
    let n: usize = args.get(1).map_or(40_000, |a| a.parse().expect("a count"));
    let records: Vec<veil_benches::pii_eval::Record> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("readable file"))
            .expect("Presidio-format JSON");
    let mut texts: Vec<String> = records.into_iter().map(|r| r.full_text).collect();
    texts.extend(notes());
    let generated = generated_texts(&texts, n);
    texts.extend(generated);

    let patterns_only: Vec<&str> = EntityType::ALL
        .iter()
        .filter(|e| !matches!(e, EntityType::Person | EntityType::Location))
        .map(|e| e.as_str())
        .collect();
    let option = |json: serde_json::Value| {
        PiiOptions::parse(Some(&json.to_string())).expect("valid options")
    };
    let options = [
        option(serde_json::json!({ "entities": patterns_only })),
        option(serde_json::json!({ "threshold": 0.3, "allow": ["2024-03-12", "555-0123"] })),
        option(serde_json::json!({ "threshold": 0.7, "entities": patterns_only })),
        option(serde_json::json!({ "threshold": 0.0 })),
    ];
    let secrets = veil_core::mask::Secrets::default();
    let default = Analyzer::shared_default();
    let everything = Analyzer::new(recognizers::builtin(), 0.0);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line = String::new();
    for (i, t) in texts.iter().enumerate() {
        line.clear();
        let spans = |line: &mut String, tag: &str, spans: Vec<veil_core::pii::PiiSpan>| {
            let _ = write!(line, "{i} {tag}");
            for s in spans {
                let _ = write!(
                    line,
                    " {}:{}-{}:{}-{}:{:?}",
                    s.entity.as_str(),
                    s.start,
                    s.end,
                    s.byte_start,
                    s.byte_end,
                    s.score
                );
            }
            line.push('\n');
        };
        spans(&mut line, "default", default.analyze(t));
        spans(&mut line, "zero", everything.analyze(t));
        for (k, o) in options.iter().enumerate() {
            spans(&mut line, &format!("opt{k}"), default.analyze_with(t, o));
            let r = redact_pii_with(t, o, &secrets).expect("redact strategy needs no key");
            let _ = writeln!(line, "{i} redact{k} {r:?}");
        }
        let _ = writeln!(line, "{i} redact {:?}", redact_pii(t));
        out.write_all(line.as_bytes()).expect("stdout");
    }
}

/// `n` texts of words taken from `texts` and PII-like tokens, joined by random separators
/// (a small deterministic xorshift generator, so every run dumps the same texts).
fn generated_texts(texts: &[String], n: usize) -> Vec<String> {
    let mut words: Vec<&str> = texts.iter().flat_map(|t| t.split_whitespace()).collect();
    words.sort_unstable();
    words.dedup();
    const EXTRA: &[&str] = &[
        "4111 1111 1111 1111",
        "536-22-1234",
        "(212) 555-0123",
        "+44 20 7946 0958",
        "2024-03-12",
        "12/03/1990",
        "10.0.0.12",
        "2001:db8::1",
        "https://status.example.com",
        "www.example.org",
        "jane.doe@example.com",
        "SSN",
        "phone",
        "card",
        "call",
        "born",
        "in",
        "1977",
        "٤١١١",
        "Grüße",
        "Monday",
        "account",
        "routing",
        "011000015",
        "passport",
        "A12345678",
        "JG103729A",
        "GB82 WEST 1234 5698 7654 32",
        "00:1A:2b:3C:4d:5E",
    ];
    const SEPARATORS: &[&str] = &[" ", " ", " ", ", ", ". ", "-", "\n", "/", ":", "", "#"];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let mut t = String::new();
            for _ in 0..(next() % 20 + 1) {
                let r = next();
                let word = if r % 4 == 0 {
                    EXTRA[(r / 4 % EXTRA.len() as u64) as usize]
                } else {
                    words[(r / 4 % words.len() as u64) as usize]
                };
                t.push_str(word);
                t.push_str(SEPARATORS[(next() % SEPARATORS.len() as u64) as usize]);
            }
            t
        })
        .collect()
}
