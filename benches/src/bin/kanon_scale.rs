//! `kanon_scale [--rows N] [--threads T] [--encode-rows M] [--seed S] [--skip-search]`: k-anonymity at
//! scale on a generated table (default 10,000,000 rows) of 5 quasi-identifiers: age 17–90,
//! 5-digit zip (prefix hierarchy), sex, education (16 ordered values), hours 1–99, drawn
//! from a deterministic PRNG with skewed, Adult-like distributions.
//!
//! Phases, each with its wall time and peak resident memory (VmHWM from /proc/self/status,
//! reset through /proc/self/clear_refs before each phase where the kernel allows it):
//! 1. generate the code columns;
//! 2. `Table::from_codes` (the encoding for large tables);
//! 3. the optimal full-domain `kanon::search` for k ∈ {5, 100} × suppression ∈ {0 %, 4 %}
//!    (one core; total = encoding + search)
//!    (`--skip-search` skips them, e.g. to see Mondrian's memory in a fresh process);
//! 4. Mondrian (`kanon::mondrian`) for k ∈ {5, 100} on the numeric columns (age, zip,
//!    hours), then on all five (sex and education as ordered codes), on T threads
//!    (default 2) and on one; and k = 5 with distinct 3-diversity of education;
//! 5. for comparison, `Table::encode` from strings on the first M rows (default
//!    1,000,000; 0 skips) against `Table::from_codes` on the same rows.
//!
//! Target (issue): under 60 s on 2 cores for 10M rows. Measured 10M rows, release, 2-core
//! dev box shared with other builds (load ≈ 2–3): generation 0.7 s, `Table::from_codes`
//! 0.8 s (7.8M distinct combinations, 275 → 530 MiB); full-domain search, encoding
//! included: k=5 6.4 s / 15.8 s (0 % / 4 % suppression), k=100 5.4 s / 8.5 s, peak ≈ 0.8
//! GiB (see README.md for the current table); `Table::encode` from strings
//! is about 5× slower than `from_codes` (0.92 s vs 0.20 s per 1M rows). Mondrian: 1.7–4.5 s
//! per run (3 or 5 QIs, k ∈ {5, 100}; 2 threads gave up to 1.5× when the box had a core
//! free, nothing when other builds held it), about 5 s with 3-diversity, adding about
//! 210–340 MiB over its input columns.

use std::process::ExitCode;
use std::time::Instant;

use veil_core::kanon::{
    mondrian, search, Hierarchy, KAnonymity, MondrianModel, MondrianQi, SensitiveColumn, Table,
};

const EDUCATION: [&str; 16] = [
    "Preschool",
    "1st-4th",
    "5th-6th",
    "7th-8th",
    "9th",
    "10th",
    "11th",
    "12th",
    "HS-grad",
    "Some-college",
    "Assoc-voc",
    "Assoc-acdm",
    "Bachelors",
    "Masters",
    "Prof-school",
    "Doctorate",
];
/// Per-mille weights of the education values (roughly UCI Adult's).
const EDUCATION_WEIGHTS: [u32; 16] = [
    2, 5, 10, 20, 16, 28, 37, 13, 322, 220, 43, 33, 164, 54, 17, 16,
];
const ZIP_PREFIXES: u64 = 150;
const ZIP_SUFFIXES: u64 = 60;

struct Args {
    rows: usize,
    threads: usize,
    encode_rows: usize,
    seed: u64,
    skip_search: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rows: 10_000_000,
        threads: 2,
        encode_rows: 1_000_000,
        seed: 42,
        skip_search: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--skip-search" {
            a.skip_search = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(
                "usage: kanon_scale [--rows N] [--threads T] [--encode-rows M] [--seed S] [--skip-search]".into(),
            );
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = value
            .replace('_', "")
            .parse::<u64>()
            .map_err(|_| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--rows" => a.rows = number as usize,
            "--threads" => a.threads = number as usize,
            "--encode-rows" => a.encode_rows = number as usize,
            "--seed" => a.seed = number,
            _ => return Err(format!("unknown flag {flag} (see --help)")),
        }
    }
    if a.rows < 100 || a.threads < 1 {
        return Err("--rows must be at least 100 and --threads at least 1".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kanon_scale: {e}");
            ExitCode::FAILURE
        }
    }
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The generated table: original values, and base codes of each hierarchy.
struct Data {
    age: Vec<u8>,
    zip: Vec<u32>,
    sex: Vec<u8>,
    education: Vec<u8>,
    hours: Vec<u8>,
}

