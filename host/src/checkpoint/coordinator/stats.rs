//! The coordinator's bookkeeping in [`CheckpointStats`]: counting a finished
//! snapshot, adding its [`Record`] to the history, and settling the user
//! request it answers.

use std::collections::BTreeMap;

use super::in_flight::InFlight;
use crate::checkpoint::metadata::Metadata;
use crate::control::{CheckpointStats, Kind, Record, SubtaskRecord, TriggerState};

/// Counts the completed snapshot `f`, written as `meta` (`state_size` bytes)
/// to `path` in `ms`, and completes its request.
pub(super) fn completed(stats: &mut CheckpointStats, f: &InFlight, meta: &Metadata, path: String, state_size: u64, ms: u64) {
    match f.kind {
        Kind::Checkpoint => {
            stats.completed += 1;
            stats.latest = Some(path.clone());
        }
        Kind::Savepoint => {
            stats.savepoints_completed += 1;
            if f.last {
                stats.final_savepoint = Some(path.clone());
            }
        }
    }
    let operators = meta
        .operators
        .iter()
        .map(|(id, op)| {
            let subtasks = op
                .subtasks
                .iter()
                .enumerate()
                .map(|(s, h)| SubtaskRecord {
                    subtask: s,
                    size: h.size,
                    uploaded: f.uploaded_by.get(&(id.clone(), s)).copied().unwrap_or(0),
                    format: h.format.clone(),
                    version: h.version,
                    sha256: h.sha256.clone(),
                })
                .collect();
            (id.clone(), subtasks)
        })
        .collect();
    stats.history.push(Record {
        id: f.id,
        kind: f.kind,
        trigger: f.trigger,
        status: "completed",
        reason: None,
        size: state_size,
        duration_ms: ms,
        alignment_ms: f.alignment.as_secs_f64() * 1e3,
        path: Some(path.clone()),
        operators,
    });
    if let Some(t) = f.request.as_ref().and_then(|t| stats.triggers.get_mut(t)) {
        t.status = TriggerState::Completed;
        t.path = Some(path);
    }
}

/// Counts the aborted snapshot `f`, which failed for `reason`, and fails its request.
pub(super) fn failed(stats: &mut CheckpointStats, f: &InFlight, reason: String) {
    match f.kind {
        Kind::Checkpoint => stats.failed += 1,
        Kind::Savepoint => stats.savepoints_failed += 1,
    }
    stats.history.push(Record {
        id: f.id,
        kind: f.kind,
        trigger: f.trigger,
        status: "failed",
        reason: Some(reason.clone()),
        size: 0,
        duration_ms: f.started.elapsed().as_millis() as u64,
        alignment_ms: f.alignment.as_secs_f64() * 1e3,
        path: None,
        operators: BTreeMap::new(),
    });
    if let Some(t) = f.request.as_ref().and_then(|t| stats.triggers.get_mut(t)) {
        t.status = TriggerState::Failed;
        t.reason = Some(reason);
    }
}
