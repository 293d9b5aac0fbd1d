//! The running job: one task (thread) per source, operator subtask and sink,
//! connected by bounded channels that carry batches, watermarks and barriers.
//! What the tasks and the checkpoint coordinator exchange is in [`crate::control`].

pub mod batch;
mod error;
pub mod input;
pub mod message;
pub mod output;
pub mod ports;
pub(crate) mod task;

pub use crate::control::{JobControl, JobStatus};
pub use error::{JobError, Retry, TaskError};
