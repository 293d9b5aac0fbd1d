//! Snapshot ownership: deleting snapshots never breaks a completed checkpoint
//! (retention under stress, on files and on S3), runs form a lineage that the
//! owner cleans up across SIGKILLs, a finished pipeline is never rewritten by
//! `--resume`, `--from` does not claim what it names unless asked, promoted
//! savepoints survive periodic retention, `dispose` leaves foreign files,
//! locations with `..` work, and `host storage gc` removes what `--dry-run` said.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use cairn_tests::{Rng, checkpoint_dirs, host, host_bin, operators, spawn_host, write_pipeline};
use serde_json::Value;

use crate::checkpoints::{counting_pipeline, job_dir, kill_and_resume, reference_output};
use crate::s3::{s3_storage, start_moto};

/// Two branches, so that some state changes at every checkpoint and some does
/// not (its files are found present and reused): a fast keyed count and a slow one.
fn two_speed_pipeline(name: &str, storage: &str, retain: usize) -> String {
    let branch = |id: &str, rate: u64, keys: u64| {
        (
            format!("  - id: {id}-gen\n    type: generator\n    rate: {rate}\n    keys: {keys}\n"),
            format!("  - id: {id}-count\n    component: {count}\n    input: {id}-gen\n    key-by: true\n    parallelism: 2\n", count = operators::COUNT),
            format!("  - id: {id}-out\n    type: file\n    input: {id}-count\n    path: out/{id}.txt\n"),
        )
    };
    let (fs, fo, fk) = branch("fast", 2000, 50);
    let (ss, so, sk) = branch("slow", 10, 5);
    format!(
        "name: {name}\nsources:\n{fs}{ss}operators:\n{fo}{so}sinks:\n{fk}{sk}batch:\n  size: 64\n  linger: 5ms\n\
         checkpoints:\n  interval: 10ms\n  retain: {retain}\nstorage:\n  url: {storage}\n"
    )
}

