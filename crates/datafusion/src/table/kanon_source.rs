//! What `k_anon`, `k_anon_plan` and `reid_risk` share: their constant arguments, reading
//! the source (a registered table, or a CSV/Parquet/JSON file by path as in the CLI's
//! `FROM 'file.csv'`) and the hierarchies a config names (ARX CSV files, SQL tables).
//!
//! Table functions are planned synchronously, but reading a table is async: the reads run
//! to completion on a helper thread with its own single-threaded tokio runtime, so they
//! work under any runtime the caller uses (and outside one). The job therefore runs when
//! the query is planned (also for `EXPLAIN`), and its result is a [`MemTable`].
//!
//! Files are read with the permissions of the process: embedded DataFusion trusts whoever
//! runs SQL (as `FROM 'file.csv'` does in the CLI).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::{plan_err, DataFusionError, Result, ScalarValue, TableReference};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{
    CsvReadOptions, DataFrame, JsonReadOptions, ParquetReadOptions, SessionContext,
};
use veil_core::kanon::{HierarchySource, KAnonConfig, KAnonJob, SuppliedHierarchy};

use crate::to_df_error;

/// A string argument that must be a constant: `Ok(None)` when absent.
pub(crate) fn string_arg(
    function: &str,
    exprs: &[Expr],
    i: usize,
    name: &str,
) -> Result<Option<String>> {
    match exprs.get(i) {
        None => Ok(None),
        Some(Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        )) => Ok(Some(s.clone())),
        Some(Expr::Literal(v, _)) if v.is_null() => {
            plan_err!("{function}: invalid argument `{name}`: must not be NULL")
        }
        Some(_) => plan_err!("{function}: argument `{name}` must be a constant string"),
    }
}

/// A job's source, already read: every row of the table (all columns) and the
/// configuration's columns as text.
pub(crate) struct Source {
    /// The table's rows, all columns, in one batch.
    pub batch: RecordBatch,
    /// The job's columns ([`KAnonJob::columns`]) cast to Utf8, in that order.
    pub text_columns: Vec<ArrayRef>,
}

impl Source {
    /// The text columns as the core takes them.
    pub fn values(&self) -> Vec<Vec<Option<&str>>> {
        self.text_columns
            .iter()
            .map(|c| c.as_string::<i32>().iter().collect())
            .collect()
    }
}

/// A parsed call: the job (with its hierarchies read) and the source read.
pub(crate) struct Call {
    pub job: KAnonJob,
    pub source: Source,
    /// The state of the calling session (to register a target table in).
    pub ctx: SessionContext,
}

/// Parses `(source, config)`, reads the hierarchies and the source.
pub(crate) fn prepare(function: &'static str, args: &TableFunctionArgs) -> Result<Call> {
    let exprs = args.exprs();
    let Some(source) = string_arg(function, exprs, 0, "source")? else {
        return plan_err!("{function} takes (source, config): the table's name and a JSON config");
    };
    let Some(config) = string_arg(function, exprs, 1, "config")? else {
        return plan_err!("{function} takes (source, config): the table's name and a JSON config");
    };
    let config = KAnonConfig::from_json(&config).map_err(|e| to_df_error(function, e))?;
    let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
        return plan_err!("{function}: needs a DataFusion SessionState to read tables");
    };
    let ctx = SessionContext::new_with_state(state.clone());
    let (supplied, source) = {
        let ctx = ctx.clone();
        let columns: Vec<String> = config.columns().iter().map(|c| c.to_string()).collect();
        let sources = config.hierarchy_sources();
        block_on_own_runtime(async move {
            let mut supplied = HashMap::new();
            for s in &sources {
                supplied.insert(
                    s.column().to_string(),
                    read_hierarchy(function, &ctx, s).await?,
                );
            }
            let source = read_source(function, &ctx, &source, &columns).await?;
            Ok((supplied, source))
        })?
    };
    let job = KAnonJob::new(config, supplied).map_err(|e| to_df_error(function, e))?;
    Ok(Call { job, source, ctx })
}

