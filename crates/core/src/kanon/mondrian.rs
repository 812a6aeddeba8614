//! Mondrian multidimensional local recoding: k-anonymity (optionally distinct l-diversity)
//! by cutting the table into boxes, after LeFevre, DeWitt and Ramakrishnan, "Mondrian
//! Multidimensional K-Anonymity" (ICDE 2006), strict partitioning.
//!
//! The table is cut recursively. A partition is cut along the quasi-identifier whose range
//! over the partition, divided by its range over the whole table, is widest; rows whose
//! value is at most the cut value go left, the rest right. A cut is *allowable* when both
//! sides keep at least `k` rows (and, with l-diversity, at least `l` distinct sensitive
//! values). Among the allowable cuts of a dimension the one nearest the median is taken:
//! normally just below or at the median value; when many rows share values around the
//! median, the nearest allowable cut further out. A dimension without an allowable cut is
//! skipped for the next widest; a partition where no dimension has one is final. Every
//! final partition is one equivalence class, released as the box of its rows' values,
//! per quasi-identifier the range `[lo, hi]` over its rows (rendered `lo-hi`, or `lo`
//! when lo = hi). Classes are disjoint boxes, and strict Mondrian's guarantee holds: no
//! final class has an allowable cut left on any dimension (checked for every cut value,
//! not only the median).
//!
//! Loss is the normalized certainty penalty (NCP) of Xu, Wang, Pei, Wang, Shi and Fu,
//! "Utility-Based Anonymization Using Local Recoding" (KDD 2006): a row released with
//! range `[lo, hi]` on a quasi-identifier costs `(hi − lo) / (max − min)`, the range
//! divided by the attribute's range over the whole table (0 when the whole table has one
//! value); the table's NCP is the mean over rows and quasi-identifiers, in [0, 1]
//! (0 = nothing generalized, 1 = every value generalized to the whole range). The
//! discernibility metric (Σ class size²) is reported too.
//!
//! Scale: values are replaced by their ranks and stored row-major next to the row number
//! (one copy of the table); partitions are contiguous ranges of that array, cut in place
//! by swapping rows, so each level of the recursion is a few sequential passes (median by
//! selection, O(m) per partition of m rows): O(n log n) for balanced cuts. The recursion is
//! an explicit stack, never the call stack. With `threads > 1`, a cut of a large partition
//! into two sides of at least a quarter each hands one side, a disjoint slice of the array,
//! to a new scoped thread with half the thread budget (so at most `threads` run); the
//! result does not depend on the number of threads.

use crate::error::{Fallible, VeilError};

/// One quasi-identifier column for [`mondrian`]; every column has one value per row.
#[derive(Debug, Clone, Copy)]
pub enum MondrianQi<'a> {
    /// Integers (ages, amounts, dates as day numbers, …).
    Numeric { name: &'a str, values: &'a [i64] },
    /// Ordered categories: `codes[row]` indexes `labels`, which lists the categories in
    /// their order (for example education levels); ranges are rendered with the labels.
    Ordered {
        name: &'a str,
        codes: &'a [u32],
        labels: &'a [String],
    },
}

impl MondrianQi<'_> {
    fn name(&self) -> &str {
        match self {
            MondrianQi::Numeric { name, .. } | MondrianQi::Ordered { name, .. } => name,
        }
    }

    fn len(&self) -> usize {
        match self {
            MondrianQi::Numeric { values, .. } => values.len(),
            MondrianQi::Ordered { codes, .. } => codes.len(),
        }
    }
}

/// The sensitive column for l-diversity: one integer code per row (equal codes are equal
/// sensitive values).
#[derive(Debug, Clone, Copy)]
pub struct SensitiveColumn<'a> {
    pub name: &'a str,
    pub codes: &'a [u32],
}

/// The privacy model of [`mondrian`]: every class has at least `k` rows and, when `l > 1`,
/// at least `l` distinct sensitive values (distinct l-diversity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MondrianModel {
    pub k: usize,
    pub l: usize,
    /// Threads to use (1 = the calling thread only).
    pub threads: usize,
}

impl MondrianModel {
    /// k-anonymity alone, on one thread.
    pub fn new(k: usize) -> Fallible<Self> {
        if k < 1 {
            return Err(VeilError::invalid(
                "k",
                format!("must be at least 1, got {k}"),
            ));
        }
        Ok(MondrianModel {
            k,
            l: 1,
            threads: 1,
        })
    }

    /// Adds distinct l-diversity (needs a sensitive column).
    pub fn with_l_diversity(self, l: usize) -> Fallible<Self> {
        if l < 1 {
            return Err(VeilError::invalid(
                "l",
                format!("must be at least 1, got {l}"),
            ));
        }
        Ok(MondrianModel { l, ..self })
    }

    /// Uses up to `threads` threads.
    pub fn with_threads(self, threads: usize) -> Fallible<Self> {
        if threads < 1 {
            return Err(VeilError::invalid(
                "threads",
                format!("must be at least 1, got {threads}"),
            ));
        }
        Ok(MondrianModel { threads, ..self })
    }
}

/// How one quasi-identifier's ranks map back to what is released.
#[derive(Debug, Clone)]
enum Domain {
    /// Sorted distinct values: rank → value.
    Numeric(Vec<i64>),
    /// Rank = code; the labels in order.
    Ordered(Vec<String>),
}

impl Domain {
    fn value(&self, rank: u32) -> i64 {
        match self {
            Domain::Numeric(v) => v[rank as usize],
            Domain::Ordered(_) => i64::from(rank),
        }
    }
}

