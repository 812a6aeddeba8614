//! k-anonymization in SQL, as in DataFusion (`crates/datafusion/src/table/k_anon*.rs`):
//!
//! * `generalize(value text, hierarchy text, level integer) -> text`: one value at one
//!   level of a built-in hierarchy.
//! * `k_anon_plan(source, config)` and `reid_risk(source, config)`: set-returning, with the
//!   DataFusion table functions' columns.
//! * `k_anon(source, config, target) -> text`: creates table `target` (refused if it
//!   exists) with the source's columns in order, the quasi-identifiers as text holding
//!   their generalized values (`*` in every one for a masked row; dropped rows left out
//!   under `"suppression": "drop"`), the other columns with their types; returns the JSON
//!   report. PostgreSQL cannot return the rows with the source's columns from a function,
//!   so the 2-argument row-returning form is DataFusion's only.
//!
//! `source` and `{"table": …}` hierarchies are table (or view) names, resolved as
//! `regclass` (schema-qualified or on the search path) and read through SPI with the
//! caller's privileges, every value as text. `arx_csv` hierarchies are refused: reading a
//! file on the server needs superuser rights; load it into a table and name the table.

use std::collections::HashMap;

use pgrx::prelude::*;
use pgrx::spi::{SpiClient, SpiError};
use veil_core::kanon::{
    HierarchySource, HierarchySpec, KAnonConfig, KAnonJob, SuppliedHierarchy, ValueGeneralizer,
};
use veil_core::VeilError;

use crate::error::OrRaise;

/// A relation resolved by name: its quoted name and its columns `(name, type)` in order.
struct Relation {
    quoted: String,
    columns: Vec<(String, String)>,
}

fn spi_err(e: SpiError) -> VeilError {
    VeilError::invalid("source", format!("reading failed: {e}"))
}

/// `"name"` with embedded quotes doubled: a safe SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Resolves `name` as a table or view, or `Ok(None)` when there is none.
fn resolve(c: &SpiClient<'_>, name: &str) -> Result<Option<Relation>, VeilError> {
    let quoted = c
        .select("SELECT to_regclass($1)::text", None, &[name.into()])
        .map_err(spi_err)?
        .first()
        .get_one::<String>()
        .map_err(spi_err)?;
    let Some(quoted) = quoted else {
        return Ok(None);
    };
    let rows = c
        .select(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
             ORDER BY attnum",
            None,
            &[name.into()],
        )
        .map_err(spi_err)?;
    let mut columns = Vec::new();
    for row in rows {
        let n: Option<String> = row.get(1).map_err(spi_err)?;
        let t: Option<String> = row.get(2).map_err(spi_err)?;
        columns.push((n.unwrap_or_default(), t.unwrap_or_default()));
    }
    Ok(Some(Relation { quoted, columns }))
}

/// Every row of `columns` of `rel`, as text, column by column.
fn read_text(
    c: &SpiClient<'_>,
    rel: &Relation,
    columns: &[&str],
) -> Result<Vec<Vec<Option<String>>>, VeilError> {
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = columns
        .iter()
        .map(|c| format!("{}::text", quote_ident(c)))
        .collect();
    let sql = format!("SELECT {} FROM {}", list.join(", "), rel.quoted);
    let table = c.select(&sql, None, &[]).map_err(spi_err)?;
    let mut out = vec![Vec::with_capacity(table.len()); columns.len()];
    for row in table {
        for (i, col) in out.iter_mut().enumerate() {
            col.push(row.get::<String>(i + 1).map_err(spi_err)?);
        }
    }
    Ok(out)
}

/// A parsed call: the job, the source and the columns it needs read as text.
struct Call {
    job: KAnonJob,
    source: Relation,
    /// The source's columns read (all of them for `k_anon`, else the job's), as text.
    values: Vec<Vec<Option<String>>>,
    /// Names of the columns in `values`.
    read: Vec<String>,
}

impl Call {
    /// The job's columns, in its order, as the core takes them.
    fn job_columns(&self) -> Vec<Vec<Option<&str>>> {
        // `prepare` read every column of the job (it checks they exist), so each is found.
        self.job
            .columns()
            .iter()
            .filter_map(|name| self.read.iter().position(|r| r == name))
            .map(|i| self.values[i].iter().map(|v| v.as_deref()).collect())
            .collect()
    }
}