/// Output of `host <args>` (asserting success), stdout and stderr.
fn ok(args: &[&str]) -> (String, String) {
    let out = host(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "host {args:?} failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// `host checkpoint list --verify --json`: every listed checkpoint, each read back and checked.
fn verified_list(p: &Path) -> Vec<Value> {
    let out = host(&["checkpoint", "list", p.to_str().unwrap(), "--verify", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let broken: Vec<&Value> = rows.iter().filter(|r| r["verified"] != true).collect();
    assert!(
        out.status.success() && broken.is_empty(),
        "{} of {} completed checkpoints are broken: {broken:#?}\n{}",
        broken.len(),
        rows.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    rows
}

/// Lines of `log` containing `needle`.
fn count_in(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches(needle).count()
}

/// Starts `host run <args>`, waits until the log shows `n` completed
/// checkpoints, then a random moment more, and kills it with SIGKILL.
fn run_and_kill(args: &[&str], log: &Path, n: usize, rng: &mut Rng) {
    let mut child = spawn_host(args, log);
    let started = Instant::now();
    while count_in(log, "checkpoint completed") < n {
        assert!(started.elapsed() < Duration::from_secs(60), "fewer than {n} checkpoints in 60 s:\n{}", std::fs::read_to_string(log).unwrap());
        assert!(child.try_wait().unwrap().is_none(), "the job ended early:\n{}", std::fs::read_to_string(log).unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(rng.below(200)));
    child.kill().unwrap();
    child.wait().unwrap();
}

fn seed() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// Runs the two-speed pipeline with checkpoints every 10 ms, kills it, and
/// checks every checkpoint storage lists as completed; `rounds` times, each
/// round resuming (and claiming) the one before.
fn stress(storage: &str, retain: usize, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &two_speed_pipeline("stress", storage, retain));
    let s = seed();
    let mut rng = Rng(s);
    for round in 0..rounds {
        let log = dir.path().join(format!("run-{round}.log"));
        run_and_kill(&["run", p.to_str().unwrap(), "--resume"], &log, 40, &mut rng);
        let rows = verified_list(&p);
        assert!(!rows.is_empty(), "round {round}: no completed checkpoint listed (seed {s})");
        if retain == 1 {
            // The newest, and at most one that completed after the last pass.
            assert!(rows.len() <= 2, "retain: 1 left {} checkpoints (seed {s})", rows.len());
        }
        // The slow branch's state rarely changes: its files are shared, and listings say so.
        if retain > 1 {
            assert!(rows.iter().any(|r| r["shared-bytes"].as_u64() > Some(0)), "no checkpoint shares a state file (seed {s})");
        }
        // And the user's own check agrees, on the oldest and the newest.
        for r in [rows.first().unwrap(), rows.last().unwrap()] {
            ok(&["check", p.to_str().unwrap(), "--from", r["path"].as_str().unwrap()]);
        }
    }
    // With the job dead, gc with no grace takes everything nothing references, and breaks nothing.
    let (out, _) = ok(&["storage", "gc", p.to_str().unwrap(), "--grace", "0s"]);
    assert!(out.contains("freed"), "{out}");
    let (again, _) = ok(&["storage", "gc", p.to_str().unwrap(), "--grace", "0s", "--dry-run"]);
    assert!(again.contains("would free 0 objects"), "a second gc would still remove:\n{again}");
    verified_list(&p);
}

#[test]
fn retention_under_stress_never_breaks_a_completed_checkpoint_on_files() {
    stress("storage", 1000, 3);
    stress("storage", 1, 3);
}

#[test]
fn retention_under_stress_never_breaks_a_completed_checkpoint_on_s3() {
    let moto = start_moto("owner");
    stress(&s3_storage(moto.port, "owner", "many"), 1000, 1);
    stress(&s3_storage(moto.port, "owner", "one"), 1, 2);
}

/// Every file under `root`, relative.
fn files(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn twenty_kills_then_a_clean_finish_leave_only_what_the_policy_allows() {
    let times = 400;
    let expected = reference_output(times);
    let dir = job_dir(times);
    // 10 000 lines at 600 lines/s: 16 s uninterrupted, so 20 kills cannot outrun it.
    let p = write_pipeline(dir.path(), &counting_pipeline("lineage", "storage", "50ms", 600, "  retain: 2\n"));
    // 19 kills here, the 20th inside kill_and_resume below.
    let mut rng = Rng(seed());
    for round in 0..19 {
        run_and_kill(&["run", p.to_str().unwrap(), "--resume"], &dir.path().join(format!("k{round}.log")), 1, &mut rng);
    }
    // Across the lineage, at most `retain`, plus one completed after the last pass.
    let rows = verified_list(&p);
    assert!(rows.len() <= 3, "retain: 2 across 19 killed runs left {} checkpoints: {rows:#?}", rows.len());
    // What a SIGKILL within milliseconds of a write leaves: a temporary file, which
    // listings never show. The next run's owner removes it (its writer is dead).
    let sha = "ef".repeat(32);
    std::fs::write(dir.path().join(format!("storage/lineage/state/{sha}#1")), b"half written").unwrap();
    let got = kill_and_resume(&p, dir.path(), 1);
    assert_eq!(got, expected, "lost or duplicated records");

    // The finished job deleted its whole lineage; no temporary file, no state, one run record.
    let storage = dir.path().join("storage/lineage");
    let left = files(&storage);
    assert!(checkpoint_dirs(&storage).is_empty(), "checkpoints left: {left:?}");
    assert!(!left.iter().any(|f| f.contains('#')), "temporary files left: {left:?}");
    assert!(!left.iter().any(|f| f.starts_with("state/")), "unreferenced state left: {left:?}");
    assert_eq!(left.iter().filter(|f| f.starts_with("runs/")).count(), 1, "{left:?}");

    // Resuming the finished pipeline runs nothing and rewrites nothing.
    let out = dir.path().join("out/counts.txt");
    let before = std::fs::read(&out).unwrap();
    let (_, log) = ok(&["run", p.to_str().unwrap(), "--resume"]);
    assert!(log.contains("nothing to resume") && log.contains("committed output stays as it is"), "{log}");
    assert_eq!(std::fs::read(&out).unwrap(), before, "--resume of a finished pipeline changed its output");
}

#[test]
fn an_end_of_job_clean_up_cut_short_is_finished_by_the_next_resume() {
    let dir = job_dir(100);
    let p = write_pipeline(dir.path(), &counting_pipeline("cut", "storage", "50ms", 600, ""));
    run_and_kill(&["run", p.to_str().unwrap()], &dir.path().join("a.log"), 3, &mut Rng(seed()));
    // The state a SIGKILL leaves right after the end of the job was recorded and
    // before its checkpoints were deleted: the record says finished, checkpoints remain.
    let runs = dir.path().join("storage/cut/runs");
    let record = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let mut r: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    r["ended"] = serde_json::json!({ "how": "finished", "at": "2026-12-01T00:00:00Z", "kept": null });
    std::fs::write(&record, serde_json::to_vec(&r).unwrap()).unwrap();
    assert!(!checkpoint_dirs(&dir.path().join("storage")).is_empty());
    let out = dir.path().join("out/counts.txt");
    let before = std::fs::read(&out).unwrap_or_default();
    for _ in 0..2 {
        let (_, log) = ok(&["run", p.to_str().unwrap(), "--resume"]);
        assert!(log.contains("nothing to resume"), "{log}");
        assert_eq!(std::fs::read(&out).unwrap_or_default(), before);
        assert!(checkpoint_dirs(&dir.path().join("storage")).is_empty(), "the interrupted clean-up was not finished");
    }
}

#[test]
fn from_does_not_claim_what_it_names_unless_asked_and_savepoints_are_never_claimed() {
    let dir = job_dir(100);
    let p = write_pipeline(dir.path(), &counting_pipeline("claims", "storage", "50ms", 600, ""));
    run_and_kill(&["run", p.to_str().unwrap()], &dir.path().join("a.log"), 4, &mut Rng(seed()));
    let x = verified_list(&p).first().unwrap()["path"].as_str().unwrap().to_string();
    // NO_CLAIM: the run finishes and deletes its own checkpoints, never the one it restored from.
    ok(&["run", p.to_str().unwrap(), "--from", &x]);
    assert!(verified_list(&p).iter().any(|r| r["path"] == x.as_str()), "--from deleted {x}");
    // A savepoint is never claimed.
    let sp = ok(&["checkpoint", "promote", &x, "--pipeline", p.to_str().unwrap()]).0.trim().to_string();
    let out = host(&["run", p.to_str().unwrap(), "--from", &sp, "--claim"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("savepoints are never claimed"), "{err}");
    // Nor is a checkpoint outside this pipeline's storage (a copy elsewhere).
    copy_dir(&dir.path().join("storage"), &dir.path().join("elsewhere"));
    let copy = x.replace("/storage/", "/elsewhere/");
    let out = host(&["run", p.to_str().unwrap(), "--from", &copy, "--claim"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("is not in the checkpoint area of pipeline `claims`") && err.contains(&copy), "{err}");
    // CLAIM: the run takes X's run over, and its end-of-job policy deletes it.
    ok(&["run", p.to_str().unwrap(), "--from", &x, "--claim"]);
    assert!(!verified_list(&p).iter().any(|r| r["path"] == x.as_str()), "--claim kept {x}");
    assert!(Path::new(&sp.replace("file://", "")).join("_metadata").exists(), "a savepoint was deleted");
}

#[test]
fn a_promoted_savepoint_survives_periodic_savepoint_retention() {
    let dir = job_dir(4);
    let p = write_pipeline(dir.path(), &counting_pipeline("promo", "storage", "1h", 0, "  on-finish: keep\n"));
    ok(&["run", p.to_str().unwrap()]);
    let chk = verified_list(&p).pop().unwrap()["path"].as_str().unwrap().to_string();
    let sp = ok(&["checkpoint", "promote", &chk, "--pipeline", p.to_str().unwrap()]).0.trim().to_string();
    let meta: Value = serde_json::from_slice(&std::fs::read(Path::new(&sp.replace("file://", "")).join("_metadata")).unwrap()).unwrap();
    assert_eq!(meta["trigger"], "promoted");
    assert_eq!(meta["promoted-from"]["path"], chk.as_str());
    assert_eq!(meta["promoted-from"]["trigger"], "final");
    // A later run with periodic savepoints, keeping one.
    std::fs::write(dir.path().join("input.txt"), include_str!("../../../examples/wordcount/input.txt").repeat(40)).unwrap();
    let yaml = counting_pipeline("promo", "storage", "1h", 400, "savepoints:\n  interval: 100ms\n  retain: 1\n");
    let p = write_pipeline(dir.path(), &yaml);
    let (_, log) = ok(&["run", p.to_str().unwrap()]);
    assert!(log.contains("periodic savepoint beyond savepoints.retain"), "no periodic savepoint was deleted:\n{log}");
    let list: Vec<Value> = serde_json::from_str(&ok(&["savepoint", "list", p.to_str().unwrap(), "--json"]).0).unwrap();
    let triggers: Vec<&str> = list.iter().map(|r| r["trigger"].as_str().unwrap()).collect();
    assert_eq!(triggers.iter().filter(|t| **t == "periodic").count(), 1, "{list:#?}");
    assert!(list.iter().any(|r| r["path"] == sp.as_str() && r["trigger"] == "promoted"), "the promoted savepoint is gone: {list:#?}");
}

/// A finished job's kept checkpoint promoted to a savepoint: `(dir, pipeline, savepoint URL)`.
fn a_savepoint(name: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = job_dir(4);
    let p = write_pipeline(dir.path(), &counting_pipeline(name, "storage", "1h", 0, "  on-finish: keep\n"));
    ok(&["run", p.to_str().unwrap()]);
    let chk = verified_list(&p).pop().unwrap()["path"].as_str().unwrap().to_string();
    let sp = ok(&["checkpoint", "promote", &chk]).0.trim().to_string();
    (dir, p, sp)
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files(from) {
        let dst = to.join(&f);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&f), dst).unwrap();
    }
}

#[test]
fn dispose_removes_the_savepoint_and_leaves_what_the_user_put_beside_it() {
    let (dir, _, sp) = a_savepoint("dispose");
    let copy = dir.path().join("kept/sp");
    copy_dir(Path::new(&sp.replace("file://", "")), &copy);
    std::fs::write(copy.join("README.txt"), "why I kept this").unwrap();
    std::fs::create_dir_all(copy.join("notes")).unwrap();
    std::fs::write(copy.join("notes/a.txt"), "notes").unwrap();
    let (out, _) = ok(&["savepoint", "dispose", copy.to_str().unwrap()]);
    assert!(out.contains("README.txt") && out.contains("notes/a.txt"), "dispose does not say what it left:\n{out}");
    assert_eq!(files(&copy), BTreeSet::from(["README.txt".to_string(), "notes/a.txt".to_string()]));
    // Without foreign files, the directory goes too.
    let (out, _) = ok(&["savepoint", "dispose", &sp]);
    assert!(!out.contains("left"), "{out}");
    assert!(!Path::new(&sp.replace("file://", "")).exists());
}

/// `host <args>` run in `cwd`.
fn host_in(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(host_bin()).args(args).current_dir(cwd).env("RUST_LOG", "info").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn locations_with_dot_dot_work_everywhere_and_print_in_one_form() {
    let (dir, p, sp) = a_savepoint("dots");
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let rel = format!("../{}", Path::new(&sp.replace("file://", "")).strip_prefix(dir.path()).unwrap().display());
    let dotted = format!("./../sub/../{}", rel.trim_start_matches("../"));
    let chk = verified_list(&p).pop().unwrap()["path"].as_str().unwrap().to_string();
    let chk_rel = format!("../{}", Path::new(&chk.replace("file://", "")).strip_prefix(dir.path()).unwrap().display());
    for (args, what) in [
        (vec!["savepoint", "inspect", rel.as_str()], "inspect"),
        (vec!["checkpoint", "inspect", dotted.as_str()], "inspect with ./ and .."),
        (vec!["check", "../pipeline.yaml", "--from", rel.as_str()], "check --from"),
        (vec!["checkpoint", "promote", chk_rel.as_str(), "--to", "../promoted-here"], "promote --to"),
        (vec!["run", "../pipeline.yaml", "--from", rel.as_str()], "run --from"),
    ] {
        let (success, out, err) = host_in(&sub, &args);
        assert!(success, "{what}: host {args:?} failed:\n{out}\n{err}");
        for text in [&out, &err] {
            assert!(!text.contains("file:////") && !text.contains("/../") && !text.contains("/./"), "{what} printed a path in another form:\n{text}");
        }
    }
    let (success, out, err) = host_in(&sub, &["savepoint", "dispose", "../promoted-here"]);
    assert!(success && out.contains(&format!("file://{}", dir.path().canonicalize().unwrap().join("promoted-here").display())), "{out}\n{err}");
    let (success, _, err) = host_in(&sub, &["savepoint", "dispose", &rel]);
    assert!(success, "{err}");
}

/// Writes `bytes` at `path` with a modification time an hour ago.
fn old_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
}

#[test]
fn storage_gc_removes_what_its_dry_run_listed_and_never_a_savepoint_or_a_kept_checkpoint() {
    let dir = job_dir(100);
    let p = write_pipeline(dir.path(), &counting_pipeline("gc", "storage", "50ms", 600, "  on-finish: keep\n"));
    // A finished run with its kept checkpoint, a savepoint, then a run killed mid-way.
    std::fs::write(dir.path().join("input.txt"), "a b c\n").unwrap();
    ok(&["run", p.to_str().unwrap()]);
    let kept = verified_list(&p).pop().unwrap()["path"].as_str().unwrap().to_string();
    let sp = ok(&["checkpoint", "promote", &kept]).0.trim().to_string();
    std::fs::write(dir.path().join("input.txt"), include_str!("../../../examples/wordcount/input.txt").repeat(100)).unwrap();
    // gc refuses while a job runs.
    let log = dir.path().join("live.log");
    let mut live = spawn_host(&["run", p.to_str().unwrap()], &log);
    while count_in(&log, "checkpoint completed") == 0 {
        assert!(live.try_wait().unwrap().is_none(), "{}", std::fs::read_to_string(&log).unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = host(&["storage", "gc", p.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is running"), "{out:?}");
    live.kill().unwrap();
    live.wait().unwrap();
    // Garbage a crash leaves: an unreferenced state file, a temporary file, a savepoint without metadata.
    let root = dir.path().join("storage/gc");
    let sha = "ab".repeat(32);
    old_file(&root.join(format!("state/{sha}")), b"orphan");
    old_file(&root.join(format!("state/{sha}#3")), b"half");
    old_file(&root.join(format!("savepoints/savepoint-999-1/state/{sha}")), b"half a savepoint");
    let young = root.join(format!("state/{}", "cd".repeat(32)));
    std::fs::write(&young, b"too young to judge").unwrap();
    let before = files(&root);

    let (dry, _) = ok(&["storage", "gc", p.to_str().unwrap(), "--dry-run"]);
    assert_eq!(files(&root), before, "--dry-run removed something");
    let (real, _) = ok(&["storage", "gc", p.to_str().unwrap()]);
    let paths = |text: &str, verb: &str| -> BTreeSet<String> {
        text.lines().filter_map(|l| l.strip_prefix(verb)).map(|l| l.split(" (").next().unwrap().to_string()).collect()
    };
    let (would, did) = (paths(&dry, "would remove "), paths(&real, "removed "));
    assert_eq!(would, did, "dry run:\n{dry}\nreal run:\n{real}");
    for needle in [format!("state/{sha}"), format!("state/{sha}#3"), "savepoints/savepoint-999-1".to_string()] {
        assert!(did.iter().any(|d| d.ends_with(&needle)), "gc did not remove {needle}:\n{real}");
    }
    assert!(real.contains("freed") && real.contains("bytes"), "{real}");
    assert!(young.exists(), "gc removed a file younger than its grace period");
    assert!(!did.iter().any(|d| d.starts_with(&sp) || d.starts_with(&kept)), "{real}");
    assert!(Path::new(&kept.replace("file://", "")).join("_kept").exists());
    assert!(Path::new(&sp.replace("file://", "")).join("_metadata").exists());
    verified_list(&p);
    // A run recorded on another machine (or before a reboot) that never ended: gc
    // cannot tell whether it runs, and asks for --force.
    let record = std::fs::read_dir(root.join("runs")).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let mut r: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert!(r["ended"].is_null(), "{r}");
    r["boot"] = "another-machine".into();
    std::fs::write(&record, serde_json::to_vec(&r).unwrap()).unwrap();
    let out = host(&["storage", "gc", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--force") && err.contains(r["run-id"].as_str().unwrap()), "{err}");
    // And a second pass (forced) finds nothing more.
    let (again, _) = ok(&["storage", "gc", p.to_str().unwrap(), "--force"]);
    assert!(again.contains("freed 0 objects"), "{again}");
}
