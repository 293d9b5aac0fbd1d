//! Why a job, or one of its tasks, fails.

use super::output::Disconnected;
use super::ports::ConnectorError;
use crate::checkpoint::CheckpointError;
use crate::runtime::RuntimeError;

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// An operator could not be loaded or failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A source or sink failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// Checkpoint storage or restore failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A task's thread could not be started.
    #[error("cannot start task thread {task}: {source}")]
    Thread {
        /// The task (`kind-node-subtask`).
        task: String,
        /// Why.
        source: std::io::Error,
    },
    /// A task's thread panicked (a bug of the host's).
    #[error("a task thread panicked")]
    Panicked,
    /// The checkpoint coordinator stopped abnormally (a bug of the host's).
    #[error("the checkpoint coordinator crashed: {0}")]
    Coordinator(String),
    /// The job was aborted without a task's failure to report.
    #[error("the job was cancelled")]
    Aborted,
}

/// Whether running a job again can get past a failure (Arroyo's `RetryHint`):
/// a property of the error, read by the restart loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// The same input or configuration fails the same way every time (a
    /// record that cannot be read, a refusal at start): never retried.
    Never,
    /// A failure while running: the job restarts from its last checkpoint, as
    /// its restart strategy allows; at the first start it is final.
    Restart,
    /// Something out of reach for now (a broker): retried as a restart, also
    /// while a restarted job starts again.
    Transient,
}

impl JobError {
    /// Whether and how this failure is retried.
    pub fn retry(&self) -> Retry {
        match self {
            JobError::Connector(ConnectorError::Record { .. } | ConnectorError::Position { .. }) => Retry::Never,
            JobError::Runtime(RuntimeError::Refused { .. }) => Retry::Never,
            JobError::Connector(ConnectorError::Unavailable { .. }) => Retry::Transient,
            _ => Retry::Restart,
        }
    }
}

/// Why a task ended early.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Its own failure.
    #[error(transparent)]
    Job(#[from] JobError),
    /// It stopped because another task failed.
    #[error("cancelled")]
    Cancelled,
}

impl From<RuntimeError> for TaskError {
    fn from(e: RuntimeError) -> Self {
        TaskError::Job(e.into())
    }
}
impl From<ConnectorError> for TaskError {
    fn from(e: ConnectorError) -> Self {
        TaskError::Job(e.into())
    }
}
impl From<Disconnected> for TaskError {
    fn from(_: Disconnected) -> Self {
        TaskError::Cancelled
    }
}
