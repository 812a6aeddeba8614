//! Grouping rows of integer codes into equivalence classes, the inner loop of the search.
//!
//! A row's class is identified by a packed key: the sum over the attributes that vary of
//! radix × generalized code (mixed radix). When the product of those attributes' code counts
//! is small, the key indexes a flat array directly (no hashing, no probing; only the cells
//! touched are reset afterwards); otherwise an open-addressing table maps keys to classes.

use super::Classes;

/// The empty slot of the hash table (never a key: keys are below the product of the
/// attributes' code counts, which must fit in u64 below it: see `packed_radix`).
const EMPTY_SLOT: u64 = u64::MAX;

/// The largest number of keys grouped by direct indexing: a u32 cell per key, 1 MiB. On
/// Adult (9 attributes) nearly every pass of the search is under it; above it the cells
/// a pass touches scatter over more cache than the hash table would use.
const DIRECT_KEYS: u64 = 1 << 18;

/// Scratch that the search reuses across evaluations: per-attribute tables of radix ×
/// generalized code, and either a flat array of cells indexed by key (when the key space
/// is at most [`DIRECT_KEYS`]) or an open-addressing table (linear probing, Fibonacci
/// hashing, doubled when half full) from packed keys to class ids.
pub(super) struct Grouper {
    /// Direct indexing is used when the key space is at most this many keys.
    direct_limit: u64,
    /// Whether the keys of the current preparation index `cells`.
    direct: bool,
    /// Per key: class id + 1 ([`Grouper::group`]) or rows so far ([`Grouper::count`]); 0
    /// when untouched. Non-zero only at the keys listed in `touched`.
    cells: Vec<u32>,
    touched: Vec<u32>,
    /// Scratch of [`Grouper::count`]: every row's key, and the key and first row of every
    /// class.
    row_keys: Vec<u64>,
    fresh_keys: Vec<u32>,
    fresh_rows: Vec<u32>,
    slots: Vec<u64>,
    ids: Vec<u32>,
    /// The key of every class in the hash table, for growing it.
    keys: Vec<u64>,
    contrib: Vec<Vec<u64>>,
    /// The attributes of `contrib`.
    active: Vec<usize>,
}

impl Default for Grouper {
    fn default() -> Self {
        Grouper::with_direct_limit(DIRECT_KEYS)
    }
}

impl Grouper {
    /// A grouper indexing directly key spaces of at most `direct_limit` keys (0: always
    /// hashing; at most 2^32, so that keys fit the u32 lists of touched cells).
    pub(super) fn with_direct_limit(direct_limit: u64) -> Self {
        Grouper {
            direct_limit: direct_limit.min(1 << 32),
            direct: false,
            cells: Vec::new(),
            touched: Vec::new(),
            row_keys: Vec::new(),
            fresh_keys: Vec::new(),
            fresh_rows: Vec::new(),
            slots: Vec::new(),
            ids: Vec::new(),
            keys: Vec::new(),
            contrib: Vec::new(),
            active: Vec::new(),
        }
    }

    /// Sets the per-attribute tables for generalizing with `maps` (`maps[j][code]`: the
    /// generalized code of attribute j) and packing with `radix` (every key
    /// Σ radix[j] × generalized code must stay below [`EMPTY_SLOT`]). Attributes whose
    /// generalized code is always 0 add nothing to keys and are left out, and so is `same`,
    /// an attribute whose code is the same for all rows grouped between resets. When the
    /// product of the remaining attributes' code counts is small enough, keys are packed
    /// densely over them instead and index the cells directly.
    pub(super) fn prepare(&mut self, maps: &[&[u32]], radix: &[u64], same: Option<usize>) {
        self.active.clear();
        self.active.extend(
            (0..maps.len()).filter(|j| Some(*j) != same && maps[*j].iter().any(|c| *c != 0)),
        );
        // Codes at a level are numbered densely from 0, so the largest code + 1 counts them.
        let codes = |j: usize| maps[j].iter().max().map_or(1, |m| u64::from(*m) + 1);
        let span = self
            .active
            .iter()
            .try_fold(1u64, |s, j| s.checked_mul(codes(*j)));
        self.direct = span.is_some_and(|s| s <= self.direct_limit);
        if let (true, Some(span)) = (self.direct, span) {
            if self.cells.len() < span as usize {
                self.cells.resize(span as usize, 0);
            }
        }
        self.contrib.resize_with(self.active.len(), Vec::new);
        let mut dense = 1u64;
        for (c, j) in self.contrib.iter_mut().zip(&self.active) {
            let r = if self.direct { dense } else { radix[*j] };
            c.clear();
            c.extend(maps[*j].iter().map(|code| r * u64::from(*code)));
            dense = dense.saturating_mul(codes(*j));
        }
    }

