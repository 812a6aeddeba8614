//! Re-identification risk of a released table, under the three attacker models of
//! El Emam and Dankar:
//!
//! - **Prosecutor**: the attacker knows the target is in the released data and matches the
//!   target's quasi-identifiers against it. A record in an equivalence class of size `f`
//!   is re-identified with probability `1/f` (El Emam & Dankar, "Protecting privacy using
//!   k-anonymity", JAMIA 15(5), 2008).
//! - **Journalist**: the attacker only knows the target is in a population (for example a
//!   voter list) from which the data was drawn. A record whose class matches `F` people of
//!   the population is re-identified with probability `1/F` (same paper; F ≥ f).
//! - **Marketer**: the attacker wants to re-identify as many records as possible and
//!   succeeds on average for `(1/n) Σ_classes f/F` of the n records, which is `J/n` (J
//!   classes) when the population is the data itself (Dankar & El Emam, "A method for
//!   evaluating marketer re-identification risk", EDBT/ICDT Workshops 2010).
//!
//! For prosecutor and journalist, a [`Risk`] gives the average per-record risk, the highest
//! one (the max-risk measure `1/min f` of El Emam's "Guide to the De-Identification of
//! Personal Health Information", 2013) and the share of records whose risk exceeds a
//! threshold (ARX's "records at risk", arx.deidentifier.org, risk analysis).
//!
//! **Without a population**, the journalist risk reported is the prosecutor risk: the data
//! is then its own population (F = f), which is an upper bound of the journalist risk for
//! any population the data could be drawn from (F ≥ f makes 1/F ≤ 1/f). It is conservative,
//! never an underestimate; [`RiskReport::population_given`] says which case applies.
//!
//! **Suppression**: risks are measured on what is released. With [`Suppression::Drop`] the
//! suppressed rows are not counted at all; with [`Suppression::Mask`] they are released with
//! `*` in every quasi-identifier and form one equivalence class (with any class whose
//! generalized values are all `*`): an attacker who knows the target's values and the
//! transformation can tell the target was suppressed, so that class is counted like any
//! other (a handful of suppressed rows makes a small, risky class). Its population
//! counterpart is every member of the population outside the other released classes.

use std::collections::HashMap;

use super::{Hierarchy, Suppression, Table, Transformation, SUPPRESSED};
use crate::error::{Fallible, VeilError};

/// Per-record risks of one attacker model, summarized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Risk {
    /// Mean over records of the per-record risk.
    pub average: f64,
    /// The largest per-record risk (0 without records).
    pub highest: f64,
    /// Share of records whose risk is strictly greater than the threshold (so with
    /// threshold 1/k, a k-anonymous release has none).
    pub records_at_risk: f64,
}

/// Re-identification risks of one release.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskReport {
    /// Records released (all rows with [`Suppression::Mask`], the kept ones with `Drop`).
    pub rows: usize,
    /// Rows in classes smaller than k (masked or dropped).
    pub suppressed_rows: usize,
    /// Equivalence classes among the released records (the masked rows are one).
    pub classes: usize,
    /// Size of the smallest released class (0 without records).
    pub smallest_class: usize,
    /// The threshold of [`Risk::records_at_risk`].
    pub threshold: f64,
    pub prosecutor: Risk,
    /// Equal to `prosecutor` when no population is given (see the module documentation).
    pub journalist: Risk,
    pub population_given: bool,
    /// Expected share of records re-identified by a marketer attacker.
    pub marketer: f64,
}

/// The risks of the raw table and of a transformation of it.
#[derive(Debug, Clone, PartialEq)]
pub struct BeforeAfter {
    /// Levels all 0, nothing suppressed.
    pub before: RiskReport,
    pub after: RiskReport,
}

/// How many people of the population share each combination of original
/// quasi-identifier values; classes of the population are formed with the sample's
/// hierarchies, which must therefore hold every value of the population.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    names: Vec<String>,
    counts: HashMap<Vec<String>, u64>,
    rows: u64,
}

