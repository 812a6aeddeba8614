//! Throughput of PII redaction on one core, against a plain pass over the same bytes
//! (ASCII upper-casing) as the baseline measured in the same run.
//! Run: `cargo bench -p veil-benches --bench pii`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let docs = veil_benches::corpus::notes();
    let bytes: usize = docs.iter().map(|d| d.len()).sum();
    let mut group = c.benchmark_group("pii");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(BenchmarkId::new("baseline_upper", bytes), |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| d.to_ascii_uppercase().len())
                .sum::<usize>()
        })
    });
    group.bench_function(BenchmarkId::new("redact_pii", bytes), |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| veil_core::pii::redact_pii(d).len())
                .sum::<usize>()
        })
    });
    // The pattern-only set: every recognizer but the dictionary-based PERSON and LOCATION.
    let patterns_only: Vec<&str> = veil_core::pii::EntityType::ALL
        .iter()
        .filter(|e| {
            !matches!(
                e,
                veil_core::pii::EntityType::Person | veil_core::pii::EntityType::Location
            )
        })
        .map(|e| e.as_str())
        .collect();
    let options = veil_core::pii::PiiOptions::parse(Some(
        &serde_json::json!({ "entities": patterns_only }).to_string(),
    ))
    .expect("valid options");
    let secrets = veil_core::mask::Secrets::default();
    group.bench_function(BenchmarkId::new("redact_pii_patterns_only", bytes), |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| {
                    veil_core::pii::redact_pii_with(d, &options, &secrets)
                        .expect("redact strategy needs no key")
                        .len()
                })
                .sum::<usize>()
        })
    });
    // The same bytes as one long text (a document in one cell): overlap resolution must stay
    // near-linear in the number of candidates, so this runs at about the notes' speed.
    let one = docs.join("\n");
    group.bench_function(BenchmarkId::new("redact_pii_one_text", one.len()), |b| {
        b.iter(|| veil_core::pii::redact_pii(&one).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
