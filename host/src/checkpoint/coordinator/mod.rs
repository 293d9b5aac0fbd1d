//! The checkpoint coordinator: triggers snapshots — periodic checkpoints, a
//! final one when bounded input ends, periodic savepoints, and checkpoints and
//! savepoints asked for by users (also to stop the job) — collects every task's
//! acknowledgement, writes the metadata last, tells the sinks to commit, and
//! applies retention. Checkpoints and savepoints are one mechanism (FLIP-10):
//! only where the result is written and what deletes it differ.
//! Pacing follows Flink: interval, timeout, minimum pause, one in flight, and a
//! number of tolerable consecutive checkpoint failures (a failed savepoint is
//! reported to whoever asked for it and does not count).

mod in_flight;
mod pacing;
mod stats;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::Sender;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::Instrument;

use self::in_flight::InFlight;
use self::pacing::Pacing;
use super::metadata::{FORMAT, METADATA_FILE, Metadata, OperatorState, VERSION};
use super::owner::Owner;
use super::{CheckpointError, Pins, Storage, catalog, layout};
use crate::control::{Barrier, CheckpointStats, Event, JobControl, Kind, Request, SinkCommand, SourceCommand, Trigger, TriggerState, TriggerStatus};

/// Pacing and placement of a job's checkpoints.
#[derive(Clone, Debug)]
pub struct CheckpointConfig {
    /// Pipeline name.
    pub pipeline: String,
    /// This run's id.
    pub run_id: String,
    /// Periodic interval; `None`: only the final checkpoint.
    pub interval: Option<Duration>,
    /// Abort a checkpoint not complete after this long.
    pub timeout: Duration,
    /// Least time between one checkpoint's end and the next one's start.
    pub min_pause: Duration,
    /// Consecutive failures tolerated.
    pub tolerable_failures: u32,
    /// Completed checkpoints of this run to keep.
    pub retain: usize,
    /// Id of the first checkpoint of this run.
    pub first_id: u64,
    /// Periodic savepoint interval; `None`: none.
    pub savepoint_interval: Option<Duration>,
    /// Periodic savepoints to keep (`None`: no count limit).
    pub savepoint_retain: Option<usize>,
    /// Periodic savepoints older than this are deleted.
    pub savepoint_max_age: Option<Duration>,
}

/// The tasks that take part in every checkpoint.
#[derive(Default)]
pub struct Participants {
    /// Each source's command channel.
    pub sources: Vec<(String, Sender<SourceCommand>)>,
    /// Each sink's command channel.
    pub sinks: Vec<(String, Sender<SinkCommand>)>,
    /// Every (node, subtask) that acknowledges.
    pub tasks: BTreeSet<(String, usize)>,
    /// Operator id → (component digest, parallelism, contract version).
    pub operators: BTreeMap<String, (String, usize, crate::runtime::World)>,
}

/// The coordinator of one job.
pub struct Coordinator {
    cfg: CheckpointConfig,
    storage: Storage,
    pins: Pins,
    inbox: UnboundedReceiver<Event>,
    parts: Participants,
    ctl: Arc<JobControl>,
    stats: Arc<Mutex<CheckpointStats>>,
    owner: Arc<Owner>,
}

impl Coordinator {
    /// A coordinator for the tasks in `parts`, hearing from `inbox`, writing
    /// into the storage of `owner` (which it asks after every snapshot).
    pub fn new(
        cfg: CheckpointConfig,
        owner: Arc<Owner>,
        inbox: UnboundedReceiver<Event>,
        parts: Participants,
        ctl: Arc<JobControl>,
        stats: Arc<Mutex<CheckpointStats>>,
    ) -> Coordinator {
        let (storage, pins) = (owner.storage().clone(), owner.pins().clone());
        Coordinator { cfg, storage, pins, inbox, parts, ctl, stats, owner }
    }

