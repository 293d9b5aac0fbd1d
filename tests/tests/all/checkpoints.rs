//! Checkpoints and restore: exactly-once by equivalence under SIGKILL,
//! retention, and every bad checkpoint a user can hand the host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_tests::{Rng, checkpoint_dirs, host, now_ms, operators, run_err, run_ok, run_stdout, sorted_lines, spawn_host, write_pipeline};

const TEXT: &str = include_str!("../../../examples/wordcount/input.txt");

/// tokenize -> count (keyed, parallelism 2) -> exactly-once file sink, with
/// checkpoints every `interval`, replaying `rate` lines/s (0: unlimited).
pub(crate) fn counting_pipeline(name: &str, storage: &str, interval: &str, rate: u64, extra: &str) -> String {
    let rate = if rate > 0 { format!("\n    rate: {rate}") } else { String::new() };
    format!(
        "name: {name}
sources:
  - id: lines
    type: file
    path: input.txt{rate}
operators:
  - id: tokenize
    component: {tokenize}
    input: lines
  - id: count
    component: {count}
    input: tokenize
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
  interval: {interval}
{extra}storage:
  url: {storage}
",
        tokenize = operators::TOKENIZE,
        count = operators::COUNT,
    )
}

/// A job directory with the input text repeated `times`.
pub(crate) fn job_dir(times: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), TEXT.repeat(times)).unwrap();
    dir
}

/// The output of an uninterrupted run of the same pipeline on the same input.
pub(crate) fn reference_output(times: usize) -> Vec<String> {
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &counting_pipeline("reference", "storage", "1s", 0, ""));
    run_ok(&["run", p.to_str().unwrap()]);
    sorted_lines(&dir.path().join("out/counts.txt"))
}

