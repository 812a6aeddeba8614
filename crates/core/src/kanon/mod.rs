//! k-anonymity by full-domain generalization with a suppression limit.
//!
//! A transformation is a level vector (one generalization level per quasi-identifier); the
//! transformations form a lattice. [`search`] finds the one that satisfies k-anonymity (rows
//! in classes smaller than k are suppressed, at most `max_suppressed` of them) with the
//! least non-uniform entropy, and proves it optimal:
//!
//! 1. Every node is classified anonymous or not using monotonicity (if a node is
//!    anonymous, so is every generalization of it): binary searches along upward chains of
//!    unclassified nodes (Flash-style) classify whole up-sets and down-sets per evaluation.
//! 2. Anonymous nodes are visited by increasing lower bound of their loss (the entropy
//!    without suppression, which only grows up the lattice and never exceeds the loss);
//!    the search stops once the bound reaches the best loss found.
//!
//! Equivalence classes are computed on integer codes over the table's frequency set
//! (distinct combinations of original values with their counts), never on strings.

mod hierarchy;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub use hierarchy::Hierarchy;

use crate::error::{Fallible, VeilError};

/// A table reduced to what k-anonymity needs: the quasi-identifiers' base codes.
pub struct Table {
    names: Vec<String>,
    hierarchies: Vec<Hierarchy>,
    /// Distinct combinations of base codes, flattened (`tuples[t * q + j]`).
    tuples: Vec<u32>,
    /// Rows per distinct combination.
    counts: Vec<u32>,
    rows: usize,
}

impl Table {
    /// Encodes rows (one value per quasi-identifier, in the order of `names`). A value that
    /// is missing from its hierarchy is an error naming the column and the value.
    pub fn encode<'a, R>(names: &[&str], hierarchies: Vec<Hierarchy>, rows: R) -> Fallible<Self>
    where
        R: IntoIterator,
        R::Item: AsRef<[&'a str]>,
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
            n += 1;
        }
        Ok(Table {
            names: names.iter().map(|s| s.to_string()).collect(),
            hierarchies,
            tuples,
            counts,
            rows: n,
        })
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

/// The privacy model and limits of a search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KAnonymity {
    pub k: usize,
    /// Rows that may be suppressed, as a fraction of all rows in [0, 1].
    pub max_suppression: f64,
}

impl KAnonymity {
    pub fn new(k: usize, max_suppression: f64) -> Fallible<Self> {
        if k < 1 {
            return Err(VeilError::invalid(
                "k",
                format!("must be at least 1, got {k}"),
            ));
        }
        if !(0.0..=1.0).contains(&max_suppression) {
            return Err(VeilError::invalid(
                "suppression_limit",
                format!("must be between 0 and 1, got {max_suppression}"),
            ));
        }
        Ok(KAnonymity { k, max_suppression })
    }
}

/// What one transformation does to the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub levels: Vec<usize>,
    /// Equivalence classes kept (size ≥ k).
    pub classes: usize,
    pub suppressed_rows: usize,
    pub anonymous: bool,
    /// Non-uniform entropy in bits, suppressed rows counted as fully generalized.
    pub loss: f64,
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

/// Per-attribute entropy tables.
struct Entropy {
    /// `contrib[j][level][base]`: −log2 P(original | generalized) for one row.
    contrib: Vec<Vec<Vec<f64>>>,
    /// `total[j][level]`: sum of `contrib` over all rows.
    total: Vec<Vec<f64>>,
    /// `top[j][base]`: −log2 P(original) — a suppressed row's share.
    top: Vec<Vec<f64>>,
}

