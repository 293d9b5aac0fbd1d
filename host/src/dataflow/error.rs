//! Why a job, or one of its tasks, fails.

use super::output::Disconnected;
use crate::checkpoint::CheckpointError;
use crate::connectors::ConnectorError;
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
    /// Something of the host's own (a thread that could not start, …).
    #[error("{0}")]
    Host(String),
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
