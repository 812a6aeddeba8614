//! Running a [`KAnonConfig`]: what the SQL functions `k_anon`, `k_anon_plan` and
//! `reid_risk` and the CLI's `veil k-anon` call, without knowing the search.
//!
//! An engine
//! 1. parses the config ([`KAnonConfig::from_json`]);
//! 2. reads the hierarchies it names ([`KAnonConfig::hierarchy_sources`]: ARX CSV files,
//!    SQL tables) and builds the job with them ([`KAnonJob::new`]);
//! 3. reads the columns [`KAnonJob::columns`] lists (the quasi-identifiers in config
//!    order, then the sensitive column) as text, one slice per column, all of one length;
//! 4. calls [`KAnonJob::run`] (anonymized rows, plan and risks), [`KAnonJob::plan`] (plan
//!    only, no rows materialized) or [`KAnonJob::reid_risk`].
//!
//! **NULL**: a NULL in a quasi-identifier or the sensitive column is refused, naming the
//! column and the row. NULL is not a value of any hierarchy, and silently treating it as
//! one (or dropping its rows) would change what is released; replace NULLs (`COALESCE`)
//! with a value the hierarchy knows, or filter the rows, before the job.
//!
//! Other columns never reach the job: the engine passes them through, dropping the rows
//! whose [`KAnonOutcome::rows`] entry is `None` (suppressed with `"suppression": "drop"`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::config::{take_supplied, HierarchySpec, KAnonConfig, Method, SuppliedHierarchy};
use super::model::Checker;
use super::GroundDistance;
use super::{
    classes_of, mondrian, search_with_progress, Generalize, Hierarchy, MondrianModel, MondrianQi,
    Risk, RiskReport, SensitiveColumn, Suppression, Table, Transformation, SUPPRESSED,
};
use crate::error::{Fallible, VeilError};

/// The level chosen for one quasi-identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QiLevel {
    pub name: String,
    /// The generalization level (0 = original); `None` for Mondrian, which recodes each
    /// class on its own rather than by level.
    pub level: Option<usize>,
    /// The number of levels of its hierarchy (the original included); `None` for Mondrian.
    pub levels: Option<usize>,
}

/// What a job chose, without the rows (the result of `k_anon_plan`).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub method: Method,
    /// Rows of the input table.
    pub rows: usize,
    /// One entry per quasi-identifier, in config order.
    pub quasi_identifiers: Vec<QiLevel>,
    /// The loss metric's config name (see [`super::Metric`]), or `ncp` for Mondrian (the
    /// normalized certainty penalty, see [`super::mondrian`]).
    pub metric: &'static str,
    pub loss: f64,
    pub suppressed_rows: usize,
    /// Equivalence classes released (suppressed rows not counted).
    pub classes: usize,
    /// The smallest released class, `None` when every row is suppressed.
    pub min_class_size: Option<usize>,
    /// With l-diversity (optimal method): the smallest l of a released class.
    pub min_l: Option<f64>,
    /// With t-closeness: the largest distance of a released class.
    pub max_t: Option<f64>,
    /// Optimal method: transformations evaluated, and the lattice's size.
    pub evaluated: Option<usize>,
    pub lattice_size: Option<usize>,
    /// Wall time of the call: encoding, search and (for [`KAnonJob::run`]) generalizing the
    /// rows and measuring the risks.
    pub elapsed: Duration,
}

impl Plan {
    /// The plan as JSON (see [`KAnonOutcome::to_report_json`] for the shape).
    pub fn to_json_value(&self) -> Value {
        json!({
            "method": self.method.name(),
            "rows": self.rows,
            "quasi_identifiers": self.quasi_identifiers.iter().map(|q| json!({
                "name": q.name,
                "level": q.level,
                "levels": q.levels,
            })).collect::<Vec<_>>(),
            "metric": self.metric,
            "loss": self.loss,
            "suppressed_rows": self.suppressed_rows,
            "classes": self.classes,
            "min_class_size": self.min_class_size,
            "min_l": self.min_l,
            "max_t": self.max_t,
            "evaluated": self.evaluated,
            "lattice_size": self.lattice_size,
            "elapsed_ms": self.elapsed.as_secs_f64() * 1000.0,
        })
    }
}

/// The result of [`KAnonJob::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct KAnonOutcome {
    pub plan: Plan,
    /// The saved transformation (optimal method), which [`Transformation::apply`] can
    /// re-apply to new rows. It records k only: re-applied, it suppresses classes smaller
    /// than k but does not re-check l-diversity or t-closeness. `None` for Mondrian, whose
    /// local recoding is not a per-column level.
    pub transformation: Option<Transformation>,
    /// One entry per input row, in input order: the released quasi-identifier values in
    /// config order ([`SUPPRESSED`] in every one for a masked row), or `None` for a row
    /// not released (`"suppression": "drop"`).
    pub rows: Vec<Option<Vec<String>>>,
    /// Re-identification risk of the input table as it is (nothing generalized or
    /// suppressed).
    pub risk_before: RiskReport,
    /// Re-identification risk of the released rows: their equivalence classes are the
    /// groups of equal released values (the masked rows, all `*`, form one; dropped rows
    /// are not counted).
    pub risk_after: RiskReport,
}

impl KAnonOutcome {
    /// The report of the job as JSON, for PostgreSQL's report and the CLI's report file:
    ///
    /// ```text
    /// {"plan": {"method": "optimal", "rows": 8,
    ///           "quasi_identifiers": [{"name": "age", "level": 1, "levels": 4}, …],
    ///           "metric": "entropy", "loss": 6.0, "suppressed_rows": 0, "classes": 2,
    ///           "min_class_size": 4, "min_l": null, "max_t": null, "evaluated": 5,
    ///           "lattice_size": 12, "elapsed_ms": 0.1},
    ///  "transformation": {"quasi_identifiers": ["age", …], "levels": [1, …], "k": 2,
    ///                     "suppression": "mask"},
    ///  "risk": [{"metric": "prosecutor_average", "before": 0.5, "after": 0.25}, …]}
    /// ```
    ///
    /// `transformation` is `null` for Mondrian; `risk` lists [`risk_rows`]. Numbers that
    /// are not finite are written as `null`.
    pub fn to_report_json(&self) -> String {
        let value = json!({
            "plan": self.plan.to_json_value(),
            "transformation": self.transformation.as_ref().map(|t| json!({
                "quasi_identifiers": t.quasi_identifiers,
                "levels": t.levels,
                "k": t.k,
                "suppression": match t.suppression {
                    Suppression::Mask => "mask",
                    Suppression::Drop => "drop",
                },
            })),
            "risk": risk_rows_json(&self.risk_before, Some(&self.risk_after)),
        });
        value.to_string()
    }
}

/// The result of [`KAnonJob::reid_risk`].
#[derive(Debug, Clone, PartialEq)]
pub struct RiskOutcome {
    /// The input table as it is.
    pub before: RiskReport,
    /// After the job's anonymization, when the config asks for one (`k`, `l_diversity`
    /// or `t_closeness`).
    pub after: Option<RiskReport>,
    /// The plan of that anonymization.
    pub plan: Option<Plan>,
}

