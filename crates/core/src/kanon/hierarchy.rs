//! Generalization hierarchies: for each original value of a quasi-identifier, its value at
//! every level (level 0 = the original, the last level usually `*`).

use std::collections::HashMap;

use crate::error::{Fallible, VeilError};

/// A validated hierarchy, with every level's values encoded as small integers.
#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    /// `codes[level][base]`: the code at `level` of original value number `base`.
    codes: Vec<Vec<u32>>,
    /// `labels[level][code]`: the text of each code.
    labels: Vec<Vec<String>>,
    /// Original value → base code.
    index: HashMap<String, u32>,
}

impl Hierarchy {
    /// Reads ARX's CSV format: one row per original value, `;`-separated, column 0 the
    /// original value and column i its generalization at level i. `name` names the
    /// quasi-identifier in errors.
    pub fn from_arx_csv(name: &str, text: &str) -> Fallible<Self> {
        let rows: Vec<Vec<String>> = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(';').map(str::to_string).collect())
            .collect();
        Self::from_rows(name, rows)
    }

    /// Builds a hierarchy from rows `[original, level 1, level 2, …]`, checking that every
    /// row has the same number of levels, originals are distinct and non-empty, and that
    /// the levels form a tree: values equal at one level stay equal at every higher level.
    pub fn from_rows(name: &str, rows: Vec<Vec<String>>) -> Fallible<Self> {
        let err = |rule: String| VeilError::invalid(format!("hierarchy of {name}"), rule);
        let Some(first) = rows.first() else {
            return Err(err("is empty".into()));
        };
        let height = first.len();
        let mut index = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            if row.len() != height {
                return Err(err(format!(
                    "row {} has {} levels, row 1 has {height}",
                    i + 1,
                    row.len()
                )));
            }
            if row[0].is_empty() {
                return Err(err(format!("row {} has an empty original value", i + 1)));
            }
            if index.insert(row[0].clone(), i as u32).is_some() {
                return Err(err(format!("value {:?} appears twice", row[0])));
            }
        }
        let mut codes = Vec::with_capacity(height);
        let mut labels = Vec::with_capacity(height);
        for level in 0..height {
            let mut seen: HashMap<&str, u32> = HashMap::new();
            let mut level_labels = Vec::new();
            let level_codes: Vec<u32> = rows
                .iter()
                .map(|row| {
                    *seen.entry(row[level].as_str()).or_insert_with(|| {
                        level_labels.push(row[level].clone());
                        (level_labels.len() - 1) as u32
                    })
                })
                .collect();
            codes.push(level_codes);
            labels.push(level_labels);
        }
        // A tree: one code at level l maps to one code at level l + 1.
        for level in 0..height.saturating_sub(1) {
            let mut parent: HashMap<u32, u32> = HashMap::new();
            for (base, row) in rows.iter().enumerate() {
                let (c, p) = (codes[level][base], codes[level + 1][base]);
                if *parent.entry(c).or_insert(p) != p {
                    return Err(err(format!(
                        "level {level} value {:?} generalizes to both {:?} and {:?} at level {}",
                        row[level],
                        labels[level + 1][parent[&c] as usize],
                        row[level + 1],
                        level + 1
                    )));
                }
            }
        }
        Ok(Hierarchy {
            codes,
            labels,
            index,
        })
    }

    /// Numeric intervals: level i groups integers into intervals of `widths[i-1]` starting
    /// at 0 (`[30, 40)`), over the given values; a last level `*` is added.
    pub fn intervals(name: &str, values: &[i64], widths: &[i64]) -> Fallible<Self> {
        if widths.iter().any(|w| *w <= 0) || widths.windows(2).any(|w| w[1] % w[0] != 0) {
            return Err(VeilError::invalid(
                format!("hierarchy of {name}"),
                "interval widths must be positive and each a multiple of the previous",
            ));
        }
        let mut distinct: Vec<i64> = values.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let rows = distinct
            .iter()
            .map(|v| {
                let mut row = vec![v.to_string()];
                for w in widths {
                    let lo = v.div_euclid(*w) * w;
                    row.push(format!("[{lo}, {})", lo + w));
                }
                row.push("*".into());
                row
            })
            .collect();
        Self::from_rows(name, rows)
    }

    /// Number of levels, the original included.
    pub fn height(&self) -> usize {
        self.codes.len()
    }

    /// The base code of an original value.
    pub fn base_code(&self, value: &str) -> Option<u32> {
        self.index.get(value).copied()
    }

    /// The code of base value `base` at `level`.
    pub fn code(&self, level: usize, base: u32) -> u32 {
        self.codes[level][base as usize]
    }

    /// The codes at `level`, indexed by base code.
    pub fn codes_at(&self, level: usize) -> &[u32] {
        &self.codes[level]
    }

    /// Number of distinct values at `level`.
    pub fn distinct(&self, level: usize) -> usize {
        self.labels[level].len()
    }

    /// Text of a code at `level`.
    pub fn label(&self, level: usize, code: u32) -> &str {
        &self.labels[level][code as usize]
    }

    /// Number of original values.
    pub fn len(&self) -> usize {
        self.codes[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_validates_arx_csv() {
        let h = Hierarchy::from_arx_csv(
            "age",
            "31;30-34;30-39;*\n32;30-34;30-39;*\n37;35-39;30-39;*\n44;40-44;40-49;*\n",
        )
        .unwrap();
        assert_eq!(h.height(), 4);
        assert_eq!(h.distinct(1), 3);
        assert_eq!(h.distinct(3), 1);
        let b = h.base_code("37").unwrap();
        assert_eq!(h.label(2, h.code(2, b)), "30-39");
        let err = |t: &str| Hierarchy::from_arx_csv("age", t).unwrap_err().to_string();
        assert!(err("1;a;*\n2;b\n").contains("row 2 has 2 levels"));
        assert!(err("1;a;*\n1;a;*\n").contains("appears twice"));
        assert!(err("1;a;x\n2;a;y\n").contains("generalizes to both"));
        assert!(err("").contains("is empty"));
        assert!(err("1;a;*\n2;b\n").contains("hierarchy of age"));
    }

    #[test]
    fn builds_intervals() {
        let h = Hierarchy::intervals("age", &[31, 37, 44, 31], &[5, 10]).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.label(1, h.code(1, h.base_code("37").unwrap())),
            "[35, 40)"
        );
        assert_eq!(
            h.label(2, h.code(2, h.base_code("31").unwrap())),
            "[30, 40)"
        );
        assert!(Hierarchy::intervals("age", &[1], &[5, 7]).is_err());
    }
}
