//! Checkpoints: the coordinator injects barriers at the sources, every task
//! snapshots as the barrier passes and acknowledges, and the checkpoint exists
//! once its metadata file is written. State goes to one object_store location.
//!
//! Data flows one way: tasks → [`Ack`](crate::control::Ack)s → [`coordinator`] → [`storage`].
//! What tasks and the coordinator exchange is in [`crate::control`], below this module.

pub mod catalog;
pub mod coordinator;
mod digest;
pub mod layout;
pub mod lineage;
pub mod metadata;
pub mod owner;
mod pins;
pub mod rescale;
pub mod restore;
pub mod setup;
pub mod storage;
mod upload;

use std::collections::BTreeMap;

pub use crate::control::TriggerState;
pub use coordinator::{CheckpointConfig, Coordinator};
pub use metadata::{Kind, Metadata, StateHandle, Trigger};
pub use pins::Pins;
pub use storage::{Storage, StorageError};
pub use upload::Uploader;

/// Errors of the checkpoint machinery.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A metadata file was refused.
    #[error(transparent)]
    Metadata(#[from] metadata::MetadataError),
    /// A state file does not match its checksum.
    #[error("state file `{path}` is corrupt: SHA-256 is {actual}, the checkpoint says {expected}")]
    Corrupt {
        /// The file.
        path: String,
        /// Digest recorded in the metadata.
        expected: String,
        /// Digest of the bytes read.
        actual: String,
    },
    /// A checkpoint cannot be restored into this pipeline.
    #[error("{0}")]
    Incompatible(String),
    /// No checkpoint where one was expected.
    #[error("{0}")]
    NotFound(String),
    /// Too many checkpoints failed in a row.
    #[error("checkpoint {id} failed ({reason}); {failures} consecutive failures exceed `tolerable-failures: {tolerable}`")]
    TooManyFailures {
        /// The last failed checkpoint.
        id: u64,
        /// Why it failed.
        reason: String,
        /// Consecutive failures.
        failures: u32,
        /// The configured tolerance.
        tolerable: u32,
    },
}

/// Source positions, operator state and sink state to start from.
#[derive(Debug, Default)]
pub struct RestoreState {
    /// The checkpoint restored from, for logs and ids.
    pub from: Option<(String, u64)>,
    /// Positions by source id.
    pub sources: BTreeMap<String, serde_json::Value>,
    /// What each operator subtask restores from, by operator id, by (new) subtask.
    pub operators: BTreeMap<String, Vec<crate::runtime::Restore>>,
    /// How each operator's state is spread over its subtasks (the rescale plan), by operator id.
    pub plans: BTreeMap<String, rescale::OperatorPlan>,
    /// Sink state by sink id.
    pub sinks: BTreeMap<String, serde_json::Value>,
}
