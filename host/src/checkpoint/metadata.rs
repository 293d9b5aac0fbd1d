//! The metadata file of a checkpoint: written last, it is what makes a
//! checkpoint exist. Holds what a restore needs and what the API shows.
//! The snapshot [`Kind`], its [`Trigger`] and the [`StateHandle`]s it lists are
//! defined in [`crate::control`] and re-exported here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::control::{Kind, StateHandle, Trigger};
use crate::runtime::World;

/// Name of the metadata file inside a checkpoint directory.
pub const METADATA_FILE: &str = "_metadata";
/// The `format` field of every metadata file.
pub const FORMAT: &str = "cairn-checkpoint";
/// The metadata layout version this host writes and reads.
pub const VERSION: u32 = 1;

/// Where a promoted savepoint came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PromotedFrom {
    /// The snapshot promoted, as a URL.
    pub path: String,
    /// Its id.
    pub id: u64,
    /// Its kind.
    pub kind: Kind,
    /// What had started it.
    pub trigger: Trigger,
}

fn world_0_1() -> World {
    World::V0_1
}

/// One operator in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OperatorState {
    /// SHA-256 of the component that wrote the state.
    pub component_digest: String,
    /// The contract version that component targets (`0.1.0` when absent:
    /// metadata written before 0.2.0 existed).
    #[serde(default = "world_0_1")]
    pub world: World,
    /// Subtasks when the checkpoint was taken.
    pub parallelism: usize,
    /// State per subtask, by subtask index.
    pub subtasks: Vec<StateHandle>,
}

impl OperatorState {
    /// Whether any subtask holds state (a stateless operator's snapshots are empty).
    pub fn is_stateful(&self) -> bool {
        self.subtasks.iter().any(|s| s.size > 0)
    }
}

/// The checkpoint metadata file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Metadata {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version, [`VERSION`].
    pub version: u32,
    /// The pipeline's name.
    pub pipeline: String,
    /// The run that took it.
    pub run_id: String,
    /// Checkpoint id, increasing across the runs of a pipeline.
    pub id: u64,
    /// Checkpoint or savepoint.
    pub kind: Kind,
    /// What started it.
    pub trigger: Trigger,
    /// When it was triggered, RFC 3339.
    pub triggered_at: String,
    /// Trigger to completion, ms.
    pub duration_ms: u64,
    /// Total state bytes referenced.
    pub state_size: u64,
    /// Bytes uploaded for this checkpoint (unchanged state is not uploaded again).
    pub uploaded_size: u64,
    /// Source positions by source id.
    pub sources: BTreeMap<String, serde_json::Value>,
    /// Operator state by operator id.
    pub operators: BTreeMap<String, OperatorState>,
    /// Sink state (committed output, pending parts) by sink id.
    pub sinks: BTreeMap<String, serde_json::Value>,
    /// Set on a savepoint made by promotion: what it is a copy of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_from: Option<PromotedFrom>,
    /// Taken by `host stop --drain`: the final watermark passed every operator
    /// before it, so event-time operators restored from it drop all later input
    /// as late. A restore refuses it unless asked (`--allow-drained-state`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drained: bool,
}

/// Why a metadata file was refused.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Not JSON of the right shape.
    #[error("`{path}` is not a Cairn checkpoint metadata file: {message}")]
    Malformed {
        /// Where it was read from.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A version this host cannot read.
    #[error("`{path}` has metadata version {found}; this host reads version {VERSION}")]
    UnknownVersion {
        /// Where it was read from.
        path: String,
        /// The version found.
        found: u32,
    },
}

impl Metadata {
    /// One row of a listing (CLI and REST API): id, kind, trigger, run, time,
    /// size, duration and where it is (`path`: its directory as a URL).
    pub fn summary(&self, path: String) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "kind": self.kind, "trigger": self.trigger, "run-id": self.run_id,
            "triggered-at": self.triggered_at, "state-size": self.state_size,
            "duration-ms": self.duration_ms, "path": path,
        })
    }

    /// Parses and checks a metadata file read from `path` (named in errors).
    pub fn parse(bytes: &[u8], path: &str) -> Result<Metadata, MetadataError> {
        let malformed = |message: String| MetadataError::Malformed { path: path.into(), message };
        // Look at the version first, so a newer layout gets the right message.
        let head: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        if head.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(malformed(format!("`format` is not `{FORMAT}`")));
        }
        match head.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == VERSION as u64 => {}
            Some(v) => return Err(MetadataError::UnknownVersion { path: path.into(), found: v.min(u32::MAX as u64) as u32 }),
            None => return Err(malformed("no `version`".into())),
        }
        let meta: Metadata = serde_json::from_value(head).map_err(|e| malformed(e.to_string()))?;
        for (id, op) in &meta.operators {
            if op.subtasks.len() != op.parallelism {
                return Err(malformed(format!("operator `{id}` lists {} subtasks for parallelism {}", op.subtasks.len(), op.parallelism)));
            }
        }
        Ok(meta)
    }

    /// The JSON text of the file.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("metadata serializes")
    }
}
