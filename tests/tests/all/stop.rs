//! Ctrl-C stops a running job cleanly: the sources stop, the tasks drain, the
//! host prints its summary and exits 0; uncommitted output stays unpublished.

use std::time::Duration;

use cairn_tests::{operators, spawn_host, write_pipeline};

#[test]
fn ctrl_c_stops_an_unbounded_job_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: endless
sources:
  - id: gen
    type: generator
    rate: 20000
operators:
  - id: map
    component: {}
    input: gen
sinks:
  - id: out
    type: file
    input: map
    path: out.txt
checkpoints:
  interval: 200ms
",
        operators::MAP
    );
    let p = write_pipeline(dir.path(), &yaml);
    let log = dir.path().join("run.log");
    let mut child = spawn_host(&["run", p.to_str().unwrap()], &log);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "an unbounded job ended by itself");
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let waited = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(waited.elapsed() < Duration::from_secs(20), "the job did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("Ctrl-C") && log.contains("job stopped"), "{log}");
    // What checkpoints committed is in the file, whole lines only.
    let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(out.lines().count() > 1000 && out.ends_with('\n'), "committed output missing or torn");
    // Cancelled: the last checkpoint is kept (checkpoints.on-cancel defaults to keep) and marked.
    let kept = cairn_tests::checkpoint_dirs(&dir.path().join("storage"));
    let last = kept.last().expect("a kept checkpoint");
    let marker: serde_json::Value = serde_json::from_slice(&std::fs::read(last.join("_kept")).unwrap()).unwrap();
    assert_eq!(marker["reason"], "cancelled");
    assert!(log.contains("kept checkpoint:"), "{log}");
}
