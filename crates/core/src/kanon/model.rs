//! What a search must satisfy: k-anonymity with a suppression limit, optionally combined with
//! l-diversity or t-closeness of a sensitive column, and the loss metric it minimizes.
//!
//! * l-diversity: Machanavajjhala, Kifer, Gehrke, Venkitasubramaniam, "l-Diversity: Privacy
//!   Beyond k-Anonymity", ACM TKDD 1(1), 2007 (distinct, entropy and recursive (c, l)).
//! * t-closeness: Li, Li, Venkatasubramanian, "t-Closeness: Privacy Beyond k-Anonymity and
//!   l-Diversity", ICDE 2007 (Earth Mover's Distance with equal or ordered ground distance).
//!
//! A class that violates any criterion is suppressed, counting against the suppression limit
//! like a class smaller than k.

use super::{Metric, Table};
use crate::error::{Fallible, VeilError};

/// l-diversity of the sensitive values within every released equivalence class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LDiversity {
    /// At least `l` distinct sensitive values.
    Distinct { l: usize },
    /// The entropy of the sensitive values is at least log2 `l` (`l` a real number > 1).
    Entropy { l: f64 },
    /// Recursive (c, l)-diversity: r1 < c · (r_l + r_{l+1} + … + r_m), r_i the i-th largest
    /// count of a sensitive value in the class.
    Recursive { c: f64, l: usize },
}

impl LDiversity {
    pub fn distinct(l: usize) -> Fallible<Self> {
        Self::Distinct { l }.validated()
    }

    pub fn entropy(l: f64) -> Fallible<Self> {
        Self::Entropy { l }.validated()
    }

    pub fn recursive(c: f64, l: usize) -> Fallible<Self> {
        Self::Recursive { c, l }.validated()
    }

    fn validated(self) -> Fallible<Self> {
        match self {
            LDiversity::Distinct { l } | LDiversity::Recursive { l, .. } if l < 1 => Err(
                VeilError::invalid("l", format!("must be at least 1, got {l}")),
            ),
            LDiversity::Entropy { l } if !(l.is_finite() && l > 1.0) => Err(VeilError::invalid(
                "l",
                format!("entropy l-diversity needs a finite real number greater than 1, got {l}"),
            )),
            LDiversity::Recursive { c, .. } if !(c.is_finite() && c > 0.0) => {
                Err(VeilError::invalid(
                    "c",
                    format!("must be a finite number greater than 0, got {c}"),
                ))
            }
            ok => Ok(ok),
        }
    }

    /// Every variant needs at least this many distinct values in a class (entropy: the
    /// entropy of m values is at most log2 m; recursive: r_l + … + r_m is 0 with fewer than
    /// l values, so r1 < 0 fails).
    fn min_distinct(&self) -> f64 {
        match *self {
            LDiversity::Distinct { l } | LDiversity::Recursive { l, .. } => l as f64,
            LDiversity::Entropy { l } => l,
        }
    }
}

/// The ground distance of the Earth Mover's Distance between a class's sensitive values and
/// the whole table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroundDistance {
    /// Every two values at distance 1: EMD = ½ Σ |p_i − q_i| (total variation).
    Equal,
    /// Values in a total order v_1 < … < v_m at distance |i − j| / (m − 1):
    /// EMD = 1/(m − 1) · Σ_i |Σ_{j ≤ i} (p_j − q_j)|. Numeric values are ordered numerically,
    /// others by [`Table::with_sensitive_order`].
    Ordered,
}

/// t-closeness: the EMD between every released class's sensitive distribution and the
/// distribution over the whole table (all rows, suppressed ones included) is at most `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TCloseness {
    pub t: f64,
    pub distance: GroundDistance,
}

impl TCloseness {
    pub fn new(t: f64, distance: GroundDistance) -> Fallible<Self> {
        TCloseness { t, distance }.validated()
    }

    fn validated(self) -> Fallible<Self> {
        if !(0.0..=1.0).contains(&self.t) {
            return Err(VeilError::invalid(
                "t",
                format!("must be between 0 and 1, got {}", self.t),
            ));
        }
        Ok(self)
    }
}

