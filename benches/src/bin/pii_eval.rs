//! `pii_eval [PATH]`: precision/recall/F1 of veil's default PII analyzer on a
//! Presidio-research-format dataset. PATH defaults to $VEIL_PII_DATA, then
//! ../shared/data/pii/synth_dataset_v2.json.

use std::process::ExitCode;
use std::time::Instant;

use veil_benches::pii_eval::{evaluate, render, Record};
use veil_core::pii::Analyzer;

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
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
    println!("{path}: {} texts, {} bytes, analyzed in {secs:.3} s ({:.2} MB/s incl. scoring)\n",
        report.texts, report.bytes, report.bytes as f64 / 1e6 / secs);
    print!("{}", render(&report));
    ExitCode::SUCCESS
}
