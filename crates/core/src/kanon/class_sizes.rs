//! The state of the `k_anonymity(col1, col2, …)` aggregate: how many rows share each
//! combination of values. Its smallest count is the table's k over those columns.

use std::collections::HashMap;

use crate::error::{Fallible, VeilError};

/// Rows per distinct combination of quasi-identifier values (NULL is a value of its own,
/// as in GROUP BY). Mergeable; serializes for partial aggregation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassSizes {
    arity: Option<usize>,
    counts: HashMap<Vec<Option<String>>, u64>,
}

impl ClassSizes {
    /// Counts one row. Every row must have the same number of values.
    pub fn add(&mut self, values: &[Option<&str>]) -> Fallible<()> {
        self.check_arity(values.len())?;
        let key: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_string)).collect();
        *self.counts.entry(key).or_insert(0) += 1;
        Ok(())
    }

    fn check_arity(&mut self, n: usize) -> Fallible<()> {
        if n == 0 {
            return Err(VeilError::invalid("columns", "need at least one column"));
        }
        match self.arity {
            Some(a) if a != n => Err(VeilError::IncompatibleState(format!(
                "rows with {a} and {n} columns"
            ))),
            _ => {
                self.arity = Some(n);
                Ok(())
            }
        }
    }

    pub fn merge(&mut self, other: &ClassSizes) -> Fallible<()> {
        if let Some(n) = other.arity {
            self.check_arity(n)?;
        }
        for (k, c) in &other.counts {
            *self.counts.entry(k.clone()).or_insert(0) += c;
        }
        Ok(())
    }

    /// The size of the smallest equivalence class (None without rows).
    pub fn smallest(&self) -> Option<u64> {
        self.counts.values().copied().min()
    }

    /// Number of equivalence classes.
    pub fn classes(&self) -> usize {
        self.counts.len()
    }

    /// `arity: u32`, then per class its values (`0` for NULL, or `1`, length `u32`, bytes)
    /// and its count (`u64`), little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.arity.unwrap_or(0) as u32).to_le_bytes());
        for (key, count) in &self.counts {
            for v in key {
                match v {
                    None => out.push(0),
                    Some(s) => {
                        out.push(1);
                        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                        out.extend_from_slice(s.as_bytes());
                    }
                }
            }
            out.extend_from_slice(&count.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let mut rest = bytes;
        let arity = u32::from_le_bytes(take::<4>(&mut rest)?) as usize;
        let mut out = ClassSizes {
            arity: (arity > 0).then_some(arity),
            counts: HashMap::new(),
        };
        while !rest.is_empty() {
            if arity == 0 {
                return Err(corrupt());
            }
            let mut key = Vec::with_capacity(arity);
            for _ in 0..arity {
                key.push(match take::<1>(&mut rest)?[0] {
                    0 => None,
                    1 => {
                        let len = u32::from_le_bytes(take::<4>(&mut rest)?) as usize;
                        if rest.len() < len {
                            return Err(corrupt());
                        }
                        let (text, tail) = rest.split_at(len);
                        rest = tail;
                        Some(
                            std::str::from_utf8(text)
                                .map_err(|_| corrupt())?
                                .to_string(),
                        )
                    }
                    _ => return Err(corrupt()),
                });
            }
            let count = u64::from_le_bytes(take::<8>(&mut rest)?);
            *out.counts.entry(key).or_insert(0) += count;
        }
        Ok(out)
    }
}

fn corrupt() -> VeilError {
    VeilError::IncompatibleState("corrupt k_anonymity state".into())
}

/// The next `N` bytes of `rest`, advancing it.
fn take<const N: usize>(rest: &mut &[u8]) -> Fallible<[u8; N]> {
    if rest.len() < N {
        return Err(corrupt());
    }
    let (head, tail) = rest.split_at(N);
    *rest = tail;
    Ok(head.try_into().expect("N bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_class_merges_and_round_trips() {
        let rows = [
            [Some("30-39"), Some("130**")],
            [Some("30-39"), Some("130**")],
            [Some("40-49"), None],
            [Some("30-39"), Some("130**")],
            [Some("40-49"), None],
        ];
        let mut whole = ClassSizes::default();
        rows.iter().for_each(|r| whole.add(r).unwrap());
        assert_eq!((whole.smallest(), whole.classes()), (Some(2), 2));
        let (mut a, mut b) = (ClassSizes::default(), ClassSizes::default());
        rows[..2].iter().for_each(|r| a.add(r).unwrap());
        rows[2..].iter().for_each(|r| b.add(r).unwrap());
        let b = ClassSizes::from_bytes(&b.to_bytes()).unwrap();
        a.merge(&b).unwrap();
        a.merge(&ClassSizes::from_bytes(&ClassSizes::default().to_bytes()).unwrap())
            .unwrap();
        assert_eq!(a, whole);
        assert_eq!(ClassSizes::default().smallest(), None);
        assert!(whole.add(&[Some("x")]).is_err());
        assert!(ClassSizes::from_bytes(&[2, 0, 0, 0, 7]).is_err());
    }
}
