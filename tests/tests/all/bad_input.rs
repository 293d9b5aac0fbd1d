//! Bad input of every kind gets a clear error naming the culprit, through the
//! `host` binary as a user meets it, and nothing runs half-way.

use cairn_tests::{host, operators, write_pipeline};

/// A valid pipeline over `component` (with `config`), reading `in.txt` and writing `out.txt`.
fn pipeline(component: &str, config: &str) -> String {
    format!(
        "name: bad
sources:
  - id: lines
    type: file
    path: in.txt
operators:
  - id: op
    component: {component}
    input: lines
    parallelism: 2
    config: {config}
sinks:
  - id: out
    type: file
    input: op
    path: out.txt
"
    )
}

/// Runs `host run` on `yaml`; asserts it fails, that stderr holds every
/// fragment, and that no output was written.
fn assert_rejected(yaml: &str, fragments: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "some words\nand more words\n").unwrap();
    let path = write_pipeline(dir.path(), yaml);
    let out = host(&["run", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "host accepted a bad pipeline:\n{yaml}\n{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "stderr lacks {f:?}:\n{stderr}");
    }
    assert!(!dir.path().join("out.txt").exists(), "output was written although the job could not start");
}

fn good() -> String {
    pipeline(operators::MAP, "null")
}

#[test]
fn the_good_pipeline_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "some words\n").unwrap();
    let out = host(&["run", write_pipeline(dir.path(), &good()).to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "SOME WORDS\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("job finished") && stderr.contains("events in"), "no summary:\n{stderr}");
}

#[test]
fn malformed_yaml() {
    assert_rejected("name: bad\nsources: [\n  - id: x\n", &["pipeline.yaml", "line"]);
}

#[test]
fn unknown_field_with_line_and_column() {
    let yaml = good().replace("    parallelism: 2", "    paralelism: 2");
    assert_rejected(&yaml, &["unknown field `paralelism`", "line 10 column 5"]);
}

#[test]
fn dangling_input() {
    assert_rejected(&good().replace("input: lines", "input: linez"), &["pipeline.yaml:9", "`op` names input `linez`"]);
}

#[test]
fn cycle() {
    let yaml = good()
        .replace("input: lines", "input: [lines, op2]")
        .replace("sinks:", &format!("  - id: op2\n    component: {}\n    input: op\nsinks:", operators::MAP));
    assert_rejected(&yaml, &["cycle", "op", "op2"]);
}

#[test]
fn duplicate_id() {
    assert_rejected(&good().replace("id: out", "id: op"), &["duplicate id `op`", "pipeline.yaml:13"]);
}

#[test]
fn bad_duration_and_size() {
    assert_rejected(&(good() + "batch:\n  linger: 10 fortnights\n"), &["invalid duration `10 fortnights`", "line"]);
    let yaml = good().replace("    type: file\n    path: in.txt", "    type: generator\n    value-size: 3 bushels");
    assert_rejected(&yaml, &["invalid size `3 bushels`", "line"]);
}

#[test]
fn missing_component_file() {
    assert_rejected(&pipeline("no/such/op.wasm", "null"), &["operator `op`", "cannot read component", "no/such/op.wasm"]);
}

#[test]
fn file_that_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "just text").unwrap();
    assert_rejected(&pipeline(text.to_str().unwrap(), "null"), &["operator `op`", "notes.wasm", "not a WebAssembly component", "magic"]);
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    assert_rejected(&pipeline(core.to_str().unwrap(), "null"), &["core.wasm", "core WebAssembly module"]);
}

/// A component built for a different shape of the world is refused before anything runs.
#[test]
pub(crate) fn misfit() {
    assert_invalid(&pipeline(operators::MISFIT, "null"), &["operator `op`", "misfit.wasm", "does not fit", "on-watermark"]);
    assert_rejected(&pipeline(operators::MISFIT, "null"), &["operator `op`", "misfit.wasm", "does not fit", "on-watermark"]);
}

/// Runs `host validate` on `yaml`; asserts it fails and that stderr holds every fragment.
fn assert_invalid(yaml: &str, fragments: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_pipeline(dir.path(), yaml);
    let out = host(&["validate", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "host validate accepted a bad pipeline:\n{yaml}\n{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "stderr of validate lacks {f:?}:\n{stderr}");
    }
}

/// A component whose exports are all there but one has the wrong type is refused by
/// `validate` and `run`, naming the export and both types.
#[test]
pub(crate) fn mistyped_export() {
    let want = ["operator `op`", "mistyped.wasm", "export `process`", "wrong type", "func(input: string)", "func(input: batch) -> result<batch, string>"];
    assert_invalid(&pipeline(operators::MISTYPED, "null"), &want);
    assert_rejected(&pipeline(operators::MISTYPED, "null"), &want);
}

/// A component importing `log` with another signature is refused, naming the import.
#[test]
pub(crate) fn mistyped_import() {
    let want = ["operator `op`", "misimport.wasm", "cairn:operator/log@0.1.0", "`log` has the wrong type"];
    assert_invalid(&pipeline(operators::MISIMPORT, "null"), &want);
    assert_rejected(&pipeline(operators::MISIMPORT, "null"), &want);
}

/// `init` errors and traps name the operator and subtask.
#[test]
pub(crate) fn faulty() {
    assert_rejected(&pipeline(operators::FAULTY, "{ fail-in: init, how: error }"), &["operator `op` subtask 0", "`init` returned an error", "asked to fail"]);
    assert_rejected(&pipeline(operators::FAULTY, "{ fail-in: init, how: panic }"), &["operator `op` subtask 0", "`init` trapped"]);
    assert_rejected(&pipeline(operators::FILTER, "{ contans: x }"), &["operator `op` subtask 0", "`init` returned an error", "contans"]);
}

#[test]
fn a_failing_operator_fails_the_job_and_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "a\nb\n").unwrap();
    let yaml = pipeline(operators::FAULTY, "{ fail-in: process, how: divide-by-zero }");
    let out = host(&["run", write_pipeline(dir.path(), &yaml).to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("operator `op` subtask") && stderr.contains("`process` trapped"), "{stderr}");
    assert!(stderr.to_lowercase().contains("divide by zero") || stderr.contains("division"), "{stderr}");
}

#[test]
fn bad_savepoint_and_api_settings() {
    assert_rejected(&(good() + "savepoints:\n  interval: 0s\n"), &["`savepoints.interval` must be more than 0s", "line"]);
    assert_rejected(&(good() + "savepoints:\n  retain: 0\n"), &["`savepoints.retain` must be at least 1", "line"]);
    assert_rejected(&(good() + "savepoints:\n  max-age: a while\n"), &["invalid duration `a while`", "line"]);
    assert_rejected(&(good() + "api:\n  listen: localhost-ish\n"), &["`api.listen` must be an address", "localhost-ish", "line"]);
    assert_rejected(&(good() + "api:\n  lisen: 127.0.0.1:0\n"), &["unknown field `lisen`", "line"]);
}
