//! Restart strategies: a job whose operator fails for a while recovers in
//! process from its last checkpoint with exactly-once output; one that keeps
//! failing fails for good, saying which operator failed, why, and where the
//! last checkpoint is.

use cairn_tests::{now_ms, operators, run_in_process, sorted_lines, write_pipeline};

fn pipeline(until_ms: i64, restart: &str) -> String {
    format!(
        "name: flaky
sources:
  - id: lines
    type: file
    path: in.txt
    rate: 2000
operators:
  - id: wobbly
    component: {}
    input: lines
    config: {{ fail-in: process, how: panic, until: {until_ms} }}
sinks:
  - id: out
    type: file
    input: wobbly
    path: out.txt
checkpoints:
  interval: 100ms
restart: {restart}
",
        operators::FAULTY
    )
}

#[test]
fn a_transient_fault_is_recovered_with_exactly_once_output() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..2000).map(|i| format!("line {i}")).collect();
    std::fs::write(dir.path().join("in.txt"), lines.join("\n") + "\n").unwrap();
    // The operator traps on every batch for the first 1.5 s.
    let yaml = pipeline(now_ms() + 1500, "{ strategy: fixed-delay, delay: 400ms, attempts: 20 }");
    let summary = run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
    assert!(summary.restarts >= 2, "expected restarts, got {}", summary.restarts);
    let mut want = lines.clone();
    want.sort();
    assert_eq!(sorted_lines(&dir.path().join("out.txt")), want);
}

#[test]
fn a_permanent_fault_fails_for_good_naming_operator_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "a\nb\n").unwrap();
    let yaml = pipeline(i64::MAX, "{ strategy: exponential-delay, attempts: 2, initial-backoff: 50ms }");
    let err = format!("{:#}", run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap_err());
    assert!(err.contains("failed for good (2 restart attempts used)"), "{err}");
    assert!(err.contains("operator `wobbly` subtask 0") && err.contains("`process` trapped"), "{err}");
    assert!(err.contains("no checkpoint completed") || err.contains("last completed checkpoint"), "{err}");
    let none = pipeline(i64::MAX, "{ strategy: none }");
    let err = format!("{:#}", run_in_process(&write_pipeline(dir.path(), &none)).unwrap_err());
    assert!(err.contains("restart strategy `none`"), "{err}");
}

/// Checkpoints that fail in attempts that never complete one keep distinct
/// ids: a restart numbers its snapshots after every id the job used.
#[test]
fn checkpoint_ids_stay_unique_across_restarts_before_any_checkpoint_completed() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..2000).map(|i| format!("line {i}")).collect();
    std::fs::write(dir.path().join("in.txt"), lines.join("\n") + "\n").unwrap();
    // Every snapshot fails for the first 1.5 s, failing the task: each attempt's first checkpoint fails.
    let yaml = pipeline(now_ms() + 1500, "{ strategy: fixed-delay, delay: 200ms, attempts: 20 }").replace("fail-in: process", "fail-in: snapshot");
    let summary = run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
    assert!(summary.restarts >= 2, "expected restarts, got {}", summary.restarts);
    let ids: Vec<u64> = summary.checkpoints.history.iter().map(|r| r.id).collect();
    let unique: std::collections::BTreeSet<&u64> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "checkpoint ids repeat across restarts: {ids:?}");
    let mut want = lines.clone();
    want.sort();
    assert_eq!(sorted_lines(&dir.path().join("out.txt")), want);
}
