//! Loss metrics a search can minimize. Every metric counts a suppressed row as fully
//! generalized (the worst a row can get), so suppression is never free.

use std::fmt;
use std::str::FromStr;

use super::Table;
use crate::error::{Fallible, VeilError};

/// The information loss a search minimizes (config field `metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// Non-uniform entropy in bits (Gionis & Tassa, "k-Anonymization with Minimal Loss of
    /// Information", IEEE TKDE 2009): Σ over rows and attributes of −log2 P(original value |
    /// released value), frequencies over the whole table; a suppressed row releases nothing,
    /// costing −log2 P(original value).
    #[default]
    Entropy,
    /// Generalization loss (Iyengar's loss metric, "Transforming Data to Satisfy Privacy
    /// Constraints", KDD 2002; ARX's "loss"): per cell (leaves under the released value − 1)
    /// / (leaves of the hierarchy − 1), 0 for a one-leaf hierarchy; a suppressed cell costs
    /// 1; averaged over all cells, so in [0, 1].
    GeneralizationLoss,
    /// Discernibility (Bayardo & Agrawal, "Data Privacy through Optimal k-Anonymization",
    /// ICDE 2005): Σ |class|² over released classes + |suppressed rows| · n.
    Discernibility,
    /// Average equivalence class size: n / classes (LeFevre, DeWitt, Ramakrishnan,
    /// "Mondrian Multidimensional k-Anonymity", ICDE 2006, C_AVG without its constant 1/k),
    /// where all suppressed rows together count as one class — the single class they would
    /// form if fully generalized. (Not ARX's normalized variant.)
    AverageClassSize,
    /// Precision loss, 1 − Sweeney's Prec ("Achieving k-Anonymity Privacy Protection Using
    /// Generalization and Suppression", 2002): per cell level / (height − 1), 0 for a
    /// one-level hierarchy; a suppressed cell costs 1; averaged over all cells. Without
    /// suppression it is the mean over attributes of level / max level (data-independent).
    Precision,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Entropy,
        Metric::GeneralizationLoss,
        Metric::Discernibility,
        Metric::AverageClassSize,
        Metric::Precision,
    ];

    /// The config name: `entropy`, `loss`, `discernibility`, `aecs`, `precision`.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Entropy => "entropy",
            Metric::GeneralizationLoss => "loss",
            Metric::Discernibility => "discernibility",
            Metric::AverageClassSize => "aecs",
            Metric::Precision => "precision",
        }
    }

    /// Whether the loss is a per-row sum over attributes (computed from per-attribute
    /// tables) rather than a function of the class sizes.
    fn additive(&self) -> bool {
        matches!(
            self,
            Metric::Entropy | Metric::GeneralizationLoss | Metric::Precision
        )
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = VeilError;

    fn from_str(s: &str) -> Fallible<Self> {
        let lower = s.trim().to_ascii_lowercase();
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == lower)
            .or(match lower.as_str() {
                "non_uniform_entropy" => Some(Metric::Entropy),
                "generalization_loss" | "nmloss" => Some(Metric::GeneralizationLoss),
                "dm" => Some(Metric::Discernibility),
                "average_class_size" => Some(Metric::AverageClassSize),
                "prec" | "height" => Some(Metric::Precision),
                _ => None,
            })
            .ok_or_else(|| {
                VeilError::invalid(
                    "metric",
                    format!(
                        "unknown metric {s:?}; use one of entropy, loss, discernibility, aecs, precision"
                    ),
                )
            })
    }
}

/// Per-metric tables for computing the loss of a transformation and lower bounds of it.
pub(super) struct Loss {
    pub metric: Metric,
    n: f64,
    /// Additive metrics: `total[j][level]` is Σ over rows of the cost of attribute j at
    /// `level` without suppression; `gap[j][level][code]` what suppressing one row whose
    /// value generalizes to `code` adds (full cost − cost at `code`); the loss is `scale` ·
    /// (Σ_j total + Σ_suppressed Σ_j gap).
    total: Vec<Vec<f64>>,
    gap: Vec<Vec<Vec<f64>>>,
    /// Additive metrics: `least_gap[j][from][to][code]` (to ≤ from) is the smallest gap at
    /// level `to` of a value present in the data under `code` at level `from`: what a row
    /// suppressed at `from` costs at least once specialized to `to`.
    least_gap: Vec<Vec<Vec<Vec<f64>>>>,
    scale: f64,
    /// Class-size metrics: distinct codes present in the data per attribute and level, and
    /// distinct tuples (upper bounds on the number of classes).
    present: Vec<Vec<usize>>,
    tuples: usize,
}