impl RiskOutcome {
    /// One row per measure (see [`risk_rows`]), for a table function.
    pub fn rows(&self) -> Vec<RiskRow> {
        risk_rows(&self.before, self.after.as_ref())
    }

    /// `{"risk": [rows…], "plan": {…} or null}` (shapes as in
    /// [`KAnonOutcome::to_report_json`]).
    pub fn to_report_json(&self) -> String {
        json!({
            "risk": risk_rows_json(&self.before, self.after.as_ref()),
            "plan": self.plan.as_ref().map(Plan::to_json_value),
        })
        .to_string()
    }
}

/// One measure of a risk report, before and (if anonymized) after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskRow {
    pub metric: &'static str,
    pub before: f64,
    pub after: Option<f64>,
}

/// A risk report as rows `(metric, before, after)`, in this order: `rows` (records
/// released), `suppressed_rows`, `classes`, `smallest_class`, `threshold`,
/// `prosecutor_average`, `prosecutor_highest`, `prosecutor_records_at_risk`,
/// `journalist_average`, `journalist_highest`, `journalist_records_at_risk`, `marketer`
/// (see [`RiskReport`]; without a population the journalist risks equal the prosecutor
/// risks). Counts are given as numbers too, so that one table function returns one type.
pub fn risk_rows(before: &RiskReport, after: Option<&RiskReport>) -> Vec<RiskRow> {
    fn measures(r: &RiskReport) -> [(&'static str, f64); 12] {
        let risk =
            |p: &'static str, x: &Risk| [(p, x.average), (p, x.highest), (p, x.records_at_risk)];
        let pr = risk("prosecutor", &r.prosecutor);
        let jo = risk("journalist", &r.journalist);
        [
            ("rows", r.rows as f64),
            ("suppressed_rows", r.suppressed_rows as f64),
            ("classes", r.classes as f64),
            ("smallest_class", r.smallest_class as f64),
            ("threshold", r.threshold),
            ("prosecutor_average", pr[0].1),
            ("prosecutor_highest", pr[1].1),
            ("prosecutor_records_at_risk", pr[2].1),
            ("journalist_average", jo[0].1),
            ("journalist_highest", jo[1].1),
            ("journalist_records_at_risk", jo[2].1),
            ("marketer", r.marketer),
        ]
    }
    let b = measures(before);
    let a = after.map(measures);
    b.iter()
        .enumerate()
        .map(|(i, (name, v))| RiskRow {
            metric: name,
            before: *v,
            after: a.map(|a| a[i].1),
        })
        .collect()
}

fn risk_rows_json(before: &RiskReport, after: Option<&RiskReport>) -> Value {
    Value::Array(
        risk_rows(before, after)
            .into_iter()
            .map(|r| json!({"metric": r.metric, "before": r.before, "after": r.after}))
            .collect(),
    )
}

/// A config with its supplied hierarchies, ready to run on columns.
#[derive(Debug, Clone)]
pub struct KAnonJob {
    config: KAnonConfig,
    /// Hierarchies given in the config or supplied by the engine, by column.
    given: HashMap<String, Hierarchy>,
    threads: usize,
}

impl KAnonJob {
    /// A job for `config`, with the hierarchies the engine read for it: one per entry of
    /// [`KAnonConfig::hierarchy_sources`], keyed by its column. A missing or extra one is
    /// an error, and so is one that is not a valid hierarchy.
    pub fn new(
        config: KAnonConfig,
        supplied: HashMap<String, SuppliedHierarchy>,
    ) -> Fallible<Self> {
        let mut given = take_supplied(&config, supplied)?;
        for q in &config.quasi_identifiers {
            if let HierarchySpec::Levels(rows) = &q.hierarchy {
                given.insert(
                    q.column.clone(),
                    Hierarchy::from_rows(&q.column, rows.clone())?,
                );
            }
        }
        Ok(KAnonJob {
            config,
            given,
            threads: 1,
        })
    }

    /// Lets Mondrian use up to `threads` threads (default 1; the result does not depend on
    /// it). The optimal search runs on the calling thread.
    pub fn with_threads(self, threads: usize) -> Fallible<Self> {
        if threads < 1 {
            return Err(VeilError::invalid(
                "threads",
                format!("must be at least 1, got {threads}"),
            ));
        }
        Ok(KAnonJob { threads, ..self })
    }

    pub fn config(&self) -> &KAnonConfig {
        &self.config
    }

    /// The columns to pass to [`run`](Self::run), [`plan`](Self::plan) and
    /// [`reid_risk`](Self::reid_risk), in this order.
    pub fn columns(&self) -> Vec<&str> {
        self.config.columns()
    }

    /// Anonymizes: the plan, the released quasi-identifier values of every row and the
    /// risks before and after. `progress(classified, lattice size)` is called as the
    /// optimal search classifies transformations (not for Mondrian).
    pub fn run(
        &self,
        columns: &[&[Option<&str>]],
        progress: impl FnMut(usize, usize),
    ) -> Fallible<KAnonOutcome> {
        let start = Instant::now();
        let input = self.input(columns)?;
        let risk_before = raw_risk(&input, self.config.risk_threshold)?;
        let (mut plan, transformation, rows) = match self.config.method {
            Method::Optimal => {
                let o = self.optimal(&input, progress, true)?;
                (o.plan, Some(o.transformation), o.rows)
            }
            Method::Mondrian => {
                let (plan, rows) = self.mondrian(&input)?;
                (plan, None, rows)
            }
        };
        let mut risk_after = released_risk(&rows, self.config.risk_threshold)?;
        risk_after.suppressed_rows = plan.suppressed_rows;
        plan.elapsed = start.elapsed();
        Ok(KAnonOutcome {
            plan,
            transformation,
            rows,
            risk_before,
            risk_after,
        })
    }

    /// The plan of [`run`](Self::run) without generalizing the rows.
    pub fn plan(
        &self,
        columns: &[&[Option<&str>]],
        progress: impl FnMut(usize, usize),
    ) -> Fallible<Plan> {
        let start = Instant::now();
        let input = self.input(columns)?;
        let mut plan = match self.config.method {
            Method::Optimal => self.optimal(&input, progress, false)?.plan,
            Method::Mondrian => self.mondrian(&input)?.0,
        };
        plan.elapsed = start.elapsed();
        Ok(plan)
    }

    /// The re-identification risk of the table as it is and, when the config asks for
    /// anonymization, of what [`run`](Self::run) would release. A config without `k`,
    /// `l_diversity` and `t_closeness` needs no hierarchies.
    pub fn reid_risk(&self, columns: &[&[Option<&str>]]) -> Fallible<RiskOutcome> {
        if !self.config.anonymizes() {
            let input = self.input(columns)?;
            return Ok(RiskOutcome {
                before: raw_risk(&input, self.config.risk_threshold)?,
                after: None,
                plan: None,
            });
        }
        let out = self.run(columns, |_, _| {})?;
        Ok(RiskOutcome {
            before: out.risk_before,
            after: Some(out.risk_after),
            plan: Some(out.plan),
        })
    }

    /// Checks the columns: count, lengths, no NULL.
    fn input<'a>(&self, columns: &[&[Option<&'a str>]]) -> Fallible<Input<'a>> {
        let names = self.columns();
        if columns.len() != names.len() {
            return Err(VeilError::invalid(
                "columns",
                format!(
                    "expected {} columns ({}), got {}",
                    names.len(),
                    names.join(", "),
                    columns.len()
                ),
            ));
        }
        let n = columns[0].len();
        let mut values = Vec::with_capacity(columns.len());
        for (name, col) in names.iter().zip(columns) {
            if col.len() != n {
                return Err(VeilError::invalid(
                    name.to_string(),
                    format!(
                        "has {} rows but {} has {n}; every column needs one value per row",
                        col.len(),
                        names[0]
                    ),
                ));
            }
            let col = col
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.ok_or_else(|| {
                        VeilError::invalid(
                            name.to_string(),
                            format!(
                                "row {} is NULL: k-anonymization needs a value in every \
                                 quasi-identifier and sensitive row (replace NULLs, e.g. \
                                 with COALESCE, or filter those rows first)",
                                i + 1
                            ),
                        )
                    })
                })
                .collect::<Fallible<Vec<&str>>>()?;
            values.push(col);
        }
        let q = self.config.quasi_identifiers.len();
        let sensitive = (values.len() > q).then(|| values.pop()).flatten();
        Ok(Input {
            qis: values,
            sensitive,
            rows: n,
        })
    }

    /// The hierarchy of quasi-identifier `j` over its values.
    fn hierarchy(&self, j: usize, values: &[&str]) -> Fallible<Hierarchy> {
        let q = &self.config.quasi_identifiers[j];
        let name = q.column.as_str();
        let distinct = || {
            let mut d: Vec<&str> = values
                .iter()
                .copied()
                .collect::<HashSet<&str>>()
                .into_iter()
                .collect();
            d.sort_unstable();
            d
        };
        match &q.hierarchy {
            HierarchySpec::Intervals(widths) => {
                Hierarchy::intervals(name, &integers(name, values)?, widths)
            }
            HierarchySpec::TopCoding(caps) => {
                Hierarchy::top_coding(name, &integers(name, values)?, caps)
            }
            HierarchySpec::BottomCoding(floors) => {
                Hierarchy::bottom_coding(name, &integers(name, values)?, floors)
            }
            HierarchySpec::Prefix => Hierarchy::prefix_masking(name, &distinct()),
            HierarchySpec::Dates => Hierarchy::dates(name, &distinct()),
            HierarchySpec::Levels(_) | HierarchySpec::ArxCsv(_) | HierarchySpec::Table(_) => {
                self.given.get(name).cloned().ok_or_else(|| {
                    VeilError::invalid(
                        format!("config.quasi_identifiers.{name}"),
                        "its hierarchy was not supplied to the job",
                    )
                })
            }
            HierarchySpec::None => Err(VeilError::invalid(
                format!("config.quasi_identifiers.{name}"),
                "needs a hierarchy to anonymize (intervals, prefix, dates, top_coding, \
                 bottom_coding, levels, arx_csv or table)",
            )),
            HierarchySpec::Numeric | HierarchySpec::Ordered(_) => Err(VeilError::invalid(
                format!("config.quasi_identifiers.{name}"),
                "numeric and ordered quasi-identifiers are for method mondrian only",
            )),
        }
    }

    /// The optimal search, and (with `materialize`) the released rows.
    fn optimal(
        &self,
        input: &Input,
        progress: impl FnMut(usize, usize),
        materialize: bool,
    ) -> Fallible<Optimal> {
        if input.rows == 0 {
            return Err(VeilError::invalid(
                "rows",
                "the table is empty: there is nothing to anonymize",
            ));
        }
        let model = self.config.model()?;
        let names = self.config.quasi_identifier_names();
        let hierarchies = (0..names.len())
            .map(|j| self.hierarchy(j, &input.qis[j]))
            .collect::<Fallible<Vec<_>>>()?;
        // Base codes of every cell, for the table and for generalizing the rows.
        let mut codes: Vec<Vec<u32>> = Vec::with_capacity(names.len());
        for (j, h) in hierarchies.iter().enumerate() {
            let col = input.qis[j]
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    h.base_code(v).ok_or_else(|| {
                        VeilError::invalid(
                            format!("hierarchy of {}", names[j]),
                            format!("has no entry for value {v:?} (row {})", i + 1),
                        )
                    })
                })
                .collect::<Fallible<Vec<u32>>>()?;
            codes.push(col);
        }
        let table = match (&input.sensitive, &self.config.sensitive) {
            (Some(values), Some(name)) => {
                let t = Table::encode_with_sensitive(
                    &names,
                    hierarchies,
                    (0..input.rows).map(|i| input.qis.iter().map(|c| c[i]).collect::<Vec<_>>()),
                    name,
                    values.iter(),
                )?;
                match &self.config.sensitive_order {
                    Some(order) => t
                        .with_sensitive_order(order)
                        .map_err(|e| e.for_argument("config.t_closeness.order"))?,
                    None => {
                        let ordered = self
                            .config
                            .t_closeness
                            .is_some_and(|t| t.distance == GroundDistance::Ordered);
                        let word = values.iter().find(|v| super::numeric(v).is_none());
                        if let (true, Some(word)) = (ordered, word) {
                            return Err(VeilError::invalid(
                                "config.t_closeness.order",
                                format!(
                                    "is required by the ordered distance when the values of \
                                     {name} are not all numbers ({word:?} is not)"
                                ),
                            ));
                        }
                        t
                    }
                }
            }
            _ => {
                let cols: Vec<&[u32]> = codes.iter().map(Vec::as_slice).collect();
                Table::from_codes(&names, hierarchies, &cols)?
            }
        };
        let solution = search_with_progress(&table, &model, progress).map_err(config_field)?;
        let best = &solution.best;
        let transformation = Transformation::for_table(
            &table,
            &best.levels,
            self.config.effective_k(),
            self.config.suppression,
        )?;
        let plan = Plan {
            method: Method::Optimal,
            rows: input.rows,
            quasi_identifiers: names
                .iter()
                .zip(&best.levels)
                .zip(table.hierarchies())
                .map(|((n, l), h)| QiLevel {
                    name: n.to_string(),
                    level: Some(*l),
                    levels: Some(h.height()),
                })
                .collect(),
            metric: model.metric.name(),
            loss: best.loss,
            suppressed_rows: best.suppressed_rows,
            classes: best.classes,
            min_class_size: best.min_class_size,
            min_l: best.min_l,
            max_t: best.max_t,
            evaluated: Some(solution.evaluated),
            lattice_size: Some(solution.lattice_size),
            elapsed: Duration::ZERO,
        };
        let rows = if materialize {
            let (rows, suppressed) = release(
                &table,
                &model,
                &best.levels,
                &codes,
                self.config.suppression,
            )?;
            // The release decides suppression with the search's own checker.
            if suppressed != plan.suppressed_rows {
                return Err(VeilError::invalid(
                    "rows",
                    format!(
                        "internal check failed: {suppressed} rows suppressed on release, \
                         the search suppressed {}",
                        plan.suppressed_rows
                    ),
                ));
            }
            rows
        } else {
            Vec::new()
        };
        Ok(Optimal {
            plan,
            transformation,
            rows,
        })
    }

    /// Mondrian: the plan and the released rows.
    fn mondrian(&self, input: &Input) -> Fallible<(Plan, Vec<Option<Vec<String>>>)> {
        let k = self.config.effective_k();
        let mut model = MondrianModel::new(k)
            .map_err(|e| e.for_argument("config.k"))?
            .with_threads(self.threads)?;
        if let Some(l) = self.config.l_diversity {
            let super::LDiversity::Distinct { l } = l else {
                return Err(VeilError::invalid(
                    "config.l_diversity.kind",
                    "method mondrian supports distinct l-diversity only",
                ));
            };
            model = model
                .with_l_diversity(l)
                .map_err(|e| e.for_argument("config.l_diversity.l"))?;
        }
        let names = self.config.quasi_identifier_names();
        // Per quasi-identifier: numeric values or ordered codes.
        let mut numeric: Vec<Vec<i64>> = Vec::new();
        let mut ordered: Vec<(Vec<u32>, Vec<String>)> = Vec::new();
        let mut kinds = Vec::new();
        for (j, q) in self.config.quasi_identifiers.iter().enumerate() {
            let values = &input.qis[j];
            match &q.hierarchy {
                HierarchySpec::Numeric => {
                    let v = values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            v.parse::<i64>().map_err(|_| {
                                VeilError::invalid(
                                    q.column.clone(),
                                    format!("value {v:?} (row {}) is not an integer", i + 1),
                                )
                            })
                        })
                        .collect::<Fallible<Vec<i64>>>()?;
                    kinds.push((true, numeric.len()));
                    numeric.push(v);
                }
                HierarchySpec::Ordered(labels) => {
                    let index: HashMap<&str, u32> = labels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.as_str(), i as u32))
                        .collect();
                    let c = values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            index.get(v).copied().ok_or_else(|| {
                                VeilError::invalid(
                                    format!("config.quasi_identifiers.{}.ordered", q.column),
                                    format!("does not list value {v:?} (row {})", i + 1),
                                )
                            })
                        })
                        .collect::<Fallible<Vec<u32>>>()?;
                    kinds.push((false, ordered.len()));
                    ordered.push((c, labels.clone()));
                }
                _ => {
                    return Err(VeilError::invalid(
                        format!("config.quasi_identifiers.{}", q.column),
                        "method mondrian needs {\"numeric\": true} or {\"ordered\": [...]}",
                    ))
                }
            }
        }
        let qis: Vec<MondrianQi> = kinds
            .iter()
            .zip(&names)
            .map(|((is_numeric, at), name)| {
                if *is_numeric {
                    MondrianQi::Numeric {
                        name,
                        values: &numeric[*at],
                    }
                } else {
                    MondrianQi::Ordered {
                        name,
                        codes: &ordered[*at].0,
                        labels: &ordered[*at].1,
                    }
                }
            })
            .collect();
        let sensitive_codes: Option<Vec<u32>> = input.sensitive.as_ref().map(|values| {
            let mut index: HashMap<&str, u32> = HashMap::new();
            values
                .iter()
                .map(|v| {
                    let next = index.len() as u32;
                    *index.entry(v).or_insert(next)
                })
                .collect()
        });
        let sensitive = match (&sensitive_codes, &self.config.sensitive) {
            (Some(codes), Some(name)) => Some(SensitiveColumn { name, codes }),
            _ => None,
        };
        let result = mondrian(&qis, sensitive, &model).map_err(config_field)?;
        let q = names.len();
        let rows = (0..input.rows)
            .map(|i| Some((0..q).map(|j| result.render_row(i, j)).collect()))
            .collect();
        let plan = Plan {
            method: Method::Mondrian,
            rows: input.rows,
            quasi_identifiers: names
                .iter()
                .map(|n| QiLevel {
                    name: n.to_string(),
                    level: None,
                    levels: None,
                })
                .collect(),
            metric: "ncp",
            loss: result.ncp(),
            suppressed_rows: 0,
            classes: result.classes(),
            min_class_size: (result.classes() > 0).then(|| result.min_class_size()),
            min_l: None,
            max_t: None,
            evaluated: None,
            lattice_size: None,
            elapsed: Duration::ZERO,
        };
        Ok((plan, rows))
    }
}

