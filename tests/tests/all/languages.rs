//! Operators in C, Python, JavaScript and Go beside Rust (`operators/c`,
//! `operators/python`, `operators/js`, `operators/go`), built by `guestc`
//! exactly as the guides in `docs/` say, run by the `host` binary.
//!
//! For each language: its `count` emits what the Rust `count` emits, event by
//! event; killed with SIGKILL and resumed it commits what an uninterrupted run
//! of the Rust counter commits; its checkpoint restores into a fresh run, and
//! so does the Rust counter's (same state format). Its `filter` keeps what the
//! Rust `filter` keeps. Plus the compile cache, seen from outside.
//!
//! The toolchains are installed on first use (clang-19 and wasi-libc with
//! apt-get; componentize-py and componentize-js under `target/guest-toolchains/`;
//! Go is the machine's own).
//! When one cannot be installed (no package registry), its tests print
//! `SKIPPED: ...` to stderr and return; any other failure fails them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use cairn_tests::{build_guests, checkpoint_dirs, guest_component, host_bin, operators, run_ok, sorted_lines, write_pipeline};

use crate::checkpoints::{counting_pipeline, job_dir, kill_and_resume, reference_output};
use crate::guests::try_run_one as run_one;

const TEXT: &str = include_str!("../../../examples/wordcount/input.txt");

/// Builds `lang`'s operators once per test process; `None` (after saying so
/// loudly) when the toolchain cannot be installed.
pub(crate) fn toolchain(lang: &str, test: &str) -> Option<()> {
    static BUILT: Mutex<Option<HashMap<String, Result<(), String>>>> = Mutex::new(None);
    let result = {
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        built.get_or_insert_with(HashMap::new).entry(lang.to_string()).or_insert_with(|| build_guests(lang)).clone()
    };
    match result {
        Ok(()) => Some(()),
        Err(reason) => {
            eprintln!("SKIPPED: {test}: the {lang} toolchain cannot be installed here:\n{reason}");
            None
        }
    }
}

/// The counting pipeline of the checkpoint tests with `component` as its counter.
fn pipeline_with(component: &Path, name: &str, interval: &str, rate: u64, extra: &str) -> String {
    counting_pipeline(name, "storage", interval, rate, extra).replace(operators::COUNT, component.to_str().unwrap())
}

/// Compiles the pipeline's components once (`host validate`), so that runs
/// after it start from the compile cache.
fn warm_up(pipeline: &Path) {
    run_ok(&["validate", pipeline.to_str().unwrap()]);
}

/// tokenize -> `<lang>` count (keyed, parallelism 2, checkpoints every 150 ms,
/// exactly-once file sink), killed with SIGKILL three times and resumed:
/// the committed output equals an uninterrupted run of the Rust counter.
fn killed_and_resumed_equals_the_rust_counter(lang: &str) {
    let Some(()) = toolchain(lang, &format!("{lang} count killed and resumed")) else { return };
    let times = 100;
    let expected = reference_output(times);
    let dir = job_dir(times);
    let p = write_pipeline(dir.path(), &pipeline_with(&guest_component(lang, "count"), "wc", "150ms", 600, ""));
    warm_up(&p);
    let got = kill_and_resume(&p, dir.path(), 3);
    assert_eq!(got.len(), expected.len(), "lost or duplicated records");
    assert_eq!(got, expected);
}

