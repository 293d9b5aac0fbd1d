//! Counters and history of a job's checkpoints and savepoints, as the logs,
//! the job summary and the API report them.

use std::collections::BTreeMap;

use super::request::TriggerStatus;
use super::snapshot::{Kind, Trigger};

/// One finished (completed or failed) checkpoint or savepoint, for logs and the API.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    /// Checkpoint id.
    pub id: u64,
    /// Checkpoint or savepoint.
    pub kind: Kind,
    /// What started it.
    pub trigger: Trigger,
    /// `completed` or `failed`.
    pub status: &'static str,
    /// Why it failed.
    pub reason: Option<String>,
    /// State bytes referenced.
    pub size: u64,
    /// Trigger to end, ms.
    pub duration_ms: u64,
    /// The longest barrier alignment of any task, ms.
    pub alignment_ms: f64,
    /// Its directory in storage (completed ones).
    pub path: Option<String>,
    /// State per operator, by subtask (completed ones).
    pub operators: BTreeMap<String, Vec<SubtaskRecord>>,
}

/// One operator subtask's part in a snapshot.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SubtaskRecord {
    /// Subtask index.
    pub subtask: usize,
    /// State bytes.
    pub size: u64,
    /// Bytes uploaded for this snapshot (0: unchanged since an earlier one).
    pub uploaded: u64,
    /// State format and version declared by the operator.
    pub format: String,
    /// State schema version.
    pub version: u32,
    /// SHA-256 of the state.
    pub sha256: String,
}

/// Counters and history of a job's checkpoints and savepoints (over every
/// attempt of the job: in-process restarts keep counting).
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CheckpointStats {
    /// Completed checkpoints.
    pub completed: u64,
    /// Failed (aborted) checkpoints.
    pub failed: u64,
    /// Completed savepoints.
    pub savepoints_completed: u64,
    /// Failed savepoints.
    pub savepoints_failed: u64,
    /// The newest completed checkpoint's directory.
    pub latest: Option<String>,
    /// The checkpoint this run was restored from.
    pub restored_from: Option<String>,
    /// Every checkpoint of this run, oldest first.
    pub history: Vec<Record>,
    /// The checkpoint kept when the job ended (persistent), if the policy kept one.
    pub kept: Option<String>,
    /// The savepoint the job was stopped with.
    pub final_savepoint: Option<String>,
    /// Snapshots asked for by users, by trigger id.
    #[serde(skip)]
    pub triggers: BTreeMap<String, TriggerStatus>,
}
