//! Optimal full-domain generalization with a suppression limit.
//!
//! A transformation is a level vector (one generalization level per quasi-identifier); the
//! transformations form a lattice. [`search`] finds the one that satisfies the [`Model`] —
//! k-anonymity, optionally with l-diversity or t-closeness of a sensitive column; rows in
//! classes that fail it are suppressed, at most a given fraction of them — with the least
//! loss under the model's [`Metric`], and proves it optimal:
//!
//! 1. Nodes are classified using monotonicity where it holds (if a node passes, so does
//!    every generalization of it; see [`search_with_progress`] for which criteria):
//!    binary searches along upward chains of unclassified nodes (Flash-style) classify
//!    whole up-sets and down-sets per evaluation. With suppression, a greedy descent from
//!    the top first gives an upper bound, and nodes whose lower bound (below) exceeds the
//!    best loss found are left unclassified; when the suppressed rows never grow up the
//!    lattice (k-anonymity, distinct l-diversity), the nodes are swept from the top down
//!    instead, so that each gets the failures and the forced suppression costs of its
//!    generalizations before it is evaluated.
//! 2. Candidate nodes are visited by increasing lower bound of their loss (the loss without
//!    suppression or a bound of it, which only grows up the lattice, plus the suppression
//!    cost forced by evaluated generalizations; never above the loss); the search stops
//!    once the bound exceeds the best loss found. Among equal losses the least general
//!    transformation wins (smallest sum of levels, then lexicographically smallest).
//!
//! For k-anonymity alone, an evaluation can group the frequency set block by block (all
//! tuples with one value of an attribute at a time) and stop as soon as more rows than
//! allowed are surely suppressed, or their cost surely exceeds the best loss.
//!
//! Equivalence classes are computed on integer codes over the table's frequency set
//! (distinct combinations of original values with their counts, and their sensitive-value
//! histograms when the model needs them), never on strings.

mod builders;
mod class_sizes;
mod config;
mod from_codes;
mod grouper;
mod hierarchy;
mod job;
mod metric;
mod model;
mod mondrian;
mod qi;
mod risk;
#[cfg(test)]
mod tests_models;

/// The random tables of the kanon tests.
#[cfg(test)]
pub(crate) mod test_rng {
    /// SplitMix64: a small deterministic generator.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }
}
mod transformation;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub use class_sizes::ClassSizes;
pub use config::{
    HierarchySource, HierarchySpec, KAnonConfig, Method, QuasiIdentifier, SuppliedHierarchy,
    ValueGeneralizer,
};
pub use hierarchy::Hierarchy;
pub use job::{risk_rows, KAnonJob, KAnonOutcome, Plan, QiLevel, RiskOutcome, RiskRow};
pub use metric::Metric;
pub use model::{GroundDistance, KAnonymity, LDiversity, Model, TCloseness};
pub use mondrian::{mondrian, MondrianModel, MondrianQi, MondrianResult, SensitiveColumn};
pub use qi::{detect_qi, AttributeKind, ColumnStats, QiSuggestion};
pub use risk::{risk, risk_before_and_after, BeforeAfter, Population, Risk, RiskReport};
pub use transformation::{generalize, Applied, Suppression, Transformation, SUPPRESSED};

use crate::error::{Fallible, VeilError};
use grouper::Grouper;
use metric::{Loss, Tally};
use model::{Checker, Hist};

/// A table reduced to what the search needs: the quasi-identifiers' base codes and,
/// optionally, a sensitive column.
pub struct Table {
    names: Vec<String>,
    hierarchies: Vec<Hierarchy>,
    /// Distinct combinations of base codes, flattened (`tuples[t * q + j]`).
    tuples: Vec<u32>,
    /// Rows per distinct combination.
    counts: Vec<u32>,
    rows: usize,
    sensitive: Option<Sensitive>,
}

/// The sensitive column of a [`Table`], integer-coded.
struct Sensitive {
    name: String,
    labels: Vec<String>,
    /// Sensitive values of each distinct quasi-identifier combination.
    hist: Hist,
    /// Rows per code over the whole table.
    totals: Vec<u64>,
    /// Position of each code in the order of the values (equal numbers share one), and the
    /// number of positions: numeric order if every value is a finite number, else the
    /// order given to [`Table::with_sensitive_order`], else none.
    order: Option<(Vec<u32>, usize)>,
}

impl Sensitive {
    fn order(&self) -> Fallible<(Vec<u32>, usize)> {
        if let Some(o) = &self.order {
            return Ok(o.clone());
        }
        let example = self
            .labels
            .iter()
            .find(|l| numeric(l).is_none())
            .map(|l| format!("; {l:?} is not a number"))
            .unwrap_or_default();
        Err(VeilError::invalid(
            "sensitive",
            format!(
                "t-closeness with ordered distance needs the values of {} to be numbers or \
                 ordered with Table::with_sensitive_order{example}",
                self.name
            ),
        ))
    }
}

fn numeric(label: &str) -> Option<f64> {
    // `+ 0.0` turns −0 into 0, so the two compare equal.
    label
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v + 0.0)
}

/// Positions of the labels in numeric order (equal numbers share one), if all are numbers.
fn numeric_order(labels: &[String]) -> Option<(Vec<u32>, usize)> {
    let values: Vec<f64> = labels.iter().map(|l| numeric(l)).collect::<Option<_>>()?;
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let ranks = values
        .iter()
        .map(|v| sorted.partition_point(|x| x < v) as u32)
        .collect();
    Some((ranks, sorted.len()))
}

