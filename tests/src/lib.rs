//! Runs veil's shared sqllogictest files (`tests/slt/*.slt`) against an engine.
//!
//! Both engines print values the same way so one file states the expected behaviour once:
//! floats in Rust's shortest round-trip form, booleans as `true`/`false`, NULL as `NULL`,
//! the empty string as `(empty)`. Records that differ by engine use `onlyif datafusion`,
//! `onlyif postgres` or `skipif …`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};

/// An error from either engine, with its SQLSTATE when PostgreSQL gave one.
#[derive(Debug)]
pub struct EngineError {
    pub message: String,
    pub sqlstate: Option<String>,
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sqlstate {
            Some(code) => write!(f, "{} (SQLSTATE {code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for EngineError {}

fn cell(s: String) -> String {
    if s.is_empty() {
        "(empty)".to_string()
    } else {
        s
    }
}

/// A DataFusion session with every veil function registered.
pub struct DataFusionDb {
    ctx: SessionContext,
}

impl Default for DataFusionDb {
    fn default() -> Self {
        let ctx = SessionContext::new();
        veil_datafusion::register_all(&ctx);
        // A fresh SQLite budget ledger per session, never the user's own.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "veil-slt-{}-{}.sqlite",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        {
            let state = ctx.state_ref();
            let mut state = state.write();
            if let Some(c) = state
                .config_mut()
                .options_mut()
                .extensions
                .get_mut::<veil_datafusion::config::VeilConfig>()
            {
                c.ledger = Some(path.display().to_string());
            }
        }
        DataFusionDb { ctx }
    }
}

#[async_trait]
impl AsyncDB for DataFusionDb {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let err = |e: datafusion::error::DataFusionError| EngineError {
            message: e.strip_backtrace(),
            sqlstate: None,
        };
        let df = self.ctx.sql(sql).await.map_err(err)?;
        let is_query = !matches!(
            df.logical_plan(),
            LogicalPlan::Dml(_)
                | LogicalPlan::Ddl(_)
                | LogicalPlan::Statement(_)
                | LogicalPlan::Copy(_)
        ) && !df.schema().fields().is_empty();
        let batches = df.collect().await.map_err(err)?;
        if !is_query {
            return Ok(DBOutput::StatementComplete(0));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        let mut width = 0;
        for batch in &batches {
            width = batch.num_columns();
            let columns: Vec<Vec<String>> = batch
                .columns()
                .iter()
                .map(|col| format_column(col.as_ref(), &options))
                .collect::<Result<_, _>>()
                .map_err(|e| EngineError {
                    message: e.to_string(),
                    sqlstate: None,
                })?;
            for r in 0..batch.num_rows() {
                rows.push(columns.iter().map(|c| c[r].clone()).collect());
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "datafusion"
    }
}

fn format_column(
    col: &dyn Array,
    options: &FormatOptions,
) -> Result<Vec<String>, datafusion::arrow::error::ArrowError> {
    let n = col.len();
    let float = |i: usize, v: f64| {
        if col.is_null(i) {
            "NULL".to_string()
        } else {
            v.to_string()
        }
    };
    Ok(match col.data_type() {
        DataType::Float64 => {
            let a = col.as_primitive::<Float64Type>();
            (0..n).map(|i| float(i, a.value(i))).collect()
        }
        DataType::Float32 => {
            let a = col.as_primitive::<Float32Type>();
            (0..n).map(|i| float(i, a.value(i) as f64)).collect()
        }
        _ => {
            let f = ArrayFormatter::try_new(col, options)?;
            (0..n).map(|i| cell(f.value(i).to_string())).collect()
        }
    })
}

/// A connection to a PostgreSQL server that has the `veil` extension installed.
pub struct PostgresDb {
    client: tokio_postgres::Client,
}

impl PostgresDb {
    /// Connects with a libpq-style string, e.g. `host=/tmp/sock port=5432 user=postgres`.
    pub async fn connect(config: &str) -> Result<Self, EngineError> {
        let (client, connection) = tokio_postgres::connect(config, tokio_postgres::NoTls)
            .await
            .map_err(pg_error)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("postgres connection error: {e}");
            }
        });
        Ok(PostgresDb { client })
    }
}

fn pg_error(e: tokio_postgres::Error) -> EngineError {
    match e.as_db_error() {
        Some(db) => EngineError {
            message: db.message().to_string(),
            sqlstate: Some(db.code().code().to_string()),
        },
        None => EngineError {
            message: e.to_string(),
            sqlstate: None,
        },
    }
}

fn pg_value(row: &tokio_postgres::Row, i: usize) -> Result<String, EngineError> {
    use tokio_postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    let conv = |e: tokio_postgres::Error| EngineError {
        message: e.to_string(),
        sqlstate: None,
    };
    macro_rules! get {
        ($t:ty, $f:expr) => {
            row.try_get::<_, Option<$t>>(i).map_err(conv)?.map($f)
        };
    }
    let v = match ty {
        Type::BOOL => get!(bool, |b| b.to_string()),
        Type::INT2 => get!(i16, |x| x.to_string()),
        Type::INT4 => get!(i32, |x| x.to_string()),
        Type::INT8 => get!(i64, |x| x.to_string()),
        Type::FLOAT4 => get!(f32, |x| (x as f64).to_string()),
        Type::FLOAT8 => get!(f64, |x| x.to_string()),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => get!(String, cell),
        other => {
            return Err(EngineError {
                message: format!("slt runner: cast column {i} of type {other} to text"),
                sqlstate: None,
            })
        }
    };
    Ok(v.unwrap_or_else(|| "NULL".to_string()))
}

#[async_trait]
impl AsyncDB for PostgresDb {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let stmt = self.client.prepare(sql).await.map_err(pg_error)?;
        if stmt.columns().is_empty() {
            let n = self.client.execute(&stmt, &[]).await.map_err(pg_error)?;
            return Ok(DBOutput::StatementComplete(n));
        }
        let width = stmt.columns().len();
        let pg_rows = self.client.query(&stmt, &[]).await.map_err(pg_error)?;
        let mut rows = Vec::with_capacity(pg_rows.len());
        for row in &pg_rows {
            rows.push(
                (0..width)
                    .map(|i| pg_value(row, i))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "postgres"
    }

    fn error_sql_state(err: &EngineError) -> Option<String> {
        err.sqlstate.clone()
    }
}

/// Which engine a run targets.
#[derive(Debug, Clone)]
pub enum Engine {
    DataFusion,
    /// libpq-style connection string of a server with the extension available.
    Postgres(String),
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::DataFusion => "datafusion",
            Engine::Postgres(_) => "postgres",
        }
    }
}

