//! Sources and sinks: where events enter and leave a pipeline.

mod file_source;
mod generator;
mod kafka;
mod nexmark;
mod sinks;
mod split;

use std::path::Path;

use crate::dataflow::batch::Batch;
use crate::spec::{SinkSpec, SourceSpec};

pub use file_source::FileSource;
pub use generator::Generator;
pub use kafka::{KafkaSink, KafkaSource};
pub use nexmark::NexmarkSource;
pub use sinks::{BlackholeSink, FileSink, StdoutSink};
pub use split::Split;

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

/// Holds a source to a rate (events per second), counting from its start or last seek.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: Option<u64>,
    started: Option<(std::time::Instant, u64)>,
}

impl Pacer {
    /// A pacer for `rate` events/s (`None` or 0: unlimited).
    pub fn new(rate: Option<u64>) -> Pacer {
        Pacer { rate: rate.filter(|&r| r > 0), started: None }
    }

    /// Restarts the count (after a seek).
    pub fn reset(&mut self) {
        self.started = None;
    }

    /// How many of `want` events may be emitted now that `emitted` were; sleeps
    /// until the first of them is due. Batches stay ~10 ms of events long.
    pub fn admit(&mut self, emitted: u64, want: usize) -> usize {
        let Some(rate) = self.rate else { return want };
        let (t0, e0) = *self.started.get_or_insert((std::time::Instant::now(), emitted));
        let due = t0 + std::time::Duration::from_secs_f64(emitted.saturating_sub(e0) as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(wait);
        }
        want.min((rate / 100).max(1) as usize)
    }
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

/// Opens subtask `subtask` of the source described by `spec` (relative paths
/// against `base`), at `position` when restoring.
pub fn open_source(spec: &SourceSpec, base: &Path, subtask: usize, position: Option<&serde_json::Value>) -> Result<Box<dyn Source>, ConnectorError> {
    let mut source: Box<dyn Source> = match spec {
        // Positions are per partition: the source picks its own from the checkpoint.
        SourceSpec::Kafka(k) => return Ok(Box::new(KafkaSource::open(k, subtask, position)?)),
        SourceSpec::File(f) => Box::new(FileSource::open(f, base)?),
        SourceSpec::Generator(g) => Box::new(Generator::split(g, Split::new(subtask, g.parallelism))),
        SourceSpec::Nexmark(n) => Box::new(NexmarkSource::split(n, Split::new(subtask, n.parallelism))?),
    };
    if let Some(p) = position {
        source.seek(p)?;
    }
    Ok(source)
}

/// Whether every subtask of `spec` can start from `position` (a checkpoint's
/// merged positions) at the spec's parallelism; the message names the source
/// and says why not. Checked when a checkpoint is loaded, before any task starts.
pub fn check_position(spec: &SourceSpec, position: &serde_json::Value) -> Result<(), String> {
    let split = |n| (0..n).try_for_each(|s| Split::new(s, n).restore(position).map(drop));
    match spec {
        SourceSpec::Generator(g) => split(g.parallelism).map_err(|e| format!("generator source `{}` at parallelism {}: {e}", g.id, g.parallelism)),
        SourceSpec::Nexmark(n) => split(n.parallelism).map_err(|e| format!("nexmark source `{}` at parallelism {}: {e}", n.id, n.parallelism)),
        SourceSpec::File(_) | SourceSpec::Kafka(_) => Ok(()),
    }
}

/// Opens the sink described by `spec` (relative paths against `base`); `run_id`
/// names its staged files, `pipeline` its Kafka transactions; `restore` is its state from a checkpoint.
pub fn open_sink(spec: &SinkSpec, base: &Path, pipeline: &str, run_id: &str, restore: Option<&serde_json::Value>) -> Result<Box<dyn Sink>, ConnectorError> {
    Ok(match spec {
        SinkSpec::Kafka(k) => Box::new(KafkaSink::open(k, pipeline, restore)?),
        SinkSpec::File(f) => Box::new(FileSink::open(f, base, run_id, restore)?),
        SinkSpec::Stdout(s) => Box::new(StdoutSink::new(s.format)),
        SinkSpec::Blackhole(_) => Box::new(BlackholeSink),
    })
}