    /// Runs until [`Event::Shutdown`]. Fails when checkpoints fail more often in a
    /// row than tolerated, or the final (or stopping) snapshot fails; the job then fails.
    pub async fn run(mut self) -> Result<(), CheckpointError> {
        let mut next_id = self.cfg.first_id;
        let mut in_flight: Option<InFlight> = None;
        let mut pacing = Pacing::new(self.cfg.interval, self.cfg.savepoint_interval, self.cfg.min_pause, self.cfg.timeout, Instant::now());
        let mut queued: VecDeque<Request> = VecDeque::new();
        let mut exhausted = BTreeSet::new();
        let mut failures = 0u32;
        let mut final_done = false;
        loop {
            if in_flight.is_none() {
                if final_done || self.ctl.is_stopped() {
                    self.fail_queued(&mut queued, "the job is ending: no more snapshots");
                } else {
                    let all_exhausted = exhausted.len() == self.parts.sources.len();
                    let now = Instant::now();
                    if let Some(r) = queued.pop_front() {
                        let trigger = if r.stop.is_some() { Trigger::Stop } else { Trigger::Manual };
                        in_flight = Some(self.trigger(next_id, r.kind, trigger, r.stop, Some(r.trigger_id)));
                    } else if all_exhausted {
                        in_flight = Some(self.trigger(next_id, Kind::Checkpoint, Trigger::Final, None, None));
                    } else if pacing.savepoint_due(now) {
                        in_flight = Some(self.trigger(next_id, Kind::Savepoint, Trigger::Periodic, None, None));
                    } else if pacing.checkpoint_due(now) {
                        in_flight = Some(self.trigger(next_id, Kind::Checkpoint, Trigger::Periodic, None, None));
                    }
                    if in_flight.is_some() {
                        next_id += 1;
                    }
                }
            }
            let deadline = pacing.deadline(in_flight.as_ref().map(|f| f.started), Instant::now());
            let wake = tokio::select! {
                e = self.inbox.recv() => e,
                _ = tokio::time::sleep_until(deadline.into()) => Some(Event::Timer),
            };
            let outcome = match wake {
                None | Some(Event::Shutdown) => {
                    if let Some(f) = in_flight.take() {
                        self.abort(f, "the job ended".into()).await;
                    }
                    self.fail_queued(&mut queued, "the job ended");
                    return Ok(());
                }
                Some(Event::SourceExhausted(id, subtask)) => {
                    exhausted.insert((id, subtask));
                    continue;
                }
                Some(Event::Request(r)) => {
                    queued.push_back(r);
                    continue;
                }
                // A checkpoint timed out, or the next periodic one is due.
                Some(Event::Timer) => match in_flight.take() {
                    Some(f) if pacing.timed_out(f.started, Instant::now()) => {
                        let reason = format!("timed out after {:?}; still waiting for {:?}", self.cfg.timeout, f.waiting);
                        Err((f, reason))
                    }
                    other => {
                        in_flight = other;
                        continue;
                    }
                },
                Some(Event::Ack(ack)) => match in_flight.as_mut() {
                    Some(f) if f.id == ack.checkpoint => match f.record(ack) {
                        Ok(false) => continue,
                        Ok(true) => Ok(in_flight.take().expect("in flight")),
                        Err(reason) => Err((in_flight.take().expect("in flight"), reason)),
                    },
                    _ => continue, // late acknowledgement of an aborted checkpoint
                },
            };
            let f = match outcome {
                Ok(f) => {
                    let span = tracing::info_span!("checkpoint", id = f.id, kind = ?f.kind);
                    match self.complete(&f).instrument(span).await {
                        Ok(()) => {
                            final_done |= f.last;
                            match f.kind {
                                Kind::Checkpoint => {
                                    failures = 0;
                                    if final_done {
                                        pacing.no_more_checkpoints();
                                    } else {
                                        pacing.checkpoint_ended(f.started, Instant::now());
                                    }
                                }
                                Kind::Savepoint if f.trigger == Trigger::Periodic => {
                                    pacing.periodic_savepoint_completed(f.started);
                                }
                                Kind::Savepoint => {}
                            }
                            continue;
                        }
                        Err(e) => (f, e.to_string()),
                    }
                }
                Err(failed) => failed,
            };
            let (f, reason) = f;
            let (id, kind, trigger, last) = (f.id, f.kind, f.trigger, f.last);
            match kind {
                Kind::Checkpoint => pacing.checkpoint_ended(f.started, Instant::now()),
                Kind::Savepoint if trigger == Trigger::Periodic => pacing.periodic_savepoint_failed(Instant::now()),
                Kind::Savepoint => {}
            }
            self.abort(f, reason.clone()).await;
            // The run's last snapshot failed: the sources have ended, so the job fails
            // (and restarts from its last checkpoint if its restart strategy allows).
            if last {
                self.fail_queued(&mut queued, "the job's last snapshot failed");
                self.ctl.abort();
                return Err(CheckpointError::TooManyFailures { id, reason, failures: 1, tolerable: 0 });
            }
            if kind == Kind::Savepoint {
                continue;
            }
            failures += 1;
            if failures > self.cfg.tolerable_failures {
                self.fail_queued(&mut queued, "the job failed: too many checkpoints failed");
                self.ctl.abort();
                return Err(CheckpointError::TooManyFailures { id, reason, failures, tolerable: self.cfg.tolerable_failures });
            }
        }
    }

    fn fail_queued(&self, queued: &mut VecDeque<Request>, reason: &str) {
        for r in queued.drain(..) {
            self.set_trigger(&r.trigger_id, |t| {
                t.status = TriggerState::Failed;
                t.reason = Some(reason.to_string());
            });
        }
    }

    fn set_trigger(&self, trigger_id: &str, update: impl FnOnce(&mut TriggerStatus)) {
        if let Some(t) = self.stats.lock().expect("stats").triggers.get_mut(trigger_id) {
            update(t);
        }
    }

