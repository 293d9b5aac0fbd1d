//! One start-up path: `host check` walks `host run`'s start-up and stops
//! before data flows. For every refusal `run` gives at start, `check` gives the
//! same verdict in the same words; a refusal that names a flag is tried with
//! it; a refused run writes nothing to storage.

use std::path::Path;

use cairn_tests::{checkpoint_dirs, host, operators, run_err, run_ok, write_pipeline};

use crate::checkpoints::{counting_pipeline, job_dir};

/// The error `host` ended with (from its last `error: ` line on).
fn cause(stderr: &str) -> String {
    let at = stderr.rfind("\nerror: ").map_or(0, |i| i + 1);
    stderr[at..].trim().to_string()
}

/// Run records in the pipeline's storage.
fn run_records(dir: &Path, name: &str) -> usize {
    std::fs::read_dir(dir.join(format!("storage/{name}/runs"))).map_or(0, |d| d.count())
}

/// `run --from` and `check --from` refuse `yaml` with the same cause, containing `culprit`.
fn both_refuse(p: &Path, yaml: &str, from: &str, culprit: &str) {
    std::fs::write(p, yaml).unwrap();
    let p = p.to_str().unwrap();
    let run = cause(&run_err(&["run", p, "--from", from]));
    let out = host(&["check", p, "--from", from]);
    assert!(!out.status.success(), "check passed where run refused ({run}):\n{}", String::from_utf8_lossy(&out.stdout));
    let check = cause(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(check, run, "check and run disagree");
    assert!(run.contains(culprit), "the refusal names `{culprit}`: {run}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("FAIL "), "the report marks the culprit: {report}");
}

/// A finished job whose kept final checkpoint has committed output before it
/// (checkpoints every 100 ms of a rate-limited source).
fn finished_job(name: &str) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = job_dir(4);
    let p = write_pipeline(dir.path(), &counting_pipeline(name, "storage", "100ms", 400, "  on-finish: keep\n"));
    run_ok(&["run", p.to_str().unwrap()]);
    let chk = checkpoint_dirs(&dir.path().join("storage")).pop().expect("the final checkpoint is kept");
    (dir, p, chk)
}

#[test]
fn check_refuses_what_run_refuses_in_the_same_words() {
    let (dir, p, chk) = finished_job("startup");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(chk.join("_metadata")).unwrap()).unwrap();
    assert!(meta["sinks"]["out"]["committed-len"].as_u64().unwrap() > 0, "output was committed before the final checkpoint: {meta}");
    let from = chk.to_str().unwrap();
    let yaml = std::fs::read_to_string(&p).unwrap();
    let records = run_records(dir.path(), "startup");
    let check_ok = |yaml: &str| {
        std::fs::write(&p, yaml).unwrap();
        run_ok(&["check", p.to_str().unwrap(), "--from", from])
    };
    check_ok(&yaml);

    // A sink's committed output changed since the checkpoint: `check` looks at sinks too.
    let out = dir.path().join("out/counts.txt");
    let kept = std::fs::read(&out).unwrap();
    std::fs::write(&out, b"").unwrap();
    both_refuse(&p, &yaml, from, "were committed at the checkpoint");
    std::fs::write(&out, &kept).unwrap();

    // An operator granted an environment variable that is not set.
    let granted = yaml.replace("    key-by: true\n", "    key-by: true\n    grants:\n      env: [CAIRN_TEST_NEVER_SET]\n");
    both_refuse(&p, &granted, from, "CAIRN_TEST_NEVER_SET");
    // A component that is not one.
    both_refuse(&p, &yaml.replace(operators::COUNT, dir.path().join("input.txt").to_str().unwrap()), from, "not a WebAssembly component");
    // State of an operator the pipeline no longer has.
    both_refuse(&p, &yaml.replace("id: count", "id: counter").replace("input: count", "input: counter"), from, "no longer has");
    // A contract version the state does not cross.
    both_refuse(&p, &yaml.replace(operators::COUNT, operators::COUNT_0_1), from, "state does not cross contract versions");

    // Refused runs write nothing: no run record was left behind, ended or not.
    assert_eq!(run_records(dir.path(), "startup"), records, "a refused run left a run record");
    check_ok(&yaml);
    // `check` changed nothing: the output is as the finished run left it.
    assert_eq!(std::fs::read(&out).unwrap(), kept);
}

#[test]
fn a_new_source_needs_no_flag_and_the_flag_a_refusal_names_works() {
    let (dir, p, chk) = finished_job("startup-new");
    let from = chk.to_str().unwrap();
    let yaml = std::fs::read_to_string(&p).unwrap();
    // A source the checkpoint has no position for restores no operator state: it starts from its beginning.
    let more = yaml.replacen("sources:\n", "sources:\n  - id: probe\n    type: generator\n    count: 1000\n", 1).replacen(
        "sinks:\n",
        "sinks:\n  - id: probe-out\n    type: blackhole\n    input: probe\n",
        1,
    );
    std::fs::write(&p, &more).unwrap();
    let out = host(&["check", p.to_str().unwrap(), "--from", from]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok   probe: source, starts from its beginning") && text.contains("ok   probe-out: sink"), "{text}");
    let log = run_ok(&["run", p.to_str().unwrap(), "--from", from]);
    assert!(log.contains("restoring from checkpoint"), "{log}");

    // A new operator with no state: refused, naming the flag; with the flag it starts empty.
    let renamed = yaml.replace("id: count", "id: counter").replace("input: count", "input: counter");
    std::fs::write(&p, &renamed).unwrap();
    let err = run_err(&["run", p.to_str().unwrap(), "--from", from]);
    assert!(err.contains("--allow-non-restored-state"), "{err}");
    run_ok(&["check", p.to_str().unwrap(), "--from", from, "--allow-non-restored-state"]);
    run_ok(&["run", p.to_str().unwrap(), "--from", from, "--allow-non-restored-state"]);
    // State of another contract version: the flag starts the operator without it.
    std::fs::write(&p, yaml.replace(operators::COUNT, operators::COUNT_0_1)).unwrap();
    let err = run_err(&["run", p.to_str().unwrap(), "--from", from]);
    assert!(err.contains("--allow-non-restored-state"), "{err}");
    let log = run_ok(&["run", p.to_str().unwrap(), "--from", from, "--allow-non-restored-state"]);
    assert!(log.contains("starting without its state"), "{log}");
    drop(dir);
}

#[test]
fn validate_runs_init_with_the_operators_config() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = |size: u64| {
        format!(
            "name: v\nsources:\n  - id: a\n    type: generator\n    count: 10\n  - id: b\n    type: generator\n    count: 10\noperators:\n  - id: j\n    component: {join}\n    input: [a, b]\n    config: {{ size: {size} }}\nsinks:\n  - id: out\n    type: blackhole\n    input: j\n",
            join = operators::JOIN
        )
    };
    let p = cairn_tests::write_pipeline(dir.path(), &yaml(0));
    let err = run_err(&["validate", p.to_str().unwrap()]);
    assert!(err.contains("operator `j`") && err.contains("init"), "validate calls init: {err}");
    std::fs::write(&p, yaml(1000)).unwrap();
    run_ok(&["validate", p.to_str().unwrap()]);
}
