//! Sources and sinks: where events enter and leave a pipeline.

mod file_source;
mod generator;
mod sinks;

use std::path::Path;

use crate::dataflow::batch::Batch;
use crate::spec::{SinkSpec, SourceSpec};

pub use file_source::FileSource;
pub use generator::Generator;
pub use sinks::{BlackholeSink, FileSink, StdoutSink};

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
}

/// A replayable source of events.
pub trait Source: Send {
    /// Up to `max` next events; `None` when the input is exhausted.
    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, ConnectorError>;
    /// How long the source may lag behind its latest event time.
    fn out_of_orderness_ms(&self) -> i64 {
        0
    }
}

/// A destination of events.
pub trait Sink: Send {
    /// Writes a batch.
    fn write(&mut self, batch: &Batch) -> Result<(), ConnectorError>;
    /// All input has arrived: make the output complete.
    fn finish(&mut self) -> Result<(), ConnectorError>;
}

/// Opens the source described by `spec`; relative paths are resolved against `base`.
pub fn open_source(spec: &SourceSpec, base: &Path) -> Result<Box<dyn Source>, ConnectorError> {
    Ok(match spec {
        SourceSpec::File(f) => Box::new(FileSource::open(f, base)?),
        SourceSpec::Generator(g) => Box::new(Generator::new(g)),
    })
}

/// Opens the sink described by `spec`; relative paths are resolved against `base`.
pub fn open_sink(spec: &SinkSpec, base: &Path) -> Result<Box<dyn Sink>, ConnectorError> {
    Ok(match spec {
        SinkSpec::File(f) => Box::new(FileSink::create(f, base)?),
        SinkSpec::Stdout(s) => Box::new(StdoutSink::new(s.format)),
        SinkSpec::Blackhole(_) => Box::new(BlackholeSink),
    })
}
