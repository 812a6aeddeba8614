//! DP selection of the most frequent values among a caller-given candidate set:
//! `dp_mode(x, candidates [, epsilon])` and `dp_top_k(x, candidates, k [, epsilon])`.
//!
//! Privacy argument (add/remove-one-row neighbours): the state counts the rows equal to
//! each candidate (rows equal to none count nowhere). One row changes one count by 1, so
//! every score moves by at most 1 and all in the same direction (monotonic): d_Range = 1.
//! OpenDP's permute-and-flip selects each of the k winners with scale k/ε (see `select`),
//! ε/k per winner, ε in all (basic composition over the k peeling rounds). Only the
//! candidates are released, never their counts.
//!
//! The candidate set must not depend on the data (a constant of the query): choosing
//! candidates from the data would itself leak.

use std::collections::HashMap;

use super::explain::{Explanation, NoisePart};
use super::noise::Reader;
use super::select::Selection;
use super::PrivacyCost;
use crate::error::{Fallible, VeilError};

/// Largest candidate set accepted (each group's state holds one count per candidate).
pub const MAX_CANDIDATES: usize = 10_000;

/// Reads the SQL `candidates` argument: a JSON array of strings, e.g. `["red","green"]`
/// (the set itself is checked by [`TopK::new`]).
pub fn parse_candidates(json: &str) -> Fallible<Vec<String>> {
    let rule = "must be a JSON array of strings, e.g. '[\"red\",\"green\"]'";
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| VeilError::invalid("candidates", format!("{rule}: {e}")))?;
    let serde_json::Value::Array(items) = value else {
        return Err(VeilError::invalid("candidates", rule));
    };
    if items.len() > MAX_CANDIDATES {
        return Err(VeilError::invalid(
            "candidates",
            format!(
                "must hold 1 to {MAX_CANDIDATES} values, got {}",
                items.len()
            ),
        ));
    }
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            other => Err(VeilError::invalid(
                "candidates",
                format!("{rule}, got the element {other}"),
            )),
        })
        .collect()
}

/// Parameters of `dp_top_k` (`dp_mode` is k = 1).
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
    candidates: Vec<String>,
    index: HashMap<String, usize>,
    selection: Selection,
}

impl TopK {
    /// Validates `candidates` (1 to [`MAX_CANDIDATES`], no duplicates), `k` (1 to the
    /// number of candidates) and `epsilon`.
    pub fn new(candidates: Vec<String>, k: usize, epsilon: f64) -> Fallible<Self> {
        if candidates.is_empty() || candidates.len() > MAX_CANDIDATES {
            return Err(VeilError::invalid(
                "candidates",
                format!(
                    "must hold 1 to {MAX_CANDIDATES} values, got {}",
                    candidates.len()
                ),
            ));
        }
        let mut index = HashMap::with_capacity(candidates.len());
        for (i, c) in candidates.iter().enumerate() {
            if index.insert(c.clone(), i).is_some() {
                return Err(VeilError::invalid(
                    "candidates",
                    format!("must not repeat a value, got {c:?} twice"),
                ));
            }
        }
        if !(1..=candidates.len()).contains(&k) {
            return Err(VeilError::invalid(
                "k",
                format!(
                    "must be from 1 to the number of candidates ({}), got {k}",
                    candidates.len()
                ),
            ));
        }
        let selection = Selection::new(1, true, k, epsilon)?;
        Ok(TopK {
            candidates,
            index,
            selection,
        })
    }

    /// The arguments of the SQL call: `candidates` as JSON text (see [`parse_candidates`]),
    /// `k` as given (checked to be from 1 to the number of candidates).
    pub fn from_sql(candidates: &str, k: i64, epsilon: f64) -> Fallible<Self> {
        let candidates = parse_candidates(candidates)?;
        let k = usize::try_from(k).map_err(|_| {
            VeilError::invalid(
                "k",
                format!(
                    "must be from 1 to the number of candidates ({}), got {k}",
                    candidates.len()
                ),
            )
        })?;
        TopK::new(candidates, k, epsilon)
    }