impl Entropy {
    fn new(t: &Table) -> Self {
        let q = t.hierarchies.len();
        let n = t.rows as f64;
        let mut contrib = Vec::with_capacity(q);
        let mut total = Vec::with_capacity(q);
        let mut top = Vec::with_capacity(q);
        for (j, h) in t.hierarchies.iter().enumerate() {
            let mut base_count = vec![0f64; h.len()];
            for (i, c) in t.counts.iter().enumerate() {
                base_count[t.tuples[i * q + j] as usize] += f64::from(*c);
            }
            let mut per_level = Vec::with_capacity(h.height());
            let mut totals = Vec::with_capacity(h.height());
            for level in 0..h.height() {
                let mut group = vec![0f64; h.distinct(level)];
                for (b, c) in base_count.iter().enumerate() {
                    group[h.code(level, b as u32) as usize] += c;
                }
                let c: Vec<f64> = (0..h.len())
                    .map(|b| {
                        let g = group[h.code(level, b as u32) as usize];
                        if base_count[b] == 0.0 {
                            0.0
                        } else {
                            -(base_count[b] / g).log2()
                        }
                    })
                    .collect();
                totals.push(c.iter().zip(&base_count).map(|(c, n)| c * n).sum());
                per_level.push(c);
            }
            top.push(
                base_count
                    .iter()
                    .map(|c| if *c == 0.0 { 0.0 } else { -(c / n).log2() })
                    .collect(),
            );
            contrib.push(per_level);
            total.push(totals);
        }
        Entropy {
            contrib,
            total,
            top,
        }
    }

    /// Loss without suppression: a lower bound of the loss, monotone in the lattice.
    fn lower_bound(&self, levels: &[usize]) -> f64 {
        levels
            .iter()
            .enumerate()
            .map(|(j, l)| self.total[j][*l])
            .sum()
    }
}

