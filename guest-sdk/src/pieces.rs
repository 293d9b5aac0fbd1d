//! 0.2.0 snapshots: an operator's state split into an operator piece (the
//! state with every [`KeyedState`](crate::KeyedState) left out) and keyed
//! pieces (every `KeyedState` entry, ordered by key hash and cut into pieces
//! of ascending, disjoint hash ranges), so that the host can hand each
//! subtask of another parallelism only the pieces it needs.
//!
//! How `KeyedState` knows: while [`split`] encodes the state, a thread-local
//! mode makes each `KeyedState` hand its entries over (tagged with its
//! position among the state's `KeyedState`s, its *field*) and encode only
//! that position; while [`merge`] decodes, each `KeyedState` takes its
//! entries back by position, from every piece, keeping the keys this subtask
//! owns. Outside these two calls `KeyedState` encodes as a plain map.
//!
//! A keyed piece is a sequence of postcard-encoded `(field: u32, key: bytes,
//! value: bytes)` entries, `value` being the postcard encoding of the value.

use std::cell::RefCell;

use serde::{Serialize, de::DeserializeOwned};

use crate::snapshot::{self, PIECE};

/// A range of key hashes, both ends included.
pub type Range = (u64, u64);

/// The contract's key hash (`wit/0.2/operator.wit`): XXH3-64, seed 0.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// The hashes subtask `i` of `n` owns (the contract's range partitioning).
pub fn subtask_range(i: u32, n: u32) -> Range {
    let start = |i: u32| -> u128 { (u128::from(i) << 64).div_ceil(u128::from(n)) };
    (start(i) as u64, (start(i + 1) - 1) as u64)
}

/// One `KeyedState` entry: its key's hash, key and encoded value.
pub(crate) type Entry = (u64, Vec<u8>, Vec<u8>);

/// The entries of one `KeyedState` field to give back: key and encoded value.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// One entry of a keyed piece as written: field, key, encoded value.
type KeyedEntry<'a> = (u32, &'a [u8], &'a [u8]);

pub(crate) enum Mode {
    /// Encode and decode `KeyedState` as a map.
    Plain,
    /// Collecting entries, per field.
    Splitting(Vec<Vec<Entry>>),
    /// Entries to give back, per field (`None`: taken already).
    Merging(Vec<Option<Pairs>>),
}

thread_local! {
    pub(crate) static MODE: RefCell<Mode> = const { RefCell::new(Mode::Plain) };
}

/// Sets the mode back to plain when dropped (also on error or panic).
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        MODE.with(|m| *m.borrow_mut() = Mode::Plain);
    }
}

/// A split snapshot: the operator piece and the keyed pieces with their ranges.
pub struct Split {
    /// The state without its `KeyedState` entries.
    pub operator: Vec<u8>,
    /// Keyed pieces, ascending, covering `own` exactly (none if there are no entries).
    pub keyed: Vec<(Range, Vec<u8>)>,
}