/// A run of `first` over part of the input keeps its final checkpoint; more
/// input arrives; a fresh run of `second` restored from that checkpoint
/// (`host run --from`) commits what one uninterrupted run of the Rust counter
/// over all the input commits.
fn snapshot_restores_into_a_fresh_run(first: &Path, second: &Path) {
    let dir = job_dir(3);
    let keep = "  on-finish: keep\n";
    let p = write_pipeline(dir.path(), &pipeline_with(first, "restore", "1h", 0, keep));
    run_ok(&["run", p.to_str().unwrap()]);
    let chk = checkpoint_dirs(&dir.path().join("storage")).pop().expect("the final checkpoint is kept");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(chk.join("_metadata")).unwrap()).unwrap();
    let subtasks = meta["operators"]["count"]["subtasks"].as_array().expect("count's state in the metadata").clone();
    assert_eq!(subtasks.len(), 2);

    let input = dir.path().join("input.txt");
    std::fs::write(&input, TEXT.repeat(5)).unwrap(); // 3 times the text, then 2 more
    write_pipeline(dir.path(), &pipeline_with(second, "restore", "1h", 0, keep));
    let log = run_ok(&["run", p.to_str().unwrap(), "--from", chk.to_str().unwrap()]);
    assert!(log.contains("restoring from checkpoint"), "{log}");
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), reference_output(5));
}

/// Keyed, keyless and empty-key events, in one order: the counter's output
/// must be the Rust counter's, line for line.
fn count_matches_rust_count_event_by_event(lang: &str) {
    let Some(()) = toolchain(lang, &format!("{lang} count event by event")) else { return };
    let events = [
        r#"{"key": "a", "value": "x", "ts": 1}"#,
        r#"{"key": "b", "value": "x", "ts": 2}"#,
        r#"{"key": "a", "value": "x", "ts": 3}"#,
        r#"{"value": "no key", "ts": 4}"#,
        r#"{"key": "", "value": "empty key", "ts": 5}"#,
        r#"{"key": "ünïcode", "value": "x", "ts": 6}"#,
        r#"{"key": "a", "value": "x", "ts": 7}"#,
    ];
    let rust = run_one(Path::new(operators::COUNT), "null", &events).unwrap();
    assert_eq!(rust, ["a\t1", "b\t1", "a\t2", "1", "\t2", "ünïcode\t1", "a\t3"]);
    assert_eq!(run_one(&guest_component(lang, "count"), "null", &events).unwrap(), rust);
    let err = run_one(&guest_component(lang, "count"), "{ x: 1 }", &events).unwrap_err();
    assert!(err.contains("operator `op`") && err.contains("invalid config"), "{err}");
}

/// The stateless operator: the same events kept as by the Rust filter (keys,
/// keyless events and timestamps unchanged), inverted too, and bad config named.
fn filter_matches_the_rust_filter(lang: &str) {
    let Some(()) = toolchain(lang, &format!("{lang} filter")) else { return };
    let events = [
        r#"{"key": "k1", "value": "red apple", "ts": 1}"#,
        r#"{"value": "green pear", "ts": 2}"#,
        r#"{"value": "apple pie", "ts": 3}"#,
        r#"{"key": "", "value": "crab apple", "ts": 4}"#,
        r#"{"key": "k5", "value": "appl", "ts": 5}"#,
    ];
    let filter = guest_component(lang, "filter");
    let rust = Path::new(operators::FILTER);
    for (config, expected) in [
        ("{ contains: apple }", &["k1\tred apple", "apple pie", "\tcrab apple"][..]),
        ("{ contains: apple, invert: true }", &["green pear", "k5\tappl"]),
        ("{ contains: \"\" }", &["k1\tred apple", "green pear", "apple pie", "\tcrab apple", "k5\tappl"]),
        ("{ contains: zebra }", &[]),
    ] {
        assert_eq!(run_one(rust, config, &events).unwrap(), expected, "Rust filter, {config}");
        assert_eq!(run_one(&filter, config, &events).unwrap(), expected, "{lang} filter, {config}");
    }
    for (config, message) in [("{ contains: apple, x: 1 }", "unknown field `x`"), ("{}", "contains"), ("null", "contains")] {
        let err = run_one(&filter, config, &events).unwrap_err();
        assert!(err.contains("operator `op`") && err.contains(message), "{config}: {err}");
    }
}

