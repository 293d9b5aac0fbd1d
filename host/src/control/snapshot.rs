//! What a snapshot is, as the tasks, the coordinator and the metadata file
//! name it: its kind, what started it, and an operator subtask's state file.
//! The metadata file ([`crate::checkpoint::metadata`]) serializes these as they are.

use serde::{Deserialize, Serialize};

use crate::keys::HashRange;

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
    /// The key hashes the subtask owned (state written by a
    /// `cairn:operator@0.2.0` component; absent for 0.1.0 state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<HashRange>,
    /// The pieces of the file, in order (0.2.0 state): what each holds, where
    /// it lies in the file and its own SHA-256, so that a restore at another
    /// parallelism reads only the pieces it needs, and checks each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<PieceHandle>,
}

/// What happens to non-keyed operator state at a restore with another parallelism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Redistribution {
    /// Every new subtask receives every old subtask's operator pieces.
    Union,
    /// Only new subtask 0 receives them.
    FirstSubtask,
}

/// What one piece of 0.2.0 state holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PieceKind {
    /// The state of the keys whose hash lies in the range.
    Keyed(HashRange),
    /// Operator (non-keyed) state, redistributed as declared.
    Operator(Redistribution),
}

/// One piece of a state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PieceHandle {
    /// What it holds.
    pub kind: PieceKind,
    /// Where it starts in the file, bytes.
    pub offset: u64,
    /// Its length, bytes.
    pub size: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}
