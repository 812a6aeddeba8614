//! Applying a chosen generalization: one value at a time ([`generalize`]) or a whole saved
//! [`Transformation`] (quasi-identifiers, levels, k, what happens to suppressed rows) that
//! round-trips through JSON, so a solution found once can be re-applied to new rows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Hierarchy, Table};
use crate::error::{Fallible, VeilError};

/// The generalization of `value` at `level` of `hierarchy` (level 0 is the value itself).
/// A value missing from the hierarchy, or a level at or above its height, is an error
/// naming it.
pub fn generalize(value: &str, hierarchy: &Hierarchy, level: usize) -> Fallible<String> {
    if level >= hierarchy.height() {
        return Err(VeilError::invalid(
            "level",
            format!(
                "level {level} does not exist: the hierarchy has levels 0 to {}",
                hierarchy.height() - 1
            ),
        ));
    }
    let base = hierarchy.base_code(value).ok_or_else(|| {
        VeilError::invalid("value", format!("{value:?} has no entry in the hierarchy"))
    })?;
    Ok(hierarchy
        .label(level, hierarchy.code(level, base))
        .to_string())
}

/// What happens to rows of equivalence classes smaller than k.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suppression {
    /// Released with `*` in every quasi-identifier (the rest of the row is kept). The
    /// masked rows form one equivalence class of their own (together with any class whose
    /// generalized values are all `*`), which the risk measures count like any other.
    #[default]
    Mask,
    /// Not released at all.
    Drop,
}

/// The value a suppressed row gets in every quasi-identifier under [`Suppression::Mask`].
pub const SUPPRESSED: &str = "*";

/// A chosen solution: one generalization level per quasi-identifier and the k that decides
/// which rows are suppressed. Serialized as JSON
/// `{"quasi_identifiers": ["age", "zip"], "levels": [1, 2], "k": 5, "suppression": "mask"}`
/// (`suppression` may be left out: `mask`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transformation {
    pub quasi_identifiers: Vec<String>,
    pub levels: Vec<usize>,
    pub k: usize,
    #[serde(default)]
    pub suppression: Suppression,
}

/// The result of [`Transformation::apply`]: one entry per input row, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The generalized quasi-identifier values, all [`SUPPRESSED`] for a masked row, or
    /// `None` for a row dropped by [`Suppression::Drop`].
    pub rows: Vec<Option<Vec<String>>>,
    /// Rows in classes smaller than k (masked or dropped).
    pub suppressed_rows: usize,
}

impl Transformation {
    /// Checks that there is at least one quasi-identifier, names are distinct, there is one
    /// level per name, and k ≥ 1.
    pub fn new(
        quasi_identifiers: Vec<String>,
        levels: Vec<usize>,
        k: usize,
        suppression: Suppression,
    ) -> Fallible<Self> {
        let t = Transformation {
            quasi_identifiers,
            levels,
            k,
            suppression,
        };
        t.validate()?;
        Ok(t)
    }

    /// [`Transformation::new`] for the quasi-identifiers of `table`, also checking each
    /// level against its hierarchy.
    pub fn for_table(
        table: &Table,
        levels: &[usize],
        k: usize,
        suppression: Suppression,
    ) -> Fallible<Self> {
        let t = Self::new(
            table.quasi_identifiers().to_vec(),
            levels.to_vec(),
            k,
            suppression,
        )?;
        t.check_hierarchies(table.hierarchies())?;
        Ok(t)
    }

    fn validate(&self) -> Fallible<()> {
        if self.quasi_identifiers.is_empty() {
            return Err(VeilError::invalid(
                "quasi_identifiers",
                "need at least one quasi-identifier",
            ));
        }
        for (i, name) in self.quasi_identifiers.iter().enumerate() {
            if self.quasi_identifiers[..i].contains(name) {
                return Err(VeilError::invalid(
                    "quasi_identifiers",
                    format!("{name:?} appears twice"),
                ));
            }
        }
        if self.levels.len() != self.quasi_identifiers.len() {
            return Err(VeilError::invalid(
                "levels",
                format!(
                    "need one level per quasi-identifier: {} names, {} levels",
                    self.quasi_identifiers.len(),
                    self.levels.len()
                ),
            ));
        }
        if self.k < 1 {
            return Err(VeilError::invalid("k", "must be at least 1, got 0"));
        }
        Ok(())
    }

