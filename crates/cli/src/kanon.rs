//! `veil k-anon`: a batch job that k-anonymizes a CSV, Parquet or JSON file with a JSON
//! config (the config of the SQL function `k_anon`, see `veil_core::kanon::config`).
//!
//! Writes into the output directory:
//! * `dataset.parquet`: every input column in order, the quasi-identifier columns replaced
//!   by their generalized values (text; `*` in each for a suppressed row under
//!   `"suppression": "mask"`), rows suppressed under `"suppression": "drop"` left out;
//! * `report.json`: the job's report (`plan`, `transformation`, `risk`: see
//!   `KAnonOutcome::to_report_json`) plus `input`, `rows_written`, `config` and `seconds`
//!   (`read`, `anonymize`, `write`, `total`).
//!
//! `arx_csv` hierarchy paths are read relative to the config file's directory; `table`
//! hierarchies need SQL and are refused (use `k_anon` in SQL, or an ARX CSV file).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, concat_batches, filter};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext;
use indicatif::{ProgressBar, ProgressStyle};
use veil_core::kanon::{HierarchySource, KAnonConfig, KAnonJob, SuppliedHierarchy};

use crate::redact::{create, read_input};

/// Arguments of `veil k-anon`.
#[derive(Debug, clap::Args)]
pub struct KAnonArgs {
    /// Input file: .csv, .parquet, .json/.ndjson (newline-delimited JSON).
    #[arg(long)]
    pub input: PathBuf,
    /// JSON config file, as for k_anon(source, config).
    #[arg(long)]
    pub config: PathBuf,
    /// Output directory (created if missing).
    #[arg(long)]
    pub output: PathBuf,
}

fn err(msg: impl Into<String>) -> DataFusionError {
    DataFusionError::Execution(msg.into())
}

/// Runs the job; returns the report written.
pub async fn run(args: &KAnonArgs) -> Result<serde_json::Value> {
    let started = Instant::now();
    let config_text = std::fs::read_to_string(&args.config)
        .map_err(|e| err(format!("--config {}: {e}", args.config.display())))?;
    let config = KAnonConfig::from_json(&config_text).map_err(|e| err(format!("--config: {e}")))?;
    let base = args.config.parent().unwrap_or(Path::new("."));
    let mut supplied = HashMap::new();
    for source in config.hierarchy_sources() {
        match source {
            HierarchySource::ArxCsv { column, path } => {
                let full = base.join(&path);
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    err(format!(
                        "--config: `config.quasi_identifiers.{column}.arx_csv`: cannot read {}: {e}",
                        full.display()
                    ))
                })?;
                supplied.insert(column, SuppliedHierarchy::ArxCsv(text));
            }
            HierarchySource::Table { column, table } => {
                return Err(err(format!(
                    "--config: `config.quasi_identifiers.{column}.table`: the CLI has no SQL \
                     table {table:?}; use an arx_csv file or k_anon in SQL"
                )))
            }
        }
    }
    let job = KAnonJob::new(config, supplied).map_err(|e| err(format!("--config: {e}")))?;

    let ctx = SessionContext::new();
    let (input, df) = read_input(&ctx, &args.input).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batch = concat_batches(&schema, &df.collect().await?)?;
    let mut text_columns = Vec::new();
    for c in job.columns() {
        let Ok(i) = schema.index_of(c) else {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(err(format!(
                "--config: names column {c:?}, which {input} does not have; its columns are {}",
                names.join(", ")
            )));
        };
        text_columns.push(cast(batch.column(i), &DataType::Utf8)?);
    }
    let values: Vec<Vec<Option<&str>>> = text_columns
        .iter()
        .map(|c| c.as_string::<i32>().iter().collect())
        .collect();
    let slices: Vec<&[Option<&str>]> = values.iter().map(Vec::as_slice).collect();
    let read_seconds = started.elapsed().as_secs_f64();

    let progress = ProgressBar::new(0);
    progress.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} transformations classified ({per_sec}) {elapsed}",
        )
        .expect("valid progress template"),
    );
    let anonymizing = Instant::now();
    let outcome = job
        .run(&slices, |done, total| {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        })
        .map_err(|e| err(e.to_string()))?;
    progress.finish_and_clear();
    let anonymize_seconds = anonymizing.elapsed().as_secs_f64();

    let writing = Instant::now();
    let qis = job.config().quasi_identifier_names();
    let keep: BooleanArray = outcome.rows.iter().map(|r| Some(r.is_some())).collect();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        match qis.iter().position(|q| q == field.name()) {
            Some(j) => {
                fields.push(Field::new(field.name(), DataType::Utf8, true));
                columns.push(Arc::new(StringArray::from_iter_values(
                    outcome.rows.iter().flatten().map(|r| r[j].as_str()),
                )));
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(filter(batch.column(i), &keep)?);
            }
        }
    }
    let out_schema = Arc::new(Schema::new(fields));
    let released = RecordBatch::try_new(out_schema.clone(), columns)?;
    std::fs::create_dir_all(&args.output)
        .map_err(|e| err(format!("--output {}: {e}", args.output.display())))?;
    let mut writer = ArrowWriter::try_new(
        create(&args.output.join("dataset.parquet"))?,
        out_schema,
        None,
    )?;
    writer.write(&released)?;
    writer.close()?;

    let mut report: serde_json::Value =
        serde_json::from_str(&outcome.to_report_json()).map_err(|e| err(e.to_string()))?;
    let config_json: serde_json::Value =
        serde_json::from_str(&config_text).map_err(|e| err(e.to_string()))?;
    report["input"] = input.into();
    report["rows_written"] = released.num_rows().into();
    report["config"] = config_json;
    report["seconds"] = serde_json::json!({
        "read": read_seconds,
        "anonymize": anonymize_seconds,
        "write": writing.elapsed().as_secs_f64(),
        "total": started.elapsed().as_secs_f64(),
    });
    report["veil_version"] = env!("CARGO_PKG_VERSION").into();
    let pretty = serde_json::to_string_pretty(&report).map_err(|e| err(e.to_string()))?;
    std::fs::write(args.output.join("report.json"), pretty + "\n")
        .map_err(|e| err(format!("--output: {e}")))?;
    Ok(report)
}
