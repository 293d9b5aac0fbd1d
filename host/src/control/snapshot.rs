//! What a snapshot is, as the tasks, the coordinator and the metadata file
//! name it: its kind, what started it, and an operator subtask's state file.
//! The metadata file ([`crate::checkpoint::metadata`]) serializes these as they are.

use serde::{Deserialize, Serialize};

/// What kind of snapshot this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A checkpoint, in the job's checkpoint area.
    Checkpoint,
    /// A savepoint, self-contained, in the savepoint area.
    Savepoint,
}

/// What started the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The periodic timer.
    Periodic,
    /// Bounded input ended: the last snapshot, which commits the sinks' tail.
    Final,
    /// Asked for by a user.
    Manual,
    /// Asked for by a user stopping the job: the last snapshot of the run, which
    /// commits the sinks' tail.
    Stop,
    /// A copy of another snapshot made by `host checkpoint promote` (its
    /// metadata's `promoted-from` says of what): only the user deletes it.
    Promoted,
}

/// One operator subtask's state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StateHandle {
    /// The file, relative to the directory holding the metadata file.
    pub file: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Encoding name declared by the operator.
    pub format: String,
    /// State schema version declared by the operator.
    pub version: u32,
}