/// Parses the config, reads its hierarchy tables and the source (all columns when
/// `all_columns`, else the job's).
fn prepare(source: &str, config: &str, all_columns: bool) -> Result<Call, VeilError> {
    let config = KAnonConfig::from_json(config)?;
    Spi::connect(|c| {
        let mut supplied = HashMap::new();
        for s in config.hierarchy_sources() {
            match &s {
                HierarchySource::ArxCsv { column, .. } => {
                    return Err(VeilError::invalid(
                        format!("config.quasi_identifiers.{column}.arx_csv"),
                        "is not supported in PostgreSQL: reading a file on the server needs \
                         superuser rights; load the hierarchy into a table (value, level 1, …) \
                         and give {\"table\": name}",
                    ));
                }
                HierarchySource::Table { column, table } => {
                    let Some(rel) = resolve(c, table)? else {
                        return Err(VeilError::invalid(
                            format!("config.quasi_identifiers.{column}.table"),
                            format!("no table named {table:?}"),
                        ));
                    };
                    let names: Vec<&str> = rel.columns.iter().map(|(n, _)| n.as_str()).collect();
                    let cols = read_text(c, &rel, &names)?;
                    let n = cols.first().map_or(0, Vec::len);
                    let rows = (0..n)
                        .map(|r| cols.iter().map(|col| col[r].clone()).collect())
                        .collect();
                    supplied.insert(column.clone(), SuppliedHierarchy::Rows(rows));
                }
            }
        }
        let Some(rel) = resolve(c, source)? else {
            return Err(VeilError::invalid(
                "source",
                format!("no table named {source:?}"),
            ));
        };
        for name in config.columns() {
            if !rel.columns.iter().any(|(n, _)| n == name) {
                let have: Vec<&str> = rel.columns.iter().map(|(n, _)| n.as_str()).collect();
                return Err(VeilError::invalid(
                    "config",
                    format!(
                        "names column {name:?}, which {source:?} does not have; its columns \
                         are {}",
                        have.join(", ")
                    ),
                ));
            }
        }
        let read: Vec<String> = if all_columns {
            rel.columns.iter().map(|(n, _)| n.clone()).collect()
        } else {
            config.columns().iter().map(|s| s.to_string()).collect()
        };
        let names: Vec<&str> = read.iter().map(String::as_str).collect();
        let values = read_text(c, &rel, &names)?;
        let job = KAnonJob::new(config, supplied)?;
        Ok(Call {
            job,
            source: rel,
            values,
            read,
        })
    })
}

/// The generalization of `value` at `level` of a built-in hierarchy (one quasi-identifier's
/// hierarchy of a k-anonymization config). NULL value or level in, NULL out.
#[pg_extern(immutable, parallel_safe)]
fn generalize(value: Option<&str>, hierarchy: Option<&str>, level: Option<i32>) -> Option<String> {
    const NAME: &str = "generalize";
    let Some(hierarchy) = hierarchy else {
        crate::error::raise(NAME, VeilError::invalid("hierarchy", "must not be NULL"));
    };
    let g = HierarchySpec::from_json(hierarchy)
        .and_then(ValueGeneralizer::new)
        .or_raise(NAME);
    let (value, level) = (value?, level?);
    let Ok(level) = usize::try_from(level) else {
        crate::error::raise(
            NAME,
            VeilError::invalid("level", format!("must be at least 0, got {level}")),
        );
    };
    Some(g.generalize(value, level).or_raise(NAME))
}

/// What `k_anon` would choose, without releasing rows: one row per quasi-identifier.
#[allow(clippy::type_complexity)]
#[pg_extern(stable)]
fn k_anon_plan(
    source: &str,
    config: &str,
) -> TableIterator<
    'static,
    (
        name!(quasi_identifier, String),
        name!(level, Option<i64>),
        name!(levels, Option<i64>),
        name!(method, String),
        name!(metric, String),
        name!(loss, f64),
        name!(suppressed_rows, i64),
        name!(classes, i64),
        name!(min_class_size, Option<i64>),
        name!(min_l, Option<f64>),
        name!(max_t, Option<f64>),
        name!(evaluated, Option<i64>),
        name!(lattice_size, Option<i64>),
        name!(rows, i64),
    ),
