//! One test per guest operator, named after it (see `assert_guest_has_test!`).

use cairn_tests::{operators, run_in_process, write_pipeline};

pub(crate) use crate::bad_input::{faulty, misfit, mistyped_export as mistyped, mistyped_import as misimport};
pub(crate) use crate::memory_state::rust_tally_killed_resumed_and_restored_commits_what_an_uninterrupted_run_commits as tally;
pub(crate) use crate::nexmark::{
    q0 as nexmark_q0, q1 as nexmark_q1, q2 as nexmark_q2, q3 as nexmark_q3, q5 as nexmark_q5, q7 as nexmark_q7, q8 as nexmark_q8, q17 as nexmark_q17,
};
pub(crate) use crate::sandbox::probe_reaches_nothing_without_grants as probe;

/// Runs `source lines (JSON) -> operator -> file sink` in this process and
/// returns the output lines in order, or the error (with its causes).
pub(crate) fn try_run_one(component: &std::path::Path, config: &str, events: &[&str]) -> Result<Vec<String>, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), events.join("\n")).unwrap();
    let yaml = format!(
        "name: one
sources:
  - id: src
    type: file
    path: in.jsonl
    format: json
operators:
  - id: op
    component: {}
    input: src
    config: {config}
sinks:
  - id: out
    type: file
    input: op
    path: out.txt
",
        component.display()
    );
    run_in_process(&write_pipeline(dir.path(), &yaml)).map_err(|e| format!("{e:#}"))?;
    Ok(std::fs::read_to_string(dir.path().join("out.txt")).unwrap().lines().map(str::to_string).collect())
}

/// [`try_run_one`] for an operator that must succeed.
fn run_one(component: &str, config: &str, events: &[&str]) -> Vec<String> {
    try_run_one(std::path::Path::new(component), config, events).unwrap()
}

