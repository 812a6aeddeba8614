//! The JSON configuration of a k-anonymization job, as the SQL functions (`k_anon`,
//! `k_anon_plan`, `reid_risk`) and the CLI (`veil k-anon`) take it. Parsing checks every
//! field; a bad config is refused with an error naming the field by its path, such as
//! `config.quasi_identifiers.age.intervals` or `config.l_diversity.c`, and the rule broken.
//! Running a parsed config is [`KAnonJob`](super::KAnonJob)'s business.
//!
//! A full example (the comments are not JSON):
//!
//! ```text
//! {
//!   "quasi_identifiers": {
//!     "age":    {"intervals": [5, 10, 20]},        // Hierarchy::intervals, then *
//!     "zip":    {"prefix": true},                  // 12345 → 1234* → … → *****
//!     "birth":  {"dates": true},                   // YYYY-MM-DD → YYYY-MM → YYYY → *
//!     "income": {"top_coding": [200000, 100000]},  // ≥cap, strictly decreasing caps, then *
//!     "debt":   {"bottom_coding": [0, 1000]},      // ≤floor, strictly increasing, then *
//!     "sex":    {"levels": {"M": ["*"], "F": ["*"]}},  // value → its levels 1, 2, …
//!     "race":   {"arx_csv": "hierarchies/race.csv"},   // a file the engine reads
//!     "job":    {"table": "job_hierarchy"}             // a SQL table the engine reads
//!   },
//!   "k": 5,
//!   "suppression_limit": 0.04,
//!   "metric": "entropy",
//!   "sensitive": "diagnosis",
//!   "l_diversity": {"kind": "recursive", "l": 2, "c": 3},
//!   "t_closeness": {"distance": "ordered", "t": 0.2, "order": ["low", "mid", "high"]},
//!   "suppression": "mask",
//!   "method": "optimal",
//!   "risk_threshold": 0.2
//! }
//! ```
//!
//! **Fields.** Only `quasi_identifiers` is required; unknown fields are refused.
//!
//! * `quasi_identifiers`: an object from column name to hierarchy, or an array of objects
//!   with a `column` key (`[{"column": "age", "intervals": [5, 10]}, …]`) or of bare column
//!   names (no hierarchy, see below). **The order of the quasi-identifiers is the order in
//!   the JSON text** (object keys as written, not sorted); it is the order of the levels
//!   in plans, transformations and released rows. PostgreSQL's `jsonb` reorders object
//!   keys: pass the config as `text`/`json`, or use the array form, to keep your order.
//!   Each hierarchy is exactly one of:
//!   - `{"intervals": [w1, w2, …]}`: integers grouped into `[lo, lo + w)` intervals of
//!     widths each a multiple of the previous, then `*`;
//!   - `{"prefix": true}`: prefix masking, values of one length (zip codes);
//!   - `{"dates": true}`: ISO dates `YYYY-MM-DD` → month → year → `*`;
//!   - `{"top_coding": [caps…]}` / `{"bottom_coding": [floors…]}` over integers, then `*`;
//!   - `{"levels": {"value": ["level 1", "level 2", …], …}}`: the whole hierarchy inline;
//!   - `{"arx_csv": "path"}`: an ARX CSV file (`value;level 1;…`), read by the engine,
//!     which decides whether the path may be read;
//!   - `{"table": "name"}`: a SQL table of rows `value, level 1, …` read by the engine;
//!   - `{"numeric": true}` / `{"ordered": ["first", "second", …]}`: only with
//!     `"method": "mondrian"`, integers or categories in the given order;
//!   - `{}` (or a bare name in the array form): no hierarchy, enough for `reid_risk` of the
//!     table as it is, refused when a job has to generalize.
//!
//!   The integer builders need the values spelled as integers are written (`7`, `-3`, not
//!   `07` or `7.0`): cast the column to an integer type first.
//! * `k` (integer ≥ 1): the smallest class size. At least one of `k`, `l_diversity` and
//!   `t_closeness` must be given to anonymize (k is then 1 unless given); a config with
//!   none of them is only good for `reid_risk` of the table as it is.
//! * `suppression_limit` (number in [0, 1], default 0): the share of rows that may be
//!   suppressed.
//! * `metric` (default `entropy`): the loss the search minimizes, one of `entropy`,
//!   `loss`, `discernibility`, `aecs`, `precision` (see [`Metric`]).
//! * `sensitive`: the sensitive column, required by and only allowed with `l_diversity` or
//!   `t_closeness`; it must not be a quasi-identifier.
//! * `l_diversity`: `{"kind": "distinct" | "entropy" | "recursive", "l": …, "c": …}`;
//!   `l` is an integer ≥ 1 for `distinct` and `recursive`, a number > 1 for `entropy`; `c`
//!   (number > 0) is required by `recursive` and refused otherwise.
//! * `t_closeness`: `{"distance": "equal" | "ordered" (default equal), "t": number in
//!   [0, 1], "order": [values…]}`; `order` (only with `ordered`) lists the sensitive values
//!   smallest first, needed when they are not all numbers.
//! * `suppression`: `mask` (default: suppressed rows are released with `*` in every
//!   quasi-identifier) or `drop` (not released).
//! * `method`: `optimal` (default: full-domain generalization, optimal under the metric,
//!   see [`search`](super::search)) or `mondrian` (multidimensional local recoding, see
//!   [`mondrian`](super::mondrian): quasi-identifiers `numeric` or `ordered`, at most
//!   distinct l-diversity, never suppresses; `suppression_limit`, `metric`, `suppression`
//!   and `t_closeness` do not apply and are refused).
//! * `risk_threshold` (number in (0, 1]): a record whose re-identification risk exceeds it
//!   is "at risk" in risk reports (see [`RiskReport`](super::RiskReport)). Default 1/k when
//!   `k` is given, else 0.2 (the 1/k of k = 5).
//!
//! Duplicate keys are refused anywhere in the config (JSON parsers disagree on which one
//! wins).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{GroundDistance, Hierarchy, LDiversity, Metric, Model, Suppression, TCloseness};
use crate::error::{Fallible, VeilError};

/// How the hierarchy of one quasi-identifier is obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum HierarchySpec {
    /// No hierarchy (`{}`): the column can only be measured as it is.
    None,
    /// [`Hierarchy::intervals`] over the column's integer values, with these widths.
    Intervals(Vec<i64>),
    /// [`Hierarchy::prefix_masking`] over the column's values.
    Prefix,
    /// [`Hierarchy::dates`] over the column's values.
    Dates,
    /// [`Hierarchy::top_coding`] with these caps.
    TopCoding(Vec<i64>),
    /// [`Hierarchy::bottom_coding`] with these floors.
    BottomCoding(Vec<i64>),
    /// Inline rows `[value, level 1, …]` (already checked to form a hierarchy).
    Levels(Vec<Vec<String>>),
    /// An ARX CSV file at this path; the engine reads it.
    ArxCsv(String),
    /// A SQL table of this name; the engine reads it.
    Table(String),
    /// Mondrian: integers.
    Numeric,
    /// Mondrian: categories in this order.
    Ordered(Vec<String>),
}

