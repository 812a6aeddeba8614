//! `cargo test` entry: the shared .slt suite against in-process DataFusion.

use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slt");
    let files = veil_slt::slt_files(&dir).expect("tests/slt exists");
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    if veil_slt::run_files(&veil_slt::Engine::DataFusion, &files).await == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