    fn trigger(&self, id: u64, kind: Kind, trigger: Trigger, stop: Option<bool>, request: Option<String>) -> InFlight {
        let _span = tracing::info_span!("checkpoint", id).entered();
        let last = trigger == Trigger::Final || stop.is_some();
        tracing::info!(event = "triggered", checkpoint = id, kind = ?kind, trigger = ?trigger, last, "{} triggered", noun(kind));
        let barrier = Barrier { id, last };
        for (_, tx) in &self.parts.sources {
            let command = match stop {
                Some(drain) => SourceCommand::Stop { barrier, drain },
                None => SourceCommand::Trigger(barrier),
            };
            let _ = tx.send(command);
        }
        if let Some(t) = &request {
            self.set_trigger(t, |t| {
                t.status = TriggerState::InProgress;
                t.id = Some(id);
            });
        }
        let dir = match kind {
            Kind::Checkpoint => layout::checkpoint_dir(&self.cfg.pipeline, &self.cfg.run_id, id),
            Kind::Savepoint => layout::savepoint_dir(&self.cfg.pipeline, id),
        };
        let mut f = InFlight::new(id, kind, trigger, last, dir, request, self.parts.tasks.clone());
        f.drained = stop == Some(true);
        f
    }

    async fn complete(&self, f: &InFlight) -> Result<(), CheckpointError> {
        // State handles are written relative to the checkpoint directory; a
        // savepoint copies what they reference into its own directory.
        let checkpoint_dir = layout::checkpoint_dir(&self.cfg.pipeline, &self.cfg.run_id, f.id);
        let operators: BTreeMap<String, OperatorState> = self
            .parts
            .operators
            .iter()
            .map(|(id, (digest, parallelism, world))| {
                let subtasks = f.operators.get(id).map(|m| m.values().cloned().collect()).unwrap_or_default();
                (id.clone(), OperatorState { component_digest: digest.clone(), world: *world, parallelism: *parallelism, subtasks })
            })
            .collect();
        let state_size = operators.values().flat_map(|o| &o.subtasks).map(|h| h.size).sum();
        let meta = Metadata {
            format: FORMAT.into(),
            version: VERSION,
            pipeline: self.cfg.pipeline.clone(),
            run_id: self.cfg.run_id.clone(),
            id: f.id,
            kind: Kind::Checkpoint,
            trigger: f.trigger,
            triggered_at: humantime::format_rfc3339_millis(f.triggered_at).to_string(),
            duration_ms: f.started.elapsed().as_millis() as u64,
            state_size,
            uploaded_size: f.uploaded,
            sources: f.sources.clone(),
            operators,
            sinks: f.sinks.clone(),
            promoted_from: None,
            drained: f.drained,
        };
        let meta = match f.kind {
            Kind::Checkpoint => {
                self.storage.put(&format!("{}/{METADATA_FILE}", f.dir), Bytes::from(meta.to_bytes())).await?;
                meta
            }
            Kind::Savepoint => {
                let found = catalog::Found { storage: self.storage.clone(), dir: checkpoint_dir, metadata: meta };
                catalog::write_self_contained(&found, &self.storage, &f.dir).await?
            }
        };
        let path = self.storage.url_of(&f.dir);
        let ms = f.started.elapsed().as_millis() as u64;
        tracing::info!(
            event = "completed",
            checkpoint = f.id,
            kind = ?f.kind,
            trigger = ?f.trigger,
            size = state_size,
            uploaded = f.uploaded,
            ms,
            path = %path,
            "{} completed", noun(f.kind)
        );
        // An intermediate savepoint commits no sink output (like Flink's): the
        // next checkpoint commits it. The run's last snapshot commits the tail.
        if f.kind == Kind::Checkpoint || f.last {
            for (_, tx) in &self.parts.sinks {
                let _ = tx.send(SinkCommand::Commit(f.id));
            }
        }
        self.pins.release(f.id).await;
        stats::completed(&mut self.stats.lock().expect("stats"), f, &meta, path, state_size, ms);
        self.collect_garbage(f.kind == Kind::Savepoint && f.trigger == Trigger::Periodic).await;
        Ok(())
    }

    async fn abort(&self, f: InFlight, reason: String) {
        tracing::warn!(event = "failed", checkpoint = f.id, kind = ?f.kind, reason = %reason, "{} failed and was aborted", noun(f.kind));
        // State files live in the shared state area (retention collects them);
        // only the snapshot's own directory has to go.
        if let Err(e) = self.storage.delete_all(&f.dir).await {
            tracing::warn!(checkpoint = f.id, error = %e, "cannot remove the files of an aborted snapshot yet");
        }
        if f.kind == Kind::Savepoint {
            self.storage.remove_empty_dir(&f.dir);
        }
        self.pins.release(f.id).await;
        stats::failed(&mut self.stats.lock().expect("stats"), &f, reason);
        self.collect_garbage(false).await;
    }

    /// The owner's pass after a snapshot ended, awaited here so that no snapshot
    /// completes while it runs (see [`super::owner`]). A failure is logged; the
    /// next snapshot's pass tries again.
    async fn collect_garbage(&self, periodic_savepoint: bool) {
        if let Err(e) = self.owner.after_snapshot(periodic_savepoint).await {
            tracing::warn!(error = %e, "retention failed; it will be retried after the next snapshot");
        }
    }
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Checkpoint => "checkpoint",
        Kind::Savepoint => "savepoint",
    }
}
