//! The shared switches of a running job — stop, abort, status — and the
//! handle the REST API drives it by: the requests it sends to the coordinator
//! of the running attempt, and the statistics it reads.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::events::{CoordinatorInbox, Event};
use super::metrics::JobCounters;
use super::request::{Request, TriggerState, TriggerStatus};
use super::snapshot::Kind;
use super::stats::CheckpointStats;

/// Where a job stands, as the API reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobStatus {
    /// Compiling, instantiating, restoring.
    #[default]
    Starting,
    /// Data flows.
    Running,
    /// A task failed; the job restarts from its last checkpoint.
    Restarting,
    /// Ended: input exhausted, or stopped with a final snapshot.
    Finished,
    /// Ended: cancelled (Ctrl-C or the API).
    Cancelled,
    /// Ended: failed for good.
    Failed,
}

/// What every attempt of one job shares: the stop switch, checkpoint
/// statistics, requested snapshots, and the coordinator of the running attempt.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    stats: Arc<Mutex<CheckpointStats>>,
    counters: Arc<JobCounters>,
    coordinator: Mutex<Option<CoordinatorInbox>>,
    status: Mutex<JobStatus>,
    run_id: Mutex<String>,
    restarts: AtomicU32,
    next_trigger: AtomicU64,
    /// The trigger id of the stop request the running attempt is ending with.
    stopping: Mutex<Option<String>>,
}

/// Shared switches of a running job, and the handle the REST API drives it by.
#[derive(Debug, Default)]
pub struct JobControl {
    shared: Arc<Shared>,
    abort: AtomicBool,
}

impl JobControl {
    /// A control for a new attempt of the same job: shares the stop switch,
    /// statistics and requests, starts un-aborted.
    pub fn next_attempt(&self) -> Arc<JobControl> {
        self.shared.restarts.fetch_add(1, Ordering::SeqCst);
        // A stop whose final snapshot failed ended that attempt; the next one runs on.
        *self.shared.stopping.lock().expect("stopping") = None;
        Arc::new(JobControl { shared: self.shared.clone(), abort: AtomicBool::new(false) })
    }

    /// Asks the sources to stop reading; the job then drains and ends (Ctrl-C, cancel).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }
    /// Fails the job: every task stops.
    pub fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }
    /// Whether the job is failing.
    pub fn is_aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }
    /// Checkpoint and savepoint statistics over every attempt.
    pub fn stats(&self) -> Arc<Mutex<CheckpointStats>> {
        self.shared.stats.clone()
    }
    /// The live counters of every task, over every attempt.
    pub fn counters(&self) -> Arc<JobCounters> {
        self.shared.counters.clone()
    }
    /// Where the job stands.
    pub fn status(&self) -> JobStatus {
        *self.shared.status.lock().expect("status")
    }
    /// Records where the job stands.
    pub fn set_status(&self, status: JobStatus) {
        *self.shared.status.lock().expect("status") = status;
    }
    /// The id of the running (or last) attempt's run.
    pub fn run_id(&self) -> String {
        self.shared.run_id.lock().expect("run id").clone()
    }
    /// Records the id of the attempt's run (when the job is built).
    pub(crate) fn set_run_id(&self, run_id: String) {
        *self.shared.run_id.lock().expect("run id") = run_id;
    }
    /// In-process restarts so far.
    pub fn restarts(&self) -> u32 {
        self.shared.restarts.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Asks the running attempt for a snapshot (`stop`: end the job with it,
    /// `Some(drain)`). Returns the trigger id to poll in [`CheckpointStats::triggers`].
    pub fn request(&self, kind: Kind, stop: Option<bool>) -> Result<String, String> {
        let guard = self.shared.coordinator.lock().expect("coordinator");
        if self.is_stopped() {
            return Err("the job is being cancelled".into());
        }
        let Some(inbox) = guard.as_ref() else {
            return Err(format!("the job is not running (it is {:?})", self.status()).to_lowercase());
        };
        let mut stopping = self.shared.stopping.lock().expect("stopping");
        if let Some(stop) = stopping.as_ref() {
            return Err(format!("the job is stopping (stop requested as trigger {stop}): it takes no more snapshots"));
        }
        let n = self.shared.next_trigger.fetch_add(1, Ordering::SeqCst) + 1;
        let trigger_id = format!("{}-{n}", if kind == Kind::Savepoint { "sp" } else { "cp" });
        let status = TriggerStatus { status: TriggerState::Pending, kind, stop: stop.is_some(), id: None, path: None, reason: None, delivered: false };
        self.shared.stats.lock().expect("stats").triggers.insert(trigger_id.clone(), status);
        let request = Request { trigger_id: trigger_id.clone(), kind, stop };
        inbox.send(Event::Request(request)).map_err(|_| "the job is ending".to_string())?;
        if stop.is_some() {
            *stopping = Some(trigger_id.clone());
        }
        Ok(trigger_id)
    }

    /// Waits (at most `limit`) until the outcome of every stop request has been
    /// polled, so that `host stop` learns where its savepoint is before the
    /// process (and its API) ends.
    pub fn linger_for_stop_pollers(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            let waiting = self.shared.stats.lock().expect("stats").triggers.values().any(|t| t.stop && !t.delivered);
            if !waiting {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Connects requests to the running attempt's coordinator (`None`: no attempt runs).
    pub(crate) fn attach(&self, inbox: Option<CoordinatorInbox>) {
        *self.shared.coordinator.lock().expect("coordinator") = inbox;
    }
}
