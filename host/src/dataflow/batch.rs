//! Column batches on the host side: building, reading and splitting them.
//!
//! [`Batch`] is the type generated from the WIT `batch` record, so a batch moves
//! from one operator's output to the next operator's input without conversion.

pub use crate::runtime::Batch;

/// One event borrowed from a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// Key bytes, or `None` for a keyless event.
    pub key: Option<&'a [u8]>,
    /// Value bytes.
    pub value: &'a [u8],
    /// Event time, ms since the Unix epoch.
    pub timestamp: i64,
}

impl Batch {
    /// An empty batch with room for `events` events and `bytes` value bytes.
    pub fn with_capacity(events: usize, bytes: usize) -> Batch {
        Batch {
            keys: Vec::with_capacity(events * 8),
            key_ends: Vec::with_capacity(events),
            values: Vec::with_capacity(bytes),
            value_ends: Vec::with_capacity(events),
            timestamps: Vec::with_capacity(events),
            keyless: Vec::new(),
        }
    }

    /// An empty batch.
    pub fn empty() -> Batch {
        Batch::with_capacity(0, 0)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Appends one event.
    pub fn push(&mut self, key: Option<&[u8]>, value: &[u8], timestamp: i64) {
        match key {
            Some(k) => self.keys.extend_from_slice(k),
            None => self.keyless.push(self.timestamps.len() as u32),
        }
        self.key_ends.push(self.keys.len() as u32);
        self.values.extend_from_slice(value);
        self.value_ends.push(self.values.len() as u32);
        self.timestamps.push(timestamp);
    }

    /// Appends an event whose value is written in place by `write`.
    pub fn push_with(&mut self, key: Option<&[u8]>, timestamp: i64, write: impl FnOnce(&mut Vec<u8>)) {
        match key {
            Some(k) => self.keys.extend_from_slice(k),
            None => self.keyless.push(self.timestamps.len() as u32),
        }
        self.key_ends.push(self.keys.len() as u32);
        write(&mut self.values);
        self.value_ends.push(self.values.len() as u32);
        self.timestamps.push(timestamp);
    }

    /// Bytes held (keys and values).
    pub fn byte_len(&self) -> usize {
        self.keys.len() + self.values.len()
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.key_ends.clear();
        self.values.clear();
        self.value_ends.clear();
        self.timestamps.clear();
        self.keyless.clear();
    }

    /// Largest event time in the batch.
    pub fn max_timestamp(&self) -> Option<i64> {
        self.timestamps.iter().copied().max()
    }

    /// The events, in order.
    pub fn iter(&self) -> Events<'_> {
        Events { batch: self, next: 0, keyless: 0 }
    }
}

/// Iterator over a batch's events.
pub struct Events<'a> {
    batch: &'a Batch,
    next: usize,
    keyless: usize,
}

impl<'a> Iterator for Events<'a> {
    type Item = EventRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<EventRef<'a>> {
        let b = self.batch;
        let i = self.next;
        if i >= b.timestamps.len() {
            return None;
        }
        self.next += 1;
        let start = |ends: &[u32]| if i == 0 { 0 } else { ends[i - 1] as usize };
        let key = if b.keyless.get(self.keyless) == Some(&(i as u32)) {
            self.keyless += 1;
            None
        } else {
            Some(&b.keys[start(&b.key_ends)..b.key_ends[i] as usize])
        };
        let value = &b.values[start(&b.value_ends)..b.value_ends[i] as usize];
        Some(EventRef { key, value, timestamp: b.timestamps[i] })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.batch.len() - self.next;
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_iterate() {
        let mut b = Batch::empty();
        b.push(Some(b"a"), b"1", 10);
        b.push(None, b"22", 11);
        b.push(Some(b""), b"", 12);
        b.push_with(Some(b"bc"), 13, |v| v.extend_from_slice(b"333"));
        let got: Vec<_> = b.iter().collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], EventRef { key: Some(b"a"), value: b"1", timestamp: 10 });
        assert_eq!(got[1], EventRef { key: None, value: b"22", timestamp: 11 });
        assert_eq!(got[2], EventRef { key: Some(b""), value: b"", timestamp: 12 });
        assert_eq!(got[3], EventRef { key: Some(b"bc"), value: b"333", timestamp: 13 });
        assert_eq!(b.max_timestamp(), Some(13));
        crate::runtime::check_batch(&b).unwrap();
    }
}
