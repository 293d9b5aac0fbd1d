//! The loops of the three kinds of task. Each runs on its own thread and
//! reports its counters when it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::input::{Input, InputSet};
use super::job::{JobControl, TaskError};
use super::message::{FINAL_WATERMARK, Message};
use super::output::Outputs;
use crate::connectors::{Sink, Source};
use crate::runtime::OperatorInstance;

/// Counters of one task.
#[derive(Clone, Debug, Default)]
pub struct TaskStats {
    /// Events received.
    pub events_in: u64,
    /// Events emitted (or written, for sinks).
    pub events_out: u64,
    /// Time spent inside the operator (guest calls) or connector.
    pub busy: Duration,
}

/// Reads a source until it is exhausted or the job stops.
pub fn run_source(
    mut source: Box<dyn Source>,
    mut out: Outputs,
    batch_size: usize,
    watermark_interval: Duration,
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
        let t = Instant::now();
        let batch = source.next_batch(batch_size)?;
        stats.busy += t.elapsed();
        let Some(batch) = batch else {
            out.broadcast(|| Message::Watermark(FINAL_WATERMARK))?;
            out.broadcast(|| Message::End)?;
            break;
        };
        let _span = tracing::trace_span!("batch", events = batch.len()).entered();
        stats.events_in += batch.len() as u64;
        max_ts = max_ts.max(batch.max_timestamp().unwrap_or(i64::MIN));
        out.emit(batch)?;
        let wm = max_ts.saturating_sub(ooo).saturating_sub(1);
        if wm > last_wm && last_wm_at.elapsed() >= watermark_interval {
            out.broadcast(|| Message::Watermark(wm))?;
            (last_wm, last_wm_at) = (wm, Instant::now());
        }
    }
    stats.events_out = out.events_out;
    Ok(stats)
}

/// Feeds an operator subtask's instance from its inputs and routes what it emits.
pub fn run_operator(mut inst: OperatorInstance, mut inputs: InputSet, mut out: Outputs) -> Result<TaskStats, TaskError> {
    let mut stats = TaskStats::default();
    loop {
        match inputs.next(out.deadline()) {
            Input::Data(batch) => {
                let _span = tracing::trace_span!("batch", events = batch.len()).entered();
                let t = Instant::now();
                let result = inst.process(&batch)?;
                stats.busy += t.elapsed();
                out.emit(result)?;
            }
            Input::Watermark(ts) => {
                let t = Instant::now();
                let result = inst.on_watermark(ts)?;
                stats.busy += t.elapsed();
                out.emit(result)?;
                out.broadcast(|| Message::Watermark(ts))?;
            }
            Input::Barrier(b) => out.broadcast(|| Message::Barrier(b))?,
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
    Ok(stats)
}

/// Writes everything that reaches a sink.
pub fn run_sink(mut sink: Box<dyn Sink>, mut inputs: InputSet) -> Result<TaskStats, TaskError> {
    let mut stats = TaskStats::default();
    loop {
        match inputs.next(None) {
            Input::Data(batch) => {
                let _span = tracing::trace_span!("batch", events = batch.len()).entered();
                let t = Instant::now();
                sink.write(&batch)?;
                stats.busy += t.elapsed();
                stats.events_out += batch.len() as u64;
            }
            Input::Watermark(_) | Input::Barrier(_) | Input::Timeout => {}
            Input::End => {
                sink.finish()?;
                break;
            }
            Input::UpstreamFailed => return Err(TaskError::Cancelled),
        }
    }
    stats.events_in = inputs.events_in;
    Ok(stats)
}