/// The result of [`mondrian`]: each row's class, each class's box, and the loss.
#[derive(Debug, Clone)]
pub struct MondrianResult {
    names: Vec<String>,
    domains: Vec<Domain>,
    /// Class of each row.
    class_of: Vec<u32>,
    /// Rows per class.
    sizes: Vec<u32>,
    /// `lo[c * q + j]`, `hi[c * q + j]`: class c's range on quasi-identifier j, as ranks
    /// in `domains[j]`.
    lo: Vec<u32>,
    hi: Vec<u32>,
    ncp: f64,
}

impl MondrianResult {
    pub fn rows(&self) -> usize {
        self.class_of.len()
    }

    pub fn quasi_identifiers(&self) -> &[String] {
        &self.names
    }

    /// Number of equivalence classes.
    pub fn classes(&self) -> usize {
        self.sizes.len()
    }

    /// The class of every row (ids 0..classes()).
    pub fn class_ids(&self) -> &[u32] {
        &self.class_of
    }

    /// Rows in class `class`.
    pub fn class_size(&self, class: usize) -> usize {
        self.sizes[class] as usize
    }

    /// The smallest class size (at least k).
    pub fn min_class_size(&self) -> usize {
        self.sizes.iter().copied().min().unwrap_or(0) as usize
    }

    /// Class `class`'s range on quasi-identifier `qi`: values for numeric columns, codes
    /// for ordered ones.
    pub fn range(&self, class: usize, qi: usize) -> (i64, i64) {
        let i = class * self.names.len() + qi;
        let d = &self.domains[qi];
        (d.value(self.lo[i]), d.value(self.hi[i]))
    }

    /// The released text of class `class` on quasi-identifier `qi`: `lo-hi`, or the single
    /// value when lo = hi (labels for ordered columns). Negative numbers keep their sign:
    /// `-5--3`.
    pub fn render(&self, class: usize, qi: usize) -> String {
        let (lo, hi) = self.range(class, qi);
        let text = |v: i64| match &self.domains[qi] {
            Domain::Numeric(_) => v.to_string(),
            Domain::Ordered(labels) => labels[v as usize].clone(),
        };
        if lo == hi {
            text(lo)
        } else {
            format!("{}-{}", text(lo), text(hi))
        }
    }

    /// The released text of row `row` on quasi-identifier `qi`.
    pub fn render_row(&self, row: usize, qi: usize) -> String {
        self.render(self.class_of[row] as usize, qi)
    }

    /// Normalized certainty penalty in [0, 1] (see the module documentation).
    pub fn ncp(&self) -> f64 {
        self.ncp
    }

    /// Discernibility metric: Σ over classes of size².
    pub fn discernibility(&self) -> u128 {
        self.sizes
            .iter()
            .map(|s| u128::from(*s) * u128::from(*s))
            .sum()
    }
}

/// Partitions the table with strict Mondrian (see the module documentation). `qis` are
/// the quasi-identifiers; `sensitive` is needed when `model.l > 1`.
pub fn mondrian(
    qis: &[MondrianQi],
    sensitive: Option<SensitiveColumn>,
    model: &MondrianModel,
) -> Fallible<MondrianResult> {
    let q = qis.len();
    if q == 0 {
        return Err(VeilError::invalid(
            "quasi_identifiers",
            "need at least one quasi-identifier",
        ));
    }
    if model.k < 1 {
        return Err(VeilError::invalid(
            "k",
            format!("must be at least 1, got {}", model.k),
        ));
    }
    if model.l < 1 {
        return Err(VeilError::invalid(
            "l",
            format!("must be at least 1, got {}", model.l),
        ));
    }
    if model.threads < 1 {
        return Err(VeilError::invalid(
            "threads",
            format!("must be at least 1, got {}", model.threads),
        ));
    }
    let n = qis[0].len();
    for c in qis {
        if c.len() != n {
            return Err(VeilError::invalid(
                c.name().to_string(),
                format!(
                    "has {} values but {} has {n}; every column needs one value per row",
                    c.len(),
                    qis[0].name()
                ),
            ));
        }
    }
    if n >= u32::MAX as usize {
        return Err(VeilError::invalid(
            "rows",
            format!("at most {} rows are supported, got {n}", u32::MAX - 1),
        ));
    }
    if n < model.k {
        return Err(VeilError::invalid(
            "k",
            format!("the table has {n} rows, fewer than k = {}", model.k),
        ));
    }
    let sensitive = match (sensitive, model.l) {
        (Some(s), _) if s.codes.len() != n => {
            return Err(VeilError::invalid(
                s.name.to_string(),
                format!(
                    "has {} values but the quasi-identifiers have {n}; one value per row",
                    s.codes.len()
                ),
            ))
        }
        (None, l) if l > 1 => {
            return Err(VeilError::invalid(
                "l",
                format!("l-diversity (l = {l}) needs a sensitive column"),
            ))
        }
        (s, l) if l > 1 => s,
        _ => None,
    };
    // Row layout: q ranks, the row number, then (with l-diversity) the dense sensitive code.
    let stride = q + 1 + usize::from(sensitive.is_some());
    let cells = n.checked_mul(stride).ok_or_else(|| {
        VeilError::invalid(
            "rows",
            format!("{n} rows × {stride} cells do not fit in memory"),
        )
    })?;
    let mut data = vec![0u32; cells];
    let mut domains = Vec::with_capacity(q);
    let mut span = Vec::with_capacity(q);
    for (j, c) in qis.iter().enumerate() {
        let domain = match c {
            MondrianQi::Numeric { values, .. } => {
                Domain::Numeric(rank_into(values, j, stride, &mut data))
            }
            MondrianQi::Ordered {
                name,
                codes,
                labels,
            } => {
                for (i, code) in codes.iter().enumerate() {
                    if *code as usize >= labels.len() {
                        return Err(VeilError::invalid(
                            name.to_string(),
                            format!(
                                "row {} has code {code}, but only {} labels are given",
                                i + 1,
                                labels.len()
                            ),
                        ));
                    }
                    data[i * stride + j] = *code;
                }
                Domain::Ordered(labels.to_vec())
            }
        };
        let (lo, hi) = (0..n)
            .map(|i| data[i * stride + j])
            .fold((u32::MAX, 0), |(lo, hi), r| (lo.min(r), hi.max(r)));
        // n ≥ k ≥ 1, so lo ≤ hi are ranks of real rows.
        span.push(domain.value(hi) as f64 - domain.value(lo) as f64);
        domains.push(domain);
    }
    for i in 0..n {
        data[i * stride + q] = i as u32;
    }
    let mut sensitive_values = 0usize;
    if let Some(s) = sensitive {
        let dense = rank_u32(s.codes);
        sensitive_values = dense.iter().map(|d| *d as usize + 1).max().unwrap_or(0);
        for (i, d) in dense.iter().enumerate() {
            data[i * stride + q + 1] = *d;
        }
        if sensitive_values < model.l {
            return Err(VeilError::invalid(
                "l",
                format!(
                    "{} has {sensitive_values} distinct values over the whole table, fewer than l = {}",
                    s.name, model.l
                ),
            ));
        }
    }
    let engine = Engine {
        q,
        stride,
        k: model.k,
        l: model.l,
        sensitive_values,
        domains: &domains,
        span: &span,
    };
    let leaves = engine.run(&mut data, model.threads);
    // Class ids in row-array order, which does not depend on the number of threads.
    let mut class_of = vec![0u32; n];
    let mut sizes = Vec::with_capacity(leaves.len());
    let mut lo = Vec::with_capacity(leaves.len() * q);
    let mut hi = Vec::with_capacity(leaves.len() * q);
    let mut penalty = 0f64;
    let mut bounds = Vec::with_capacity(2 * q);
    for (id, leaf) in leaves.iter().enumerate() {
        let part = &data[leaf.start * stride..leaf.end * stride];
        for row in part.chunks_exact(stride) {
            class_of[row[q] as usize] = id as u32;
        }
        engine.bounds(part, &mut bounds);
        let size = (leaf.end - leaf.start) as u32;
        sizes.push(size);
        let mut box_penalty = 0f64;
        for j in 0..q {
            let (a, b) = (bounds[2 * j], bounds[2 * j + 1]);
            lo.push(a);
            hi.push(b);
            if span[j] > 0.0 {
                box_penalty += (domains[j].value(b) as f64 - domains[j].value(a) as f64) / span[j];
            }
        }
        penalty += f64::from(size) * box_penalty;
    }
    Ok(MondrianResult {
        names: qis.iter().map(|c| c.name().to_string()).collect(),
        domains,
        class_of,
        sizes,
        lo,
        hi,
        ncp: penalty / (n as f64 * q as f64),
    })
}

