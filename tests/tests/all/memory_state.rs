//! `state: memory`: operators with no snapshot code, whose linear memory the
//! host snapshots (docs/state-memory.md). The Rust `tally` (a `HashMap` in a
//! `cairn_guest::MemoryOperator`), the Python `tally` (a module-level dict)
//! and the C `last` (a hash table) are killed with SIGKILL and resumed
//! five times and commit what an uninterrupted run commits; their final
//! checkpoint restores into a fresh run and passes `host check`; a checkpoint
//! that touches 1 % of a 100 MB state uploads a few percent of it; and a
//! memory image refuses to restore into another component, another contract
//! version, a smaller `limits.memory` or another parallelism, and what it
//! cannot hold is refused at load.

use std::path::{Path, PathBuf};

use cairn_tests::{checkpoint_dirs, guest_component, host, operators, run_err, run_ok, sorted_lines, write_pipeline};

use crate::checkpoints::{counting_pipeline, job_dir, kill_and_resume, reference_output};
use crate::languages::toolchain;

const TEXT: &str = include_str!("../../../examples/wordcount/input.txt");

/// The counting pipeline (tokenize -> keyed counter, parallelism 2, exactly-once
/// file sink) with `component` as the counter, its state taken as a memory image.
fn memory_pipeline(component: &Path, name: &str, interval: &str, rate: u64, extra: &str) -> String {
    counting_pipeline(name, "storage", interval, rate, extra)
        .replace(operators::COUNT, component.to_str().unwrap())
        .replace("    parallelism: 2\nsinks:", "    parallelism: 2\n    state: memory\n    limits:\n      memory: 256MiB\nsinks:")
}

/// The last completed checkpoint's metadata under `dir/storage`.
fn last_checkpoint(dir: &Path) -> (PathBuf, serde_json::Value) {
    let chk = checkpoint_dirs(&dir.join("storage")).pop().expect("a completed checkpoint");
    let meta = serde_json::from_slice(&std::fs::read(chk.join("_metadata")).unwrap()).unwrap();
    (chk, meta)
}

/// Killed five times, resumed, then restored into a fresh run and checked:
/// each time the committed output equals `expected` (`times` copies of the text).
fn killed_resumed_restored(component: &Path, expected: impl Fn(usize) -> Vec<String>) {
    let dir = job_dir(100);
    let p = write_pipeline(dir.path(), &memory_pipeline(component, "mem", "200ms", 600, "  on-finish: keep\n"));
    run_ok(&["validate", p.to_str().unwrap()]); // compile once, into the cache
    let got = kill_and_resume(&p, dir.path(), 5);
    assert_eq!(got, expected(100), "killed and resumed five times");

    let (chk, meta) = last_checkpoint(dir.path());
    let image = &meta["operators"]["count"]["subtasks"][0];
    assert_eq!(image["format"], "memory-image", "{image}");
    assert!(image["image"]["memories"].as_array().is_some_and(|m| !m.is_empty()), "{image}");
    let out = host(&["check", p.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    let check = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && check.contains("restores"), "{check}");
    let out = host(&["checkpoint", "inspect", chk.to_str().unwrap()]);
    let inspect = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(inspect.contains("memory-image v1") && inspect.contains("pages new in this snapshot"), "{inspect}{}", String::from_utf8_lossy(&out.stderr));

    // A fresh run restored from the final checkpoint, over more input.
    std::fs::write(dir.path().join("input.txt"), TEXT.repeat(102)).unwrap();
    let log = run_ok(&["run", p.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    assert!(log.contains("restoring from checkpoint"), "{log}");
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), expected(102), "restored into a fresh run");
}

/// The Rust `tally`: a `MemoryOperator` of the SDK, no snapshot code. Without
/// `state: memory` it fails its first checkpoint, saying what is missing.
#[test]
pub(crate) fn rust_tally_killed_resumed_and_restored_commits_what_an_uninterrupted_run_commits() {
    killed_resumed_restored(Path::new(operators::TALLY), reference_output);

    let dir = job_dir(1);
    let yaml = memory_pipeline(Path::new(operators::TALLY), "forgot", "1h", 0, "").replace("    state: memory\n", "");
    let p = write_pipeline(dir.path(), &yaml);
    let err = run_err(&["run", p.to_str().unwrap()]);
    assert!(err.contains("operator `count`") && err.contains("set `state: memory` on it in pipeline.yaml"), "{err}");
}

#[test]
fn python_tally_killed_resumed_and_restored_commits_what_an_uninterrupted_run_commits() {
    let Some(()) = toolchain("python", "python tally (state: memory)") else { return };
    // tally counts as the Rust counter does.
    killed_resumed_restored(&guest_component("python", "tally"), reference_output);
}

/// The output of an uninterrupted run of the C `last` pipeline over `times` copies of the text.
fn c_last_reference(times: usize) -> Vec<String> {
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &memory_pipeline(&guest_component("c", "last"), "reference", "1h", 0, ""));
    run_ok(&["run", p.to_str().unwrap()]);
    sorted_lines(&dir.path().join("out/counts.txt"))
}

