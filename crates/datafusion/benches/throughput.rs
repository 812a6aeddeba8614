//! veil functions inside DataFusion queries on one partition (one core), each against the
//! built-in it most resembles, measured in the same run:
//! * `redact_pii(note)` against `upper(note)` over the same 20,000 notes;
//! * `dp_mean(x, 0, 1000, 1.0)` against `avg(x)` over 1,000,000 rows.
//!
//! Run: `cargo bench -p veil-datafusion --bench throughput`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datafusion::arrow::array::{Float64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use tokio::runtime::Runtime;

use veil_benches::corpus::TEMPLATES;

fn context() -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    veil_datafusion::register_all(&ctx);
    ctx
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let ctx = context();
    // dp_mean charges a budget per query: an in-memory ledger with plenty keeps the bench
    // off the disk (the SQLite ledger's durable commit is measured separately, per query).
    rt.block_on(async {
        for sql in [
            "SET veil.ledger = ':memory:'",
            "SELECT veil_budget_grant(veil_principal(), 1e12, 0)",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
    });

    let notes: Vec<String> = (0..20_000)
        .map(|i| format!("{} #{i}", TEMPLATES[i % 6]))
        .collect();
    let bytes: usize = notes.iter().map(|n| n.len()).sum();
    let schema = Arc::new(Schema::new(vec![Field::new("note", DataType::Utf8, false)]));
    let batches: Vec<RecordBatch> = notes
        .chunks(8192)
        .map(|c| {
            let col = Arc::new(StringArray::from(c.to_vec()));
            RecordBatch::try_new(schema.clone(), vec![col]).expect("batch")
        })
        .collect();
    let table = MemTable::try_new(schema, vec![batches]).expect("table");
    ctx.register_table("notes", Arc::new(table))
        .expect("register notes");

    let xs: Vec<f64> = (0..1_000_000).map(|i| (i % 1000) as f64).collect();
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let batches: Vec<RecordBatch> = xs
        .chunks(8192)
        .map(|c| {
            let col = Arc::new(Float64Array::from(c.to_vec()));
            RecordBatch::try_new(schema.clone(), vec![col]).expect("batch")
        })
        .collect();
    let table = MemTable::try_new(schema, vec![batches]).expect("table");
    ctx.register_table("nums", Arc::new(table))
        .expect("register nums");

    let run = |sql: &'static str| {
        let ctx = ctx.clone();
        move || {
            let ctx = ctx.clone();
            async move { ctx.sql(sql).await.unwrap().collect().await.unwrap() }
        }
    };

    let mut g = c.benchmark_group("datafusion_text");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("upper", |b| {
        b.to_async(&rt)
            .iter(run("SELECT sum(length(upper(note))) FROM notes"))
    });
    g.bench_function("redact_pii", |b| {
        b.to_async(&rt)
            .iter(run("SELECT sum(length(redact_pii(note))) FROM notes"))
    });
    g.finish();

    let mut g = c.benchmark_group("datafusion_mean");
    g.throughput(Throughput::Elements(xs.len() as u64));
    g.sample_size(20);
    g.bench_function("avg", |b| {
        b.to_async(&rt).iter(run("SELECT avg(x) FROM nums"))
    });
    g.bench_function("dp_mean", |b| {
        b.to_async(&rt)
            .iter(run("SELECT dp_mean(x, 0, 1000, 1.0) FROM nums"))
    });
    g.finish();

    // The cost of a durable charge: the same tiny DP query with the in-memory ledger and
    // with a SQLite ledger file (WAL, synchronous = FULL: one fsync'd commit per query).
    let mut g = c.benchmark_group("datafusion_ledger");
    g.sample_size(20);
    g.bench_function("dp_count_memory_ledger", |b| {
        b.to_async(&rt)
            .iter(run("SELECT dp_count(x, 0.001) FROM (VALUES (1)) t(x)"))
    });
    let path = std::env::temp_dir().join(format!("veil-bench-{}.sqlite", std::process::id()));
    rt.block_on(async {
        for sql in [
            format!("SET veil.ledger = '{}'", path.display()),
            "SELECT veil_budget_grant(veil_principal(), 1e12, 0)".to_string(),
        ] {
            ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        }
    });
    g.bench_function("dp_count_sqlite_ledger", |b| {
        b.to_async(&rt)
            .iter(run("SELECT dp_count(x, 0.001) FROM (VALUES (1)) t(x)"))
    });
    g.finish();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
