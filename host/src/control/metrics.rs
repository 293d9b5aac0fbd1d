//! Live counters of a running job's tasks, published by the tasks and read by
//! the REST API, the `/metrics` endpoint and the progress line.
//!
//! Each task owns one [`TaskCounters`] and adds to it once per batch: relaxed
//! loads and stores, no lock, no read-modify-write and no allocation on the
//! event path. A task's counters have one writer at a time (its task; the task
//! of a later attempt starts only after every task of the previous one ended),
//! so a load and a store add without losing counts; readers see the last store. The counters of a
//! (node, subtask) outlive an attempt, so that they only grow across in-process
//! restarts, as Prometheus counters must.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The counters of one task (a source, operator or sink subtask).
#[derive(Debug)]
pub struct TaskCounters {
    events_in: AtomicU64,
    events_out: AtomicU64,
    busy_ns: AtomicU64,
    queued: AtomicU64,
    capacity: AtomicU64,
    watermark: AtomicI64,
    alignment_ns: AtomicU64,
}

impl Default for TaskCounters {
    fn default() -> Self {
        TaskCounters {
            events_in: AtomicU64::new(0),
            events_out: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            capacity: AtomicU64::new(0),
            watermark: AtomicI64::new(i64::MIN),
            alignment_ns: AtomicU64::new(0),
        }
    }
}

impl TaskCounters {
    /// One batch: `events_in` received, `events_out` emitted (or written), `busy` inside the guest or connector.
    #[inline]
    pub fn batch(&self, events_in: usize, events_out: usize, busy: Duration) {
        add(&self.events_in, events_in as u64);
        add(&self.events_out, events_out as u64);
        add(&self.busy_ns, busy.as_nanos() as u64);
    }
    /// Time spent inside the guest or connector outside of a batch (watermarks, snapshots).
    #[inline]
    pub fn busy(&self, busy: Duration) {
        add(&self.busy_ns, busy.as_nanos() as u64);
    }
    /// Batches waiting in the task's input channels, of `capacity` in all (backpressure).
    #[inline]
    pub fn queue(&self, queued: usize, capacity: usize) {
        self.queued.store(queued as u64, Ordering::Relaxed);
        self.capacity.store(capacity as u64, Ordering::Relaxed);
    }
    /// The task's watermark advanced to `ts` (event time, ms).
    #[inline]
    pub fn watermark(&self, ts: i64) {
        self.watermark.store(ts, Ordering::Relaxed);
    }
    /// The task's inputs took `took` to align on the last barrier.
    #[inline]
    pub fn aligned(&self, took: Duration) {
        self.alignment_ns.store(took.as_nanos() as u64, Ordering::Relaxed);
    }

    fn read(&self) -> TaskReading {
        let wm = self.watermark.load(Ordering::Relaxed);
        TaskReading {
            events_in: self.events_in.load(Ordering::Relaxed),
            events_out: self.events_out.load(Ordering::Relaxed),
            busy: Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed)),
            queued: self.queued.load(Ordering::Relaxed),
            capacity: self.capacity.load(Ordering::Relaxed),
            watermark: (wm != i64::MIN).then_some(wm),
            alignment: Duration::from_nanos(self.alignment_ns.load(Ordering::Relaxed)),
        }
    }
}

/// Adds `n` to a counter that only its task writes (see the module comment).
#[inline]
fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// What one task's counters read at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskReading {
    /// Events received.
    pub events_in: u64,
    /// Events emitted (sinks: written).
    pub events_out: u64,
    /// Time inside the guest or connector.
    pub busy: Duration,
    /// Batches waiting in its input channels at its last read.
    pub queued: u64,
    /// Batches its input channels hold at most.
    pub capacity: u64,
    /// Its watermark (event time, ms), once it has one.
    pub watermark: Option<i64>,
    /// How long its inputs took to align on the last barrier.
    pub alignment: Duration,
}

/// One task's identity and its counters' reading.
#[derive(Clone, Debug)]
pub struct TaskSample {
    /// Node id (source, operator or sink id).
    pub node: String,
    /// `source`, `operator` or `sink`.
    pub kind: &'static str,
    /// Subtask index.
    pub subtask: usize,
    /// The reading.
    pub reading: TaskReading,
}

type Entry = ((String, usize), &'static str, Arc<TaskCounters>);

/// The counters of every task of a job, over every attempt.
#[derive(Debug, Default)]
pub struct JobCounters {
    tasks: Mutex<Vec<Entry>>,
}

impl JobCounters {
    /// The counters of `node`'s subtask `subtask` (created on first use, then shared by later attempts).
    pub fn task(&self, node: &str, kind: &'static str, subtask: usize) -> Arc<TaskCounters> {
        let mut tasks = self.tasks.lock().expect("counters");
        if let Some((_, _, c)) = tasks.iter().find(|((n, s), _, _)| n == node && *s == subtask) {
            return c.clone();
        }
        let c = Arc::new(TaskCounters::default());
        tasks.push(((node.to_string(), subtask), kind, c.clone()));
        c
    }

    /// Every task's reading, in the order the tasks were created.
    pub fn read(&self) -> Vec<TaskSample> {
        let tasks = self.tasks.lock().expect("counters");
        tasks.iter().map(|((node, subtask), kind, c)| TaskSample { node: node.clone(), kind, subtask: *subtask, reading: c.read() }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_attempt_adds_to_the_same_counters() {
        let job = JobCounters::default();
        job.task("map", "operator", 1).batch(10, 7, Duration::from_millis(2));
        job.task("map", "operator", 0).queue(3, 8);
        let again = job.task("map", "operator", 1);
        again.batch(5, 5, Duration::from_millis(1));
        again.watermark(42);
        let read = job.read();
        assert_eq!(read.len(), 2);
        let r = &read[0].reading;
        assert_eq!((r.events_in, r.events_out, r.busy, r.watermark), (15, 12, Duration::from_millis(3), Some(42)));
        assert_eq!((read[1].reading.queued, read[1].reading.capacity, read[1].reading.watermark), (3, 8, None));
    }
}