> {
    const NAME: &str = "k_anon_plan";
    let call = prepare(source, config, false).or_raise(NAME);
    let columns = call.job_columns();
    let slices: Vec<&[Option<&str>]> = columns.iter().map(Vec::as_slice).collect();
    let plan = call.job.plan(&slices, |_, _| {}).or_raise(NAME);
    let int = |v: usize| v.min(i64::MAX as usize) as i64;
    let rows: Vec<_> = plan
        .quasi_identifiers
        .iter()
        .map(|q| {
            (
                q.name.clone(),
                q.level.map(int),
                q.levels.map(int),
                plan.method.name().to_string(),
                plan.metric.to_string(),
                plan.loss,
                int(plan.suppressed_rows),
                int(plan.classes),
                plan.min_class_size.map(int),
                plan.min_l,
                plan.max_t,
                plan.evaluated.map(int),
                plan.lattice_size.map(int),
                int(plan.rows),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Re-identification risk of the source as it is and, when the config anonymizes, after.
#[allow(clippy::type_complexity)]
#[pg_extern(stable)]
fn reid_risk(
    source: &str,
    config: &str,
) -> TableIterator<
    'static,
    (
        name!(metric, String),
        name!(before, f64),
        name!(after, Option<f64>),
    ),
> {
    const NAME: &str = "reid_risk";
    let call = prepare(source, config, false).or_raise(NAME);
    let columns = call.job_columns();
    let slices: Vec<&[Option<&str>]> = columns.iter().map(Vec::as_slice).collect();
    let rows = call.job.reid_risk(&slices).or_raise(NAME).rows();
    TableIterator::new(
        rows.into_iter()
            .map(|r| (r.metric.to_string(), r.before, r.after)),
    )
}

/// k-anonymizes `source` into the new table `target`; returns the JSON report.
#[pg_extern(volatile)]
fn k_anon(source: &str, config: &str, target: &str) -> String {
    const NAME: &str = "k_anon";
    if target.is_empty() {
        crate::error::raise(NAME, VeilError::invalid("target", "must not be empty"));
    }
    let exists = Spi::connect(|c| {
        c.select("SELECT to_regclass($1) IS NOT NULL", None, &[target.into()])
            .and_then(|t| t.first().get_one::<bool>())
            .map_err(|e| VeilError::invalid("target", format!("is not a valid name: {e}")))
    })
    .or_raise(NAME);
    if exists == Some(true) {
        crate::error::raise(
            NAME,
            VeilError::invalid("target", format!("a table named {target:?} already exists")),
        );
    }
    let call = prepare(source, config, true).or_raise(NAME);
    let columns = call.job_columns();
    let slices: Vec<&[Option<&str>]> = columns.iter().map(Vec::as_slice).collect();
    let outcome = call.job.run(&slices, |_, _| {}).or_raise(NAME);
    write_target(&call, &outcome.rows, target).or_raise(NAME);
    outcome.to_report_json()
}

/// Creates `target` and fills it with the released rows.
fn write_target(
    call: &Call,
    released: &[Option<Vec<String>>],
    target: &str,
) -> Result<(), VeilError> {
    let qis = call.job.config().quasi_identifier_names();
    let mut defs = Vec::new();
    let mut casts = Vec::new();
    let mut params: Vec<Vec<Option<String>>> = Vec::new();
    for (i, (name, ty)) in call.source.columns.iter().enumerate() {
        let col = quote_ident(name);
        let p = i + 1;
        match qis.iter().position(|q| q == name) {
            Some(j) => {
                defs.push(format!("{col} text"));
                casts.push(format!("${p}[n]"));
                params.push(
                    released
                        .iter()
                        .flatten()
                        .map(|r| Some(r[j].clone()))
                        .collect(),
                );
            }
            None => {
                defs.push(format!("{col} {ty}"));
                casts.push(format!("${p}[n]::{ty}"));
                params.push(
                    call.values[i]
                        .iter()
                        .zip(released)
                        .filter(|(_, r)| r.is_some())
                        .map(|(v, _)| v.clone())
                        .collect(),
                );
            }
        }
    }
    let kept = released.iter().flatten().count();
    Spi::connect_mut(|c| {
        let write_err =
            |e: SpiError| VeilError::invalid("target", format!("cannot create {target:?}: {e}"));
        let quoted = c
            .select(
                "SELECT string_agg(quote_ident(p), '.' ORDER BY i)
                 FROM unnest(parse_ident($1)) WITH ORDINALITY AS t(p, i)",
                None,
                &[target.into()],
            )
            .and_then(|t| t.first().get_one::<String>())
            .map_err(write_err)?
            .ok_or_else(|| VeilError::invalid("target", "is not a valid name"))?;
        c.update(
            &format!("CREATE TABLE {quoted} ({})", defs.join(", ")),
            None,
            &[],
        )
        .map_err(write_err)?;
        if kept == 0 || defs.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {quoted} SELECT {} FROM generate_series(1, {kept}) AS n",
            casts.join(", ")
        );
        let args: Vec<pgrx::datum::DatumWithOid> = params.into_iter().map(|p| p.into()).collect();
        c.update(&sql, None, &args).map_err(write_err)?;
        Ok(())
    })
}