    /// `dp_mode(x, candidates, epsilon)`.
    pub fn mode(candidates: Vec<String>, epsilon: f64) -> Fallible<Self> {
        TopK::new(candidates, 1, epsilon)
    }

    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }
    pub fn k(&self) -> usize {
        self.selection.k
    }
    pub fn epsilon(&self) -> f64 {
        self.selection.epsilon
    }

    /// The index of `value` among the candidates (its slot in the counts), if it is one.
    pub fn position(&self, value: &str) -> Option<usize> {
        self.index.get(value).copied()
    }

    /// The encoding of a [`DpTopKAccumulator`] with these parameters and `counts`, for
    /// engines that share one `TopK` between many groups' counts.
    pub fn state_bytes(&self, counts: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.epsilon().to_le_bytes());
        out.extend_from_slice(&(self.k() as u64).to_le_bytes());
        out.extend_from_slice(&(self.candidates.len() as u64).to_le_bytes());
        for c in &self.candidates {
            out.extend_from_slice(&(c.len() as u64).to_le_bytes());
            out.extend_from_slice(c.as_bytes());
        }
        for c in counts {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Pure ε-DP (under a zcdp budget it spends ε²/2).
    pub fn cost(&self) -> PrivacyCost {
        PrivacyCost::pure(self.epsilon())
    }

    /// Selects k candidates from their counts, most frequent first (noisily).
    pub fn release(&self, counts: &[u64]) -> Fallible<Vec<String>> {
        self.release_with(&self.selection, counts)
    }

    /// [`TopK::release`] as SQL `dp_top_k` returns it: a JSON array of the picks.
    pub fn release_json(&self, counts: &[u64]) -> Fallible<String> {
        let picks = self.release(counts)?;
        Ok(serde_json::to_string(&picks).expect("strings serialize"))
    }

    pub(crate) fn release_with(
        &self,
        selection: &Selection,
        counts: &[u64],
    ) -> Fallible<Vec<String>> {
        if counts.len() != self.candidates.len() {
            return Err(VeilError::IncompatibleState(format!(
                "dp_top_k has {} counts for {} candidates",
                counts.len(),
                self.candidates.len()
            )));
        }
        let scores = counts
            .iter()
            .map(|&c| i64::try_from(c).unwrap_or(i64::MAX))
            .collect();
        Ok(selection
            .select(scores)?
            .into_iter()
            .map(|i| self.candidates[i].clone())
            .collect())
    }

    /// The selection with a `factor` times smaller scale than ε requires: for the DP tester.
    #[cfg(test)]
    pub(crate) fn broken_selection(&self, factor: f64) -> Selection {
        let mut s = self.selection.clone();
        s.scale /= factor;
        s
    }

    pub fn explain(&self) -> Fallible<Explanation> {
        let s = &self.selection;
        let m = self.candidates.len();
        let gap = s.gap_95(m);
        let k = s.k;
        Ok(Explanation {
            function: if k == 1 { "dp_mode" } else { "dp_top_k" },
            mechanism: "permute-and-flip (exponential mechanism)",
            cost: self.cost(),
            parts: vec![NoisePart {
                name: "count of a candidate",
                mechanism: "permute-and-flip",
                sensitivity: 1.0,
                scale: s.scale,
                half_width_95: gap,
            }],
            half_width_95: None,
            meaning: format!(
                "{k} of {m} candidates are picked one after the other (ε/{k} each); with 95% probability each pick has a count at most {gap} below the most frequent candidate not yet picked"
            ),
        })
    }
}

/// Mergeable state of `dp_mode` / `dp_top_k`: parameters and one count per candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct DpTopKAccumulator {
    pub params: TopK,
    pub counts: Vec<u64>,
}

impl DpTopKAccumulator {
    pub fn new(params: TopK) -> Self {
        let counts = vec![0; params.candidates.len()];
        DpTopKAccumulator { params, counts }
    }

    /// Counts one non-NULL value (its text form); values outside the candidates are ignored.
    pub fn update(&mut self, value: &str) {
        if let Some(&i) = self.params.index.get(value) {
            self.counts[i] = self.counts[i].saturating_add(1);
        }
    }