/// Kills `host run --resume` with SIGKILL at random moments, then lets it finish;
/// the committed output must equal the uninterrupted run's.
pub(crate) fn kill_and_resume(pipeline: &Path, dir: &Path, kills: usize) -> Vec<String> {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Rng(seed);
    let mut schedule = Vec::new();
    for round in 0..kills {
        let log = dir.join(format!("run-{round}.log"));
        let mut child = spawn_host(&["run", pipeline.to_str().unwrap(), "--resume"], &log);
        // Kill at a random moment after this run completed its first checkpoint,
        // so every round makes progress however slow the machine is.
        let started = std::time::Instant::now();
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("checkpoint completed") {
            assert!(started.elapsed() < Duration::from_secs(30), "run {round} completed no checkpoint in 30 s");
            assert!(child.try_wait().unwrap().is_none(), "run {round} ended early:\n{}", std::fs::read_to_string(&log).unwrap());
            std::thread::sleep(Duration::from_millis(10));
        }
        let wait = Duration::from_millis(rng.below(700));
        schedule.push(started.elapsed() + wait);
        std::thread::sleep(wait);
        if child.try_wait().unwrap().is_some() {
            panic!("run {round} ended before it was killed (seed {seed}); log:\n{}", std::fs::read_to_string(&log).unwrap());
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    eprintln!("killed after {schedule:?} (seed {seed})");
    let log = run_ok(&["run", pipeline.to_str().unwrap(), "--resume"]);
    assert!(log.contains("restoring from checkpoint"), "the last run did not restore:\n{log}");
    sorted_lines(&dir.join("out/counts.txt"))
}

#[test]
fn killed_and_resumed_runs_equal_an_uninterrupted_run() {
    let times = 100;
    let expected = reference_output(times);
    let dir = job_dir(times);
    // 2500 lines at 600 lines/s: an uninterrupted run would take 4 s.
    let p = write_pipeline(dir.path(), &counting_pipeline("wc", "storage", "150ms", 600, ""));
    let got = kill_and_resume(&p, dir.path(), 3);
    assert_eq!(got.len(), expected.len(), "lost or duplicated records");
    assert_eq!(got, expected);
}

pub(crate) fn finished_job(name: &str, extra: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = job_dir(4);
    let extra = format!("  on-finish: keep\n{extra}");
    let p = write_pipeline(dir.path(), &counting_pipeline(name, "storage", "1h", 0, &extra));
    run_ok(&["run", p.to_str().unwrap()]);
    let chk = checkpoint_dirs(&dir.path().join("storage")).pop().expect("the final checkpoint is kept");
    (dir, p, chk)
}

#[test]
fn restore_from_a_checkpoint_path_reproduces_the_state() {
    let (dir, p, chk) = finished_job("again", "");
    let first = std::fs::read_to_string(dir.path().join("out/counts.txt")).unwrap();
    // Restoring from the final checkpoint: sources are at the end, nothing new is emitted,
    // and the committed output is exactly what it was.
    let log = run_ok(&["run", p.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    assert!(log.contains("restoring from checkpoint"), "{log}");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/counts.txt")).unwrap(), first);
    // And the checkpoint restored from is untouched.
    assert!(chk.join("_metadata").exists());
}

#[test]
fn corrupt_or_truncated_state_is_named() {
    let (dir, p, chk) = finished_job("corrupt", "");
    let state_dir = dir.path().join("storage/corrupt/state");
    let mut files: Vec<_> = std::fs::read_dir(&state_dir).unwrap().flatten().map(|e| e.path()).collect();
    files.retain(|f| std::fs::metadata(f).unwrap().len() > 0);
    let victim = files.first().expect("a non-empty state file").clone();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&victim, bytes).unwrap();
    let err = run_err(&["run", p.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(err.contains("is corrupt") && err.contains(name), "{err}");
}

#[test]
fn metadata_of_another_pipeline_or_version_and_missing_checkpoints() {
    let (dir, p, chk) = finished_job("owner", "");
    let other = write_pipeline(&dir.path().join("out"), &std::fs::read_to_string(&p).unwrap().replace("name: owner", "name: thief"));
    let err = run_err(&["run", other.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    assert!(err.contains("belongs to pipeline `owner`, not `thief`"), "{err}");

    let meta = chk.join("_metadata");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("\"version\": 1,", "\"version\": 99,")).unwrap();
    let err = run_err(&["run", p.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    assert!(err.contains("metadata version 99"), "{err}");
    std::fs::write(&meta, "{ not json").unwrap();
    let err = run_err(&["run", p.to_str().unwrap(), "--from", meta.to_str().unwrap()]);
    assert!(err.contains("not a Cairn checkpoint metadata file"), "{err}");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = run_err(&["run", p.to_str().unwrap(), "--from", empty.to_str().unwrap()]);
    assert!(err.contains("no snapshot (checkpoint or savepoint) at") && err.contains("_metadata"), "{err}");
}

#[test]
fn operators_must_match_the_checkpoint() {
    let (_dir, p, chk) = finished_job("shape", "");
    let yaml = std::fs::read_to_string(&p).unwrap();
    let from = chk.to_str().unwrap();

    // Another parallelism is fine for a 0.2.0 operator (rescale.rs tests it
    // through; and that a 0.1.0 one is refused).
    std::fs::write(&p, yaml.replace("parallelism: 2", "parallelism: 3")).unwrap();
    let out = host(&["check", p.to_str().unwrap(), "--from", from]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("ok   count: restores (3 subtasks, cairn:operator@0.2.0, rescaled 2 → 3"), "{text}");

    std::fs::write(&p, yaml.replace("id: count", "id: counter").replace("input: count", "input: counter")).unwrap();
    let err = run_err(&["run", p.to_str().unwrap(), "--from", from]);
    assert!(err.contains("state for operator `count`, which the pipeline no longer has"), "{err}");
    assert!(err.contains("--allow-non-restored-state"), "{err}");
    run_ok(&["run", p.to_str().unwrap(), "--from", from, "--allow-non-restored-state"]);
}

#[test]
fn unreachable_storage_fails_fast_naming_the_url() {
    let dir = job_dir(1);
    let storage = "s3://cairn-test/x\n  options:\n    endpoint: http://127.0.0.1:9\n    allow-http: \"true\"\n    region: us-east-1\n    access-key-id: a\n    secret-access-key: b";
    let p = write_pipeline(dir.path(), &counting_pipeline("nowhere", storage, "1s", 0, ""));
    let started = std::time::Instant::now();
    let err = run_err(&["run", p.to_str().unwrap()]);
    assert!(err.contains("s3://cairn-test/x"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!dir.path().join("out/counts.txt").exists(), "nothing may run when storage is unreachable");
}

#[test]
fn retention_keeps_exactly_n_and_no_orphans_and_skips_incomplete_directories() {
    let dir = job_dir(20);
    let p = write_pipeline(dir.path(), &counting_pipeline("keep", "storage", "50ms", 500, "  retain: 2\n  on-finish: keep\n"));
    // Garbage of a crashed run: a checkpoint directory without metadata, and an orphan state file.
    let junk = dir.path().join("storage/keep/checkpoints/run-0-dead/chk-999999");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("partial"), "x").unwrap();
    std::fs::create_dir_all(dir.path().join("storage/keep/state")).unwrap();
    std::fs::write(dir.path().join("storage/keep/state/deadbeef"), "orphan").unwrap();

    let log = run_ok(&["run", p.to_str().unwrap(), "--resume"]);
    assert!(log.contains("no completed checkpoint"), "the junk directory must not count as a checkpoint:\n{log}");
    assert!(!junk.exists(), "incomplete checkpoint directory left behind");
    let kept = checkpoint_dirs(&dir.path().join("storage"));
    assert_eq!(kept.len(), 2, "retain: 2 but kept {kept:?}");
    let completed = log.matches("checkpoint completed").count();
    assert!(completed >= 4, "too few checkpoints to test retention ({completed}):\n{log}");

    // Every state file is referenced by a kept checkpoint.
    let mut referenced = std::collections::BTreeSet::new();
    for chk in &kept {
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(chk.join("_metadata")).unwrap()).unwrap();
        for op in meta["operators"].as_object().unwrap().values() {
            for s in op["subtasks"].as_array().unwrap() {
                referenced.insert(s["sha256"].as_str().unwrap().to_string());
            }
        }
    }
    let stored: std::collections::BTreeSet<String> =
        std::fs::read_dir(dir.path().join("storage/keep/state")).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(stored, referenced, "orphan or missing state files");
}

#[test]
fn storage_failing_during_checkpoints_is_tolerated_and_recovers() {
    let times = 30;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &counting_pipeline("flaky", "storage", "100ms", 1000, "  tolerable-failures: 1000\n"));
    let log_path = dir.path().join("run.log");
    let mut child = spawn_host(&["run", p.to_str().unwrap()], &log_path);
    // Break storage for a while: the state area becomes a plain file, so uploads fail.
    let state = dir.path().join("storage/flaky/state");
    let waited = std::time::Instant::now();
    while !state.is_dir() {
        assert!(waited.elapsed() < Duration::from_secs(20), "no checkpoint was taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    let aside = dir.path().join("state-aside");
    std::fs::rename(&state, &aside).unwrap();
    std::fs::write(&state, "not a directory").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::remove_file(&state).unwrap();
    std::fs::rename(&aside, &state).unwrap();
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("checkpoint failed"), "no checkpoint failed while storage was broken:\n{log}");
    let last_failed = log.rfind("checkpoint failed").unwrap();
    assert!(log[last_failed..].contains("checkpoint completed"), "no checkpoint completed after storage recovered:\n{log}");
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), expected);
}

#[test]
fn too_many_failed_checkpoints_fail_the_job() {
    let dir = job_dir(30);
    let p = write_pipeline(dir.path(), &counting_pipeline("doomed", "storage", "100ms", 1000, "  tolerable-failures: 1\n"));
    std::fs::create_dir_all(dir.path().join("storage/doomed")).unwrap();
    std::fs::write(dir.path().join("storage/doomed/state"), "not a directory").unwrap();
    let err = run_err(&["run", p.to_str().unwrap()]);
    assert!(err.contains("exceed `tolerable-failures: 1`"), "{err}");
}

#[test]
fn list_and_inspect_read_checkpoints_from_storage_without_a_job() {
    let dir = job_dir(20);
    let p = write_pipeline(dir.path(), &counting_pipeline("listed", "storage", "50ms", 500, "  retain: 2\n  on-finish: keep\n"));
    run_ok(&["run", p.to_str().unwrap()]);
    let out = host(&["checkpoint", "list", p.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "retain: 2 → two listed: {rows:?}");
    assert!(rows[0]["id"].as_u64() < rows[1]["id"].as_u64());
    assert_eq!(rows[1]["trigger"], "final");
    assert_eq!((rows[0]["kept"].as_bool(), rows[1]["kept"].as_bool()), (Some(false), Some(true)));

    let path = rows[1]["path"].as_str().unwrap();
    let out = host(&["checkpoint", "inspect", path, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(meta["pipeline"], "listed");
    assert_eq!(meta["operators"]["count"]["parallelism"], 2);
    assert_eq!(meta["operators"]["count"]["subtasks"].as_array().unwrap().len(), 2);
    assert_eq!(meta["sources"]["lines"]["line"], 20 * TEXT.lines().count());
    let out = host(&["checkpoint", "inspect", path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("operator count: parallelism 2") && text.contains("subtask 1:"), "{text}");
    let out = host(&["checkpoint", "inspect", dir.path().to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no snapshot (checkpoint or savepoint) at"));
}

#[test]
fn a_finished_job_deletes_its_checkpoints_by_default_and_keeps_them_when_asked() {
    let dir = job_dir(4);
    let p = write_pipeline(dir.path(), &counting_pipeline("tidy", "storage", "20ms", 2000, ""));
    let log = run_ok(&["run", p.to_str().unwrap()]);
    assert!(log.contains("checkpoint completed"), "{log}");
    assert!(checkpoint_dirs(&dir.path().join("storage")).is_empty(), "checkpoints left after a normal finish");
    let state = dir.path().join("storage/tidy/state");
    assert!(!state.exists() || std::fs::read_dir(&state).unwrap().next().is_none(), "state files left behind");
    assert!(log.contains("checkpoints of this run deleted"), "{log}");
}

#[test]
fn a_job_that_fails_for_good_keeps_its_last_checkpoint_and_says_where() {
    let dir = job_dir(60);
    // The counting operator is replaced by one that starts to panic after 1.5 s.
    let config = format!("    parallelism: 2\n    config: {{ fail-in: process, how: panic, from: {} }}\n", now_ms() + 1500);
    let yaml = counting_pipeline("broken", "storage", "50ms", 1000, "").replace(operators::COUNT, operators::FAULTY).replace("    parallelism: 2\n", &config)
        + "restart: { strategy: none }\n";
    let p = write_pipeline(dir.path(), &yaml);
    let err = run_err(&["run", p.to_str().unwrap()]);
    assert!(err.contains("failed for good") && err.contains("operator `count` subtask"), "{err}");
    let kept = checkpoint_dirs(&dir.path().join("storage"));
    let last = kept.last().expect("the last checkpoint is kept");
    assert!(last.join("_kept").exists(), "not marked as kept");
    assert!(err.contains(&format!("kept checkpoint: file://{}", last.display())), "{err}");
    let marker: serde_json::Value = serde_json::from_slice(&std::fs::read(last.join("_kept")).unwrap()).unwrap();
    assert_eq!(marker["reason"], "failed");
}

#[test]
fn a_promoted_checkpoint_is_self_contained_and_relocatable() {
    let (dir, p, chk) = finished_job("promo", "");
    let first = std::fs::read_to_string(dir.path().join("out/counts.txt")).unwrap();

    let out = host(&["checkpoint", "promote", chk.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("storage/promo/savepoints").is_dir());

    let sp = dir.path().join("sp1");
    let out = host(&["checkpoint", "promote", chk.to_str().unwrap(), "--to", sp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Nothing of the checkpoint area is needed any more, and the savepoint can move.
    std::fs::remove_dir_all(dir.path().join("storage")).unwrap();
    let moved = dir.path().join("elsewhere/sp");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&sp, &moved).unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(moved.join("_metadata")).unwrap()).unwrap();
    assert_eq!(meta["kind"], "savepoint");

    let log = run_ok(&["run", p.to_str().unwrap(), "--from", moved.to_str().unwrap()]);
    assert!(log.contains("restoring from checkpoint"), "{log}");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/counts.txt")).unwrap(), first);
}

#[test]
fn check_reports_whether_each_operator_restores_without_running() {
    let (dir, p, chk) = finished_job("checked", "");
    let out_before = std::fs::read_to_string(dir.path().join("out/counts.txt")).unwrap();
    let out = host(&["check", p.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("ok   count: restores (2 subtasks, cairn:operator@0.2.0)") && text.contains("ok   tokenize"), "{text}");

    // A state version the operator cannot read (as if saved by a newer operator).
    let meta = chk.join("_metadata");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    for s in m["operators"]["count"]["subtasks"].as_array_mut().unwrap() {
        s["version"] = 2.into();
    }
    std::fs::write(&meta, serde_json::to_vec(&m).unwrap()).unwrap();
    let out = host(&["check", p.to_str().unwrap(), "--from", chk.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    let count = report["rows"].as_array().unwrap().iter().find(|r| r["id"] == "count").unwrap();
    assert_eq!(count["ok"], false);
    assert_eq!(count["kind"], "operator");
    assert_eq!(count["detail"]["state-versions"], serde_json::json!([2, 2]));
    assert!(report["error"].as_str().unwrap().contains("cannot restore state version 2"), "{report}");
    assert!(count["result"].as_str().unwrap().contains("cannot restore state version 2"), "{count}");
    // Nothing ran: the output is untouched.
    assert_eq!(std::fs::read_to_string(dir.path().join("out/counts.txt")).unwrap(), out_before);
}

/// A state copied out at many checkpoints of one run (each copy landing in the
/// host memory the previous one freed, `cairn_host::alloc`) restores into a
/// fresh run byte for byte, like the uninterrupted run's.
#[test]
fn state_checkpointed_many_times_in_one_run_restores_exactly() {
    const SIZE: u64 = 24 << 20; // six 4 MiB pieces
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "a line\n".repeat(300)).unwrap();
    let yaml = format!(
        "name: many
sources:
  - id: src
    type: file
    path: in.txt
    rate: 150
operators:
  - id: blob
    component: {}
    input: src
    config: {{ size: {SIZE} }}
sinks:
  - id: out
    type: file
    input: blob
    path: out.txt
checkpoints:
  interval: 100ms
  on-finish: keep
",
        operators::BLOB
    );
    let p = write_pipeline(dir.path(), &yaml);
    let summary = cairn_tests::run_in_process(&p).unwrap();
    let completed = summary.checkpoints.history.iter().filter(|r| r.status == "completed").count();
    assert!(completed >= 5, "only {completed} checkpoints completed");
    let checksums = || -> Vec<String> {
        let text = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
        text.lines().filter(|l| l.starts_with("blob\t")).map(str::to_string).collect()
    };
    let first = checksums();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].starts_with(&format!("blob\t{SIZE} ")), "{first:?}");

    // A fresh run from the last checkpoint (its input all read) reports the restored blob.
    let latest = summary.checkpoints.latest.expect("final checkpoint").replace("file://", "");
    let opts = cairn_host::checkpoint::setup::StartFrom { from: Some(latest), ..Default::default() };
    cairn_host::cli::run_pipeline_with(&p, std::sync::Arc::default(), &opts).unwrap();
    assert_eq!(checksums(), [first[0].clone(), first[0].clone()]);
}

/// A snapshot whose metadata cannot be read is listed as broken, with why;
/// `--verify` fails on it. It is never silently left out.
#[test]
fn listings_show_an_unreadable_snapshot_as_broken() {
    let (dir, p, chk) = finished_job("broken-list", "");
    let p = p.to_str().unwrap();
    let sp_dir = dir.path().join("storage/broken-list/savepoints");
    let good = run_stdout(&["checkpoint", "promote", chk.to_str().unwrap()]);
    let bad = sp_dir.join("copy");
    run_stdout(&["checkpoint", "promote", chk.to_str().unwrap(), "--to", bad.to_str().unwrap()]);
    let meta = bad.join("_metadata");
    let text = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, &text[..text.len() / 2]).unwrap();

    let rows: serde_json::Value = serde_json::from_str(&run_stdout(&["savepoint", "list", p, "--json"])).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().any(|r| r["path"].as_str() == Some(good.trim()) && r["broken"].is_null()), "{rows:?}");
    let broken = rows.iter().find(|r| r["broken"].is_string()).expect("a row marked broken");
    assert!(broken["path"].as_str().unwrap().ends_with("/savepoints/copy"), "{broken}");
    let listing = run_stdout(&["savepoint", "list", p]);
    assert!(listing.contains("BROKEN") && listing.contains("savepoints/copy"), "{listing}");
    let out = host(&["savepoint", "list", p, "--verify"]);
    assert!(!out.status.success(), "--verify passes with a broken savepoint");

    // The same for a checkpoint.
    let cmeta = chk.join("_metadata");
    std::fs::write(&cmeta, b"{").unwrap();
    let rows: serde_json::Value = serde_json::from_str(&run_stdout(&["checkpoint", "list", p, "--json"])).unwrap();
    assert!(rows.as_array().unwrap().iter().any(|r| r["broken"].is_string()), "{rows}");
    assert!(!host(&["checkpoint", "list", p, "--verify"]).status.success());
}
