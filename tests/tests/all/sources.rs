//! Sources of several subtasks: a `generator` split over N subtasks emits the
//! events of one, each subtask's position restores exactly once after SIGKILL,
//! and a checkpoint restores at another source parallelism only where its
//! positions allow it (else the run is refused, naming the source).

use std::path::Path;

use cairn_tests::{operators, run_err, run_ok, sorted_lines, write_pipeline};

use crate::checkpoints::kill_and_resume;
use crate::rescale::run_then_stop;
use crate::savepoints::API;

/// generator (`parallelism: par`, 40 keys) → count (keyed, parallelism 2) →
/// exactly-once file sink; `source_extra` adds lines to the source.
fn counting(name: &str, par: usize, source_extra: &str) -> String {
    format!(
        "name: {name}
sources:
  - id: gen
    type: generator
    keys: 40
    parallelism: {par}
{source_extra}operators:
  - id: count
    component: {count}
    input: gen
    key-by: true
    parallelism: 2
sinks:
  - id: out
    type: file
    input: count
    path: out/counts.txt
batch:
  size: 64
  linger: 5ms
checkpoints:
  interval: 150ms
{API}",
        count = operators::COUNT,
    )
}

/// The running counts of an uninterrupted run of `count` events at source parallelism 1.
fn reference(count: u64) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &counting("reference", 1, &format!("    count: {count}\n")));
    run_ok(&["run", p.to_str().unwrap()]);
    sorted_lines(&dir.path().join("out/counts.txt"))
}

/// The next event of each subtask of source `gen` in the snapshot at `dir`.
fn positions(dir: &Path) -> Vec<u64> {
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("_metadata")).unwrap()).unwrap();
    let pos = &meta["sources"]["gen"];
    match &pos["next"] {
        serde_json::Value::Object(per) => (0..per.len()).map(|s| per[&s.to_string()].as_u64().unwrap()).collect(),
        n => vec![n.as_u64().unwrap()],
    }
}

/// SIGKILLed three times and resumed, a pipeline whose source has two
/// subtasks commits exactly the output of an uninterrupted run at one.
#[test]
fn killed_and_resumed_runs_with_a_parallel_source_equal_an_uninterrupted_run_at_one() {
    let expected = reference(5000);
    assert_eq!(expected.len(), 5000);
    let dir = tempfile::tempdir().unwrap();
    // 5000 events at 1000/s: an uninterrupted run would take 5 s.
    let p = write_pipeline(dir.path(), &counting("gen-kill", 2, "    count: 5000\n    rate: 1000\n"));
    let got = kill_and_resume(&p, dir.path(), 3);
    assert_eq!(got.len(), expected.len(), "lost or duplicated records");
    assert_eq!(got, expected);
}

/// A savepoint of one subtask restores at two (its position is always a
/// common boundary), and that run ends with exactly the uninterrupted output.
#[test]
fn a_savepoint_at_source_parallelism_1_restores_at_2() {
    let expected = reference(4000);
    let dir = tempfile::tempdir().unwrap();
    let rated = "    count: 4000\n    rate: 2000\n";
    let sp = run_then_stop(&write_pipeline(dir.path(), &counting("gen-up", 1, rated)), None, &dir.path().join("1.log"));
    let next = positions(&sp);
    assert!(next.len() == 1 && next[0] > 0 && next[0] < 4000, "stopped mid-run: {next:?}");
    let p = write_pipeline(dir.path(), &counting("gen-up", 2, "    count: 4000\n"));
    let plan = run_ok(&["check", p.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    assert!(plan.contains("ok   count"), "{plan}");
    run_ok(&["run", p.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), expected);
}

/// Two subtasks stopped mid-run sit at a common boundary only by chance (the
/// events emitted so far are exactly `0 .. P`): elsewhere a run or check at
/// three is refused, naming the source and both parallelisms, and the
/// savepoint still restores at two.
#[test]
fn another_source_parallelism_is_refused_unless_the_positions_sit_at_a_boundary() {
    let dir = tempfile::tempdir().unwrap();
    // Unbounded and unpaced into a blackhole: the two subtasks race, so their
    // positions almost never sit at a boundary.
    let yaml = |par: usize| {
        format!(
            "name: gen-refuse\nsources:\n  - id: gen\n    type: generator\n    parallelism: {par}\nsinks:\n  - id: out\n    type: blackhole\n    \
             input: gen\nbatch:\n  size: 50\ncheckpoints:\n  interval: 100ms\n{API}"
        )
    };
    let sp = run_then_stop(&write_pipeline(dir.path(), &yaml(2)), None, &dir.path().join("2.log"));
    let next = positions(&sp);
    assert_eq!(next.len(), 2, "{next:?}");
    let at_boundary = next[0].abs_diff(next[1]) == 1;
    let p = write_pipeline(dir.path(), &yaml(3));
    let (p, sp) = (p.to_str().unwrap(), sp.to_str().unwrap());
    if at_boundary {
        eprintln!("positions {next:?} sit at a boundary: the restore at 3 must work");
        run_ok(&["check", p, "--from", sp]);
    } else {
        for verb in ["check", "run"] {
            let err = run_err(&[verb, p, "--from", sp]);
            assert!(
                err.contains("generator source `gen` at parallelism 3") && err.contains("taken at parallelism 2") && err.contains("`parallelism: 2`"),
                "{verb}: {err}"
            );
        }
    }
    let p = write_pipeline(dir.path(), &yaml(2));
    run_ok(&["check", p.to_str().unwrap(), "--from", sp]);
}
