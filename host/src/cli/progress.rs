//! The progress line of `host run` on an interactive terminal: every few
//! seconds, events/s per source and sink and the last checkpoint. Nothing is
//! printed when stderr is not a terminal (pipes, logs, tests).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use crate::control::{CheckpointStats, JobControl, JobStatus, TaskSample};

/// How often the line is printed.
const EVERY: Duration = Duration::from_secs(5);

/// Prints the progress line while alive; stops when dropped.
pub struct Progress {
    _stop: Option<Sender<()>>,
}

/// Starts the progress line of the job `ctl` drives, if stderr is a terminal.
pub fn start(ctl: Arc<JobControl>) -> Progress {
    if !std::io::stderr().is_terminal() {
        return Progress { _stop: None };
    }
    let (tx, rx) = channel::<()>();
    let started = Instant::now();
    let spawned = std::thread::Builder::new().name("progress".into()).spawn(move || {
        // The first line's rates are over the time since the start.
        let mut before: (Instant, BTreeMap<(u8, String), u64>) = (started, BTreeMap::new());
        loop {
            match rx.recv_timeout(EVERY) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let now = Instant::now();
            let totals = totals(&ctl.counters().read());
            if ctl.status() == JobStatus::Running {
                let stats = ctl.stats().lock().expect("stats").clone();
                let secs = now.duration_since(before.0).as_secs_f64();
                eprintln!("{}", line(started.elapsed(), &totals, &before.1, secs, &stats));
            }
            before = (now, totals);
        }
    });
    Progress { _stop: spawned.ok().map(|_| tx) }
}

/// Events per source (emitted) and sink (written), sources first (0), then sinks (1).
fn totals(samples: &[TaskSample]) -> BTreeMap<(u8, String), u64> {
    let mut t = BTreeMap::new();
    for s in samples.iter().filter(|s| s.kind != "operator") {
        let n = if s.kind == "source" { s.reading.events_out } else { s.reading.events_in };
        *t.entry((u8::from(s.kind == "sink"), s.node.clone())).or_insert(0) += n;
    }
    t
}

fn rate(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.2} M/s", n / 1e6),
        n if n >= 1e3 => format!("{:.1} k/s", n / 1e3),
        n => format!("{n:.0}/s"),
    }
}

fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// The line: elapsed time, each source's and sink's rate over the last `secs`
/// (since `before` was read), and the newest checkpoint.
fn line(elapsed: Duration, now: &BTreeMap<(u8, String), u64>, before: &BTreeMap<(u8, String), u64>, secs: f64, stats: &CheckpointStats) -> String {
    let e = elapsed.as_secs();
    let mut parts = vec![format!("[{}:{:02}]", e / 60, e % 60)];
    for (key, n) in now {
        let (id, arrow) = (&key.1, if key.0 == 0 { "→" } else { "⇥" });
        let b = before.get(key).copied().unwrap_or(0);
        parts.push(format!("{id} {arrow} {}", rate(n.saturating_sub(b) as f64 / secs.max(1e-3))));
    }
    match stats.history.iter().rev().find(|r| r.status == "completed") {
        Some(r) => parts.push(format!(
            "{} {} in {} ms, {} B",
            if r.kind == crate::control::Kind::Savepoint { "savepoint" } else { "checkpoint" },
            r.id,
            r.duration_ms,
            size(r.size)
        )),
        None => parts.push("no checkpoint yet".into()),
    }
    if stats.failed > 0 {
        parts.push(format!("{} failed", stats.failed));
    }
    parts.join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_rates_per_source_and_sink_and_the_last_checkpoint() {
        let before: BTreeMap<(u8, String), u64> = [((0, "gen".to_string()), 1000), ((1, "out".to_string()), 500)].into();
        let now: BTreeMap<(u8, String), u64> = [((0, "gen".to_string()), 11_000), ((1, "out".to_string()), 5_500_500)].into();
        let stats = CheckpointStats::default();
        let l = line(Duration::from_secs(65), &now, &before, 5.0, &stats);
        assert_eq!(l, "[1:05]  gen → 2.0 k/s  out ⇥ 1.10 M/s  no checkpoint yet");
        let first = line(Duration::from_secs(5), &now, &BTreeMap::new(), 5.0, &stats);
        assert!(first.starts_with("[0:05]  gen → 2.2 k/s  out ⇥ 1.10 M/s"), "{first}");
        assert_eq!(size(20_480), "20.0 KiB");
    }
}