impl Table {
    /// Encodes rows (one value per quasi-identifier, in the order of `names`). A value that
    /// is missing from its hierarchy is an error naming the column and the value.
    pub fn encode<'a, R>(names: &[&str], hierarchies: Vec<Hierarchy>, rows: R) -> Fallible<Self>
    where
        R: IntoIterator,
        R::Item: AsRef<[&'a str]>,
    {
        Self::encode_inner(
            names,
            hierarchies,
            rows,
            None::<(&str, std::iter::Empty<&str>)>,
        )
    }

    /// [`Table::encode`] with a sensitive column (for l-diversity and t-closeness), named
    /// `sensitive`, whose values `sensitive_values` go with `rows` one for one. The
    /// sensitive column must not be a quasi-identifier.
    pub fn encode_with_sensitive<'a, R, S>(
        names: &[&str],
        hierarchies: Vec<Hierarchy>,
        rows: R,
        sensitive: &str,
        sensitive_values: S,
    ) -> Fallible<Self>
    where
        R: IntoIterator,
        R::Item: AsRef<[&'a str]>,
        S: IntoIterator,
        S::Item: AsRef<str>,
    {
        if names.contains(&sensitive) {
            return Err(VeilError::invalid(
                "sensitive",
                format!("{sensitive} is also a quasi-identifier"),
            ));
        }
        Self::encode_inner(
            names,
            hierarchies,
            rows,
            Some((sensitive, sensitive_values.into_iter())),
        )
    }

    fn encode_inner<'a, R, S>(
        names: &[&str],
        hierarchies: Vec<Hierarchy>,
        rows: R,
        mut sensitive: Option<(&str, S)>,
    ) -> Fallible<Self>
    where
        R: IntoIterator,
        R::Item: AsRef<[&'a str]>,
        S: Iterator,
        S::Item: AsRef<str>,
    {
        let q = names.len();
        if q == 0 || hierarchies.len() != q {
            return Err(VeilError::invalid(
                "quasi_identifiers",
                format!(
                    "need one hierarchy per quasi-identifier, got {q} names and {} hierarchies",
                    hierarchies.len()
                ),
            ));
        }
        let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
        let mut tuples = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        // Sensitive values: label → code, and rows per (tuple, code).
        let mut labels: Vec<String> = Vec::new();
        let mut label_index: HashMap<String, u32> = HashMap::new();
        let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
        let mut n = 0usize;
        for row in rows {
            let row = row.as_ref();
            if row.len() != q {
                return Err(VeilError::invalid(
                    "rows",
                    format!("row {} has {} values, expected {q}", n + 1, row.len()),
                ));
            }
            let mut key = Vec::with_capacity(q);
            for (j, v) in row.iter().enumerate() {
                key.push(hierarchies[j].base_code(v).ok_or_else(|| {
                    VeilError::invalid(
                        format!("hierarchy of {}", names[j]),
                        format!("has no entry for value {v:?} (row {})", n + 1),
                    )
                })?);
            }
            let next = counts.len();
            let t = *index.entry(key.clone()).or_insert(next);
            if t == next {
                tuples.extend_from_slice(&key);
                counts.push(0);
            }
            counts[t] += 1;
            if let Some((name, values)) = sensitive.as_mut() {
                let Some(v) = values.next() else {
                    return Err(VeilError::invalid(
                        "sensitive",
                        format!("{name} has fewer values than there are rows ({})", n),
                    ));
                };
                let v = v.as_ref();
                let code = match label_index.get(v) {
                    Some(c) => *c,
                    None => {
                        let c = labels.len() as u32;
                        labels.push(v.to_string());
                        label_index.insert(v.to_string(), c);
                        c
                    }
                };
                *pairs.entry((t as u32, code)).or_insert(0) += 1;
            }
            n += 1;
        }
        let sensitive = match sensitive {
            None => None,
            Some((name, mut values)) => {
                if values.next().is_some() {
                    return Err(VeilError::invalid(
                        "sensitive",
                        format!("{name} has more values than there are rows ({n})"),
                    ));
                }
                let mut pairs: Vec<((u32, u32), u32)> = pairs.into_iter().collect();
                pairs.sort_unstable();
                let mut hist = Hist {
                    start: Vec::with_capacity(counts.len() + 1),
                    codes: Vec::with_capacity(pairs.len()),
                    counts: Vec::with_capacity(pairs.len()),
                };
                let mut totals = vec![0u64; labels.len()];
                hist.start.push(0);
                let mut at = 0;
                for t in 0..counts.len() as u32 {
                    while at < pairs.len() && pairs[at].0 .0 == t {
                        let ((_, code), c) = pairs[at];
                        hist.codes.push(code);
                        hist.counts.push(c);
                        totals[code as usize] += u64::from(c);
                        at += 1;
                    }
                    hist.start.push(hist.codes.len() as u32);
                }
                Some(Sensitive {
                    name: name.to_string(),
                    order: numeric_order(&labels),
                    labels,
                    hist,
                    totals,
                })
            }
        };
        Ok(Table {
            names: names.iter().map(|s| s.to_string()).collect(),
            hierarchies,
            tuples,
            counts,
            rows: n,
            sensitive,
        })
    }

    /// Orders the sensitive values for t-closeness with [`GroundDistance::Ordered`]: `order`
    /// lists every value (and may list values absent from the data: they are part of the
    /// domain, so they count in the distance), smallest first. Replaces the numeric order.
    pub fn with_sensitive_order<S: AsRef<str>>(mut self, order: &[S]) -> Fallible<Self> {
        let Some(s) = self.sensitive.as_mut() else {
            return Err(VeilError::invalid(
                "sensitive",
                "the table has no sensitive column to order",
            ));
        };
        let mut position: HashMap<&str, u32> = HashMap::new();
        for (i, v) in order.iter().enumerate() {
            if position.insert(v.as_ref(), i as u32).is_some() {
                return Err(VeilError::invalid(
                    "sensitive",
                    format!("the order of {} lists {:?} twice", s.name, v.as_ref()),
                ));
            }
        }
        let ranks = s
            .labels
            .iter()
            .map(|l| {
                position.get(l.as_str()).copied().ok_or_else(|| {
                    VeilError::invalid(
                        "sensitive",
                        format!("value {l:?} of {} is missing from its order", s.name),
                    )
                })
            })
            .collect::<Fallible<Vec<u32>>>()?;
        s.order = Some((ranks, order.len()));
        Ok(self)
    }

    /// The sensitive column's name, if any.
    pub fn sensitive(&self) -> Option<&str> {
        self.sensitive.as_ref().map(|s| s.name.as_str())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn quasi_identifiers(&self) -> &[String] {
        &self.names
    }

    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    /// Number of transformations in the lattice.
    pub fn lattice_size(&self) -> usize {
        self.hierarchies.iter().map(Hierarchy::height).product()
    }
}

/// What one transformation does to the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub levels: Vec<usize>,
    /// Equivalence classes kept (satisfying the model).
    pub classes: usize,
    pub suppressed_rows: usize,
    /// Satisfies the model within the suppression limit.
    pub anonymous: bool,
    /// The loss under the model's metric (see [`Metric`]), suppressed rows counted as fully
    /// generalized.
    pub loss: f64,
    /// The smallest kept class (None when every row is suppressed).
    pub min_class_size: Option<usize>,
    /// With l-diversity, the smallest l achieved by a kept class: its distinct values,
    /// 2^entropy, or the largest l of recursive (c, l)-diversity.
    pub min_l: Option<f64>,
    /// With t-closeness, the largest distance of a kept class to the table's distribution.
    pub max_t: Option<f64>,
}

/// The result of [`search`].
#[derive(Debug, Clone)]
pub struct Solution {
    pub best: Evaluation,
    /// Transformations whose equivalence classes were computed.
    pub evaluated: usize,
    pub lattice_size: usize,
}

/// FxHash-style hasher for the class keys (integers): much cheaper than SipHash here.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
}

type KeyMap<V> = HashMap<u128, V, BuildHasherDefault<KeyHasher>>;

/// `up[j][from][to][code]`: the level-`to` code of a level-`from` code (from ≤ to).
struct Generalize {
    up: Vec<Vec<Vec<Vec<u32>>>>,
}