fn zip_of(p: u64, s: u64) -> u32 {
    let prefix = 100 + (p * 37) % 900;
    let suffix = (s * 7 + p) % 100;
    (prefix * 100 + suffix) as u32
}

fn generate(n: usize, seed: u64) -> Data {
    let mut rng = Rng(seed);
    let mut d = Data {
        age: Vec::with_capacity(n),
        zip: Vec::with_capacity(n),
        sex: Vec::with_capacity(n),
        education: Vec::with_capacity(n),
        hours: Vec::with_capacity(n),
    };
    let mut cumulative = [0u32; 16];
    let mut acc = 0;
    for (c, w) in cumulative.iter_mut().zip(EDUCATION_WEIGHTS) {
        acc += w;
        *c = acc;
    }
    for _ in 0..n {
        let x = (rng.unit() + rng.unit() + rng.unit()) / 3.0;
        d.age.push(17 + (x.powf(1.5) * 74.0) as u8);
        let p = (rng.unit().powi(2) * ZIP_PREFIXES as f64) as u64;
        let s = (rng.unit().powi(2) * ZIP_SUFFIXES as f64) as u64;
        d.zip.push(zip_of(p, s));
        d.sex.push(u8::from(rng.unit() < 0.48));
        let e = (rng.next() % u64::from(acc)) as u32;
        d.education
            .push(cumulative.iter().position(|c| e < *c).unwrap_or(15) as u8);
        d.hours.push(if rng.unit() < 0.45 {
            40
        } else {
            1 + ((rng.unit() + rng.unit()) / 2.0 * 99.0) as u8
        });
    }
    d
}

fn hierarchies() -> Result<Vec<Hierarchy>, String> {
    let s = |v: &str| v.to_string();
    let ages: Vec<i64> = (17..=90).collect();
    let age = Hierarchy::intervals("age", &ages, &[5, 10, 20]).map_err(|e| e.to_string())?;
    let mut zips: Vec<u32> = (0..ZIP_PREFIXES)
        .flat_map(|p| (0..ZIP_SUFFIXES).map(move |x| zip_of(p, x)))
        .collect();
    zips.sort_unstable();
    zips.dedup();
    let zip = Hierarchy::from_rows(
        "zip",
        zips.iter()
            .map(|z| {
                let z = format!("{z:05}");
                (0..=5)
                    .map(|i| format!("{}{}", &z[..5 - i], "*".repeat(i)))
                    .collect()
            })
            .collect(),
    )
    .map_err(|e| e.to_string())?;
    let sex = Hierarchy::from_rows("sex", vec![vec![s("M"), s("*")], vec![s("F"), s("*")]])
        .map_err(|e| e.to_string())?;
    let education = Hierarchy::from_rows(
        "education",
        EDUCATION
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let group = match i {
                    0..=3 => "Primary",
                    4..=8 => "Secondary",
                    9..=12 => "College",
                    _ => "Graduate",
                };
                let level = if i <= 8 { "Lower" } else { "Higher" };
                vec![s(e), s(group), s(level), s("*")]
            })
            .collect(),
    )
    .map_err(|e| e.to_string())?;
    let hours_values: Vec<i64> = (1..=99).collect();
    let hours =
        Hierarchy::intervals("hours", &hours_values, &[5, 10, 20]).map_err(|e| e.to_string())?;
    Ok(vec![age, zip, sex, education, hours])
}

/// Base code of every value (value → code table) of a hierarchy over `values`.
fn code_table(
    h: &Hierarchy,
    values: impl Iterator<Item = (usize, String)>,
) -> Result<Vec<u32>, String> {
    let mut table = Vec::new();
    for (v, text) in values {
        if table.len() <= v {
            table.resize(v + 1, u32::MAX);
        }
        table[v] = h
            .base_code(&text)
            .ok_or(format!("no hierarchy entry for {text}"))?;
    }
    Ok(table)
}

