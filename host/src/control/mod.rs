//! The control plane between the running tasks and the checkpoint
//! coordinator: barriers and commands the coordinator sends, acknowledgements
//! and requests it hears, the job's shared switches, and the checkpoint
//! statistics and live task counters that the API reads.
//!
//! This module sits below both [`dataflow`](crate::dataflow) and
//! [`checkpoint`](crate::checkpoint): both import from it, and it imports
//! neither, so the coordinator does not depend on the tasks.

mod commands;
mod events;
mod job;
mod metrics;
mod request;
mod snapshot;
mod stats;

pub use commands::{Barrier, SinkCommand, SourceCommand};
pub use events::{Ack, AckPayload, CoordinatorInbox, Event};
pub use job::{JobControl, JobStatus};
pub use metrics::{JobCounters, TaskCounters, TaskReading, TaskSample};
pub use request::{Request, TriggerState, TriggerStatus};
pub use snapshot::{ImageHandle, Kind, PieceHandle, PieceKind, Redistribution, StateHandle, Trigger};
pub use stats::{CheckpointStats, Record, SubtaskRecord};
