//! [`KeyedState`]: per-key values, the usual shape of an operator's state.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pieces::{self, MODE, Mode};

/// The hasher: fast, and fixed (no random seed) so that runs are repeatable.
type Hasher = foldhash::fast::FixedState;

/// A map from key bytes to a value, for state kept per key.
///
/// A hash map inside (a lookup costs one hash, not a tree walk); iteration
/// and snapshots are in ascending key order, so they are deterministic: the
/// same state always snapshots to the same bytes (unchanged state is not
/// uploaded again), the same bytes as a sorted map of the same entries. Looking
/// up a key that is present does not allocate. It serializes as the map itself,
/// so it can be used as a whole [`Operator::State`](crate::Operator::State) or
/// as a field of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedState<V> {
    map: HashMap<Vec<u8>, V, Hasher>,
}

impl<V> Default for KeyedState<V> {
    fn default() -> Self {
        KeyedState { map: HashMap::default() }
    }
}

impl<V: Serialize> Serialize for KeyedState<V> {
    /// As a map, in ascending key order; inside a 0.2.0 snapshot
    /// ([`crate::pieces`]) as its position, its entries going to the keyed pieces.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Values are encoded in plain mode (a KeyedState inside a value is part of that value).
        let mode = MODE.with(|m| std::mem::replace(&mut *m.borrow_mut(), Mode::Plain));
        match mode {
            Mode::Splitting(mut fields) => {
                let field = fields.len() as u32;
                let mut entries = Vec::with_capacity(self.map.len());
                for (k, v) in &self.map {
                    let value = postcard::to_allocvec(v).map_err(|e| serde::ser::Error::custom(format!("cannot encode state: {e}")))?;
                    entries.push((pieces::key_hash(k), k.clone(), value));
                }
                fields.push(entries);
                MODE.with(|m| *m.borrow_mut() = Mode::Splitting(fields));
                serializer.serialize_u32(field)
            }
            other => {
                MODE.with(|m| *m.borrow_mut() = other);
                serializer.collect_map(self.sorted())
            }
        }
    }
}

impl<'de, V: serde::de::DeserializeOwned> Deserialize<'de> for KeyedState<V> {
    /// As a map; inside a 0.2.0 restore ([`crate::pieces`]) as its position,
    /// its entries taken from the keyed pieces.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !MODE.with(|m| matches!(*m.borrow(), Mode::Merging(_))) {
            return Ok(KeyedState { map: HashMap::deserialize(deserializer)? });
        }
        let field = u32::deserialize(deserializer)? as usize;
        let entries = MODE.with(|m| match &mut *m.borrow_mut() {
            Mode::Merging(fields) => fields.get_mut(field).and_then(Option::take).unwrap_or_default(),
            _ => Vec::new(),
        });
        let mode = MODE.with(|m| std::mem::replace(&mut *m.borrow_mut(), Mode::Plain));
        let mut map = HashMap::with_capacity_and_hasher(entries.len(), Hasher::default());
        let mut failed = None;
        for (k, v) in entries {
            match crate::snapshot::decode_state::<V>(&v) {
                Ok(v) => {
                    map.insert(k, v);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        MODE.with(|m| *m.borrow_mut() = mode);
        match failed {
            Some(e) => Err(serde::de::Error::custom(e)),
            None => Ok(KeyedState { map }),
        }
    }
}

impl<V> KeyedState<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn sorted(&self) -> Vec<(&[u8], &V)> {
        let mut entries: Vec<(&[u8], &V)> = self.map.iter().map(|(k, v)| (k.as_slice(), v)).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }

    /// The value of `key`, if any.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.map.get(key)
    }

    /// The value of `key`, mutably, if any.
    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    /// The value of `key`, inserting `V::default()` first if the key is new.
    /// Only a new key allocates (its copy in the map).
    #[inline]
    pub fn get_or_default(&mut self, key: &[u8]) -> &mut V
    where
        V: Default,
    {
        if !self.map.contains_key(key) {
            self.map.insert(key.to_vec(), V::default());
        }
        self.map.get_mut(key).expect("key was just inserted")
    }

    /// Sets the value of `key`, returning the previous one.
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: V) -> Option<V> {
        self.map.insert(key.into(), value)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.map.remove(key)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The keys and values, in ascending key order (bytewise). Sorts: use
    /// [`iter_unordered`](Self::iter_unordered) when order does not matter.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], &V)> + ExactSizeIterator {
        self.sorted().into_iter()
    }

    /// The keys and values, in no particular order (no sort).
    pub fn iter_unordered(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.map.iter().map(|(k, v)| (k.as_slice(), v))
    }

    /// The keys and mutable values, in ascending key order (bytewise).
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&[u8], &mut V)> + ExactSizeIterator {
        let mut entries: Vec<(&[u8], &mut V)> = self.map.iter_mut().map(|(k, v)| (k.as_slice(), v)).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries.into_iter()
    }

    /// Keeps only the keys for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &mut V) -> bool) {
        self.map.retain(|k, v| keep(k, v));
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

