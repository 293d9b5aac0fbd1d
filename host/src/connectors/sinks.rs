//! Sinks: `file`, `stdout` and `blackhole`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{ConnectorError, Sink};
use crate::dataflow::batch::{Batch, EventRef};
use crate::spec::{FileSinkSpec, SinkFormat};

/// Writes one event as a line in `format`.
pub fn write_line(out: &mut impl Write, format: SinkFormat, ev: &EventRef<'_>) -> std::io::Result<()> {
    match format {
        SinkFormat::Value => out.write_all(ev.value)?,
        SinkFormat::KeyValue => {
            if let Some(k) = ev.key {
                out.write_all(k)?;
                out.write_all(b"\t")?;
            }
            out.write_all(ev.value)?;
        }
        SinkFormat::Json => {
            let key = ev.key.map(|k| String::from_utf8_lossy(k).into_owned());
            let line = serde_json::json!({ "key": key, "value": String::from_utf8_lossy(ev.value), "ts": ev.timestamp });
            serde_json::to_writer(&mut *out, &line)?;
        }
    }
    out.write_all(b"\n")
}

/// Lines into a file (created or truncated at start).
pub struct FileSink {
    id: String,
    path: PathBuf,
    format: SinkFormat,
    out: BufWriter<File>,
}

impl FileSink {
    /// Creates the file of `spec` (relative to `base`), and its directory.
    pub fn create(spec: &FileSinkSpec, base: &Path) -> Result<FileSink, ConnectorError> {
        let path = if spec.path.is_absolute() { spec.path.clone() } else { base.join(&spec.path) };
        let io = |what, source| ConnectorError::Io { id: spec.id.clone(), what, path: path.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
        }
        let file = File::create(&path).map_err(|e| io("cannot create output file", e))?;
        Ok(FileSink { id: spec.id.clone(), path, format: spec.format, out: BufWriter::with_capacity(1 << 20, file) })
    }

    fn io(&self, source: std::io::Error) -> ConnectorError {
        ConnectorError::Io { id: self.id.clone(), what: "cannot write", path: self.path.clone(), source }
    }
}

impl Sink for FileSink {
    fn write(&mut self, batch: &Batch) -> Result<(), ConnectorError> {
        for ev in batch.iter() {
            write_line(&mut self.out, self.format, &ev).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        self.out.flush().map_err(|e| self.io(e))?;
        self.out.get_ref().sync_all().map_err(|e| self.io(e))
    }
}

/// Lines on standard output. At-least-once: after a restore, lines printed since
/// the restored checkpoint are printed again.
pub struct StdoutSink {
    format: SinkFormat,
}

impl StdoutSink {
    /// A stdout sink.
    pub fn new(format: SinkFormat) -> StdoutSink {
        StdoutSink { format }
    }
}

impl Sink for StdoutSink {
    fn write(&mut self, batch: &Batch) -> Result<(), ConnectorError> {
        let mut out = std::io::stdout().lock();
        for ev in batch.iter() {
            // A closed stdout (a pipe into `head`) is not the pipeline's failure.
            if write_line(&mut out, self.format, &ev).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        let _ = std::io::stdout().flush();
        Ok(())
    }
}

/// Drops every event (the task still counts them).
pub struct BlackholeSink;

impl Sink for BlackholeSink {
    fn write(&mut self, _batch: &Batch) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}
