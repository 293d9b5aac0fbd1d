//! Reading an input batch: [`Events`] iterates over its columns and yields one
//! borrowed [`Event`] per event, without allocating.

use crate::Batch;

/// One input event, borrowed from the batch it came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event<'a> {
    /// The event's key, or `None` for a keyless event. (A present key may be
    /// empty.)
    pub key: Option<&'a [u8]>,
    /// The event's value bytes.
    pub value: &'a [u8],
    /// Event time, milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// An iterator over the events of a batch, in order.
///
/// Created by the export glue from the batch the host passed in (which it
/// checks first, see [`Events::new`]). Iterating does not allocate: every
/// [`Event`] borrows its key and value from the batch's columns.
#[derive(Clone, Debug)]
pub struct Events<'a> {
    keys: &'a [u8],
    key_ends: &'a [u32],
    values: &'a [u8],
    value_ends: &'a [u32],
    timestamps: &'a [i64],
    keyless: &'a [u32],
    /// Index of the next event.
    next: usize,
    /// Start of the next event's key in `keys`.
    key_start: usize,
    /// Start of the next event's value in `values`.
    value_start: usize,
    /// Position in `keyless` of the next keyless event at or after `next`.
    next_keyless: usize,
    /// The input the batch arrived on.
    input: usize,
}

impl<'a> Events<'a> {
    /// Checks that `batch` is well formed and returns an iterator over its
    /// events.
    ///
    /// Well formed means: `key-ends`, `value-ends` and `timestamps` have the
    /// same length; the ends never decrease and stay within `keys` and
    /// `values`; `keyless` is strictly ascending and names existing events.
    /// The error says which rule was broken.
    pub fn new(batch: &'a Batch) -> Result<Self, String> {
        let n = batch.timestamps.len();
        if batch.key_ends.len() != n || batch.value_ends.len() != n {
            return Err(format!("malformed batch: {n} timestamps but {} key ends and {} value ends", batch.key_ends.len(), batch.value_ends.len()));
        }
        check_ends("key", &batch.key_ends, batch.keys.len())?;
        check_ends("value", &batch.value_ends, batch.values.len())?;
        let mut previous: Option<u32> = None;
        for &i in &batch.keyless {
            if previous.is_some_and(|p| i <= p) || i as usize >= n {
                return Err(format!("malformed batch: keyless index {i} is out of order or not below the event count {n}"));
            }
            previous = Some(i);
        }
        Ok(Events {
            keys: &batch.keys,
            key_ends: &batch.key_ends,
            values: &batch.values,
            value_ends: &batch.value_ends,
            timestamps: &batch.timestamps,
            keyless: &batch.keyless,
            next: 0,
            key_start: 0,
            value_start: 0,
            next_keyless: 0,
            input: 0,
        })
    }

    /// The same events, as having arrived on input `input`.
    pub fn on_input(mut self, input: usize) -> Self {
        self.input = input;
        self
    }

    /// The input the batch arrived on: its index in the operator's `input:`
    /// list in pipeline.yaml (0 for an operator with one input). The input's
    /// id is [`context()`](crate::context)`.inputs[index]`.
    #[inline]
    pub fn input(&self) -> usize {
        self.input
    }

    /// Number of events not yet yielded (all of them before iterating).
    #[inline]
    pub fn len(&self) -> usize {
        self.timestamps.len() - self.next
    }

    /// Whether no events are left.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total length of the values of the events not yet yielded, in bytes:
    /// a good size hint for [`Output::reserve`](crate::Output::reserve).
    #[inline]
    pub fn value_bytes(&self) -> usize {
        self.value_ends.last().map_or(0, |&end| end as usize) - self.value_start
    }

    /// Total length of the keys of the events not yet yielded, in bytes:
    /// a good size hint for [`Output::reserve_keys`](crate::Output::reserve_keys).
    #[inline]
    pub fn key_bytes(&self) -> usize {
        self.key_ends.last().map_or(0, |&end| end as usize) - self.key_start
    }
}

fn check_ends(what: &str, ends: &[u32], len: usize) -> Result<(), String> {
    // One pass with no early exit, which vectorises; the event is looked for
    // only when the batch is malformed.
    let pairs = ends.iter().zip(ends.get(1..).unwrap_or_default());
    if pairs.fold(false, |bad, (a, b)| bad | (b < a)) {
        let i = ends.windows(2).position(|w| w[1] < w[0]).unwrap_or_default() + 1;
        return Err(format!("malformed batch: {what} end of event {i} ({}) is below the previous one ({})", ends[i], ends[i - 1]));
    }
    let last = ends.last().copied().unwrap_or_default();
    if last as usize > len {
        return Err(format!("malformed batch: {what} ends reach {last} but there are only {len} {what} bytes"));
    }
    Ok(())
}

impl<'a> Iterator for Events<'a> {
    type Item = Event<'a>;

    #[inline]
    fn next(&mut self) -> Option<Event<'a>> {
        let i = self.next;
        let timestamp = *self.timestamps.get(i)?;
        self.next = i + 1;

        let key_end = self.key_ends[i] as usize;
        let key = if self.keyless.get(self.next_keyless) == Some(&(i as u32)) {
            self.next_keyless += 1;
            None
        } else {
            Some(&self.keys[self.key_start..key_end])
        };
        self.key_start = key_end;

        let value_end = self.value_ends[i] as usize;
        let value = &self.values[self.value_start..value_end];
        self.value_start = value_end;

        Some(Event { key, value, timestamp })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Events<'_> {}

impl std::iter::FusedIterator for Events<'_> {}