    /// Checks there is one hierarchy per quasi-identifier and every level exists in it.
    pub(crate) fn check_hierarchies(&self, hierarchies: &[Hierarchy]) -> Fallible<()> {
        self.validate()?;
        if hierarchies.len() != self.quasi_identifiers.len() {
            return Err(VeilError::invalid(
                "hierarchies",
                format!(
                    "need one hierarchy per quasi-identifier: {} names, {} hierarchies",
                    self.quasi_identifiers.len(),
                    hierarchies.len()
                ),
            ));
        }
        for ((name, level), h) in self
            .quasi_identifiers
            .iter()
            .zip(&self.levels)
            .zip(hierarchies)
        {
            if *level >= h.height() {
                return Err(VeilError::invalid(
                    format!("levels.{name}"),
                    format!(
                        "level {level} does not exist: the hierarchy of {name} has levels 0 to {}",
                        h.height() - 1
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings and integers serializes")
    }

    /// Parses and validates a saved transformation.
    pub fn from_json(json: &str) -> Fallible<Self> {
        let t: Transformation = serde_json::from_str(json).map_err(|e| {
            VeilError::invalid(
                "transformation",
                format!(
                    "must be a JSON object with keys quasi_identifiers, levels, k and \
                     optionally suppression (\"mask\" or \"drop\"): {e}"
                ),
            )
        })?;
        t.validate()?;
        Ok(t)
    }

    /// Generalizes `rows` (one value per quasi-identifier, in the order of
    /// `quasi_identifiers`, with `hierarchies` in the same order). Equivalence classes are
    /// counted over the rows of this call: rows in classes smaller than k are masked or
    /// dropped as `suppression` says. Pass new data in one call (or at least in batches that
    /// are large enough): applied row by row with k > 1, every row would be suppressed.
    ///
    /// Suppression is decided on the new rows alone, so the share of suppressed rows can
    /// differ from what the search found on the original table; check
    /// [`Applied::suppressed_rows`]. A value missing from its hierarchy is an error naming
    /// the column, the value and the row.
    pub fn apply<'a, R>(&self, hierarchies: &[Hierarchy], rows: R) -> Fallible<Applied>
    where
        R: IntoIterator,
        R::Item: AsRef<[&'a str]>,
    {
        self.check_hierarchies(hierarchies)?;
        let q = self.levels.len();
        let mut keys: Vec<Vec<u32>> = Vec::new();
        let mut sizes: HashMap<Vec<u32>, usize> = HashMap::new();
        for (i, row) in rows.into_iter().enumerate() {
            let row = row.as_ref();
            if row.len() != q {
                return Err(VeilError::invalid(
                    "rows",
                    format!("row {} has {} values, expected {q}", i + 1, row.len()),
                ));
            }
            let mut key = Vec::with_capacity(q);
            for (j, value) in row.iter().enumerate() {
                let h = &hierarchies[j];
                let base = h.base_code(value).ok_or_else(|| {
                    VeilError::invalid(
                        format!("hierarchy of {}", self.quasi_identifiers[j]),
                        format!("has no entry for value {value:?} (row {})", i + 1),
                    )
                })?;
                key.push(h.code(self.levels[j], base));
            }
            *sizes.entry(key.clone()).or_insert(0) += 1;
            keys.push(key);
        }
        let mut suppressed_rows = 0;
        let rows = keys
            .into_iter()
            .map(|key| {
                if sizes[&key] >= self.k {
                    return Some(
                        key.iter()
                            .enumerate()
                            .map(|(j, c)| hierarchies[j].label(self.levels[j], *c).to_string())
                            .collect(),
                    );
                }
                suppressed_rows += 1;
                match self.suppression {
                    Suppression::Mask => Some(vec![SUPPRESSED.to_string(); q]),
                    Suppression::Drop => None,
                }
            })
            .collect();
        Ok(Applied {
            rows,
            suppressed_rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchies() -> Vec<Hierarchy> {
        vec![
            Hierarchy::intervals("age", &[31, 33, 38, 45], &[5, 10]).unwrap(),
            Hierarchy::prefix_masking("zip", &["13053", "13068", "14850"]).unwrap(),
        ]
    }

    #[test]
    fn generalize_one_value() {
        let h = &hierarchies()[1];
        assert_eq!(generalize("13053", h, 0).unwrap(), "13053");
        assert_eq!(generalize("13053", h, 2).unwrap(), "130**");
        assert_eq!(generalize("13053", h, 5).unwrap(), "*****");
        let e = generalize("13053", h, 6).unwrap_err().to_string();
        assert!(
            e.contains("`level`") && e.contains("level 6 does not exist"),
            "{e}"
        );
        assert!(e.contains("levels 0 to 5"), "{e}");
        let e = generalize("99999", h, 1).unwrap_err().to_string();
        assert!(e.contains("`value`") && e.contains("\"99999\""), "{e}");
    }

    #[test]
    fn apply_masks_or_drops_small_classes() {
        let hs = hierarchies();
        let rows = [
            ["31", "13053"],
            ["33", "13068"],
            ["38", "13053"],
            ["45", "14850"],
            ["31", "13068"],
        ];
        // age [30, 40), zip 1****: classes {rows 1, 2, 3, 5} and {row 4}.
        let t = Transformation::new(
            vec!["age".into(), "zip".into()],
            vec![2, 4],
            2,
            Suppression::Mask,
        )
        .unwrap();
        let out = t.apply(&hs, &rows).unwrap();
        assert_eq!(out.suppressed_rows, 1);
        let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(
            out.rows,
            vec![
                s(&["[30, 40)", "1****"]),
                s(&["[30, 40)", "1****"]),
                s(&["[30, 40)", "1****"]),
                s(&["*", "*"]),
                s(&["[30, 40)", "1****"]),
            ]
        );
        let dropped = Transformation {
            suppression: Suppression::Drop,
            ..t.clone()
        }
        .apply(&hs, &rows)
        .unwrap();
        assert_eq!(dropped.rows[3], None);
        assert_eq!(dropped.rows[0], out.rows[0]);
        assert_eq!(dropped.suppressed_rows, 1);
        // k = 1 keeps everything; level 0 is the identity.
        let id = Transformation::new(
            vec!["age".into(), "zip".into()],
            vec![0, 0],
            1,
            Suppression::Drop,
        )
        .unwrap()
        .apply(&hs, &rows)
        .unwrap();
        assert_eq!(id.suppressed_rows, 0);
        assert_eq!(id.rows[3], s(&["45", "14850"]));
        // Classes are counted per call: one row alone is always suppressed with k = 2.
        assert_eq!(t.apply(&hs, &rows[..1]).unwrap().rows[0], s(&["*", "*"]));
    }

    #[test]
    fn apply_refuses_mismatches() {
        let hs = hierarchies();
        let t = Transformation::new(
            vec!["age".into(), "zip".into()],
            vec![1, 9],
            2,
            Suppression::Mask,
        )
        .unwrap();
        let e = t.apply(&hs, &[["31", "13053"]]).unwrap_err().to_string();
        assert!(e.contains("`levels.zip`") && e.contains("level 9"), "{e}");
        let t = Transformation {
            levels: vec![1, 1],
            ..t
        };
        let e = t.apply(&hs, &[["31", "99999"]]).unwrap_err().to_string();
        assert!(
            e.contains("hierarchy of zip") && e.contains("\"99999\" (row 1)"),
            "{e}"
        );
        let e = t.apply(&hs, &[vec!["31"]]).unwrap_err().to_string();
        assert!(e.contains("row 1 has 1 values, expected 2"), "{e}");
        assert!(t.apply(&hs[..1], &[["31", "13053"]]).is_err());
    }

    #[test]
    fn json_round_trip_and_validation() {
        let t = Transformation::new(
            vec!["age".into(), "zip".into()],
            vec![1, 3],
            5,
            Suppression::Drop,
        )
        .unwrap();
        let json = t.to_json();
        assert_eq!(
            json,
            r#"{"quasi_identifiers":["age","zip"],"levels":[1,3],"k":5,"suppression":"drop"}"#
        );
        assert_eq!(Transformation::from_json(&json).unwrap(), t);
        let t =
            Transformation::from_json(r#"{"quasi_identifiers":["a"],"levels":[0],"k":2}"#).unwrap();
        assert_eq!(t.suppression, Suppression::Mask);
        let err = |j: &str| Transformation::from_json(j).unwrap_err().to_string();
        assert!(err(r#"{"quasi_identifiers":["a"],"levels":[0],"k":0}"#).contains("`k`"));
        assert!(err(r#"{"quasi_identifiers":["a"],"levels":[0,1],"k":2}"#).contains("`levels`"));
        assert!(err(r#"{"quasi_identifiers":[],"levels":[],"k":2}"#).contains("at least one"));
        assert!(err(r#"{"quasi_identifiers":["a","a"],"levels":[0,0],"k":2}"#).contains("twice"));
        assert!(
            err(r#"{"quasi_identifiers":["a"],"levels":[0],"k":2,"x":1}"#)
                .contains("unknown field")
        );
        assert!(
            err(r#"{"quasi_identifiers":["a"],"levels":[-1],"k":2}"#).contains("`transformation`")
        );
        assert!(
            err(r#"{"quasi_identifiers":["a"],"levels":[0],"k":2,"suppression":"hide"}"#)
                .contains("`transformation`")
        );
    }

    #[test]
    fn for_table_checks_levels() {
        let t = Table::encode(&["age", "zip"], hierarchies(), vec![["31", "13053"]]).unwrap();
        assert!(Transformation::for_table(&t, &[2, 5], 1, Suppression::Mask).is_ok());
        let e = Transformation::for_table(&t, &[4, 0], 1, Suppression::Mask)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`levels.age`"), "{e}");
    }
}
