//! k-anonymity by full-domain generalization with a suppression limit.
//!
//! A transformation is a level vector (one generalization level per quasi-identifier); the
//! transformations form a lattice. [`search`] finds the one that satisfies k-anonymity (rows
//! in classes smaller than k are suppressed, at most `max_suppressed` of them) with the
//! least non-uniform entropy, and proves it optimal:
//!
//! 1. Nodes are classified anonymous or not using monotonicity (if a node is anonymous, so
//!    is every generalization of it): binary searches along upward chains of unclassified
//!    nodes (Flash-style) classify whole up-sets and down-sets per evaluation. With
//!    suppression, a greedy descent from the top first gives an upper bound, and nodes
//!    whose lower bound (below) reaches the best loss found are left unclassified.
//! 2. Anonymous nodes are visited by increasing lower bound of their loss (the entropy
//!    without suppression, which only grows up the lattice and never exceeds the loss);
//!    the search stops once the bound reaches the best loss found.
//!
//! Equivalence classes are computed on integer codes over the table's frequency set
//! (distinct combinations of original values with their counts), never on strings.

mod class_sizes;
mod from_codes;
mod hierarchy;
mod mondrian;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub use class_sizes::ClassSizes;
pub use hierarchy::Hierarchy;
pub use mondrian::{mondrian, MondrianModel, MondrianQi, MondrianResult, SensitiveColumn};

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

/// Per-attribute tables for the loss and for generalizing codes.
struct Entropy {
    /// `total[j][level]`: Σ over rows of −log2 P(original | generalized).
    total: Vec<Vec<f64>>,
    /// `gap[j][level][code]`: log2 n − log2 (rows whose value generalizes to `code`): what
    /// suppressing one row of that class adds for attribute j. For a row with original
    /// value v, −log2 P(v) − (−log2 P(v | code)) = log2 n − log2 |code| — independent of v,
    /// so classes alone (without their original values) determine the loss.
    gap: Vec<Vec<Vec<f64>>>,
    /// `up[j][from][to][code]`: the level-`to` code of a level-`from` code (from ≤ to).
    up: Vec<Vec<Vec<Vec<u32>>>>,
}

impl Entropy {
    fn new(t: &Table) -> Self {
        let q = t.hierarchies.len();
        let n = t.rows as f64;
        let mut total = Vec::with_capacity(q);
        let mut gap = Vec::with_capacity(q);
        let mut up = Vec::with_capacity(q);
        for (j, h) in t.hierarchies.iter().enumerate() {
            let mut base_count = vec![0f64; h.len()];
            for (i, c) in t.counts.iter().enumerate() {
                base_count[t.tuples[i * q + j] as usize] += f64::from(*c);
            }
            let mut totals = Vec::with_capacity(h.height());
            let mut gaps = Vec::with_capacity(h.height());
            for level in 0..h.height() {
                let mut group = vec![0f64; h.distinct(level)];
                for (b, c) in base_count.iter().enumerate() {
                    group[h.code(level, b as u32) as usize] += c;
                }
                totals.push(
                    base_count
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| **c > 0.0)
                        .map(|(b, c)| -c * (c / group[h.code(level, b as u32) as usize]).log2())
                        .sum(),
                );
                gaps.push(
                    group
                        .iter()
                        .map(|g| if *g > 0.0 { n.log2() - g.log2() } else { 0.0 })
                        .collect(),
                );
            }
            let ups = (0..h.height())
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
                .collect();
            total.push(totals);
            gap.push(gaps);
            up.push(ups);
        }
        Entropy { total, gap, up }
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

/// The equivalence classes of one transformation: generalized codes and sizes.
struct Classes {
    levels: Vec<usize>,
    /// Flattened codes (`codes[c * q + j]`).
    codes: Vec<u32>,
    sizes: Vec<u32>,
}

/// Groups `sizes`/`codes` (classes at levels `from` ≤ `levels`, or the base frequency set
/// with `from` all zero) by their codes at `levels`.
fn roll_up(
    t: &Table,
    e: &Entropy,
    from: &[usize],
    codes: &[u32],
    sizes: &[u32],
    levels: &[usize],
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
    let maps: Vec<&[u32]> = (0..q).map(|j| &e.up[j][from[j]][levels[j]][..]).collect();
    let mut ids: KeyMap<u32> = KeyMap::default();
    ids.reserve(sizes.len().min(1 << 16));
    let mut out = Classes {
        levels: levels.to_vec(),
        codes: Vec::new(),
        sizes: Vec::new(),
    };
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
    }
    Ok(out)
}

