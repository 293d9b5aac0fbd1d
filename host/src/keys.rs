//! The key hash of the operator contract and the hash ranges subtasks own.
//!
//! Keyed edges route an event by `xxh3_64(key)` (seed 0). Into a
//! `cairn:operator@0.2.0` operator of `n` subtasks, subtask `i` owns the
//! hashes `h` with `floor(h * n / 2^64) == i` ([`HashRange::of_subtask`]); a
//! 0.2 snapshot splits keyed state by these ranges, which is what lets the
//! host hand each subtask of another parallelism exactly the pieces it needs.
//! Into a 0.1.0 operator the route is `h mod n`, as it always was, so that its
//! old checkpoints keep meeting their keys. `wit/0.2/operator.wit` documents
//! the same, for guests in every language.

use serde::{Deserialize, Serialize};

/// The contract's hash of a key's bytes (an event without a key hashes as an empty key).
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// The subtask of hash `h` among `n` subtasks of a 0.2 operator (range partitioning).
#[inline]
pub fn range_partition(h: u64, n: usize) -> usize {
    ((u128::from(h) * n as u128) >> 64) as usize
}

/// The subtask of hash `h` among `n` subtasks of a 0.1 operator (modulo).
#[inline]
pub fn modulo_partition(h: u64, n: usize) -> usize {
    (h % n as u64) as usize
}

/// A range of key hashes, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashRange {
    /// Lowest hash in the range.
    pub first: u64,
    /// Highest hash in the range.
    pub last: u64,
}

impl HashRange {
    /// Every hash.
    pub const ALL: HashRange = HashRange { first: 0, last: u64::MAX };

    /// The hashes subtask `i` of `n` owns: `[ceil(i·2⁶⁴/n), ceil((i+1)·2⁶⁴/n) − 1]`.
    pub fn of_subtask(i: usize, n: usize) -> HashRange {
        assert!(i < n, "subtask {i} of {n}");
        let start = |i: usize| -> u128 { ((i as u128) << 64).div_ceil(n as u128) };
        HashRange { first: start(i) as u64, last: (start(i + 1) - 1) as u64 }
    }

    /// Whether the two ranges share a hash.
    pub fn overlaps(&self, other: &HashRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// Whether `other` lies wholly inside this range.
    pub fn contains_range(&self, other: &HashRange) -> bool {
        self.first <= other.first && other.last <= self.last
    }

    /// The share of all hashes in the range, for display.
    pub fn share(&self) -> f64 {
        (self.last - self.first) as f64 / u64::MAX as f64
    }
}

impl std::fmt::Display for HashRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}..={:016x}", self.first, self.last)
    }
}

/// Checks that `ranges` (in order) are ascending, do not overlap and cover
/// exactly `whole`; says what is wrong otherwise.
pub fn check_cover(ranges: &[HashRange], whole: HashRange) -> Result<(), String> {
    let mut next = Some(whole.first);
    for r in ranges {
        if r.first > r.last {
            return Err(format!("range {r} is empty (first above last)"));
        }
        match next {
            None => return Err(format!("range {r} lies past the end of {whole}")),
            Some(n) if r.first > n => return Err(format!("hashes {n:016x}..{:016x} are in no piece (a gap before {r})", r.first)),
            Some(n) if r.first < n => return Err(format!("range {r} overlaps the piece before it, or starts before {whole}")),
            Some(_) => {}
        }
        if r.last > whole.last {
            return Err(format!("range {r} reaches past {whole}, the hashes this subtask owns"));
        }
        next = r.last.checked_add(1).filter(|_| r.last < whole.last);
    }
    match next {
        Some(n) if !ranges.is_empty() => Err(format!("hashes {n:016x}..={:016x} are in no piece (a gap at the end)", whole.last)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtask_ranges_tile_every_hash_and_match_range_partition() {
        for n in [1usize, 2, 3, 4, 7, 64, 1000] {
            let ranges: Vec<HashRange> = (0..n).map(|i| HashRange::of_subtask(i, n)).collect();
            check_cover(&ranges, HashRange::ALL).unwrap();
            for (i, r) in ranges.iter().enumerate() {
                assert_eq!(range_partition(r.first, n), i, "n={n} i={i}");
                assert_eq!(range_partition(r.last, n), i, "n={n} i={i}");
            }
        }
        assert_eq!(HashRange::of_subtask(0, 1), HashRange::ALL);
        assert_eq!(HashRange::of_subtask(1, 2).first, 1 << 63);
    }

    #[test]
    fn key_hash_is_xxh3_with_seed_zero() {
        // Published XXH3-64 value of the empty input, so guests can check theirs.
        assert_eq!(key_hash(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(key_hash(b"a"), xxhash_rust::xxh3::xxh3_64_with_seed(b"a", 0));
    }

    #[test]
    fn check_cover_names_gaps_and_overlaps() {
        let whole = HashRange { first: 10, last: 99 };
        let r = |first, last| HashRange { first, last };
        check_cover(&[r(10, 50), r(51, 99)], whole).unwrap();
        check_cover(&[], whole).unwrap();
        assert!(check_cover(&[r(10, 50), r(52, 99)], whole).unwrap_err().contains("gap"));
        assert!(check_cover(&[r(10, 50), r(50, 99)], whole).unwrap_err().contains("overlaps"));
        assert!(check_cover(&[r(10, 50)], whole).unwrap_err().contains("gap at the end"));
        assert!(check_cover(&[r(10, 120)], whole).unwrap_err().contains("reaches past"));
        assert!(check_cover(&[r(5, 99)], whole).unwrap_err().contains("starts before"));
        check_cover(&[r(0, u64::MAX)], HashRange::ALL).unwrap();
        assert!(check_cover(&[r(0, u64::MAX), r(0, 1)], HashRange::ALL).unwrap_err().contains("past the end"));
    }
}
