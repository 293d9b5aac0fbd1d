//! A task's outgoing edges: batching, partitioning (forward, key hash, round
//! robin) and backpressure through bounded channels.

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::batch::Batch;
use super::message::Message;
use crate::keys;

/// How events on an edge are spread over the downstream subtasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Subtask i feeds subtask i (same parallelism, no key-by).
    Forward,
    /// By the hash of the event key modulo the subtasks (into a
    /// `cairn:operator@0.1.0` operator): all events of a key reach the same subtask.
    KeyHash,
    /// By the range of the key hash each subtask owns (into a 0.2.0 operator,
    /// see [`crate::keys`]): all events of a key reach the same subtask, and
    /// the state of a range can move when the parallelism changes.
    KeyRange,
    /// Whole batches in turn to each downstream subtask.
    RoundRobin,
}

/// The downstream task has gone away (it failed or the job is stopping).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("downstream task is gone")]
pub struct Disconnected;

/// The subtask of `key` among `n` on a `route` edge: stable across runs and
/// machines, since restored keyed state must meet its keys again.
#[inline]
pub fn key_partition(route: Route, key: &[u8], n: usize) -> usize {
    let h = keys::key_hash(key);
    if route == Route::KeyRange { keys::range_partition(h, n) } else { keys::modulo_partition(h, n) }
}

/// One outgoing edge of a task.
pub struct Edge {
    route: Route,
    senders: Vec<Sender<Message>>,
    pending: Vec<Batch>,
    next: usize,
}

impl Edge {
    /// An edge to downstream subtasks through `senders` (one sender for `Forward`).
    pub fn new(route: Route, senders: Vec<Sender<Message>>) -> Edge {
        let pending = senders.iter().map(|_| Batch::empty()).collect();
        Edge { route, senders, pending, next: 0 }
    }
}

/// All outgoing edges of a task, with the batching policy.
pub struct Outputs {
    edges: Vec<Edge>,
    batch_size: usize,
    linger: Duration,
    oldest_pending: Option<Instant>,
    /// Events emitted so far.
    pub events_out: u64,
}

impl Outputs {
    /// Outputs over `edges`, sending a batch when it reaches `batch_size` events
    /// or its first event waited `linger`.
    pub fn new(edges: Vec<Edge>, batch_size: usize, linger: Duration) -> Outputs {
        Outputs { edges, batch_size, linger, oldest_pending: None, events_out: 0 }
    }

    /// When pending events must be sent at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        self.oldest_pending.map(|t| t + self.linger)
    }

    /// Routes the events of `batch` to every edge.
    pub fn emit(&mut self, batch: Batch) -> Result<(), Disconnected> {
        if batch.is_empty() {
            return Ok(());
        }
        self.events_out += batch.len() as u64;
        let size = self.batch_size;
        let last = self.edges.len().saturating_sub(1);
        let mut batch = Some(batch);
        let mut any_pending = false;
        for (e, edge) in self.edges.iter_mut().enumerate() {
            // The last edge takes the batch; the others get copies.
            let b = if e == last { batch.take() } else { batch.clone() }.unwrap_or_else(Batch::empty);
            match edge.route {
                Route::Forward | Route::RoundRobin => {
                    let target = if edge.route == Route::Forward { 0 } else { edge.next };
                    let pending = &mut edge.pending[target];
                    if pending.is_empty() && b.len() >= size / 2 {
                        send(&edge.senders[target], b)?;
                    } else {
                        append(pending, &b);
                        if pending.len() >= size {
                            let full = std::mem::replace(pending, Batch::with_capacity(size, 0));
                            send(&edge.senders[target], full)?;
                        }
                    }
                    if edge.route == Route::RoundRobin {
                        edge.next = (edge.next + 1) % edge.senders.len();
                    }
                }
                Route::KeyHash | Route::KeyRange => {
                    let n = edge.senders.len();
                    for ev in b.iter() {
                        let p = key_partition(edge.route, ev.key.unwrap_or_default(), n);
                        let pending = &mut edge.pending[p];
                        pending.push(ev.key, ev.value, ev.timestamp);
                        if pending.len() >= size {
                            let full = std::mem::replace(pending, Batch::with_capacity(size, 0));
                            send(&edge.senders[p], full)?;
                        }
                    }
                }
            }
            any_pending |= edge.pending.iter().any(|p| !p.is_empty());
        }
        if !any_pending {
            self.oldest_pending = None;
        } else if self.oldest_pending.is_none() {
            self.oldest_pending = Some(Instant::now());
        }
        Ok(())
    }

    /// Sends every pending event now.
    pub fn flush(&mut self) -> Result<(), Disconnected> {
        for edge in &mut self.edges {
            for (p, pending) in edge.pending.iter_mut().enumerate() {
                if !pending.is_empty() {
                    let b = std::mem::replace(pending, Batch::empty());
                    send(&edge.senders[p], b)?;
                }
            }
        }
        self.oldest_pending = None;
        Ok(())
    }

    /// Flushes, then sends a control message (watermark, barrier, end) to every downstream subtask.
    pub fn broadcast(&mut self, make: impl Fn() -> Message) -> Result<(), Disconnected> {
        self.flush()?;
        for edge in &self.edges {
            for s in &edge.senders {
                s.send(make()).map_err(|_| Disconnected)?;
            }
        }
        Ok(())
    }
}

