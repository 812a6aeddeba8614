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
        // Never the user's own budget ledger.
        .env(
            "VEIL_LEDGER",
            std::env::temp_dir().join(format!("veil-cli-ledger-{}.sqlite", std::process::id())),
        )
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

#[test]
fn redact_job_writes_dataset_trace_and_metadata() {
    use datafusion::arrow::array::AsArray;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let dir = std::env::temp_dir().join(format!("veil-redact-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.csv");
    std::fs::write(
        &input,
        "id,note\n1,mail jane@example.com\n2,plain\n3,card 4111 1111 1111 1111 ssn 536-22-1234\n",
    )
    .unwrap();
    let config = dir.join("cfg.json");
    std::fs::write(
        &config,
        r#"{"per_entity":{"CREDIT_CARD":{"strategy":"mask","keep_last":4}}}"#,
    )
    .unwrap();
    let out = dir.join("out");
    let o = veil(&[
        "redact",
        "--input",
        input.to_str().unwrap(),
        "--column",
        "note",
        "--config",
        config.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("redacted 3 rows"), "{}", stdout(&o));

    let read = |name: &str| {
        let f = std::fs::File::open(out.join(name)).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
    };
    let data = read("dataset.parquet");
    let notes: Vec<Option<&str>> = data.column(1).as_string::<i32>().iter().collect();
    assert_eq!(
        notes,
        vec![
            Some("mail <EMAIL_ADDRESS>"),
            Some("plain"),
            Some("card **** **** **** 1111 ssn <US_SSN>")
        ]
    );
    let trace = read("trace.parquet");
    assert_eq!(trace.num_rows(), 3);
    let types: Vec<Option<&str>> = trace.column(1).as_string::<i32>().iter().collect();
    assert_eq!(
        types,
        vec![Some("EMAIL_ADDRESS"), Some("CREDIT_CARD"), Some("US_SSN")]
    );

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["rows"], 3);
    assert_eq!(meta["entities"]["US_SSN"], 1);
    assert_eq!(meta["column"], "note");

    let bad = veil(&[
        "redact",
        "--input",
        input.to_str().unwrap(),
        "--column",
        "nope",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("--column nope: no such column; columns are id, note"),
        "{}",
        stderr(&bad)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_processes_never_overspend_one_ledger_file() {
    let dir = std::env::temp_dir().join(format!("veil-cli-race-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("ledger.sqlite");
    let run = |sql: &str| {
        Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["-q", "--format", "csv", "-c", sql])
            .env("VEIL_LEDGER", &ledger)
            .spawn()
            .expect("veil runs")
    };
    let grant = run("SELECT veil_budget_grant('racer', 1.0, 0)")
        .wait_with_output()
        .unwrap();
    assert!(grant.status.success());
    // 16 processes at once, each asking for ε = 0.1 of a budget of 1.0.
    let children: Vec<_> = (0..16)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_veil"))
                .args([
                    "-q",
                    "-c",
                    "SET veil.principal = 'racer'",
                    "-c",
                    "SELECT dp_count(x, 0.1) FROM (VALUES (1), (2)) t(x)",
                ])
                .env("VEIL_LEDGER", &ledger)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("veil runs")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let released = outputs
        .iter()
        .filter(|o| {
            !stdout(o).contains("budget exceeded") && !stderr(o).contains("budget exceeded")
        })
        .count();
    let status = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args([
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT queries, epsilon_spent <= 1.0 AS within FROM veil_budget_status() WHERE principal = 'racer'",
        ])
        .env("VEIL_LEDGER", &ledger)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let status = stdout(&status);
    let queries: usize = status
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(status.contains("true"), "{status}");
    assert_eq!(queries, released, "{status}");
    assert!((9..=10).contains(&released), "{released} releases");
}

#[test]
fn k_anon_job_writes_dataset_and_report() {
    use datafusion::arrow::array::AsArray;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let dir = std::env::temp_dir().join(format!("veil-kanon-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("hierarchies")).unwrap();
    // Eight people in four pairs (age band of 5, zip prefix, sex), and an outlier.
    let mut csv = String::from("id,age,zip,sex,disease\n");
    let rows = [
        (31, "13053", "M"),
        (33, "13068", "M"),
        (36, "13053", "F"),
        (38, "13068", "F"),
        (41, "13150", "M"),
        (43, "13153", "M"),
        (47, "13150", "F"),
        (49, "13153", "F"),
        (75, "10001", "M"),
    ];
    for (i, (age, zip, sex)) in rows.iter().enumerate() {
        csv.push_str(&format!("{},{age},{zip},{sex},d{}\n", i + 1, i % 3));
    }
    let input = dir.join("people.csv");
    std::fs::write(&input, csv).unwrap();
    // The sex hierarchy as an ARX CSV file, relative to the config's directory.
    std::fs::write(dir.join("hierarchies/sex.csv"), "M;*\nF;*\n").unwrap();
    let config = dir.join("cfg.json");
    std::fs::write(
        &config,
        r#"{"quasi_identifiers": {"age": {"intervals": [5, 10, 20]}, "zip": {"prefix": true},
            "sex": {"arx_csv": "hierarchies/sex.csv"}}, "k": 2, "suppression_limit": 0.2}"#,
    )
    .unwrap();
    let out = dir.join("out");
    let args = |config: &Path| {
        vec![
            "k-anon".to_string(),
            "--input".into(),
            input.to_str().unwrap().into(),
            "--config".into(),
            config.to_str().unwrap().into(),
            "--output".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let run = |config: &Path| {
        let a = args(config);
        veil(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&config);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("k-anonymized 9 rows") && stdout(&o).contains("levels [1,2,0]"),
        "{}",
        stdout(&o)
    );

    let f = std::fs::File::open(out.join("dataset.parquet")).unwrap();
    let data = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let names: Vec<&str> = data
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["id", "age", "zip", "sex", "disease"]);
    let text = |c: usize| -> Vec<String> {
        data.column(c)
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect()
    };
    assert_eq!(
        text(1),
        [
            "[30, 35)", "[30, 35)", "[35, 40)", "[35, 40)", "[40, 45)", "[40, 45)", "[45, 50)",
            "[45, 50)", "*"
        ]
    );
    assert_eq!(
        text(2),
        ["130**", "130**", "130**", "130**", "131**", "131**", "131**", "131**", "*"]
    );
    assert_eq!(text(3)[..2], ["M", "M"]);
    assert_eq!(text(3)[8], "*");
    assert_eq!(text(4)[..3], ["d0", "d1", "d2"]);

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["plan"]["suppressed_rows"], 1);
    assert_eq!(report["plan"]["classes"], 4);
    assert_eq!(
        report["transformation"]["levels"],
        serde_json::json!([1, 2, 0])
    );
    assert_eq!(report["rows_written"], 9);
    let risk = |metric: &str| {
        report["risk"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["metric"] == metric)
            .cloned()
            .unwrap()
    };
    assert_eq!(risk("prosecutor_highest")["before"], 1.0);
    // The masked outlier is a class of one after, too.
    assert_eq!(risk("smallest_class")["after"], 1.0);
    assert_eq!(risk("classes")["after"], 5.0);
    assert!(report["seconds"]["total"].as_f64().unwrap() > 0.0);

    // Errors name the field.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"quasi_identifiers": {"zipcode": {"prefix": true}}, "k": 2}"#,
    )
    .unwrap();
    let o = run(&bad);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("names column \"zipcode\""),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &bad,
        r#"{"quasi_identifiers": {"zip": {"prefix": true}}, "k": 0}"#,
    )
    .unwrap();
    let o = run(&bad);
    assert!(stderr(&o).contains("`config.k`"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}