/// Encodes `state` split into pieces, for a subtask owning hashes `own`.
/// Fails if an entry's key lies outside `own` (the host routed it elsewhere).
pub fn split<S: Serialize>(state: &S, own: Range) -> Result<Split, String> {
    let _reset = Reset;
    MODE.with(|m| *m.borrow_mut() = Mode::Splitting(Vec::new()));
    let operator = snapshot::encode_state(state)?;
    let fields = match MODE.with(|m| std::mem::replace(&mut *m.borrow_mut(), Mode::Plain)) {
        Mode::Splitting(fields) => fields,
        _ => Vec::new(),
    };
    let mut entries: Vec<(u64, u32, Vec<u8>, Vec<u8>)> = Vec::with_capacity(fields.iter().map(Vec::len).sum());
    for (f, list) in fields.into_iter().enumerate() {
        entries.extend(list.into_iter().map(|(h, k, v)| (h, f as u32, k, v)));
    }
    entries.sort_unstable_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    if let Some(e) = entries.iter().find(|e| e.0 < own.0 || e.0 > own.1) {
        return Err(format!(
            "state holds key {:?} (hash {:016x}), outside the hashes this subtask owns ({:016x}..={:016x})",
            String::from_utf8_lossy(&e.2),
            e.0,
            own.0,
            own.1
        ));
    }
    let mut keyed: Vec<(Range, Vec<u8>)> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut first = own.0;
    for (i, (h, f, k, v)) in entries.iter().enumerate() {
        let e = postcard::to_allocvec(&(*f, k.as_slice(), v.as_slice())).map_err(|e| format!("cannot encode state: {e}"))?;
        current.extend_from_slice(&e);
        // Cut between two hashes only, so that ranges stay disjoint.
        let next = entries.get(i + 1).map(|n| n.0);
        if current.len() >= PIECE && next.is_some_and(|n| n != *h) {
            keyed.push(((first, *h), std::mem::take(&mut current)));
            first = h + 1;
        }
    }
    if !entries.is_empty() {
        keyed.push(((first, own.1), current));
    }
    Ok(Split { operator, keyed })
}

