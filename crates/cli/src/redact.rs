//! `veil redact`: a batch job that redacts one text column of a CSV, Parquet or JSON file.
//!
//! Writes into the output directory:
//! * `dataset.parquet`: every input column, with the text column redacted;
//! * `trace.parquet`: one row per span found: `row_id` (0-based input row), `entity_type`,
//!   `start_pos`, `end_pos` (code points in the original text) and `score`;
//! * `metadata.json`: input, column, rows, bytes scanned, spans per entity type, seconds,
//!   and the options used.
//!
//! The hash strategy's key comes from the `VEIL_HASH_KEY` environment variable, never from
//! the options file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{
    CsvReadOptions, DataFrame, JsonReadOptions, ParquetReadOptions, SessionContext,
};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use veil_core::mask::Secrets;
use veil_core::pii::{Analyzer, PiiOptions};
use veil_datafusion::pii_args::string_values;

/// Arguments of `veil redact`.
#[derive(Debug, clap::Args)]
pub struct RedactArgs {
    /// Input file: .csv, .parquet, .json/.ndjson (newline-delimited JSON).
    #[arg(long)]
    pub input: PathBuf,
    /// The text column to redact.
    #[arg(long)]
    pub column: String,
    /// JSON options file, as for redact_pii(text, options).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output directory (created if missing).
    #[arg(long)]
    pub output: PathBuf,
}

fn err(msg: impl Into<String>) -> DataFusionError {
    DataFusionError::Execution(msg.into())
}

/// Runs the job; returns the metadata written.
pub async fn run(args: &RedactArgs) -> Result<serde_json::Value> {
    let started = Instant::now();
    let options_text = match &args.config {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| err(format!("--config {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let options =
        PiiOptions::parse(options_text.as_deref()).map_err(|e| err(format!("--config: {e}")))?;
    let secrets = Secrets::new(std::env::var("VEIL_HASH_KEY").ok().as_deref())
        .map_err(|e| err(format!("VEIL_HASH_KEY: {e}")))?;

    let ctx = SessionContext::new();
    let (input, df) = read_input(&ctx, &args.input).await?;
    let schema = df.schema().as_arrow().clone();
    let col_idx = schema.index_of(&args.column).map_err(|_| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        err(format!(
            "--column {}: no such column; columns are {}",
            args.column,
            names.join(", ")
        ))
    })?;
    if !matches!(
        schema.field(col_idx).data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return Err(err(format!(
            "--column {}: must be a text column, is {}",
            args.column,
            schema.field(col_idx).data_type()
        )));
    }

    std::fs::create_dir_all(&args.output)
        .map_err(|e| err(format!("--output {}: {e}", args.output.display())))?;
    let out_fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == col_idx {
                Field::new(f.name(), DataType::Utf8, true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let out_schema = Arc::new(Schema::new(out_fields));
    let trace_schema = Arc::new(Schema::new(vec![
        Field::new("row_id", DataType::Int64, false),
        Field::new("entity_type", DataType::Utf8, false),
        Field::new("start_pos", DataType::Int64, false),
        Field::new("end_pos", DataType::Int64, false),
        Field::new("score", DataType::Float64, false),
    ]));
    let mut data_writer = ArrowWriter::try_new(
        create(&args.output.join("dataset.parquet"))?,
        out_schema.clone(),
        None,
    )?;
    let mut trace_writer = ArrowWriter::try_new(
        create(&args.output.join("trace.parquet"))?,
        trace_schema.clone(),
        None,
    )?;

    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos} rows redacted ({per_sec}) {elapsed}")
            .expect("valid progress template"),
    );
    let analyzer = Analyzer::shared_default();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let texts = batch.column(col_idx);
        let mut redacted = StringBuilder::new();
        let (mut row_id, mut entity, mut start, mut end, mut score) = (
            Int64Builder::new(),
            StringBuilder::new(),
            Int64Builder::new(),
            Int64Builder::new(),
            Float64Builder::new(),
        );
        for (i, text) in string_values(texts)?.enumerate() {
            let Some(text) = text else {
                redacted.append_null();
                continue;
            };
            bytes += text.len() as u64;
            let spans = analyzer.analyze_with(text, &options);
            for s in &spans {
                row_id.append_value((rows + i as u64) as i64);
                entity.append_value(s.entity.as_str());
                start.append_value(s.start as i64);
                end.append_value(s.end as i64);
                score.append_value(s.score);
                *counts.entry(s.entity.as_str()).or_insert(0) += 1;
            }
            let out = options
                .replacer
                .apply(text, &spans, &secrets)
                .map_err(|e| err(e.to_string()))?;
            redacted.append_value(out);
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[col_idx] = Arc::new(redacted.finish());
        data_writer.write(&RecordBatch::try_new(out_schema.clone(), columns)?)?;
        let trace: Vec<ArrayRef> = vec![
            Arc::new(row_id.finish()),
            Arc::new(entity.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(score.finish()),
        ];
        trace_writer.write(&RecordBatch::try_new(trace_schema.clone(), trace)?)?;
        rows += batch.num_rows() as u64;
        progress.set_position(rows);
    }
    data_writer.close()?;
    trace_writer.close()?;
    progress.finish_and_clear();

    let options_json: serde_json::Value = match &options_text {
        Some(t) if !t.trim().is_empty() => {
            serde_json::from_str(t).map_err(|e| err(e.to_string()))?
        }
        _ => serde_json::json!({}),
    };
    let metadata = serde_json::json!({
        "input": input,
        "column": args.column,
        "rows": rows,
        "bytes_scanned": bytes,
        "entities": counts,
        "seconds": started.elapsed().as_secs_f64(),
        "options": options_json,
        "veil_version": env!("CARGO_PKG_VERSION"),
    });
    let pretty = serde_json::to_string_pretty(&metadata).map_err(|e| err(e.to_string()))?;
    std::fs::write(args.output.join("metadata.json"), pretty + "\n")
        .map_err(|e| err(format!("--output: {e}")))?;
    Ok(metadata)
}

/// Opens a .csv, .parquet or .json/.ndjson (newline-delimited JSON) file: its path as text
/// and the frame, or an error naming `--input`.
pub(crate) async fn read_input<'a>(
    ctx: &SessionContext,
    path: &'a Path,
) -> Result<(&'a str, DataFrame)> {
    let input = path
        .to_str()
        .ok_or_else(|| err("--input: path is not UTF-8"))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let df = match ext.as_str() {
        "csv" => ctx.read_csv(input, CsvReadOptions::new()).await?,
        "parquet" => {
            ctx.read_parquet(input, ParquetReadOptions::default())
                .await?
        }
        "json" | "ndjson" | "jsonl" => {
            ctx.read_json(
                input,
                JsonReadOptions::default().file_extension(&format!(".{ext}")),
            )
            .await?
        }
        _ => {
            return Err(err(format!(
                "--input {input}: expected a .csv, .parquet or .json file"
            )))
        }
    };
    Ok((input, df))
}

pub(crate) fn create(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).map_err(|e| err(format!("{}: {e}", path.display())))
}
