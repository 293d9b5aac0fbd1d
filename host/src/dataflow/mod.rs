//! The running job: one task (thread) per source, operator subtask and sink,
//! connected by bounded channels that carry batches, watermarks and barriers.
//! What the tasks and the checkpoint coordinator exchange is in [`crate::control`].

pub mod batch;
mod error;
pub mod input;
mod job;
pub mod message;
pub mod output;
mod task;

pub use crate::control::{JobControl, JobStatus};
pub use error::JobError;
pub use job::{EndOfRun, Job, JobSummary, NodeStats};
