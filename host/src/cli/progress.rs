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
        let mut before: Option<(Instant, BTreeMap<(u8, String), u64>)> = None;
        loop {
            match rx.recv_timeout(EVERY) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let now = Instant::now();
            let totals = totals(&ctl.counters().read());
            if ctl.status() == JobStatus::Running {
                let stats = ctl.stats().lock().expect("stats").clone();
                let secs = before.as_ref().map_or(0.0, |(at, _)| now.duration_since(*at).as_secs_f64());
                let prev = before.as_ref().map(|(_, t)| t);
                eprintln!("{}", line(started.elapsed(), &totals, prev, secs, &stats));
            }
            before = Some((now, totals));
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

/// The line: elapsed time, each source's and sink's rate over the last `secs`
/// (total events before the first interval), and the newest checkpoint.
fn line(elapsed: Duration, now: &BTreeMap<(u8, String), u64>, before: Option<&BTreeMap<(u8, String), u64>>, secs: f64, stats: &CheckpointStats) -> String {
    let e = elapsed.as_secs();
    let mut parts = vec![format!("[{}:{:02}]", e / 60, e % 60)];
    for (key, n) in now {
        let (id, arrow) = (&key.1, if key.0 == 0 { "→" } else { "⇥" });
        match before.and_then(|b| b.get(key)).filter(|_| secs > 0.0) {
            Some(b) => parts.push(format!("{id} {arrow} {}", rate((n - b) as f64 / secs))),
            None => parts.push(format!("{id} {arrow} {n} events")),
        }
    }
    match stats.history.iter().rev().find(|r| r.status == "completed") {
        Some(r) => parts.push(format!("{} {} in {} ms, {} B", if r.kind == crate::control::Kind::Savepoint { "savepoint" } else { "checkpoint" }, r.id, r.duration_ms, r.size)),
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
        let l = line(Duration::from_secs(65), &now, Some(&before), 5.0, &stats);
        assert_eq!(l, "[1:05]  gen → 2.0 k/s  out ⇥ 1.10 M/s  no checkpoint yet");
        let first = line(Duration::from_secs(5), &now, None, 0.0, &stats);
        assert!(first.contains("gen → 11000 events"), "{first}");
    }
}
