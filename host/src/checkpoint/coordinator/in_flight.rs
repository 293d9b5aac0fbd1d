//! The snapshot in flight: which tasks the coordinator still waits for, and
//! what the acknowledgements so far contributed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use crate::control::{Ack, AckPayload, Kind, StateHandle, Trigger};

/// A triggered checkpoint or savepoint, until it completes or is aborted.
pub(super) struct InFlight {
    /// The snapshot id.
    pub(super) id: u64,
    /// Checkpoint or savepoint.
    pub(super) kind: Kind,
    /// What started it.
    pub(super) trigger: Trigger,
    /// The last snapshot of the run: sources end after its barrier.
    pub(super) last: bool,
    /// Where its metadata goes.
    pub(super) dir: String,
    /// Taken by a stop with `--drain`: the final watermark passed before it.
    pub(super) drained: bool,
    /// The trigger id of the user request it answers.
    pub(super) request: Option<String>,
    /// Bytes uploaded, by (operator, subtask).
    pub(super) uploaded_by: BTreeMap<(String, usize), u64>,
    /// When it was triggered (for timeout and duration).
    pub(super) started: Instant,
    /// When it was triggered (wall clock, for the metadata file).
    pub(super) triggered_at: SystemTime,
    /// The (node, subtask)s that have not acknowledged yet.
    pub(super) waiting: BTreeSet<(String, usize)>,
    /// Source positions, by source id.
    pub(super) sources: BTreeMap<String, serde_json::Value>,
    /// Sink state, by sink id.
    pub(super) sinks: BTreeMap<String, serde_json::Value>,
    /// Operator state, by operator id and subtask.
    pub(super) operators: BTreeMap<String, BTreeMap<usize, StateHandle>>,
    /// Bytes uploaded in all.
    pub(super) uploaded: u64,
    /// The longest barrier alignment of any task.
    pub(super) alignment: Duration,
}

impl InFlight {
    /// A snapshot triggered now, waiting for every one of `waiting`.
    pub(super) fn new(id: u64, kind: Kind, trigger: Trigger, last: bool, dir: String, request: Option<String>, waiting: BTreeSet<(String, usize)>) -> InFlight {
        InFlight {
            id,
            kind,
            trigger,
            last,
            dir,
            drained: false,
            request,
            uploaded_by: BTreeMap::new(),
            started: Instant::now(),
            triggered_at: SystemTime::now(),
            waiting,
            sources: BTreeMap::new(),
            sinks: BTreeMap::new(),
            operators: BTreeMap::new(),
            uploaded: 0,
            alignment: Duration::ZERO,
        }
    }

    /// Records an acknowledgement; `Ok(true)` once every task has acknowledged,
    /// `Err(reason)` when a task could not take its part. A repeated or unknown
    /// acknowledgement is ignored.
    pub(super) fn record(&mut self, ack: Ack) -> Result<bool, String> {
        if !self.waiting.remove(&(ack.node.clone(), ack.subtask)) {
            return Ok(false);
        }
        self.alignment = self.alignment.max(ack.alignment);
        match ack.payload {
            // A source of several subtasks: the union of their positions (each
            // names its own partitions), so a restore at any parallelism finds all.
            AckPayload::Source(pos) => match self.sources.get_mut(&ack.node) {
                Some(known) => merge(known, pos),
                None => {
                    self.sources.insert(ack.node, pos);
                }
            },
            AckPayload::Sink(state) => {
                self.sinks.insert(ack.node, state);
            }
            AckPayload::Operator(handle, uploaded) => {
                self.uploaded += uploaded;
                self.uploaded_by.insert((ack.node.clone(), ack.subtask), uploaded);
                self.operators.entry(ack.node).or_default().insert(ack.subtask, handle);
            }
            AckPayload::Failed(reason) => return Err(reason),
        }
        Ok(self.waiting.is_empty())
    }
}

/// Merges `more` into `into`: objects key by key, anything else replaced.
fn merge(into: &mut serde_json::Value, more: serde_json::Value) {
    match (into, more) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(old) => merge(old, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (into, more) => *into = more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_flight() -> InFlight {
        let waiting = [("src", 0), ("op", 0), ("op", 1), ("sink", 0)].map(|(n, s)| (n.to_string(), s)).into();
        InFlight::new(7, Kind::Checkpoint, Trigger::Periodic, false, "dir".into(), None, waiting)
    }

    fn ack(node: &str, subtask: usize, payload: AckPayload) -> Ack {
        Ack { checkpoint: 7, node: node.into(), subtask, alignment: Duration::ZERO, payload }
    }

    fn handle(size: u64) -> StateHandle {
        StateHandle { file: format!("f{size}"), sha256: "00".into(), size, format: "raw".into(), version: 1, range: None, pieces: Vec::new(), image: None }
    }

    #[test]
    fn done_once_every_task_acknowledged() {
        let mut f = in_flight();
        assert_eq!(f.record(ack("src", 0, AckPayload::Source(serde_json::json!({"next": 3})))), Ok(false));
        assert_eq!(f.record(ack("op", 1, AckPayload::Operator(handle(20), 20))), Ok(false));
        assert_eq!(f.record(ack("op", 0, AckPayload::Operator(handle(10), 0))), Ok(false));
        // A repeated or unknown acknowledgement changes nothing.
        assert_eq!(f.record(ack("op", 0, AckPayload::Operator(handle(99), 99))), Ok(false));
        assert_eq!(f.record(ack("nobody", 0, AckPayload::Sink(serde_json::Value::Null))), Ok(false));
        assert_eq!(f.record(ack("sink", 0, AckPayload::Sink(serde_json::json!("s")))), Ok(true));
        assert!(f.waiting.is_empty());
        assert_eq!(f.sources["src"], serde_json::json!({"next": 3}));
        assert_eq!(f.sinks["sink"], serde_json::json!("s"));
        assert_eq!(f.operators["op"].values().map(|h| h.size).collect::<Vec<_>>(), vec![10, 20], "by subtask");
        assert_eq!(f.uploaded, 20);
        assert_eq!(f.uploaded_by[&("op".to_string(), 1)], 20);
        assert_eq!(f.uploaded_by[&("op".to_string(), 0)], 0);
    }

    #[test]
    fn a_failed_acknowledgement_fails_the_snapshot() {
        let mut f = in_flight();
        assert_eq!(f.record(ack("src", 0, AckPayload::Source(serde_json::Value::Null))), Ok(false));
        assert_eq!(f.record(ack("op", 1, AckPayload::Failed("disk full".into()))), Err("disk full".to_string()));
    }

    #[test]
    fn positions_of_a_source_s_subtasks_are_merged() {
        let waiting = [("src", 0), ("src", 1)].map(|(n, s)| (n.to_string(), s)).into();
        let mut f = InFlight::new(1, Kind::Checkpoint, Trigger::Periodic, false, "d".into(), None, waiting);
        let pos =
            |s: usize, v: serde_json::Value| Ack { checkpoint: 1, node: "src".into(), subtask: s, alignment: Duration::ZERO, payload: AckPayload::Source(v) };
        assert_eq!(f.record(pos(0, serde_json::json!({"offsets": {"t": {"0": 5, "2": 7}}}))), Ok(false));
        assert_eq!(f.record(pos(1, serde_json::json!({"offsets": {"t": {"1": 6}, "u": {"0": 1}}}))), Ok(true));
        assert_eq!(f.sources["src"], serde_json::json!({"offsets": {"t": {"0": 5, "1": 6, "2": 7}, "u": {"0": 1}}}));
    }
}
