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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
