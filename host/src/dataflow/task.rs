//! The loops of the three kinds of task. Each runs on its own thread, takes its
//! part in checkpoints as barriers pass, publishes its live counters once per
//! batch ([`TaskCounters`]), and reports its totals when it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::error::TaskError;
use super::input::{Input, InputSet};
use super::message::{FINAL_WATERMARK, Message};
use super::output::Outputs;
use super::ports::{ConnectorError, Sink, Source};
use crate::checkpoint::Uploader;
use crate::control::{Ack, AckPayload, Barrier, CoordinatorInbox, Event, JobControl, SinkCommand, SourceCommand, TaskCounters};
use crate::runtime::OperatorInstance;

/// How often a waiting task looks at the job's stop and abort switches.
const POLL: Duration = Duration::from_millis(50);
/// How long a sink waits before it asks again for a commit its broker did not acknowledge.
const COMMIT_RETRY: Duration = Duration::from_secs(1);

/// Counters of one task.
#[derive(Clone, Debug, Default)]
pub struct TaskStats {
    /// Events received.
    pub events_in: u64,
    /// Events emitted (or written, for sinks).
    pub events_out: u64,
    /// Time spent inside the operator (guest calls) or connector.
    pub busy: Duration,
    /// Longest barrier alignment.
    pub max_alignment: Duration,
}

/// What a source needs to take part in checkpoints.
pub struct SourceLink {
    /// Source id.
    pub id: String,
    /// Subtask index.
    pub subtask: usize,
    /// Barrier triggers from the coordinator.
    pub commands: Receiver<SourceCommand>,
    /// Acknowledgements to the coordinator.
    pub inbox: CoordinatorInbox,
    /// Its live counters.
    pub counters: Arc<TaskCounters>,
}

impl SourceLink {
    fn inject(&self, b: Barrier, source: &dyn Source, out: &mut Outputs) -> Result<(), TaskError> {
        out.broadcast(|| Message::Barrier(b))?;
        let ack =
            Ack { checkpoint: b.id, node: self.id.clone(), subtask: self.subtask, alignment: Duration::ZERO, payload: AckPayload::Source(source.position()) };
        let _ = self.inbox.send(Event::Ack(ack));
        Ok(())
    }
}

/// Reads a source until it is exhausted (then waits for the final checkpoint) or the job stops.
pub fn run_source(
    mut source: Box<dyn Source>,
    mut out: Outputs,
    batch_size: usize,
    watermark_interval: Duration,
    link: SourceLink,
    ctl: Arc<JobControl>,
) -> Result<TaskStats, TaskError> {
    let mut stats = TaskStats::default();
    let ooo = source.out_of_orderness_ms();
    let (mut max_ts, mut last_wm, mut last_wm_at) = (i64::MIN, i64::MIN, Instant::now());
    loop {
        if ctl.is_aborted() {
            return Err(TaskError::Cancelled);
        }
        if ctl.is_stopped() {
            out.broadcast(|| Message::End)?;
            break;
        }
        let mut stopping = false;
        while let Ok(command) = link.commands.try_recv() {
            match command {
                SourceCommand::Trigger(b) => link.inject(b, source.as_ref(), &mut out)?,
                SourceCommand::Stop { barrier, drain } => {
                    if drain {
                        out.broadcast(|| Message::Watermark(FINAL_WATERMARK))?;
                    }
                    link.inject(barrier, source.as_ref(), &mut out)?;
                    out.broadcast(|| Message::End)?;
                    stopping = true;
                    break;
                }
            }
        }
        if stopping {
            break;
        }
        let t = Instant::now();
        let batch = source.next_batch(batch_size)?;
        let took = t.elapsed();
        stats.busy += took;
        let Some(batch) = batch else {
            out.broadcast(|| Message::Watermark(FINAL_WATERMARK))?;
            let _ = link.inbox.send(Event::SourceExhausted(link.id.clone(), link.subtask));
            wait_for_final_barrier(source.as_ref(), &mut out, &link, &ctl)?;
            break;
        };
        let _span = tracing::trace_span!("batch", events = batch.len()).entered();
        stats.events_in += batch.len() as u64;
        link.counters.batch(batch.len(), batch.len(), took);
        max_ts = max_ts.max(batch.max_timestamp().unwrap_or(i64::MIN));
        if batch.is_empty() && out.deadline().is_some_and(|d| d <= Instant::now()) {
            // A source that waited for input: what lingered goes now.
            out.flush()?;
        }
        out.emit(batch)?;
        let wm = source.watermark().unwrap_or_else(|| max_ts.saturating_sub(ooo).saturating_sub(1));
        if wm > last_wm && last_wm_at.elapsed() >= watermark_interval {
            out.broadcast(|| Message::Watermark(wm))?;
            link.counters.watermark(wm);
            (last_wm, last_wm_at) = (wm, Instant::now());
        }
    }
    stats.events_out = out.events_out;
    if source.malformed() > 0 {
        tracing::warn!(source = %link.id, malformed = source.malformed(), "malformed records were skipped or dead-lettered");
    }
    Ok(stats)
}

