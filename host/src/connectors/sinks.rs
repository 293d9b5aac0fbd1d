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

/// Lines into a file, exactly once. Output is staged in part files in
/// `.<file>.pending/` beside the target; when the checkpoint that covers a part
/// completes, the part is appended to the target. The sink's checkpoint state is
/// the target's committed length and the parts not yet appended, so a restore
/// truncates the target to that length and appends those parts again; any other
/// staged part belonged to a checkpoint that never completed and is discarded.
pub struct FileSink {
    id: String,
    path: PathBuf,
    pending_dir: PathBuf,
    format: SinkFormat,
    run_id: String,
    /// Bytes of the target that are committed.
    committed_len: u64,
    /// Staged parts not yet appended: (checkpoint id, file name).
    pending: Vec<(u64, String)>,
    /// Parts appended by the latest commit: a restore from that checkpoint needs
    /// them again, so they are deleted only at the next commit.
    appended: Vec<String>,
    /// The part being written, and the checkpoint it belongs to.
    current: Option<(u64, BufWriter<File>)>,
    next_checkpoint: u64,
}

/// The checkpoint state of a [`FileSink`].
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileSinkState {
    committed_len: u64,
    pending: Vec<(u64, String)>,
    /// Length of each pending part (absent in checkpoints of older hosts): a
    /// part appended by a later commit is recognised in the target by it.
    #[serde(default)]
    pending_lens: Vec<u64>,
}

impl FileSink {
    /// Opens the sink of `spec` (relative to `base`): a fresh start empties the
    /// target; a restore brings it back to the state of the checkpoint.
    pub fn open(spec: &FileSinkSpec, base: &Path, run_id: &str, restore: Option<&serde_json::Value>) -> Result<FileSink, ConnectorError> {
        let mut sink = FileSink::new(spec, base, run_id);
        std::fs::create_dir_all(&sink.pending_dir).map_err(|e| sink.io("cannot create the directory", &sink.pending_dir.clone(), e))?;
        let state = sink.state(restore)?;
        sink.recover(state)?;
        Ok(sink)
    }

    /// Checks that the sink of `spec` could restore `restore` (what [`FileSink::open`]
    /// would refuse), reading only: the target and the staging directory are left as they are.
    pub fn check(spec: &FileSinkSpec, base: &Path, restore: Option<&serde_json::Value>) -> Result<(), ConnectorError> {
        let sink = FileSink::new(spec, base, "check");
        let state = sink.state(restore)?;
        let len = match std::fs::metadata(&sink.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(sink.io("cannot stat", &sink.path.clone(), e)),
        };
        sink.plan(&state, len).map(drop)
    }

    fn new(spec: &FileSinkSpec, base: &Path, run_id: &str) -> FileSink {
        let path = if spec.path.is_absolute() { spec.path.clone() } else { base.join(&spec.path) };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let pending_dir = dir.join(format!(".{name}.pending"));
        FileSink {
            id: spec.id.clone(),
            path,
            pending_dir,
            format: spec.format,
            run_id: run_id.into(),
            committed_len: 0,
            pending: Vec::new(),
            appended: Vec::new(),
            current: None,
            next_checkpoint: 0,
        }
    }