    /// Empties the table, sized for about `expected` classes.
    pub(super) fn reset(&mut self, expected: usize) {
        self.clear_cells();
        self.keys.clear();
        if self.direct {
            return;
        }
        let capacity = (2 * expected).max(16).next_power_of_two();
        self.slots.clear();
        self.slots.resize(capacity, EMPTY_SLOT);
        self.ids.clear();
        self.ids.resize(capacity, 0);
    }

    fn clear_cells(&mut self) {
        for key in self.touched.drain(..) {
            self.cells[key as usize] = 0;
        }
    }

    fn slot(&self, key: u64) -> usize {
        let shift = 64 - self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
    }

    /// Doubles the hash table, keeping every key's id.
    fn grow(&mut self) {
        let capacity = 2 * self.slots.len();
        self.slots.clear();
        self.slots.resize(capacity, EMPTY_SLOT);
        self.ids.clear();
        self.ids.resize(capacity, 0);
        for (id, key) in self.keys.iter().enumerate() {
            let mut slot = self.slot(*key);
            while self.slots[slot] != EMPTY_SLOT {
                slot = (slot + 1) & (capacity - 1);
            }
            self.slots[slot] = *key;
            self.ids[slot] = id as u32;
        }
    }

    fn key(&self, row: &[u32]) -> u64 {
        let mut key: u64 = 0;
        for (c, j) in self.contrib.iter().zip(&self.active) {
            key += c[row[*j] as usize];
        }
        key
    }

