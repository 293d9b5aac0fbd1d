//! `GET /metrics` of a running job, scraped over HTTP: the Prometheus
//! exposition names every task and the checkpoints, and the counters move
//! while the job runs.

use std::time::{Duration, Instant};

use cairn_tests::write_pipeline;

use crate::checkpoints::{counting_pipeline, job_dir};
use crate::savepoints::{API, RunningJob};

fn scrape(api: &str) -> String {
    let r = reqwest::blocking::get(format!("{api}/metrics")).unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    r.text().unwrap()
}

/// The value of the sample `name{…}` whose labels include every one of `labels` (`key="value"`).
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines().find_map(|l| {
        let (series, v) = l.rsplit_once(' ')?;
        let (n, rest) = series.split_once('{').unwrap_or((series, ""));
        (n == name && labels.iter().all(|want| rest.contains(want))).then(|| v.parse().unwrap())
    })
}

#[test]
fn metrics_name_every_task_and_move_while_the_job_runs() {
    // Input for a minute and more at 600 lines/s: the job runs until the test cancels it.
    let dir = job_dir(1000);
    let p = write_pipeline(dir.path(), &counting_pipeline("metered", "storage", "200ms", 600, API));
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run.log"));
    job.wait_for("checkpoint completed");

    let first = scrape(&job.api);
    let count0 = [r#"job="metered""#, r#"operator="count""#, r#"subtask="0""#];
    let count1 = [r#"operator="count""#, r#"subtask="1""#, r#"kind="operator""#];
    for (name, labels) in [
        ("cairn_task_events_in_total", &count0[..]),
        ("cairn_task_events_in_total", &count1[..]),
        ("cairn_task_events_out_total", &[r#"operator="lines""#, r#"kind="source""#][..]),
        ("cairn_task_events_in_total", &[r#"operator="out""#, r#"kind="sink""#][..]),
        ("cairn_task_busy_seconds_total", &count0[..]),
        ("cairn_task_input_queue_batches", &count0[..]),
        ("cairn_task_alignment_seconds", &count0[..]),
        ("cairn_task_watermark_lag_seconds", &count0[..]),
        ("cairn_snapshot_duration_seconds_count", &[r#"kind="checkpoint""#][..]),
        ("cairn_snapshot_size_bytes_sum", &[r#"kind="checkpoint""#][..]),
        ("cairn_snapshot_alignment_seconds_count", &[r#"kind="checkpoint""#][..]),
        ("cairn_snapshots_failed_total", &[r#"kind="savepoint""#][..]),
        ("cairn_job_restarts_total", &[r#"job="metered""#][..]),
        ("cairn_job_status", &[r#"status="running""#][..]),
    ] {
        assert!(value(&first, name, labels).is_some(), "no {name} with {labels:?} in:\n{first}");
    }
    assert_eq!(value(&first, "cairn_task_input_capacity_batches", &count0), Some(8.0), "one input of the default capacity (8 batches):\n{first}");
    assert!(value(&first, "cairn_snapshots_completed_total", &[r#"kind="checkpoint""#]).unwrap() >= 1.0, "{first}");
    assert!(value(&first, "cairn_snapshot_size_bytes_sum", &[r#"kind="checkpoint""#]).unwrap() > 0.0, "{first}");

    // The counters move: more events through the sink, and more checkpoints.
    let started = Instant::now();
    let sink = [r#"operator="out""#];
    let checkpoints = [r#"kind="checkpoint""#];
    loop {
        let now = scrape(&job.api);
        let more_events = value(&now, "cairn_task_events_in_total", &sink) > value(&first, "cairn_task_events_in_total", &sink);
        let more_checkpoints = value(&now, "cairn_snapshots_completed_total", &checkpoints) > value(&first, "cairn_snapshots_completed_total", &checkpoints);
        let more_busy = value(&now, "cairn_task_busy_seconds_total", &count0) > value(&first, "cairn_task_busy_seconds_total", &count0);
        if more_events && more_checkpoints && more_busy {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the metrics did not move in 60 s:\n{first}\n---\n{now}");
        std::thread::sleep(Duration::from_millis(50));
    }
    job.verb(&["cancel"]);
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
}
