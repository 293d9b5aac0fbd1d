//! Building an output batch: [`Output`] appends events straight into the
//! columns of the batch that is returned to the host.

use crate::{Batch, Event};

/// The events an operator emits from one call, written straight into the
/// columns of the batch returned to the host.
///
/// Emitting does not allocate per event: the columns grow like `Vec`s do
/// (amortised doubling), and [`reserve`](Output::reserve) sizes them up front
/// when the operator knows roughly how much it will emit.
#[derive(Debug, Default)]
pub struct Output {
    batch: Batch,
}

impl Default for Batch {
    fn default() -> Self {
        Batch { keys: Vec::new(), key_ends: Vec::new(), values: Vec::new(), value_ends: Vec::new(), timestamps: Vec::new(), keyless: Vec::new() }
    }
}

/// Converts a column length to an offset. On wasm32 `usize` is 32 bits wide
/// and the check compiles away; natively it guards against silent wrapping.
#[inline(always)]
fn offset(len: usize) -> u32 {
    assert!(len <= u32::MAX as usize, "output batch column exceeds 4 GiB");
    len as u32
}

/// Appends `src` to `dst`, as `extend_from_slice` does.
///
/// Keys and values are short, and on wasm a copy whose length is not known
/// when compiling becomes a `memory.copy`, which wasmtime runs as a call out
/// of the guest into the host: per event, that call costs more than the copy.
/// So slices of up to 64 bytes are copied here as two overlapping pieces of a
/// fixed size (plain loads and stores); longer ones by `extend_from_slice`.
#[inline(always)]
fn append(dst: &mut Vec<u8>, src: &[u8]) {
    let n = src.len();
    if n > 64 {
        dst.extend_from_slice(src);
        return;
    }
    dst.reserve(n);
    let at = dst.len();
    // SAFETY: `reserve` made room for `n` bytes after `at`; each piece below
    // is read from within `src` and written within `at..at + n` (two pieces
    // of `k` bytes at 0 and at `n - k` cover `0..n` when `k <= n <= 2k`), and
    // `src` cannot overlap the spare capacity of `dst`, which nothing else
    // borrows. Every byte of `at..at + n` is written before `set_len`.
    unsafe {
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr().add(at));
        match n {
            33..=64 => pieces::<32>(s, d, n),
            16..=32 => pieces::<16>(s, d, n),
            8..=15 => pieces::<8>(s, d, n),
            4..=7 => pieces::<4>(s, d, n),
            // 1 to 3 bytes: the first, the middle and the last (a loop would become a `memory.copy`).
            1..=3 => {
                *d = *s;
                *d.add(n / 2) = *s.add(n / 2);
                *d.add(n - 1) = *s.add(n - 1);
            }
            _ => {}
        }
        dst.set_len(at + n);
    }
}

/// Copies `n` bytes (`K <= n <= 2K`) from `s` to `d` as two pieces of `K` bytes.
///
/// # Safety
///
/// `s..s + n` must be readable, `d..d + n` writable, and the two must not overlap.
#[inline(always)]
unsafe fn pieces<const K: usize>(s: *const u8, d: *mut u8, n: usize) {
    // SAFETY: as the caller promised; `K <= n`, so `n - K` does not wrap.
    unsafe {
        let first = s.cast::<[u8; K]>().read_unaligned();
        let last = s.add(n - K).cast::<[u8; K]>().read_unaligned();
        d.cast::<[u8; K]>().write_unaligned(first);
        d.add(n - K).cast::<[u8; K]>().write_unaligned(last);
    }
}

impl Output {
    /// An empty output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the key column entry and the timestamp of the next event.
    #[inline(always)]
    fn push_key(&mut self, key: Option<&[u8]>, timestamp: i64) {
        let b = &mut self.batch;
        match key {
            Some(key) => append(&mut b.keys, key),
            None => b.keyless.push(offset(b.timestamps.len())),
        }
        b.key_ends.push(offset(b.keys.len()));
        b.timestamps.push(timestamp);
    }

    /// Emits one event (`key` `None` for a keyless event).
    #[inline]
    pub fn emit(&mut self, key: Option<&[u8]>, value: &[u8], timestamp: i64) {
        self.push_key(key, timestamp);
        let b = &mut self.batch;
        append(&mut b.values, value);
        b.value_ends.push(offset(b.values.len()));
    }

    /// Emits one event whose value `write_value` writes in place: it gets the
    /// output's value column and must only append to it (whatever it appends
    /// is the value). Returns what `write_value` returns.
    ///
    /// ```
    /// # let mut out = cairn_guest::Output::new();
    /// out.emit_with(Some(b"k"), 7, |buf| buf.extend_from_slice(b"HELLO"));
    /// ```
    ///
    /// # Panics
    ///
    /// If `write_value` shortens the column (that would corrupt earlier events).
    #[inline]
    pub fn emit_with<R>(&mut self, key: Option<&[u8]>, timestamp: i64, write_value: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        self.push_key(key, timestamp);
        let b = &mut self.batch;
        let start = b.values.len();
        let result = write_value(&mut b.values);
        assert!(b.values.len() >= start, "emit_with: the closure removed bytes of earlier events");
        b.value_ends.push(offset(b.values.len()));
        result
    }

    /// Emits an input event unchanged (a shorthand for `emit` with its parts).
    #[inline]
    pub fn emit_event(&mut self, event: &Event<'_>) {
        self.emit(event.key, event.value, event.timestamp);
    }

