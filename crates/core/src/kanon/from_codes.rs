//! [`Table::from_codes`]: building a table from columns that are already base codes, for
//! large tables (no strings, no per-row allocation or hashing: one sort of packed keys).

use super::{Hierarchy, Table};
use crate::error::{Fallible, VeilError};

impl Table {
    /// Builds a table from one column of base codes per quasi-identifier (the codes
    /// [`Hierarchy::base_code`] gives, `0..hierarchy.len()`), in the order of `names`.
    /// A column of the wrong length or a code outside its hierarchy is an error naming the
    /// column. Equal to [`Table::encode`] on the same values, but the distinct combinations
    /// are found by sorting packed integer keys (about 8 bytes per row of extra memory),
    /// which is far cheaper for millions of rows.
    pub fn from_codes(
        names: &[&str],
        hierarchies: Vec<Hierarchy>,
        columns: &[&[u32]],
    ) -> Fallible<Self> {
        let q = names.len();
        if q == 0 || hierarchies.len() != q || columns.len() != q {
            return Err(VeilError::invalid(
                "quasi_identifiers",
                format!(
                    "need one hierarchy and one column per quasi-identifier, got {q} names, {} hierarchies and {} columns",
                    hierarchies.len(),
                    columns.len()
                ),
            ));
        }
        let n = columns[0].len();
        for (j, c) in columns.iter().enumerate() {
            if c.len() != n {
                return Err(VeilError::invalid(
                    names[j].to_string(),
                    format!(
                        "has {} rows but {} has {n}; every column needs one code per row",
                        c.len(),
                        names[0]
                    ),
                ));
            }
        }
        if n > u32::MAX as usize {
            return Err(VeilError::invalid(
                "rows",
                format!("at most {} rows are supported, got {n}", u32::MAX),
            ));
        }
        // Mixed-radix packing: key = Σ code_j · Π_{i<j} len_i.
        let mut radix = Vec::with_capacity(q);
        let mut span: u128 = 1;
        for h in &hierarchies {
            radix.push(span);
            span = span.checked_mul(h.len() as u128).ok_or_else(|| {
                VeilError::invalid(
                    "quasi_identifiers",
                    "too many distinct value combinations to encode",
                )
            })?;
        }
        let lens: Vec<u32> = hierarchies.iter().map(|h| h.len() as u32).collect();
        let (tuples, counts) = if span <= u128::from(u64::MAX) {
            let radix: Vec<u64> = radix.iter().map(|r| *r as u64).collect();
            let keys = pack(names, &lens, columns, &radix)?;
            distinct(keys, &radix, &lens)
        } else {
            let keys = pack(names, &lens, columns, &radix)?;
            distinct(keys, &radix, &lens)
        };
        Ok(Table {
            names: names.iter().map(|s| s.to_string()).collect(),
            hierarchies,
            tuples,
            counts,
            rows: n,
            sensitive: None,
        })
    }

    /// Number of distinct quasi-identifier combinations (the frequency set's size).
    pub fn combinations(&self) -> usize {
        self.counts.len()
    }
}

/// Unsigned keys wide enough for the packed codes.
trait Key: Copy + Ord + Default + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> {
    fn from_u32(v: u32) -> Self;
    /// `(self / radix) % len`, as u32.
    fn digit(self, radix: Self, len: u32) -> u32;
}

impl Key for u64 {
    fn from_u32(v: u32) -> Self {
        u64::from(v)
    }
    fn digit(self, radix: Self, len: u32) -> u32 {
        ((self / radix) % u64::from(len)) as u32
    }
}

impl Key for u128 {
    fn from_u32(v: u32) -> Self {
        u128::from(v)
    }
    fn digit(self, radix: Self, len: u32) -> u32 {
        ((self / radix) % u128::from(len)) as u32
    }
}

/// One packed key per row, checking every code against its hierarchy.
fn pack<K: Key>(names: &[&str], lens: &[u32], columns: &[&[u32]], radix: &[K]) -> Fallible<Vec<K>> {
    let mut keys = vec![K::default(); columns[0].len()];
    for (j, column) in columns.iter().enumerate() {
        for (i, (key, code)) in keys.iter_mut().zip(column.iter()).enumerate() {
            if *code >= lens[j] {
                return Err(VeilError::invalid(
                    names[j].to_string(),
                    format!(
                        "row {} has code {code}, but its hierarchy has {} values",
                        i + 1,
                        lens[j]
                    ),
                ));
            }
            *key = *key + K::from_u32(*code) * radix[j];
        }
    }
    Ok(keys)
}

