//! The checkpoint coordinator: triggers checkpoints (periodically, and a final
//! one when bounded input ends), collects every task's acknowledgement, writes
//! the metadata last, tells the sinks to commit, and applies retention.
//! Pacing follows Flink: interval, timeout, minimum pause, one in flight, and a
//! number of tolerable consecutive failures.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tracing::Instrument;
use crossbeam_channel::Sender;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::metadata::{FORMAT, Kind, METADATA_FILE, Metadata, OperatorState, StateHandle, Trigger, VERSION};
use super::{Ack, AckPayload, CheckpointError, Pins, SinkCommand, SourceCommand, Storage, layout, retention};
use crate::dataflow::JobControl;
use crate::dataflow::message::Barrier;

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
}

/// What the coordinator hears.
#[derive(Debug)]
pub enum Event {
    /// A task acknowledged a checkpoint.
    Ack(Ack),
    /// A source read all of its input and waits for the final checkpoint.
    SourceExhausted(String),
    /// Every task has ended: stop.
    Shutdown,
    /// The coordinator's own timer (never sent by tasks).
    Timer,
}

/// Where tasks send [`Event`]s.
pub type CoordinatorInbox = UnboundedSender<Event>;

/// One finished (completed or failed) checkpoint, for logs and the API.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Record {
    /// Checkpoint id.
    pub id: u64,
    /// What started it.
    pub trigger: Trigger,
    /// `completed` or `failed`.
    pub status: &'static str,
    /// Why it failed.
    pub reason: Option<String>,
    /// State bytes referenced.
    pub size: u64,
    /// Trigger to end, ms.
    pub duration_ms: u64,
    /// Its directory in storage (completed ones).
    pub path: Option<String>,
}

/// Counters and history of a job's checkpoints.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckpointStats {
    /// Completed checkpoints.
    pub completed: u64,
    /// Failed (aborted) checkpoints.
    pub failed: u64,
    /// The newest completed checkpoint's directory.
    pub latest: Option<String>,
    /// The checkpoint this run was restored from.
    pub restored_from: Option<String>,
    /// Every checkpoint of this run, oldest first.
    pub history: Vec<Record>,
    /// The checkpoint kept when the job ended (persistent), if the policy kept one.
    pub kept: Option<String>,
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
    /// Operator id → (component digest, parallelism).
    pub operators: BTreeMap<String, (String, usize)>,
}

struct InFlight {
    id: u64,
    trigger: Trigger,
    started: Instant,
    triggered_at: SystemTime,
    waiting: BTreeSet<(String, usize)>,
    sources: BTreeMap<String, serde_json::Value>,
    sinks: BTreeMap<String, serde_json::Value>,
    operators: BTreeMap<String, BTreeMap<usize, StateHandle>>,
    uploaded: u64,
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
    gc: Arc<tokio::sync::Mutex<()>>,
}

impl Coordinator {
    /// A coordinator for the tasks in `parts`, hearing from `inbox`.
    pub fn new(
        cfg: CheckpointConfig,
        storage: Storage,
        pins: Pins,
        inbox: UnboundedReceiver<Event>,
        parts: Participants,
        ctl: Arc<JobControl>,
        stats: Arc<Mutex<CheckpointStats>>,
    ) -> Coordinator {
        Coordinator { cfg, storage, pins, inbox, parts, ctl, stats, gc: Default::default() }
    }

