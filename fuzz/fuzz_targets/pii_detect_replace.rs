//! Detection + replacement never panic, whatever the bytes: the input is split into an
//! options part and a text part; both go through parsing, every recognizer (including user
//! patterns and deny lists when the options define them) and every strategy.
//!
//! Run: `cargo fuzz run pii_detect_replace` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_core::mask::{anonymize, decrypt_pii, Secrets, Strategy};
use veil_core::pii::{Analyzer, PiiOptions};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (options, text) = input.split_once('\u{1}').unwrap_or(("", &input));
    let secrets = Secrets::new(Some("fuzz-hash-key-0123456789"))
        .and_then(|s| s.with_encryption_key(Some("fuzz-encryption-key-0123")))
        .expect("valid keys");
    let analyzer = Analyzer::shared_default();
    let spans = analyzer.analyze(text);
    for s in &spans {
        assert!(s.start <= s.end && s.byte_end <= text.len());
        let _ = s.value(text);
    }
    if let Ok(o) = PiiOptions::parse(Some(options)) {
        let spans = analyzer.analyze_with(text, &o);
        let _ = o.replacer.apply(text, &spans, &secrets);
    }
    for name in Strategy::NAMES {
        let _ = anonymize(text, name, None, &secrets);
        let _ = anonymize(text, name, Some(options), &secrets);
    }
    let encrypted = anonymize(text, "encrypt", None, &secrets).expect("encrypt with a key");
    assert_eq!(decrypt_pii(&encrypted, &secrets).expect("own token decrypts"), text);
    let _ = decrypt_pii(text, &secrets);
});