/// Computes the classes of one transformation.
fn evaluate(t: &Table, e: &Entropy, model: &KAnonymity, levels: &[usize]) -> Fallible<Evaluation> {
    let q = levels.len();
    // Mixed-radix key over the generalized codes.
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
    let m = t.counts.len();
    // Class id per distinct tuple and rows per class.
    let mut class_of: Vec<u32> = Vec::with_capacity(m);
    let mut sizes: Vec<u32> = Vec::new();
    let mut ids: KeyMap<u32> = KeyMap::default();
    ids.reserve(m.min(1 << 16));
    let level_codes: Vec<&[u32]> = (0..q)
        .map(|j| t.hierarchies[j].codes_at(levels[j]))
        .collect();
    let narrow = span <= u128::from(u64::MAX);
    for i in 0..m {
        let row = &t.tuples[i * q..(i + 1) * q];
        let id = if narrow {
            let mut key: u64 = 0;
            for j in 0..q {
                key += radix[j] as u64 * u64::from(level_codes[j][row[j] as usize]);
            }
            let next = sizes.len() as u32;
            *ids.entry(u128::from(key)).or_insert(next)
        } else {
            let mut key: u128 = 0;
            for j in 0..q {
                key += radix[j] * u128::from(level_codes[j][row[j] as usize]);
            }
            let next = sizes.len() as u32;
            *ids.entry(key).or_insert(next)
        };
        if id as usize == sizes.len() {
            sizes.push(0);
        }
        sizes[id as usize] += t.counts[i];
        class_of.push(id);
    }
    let k = model.k as u32;
    let mut suppressed = 0usize;
    let mut extra = 0f64;
    for i in 0..m {
        if sizes[class_of[i] as usize] < k {
            let c = t.counts[i] as usize;
            suppressed += c;
            let row = &t.tuples[i * q..(i + 1) * q];
            for j in 0..q {
                let b = row[j] as usize;
                extra += c as f64 * (e.top[j][b] - e.contrib[j][levels[j]][b]);
            }
        }
    }
    let classes = sizes.iter().filter(|s| **s >= k).count();
    let limit = (model.max_suppression * t.rows as f64 + 1e-9).floor() as usize;
    Ok(Evaluation {
        levels: levels.to_vec(),
        classes,
        suppressed_rows: suppressed,
        anonymous: suppressed <= limit,
        loss: e.lower_bound(levels) + extra,
    })
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

/// Finds the optimal transformation (least non-uniform entropy) satisfying `model`, or an
/// error when not even full generalization with the suppression limit satisfies it.
pub fn search(t: &Table, model: &KAnonymity) -> Fallible<Solution> {
    search_with_progress(t, model, |_, _| {})
}

/// [`search`], calling `progress(classified, lattice size)` as nodes get classified.
pub fn search_with_progress(
    t: &Table,
    model: &KAnonymity,
    mut progress: impl FnMut(usize, usize),
) -> Fallible<Solution> {
    let lattice = Lattice::new(t.hierarchies.iter().map(Hierarchy::height).collect());
    let e = Entropy::new(t);
    let mut status = vec![UNKNOWN; lattice.size];
    let mut cache: HashMap<usize, Evaluation> = HashMap::new();
    let eval = |node: usize, cache: &mut HashMap<usize, Evaluation>| -> Fallible<Evaluation> {
        if let Some(v) = cache.get(&node) {
            return Ok(v.clone());
        }
        let v = evaluate(t, &e, model, &lattice.levels(node))?;
        cache.insert(node, v.clone());
        Ok(v)
    };
    // Phase 1: classify every node.
    let mut order: Vec<usize> = (0..lattice.size).collect();
    order.sort_by_key(|n| lattice.height_of(*n));
    let mut classified = 0;
    for &start in &order {
        if status[start] != UNKNOWN {
            continue;
        }
        // An upward chain of unclassified nodes, raising the attribute that is relatively
        // least generalized, so chains cut through the middle of the lattice.
        let mut path = vec![start];
        let mut node = start;
        loop {
            let next = lattice
                .up(node)
                .filter(|n| status[*n] == UNKNOWN)
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
            let anonymous = match status[n] {
                ANONYMOUS => true,
                NOT_ANONYMOUS => false,
                _ => {
                    let v = eval(n, &mut cache)?;
                    if v.anonymous {
                        tag(&mut status, n, ANONYMOUS, |x| lattice.up(x).collect());
                    } else {
                        tag(&mut status, n, NOT_ANONYMOUS, |x| lattice.down(x).collect());
                    }
                    v.anonymous
                }
            };
            if anonymous {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        classified = status.iter().filter(|s| **s != UNKNOWN).count();
        progress(classified, lattice.size);
    }
    debug_assert_eq!(classified, lattice.size);
    // Phase 2: anonymous nodes by increasing lower bound; stop when the bound reaches the
    // best loss (every later node's loss is at least its bound).
    let mut candidates: Vec<(f64, usize)> = (0..lattice.size)
        .filter(|n| status[*n] == ANONYMOUS)
        .map(|n| (e.lower_bound(&lattice.levels(n)), n))
        .collect();
    if candidates.is_empty() {
        return Err(VeilError::invalid(
            "k",
            format!(
                "no transformation makes the table {}-anonymous within the suppression limit of {}%",
                model.k,
                model.max_suppression * 100.0
            ),
        ));
    }
    candidates.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(lattice.height_of(a.1).cmp(&lattice.height_of(b.1)))
            .then(a.1.cmp(&b.1))
    });
    let mut best: Option<Evaluation> = None;
    for (bound, node) in candidates {
        if best.as_ref().is_some_and(|b| bound >= b.loss - 1e-9) {
            break;
        }
        let v = eval(node, &mut cache)?;
        if v.anonymous && best.as_ref().is_none_or(|b| v.loss < b.loss - 1e-9) {
            best = Some(v);
        }
    }
    let best = best.expect("an anonymous candidate exists");
    Ok(Solution {
        best,
        evaluated: cache.len(),
        lattice_size: lattice.size,
    })
}

/// Evaluates one given transformation (for reports, saved solutions and tests).
pub fn evaluate_levels(t: &Table, model: &KAnonymity, levels: &[usize]) -> Fallible<Evaluation> {
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
    evaluate(t, &Entropy::new(t), model, levels)
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
        let model = KAnonymity::new(4, 0.05).unwrap();
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
        let small: usize = classes.values().filter(|n| **n < 4).sum();
        assert_eq!(small, s.best.suppressed_rows);
        assert!(small as f64 <= 0.05 * t.rows() as f64);
        assert_eq!(
            classes.values().filter(|n| **n >= 4).count(),
            s.best.classes
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