    /// Runs until [`Event::Shutdown`]. Fails when checkpoints fail more often in a
    /// row than tolerated, or the final checkpoint fails; the job then fails.
    pub async fn run(mut self) -> Result<(), CheckpointError> {
        let mut next_id = self.cfg.first_id;
        let mut in_flight: Option<InFlight> = None;
        let mut next_periodic = self.cfg.interval.map(|i| Instant::now() + i);
        let mut exhausted = BTreeSet::new();
        let mut failures = 0u32;
        let mut final_done = false;
        loop {
            if in_flight.is_none() && !final_done && !self.ctl.is_stopped() {
                let all_exhausted = exhausted.len() == self.parts.sources.len();
                let due = next_periodic.is_some_and(|t| Instant::now() >= t);
                if all_exhausted || due {
                    let trigger = if all_exhausted { Trigger::Final } else { Trigger::Periodic };
                    in_flight = Some(self.trigger(next_id, trigger));
                    next_id += 1;
                }
            }
            let deadline = in_flight
                .as_ref()
                .map(|f| f.started + self.cfg.timeout)
                .or(next_periodic)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let wake = tokio::select! {
                e = self.inbox.recv() => e,
                _ = tokio::time::sleep_until(deadline.into()) => Some(Event::Timer),
            };
            let outcome = match wake {
                None | Some(Event::Shutdown) => {
                    if let Some(f) = in_flight.take() {
                        self.abort(f, "the job ended".into()).await;
                    }
                    return Ok(());
                }
                Some(Event::SourceExhausted(id)) => {
                    exhausted.insert(id);
                    continue;
                }
                // A checkpoint timed out, or the next periodic one is due.
                Some(Event::Timer) => match in_flight.take() {
                    Some(f) if f.started.elapsed() >= self.cfg.timeout => {
                        let reason = format!("timed out after {:?}; still waiting for {:?}", self.cfg.timeout, f.waiting);
                        Err((f, reason))
                    }
                    other => {
                        in_flight = other;
                        continue;
                    }
                },
                Some(Event::Ack(ack)) => match in_flight.as_mut() {
                    Some(f) if f.id == ack.checkpoint => match self.record(f, ack) {
                        Ok(false) => continue,
                        Ok(true) => Ok(in_flight.take().expect("in flight")),
                        Err(reason) => Err((in_flight.take().expect("in flight"), reason)),
                    },
                    _ => continue, // late acknowledgement of an aborted checkpoint
                },
            };
            let f = match outcome {
                Ok(f) => match self.complete(&f).instrument(tracing::info_span!("checkpoint", id = f.id)).await {
                    Ok(()) => {
                        failures = 0;
                        final_done |= f.trigger == Trigger::Final;
                        next_periodic = if final_done { None } else { self.next_periodic(&f) };
                        continue;
                    }
                    Err(e) => (f, e.to_string()),
                },
                Err(failed) => failed,
            };
            let (f, reason) = f;
            let (id, trigger) = (f.id, f.trigger);
            next_periodic = self.next_periodic(&f);
            self.abort(f, reason.clone()).await;
            failures += 1;
            if trigger == Trigger::Final || failures > self.cfg.tolerable_failures {
                self.ctl.abort();
                return Err(CheckpointError::TooManyFailures {
                    id,
                    reason,
                    failures,
                    tolerable: if trigger == Trigger::Final { 0 } else { self.cfg.tolerable_failures },
                });
            }
        }
    }

    fn next_periodic(&self, f: &InFlight) -> Option<Instant> {
        let i = self.cfg.interval?;
        Some((f.started + i).max(Instant::now() + self.cfg.min_pause))
    }

    fn trigger(&self, id: u64, trigger: Trigger) -> InFlight {
        let _span = tracing::info_span!("checkpoint", id).entered();
        tracing::info!(event = "triggered", checkpoint = id, trigger = ?trigger, "checkpoint triggered");
        let barrier = Barrier { id, last: trigger == Trigger::Final };
        for (_, tx) in &self.parts.sources {
            let _ = tx.send(SourceCommand::Trigger(barrier));
        }
        InFlight {
            id,
            trigger,
            started: Instant::now(),
            triggered_at: SystemTime::now(),
            waiting: self.parts.tasks.clone(),
            sources: BTreeMap::new(),
            sinks: BTreeMap::new(),
            operators: BTreeMap::new(),
            uploaded: 0,
        }
    }