#[test]
fn c_last_killed_resumed_and_restored_commits_what_an_uninterrupted_run_commits() {
    let Some(()) = toolchain("c", "c last (state: memory)") else { return };
    killed_resumed_restored(&guest_component("c", "last"), c_last_reference);
}

/// 1 600 keys of 64 KiB values (about 100 MB of state), then 16 more events:
/// the second snapshot uploads only the pages those touched.
#[test]
fn a_checkpoint_that_touches_one_percent_of_the_keys_uploads_a_few_percent_of_the_state() {
    let Some(()) = toolchain("c", "c last incremental") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pipeline = |count: u64| {
        format!(
            "name: big
sources:
  - id: gen
    type: generator
    count: {count}
    keys: 1600
    value-size: 64KiB
operators:
  - id: last
    component: {last}
    input: gen
    state: memory
    limits:
      memory: 512MiB
sinks:
  - id: out
    type: file
    input: last
    path: out/last.txt
batch:
  size: 4
checkpoints:
  interval: 1h
  on-finish: keep
storage:
  url: storage
",
            last = guest_component("c", "last").display()
        )
    };
    let p = write_pipeline(dir.path(), &pipeline(8000));
    run_ok(&["run", p.to_str().unwrap()]);
    let (first, meta) = last_checkpoint(dir.path());
    let state = meta["state-size"].as_u64().unwrap();
    assert!(state > 95_000_000, "the state is about 100 MB: {meta}");
    assert!(meta["uploaded-size"].as_u64().unwrap() > state / 2, "the first checkpoint uploads the state: {meta}");

    write_pipeline(dir.path(), &pipeline(8016));
    run_ok(&["run", p.to_str().unwrap(), "--from", first.to_str().unwrap()]);
    let (second, meta) = last_checkpoint(dir.path());
    assert_ne!(first, second);
    let (state, uploaded) = (meta["state-size"].as_u64().unwrap(), meta["uploaded-size"].as_u64().unwrap());
    eprintln!("second checkpoint: {uploaded} of {state} bytes uploaded ({:.2} %)", uploaded as f64 * 100.0 / state as f64);
    assert!(uploaded > 0 && uploaded * 20 <= state, "at most 5 % of the state is uploaded again: {uploaded} of {state}");

    // The same component, allowed less memory than the image holds, is refused at restore.
    write_pipeline(dir.path(), &pipeline(8032).replace("memory: 512MiB", "memory: 64MiB"));
    let err = run_err(&["run", p.to_str().unwrap(), "--from", second.to_str().unwrap()]);
    assert!(err.contains("operator `last`") && err.contains("limits.memory"), "{err}");
}

/// A memory image fits only the exact binary, contract version and parallelism.
#[test]
fn a_memory_image_refuses_another_component_world_or_parallelism() {
    let Some(()) = toolchain("c", "memory image refusals") else { return };
    let last = guest_component("c", "last");
    let dir = job_dir(3);
    let p = write_pipeline(dir.path(), &memory_pipeline(&last, "refuse", "1h", 0, "  on-finish: keep\n"));
    run_ok(&["run", p.to_str().unwrap()]);
    let (chk, _) = last_checkpoint(dir.path());
    let from = chk.to_str().unwrap();
    let try_with = |yaml: String| {
        write_pipeline(dir.path(), &yaml);
        run_err(&["run", p.to_str().unwrap(), "--from", from])
    };

    // Another component of the same contract version (the C counter, with state: memory).
    let err = try_with(memory_pipeline(&guest_component("c", "count"), "refuse", "1h", 0, ""));
    assert!(err.contains("operator `count`") && err.contains("fits only the exact binary") && err.contains("snapshot`/`restore"), "{err}");
    // Another contract version (the Rust 0.2.0 counter).
    let err = try_with(memory_pipeline(Path::new(operators::COUNT), "refuse", "1h", 0, ""));
    assert!(err.contains("operator `count`") && err.contains("cairn:operator@0.2.0") && err.contains("fits only the exact binary"), "{err}");
    // The same component at another parallelism.
    let err = try_with(memory_pipeline(&last, "refuse", "1h", 0, "").replace("parallelism: 2\n    state", "parallelism: 3\n    state"));
    assert!(err.contains("operator `count`") && err.contains("parallelism 2") && err.contains("cannot be split"), "{err}");
    // Without `state: memory`, the image is not mistaken for the operator's own state.
    let err = try_with(memory_pipeline(&last, "refuse", "1h", 0, "").replace("    state: memory\n", ""));
    assert!(err.contains("operator `count`") && err.contains("state: memory"), "{err}");
}

/// What a memory image cannot hold is refused before the job starts.
#[test]
fn state_memory_with_a_directory_grant_is_refused_at_load() {
    let dir = job_dir(1);
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let yaml = memory_pipeline(Path::new(operators::COUNT_0_1), "grants", "1h", 0, "")
        .replace("    state: memory\n", "    state: memory\n    grants:\n      dirs:\n        - host: data\n          guest: /data\n");
    let p = write_pipeline(dir.path(), &yaml);
    let err = run_err(&["run", p.to_str().unwrap()]);
    assert!(err.contains("operator `count`") && err.contains("state: memory") && err.contains("grants.dirs"), "{err}");
}