    /// Number of events emitted so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.batch.timestamps.len()
    }

    /// Whether nothing was emitted yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for at least `events` more events whose values total
    /// `bytes` bytes, so that emitting them does not reallocate. (Key bytes:
    /// see [`reserve_keys`](Output::reserve_keys).)
    pub fn reserve(&mut self, events: usize, bytes: usize) {
        let b = &mut self.batch;
        b.key_ends.reserve(events);
        b.value_ends.reserve(events);
        b.timestamps.reserve(events);
        b.values.reserve(bytes);
    }

    /// Makes room for at least `bytes` more bytes of keys.
    pub fn reserve_keys(&mut self, bytes: usize) {
        self.batch.keys.reserve(bytes);
    }

    /// The batch built so far.
    pub fn as_batch(&self) -> &Batch {
        &self.batch
    }

    /// The finished batch, as returned to the host.
    pub fn into_batch(self) -> Batch {
        self.batch
    }
}

#[cfg(test)]
mod tests {
    use crate::{Event, Events, Output};

    fn collect(out: &Output) -> Vec<(Option<Vec<u8>>, Vec<u8>, i64)> {
        Events::new(out.as_batch()).unwrap().map(|e| (e.key.map(<[u8]>::to_vec), e.value.to_vec(), e.timestamp)).collect()
    }

    #[test]
    fn round_trip_keyed_and_keyless() {
        let mut out = Output::new();
        assert!(out.is_empty());
        out.emit(Some(b"a"), b"one", 1);
        out.emit(None, b"two", 2);
        out.emit(Some(b""), b"", -3);
        out.emit_with(Some(b"bb"), 4, |buf| buf.extend_from_slice(b"four"));
        let n = out.emit_with(None, i64::MAX, |buf| {
            buf.extend_from_slice(b"five");
            5
        });
        assert_eq!(n, 5);
        out.emit(None, b"six", i64::MIN);
        assert_eq!(out.len(), 6);

        let b = out.as_batch();
        assert_eq!(b.keys, b"abb");
        assert_eq!(b.key_ends, [1, 1, 1, 3, 3, 3]);
        assert_eq!(b.values, b"onetwofourfivesix");
        assert_eq!(b.value_ends, [3, 6, 6, 10, 14, 17]);
        assert_eq!(b.timestamps, [1, 2, -3, 4, i64::MAX, i64::MIN]);
        assert_eq!(b.keyless, [1, 4, 5]);

        assert_eq!(
            collect(&out),
            vec![
                (Some(b"a".to_vec()), b"one".to_vec(), 1),
                (None, b"two".to_vec(), 2),
                (Some(vec![]), vec![], -3),
                (Some(b"bb".to_vec()), b"four".to_vec(), 4),
                (None, b"five".to_vec(), i64::MAX),
                (None, b"six".to_vec(), i64::MIN),
            ]
        );
    }

    #[test]
    fn events_len_and_sizes() {
        let mut out = Output::new();
        out.reserve(3, 10);
        out.reserve_keys(4);
        out.emit(Some(b"k1"), b"v1", 1);
        out.emit(Some(b"k22"), b"v22", 2);
        let batch = out.into_batch();
        let mut events = Events::new(&batch).unwrap();
        assert_eq!((events.len(), events.value_bytes(), events.key_bytes()), (2, 5, 5));
        let first = events.next().unwrap();
        assert_eq!(first, Event { key: Some(b"k1"), value: b"v1", timestamp: 1 });
        assert_eq!((events.len(), events.value_bytes(), events.key_bytes()), (1, 3, 3));
        let mut copy = Output::new();
        copy.emit_event(&events.next().unwrap());
        assert!(events.next().is_none() && events.is_empty());
        assert_eq!(collect(&copy), vec![(Some(b"k22".to_vec()), b"v22".to_vec(), 2)]);
    }

    #[test]
    fn append_copies_every_length() {
        let src: Vec<u8> = (0..100u8).collect();
        for start in [0, 3] {
            for n in 0..=src.len() - start {
                let mut dst = vec![0xee; 5];
                super::append(&mut dst, &src[start..start + n]);
                assert_eq!(&dst[..5], [0xee; 5]);
                assert_eq!(&dst[5..], &src[start..start + n], "{n} bytes from {start}");
            }
        }
    }

    #[test]
    fn empty_batch() {
        let batch = Output::new().into_batch();
        let events = Events::new(&batch).unwrap();
        assert_eq!((events.len(), events.value_bytes(), events.key_bytes()), (0, 0, 0));
        assert_eq!(events.count(), 0);
    }

    #[test]
    fn malformed_batches_are_rejected() {
        let good = || {
            let mut out = Output::new();
            out.emit(Some(b"ab"), b"xyz", 1);
            out.emit(None, b"w", 2);
            out.into_batch()
        };
        assert!(Events::new(&good()).is_ok());

        let mut b = good();
        b.timestamps.pop();
        assert!(Events::new(&b).unwrap_err().contains("1 timestamps"));
        let mut b = good();
        b.value_ends[1] = 9;
        assert!(Events::new(&b).unwrap_err().contains("value ends reach 9"));
        let mut b = good();
        b.key_ends[0] = 3;
        assert!(Events::new(&b).unwrap_err().contains("key end of event 1"));
        let mut b = good();
        b.keyless = vec![2];
        assert!(Events::new(&b).unwrap_err().contains("keyless index 2"));
        let mut b = good();
        b.keyless = vec![1, 1];
        assert!(Events::new(&b).unwrap_err().contains("keyless index 1"));
    }

    #[test]
    #[should_panic(expected = "removed bytes")]
    fn emit_with_must_not_shrink() {
        let mut out = Output::new();
        out.emit(None, b"abc", 0);
        out.emit_with(None, 0, |buf| buf.clear());
    }
}
