//! The ports of the dataflow: what a source task reads from and a sink task
//! writes to. They belong to the dataflow that drives them; `connectors`
//! implements them (and imports this module, never the reverse).

use super::batch::Batch;

/// Errors of sources and sinks; each names the connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Reading or writing a file failed.
    #[error("`{id}`: {what} {path}: {source}")]
    Io {
        /// Connector id.
        id: String,
        /// What was being done.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A record could not be read.
    #[error("`{id}`: {message}")]
    Record {
        /// Connector id.
        id: String,
        /// What is wrong, with the record's position.
        message: String,
    },
    /// A source's restored position does not fit it (another parallelism
    /// than a split source can take, …).
    #[error("{message}")]
    Position {
        /// Connector id.
        id: String,
        /// What does not fit, naming the source and the checkpoint.
        message: String,
    },
    /// A Kafka source or sink failed.
    #[error("{who}: {message}")]
    Kafka {
        /// The connector, e.g. "kafka sink `out`".
        who: String,
        /// The cause.
        message: String,
    },
    /// A connector's broker is out of reach, for now. At a barrier, the sink
    /// cannot take its part in the checkpoint but goes on: that checkpoint
    /// fails, the job does not. While a restarted job starts, the restart is a
    /// failed attempt and is tried again (at a job's first start it is final).
    #[error("{who}: {message}")]
    Unavailable {
        /// The connector.
        who: String,
        /// The cause.
        message: String,
    },
}

/// A replayable source of events.
pub trait Source: Send {
    /// Up to `max` next events; `None` when the input is exhausted.
    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, ConnectorError>;
    /// The source's own watermark, when it tracks event time itself (per
    /// partition); `None`: the task derives it from the newest event time seen.
    fn watermark(&self) -> Option<i64> {
        None
    }
    /// How long the source may lag behind its latest event time.
    fn out_of_orderness_ms(&self) -> i64 {
        0
    }
    /// Records dropped as malformed so far (skipped or dead-lettered).
    fn malformed(&self) -> u64 {
        0
    }
    /// Where the next event will be read from, recorded in checkpoints.
    fn position(&self) -> serde_json::Value;
    /// Rewinds (or forwards) to a position recorded by [`Source::position`].
    fn seek(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError>;
}

/// A destination of events. Exactly-once sinks stage output and publish it in
/// [`Sink::commit`] (two-phase commit with the checkpoints).
pub trait Sink: Send {
    /// Writes a batch.
    fn write(&mut self, batch: &Batch) -> Result<(), ConnectorError>;
    /// A barrier of checkpoint `id` passed: make what was written so far durable
    /// (pre-commit) and return the state a restore needs.
    fn snapshot(&mut self, id: u64) -> Result<serde_json::Value, ConnectorError>;
    /// Checkpoint `id` completed: publish the output it covers. `Unavailable`
    /// when the broker did not acknowledge in time: the caller calls again
    /// (with the same `id`) until it succeeds, and can see the job abort meanwhile.
    fn commit(&mut self, id: u64) -> Result<(), ConnectorError>;
    /// The job is ending: flush what can be flushed (uncommitted output stays unpublished).
    fn finish(&mut self) -> Result<(), ConnectorError>;
}
