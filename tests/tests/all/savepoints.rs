//! Savepoints: on request (also with periodic checkpoints off), on stop (with
//! and without draining windows), periodic with their own retention, moved
//! elsewhere and restored, disposed of — each against a running `host` driven
//! through its CLI and REST API, on real files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use cairn_tests::{checkpoint_dirs, host, operators, sorted_lines, spawn_host, write_pipeline};
use serde_json::Value;

use crate::checkpoints::{counting_pipeline, job_dir, reference_output};

/// The API on a free loopback port.
pub(crate) const API: &str = "api:\n  listen: 127.0.0.1:0\n";

/// A `host run` in the background, with the URL of its REST API.
pub(crate) struct RunningJob {
    pub child: Child,
    pub api: String,
    pub log: PathBuf,
}

impl RunningJob {
    /// Starts `host run <pipeline> <args>` and waits for its API to listen.
    pub fn start(pipeline: &Path, args: &[&str], log: &Path) -> RunningJob {
        let mut all = vec!["run", pipeline.to_str().unwrap()];
        all.extend_from_slice(args);
        let child = spawn_host(&all, log);
        let mut job = RunningJob { child, api: String::new(), log: log.to_path_buf() };
        let line = job.wait_for("REST API listening on ");
        let url = line.split("REST API listening on ").nth(1).unwrap().split_whitespace().next().unwrap();
        job.api = url.to_string();
        job
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line containing `needle`, and returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no `{needle}` in the log after 60 s:\n{}", self.log());
            assert!(self.child.try_wait().unwrap().is_none(), "the job ended before `{needle}`:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to end; returns whether it succeeded.
    pub fn wait(mut self) -> (bool, String) {
        let ok = self.child.wait().unwrap().success();
        (ok, self.log())
    }

    /// Runs a `host` verb against this job's API; returns stdout (asserting success).
    pub fn verb(&self, args: &[&str]) -> String {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--api", &self.api]);
        let out = host(&all);
        assert!(out.status.success(), "host {all:?} failed:\n{}\njob log:\n{}", String::from_utf8_lossy(&out.stderr), self.log());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// A storage path printed by the host (`file:///…`) as a local path.
pub(crate) fn local(url: &str) -> PathBuf {
    PathBuf::from(url.strip_prefix("file://").unwrap_or(url))
}

fn metadata(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("_metadata")).unwrap()).unwrap()
}

/// Every file under `root`, relative to it.
fn files_under(root: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.insert(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    found
}

/// A savepoint is self-contained: every state file its metadata names is inside it.
fn assert_self_contained(sp: &Path) {
    let m = metadata(sp);
    assert_eq!(m["kind"], "savepoint");
    for op in m["operators"].as_object().unwrap().values() {
        for h in op["subtasks"].as_array().unwrap() {
            let file = h["file"].as_str().unwrap();
            assert!(file.starts_with("state/"), "{file} is not inside the savepoint");
            assert!(sp.join(file).is_file(), "{} missing", sp.join(file).display());
        }
    }
}

#[test]
fn stop_with_savepoint_then_restore_from_another_directory_equals_an_uninterrupted_run() {
    let times = 60;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &counting_pipeline("stopper", "storage", "200ms", 600, API));
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run-1.log"));
    job.wait_for("checkpoint completed");
    let path = job.verb(&["stop", "--savepoint"]);
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
    assert!(log.contains(&format!("stopped with savepoint: {path}")), "{log}");
    let sp = local(&path);
    assert!(sp.starts_with(dir.path().join("storage/stopper/savepoints")), "{path}");
    assert_eq!(metadata(&sp)["trigger"], "stop");
    let committed = sorted_lines(&dir.path().join("out/counts.txt"));
    assert!(!committed.is_empty() && committed.len() < expected.len(), "stopped half-way: {} of {} lines", committed.len(), expected.len());

    // Relocatable: move it out of the storage area and restore from there.
    let moved = dir.path().join("elsewhere/my-savepoint");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&sp, &moved).unwrap();
    assert_self_contained(&moved);
    let out = host(&["run", p.to_str().unwrap(), "--from", moved.to_str().unwrap()]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && log.contains("restoring from checkpoint"), "{log}");
    let got = sorted_lines(&dir.path().join("out/counts.txt"));
    assert_eq!(got.len(), expected.len(), "lost or duplicated records");
    assert_eq!(got, expected);
    assert!(moved.join("_metadata").exists(), "restoring must not touch the savepoint");
}

#[test]
fn a_manual_savepoint_with_checkpoints_off_commits_nothing_and_restores_exactly_once() {
    let times = 60;
    let expected = reference_output(times);
    let dir = job_dir(times);
    // `interval:` empty: no periodic checkpoints.
    let p = write_pipeline(dir.path(), &counting_pipeline("manual", "storage", "", 600, API));
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run-1.log"));
    std::thread::sleep(Duration::from_millis(800));
    let path = job.verb(&["savepoint", "trigger"]);
    let sp = local(&path);
    assert_self_contained(&sp);
    assert_eq!(metadata(&sp)["trigger"], "manual");
    // An intermediate savepoint commits no sink output.
    let out = dir.path().join("out/counts.txt");
    assert_eq!(std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0), 0, "a savepoint committed output");
    let inspect = host(&["savepoint", "inspect", sp.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success() && text.starts_with("savepoint ") && text.contains("operator count: parallelism 2"), "{text}");

    job.wait_for("savepoint completed");
    job.verb(&["cancel"]);
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
    assert!(checkpoint_dirs(&dir.path().join("storage/manual/checkpoints")).is_empty(), "no checkpoint was asked for");
    let listed = host(&["savepoint", "list", p.to_str().unwrap(), "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["path"], path.as_str());

    let out_run = host(&["run", p.to_str().unwrap(), "--from", &path]);
    assert!(out_run.status.success(), "{}", String::from_utf8_lossy(&out_run.stderr));
    assert_eq!(sorted_lines(&out), expected);
}

fn periodic_ids(p: &Path) -> (Vec<(u64, String)>, Vec<String>) {
    let listed = host(&["savepoint", "list", p.to_str().unwrap(), "--json"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let (mut periodic, mut other) = (Vec::new(), Vec::new());
    for s in listed.as_array().unwrap() {
        let path = s["path"].as_str().unwrap().to_string();
        if s["trigger"] == "periodic" {
            periodic.push((s["id"].as_u64().unwrap(), s["triggered-at"].as_str().unwrap().to_string()));
        } else {
            other.push(path);
        }
    }
    (periodic, other)
}

#[test]
fn periodic_savepoints_are_pruned_by_their_own_retention_and_dispose_removes_only_its_savepoint() {
    let dir = job_dir(100);
    let extra = format!("  on-finish: keep\nsavepoints:\n  interval: 150ms\n  retain: 2\n{API}");
    let p = write_pipeline(dir.path(), &counting_pipeline("periodic", "storage", "100ms", 800, &extra));
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run-1.log"));
    job.wait_for("kind=Savepoint trigger=Periodic");
    let manual = job.verb(&["savepoint", "trigger"]);
    job.wait_for("periodic savepoint deleted by its retention");
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
    let taken = log.lines().filter(|l| l.contains("savepoint completed") && l.contains("trigger=Periodic")).count();
    assert!(taken > 2, "only {taken} periodic savepoints in the run:\n{log}");

    let (periodic, other) = periodic_ids(&p);
    assert_eq!(periodic.len(), 2, "retain: 2 keeps the two newest periodic savepoints: {periodic:?}");
    assert_eq!(other, vec![manual.clone()], "the manual savepoint is never pruned");
    let kept: Vec<PathBuf> = checkpoint_dirs(&dir.path().join("storage/periodic/checkpoints")).into_iter().filter(|d| d.join("_kept").exists()).collect();
    assert_eq!(kept.len(), 1, "savepoint retention does not touch checkpoints");

    // max-age prunes periodic savepoints by age, also those of earlier runs.
    std::fs::write(dir.path().join("input.txt"), "one more line\n".repeat(200)).unwrap();
    let yaml = std::fs::read_to_string(&p).unwrap().replace("  retain: 2\n", "  max-age: 300ms\n").replace("rate: 800", "rate: 200");
    std::fs::write(&p, yaml).unwrap();
    let out = host(&["run", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (young, other) = periodic_ids(&p);
    assert!(!young.is_empty());
    assert!(young.iter().all(|(id, _)| !periodic.iter().any(|(old, _)| old == id)), "old periodic savepoints outlived max-age: {young:?}");
    assert_eq!(other, vec![manual.clone()]);

    // Dispose removes that savepoint's files, and nothing else.
    let storage = dir.path().join("storage");
    let before = files_under(&storage);
    let sp = local(&manual);
    let out = host(&["savepoint", "dispose", sp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!sp.exists(), "{} still exists", sp.display());
    let prefix = sp.strip_prefix(&storage).unwrap();
    let expected: BTreeSet<PathBuf> = before.into_iter().filter(|f| !f.starts_with(prefix)).collect();
    assert_eq!(files_under(&storage), expected);

    // A checkpoint is not a savepoint; a path with none is named.
    let out = host(&["savepoint", "dispose", kept[0].to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is a checkpoint, not a savepoint"));
    assert!(kept[0].join("_metadata").exists());
    let out = host(&["savepoint", "dispose", sp.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains(sp.to_str().unwrap()));
}

/// One key, every event in the same one-hour window: nothing is emitted until
/// the window closes.
fn window_job(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..3000).map(|i| format!("{{\"key\": \"k\", \"value\": 1, \"ts\": {}}}\n", 1_700_000_000_000i64 + i)).collect();
    std::fs::write(dir.path().join("events.jsonl"), lines).unwrap();
    let yaml = format!(
        "name: {name}
sources:
  - id: events
    type: file
    path: events.jsonl
    format: json
    rate: 1000
operators:
  - id: sums
    component: {window}
    input: events
    key-by: true
    config: {{ size: 3600000 }}
sinks:
  - id: out
    type: file
    input: sums
    path: sums.txt
checkpoints:
  interval: 100ms
{API}",
        window = operators::WINDOW
    );
    let p = write_pipeline(dir.path(), &yaml);
    (dir, p)
}

#[test]
fn stop_drain_flushes_windows_and_stop_without_drain_resumes_them() {
    // Without --drain the window stays open in the savepoint, and a restore finishes it.
    let (dir, p) = window_job("nodrain");
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run-1.log"));
    job.wait_for("checkpoint completed");
    let path = job.verb(&["stop", "--savepoint"]);
    assert!(job.wait().0);
    let sums = dir.path().join("sums.txt");
    assert_eq!(std::fs::read_to_string(&sums).unwrap(), "", "no window closed before the stop");
    let out = host(&["run", p.to_str().unwrap(), "--from", &path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let end = 1_700_000_000_000i64 - 1_700_000_000_000 % 3_600_000 + 3_600_000;
    assert_eq!(std::fs::read_to_string(&sums).unwrap().trim(), format!("k\t{},{end},3000", end - 3_600_000));

    // With --drain the final watermark closes the window before the savepoint.
    let (dir, p) = window_job("drain");
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run-1.log"));
    job.wait_for("checkpoint completed");
    let path = job.verb(&["stop", "--savepoint", "--drain"]);
    assert!(job.wait().0);
    let read = metadata(&local(&path))["sources"]["events"]["line"].as_u64().unwrap();
    assert!(read > 0 && read < 3000, "stopped after {read} events");
    let text = std::fs::read_to_string(dir.path().join("sums.txt")).unwrap();
    assert_eq!(text.trim(), format!("k\t{},{end},{read}", end - 3_600_000), "the drained window holds every event read");

    // A drained savepoint says so, and a restore from it is refused (its window
    // operator has seen the final watermark and would drop every later event),
    // unless asked for; the flag the refusal names works.
    assert_eq!(metadata(&local(&path))["drained"], true);
    let out = host(&["run", p.to_str().unwrap(), "--from", &path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--drain") && err.contains("--allow-drained-state"), "{err}");
    let out = host(&["check", p.to_str().unwrap(), "--from", &path]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--allow-drained-state"));
    let out = host(&["run", p.to_str().unwrap(), "--from", &path, "--allow-drained-state"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_intermediate_savepoint_restores_exactly_once_after_the_job_committed_past_it() {
    let times = 60;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &counting_pipeline("older", "storage", "100ms", 800, API));
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run-1.log"));
    job.wait_for("checkpoint completed");
    let path = job.verb(&["savepoint", "trigger"]);
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
    let out = dir.path().join("out/counts.txt");
    assert_eq!(sorted_lines(&out), expected);
    // The job ran to the end and committed past the savepoint; restoring the
    // savepoint rewinds the output to it and replays from there.
    let run = host(&["run", p.to_str().unwrap(), "--from", &path]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(sorted_lines(&out), expected);
}
