//! The running job: one task (thread) per source, operator subtask and sink,
//! connected by bounded channels that carry batches, watermarks and barriers.

pub mod batch;
pub mod input;
mod job;
pub mod message;
pub mod output;
mod task;

pub use job::{EndOfRun, Job, JobControl, JobError, JobStatus, JobSummary, NodeStats};