impl<K: Into<Vec<u8>>, V> FromIterator<(K, V)> for KeyedState<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        KeyedState { map: iter.into_iter().map(|(k, v)| (k.into(), v)).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::KeyedState;
    use crate::snapshot::{decode_state, encode_state};

    #[test]
    fn basic_operations() {
        let mut s = KeyedState::<u64>::new();
        assert!(s.is_empty());
        *s.get_or_default(b"b") += 2;
        *s.get_or_default(b"a") += 1;
        *s.get_or_default(b"b") += 3;
        *s.get_or_default(b"") += 7;
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(b"b"), Some(&5));
        assert_eq!(s.get(b"zz"), None);
        *s.get_mut(b"a").unwrap() = 10;
        assert_eq!(s.insert(b"c".as_slice(), 4), None);
        assert_eq!(s.insert("c", 6), Some(4));
        assert!(s.contains_key(b"c"));
        let all: Vec<_> = s.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        assert_eq!(all, vec![(vec![], 7), (b"a".to_vec(), 10), (b"b".to_vec(), 5), (b"c".to_vec(), 6)]);
        assert_eq!(s.remove(b"a"), Some(10));
        assert_eq!(s.remove(b"a"), None);
        for (_, v) in s.iter_mut() {
            *v *= 2;
        }
        s.retain(|k, _| !k.is_empty());
        assert_eq!(s.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![10, 12]);
        s.clear();
        assert!(s.is_empty());
    }

    #[test]
    fn serializes_deterministically() {
        let a: KeyedState<String> = [("x", "1".to_string()), ("a", "2".to_string())].into_iter().collect();
        let b: KeyedState<String> = [("a", "2".to_string()), ("x", "1".to_string())].into_iter().collect();
        let bytes = encode_state(&a).unwrap();
        assert_eq!(bytes, encode_state(&b).unwrap());
        let back: KeyedState<String> = decode_state(&bytes).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn snapshots_are_those_of_a_sorted_map() {
        // The layout every counter (Rust, C, Python, JavaScript) writes and reads.
        let entries: Vec<(Vec<u8>, u64)> = (0..500u64).map(|i| (format!("key{}", i * 7919 % 500).into_bytes(), i)).collect();
        let keyed: KeyedState<u64> = entries.iter().cloned().collect();
        let sorted: std::collections::BTreeMap<Vec<u8>, u64> = entries.into_iter().collect();
        assert_eq!(encode_state(&keyed).unwrap(), encode_state(&sorted).unwrap());
        let back: KeyedState<u64> = decode_state(&encode_state(&sorted).unwrap()).unwrap();
        assert_eq!(back, keyed);
        assert_eq!(keyed.iter_unordered().count(), 500);
    }
}