#[test]
pub(crate) fn tokenize() {
    let out = run_one(operators::TOKENIZE, "null", &[r#"{"value": "Hello, World! hello-again 42", "ts": 1}"#]);
    assert_eq!(out, ["hello\thello", "world\tworld", "hello\thello", "again\tagain", "42\t42"]);
}

#[test]
pub(crate) fn count() {
    let events = [
        r#"{"key": "a", "value": "x", "ts": 1}"#,
        r#"{"key": "b", "value": "x", "ts": 2}"#,
        r#"{"key": "a", "value": "x", "ts": 3}"#,
        r#"{"value": "no key", "ts": 4}"#,
    ];
    assert_eq!(run_one(operators::COUNT, "null", &events), ["a\t1", "b\t1", "a\t2", "1"]);
}

#[test]
pub(crate) fn filter() {
    let events = [r#"{"value": "red apple", "ts": 1}"#, r#"{"value": "green pear", "ts": 2}"#, r#"{"value": "apple pie", "ts": 3}"#];
    assert_eq!(run_one(operators::FILTER, "{ contains: apple }", &events), ["red apple", "apple pie"]);
    assert_eq!(run_one(operators::FILTER, "{ contains: apple, invert: true }", &events), ["green pear"]);
}

#[test]
pub(crate) fn map() {
    let events = [r#"{"key": "k", "value": "Mixed Case", "ts": 1}"#];
    assert_eq!(run_one(operators::MAP, "{ op: uppercase }", &events), ["k\tMIXED CASE"]);
    assert_eq!(run_one(operators::MAP, "{ op: lowercase }", &events), ["k\tmixed case"]);
    assert_eq!(run_one(operators::MAP, "{ op: prefix, prefix: '> ' }", &events), ["k\t> Mixed Case"]);
}

#[test]
pub(crate) fn passthrough() {
    let events = [r#"{"key": "k", "value": "Mixed Case", "ts": 1}"#, r#"{"value": "no key", "ts": 2}"#];
    assert_eq!(run_one(operators::PASSTHROUGH, "null", &events), ["k\tMixed Case", "no key"]);
}

#[test]
pub(crate) fn window() {
    let events = [
        r#"{"key": "a", "value": 1, "ts": 100}"#,
        r#"{"key": "a", "value": 2, "ts": 999}"#,
        r#"{"key": "b", "value": 5, "ts": 500}"#,
        r#"{"key": "a", "value": 10, "ts": 1000}"#,
    ];
    // Emitted in order of window start, then key; the last window at the final watermark.
    assert_eq!(run_one(operators::WINDOW, "{ size: 1000 }", &events), ["a\t0,1000,3", "b\t0,1000,5", "a\t1000,2000,10"]);
}

/// State of 1 GiB crosses the boundary in bounded pieces both ways: it is
/// checkpointed, and restores into a fresh run byte for byte.
#[test]
pub(crate) fn blob() {
    const GIB: u64 = 1 << 30;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "one line\n").unwrap();
    let yaml = format!(
        "name: big
sources:
  - id: src
    type: file
    path: in.txt
operators:
  - id: blob
    component: {}
    input: src
    config: {{ size: {GIB} }}
    limits: {{ memory: 4GiB, max-snapshot: 2GiB }}
sinks:
  - id: out
    type: file
    input: blob
    path: out.txt
checkpoints:
  on-finish: keep
",
        operators::BLOB
    );
    let p = write_pipeline(dir.path(), &yaml);
    let summary = run_in_process(&p).unwrap();
    let checksum = |text: &str| text.lines().rfind(|l| l.starts_with("blob\t")).map(str::to_string);
    let first = checksum(&std::fs::read_to_string(dir.path().join("out.txt")).unwrap()).expect("checksum line");
    assert!(first.starts_with(&format!("blob\t{GIB} ")), "{first}");

    let latest = summary.checkpoints.latest.expect("final checkpoint").replace("file://", "");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(format!("{latest}/_metadata")).unwrap()).unwrap();
    let size = meta["operators"]["blob"]["subtasks"][0]["size"].as_u64().unwrap();
    assert!(size > GIB, "state of {size} bytes");

    // A fresh run restored from it: the blob it reports is the saved one.
    std::fs::remove_file(dir.path().join("out.txt")).ok();
    let opts = cairn_host::checkpoint::setup::StartFrom { from: Some(latest), ..Default::default() };
    cairn_host::cli::run_pipeline_with(&p, std::sync::Arc::default(), &opts).unwrap();
    let text = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert_eq!(checksum(&text).as_deref(), Some(first.as_str()));
}

/// The 0.1.0 build of the counter counts like the 0.2.0 one.
#[test]
pub(crate) fn count_0_1() {
    let events = [r#"{"key": "a", "value": "x", "ts": 1}"#, r#"{"key": "a", "value": "x", "ts": 3}"#, r#"{"value": "no key", "ts": 4}"#];
    assert_eq!(run_one(operators::COUNT_0_1, "null", &events), ["a\t1", "a\t2", "1"]);
}

/// A join needs two inputs: with one, `init` fails and says so (the
/// two-input behaviour is tested in `rescale::joins`).
#[test]
pub(crate) fn join() {
    let err = try_run_one(std::path::Path::new(operators::JOIN), "{ size: 10 }", &[r#"{"value": "x", "ts": 1}"#]).unwrap_err();
    assert!(err.contains("a join has two inputs") && err.contains("operator `op`"), "{err}");

    // Events without a key join nothing by default (like SQL's NULL); `keyless: join` pairs them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("l.jsonl"), "{\"key\": \"k\", \"value\": \"l1\", \"ts\": 1}\n{\"value\": \"l2\", \"ts\": 2}\n").unwrap();
    std::fs::write(dir.path().join("r.jsonl"), "{\"key\": \"k\", \"value\": \"r1\", \"ts\": 3}\n{\"value\": \"r2\", \"ts\": 4}\n").unwrap();
    let run = |config: &str| {
        let yaml = format!(
            "name: keyless\nsources:\n  - id: l\n    type: file\n    path: l.jsonl\n    format: json\n  - id: r\n    type: file\n    path: r.jsonl\n    format: json\n\
             operators:\n  - id: j\n    component: {}\n    input: [l, r]\n    key-by: true\n    config: {config}\nsinks:\n  - id: out\n    type: file\n    input: j\n    path: out.txt\n",
            operators::JOIN
        );
        run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
        let mut lines: Vec<String> = std::fs::read_to_string(dir.path().join("out.txt")).unwrap().lines().map(str::to_string).collect();
        lines.sort();
        std::fs::remove_file(dir.path().join("out.txt")).unwrap();
        lines
    };
    assert_eq!(run("{ size: 10 }"), ["k\tl1,r1"], "keyless events joined");
    assert_eq!(run("{ size: 10, keyless: join }"), ["\tl2,r2", "k\tl1,r1"]);
}

/// A 0.2.0 guest whose snapshot claims keyed state for hashes it does not
/// own fails its task at the barrier, naming operator, subtask and call;
/// no checkpoint holding that state is ever written.
#[test]
pub(crate) fn rogue() {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.path().join("in.txt"), lines).unwrap();
    let yaml = format!(
        "name: rogue
sources:
  - id: src
    type: file
    path: in.txt
    rate: 2000
operators:
  - id: op
    component: {}
    input: src
    key-by: true
    parallelism: 2
sinks:
  - id: out
    type: file
    input: op
    path: out.txt
checkpoints:
  interval: 50ms
restart: {{ strategy: none }}
",
        operators::ROGUE
    );
    let err = format!("{:#}", run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap_err());
    assert!(err.contains("operator `op` subtask") && err.contains("`snapshot`") && err.contains("do not fit the hashes it owns"), "{err}");
    assert!(cairn_tests::checkpoint_dirs(&dir.path().join("storage")).is_empty(), "a checkpoint was written");
}
