//! `pii_eval [PATH] [--misses LABEL]`: precision/recall/F1 of veil's default PII analyzer
//! on a Presidio-research-format dataset. PATH defaults to $VEIL_PII_DATA, then
//! ../shared/data/pii/synth_dataset_v2.json. `--misses LABEL` also lists the gold spans of
//! that label that were not found and the predictions of it that match no gold span.

use std::process::ExitCode;
use std::time::Instant;

use veil_benches::pii_eval::{errors, evaluate, render, Record};
use veil_core::pii::Analyzer;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let misses_label = match args.iter().position(|a| a == "--misses") {
        Some(i) if i + 1 < args.len() => {
            let label = args.remove(i + 1);
            args.remove(i);
            Some(label)
        }
        Some(_) => {
            eprintln!("pii_eval: --misses needs a label");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let path = args
        .first()
        .cloned()
        .or_else(|| std::env::var("VEIL_PII_DATA").ok())
        .unwrap_or_else(|| "../shared/data/pii/synth_dataset_v2.json".to_string());
    let records: Vec<Record> = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pii_eval: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let analyzer = Analyzer::default();
    let start = Instant::now();
    let report = evaluate(&analyzer, &records);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{path}: {} texts, {} bytes, analyzed in {secs:.3} s ({:.2} MB/s incl. scoring)\n",
        report.texts,
        report.bytes,
        report.bytes as f64 / 1e6 / secs
    );
    print!("{}", render(&report));
    if let Some(label) = misses_label {
        let (missed, wrong) = errors(&analyzer, &records, &label);
        println!("\nmissed {label}:");
        missed.iter().for_each(|m| println!("  {m:?}"));
        println!("\nfalse {label}:");
        wrong.iter().for_each(|m| println!("  {m:?}"));
    }
    ExitCode::SUCCESS
}