/// One quasi-identifier: its column and how its hierarchy is obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct QuasiIdentifier {
    pub column: String,
    pub hierarchy: HierarchySpec,
}

/// How a job anonymizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Optimal full-domain generalization with suppression ([`super::search`]).
    #[default]
    Optimal,
    /// Mondrian multidimensional local recoding ([`super::mondrian`]).
    Mondrian,
}

impl Method {
    /// The config name: `optimal` or `mondrian`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Optimal => "optimal",
            Method::Mondrian => "mondrian",
        }
    }
}

/// A hierarchy the engine must read for a job: from a file or a SQL table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HierarchySource {
    /// Read the ARX CSV file at `path` and supply its text as [`SuppliedHierarchy::ArxCsv`].
    ArxCsv { column: String, path: String },
    /// Read the SQL table `table` (columns value, level 1, …, any order of rows) and
    /// supply its rows as [`SuppliedHierarchy::Rows`].
    Table { column: String, table: String },
}

impl HierarchySource {
    /// The quasi-identifier the hierarchy is for (the key to supply it under).
    pub fn column(&self) -> &str {
        match self {
            HierarchySource::ArxCsv { column, .. } | HierarchySource::Table { column, .. } => {
                column
            }
        }
    }
}

/// A hierarchy read by the engine (see [`KAnonConfig::hierarchy_sources`]); either form
/// is accepted for either source.
#[derive(Debug, Clone, PartialEq)]
pub enum SuppliedHierarchy {
    /// The text of an ARX CSV file.
    ArxCsv(String),
    /// Rows `value, level 1, …`; NULL cells are refused.
    Rows(Vec<Vec<Option<String>>>),
}

/// A parsed and checked k-anonymization config (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct KAnonConfig {
    /// In the order of the JSON text.
    pub quasi_identifiers: Vec<QuasiIdentifier>,
    pub k: Option<usize>,
    pub suppression_limit: f64,
    pub metric: Metric,
    pub sensitive: Option<String>,
    pub l_diversity: Option<LDiversity>,
    pub t_closeness: Option<TCloseness>,
    /// The order of the sensitive values for ordered t-closeness.
    pub sensitive_order: Option<Vec<String>>,
    pub suppression: Suppression,
    pub method: Method,
    /// Resolved: the given value or its default.
    pub risk_threshold: f64,
}

impl KAnonConfig {
    /// Parses and checks a config (see the module documentation for the fields).
    pub fn from_json(json: &str) -> Fallible<Self> {
        let root: J = serde_json::from_str(json)
            .map_err(|e| VeilError::invalid("config", format!("is not valid JSON: {e}")))?;
        parse(&root)
    }

