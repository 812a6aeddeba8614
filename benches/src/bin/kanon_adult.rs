//! `kanon_adult [DIR]`: optimal k-anonymity (non-uniform entropy) on UCI Adult with ARX's
//! hierarchies, 9 quasi-identifiers, k ∈ {5, 100} × suppression ∈ {0 %, 4 %}, one core.
//! DIR defaults to $VEIL_ADULT_DIR, then ../shared/data/adult. Prints the chosen levels,
//! loss, suppressed rows, classes, nodes evaluated and time per search (best of 5).

use std::process::ExitCode;
use std::time::Instant;

use veil_core::kanon::{search, Hierarchy, KAnonymity, Table};

const QIS: [&str; 9] = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
    "salary-class",
];

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("VEIL_ADULT_DIR").ok())
        .unwrap_or_else(|| "../shared/data/adult".into());
    match run(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kanon_adult: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &str) -> Result<(), String> {
    let started = Instant::now();
    let read = |f: &str| {
        std::fs::read_to_string(format!("{dir}/{f}")).map_err(|e| format!("{dir}/{f}: {e}"))
    };
    let data = read("adult.csv")?;
    let mut lines = data.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("adult.csv is empty")?
        .split(';')
        .collect();
    let cols: Vec<usize> = QIS
        .iter()
        .map(|q| {
            header
                .iter()
                .position(|h| h == q)
                .ok_or(format!("no column {q}"))
        })
        .collect::<Result<_, _>>()?;
    let hierarchies: Vec<Hierarchy> = QIS
        .iter()
        .map(|q| {
            Hierarchy::from_arx_csv(q, &read(&format!("adult_hierarchy_{q}.csv"))?)
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(';').collect();
            cols.iter().map(|c| f[*c]).collect()
        })
        .collect();
    let t0 = Instant::now();
    let table = Table::encode(&QIS, hierarchies, &rows).map_err(|e| e.to_string())?;
    println!(
        "Adult: {} rows, {} quasi-identifiers, lattice of {} transformations; load {:.0} ms, encode {:.1} ms\n",
        table.rows(),
        QIS.len(),
        table.lattice_size(),
        (t0 - started).as_secs_f64() * 1e3,
        t0.elapsed().as_secs_f64() * 1e3
    );
    println!("| k | suppression | levels ({}) | loss (bits) | suppressed | classes | evaluated | time (best of 5) |", QIS.join(", "));
    println!("|---:|---:|---|---:|---:|---:|---:|---:|");
    for k in [5, 100] {
        for s in [0.0, 0.04] {
            let model = KAnonymity::new(k, s).map_err(|e| e.to_string())?;
            let mut best_time = f64::INFINITY;
            let mut solution = None;
            for _ in 0..5 {
                let t = Instant::now();
                let sol = search(&table, &model).map_err(|e| e.to_string())?;
                best_time = best_time.min(t.elapsed().as_secs_f64());
                solution = Some(sol);
            }
            let sol = solution.expect("ran");
            println!(
                "| {k} | {:.0} % | {:?} | {:.0} | {} | {} | {} | {:.1} ms |",
                s * 100.0,
                sol.best.levels,
                sol.best.loss,
                sol.best.suppressed_rows,
                sol.best.classes,
                sol.evaluated,
                best_time * 1e3
            );
        }
    }
    println!(
        "\nwhole process: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