/// Decodes a state from its operator pieces (the first is the base, each
/// other is passed to `merge_other`) and keyed pieces, keeping only the keys
/// whose hash lies in `own`. `decode` turns an operator piece into a state
/// (postcard, or a migration from an older version).
pub fn merge<S: Default + DeserializeOwned>(
    operator: &[&[u8]],
    keyed: &[(Range, &[u8])],
    own: Range,
    decode: impl Fn(&[u8]) -> Result<S, String>,
    mut merge_other: impl FnMut(&mut S, S),
) -> Result<S, String> {
    let _reset = Reset;
    let mut fields: Vec<Option<Pairs>> = Vec::new();
    let mut any = false;
    for (range, mut bytes) in keyed.iter().copied() {
        if range.0 > range.1 || range.1 < own.0 || range.0 > own.1 {
            return Err(format!(
                "was given a keyed piece for hashes {:016x}..={:016x}, which do not overlap the hashes it owns ({:016x}..={:016x})",
                range.0, range.1, own.0, own.1
            ));
        }
        while !bytes.is_empty() {
            let ((f, k, v), rest): (KeyedEntry<'_>, &[u8]) = postcard::take_from_bytes(bytes).map_err(|e| format!("cannot decode a keyed piece: {e}"))?;
            bytes = rest;
            let h = key_hash(k);
            if h < range.0 || h > range.1 {
                return Err(format!("keyed piece for hashes {:016x}..={:016x} holds a key of hash {h:016x}: the piece is corrupt", range.0, range.1));
            }
            if h < own.0 || h > own.1 {
                continue; // another subtask's key now
            }
            let f = f as usize;
            if fields.len() <= f {
                fields.resize_with(f + 1, || Some(Vec::new()));
            }
            fields[f].get_or_insert_with(Vec::new).push((k.to_vec(), v.to_vec()));
            any = true;
        }
    }
    let Some((base, others)) = operator.split_first() else {
        if any {
            return Err("was given keyed pieces but no operator piece to place them in".into());
        }
        return Ok(S::default());
    };
    MODE.with(|m| *m.borrow_mut() = Mode::Merging(fields));
    let mut state = decode(base)?;
    let left = MODE.with(|m| std::mem::replace(&mut *m.borrow_mut(), Mode::Merging(Vec::new())));
    if let Mode::Merging(left) = left
        && left.iter().any(|f| f.as_ref().is_some_and(|v| !v.is_empty()))
    {
        return Err("the keyed pieces hold entries for more KeyedState fields than the state has".into());
    }
    for other in others {
        let o = decode(other)?;
        merge_other(&mut state, o);
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyedState;
    use serde::{Deserialize, Serialize};

    #[derive(Default, Serialize, Deserialize, PartialEq, Debug)]
    struct Two {
        counts: KeyedState<u64>,
        watermark: Option<i64>,
        names: KeyedState<String>,
    }

    fn decode(b: &[u8]) -> Result<Two, String> {
        snapshot::decode_state(b)
    }

    fn sample(n: u64) -> Two {
        let mut s = Two { watermark: Some(7), ..Default::default() };
        for i in 0..n {
            s.counts.insert(format!("k{i}"), i);
            if i % 3 == 0 {
                s.names.insert(format!("k{i}"), format!("name {i}"));
            }
        }
        s
    }

    #[test]
    fn ranges_match_the_host() {
        assert_eq!(subtask_range(0, 1), (0, u64::MAX));
        assert_eq!(subtask_range(1, 2), (1 << 63, u64::MAX));
        assert_eq!(subtask_range(0, 3).1 + 1, subtask_range(1, 3).0);
        assert_eq!(key_hash(b""), 0x2d06_8005_38d3_94c2);
    }

    #[test]
    fn split_then_merge_is_the_identity_and_plain_encoding_is_unchanged() {
        let s = sample(2000);
        let plain = snapshot::encode_state(&s).unwrap();
        let split = split(&s, (0, u64::MAX)).unwrap();
        assert!(split.operator.len() < 16, "entries left out of the operator piece");
        assert_eq!(snapshot::encode_state(&s).unwrap(), plain, "mode reset after split");
        let keyed: Vec<(Range, &[u8])> = split.keyed.iter().map(|(r, b)| (*r, b.as_slice())).collect();
        let back: Two = merge(&[&split.operator], &keyed, (0, u64::MAX), decode, |_, _| {}).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn rescale_two_to_three_keeps_every_key_exactly_once() {
        let s = sample(5000);
        // Split the state the way 2 subtasks hold it.
        let old: Vec<Split> = (0..2)
            .map(|i| {
                let own = subtask_range(i, 2);
                let mut part = Two { watermark: s.watermark, ..Default::default() };
                for (k, v) in s.counts.iter() {
                    if (own.0..=own.1).contains(&key_hash(k)) {
                        part.counts.insert(k, *v);
                    }
                }
                for (k, v) in s.names.iter() {
                    if (own.0..=own.1).contains(&key_hash(k)) {
                        part.names.insert(k, v.clone());
                    }
                }
                split(&part, own).unwrap()
            })
            .collect();
        let mut total = 0;
        for j in 0..3 {
            let own = subtask_range(j, 3);
            let ops: Vec<&[u8]> = old.iter().map(|o| o.operator.as_slice()).collect();
            let keyed: Vec<(Range, &[u8])> =
                old.iter().flat_map(|o| o.keyed.iter()).filter(|(r, _)| r.0 <= own.1 && own.0 <= r.1).map(|(r, b)| (*r, b.as_slice())).collect();
            let got: Two = merge(&ops, &keyed, own, decode, |_, _| {}).unwrap();
            assert_eq!(got.watermark, Some(7));
            for (k, v) in got.counts.iter() {
                assert!((own.0..=own.1).contains(&key_hash(k)));
                assert_eq!(s.counts.get(k), Some(v));
            }
            total += got.counts.len();
        }
        assert_eq!(total, 5000);
    }

    #[test]
    fn state_outside_the_range_and_foreign_pieces_are_refused() {
        let s = sample(100);
        let e = split(&s, subtask_range(0, 2)).err().unwrap();
        assert!(e.contains("outside the hashes this subtask owns"), "{e}");
        let split = split(&s, (0, u64::MAX)).unwrap();
        let keyed: Vec<(Range, &[u8])> = split.keyed.iter().map(|(_, b)| ((5, 9), b.as_slice())).collect();
        let e = merge::<Two>(&[&split.operator], &keyed, (100, 200), decode, |_, _| {}).unwrap_err();
        assert!(e.contains("do not overlap"), "{e}");
        let e = merge::<Two>(&[&split.operator], &keyed, (0, 200), decode, |_, _| {}).unwrap_err();
        assert!(e.contains("corrupt"), "{e}");
    }
}
