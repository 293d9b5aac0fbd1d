//! A task's incoming edges: merges several inputs, tracks the combined
//! watermark, and aligns checkpoint barriers.
//!
//! Barrier alignment is a small state machine: `Idle` until a barrier arrives
//! on some input, then `Aligning` — inputs that delivered the barrier are held
//! (not read) until every live input has delivered it — then the barrier is
//! handed to the task, which snapshots and forwards it, and the state returns
//! to `Idle`. An input that ends counts as aligned.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Select};

use super::batch::Batch;
use super::message::Message;
use crate::control::Barrier;

/// What the task should do next.
#[derive(Debug)]
pub enum Input {
    /// Process these events, which arrived on input `input` (an index into
    /// the consumer's `input:` list).
    Data {
        /// The input they arrived on.
        input: usize,
        /// The events.
        batch: Batch,
    },
    /// The combined watermark (minimum over live inputs) advanced to this.
    Watermark(i64),
    /// Every input delivered this barrier: snapshot, forward it, acknowledge.
    Barrier(Barrier),
    /// Every input ended.
    End,
    /// The deadline passed with nothing to read (time to flush pending output).
    Timeout,
    /// An upstream task vanished without ending (it failed).
    UpstreamFailed,
}

/// Barrier alignment state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Alignment {
    /// No barrier in progress.
    Idle,
    /// `barrier` arrived on the inputs marked in `arrived` (the first at
    /// `since`); those are held.
    Aligning { barrier: Barrier, arrived: Vec<bool>, since: Instant },
}

/// The merged inputs of a task.
pub struct InputSet {
    receivers: Vec<Receiver<Message>>,
    /// The input (index into the consumer's `input:` list) of each receiver.
    input_of: Vec<usize>,
    watermarks: Vec<i64>,
    ended: Vec<bool>,
    combined: i64,
    alignment: Alignment,
    /// Events received so far.
    pub events_in: u64,
    /// Longest time an input was held waiting for a barrier on the others.
    pub max_alignment: Duration,
    /// How long the last barrier took to align.
    pub last_alignment: Duration,
}

impl InputSet {
    /// Inputs over `receivers` (one per upstream subtask), all of input 0.
    pub fn new(receivers: Vec<Receiver<Message>>) -> InputSet {
        let inputs = vec![0; receivers.len()];
        Self::with_inputs(receivers, inputs)
    }

    /// Inputs over `receivers` (one per upstream subtask), receiver `i`
    /// belonging to input `input_of[i]`.
    pub fn with_inputs(receivers: Vec<Receiver<Message>>, input_of: Vec<usize>) -> InputSet {
        assert_eq!(receivers.len(), input_of.len(), "an input per receiver");
        let n = receivers.len();
        InputSet {
            receivers,
            input_of,
            watermarks: vec![i64::MIN; n],
            ended: vec![false; n],
            combined: i64::MIN,
            alignment: Alignment::Idle,
            events_in: 0,
            max_alignment: Duration::ZERO,
            last_alignment: Duration::ZERO,
        }
    }

    /// Batches waiting in the input channels, and how many they hold at most (backpressure).
    pub fn fill(&self) -> (usize, usize) {
        self.receivers.iter().fold((0, 0), |(q, c), r| (q + r.len(), c + r.capacity().unwrap_or(0)))
    }

    /// The current combined watermark.
    pub fn watermark(&self) -> i64 {
        self.combined
    }

    fn readable(&self, i: usize) -> bool {
        !self.ended[i]
            && match &self.alignment {
                Alignment::Idle => true,
                Alignment::Aligning { arrived, .. } => !arrived[i],
            }
    }