impl Loss {
    pub fn new(t: &Table, metric: Metric) -> Self {
        let q = t.hierarchies.len();
        let n = t.rows as f64;
        let mut loss = Loss {
            metric,
            n,
            total: Vec::with_capacity(q),
            gap: Vec::with_capacity(q),
            least_gap: Vec::with_capacity(q),
            scale: 1.0,
            present: Vec::with_capacity(q),
            tuples: t.counts.len(),
        };
        for (j, h) in t.hierarchies.iter().enumerate() {
            let mut base_count = vec![0f64; h.len()];
            for (i, c) in t.counts.iter().enumerate() {
                base_count[t.tuples[i * q + j] as usize] += f64::from(*c);
            }
            let (mut totals, mut gaps, mut present) =
                (Vec::new(), Vec::<Vec<f64>>::new(), Vec::new());
            for level in 0..h.height() {
                // Rows and leaves (original values of the hierarchy) per code.
                let mut group = vec![0f64; h.distinct(level)];
                let mut leaves = vec![0usize; h.distinct(level)];
                for (b, c) in base_count.iter().enumerate() {
                    let code = h.code(level, b as u32) as usize;
                    group[code] += c;
                    leaves[code] += 1;
                }
                present.push(group.iter().filter(|g| **g > 0.0).count());
                // Cost per row of a code (additive metrics other than entropy).
                let cost = |code: usize| -> f64 {
                    match metric {
                        Metric::GeneralizationLoss if h.len() > 1 => {
                            (leaves[code] - 1) as f64 / (h.len() - 1) as f64
                        }
                        Metric::Precision if h.height() > 1 => {
                            level as f64 / (h.height() - 1) as f64
                        }
                        _ => 0.0,
                    }
                };
                match metric {
                    Metric::Entropy => {
                        totals.push(
                            base_count
                                .iter()
                                .enumerate()
                                .filter(|(_, c)| **c > 0.0)
                                .map(|(b, c)| {
                                    -c * (c / group[h.code(level, b as u32) as usize]).log2()
                                })
                                .sum(),
                        );
                        // For a row with original value v, −log2 P(v) − (−log2 P(v | code))
                        // = log2 n − log2 |code|: independent of v, so classes alone
                        // (without their original values) determine the loss.
                        gaps.push(
                            group
                                .iter()
                                .map(|g| if *g > 0.0 { n.log2() - g.log2() } else { 0.0 })
                                .collect(),
                        );
                    }
                    Metric::GeneralizationLoss | Metric::Precision => {
                        totals.push(group.iter().enumerate().map(|(c, g)| g * cost(c)).sum());
                        gaps.push((0..group.len()).map(|c| 1.0 - cost(c)).collect());
                    }
                    Metric::Discernibility | Metric::AverageClassSize => {}
                }
            }
            loss.total.push(totals);
            let least: Vec<Vec<Vec<f64>>> = if metric.additive() {
                (0..h.height())
                    .map(|from| {
                        (0..=from)
                            .map(|to| {
                                let mut m = vec![f64::INFINITY; h.distinct(from)];
                                for (b, c) in base_count.iter().enumerate() {
                                    if *c > 0.0 {
                                        let up = &mut m[h.code(from, b as u32) as usize];
                                        *up = up.min(gaps[to][h.code(to, b as u32) as usize]);
                                    }
                                }
                                m
                            })
                            .collect()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            loss.least_gap.push(least);
            loss.gap.push(gaps);
            loss.present.push(present);
        }
        if matches!(metric, Metric::GeneralizationLoss | Metric::Precision) && n > 0.0 {
            loss.scale = 1.0 / (n * q as f64);
        }
        loss
    }

    /// A lower bound of the loss at `levels` (with or without suppression) that only grows
    /// up the lattice. Exact without suppression for additive metrics: the cost of a cell
    /// grows with its level (the group of a value only grows), and a suppressed cell costs
    /// the most. For class-size metrics it uses the most classes the node can have,
    /// C ≤ min(distinct tuples, Π_j values present at level j): discernibility ≥ n²/C
    /// (Cauchy–Schwarz; a suppressed class costs |E|·n ≥ |E|²) and n / classes ≥ n/C
    /// (the suppressed rows count as one class, replacing at least one).
    pub fn static_bound(&self, levels: &[usize]) -> f64 {
        if self.metric.additive() {
            return self.scale
                * levels
                    .iter()
                    .enumerate()
                    .map(|(j, l)| self.total[j][*l])
                    .sum::<f64>();
        }
        let classes = levels
            .iter()
            .enumerate()
            .try_fold(1usize, |acc, (j, l)| acc.checked_mul(self.present[j][*l]))
            .unwrap_or(usize::MAX)
            .min(self.tuples);
        if classes == 0 {
            return 0.0;
        }
        match self.metric {
            Metric::Discernibility => self.n * self.n / classes as f64,
            _ => self.n / classes as f64,
        }
    }

    /// Whether the loss is exactly [`Loss::static_bound`] when nothing is suppressed.
    pub fn bound_is_exact(&self) -> bool {
        self.metric.additive()
    }

    /// What suppressing one row of the class with `codes` at `levels` adds, before scaling
    /// (additive metrics only).
    #[cfg(test)]
    pub fn row_gap(&self, levels: &[usize], codes: &[u32]) -> f64 {
        codes
            .iter()
            .enumerate()
            .map(|(j, c)| self.gap[j][levels[j]][*c as usize])
            .sum()
    }

    /// Per attribute, the gaps of the codes at `levels`: what suppressing one row adds, before
    /// scaling, is the sum over attributes of its code's entry (additive metrics only).
    pub fn gaps_at(&self, levels: &[usize]) -> Vec<&[f64]> {
        levels
            .iter()
            .enumerate()
            .map(|(j, l)| &self.gap[j][*l][..])
            .collect()
    }

    /// The factor from summed gaps (see [`Loss::gaps_at`]) to the loss.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Per-attribute tallies for [`Loss::gap_sum`] at `levels`, all zero: suppressed rows
    /// per generalized code.
    pub fn gap_counts(&self, levels: &[usize]) -> Vec<Vec<u64>> {
        levels
            .iter()
            .enumerate()
            .map(|(j, l)| vec![0; self.gap[j][*l].len()])
            .collect()
    }

    /// What suppressing the rows tallied in `counts` (see [`Loss::gap_counts`]) adds, before
    /// scaling (additive metrics only). Summed per attribute in code order, so the result
    /// does not depend on the order of the classes.
    pub fn gap_sum(&self, levels: &[usize], counts: &[Vec<u64>]) -> f64 {
        counts
            .iter()
            .enumerate()
            .map(|(j, per_code)| {
                per_code
                    .iter()
                    .zip(&self.gap[j][levels[j]])
                    .map(|(n, gap)| *n as f64 * gap)
                    .sum::<f64>()
            })
            .sum()
    }

    /// Suppression cost forced below `levels` by the rows tallied in `counts` (suppressed at
    /// `levels`, see [`Loss::gap_counts`]): `forced[j][l]` for l ≤ `levels[j]`, scaled, such
    /// that at every specialization with levels m the rows suppressed here (suppressed there
    /// too when suppression is monotone) cost at least Σ_j forced[j][m_j] — each row's value
    /// of attribute j lies under its code here, so its gap at m_j is at least the least gap
    /// under that code. At `levels` itself the sum is the suppression cost (additive metrics
    /// only).
    pub fn forced_below(&self, levels: &[usize], counts: &[Vec<u64>]) -> Vec<Vec<f64>> {
        counts
            .iter()
            .enumerate()
            .map(|(j, per_code)| {
                let from = levels[j];
                (0..=from)
                    .map(|to| {
                        let least = &self.least_gap[j][from][to];
                        self.scale
                            * per_code
                                .iter()
                                .zip(least)
                                .filter(|(n, _)| **n > 0)
                                .map(|(n, g)| *n as f64 * g)
                                .sum::<f64>()
                    })
                    .collect()
            })
            .collect()
    }

    /// The loss and the loss without suppression, from the suppressed rows' summed
    /// [`Loss::gap_sum`] (`gap_sum`), the sizes of kept classes and all classes.
    pub fn finish(&self, levels: &[usize], s: &Tally) -> (f64, f64) {
        match self.metric {
            Metric::Entropy | Metric::GeneralizationLoss | Metric::Precision => {
                let base = self.static_bound(levels);
                (base + self.scale * s.gap_sum, base)
            }
            Metric::Discernibility => {
                (s.squares_kept + s.suppressed as f64 * self.n, s.squares_all)
            }
            Metric::AverageClassSize => {
                let ratio = |classes: usize| {
                    if classes == 0 {
                        0.0
                    } else {
                        self.n / classes as f64
                    }
                };
                (
                    ratio(s.kept + usize::from(s.suppressed > 0)),
                    ratio(s.classes),
                )
            }
        }
    }

    /// Whether [`Loss::gap_sum`] is needed.
    pub fn wants_gaps(&self) -> bool {
        self.metric.additive()
    }
}

/// Sums over a transformation's classes that the loss needs.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub classes: usize,
    pub kept: usize,
    pub suppressed: usize,
    pub gap_sum: f64,
    pub squares_kept: f64,
    pub squares_all: f64,
}
