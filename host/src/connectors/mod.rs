//! Sources and sinks: where events enter and leave a pipeline. They implement
//! the ports the dataflow drives ([`Source`], [`Sink`], in [`crate::dataflow::ports`]):
//! this module imports `dataflow`, never the reverse.

mod file_source;
mod generator;
mod kafka;
mod nexmark;
mod sinks;
mod split;

use std::path::Path;

use crate::spec::{SinkSpec, SourceSpec};

use crate::dataflow::ports::{ConnectorError, Sink, Source};

pub use file_source::FileSource;
pub use generator::Generator;
pub use kafka::{KafkaSink, KafkaSource};
pub use nexmark::NexmarkSource;
pub use sinks::{BlackholeSink, FileSink, StdoutSink};
pub use split::Split;

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

/// Checks that the sink described by `spec` could be opened with `restore`
/// (its state from a checkpoint) — what [`open_sink`] would refuse, it refuses —
/// without writing, truncating or fencing anything: `host check`.
pub fn check_sink(spec: &SinkSpec, base: &Path, restore: Option<&serde_json::Value>) -> Result<(), ConnectorError> {
    match spec {
        SinkSpec::Kafka(k) => KafkaSink::check(k, restore),
        SinkSpec::File(f) => FileSink::check(f, base, restore),
        SinkSpec::Stdout(_) | SinkSpec::Blackhole(_) => Ok(()),
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
