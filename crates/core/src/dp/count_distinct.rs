//! DP count of distinct values: `dp_count_distinct`.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::explain::Explanation;
use super::noise::{Reader, PRIVACY_BYTES};
use super::sum_count::{explain_count, release_count};
use super::{Noise, Privacy, PrivacyCost};
use crate::error::{Fallible, VeilError};

/// Mergeable state of `dp_count_distinct`: the privacy parameters and the set of distinct
/// values seen, each kept as the first 128 bits of its SHA-256.
///
/// Privacy argument (add/remove-one-row neighbours): adding or removing one row adds or
/// removes at most one distinct value — and at most one distinct hash, since hashing is a
/// per-row transformation — so the count has sensitivity 1: discrete Laplace noise of
/// scale 1/ε (ε-DP) or discrete Gaussian noise of σ = 1/√(2ρ) (ρ-zCDP). Negative noisy
/// counts are reported as 0.
///
/// Exactness and memory: two different values collide with probability 2^-128 per pair
/// (a collision could only lower the count by one), so the count of hashes is the exact
/// distinct count in practice. The state holds every distinct hash: 16 bytes each in
/// [`DpCountDistinctAccumulator::to_bytes`], about 32 bytes each in memory (hash set
/// overhead) — 32 MB for a million distinct values per group. Merging is set union, so
/// partial states from parallel or distributed plans combine exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct DpCountDistinctAccumulator {
    privacy: Privacy,
    hashes: HashSet<u128>,
}

impl DpCountDistinctAccumulator {
    /// Validates the arguments of `dp_count_distinct(value, epsilon)`.
    pub fn new(epsilon: f64, noise: Noise) -> Fallible<Self> {
        Ok(DpCountDistinctAccumulator {
            privacy: Privacy::new(epsilon, noise)?,
            hashes: HashSet::new(),
        })
    }

    pub fn privacy(&self) -> Privacy {
        self.privacy
    }
    pub fn cost(&self) -> PrivacyCost {
        self.privacy.cost()
    }

    /// Adds one non-NULL value, given as its canonical bytes: equal values must give equal
    /// bytes (engines encode each SQL type one way, e.g. integers as 8 little-endian bytes,
    /// text as UTF-8), and values of different columns must not be mixed in one state.
    pub fn update(&mut self, value: &[u8]) {
        let digest = Sha256::digest(value);
        let first: [u8; 16] = digest[..16].try_into().expect("32-byte digest");
        self.hashes.insert(u128::from_le_bytes(first));
    }

    /// Distinct values seen so far (exact, not private: for memory accounting only).
    pub fn len(&self) -> usize {
        self.hashes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn merge(&mut self, other: &DpCountDistinctAccumulator) -> Fallible<()> {
        if self.privacy != other.privacy {
            return Err(VeilError::IncompatibleState(format!(
                "dp_count_distinct partial states use different privacy parameters: ({}) vs ({})",
                self.privacy, other.privacy
            )));
        }
        self.hashes.extend(other.hashes.iter().copied());
        Ok(())
    }

    /// The noisy distinct count, at least 0; fresh noise on every call.
    pub fn release(&self) -> Fallible<i64> {
        release_count(&self.privacy, self.hashes.len() as u64)
    }

    pub fn explain(&self) -> Fallible<Explanation> {
        explain_count(
            &self.privacy,
            "dp_count_distinct",
            "distinct non-NULL values",
        )
    }

    /// Privacy (ε, noise tag, δ), the number of hashes, then the hashes in increasing
    /// order (so equal states encode equally); little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut sorted: Vec<u128> = self.hashes.iter().copied().collect();
        sorted.sort_unstable();
        let mut out = Vec::with_capacity(PRIVACY_BYTES + 8 + 16 * sorted.len());
        out.extend_from_slice(&self.privacy.to_bytes());
        out.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
        for h in sorted {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Fallible<Self> {
        let (privacy, rest) = Privacy::from_bytes(bytes, "dp_count_distinct")?;
        let mut r = Reader {
            bytes: rest,
            what: "dp_count_distinct",
        };
        let n = r.u64()?;
        if n.checked_mul(16) != Some(r.bytes.len() as u64) {
            return Err(VeilError::IncompatibleState(format!(
                "dp_count_distinct state announces {n} values but has {} bytes of them",
                r.bytes.len()
            )));
        }
        let mut hashes = HashSet::with_capacity(n as usize);
        for _ in 0..n {
            hashes.insert(r.u128()?);
        }
        r.finish()?;
        Ok(DpCountDistinctAccumulator { privacy, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(eps: f64) -> DpCountDistinctAccumulator {
        DpCountDistinctAccumulator::new(eps, Noise::Laplace).unwrap()
    }

    #[test]
    fn counts_distinct_values_accurately_on_large_n() {
        for noise in [Noise::Laplace, Noise::Gaussian { delta: 1e-6 }] {
            let mut a = DpCountDistinctAccumulator::new(1.0, noise).unwrap();
            for i in 0..200_000u64 {
                a.update(&(i % 5000).to_le_bytes());
            }
            assert_eq!(a.len(), 5000);
            let hw = a.explain().unwrap().half_width_95.unwrap();
            let within = (0..200)
                .filter(|_| (a.release().unwrap() - 5000).abs() as f64 <= hw)
                .count();
            assert!(within >= 180, "{noise:?}: {within} within ±{hw}");
        }
        let empty = acc(0.1);
        assert!((0..200).all(|_| empty.release().unwrap() >= 0));
    }

    #[test]
    fn merge_is_union_and_equals_one_pass() {
        let values: Vec<String> = (0..3000).map(|i| format!("v{}", i % 1700)).collect();
        let mut whole = acc(1.0);
        values.iter().for_each(|v| whole.update(v.as_bytes()));
        let mut left = acc(1.0);
        let mut right = acc(1.0);
        values[..2000]
            .iter()
            .for_each(|v| left.update(v.as_bytes()));
        values[1000..]
            .iter()
            .for_each(|v| right.update(v.as_bytes()));
        let right = DpCountDistinctAccumulator::from_bytes(&right.to_bytes()).unwrap();
        left.merge(&right).unwrap();
        assert_eq!(left, whole);
        assert_eq!(left.len(), 1700);
        assert_eq!(left.to_bytes(), whole.to_bytes());
    }

    #[test]
    fn bad_arguments_and_states_are_refused() {
        let e = DpCountDistinctAccumulator::new(0.0, Noise::Laplace).unwrap_err();
        assert!(e.to_string().contains("`epsilon`"), "{e}");
        let e = DpCountDistinctAccumulator::new(1.0, Noise::Gaussian { delta: 0.0 }).unwrap_err();
        assert!(e.to_string().contains("`delta`"), "{e}");
        let mut a = acc(1.0);
        a.update(b"x");
        assert!(a.merge(&acc(2.0)).is_err());
        let bytes = a.to_bytes();
        assert!(DpCountDistinctAccumulator::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 16]);
        assert!(DpCountDistinctAccumulator::from_bytes(&longer).is_err());
        let mut huge = bytes[..PRIVACY_BYTES].to_vec();
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(DpCountDistinctAccumulator::from_bytes(&huge).is_err());
    }
}