/// Errors of the search and of Mondrian blame the model's parameters by their own names
/// (`k`, `l`, `c`, `t`); name them as config fields.
fn config_field(e: VeilError) -> VeilError {
    let VeilError::InvalidArgument { argument, .. } = &e else {
        return e;
    };
    let field = match argument.as_ref() {
        "k" => "config.k",
        "l" => "config.l_diversity.l",
        "c" => "config.l_diversity.c",
        "t" => "config.t_closeness.t",
        "suppression_limit" => "config.suppression_limit",
        _ => return e,
    };
    e.for_argument(field)
}

/// Checked input columns.
struct Input<'a> {
    qis: Vec<Vec<&'a str>>,
    sensitive: Option<Vec<&'a str>>,
    rows: usize,
}

struct Optimal {
    plan: Plan,
    transformation: Transformation,
    rows: Vec<Option<Vec<String>>>,
}

/// The column's values as integers, refusing any spelled otherwise than `i64::to_string`
/// writes them (the integer builders label the original values that way, so `07` would
/// not be found in its own hierarchy).
fn integers(name: &str, values: &[&str]) -> Fallible<Vec<i64>> {
    let mut seen: HashMap<&str, i64> = HashMap::new();
    for (i, v) in values.iter().enumerate() {
        if seen.contains_key(v) {
            continue;
        }
        let parsed = v.parse::<i64>().ok().filter(|x| x.to_string() == *v);
        let Some(x) = parsed else {
            return Err(VeilError::invalid(
                name.to_string(),
                format!(
                    "value {v:?} (row {}) is not an integer written plainly (like 7 or -3); \
                     intervals, top_coding and bottom_coding need integers",
                    i + 1
                ),
            ));
        };
        seen.insert(v, x);
    }
    Ok(seen.into_values().collect())
}