    /// Blocks until something happens or `deadline` passes.
    pub fn next(&mut self, deadline: Option<Instant>) -> Input {
        loop {
            if self.ended.iter().all(|&e| e) {
                return Input::End;
            }
            let live: Vec<usize> = (0..self.receivers.len()).filter(|&i| self.readable(i)).collect();
            if live.is_empty() {
                // Unreachable by construction: alignment completes once no live input is left to read.
                return Input::UpstreamFailed;
            }
            let (i, received) = if live.len() == 1 {
                let r = &self.receivers[live[0]];
                let got = match deadline {
                    Some(d) => r.recv_deadline(d),
                    None => r.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                (live[0], got)
            } else {
                let mut select = Select::new();
                for &i in &live {
                    select.recv(&self.receivers[i]);
                }
                let op = match deadline {
                    Some(d) => match select.select_deadline(d) {
                        Ok(op) => op,
                        Err(_) => return Input::Timeout,
                    },
                    None => select.select(),
                };
                let i = live[op.index()];
                let got = op.recv(&self.receivers[i]).map_err(|_| RecvTimeoutError::Disconnected);
                (i, got)
            };
            let msg = match received {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => return Input::Timeout,
                Err(RecvTimeoutError::Disconnected) => return Input::UpstreamFailed,
            };
            match msg {
                Message::Data(b) => {
                    self.events_in += b.len() as u64;
                    return Input::Data { input: self.input_of[i], batch: b };
                }
                Message::Watermark(ts) => {
                    self.watermarks[i] = self.watermarks[i].max(ts);
                    if let Some(wm) = self.advance_watermark() {
                        return Input::Watermark(wm);
                    }
                }
                Message::Barrier(b) => {
                    if let Some(done) = self.on_barrier(i, b) {
                        return Input::Barrier(done);
                    }
                }
                Message::End => {
                    self.ended[i] = true;
                    if let Some(done) = self.check_aligned() {
                        return Input::Barrier(done);
                    }
                    if let Some(wm) = self.advance_watermark() {
                        return Input::Watermark(wm);
                    }
                }
            }
        }
    }

    fn advance_watermark(&mut self) -> Option<i64> {
        let live = (0..self.watermarks.len()).filter(|&i| !self.ended[i]).map(|i| self.watermarks[i]);
        let min = live.min()?;
        (min > self.combined).then(|| {
            self.combined = min;
            min
        })
    }

    fn on_barrier(&mut self, input: usize, barrier: Barrier) -> Option<Barrier> {
        match &mut self.alignment {
            Alignment::Idle => {
                let mut arrived = vec![false; self.receivers.len()];
                arrived[input] = true;
                self.alignment = Alignment::Aligning { barrier, arrived, since: Instant::now() };
            }
            Alignment::Aligning { arrived, .. } => arrived[input] = true,
        }
        self.check_aligned()
    }

    fn check_aligned(&mut self) -> Option<Barrier> {
        let Alignment::Aligning { barrier, arrived, since } = &self.alignment else { return None };
        if arrived.iter().zip(&self.ended).all(|(&a, &e)| a || e) {
            let b = *barrier;
            let took = since.elapsed();
            self.max_alignment = self.max_alignment.max(took);
            self.last_alignment = took;
            tracing::debug!(event = "aligned", checkpoint = b.id, inputs = arrived.len(), us = took.as_micros() as u64, "inputs aligned");
            self.alignment = Alignment::Idle;
            return Some(b);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(ts: i64) -> Batch {
        let mut b = Batch::empty();
        b.push(None, b"x", ts);
        b
    }

    #[test]
    fn holds_an_aligned_input_until_all_deliver_the_barrier() {
        let (tx0, rx0) = crossbeam_channel::unbounded();
        let (tx1, rx1) = crossbeam_channel::unbounded();
        let mut inputs = InputSet::new(vec![rx0, rx1]);
        tx0.send(Message::Barrier(Barrier { id: 1, last: false })).unwrap();
        tx0.send(Message::Data(batch(5))).unwrap(); // after the barrier: must wait
        tx1.send(Message::Data(batch(1))).unwrap(); // before the barrier
        tx1.send(Message::Barrier(Barrier { id: 1, last: false })).unwrap();
        match inputs.next(None) {
            Input::Data { batch: b, .. } => assert_eq!(b.timestamps, vec![1]),
            other => panic!("expected input 1's pre-barrier data, got {other:?}"),
        }
        assert!(matches!(inputs.next(None), Input::Barrier(Barrier { id: 1, last: false })));
        match inputs.next(None) {
            Input::Data { batch: b, .. } => assert_eq!(b.timestamps, vec![5]),
            other => panic!("expected held data, got {other:?}"),
        }
    }

    #[test]
    fn watermark_is_the_minimum_of_live_inputs_and_end_releases() {
        let (tx0, rx0) = crossbeam_channel::unbounded();
        let (tx1, rx1) = crossbeam_channel::unbounded();
        let mut inputs = InputSet::new(vec![rx0, rx1]);
        tx0.send(Message::Watermark(10)).unwrap();
        tx1.send(Message::Watermark(4)).unwrap();
        assert!(matches!(inputs.next(None), Input::Watermark(4)));
        tx1.send(Message::End).unwrap();
        assert!(matches!(inputs.next(None), Input::Watermark(10)));
        tx0.send(Message::End).unwrap();
        assert!(matches!(inputs.next(None), Input::End));
    }

    #[test]
    fn an_ended_input_counts_as_aligned_and_a_dropped_one_as_failed() {
        let (tx0, rx0) = crossbeam_channel::unbounded();
        let (tx1, rx1) = crossbeam_channel::unbounded();
        let mut inputs = InputSet::new(vec![rx0, rx1]);
        tx0.send(Message::Barrier(Barrier { id: 7, last: false })).unwrap();
        tx1.send(Message::End).unwrap();
        assert!(matches!(inputs.next(None), Input::Barrier(Barrier { id: 7, last: false })));
        drop(tx0);
        assert!(matches!(inputs.next(None), Input::UpstreamFailed));
    }
}
