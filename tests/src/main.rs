//! `veil-slt [--engine datafusion|postgres] [--pg CONNSTR] [FILES…]`: runs the shared
//! sqllogictest suite (default: every `tests/slt/*.slt`) against one engine.

use std::path::PathBuf;
use std::process::ExitCode;

use veil_slt::{run_files, slt_files, Engine};

fn usage() -> ExitCode {
    eprintln!("usage: veil-slt [--engine datafusion|postgres] [--pg CONNSTR] [FILE.slt ...]");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut engine = "datafusion".to_string();
    let mut pg = std::env::var("VEIL_PG").unwrap_or_default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--engine" => match args.next() {
                Some(e) => engine = e,
                None => return usage(),
            },
            "--pg" => match args.next() {
                Some(c) => pg = c,
                None => return usage(),
            },
            "-h" | "--help" => return usage(),
            _ => files.push(PathBuf::from(a)),
        }
    }
    let engine = match engine.as_str() {
        "datafusion" => Engine::DataFusion,
        "postgres" if !pg.is_empty() => Engine::Postgres(pg),
        "postgres" => {
            eprintln!("veil-slt: --engine postgres needs --pg CONNSTR (or VEIL_PG)");
            return ExitCode::from(2);
        }
        _ => return usage(),
    };
    if files.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slt");
        files = match slt_files(&dir) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("veil-slt: cannot list {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        };
    }
    let mut failed = run_files(&engine, &files).await;
    if let Engine::Postgres(config) = &engine {
        // Concurrency: 8 sessions × 5 queries of ε = 0.1 against a budget of 1.
        match veil_slt::postgres_budget_race(config, 8).await {
            Ok((released, spent)) if (9..=10).contains(&released) && spent <= 1.0 + 1e-9 => {
                println!("[postgres] ok   budget race: {released} of 40 released, ε spent {spent}");
            }
            Ok((released, spent)) => {
                println!("[postgres] FAIL budget race: {released} of 40 released, ε spent {spent}");
                failed += 1;
            }
            Err(e) => {
                println!("[postgres] FAIL budget race: {e}");
                failed += 1;
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