impl Population {
    /// Counts of original value combinations (one value per quasi-identifier, in the order
    /// of `names`), as `GROUP BY qi1, qi2, … , count(*)` over a population table returns
    /// them; repeated combinations add up.
    pub fn from_counts<I, V, S>(names: &[&str], counts: I) -> Fallible<Self>
    where
        I: IntoIterator<Item = (V, u64)>,
        V: AsRef<[S]>,
        S: AsRef<str>,
    {
        if names.is_empty() {
            return Err(VeilError::invalid(
                "population",
                "needs at least one quasi-identifier",
            ));
        }
        let mut out = Population {
            names: names.iter().map(|s| s.to_string()).collect(),
            counts: HashMap::new(),
            rows: 0,
        };
        for (i, (values, count)) in counts.into_iter().enumerate() {
            let values = values.as_ref();
            if values.len() != names.len() {
                return Err(VeilError::invalid(
                    "population",
                    format!(
                        "row {} has {} values, expected {}",
                        i + 1,
                        values.len(),
                        names.len()
                    ),
                ));
            }
            let key = values.iter().map(|v| v.as_ref().to_string()).collect();
            *out.counts.entry(key).or_insert(0) += count;
            out.rows = out.rows.checked_add(count).ok_or_else(|| {
                VeilError::invalid("population", "counts add up to more than 2^64")
            })?;
        }
        Ok(out)
    }

    /// The original rows of a population table encoded like the sample.
    pub fn from_table(t: &Table) -> Self {
        let q = t.hierarchies().len();
        let mut counts = HashMap::new();
        for (i, c) in t.counts.iter().enumerate() {
            let key: Vec<String> = (0..q)
                .map(|j| {
                    let h = &t.hierarchies()[j];
                    h.label(0, h.code(0, t.tuples[i * q + j])).to_string()
                })
                .collect();
            *counts.entry(key).or_insert(0) += u64::from(*c);
        }
        Population {
            names: t.quasi_identifiers().to_vec(),
            counts,
            rows: t.rows() as u64,
        }
    }

    /// People in the population.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// People per class at `levels`, classes formed with `hierarchies`.
    fn classes(
        &self,
        names: &[String],
        hierarchies: &[Hierarchy],
        levels: &[usize],
    ) -> Fallible<HashMap<Vec<u32>, u64>> {
        if self.names != names {
            return Err(VeilError::invalid(
                "population",
                format!(
                    "has quasi-identifiers {:?}, the table has {names:?} (same names, same order)",
                    self.names
                ),
            ));
        }
        let mut out: HashMap<Vec<u32>, u64> = HashMap::new();
        for (values, count) in &self.counts {
            let mut key = Vec::with_capacity(levels.len());
            for (j, v) in values.iter().enumerate() {
                let h = &hierarchies[j];
                let base = h.base_code(v).ok_or_else(|| {
                    VeilError::invalid(
                        format!("hierarchy of {}", names[j]),
                        format!(
                            "has no entry for population value {v:?}: build the hierarchies \
                             over the population's values"
                        ),
                    )
                })?;
                key.push(h.code(levels[j], base));
            }
            *out.entry(key).or_insert(0) += count;
        }
        Ok(out)
    }
}

fn check_threshold(threshold: f64) -> Fallible<()> {
    if !(threshold > 0.0 && threshold <= 1.0) {
        return Err(VeilError::invalid(
            "threshold",
            format!("must be greater than 0 and at most 1, got {threshold}"),
        ));
    }
    Ok(())
}

impl RiskReport {
    /// Risks of released equivalence classes given by their sizes, and optionally the
    /// sizes of the matching population classes (same order, each at least the sample
    /// class's size). `threshold` in (0, 1] is the per-record risk above which a record
    /// counts as at risk. `suppressed_rows` of the result is 0: these are the released
    /// classes.
    pub fn from_classes(
        sizes: &[u64],
        population: Option<&[u64]>,
        threshold: f64,
    ) -> Fallible<Self> {
        check_threshold(threshold)?;
        if let Some(i) = sizes.iter().position(|f| *f == 0) {
            return Err(VeilError::invalid(
                "sizes",
                format!("class {} is empty: classes hold at least one record", i + 1),
            ));
        }
        if let Some(p) = population {
            if p.len() != sizes.len() {
                return Err(VeilError::invalid(
                    "population",
                    format!(
                        "needs one size per class: {} classes, {} population sizes",
                        sizes.len(),
                        p.len()
                    ),
                ));
            }
            if let Some(i) = (0..sizes.len()).find(|i| p[*i] < sizes[*i]) {
                return Err(VeilError::invalid(
                    "population",
                    format!(
                        "class {} has {} records but only {} people in the population: \
                         the data must be drawn from the population",
                        i + 1,
                        sizes[i],
                        p[i]
                    ),
                ));
            }
        }
        let n = sizes
            .iter()
            .try_fold(0u64, |a, f| a.checked_add(*f))
            .ok_or_else(|| VeilError::invalid("sizes", "add up to more than 2^64 records"))?;
        let prosecutor = summarize(sizes, sizes, threshold, n);
        let journalist = match population {
            Some(p) => summarize(sizes, p, threshold, n),
            None => prosecutor,
        };
        Ok(RiskReport {
            rows: n as usize,
            suppressed_rows: 0,
            classes: sizes.len(),
            smallest_class: sizes.iter().min().copied().unwrap_or(0) as usize,
            threshold,
            prosecutor,
            journalist,
            population_given: population.is_some(),
            // With F = f this is J/n; with a population, (1/n) Σ f/F.
            marketer: journalist.average,
        })
    }
}