/// An exhausted source takes part in checkpoints still in flight, then ends after the final one.
fn wait_for_final_barrier(source: &dyn Source, out: &mut Outputs, link: &SourceLink, ctl: &JobControl) -> Result<(), TaskError> {
    loop {
        if ctl.is_aborted() {
            return Err(TaskError::Cancelled);
        }
        match link.commands.recv_timeout(POLL) {
            Ok(SourceCommand::Trigger(b) | SourceCommand::Stop { barrier: b, .. }) => {
                link.inject(b, source, out)?;
                if b.last {
                    out.broadcast(|| Message::End)?;
                    return Ok(());
                }
            }
            Err(RecvTimeoutError::Timeout) if ctl.is_stopped() => {
                out.broadcast(|| Message::End)?;
                return Ok(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Err(TaskError::Cancelled),
        }
    }
}

/// Feeds an operator subtask's instance from its inputs and routes what it emits.
pub fn run_operator(
    mut inst: OperatorInstance,
    mut inputs: InputSet,
    mut out: Outputs,
    uploader: Uploader,
    counters: Arc<TaskCounters>,
) -> Result<TaskStats, TaskError> {
    let mut stats = TaskStats::default();
    loop {
        match inputs.next(out.deadline()) {
            Input::Data { input, batch } => {
                let _span = tracing::trace_span!("batch", events = batch.len()).entered();
                let t = Instant::now();
                let result = inst.process_input(input, &batch)?;
                let took = t.elapsed();
                stats.busy += took;
                counters.batch(batch.len(), result.len(), took);
                let (queued, capacity) = inputs.fill();
                counters.queue(queued, capacity);
                out.emit(result)?;
            }
            Input::Watermark(ts) => {
                let t = Instant::now();
                let result = inst.on_watermark(ts)?;
                let took = t.elapsed();
                stats.busy += took;
                counters.batch(0, result.len(), took);
                counters.watermark(ts);
                out.emit(result)?;
                out.broadcast(|| Message::Watermark(ts))?;
            }
            Input::Barrier(b) => {
                // Only the copy out of the instance happens under the barrier;
                // hashing and upload run on the checkpoint runtime.
                let span = tracing::debug_span!("snapshot", checkpoint = b.id);
                let _e = span.enter();
                let t = Instant::now();
                let snapshot = inst.snapshot()?;
                stats.busy += t.elapsed();
                counters.busy(t.elapsed());
                counters.aligned(inputs.last_alignment);
                tracing::debug!(event = "snapshotted", checkpoint = b.id, size = snapshot.len(), us = t.elapsed().as_micros() as u64);
                out.broadcast(|| Message::Barrier(b))?;
                uploader.upload(b.id, inst.operator(), inst.subtask(), inputs.last_alignment, snapshot);
            }
            Input::Timeout => out.flush()?,
            Input::End => {
                out.broadcast(|| Message::End)?;
                break;
            }
            Input::UpstreamFailed => return Err(TaskError::Cancelled),
        }
    }
    stats.events_in = inputs.events_in;
    stats.events_out = out.events_out;
    stats.max_alignment = inputs.max_alignment;
    Ok(stats)
}

/// What a sink needs to take part in checkpoints.
pub struct SinkLink {
    /// Sink id.
    pub id: String,
    /// Commit notifications from the coordinator.
    pub commands: Receiver<SinkCommand>,
    /// Acknowledgements to the coordinator.
    pub inbox: CoordinatorInbox,
    /// Its live counters.
    pub counters: Arc<TaskCounters>,
}

/// Writes everything that reaches a sink; commits when checkpoints complete.
pub fn run_sink(mut sink: Box<dyn Sink>, mut inputs: InputSet, link: SinkLink, ctl: Arc<JobControl>) -> Result<TaskStats, TaskError> {
    let mut stats = TaskStats::default();
    let mut final_barrier = None;
    let mut committed = None;
    // Completed checkpoints not committed yet, oldest first, and when to try the first again.
    let mut to_commit = std::collections::VecDeque::new();
    let mut retry_at = Instant::now();
    let mut commit = |sink: &mut Box<dyn Sink>, committed: &mut Option<u64>| -> Result<(), TaskError> {
        while let Ok(SinkCommand::Commit(id)) = link.commands.try_recv() {
            to_commit.push_back(id);
        }
        while let Some(&id) = to_commit.front().filter(|_| Instant::now() >= retry_at) {
            match sink.commit(id) {
                Ok(()) => {
                    to_commit.pop_front();
                    *committed = Some(id);
                }
                // Not acknowledged yet: the sink goes on writing (and sees an abort), and
                // tries again a second later.
                Err(e @ ConnectorError::Unavailable { .. }) => {
                    tracing::warn!(sink = %link.id, checkpoint = id, error = %e, "commit not acknowledged yet; retrying");
                    retry_at = Instant::now() + COMMIT_RETRY;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    };
    loop {
        if ctl.is_aborted() {
            return Err(TaskError::Cancelled);
        }
        commit(&mut sink, &mut committed)?;
        match inputs.next(Some(Instant::now() + POLL)) {
            Input::Data { batch, .. } => {
                let _span = tracing::trace_span!("batch", events = batch.len()).entered();
                let t = Instant::now();
                sink.write(&batch)?;
                let took = t.elapsed();
                stats.busy += took;
                stats.events_out += batch.len() as u64;
                link.counters.batch(batch.len(), batch.len(), took);
                let (queued, capacity) = inputs.fill();
                link.counters.queue(queued, capacity);
            }
            Input::Barrier(b) => {
                let payload = match sink.snapshot(b.id) {
                    Ok(state) => AckPayload::Sink(state),
                    // The checkpoint fails; the sink goes on (and tries again at the next barrier).
                    Err(e @ ConnectorError::Unavailable { .. }) => AckPayload::Failed(e.to_string()),
                    Err(e) => return Err(e.into()),
                };
                link.counters.aligned(inputs.last_alignment);
                let ack = Ack { checkpoint: b.id, node: link.id.clone(), subtask: 0, alignment: inputs.last_alignment, payload };
                let _ = link.inbox.send(Event::Ack(ack));
                if b.last {
                    final_barrier = Some(b.id);
                }
            }
            Input::Watermark(ts) => link.counters.watermark(ts),
            Input::Timeout => {}
            Input::End => break,
            Input::UpstreamFailed => return Err(TaskError::Cancelled),
        }
    }
    // After the final barrier, the output is published once that checkpoint completes.
    if let Some(id) = final_barrier {
        loop {
            if ctl.is_aborted() {
                return Err(TaskError::Cancelled);
            }
            commit(&mut sink, &mut committed)?;
            if committed.is_some_and(|c| c >= id) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    sink.finish()?;
    stats.events_in = inputs.events_in;
    stats.max_alignment = inputs.max_alignment;
    Ok(stats)
}