    pub fn merge(&mut self, other: &DpTopKAccumulator) -> Fallible<()> {
        if self.params != other.params {
            return Err(VeilError::IncompatibleState(
                "dp_top_k partial states use different arguments".into(),
            ));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        Ok(())
    }

    pub fn release(&self) -> Fallible<Vec<String>> {
        self.params.release(&self.counts)
    }

    /// epsilon, k, number of candidates, each candidate (byte length, UTF-8), then the
    /// counts; little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.params.state_bytes(&self.counts)
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let mut r = Reader {
            bytes,
            what: "dp_top_k",
        };
        let eps = r.f64()?;
        let k = r.u64()?;
        let m = r.u64()?;
        if m > MAX_CANDIDATES as u64 {
            return Err(VeilError::IncompatibleState(format!(
                "dp_top_k state announces {m} candidates"
            )));
        }
        let mut candidates = Vec::with_capacity(m as usize);
        for _ in 0..m {
            let len = r.u64()?;
            let len = usize::try_from(len)
                .map_err(|_| VeilError::IncompatibleState("dp_top_k state is truncated".into()))?;
            let text = std::str::from_utf8(r.take(len)?).map_err(|_| {
                VeilError::IncompatibleState(
                    "dp_top_k state has a candidate that is not UTF-8".into(),
                )
            })?;
            candidates.push(text.to_string());
        }
        let params = TopK::new(candidates, k as usize, eps)?;
        let counts = (0..m).map(|_| r.u64()).collect::<Fallible<Vec<u64>>>()?;
        r.finish()?;
        Ok(DpTopKAccumulator { params, counts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let msg = |r: Fallible<TopK>| r.unwrap_err().to_string();
        assert!(msg(TopK::new(vec![], 1, 1.0)).contains("`candidates`"));
        assert!(msg(TopK::new(names(&["a", "b", "a"]), 1, 1.0)).contains("`candidates`"));
        assert!(msg(TopK::new(names(&["a", "b"]), 3, 1.0)).contains("`k`"));
        assert!(msg(TopK::new(names(&["a", "b"]), 0, 1.0)).contains("`k`"));
        assert!(msg(TopK::mode(names(&["a"]), f64::NAN)).contains("`epsilon`"));
    }

    #[test]
    fn sql_candidates_are_a_json_array_of_strings() {
        let p = TopK::from_sql(r#"["red","green","blue"]"#, 2, 1.0).unwrap();
        assert_eq!(p.candidates(), names(&["red", "green", "blue"]).as_slice());
        assert_eq!(p.k(), 2);
        let msg = |c: &str, k: i64| TopK::from_sql(c, k, 1.0).unwrap_err().to_string();
        for bad in [
            "red",
            r#"{"a":1}"#,
            r#"["a", 1]"#,
            "[",
            r#"["a","a"]"#,
            "[]",
        ] {
            assert!(
                msg(bad, 1).contains("`candidates`"),
                "{bad}: {}",
                msg(bad, 1)
            );
        }
        assert!(msg(r#"["a"]"#, -1).contains("`k`"));
        assert!(msg(r#"["a"]"#, 2).contains("`k`"));
        let many = serde_json::to_string(
            &(0..=MAX_CANDIDATES)
                .map(|i| i.to_string())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(msg(&many, 1).contains("1 to 10000"), "{}", msg(&many, 1));
    }

    #[test]
    fn finds_the_mode_and_top_k_on_large_n() {
        let cands = names(&["red", "green", "blue", "black", "white"]);
        let mut acc = DpTopKAccumulator::new(TopK::new(cands.clone(), 2, 1.0).unwrap());
        for i in 0..10_000 {
            // red 4000, blue 3000, green 2000, white 1000; "pink" is not a candidate
            let v = match i % 10 {
                0..=3 => "red",
                4..=6 => "blue",
                7 | 8 => "green",
                _ => "white",
            };
            acc.update(v);
            acc.update("pink");
        }
        for _ in 0..20 {
            assert_eq!(acc.release().unwrap(), names(&["red", "blue"]));
        }
        let mut mode = DpTopKAccumulator::new(TopK::mode(cands, 1.0).unwrap());
        mode.counts = acc.counts.clone();
        assert_eq!(mode.release().unwrap(), names(&["red"]));
        // without data every candidate is possible, and only candidates come out
        let empty = DpTopKAccumulator::new(TopK::mode(names(&["x", "y"]), 1.0).unwrap());
        let outs: Vec<String> = (0..200)
            .map(|_| empty.release().unwrap().remove(0))
            .collect();
        assert!(outs.iter().any(|o| o == "x") && outs.iter().any(|o| o == "y"));
    }

    #[test]
    fn split_and_merged_states_equal_one_pass_and_bytes_round_trip() {
        let p = TopK::new(names(&["é", "", "a b"]), 2, 0.5).unwrap();
        let xs = ["é", "a b", "", "é", "zz", "é"];
        let mut whole = DpTopKAccumulator::new(p.clone());
        xs.iter().for_each(|x| whole.update(x));
        let mut left = DpTopKAccumulator::new(p.clone());
        let mut right = DpTopKAccumulator::new(p);
        xs[..2].iter().for_each(|x| left.update(x));
        xs[2..].iter().for_each(|x| right.update(x));
        let bytes = right.to_bytes();
        left.merge(&DpTopKAccumulator::from_bytes(&bytes).unwrap())
            .unwrap();
        assert_eq!(left, whole);
        assert_eq!(whole.counts, vec![3, 1, 1]);
        let other = DpTopKAccumulator::new(TopK::new(names(&["é", "", "a b"]), 1, 0.5).unwrap());
        assert!(left.merge(&other).is_err());
        assert!(DpTopKAccumulator::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut bad = bytes.clone();
        bad[16] = 0xff; // absurd candidate count
        assert!(DpTopKAccumulator::from_bytes(&bad).is_err());
    }

    #[test]
    fn explanation_gives_scale_and_gap() {
        let e = TopK::new(names(&["a", "b", "c", "d"]), 2, 1.0)
            .unwrap()
            .explain()
            .unwrap();
        assert_eq!(e.function, "dp_top_k");
        assert!((e.parts[0].scale - 2.0).abs() < 1e-9); // k/ε
        assert!((e.parts[0].half_width_95 - 2.0 * 40f64.ln()).abs() < 1e-9);
        assert_eq!(e.cost, PrivacyCost::pure(1.0));
    }
}