fn send(to: &Sender<Message>, batch: Batch) -> Result<(), Disconnected> {
    to.send(Message::Data(batch)).map_err(|_| Disconnected)
}

fn append(to: &mut Batch, from: &Batch) {
    if to.is_empty() {
        to.clone_from(from);
        return;
    }
    let (kbase, vbase, ibase) = (to.keys.len() as u32, to.values.len() as u32, to.len() as u32);
    to.keys.extend_from_slice(&from.keys);
    to.key_ends.extend(from.key_ends.iter().map(|e| e + kbase));
    to.values.extend_from_slice(&from.values);
    to.value_ends.extend(from.value_ends.iter().map(|e| e + vbase));
    to.timestamps.extend_from_slice(&from.timestamps);
    to.keyless.extend(from.keyless.iter().map(|i| i + ibase));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_routes_each_key_to_one_subtask_and_batches() {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..3).map(|_| crossbeam_channel::unbounded()).unzip();
        let mut out = Outputs::new(vec![Edge::new(Route::KeyHash, senders)], 4, Duration::from_secs(1));
        let mut b = Batch::empty();
        for i in 0..100i64 {
            b.push(Some(format!("k{}", i % 7).as_bytes()), b"v", i);
        }
        out.emit(b).unwrap();
        out.flush().unwrap();
        let mut total = 0;
        let mut owner = std::collections::HashMap::new();
        for (p, r) in receivers.iter().enumerate() {
            while let Ok(Message::Data(b)) = r.try_recv() {
                assert!(b.len() <= 4);
                for ev in b.iter() {
                    total += 1;
                    assert_eq!(*owner.entry(ev.key.unwrap().to_vec()).or_insert(p), p);
                }
            }
        }
        assert_eq!(total, 100);
    }

    #[test]
    fn append_keeps_keyless_and_offsets() {
        let mut a = Batch::empty();
        a.push(Some(b"x"), b"1", 1);
        let mut b = Batch::empty();
        b.push(None, b"22", 2);
        b.push(Some(b"yz"), b"3", 3);
        append(&mut a, &b);
        let evs: Vec<_> = a.iter().map(|e| (e.key.map(<[u8]>::to_vec), e.value.to_vec())).collect();
        assert_eq!(evs, vec![(Some(b"x".to_vec()), b"1".to_vec()), (None, b"22".to_vec()), (Some(b"yz".to_vec()), b"3".to_vec())]);
    }
}
