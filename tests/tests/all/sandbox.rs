//! Hostile operators are contained: each failure names operator, subtask and
//! cause, and the host process survives (these run in the test process).

use cairn_tests::{host, operators, run_in_process, write_pipeline};

/// Runs `lines -> faulty(config, limits) -> file sink` in this process; returns the error text.
pub(crate) fn run_hostile(component: &str, config: &str, limits: &str) -> String {
    run_hostile_on(component, config, limits, 3)
}

/// The same over `lines` input lines (one batch of up to 1024).
fn run_hostile_on(component: &str, config: &str, limits: &str, lines: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let yaml = hostile_pipeline(dir.path(), component, config, limits, lines);
    let started = std::time::Instant::now();
    let err = run_in_process(&yaml).expect_err("a hostile operator must fail the job");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "containment took too long");
    format!("{err:#}")
}

/// Writes `lines -> bad(component, config, limits) -> out.txt` with `lines` input lines into `dir`.
fn hostile_pipeline(dir: &std::path::Path, component: &str, config: &str, limits: &str, lines: usize) -> std::path::PathBuf {
    std::fs::write(dir.join("in.txt"), "line\n".repeat(lines)).unwrap();
    let yaml = format!(
        "name: hostile
sources:
  - id: lines
    type: file
    path: in.txt
operators:
  - id: bad
    component: {component}
    input: lines
    config: {config}
    limits: {limits}
sinks:
  - id: out
    type: file
    input: bad
    path: out.txt
"
    );
    write_pipeline(dir, &yaml)
}

#[test]
fn an_endless_loop_hits_the_call_timeout() {
    let err = run_hostile(operators::FAULTY, "{ fail-in: process, how: endless-loop }", "{ call-timeout: 300ms }");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("`process`"), "{err}");
    assert!(err.contains("call timeout of 300ms"), "{err}");
    let err = run_hostile(operators::FAULTY, "{ fail-in: init, how: endless-loop }", "{ call-timeout: 300ms }");
    assert!(err.contains("`init`") && err.contains("call timeout"), "{err}");
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let err = run_hostile(operators::FAULTY, "{ fail-in: process, how: memory-bomb }", "{ memory: 64MiB }");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("limits.memory"), "{err}");
}

#[test]
fn a_flood_of_output_is_contained_by_the_memory_limit() {
    // 1000 lines in, a thousand 1 KiB events out for each: 1 GB from one call.
    let err = run_hostile_on(operators::FAULTY, "{ fail-in: process, how: flood }", "{ memory: 32MiB }", 1000);
    assert!(err.contains("operator `bad` subtask 0") && err.contains("limits.memory"), "{err}");
}

#[test]
fn traps_name_their_cause() {
    let err = run_hostile(operators::FAULTY, "{ fail-in: on-watermark, how: unreachable }", "{}");
    assert!(err.contains("`on-watermark` trapped") && err.contains("unreachable"), "{err}");
    let err = run_hostile(operators::FAULTY, "{ fail-in: process, how: panic }", "{}");
    assert!(err.contains("`process` trapped"), "{err}");
    // Where it happened, and no dangling "error while executing at wasm backtrace:".
    assert!(err.contains(", at wasm function ") && !err.contains("backtrace:"), "{err}");
}

#[test]
fn a_stack_overflow_is_named() {
    let err = run_hostile(operators::FAULTY, "{ fail-in: process, how: stack-overflow }", "{}");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("`process` trapped: stack overflow"), "{err}");
}