/// Writes the rank of each value (among the column's sorted distinct values) into
/// `data[i * stride + j]` and returns the distinct values.
fn rank_into(values: &[i64], j: usize, stride: usize, data: &mut [u32]) -> Vec<i64> {
    let Some(min) = values.iter().copied().min() else {
        return Vec::new();
    };
    let max = values.iter().copied().max().unwrap_or(min);
    let width = (i128::from(max) - i128::from(min)) as u128;
    if width < (values.len() as u128).max(1 << 16) {
        // Small range: a direct table (linear time).
        let mut rank = vec![u32::MAX; width as usize + 1];
        for v in values {
            rank[(v - min) as usize] = 0;
        }
        let mut distinct = Vec::new();
        for (offset, r) in rank.iter_mut().enumerate() {
            if *r == 0 {
                *r = distinct.len() as u32;
                distinct.push(min + offset as i64);
            }
        }
        for (i, v) in values.iter().enumerate() {
            data[i * stride + j] = rank[(v - min) as usize];
        }
        distinct
    } else {
        let mut distinct = values.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        for (i, v) in values.iter().enumerate() {
            // Every value is in `distinct`.
            data[i * stride + j] = distinct.partition_point(|d| d < v) as u32;
        }
        distinct
    }
}

/// Dense codes 0.. for arbitrary u32 codes (equal codes stay equal).
fn rank_u32(codes: &[u32]) -> Vec<u32> {
    let mut distinct = codes.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    codes
        .iter()
        .map(|c| distinct.partition_point(|d| d < c) as u32)
        .collect()
}

/// A final partition: rows `start..end` of the row array.
struct Leaf {
    start: usize,
    end: usize,
}

struct Engine<'a> {
    q: usize,
    stride: usize,
    k: usize,
    l: usize,
    sensitive_values: usize,
    domains: &'a [Domain],
    span: &'a [f64],
}

/// Per-thread scratch space, reused by every partition.
struct Scratch {
    keys: Vec<u32>,
    /// The partition's min and max rank per dimension (`2j`, `2j + 1`).
    bounds: Vec<u32>,
    /// Dimensions to try, by decreasing normalized range.
    dims: Vec<(f64, usize)>,
    /// Epoch marks per sensitive code, for counting distinct values on each side.
    left_mark: Vec<u32>,
    right_mark: Vec<u32>,
    epoch: u32,
}

impl Scratch {
    fn new(sensitive_values: usize) -> Self {
        Scratch {
            keys: Vec::new(),
            bounds: Vec::new(),
            dims: Vec::new(),
            left_mark: vec![0; sensitive_values],
            right_mark: vec![0; sensitive_values],
            epoch: 0,
        }
    }

    fn next_epoch(&mut self) -> u32 {
        if self.epoch == u32::MAX {
            self.left_mark.fill(0);
            self.right_mark.fill(0);
            self.epoch = 0;
        }
        self.epoch += 1;
        self.epoch
    }
}