macro_rules! language_tests {
    ($module:ident, $lang:literal) => {
        mod $module {
            use cairn_tests::{guest_component, operators};
            use std::path::Path;

            #[test]
            fn count_killed_and_resumed_equals_the_rust_counter() {
                super::killed_and_resumed_equals_the_rust_counter($lang);
            }

            #[test]
            fn count_snapshot_restores_into_a_fresh_run() {
                let Some(()) = super::toolchain($lang, concat!($lang, " count restore")) else { return };
                let count = guest_component($lang, "count");
                super::snapshot_restores_into_a_fresh_run(&count, &count);
            }

            /// The counters share their state format (postcard, version 1):
            /// the Rust counter's checkpoint restores into this one and back.
            /// (These counters target cairn:operator@0.1.0, so they meet the
            /// Rust counter's 0.1.0 build: state crosses languages within a
            /// contract version.)
            #[test]
            fn count_restores_the_rust_counters_checkpoint_and_back() {
                let Some(()) = super::toolchain($lang, concat!($lang, " count cross-language restore")) else { return };
                let count = guest_component($lang, "count");
                super::snapshot_restores_into_a_fresh_run(Path::new(operators::COUNT_0_1), &count);
                super::snapshot_restores_into_a_fresh_run(&count, Path::new(operators::COUNT_0_1));
            }

            #[test]
            fn count_matches_the_rust_count_event_by_event() {
                super::count_matches_rust_count_event_by_event($lang);
            }

            #[test]
            fn filter_matches_the_rust_filter() {
                super::filter_matches_the_rust_filter($lang);
            }
        }
    };
}

language_tests!(c, "c");
language_tests!(python, "python");
language_tests!(javascript, "js");
language_tests!(go, "go");

/// `host validate` with the compile cache in `cache` (or off), returning stderr.
fn validate_with_cache(pipeline: &Path, cache: Option<&Path>) -> String {
    let mut cmd = Command::new(host_bin());
    cmd.args(["validate", pipeline.to_str().unwrap()]).env("RUST_LOG", "info");
    match cache {
        Some(dir) => cmd.env("CAIRN_CACHE_DIR", dir).env_remove("CAIRN_COMPILE_CACHE"),
        None => cmd.env("CAIRN_COMPILE_CACHE", "off"),
    };
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "validate failed:\n{stderr}");
    stderr
}

fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join("components")).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    found.sort();
    found
}

/// The compile cache from outside: entries appear under `$CAIRN_CACHE_DIR`
/// (one per component), a corrupt entry is replaced with a warning and the
/// run goes on, and `CAIRN_COMPILE_CACHE=off` writes nothing.
#[test]
fn compile_cache_is_written_reused_and_survives_corruption() {
    let dir = job_dir(1);
    let p = write_pipeline(dir.path(), &counting_pipeline("cached", "storage", "1s", 0, ""));
    let cache = dir.path().join("cache");

    validate_with_cache(&p, None);
    assert!(cache_entries(&cache).is_empty(), "CAIRN_COMPILE_CACHE=off wrote to the cache");

    validate_with_cache(&p, Some(&cache));
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 2, "one entry per component (tokenize, count): {entries:?}");
    let before: Vec<_> = entries.iter().map(|e| std::fs::read(e).unwrap()).collect();
    let log = validate_with_cache(&p, Some(&cache));
    assert!(!log.contains("compile cache"), "a valid entry is used silently:\n{log}");
    assert_eq!(cache_entries(&cache).iter().map(|e| std::fs::read(e).unwrap()).collect::<Vec<_>>(), before);

    // Corrupt one entry and truncate the other: both are recompiled and rewritten.
    let mut bytes = before[0].clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&entries[0], bytes).unwrap();
    std::fs::write(&entries[1], &before[1][..100]).unwrap();
    let log = validate_with_cache(&p, Some(&cache));
    assert_eq!(log.matches("ignoring compile cache entry").count(), 2, "{log}");
    assert_eq!(cache_entries(&cache).iter().map(|e| std::fs::read(e).unwrap()).collect::<Vec<_>>(), before);

    // And a run with the cache produces the same output as without it.
    let out = Command::new(host_bin()).args(["run", p.to_str().unwrap()]).env("CAIRN_CACHE_DIR", &cache).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), reference_output(1));
}