/// The `.slt` files under `dir`, sorted.
pub fn slt_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs each file on a fresh connection; prints one line per file and a closing
/// `N passed, N failed` line. Returns the number of failed files.
pub async fn run_files(engine: &Engine, files: &[PathBuf]) -> usize {
    let mut failed = 0;
    for file in files {
        let result = match engine {
            Engine::DataFusion => {
                let mut runner = Runner::new(|| async { Ok(DataFusionDb::default()) });
                runner.with_column_validator(|_, _| true);
                runner.run_file_async(file).await
            }
            Engine::Postgres(config) => {
                let config = Arc::new(config.clone());
                let mut runner = Runner::new(move || {
                    let config = Arc::clone(&config);
                    async move { PostgresDb::connect(&config).await }
                });
                runner.with_column_validator(|_, _| true);
                runner.run_file_async(file).await
            }
        };
        match result {
            Ok(()) => println!("[{}] ok   {}", engine.name(), file.display()),
            Err(e) => {
                failed += 1;
                println!(
                    "[{}] FAIL {}\n{}",
                    engine.name(),
                    file.display(),
                    e.display(false)
                );
            }
        }
    }
    println!(
        "slt-{}: {} passed, {} failed",
        engine.name(),
        files.len() - failed,
        failed
    );
    failed
}

/// ε spent so far by the session user, per the ledger.
async fn epsilon_spent(db: &PostgresDb) -> Result<f64, EngineError> {
    let row = db
        .client
        .query_one(
            "SELECT epsilon_spent FROM veil_budget_status() WHERE principal = veil_principal()",
            &[],
        )
        .await
        .map_err(pg_error)?;
    Ok(row.get(0))
}

/// PostgreSQL: `sessions` real connections race to spend one budget of ε = 1 with queries of
/// ε = 0.1 each. Returns (released answers, ε spent per the ledger); a sound ledger gives
/// at most 10 answers and spends at most 1.
pub async fn postgres_budget_race(
    config: &str,
    sessions: usize,
) -> Result<(usize, f64), EngineError> {
    let setup = PostgresDb::connect(config).await?;
    for sql in [
        "CREATE TABLE IF NOT EXISTS veil_race AS SELECT x FROM generate_series(1, 100) AS s(x)",
        "SELECT veil_budget_revoke(veil_principal())",
        "SELECT veil_budget_grant(veil_principal(), 1.0, 0)",
    ] {
        setup.client.batch_execute(sql).await.map_err(pg_error)?;
    }
    let before = epsilon_spent(&setup).await?;
    let mut tasks = Vec::new();
    for _ in 0..sessions {
        let config = config.to_string();
        tasks.push(tokio::spawn(async move {
            let db = PostgresDb::connect(&config).await?;
            let mut released = 0;
            for _ in 0..5 {
                if db
                    .client
                    .query_one("SELECT dp_count(x, 0.1) FROM veil_race", &[])
                    .await
                    .is_ok()
                {
                    released += 1;
                }
            }
            Ok::<usize, EngineError>(released)
        }));
    }
    let mut released = 0;
    for t in tasks {
        released += t.await.map_err(|e| EngineError {
            message: e.to_string(),
            sqlstate: None,
        })??;
    }
    let after = epsilon_spent(&setup).await?;
    setup
        .client
        .batch_execute("DROP TABLE veil_race")
        .await
        .map_err(pg_error)?;
    Ok((released, after - before))
}