/// The privacy model of a search and the loss it minimizes. Build it with [`Model::new`]
/// (k-anonymity, non-uniform entropy) and the `with_*` methods, which validate; a search
/// validates the fields again, since they are public.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    /// Minimum class size (1 for l-diversity or t-closeness alone).
    pub k: usize,
    /// Rows that may be suppressed, as a fraction of all rows in [0, 1]
    /// (config field `suppression_limit`).
    pub max_suppression: f64,
    pub l_diversity: Option<LDiversity>,
    pub t_closeness: Option<TCloseness>,
    pub metric: Metric,
}

/// The k-anonymity-only name of [`Model`], kept for existing callers.
pub type KAnonymity = Model;

impl Model {
    /// k-anonymity with a suppression limit, minimizing non-uniform entropy.
    pub fn new(k: usize, max_suppression: f64) -> Fallible<Self> {
        Model {
            k,
            max_suppression,
            l_diversity: None,
            t_closeness: None,
            metric: Metric::Entropy,
        }
        .validated()
    }

    pub fn with_l_diversity(self, l: LDiversity) -> Fallible<Self> {
        Model {
            l_diversity: Some(l.validated()?),
            ..self
        }
        .validated()
    }

    pub fn with_t_closeness(self, t: TCloseness) -> Fallible<Self> {
        Model {
            t_closeness: Some(t.validated()?),
            ..self
        }
        .validated()
    }

    pub fn with_metric(self, metric: Metric) -> Self {
        Model { metric, ..self }
    }

    /// Checks every field (the errors name the config fields `k`, `suppression_limit`, `l`,
    /// `c`, `t`).
    pub fn validated(self) -> Fallible<Self> {
        if self.k < 1 {
            return Err(VeilError::invalid(
                "k",
                format!("must be at least 1, got {}", self.k),
            ));
        }
        if !(0.0..=1.0).contains(&self.max_suppression) {
            return Err(VeilError::invalid(
                "suppression_limit",
                format!("must be between 0 and 1, got {}", self.max_suppression),
            ));
        }
        if let Some(l) = self.l_diversity {
            l.validated()?;
        }
        if let Some(t) = self.t_closeness {
            t.validated()?;
        }
        Ok(self)
    }

    /// Rows that may be suppressed in a table of `rows` rows.
    pub fn suppression_limit(&self, rows: usize) -> usize {
        (self.max_suppression * rows as f64 + 1e-9).floor() as usize
    }

    /// Whether a class that fails the model after generalization is made only of classes
    /// that failed it before: true for k and distinct l-diversity (a merged class is smaller
    /// than k, or has fewer than l values, only if every part is), so the rows suppressed
    /// never grow up the lattice. Not for entropy or recursive l-diversity or t-closeness:
    /// merging a failing class into a passing one can make the union fail.
    pub fn suppression_monotone(&self) -> bool {
        self.t_closeness.is_none()
            && matches!(self.l_diversity, None | Some(LDiversity::Distinct { .. }))
    }

    pub(super) fn describe(&self) -> String {
        let mut s = format!("{}-anonymous", self.k);
        match self.l_diversity {
            Some(LDiversity::Distinct { l }) => s += &format!(", distinct {l}-diverse"),
            Some(LDiversity::Entropy { l }) => s += &format!(", entropy {l}-diverse"),
            Some(LDiversity::Recursive { c, l }) => s += &format!(", recursive ({c}, {l})-diverse"),
            None => {}
        }
        if let Some(t) = self.t_closeness {
            let d = match t.distance {
                GroundDistance::Equal => "equal",
                GroundDistance::Ordered => "ordered",
            };
            s += &format!(", {}-close ({d} distance)", t.t);
        }
        s
    }
}

/// Sensitive-value histograms of a list of classes (compressed rows: class `i` has the
/// entries `start[i]..start[i + 1]` of `codes`/`counts`, each code once, counts > 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Hist {
    pub start: Vec<u32>,
    pub codes: Vec<u32>,
    pub counts: Vec<u32>,
}

impl Hist {
    pub fn entries(&self, i: usize) -> (&[u32], &[u32]) {
        let (a, b) = (self.start[i] as usize, self.start[i + 1] as usize);
        (&self.codes[a..b], &self.counts[a..b])
    }

