//! `pii_profile [PATH] [--redact-only] [--tiny]`: time spent by each built-in recognizer
//! over the criterion bench's corpus (or a Presidio-format file given as argument), to see
//! where detection time goes, then by `redact_pii` (every recognizer, and the pattern-only
//! set) over 20 passes. `--redact-only` skips the per-recognizer rows, for counting the
//! instructions of `redact_pii` alone (`perf stat -e instructions`). `--tiny` uses 2,000
//! tiny texts without PII instead (a few bytes each): what is left is the fixed cost per
//! text.

use std::time::Instant;

use veil_benches::corpus::notes;
use veil_core::pii::{
    recognizers, redact_pii, redact_pii_with, Candidate, EntityType, Mark, PiiOptions, Recognizer,
    Scan,
};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let redact_only = args.iter().any(|a| a == "--redact-only");
    let tiny = args.iter().any(|a| a == "--tiny");
    args.retain(|a| a != "--redact-only" && a != "--tiny");
    let docs: Vec<String> = match args.first() {
        _ if tiny => tiny_notes(),
        Some(path) => {
            let records: Vec<veil_benches::pii_eval::Record> =
                serde_json::from_str(&std::fs::read_to_string(path).expect("readable file"))
                    .expect("Presidio-format JSON");
            records.into_iter().map(|r| r.full_text).collect()
        }
        None => notes(),
    };
    let bytes: usize = docs.iter().map(String::len).sum();
    if !redact_only {
        per_recognizer(&docs, bytes);
    }
    redact(&docs, bytes);
}

/// 2,000 tiny texts without PII ("ok", "Done.", "see above" …), 5.4 bytes on average.
fn tiny_notes() -> Vec<String> {
    const WORDS: [&str; 8] = [
        "ok",
        "Done.",
        "see above",
        "n/a",
        "thanks",
        "Call me",
        "-",
        "fixed: yes",
    ];
    (0..2000)
        .map(|i| WORDS[i % WORDS.len()].to_string())
        .collect()
}

/// Times `redact_pii` with every recognizer and with the pattern-only set.
fn redact(docs: &[String], bytes: usize) {
    const PASSES: usize = 20;
    let patterns_only: Vec<&str> = EntityType::ALL
        .iter()
        .filter(|e| !matches!(e, EntityType::Person | EntityType::Location))
        .map(|e| e.as_str())
        .collect();
    let options = PiiOptions::parse(Some(
        &serde_json::json!({ "entities": patterns_only }).to_string(),
    ))
    .expect("valid options");
    let secrets = veil_core::mask::Secrets::default();
    type Redact<'a> = Box<dyn Fn(&str) -> usize + 'a>;
    let runs: [(&str, Redact); 2] = [
        (
            "redact_pii, every recognizer",
            Box::new(|d| redact_pii(d).len()),
        ),
        (
            "redact_pii, pattern-only set",
            Box::new(|d| {
                redact_pii_with(d, &options, &secrets)
                    .expect("redact strategy needs no key")
                    .len()
            }),
        ),
    ];
    for (name, run) in runs {
        // Warm-up: lazily built tables are not timed.
        std::hint::black_box(docs.iter().map(|d| run(d)).sum::<usize>());
        let start = Instant::now();
        timed_passes(docs, &run, PASSES);
        let secs = start.elapsed().as_secs_f64() / PASSES as f64;
        println!(
            "{name:30} {:8.3} ms per pass {:8.1} MB/s",
            secs * 1e3,
            bytes as f64 / 1e6 / secs
        );
    }
}

/// `passes` passes of `run` over `docs`: a function of its own, so that instruction counts
/// can be limited to it (`valgrind --tool=callgrind --collect-atstart=no
/// --toggle-collect='pii_profile::timed_passes'`).
#[inline(never)]
fn timed_passes(docs: &[String], run: &dyn Fn(&str) -> usize, passes: usize) {
    for _ in 0..passes {
        std::hint::black_box(docs.iter().map(|d| run(d)).sum::<usize>());
    }
}

/// Five passes of one recognizer over `docs`, on the texts and as the analyzer of
/// `redact_pii` calls it (its needs met, scores unboosted): a function of its own, so that
/// callgrind can count each recognizer's instructions apart (`--toggle-collect` and
/// `--dump-after` on `pii_profile::recognizer_passes`: one dump per recognizer, in
/// `builtin()` order).
#[inline(never)]
fn recognizer_passes(
    r: &dyn Recognizer,
    docs: &[String],
    scans: &[Scan],
    out: &mut Vec<Candidate>,
) {
    // The texts the analyzer would call it on (its needs met), as the analyzer calls it.
    let needs = r.needs();
    for _ in 0..5 {
        for (d, s) in docs.iter().zip(scans) {
            out.clear();
            if needs.met_by(s) {
                r.find_unboosted(d, s, out);
            }
        }
    }
}

/// Times each built-in recognizer alone.
fn per_recognizer(docs: &[String], bytes: usize) {
    let mut rows = Vec::new();
    // The per-text scan the analyzer shares between recognizers, timed on its own.
    let mut marks: Vec<Vec<Mark>> = vec![Vec::new(); docs.len()];
    let start = Instant::now();
    for _ in 0..5 {
        for (d, m) in docs.iter().zip(marks.iter_mut()) {
            std::hint::black_box(Scan::new(d, m).bytes);
        }
    }
    rows.push(("(scan)", start.elapsed().as_secs_f64() / 5.0));
    let mut scans: Vec<Scan> = Vec::new();
    for (d, m) in docs.iter().zip(marks.iter_mut()) {
        scans.push(Scan::new(d, m));
    }
    for r in recognizers::builtin() {
        let mut out: Vec<Candidate> = Vec::new();
        // Warm-up: lazily loaded tables (phone metadata, dictionaries) are not timed.
        for (d, s) in docs.iter().zip(&scans) {
            r.find_in(d, s, &mut out);
        }
        let start = Instant::now();
        recognizer_passes(r.as_ref(), docs, &scans, &mut out);
        let secs = start.elapsed().as_secs_f64() / 5.0;
        rows.push((r.entity().as_str(), secs));
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = rows.iter().map(|r| r.1).sum();
    println!(
        "{} texts, {bytes} bytes; all recognizers {:.2} ms ({:.1} MB/s)",
        docs.len(),
        total * 1e3,
        bytes as f64 / 1e6 / total
    );
    for (name, secs) in rows {
        println!(
            "{name:20} {:8.3} ms {:5.1}%  {:8.1} MB/s",
            secs * 1e3,
            100.0 * secs / total,
            bytes as f64 / 1e6 / secs
        );
    }
}