/// Runs `f` to completion on a new thread with its own single-threaded tokio runtime.
pub(crate) fn block_on_own_runtime<T: Send>(
    f: impl Future<Output = Result<T>> + Send,
) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| DataFusionError::Execution(format!("tokio runtime: {e}")))?;
            rt.block_on(f)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(DataFusionError::Execution(
                "reading the source failed (the reader thread panicked)".into(),
            ))
        })
    })
}

/// A registered table by name, else a `.csv`, `.parquet` or `.json`/`.ndjson` file.
async fn open(function: &str, ctx: &SessionContext, name: &str, what: &str) -> Result<DataFrame> {
    let reference = TableReference::from(name);
    if ctx.table_exist(reference.clone()).unwrap_or(false) {
        return ctx.table(reference).await;
    }
    let ext = std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let read = match ext.as_str() {
        "csv" => ctx.read_csv(name, CsvReadOptions::new()).await,
        "parquet" => ctx.read_parquet(name, ParquetReadOptions::default()).await,
        "json" | "ndjson" | "jsonl" => {
            ctx.read_json(
                name,
                JsonReadOptions::default().file_extension(&format!(".{ext}")),
            )
            .await
        }
        _ => {
            return plan_err!(
                "{function}: invalid argument `{what}`: no table named {name:?} (and not a \
                 .csv, .parquet or .json file path)"
            )
        }
    };
    read.map_err(|e| {
        DataFusionError::Plan(format!(
            "{function}: invalid argument `{what}`: cannot read file {name:?}: {}",
            e.strip_backtrace()
        ))
    })
}

/// Every row of a table or file, in one batch.
async fn collect(df: DataFrame) -> Result<RecordBatch> {
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(concat_batches(&schema, &batches)?)
}

async fn read_source(
    function: &str,
    ctx: &SessionContext,
    name: &str,
    columns: &[String],
) -> Result<Source> {
    let batch = collect(open(function, ctx, name, "source").await?).await?;
    let schema = batch.schema();
    let mut text_columns = Vec::with_capacity(columns.len());
    for c in columns {
        let Ok(i) = schema.index_of(c) else {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return plan_err!(
                "{function}: the config names column {c:?}, which {name:?} does not have; its \
                 columns are {}",
                names.join(", ")
            );
        };
        text_columns.push(cast(batch.column(i), &DataType::Utf8)?);
    }
    Ok(Source {
        batch,
        text_columns,
    })
}

/// A hierarchy a config names: an ARX CSV file's text, or a SQL table's rows (every
/// column as text, value first).
async fn read_hierarchy(
    function: &str,
    ctx: &SessionContext,
    source: &HierarchySource,
) -> Result<SuppliedHierarchy> {
    match source {
        HierarchySource::ArxCsv { column, path } => std::fs::read_to_string(path)
            .map(SuppliedHierarchy::ArxCsv)
            .map_err(|e| {
                DataFusionError::Plan(format!(
                    "{function}: invalid argument `config.quasi_identifiers.{column}.arx_csv`: \
                     cannot read {path:?}: {e}"
                ))
            }),
        HierarchySource::Table { column, table } => {
            let reference = TableReference::from(table.as_str());
            if !ctx.table_exist(reference.clone()).unwrap_or(false) {
                return plan_err!(
                    "{function}: invalid argument `config.quasi_identifiers.{column}.table`: \
                     no table named {table:?}"
                );
            }
            let batch = collect(ctx.table(reference).await?).await?;
            let text = batch
                .columns()
                .iter()
                .map(|c| cast(c, &DataType::Utf8))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let rows = (0..batch.num_rows())
                .map(|r| {
                    text.iter()
                        .map(|c| {
                            let c = c.as_string::<i32>();
                            (!c.is_null(r)).then(|| c.value(r).to_string())
                        })
                        .collect()
                })
                .collect();
            Ok(SuppliedHierarchy::Rows(rows))
        }
    }
}