    /// The id of the class of `key` in the hash table, inserting `new` when it is not
    /// there yet (the bool then says so).
    fn find_or_insert(&mut self, key: u64, new: u32) -> (u32, bool) {
        let mask = self.slots.len() - 1;
        let mut slot = self.slot(key);
        loop {
            let k = self.slots[slot];
            if k == key {
                return (self.ids[slot], false);
            }
            if k == EMPTY_SLOT {
                self.slots[slot] = key;
                self.ids[slot] = new;
                self.keys.push(key);
                if 2 * self.keys.len() > self.slots.len() {
                    self.grow();
                }
                return (new, true);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Adds the classes of `codes`/`sizes` (rows of codes at the levels `maps` start from) to
    /// `out`, generalized by `maps` (classes already in the table since the last reset are
    /// added to; new ones come in the order of their first row); with `assign`, pushes every
    /// row's class.
    pub(super) fn group(
        &mut self,
        codes: &[u32],
        sizes: &[u32],
        maps: &[&[u32]],
        out: &mut Classes,
        mut assign: Option<&mut Vec<u32>>,
    ) {
        let q = maps.len();
        for (i, size) in sizes.iter().enumerate() {
            let row = &codes[i * q..(i + 1) * q];
            let key = self.key(row);
            let next = out.sizes.len() as u32;
            let (id, new) = if self.direct {
                let cell = &mut self.cells[key as usize];
                if *cell == 0 {
                    *cell = next + 1;
                    self.touched.push(key as u32);
                    (next, true)
                } else {
                    (*cell - 1, false)
                }
            } else {
                self.find_or_insert(key, next)
            };
            if new {
                out.sizes.push(0);
                out.codes
                    .extend(maps.iter().zip(row).map(|(m, c)| m[*c as usize]));
            }
            out.sizes[id as usize] += size;
            if let Some(a) = assign.as_deref_mut() {
                a.push(id);
            }
        }
    }

    /// Groups the rows `rows` of `columns`/`sizes` (`columns[j][i]`: the code of attribute j
    /// in row i; every size at least 1) on their own, whatever was grouped before: appends
    /// every class's size to `class_sizes` and the index of its first row to `first_rows`,
    /// classes in the order of their first row. The codes are left to the caller
    /// (`maps[j][columns[j][first row]]`), so that a pass that stops early never builds
    /// them.
    pub(super) fn count(
        &mut self,
        columns: &[Vec<u32>],
        sizes: &[u32],
        rows: std::ops::Range<usize>,
        first_rows: &mut Vec<u32>,
        class_sizes: &mut Vec<u32>,
    ) {
        let sizes = &sizes[rows.clone()];
        let n = sizes.len();
        // Keys a column at a time (two per sweep): tight loops without hashing.
        let mut keys = std::mem::take(&mut self.row_keys);
        keys.clear();
        let mut attrs = self
            .contrib
            .iter()
            .zip(&self.active)
            .map(|(c, j)| (&c[..], &columns[*j][rows.clone()]));
        match attrs.next() {
            Some((c, column)) => keys.extend(column.iter().map(|code| c[*code as usize])),
            None => keys.resize(n, 0),
        }
        loop {
            match (attrs.next(), attrs.next()) {
                (Some((c, column)), Some((d, other))) => {
                    for ((key, x), y) in keys.iter_mut().zip(column).zip(other) {
                        *key += c[*x as usize] + d[*y as usize];
                    }
                }
                (Some((c, column)), None) => {
                    for (key, x) in keys.iter_mut().zip(column) {
                        *key += c[*x as usize];
                    }
                }
                _ => break,
            }
        }
        let start = rows.start as u32;
        if self.direct {
            self.clear_cells();
            // Branch-free: every row writes its key and index at the end of the fresh
            // list, which only moves past them when the row's cell was empty (a new class).
            self.fresh_keys.resize(n, 0);
            self.fresh_rows.resize(n, 0);
            let cells = &mut self.cells[..];
            let fresh_keys = &mut self.fresh_keys[..n];
            let fresh_rows = &mut self.fresh_rows[..n];
            let mut fresh = 0usize;
            for (i, (key, size)) in keys.iter().zip(sizes).enumerate() {
                let cell = cells[*key as usize];
                // `fresh` ≤ i: within the lists.
                fresh_keys[fresh] = *key as u32;
                fresh_rows[fresh] = i as u32;
                fresh += usize::from(cell == 0);
                cells[*key as usize] = cell + size;
            }
            for (key, row) in fresh_keys[..fresh].iter().zip(&fresh_rows[..fresh]) {
                let cell = &mut cells[*key as usize];
                class_sizes.push(*cell);
                first_rows.push(start + row);
                *cell = 0;
            }
        } else {
            self.reset(n);
            let base = class_sizes.len();
            for (i, (key, size)) in keys.iter().zip(sizes).enumerate() {
                let next = (class_sizes.len() - base) as u32;
                let (id, new) = self.find_or_insert(*key, next);
                if new {
                    class_sizes.push(0);
                    first_rows.push(start + i as u32);
                }
                class_sizes[base + id as usize] += size;
            }
        }
        self.row_keys = keys;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kanon::test_rng::Rng;

    /// A random small table: per attribute a map from base codes onto dense generalized
    /// codes, the hash radixes over the generalized code counts, rows of base codes (by
    /// row) and sizes of at least 1; `same`, if any, has one base code in every row.
    struct Case {
        maps: Vec<Vec<u32>>,
        radix: Vec<u64>,
        rows: Vec<u32>,
        sizes: Vec<u32>,
        same: Option<usize>,
    }

    impl Case {
        fn random(rng: &mut Rng) -> Self {
            let q = 1 + rng.below(4) as usize;
            let (mut maps, mut radix, mut span) = (Vec::new(), Vec::new(), 1u64);
            for _ in 0..q {
                let base = 1 + rng.below(7) as usize;
                let generalized = 1 + rng.below(base as u64) as u32;
                // Every generalized code is the image of some base code.
                let mut m: Vec<u32> = (0..base as u32)
                    .map(|b| {
                        if b < generalized {
                            b
                        } else {
                            rng.below(u64::from(generalized)) as u32
                        }
                    })
                    .collect();
                // Shuffle, so that the codes do not come in order.
                for i in (1..m.len()).rev() {
                    m.swap(i, rng.below(i as u64 + 1) as usize);
                }
                maps.push(m);
                radix.push(span);
                span *= u64::from(generalized);
            }
            let same = (rng.below(3) == 0).then(|| rng.below(q as u64) as usize);
            let n = rng.below(120) as usize;
            let fixed: Vec<u32> = maps
                .iter()
                .map(|m| rng.below(m.len() as u64) as u32)
                .collect();
            let mut rows = Vec::with_capacity(n * q);
            for _ in 0..n {
                for j in 0..q {
                    rows.push(if same == Some(j) {
                        fixed[j]
                    } else {
                        rng.below(maps[j].len() as u64) as u32
                    });
                }
            }
            let sizes = (0..n).map(|_| 1 + rng.below(4) as u32).collect();
            Case {
                maps,
                radix,
                rows,
                sizes,
                same,
            }
        }

        fn q(&self) -> usize {
            self.maps.len()
        }

        fn maps(&self) -> Vec<&[u32]> {
            self.maps.iter().map(|m| &m[..]).collect()
        }

        /// The product of the generalized code counts of the attributes that vary.
        fn span(&self) -> u64 {
            (0..self.q())
                .filter(|j| Some(*j) != self.same)
                .map(|j| u64::from(*self.maps[j].iter().max().unwrap_or(&0)) + 1)
                .product()
        }

        fn columns(&self) -> Vec<Vec<u32>> {
            let q = self.q();
            (0..q)
                .map(|j| self.rows.iter().skip(j).step_by(q).copied().collect())
                .collect()
        }

        fn generalized(&self, i: usize) -> Vec<u32> {
            let q = self.q();
            (0..q)
                .map(|j| self.maps[j][self.rows[i * q + j] as usize])
                .collect()
        }

        /// Classes of rows `from..to` by brute force, in the order of their first row: the
        /// first row, the generalized codes and the size.
        fn classes(&self, from: usize, to: usize) -> Vec<(usize, Vec<u32>, u32)> {
            let mut out: Vec<(usize, Vec<u32>, u32)> = Vec::new();
            for i in from..to {
                let codes = self.generalized(i);
                match out.iter_mut().find(|c| c.1 == codes) {
                    Some(c) => c.2 += self.sizes[i],
                    None => out.push((i, codes, self.sizes[i])),
                }
            }
            out
        }
    }

    fn empty() -> Classes {
        Classes {
            levels: Vec::new(),
            codes: Vec::new(),
            sizes: Vec::new(),
            hist: None,
        }
    }

    /// `group` gives the brute-force classes and assignment, whether it indexes the cells
    /// directly or hashes, also when one grouper is reused across tables and when rows are
    /// added to the classes of earlier rows.
    #[test]
    fn direct_and_hashed_group_match_brute_force() {
        let mut rng = Rng(7);
        let mut direct = Grouper::default();
        let mut hashed = Grouper::with_direct_limit(0);
        let mut directs = 0;
        for _ in 0..400 {
            let case = Case::random(&mut rng);
            let (q, n) = (case.q(), case.sizes.len());
            let expected = case.classes(0, n);
            let maps = case.maps();
            // Rows in two calls after one reset: the second adds to the first's classes.
            let half = rng.below(n as u64 + 1) as usize;
            for g in [&mut direct, &mut hashed] {
                g.prepare(&maps, &case.radix, case.same);
                g.reset(half);
                let (mut out, mut assign) = (empty(), Vec::new());
                g.group(
                    &case.rows[..half * q],
                    &case.sizes[..half],
                    &maps,
                    &mut out,
                    Some(&mut assign),
                );
                g.group(
                    &case.rows[half * q..],
                    &case.sizes[half..],
                    &maps,
                    &mut out,
                    Some(&mut assign),
                );
                let got: Vec<(Vec<u32>, u32)> = (0..out.sizes.len())
                    .map(|c| (out.codes[c * q..(c + 1) * q].to_vec(), out.sizes[c]))
                    .collect();
                let want: Vec<(Vec<u32>, u32)> =
                    expected.iter().map(|c| (c.1.clone(), c.2)).collect();
                assert_eq!(got, want);
                for (i, a) in assign.iter().enumerate() {
                    assert_eq!(
                        out.codes[*a as usize * q..(*a as usize + 1) * q],
                        case.generalized(i)
                    );
                }
            }
            assert!(!hashed.direct);
            directs += usize::from(direct.direct);
        }
        assert_eq!(directs, 400);
    }

    /// `count` gives the brute-force classes (first row and size) of any range of rows on
    /// its own, whether it indexes the cells directly or hashes, whatever was grouped
    /// before with the same grouper.
    #[test]
    fn direct_and_hashed_count_match_brute_force() {
        let mut rng = Rng(11);
        let mut direct = Grouper::default();
        let mut hashed = Grouper::with_direct_limit(0);
        for _ in 0..400 {
            let case = Case::random(&mut rng);
            let n = case.sizes.len();
            let columns = case.columns();
            let maps = case.maps();
            // Up to three ranges in a row, each grouped alone.
            let mut cuts: Vec<usize> = (0..2).map(|_| rng.below(n as u64 + 1) as usize).collect();
            cuts.push(0);
            cuts.push(n);
            cuts.sort();
            for g in [&mut direct, &mut hashed] {
                g.prepare(&maps, &case.radix, case.same);
                let (mut firsts, mut sizes) = (vec![99], vec![99]);
                let mut want = vec![(99, 99)];
                for w in cuts.windows(2) {
                    g.count(&columns, &case.sizes, w[0]..w[1], &mut firsts, &mut sizes);
                    want.extend(case.classes(w[0], w[1]).iter().map(|c| (c.0 as u32, c.2)));
                }
                let got: Vec<(u32, u32)> = firsts.into_iter().zip(sizes).collect();
                assert_eq!(got, want);
            }
        }
    }

    /// Direct indexing is used exactly when the key space is at most the limit, and a
    /// grouper switching between the two ways leaves no stale cells behind.
    #[test]
    fn direct_indexing_up_to_the_limit_only() {
        let mut rng = Rng(13);
        for _ in 0..200 {
            let case = Case::random(&mut rng);
            let span = case.span();
            let maps = case.maps();
            let mut g = Grouper::with_direct_limit(span);
            g.prepare(&maps, &case.radix, case.same);
            assert!(g.direct);
            let mut g = Grouper::with_direct_limit(span - 1);
            g.prepare(&maps, &case.radix, case.same);
            assert!(!g.direct);
        }
        let mut g = Grouper::with_direct_limit(20);
        let mut switched = 0;
        let mut was = None;
        for _ in 0..300 {
            let case = Case::random(&mut rng);
            let n = case.sizes.len();
            g.prepare(&case.maps(), &case.radix, case.same);
            switched += usize::from(was.is_some_and(|w| w != g.direct));
            was = Some(g.direct);
            let mut out = empty();
            if rng.below(2) == 0 {
                g.reset(n);
                g.group(&case.rows, &case.sizes, &case.maps(), &mut out, None);
            } else {
                let mut firsts = Vec::new();
                g.count(
                    &case.columns(),
                    &case.sizes,
                    0..n,
                    &mut firsts,
                    &mut out.sizes,
                );
            }
            let want: Vec<u32> = case.classes(0, n).iter().map(|c| c.2).collect();
            assert_eq!(out.sizes, want);
        }
        assert!(switched > 50, "{switched}");
    }
}