/// One call handing the host more than `limits.max-call-output` fails naming the limit; raised, it passes.
#[test]
fn the_per_call_copy_limit_is_named_and_configurable() {
    // 8 Mi events of 8 bytes from one call: 160 MiB of columns, over the default 128 MiB.
    let err = run_hostile(operators::FAULTY, "{ fail-in: process, how: big-output }", "{}");
    assert!(err.contains("`process` trapped") && err.contains("more than 128 MiB in one call (limits.max-call-output"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let yaml = hostile_pipeline(dir.path(), operators::FAULTY, "{ fail-in: process, how: big-output }", "{ max-call-output: 256MiB }", 3);
    let summary = run_in_process(&yaml).expect("the raised limit lets the flat-map through");
    let bad = summary.nodes.iter().find(|n| n.id == "bad").unwrap();
    assert_eq!((bad.events_in, bad.events_out), (3, (8 << 20) + 3), "{summary}");
}

/// A guest that logs (or prints) a million lines per batch gets `limits.log-lines` per
/// second through, and lines saying how many were dropped; the events still flow.
#[test]
fn a_log_flood_is_rate_limited() {
    for how in ["log-flood", "print-flood"] {
        let dir = tempfile::tempdir().unwrap();
        let yaml = hostile_pipeline(dir.path(), operators::FAULTY, &format!("{{ fail-in: process, how: {how} }}"), "{ log-lines: 50 }", 3);
        let started = std::time::Instant::now();
        let out = host(&["run", yaml.to_str().unwrap()]);
        let seconds = started.elapsed().as_secs() + 1;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{how}: {stderr}");
        assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "line\n".repeat(3), "{how}");
        let kept = stderr.lines().filter(|l| l.contains("of a flood")).count() as u64;
        let dropped: u64 = stderr
            .lines()
            .filter_map(|l| l.split_once("dropped_lines=").map(|(_, rest)| rest.split_whitespace().next().unwrap().parse::<u64>().unwrap()))
            .sum();
        assert!(stderr.contains("lines dropped") && stderr.contains("limits.log-lines"), "{how}: no summary line");
        assert!(kept <= 50 * seconds, "{how}: {kept} lines got through in about {seconds} s, over 50 per second");
        assert!(kept > 0 && (kept + dropped).is_multiple_of(1_000_000), "{how}: {kept} kept + {dropped} dropped is not the million lines per batch");
    }
}

#[test]
fn a_snapshot_over_the_size_limit_fails_the_job() {
    let err = run_hostile(operators::BLOB, "{ size: 4000000 }", "{ max-snapshot: 1MiB }");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("limits.max-snapshot"), "{err}");
}

/// Runs the probe with `grants`; returns its report by key.
fn probe(grants: &str) -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "go\n").unwrap();
    std::fs::create_dir(dir.path().join("shared")).unwrap();
    std::fs::write(dir.path().join("shared/secret.txt"), "granted text").unwrap();
    // A listener the probe must not reach even though it is there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let yaml = format!(
        "name: probe
sources:
  - id: lines
    type: file
    path: in.txt
operators:
  - id: probe
    component: {}
    input: lines
    config: {{ file: /data/secret.txt, env: CAIRN_PROBE_SECRET, connect: '127.0.0.1:{port}' }}
    grants: {grants}
sinks:
  - id: out
    type: file
    input: probe
    path: out.txt
",
        operators::PROBE
    );
    // SAFETY: tests in this binary do not read this variable concurrently elsewhere.
    unsafe { std::env::set_var("CAIRN_PROBE_SECRET", "sesame") };
    run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
    let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    out.lines().filter_map(|l| l.split_once('\t')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
pub(crate) fn probe_reaches_nothing_without_grants() {
    let report = probe("{}");
    for key in ["file", "env", "net"] {
        assert!(report[key].starts_with("denied:"), "{key} was reachable without a grant: {report:?}");
    }
}

#[test]
fn probe_reaches_exactly_what_is_granted() {
    let report = probe("{ env: [CAIRN_PROBE_SECRET], dirs: [{ host: shared, guest: /data }] }");
    assert_eq!(report["file"], "ok:granted text", "{report:?}");
    assert_eq!(report["env"], "ok:sesame", "{report:?}");
    assert!(report["net"].starts_with("denied:"), "network is never granted: {report:?}");
}

#[test]
fn snapshot_that_loops_or_fails_is_contained() {
    let err = run_hostile(operators::FAULTY, "{ fail-in: snapshot, how: endless-loop }", "{ call-timeout: 300ms }");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("`snapshot`") && err.contains("call timeout"), "{err}");
    let err = run_hostile(operators::FAULTY, "{ fail-in: snapshot, how: error }", "{}");
    // postcard drops the operator's own message; the SDK says what failed.
    assert!(err.contains("`snapshot` returned an error") && err.contains("cannot encode state"), "{err}");
}

