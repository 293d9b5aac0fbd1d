//! `type: file`: lines or JSON lines from a file.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use super::{ConnectorError, Pacer, Source};
use crate::dataflow::batch::Batch;
use crate::spec::{FileFormat, FileSourceSpec, OnMalformed};

/// Reads a file line by line.
pub struct FileSource {
    spec: FileSourceSpec,
    path: PathBuf,
    reader: BufReader<File>,
    line_no: u64,
    offset: u64,
    line: Vec<u8>,
    pacer: Pacer,
    dead_letter: Option<(PathBuf, std::io::BufWriter<File>)>,
    malformed: u64,
}

impl FileSource {
    /// Opens the file of `spec` (relative to `base`).
    pub fn open(spec: &FileSourceSpec, base: &Path) -> Result<FileSource, ConnectorError> {
        let path = if spec.path.is_absolute() { spec.path.clone() } else { base.join(&spec.path) };
        let file =
            File::open(&path).map_err(|source| ConnectorError::Io { id: spec.id.clone(), what: "cannot open input file", path: path.clone(), source })?;
        let dead_letter = match &spec.on_malformed {
            OnMalformed::DeadLetter(p) => {
                let p = if p.is_absolute() { p.clone() } else { base.join(p) };
                let f = std::fs::OpenOptions::new().create(true).append(true).open(&p).map_err(|source| ConnectorError::Io {
                    id: spec.id.clone(),
                    what: "cannot open dead-letter file",
                    path: p.clone(),
                    source,
                })?;
                Some((p, std::io::BufWriter::new(f)))
            }
            _ => None,
        };
        Ok(FileSource {
            spec: spec.clone(),
            path,
            reader: BufReader::with_capacity(1 << 20, file),
            line_no: 0,
            offset: 0,
            line: Vec::new(),
            pacer: Pacer::new(spec.rate),
            dead_letter,
            malformed: 0,
        })
    }

    fn record_error(&self, message: String) -> ConnectorError {
        ConnectorError::Record { id: self.spec.id.clone(), message: format!("{}:{}: {message}", self.path.display(), self.line_no) }
    }

    fn push_json(&self, out: &mut Batch, line: &[u8]) -> Result<(), ConnectorError> {
        let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| self.record_error(format!("invalid JSON line: {e}")))?;
        let obj = v.as_object().ok_or_else(|| self.record_error("a JSON line must be an object".into()))?;
        let key = match obj.get(&self.spec.key_field) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.as_bytes().to_vec()),
            Some(other) => Some(other.to_string().into_bytes()),
        };
        let field = self.spec.timestamp_field.as_deref().unwrap_or("ts");
        let ts = match obj.get(field) {
            Some(t) => t.as_i64().ok_or_else(|| self.record_error(format!("field `{field}` must be an integer (ms since the epoch), not {t}")))?,
            // Without a named timestamp field: arrival order, like `format: lines`.
            None if self.spec.timestamp_field.is_none() => self.line_no as i64 - 1,
            None => return Err(self.record_error(format!("missing timestamp field `{field}`"))),
        };
        match obj.get(&self.spec.value_field) {
            Some(serde_json::Value::String(s)) => out.push(key.as_deref(), s.as_bytes(), ts),
            Some(other) => out.push(key.as_deref(), other.to_string().as_bytes(), ts),
            None => return Err(self.record_error(format!("missing value field `{}`", self.spec.value_field))),
        }
        Ok(())
    }
}

impl FileSource {
    /// Applies the `on-malformed` policy to a record that could not be read.
    fn malformed(&mut self, error: ConnectorError, line: &[u8]) -> Result<(), ConnectorError> {
        if self.spec.on_malformed == OnMalformed::Fail {
            return Err(error);
        }
        self.malformed += 1;
        if let Some((path, out)) = &mut self.dead_letter {
            let record = serde_json::json!({
                "source": self.spec.id,
                "line": self.line_no,
                "reason": error.to_string(),
                "record": String::from_utf8_lossy(line),
            });
            let written = serde_json::to_writer(&mut *out, &record).map_err(std::io::Error::from).and_then(|_| out.write_all(b"\n")).and_then(|_| out.flush());
            written.map_err(|source| ConnectorError::Io { id: self.spec.id.clone(), what: "cannot write dead-letter file", path: path.clone(), source })?;
        }
        Ok(())
    }
}

impl Source for FileSource {
    fn malformed(&self) -> u64 {
        self.malformed
    }

    fn position(&self) -> serde_json::Value {
        serde_json::json!({ "offset": self.offset, "line": self.line_no })
    }

    fn seek(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        let bad = |m: String| ConnectorError::Record { id: self.spec.id.clone(), message: m };
        let (Some(offset), Some(line)) = (position.get("offset").and_then(|v| v.as_u64()), position.get("line").and_then(|v| v.as_u64())) else {
            return Err(bad(format!("cannot restore file position {position}")));
        };
        let len = self.reader.get_ref().metadata().map(|m| m.len()).unwrap_or(0);
        if offset > len {
            return Err(bad(format!(
                "{} is {len} bytes, shorter than the checkpointed position {offset}: the input changed since the checkpoint",
                self.path.display()
            )));
        }
        self.reader.seek(std::io::SeekFrom::Start(offset)).map_err(|source| ConnectorError::Io {
            id: self.spec.id.clone(),
            what: "cannot seek in",
            path: self.path.clone(),
            source,
        })?;
        (self.offset, self.line_no) = (offset, line);
        self.pacer.reset();
        Ok(())
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, ConnectorError> {
        let max = self.pacer.admit(self.line_no, max);
        let mut out = Batch::with_capacity(max, max * 64);
        while out.len() < max {
            self.line.clear();
            let n = self.reader.read_until(b'\n', &mut self.line).map_err(|source| ConnectorError::Io {
                id: self.spec.id.clone(),
                what: "cannot read",
                path: self.path.clone(),
                source,
            })?;
            if n == 0 {
                break;
            }
            self.line_no += 1;
            self.offset += n as u64;
            let mut line = std::mem::take(&mut self.line);
            while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                line.pop();
            }
            let result = match self.spec.format {
                FileFormat::Lines if std::str::from_utf8(&line).is_err() => Err(self.record_error("line is not valid UTF-8".into())),
                FileFormat::Lines => {
                    out.push(None, &line, self.line_no as i64 - 1);
                    Ok(())
                }
                FileFormat::Json if line.iter().all(u8::is_ascii_whitespace) => Ok(()),
                FileFormat::Json => self.push_json(&mut out, &line),
            };
            if let Err(e) = result {
                self.malformed(e, &line)?;
            }
            self.line = line;
        }
        Ok(if out.is_empty() { None } else { Some(out) })
    }

    fn out_of_orderness_ms(&self) -> i64 {
        self.spec.out_of_orderness.0.as_millis() as i64
    }
}
