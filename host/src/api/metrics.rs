//! `GET /metrics`: the job in the Prometheus (OpenMetrics text) exposition
//! format, encoded by `prometheus-client`.
//!
//! The tasks publish plain atomic counters ([`crate::control::JobCounters`]) and
//! the coordinator its checkpoint history; a scrape reads both and encodes
//! them into a registry built for that scrape, so that the event path carries
//! nothing of Prometheus.

use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::control::{CheckpointStats, Kind, TaskSample};

/// The content type of the exposition.
pub(super) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;
type Seconds = Counter<f64, AtomicU64>;
type FGauge = Gauge<f64, AtomicU64>;

/// What a scrape reads.
pub(super) struct Scrape<'a> {
    /// Pipeline name.
    pub job: &'a str,
    /// Where the job stands (`running`, …).
    pub status: &'a str,
    /// In-process restarts.
    pub restarts: u32,
    /// Every task's counters.
    pub tasks: &'a [TaskSample],
    /// Checkpoint and savepoint statistics.
    pub stats: &'a CheckpointStats,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Checkpoint => "checkpoint",
        Kind::Savepoint => "savepoint",
    }
}

/// Encodes `s` as OpenMetrics text.
pub(super) fn encode(s: &Scrape) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("cairn");
    let job = || ("job", s.job.to_string());

    let events_in = Family::<Labels, Counter>::default();
    let events_out = Family::<Labels, Counter>::default();
    let busy = Family::<Labels, Seconds>::default();
    let queued = Family::<Labels, Gauge>::default();
    let capacity = Family::<Labels, Gauge>::default();
    let watermark = Family::<Labels, Gauge>::default();
    let lag = Family::<Labels, FGauge>::default();
    let alignment = Family::<Labels, FGauge>::default();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    for t in s.tasks {
        let labels = vec![job(), ("operator", t.node.clone()), ("kind", t.kind.to_string()), ("subtask", t.subtask.to_string())];
        let r = &t.reading;
        events_in.get_or_create(&labels).inc_by(r.events_in);
        events_out.get_or_create(&labels).inc_by(r.events_out);
        busy.get_or_create(&labels).inc_by(r.busy.as_secs_f64());
        if t.kind != "source" {
            queued.get_or_create(&labels).set(r.queued as i64);
            capacity.get_or_create(&labels).set(r.capacity as i64);
            alignment.get_or_create(&labels).set(r.alignment.as_secs_f64());
        }
        if let Some(wm) = r.watermark {
            watermark.get_or_create(&labels).set(wm);
            lag.get_or_create(&labels).set(((now_ms - wm).max(0)) as f64 / 1e3);
        }
    }
    registry.register("task_events_in", "Events a task received", events_in);
    registry.register("task_events_out", "Events a task emitted (a sink: wrote)", events_out);
    registry.register_with_unit("task_busy", "Time a task spent inside its operator or connector", Unit::Seconds, busy);
    registry.register("task_input_queue_batches", "Batches waiting in a task's input channels (backpressure)", queued);
    registry.register("task_input_capacity_batches", "Batches a task's input channels hold at most", capacity);
    registry.register("task_watermark_milliseconds", "A task's watermark, event time in ms since the epoch", watermark);
    registry.register_with_unit("task_watermark_lag", "Wall clock minus a task's watermark", Unit::Seconds, lag);
    registry.register_with_unit("task_alignment", "How long a task's inputs took to align on the last barrier", Unit::Seconds, alignment);

    let completed = Family::<Labels, Counter>::default();
    let failed = Family::<Labels, Counter>::default();
    let duration = Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14)));
    let size = Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(1024.0, 4.0, 12)));
    let aligned = Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 14)));
    let last_duration = Family::<Labels, FGauge>::default();
    let last_size = Family::<Labels, Gauge>::default();
    for kind in [Kind::Checkpoint, Kind::Savepoint] {
        let labels = vec![job(), ("kind", kind_name(kind).to_string())];
        let (ok, bad) = match kind {
            Kind::Checkpoint => (s.stats.completed, s.stats.failed),
            Kind::Savepoint => (s.stats.savepoints_completed, s.stats.savepoints_failed),
        };
        completed.get_or_create(&labels).inc_by(ok);
        failed.get_or_create(&labels).inc_by(bad);
        let done = s.stats.history.iter().filter(|r| r.kind == kind && r.status == "completed");
        let (duration, size, aligned) = (duration.get_or_create(&labels), size.get_or_create(&labels), aligned.get_or_create(&labels));
        for r in done.clone() {
            duration.observe(r.duration_ms as f64 / 1e3);
            size.observe(r.size as f64);
            aligned.observe(r.alignment_ms / 1e3);
        }
        if let Some(r) = done.clone().next_back() {
            last_duration.get_or_create(&labels).set(r.duration_ms as f64 / 1e3);
            last_size.get_or_create(&labels).set(r.size as i64);
        }
    }
    registry.register("snapshots_completed", "Completed checkpoints or savepoints", completed);
    registry.register("snapshots_failed", "Failed checkpoints or savepoints", failed);
    registry.register_with_unit("snapshot_duration", "Trigger-to-completion time of completed snapshots", Unit::Seconds, duration);
    registry.register_with_unit("snapshot_size", "State size of completed snapshots", Unit::Bytes, size);
    registry.register_with_unit("snapshot_alignment", "Longest barrier alignment of completed snapshots", Unit::Seconds, aligned);
    registry.register_with_unit("last_snapshot_duration", "Duration of the newest completed snapshot", Unit::Seconds, last_duration);
    registry.register_with_unit("last_snapshot_size", "State size of the newest completed snapshot", Unit::Bytes, last_size);

    let restarts = Family::<Labels, Counter>::default();
    restarts.get_or_create(&vec![job()]).inc_by(u64::from(s.restarts));
    registry.register("job_restarts", "In-process restarts of the job", restarts);
    let status = Family::<Labels, Gauge>::default();
    status.get_or_create(&vec![job(), ("status", s.status.to_string())]).set(1);
    registry.register("job_status", "Where the job stands (1 on the current status)", status);

    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}