    /// The columns a job reads, in the order it expects them: the quasi-identifiers, then
    /// the sensitive column if any.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .quasi_identifiers
            .iter()
            .map(|q| q.column.as_str())
            .collect();
        out.extend(self.sensitive.as_deref());
        out
    }

    /// The quasi-identifier names, in order.
    pub fn quasi_identifier_names(&self) -> Vec<&str> {
        self.quasi_identifiers
            .iter()
            .map(|q| q.column.as_str())
            .collect()
    }

    /// The hierarchies the engine must read (files and SQL tables), in the order of the
    /// quasi-identifiers; supply each under its column name to
    /// [`KAnonJob::new`](super::KAnonJob::new).
    pub fn hierarchy_sources(&self) -> Vec<HierarchySource> {
        self.quasi_identifiers
            .iter()
            .filter_map(|q| match &q.hierarchy {
                HierarchySpec::ArxCsv(path) => Some(HierarchySource::ArxCsv {
                    column: q.column.clone(),
                    path: path.clone(),
                }),
                HierarchySpec::Table(table) => Some(HierarchySource::Table {
                    column: q.column.clone(),
                    table: table.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Whether the config asks for anonymization (any of `k`, `l_diversity`,
    /// `t_closeness`), not only for the risk of the table as it is.
    pub fn anonymizes(&self) -> bool {
        self.k.is_some() || self.l_diversity.is_some() || self.t_closeness.is_some()
    }

    /// The privacy model of the optimal search (`k` is 1 unless given), or an error naming
    /// `config.k` when the config asks for no anonymization.
    pub fn model(&self) -> Fallible<Model> {
        if !self.anonymizes() {
            return Err(VeilError::invalid(
                "config.k",
                "is required to anonymize (or give l_diversity or t_closeness)",
            ));
        }
        let mut m = Model::new(self.k.unwrap_or(1), self.suppression_limit)
            .map_err(|e| prefix_argument(e, "config."))?
            .with_metric(self.metric);
        if let Some(l) = self.l_diversity {
            m = m
                .with_l_diversity(l)
                .map_err(|e| e.for_argument("config.l_diversity"))?;
        }
        if let Some(t) = self.t_closeness {
            m = m
                .with_t_closeness(t)
                .map_err(|e| e.for_argument("config.t_closeness"))?;
        }
        Ok(m)
    }

    /// The `k` that decides suppression in released transformations (1 unless given).
    pub fn effective_k(&self) -> usize {
        self.k.unwrap_or(1)
    }
}

fn prefix_argument(e: VeilError, prefix: &str) -> VeilError {
    match &e {
        VeilError::InvalidArgument { argument, .. } => {
            let a = format!("{prefix}{argument}");
            e.for_argument(a)
        }
        _ => e,
    }
}

// ---------------------------------------------------------------------------------------
// An order-preserving JSON value: serde visits object entries in document order, so the
// quasi-identifiers keep the order they were written in (serde_json's `Value` sorts keys
// unless its `preserve_order` feature is on for the whole build), and duplicate keys are
// kept so that they can be refused by path.

#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<J, E> {
                Ok(J::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<J, E> {
                Ok(J::Num(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<J, E> {
                Ok(J::Num(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<J, E> {
                serde_json::Number::from_f64(v)
                    .map(J::Num)
                    .ok_or_else(|| E::custom("a number that is not finite"))
            }
            fn visit_str<E>(self, v: &str) -> Result<J, E> {
                Ok(J::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<J, E> {
                Ok(J::Str(v))
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_none<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(J::Arr(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, J>()? {
                    out.push((k, v));
                }
                Ok(J::Obj(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A short rendering of a value for error messages.
fn show(j: &J) -> String {
    fn write(j: &J, s: &mut String) {
        match j {
            J::Null => s.push_str("null"),
            J::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => s.push_str(&n.to_string()),
            J::Str(v) => s.push_str(&serde_json::to_string(v).unwrap_or_default()),
            J::Arr(items) => {
                s.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    write(v, s);
                }
                s.push(']');
            }
            J::Obj(entries) => {
                s.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    s.push_str(&serde_json::to_string(k).unwrap_or_default());
                    s.push_str(": ");
                    write(v, s);
                }
                s.push('}');
            }
        }
    }
    let mut s = String::new();
    write(j, &mut s);
    if s.chars().count() > 80 {
        s = s.chars().take(77).collect::<String>() + "...";
    }
    s
}

fn err(path: &str, rule: impl Into<String>) -> VeilError {
    VeilError::invalid(path.to_string(), rule)
}

/// The entries of an object at `path`, refusing duplicate keys and keys not in `allowed`.
fn object<'a>(j: &'a J, path: &str, allowed: &[&str]) -> Fallible<&'a [(String, J)]> {
    let J::Obj(entries) = j else {
        return Err(err(path, format!("must be a JSON object, got {}", show(j))));
    };
    let mut seen = HashSet::new();
    for (k, _) in entries {
        if !seen.insert(k.as_str()) {
            return Err(err(
                &format!("{path}.{k}"),
                "appears twice (duplicate keys are refused)",
            ));
        }
        if !allowed.is_empty() && !allowed.contains(&k.as_str()) {
            return Err(err(
                &format!("{path}.{k}"),
                format!("unknown field; expected one of {}", allowed.join(", ")),
            ));
        }
    }
    Ok(entries)
}

fn get<'a>(entries: &'a [(String, J)], key: &str) -> Option<&'a J> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn integer(j: &J, path: &str, min: u64) -> Fallible<usize> {
    match j {
        J::Num(n) => n
            .as_u64()
            .filter(|v| *v >= min)
            .and_then(|v| usize::try_from(v).ok()),
        _ => None,
    }
    .ok_or_else(|| {
        err(
            path,
            format!("must be an integer of at least {min}, got {}", show(j)),
        )
    })
}

fn number(j: &J, path: &str) -> Fallible<f64> {
    match j {
        J::Num(n) => n.as_f64().filter(|v| v.is_finite()),
        _ => None,
    }
    .ok_or_else(|| err(path, format!("must be a number, got {}", show(j))))
}

fn string<'a>(j: &'a J, path: &str) -> Fallible<&'a str> {
    match j {
        J::Str(s) if !s.is_empty() => Ok(s),
        _ => Err(err(
            path,
            format!("must be a non-empty string, got {}", show(j)),
        )),
    }
}

fn strings(j: &J, path: &str) -> Fallible<Vec<String>> {
    let J::Arr(items) = j else {
        return Err(err(
            path,
            format!("must be a list of strings, got {}", show(j)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            J::Str(s) => Ok(s.clone()),
            _ => Err(err(
                path,
                format!("item {} must be a string, got {}", i + 1, show(v)),
            )),
        })
        .collect()
}

fn integers(j: &J, path: &str) -> Fallible<Vec<i64>> {
    let list = match j {
        J::Arr(items) if !items.is_empty() => items
            .iter()
            .map(|v| match v {
                J::Num(n) => n.as_i64(),
                _ => None,
            })
            .collect::<Option<Vec<i64>>>(),
        _ => None,
    };
    list.ok_or_else(|| {
        err(
            path,
            format!("must be a non-empty list of integers, got {}", show(j)),
        )
    })
}

fn flag(j: &J, path: &str) -> Fallible<()> {
    match j {
        J::Bool(true) => Ok(()),
        _ => Err(err(
            path,
            format!(
                "must be true (leave the quasi-identifier's hierarchy out instead), got {}",
                show(j)
            ),
        )),
    }
}

fn one_of<T: Copy>(j: &J, path: &str, options: &[(&str, T)]) -> Fallible<T> {
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    match j {
        J::Str(s) => options.iter().find(|(n, _)| n == s).map(|(_, v)| *v),
        _ => None,
    }
    .ok_or_else(|| {
        err(
            path,
            format!("must be one of {}, got {}", names.join(", "), show(j)),
        )
    })
}

const HIERARCHY_KEYS: [&str; 10] = [
    "intervals",
    "prefix",
    "dates",
    "top_coding",
    "bottom_coding",
    "levels",
    "arx_csv",
    "table",
    "numeric",
    "ordered",
];

/// The hierarchy of `column` from its spec object's entries (the `column` key, in the
/// array form, already taken out).
fn hierarchy(column: &str, entries: &[(String, J)], path: &str) -> Fallible<HierarchySpec> {
    let mut specs = entries.iter().filter(|(k, _)| k != "column");
    let Some((key, value)) = specs.next() else {
        return Ok(HierarchySpec::None);
    };
    if let Some((other, _)) = specs.next() {
        return Err(err(
            path,
            format!("gives both {key} and {other}: a quasi-identifier has one hierarchy"),
        ));
    }
    let at = format!("{path}.{key}");
    let at = at.as_str();
    Ok(match key.as_str() {
        "intervals" => {
            let widths = integers(value, at)?;
            // Check the rule of Hierarchy::intervals here, to blame this field.
            Hierarchy::intervals(column, &[0], &widths)
                .map_err(|e| e.for_argument(at.to_string()))?;
            HierarchySpec::Intervals(widths)
        }
        "prefix" => {
            flag(value, at)?;
            HierarchySpec::Prefix
        }
        "dates" => {
            flag(value, at)?;
            HierarchySpec::Dates
        }
        "top_coding" => {
            let caps = integers(value, at)?;
            Hierarchy::top_coding(column, &[0], &caps)
                .map_err(|e| e.for_argument(at.to_string()))?;
            HierarchySpec::TopCoding(caps)
        }
        "bottom_coding" => {
            let floors = integers(value, at)?;
            Hierarchy::bottom_coding(column, &[0], &floors)
                .map_err(|e| e.for_argument(at.to_string()))?;
            HierarchySpec::BottomCoding(floors)
        }
        "levels" => {
            let values = object(value, at, &[])?;
            if values.is_empty() {
                return Err(err(at, "must map at least one value to its levels"));
            }
            let rows = values
                .iter()
                .map(|(v, levels)| {
                    let mut row = vec![v.clone()];
                    row.extend(strings(levels, &format!("{at}.{v}"))?);
                    Ok(row)
                })
                .collect::<Fallible<Vec<_>>>()?;
            Hierarchy::from_rows(column, rows.clone())
                .map_err(|e| e.for_argument(at.to_string()))?;
            HierarchySpec::Levels(rows)
        }
        "arx_csv" => HierarchySpec::ArxCsv(string(value, at)?.to_string()),
        "table" => HierarchySpec::Table(string(value, at)?.to_string()),
        "numeric" => {
            flag(value, at)?;
            HierarchySpec::Numeric
        }
        "ordered" => {
            let labels = strings(value, at)?;
            if labels.is_empty() {
                return Err(err(at, "must list at least one category"));
            }
            let mut seen = HashSet::new();
            if let Some(dup) = labels.iter().find(|l| !seen.insert(l.as_str())) {
                return Err(err(at, format!("lists {dup:?} twice")));
            }
            HierarchySpec::Ordered(labels)
        }
        other => {
            return Err(err(
                &format!("{path}.{other}"),
                format!(
                    "unknown field; expected one of {}",
                    HIERARCHY_KEYS.join(", ")
                ),
            ))
        }
    })
}

fn quasi_identifiers(j: &J) -> Fallible<Vec<QuasiIdentifier>> {
    const PATH: &str = "config.quasi_identifiers";
    let mut out = Vec::new();
    match j {
        J::Obj(_) => {
            for (column, spec) in object(j, PATH, &[])? {
                let path = format!("{PATH}.{column}");
                let entries = object(spec, &path, &HIERARCHY_KEYS)?;
                out.push(QuasiIdentifier {
                    column: column.clone(),
                    hierarchy: hierarchy(column, entries, &path)?,
                });
            }
        }
        J::Arr(items) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("{PATH}[{}]", i + 1);
                match item {
                    J::Str(_) => out.push(QuasiIdentifier {
                        column: string(item, &at)?.to_string(),
                        hierarchy: HierarchySpec::None,
                    }),
                    _ => {
                        let mut allowed = vec!["column"];
                        allowed.extend(HIERARCHY_KEYS);
                        let entries = object(item, &at, &allowed)?;
                        let column = get(entries, "column")
                            .ok_or_else(|| err(&format!("{at}.column"), "is required"))?;
                        let column = string(column, &format!("{at}.column"))?;
                        let path = format!("{PATH}.{column}");
                        out.push(QuasiIdentifier {
                            column: column.to_string(),
                            hierarchy: hierarchy(column, entries, &path)?,
                        });
                    }
                }
            }
        }
        _ => {
            return Err(err(
                PATH,
                format!(
                    "must be an object from column name to hierarchy or an array, got {}",
                    show(j)
                ),
            ))
        }
    }
    if out.is_empty() {
        return Err(err(PATH, "needs at least one quasi-identifier"));
    }
    let mut seen = HashSet::new();
    for q in &out {
        if q.column.is_empty() {
            return Err(err(PATH, "has an empty column name"));
        }
        if !seen.insert(q.column.as_str()) {
            return Err(err(
                &format!("{PATH}.{}", q.column),
                "appears twice (duplicate keys are refused)",
            ));
        }
    }
    Ok(out)
}

const TOP_KEYS: [&str; 10] = [
    "quasi_identifiers",
    "k",
    "suppression_limit",
    "metric",
    "sensitive",
    "l_diversity",
    "t_closeness",
    "suppression",
    "method",
    "risk_threshold",
];

fn parse(root: &J) -> Fallible<KAnonConfig> {
    let top = object(root, "config", &TOP_KEYS)?;
    let field = |k: &str| get(top, k);
    let qis = quasi_identifiers(
        field("quasi_identifiers").ok_or_else(|| err("config.quasi_identifiers", "is required"))?,
    )?;
    let k = field("k").map(|v| integer(v, "config.k", 1)).transpose()?;
    let suppression_limit = match field("suppression_limit") {
        None => 0.0,
        Some(v) => {
            let s = number(v, "config.suppression_limit")?;
            if !(0.0..=1.0).contains(&s) {
                return Err(err(
                    "config.suppression_limit",
                    format!("must be between 0 and 1, got {s}"),
                ));
            }
            s
        }
    };
    let metric = match field("metric") {
        None => Metric::default(),
        Some(J::Str(s)) => Metric::from_str(s).map_err(|e| e.for_argument("config.metric"))?,
        Some(v) => {
            return Err(err(
                "config.metric",
                format!("must be a metric name, got {}", show(v)),
            ))
        }
    };
    let sensitive = field("sensitive")
        .map(|v| string(v, "config.sensitive").map(str::to_string))
        .transpose()?;
    let l_diversity = field("l_diversity").map(l_diversity).transpose()?;
    let (t_closeness, sensitive_order) = match field("t_closeness") {
        None => (None, None),
        Some(v) => {
            let (t, order) = t_closeness(v)?;
            (Some(t), order)
        }
    };
    let suppression = field("suppression")
        .map(|v| {
            one_of(
                v,
                "config.suppression",
                &[("mask", Suppression::Mask), ("drop", Suppression::Drop)],
            )
        })
        .transpose()?
        .unwrap_or_default();
    let method = field("method")
        .map(|v| {
            one_of(
                v,
                "config.method",
                &[("optimal", Method::Optimal), ("mondrian", Method::Mondrian)],
            )
        })
        .transpose()?
        .unwrap_or_default();
    let risk_threshold = match field("risk_threshold") {
        Some(v) => {
            let t = number(v, "config.risk_threshold")?;
            if !(t > 0.0 && t <= 1.0) {
                return Err(err(
                    "config.risk_threshold",
                    format!("must be greater than 0 and at most 1, got {t}"),
                ));
            }
            t
        }
        None => k.map_or(0.2, |k| 1.0 / k as f64),
    };

    // Cross-field rules.
    match (&sensitive, l_diversity.is_some() || t_closeness.is_some()) {
        (None, true) => {
            let which = if l_diversity.is_some() {
                "config.l_diversity"
            } else {
                "config.t_closeness"
            };
            return Err(err(
                which,
                "needs the sensitive column, given as config.sensitive",
            ));
        }
        (Some(s), false) => {
            return Err(err(
                "config.sensitive",
                format!("{s:?} is only used by l_diversity or t_closeness, and neither is given"),
            ))
        }
        (Some(s), true) if qis.iter().any(|q| &q.column == s) => {
            return Err(err(
                "config.sensitive",
                format!("{s:?} is also a quasi-identifier"),
            ))
        }
        _ => {}
    }
    for q in &qis {
        let path = format!("config.quasi_identifiers.{}", q.column);
        match (&q.hierarchy, method) {
            (HierarchySpec::Numeric, Method::Optimal) => {
                return Err(err(
                    &format!("{path}.numeric"),
                    "is only for \"method\": \"mondrian\"; give a hierarchy instead",
                ))
            }
            (HierarchySpec::Ordered(_), Method::Optimal) => {
                return Err(err(
                    &format!("{path}.ordered"),
                    "is only for \"method\": \"mondrian\"; give a hierarchy instead",
                ))
            }
            (
                HierarchySpec::None | HierarchySpec::Numeric | HierarchySpec::Ordered(_),
                Method::Mondrian,
            )
            | (_, Method::Optimal) => {}
            (_, Method::Mondrian) => {
                return Err(err(
                    &path,
                    "method mondrian takes {\"numeric\": true} or {\"ordered\": [...]} \
                     quasi-identifiers, not hierarchies",
                ))
            }
        }
    }
    if method == Method::Mondrian {
        for key in ["suppression_limit", "metric", "suppression", "t_closeness"] {
            if field(key).is_some() {
                return Err(err(
                    &format!("config.{key}"),
                    "does not apply to method mondrian (it never suppresses, reports the \
                     normalized certainty penalty and supports at most distinct l-diversity)",
                ));
            }
        }
        if let Some(l) = l_diversity {
            if !matches!(l, LDiversity::Distinct { .. }) {
                return Err(err(
                    "config.l_diversity.kind",
                    "method mondrian supports distinct l-diversity only",
                ));
            }
        }
    }
    Ok(KAnonConfig {
        quasi_identifiers: qis,
        k,
        suppression_limit,
        metric,
        sensitive,
        l_diversity,
        t_closeness,
        sensitive_order,
        suppression,
        method,
        risk_threshold,
    })
}

fn l_diversity(j: &J) -> Fallible<LDiversity> {
    const PATH: &str = "config.l_diversity";
    let e = object(j, PATH, &["kind", "l", "c"])?;
    #[derive(Clone, Copy)]
    enum Kind {
        Distinct,
        Entropy,
        Recursive,
    }
    let kind = one_of(
        get(e, "kind").ok_or_else(|| err("config.l_diversity.kind", "is required"))?,
        "config.l_diversity.kind",
        &[
            ("distinct", Kind::Distinct),
            ("entropy", Kind::Entropy),
            ("recursive", Kind::Recursive),
        ],
    )?;
    let l = get(e, "l").ok_or_else(|| err("config.l_diversity.l", "is required"))?;
    let c = get(e, "c");
    if c.is_some() && !matches!(kind, Kind::Recursive) {
        return Err(err(
            "config.l_diversity.c",
            "only recursive (c, l)-diversity has c",
        ));
    }
    let out = match kind {
        Kind::Distinct => LDiversity::distinct(integer(l, "config.l_diversity.l", 1)?),
        Kind::Entropy => LDiversity::entropy(number(l, "config.l_diversity.l")?),
        Kind::Recursive => {
            let c = c.ok_or_else(|| {
                err(
                    "config.l_diversity.c",
                    "is required by recursive (c, l)-diversity",
                )
            })?;
            let c = number(c, "config.l_diversity.c")?;
            LDiversity::recursive(c, integer(l, "config.l_diversity.l", 1)?)
        }
    };
    // LDiversity's constructors name `l` or `c`.
    out.map_err(|e| prefix_argument(e, "config.l_diversity."))
}

fn t_closeness(j: &J) -> Fallible<(TCloseness, Option<Vec<String>>)> {
    const PATH: &str = "config.t_closeness";
    let e = object(j, PATH, &["distance", "t", "order"])?;
    let distance = get(e, "distance")
        .map(|v| {
            one_of(
                v,
                "config.t_closeness.distance",
                &[
                    ("equal", GroundDistance::Equal),
                    ("ordered", GroundDistance::Ordered),
                ],
            )
        })
        .transpose()?
        .unwrap_or(GroundDistance::Equal);
    let t = number(
        get(e, "t").ok_or_else(|| err("config.t_closeness.t", "is required"))?,
        "config.t_closeness.t",
    )?;
    let t = TCloseness::new(t, distance).map_err(|e| e.for_argument("config.t_closeness.t"))?;
    let order = match get(e, "order") {
        None => None,
        Some(_) if distance != GroundDistance::Ordered => {
            return Err(err(
                "config.t_closeness.order",
                "only applies to \"distance\": \"ordered\"",
            ))
        }
        Some(v) => {
            let order = strings(v, "config.t_closeness.order")?;
            let mut seen = HashSet::new();
            if let Some(dup) = order.iter().find(|o| !seen.insert(o.as_str())) {
                return Err(err(
                    "config.t_closeness.order",
                    format!("lists {dup:?} twice"),
                ));
            }
            Some(order)
        }
    };
    Ok((t, order))
}

/// Builds a supplied hierarchy (see [`SuppliedHierarchy`]) for `column`.
pub(super) fn build_supplied(column: &str, supplied: SuppliedHierarchy) -> Fallible<Hierarchy> {
    match supplied {
        SuppliedHierarchy::ArxCsv(text) => Hierarchy::from_arx_csv(column, &text),
        SuppliedHierarchy::Rows(rows) => Hierarchy::from_table_rows(column, rows),
    }
}

/// Maps every supplied hierarchy to its quasi-identifier, refusing missing and extra ones.
pub(super) fn take_supplied(
    config: &KAnonConfig,
    mut supplied: HashMap<String, SuppliedHierarchy>,
) -> Fallible<HashMap<String, Hierarchy>> {
    let mut out = HashMap::new();
    for source in config.hierarchy_sources() {
        let column = source.column();
        let (key, what) = match &source {
            HierarchySource::ArxCsv { path, .. } => ("arx_csv", format!("file {path:?}")),
            HierarchySource::Table { table, .. } => ("table", format!("table {table:?}")),
        };
        let Some(h) = supplied.remove(column) else {
            return Err(VeilError::invalid(
                format!("config.quasi_identifiers.{column}.{key}"),
                format!("the hierarchy in {what} was not supplied"),
            ));
        };
        out.insert(column.to_string(), build_supplied(column, h)?);
    }
    if let Some(extra) = supplied.keys().min() {
        return Err(VeilError::invalid(
            "hierarchies",
            format!(
                "a hierarchy was supplied for {extra:?}, which the config does not read from \
                 a file or table"
            ),
        ));
    }
    Ok(out)
}

impl HierarchySpec {
    /// Parses the hierarchy of one quasi-identifier as a config writes it
    /// (`{"intervals": [5, 10]}`, `{"prefix": true}`, `{"levels": {…}}`, …), checked like
    /// in [`KAnonConfig::from_json`] but blaming fields as `hierarchy.intervals` etc.
    pub fn from_json(json: &str) -> Fallible<Self> {
        const PATH: &str = "hierarchy";
        let root: J = serde_json::from_str(json)
            .map_err(|e| VeilError::invalid(PATH, format!("is not valid JSON: {e}")))?;
        let entries = object(&root, PATH, &HIERARCHY_KEYS)?;
        hierarchy("value", entries, PATH)
    }
}

/// Generalizes values one at a time with a [`HierarchySpec`], without the rest of the
/// column: what the SQL function `generalize(value, hierarchy, level)` does.
///
/// Sound without the column because every built-in hierarchy maps each value on its own:
/// intervals (`[lo, lo + w)` from the value and the width), top and bottom coding (the
/// value against the thresholds), dates (the value's month and year) and prefix masking
/// (the value's last characters masked) give the same label over one value as over the
/// whole column; `levels` is complete in the spec. Prefix masking's column rule (every
/// value of one length) cannot be checked from one value: mask values of one length only,
/// or a shorter value is masked to a different pattern. Refused: `arx_csv` and `table`
/// (read by the engine for jobs only), `{}` (no levels), and Mondrian's `numeric` and
/// `ordered` (no levels either).
#[derive(Debug, Clone)]
pub struct ValueGeneralizer {
    spec: HierarchySpec,
    /// The `levels` hierarchy, built once.
    fixed: Option<Hierarchy>,
}

impl ValueGeneralizer {
    pub fn new(spec: HierarchySpec) -> Fallible<Self> {
        let refuse = |what: &str| {
            Err(VeilError::invalid(
                "hierarchy",
                format!(
                    "{what} cannot generalize a single value; use intervals, prefix, dates, \
                     top_coding, bottom_coding or levels"
                ),
            ))
        };
        let fixed = match &spec {
            HierarchySpec::Levels(rows) => Some(Hierarchy::from_rows("value", rows.clone())?),
            HierarchySpec::ArxCsv(_) => {
                return refuse("arx_csv (a file, read only by k_anon, k_anon_plan and reid_risk)")
            }
            HierarchySpec::Table(_) => {
                return refuse("table (read only by k_anon, k_anon_plan and reid_risk)")
            }
            HierarchySpec::None => return refuse("an empty hierarchy {}"),
            HierarchySpec::Numeric | HierarchySpec::Ordered(_) => {
                return refuse("numeric and ordered (Mondrian's recoding, which has no levels)")
            }
            _ => None,
        };
        Ok(ValueGeneralizer { spec, fixed })
    }

    /// `value` at `level` (0 is the value itself); a level above the hierarchy's top, a
    /// value the hierarchy does not know, or one the builder refuses (not an integer, not
    /// a date, containing `*`) is an error naming `level` or `value`.
    pub fn generalize(&self, value: &str, level: usize) -> Fallible<String> {
        let as_value = |e: VeilError| e.for_argument("value");
        let integer = || {
            value
                .parse::<i64>()
                .ok()
                .filter(|x| x.to_string() == value)
                .ok_or_else(|| {
                    VeilError::invalid(
                        "value",
                        format!(
                            "{value:?} is not an integer written plainly (like 7 or -3), \
                             which this hierarchy needs"
                        ),
                    )
                })
        };
        let built;
        let h = match (&self.spec, &self.fixed) {
            (_, Some(h)) => h,
            (HierarchySpec::Intervals(widths), _) => {
                built = Hierarchy::intervals("value", &[integer()?], widths).map_err(as_value)?;
                &built
            }
            (HierarchySpec::TopCoding(caps), _) => {
                built = Hierarchy::top_coding("value", &[integer()?], caps).map_err(as_value)?;
                &built
            }
            (HierarchySpec::BottomCoding(floors), _) => {
                built =
                    Hierarchy::bottom_coding("value", &[integer()?], floors).map_err(as_value)?;
                &built
            }
            (HierarchySpec::Prefix, _) => {
                built = Hierarchy::prefix_masking("value", &[value]).map_err(as_value)?;
                &built
            }
            (HierarchySpec::Dates, _) => {
                built = Hierarchy::dates("value", &[value]).map_err(as_value)?;
                &built
            }
            _ => {
                return Err(VeilError::invalid(
                    "hierarchy",
                    "cannot generalize a single value",
                ))
            }
        };
        super::generalize(value, h, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The argument an invalid config is blamed on, and the whole message.
    fn blame(json: &str) -> (String, String) {
        match KAnonConfig::from_json(json) {
            Err(e @ VeilError::InvalidArgument { .. }) => {
                let VeilError::InvalidArgument { argument, .. } = &e else {
                    unreachable!()
                };
                (argument.to_string(), e.to_string())
            }
            other => panic!("expected an invalid argument for {json}, got {other:?}"),
        }
    }

    const FULL: &str = r#"{
      "quasi_identifiers": {
        "zip":    {"prefix": true},
        "age":    {"intervals": [5, 10, 20]},
        "birth":  {"dates": true},
        "income": {"top_coding": [200000, 100000]},
        "debt":   {"bottom_coding": [0, 1000]},
        "sex":    {"levels": {"M": ["*"], "F": ["*"]}},
        "race":   {"arx_csv": "hierarchies/race.csv"},
        "job":    {"table": "job_hierarchy"}
      },
      "k": 5, "suppression_limit": 0.04, "metric": "loss",
      "sensitive": "diagnosis",
      "l_diversity": {"kind": "recursive", "l": 2, "c": 3},
      "t_closeness": {"distance": "ordered", "t": 0.2, "order": ["low", "mid", "high"]},
      "suppression": "drop", "method": "optimal", "risk_threshold": 0.1
    }"#;

    #[test]
    fn parses_the_full_example_in_document_order() {
        let c = KAnonConfig::from_json(FULL).unwrap();
        assert_eq!(
            c.quasi_identifier_names(),
            ["zip", "age", "birth", "income", "debt", "sex", "race", "job"]
        );
        assert_eq!(
            c.columns(),
            [
                "zip",
                "age",
                "birth",
                "income",
                "debt",
                "sex",
                "race",
                "job",
                "diagnosis"
            ]
        );
        let spec = |i: usize| c.quasi_identifiers[i].hierarchy.clone();
        assert_eq!(spec(0), HierarchySpec::Prefix);
        assert_eq!(spec(1), HierarchySpec::Intervals(vec![5, 10, 20]));
        assert_eq!(spec(2), HierarchySpec::Dates);
        assert_eq!(spec(3), HierarchySpec::TopCoding(vec![200000, 100000]));
        assert_eq!(spec(4), HierarchySpec::BottomCoding(vec![0, 1000]));
        assert_eq!(
            spec(5),
            HierarchySpec::Levels(vec![
                vec!["M".into(), "*".into()],
                vec!["F".into(), "*".into()]
            ])
        );
        assert_eq!(c.k, Some(5));
        assert_eq!(c.suppression_limit, 0.04);
        assert_eq!(c.metric, Metric::GeneralizationLoss);
        assert_eq!(c.sensitive.as_deref(), Some("diagnosis"));
        assert_eq!(c.l_diversity, Some(LDiversity::Recursive { c: 3.0, l: 2 }));
        assert_eq!(
            c.t_closeness,
            Some(TCloseness {
                t: 0.2,
                distance: GroundDistance::Ordered
            })
        );
        assert_eq!(
            c.sensitive_order,
            Some(vec!["low".into(), "mid".into(), "high".into()])
        );
        assert_eq!(c.suppression, Suppression::Drop);
        assert_eq!(c.method, Method::Optimal);
        assert_eq!(c.risk_threshold, 0.1);
        assert_eq!(
            c.hierarchy_sources(),
            vec![
                HierarchySource::ArxCsv {
                    column: "race".into(),
                    path: "hierarchies/race.csv".into()
                },
                HierarchySource::Table {
                    column: "job".into(),
                    table: "job_hierarchy".into()
                },
            ]
        );
        let m = c.model().unwrap();
        assert_eq!((m.k, m.max_suppression), (5, 0.04));
    }

    #[test]
    fn array_form_and_defaults() {
        let c = KAnonConfig::from_json(
            r#"{"quasi_identifiers": [{"column": "zip", "prefix": true}, "age",
                {"column": "sex", "levels": {"M": ["*"]}}], "k": 4}"#,
        )
        .unwrap();
        assert_eq!(c.quasi_identifier_names(), ["zip", "age", "sex"]);
        assert_eq!(c.quasi_identifiers[1].hierarchy, HierarchySpec::None);
        assert_eq!(c.suppression_limit, 0.0);
        assert_eq!(c.metric, Metric::Entropy);
        assert_eq!(c.suppression, Suppression::Mask);
        assert_eq!(c.method, Method::Optimal);
        assert_eq!(c.risk_threshold, 0.25);
        assert!(c.hierarchy_sources().is_empty());
        // Without k, l or t: only the risk of the table as it is.
        let c = KAnonConfig::from_json(r#"{"quasi_identifiers": {"age": {}}}"#).unwrap();
        assert!(!c.anonymizes());
        assert_eq!(c.risk_threshold, 0.2);
        assert_eq!(blame_model(&c), "config.k");
        // l alone: k is 1.
        let c = KAnonConfig::from_json(
            r#"{"quasi_identifiers": {"a": {}}, "sensitive": "s",
                "l_diversity": {"kind": "entropy", "l": 1.5}}"#,
        )
        .unwrap();
        assert_eq!(c.model().unwrap().k, 1);
        assert_eq!(c.l_diversity, Some(LDiversity::Entropy { l: 1.5 }));
        // Mondrian.
        let c = KAnonConfig::from_json(
            r#"{"quasi_identifiers": {"age": {"numeric": true},
                "edu": {"ordered": ["school", "college"]}}, "k": 3, "method": "mondrian",
                "sensitive": "s", "l_diversity": {"kind": "distinct", "l": 2}}"#,
        )
        .unwrap();
        assert_eq!(c.method, Method::Mondrian);
        assert_eq!(
            c.quasi_identifiers[1].hierarchy,
            HierarchySpec::Ordered(vec!["school".into(), "college".into()])
        );
    }

    fn blame_model(c: &KAnonConfig) -> String {
        match c.model() {
            Err(VeilError::InvalidArgument { argument, .. }) => argument.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let qi = r#""quasi_identifiers": {"age": {"intervals": [10]}}"#;
        let with = |rest: &str| format!("{{{qi}, {rest}}}");
        let cases: Vec<(String, &str, &str)> = vec![
            ("not json".into(), "config", "not valid JSON"),
            ("[1]".into(), "config", "must be a JSON object"),
            (r#"{"k": 2}"#.into(), "config.quasi_identifiers", "is required"),
            (r#"{"quasi_identifiers": {}}"#.into(), "config.quasi_identifiers", "at least one"),
            (r#"{"quasi_identifiers": 3}"#.into(), "config.quasi_identifiers", "must be an object"),
            (with(r#""kk": 2"#), "config.kk", "unknown field"),
            (with(r#""k": 0"#), "config.k", "at least 1, got 0"),
            (with(r#""k": "5""#), "config.k", "got \"5\""),
            (with(r#""k": 2.5"#), "config.k", "must be an integer"),
            (with(r#""k": -1"#), "config.k", "must be an integer"),
            (with(r#""k": 2, "k": 3"#), "config.k", "appears twice"),
            (with(r#""suppression_limit": 1.5"#), "config.suppression_limit", "between 0 and 1"),
            (with(r#""suppression_limit": "a""#), "config.suppression_limit", "must be a number"),
            (with(r#""metric": "bogus""#), "config.metric", "unknown metric \"bogus\""),
            (with(r#""metric": 3"#), "config.metric", "metric name"),
            (with(r#""suppression": "hide""#), "config.suppression", "mask, drop"),
            (with(r#""method": "greedy""#), "config.method", "optimal, mondrian"),
            (with(r#""risk_threshold": 0"#), "config.risk_threshold", "greater than 0"),
            (
                with(r#""l_diversity": {"kind": "distinct", "l": 2}"#),
                "config.l_diversity",
                "needs the sensitive column",
            ),
            (
                with(r#""t_closeness": {"t": 0.2}"#),
                "config.t_closeness",
                "needs the sensitive column",
            ),
            (with(r#""sensitive": "s""#), "config.sensitive", "neither is given"),
            (
                with(r#""sensitive": "age", "l_diversity": {"kind": "distinct", "l": 2}"#),
                "config.sensitive",
                "also a quasi-identifier",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"l": 2}"#),
                "config.l_diversity.kind",
                "is required",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "many", "l": 2}"#),
                "config.l_diversity.kind",
                "distinct, entropy, recursive",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "distinct"}"#),
                "config.l_diversity.l",
                "is required",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "distinct", "l": 0}"#),
                "config.l_diversity.l",
                "at least 1",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "entropy", "l": 1}"#),
                "config.l_diversity.l",
                "greater than 1",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "recursive", "l": 2}"#),
                "config.l_diversity.c",
                "is required",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "recursive", "l": 2, "c": 0}"#),
                "config.l_diversity.c",
                "greater than 0",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "distinct", "l": 2, "c": 1}"#),
                "config.l_diversity.c",
                "only recursive",
            ),
            (
                with(r#""sensitive": "s", "l_diversity": {"kind": "distinct", "l": 2, "x": 1}"#),
                "config.l_diversity.x",
                "unknown field",
            ),
            (
                with(r#""sensitive": "s", "t_closeness": {"t": 1.5}"#),
                "config.t_closeness.t",
                "between 0 and 1",
            ),
            (
                with(r#""sensitive": "s", "t_closeness": {"distance": "manhattan", "t": 0.1}"#),
                "config.t_closeness.distance",
                "equal, ordered",
            ),
            (
                with(r#""sensitive": "s", "t_closeness": {"t": 0.1, "order": ["a"]}"#),
                "config.t_closeness.order",
                "only applies",
            ),
            (
                with(r#""sensitive": "s", "t_closeness": {"distance": "ordered", "t": 0.1, "order": ["a", "a"]}"#),
                "config.t_closeness.order",
                "twice",
            ),
            // Hierarchies.
            (
                r#"{"quasi_identifiers": {"age": {"intervalz": [10]}}}"#.into(),
                "config.quasi_identifiers.age.intervalz",
                "unknown field",
            ),
            (
                r#"{"quasi_identifiers": {"age": {"intervals": [5, 7]}}}"#.into(),
                "config.quasi_identifiers.age.intervals",
                "multiple of the previous",
            ),
            (
                r#"{"quasi_identifiers": {"age": {"intervals": []}}}"#.into(),
                "config.quasi_identifiers.age.intervals",
                "non-empty list of integers",
            ),
            (
                r#"{"quasi_identifiers": {"age": {"intervals": [10], "prefix": true}}}"#.into(),
                "config.quasi_identifiers.age",
                "one hierarchy",
            ),
            (
                r#"{"quasi_identifiers": {"zip": {"prefix": false}}}"#.into(),
                "config.quasi_identifiers.zip.prefix",
                "must be true",
            ),
            (
                r#"{"quasi_identifiers": {"x": {"top_coding": [10, 20]}}}"#.into(),
                "config.quasi_identifiers.x.top_coding",
                "strictly decreasing",
            ),
            (
                r#"{"quasi_identifiers": {"x": {"bottom_coding": [20, 10]}}}"#.into(),
                "config.quasi_identifiers.x.bottom_coding",
                "strictly increasing",
            ),
            (
                r#"{"quasi_identifiers": {"s": {"levels": {"a": ["x", "*"], "b": ["x", "y"]}}}}"#
                    .into(),
                "config.quasi_identifiers.s.levels",
                "generalizes to both",
            ),
            (
                r#"{"quasi_identifiers": {"s": {"levels": {"a": ["x"], "b": [1]}}}}"#.into(),
                "config.quasi_identifiers.s.levels.b",
                "must be a string",
            ),
            (
                r#"{"quasi_identifiers": {"s": {"levels": {}}}}"#.into(),
                "config.quasi_identifiers.s.levels",
                "at least one value",
            ),
            (
                r#"{"quasi_identifiers": {"r": {"arx_csv": ""}}}"#.into(),
                "config.quasi_identifiers.r.arx_csv",
                "non-empty string",
            ),
            (
                r#"{"quasi_identifiers": {"r": {"table": 5}}}"#.into(),
                "config.quasi_identifiers.r.table",
                "non-empty string",
            ),
            (
                r#"{"quasi_identifiers": {"a": {}, "a": {}}}"#.into(),
                "config.quasi_identifiers.a",
                "appears twice",
            ),
            (
                r#"{"quasi_identifiers": [{"column": "a"}, "a"]}"#.into(),
                "config.quasi_identifiers.a",
                "appears twice",
            ),
            (
                r#"{"quasi_identifiers": [{"prefix": true}]}"#.into(),
                "config.quasi_identifiers[1].column",
                "is required",
            ),
            (
                r#"{"quasi_identifiers": [{"column": "a", "bogus": 1}]}"#.into(),
                "config.quasi_identifiers[1].bogus",
                "unknown field",
            ),
            // Method-specific rules.
            (
                r#"{"quasi_identifiers": {"a": {"numeric": true}}, "k": 2}"#.into(),
                "config.quasi_identifiers.a.numeric",
                "only for",
            ),
            (
                r#"{"quasi_identifiers": {"a": {"intervals": [10]}}, "k": 2, "method": "mondrian"}"#
                    .into(),
                "config.quasi_identifiers.a",
                "method mondrian takes",
            ),
            (
                r#"{"quasi_identifiers": {"a": {"numeric": true}}, "k": 2, "method": "mondrian",
                    "metric": "loss"}"#
                    .into(),
                "config.metric",
                "does not apply",
            ),
            (
                r#"{"quasi_identifiers": {"a": {"ordered": ["x", "x"]}}, "method": "mondrian"}"#
                    .into(),
                "config.quasi_identifiers.a.ordered",
                "twice",
            ),
            (
                r#"{"quasi_identifiers": {"a": {"numeric": true}}, "method": "mondrian",
                    "sensitive": "s", "l_diversity": {"kind": "entropy", "l": 2}}"#
                    .into(),
                "config.l_diversity.kind",
                "distinct l-diversity only",
            ),
        ];
        for (json, field, rule) in cases {
            let (argument, message) = blame(&json);
            assert_eq!(argument, field, "{json}: {message}");
            assert!(message.contains(rule), "{json}: {message} lacks {rule:?}");
        }
    }

    #[test]
    fn supplied_hierarchies_must_match_the_sources() {
        let c = KAnonConfig::from_json(
            r#"{"quasi_identifiers": {"race": {"arx_csv": "r.csv"}, "job": {"table": "jobs"}},
                "k": 2}"#,
        )
        .unwrap();
        let s = |v: &str| Some(v.to_string());
        let csv = || SuppliedHierarchy::ArxCsv("a;*\nb;*\n".into());
        let rows = || SuppliedHierarchy::Rows(vec![vec![s("x"), s("*")]]);
        let ok = take_supplied(
            &c,
            HashMap::from([("race".into(), csv()), ("job".into(), rows())]),
        )
        .unwrap();
        assert_eq!(ok["race"].len(), 2);
        assert_eq!(ok["job"].len(), 1);
        let e = take_supplied(&c, HashMap::from([("race".into(), csv())])).unwrap_err();
        assert!(
            e.to_string()
                .contains("`config.quasi_identifiers.job.table`: the hierarchy in table \"jobs\""),
            "{e}"
        );
        let e = take_supplied(
            &c,
            HashMap::from([
                ("race".into(), csv()),
                ("job".into(), rows()),
                ("age".into(), rows()),
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("supplied for \"age\""), "{e}");
        let e = take_supplied(
            &c,
            HashMap::from([
                ("race".into(), SuppliedHierarchy::ArxCsv("a;*\nb\n".into())),
                ("job".into(), rows()),
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("hierarchy of race"), "{e}");
    }

    #[test]
    fn value_generalizer_matches_the_column_hierarchies() {
        let g = |spec: &str, value: &str, level: usize| {
            ValueGeneralizer::new(HierarchySpec::from_json(spec)?)?.generalize(value, level)
        };
        assert_eq!(g(r#"{"intervals": [5, 10]}"#, "37", 1).unwrap(), "[35, 40)");
        assert_eq!(g(r#"{"intervals": [5, 10]}"#, "37", 2).unwrap(), "[30, 40)");
        assert_eq!(g(r#"{"intervals": [5, 10]}"#, "-3", 1).unwrap(), "[-5, 0)");
        assert_eq!(g(r#"{"intervals": [5, 10]}"#, "37", 3).unwrap(), "*");
        assert_eq!(g(r#"{"intervals": [5, 10]}"#, "37", 0).unwrap(), "37");
        assert_eq!(g(r#"{"prefix": true}"#, "13053", 2).unwrap(), "130**");
        assert_eq!(g(r#"{"dates": true}"#, "1980-02-29", 1).unwrap(), "1980-02");
        assert_eq!(g(r#"{"top_coding": [90, 80]}"#, "85", 1).unwrap(), "85");
        assert_eq!(g(r#"{"top_coding": [90, 80]}"#, "85", 2).unwrap(), ">=80");
        assert_eq!(g(r#"{"bottom_coding": [0]}"#, "-4", 1).unwrap(), "<=0");
        let levels = r#"{"levels": {"M": ["person"], "F": ["person"]}}"#;
        assert_eq!(g(levels, "F", 1).unwrap(), "person");
        // The same labels as the hierarchy over the whole column.
        let col = Hierarchy::intervals("age", &[1, 37, 64], &[5, 10]).unwrap();
        for level in 0..3 {
            assert_eq!(
                g(r#"{"intervals": [5, 10]}"#, "37", level).unwrap(),
                super::super::generalize("37", &col, level).unwrap()
            );
        }
        let blame = |spec: &str, value: &str, level: usize| match g(spec, value, level) {
            Err(VeilError::InvalidArgument { argument, rule }) => format!("{argument}: {rule}"),
            other => panic!("{other:?}"),
        };
        assert!(blame(r#"{"intervals": [5, 10]}"#, "37", 4).starts_with("level: level 4"));
        assert!(blame(r#"{"intervals": [5, 10]}"#, "07", 1).starts_with("value: \"07\""));
        assert!(blame(r#"{"intervals": [5, 7]}"#, "7", 1).starts_with("hierarchy.intervals"));
        assert!(blame(r#"{"dates": true}"#, "2023-02-29", 1).starts_with("value: "));
        assert!(blame(r#"{"prefix": true}"#, "1*3", 1).starts_with("value: "));
        assert!(blame(levels, "X", 1).starts_with("value: \"X\" has no entry"));
        assert!(blame(r#"{"table": "t"}"#, "x", 1).starts_with("hierarchy: table"));
        assert!(blame(r#"{"arx_csv": "t.csv"}"#, "x", 1).starts_with("hierarchy: arx_csv"));
        assert!(blame("{}", "x", 1).starts_with("hierarchy: an empty"));
        assert!(blame(r#"{"bogus": 1}"#, "x", 1).starts_with("hierarchy.bogus: unknown"));
        assert!(blame("[", "x", 1).starts_with("hierarchy: is not valid JSON"));
    }
}