/// The released quasi-identifier values of every row at `levels`, and the number of rows
/// suppressed: rows of classes that fail `model` (decided by the same [`Checker`] as the
/// search) are masked or dropped.
fn release(
    table: &Table,
    model: &super::Model,
    levels: &[usize],
    codes: &[Vec<u32>],
    suppression: Suppression,
) -> Fallible<(Vec<Option<Vec<String>>>, usize)> {
    let mut checker = Checker::new(model, table)?;
    let with_hist = checker.needs_histograms();
    let classes = classes_of(table, &Generalize::new(table), &[], levels, with_hist)?;
    let q = levels.len();
    let mut keep: HashMap<&[u32], bool> = HashMap::with_capacity(classes.sizes.len());
    for (i, size) in classes.sizes.iter().enumerate() {
        let ok = match &classes.hist {
            Some(h) => {
                let (c, n) = h.entries(i);
                checker.verdict(*size, c, n).keep
            }
            None => *size >= checker.k,
        };
        keep.insert(&classes.codes[i * q..(i + 1) * q], ok);
    }
    let hs = table.hierarchies();
    let rows = codes.first().map_or(0, Vec::len);
    let mut key = vec![0u32; q];
    let mut out = Vec::with_capacity(rows);
    let mut suppressed = 0;
    for i in 0..rows {
        for (k, (h, (level, column))) in key.iter_mut().zip(hs.iter().zip(levels.iter().zip(codes)))
        {
            *k = h.code(*level, column[i]);
        }
        let kept = keep.get(key.as_slice()).copied().ok_or_else(|| {
            VeilError::invalid(
                "rows",
                format!("internal check failed: row {} has no class", i + 1),
            )
        })?;
        out.push(if kept {
            Some(
                (0..q)
                    .map(|j| hs[j].label(levels[j], key[j]).to_string())
                    .collect(),
            )
        } else {
            suppressed += 1;
            match suppression {
                Suppression::Mask => Some(vec![SUPPRESSED.to_string(); q]),
                Suppression::Drop => None,
            }
        });
    }
    Ok((out, suppressed))
}