    /// Records an acknowledgement; `Ok(true)` once every task has acknowledged.
    fn record(&self, f: &mut InFlight, ack: Ack) -> Result<bool, String> {
        if !f.waiting.remove(&(ack.node.clone(), ack.subtask)) {
            return Ok(false);
        }
        match ack.payload {
            AckPayload::Source(pos) => {
                f.sources.insert(ack.node, pos);
            }
            AckPayload::Sink(state) => {
                f.sinks.insert(ack.node, state);
            }
            AckPayload::Operator(handle, uploaded) => {
                f.uploaded += uploaded;
                f.operators.entry(ack.node).or_default().insert(ack.subtask, handle);
            }
            AckPayload::Failed(reason) => return Err(reason),
        }
        Ok(f.waiting.is_empty())
    }

    async fn complete(&self, f: &InFlight) -> Result<(), CheckpointError> {
        let dir = layout::checkpoint_dir(&self.cfg.pipeline, &self.cfg.run_id, f.id);
        let operators: BTreeMap<String, OperatorState> = self
            .parts
            .operators
            .iter()
            .map(|(id, (digest, parallelism))| {
                let subtasks = f.operators.get(id).map(|m| m.values().cloned().collect()).unwrap_or_default();
                (id.clone(), OperatorState { component_digest: digest.clone(), parallelism: *parallelism, subtasks })
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
        };
        self.storage.put(&format!("{dir}/{METADATA_FILE}"), Bytes::from(meta.to_bytes())).await?;
        tracing::info!(
            event = "completed",
            checkpoint = f.id,
            trigger = ?f.trigger,
            size = state_size,
            uploaded = f.uploaded,
            ms = meta.duration_ms,
            path = %format!("{}/{dir}", self.storage.url()),
            "checkpoint completed"
        );
        for (_, tx) in &self.parts.sinks {
            let _ = tx.send(SinkCommand::Commit(f.id));
        }
        self.pins.release(f.id).await;
        {
            let mut stats = self.stats.lock().expect("stats");
            stats.completed += 1;
            stats.latest = Some(format!("{}/{dir}", self.storage.url()));
            stats.history.push(Record {
                id: f.id,
                trigger: f.trigger,
                status: "completed",
                reason: None,
                size: state_size,
                duration_ms: meta.duration_ms,
                path: Some(format!("{}/{dir}", self.storage.url())),
            });
        }
        self.collect_garbage(BTreeSet::new());
        Ok(())
    }

    async fn abort(&self, f: InFlight, reason: String) {
        tracing::warn!(event = "failed", checkpoint = f.id, reason = %reason, "checkpoint failed and was aborted");
        let dir = layout::checkpoint_dir(&self.cfg.pipeline, &self.cfg.run_id, f.id);
        if let Err(e) = self.storage.delete_all(&dir).await {
            tracing::warn!(checkpoint = f.id, error = %e, "cannot remove the files of an aborted checkpoint yet");
        }
        self.pins.release(f.id).await;
        {
            let mut stats = self.stats.lock().expect("stats");
            stats.failed += 1;
            stats.history.push(Record {
                id: f.id,
                trigger: f.trigger,
                status: "failed",
                reason: Some(reason),
                size: 0,
                duration_ms: f.started.elapsed().as_millis() as u64,
                path: None,
            });
        }
        self.collect_garbage(BTreeSet::new());
    }

    /// Retention in the background; a pass already running makes this one a no-op.
    fn collect_garbage(&self, keep: BTreeSet<String>) {
        let Ok(guard) = self.gc.clone().try_lock_owned() else { return };
        let (storage, pins, cfg) = (self.storage.clone(), self.pins.clone(), self.cfg.clone());
        tokio::spawn(async move {
            let _guard = guard;
            let r = retention::run(&storage, &pins, &cfg.pipeline, &cfg.run_id, cfg.retain, &keep).await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "retention failed; it will be retried after the next checkpoint");
            }
        });
    }

    /// Removes what crashed runs left behind, before the first checkpoint.
    pub async fn clean_up_at_start(storage: &Storage, pins: &Pins, pipeline: &str, run_id: &str, retain: usize) -> Result<(), CheckpointError> {
        retention::run(storage, pins, pipeline, run_id, retain, &BTreeSet::new()).await.map(|_| ())
    }
}
