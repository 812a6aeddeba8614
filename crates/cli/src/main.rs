//! `veil`: DataFusion's SQL shell (datafusion-cli) with every veil privacy function
//! preloaded. Runs an interactive REPL, `-c SQL` commands or `-f FILE` scripts, and queries
//! CSV/Parquet/JSON files by path: `SELECT * FROM 'data/people.csv'`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionContext;
use datafusion_cli::catalog::DynamicObjectStoreCatalog;
use datafusion_cli::exec;
use datafusion_cli::object_storage::instrumented::InstrumentedObjectStoreRegistry;
use datafusion_cli::print_format::PrintFormat;
use datafusion_cli::print_options::{MaxRows, PrintOptions};
use datafusion_cli::DATAFUSION_CLI_VERSION;

mod kanon;
mod redact;

#[derive(Debug, Parser)]
#[command(
    name = "veil",
    version,
    about = "SQL with privacy built in: PII redaction and differentially private aggregates on DataFusion",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    job: Option<Job>,

    /// Run these SQL statements, then exit.
    #[arg(short = 'c', long = "command", num_args = 1..)]
    command: Vec<String>,

    /// Run the SQL statements in these files, then exit.
    #[arg(short = 'f', long = "file", num_args = 1..)]
    file: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PrintFormat::Automatic)]
    format: PrintFormat,

    /// Print only results (no banner, timing or row counts).
    #[arg(short, long)]
    quiet: bool,

    /// Maximum rows shown by the table format ("inf" for no limit).
    #[arg(long, default_value = "40")]
    maxrows: MaxRows,

    /// Directory to run in (relative file paths in queries resolve against it).
    #[arg(short = 'p', long = "data-path")]
    data_path: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Job {
    /// Redact a text column of a CSV/Parquet/JSON file into dataset.parquet, trace.parquet
    /// and metadata.json.
    Redact(redact::RedactArgs),
    /// k-anonymize a CSV/Parquet/JSON file with a JSON config into dataset.parquet and
    /// report.json.
    #[command(name = "k-anon")]
    KAnon(kanon::KAnonArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    if let Some(Job::Redact(job)) = &args.job {
        let meta = redact::run(job).await?;
        println!(
            "redacted {} rows of {} into {} ({})",
            meta["rows"],
            job.input.display(),
            job.output.display(),
            meta["entities"]
        );
        return Ok(());
    }
    if let Some(Job::KAnon(job)) = &args.job {
        let report = kanon::run(job).await?;
        println!(
            "k-anonymized {} rows of {} into {}: levels {}, {} rows suppressed, {} classes",
            report["plan"]["rows"],
            job.input.display(),
            job.output.display(),
            report["transformation"]["levels"],
            report["plan"]["suppressed_rows"],
            report["plan"]["classes"]
        );
        return Ok(());
    }
    if let Some(dir) = &args.data_path {
        std::env::set_current_dir(dir).map_err(|e| {
            DataFusionError::Execution(format!("--data-path {}: {e}", dir.display()))
        })?;
    }
    if !args.quiet {
        println!(
            "veil v{} (DataFusion CLI v{DATAFUSION_CLI_VERSION})",
            env!("CARGO_PKG_VERSION")
        );
    }

    let registry = Arc::new(InstrumentedObjectStoreRegistry::new());
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(registry.clone())
        .build_arc()?;
    let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime).enable_url_table();
    // Lets `SELECT * FROM 's3://…'` and local paths register their object stores on demand.
    ctx.register_catalog_list(Arc::new(DynamicObjectStoreCatalog::new(
        ctx.state().catalog_list().clone(),
        ctx.state_weak_ref(),
    )));
    veil_datafusion::register_all(&ctx);

    let mut print_options = PrintOptions {
        format: args.format,
        quiet: args.quiet,
        maxrows: args.maxrows,
        color: false,
        instrumented_registry: registry,
    };

    if args.command.is_empty() && args.file.is_empty() {
        return exec::exec_from_repl(&ctx, &mut print_options)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)));
    }
    for file in &args.file {
        if !std::path::Path::new(file).is_file() {
            return Err(DataFusionError::Execution(format!(
                "-f {file}: no such file"
            )));
        }
    }
    if !args.file.is_empty() {
        exec::exec_from_files(&ctx, args.file, &print_options).await?;
    }
    if !args.command.is_empty() {
        exec::exec_from_commands(&ctx, args.command, &print_options).await?;
    }
    Ok(())
}