#[test]
fn restore_that_loops_or_fails_is_contained() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "a\nb\n").unwrap();
    let yaml = |config: &str| {
        format!(
            "name: restoring
sources:
  - id: lines
    type: file
    path: in.txt
operators:
  - id: bad
    component: {}
    input: lines
    config: {config}
    limits: {{ call-timeout: 300ms }}
sinks:
  - id: out
    type: file
    input: bad
    path: out.txt
checkpoints:
  on-finish: keep
",
            operators::FAULTY
        )
    };
    // A healthy run leaves a checkpoint with the operator's state.
    let p = write_pipeline(dir.path(), &yaml("{ fail-in: process, how: error, until: 0 }"));
    let summary = run_in_process(&p).unwrap();
    let from = summary.checkpoints.latest.unwrap();
    for (how, expect) in [("endless-loop", "call timeout"), ("error", "cannot decode state")] {
        let p = write_pipeline(dir.path(), &yaml(&format!("{{ fail-in: restore, how: {how} }}")));
        let opts = cairn_host::checkpoint::setup::StartFrom { from: Some(from.clone()), ..Default::default() };
        let err = format!("{:#}", cairn_host::cli::run_pipeline_with(&p, std::sync::Arc::default(), &opts).unwrap_err());
        assert!(err.contains("operator `bad` subtask 0") && err.contains("`restore-finish`") && err.contains(expect), "{err}");
    }
}

#[test]
fn fuel_gives_a_deterministic_limit() {
    let err = run_hostile(operators::FAULTY, "{ fail-in: process, how: endless-loop }", "{ fuel: 5000000, call-timeout: 1h }");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("ran out of fuel (5000000 per call"), "{err}");
}

#[test]
fn call_timeout_none_runs_trusted_operators_without_epochs_and_others_keep_their_limit() {
    // Every operator trusted: the engine runs without epoch interruption, same output.
    let times = 3;
    let expected = crate::checkpoints::reference_output(times);
    let dir = crate::checkpoints::job_dir(times);
    let trusted = "    limits: { call-timeout: none }\n";
    let yaml = crate::checkpoints::counting_pipeline("trusted", "storage", "1s", 0, "")
        .replace("    input: lines\n", &format!("    input: lines\n{trusted}"))
        .replace("    input: tokenize\n", &format!("    input: tokenize\n{trusted}"));
    run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
    assert_eq!(cairn_tests::sorted_lines(&dir.path().join("out/counts.txt")), expected);

    // One trusted operator does not lift the limit of the others.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "line\n").unwrap();
    let yaml = format!(
        "name: mixed
sources:
  - id: lines
    type: file
    path: in.txt
operators:
  - id: trusted
    component: {map}
    input: lines
    limits: {{ call-timeout: none }}
  - id: bad
    component: {faulty}
    input: trusted
    config: {{ fail-in: process, how: endless-loop }}
    limits: {{ call-timeout: 300ms }}
sinks:
  - id: out
    type: file
    input: bad
    path: out.txt
",
        map = operators::MAP,
        faulty = operators::FAULTY
    );
    let err = format!("{:#}", run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap_err());
    assert!(err.contains("operator `bad` subtask 0") && err.contains("call timeout of 300ms"), "{err}");

    let yaml = yaml.replace("call-timeout: none", "call-timeout: forever");
    let err = format!("{:#}", run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap_err());
    assert!(err.contains("invalid timeout `forever`") && err.contains("`none`"), "{err}");
}
