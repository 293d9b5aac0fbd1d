//! Contract 0.2.0 from outside: stateful operators change parallelism between
//! runs (through savepoints and through checkpoints after SIGKILL) and the
//! output equals an uninterrupted run's; a 0.1.0 component restores at its
//! own parallelism only; joins tell their inputs apart.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_tests::{Rng, operators, run_err, run_ok, sorted_lines, spawn_host, write_pipeline};

use crate::checkpoints::{job_dir, reference_output};
use crate::savepoints::{API, RunningJob, local};

/// tokenize -> `component` (keyed, parallelism `par`) -> exactly-once file sink,
/// the input replayed at `rate` lines/s.
fn counting(name: &str, component: &str, par: usize, rate: u64) -> String {
    format!(
        "name: {name}
sources:
  - id: lines
    type: file
    path: input.txt
    rate: {rate}
operators:
  - id: tokenize
    component: {tokenize}
    input: lines
  - id: count
    component: {component}
    input: tokenize
    key-by: true
    parallelism: {par}
sinks:
  - id: out
    type: file
    input: count
    path: out/counts.txt
batch:
  size: 64
  linger: 5ms
checkpoints:
  interval: 200ms
{API}",
        tokenize = operators::TOKENIZE,
    )
}

/// Runs `pipeline` (from `from`, if any) until it completed a checkpoint,
/// then stops it with a savepoint; returns the savepoint's directory.
pub(crate) fn run_then_stop(pipeline: &Path, from: Option<&Path>, log: &Path) -> PathBuf {
    let from_arg = from.map(|f| f.to_str().unwrap().to_string());
    let mut args = vec![];
    if let Some(f) = &from_arg {
        args.extend(["--from", f.as_str()]);
    }
    let mut job = RunningJob::start(pipeline, &args, log);
    job.wait_for("checkpoint completed");
    let path = job.verb(&["stop", "--savepoint"]);
    let (ok, log) = job.wait();
    assert!(ok, "the stopped job failed:\n{log}");
    local(&path)
}