    /// Histograms after grouping: old class `i` becomes class `assign[i]` of `classes`;
    /// `values` is the number of sensitive codes.
    pub fn merge(&self, assign: &[u32], classes: usize, values: usize) -> Hist {
        // Bucket the old entries by new class, then add up equal codes with a dense scratch.
        let mut pos = vec![0u32; classes + 1];
        for (i, a) in assign.iter().enumerate() {
            pos[*a as usize + 1] += self.start[i + 1] - self.start[i];
        }
        for c in 0..classes {
            pos[c + 1] += pos[c];
        }
        let total = pos[classes] as usize;
        let mut codes = vec![0u32; total];
        let mut counts = vec![0u32; total];
        let mut fill = pos.clone();
        for (i, a) in assign.iter().enumerate() {
            let (cs, ns) = self.entries(i);
            let at = &mut fill[*a as usize];
            for (c, n) in cs.iter().zip(ns) {
                codes[*at as usize] = *c;
                counts[*at as usize] = *n;
                *at += 1;
            }
        }
        let mut out = Hist {
            start: Vec::with_capacity(classes + 1),
            codes: Vec::with_capacity(total),
            counts: Vec::with_capacity(total),
        };
        out.start.push(0);
        let mut dense = vec![0u32; values];
        for c in 0..classes {
            let from = out.codes.len();
            for e in pos[c] as usize..pos[c + 1] as usize {
                let code = codes[e];
                if dense[code as usize] == 0 {
                    out.codes.push(code);
                }
                dense[code as usize] += counts[e];
            }
            for e in from..out.codes.len() {
                let code = out.codes[e] as usize;
                out.counts.push(dense[code]);
                dense[code] = 0;
            }
            out.start.push(out.codes.len() as u32);
        }
        out
    }
}

/// The model's verdict on one class.
#[derive(Debug, Clone, Copy)]
pub(super) struct Verdict {
    /// Satisfies every criterion.
    pub keep: bool,
    /// Satisfies the criteria whose suppressed rows never grow up the lattice: size ≥ k and
    /// at least as many distinct values as the l-diversity variant needs. Failing them
    /// implies failing the model.
    pub keep_monotone: bool,
    /// The l achieved (distinct values, 2^entropy, or the largest l of recursive (c, l)).
    pub l: f64,
    /// The EMD to the table's distribution.
    pub t: f64,
}

/// Applies a [`Model`] to classes of one table.
pub(super) struct Checker {
    pub k: u32,
    pub limit: usize,
    pub l: Option<LDiversity>,
    pub t: Option<TCloseness>,
    /// Rows per sensitive code over the whole table, and all rows.
    totals: Vec<u64>,
    rows: u64,
    /// Ordered distance: position of each code, rows per position, number of positions.
    rank: Vec<u32>,
    rank_totals: Vec<u64>,
    /// Scratch for ordered EMD (class rows per position) and recursive (sorted counts).
    scratch: Vec<u64>,
    sorted: Vec<u32>,
}

impl Checker {
    pub fn new(model: &Model, t: &Table) -> Fallible<Self> {
        let model = model.validated()?;
        let mut c = Checker {
            // A k beyond u32 exceeds every class size (sizes are u32).
            k: u32::try_from(model.k).unwrap_or(u32::MAX),
            limit: model.suppression_limit(t.rows()),
            l: model.l_diversity,
            t: model.t_closeness,
            totals: Vec::new(),
            rows: t.rows() as u64,
            rank: Vec::new(),
            rank_totals: Vec::new(),
            scratch: Vec::new(),
            sorted: Vec::new(),
        };
        if !c.needs_histograms() {
            return Ok(c);
        }
        let Some(s) = t.sensitive.as_ref() else {
            return Err(VeilError::invalid(
                "sensitive",
                "l-diversity and t-closeness need a sensitive column (Table::encode_with_sensitive)",
            ));
        };
        c.totals = s.totals.clone();
        if matches!(
            c.t,
            Some(TCloseness {
                distance: GroundDistance::Ordered,
                ..
            })
        ) {
            let (rank, positions) = s.order()?;
            c.rank_totals = vec![0; positions];
            for (code, n) in s.totals.iter().enumerate() {
                c.rank_totals[rank[code] as usize] += n;
            }
            c.rank = rank;
            c.scratch = vec![0; positions];
        }
        Ok(c)
    }