/// Peak resident memory so far, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak to the current resident size (Linux ≥ 4.0); false when not allowed.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Current resident memory, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds (user + system, all threads) used by the process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces): state is field 3,
    // utime and stime fields 14 and 15, in clock ticks (USER_HZ = 100 on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// One phase's measurements: wall and CPU seconds, resident memory at the start and peak.
struct Phase {
    wall: Instant,
    cpu: f64,
    start_rss: f64,
}

impl Phase {
    fn start() -> Self {
        reset_peak();
        Phase {
            wall: Instant::now(),
            cpu: cpu_seconds(),
            start_rss: rss_mib(),
        }
    }

    fn seconds(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }

    /// `wall s | cpu s | start → peak MiB`.
    fn report(&self) -> String {
        format!(
            "{:.2} s | {:.2} s | {:.0} → {:.0} MiB",
            self.seconds(),
            cpu_seconds() - self.cpu,
            self.start_rss,
            peak_mib()
        )
    }
}

const NAMES: [&str; 5] = ["age", "zip", "sex", "education", "hours"];

fn run(a: &Args) -> Result<(), String> {
    let n = a.rows;
    let per_phase = reset_peak();
    println!(
        "kanon_scale: {n} rows × 5 quasi-identifiers ({}), seed {}; peak memory is {}\n",
        NAMES.join(", "),
        a.seed,
        if per_phase {
            "per phase (VmHWM reset before each)"
        } else {
            "the process's running peak (VmHWM; reset not permitted)"
        }
    );
    let started = Instant::now();
    println!("| phase | wall | CPU (all threads) | memory: resident at start → peak |");
    println!("|---|---:|---:|---:|");
    let phase = Phase::start();
    let data = generate(n, a.seed);
    let hs = hierarchies()?;
    let age_codes = code_table(&hs[0], (17..=90usize).map(|v| (v, v.to_string())))?;
    let zip_codes = code_table(
        &hs[1],
        (0..ZIP_PREFIXES)
            .flat_map(|p| (0..ZIP_SUFFIXES).map(move |x| zip_of(p, x) as usize))
            .map(|z| (z, format!("{z:05}"))),
    )?;
    let hours_codes = code_table(&hs[4], (1..=99usize).map(|v| (v, v.to_string())))?;
    let columns: [Vec<u32>; 5] = [
        data.age.iter().map(|v| age_codes[*v as usize]).collect(),
        data.zip.iter().map(|v| zip_codes[*v as usize]).collect(),
        data.sex.iter().map(|v| u32::from(*v)).collect(),
        data.education.iter().map(|v| u32::from(*v)).collect(),
        data.hours
            .iter()
            .map(|v| hours_codes[*v as usize])
            .collect(),
    ];
    println!("| generate the code columns | {} |", phase.report());

    // Encoding.
    let phase = Phase::start();
    let refs: Vec<&[u32]> = columns.iter().map(Vec::as_slice).collect();
    let table = Table::from_codes(&NAMES, hs.clone(), &refs).map_err(|e| e.to_string())?;
    let encode_s = phase.seconds();
    println!(
        "| Table::from_codes ({} distinct combinations, lattice of {}) | {} |",
        table.combinations(),
        table.lattice_size(),
        phase.report()
    );
    // Full-domain search.
    println!("\nFull-domain search (one core):\n");
    println!("| k | suppression | levels ({}) | loss (bits) | suppressed | classes | evaluated | encode + search | search | CPU | memory |", NAMES.join(", "));
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for k in [5, 100] {
        for s in [0.0, 0.04] {
            if a.skip_search {
                continue;
            }
            let model = KAnonymity::new(k, s).map_err(|e| e.to_string())?;
            let phase = Phase::start();
            let sol = search(&table, &model).map_err(|e| e.to_string())?;
            println!(
                "| {k} | {:.0} % | {:?} | {:.4e} | {} | {} | {} / {} | {:.2} s | {} |",
                s * 100.0,
                sol.best.levels,
                sol.best.loss,
                sol.best.suppressed_rows,
                sol.best.classes,
                sol.evaluated,
                sol.lattice_size,
                encode_s + phase.seconds(),
                phase.report()
            );
        }
    }
    drop(table);

    // Mondrian.
    println!("\nMondrian:\n");
    println!("| QIs | k | threads | classes | min class | NCP | wall | CPU | memory |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let age: Vec<i64> = data.age.iter().map(|v| i64::from(*v)).collect();
    let zip: Vec<i64> = data.zip.iter().map(|v| i64::from(*v)).collect();
    let hours: Vec<i64> = data.hours.iter().map(|v| i64::from(*v)).collect();
    let sex_labels = vec!["M".to_string(), "F".to_string()];
    let education_labels: Vec<String> = EDUCATION.iter().map(|e| e.to_string()).collect();
    let numeric = [
        MondrianQi::Numeric {
            name: "age",
            values: &age,
        },
        MondrianQi::Numeric {
            name: "zip",
            values: &zip,
        },
        MondrianQi::Numeric {
            name: "hours",
            values: &hours,
        },
    ];
    let all = [
        numeric[0],
        numeric[1],
        MondrianQi::Ordered {
            name: "sex",
            codes: &columns[2],
            labels: &sex_labels,
        },
        MondrianQi::Ordered {
            name: "education",
            codes: &columns[3],
            labels: &education_labels,
        },
        numeric[2],
    ];
    let mut thread_counts = vec![a.threads];
    if a.threads > 1 {
        thread_counts.push(1);
    }
    for (label, qis) in [("age, zip, hours", &numeric[..]), ("all five", &all[..])] {
        for k in [5, 100] {
            for threads in &thread_counts {
                let model = MondrianModel::new(k)
                    .and_then(|m| m.with_threads(*threads))
                    .map_err(|e| e.to_string())?;
                let phase = Phase::start();
                let r = mondrian(qis, None, &model).map_err(|e| e.to_string())?;
                let report = phase.report();
                println!(
                    "| {label} | {k} | {threads} | {} | {} | {:.4} | {report} |",
                    r.classes(),
                    r.min_class_size(),
                    r.ncp(),
                );
                drop(r);
            }
        }
    }
    if a.encode_rows > 0 {
        let m = a.encode_rows.min(n);
        let phase = Phase::start();
        let sex = ["M", "F"];
        let strings: Vec<[String; 5]> = (0..m)
            .map(|i| {
                [
                    data.age[i].to_string(),
                    format!("{:05}", data.zip[i]),
                    sex[data.sex[i] as usize].to_string(),
                    EDUCATION[data.education[i] as usize].to_string(),
                    data.hours[i].to_string(),
                ]
            })
            .collect();
        let rows: Vec<[&str; 5]> = strings
            .iter()
            .map(|r| [&r[0][..], &r[1][..], &r[2][..], &r[3][..], &r[4][..]])
            .collect();
        let t = Instant::now();
        let by_strings = Table::encode(&NAMES, hs.clone(), &rows).map_err(|e| e.to_string())?;
        let encode_strings = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let first: Vec<&[u32]> = columns.iter().map(|c| &c[..m]).collect();
        let by_codes = Table::from_codes(&NAMES, hs.clone(), &first).map_err(|e| e.to_string())?;
        let encode_codes = t.elapsed().as_secs_f64();
        assert_eq!(by_strings.rows(), by_codes.rows());
        println!(
            "\nEncoding the first {m} rows: Table::encode (from strings) {encode_strings:.2} s, Table::from_codes {encode_codes:.3} s; phase (strings included): {}",
            phase.report()
        );
    }
    // Distinct l-diversity with education as the sensitive column.
    for threads in &thread_counts {
        let model = MondrianModel::new(5)
            .and_then(|m| m.with_l_diversity(3))
            .and_then(|m| m.with_threads(*threads))
            .map_err(|e| e.to_string())?;
        let sensitive = SensitiveColumn {
            name: "education",
            codes: &columns[3],
        };
        let phase = Phase::start();
        let r = mondrian(&numeric, Some(sensitive), &model).map_err(|e| e.to_string())?;
        let report = phase.report();
        println!(
            "| age, zip, hours; l = 3 on education | 5 | {threads} | {} | {} | {:.4} | {report} |",
            r.classes(),
            r.min_class_size(),
            r.ncp(),
        );
    }
    println!(
        "\nwhole process: {:.1} s, peak memory (since the last reset) {:.0} MiB",
        started.elapsed().as_secs_f64(),
        peak_mib()
    );
    Ok(())
}
