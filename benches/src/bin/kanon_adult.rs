//! `kanon_adult [DIR] [options]`: optimal full-domain generalization on UCI Adult with ARX's
//! hierarchies, 9 quasi-identifiers, k ∈ {5, 100} × suppression ∈ {0 %, 4 %}, one core, by
//! default k-anonymity with non-uniform entropy. DIR defaults to $VEIL_ADULT_DIR, then
//! ../shared/data/adult. Prints the chosen levels, loss, suppressed rows, classes, nodes
//! evaluated and time per search (best of --runs).
//!
//! Options:
//! * `--metric entropy|loss|discernibility|aecs|precision`
//! * `--l-diversity distinct:L | entropy:L | recursive:C:L`
//! * `--t-closeness equal:T | ordered:T`
//! * `--sensitive COLUMN` (default `salary-class` with l-diversity or t-closeness; it then
//!   stops being a quasi-identifier), `--sensitive-order V1,V2,…` (for ordered t-closeness
//!   on text values)
//! * `--k 5,100`, `--suppression 0,0.04`, `--runs 5`

use std::process::ExitCode;
use std::time::Instant;

use veil_core::kanon::{
    search, GroundDistance, Hierarchy, LDiversity, Metric, Model, TCloseness, Table,
};

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

/// Command-line settings.
struct Options {
    dir: String,
    metric: Metric,
    l: Option<LDiversity>,
    t: Option<TCloseness>,
    sensitive: Option<String>,
    order: Option<Vec<String>>,
    ks: Vec<usize>,
    suppressions: Vec<f64>,
    runs: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        dir: std::env::var("VEIL_ADULT_DIR").unwrap_or_else(|_| "../shared/data/adult".into()),
        metric: Metric::Entropy,
        l: None,
        t: None,
        sensitive: None,
        order: None,
        ks: vec![5, 100],
        suppressions: vec![0.0, 0.04],
        runs: 5,
    };
    let num = |flag: &str, v: &str| -> Result<f64, String> {
        v.parse::<f64>()
            .map_err(|_| format!("{flag}: {v:?} is not a number"))
    };
    let int = |flag: &str, v: &str| -> Result<usize, String> {
        v.parse::<usize>()
            .map_err(|_| format!("{flag}: {v:?} is not a whole number"))
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if !a.starts_with("--") {
            o.dir = a;
            continue;
        }
        let v = args.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--metric" => o.metric = v.parse().map_err(|e| format!("{e}"))?,
            "--l-diversity" => {
                let parts: Vec<&str> = v.split(':').collect();
                o.l = Some(
                    match parts.as_slice() {
                        ["distinct", l] => LDiversity::distinct(int(&a, l)?),
                        ["entropy", l] => LDiversity::entropy(num(&a, l)?),
                        ["recursive", c, l] => LDiversity::recursive(num(&a, c)?, int(&a, l)?),
                        _ => {
                            return Err(format!(
                                "{a}: expected distinct:L, entropy:L or recursive:C:L, got {v:?}"
                            ))
                        }
                    }
                    .map_err(|e| e.to_string())?,
                );
            }
            "--t-closeness" => {
                let (kind, t) = v
                    .split_once(':')
                    .ok_or(format!("{a}: expected equal:T or ordered:T, got {v:?}"))?;
                let distance = match kind {
                    "equal" => GroundDistance::Equal,
                    "ordered" => GroundDistance::Ordered,
                    _ => return Err(format!("{a}: expected equal:T or ordered:T, got {v:?}")),
                };
                o.t = Some(TCloseness::new(num(&a, t)?, distance).map_err(|e| e.to_string())?);
            }
            "--sensitive" => o.sensitive = Some(v),
            "--sensitive-order" => o.order = Some(v.split(',').map(String::from).collect()),
            "--k" => o.ks = v.split(',').map(|x| int(&a, x)).collect::<Result<_, _>>()?,
            "--suppression" => {
                o.suppressions = v.split(',').map(|x| num(&a, x)).collect::<Result<_, _>>()?
            }
            "--runs" => o.runs = int(&a, &v)?.max(1),
            _ => return Err(format!("unknown option {a} (see the source's doc comment)")),
        }
    }
    if o.sensitive.is_none() && (o.l.is_some() || o.t.is_some()) {
        o.sensitive = Some("salary-class".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    match parse_args().and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kanon_adult: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: &Options) -> Result<(), String> {
    let dir = &o.dir;
    let started = Instant::now();
    let read = |f: &str| {
        std::fs::read_to_string(format!("{dir}/{f}")).map_err(|e| format!("{dir}/{f}: {e}"))
    };
    let qis: Vec<&str> = QIS
        .iter()
        .copied()
        .filter(|q| o.sensitive.as_deref() != Some(*q))
        .collect();
    let data = read("adult.csv")?;
    let mut lines = data.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("adult.csv is empty")?
        .split(';')
        .collect();
    let column = |q: &str| {
        header
            .iter()
            .position(|h| *h == q)
            .ok_or(format!("no column {q}"))
    };
    let cols: Vec<usize> = qis.iter().map(|q| column(q)).collect::<Result<_, _>>()?;
    let sensitive_col = o.sensitive.as_deref().map(column).transpose()?;
    let hierarchies: Vec<Hierarchy> = qis
        .iter()
        .map(|q| {
            Hierarchy::from_arx_csv(q, &read(&format!("adult_hierarchy_{q}.csv"))?)
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let records: Vec<Vec<&str>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(';').collect())
        .collect();
    let field = |r: &Vec<&str>, c: usize| -> Result<String, String> {
        r.get(c)
            .map(|v| v.to_string())
            .ok_or(format!("a row has no column {}", c + 1))
    };
    let rows: Vec<Vec<&str>> = records
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| r.get(*c).copied().unwrap_or(""))
                .collect()
        })
        .collect();
    let t0 = Instant::now();
    let table = match (o.sensitive.as_deref(), sensitive_col) {
        (Some(name), Some(c)) => {
            let values: Vec<String> = records
                .iter()
                .map(|r| field(r, c))
                .collect::<Result<_, _>>()?;
            let t = Table::encode_with_sensitive(&qis, hierarchies, &rows, name, &values)
                .map_err(|e| e.to_string())?;
            match &o.order {
                Some(order) => t.with_sensitive_order(order).map_err(|e| e.to_string())?,
                None => t,
            }
        }
        _ => Table::encode(&qis, hierarchies, &rows).map_err(|e| e.to_string())?,
    };
    println!(
        "Adult: {} rows, {} quasi-identifiers, lattice of {} transformations; load {:.0} ms, encode {:.1} ms",
        table.rows(),
        qis.len(),
        table.lattice_size(),
        (t0 - started).as_secs_f64() * 1e3,
        t0.elapsed().as_secs_f64() * 1e3
    );
    let mut model_text = format!("metric {}", o.metric);
    if let Some(l) = o.l {
        model_text += &format!(", {l:?}");
    }
    if let Some(t) = o.t {
        model_text += &format!(", {t:?}");
    }
    if let Some(s) = &o.sensitive {
        model_text += &format!(", sensitive {s}");
    }
    println!("{model_text}\n");
    println!(
        "| k | suppression | levels ({}) | loss | suppressed | classes | min l | max t | evaluated | time (best of {}) |",
        qis.join(", "),
        o.runs
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
    // Entropy and discernibility are large sums, the other metrics fractions or averages.
    let loss = |x: f64| {
        if x.abs() >= 1000.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.4}")
        }
    };
    for &k in &o.ks {
        for &s in &o.suppressions {
            let mut model = Model::new(k, s)
                .map_err(|e| e.to_string())?
                .with_metric(o.metric);
            if let Some(l) = o.l {
                model = model.with_l_diversity(l).map_err(|e| e.to_string())?;
            }
            if let Some(t) = o.t {
                model = model.with_t_closeness(t).map_err(|e| e.to_string())?;
            }
            let mut best_time = f64::INFINITY;
            let mut solution = None;
            for _ in 0..o.runs {
                let t = Instant::now();
                let sol = search(&table, &model);
                best_time = best_time.min(t.elapsed().as_secs_f64());
                solution = Some(sol);
            }
            match solution.ok_or("no run")? {
                Ok(sol) => println!(
                    "| {k} | {:.0} % | {:?} | {} | {} | {} | {} | {} | {} | {:.1} ms |",
                    s * 100.0,
                    sol.best.levels,
                    loss(sol.best.loss),
                    sol.best.suppressed_rows,
                    sol.best.classes,
                    opt(sol.best.min_l),
                    opt(sol.best.max_t),
                    sol.evaluated,
                    best_time * 1e3
                ),
                Err(e) => println!(
                    "| {k} | {:.0} % | {e} | | | | | | | {:.1} ms |",
                    s * 100.0,
                    best_time * 1e3
                ),
            }
        }
    }
    println!(
        "\nwhole process: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