/// Risks of equivalence classes given by their sizes (sorted, so sums come out the same on
/// every run).
fn risk_of(mut sizes: Vec<u64>, threshold: f64) -> Fallible<RiskReport> {
    sizes.sort_unstable();
    RiskReport::from_classes(&sizes, None, threshold)
}

/// Risk of the input table as it is: classes of equal original quasi-identifier values.
fn raw_risk(input: &Input, threshold: f64) -> Fallible<RiskReport> {
    let mut sizes: HashMap<Vec<&str>, u64> = HashMap::new();
    for i in 0..input.rows {
        let key = input.qis.iter().map(|c| c[i]).collect();
        *sizes.entry(key).or_insert(0) += 1;
    }
    risk_of(sizes.into_values().collect(), threshold)
}

/// Risk of released rows: classes of equal released values, dropped rows left out.
fn released_risk(rows: &[Option<Vec<String>>], threshold: f64) -> Fallible<RiskReport> {
    let mut sizes: HashMap<&[String], u64> = HashMap::new();
    for r in rows.iter().flatten() {
        *sizes.entry(r.as_slice()).or_insert(0) += 1;
    }
    risk_of(sizes.into_values().collect(), threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kanon::{evaluate_levels, generalize, Model};

    fn job(json: &str) -> KAnonJob {
        KAnonJob::new(KAnonConfig::from_json(json).unwrap(), HashMap::new()).unwrap()
    }

    fn cols<'a>(rows: &[&[&'a str]]) -> Vec<Vec<Option<&'a str>>> {
        let width = rows[0].len();
        (0..width)
            .map(|j| rows.iter().map(|r| Some(r[j])).collect())
            .collect()
    }

    fn slices<'a, 'b>(c: &'b [Vec<Option<&'a str>>]) -> Vec<&'b [Option<&'a str>]> {
        c.iter().map(Vec::as_slice).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn owned(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    /// Eight people in pairs by (decade, sex), and one 62-year-old man.
    const PEOPLE: [&[&str]; 9] = [
        &["21", "M"],
        &["22", "M"],
        &["25", "F"],
        &["28", "F"],
        &["31", "M"],
        &["34", "M"],
        &["36", "F"],
        &["39", "F"],
        &["62", "M"],
    ];

    const PEOPLE_CONFIG: &str = r#"{"quasi_identifiers": {
        "age": {"intervals": [10]}, "sex": {"levels": {"M": ["*"], "F": ["*"]}}},
        "k": 2, "suppression_limit": 0.12, "suppression": "SUPPRESSION"}"#;

    #[test]
    fn hand_checked_job_with_masking() {
        // Levels [1, 0] (decade, sex) give four pairs and the 62-year-old alone; one row of
        // nine may be suppressed (floor(0.12 · 9) = 1). Entropy: kept rows pay 2 bits for
        // age (a value in 1 of 4 in its decade), the suppressed one log2 9 + log2 9/5
        // ≈ 4.02: about 20.02, against log2 9 ≈ 3.17 per row (28.5) at [2, 0], the only
        // other way to keep the 62-year-old. Level [0, 1] leaves every age alone.
        let j = job(&PEOPLE_CONFIG.replace("SUPPRESSION", "mask"));
        assert_eq!(j.columns(), ["age", "sex"]);
        let c = cols(&PEOPLE);
        let out = j.run(&slices(&c), |_, _| {}).unwrap();
        let p = &out.plan;
        assert_eq!(p.method, Method::Optimal);
        assert_eq!(
            p.quasi_identifiers,
            vec![
                QiLevel {
                    name: "age".into(),
                    level: Some(1),
                    levels: Some(3)
                },
                QiLevel {
                    name: "sex".into(),
                    level: Some(0),
                    levels: Some(2)
                },
            ]
        );
        assert_eq!(p.metric, "entropy");
        let expected_loss = 16.0 + 9f64.log2() + (9.0f64 / 5.0).log2();
        assert!(close(p.loss, expected_loss), "{}", p.loss);
        assert_eq!((p.rows, p.suppressed_rows, p.classes), (9, 1, 4));
        assert_eq!(p.min_class_size, Some(2));
        assert_eq!((p.evaluated.is_some(), p.lattice_size), (true, Some(6)));
        assert_eq!(
            out.rows,
            vec![
                owned(&["[20, 30)", "M"]),
                owned(&["[20, 30)", "M"]),
                owned(&["[20, 30)", "F"]),
                owned(&["[20, 30)", "F"]),
                owned(&["[30, 40)", "M"]),
                owned(&["[30, 40)", "M"]),
                owned(&["[30, 40)", "F"]),
                owned(&["[30, 40)", "F"]),
                owned(&["*", "*"]),
            ]
        );
        assert_eq!(
            out.transformation,
            Some(
                Transformation::new(
                    vec!["age".into(), "sex".into()],
                    vec![1, 0],
                    2,
                    Suppression::Mask
                )
                .unwrap()
            )
        );
        // Before: nine classes of one. After: four pairs and the masked row (threshold 1/k).
        let b = &out.risk_before;
        assert_eq!((b.rows, b.classes, b.smallest_class), (9, 9, 1));
        assert!(close(b.prosecutor.average, 1.0) && close(b.prosecutor.records_at_risk, 1.0));
        assert!(close(b.threshold, 0.5));
        let a = &out.risk_after;
        assert_eq!((a.rows, a.classes, a.smallest_class), (9, 5, 1));
        assert_eq!(a.suppressed_rows, 1);
        assert!(close(a.prosecutor.average, 5.0 / 9.0));
        assert!(close(a.prosecutor.highest, 1.0));
        assert!(close(a.prosecutor.records_at_risk, 1.0 / 9.0));
        assert!(close(a.marketer, 5.0 / 9.0));
        // The plan alone is the same, without rows.
        let plan = j.plan(&slices(&c), |_, _| {}).unwrap();
        assert_eq!(
            Plan {
                elapsed: p.elapsed,
                ..plan
            },
            *p
        );
    }

    #[test]
    fn hand_checked_job_with_dropping() {
        let j = job(&PEOPLE_CONFIG.replace("SUPPRESSION", "drop"));
        let c = cols(&PEOPLE);
        let out = j.run(&slices(&c), |_, _| {}).unwrap();
        assert_eq!(out.rows[8], None);
        assert_eq!(out.rows[0], owned(&["[20, 30)", "M"]));
        assert_eq!(out.rows.iter().flatten().count(), 8);
        let a = &out.risk_after;
        assert_eq!(
            (a.rows, a.classes, a.smallest_class, a.suppressed_rows),
            (8, 4, 2, 1)
        );
        assert!(close(a.prosecutor.average, 0.5) && close(a.prosecutor.highest, 0.5));
        assert!(close(a.prosecutor.records_at_risk, 0.0));
        assert_eq!(
            out.transformation.as_ref().map(|t| t.suppression),
            Some(Suppression::Drop)
        );
    }

    #[test]
    fn l_diversity_suppresses_what_k_alone_would_keep() {
        // (20s, M) holds flu twice: not distinct 2-diverse. Suppressing its two rows (the
        // limit allows 2 of 8) costs 2 · (3 + 1) bits on top of 6 · 2: 20 bits, against 24
        // at [1, 1] and [2, 0], where every class is diverse.
        let rows: [&[&str]; 8] = [
            &["21", "M", "flu"],
            &["22", "M", "flu"],
            &["25", "F", "flu"],
            &["28", "F", "cold"],
            &["31", "M", "cold"],
            &["34", "M", "flu"],
            &["36", "F", "hiv"],
            &["39", "F", "flu"],
        ];
        let j = job(r#"{"quasi_identifiers": {"age": {"intervals": [10]},
                "sex": {"levels": {"M": ["*"], "F": ["*"]}}},
                "k": 2, "suppression_limit": 0.25, "sensitive": "disease",
                "l_diversity": {"kind": "distinct", "l": 2}}"#);
        assert_eq!(j.columns(), ["age", "sex", "disease"]);
        let c = cols(&rows);
        let out = j.run(&slices(&c), |_, _| {}).unwrap();
        let levels: Vec<Option<usize>> =
            out.plan.quasi_identifiers.iter().map(|q| q.level).collect();
        assert_eq!(levels, [Some(1), Some(0)]);
        assert!(close(out.plan.loss, 20.0), "{}", out.plan.loss);
        assert_eq!(out.plan.suppressed_rows, 2);
        assert_eq!(out.plan.min_l, Some(2.0));
        assert_eq!(out.rows[0], owned(&["*", "*"]));
        assert_eq!(out.rows[1], owned(&["*", "*"]));
        assert_eq!(out.rows[2], owned(&["[20, 30)", "F"]));
        // The saved transformation records k only: re-applied, it keeps those rows.
        let t = out.transformation.unwrap();
        let hs = [
            Hierarchy::intervals("age", &[21, 22, 25, 28, 31, 34, 36, 39], &[10]).unwrap(),
            Hierarchy::from_rows(
                "sex",
                vec![vec!["M".into(), "*".into()], vec!["F".into(), "*".into()]],
            )
            .unwrap(),
        ];
        let again = t.apply(&hs, rows.iter().map(|r| [r[0], r[1]])).unwrap();
        assert_eq!(again.suppressed_rows, 0);
    }

    #[test]
    fn ordered_t_closeness_uses_the_given_order() {
        let rows: Vec<[&str; 2]> = (0..12)
            .map(|i| {
                let zip = ["13053", "13068", "14850", "14853"][i % 4];
                let income = ["low", "mid", "high"][(i / 4) % 3];
                [zip, income]
            })
            .collect();
        let row_refs: Vec<&[&str]> = rows.iter().map(|r| &r[..]).collect();
        let c = cols(&row_refs);
        let config = r#"{"quasi_identifiers": {"zip": {"prefix": true}}, "k": 2,
            "sensitive": "income",
            "t_closeness": {"distance": "ordered", "t": 0.3, "order": ORDER}}"#;
        let out = job(&config.replace("ORDER", r#"["low", "mid", "high"]"#))
            .run(&slices(&c), |_, _| {})
            .unwrap();
        // Each zip holds one of each income: every class has the table's distribution.
        assert_eq!(out.plan.quasi_identifiers[0].level, Some(0));
        assert_eq!(out.plan.max_t, Some(0.0));
        let e = job(&config.replace("ORDER", r#"["low", "mid"]"#))
            .run(&slices(&c), |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`config.t_closeness.order`") && e.contains("\"high\""),
            "{e}"
        );
    }

    #[test]
    fn supplied_hierarchies_and_builders() {
        let config = KAnonConfig::from_json(
            r#"{"quasi_identifiers": [
                {"column": "race", "arx_csv": "race.csv"},
                {"column": "job", "table": "jobs"},
                {"column": "birth", "dates": true},
                {"column": "income", "top_coding": [100]}], "k": 2}"#,
        )
        .unwrap();
        let s = |v: &str| Some(v.to_string());
        let supplied = HashMap::from([
            (
                "race".to_string(),
                SuppliedHierarchy::ArxCsv("a;*\nb;*\n".into()),
            ),
            (
                "job".to_string(),
                SuppliedHierarchy::Rows(vec![
                    vec![s("nurse"), s("health"), s("*")],
                    vec![s("doctor"), s("health"), s("*")],
                ]),
            ),
        ]);
        let j = KAnonJob::new(config, supplied).unwrap();
        let rows: [&[&str]; 4] = [
            &["a", "nurse", "1980-01-02", "50"],
            &["a", "doctor", "1980-01-30", "150"],
            &["b", "nurse", "1980-02-02", "120"],
            &["b", "doctor", "1980-02-03", "50"],
        ];
        let c = cols(&rows);
        let out = j.run(&slices(&c), |_, _| {}).unwrap();
        // Every released row generalizes its own values at the chosen levels of the
        // hierarchies built the same way here.
        let hs = [
            Hierarchy::from_arx_csv("race", "a;*\nb;*\n").unwrap(),
            Hierarchy::from_rows(
                "job",
                vec![
                    vec!["nurse".into(), "health".into(), "*".into()],
                    vec!["doctor".into(), "health".into(), "*".into()],
                ],
            )
            .unwrap(),
            Hierarchy::dates(
                "birth",
                &["1980-01-02", "1980-01-30", "1980-02-02", "1980-02-03"],
            )
            .unwrap(),
            Hierarchy::top_coding("income", &[50, 150, 120], &[100]).unwrap(),
        ];
        let t = out.transformation.clone().unwrap();
        assert_eq!(out.plan.suppressed_rows, 0);
        for (r, released) in rows.iter().zip(&out.rows) {
            let expected: Vec<String> = (0..4)
                .map(|q| generalize(r[q], &hs[q], t.levels[q]).unwrap())
                .collect();
            assert_eq!(released.as_ref(), Some(&expected));
        }
        assert!(out.risk_after.smallest_class >= 2);
        // The first two rows differ in every column, so something is generalized.
        assert_ne!(t.levels, [0, 0, 0, 0]);
        // A value missing from a supplied hierarchy is refused by column and row.
        let mut bad = rows;
        bad[2] = &["c", "nurse", "1980-02-02", "120"];
        let c = cols(&bad);
        let e = j.run(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(
            e.contains("hierarchy of race") && e.contains("\"c\" (row 3)"),
            "{e}"
        );
    }

    #[test]
    fn input_errors_name_the_column() {
        let j = job(&PEOPLE_CONFIG.replace("SUPPRESSION", "mask"));
        let mut c = cols(&PEOPLE);
        c[1][4] = None;
        let e = j.run(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("`sex`: row 5 is NULL"), "{e}");
        let c = cols(&PEOPLE);
        let e = j.run(&slices(&c)[..1], |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("expected 2 columns (age, sex), got 1"), "{e}");
        let short = [&c[0][..], &c[1][..3]];
        let e = j.run(&short, |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("`sex`: has 3 rows but age has 9"), "{e}");
        let mut c = cols(&PEOPLE);
        c[0][2] = Some("025");
        let e = j.plan(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("`age`") && e.contains("\"025\" (row 3)"), "{e}");
        let empty: [&[Option<&str>]; 2] = [&[], &[]];
        assert!(j
            .run(&empty, |_, _| {})
            .unwrap_err()
            .to_string()
            .contains("empty"));
        // No hierarchy: fine for the raw risk, refused for anonymization.
        let j = job(r#"{"quasi_identifiers": ["age", "sex"], "k": 2}"#);
        let c = cols(&PEOPLE);
        let e = j.run(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(
            e.contains("`config.quasi_identifiers.age`: needs a hierarchy"),
            "{e}"
        );
        // k that no transformation reaches.
        let j = job(&PEOPLE_CONFIG
            .replace("SUPPRESSION", "mask")
            .replace("\"k\": 2", "\"k\": 10"));
        let e = j.run(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(
            e.contains("`config.k`") && e.contains("no transformation"),
            "{e}"
        );
    }

    #[test]
    fn reid_risk_before_and_after() {
        let c = cols(&PEOPLE);
        let j = job(r#"{"quasi_identifiers": ["age", "sex"], "risk_threshold": 0.5}"#);
        let r = j.reid_risk(&slices(&c)).unwrap();
        assert!(r.after.is_none() && r.plan.is_none());
        let rows = r.rows();
        let names: Vec<&str> = rows.iter().map(|r| r.metric).collect();
        assert_eq!(
            names,
            [
                "rows",
                "suppressed_rows",
                "classes",
                "smallest_class",
                "threshold",
                "prosecutor_average",
                "prosecutor_highest",
                "prosecutor_records_at_risk",
                "journalist_average",
                "journalist_highest",
                "journalist_records_at_risk",
                "marketer"
            ]
        );
        assert_eq!(rows[0].before, 9.0);
        assert_eq!(rows[2].before, 9.0);
        assert!(rows.iter().all(|r| r.after.is_none()));
        // With k: the same numbers as the run's.
        let j = job(&PEOPLE_CONFIG.replace("SUPPRESSION", "mask"));
        let r = j.reid_risk(&slices(&c)).unwrap();
        let out = j.run(&slices(&c), |_, _| {}).unwrap();
        assert_eq!(r.before, out.risk_before);
        assert_eq!(r.after.as_ref(), Some(&out.risk_after));
        let rows = r.rows();
        assert_eq!(rows[2].after, Some(5.0));
        assert!(close(rows[5].after.unwrap(), 5.0 / 9.0));
        assert!(close(rows[5].before, 1.0));
        let report: Value = serde_json::from_str(&r.to_report_json()).unwrap();
        assert_eq!(report["risk"].as_array().unwrap().len(), 12);
        assert_eq!(report["plan"]["suppressed_rows"], 1);
    }

    #[test]
    fn report_json_shape() {
        let c = cols(&PEOPLE);
        let out = job(&PEOPLE_CONFIG.replace("SUPPRESSION", "mask"))
            .run(&slices(&c), |_, _| {})
            .unwrap();
        let r: Value = serde_json::from_str(&out.to_report_json()).unwrap();
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&r), ["plan", "risk", "transformation"]);
        assert_eq!(
            keys(&r["plan"]),
            [
                "classes",
                "elapsed_ms",
                "evaluated",
                "lattice_size",
                "loss",
                "max_t",
                "method",
                "metric",
                "min_class_size",
                "min_l",
                "quasi_identifiers",
                "rows",
                "suppressed_rows"
            ]
        );
        assert_eq!(r["plan"]["method"], "optimal");
        assert_eq!(
            r["plan"]["quasi_identifiers"],
            json!([{"name": "age", "level": 1, "levels": 3},
                   {"name": "sex", "level": 0, "levels": 2}])
        );
        assert_eq!(r["plan"]["min_l"], Value::Null);
        assert_eq!(
            r["transformation"],
            json!({"quasi_identifiers": ["age", "sex"], "levels": [1, 0], "k": 2,
                   "suppression": "mask"})
        );
        // The transformation in the report is a valid saved transformation.
        let t = Transformation::from_json(&r["transformation"].to_string()).unwrap();
        assert_eq!(Some(t), out.transformation);
        assert_eq!(
            r["risk"][0],
            json!({"metric": "rows", "before": 9.0, "after": 9.0})
        );
        assert_eq!(r["risk"][1]["after"], 1.0);
    }

    #[test]
    fn mondrian_method() {
        let rows: [&[&str]; 6] = [
            &["1", "school", "a"],
            &["2", "school", "b"],
            &["3", "college", "a"],
            &["4", "college", "b"],
            &["5", "school", "a"],
            &["6", "college", "b"],
        ];
        let j = job(r#"{"quasi_identifiers": {"age": {"numeric": true},
                "edu": {"ordered": ["school", "college"]}}, "k": 2, "method": "mondrian",
                "sensitive": "s", "l_diversity": {"kind": "distinct", "l": 2}}"#);
        let c = cols(&rows);
        let out = j.run(&slices(&c), |_, _| {}).unwrap();
        assert!(out.transformation.is_none());
        assert_eq!(out.plan.method, Method::Mondrian);
        assert_eq!(out.plan.metric, "ncp");
        assert_eq!(out.plan.suppressed_rows, 0);
        assert!(out.plan.quasi_identifiers.iter().all(|q| q.level.is_none()));
        // Every released class has at least 2 rows and both sensitive values.
        let mut classes: HashMap<Vec<String>, Vec<&str>> = HashMap::new();
        for (i, r) in out.rows.iter().enumerate() {
            classes
                .entry(r.clone().unwrap())
                .or_default()
                .push(rows[i][2]);
        }
        assert_eq!(classes.len(), out.plan.classes);
        for (key, s) in &classes {
            assert!(s.len() >= 2, "{key:?}");
            assert!(s.contains(&"a") && s.contains(&"b"), "{key:?}");
        }
        assert!(out.plan.loss > 0.0 && out.plan.loss <= 1.0);
        // One numeric column, k = 2: cut at the median, {1, 2} and {3, 4}.
        let j = job(r#"{"quasi_identifiers": {"age": {"numeric": true}}, "k": 2,
                        "method": "mondrian"}"#);
        let c = cols(&[&["3"], &["1"], &["4"], &["2"]]);
        let out = j.run(&slices(&c), |_, _| {}).unwrap();
        assert_eq!(
            out.rows,
            vec![
                owned(&["3-4"]),
                owned(&["1-2"]),
                owned(&["3-4"]),
                owned(&["1-2"])
            ]
        );
        assert!(close(out.plan.loss, 1.0 / 3.0));
        assert_eq!((out.plan.classes, out.plan.min_class_size), (2, Some(2)));
        assert_eq!(out.risk_after.classes, 2);
        assert!(close(out.risk_after.prosecutor.highest, 0.5));
        let j5 = job(r#"{"quasi_identifiers": {"age": {"numeric": true}}, "k": 5,
                        "method": "mondrian"}"#);
        let e = j5.run(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("`config.k`: the table has 4 rows"), "{e}");
        let c = cols(&[&["3"], &["x"], &["4"], &["2"]]);
        let e = j.run(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(
            e.contains("`age`: value \"x\" (row 2) is not an integer"),
            "{e}"
        );
        let j = job(
            r#"{"quasi_identifiers": {"edu": {"ordered": ["a"]}}, "k": 1,
                        "method": "mondrian"}"#,
        );
        let c = cols(&[&["a"], &["b"]]);
        let e = j.run(&slices(&c), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("`config.quasi_identifiers.edu.ordered`"), "{e}");
    }

    use crate::kanon::test_rng::Rng;

    /// Random small tables: the job's plan is the brute-force optimum over the lattice,
    /// and its released rows are the hierarchies' generalizations at the plan's levels,
    /// with exactly the classes failing the model suppressed, within the limit.
    #[test]
    fn random_jobs_match_brute_force_and_release_what_they_plan() {
        let mut rng = Rng(7);
        let zips = ["13053", "13068", "14850", "14853", "15000"];
        let diseases = ["flu", "cold", "hiv"];
        let mut checked = 0;
        for round in 0..30 {
            let n = 10 + rng.below(30) as usize;
            let rows: Vec<[String; 4]> = (0..n)
                .map(|_| {
                    [
                        (18 + rng.below(50)).to_string(),
                        zips[rng.below(zips.len() as u64) as usize].to_string(),
                        ["M", "F"][rng.below(2) as usize].to_string(),
                        diseases[rng.below(3) as usize].to_string(),
                    ]
                })
                .collect();
            let k = 2 + rng.below(3);
            let limit = [0.0, 0.1, 0.3][rng.below(3) as usize];
            let suppression = ["mask", "drop"][rng.below(2) as usize];
            let diverse = round % 3 == 0;
            let extra = if diverse {
                r#", "sensitive": "disease", "l_diversity": {"kind": "distinct", "l": 2}"#
            } else {
                ""
            };
            let config = format!(
                r#"{{"quasi_identifiers": {{"age": {{"intervals": [5, 10, 20]}},
                    "zip": {{"prefix": true}}, "sex": {{"levels": {{"M": ["*"], "F": ["*"]}}}}}},
                    "k": {k}, "suppression_limit": {limit}, "suppression": "{suppression}"{extra}}}"#
            );
            let j = job(&config);
            let width = if diverse { 4 } else { 3 };
            let columns: Vec<Vec<Option<&str>>> = (0..width)
                .map(|c| rows.iter().map(|r| Some(r[c].as_str())).collect())
                .collect();
            let out = match j.run(&slices(&columns), |_, _| {}) {
                Ok(o) => o,
                Err(e) => {
                    // Only when even full generalization fails.
                    assert!(e.to_string().contains("no transformation"), "{e}");
                    continue;
                }
            };
            // Brute force over the lattice with the same table.
            let ages: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
            let hs = vec![
                Hierarchy::intervals("age", &ages, &[5, 10, 20]).unwrap(),
                Hierarchy::prefix_masking(
                    "zip",
                    &rows.iter().map(|r| r[1].as_str()).collect::<Vec<_>>(),
                )
                .unwrap(),
                Hierarchy::from_rows(
                    "sex",
                    vec![vec!["M".into(), "*".into()], vec!["F".into(), "*".into()]],
                )
                .unwrap(),
            ];
            let qi_rows = rows
                .iter()
                .map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()]);
            let table = if diverse {
                Table::encode_with_sensitive(
                    &["age", "zip", "sex"],
                    hs.clone(),
                    qi_rows,
                    "disease",
                    rows.iter().map(|r| r[3].as_str()),
                )
                .unwrap()
            } else {
                Table::encode(&["age", "zip", "sex"], hs.clone(), qi_rows).unwrap()
            };
            let mut model = Model::new(k as usize, limit).unwrap();
            if diverse {
                model = model
                    .with_l_diversity(crate::kanon::LDiversity::Distinct { l: 2 })
                    .unwrap();
            }
            let mut best = f64::INFINITY;
            for a in 0..hs[0].height() {
                for z in 0..hs[1].height() {
                    for s in 0..hs[2].height() {
                        let v = evaluate_levels(&table, &model, &[a, z, s]).unwrap();
                        if v.anonymous {
                            best = best.min(v.loss);
                        }
                    }
                }
            }
            assert!(
                (out.plan.loss - best).abs() < 1e-6,
                "round {round}: {} vs {best}",
                out.plan.loss
            );
            let levels: Vec<usize> = out
                .plan
                .quasi_identifiers
                .iter()
                .map(|q| q.level.unwrap())
                .collect();
            // Recount classes at the levels from the strings; check each row.
            let general: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    (0..3)
                        .map(|q| generalize(&r[q], &hs[q], levels[q]).unwrap())
                        .collect()
                })
                .collect();
            let mut members: HashMap<&Vec<String>, Vec<usize>> = HashMap::new();
            for (i, g) in general.iter().enumerate() {
                members.entry(g).or_default().push(i);
            }
            let mut suppressed = 0;
            for (g, ids) in &members {
                let distinct: HashSet<&str> = ids.iter().map(|i| rows[*i][3].as_str()).collect();
                let fails = ids.len() < k as usize || (diverse && distinct.len() < 2);
                for i in ids {
                    let released = &out.rows[*i];
                    if fails {
                        suppressed += 1;
                        match suppression {
                            "mask" => assert_eq!(*released, owned(&["*", "*", "*"])),
                            _ => assert_eq!(*released, None),
                        }
                    } else {
                        assert_eq!(released.as_ref(), Some(*g));
                    }
                }
            }
            assert_eq!(suppressed, out.plan.suppressed_rows, "round {round}");
            assert!(suppressed as f64 <= limit * n as f64 + 1e-9);
            assert_eq!(out.risk_after.suppressed_rows, suppressed);
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} rounds had a solution");
    }
}
