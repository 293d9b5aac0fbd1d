//! What a finished job did: per node counters and checkpoint figures, printed
//! as the summary `host run` ends with.

use std::time::Duration;

use crate::control::CheckpointStats;

/// Counters of one node (all its subtasks).
#[derive(Clone, Debug, Default)]
pub struct NodeStats {
    /// Node id.
    pub id: String,
    /// `source`, `operator` or `sink`.
    pub kind: &'static str,
    /// Subtasks.
    pub parallelism: usize,
    /// Events received.
    pub events_in: u64,
    /// Events emitted or written.
    pub events_out: u64,
    /// Time inside the operator or connector, summed over subtasks.
    pub busy: Duration,
    /// Longest barrier alignment of any subtask.
    pub max_alignment: Duration,
}

/// What a finished job did.
#[derive(Clone, Debug)]
pub struct JobSummary {
    /// Per node, in pipeline order (sources, operators, sinks).
    pub nodes: Vec<NodeStats>,
    /// Wall time from the first event to the end.
    pub elapsed: Duration,
    /// Whether the job was stopped (Ctrl-C) rather than running out of input.
    pub stopped: bool,
    /// Checkpoints of this run.
    pub checkpoints: CheckpointStats,
    /// In-process restarts before this (successful) attempt.
    pub restarts: u32,
    /// Set when nothing ran (why, for the user): `--resume` of a pipeline that
    /// had finished, or a job cancelled while it was starting.
    pub nothing_ran: Option<String>,
}

impl JobSummary {
    /// The summary of a job that ran nothing: a `--resume` that found the
    /// pipeline finished, a cancel before data flowed (`stopped`).
    pub fn nothing_ran(why: String, stopped: bool) -> JobSummary {
        JobSummary { nodes: Vec::new(), elapsed: Duration::ZERO, stopped, checkpoints: CheckpointStats::default(), restarts: 0, nothing_ran: Some(why) }
    }
}

impl std::fmt::Display for JobSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(why) = &self.nothing_ran {
            return writeln!(f, "{why}");
        }
        let how = if self.stopped { "stopped" } else { "finished" };
        writeln!(f, "job {how} in {:.3}s", self.elapsed.as_secs_f64())?;
        writeln!(
            f,
            "{:<20} {:<8} {:>4} {:>12} {:>12} {:>12} {:>10} {:>10}",
            "node", "kind", "par", "events in", "events out", "events/s", "busy (s)", "align (ms)"
        )?;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        for n in &self.nodes {
            // A source's rate is what it emitted; every other node's what it received.
            let rate = if n.kind == "source" { n.events_out } else { n.events_in } as f64 / secs;
            writeln!(
                f,
                "{:<20} {:<8} {:>4} {:>12} {:>12} {:>12.0} {:>10.3} {:>10.1}",
                n.id,
                n.kind,
                n.parallelism,
                n.events_in,
                n.events_out,
                rate,
                n.busy.as_secs_f64(),
                n.max_alignment.as_secs_f64() * 1e3
            )?;
        }
        if self.restarts > 0 {
            writeln!(f, "restarts: {}", self.restarts)?;
        }
        let c = &self.checkpoints;
        writeln!(f, "checkpoints: {} completed, {} failed", c.completed, c.failed)?;
        if c.savepoints_completed + c.savepoints_failed > 0 {
            writeln!(f, "savepoints: {} completed, {} failed", c.savepoints_completed, c.savepoints_failed)?;
        }
        if let Some(from) = &c.restored_from {
            writeln!(f, "restored from: {from}")?;
        }
        if let Some(sp) = &c.final_savepoint {
            writeln!(f, "stopped with savepoint: {sp}")?;
        }
        match &c.kept {
            Some(kept) => writeln!(f, "kept checkpoint: {kept}")?,
            None if c.completed > 0 => writeln!(f, "checkpoints of this run deleted (checkpoints.on-finish: keep to keep the last)")?,
            None => {}
        }
        Ok(())
    }
}
