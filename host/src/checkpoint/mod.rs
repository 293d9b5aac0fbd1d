//! Checkpoints: the coordinator injects barriers at the sources, every task
//! snapshots as the barrier passes and acknowledges, and the checkpoint exists
//! once its metadata file is written. State goes to one object_store location.
//!
//! Data flows one way: tasks → [`Ack`]s → [`coordinator`] → [`storage`].

pub mod catalog;
pub mod coordinator;
pub mod layout;
pub mod lineage;
pub mod metadata;
pub mod owner;
mod pins;
pub mod restore;
pub mod setup;
pub mod storage;
mod upload;

use std::collections::BTreeMap;

pub use coordinator::{CheckpointConfig, CheckpointStats, Coordinator, CoordinatorInbox, Event, Request, TriggerState, TriggerStatus};
pub use metadata::{Kind, Metadata, StateHandle, Trigger};
pub use pins::Pins;
pub use storage::{Storage, StorageError};
pub use upload::Uploader;

use crate::dataflow::message::Barrier;

/// What a task reports when a barrier passed it.
#[derive(Debug)]
pub enum AckPayload {
    /// A source's position at the barrier.
    Source(serde_json::Value),
    /// An operator subtask's uploaded state, and the bytes uploaded (0 when unchanged).
    Operator(StateHandle, u64),
    /// A sink's state at the barrier.
    Sink(serde_json::Value),
    /// The task could not take its part of the checkpoint.
    Failed(String),
}

/// One task's acknowledgement of a checkpoint.
#[derive(Debug)]
pub struct Ack {
    /// The checkpoint.
    pub checkpoint: u64,
    /// Node id.
    pub node: String,
    /// Subtask index.
    pub subtask: usize,
    /// What the task contributes.
    pub payload: AckPayload,
}

/// From the coordinator to a source.
#[derive(Debug, Clone, Copy)]
pub enum SourceCommand {
    /// Inject this barrier now.
    Trigger(Barrier),
    /// Stop: inject this (last) barrier, then end. With `drain`, first send the
    /// final watermark so that every event-time window flushes before it.
    Stop {
        /// The barrier of the stopping snapshot.
        barrier: Barrier,
        /// Send the final watermark first.
        drain: bool,
    },
}

/// From the coordinator to a sink.
#[derive(Debug, Clone, Copy)]
pub enum SinkCommand {
    /// Checkpoint `id` completed: commit the output it covers.
    Commit(u64),
}

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
    /// Snapshots by operator id, by subtask.
    pub operators: BTreeMap<String, Vec<crate::runtime::Snapshot>>,
    /// Sink state by sink id.
    pub sinks: BTreeMap<String, serde_json::Value>,
}
