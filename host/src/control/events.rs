//! What the coordinator hears: tasks' acknowledgements of a checkpoint,
//! exhausted sources, users' requests, and the end of the job.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::request::Request;
use super::snapshot::StateHandle;

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
    /// How long the task's inputs took to align on the barrier (zero for sources).
    pub alignment: Duration,
    /// What the task contributes.
    pub payload: AckPayload,
}

/// What the coordinator hears. (An acknowledgement is moved once per task and
/// checkpoint, never copied around: boxing it would only add an allocation.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A task acknowledged a checkpoint.
    Ack(Ack),
    /// A source subtask (id, subtask) read all of its input and waits for the final checkpoint.
    SourceExhausted(String, usize),
    /// Every task has ended: stop.
    Shutdown,
    /// The coordinator's own timer (never sent by tasks).
    Timer,
    /// A user asks for a snapshot.
    Request(Request),
}

/// Where tasks send [`Event`]s.
pub type CoordinatorInbox = UnboundedSender<Event>;