/// Risk of records in classes of `sizes`, each re-identified with probability
/// 1/`matches` of its class.
fn summarize(sizes: &[u64], matches: &[u64], threshold: f64, n: u64) -> Risk {
    if n == 0 {
        return Risk {
            average: 0.0,
            highest: 0.0,
            records_at_risk: 0.0,
        };
    }
    let (mut expected, mut highest, mut at_risk) = (0f64, 0f64, 0u64);
    for (f, m) in sizes.iter().zip(matches) {
        let r = 1.0 / *m as f64;
        expected += *f as f64 * r;
        highest = highest.max(r);
        if r > threshold {
            at_risk += f;
        }
    }
    Risk {
        average: expected / n as f64,
        highest,
        records_at_risk: at_risk as f64 / n as f64,
    }
}

/// The re-identification risks of `table` released under `transformation` (its
/// quasi-identifiers must be the table's, in order), with records above `threshold` in
/// (0, 1] counted as at risk, and journalist/marketer risks against `population` when one
/// is given.
pub fn risk(
    table: &Table,
    transformation: &Transformation,
    threshold: f64,
    population: Option<&Population>,
) -> Fallible<RiskReport> {
    check_threshold(threshold)?;
    let (names, hierarchies) = (table.quasi_identifiers(), table.hierarchies());
    transformation.check_hierarchies(hierarchies)?;
    if transformation.quasi_identifiers != names {
        return Err(VeilError::invalid(
            "transformation",
            format!(
                "is for quasi-identifiers {:?}, the table has {names:?}",
                transformation.quasi_identifiers
            ),
        ));
    }
    let levels = &transformation.levels;
    let k = transformation.k as u64;
    let mask = transformation.suppression == Suppression::Mask;
    let labels = |key: &[u32]| -> Vec<&str> {
        key.iter()
            .enumerate()
            .map(|(j, c)| hierarchies[j].label(levels[j], *c))
            .collect()
    };
    let pop = population
        .map(|p| p.classes(names, hierarchies, levels))
        .transpose()?;
    let (mut sizes, mut matches) = (Vec::new(), Vec::new());
    let (mut suppressed, mut masked, mut matched_elsewhere) = (0u64, 0u64, 0u64);
    for (key, f) in classes_at(table, levels) {
        if f < k {
            suppressed += f;
            if mask {
                masked += f;
            }
        } else if mask && labels(&key).iter().all(|l| *l == SUPPRESSED) {
            masked += f;
        } else {
            let m = pop
                .as_ref()
                .map_or(f, |p| p.get(&key).copied().unwrap_or(0));
            if m < f {
                return Err(VeilError::invalid(
                    "population",
                    format!(
                        "has {m} people in class {:?} at levels {levels:?}, which holds {f} \
                         records: the table must be drawn from the population",
                        labels(&key)
                    ),
                ));
            }
            matched_elsewhere += m;
            sizes.push(f);
            matches.push(m);
        }
    }
    if masked > 0 {
        // Masked records match everyone outside the other released classes.
        let m = population.map_or(masked, |p| p.rows.saturating_sub(matched_elsewhere));
        if m < masked {
            return Err(VeilError::invalid(
                "population",
                format!(
                    "has {m} people outside the released classes but {masked} records are \
                     masked: the table must be drawn from the population"
                ),
            ));
        }
        sizes.push(masked);
        matches.push(m);
    }
    let mut report = RiskReport::from_classes(
        &sizes,
        population.is_some().then_some(&matches[..]),
        threshold,
    )?;
    report.suppressed_rows = suppressed as usize;
    Ok(report)
}