/// Parallelism 2 → savepoint → 3 → savepoint → 1 → savepoint → 4 to the end.
fn rescale_through_savepoints(dir: &Path, yaml: impl Fn(usize) -> String) -> String {
    let mut from: Option<PathBuf> = None;
    for (step, par) in [2, 3, 1].into_iter().enumerate() {
        let p = write_pipeline(dir, &yaml(par));
        if let Some(sp) = &from {
            let plan = run_ok(&["check", p.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
            assert!(plan.contains("ok   count"), "{plan}");
        }
        from = Some(run_then_stop(&p, from.as_deref(), &dir.join(format!("step-{step}.log"))));
    }
    let p = write_pipeline(dir, &yaml(4));
    let sp = from.unwrap();
    let plan = run_ok(&["check", p.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    let log = run_ok(&["run", p.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    assert!(log.contains("restoring from"), "{log}");
    plan
}

#[test]
fn count_rescales_2_3_1_4_through_savepoints_with_exactly_the_uninterrupted_output() {
    let times = 200;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let plan = rescale_through_savepoints(dir.path(), |par| counting("rescale", operators::COUNT, par, 500));
    // The plan of 1 → 4: every new subtask reads old subtask 0's pieces, a share of them.
    assert!(plan.contains("rescaled 1 → 4") && plan.contains("subtask 3 ← old subtask 0:"), "{plan}");
    let got = sorted_lines(&dir.path().join("out/counts.txt"));
    assert_eq!(got.len(), expected.len(), "lost or duplicated records");
    assert_eq!(got, expected);
}

/// Runs `yaml(par)` with `--resume` at parallelism 2, 3 and 1, each killed
/// (SIGKILL) at a random moment after its first checkpoint, then at 4 to the
/// end; returns the log of the last run.
fn rescale_across_kills(dir: &Path, yaml: impl Fn(usize) -> String) -> String {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Rng(seed);
    for (round, par) in [2, 3, 1].into_iter().enumerate() {
        let p = write_pipeline(dir, &yaml(par));
        let log = dir.join(format!("run-{round}.log"));
        let mut child = spawn_host(&["run", p.to_str().unwrap(), "--resume"], &log);
        let started = std::time::Instant::now();
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("checkpoint completed") {
            assert!(started.elapsed() < Duration::from_secs(60), "run {round} completed no checkpoint:\n{}", std::fs::read_to_string(&log).unwrap());
            assert!(child.try_wait().unwrap().is_none(), "run {round} ended early:\n{}", std::fs::read_to_string(&log).unwrap());
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.below(500)));
        assert!(child.try_wait().unwrap().is_none(), "run {round} ended before it was killed (seed {seed})");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    eprintln!("kill seed {seed}");
    let p = write_pipeline(dir, &yaml(4));
    let log = run_ok(&["run", p.to_str().unwrap(), "--resume"]);
    assert!(log.contains("restoring from checkpoint"), "{log}");
    log
}

#[test]
fn count_rescales_across_kills_and_resume_with_exactly_the_uninterrupted_output() {
    let times = 200;
    let expected = reference_output(times);
    let dir = job_dir(times);
    rescale_across_kills(dir.path(), |par| counting("rekill", operators::COUNT, par, 500));
    let got = sorted_lines(&dir.path().join("out/counts.txt"));
    assert_eq!(got.len(), expected.len(), "lost or duplicated records");
    assert_eq!(got, expected);
}

/// Keyed tumbling windows over out-of-order JSON events, and the expected sums.
fn window_job() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::new();
    let mut expected: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut rng = Rng(7);
    for i in 0..6000i64 {
        let ts = 1_700_000_000_000 + i * 10 + rng.below(200) as i64 - 100;
        let key = format!("k{}", rng.below(40));
        let value = rng.below(100) as i64 - 20;
        writeln!(input, r#"{{"key": "{key}", "value": {value}, "ts": {ts}}}"#).unwrap();
        *expected.entry((key, ts.div_euclid(1000) * 1000)).or_default() += value;
    }
    std::fs::write(dir.path().join("events.jsonl"), input).unwrap();
    let mut want: Vec<String> = expected.iter().map(|((k, s), sum)| format!("{k}\t{s},{},{sum}", s + 1000)).collect();
    want.sort();
    (dir, want)
}

fn windows(par: usize) -> String {
    format!(
        "name: rewindow
sources:
  - id: events
    type: file
    path: events.jsonl
    format: json
    out-of-orderness: 200ms
    rate: 800
operators:
  - id: count
    component: {window}
    input: events
    key-by: true
    parallelism: {par}
    config: {{ size: 1000 }}
sinks:
  - id: out
    type: file
    input: count
    path: sums.txt
batch:
  size: 50
  linger: 5ms
watermark-interval: 0s
checkpoints:
  interval: 200ms
{API}",
        window = operators::WINDOW
    )
}

#[test]
fn window_rescales_2_3_1_4_through_savepoints_with_exactly_the_expected_sums() {
    let (dir, want) = window_job();
    rescale_through_savepoints(dir.path(), windows);
    assert_eq!(sorted_lines(&dir.path().join("sums.txt")), want);
}

#[test]
fn window_rescales_across_kills_and_resume_with_exactly_the_expected_sums() {
    let (dir, want) = window_job();
    rescale_across_kills(dir.path(), windows);
    assert_eq!(sorted_lines(&dir.path().join("sums.txt")), want);
}

#[test]
fn a_0_1_component_restores_at_its_own_parallelism_and_refuses_to_rescale() {
    let times = 40;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &counting("old", operators::COUNT_0_1, 2, 500));
    let out = run_ok(&["validate", p.to_str().unwrap()]);
    assert!(out.contains("operator count: cairn:operator@0.1.0"), "{out}");
    let sp = run_then_stop(&p, None, &dir.path().join("first.log"));
    let inspect = run_ok(&["savepoint", "inspect", sp.to_str().unwrap()]);
    assert!(inspect.contains("operator count: parallelism 2, cairn:operator@0.1.0"), "{inspect}");

    let p3 = write_pipeline(dir.path(), &counting("old", operators::COUNT_0_1, 3, 500));
    let err = run_err(&["check", p3.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    assert!(err.contains("operator `count`") && err.contains("cairn:operator@0.1.0") && err.contains("parallelism 2 only"), "{err}");
    let err = run_err(&["run", p3.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    assert!(err.contains("parallelism 2 only"), "{err}");
    // Nor into the 0.2.0 build of the same operator.
    let p02 = write_pipeline(dir.path(), &counting("old", operators::COUNT, 2, 500));
    let err = run_err(&["run", p02.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    assert!(err.contains("operator `count`") && err.contains("0.1.0 component") && err.contains("0.2.0"), "{err}");

    let p = write_pipeline(dir.path(), &counting("old", operators::COUNT_0_1, 2, 0));
    run_ok(&["run", p.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), expected);
}

/// Rewrites the metadata of savepoint `sp` with `edit` applied to operator `count`.
fn edit_metadata(sp: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let path = sp.join("_metadata");
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut meta["operators"]["count"]);
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
}

#[test]
fn pieces_that_overlap_leave_a_gap_or_lie_are_refused_naming_operator_and_subtask() {
    let dir = job_dir(40);
    let p = write_pipeline(dir.path(), &counting("badpieces", operators::COUNT, 2, 500));
    let sp = run_then_stop(&p, None, &dir.path().join("first.log"));
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(sp.join("_metadata")).unwrap()).unwrap();
    assert_eq!(meta["operators"]["count"]["world"], "0.2.0");
    let p3 = write_pipeline(dir.path(), &counting("badpieces", operators::COUNT, 3, 500));
    let copy = |name: &str| {
        // Savepoints are self-contained and relocatable: a copy restores like the original.
        let to = dir.path().join(name);
        let ok = std::process::Command::new("cp").arg("-r").arg(&sp).arg(&to).status().unwrap().success();
        assert!(ok, "cp -r {} {}", sp.display(), to.display());
        to
    };
    let last_keyed = |op: &mut serde_json::Value, s: usize| -> usize { op["subtasks"][s]["pieces"].as_array().unwrap().len() - 1 };
    // A gap: subtask 1's last keyed piece ends early.
    let gap = copy("gap");
    edit_metadata(&gap, |op| {
        let i = last_keyed(op, 1);
        op["subtasks"][1]["pieces"][i]["kind"]["keyed"]["last"] = serde_json::json!(u64::MAX - 5);
    });
    let err = run_err(&["check", p3.to_str().unwrap(), "--from", gap.to_str().unwrap()]);
    assert!(err.contains("operator `count` subtask 1") && err.contains("gap"), "{err}");
    // An overlap: subtask 0 claims subtask 1's hashes too.
    let overlap = copy("overlap");
    edit_metadata(&overlap, |op| {
        let i = last_keyed(op, 0);
        op["subtasks"][0]["pieces"][i]["kind"]["keyed"]["last"] = serde_json::json!(u64::MAX);
    });
    let err = run_err(&["run", p3.to_str().unwrap(), "--from", overlap.to_str().unwrap()]);
    assert!(err.contains("operator `count` subtask 0") && err.contains("reaches past"), "{err}");
    // A piece whose checksum does not match: named, and nothing runs.
    let corrupt = copy("corrupt");
    edit_metadata(&corrupt, |op| {
        op["subtasks"][1]["pieces"][1]["sha256"] = serde_json::json!("00");
    });
    let err = run_err(&["run", p3.to_str().unwrap(), "--from", corrupt.to_str().unwrap()]);
    assert!(err.contains("corrupt") || err.contains("checksum") || err.contains("sha256"), "{err}");
    // The untouched savepoint still rescales.
    run_ok(&["check", p3.to_str().unwrap(), "--from", sp.to_str().unwrap()]);
}

/// Two file sources joined by key in 1 s windows: orders with customers.
fn join_job(rate: u64) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut orders, mut customers) = (String::new(), String::new());
    let mut rng = Rng(11);
    let mut left: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    let mut right: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    for i in 0..3000i64 {
        let ts = 1_700_000_000_000 + i * 10;
        let key = format!("c{}", rng.below(30));
        let order = format!("order{i}");
        writeln!(orders, r#"{{"key": "{key}", "value": "{order}", "ts": {ts}}}"#).unwrap();
        left.entry((key, ts.div_euclid(1000) * 1000)).or_default().push(order);
        if i % 3 == 0 {
            let key = format!("c{}", rng.below(30));
            let who = format!("visit{i}");
            writeln!(customers, r#"{{"key": "{key}", "value": "{who}", "ts": {ts}}}"#).unwrap();
            right.entry((key, ts.div_euclid(1000) * 1000)).or_default().push(who);
        }
    }
    std::fs::write(dir.path().join("orders.jsonl"), orders).unwrap();
    std::fs::write(dir.path().join("customers.jsonl"), customers).unwrap();
    let mut want = Vec::new();
    for (k, ls) in &left {
        for l in ls {
            for r in right.get(k).into_iter().flatten() {
                want.push(format!("{}\t{l}|{r}", k.0));
            }
        }
    }
    want.sort();
    let yaml = format!(
        "name: join
sources:
  - id: orders
    type: file
    path: orders.jsonl
    format: json
    rate: {rate}
  - id: customers
    type: file
    path: customers.jsonl
    format: json
    rate: {}
operators:
  - id: joined
    component: {join}
    input: [orders, customers]
    key-by: true
    parallelism: 2
    config: {{ size: 1000, separator: '|' }}
sinks:
  - id: out
    type: file
    input: joined
    path: out/counts.txt
batch:
  size: 50
  linger: 5ms
watermark-interval: 0s
checkpoints:
  interval: 200ms
",
        rate.div_ceil(3),
        join = operators::JOIN
    );
    let p = write_pipeline(dir.path(), &yaml);
    (dir, p, want)
}

#[test]
fn a_join_of_two_sources_equals_the_plain_computation_also_when_killed_and_resumed() {
    let (dir, p, want) = join_job(0);
    run_ok(&["run", p.to_str().unwrap()]);
    let got = sorted_lines(&dir.path().join("out/counts.txt"));
    assert!(!want.is_empty());
    assert_eq!(got, want);

    let (dir, p, want) = join_job(600);
    let got = crate::checkpoints::kill_and_resume(&p, dir.path(), 3);
    assert_eq!(got.len(), want.len(), "lost or duplicated records");
    assert_eq!(got, want);
}

/// The C counter of contract 0.2.0 writes the Rust SDK's pieces byte for
/// byte: the Rust counter's savepoint at parallelism 2 restores into it at 3,
/// its savepoint into the Rust counter at 1, and the output is exactly the
/// uninterrupted run's.
#[test]
fn the_c_counter_of_0_2_rescales_and_restores_across_languages() {
    let Some(()) = crate::languages::toolchain("c", "c count-0-2 rescale") else { return };
    let c = cairn_tests::guest_component("c", "count-0-2");
    let times = 200;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let steps = [(operators::COUNT, 2), (c.to_str().unwrap(), 3)];
    let mut from: Option<PathBuf> = None;
    for (step, (component, par)) in steps.into_iter().enumerate() {
        let p = write_pipeline(dir.path(), &counting("c-rescale", component, par, 500));
        from = Some(run_then_stop(&p, from.as_deref(), &dir.path().join(format!("step-{step}.log"))));
    }
    let p = write_pipeline(dir.path(), &counting("c-rescale", operators::COUNT, 1, 0));
    let plan = run_ok(&["check", p.to_str().unwrap(), "--from", from.as_ref().unwrap().to_str().unwrap()]);
    assert!(plan.contains("rescaled 3 → 1") && plan.contains("component changed"), "{plan}");
    run_ok(&["run", p.to_str().unwrap(), "--from", from.unwrap().to_str().unwrap()]);
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), expected);
}
