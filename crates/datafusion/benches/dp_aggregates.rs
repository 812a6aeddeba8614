//! DP aggregates against their exact counterparts over 10,000,000 rows, in one run:
//! `count`/`dp_count` (also with a filter, so that `count` reads the column), `sum`/`dp_sum`, `avg`/`dp_mean`, ungrouped and with 1,000 groups
//! (grouped DP queries include DP partition selection, as users get them). Two partitions
//! (this machine's cores), in-memory ledger. Report the ratios DP / exact: criterion's
//! times, then medians of alternating runs (see [`paired`]), which hold on a shared machine.
//!
//! `cargo bench -p veil-datafusion --bench dp_aggregates`

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use tokio::runtime::Runtime;

const ROWS: usize = 10_000_000;

/// Each exact query and its DP counterpart, named after the exact one.
const PAIRS: [(&str, &str, &str); 7] = [
    (
        "count",
        "SELECT count(x) FROM t",
        "SELECT dp_count(x, 1.0) FROM t",
    ),
    // `count(x)` above comes from the table's statistics without a scan; with a filter
    // (true for every row) both queries read the column.
    (
        "count_where",
        "SELECT count(x) FROM t WHERE x >= 0",
        "SELECT dp_count(x, 1.0) FROM t WHERE x >= 0",
    ),
    (
        "sum",
        "SELECT sum(x) FROM t",
        "SELECT dp_sum(x, 0, 1000, 1.0) FROM t",
    ),
    (
        "avg",
        "SELECT avg(x) FROM t",
        "SELECT dp_mean(x, 0, 1000, 1.0) FROM t",
    ),
    (
        "count_by_g",
        "SELECT g, count(x) FROM t GROUP BY g",
        "SELECT g, dp_count(x, 1.0) FROM t GROUP BY g",
    ),
    (
        "sum_by_g",
        "SELECT g, sum(x) FROM t GROUP BY g",
        "SELECT g, dp_sum(x, 0, 1000, 1.0) FROM t GROUP BY g",
    ),
    (
        "avg_by_g",
        "SELECT g, avg(x) FROM t GROUP BY g",
        "SELECT g, dp_mean(x, 0, 1000, 1.0) FROM t GROUP BY g",
    ),
];

/// The criterion name of a pair's DP query.
fn dp_name(exact: &str) -> &'static str {
    match exact {
        "count" => "dp_count",
        "count_where" => "dp_count_where",
        "sum" => "dp_sum",
        "avg" => "dp_mean",
        "count_by_g" => "dp_count_by_g",
        "sum_by_g" => "dp_sum_by_g",
        _ => "dp_mean_by_g",
    }
}

/// Rounds of [`paired`].
const PAIRED_ROUNDS: usize = 21;

/// Ratios that hold on a shared machine: criterion measures one query after the other, so
/// load that comes and goes skews a ratio; here every round runs the exact query and then
/// its DP counterpart, and the medians over the rounds are compared.
async fn paired(ctx: &SessionContext) {
    println!("paired medians over {PAIRED_ROUNDS} alternating rounds (after 2 warm-up rounds):");
    for (name, exact, dp) in PAIRS {
        let mut times = [Vec::new(), Vec::new()];
        for round in 0..PAIRED_ROUNDS + 2 {
            for (i, sql) in [exact, dp].into_iter().enumerate() {
                let start = std::time::Instant::now();
                ctx.sql(sql).await.unwrap().collect().await.unwrap();
                if round >= 2 {
                    times[i].push(start.elapsed());
                }
            }
        }
        let [e, d] = times.map(|mut t| {
            t.sort();
            t[t.len() / 2]
        });
        println!(
            "  {name:<12} exact {e:>10.2?}  DP {d:>10.2?}  ratio {:.2}",
            d.as_secs_f64() / e.as_secs_f64()
        );
    }
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    veil_datafusion::register_all(&ctx);
    rt.block_on(async {
        for sql in [
            "SET veil.ledger = ':memory:'",
            "SET veil.delta = 0.000001",
            "SELECT veil_budget_grant(veil_principal(), 1e12, 0.5)",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
    });
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("g", DataType::Int64, false),
    ]));
    // Deterministic pseudo-random values in [0, 1000) and group ids in [0, 1000).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut partitions = vec![Vec::new(), Vec::new()];
    let per_batch = 8192;
    for b in 0..ROWS.div_ceil(per_batch) {
        let n = per_batch.min(ROWS - b * per_batch);
        let xs: Vec<f64> = (0..n)
            .map(|_| (next() % 1_000_000) as f64 / 1000.0)
            .collect();
        let gs: Vec<i64> = (0..n).map(|_| (next() % 1000) as i64).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(xs)),
                Arc::new(Int64Array::from(gs)),
            ],
        )
        .expect("batch");
        partitions[b % 2].push(batch);
    }
    let table = MemTable::try_new(schema, partitions).expect("table");
    ctx.register_table("t", Arc::new(table)).expect("register");

    let run = |sql: &'static str| {
        let ctx = ctx.clone();
        move || {
            let ctx = ctx.clone();
            async move { ctx.sql(sql).await.unwrap().collect().await.unwrap() }
        }
    };
    let mut g = c.benchmark_group("dp_10m");
    g.sample_size(10);
    for (name, sql) in PAIRS
        .iter()
        .flat_map(|&(name, exact, dp)| [(name, exact), (dp_name(name), dp)])
    {
        g.bench_function(name, |b| b.to_async(&rt).iter(run(sql)));
    }
    g.finish();
    rt.block_on(paired(&ctx));

    // The fixed cost of a query (planning, charging the ledger, drawing noise) on one row.
    rt.block_on(async {
        ctx.sql("CREATE TABLE one AS VALUES (1.5)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
    });
    let mut g = c.benchmark_group("dp_1row");
    for (name, sql) in [
        ("sum", "SELECT sum(column1) FROM one"),
        ("dp_sum", "SELECT dp_sum(column1, 0, 1000, 1.0) FROM one"),
        ("dp_count", "SELECT dp_count(column1, 1.0) FROM one"),
    ] {
        g.bench_function(name, |b| b.to_async(&rt).iter(run(sql)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
