//! Running a built job: a thread per task, the coordinator on the I/O
//! runtime, the first failure reported, the summary gathered.

use std::collections::BTreeMap;
use std::time::Instant;

use super::build::{Job, TaskEntry};
use super::summary::{JobSummary, NodeStats};
use crate::control::{Event, JobStatus};
use crate::dataflow::{JobError, TaskError};

impl Job {
    /// Runs every task to the end. Returns the first failure, if any.
    pub fn run(self) -> Result<JobSummary, JobError> {
        let started = Instant::now();
        let coordinator = self.rt.spawn(self.coordinator.run());
        self.ctl.attach(Some(self.inbox.clone()));
        self.ctl.set_status(JobStatus::Running);
        let mut handles = Vec::new();
        for TaskEntry { id, kind, subtask, launch } in self.tasks {
            let ctl = self.ctl.clone();
            let name = format!("{kind}-{id}-{subtask}");
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    let span = tracing::info_span!("task", node = %id, subtask);
                    let _e = span.enter();
                    let r = launch();
                    if matches!(r, Err(TaskError::Job(_))) {
                        ctl.abort();
                    }
                    (id, r)
                })
                .map_err(|source| JobError::Thread { task: name.clone(), source })?;
            handles.push(handle);
        }
        let mut stats: BTreeMap<String, NodeStats> = BTreeMap::new();
        let mut failure = None;
        for h in handles {
            let (id, result) = h.join().map_err(|_| JobError::Panicked)?;
            match result {
                Ok(s) => {
                    let n = stats.entry(id).or_default();
                    n.events_in += s.events_in;
                    n.events_out += s.events_out;
                    n.busy += s.busy;
                    n.max_alignment = n.max_alignment.max(s.max_alignment);
                }
                Err(TaskError::Job(e)) => {
                    failure.get_or_insert(e);
                }
                Err(TaskError::Cancelled) => {}
            }
        }
        self.ctl.attach(None);
        let _ = self.inbox.send(Event::Shutdown);
        let coordinated = self.rt.block_on(coordinator).map_err(|e| JobError::Coordinator(e.to_string()))?;
        if let Some(e) = failure {
            return Err(e);
        }
        coordinated?;
        if self.ctl.is_aborted() {
            return Err(JobError::Aborted);
        }
        let nodes = self
            .order
            .into_iter()
            .map(|(id, kind, parallelism)| {
                let s = stats.remove(&id).unwrap_or_default();
                NodeStats { id, kind, parallelism, ..s }
            })
            .collect();
        let checkpoints = self.stats.lock().expect("stats").clone();
        Ok(JobSummary { nodes, elapsed: started.elapsed(), stopped: self.ctl.is_stopped(), checkpoints, restarts: 0, nothing_ran: None })
    }
}