    /// The sink's state in a checkpoint, read.
    fn state(&self, restore: Option<&serde_json::Value>) -> Result<FileSinkState, ConnectorError> {
        match restore {
            None => Ok(FileSinkState { committed_len: 0, pending: Vec::new(), pending_lens: Vec::new() }),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| ConnectorError::Record { id: self.id.clone(), message: format!("cannot restore file sink state {v}: {e}") }),
        }
    }

    fn io(&self, what: &'static str, path: &Path, source: std::io::Error) -> ConnectorError {
        ConnectorError::Io { id: self.id.clone(), what, path: path.to_path_buf(), source }
    }

    /// Brings the target back to the snapshot: keeps the committed length plus
    /// any pending part that a later commit already appended (restoring an older
    /// snapshot), truncates the rest, appends the parts still staged, and
    /// discards every other staged part. Checks everything before it truncates,
    /// so a snapshot that cannot be restored changes nothing.
    fn recover(&mut self, state: FileSinkState) -> Result<(), ConnectorError> {
        let path = self.path.clone();
        let target = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&path);
        let target = target.map_err(|e| self.io("cannot open output file", &path, e))?;
        let len = target.metadata().map_err(|e| self.io("cannot stat", &path, e))?.len();
        let (keep, staged) = self.plan(&state, len)?;
        target.set_len(keep).map_err(|e| self.io("cannot truncate", &path, e))?;
        self.resume_at(target, keep, staged)
    }

    /// What [`FileSink::recover`] keeps of a target of `len` bytes (the committed
    /// length, plus parts a later commit appended) and which staged parts it
    /// appends; refuses when the output was changed since or a part is missing.
    fn plan(&self, state: &FileSinkState, len: u64) -> Result<(u64, Vec<(u64, String)>), ConnectorError> {
        let path = &self.path;
        let fail = |message: String| ConnectorError::Record { id: self.id.clone(), message };
        if len < state.committed_len {
            return Err(fail(format!(
                "{} holds {len} bytes but {} were committed at the checkpoint: the output was changed or removed since",
                path.display(),
                state.committed_len
            )));
        }
        let mut keep = state.committed_len;
        let mut staged = Vec::new();
        for (i, (id, name)) in state.pending.iter().enumerate() {
            if self.pending_dir.join(name).is_file() {
                staged.push((*id, name.clone()));
                continue;
            }
            // Gone from staging: a later commit appended it right after `keep`.
            match state.pending_lens.get(i) {
                Some(part_len) if staged.is_empty() && len >= keep + part_len => keep += part_len,
                _ => {
                    return Err(fail(format!(
                        "staged output `{}` of checkpoint {id} is missing from {} and not in {}",
                        name,
                        self.pending_dir.display(),
                        path.display()
                    )));
                }
            }
        }
        Ok((keep, staged))
    }

    /// Finishes [`FileSink::recover`] once the target is cut back to `keep`.
    fn resume_at(&mut self, target: File, keep: u64, staged: Vec<(u64, String)>) -> Result<(), ConnectorError> {
        drop(target);
        self.committed_len = keep;
        let names: Vec<String> = staged.iter().map(|(_, n)| n.clone()).collect();
        self.pending = staged;
        let last = self.pending.last().map_or(0, |(id, _)| *id);
        self.append_pending(last)?;
        let entries = std::fs::read_dir(&self.pending_dir).map_err(|e| self.io("cannot list", &self.pending_dir.clone(), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !names.contains(&name) && !self.appended.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Appends, in order, every staged part of checkpoints up to `id` to the target.
    fn append_pending(&mut self, id: u64) -> Result<(), ConnectorError> {
        let ready: Vec<(u64, String)> = self.pending.iter().filter(|(c, _)| *c <= id).cloned().collect();
        if ready.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let mut target = std::fs::OpenOptions::new().append(true).open(&path).map_err(|e| self.io("cannot open output file", &path, e))?;
        for (_, name) in &ready {
            let part = self.pending_dir.join(name);
            let mut f = File::open(&part).map_err(|e| self.io("cannot open staged part", &part, e))?;
            self.committed_len += std::io::copy(&mut f, &mut target).map_err(|e| self.io("cannot append to", &path, e))?;
        }
        target.sync_all().map_err(|e| self.io("cannot sync", &path, e))?;
        self.pending.retain(|(c, _)| *c > id);
        for old in std::mem::replace(&mut self.appended, ready.into_iter().map(|(_, n)| n).collect()) {
            let _ = std::fs::remove_file(self.pending_dir.join(old));
        }
        Ok(())
    }
}

impl Sink for FileSink {
    fn write(&mut self, batch: &Batch) -> Result<(), ConnectorError> {
        if self.current.is_none() {
            let name = format!("{}-{}.part", self.run_id, self.next_checkpoint);
            let part = self.pending_dir.join(&name);
            let f = File::create(&part).map_err(|e| self.io("cannot create staged part", &part, e))?;
            self.current = Some((self.next_checkpoint, BufWriter::with_capacity(1 << 20, f)));
        }
        let (_, out) = self.current.as_mut().expect("part open");
        let mut result = Ok(());
        for ev in batch.iter() {
            if let Err(e) = write_line(out, self.format, &ev) {
                result = Err(e);
                break;
            }
        }
        result.map_err(|e| self.io("cannot write staged part for", &self.path.clone(), e))
    }

    fn snapshot(&mut self, id: u64) -> Result<serde_json::Value, ConnectorError> {
        if let Some((_, mut out)) = self.current.take() {
            let path = self.path.clone();
            out.flush().map_err(|e| self.io("cannot flush staged part for", &path, e))?;
            out.get_ref().sync_all().map_err(|e| self.io("cannot sync staged part for", &path, e))?;
            // The part holds everything since the previous barrier: it belongs to checkpoint `id`.
            let old = self.pending_dir.join(format!("{}-{}.part", self.run_id, self.next_checkpoint));
            let name = format!("{}-{id}.part", self.run_id);
            std::fs::rename(&old, self.pending_dir.join(&name)).map_err(|e| self.io("cannot rename staged part", &old, e))?;
            self.pending.push((id, name));
        }
        self.next_checkpoint = id + 1;
        let mut pending_lens = Vec::with_capacity(self.pending.len());
        for (_, name) in &self.pending {
            let part = self.pending_dir.join(name);
            pending_lens.push(std::fs::metadata(&part).map_err(|e| self.io("cannot stat staged part", &part, e))?.len());
        }
        let state = FileSinkState { committed_len: self.committed_len, pending: self.pending.clone(), pending_lens };
        Ok(serde_json::to_value(state).expect("json"))
    }

    fn commit(&mut self, id: u64) -> Result<(), ConnectorError> {
        self.append_pending(id)
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        if let Some((_, mut out)) = self.current.take() {
            let path = self.path.clone();
            out.flush().map_err(|e| self.io("cannot flush staged part for", &path, e))?;
        }
        Ok(())
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
    fn snapshot(&mut self, _id: u64) -> Result<serde_json::Value, ConnectorError> {
        Ok(serde_json::Value::Null)
    }

    fn commit(&mut self, _id: u64) -> Result<(), ConnectorError> {
        Ok(())
    }

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

    fn snapshot(&mut self, _id: u64) -> Result<serde_json::Value, ConnectorError> {
        Ok(serde_json::Value::Null)
    }

    fn commit(&mut self, _id: u64) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}