impl Generalize {
    fn new(t: &Table) -> Self {
        let up = t
            .hierarchies
            .iter()
            .map(|h| {
                (0..h.height())
                    .map(|from| {
                        (0..h.height())
                            .map(|to| {
                                let mut m = vec![0u32; h.distinct(from)];
                                if to >= from {
                                    for b in 0..h.len() as u32 {
                                        m[h.code(from, b) as usize] = h.code(to, b);
                                    }
                                }
                                m
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Generalize { up }
    }
}

/// The equivalence classes of one transformation: generalized codes, sizes and (when the
/// model needs them) sensitive-value histograms.
struct Classes {
    levels: Vec<usize>,
    /// Flattened codes (`codes[c * q + j]`).
    codes: Vec<u32>,
    sizes: Vec<u32>,
    hist: Option<Hist>,
}

/// Groups `sizes`/`codes`/`hist` (classes at levels `from` ≤ `levels`, or the base
/// frequency set with `from` all zero) by their codes at `levels`. Classes come out in the
/// order of their first member, whichever table groups them.
#[allow(clippy::too_many_arguments)]
fn roll_up(
    t: &Table,
    g: &Generalize,
    from: &[usize],
    codes: &[u32],
    sizes: &[u32],
    hist: Option<&Hist>,
    levels: &[usize],
    grouper: &mut Grouper,
) -> Fallible<Classes> {
    let q = levels.len();
    let mut radix = Vec::with_capacity(q);
    let mut span: u128 = 1;
    for (j, h) in t.hierarchies.iter().enumerate() {
        radix.push(span);
        span = span
            .checked_mul(h.distinct(levels[j]) as u128)
            .ok_or_else(|| {
                VeilError::invalid(
                    "quasi_identifiers",
                    "too many distinct value combinations to encode",
                )
            })?;
    }
    let maps: Vec<&[u32]> = (0..q).map(|j| &g.up[j][from[j]][levels[j]][..]).collect();
    let mut out = Classes {
        levels: levels.to_vec(),
        codes: Vec::new(),
        sizes: Vec::new(),
        hist: None,
    };
    // The new class of every old one, for merging histograms.
    let mut assign: Vec<u32> = Vec::new();
    if hist.is_some() {
        assign.reserve(sizes.len());
    }
    if span <= u128::from(u64::MAX) {
        let radix: Vec<u64> = radix.iter().map(|r| *r as u64).collect();
        grouper.prepare(&maps, &radix, None);
        grouper.reset(sizes.len().min(1 << 16));
        grouper.group(
            codes,
            sizes,
            &maps,
            &mut out,
            hist.is_some().then_some(&mut assign),
        );
    } else {
        let mut ids: KeyMap<u32> = KeyMap::default();
        ids.reserve(sizes.len().min(1 << 16));
        let mut generalized = vec![0u32; q];
        for (i, size) in sizes.iter().enumerate() {
            let row = &codes[i * q..(i + 1) * q];
            let mut key: u128 = 0;
            for j in 0..q {
                generalized[j] = maps[j][row[j] as usize];
                key += radix[j] * u128::from(generalized[j]);
            }
            let next = out.sizes.len() as u32;
            let id = *ids.entry(key).or_insert(next);
            if id == next {
                out.sizes.push(0);
                out.codes.extend_from_slice(&generalized);
            }
            out.sizes[id as usize] += size;
            if hist.is_some() {
                assign.push(id);
            }
        }
    }
    if let (Some(h), Some(s)) = (hist, &t.sensitive) {
        out.hist = Some(h.merge(&assign, out.sizes.len(), s.labels.len()));
    }
    Ok(out)
}

/// The base frequency set sorted for grouping block by block along one attribute `j`, kept
/// by column (keys are computed a column at a time) with every tuple's index in the base
/// (whose rows give the codes of a class's first tuple together): sorted by `j`'s codes from
/// the top level down, so that at every
/// level the tuples of one code are contiguous; `blocks[level]` lists those runs (start,
/// end) by increasing rows, or is None when they are not contiguous (levels that do not
/// nest) or there is only one.
/// Passes visit the blocks where the last pass found the most suppressed rows first (the
/// smallest first at the start), to stop as early as they can.
struct Blocked {
    /// `columns[j][i]`: the base code of attribute j in tuple i.
    columns: Vec<Vec<u32>>,
    /// `origin[i]`: the index of tuple i in the base ([`Table::tuples`]).
    origin: Vec<u32>,
    counts: Vec<u32>,
    blocks: Vec<Option<Vec<Block>>>,
}

/// A run of [`Blocked`] tuples with one code, and the share of its rows that the last pass
/// through it found suppressed.
struct Block {
    start: u32,
    end: u32,
    rows: u64,
    suppressed: f64,
}

impl Blocked {
    /// Blocks along attribute `j`.
    fn new(t: &Table, j: usize) -> Self {
        let q = t.hierarchies.len();
        let m = t.counts.len();
        let h = &t.hierarchies[j];
        // Rank of every base value in the order of its codes from the top level down.
        let mut by_codes: Vec<u32> = (0..h.len() as u32).collect();
        by_codes.sort_by(|a, b| {
            (0..h.height())
                .rev()
                .map(|l| h.code(l, *a).cmp(&h.code(l, *b)))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut rank = vec![0u32; h.len()];
        for (r, b) in by_codes.iter().enumerate() {
            rank[*b as usize] = r as u32;
        }
        // Counting sort by rank (stable: tuples of one value keep their order).
        let mut at = vec![0usize; h.len() + 1];
        for i in 0..m {
            at[rank[t.tuples[i * q + j] as usize] as usize + 1] += 1;
        }
        for r in 0..h.len() {
            at[r + 1] += at[r];
        }
        let mut order = vec![0usize; m];
        for i in 0..m {
            let r = rank[t.tuples[i * q + j] as usize] as usize;
            order[at[r]] = i;
            at[r] += 1;
        }
        let origin: Vec<u32> = order.iter().map(|i| *i as u32).collect();
        let columns: Vec<Vec<u32>> = (0..q)
            .map(|j| order.iter().map(|i| t.tuples[i * q + j]).collect())
            .collect();
        let counts: Vec<u32> = order.iter().map(|i| t.counts[*i]).collect();
        let along = &columns[j];
        let blocks = (0..h.height())
            .map(|l| {
                let mut seen = vec![false; h.distinct(l)];
                let mut runs: Vec<(u32, u32, u64)> = Vec::new();
                for i in 0..m {
                    let code = h.code(l, along[i]);
                    match runs.last_mut() {
                        Some(last) if h.code(l, along[last.0 as usize]) == code => {
                            last.1 = i as u32 + 1;
                            last.2 += u64::from(counts[i]);
                        }
                        _ => {
                            if std::mem::replace(&mut seen[code as usize], true) {
                                return None;
                            }
                            runs.push((i as u32, i as u32 + 1, u64::from(counts[i])));
                        }
                    }
                }
                if runs.len() < 2 {
                    return None;
                }
                runs.sort_by_key(|r| (r.2, r.0));
                Some(
                    runs.into_iter()
                        .map(|(start, end, rows)| Block {
                            start,
                            end,
                            rows,
                            suppressed: 0.0,
                        })
                        .collect(),
                )
            })
            .collect();
        Blocked {
            columns,
            origin,
            counts,
            blocks,
        }
    }
}

/// The most rows that one code of each attribute and level holds (`largest[j][level]`).
fn largest_groups(t: &Table) -> Vec<Vec<u64>> {
    let q = t.hierarchies.len();
    t.hierarchies
        .iter()
        .enumerate()
        .map(|(j, h)| {
            let mut base = vec![0u64; h.len()];
            for (i, c) in t.counts.iter().enumerate() {
                base[t.tuples[i * q + j] as usize] += u64::from(*c);
            }
            (0..h.height())
                .map(|l| {
                    let mut group = vec![0u64; h.distinct(l)];
                    for (b, c) in base.iter().enumerate() {
                        group[h.code(l, b as u32) as usize] += c;
                    }
                    group.into_iter().max().unwrap_or(0)
                })
                .collect()
        })
        .collect()
}

/// How many u32s of blocked copies of the base a search keeps beyond the first (which it
/// always may build): 128 MiB.
const BLOCKED_BUDGET: usize = 1 << 25;

/// Per-attribute radixes of the packed class key at `levels`, if every key fits in u64
/// below u64::MAX (the [`Grouper`]'s empty slot).
fn packed_radix(t: &Table, levels: &[usize]) -> Option<Vec<u64>> {
    let mut radix = Vec::with_capacity(levels.len());
    let mut span: u128 = 1;
    for (h, l) in t.hierarchies.iter().zip(levels) {
        radix.push(span as u64);
        span = span.checked_mul(h.distinct(*l) as u128)?;
        if span > u128::from(u64::MAX) {
            return None;
        }
    }
    Some(radix)
}

/// How a [`blocked_pass`] ended.
enum Pass {
    /// Every block grouped: the classes of the node.
    Done(Classes),
    /// More than the limit of rows are in classes smaller than k: the node fails.
    Fails,
    /// The rows found suppressed already cost more than allowed: their suppressed-row
    /// tallies per attribute and code (see [`Loss::gap_counts`]).
    Costly(Vec<Vec<u64>>),
}

/// What a [`blocked_pass`] reads: a [`Blocked`] copy's columns, origins and counts, and the
/// base rows ([`Table::tuples`]) that the origins index.
struct Tuples<'a> {
    base: &'a [u32],
    columns: &'a [Vec<u32>],
    origin: &'a [u32],
    counts: &'a [u32],
}

/// Groups the base frequency set at `levels` block by block (`blocks`, runs of `b`), the
/// smallest blocks first, for k-anonymity alone. Every class lies within one block, so once
/// a block is done its classes are final and its rows in classes smaller than `k` are
/// suppressed whatever the other blocks hold: gives up as soon as more than `limit` rows
/// are, or (with `max_gap`, additive metrics) as soon as their summed gaps ([`Loss::gaps_at`])
/// exceeds `max_gap`. Otherwise the classes of `levels`, as [`roll_up`] would give them (in
/// another order).
#[allow(clippy::too_many_arguments)]
fn blocked_pass(
    g: &Generalize,
    loss: &Loss,
    tuples: Tuples,
    (along, blocks): (usize, &mut [Block]),
    radix: &[u64],
    levels: &[usize],
    (k, limit): (u32, usize),
    max_gap: Option<f64>,
    grouper: &mut Grouper,
) -> Pass {
    let q = levels.len();
    let Tuples {
        base,
        columns,
        origin,
        counts,
    } = tuples;
    let maps: Vec<&[u32]> = (0..q).map(|j| &g.up[j][0][levels[j]][..]).collect();
    // Every row of a block has the same code of `along`.
    grouper.prepare(&maps, radix, Some(along));
    // The gap of every base code's generalization.
    let gaps: Vec<Vec<f64>> = if max_gap.is_some() {
        let at = loss.gaps_at(levels);
        maps.iter()
            .zip(at)
            .map(|(m, g)| m.iter().map(|c| g[*c as usize]).collect())
            .collect()
    } else {
        Vec::new()
    };
    // Classes as the index of their first tuple and their size; codes only once done.
    let (mut firsts, mut sizes) = (Vec::new(), Vec::new());
    let tuple = |first: u32| {
        let i = origin[first as usize] as usize;
        &base[i * q..(i + 1) * q]
    };
    let codes_of = |first: u32| maps.iter().zip(tuple(first)).map(|(m, c)| m[*c as usize]);
    let (mut suppressed, mut gap) = (0usize, 0f64);
    for block in blocks.iter_mut() {
        let (start, end) = (block.start as usize, block.end as usize);
        // Classes never span blocks: each block is grouped on its own.
        let first = sizes.len();
        grouper.count(columns, counts, start..end, &mut firsts, &mut sizes);
        let before = suppressed;
        for c in first..sizes.len() {
            let size = sizes[c];
            if size < k {
                suppressed += size as usize;
                if max_gap.is_some() {
                    let row: f64 = gaps
                        .iter()
                        .zip(tuple(firsts[c]))
                        .map(|(g, c)| g[*c as usize])
                        .sum();
                    gap += f64::from(size) * row;
                }
            }
        }
        block.suppressed = (suppressed - before) as f64 / block.rows as f64;
        if suppressed > limit {
            return Pass::Fails;
        }
        if max_gap.is_some_and(|m| gap > m) {
            let mut counts = loss.gap_counts(levels);
            for (first, size) in firsts.iter().zip(&sizes) {
                if *size < k {
                    for (per_code, code) in counts.iter_mut().zip(codes_of(*first)) {
                        per_code[code as usize] += u64::from(*size);
                    }
                }
            }
            return Pass::Costly(counts);
        }
    }
    let mut codes = Vec::with_capacity(sizes.len() * q);
    for first in &firsts {
        codes.extend(codes_of(*first));
    }
    Pass::Done(Classes {
        levels: levels.to_vec(),
        codes,
        sizes,
        hist: None,
    })
}

/// How many classes (over all cached lists) the search keeps for roll-ups, oldest lists
/// evicted first: about 40 MB for 9 quasi-identifiers.
const CLASS_CACHE_BUDGET: usize = 1 << 20;

/// Classes of `levels`, rolled up from the cached transformation below it with the fewest
/// classes, or from the base frequency set. With `with_hist`, the classes carry histograms
/// (the cached ones then do too: one search caches one kind).
fn classes_of(
    t: &Table,
    g: &Generalize,
    cache: &[Classes],
    levels: &[usize],
    with_hist: bool,
) -> Fallible<Classes> {
    classes_with(t, g, cache, levels, with_hist, &mut Grouper::default())
}

/// [`classes_of`] with reused scratch.
fn classes_with(
    t: &Table,
    g: &Generalize,
    cache: &[Classes],
    levels: &[usize],
    with_hist: bool,
    grouper: &mut Grouper,
) -> Fallible<Classes> {
    let below = cache
        .iter()
        .filter(|c| c.levels.iter().zip(levels).all(|(a, b)| a <= b))
        .filter(|c| c.hist.is_some() == with_hist)
        .min_by_key(|c| c.sizes.len());
    match below {
        Some(c) if c.sizes.len() < t.counts.len() => roll_up(
            t,
            g,
            &c.levels,
            &c.codes,
            &c.sizes,
            c.hist.as_ref(),
            levels,
            grouper,
        ),
        _ => {
            let base = if with_hist {
                match &t.sensitive {
                    Some(s) => Some(&s.hist),
                    None => {
                        return Err(VeilError::invalid(
                            "sensitive",
                            "l-diversity and t-closeness need a sensitive column",
                        ))
                    }
                }
            } else {
                None
            };
            roll_up(
                t,
                g,
                &vec![0; levels.len()],
                &t.tuples,
                &t.counts,
                base,
                levels,
                grouper,
            )
        }
    }
}

/// An evaluation with what the search needs besides.
#[derive(Debug, Clone)]
struct Judged {
    eval: Evaluation,
    /// Passes the monotone part of the model (see [`Checker`]) within the limit: failing it
    /// means failing the model here and at every specialization.
    monotone_ok: bool,
    /// The loss if nothing were suppressed (never above the loss).
    unsuppressed: f64,
    /// Additive metrics with rows suppressed: [`Loss::forced_below`].
    forced: Option<Vec<Vec<f64>>>,
}

/// Applies the privacy model to a transformation's classes.
fn judge(loss: &Loss, checker: &mut Checker, c: &Classes) -> Judged {
    let q = c.levels.len();
    let mut tally = Tally {
        classes: c.sizes.len(),
        ..Tally::default()
    };
    let mut monotone_suppressed = 0usize;
    let mut min_size: Option<u32> = None;
    let (mut min_l, mut max_t) = (f64::INFINITY, f64::NEG_INFINITY);
    let gaps = loss.wants_gaps();
    let mut gap_counts = if gaps {
        loss.gap_counts(&c.levels)
    } else {
        Vec::new()
    };
    let squares = !gaps;
    for (i, size) in c.sizes.iter().enumerate() {
        let (keep, keep_monotone) = match &c.hist {
            Some(h) => {
                let (codes, counts) = h.entries(i);
                let v = checker.verdict(*size, codes, counts);
                if v.keep {
                    min_l = min_l.min(v.l);
                    max_t = max_t.max(v.t);
                }
                (v.keep, v.keep_monotone)
            }
            None => (*size >= checker.k, *size >= checker.k),
        };
        let sq = if squares {
            f64::from(*size) * f64::from(*size)
        } else {
            0.0
        };
        tally.squares_all += sq;
        if !keep_monotone {
            monotone_suppressed += *size as usize;
        }
        if keep {
            tally.kept += 1;
            tally.squares_kept += sq;
            min_size = Some(min_size.map_or(*size, |m| m.min(*size)));
        } else {
            tally.suppressed += *size as usize;
            if gaps {
                for (per_code, code) in gap_counts.iter_mut().zip(&c.codes[i * q..(i + 1) * q]) {
                    per_code[*code as usize] += u64::from(*size);
                }
            }
        }
    }
    let mut forced = None;
    if gaps {
        tally.gap_sum = loss.gap_sum(&c.levels, &gap_counts);
        if tally.suppressed > 0 {
            forced = Some(loss.forced_below(&c.levels, &gap_counts));
        }
    }
    let (value, unsuppressed) = loss.finish(&c.levels, &tally);
    let anonymous = tally.suppressed <= checker.limit;
    let kept_any = tally.kept > 0;
    Judged {
        eval: Evaluation {
            levels: c.levels.clone(),
            classes: tally.kept,
            suppressed_rows: tally.suppressed,
            anonymous,
            loss: value,
            min_class_size: min_size.map(|m| m as usize),
            min_l: (checker.l.is_some() && kept_any).then_some(min_l),
            max_t: (checker.t.is_some() && kept_any).then_some(max_t),
        },
        // Without suppression every criterion is monotone (see `search_with_progress`).
        monotone_ok: if checker.limit == 0 {
            anonymous
        } else {
            monotone_suppressed <= checker.limit
        },
        unsuppressed,
        forced,
    }
}

/// The tolerance within which two losses are equal (rounding of sums in another order).
fn slack(loss: f64) -> f64 {
    1e-9 * (1.0 + loss.abs())
}

/// Whether `a` beats `b`: a smaller loss, or an equal one (within [`slack`]) at a less
/// general transformation — a smaller sum of levels, then the lexicographically smaller
/// level vector — so that ties are broken the same way whatever the search order.
fn better(a: &Evaluation, b: &Evaluation) -> bool {
    let tolerance = slack(a.loss.abs().max(b.loss.abs()));
    if a.loss < b.loss - tolerance {
        return true;
    }
    if a.loss > b.loss + tolerance {
        return false;
    }
    let height = |e: &Evaluation| e.levels.iter().sum::<usize>();
    (height(a), &a.levels) < (height(b), &b.levels)
}

/// Raises `floor` at every specialization of `levels` (itself included) to Σ_j
/// `forced[j][level j]` (see [`Loss::forced_below`]).
fn raise_below(lattice: &Lattice, floor: &mut [f64], forced: &[Vec<f64>], levels: &[usize]) {
    // Odometer over the box of level vectors ≤ `levels`, attribute 0 fastest.
    let q = levels.len();
    let mut at = vec![0usize; q];
    loop {
        let (mut node, mut sum) = (0usize, 0f64);
        for j in 0..q {
            node += at[j] * lattice.stride[j];
            sum += forced[j][at[j]];
        }
        if floor[node] < sum {
            floor[node] = sum;
        }
        let mut j = 0;
        loop {
            if j == q {
                return;
            }
            if at[j] < levels[j] {
                at[j] += 1;
                break;
            }
            at[j] = 0;
            j += 1;
        }
    }
}

/// The lattice of level vectors, nodes numbered in mixed radix.
struct Lattice {
    heights: Vec<usize>,
    stride: Vec<usize>,
    size: usize,
}

impl Lattice {
    fn new(heights: Vec<usize>) -> Self {
        let mut stride = Vec::with_capacity(heights.len());
        let mut size = 1;
        for h in &heights {
            stride.push(size);
            size *= h;
        }
        Lattice {
            heights,
            stride,
            size,
        }
    }

    fn levels(&self, node: usize) -> Vec<usize> {
        self.heights
            .iter()
            .zip(&self.stride)
            .map(|(h, s)| (node / s) % h)
            .collect()
    }

    fn level(&self, node: usize, j: usize) -> usize {
        (node / self.stride[j]) % self.heights[j]
    }

    fn height_of(&self, node: usize) -> usize {
        (0..self.heights.len()).map(|j| self.level(node, j)).sum()
    }

    /// Direct generalizations (one attribute one level up).
    fn up(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.heights.len())
            .filter(move |&j| self.level(node, j) + 1 < self.heights[j])
            .map(move |j| node + self.stride[j])
    }

    /// Direct specializations.
    fn down(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.heights.len())
            .filter(move |&j| self.level(node, j) > 0)
            .map(move |j| node - self.stride[j])
    }
}

const UNKNOWN: u8 = 0;
const ANONYMOUS: u8 = 1;
const NOT_ANONYMOUS: u8 = 2;

/// Marks `node` and everything reachable by `next` with `status`, stopping at nodes
/// already marked (their closure is marked too).
fn tag(status: &mut [u8], start: usize, value: u8, next: impl Fn(usize) -> Vec<usize>) {
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        if status[n] == value {
            continue;
        }
        status[n] = value;
        stack.extend(next(n).into_iter().filter(|m| status[*m] != value));
    }
}

/// Finds the optimal transformation (least loss under `model.metric`) satisfying `model`,
/// or an error when none does.
pub fn search(t: &Table, model: &Model) -> Fallible<Solution> {
    search_with_progress(t, model, |_, _| {})
}

/// A total order on f64 for the candidate heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What [`Search::visit`] learned about a node.
#[derive(Debug, Clone, Copy)]
struct Visited {
    anonymous: bool,
    monotone_ok: bool,
    loss: f64,
}

/// The state of one search.
struct Search<'a> {
    t: &'a Table,
    lattice: Lattice,
    g: Generalize,
    loss: Loss,
    checker: Checker,
    with_hist: bool,
    grouper: Grouper,
    /// Blocked copies of the base for [`blocked_pass`], per attribute, built on first use.
    blocked: Vec<Option<Blocked>>,
    /// [`largest_groups`], to pick the attribute whose biggest block is smallest.
    largest: Vec<Vec<u64>>,
    /// Nodes whose evaluation stopped early, known to fail the monotone part of the model.
    partial: std::collections::HashSet<usize>,
    /// Passes stopped because the node's loss exceeded the best one.
    stopped: usize,
    /// Statuses of the monotone part of the model (the whole model when it is monotone).
    status: Vec<u8>,
    cache: HashMap<usize, Judged>,
    classes: std::collections::VecDeque<Classes>,
    cached_classes: usize,
    /// Class-size metrics: the largest loss without suppression of an evaluated
    /// specialization (that loss only grows up the lattice), kept monotone.
    raised: Vec<f64>,
    /// When the suppressed rows never grow up the lattice (and the metric is a sum over
    /// rows): the largest suppression cost (loss − loss without suppression) of an
    /// evaluated generalization. Rows suppressed there are suppressed here too, each
    /// costing at least as much (its groups are smaller here), so the loss at a node is at
    /// least its [`Search::bound`] plus this.
    floor: Option<Vec<f64>>,
    best: Option<Evaluation>,
}

impl Search<'_> {
    /// A [`blocked_pass`] over the base for `levels`, unless a cached list below has fewer
    /// classes than the base has tuples (rolling up from it is then cheaper), or the model
    /// needs histograms: None then. With `stop` and a best loss, the pass also gives up once the node's loss
    /// (additive metrics) is sure to exceed it.
    fn blocked(&mut self, levels: &[usize], stop: bool) -> Option<Pass> {
        if self.with_hist {
            return None;
        }
        let base = self.t.counts.len();
        let smallest_below = self
            .classes
            .iter()
            .filter(|c| c.levels.iter().zip(levels).all(|(a, b)| a <= b))
            .map(|c| c.sizes.len())
            .min()
            .unwrap_or(base);
        if smallest_below < base {
            return None;
        }
        let radix = packed_radix(self.t, levels)?;
        let max_gap = match &self.best {
            Some(best) if stop && self.loss.wants_gaps() && self.floor.is_some() => {
                let room = best.loss + slack(best.loss) - self.loss.static_bound(levels);
                Some(room.max(0.0) / self.loss.scale())
            }
            _ => None,
        };
        // Along the attribute whose biggest block is smallest (blocks are usable when there
        // are several, the rows of one code contiguous), among built copies once the budget
        // is spent (a copy costs memory and time: one per attribute at most).
        let words = self.t.counts.len() * (levels.len() + 2);
        let built = self.blocked.iter().filter(|b| b.is_some()).count();
        let room = built == 0 || (built + 1) * words <= BLOCKED_BUDGET;
        let usable = |j: &usize| self.largest[*j][levels[*j]] < self.t.rows as u64;
        let biggest = |j: &usize| self.largest[*j][levels[*j]];
        let built_best = (0..levels.len())
            .filter(usable)
            .filter(|j| self.blocked[*j].is_some())
            .min_by_key(biggest);
        let best = (0..levels.len())
            .filter(usable)
            .filter(|j| room || self.blocked[*j].is_some())
            .min_by_key(biggest);
        // A built copy unless a new one has blocks less than half as big.
        let j = match (built_best, best) {
            (Some(b), Some(n)) if 2 * biggest(&n) < biggest(&b) => n,
            (Some(b), _) => b,
            (None, n) => n?,
        };
        let t = self.t;
        let Blocked {
            columns,
            origin,
            counts,
            blocks,
            ..
        } = self.blocked[j].get_or_insert_with(|| Blocked::new(t, j));
        let blocks = blocks[levels[j]].as_mut()?;
        let pass = blocked_pass(
            &self.g,
            &self.loss,
            Tuples {
                base: &t.tuples,
                columns,
                origin,
                counts,
            },
            (j, blocks),
            &radix,
            levels,
            (self.checker.k, self.checker.limit),
            max_gap,
            &mut self.grouper,
        );
        blocks.sort_by(|a, b| b.suppressed.total_cmp(&a.suppressed));
        Some(pass)
    }

    /// Evaluates `node` into the cache (once). Some passes stop early (see [`Search::
    /// blocked`]): `Fails` when the node fails the monotone part of the model, `Costly`
    /// (only with `stop`) when its loss exceeds the best one; the classes are then not
    /// known, and `Done` carries an empty list.
    fn eval(&mut self, node: usize, stop: bool) -> Fallible<Pass> {
        if self.partial.contains(&node) {
            return Ok(Pass::Fails);
        }
        if !self.cache.contains_key(&node) {
            let levels = self.lattice.levels(node);
            let c = match self.blocked(&levels, stop) {
                Some(Pass::Done(c)) => c,
                Some(Pass::Fails) => {
                    self.partial.insert(node);
                    return Ok(Pass::Fails);
                }
                Some(Pass::Costly(counts)) => {
                    self.stopped += 1;
                    if let Some(floor) = self.floor.as_mut() {
                        // Rows suppressed here are suppressed at every specialization.
                        let forced = self.loss.forced_below(&levels, &counts);
                        raise_below(&self.lattice, floor, &forced, &levels);
                    }
                    return Ok(Pass::Costly(counts));
                }
                None => classes_with(
                    self.t,
                    &self.g,
                    self.classes.make_contiguous(),
                    &levels,
                    self.with_hist,
                    &mut self.grouper,
                )?,
            };
            let v = judge(&self.loss, &mut self.checker, &c);
            if c.sizes.len() < self.t.counts.len() {
                self.cached_classes += c.sizes.len();
                self.classes.push_back(c);
                while self.cached_classes > CLASS_CACHE_BUDGET {
                    let Some(old) = self.classes.pop_front() else {
                        break;
                    };
                    self.cached_classes -= old.sizes.len();
                }
            }
            if !self.loss.bound_is_exact() {
                let mut stack = vec![node];
                while let Some(n) = stack.pop() {
                    if self.raised[n] >= v.unsuppressed {
                        continue;
                    }
                    self.raised[n] = v.unsuppressed;
                    stack.extend(self.lattice.up(n));
                }
            }
            if let (Some(floor), Some(forced)) = (self.floor.as_mut(), v.forced.as_ref()) {
                raise_below(&self.lattice, floor, forced, &v.eval.levels);
            } else if let Some(floor) = self.floor.as_mut() {
                let cost = v.eval.loss - v.unsuppressed;
                let mut stack = vec![node];
                while let Some(n) = stack.pop() {
                    if floor[n] >= cost {
                        continue;
                    }
                    floor[n] = cost;
                    stack.extend(self.lattice.down(n));
                }
            }
            self.cache.insert(node, v);
        }
        Ok(Pass::Done(Classes {
            levels: Vec::new(),
            codes: Vec::new(),
            sizes: Vec::new(),
            hist: None,
        }))
    }

    /// Evaluates a node, tags what monotonicity then tells, and keeps the best anonymous one
    /// (the least general among equal losses). None when, with `stop`, the evaluation
    /// stopped because the node's loss exceeds the best one before its status was known.
    fn visit(&mut self, n: usize, stop: bool) -> Fallible<Option<Visited>> {
        match self.eval(n, stop)? {
            Pass::Costly(_) => return Ok(None),
            Pass::Fails => {
                let lattice = &self.lattice;
                tag(&mut self.status, n, NOT_ANONYMOUS, |x| {
                    lattice.down(x).collect()
                });
                return Ok(Some(Visited {
                    anonymous: false,
                    monotone_ok: false,
                    loss: f64::INFINITY,
                }));
            }
            Pass::Done(_) => {}
        }
        let v = &self.cache[&n];
        let out = Visited {
            anonymous: v.eval.anonymous,
            monotone_ok: v.monotone_ok,
            loss: v.eval.loss,
        };
        if out.anonymous && self.best.as_ref().is_none_or(|b| better(&v.eval, b)) {
            self.best = Some(v.eval.clone());
        }
        let lattice = &self.lattice;
        if out.monotone_ok {
            tag(&mut self.status, n, ANONYMOUS, |x| lattice.up(x).collect());
        } else {
            tag(&mut self.status, n, NOT_ANONYMOUS, |x| {
                lattice.down(x).collect()
            });
        }
        Ok(Some(out))
    }

    /// A lower bound of the loss at `n` ignoring suppression, monotone up the lattice.
    fn bound(&self, n: usize) -> f64 {
        let b = self.loss.static_bound(&self.lattice.levels(n));
        if self.loss.bound_is_exact() {
            b
        } else {
            b.max(self.raised[n])
        }
    }

    /// [`Search::bound`] plus the suppression cost that is forced at `n` (see
    /// [`Search::floor`]): a lower bound of the loss with suppression.
    fn full_bound(&self, n: usize) -> f64 {
        self.bound(n) + self.floor.as_ref().map_or(0.0, |f| f[n])
    }

    fn beaten(&self, prune: bool, n: usize) -> bool {
        prune
            && self
                .best
                .as_ref()
                .is_some_and(|b| self.full_bound(n) > b.loss + slack(b.loss))
    }
}

/// [`search`], calling `progress(classified, lattice size)` as nodes get classified.
///
/// Monotonicity (a node that passes implies every generalization passes) is used only where
/// it holds. Without suppression it holds for every criterion, since a generalized class is
/// a union of classes that all pass: size and distinct values only grow; entropy is concave,
/// so a union's entropy is at least its parts' smallest; recursive (c, l) reads
/// r1 + c·(r1 + … + r_{l−1}) < c·n, and both the largest count and the sum of the l − 1
/// largest counts of a union are at most the sums of its parts'; the EMD to a fixed
/// distribution is convex in the class's distribution (for either ground distance the
/// weighted sum of the parts' transport plans moves the union), so a union is at most as far
/// as its farthest part. With suppression, a union may fail the model although some of its
/// parts pass (entropy, recursive, t-closeness), so the rows suppressed can grow up the
/// lattice: then the statuses only record the part of the model whose failure does imply
/// the parts' failure — size ≥ k and enough distinct values for l ([`Model::
/// suppression_monotone`]) — and every node that passes it and could beat the best loss is
/// evaluated.
pub fn search_with_progress(
    t: &Table,
    model: &Model,
    mut progress: impl FnMut(usize, usize),
) -> Fallible<Solution> {
    let model = model.validated()?;
    let checker = Checker::new(&model, t)?;
    let lattice = Lattice::new(t.hierarchies.iter().map(Hierarchy::height).collect());
    let size = lattice.size;
    let mut s = Search {
        t,
        g: Generalize::new(t),
        loss: Loss::new(t, model.metric),
        with_hist: checker.needs_histograms(),
        checker,
        grouper: Grouper::default(),
        blocked: (0..t.hierarchies.len()).map(|_| None).collect(),
        largest: largest_groups(t),
        partial: std::collections::HashSet::new(),
        stopped: 0,
        status: vec![UNKNOWN; size],
        cache: HashMap::new(),
        classes: std::collections::VecDeque::new(),
        cached_classes: 0,
        raised: vec![0.0; size],
        floor: (model.suppression_monotone() && model.metric != Metric::AverageClassSize)
            .then(|| vec![0.0; size]),
        best: None,
        lattice,
    };
    let top = size - 1;
    if !s.visit(top, false)?.is_some_and(|v| v.monotone_ok) {
        return Err(unsatisfiable(t, &model));
    }
    // Phase 0 (with suppression, where the loss is not monotone): a greedy descent from the
    // top, always to the anonymous specialization with the least loss, gives a first bound
    // so that phase 1 can ignore nodes that cannot beat it.
    if model.max_suppression > 0.0 {
        let mut node = top;
        loop {
            let mut next: Option<(f64, usize)> = None;
            for d in s.lattice.down(node).collect::<Vec<_>>() {
                if s.status[d] == NOT_ANONYMOUS {
                    continue;
                }
                let Some(v) = s.visit(d, false)? else {
                    continue;
                };
                if v.anonymous && next.is_none_or(|(l, _)| v.loss < l) {
                    next = Some((v.loss, d));
                }
            }
            match next {
                Some((_, d)) => node = d,
                None => break,
            }
        }
    }
    // Without suppression the loss of an additive metric is the (monotone) bound itself and
    // phase 2 takes the first anonymous node in bound order, so phase 1 classifies
    // everything.
    let prune = model.max_suppression > 0.0 || !s.loss.bound_is_exact();
    // Phase 1: classify every node that could still beat the best loss found.
    let heights: Vec<usize> = (0..size).map(|n| s.lattice.height_of(n)).collect();
    let mut order: Vec<usize> = (0..size).collect();
    order.sort_by_key(|n| heights[*n]);
    // With suppression that never grows up the lattice, sweep from the top down instead:
    // every node that could still win is visited after all its generalizations, so it gets
    // their failures (tags) and their suppression costs (floors) first, and its own pass may
    // stop as soon as its loss is sure to exceed the best one.
    let sweep = model.max_suppression > 0.0 && s.floor.is_some();
    if sweep {
        for (i, &n) in order.iter().rev().enumerate() {
            if s.status[n] == UNKNOWN && !s.beaten(prune, n) {
                s.visit(n, true)?;
            }
            if i % 256 == 255 {
                progress(i + 1, size);
            }
        }
    }
    for &start in order.iter().filter(|_| !sweep) {
        if s.status[start] != UNKNOWN || s.beaten(prune, start) {
            continue;
        }
        // An upward chain of unclassified nodes, raising the attribute that is relatively
        // least generalized, so chains cut through the middle of the lattice; it ends where
        // the loss bound reaches the best loss (nothing above can win).
        let mut path = vec![start];
        let mut node = start;
        loop {
            let lattice = &s.lattice;
            let next = lattice
                .up(node)
                .filter(|n| s.status[*n] == UNKNOWN && !s.beaten(prune, *n))
                .min_by(|a, b| {
                    let rel = |n: usize| {
                        (0..lattice.heights.len())
                            .map(|j| lattice.level(n, j) as f64 / lattice.heights[j] as f64)
                            .fold(0.0, f64::max)
                    };
                    rel(*a).total_cmp(&rel(*b))
                });
            match next {
                Some(n) => {
                    path.push(n);
                    node = n;
                }
                None => break,
            }
        }
        // Statuses along a chain are monotone: binary search for the boundary.
        let (mut lo, mut hi) = (0usize, path.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let n = path[mid];
            let ok = match s.status[n] {
                ANONYMOUS => true,
                NOT_ANONYMOUS => false,
                // Without `stop` a visit always learns the status.
                _ => s.visit(n, false)?.is_some_and(|v| v.monotone_ok),
            };
            if ok {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let classified = s.status.iter().filter(|x| **x != UNKNOWN).count();
        progress(classified, size);
    }
    // Phase 2: nodes that pass (the monotone part of) the model by increasing lower bound;
    // stop when the bound reaches the best loss (every later node's loss is at least its
    // bound). Unclassified nodes were beaten when phase 1 met them and still are (bounds
    // only grow, the best loss only falls). When the suppressed rows never grow up the
    // lattice, the bound adds the suppression cost of any evaluated generalization: rows
    // suppressed there are suppressed here too, each costing at least as much (smaller
    // groups; the average class size is not a sum over rows and gets no such term).
    let mut candidates: std::collections::BinaryHeap<std::cmp::Reverse<(Key, usize, usize)>> = (0
        ..size)
        .filter(|n| s.status[*n] == ANONYMOUS)
        .map(|n| std::cmp::Reverse((Key(s.full_bound(n)), s.lattice.height_of(n), n)))
        .collect();
    while let Some(std::cmp::Reverse((Key(bound), height, node))) = candidates.pop() {
        // Bounds of class-size metrics grow as nodes get evaluated: requeue a stale one.
        let now = s.full_bound(node);
        if now > bound {
            candidates.push(std::cmp::Reverse((Key(now), height, node)));
            continue;
        }
        if s.best
            .as_ref()
            .is_some_and(|b| bound > b.loss + slack(b.loss))
        {
            break;
        }
        s.visit(node, true)?;
    }
    let evaluated = s.cache.len() + s.partial.len() + s.stopped;
    match s.best {
        Some(best) => Ok(Solution {
            best,
            evaluated,
            lattice_size: size,
        }),
        None => Err(unsatisfiable(t, &model)),
    }
}

/// The error when no transformation satisfies the model, blaming k when k-anonymity alone
/// already fails at full generalization.
fn unsatisfiable(t: &Table, model: &Model) -> VeilError {
    let k_only = Model {
        l_diversity: None,
        t_closeness: None,
        ..*model
    };
    let top: Vec<usize> = t.hierarchies.iter().map(|h| h.height() - 1).collect();
    let k_fails = evaluate_levels(t, &k_only, &top).is_ok_and(|v| !v.anonymous);
    let argument = if k_fails || (model.l_diversity.is_none() && model.t_closeness.is_none()) {
        "k"
    } else if model.l_diversity.is_some() {
        "l"
    } else {
        "t"
    };
    VeilError::invalid(
        argument,
        format!(
            "no transformation makes the table {} within the suppression limit of {}%",
            model.describe(),
            model.max_suppression * 100.0
        ),
    )
}

/// Evaluates one given transformation (for reports, saved solutions and tests).
pub fn evaluate_levels(t: &Table, model: &Model, levels: &[usize]) -> Fallible<Evaluation> {
    if levels.len() != t.hierarchies.len()
        || levels
            .iter()
            .zip(&t.hierarchies)
            .any(|(l, h)| *l >= h.height())
    {
        return Err(VeilError::invalid(
            "levels",
            format!(
                "need one level per quasi-identifier below its hierarchy's height, got {levels:?}"
            ),
        ));
    }
    let mut checker = Checker::new(model, t)?;
    let c = classes_of(
        t,
        &Generalize::new(t),
        &[],
        levels,
        checker.needs_histograms(),
    )?;
    Ok(judge(&Loss::new(t, model.metric), &mut checker, &c).eval)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small table: age (intervals), zip (prefix masking), sex.
    fn table(rows: &[(i64, &str, &str)]) -> Table {
        let ages: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let age = Hierarchy::intervals("age", &ages, &[5, 10, 20]).unwrap();
        let mut zips: Vec<&str> = rows.iter().map(|r| r.1).collect();
        zips.sort();
        zips.dedup();
        let zip = Hierarchy::from_rows(
            "zip",
            zips.iter()
                .map(|z| {
                    (0..=z.len())
                        .map(|i| format!("{}{}", &z[..z.len() - i], "*".repeat(i)))
                        .collect()
                })
                .collect(),
        )
        .unwrap();
        let sex = Hierarchy::from_rows(
            "sex",
            vec![vec!["F".into(), "*".into()], vec!["M".into(), "*".into()]],
        )
        .unwrap();
        let age_text: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
        let encoded: Vec<Vec<&str>> = rows
            .iter()
            .zip(&age_text)
            .map(|(r, a)| vec![a.as_str(), r.1, r.2])
            .collect();
        Table::encode(&["age", "zip", "sex"], vec![age, zip, sex], encoded).unwrap()
    }

    fn sample() -> Table {
        let mut rows = Vec::new();
        let zips = [
            "13053", "13068", "13053", "14850", "14853", "14850", "13053", "13068",
        ];
        for i in 0..64u32 {
            let age = 20 + ((i * 7919) % 47) as i64;
            let zip = zips[(i as usize * 5) % zips.len()];
            let sex = if (i * 31) % 3 == 0 { "F" } else { "M" };
            rows.push((age, zip, sex));
        }
        table(&rows)
    }

    #[test]
    fn optimum_beats_every_other_node_by_brute_force() {
        let t = sample();
        for (k, s) in [(2, 0.0), (3, 0.0), (5, 0.04), (4, 0.1), (10, 0.02)] {
            let model = KAnonymity::new(k, s).unwrap();
            let found = search(&t, &model).unwrap();
            let lattice = Lattice::new(t.hierarchies.iter().map(Hierarchy::height).collect());
            let mut best: Option<Evaluation> = None;
            for node in 0..lattice.size {
                let v = evaluate_levels(&t, &model, &lattice.levels(node)).unwrap();
                if v.anonymous && best.as_ref().is_none_or(|b| v.loss < b.loss) {
                    best = Some(v);
                }
            }
            let best = best.unwrap();
            assert!(
                (found.best.loss - best.loss).abs() < 1e-6,
                "k={k} s={s}: search {:?} vs brute force {:?}",
                found.best,
                best
            );
            assert!(found.best.anonymous);
        }
    }

    #[test]
    fn result_really_is_k_anonymous() {
        let t = sample();
        for (k, limit) in [(4usize, 0.05), (6, 0.1), (10, 0.15)] {
            let model = KAnonymity::new(k, limit).unwrap();
            let s = search(&t, &model).unwrap();
            // Recount classes from scratch on the generalized strings.
            let mut classes: HashMap<Vec<String>, usize> = HashMap::new();
            let q = t.hierarchies.len();
            for (i, c) in t.counts.iter().enumerate() {
                let key: Vec<String> = (0..q)
                    .map(|j| {
                        let h = &t.hierarchies[j];
                        let l = s.best.levels[j];
                        h.label(l, h.code(l, t.tuples[i * q + j])).to_string()
                    })
                    .collect();
                *classes.entry(key).or_insert(0) += *c as usize;
            }
            let (loss, _) = loss_by_definition(&t, &s.best.levels, k);
            assert!(
                (loss - s.best.loss).abs() < 1e-6,
                "{loss} vs {}",
                s.best.loss
            );
            let small: usize = classes.values().filter(|n| **n < k).sum();
            assert_eq!(small, s.best.suppressed_rows);
            assert!(small as f64 <= limit * t.rows() as f64);
            assert_eq!(
                classes.values().filter(|n| **n >= k).count(),
                s.best.classes
            );
        }
    }

    /// Non-uniform entropy from its definition, row by row: −log2 P(original | released),
    /// a suppressed row releasing nothing (so P(original) over all rows).
    fn loss_by_definition(t: &Table, levels: &[usize], k: usize) -> (f64, usize) {
        let q = levels.len();
        let released = |i: usize| -> Vec<u32> {
            (0..q)
                .map(|j| t.hierarchies[j].code(levels[j], t.tuples[i * q + j]))
                .collect()
        };
        let mut sizes: HashMap<Vec<u32>, usize> = HashMap::new();
        for (i, c) in t.counts.iter().enumerate() {
            *sizes.entry(released(i)).or_insert(0) += *c as usize;
        }
        let count_where = |j: usize, pred: &dyn Fn(u32) -> bool| -> f64 {
            (0..t.counts.len())
                .filter(|x| pred(t.tuples[x * q + j]))
                .map(|x| f64::from(t.counts[x]))
                .sum()
        };
        let (mut loss, mut suppressed) = (0f64, 0usize);
        for (i, c) in t.counts.iter().enumerate() {
            let is_suppressed = sizes[&released(i)] < k;
            if is_suppressed {
                suppressed += *c as usize;
            }
            for (j, (h, &l)) in t.hierarchies.iter().zip(levels).enumerate() {
                let b = t.tuples[i * q + j];
                let same = count_where(j, &|o| o == b);
                let group = if is_suppressed {
                    t.rows() as f64
                } else {
                    count_where(j, &|o| h.code(l, o) == h.code(l, b))
                };
                loss += f64::from(*c) * -(same / group).log2();
            }
        }
        (loss, suppressed)
    }

    #[test]
    fn loss_matches_its_definition_on_every_node() {
        let t = sample();
        let lattice = Lattice::new(t.hierarchies.iter().map(Hierarchy::height).collect());
        let mut with_suppression = 0;
        for k in [3, 8] {
            let model = KAnonymity::new(k, 1.0).unwrap();
            for node in 0..lattice.size {
                let levels = lattice.levels(node);
                let v = evaluate_levels(&t, &model, &levels).unwrap();
                let (loss, suppressed) = loss_by_definition(&t, &levels, k);
                assert_eq!(v.suppressed_rows, suppressed, "{levels:?}");
                assert!(
                    (v.loss - loss).abs() < 1e-6,
                    "{levels:?}: {} vs {loss}",
                    v.loss
                );
                with_suppression += usize::from(suppressed > 0);
            }
        }
        assert!(with_suppression > 10);
    }

    /// Four rows, one per (a1 | a2) × (b1 | b2): at levels [1, 0] and [0, 1] every class
    /// has two rows, at [0, 0] one. Every metric gives [1, 0] and [0, 1] the same loss; the
    /// search must pick the least general, then lexicographically lowest: [0, 1].
    #[test]
    fn ties_go_to_the_least_general_transformation() {
        let h = |v: &str| {
            let row = |i: u32| vec![format!("{v}{i}"), v.to_uppercase(), "*".to_string()];
            Hierarchy::from_rows(v, vec![row(1), row(2)]).unwrap()
        };
        let rows = [["a1", "b1"], ["a2", "b1"], ["a1", "b2"], ["a2", "b2"]];
        let t = Table::encode(&["a", "b"], vec![h("a"), h("b")], rows).unwrap();
        for metric in Metric::ALL {
            for s in [0.0, 0.25] {
                let m = KAnonymity::new(2, s).unwrap().with_metric(metric);
                let found = search(&t, &m).unwrap();
                assert_eq!(found.best.levels, vec![0, 1], "{metric}, suppression {s}");
                let twin = evaluate_levels(&t, &m, &[1, 0]).unwrap();
                assert!(twin.anonymous && twin.loss == found.best.loss, "{twin:?}");
                assert!(!evaluate_levels(&t, &m, &[0, 0]).unwrap().anonymous);
            }
        }
    }

    /// A blocked pass groups like a roll-up from the base, and stops early only when the
    /// node surely fails (more than `limit` rows in classes below k) or surely costs more
    /// than allowed (the suppressed rows' gaps above `max_gap`).
    #[test]
    fn blocked_passes_match_roll_ups_and_stop_only_when_sure() {
        let t = sample();
        let q = t.hierarchies.len();
        let lattice = Lattice::new(t.hierarchies.iter().map(Hierarchy::height).collect());
        let g = Generalize::new(&t);
        let loss = Loss::new(&t, Metric::Entropy);
        let mut grouper = Grouper::default();
        let sorted = |c: &Classes| {
            let mut v: Vec<(&[u32], u32)> = (0..c.sizes.len())
                .map(|i| (&c.codes[i * q..(i + 1) * q], c.sizes[i]))
                .collect();
            v.sort();
            v.into_iter()
                .map(|(c, n)| (c.to_vec(), n))
                .collect::<Vec<_>>()
        };
        let (mut done, mut fails, mut costly) = (0, 0, 0);
        for j in 0..q {
            let mut b = Blocked::new(&t, j);
            for node in 0..lattice.size {
                let levels = lattice.levels(node);
                let Some(blocks) = b.blocks[levels[j]].as_mut() else {
                    // Only a level where every row has one code has a single block.
                    assert_eq!(largest_groups(&t)[j][levels[j]], t.rows() as u64);
                    continue;
                };
                let radix = packed_radix(&t, &levels).unwrap();
                let whole = classes_of(&t, &g, &[], &levels, false).unwrap();
                for k in [1u32, 2, 5] {
                    let small: usize = whole
                        .sizes
                        .iter()
                        .filter(|s| **s < k)
                        .map(|s| *s as usize)
                        .sum();
                    let gap: f64 = (0..whole.sizes.len())
                        .filter(|i| whole.sizes[*i] < k)
                        .map(|i| {
                            f64::from(whole.sizes[i])
                                * loss.row_gap(&levels, &whole.codes[i * q..(i + 1) * q])
                        })
                        .sum();
                    for limit in [0, small.saturating_sub(1), small, small + 3] {
                        let below = (gap - 1e-6).max(0.0);
                        for max_gap in [None, Some(gap * 0.5), Some(below), Some(gap)] {
                            let tuples = Tuples {
                                base: &t.tuples,
                                columns: &b.columns,
                                origin: &b.origin,
                                counts: &b.counts,
                            };
                            match blocked_pass(
                                &g,
                                &loss,
                                tuples,
                                (j, blocks),
                                &radix,
                                &levels,
                                (k, limit),
                                max_gap,
                                &mut grouper,
                            ) {
                                Pass::Done(c) => {
                                    assert!(small <= limit);
                                    assert!(max_gap.is_none_or(|m| gap <= m + 1e-9));
                                    assert_eq!(sorted(&c), sorted(&whole), "{levels:?}");
                                    done += 1;
                                }
                                Pass::Fails => {
                                    assert!(small > limit, "{levels:?} k={k}");
                                    fails += 1;
                                }
                                Pass::Costly(found) => {
                                    // (Up to rounding: the pass sums in another order.)
                                    let m = max_gap.unwrap_or(f64::INFINITY);
                                    assert!(gap > m - 1e-9 * (1.0 + m), "{levels:?}");
                                    // What it found suppressed is suppressed.
                                    let rows: u64 = found[0].iter().sum();
                                    assert!(rows as usize <= small && rows > 0);
                                    costly += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(
            done > 100 && fails > 100 && costly > 100,
            "{done} {fails} {costly}"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(KAnonymity::new(0, 0.0)
            .unwrap_err()
            .to_string()
            .contains("`k`"));
        assert!(KAnonymity::new(2, 1.5).is_err());
        let t = sample();
        let err = search(&t, &KAnonymity::new(1000, 0.0).unwrap()).unwrap_err();
        assert!(err
            .to_string()
            .contains("no transformation makes the table 1000-anonymous"));
        let h = Hierarchy::intervals("age", &[30], &[10]).unwrap();
        let err = Table::encode(&["age"], vec![h], vec![vec!["31"]])
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("no entry for value \"31\""),
            "{err}"
        );
    }
}