/// [`risk`] of the raw table (levels all 0, nothing suppressed) and of `transformation`.
pub fn risk_before_and_after(
    table: &Table,
    transformation: &Transformation,
    threshold: f64,
    population: Option<&Population>,
) -> Fallible<BeforeAfter> {
    let after = risk(table, transformation, threshold, population)?;
    let raw = Transformation {
        levels: vec![0; transformation.levels.len()],
        k: 1,
        ..transformation.clone()
    };
    Ok(BeforeAfter {
        before: risk(table, &raw, threshold, population)?,
        after,
    })
}

/// Rows per equivalence class of `t` at `levels` (keys: generalized codes), sorted by key
/// so that sums come out the same on every run.
fn classes_at(t: &Table, levels: &[usize]) -> Vec<(Vec<u32>, u64)> {
    let q = levels.len();
    let mut sizes: HashMap<Vec<u32>, u64> = HashMap::new();
    for (i, c) in t.counts.iter().enumerate() {
        let key = (0..q)
            .map(|j| t.hierarchies()[j].code(levels[j], t.tuples[i * q + j]))
            .collect();
        *sizes.entry(key).or_insert(0) += u64::from(*c);
    }
    let mut out: Vec<(Vec<u32>, u64)> = sizes.into_iter().collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kanon::generalize;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn from_classes_by_hand() {
        // Classes of 1, 2, 3 and 4 records: n = 10, J = 4.
        let r = RiskReport::from_classes(&[1, 2, 3, 4], None, 0.3).unwrap();
        assert_eq!((r.rows, r.classes, r.smallest_class), (10, 4, 1));
        assert!(close(r.prosecutor.average, 0.4));
        assert!(close(r.prosecutor.highest, 1.0));
        // 1/1, 1/2 and 1/3 exceed 0.3: 1 + 2 + 3 records.
        assert!(close(r.prosecutor.records_at_risk, 0.6));
        assert_eq!(r.journalist, r.prosecutor);
        assert!(!r.population_given);
        assert!(close(r.marketer, 0.4));
        // Risk exactly at the threshold is not above it.
        let r = RiskReport::from_classes(&[1, 2, 3, 4], None, 0.5).unwrap();
        assert!(close(r.prosecutor.records_at_risk, 0.1));
        let r = RiskReport::from_classes(&[5, 5], None, 0.2).unwrap();
        assert!(close(r.prosecutor.records_at_risk, 0.0));

        // Population classes of 2, 4, 6 and 40 people.
        let r = RiskReport::from_classes(&[1, 2, 3, 4], Some(&[2, 4, 6, 40]), 0.2).unwrap();
        assert!(r.population_given);
        assert!(close(r.journalist.highest, 0.5));
        // (1/2 + 2/4 + 3/6 + 4/40) / 10
        assert!(close(r.journalist.average, 0.16));
        assert!(close(r.marketer, 0.16));
        // 1/2 and 1/4 exceed 0.2: 1 + 2 records.
        assert!(close(r.journalist.records_at_risk, 0.3));
        assert!(close(r.prosecutor.average, 0.4));

        let empty = RiskReport::from_classes(&[], None, 0.5).unwrap();
        assert_eq!((empty.rows, empty.smallest_class), (0, 0));
        assert!(close(empty.prosecutor.highest, 0.0) && close(empty.marketer, 0.0));
    }

    #[test]
    fn from_classes_refuses_bad_input() {
        let err = |s: &[u64], p: Option<&[u64]>, t: f64| {
            RiskReport::from_classes(s, p, t).unwrap_err().to_string()
        };
        for t in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(err(&[1], None, t).contains("`threshold`"), "{t}");
        }
        assert!(RiskReport::from_classes(&[1], None, 1.0).is_ok());
        assert!(err(&[1, 0], None, 0.5).contains("class 2 is empty"));
        assert!(err(&[u64::MAX, 1], None, 0.5).contains("`sizes`"));
        assert!(err(&[1, 2], Some(&[1]), 0.5).contains("one size per class"));
        let e = err(&[1, 2], Some(&[1, 1]), 0.5);
        assert!(e.contains("class 2 has 2 records but only 1 people"), "{e}");
    }

    /// zip (prefix masking over the population's zips) and sex.
    fn hierarchies() -> Vec<Hierarchy> {
        vec![
            Hierarchy::prefix_masking("zip", &["13053", "13068", "14850", "14853"]).unwrap(),
            Hierarchy::from_rows(
                "sex",
                vec![vec!["F".into(), "*".into()], vec!["M".into(), "*".into()]],
            )
            .unwrap(),
        ]
    }

    const SAMPLE: [[&str; 2]; 6] = [
        ["13053", "F"],
        ["13053", "F"],
        ["13068", "M"],
        ["13068", "M"],
        ["13068", "F"],
        ["14850", "M"],
    ];

    fn sample() -> Table {
        Table::encode(&["zip", "sex"], hierarchies(), SAMPLE).unwrap()
    }

    fn population() -> Population {
        let row = |z: &str, s: &str, c: u64| (vec![z.to_string(), s.to_string()], c);
        Population::from_counts(
            &["zip", "sex"],
            vec![
                row("13053", "F", 4),
                row("13068", "M", 3),
                row("13068", "F", 1),
                row("14850", "M", 2),
                row("14853", "F", 10),
            ],
        )
        .unwrap()
    }

    fn transformation(levels: &[usize], k: usize, s: Suppression) -> Transformation {
        Transformation::new(vec!["zip".into(), "sex".into()], levels.to_vec(), k, s).unwrap()
    }

    #[test]
    fn table_risk_by_hand() {
        let t = sample();
        // Raw: classes (13053,F)=2, (13068,M)=2, (13068,F)=1, (14850,M)=1.
        let raw = risk(
            &t,
            &transformation(&[0, 0], 1, Suppression::Mask),
            0.5,
            None,
        )
        .unwrap();
        assert_eq!((raw.rows, raw.classes, raw.suppressed_rows), (6, 4, 0));
        assert!(close(raw.prosecutor.average, 4.0 / 6.0));
        assert!(close(raw.prosecutor.highest, 1.0));
        assert!(close(raw.prosecutor.records_at_risk, 2.0 / 6.0));
        assert!(close(raw.marketer, 4.0 / 6.0));

        // zip 130**/148**, sex *, k = 2: (130**,*) = 5 rows, row 6 suppressed.
        let masked = risk(
            &t,
            &transformation(&[2, 1], 2, Suppression::Mask),
            0.5,
            None,
        )
        .unwrap();
        assert_eq!(
            (masked.rows, masked.classes, masked.suppressed_rows),
            (6, 2, 1)
        );
        // The masked row is a class of its own, of size 1.
        assert!(close(masked.prosecutor.highest, 1.0));
        assert!(close(masked.prosecutor.average, 2.0 / 6.0));
        assert!(close(masked.prosecutor.records_at_risk, 1.0 / 6.0));
        let dropped = risk(
            &t,
            &transformation(&[2, 1], 2, Suppression::Drop),
            0.5,
            None,
        )
        .unwrap();
        assert_eq!(
            (dropped.rows, dropped.classes, dropped.suppressed_rows),
            (5, 1, 1)
        );
        assert!(close(dropped.prosecutor.highest, 0.2));
        assert!(close(dropped.prosecutor.average, 0.2));
        assert!(close(dropped.prosecutor.records_at_risk, 0.0));

        // Everything at the top: one all-`*` class of 6; with k = 7 all rows are masked
        // and that is still one class of 6, not two.
        for k in [1, 7] {
            let top = risk(
                &t,
                &transformation(&[5, 1], k, Suppression::Mask),
                0.5,
                None,
            )
            .unwrap();
            assert_eq!((top.classes, top.smallest_class), (1, 6), "k={k}");
            assert!(close(top.prosecutor.highest, 1.0 / 6.0));
        }
        let none = risk(
            &t,
            &transformation(&[5, 1], 7, Suppression::Drop),
            0.5,
            None,
        )
        .unwrap();
        assert_eq!((none.rows, none.suppressed_rows), (0, 6));
        assert!(close(none.prosecutor.highest, 0.0));
    }

    #[test]
    fn masked_rows_join_a_released_all_star_class() {
        // Level 1 generalizes a and b to `*` and keeps c.
        let h = Hierarchy::from_rows(
            "x",
            vec![
                vec!["a".into(), "*".into()],
                vec!["b".into(), "*".into()],
                vec!["c".into(), "c".into()],
            ],
        )
        .unwrap();
        let t = Table::encode(&["x"], vec![h], [["a"], ["b"], ["c"]]).unwrap();
        let tr = |s| Transformation::new(vec!["x".into()], vec![1], 2, s).unwrap();
        // Classes `*` = {a, b} (kept) and c (suppressed): masked, c looks like a and b.
        let masked = risk(&t, &tr(Suppression::Mask), 0.5, None).unwrap();
        assert_eq!(
            (
                masked.classes,
                masked.smallest_class,
                masked.suppressed_rows
            ),
            (1, 3, 1)
        );
        assert!(close(masked.prosecutor.highest, 1.0 / 3.0));
        let dropped = risk(&t, &tr(Suppression::Drop), 0.5, None).unwrap();
        assert_eq!(
            (dropped.rows, dropped.classes, dropped.smallest_class),
            (2, 1, 2)
        );
        // Against a population of a, b, c, c, d-less: the `*` records match all 4 people.
        let p = Population::from_counts(&["x"], vec![(["a"], 1), (["b"], 1), (["c"], 2)]).unwrap();
        let masked = risk(&t, &tr(Suppression::Mask), 0.5, Some(&p)).unwrap();
        assert!(close(masked.journalist.highest, 0.25));
        let dropped = risk(&t, &tr(Suppression::Drop), 0.5, Some(&p)).unwrap();
        assert!(close(dropped.journalist.highest, 0.5));
    }

    #[test]
    fn journalist_and_marketer_with_a_population_by_hand() {
        let t = sample();
        let p = population();
        assert_eq!(p.rows(), 20);
        // Raw: f/F = 2/4, 2/3, 1/1, 1/2.
        let raw = risk(
            &t,
            &transformation(&[0, 0], 1, Suppression::Mask),
            0.3,
            Some(&p),
        )
        .unwrap();
        assert!(raw.population_given);
        assert!(close(raw.journalist.highest, 1.0));
        assert!(close(
            raw.journalist.average,
            (0.5 + 2.0 / 3.0 + 1.0 + 0.5) / 6.0
        ));
        assert!(close(raw.marketer, raw.journalist.average));
        // 1/3, 1/1 and 1/2 exceed 0.3: 2 + 1 + 1 records.
        assert!(close(raw.journalist.records_at_risk, 4.0 / 6.0));
        // The prosecutor risk does not depend on the population.
        assert!(close(raw.prosecutor.average, 4.0 / 6.0));

        // (130**,*): f = 5, F = 4 + 3 + 1 = 8. The masked row matches the 12 others.
        let masked = risk(
            &t,
            &transformation(&[2, 1], 2, Suppression::Mask),
            0.1,
            Some(&p),
        )
        .unwrap();
        assert!(close(masked.journalist.highest, 1.0 / 8.0));
        assert!(close(
            masked.journalist.average,
            (5.0 / 8.0 + 1.0 / 12.0) / 6.0
        ));
        assert!(close(masked.journalist.records_at_risk, 5.0 / 6.0));
        let dropped = risk(
            &t,
            &transformation(&[2, 1], 2, Suppression::Drop),
            0.1,
            Some(&p),
        )
        .unwrap();
        assert!(close(dropped.journalist.average, 1.0 / 8.0));
        assert!(close(dropped.marketer, 1.0 / 8.0));

        // The same through a population Table.
        let mut rows = Vec::new();
        for (values, c) in &p.counts {
            for _ in 0..*c {
                rows.push([values[0].as_str(), values[1].as_str()]);
            }
        }
        let pt = Table::encode(&["zip", "sex"], hierarchies(), rows).unwrap();
        let again = risk(
            &t,
            &transformation(&[2, 1], 2, Suppression::Mask),
            0.1,
            Some(&Population::from_table(&pt)),
        )
        .unwrap();
        assert_eq!(again, masked);
    }

    #[test]
    fn population_errors_name_the_problem() {
        let t = sample();
        let tr = transformation(&[0, 0], 1, Suppression::Mask);
        let row = |z: &str, s: &str, c: u64| (vec![z.to_string(), s.to_string()], c);
        // 13068 F is missing from this population.
        let p = Population::from_counts(
            &["zip", "sex"],
            vec![
                row("13053", "F", 4),
                row("13068", "M", 3),
                row("14850", "M", 2),
            ],
        )
        .unwrap();
        let e = risk(&t, &tr, 0.5, Some(&p)).unwrap_err().to_string();
        assert!(e.contains("`population`"), "{e}");
        assert!(
            e.contains("has 0 people in class [\"13068\", \"F\"]"),
            "{e}"
        );
        assert!(e.contains("which holds 1 records"), "{e}");
        let p = Population::from_counts(&["zip", "sex"], vec![row("99999", "F", 4)]).unwrap();
        let e = risk(&t, &tr, 0.5, Some(&p)).unwrap_err().to_string();
        assert!(
            e.contains("hierarchy of zip") && e.contains("\"99999\""),
            "{e}"
        );
        let p = Population::from_counts(&["sex", "zip"], vec![row("F", "13053", 4)]).unwrap();
        let e = risk(&t, &tr, 0.5, Some(&p)).unwrap_err().to_string();
        assert!(e.contains("same order"), "{e}");
        assert!(Population::from_counts(&["zip", "sex"], vec![(vec!["1"], 1)]).is_err());
        let names: [&str; 0] = [];
        assert!(Population::from_counts(&names, Vec::<(Vec<&str>, u64)>::new()).is_err());
        // A transformation for other columns.
        let other = Transformation::new(
            vec!["sex".into(), "zip".into()],
            vec![0, 0],
            1,
            Suppression::Mask,
        )
        .unwrap();
        assert!(risk(&t, &other, 0.5, None)
            .unwrap_err()
            .to_string()
            .contains("`transformation`"));
        assert!(risk(&t, &tr, 0.0, None).is_err());
    }

    #[test]
    fn before_and_after() {
        let t = sample();
        let ba = risk_before_and_after(
            &t,
            &transformation(&[2, 1], 2, Suppression::Drop),
            0.5,
            Some(&population()),
        )
        .unwrap();
        assert_eq!(
            ba.before,
            risk(
                &t,
                &transformation(&[0, 0], 1, Suppression::Drop),
                0.5,
                Some(&population())
            )
            .unwrap()
        );
        assert_eq!((ba.before.classes, ba.before.suppressed_rows), (4, 0));
        assert_eq!((ba.after.classes, ba.after.suppressed_rows), (1, 1));
        assert!(ba.after.prosecutor.highest < ba.before.prosecutor.highest);
    }

    /// xorshift64*: a small deterministic generator for the property test.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
        }
    }

    /// Risks from the definitions, record by record, on the strings that
    /// `Transformation::apply` releases (and `generalize` for the population).
    fn brute_force(
        hs: &[Hierarchy],
        rows: &[[String; 2]],
        tr: &Transformation,
        population: &[[String; 2]],
        threshold: f64,
    ) -> (Risk, Risk, f64, usize, usize) {
        let input: Vec<[&str; 2]> = rows
            .iter()
            .map(|r| [r[0].as_str(), r[1].as_str()])
            .collect();
        let released: Vec<Vec<String>> = tr
            .apply(hs, &input)
            .unwrap()
            .rows
            .into_iter()
            .flatten()
            .collect();
        let masked = vec![SUPPRESSED.to_string(); 2];
        let general: Vec<Vec<String>> = population
            .iter()
            .map(|p| {
                (0..2)
                    .map(|j| generalize(&p[j], &hs[j], tr.levels[j]).unwrap())
                    .collect()
            })
            .collect();
        // Nothing released, nothing at risk.
        let n = (released.len() as f64).max(1.0);
        let (mut pros, mut jour) = (Vec::new(), Vec::new());
        for r in &released {
            let f = released.iter().filter(|x| *x == r).count();
            let big_f = if tr.suppression == Suppression::Mask && *r == masked {
                // Everyone who matches no other released record.
                general
                    .iter()
                    .filter(|g| **g == masked || !released.contains(g))
                    .count()
            } else {
                general.iter().filter(|g| *g == r).count()
            };
            pros.push(1.0 / f as f64);
            jour.push(1.0 / big_f as f64);
        }
        let sum = |v: &[f64]| Risk {
            average: v.iter().sum::<f64>() / n,
            highest: v.iter().copied().fold(0.0, f64::max),
            records_at_risk: v.iter().filter(|r| **r > threshold).count() as f64 / n,
        };
        let mut distinct = released.clone();
        distinct.sort();
        distinct.dedup();
        let all_star = released.iter().filter(|r| **r == masked).count();
        (
            sum(&pros),
            sum(&jour),
            sum(&jour).average,
            distinct.len(),
            all_star,
        )
    }

    #[test]
    fn matches_brute_force_on_random_tables() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let zips = ["13053", "13068", "13099", "14850", "14853", "20001"];
        let cities = ["a", "b", "c", "d", "e"];
        let (mut checked, mut suppressing, mut merged) = (0, 0, 0);
        for round in 0..100 {
            // zip: prefix masking whose top level is `*`; city: level 1 makes a and b `*`
            // and groups c, d and e, level 2 `*`; so all-`*` classes also occur below the
            // top of the lattice.
            let hs = vec![
                Hierarchy::from_rows(
                    "zip",
                    zips.iter()
                        .map(|z| {
                            let mut row: Vec<String> = (0..5)
                                .map(|i| format!("{}{}", &z[..5 - i], "*".repeat(i)))
                                .collect();
                            row.push("*".into());
                            row
                        })
                        .collect(),
                )
                .unwrap(),
                Hierarchy::from_rows(
                    "city",
                    cities
                        .iter()
                        .map(|c| {
                            let g = if *c < "c" { "*" } else { "cde" };
                            vec![c.to_string(), g.to_string(), "*".to_string()]
                        })
                        .collect(),
                )
                .unwrap(),
            ];
            let person = |rng: &mut Rng| {
                [
                    zips[rng.below(zips.len() as u64) as usize].to_string(),
                    // a and b three times as likely as c, d and e together.
                    cities[if rng.below(4) < 3 {
                        rng.below(2)
                    } else {
                        2 + rng.below(3)
                    } as usize]
                        .to_string(),
                ]
            };
            let population: Vec<[String; 2]> =
                (0..20 + rng.below(60)).map(|_| person(&mut rng)).collect();
            // The sample: a random subset of the population.
            let sample: Vec<[String; 2]> = population
                .iter()
                .filter(|_| rng.below(3) == 0)
                .cloned()
                .collect();
            if sample.is_empty() {
                continue;
            }
            let input: Vec<[&str; 2]> = sample
                .iter()
                .map(|r| [r[0].as_str(), r[1].as_str()])
                .collect();
            let t = Table::encode(&["zip", "city"], hs.clone(), &input).unwrap();
            let pop = Population::from_counts(
                &["zip", "city"],
                population.iter().map(|p| (p.clone(), 1)),
            )
            .unwrap();
            for zl in 0..6 {
                for cl in 0..3 {
                    let k = 1 + rng.below(4) as usize;
                    let s = if round % 2 == 0 {
                        Suppression::Mask
                    } else {
                        Suppression::Drop
                    };
                    let tr =
                        Transformation::new(vec!["zip".into(), "city".into()], vec![zl, cl], k, s)
                            .unwrap();
                    let threshold = [0.1, 0.25, 0.5, 1.0][rng.below(4) as usize];
                    let got = risk(&t, &tr, threshold, Some(&pop)).unwrap();
                    let (pros, jour, marketer, classes, all_star) =
                        brute_force(&hs, &sample, &tr, &population, threshold);
                    let same = |a: Risk, b: Risk| {
                        close(a.average, b.average)
                            && close(a.highest, b.highest)
                            && close(a.records_at_risk, b.records_at_risk)
                    };
                    assert!(same(got.prosecutor, pros), "{tr:?}: {got:?} vs {pros:?}");
                    assert!(same(got.journalist, jour), "{tr:?}: {got:?} vs {jour:?}");
                    assert!(close(got.marketer, marketer));
                    assert_eq!(got.classes, classes, "{tr:?}");
                    let without = risk(&t, &tr, threshold, None).unwrap();
                    assert_eq!(without.journalist, without.prosecutor);
                    assert_eq!(without.prosecutor, got.prosecutor);
                    // Journalist risk never exceeds prosecutor risk.
                    assert!(got.journalist.highest <= got.prosecutor.highest + 1e-12);
                    assert!(got.journalist.average <= got.prosecutor.average + 1e-12);
                    checked += 1;
                    suppressing += usize::from(got.suppressed_rows > 0 && got.rows > 0);
                    merged += usize::from(
                        s == Suppression::Mask
                            && got.suppressed_rows > 0
                            && all_star > got.suppressed_rows,
                    );
                }
            }
        }
        assert!(
            checked > 1000 && suppressing > 300 && merged > 8,
            "{checked} {suppressing} {merged}"
        );
    }
}
