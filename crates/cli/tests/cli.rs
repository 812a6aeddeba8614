//! End-to-end tests of the `veil` binary, as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn veil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("veil runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn command_redacts_pii() {
    let o = veil(&[
        "-c",
        "SELECT redact_pii('Mail jane.doe@example.com, card 4111 1111 1111 1111')",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("| Mail <EMAIL_ADDRESS>, card <CREDIT_CARD> ")),
        "{out}"
    );
}

#[test]
fn csv_format_and_files_by_path() {
    let o = veil(&[
        "-q",
        "--format",
        "csv",
        "-c",
        "SELECT count(*) AS n FROM 'data/people.csv'",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "n\n500");

    let dir = std::env::temp_dir().join(format!("veil-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("rows.json");
    std::fs::write(
        &json,
        "{\"note\":\"ssn 536-22-1234\"}\n{\"note\":\"plain\"}\n",
    )
    .unwrap();
    let sql = format!(
        "SELECT redact_pii(note) AS r FROM '{}' ORDER BY r",
        json.display()
    );
    let o = veil(&["-q", "--format", "csv", "-c", &sql]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "r\nplain\nssn <US_SSN>");
}

#[test]
fn demo_script_runs_cleanly() {
    let o = veil(&["-q", "--format", "csv", "-f", "sql/demo.sql"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "the demo printed errors");
    let out = stdout(&o);
    assert!(
        out.contains("<CREDIT_CARD>") && out.contains("<US_SSN>"),
        "{out}"
    );
    assert!(out.contains("dp_mean_eps_1"), "{out}");
}

#[test]
fn errors_exit_nonzero_with_the_rule() {
    let o = veil(&[
        "-q",
        "-c",
        "SELECT dp_mean(x, 10, 0, 1.0) FROM (VALUES (1.0)) t(x)",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o) + &stdout(&o);
    assert!(
        err.contains("invalid argument `lower`: must not be greater than upper"),
        "{err}"
    );

    let o = veil(&["-f", "no/such/file.sql"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
}