/// The outcome of looking at one partition.
enum Step {
    /// Cut into these two (row-array ranges, left first).
    Cut((usize, usize), (usize, usize)),
    /// No allowable cut: an equivalence class.
    Final(Leaf),
}

/// What a cut at value `c` leaves on each side.
struct Sides {
    left: usize,
    left_distinct: usize,
    right_distinct: usize,
}

/// Below this many rows, a partition is not shared between threads.
const MIN_ROWS_FOR_THREADS: usize = 50_000;

impl Engine<'_> {
    /// Cuts `data` (the whole row array) into final partitions, in row-array order.
    fn run(&self, data: &mut [u32], threads: usize) -> Vec<Leaf> {
        let n = data.len() / self.stride;
        let mut scratch = Scratch::new(self.sensitive_values);
        let mut leaves = Vec::new();
        self.cut_shared(data, 0, threads, &mut scratch, &mut leaves);
        leaves.sort_unstable_by_key(|l| l.start);
        debug_assert_eq!(leaves.iter().map(|l| l.end - l.start).sum::<usize>(), n);
        leaves
    }

    /// Cuts all of `data` (whose first row is row `offset` of the whole array) with up to
    /// `threads` threads: after each cut into two sides of at least a quarter each, one
    /// side goes to a new scoped thread with half the budget (recursion depth ≤ log2
    /// threads); a small side is finished on this thread and the large one cut further.
    fn cut_shared(
        &self,
        data: &mut [u32],
        offset: usize,
        threads: usize,
        scratch: &mut Scratch,
        leaves: &mut Vec<Leaf>,
    ) {
        let (mut s, mut e) = (0usize, data.len() / self.stride);
        loop {
            if threads <= 1 || e - s < MIN_ROWS_FOR_THREADS {
                return self.cut_all(data, offset, vec![(s, e)], scratch, leaves);
            }
            let (left, right) = match self.step(data, s, e, scratch) {
                Step::Final(leaf) => {
                    leaves.push(Leaf {
                        start: leaf.start + offset,
                        end: leaf.end + offset,
                    });
                    return;
                }
                Step::Cut(left, right) => (left, right),
            };
            let (small, large) = if left.1 - left.0 <= right.1 - right.0 {
                (left, right)
            } else {
                (right, left)
            };
            if 4 * (small.1 - small.0) < e - s {
                self.cut_all(data, offset, vec![small], scratch, leaves);
                (s, e) = large;
                continue;
            }
            let st = self.stride;
            let (head, tail) = data[s * st..e * st].split_at_mut((left.1 - s) * st);
            let theirs = threads / 2;
            let (right_offset, left_offset) = (offset + right.0, offset + left.0);
            let sensitive_values = self.sensitive_values;
            let more = std::thread::scope(|scope| {
                let handle = scope.spawn(move || {
                    let mut scratch = Scratch::new(sensitive_values);
                    let mut out = Vec::new();
                    self.cut_shared(tail, right_offset, theirs, &mut scratch, &mut out);
                    out
                });
                self.cut_shared(head, left_offset, threads - theirs, scratch, leaves);
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            });
            leaves.extend(more);
            return;
        }
    }

    /// Cuts the given partitions of `data` (positions relative to `data`) until final;
    /// leaves are recorded with positions shifted by `offset`.
    fn cut_all(
        &self,
        data: &mut [u32],
        offset: usize,
        mut stack: Vec<(usize, usize)>,
        scratch: &mut Scratch,
        leaves: &mut Vec<Leaf>,
    ) {
        while let Some((s, e)) = stack.pop() {
            match self.step(data, s, e, scratch) {
                Step::Cut(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Step::Final(mut leaf) => {
                    leaf.start += offset;
                    leaf.end += offset;
                    leaves.push(leaf);
                }
            }
        }
    }

    /// Cuts partition `s..e` in place into two, or returns it as final.
    fn step(&self, data: &mut [u32], s: usize, e: usize, scratch: &mut Scratch) -> Step {
        let m = e - s;
        if m / 2 < self.k {
            // Two sides of at least k rows need 2k (m / 2 < k ⟺ m < 2k, without overflow).
            return Step::Final(Leaf { start: s, end: e });
        }
        let part = &mut data[s * self.stride..e * self.stride];
        // Taken out of `scratch` while `find_cut` borrows it.
        let (mut bounds, mut dims) = (
            std::mem::take(&mut scratch.bounds),
            std::mem::take(&mut scratch.dims),
        );
        self.bounds(part, &mut bounds);
        // Dimensions by decreasing normalized range (ties: column order).
        dims.clear();
        dims.extend(
            (0..self.q)
                .filter(|j| bounds[2 * j] < bounds[2 * j + 1] && self.span[*j] > 0.0)
                .map(|j| {
                    let d = &self.domains[j];
                    let width = (d.value(bounds[2 * j + 1]) as f64 - d.value(bounds[2 * j]) as f64)
                        / self.span[j];
                    (width, j)
                }),
        );
        dims.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut step = Step::Final(Leaf { start: s, end: e });
        for (_, j) in &dims {
            if let Some(c) = self.find_cut(part, *j, bounds[2 * j], bounds[2 * j + 1], scratch) {
                let left = self.partition(part, *j, c);
                step = Step::Cut((s, s + left), (s + left, e));
                break;
            }
        }
        (scratch.bounds, scratch.dims) = (bounds, dims);
        step
    }

    /// Min and max rank per quasi-identifier over a partition, into `b`.
    fn bounds(&self, part: &[u32], b: &mut Vec<u32>) {
        b.clear();
        for _ in 0..self.q {
            b.extend([u32::MAX, 0]);
        }
        for row in part.chunks_exact(self.stride) {
            for j in 0..self.q {
                b[2 * j] = b[2 * j].min(row[j]);
                b[2 * j + 1] = b[2 * j + 1].max(row[j]);
            }
        }
    }

    /// Counts each side of a cut at `c` on dimension `j` (left = rank ≤ c).
    fn sides(&self, part: &[u32], j: usize, c: u32, scratch: &mut Scratch) -> Sides {
        let mut left = 0usize;
        let (mut left_distinct, mut right_distinct) = (0usize, 0usize);
        if self.l > 1 {
            let epoch = scratch.next_epoch();
            let sens = self.q + 1;
            for row in part.chunks_exact(self.stride) {
                let v = row[sens] as usize;
                if row[j] <= c {
                    left += 1;
                    if scratch.left_mark[v] != epoch {
                        scratch.left_mark[v] = epoch;
                        left_distinct += 1;
                    }
                } else if scratch.right_mark[v] != epoch {
                    scratch.right_mark[v] = epoch;
                    right_distinct += 1;
                }
            }
        } else {
            left = part.chunks_exact(self.stride).filter(|r| r[j] <= c).count();
        }
        Sides {
            left,
            left_distinct,
            right_distinct,
        }
    }

    fn left_ok(&self, s: &Sides) -> bool {
        s.left >= self.k && (self.l <= 1 || s.left_distinct >= self.l)
    }

    fn right_ok(&self, s: &Sides, m: usize) -> bool {
        m - s.left >= self.k && (self.l <= 1 || s.right_distinct >= self.l)
    }

    /// The allowable cut value on dimension `j` (ranks `lo..=hi` in this partition, lo <
    /// hi) nearest the median, if any.
    ///
    /// Left-side conditions (≥ k rows, ≥ l distinct values) only get easier as the cut
    /// value c grows and right-side ones only harder, so the allowable cuts form an
    /// interval of c. The median candidates (just below the median value, at it) are tried
    /// first; if neither is allowable, the interval lies entirely above them (when the
    /// left side of the higher one fails) or entirely below (when the right side of the
    /// lower one fails), found by binary search; otherwise it is empty. With k alone and
    /// m ≥ 2k, the median candidates' left (at the median) and right (below it) sides
    /// always hold, so the searches only run for l-diversity.
    fn find_cut(
        &self,
        part: &[u32],
        j: usize,
        lo: u32,
        hi: u32,
        scratch: &mut Scratch,
    ) -> Option<u32> {
        let m = part.len() / self.stride;
        scratch.keys.clear();
        scratch
            .keys
            .extend(part.chunks_exact(self.stride).map(|r| r[j]));
        let mid = m / 2;
        let (_, median, _) = scratch.keys.select_nth_unstable(mid);
        let median = *median;
        // Candidates: c = median − 1 (left = below the median), c = median (left = up to it).
        let mut candidates = Vec::with_capacity(2);
        if median > lo {
            candidates.push(median - 1);
        }
        if median < hi {
            candidates.push(median);
        }
        let mut best: Option<(usize, u32)> = None;
        let mut low_right_fails = false;
        let mut high_left_fails = false;
        // With k alone, the candidates' sides are counted on the gathered keys.
        let (below, up_to) = if self.l <= 1 {
            scratch.keys.iter().fold((0, 0), |(b, u), key| {
                (
                    b + usize::from(*key < median),
                    u + usize::from(*key <= median),
                )
            })
        } else {
            (0, 0)
        };
        for (i, c) in candidates.iter().enumerate() {
            let sides = if self.l <= 1 {
                Sides {
                    left: if *c == median { up_to } else { below },
                    left_distinct: 0,
                    right_distinct: 0,
                }
            } else {
                self.sides(part, j, *c, scratch)
            };
            let (l_ok, r_ok) = (self.left_ok(&sides), self.right_ok(&sides, m));
            if i == 0 && !r_ok {
                low_right_fails = true;
            }
            if i == candidates.len() - 1 && !l_ok {
                high_left_fails = true;
            }
            if l_ok && r_ok {
                // Nearest the median (ties: the later, c = median, as in LeFevre et al.).
                let distance = (2 * sides.left).abs_diff(m);
                if best.is_none_or(|(d, _)| distance <= d) {
                    best = Some((distance, *c));
                }
            }
        }
        if let Some((_, c)) = best {
            return Some(c);
        }
        let (first, last) = (*candidates.first()?, *candidates.last()?);
        if high_left_fails {
            // Smallest c in (last, hi) whose left side holds; allowable if its right does.
            let (mut a, mut b) = (last + 1, hi);
            while a < b {
                let c = a + (b - a) / 2;
                if self.left_ok(&self.sides(part, j, c, scratch)) {
                    b = c;
                } else {
                    a = c + 1;
                }
            }
            if a < hi {
                let sides = self.sides(part, j, a, scratch);
                if self.left_ok(&sides) && self.right_ok(&sides, m) {
                    return Some(a);
                }
            }
        } else if low_right_fails && first > lo {
            // Smallest c in [lo, first] whose right side fails (it fails at `first`); the
            // cut just below it is the largest whose right side holds.
            let (mut a, mut b) = (lo, first);
            while a < b {
                let c = a + (b - a) / 2;
                if self.right_ok(&self.sides(part, j, c, scratch), m) {
                    a = c + 1;
                } else {
                    b = c;
                }
            }
            if a > lo {
                let sides = self.sides(part, j, a - 1, scratch);
                if self.left_ok(&sides) && self.right_ok(&sides, m) {
                    return Some(a - 1);
                }
            }
        }
        None
    }

    /// Moves rows with rank ≤ c on dimension `j` to the front; returns how many there are.
    fn partition(&self, part: &mut [u32], j: usize, c: u32) -> usize {
        let st = self.stride;
        let (mut i, mut end) = (0usize, part.len() / st);
        while i < end {
            if part[i * st + j] <= c {
                i += 1;
            } else {
                end -= 1;
                if i != end {
                    let (a, b) = part.split_at_mut(end * st);
                    a[i * st..(i + 1) * st].swap_with_slice(&mut b[..st]);
                }
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn numeric<'a>(name: &'a str, values: &'a [i64]) -> MondrianQi<'a> {
        MondrianQi::Numeric { name, values }
    }

    /// The released text of every row on quasi-identifier 0.
    fn released(r: &MondrianResult) -> Vec<String> {
        (0..r.rows()).map(|i| r.render_row(i, 0)).collect()
    }

    #[test]
    fn cuts_at_the_median_until_no_cut_is_allowable() {
        let ages = [33, 20, 31, 21, 30, 22, 32, 23];
        let r = mondrian(
            &[numeric("age", &ages)],
            None,
            &MondrianModel::new(2).unwrap(),
        )
        .unwrap();
        // 8 rows: cut ≤ 23 | ≥ 30, then each half at its median.
        assert_eq!(
            released(&r),
            ["32-33", "20-21", "30-31", "20-21", "30-31", "22-23", "32-33", "22-23"]
        );
        assert_eq!(r.classes(), 4);
        assert_eq!(r.min_class_size(), 2);
        assert_eq!(r.discernibility(), 16);
        // Every row's range is 1 wide over a table range of 13.
        assert!((r.ncp() - 1.0 / 13.0).abs() < 1e-12);
        // k = 3: 8 rows cut 4 | 4, and 4 rows cannot be cut into two of 3.
        let r = mondrian(
            &[numeric("age", &ages)],
            None,
            &MondrianModel::new(3).unwrap(),
        )
        .unwrap();
        assert_eq!(r.classes(), 2);
        assert_eq!(r.render_row(1, 0), "20-23");
        assert_eq!(r.render_row(0, 0), "30-33");
    }

    #[test]
    fn many_equal_values_move_the_cut_off_the_median() {
        // The median is 5; "≤ 5" leaves one row on the right, so the cut is "≤ 2". The
        // right part {5 × 7, 9} has no allowable cut (all but one row share the value 5).
        let ages = [5, 1, 5, 9, 5, 2, 5, 5, 5, 5];
        let r = mondrian(
            &[numeric("age", &ages)],
            None,
            &MondrianModel::new(2).unwrap(),
        )
        .unwrap();
        assert_eq!(
            released(&r),
            ["5-9", "1-2", "5-9", "5-9", "5-9", "1-2", "5-9", "5-9", "5-9", "5-9"]
        );
        // One value everywhere: nothing to cut.
        let r = mondrian(
            &[numeric("age", &[7; 5])],
            None,
            &MondrianModel::new(2).unwrap(),
        )
        .unwrap();
        assert_eq!(r.classes(), 1);
        assert_eq!(r.render(0, 0), "7");
        assert_eq!(r.ncp(), 0.0);
    }

    #[test]
    fn extreme_values_are_ranked_without_overflow() {
        let values = [i64::MAX, i64::MIN, 0, 5, i64::MIN, i64::MAX];
        let r = mondrian(
            &[numeric("x", &values)],
            None,
            &MondrianModel::new(2).unwrap(),
        )
        .unwrap();
        let expected = format!("{}-0", i64::MIN);
        assert_eq!(r.render_row(1, 0), expected);
        assert_eq!(r.render_row(2, 0), expected);
        assert_eq!(r.render_row(3, 0), format!("5-{}", i64::MAX));
        assert_eq!(r.classes(), 2);
        assert!(r.ncp() > 0.0 && r.ncp() < 1.0);
    }

    #[test]
    fn widest_normalized_range_is_cut_first() {
        // Age spans 20..=60, zip 1..=4. Root: both normalized ranges are 1, age (first) is
        // cut. Then each age half has age width 0 and is cut on zip.
        let ages = [20, 20, 20, 20, 60, 60, 60, 60];
        let zips = [1, 2, 3, 4, 1, 2, 3, 4];
        let r = mondrian(
            &[numeric("age", &ages), numeric("zip", &zips)],
            None,
            &MondrianModel::new(2).unwrap(),
        )
        .unwrap();
        let rows: Vec<(String, String)> = (0..8)
            .map(|i| (r.render_row(i, 0), r.render_row(i, 1)))
            .collect();
        assert_eq!(rows[0], ("20".to_string(), "1-2".to_string()));
        assert_eq!(rows[3], ("20".to_string(), "3-4".to_string()));
        assert_eq!(rows[5], ("60".to_string(), "1-2".to_string()));
        assert_eq!(rows[6], ("60".to_string(), "3-4".to_string()));
        // NCP: age 0, zip 1/3 on every row → (0 + 1/3) / 2.
        assert!((r.ncp() - 1.0 / 6.0).abs() < 1e-12);
        // When zip is relatively wider inside a part, it is cut there: ages 20..=23 are a
        // tenth of the age range, zips 1..=4 all of the zip range.
        let ages = [20, 21, 22, 23, 50, 60, 50, 60];
        let zips = [1, 2, 3, 4, 1, 1, 2, 2];
        let r = mondrian(
            &[numeric("age", &ages), numeric("zip", &zips)],
            None,
            &MondrianModel::new(2).unwrap(),
        )
        .unwrap();
        assert_eq!(r.render_row(0, 0), "20-21");
        assert_eq!(r.render_row(0, 1), "1-2");
        assert_eq!(r.render_row(4, 0), "50-60");
        assert_eq!(r.render_row(4, 1), "1");
    }

    #[test]
    fn ordered_categories_render_with_labels() {
        let labels: Vec<String> = ["Primary", "HS", "Bachelor", "Master", "PhD"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let codes = [0, 1, 1, 2, 3, 4];
        let r = mondrian(
            &[MondrianQi::Ordered {
                name: "education",
                codes: &codes,
                labels: &labels,
            }],
            None,
            &MondrianModel::new(3).unwrap(),
        )
        .unwrap();
        assert_eq!(r.render_row(0, 0), "Primary-HS");
        assert_eq!(r.render_row(5, 0), "Bachelor-PhD");
        assert_eq!(r.range(r.class_ids()[5] as usize, 0), (2, 4));
    }

    #[test]
    fn l_diversity_refuses_cuts_that_leave_one_sensitive_value() {
        let ages: Vec<i64> = (1..=8).collect();
        let disease = [0, 0, 0, 0, 1, 1, 1, 1];
        let model = MondrianModel::new(2).unwrap().with_l_diversity(2).unwrap();
        let s = SensitiveColumn {
            name: "disease",
            codes: &disease,
        };
        // Every cut leaves one side with a single disease.
        let r = mondrian(&[numeric("age", &ages)], Some(s), &model).unwrap();
        assert_eq!(r.classes(), 1);
        assert_eq!(r.render(0, 0), "1-8");
        // Without l-diversity it is cut into pairs.
        let r = mondrian(
            &[numeric("age", &ages)],
            Some(s),
            &MondrianModel::new(2).unwrap(),
        )
        .unwrap();
        assert_eq!(r.classes(), 4);
        // Both median cuts fail; the only allowable one is found above them: ≤ 8 | 9-10.
        let ages: Vec<i64> = (1..=10).collect();
        let disease = [5, 5, 5, 5, 5, 5, 5, 9, 5, 9];
        let s = SensitiveColumn {
            name: "disease",
            codes: &disease,
        };
        let r = mondrian(&[numeric("age", &ages)], Some(s), &model).unwrap();
        assert_eq!(r.classes(), 2);
        assert_eq!(r.render_row(0, 0), "1-8");
        assert_eq!(r.render_row(9, 0), "9-10");
        // The mirror image: found below them.
        let ages: Vec<i64> = (1..=10).rev().collect();
        let r = mondrian(&[numeric("age", &ages)], Some(s), &model).unwrap();
        assert_eq!(r.render_row(0, 0), "3-10");
        assert_eq!(r.render_row(9, 0), "1-2");
    }

    #[test]
    fn errors_name_the_argument() {
        let err = |r: Fallible<MondrianResult>| r.unwrap_err().to_string();
        let k2 = MondrianModel::new(2).unwrap();
        assert!(MondrianModel::new(0)
            .unwrap_err()
            .to_string()
            .contains("`k`"));
        assert!(k2
            .with_l_diversity(0)
            .unwrap_err()
            .to_string()
            .contains("`l`"));
        assert!(k2
            .with_threads(0)
            .unwrap_err()
            .to_string()
            .contains("`threads`"));
        assert!(err(mondrian(&[], None, &k2)).contains("`quasi_identifiers`"));
        let e = err(mondrian(&[numeric("age", &[1])], None, &k2));
        assert!(e.contains("`k`") && e.contains("1 rows"), "{e}");
        let e = err(mondrian(
            &[numeric("age", &[1, 2]), numeric("zip", &[1])],
            None,
            &k2,
        ));
        assert!(e.contains("`zip`"), "{e}");
        let labels = vec!["a".to_string()];
        let e = err(mondrian(
            &[MondrianQi::Ordered {
                name: "edu",
                codes: &[0, 1],
                labels: &labels,
            }],
            None,
            &k2,
        ));
        assert!(e.contains("`edu`") && e.contains("row 2 has code 1"), "{e}");
        let l2 = k2.with_l_diversity(2).unwrap();
        let e = err(mondrian(&[numeric("age", &[1, 2])], None, &l2));
        assert!(e.contains("`l`") && e.contains("sensitive column"), "{e}");
        let s = SensitiveColumn {
            name: "disease",
            codes: &[3, 3],
        };
        let e = err(mondrian(&[numeric("age", &[1, 2])], Some(s), &l2));
        assert!(
            e.contains("`l`") && e.contains("disease has 1 distinct"),
            "{e}"
        );
        let s = SensitiveColumn {
            name: "disease",
            codes: &[3],
        };
        let e = err(mondrian(&[numeric("age", &[1, 2])], Some(s), &l2));
        assert!(e.contains("`disease`"), "{e}");
    }

    use crate::kanon::test_rng::Rng;

    /// Checks everything Mondrian promises about `r` on this table, by brute force.
    fn check(
        columns: &[Vec<i64>],
        sensitive: Option<&[u32]>,
        k: usize,
        l: usize,
        r: &MondrianResult,
    ) {
        let (n, q) = (columns[0].len(), columns.len());
        assert_eq!(r.rows(), n);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); r.classes()];
        for (row, c) in r.class_ids().iter().enumerate() {
            members[*c as usize].push(row);
        }
        let span: Vec<f64> = columns
            .iter()
            .map(|c| (c.iter().max().unwrap() - c.iter().min().unwrap()) as f64)
            .collect();
        let mut penalty = 0f64;
        for (c, rows) in members.iter().enumerate() {
            // At least k rows (and l distinct sensitive values).
            assert_eq!(rows.len(), r.class_size(c));
            assert!(
                rows.len() >= k,
                "class {c} has {} rows < k = {k}",
                rows.len()
            );
            if let Some(s) = sensitive {
                let distinct: HashSet<u32> = rows.iter().map(|i| s[*i]).collect();
                assert!(
                    distinct.len() >= l,
                    "class {c} has {} sensitive values < l = {l}",
                    distinct.len()
                );
            }
            for (j, col) in columns.iter().enumerate() {
                // The range is exactly the class's min and max.
                let lo = rows.iter().map(|i| col[*i]).min().unwrap();
                let hi = rows.iter().map(|i| col[*i]).max().unwrap();
                assert_eq!(r.range(c, j), (lo, hi), "class {c} column {j}");
                if span[j] > 0.0 {
                    penalty += rows.len() as f64 * (hi - lo) as f64 / span[j];
                }
                // Strict Mondrian: no allowable cut is left, at any value.
                let mut values: Vec<i64> = rows.iter().map(|i| col[*i]).collect();
                values.sort_unstable();
                values.dedup();
                for cut in &values[..values.len() - 1] {
                    let (left, right): (Vec<usize>, Vec<usize>) =
                        rows.iter().partition(|i| col[**i] <= *cut);
                    let diverse = |side: &[usize]| {
                        sensitive.is_none_or(|s| {
                            side.iter().map(|i| s[*i]).collect::<HashSet<_>>().len() >= l
                        })
                    };
                    assert!(
                        !(left.len() >= k && right.len() >= k && diverse(&left) && diverse(&right)),
                        "class {c} could still be cut at {cut} on column {j}"
                    );
                }
            }
        }
        assert!((r.ncp() - penalty / (n * q) as f64).abs() < 1e-9);
        // Boxes are disjoint (strict partitioning): every pair is separated on some column.
        for a in 0..r.classes() {
            for b in a + 1..r.classes() {
                assert!(
                    (0..q)
                        .any(|j| r.range(a, j).1 < r.range(b, j).0
                            || r.range(b, j).1 < r.range(a, j).0),
                    "classes {a} and {b} overlap"
                );
            }
        }
    }

    #[test]
    fn random_tables_keep_every_promise() {
        let mut rng = Rng(7);
        for case in 0..300 {
            let n = 1 + rng.below(200) as usize;
            let q = 1 + rng.below(4) as usize;
            let columns: Vec<Vec<i64>> = (0..q)
                .map(|_| {
                    // Few distinct values (ties) or many, sometimes negative.
                    let width = [2, 5, 30, 1000][rng.below(4) as usize];
                    let base = rng.below(100) as i64 - 50;
                    (0..n).map(|_| base + rng.below(width) as i64).collect()
                })
                .collect();
            let k = 1 + rng.below(8) as usize;
            let l = 1 + rng.below(3) as usize;
            let values = 1 + rng.below(5);
            let sensitive: Vec<u32> = (0..n).map(|_| rng.below(values) as u32 * 7).collect();
            let qis: Vec<MondrianQi> = columns.iter().map(|c| numeric("x", c)).collect();
            let model = MondrianModel::new(k).unwrap().with_l_diversity(l).unwrap();
            let s = SensitiveColumn {
                name: "s",
                codes: &sensitive,
            };
            let distinct = sensitive.iter().collect::<HashSet<_>>().len();
            match mondrian(&qis, Some(s), &model) {
                Ok(r) => check(&columns, Some(&sensitive), k, l, &r),
                Err(e) => assert!(n < k || distinct < l, "case {case}: {e}"),
            }
            if n >= k {
                let r = mondrian(&qis, None, &MondrianModel::new(k).unwrap()).unwrap();
                check(&columns, None, k, 1, &r);
            }
        }
    }

    #[test]
    fn threads_give_the_same_classes() {
        let mut rng = Rng(11);
        let n = 120_000;
        let columns: Vec<Vec<i64>> = vec![
            (0..n).map(|_| 17 + rng.below(74) as i64).collect(),
            (0..n).map(|_| 10_000 + rng.below(500) as i64 * 7).collect(),
            (0..n).map(|_| rng.below(2) as i64).collect(),
        ];
        let sensitive: Vec<u32> = (0..n).map(|_| rng.below(6) as u32).collect();
        let qis: Vec<MondrianQi> = columns.iter().map(|c| numeric("x", c)).collect();
        let s = SensitiveColumn {
            name: "s",
            codes: &sensitive,
        };
        for (k, l) in [(20, 1), (50, 3)] {
            let one = MondrianModel::new(k).unwrap().with_l_diversity(l).unwrap();
            let a = mondrian(&qis, Some(s), &one).unwrap();
            let b = mondrian(&qis, Some(s), &one.with_threads(2).unwrap()).unwrap();
            assert_eq!(a.class_ids(), b.class_ids());
            assert_eq!(a.ncp(), b.ncp());
            assert!(a.min_class_size() >= k);
            assert!(a.classes() > n / (4 * k), "{} classes", a.classes());
            check(&columns, Some(&sensitive), k, l, &a);
        }
        // Skewed: 90 % of the rows share one value, so the first cuts are lopsided and
        // their small sides stay on the calling thread.
        let skewed: Vec<Vec<i64>> = vec![
            (0..n)
                .map(|i| {
                    if i % 10 == 0 {
                        rng.below(1000) as i64
                    } else {
                        500
                    }
                })
                .collect(),
            (0..n).map(|_| rng.below(3) as i64).collect(),
        ];
        let qis: Vec<MondrianQi> = skewed.iter().map(|c| numeric("x", c)).collect();
        let one = MondrianModel::new(10).unwrap();
        let a = mondrian(&qis, None, &one).unwrap();
        let b = mondrian(&qis, None, &one.with_threads(3).unwrap()).unwrap();
        assert_eq!(a.class_ids(), b.class_ids());
        check(&skewed, None, 10, 1, &a);
    }
}
