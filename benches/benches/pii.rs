//! Throughput of PII redaction on one core, against a plain pass over the same bytes
//! (ASCII upper-casing) as the baseline measured in the same run.
//! Run: `cargo bench -p veil-benches --bench pii`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A deterministic corpus of short notes, about 1 in 3 carrying PII.
fn corpus() -> Vec<String> {
    let templates = [
        "Customer called about the delayed order and asked for a refund by Friday.",
        "Reimburse to card 4111 1111 1111 1111; receipt sent from jane.doe@example.com.",
        "Meeting moved to the third floor; bring the printed agenda and the budget sheet.",
        "New hire paperwork: SSN 536-22-1234, phone (212) 555-0123, start 2024-03-12.",
        "The shipment left the warehouse this morning and should arrive within five days.",
        "Server 10.0.0.12 rejected the login from 2001:db8::1; see https://status.example.com.",
    ];
    (0..2000)
        .map(|i| format!("{} #{i}", templates[i % templates.len()]))
        .collect()
}

fn bench(c: &mut Criterion) {
    let docs = corpus();
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