    pub fn needs_histograms(&self) -> bool {
        self.l.is_some() || self.t.is_some()
    }

    /// The verdict on a class of `size` rows with sensitive histogram `codes`/`counts`
    /// (ignored without l-diversity and t-closeness).
    pub fn verdict(&mut self, size: u32, codes: &[u32], counts: &[u32]) -> Verdict {
        let mut v = Verdict {
            keep: size >= self.k,
            keep_monotone: size >= self.k,
            l: f64::NAN,
            t: f64::NAN,
        };
        if let Some(l) = self.l {
            let distinct = codes.len() as f64;
            if distinct < l.min_distinct() {
                v.keep_monotone = false;
            }
            let (ok, achieved) = match l {
                LDiversity::Distinct { l } => (codes.len() >= l, distinct),
                LDiversity::Entropy { l } => {
                    let n = f64::from(size);
                    let h = n.log2()
                        - counts
                            .iter()
                            .map(|c| f64::from(*c) * f64::from(*c).log2())
                            .sum::<f64>()
                            / n;
                    // Rounding tolerance: a class short of log2 l by under 1e-12 bits passes
                    // (e.g. exactly uniform over l values, whose entropy is log2 l).
                    (h >= l.log2() - 1e-12, h.exp2())
                }
                LDiversity::Recursive { c, l } => {
                    self.sorted.clear();
                    self.sorted.extend_from_slice(counts);
                    self.sorted.sort_unstable_by(|a, b| b.cmp(a));
                    let r1 = f64::from(self.sorted.first().copied().unwrap_or(0));
                    // The tail r_l' + … + r_m shrinks as l' grows, so the l' with
                    // r1 < c · tail are 1..=best: the class is (c, l)-diverse iff l ≤ best.
                    let mut tail: f64 = self.sorted.iter().map(|r| f64::from(*r)).sum();
                    let mut best = 0usize;
                    for r in &self.sorted {
                        if r1 >= c * tail {
                            break;
                        }
                        best += 1;
                        tail -= f64::from(*r);
                    }
                    (l <= best, best as f64)
                }
            };
            v.keep &= ok;
            v.l = achieved;
        }
        if let Some(t) = self.t {
            let d = self.emd(t.distance, size, codes, counts);
            v.keep &= d <= t.t;
            v.t = d;
        }
        v.keep &= v.keep_monotone;
        v
    }

    /// EMD between the class and the table, from exact integers: with P = c/n and
    /// Q = C/N, |p − q| = |c·N − C·n| / (n·N).
    fn emd(&mut self, distance: GroundDistance, size: u32, codes: &[u32], counts: &[u32]) -> f64 {
        let n = i128::from(size);
        let big_n = i128::from(self.rows);
        if n == 0 || big_n == 0 {
            return 0.0;
        }
        match distance {
            GroundDistance::Equal => {
                // Codes absent from the class contribute C·n each: n·(N − Σ_present C).
                let mut num = 0i128;
                let mut present = 0i128;
                for (c, k) in codes.iter().zip(counts) {
                    let total = i128::from(self.totals[*c as usize]);
                    present += total;
                    num += (i128::from(*k) * big_n - total * n).abs();
                }
                num += n * (big_n - present);
                num as f64 / (2 * n * big_n) as f64
            }
            GroundDistance::Ordered => {
                let m = self.rank_totals.len();
                if m < 2 {
                    return 0.0;
                }
                for (c, k) in codes.iter().zip(counts) {
                    self.scratch[self.rank[*c as usize] as usize] += u64::from(*k);
                }
                let (mut num, mut cum) = (0i128, 0i128);
                for r in 0..m {
                    cum +=
                        i128::from(self.scratch[r]) * big_n - i128::from(self.rank_totals[r]) * n;
                    num += cum.abs();
                    self.scratch[r] = 0;
                }
                num as f64 / ((m as i128 - 1) * n * big_n) as f64
            }
        }
    }
}