/// How many classes (over all cached lists) the search keeps for roll-ups, oldest lists
/// evicted first: about 40 MB for 9 quasi-identifiers.
const CLASS_CACHE_BUDGET: usize = 1 << 20;

/// Classes of `levels`, rolled up from the cached transformation below it with the fewest
/// classes, or from the base frequency set.
fn classes_of(t: &Table, e: &Entropy, cache: &[Classes], levels: &[usize]) -> Fallible<Classes> {
    let below = cache
        .iter()
        .filter(|c| c.levels.iter().zip(levels).all(|(a, b)| a <= b))
        .min_by_key(|c| c.sizes.len());
    match below {
        Some(c) if c.sizes.len() < t.counts.len() => {
            roll_up(t, e, &c.levels, &c.codes, &c.sizes, levels)
        }
        _ => roll_up(t, e, &vec![0; levels.len()], &t.tuples, &t.counts, levels),
    }
}

/// Applies the privacy model to a transformation's classes.
fn judge(t: &Table, e: &Entropy, model: &KAnonymity, c: &Classes) -> Evaluation {
    let q = c.levels.len();
    let k = model.k as u32;
    let mut suppressed = 0usize;
    let mut extra = 0f64;
    let mut kept = 0usize;
    for (i, size) in c.sizes.iter().enumerate() {
        if *size < k {
            suppressed += *size as usize;
            let gap: f64 = (0..q)
                .map(|j| e.gap[j][c.levels[j]][c.codes[i * q + j] as usize])
                .sum();
            extra += f64::from(*size) * gap;
        } else {
            kept += 1;
        }
    }
    let limit = (model.max_suppression * t.rows as f64 + 1e-9).floor() as usize;
    Evaluation {
        levels: c.levels.clone(),
        classes: kept,
        suppressed_rows: suppressed,
        anonymous: suppressed <= limit,
        loss: e.lower_bound(&c.levels) + extra,
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
    let mut classes: std::collections::VecDeque<Classes> = std::collections::VecDeque::new();
    let mut cached_classes = 0usize;
    let mut eval = |node: usize, cache: &mut HashMap<usize, Evaluation>| -> Fallible<Evaluation> {
        if let Some(v) = cache.get(&node) {
            return Ok(v.clone());
        }
        let c = classes_of(t, &e, classes.make_contiguous(), &lattice.levels(node))?;
        let v = judge(t, &e, model, &c);
        if c.sizes.len() < t.counts.len() {
            cached_classes += c.sizes.len();
            classes.push_back(c);
            while cached_classes > CLASS_CACHE_BUDGET {
                let old = classes.pop_front().expect("non-empty while over budget");
                cached_classes -= old.sizes.len();
            }
        }
        cache.insert(node, v.clone());
        Ok(v)
    };
    // Evaluates a node, tags what monotonicity then tells, and keeps the best anonymous one.
    let mut best: Option<Evaluation> = None;
    let mut visit = |n: usize,
                     status: &mut Vec<u8>,
                     cache: &mut HashMap<usize, Evaluation>,
                     best: &mut Option<Evaluation>|
     -> Fallible<bool> {
        let v = eval(n, cache)?;
        if v.anonymous {
            tag(status, n, ANONYMOUS, |x| lattice.up(x).collect());
            if best.as_ref().is_none_or(|b| v.loss < b.loss - 1e-9) {
                *best = Some(v.clone());
            }
        } else {
            tag(status, n, NOT_ANONYMOUS, |x| lattice.down(x).collect());
        }
        Ok(v.anonymous)
    };
    let top = lattice.size - 1;
    if !visit(top, &mut status, &mut cache, &mut best)? {
        return Err(VeilError::invalid(
            "k",
            format!(
                "no transformation makes the table {}-anonymous within the suppression limit of {}%",
                model.k,
                model.max_suppression * 100.0
            ),
        ));
    }
    // Phase 0 (with suppression, where the loss is not monotone): a greedy descent from the
    // top, always to the anonymous specialization with the least loss, gives a first bound
    // so that phase 1 can ignore nodes that cannot beat it.
    if model.max_suppression > 0.0 {
        let mut node = top;
        loop {
            let mut next: Option<(f64, usize)> = None;
            for d in lattice.down(node).collect::<Vec<_>>() {
                if status[d] == NOT_ANONYMOUS || !visit(d, &mut status, &mut cache, &mut best)? {
                    continue;
                }
                let loss = cache[&d].loss;
                if next.is_none_or(|(l, _)| loss < l) {
                    next = Some((loss, d));
                }
            }
            match next {
                Some((_, d)) => node = d,
                None => break,
            }
        }
    }
    let bound = |n: usize| e.lower_bound(&lattice.levels(n));
    // Without suppression the loss is the (monotone) bound itself and phase 2 takes the
    // first anonymous node in bound order, so phase 1 classifies everything.
    let prune = model.max_suppression > 0.0;
    let beaten = |n: usize, best: &Option<Evaluation>| {
        prune && best.as_ref().is_some_and(|b| bound(n) >= b.loss - 1e-9)
    };
    // Phase 1: classify every node that could still beat the best loss found.
    let mut order: Vec<usize> = (0..lattice.size).collect();
    order.sort_by_key(|n| lattice.height_of(*n));
    for &start in &order {
        if status[start] != UNKNOWN || beaten(start, &best) {
            continue;
        }
        // An upward chain of unclassified nodes, raising the attribute that is relatively
        // least generalized, so chains cut through the middle of the lattice; it ends where
        // the loss bound reaches the best loss (nothing above can win).
        let mut path = vec![start];
        let mut node = start;
        loop {
            let next = lattice
                .up(node)
                .filter(|n| status[*n] == UNKNOWN && !beaten(*n, &best))
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
                _ => visit(n, &mut status, &mut cache, &mut best)?,
            };
            if anonymous {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let classified = status.iter().filter(|s| **s != UNKNOWN).count();
        progress(classified, lattice.size);
    }
    // Phase 2: anonymous nodes by increasing lower bound; stop when the bound reaches the
    // best loss (every later node's loss is at least its bound). The bound is the entropy
    // without suppression plus the suppression cost of any evaluated generalization: rows
    // suppressed there are suppressed here too, each costing at least as much (smaller
    // groups), so that cost never grows up the lattice.
    let mut floor = vec![0f64; lattice.size];
    for &n in order.iter().rev() {
        let mut f = lattice.up(n).map(|u| floor[u]).fold(0.0, f64::max);
        if let Some(v) = cache.get(&n) {
            f = f.max(v.loss - e.lower_bound(&v.levels));
        }
        floor[n] = f;
    }
    let mut candidates: Vec<(f64, usize)> = (0..lattice.size)
        .filter(|n| status[*n] == ANONYMOUS)
        .map(|n| (e.lower_bound(&lattice.levels(n)) + floor[n], n))
        .collect();
    candidates.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(lattice.height_of(a.1).cmp(&lattice.height_of(b.1)))
            .then(a.1.cmp(&b.1))
    });
    for (bound, node) in candidates {
        if best.as_ref().is_some_and(|b| bound >= b.loss - 1e-9) {
            break;
        }
        visit(node, &mut status, &mut cache, &mut best)?;
    }
    let best = best.expect("the top node is anonymous");
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
    let e = Entropy::new(t);
    let c = classes_of(t, &e, &[], levels)?;
    Ok(judge(t, &e, model, &c))
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
            for j in 0..q {
                let (h, l, b) = (&t.hierarchies[j], levels[j], t.tuples[i * q + j]);
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