/// The distinct combinations (flattened codes) with their row counts.
fn distinct<K: Key>(mut keys: Vec<K>, radix: &[K], lens: &[u32]) -> (Vec<u32>, Vec<u32>) {
    keys.sort_unstable();
    let (mut tuples, mut counts) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < keys.len() {
        let key = keys[i];
        let run = keys[i..].partition_point(|k| *k == key);
        tuples.extend(radix.iter().zip(lens).map(|(r, l)| key.digit(*r, *l)));
        counts.push(run as u32);
        i += run;
    }
    (tuples, counts)
}

#[cfg(test)]
mod tests {
    use super::super::{evaluate_levels, search, KAnonymity};
    use super::*;

    fn hierarchies() -> Vec<Hierarchy> {
        let ages: Vec<i64> = (20..70).collect();
        let age = Hierarchy::intervals("age", &ages, &[5, 10, 20]).unwrap();
        let sex = Hierarchy::from_rows(
            "sex",
            vec![vec!["F".into(), "*".into()], vec!["M".into(), "*".into()]],
        )
        .unwrap();
        let zip = Hierarchy::from_rows(
            "zip",
            ["1305", "1306", "1485", "1486", "1490"]
                .iter()
                .map(|z| {
                    vec![
                        z.to_string(),
                        format!("{}*", &z[..3]),
                        format!("{}**", &z[..2]),
                        "*".into(),
                    ]
                })
                .collect(),
        )
        .unwrap();
        vec![age, sex, zip]
    }

    #[test]
    fn same_table_as_encode() {
        let hs = hierarchies();
        let mut text: Vec<[String; 3]> = Vec::new();
        let mut cols: Vec<Vec<u32>> = vec![Vec::new(); 3];
        for i in 0..500u32 {
            let row = [
                (20 + (i * 7919) % 50).to_string(),
                ["F", "M"][(i % 3 == 0) as usize].to_string(),
                ["1305", "1306", "1485", "1486", "1490"][((i * 31) % 5) as usize].to_string(),
            ];
            for j in 0..3 {
                cols[j].push(hs[j].base_code(&row[j]).unwrap());
            }
            text.push(row);
        }
        let rows: Vec<Vec<&str>> = text
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        let names = ["age", "sex", "zip"];
        let a = Table::encode(&names, hs.clone(), &rows).unwrap();
        let columns: Vec<&[u32]> = cols.iter().map(Vec::as_slice).collect();
        let b = Table::from_codes(&names, hs, &columns).unwrap();
        assert_eq!(a.rows(), b.rows());
        // The same frequency set, in another order.
        let set = |t: &Table| {
            let mut v: Vec<(Vec<u32>, u32)> = t
                .counts
                .iter()
                .enumerate()
                .map(|(i, c)| (t.tuples[i * 3..i * 3 + 3].to_vec(), *c))
                .collect();
            v.sort();
            v
        };
        assert_eq!(set(&a), set(&b));
        assert!(a.combinations() > 50);
        assert_eq!(a.combinations(), b.combinations());
        for (k, s) in [(3, 0.0), (10, 0.04)] {
            let model = KAnonymity::new(k, s).unwrap();
            let (x, y) = (search(&a, &model).unwrap(), search(&b, &model).unwrap());
            assert_eq!(x.best.levels, y.best.levels);
            assert!((x.best.loss - y.best.loss).abs() < 1e-6);
            let (x, y) = (
                evaluate_levels(&a, &model, &[1, 0, 1]).unwrap(),
                evaluate_levels(&b, &model, &[1, 0, 1]).unwrap(),
            );
            assert_eq!(
                (x.classes, x.suppressed_rows, x.anonymous),
                (y.classes, y.suppressed_rows, y.anonymous)
            );
            assert!((x.loss - y.loss).abs() < 1e-6);
        }
    }

    #[test]
    fn errors_name_the_column() {
        let err = |cols: &[&[u32]]| {
            Table::from_codes(&["age", "sex", "zip"], hierarchies(), cols)
                .err()
                .unwrap()
                .to_string()
        };
        let e = err(&[&[0, 1], &[0, 1], &[0]]);
        assert!(e.contains("`zip`") && e.contains("1 rows"), "{e}");
        let e = err(&[&[0, 1], &[0, 2], &[0, 0]]);
        assert!(e.contains("`sex`") && e.contains("row 2 has code 2"), "{e}");
        let e = err(&[&[0], &[0]]);
        assert!(e.contains("`quasi_identifiers`"), "{e}");
    }
}
