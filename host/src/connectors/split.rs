//! How a deterministic source (`generator`, `nexmark`) shares its event
//! sequence among its subtasks, and what its position in a checkpoint is.
//!
//! Event `n` depends only on the configuration and `n`, so subtask `s` of `N`
//! emits events `s, s + N, s + 2N, …`: together the subtasks emit exactly the
//! events of one subtask, and each subtask's event times still increase. A
//! subtask's position is the number of the next event it would emit:
//!
//! - at parallelism 1, `{"next": n}`;
//! - at parallelism N, `{"parallelism": N, "next": {"0": n0, "1": n1, …}}`; the
//!   coordinator merges the subtasks' objects into one.
//!
//! A checkpoint restores at another parallelism when its positions sit at a
//! common boundary: the events emitted so far are exactly `0 .. P` for some
//! `P` (always so at parallelism 1, and for a bounded source that has ended);
//! then each new subtask starts at its first event at or after `P`. Otherwise
//! the restore is refused with the source, both parallelisms and the positions.

use serde_json::{Value, json};

/// Subtask `subtask` of `parallelism`: the events it emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    subtask: u64,
    parallelism: u64,
}

impl Split {
    /// Subtask `subtask` of `parallelism` (at least 1).
    pub fn new(subtask: usize, parallelism: usize) -> Split {
        let parallelism = parallelism.max(1) as u64;
        Split { subtask: (subtask as u64).min(parallelism - 1), parallelism }
    }

    /// Every event, in one subtask.
    pub fn whole() -> Split {
        Split::new(0, 1)
    }

    /// The distance between two consecutive events of a subtask.
    pub fn step(&self) -> u64 {
        self.parallelism
    }

    /// The subtask's first event at or after `n`.
    pub fn first_at_or_after(&self, n: u64) -> u64 {
        let r = n % self.parallelism;
        let base = n - r;
        if r <= self.subtask { base + self.subtask } else { base.saturating_add(self.parallelism + self.subtask) }
    }

    /// How many of the subtask's events lie in `next .. end` (`next` one of its events).
    pub fn remaining(&self, next: u64, end: Option<u64>) -> u64 {
        match end {
            None => u64::MAX,
            Some(end) if end <= next => 0,
            Some(end) => (end - next).div_ceil(self.parallelism),
        }
    }

    /// How many events the subtask emitted before `next` (one of its events).
    pub fn emitted(&self, next: u64) -> u64 {
        next.saturating_sub(self.subtask) / self.parallelism
    }

    /// Its share of a rate of `rate` events/s over all subtasks.
    pub fn rate(&self, rate: Option<u64>) -> Option<u64> {
        rate.map(|r| r.div_ceil(self.parallelism))
    }

    /// The position to record in a checkpoint when `next` is the subtask's next event.
    pub fn position(&self, next: u64) -> Value {
        if self.parallelism == 1 { json!({ "next": next }) } else { json!({ "parallelism": self.parallelism, "next": { self.subtask.to_string(): next } }) }
    }

    /// The subtask's next event restoring from `position` (every subtask's
    /// position, merged); the message says why it cannot.
    pub fn restore(&self, position: &Value) -> Result<u64, String> {
        let nexts = decode(position)?;
        let old = nexts.len() as u64;
        if old == self.parallelism {
            return Ok(nexts[self.subtask as usize]);
        }
        match boundary(&nexts) {
            Some(p) => Ok(self.first_at_or_after(p)),
            None => Err(format!(
                "the checkpoint was taken at parallelism {old} with next events {nexts:?}, which do not sit at a common \
                 boundary, so they cannot be shared among {} subtasks; restore it at `parallelism: {old}`",
                self.parallelism
            )),
        }
    }
}

/// The next event of each subtask, by subtask, from a checkpoint's position.
fn decode(position: &Value) -> Result<Vec<u64>, String> {
    let bad = || format!("cannot restore the position {position}");
    match position.get("next") {
        Some(Value::Number(n)) => Ok(vec![n.as_u64().ok_or_else(bad)?]),
        Some(Value::Object(per)) => {
            let n = position.get("parallelism").and_then(Value::as_u64).filter(|&n| n >= 1).ok_or_else(bad)?;
            (0..n).map(|s| per.get(&s.to_string()).and_then(Value::as_u64).ok_or_else(|| format!("{}: subtask {s} has no position", bad()))).collect()
        }
        _ => Err(bad()),
    }
}

/// `P` when the events emitted before `nexts` are exactly `0 .. P`.
fn boundary(nexts: &[u64]) -> Option<u64> {
    let p = *nexts.iter().min()?;
    let n = nexts.len();
    nexts.iter().enumerate().all(|(s, &next)| Split::new(s, n).first_at_or_after(p) == next).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events subtask `s` of `n` emits below `end`.
    fn events(s: usize, n: usize, end: u64) -> Vec<u64> {
        let split = Split::new(s, n);
        let mut next = split.first_at_or_after(0);
        let mut out = Vec::new();
        for _ in 0..split.remaining(next, Some(end)) {
            out.push(next);
            next += split.step();
        }
        out
    }

    #[test]
    fn the_subtasks_share_the_sequence_exactly() {
        for n in 1..6 {
            for end in [0, 1, 4, 5, 17, 100] {
                let mut all: Vec<u64> = (0..n).flat_map(|s| events(s, n, end)).collect();
                all.sort();
                assert_eq!(all, (0..end).collect::<Vec<_>>(), "{n} subtasks, {end} events");
            }
        }
    }

    #[test]
    fn positions_restore_at_the_same_parallelism_or_at_a_boundary() {
        let merged = |nexts: &[u64]| {
            let n = nexts.len();
            let mut per = serde_json::Map::new();
            for (s, next) in nexts.iter().enumerate() {
                per.insert(s.to_string(), json!(next));
            }
            if n == 1 { json!({ "next": nexts[0] }) } else { json!({ "parallelism": n, "next": per }) }
        };
        assert_eq!(Split::new(1, 2).position(7), json!({"parallelism": 2, "next": {"1": 7}}));
        assert_eq!(Split::whole().position(7), json!({"next": 7}));
        // Same parallelism: each its own.
        assert_eq!(Split::new(2, 3).restore(&merged(&[30, 13, 8])), Ok(8));
        // From one subtask: always a boundary.
        assert_eq!(Split::new(0, 3).restore(&merged(&[10])), Ok(12));
        assert_eq!(Split::new(1, 3).restore(&merged(&[10])), Ok(10));
        assert_eq!(Split::new(2, 3).restore(&merged(&[10])), Ok(11));
        // From three subtasks that emitted 0 .. 10 (an ended source of 10 events).
        assert_eq!(Split::new(0, 2).restore(&merged(&[12, 10, 11])), Ok(10));
        assert_eq!(Split::whole().restore(&merged(&[12, 10, 11])), Ok(10));
        // Not at a boundary: refused, naming both parallelisms.
        let e = Split::new(0, 3).restore(&merged(&[30, 13])).unwrap_err();
        assert!(e.contains("parallelism 2") && e.contains("3 subtasks") && e.contains("[30, 13]"), "{e}");
        assert!(Split::whole().restore(&json!({"parallelism": 2, "next": {"0": 4}})).unwrap_err().contains("subtask 1"));
        assert!(Split::whole().restore(&json!({"offsets": {}})).is_err());
    }
}
