//! Kafka in and out, against a real Apache Kafka broker (single node, KRaft) that
//! the test setup starts on 127.0.0.1 (`cairn_tests::kafka`): exactly-once by
//! equivalence with an uninterrupted run, across SIGKILLs, a crash in the
//! commit phase, a broker restart and rescaling of the source; and the errors
//! of bad input.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cairn_tests::kafka::{Broker, shared_broker, unique_topic};
use cairn_tests::{Rng, host, operators, spawn_host, write_pipeline};

const TEXT: &str = include_str!("../../../examples/wordcount/input.txt");

/// kafka (lines) -> tokenize -> count (keyed, 2 subtasks) -> kafka (word, running count).
fn counting_pipeline(name: &str, bootstrap: &str, input: &str, output: &str, rate: u64, extra: &str) -> String {
    format!(
        "name: {name}
sources:
  - id: lines
    type: kafka
    bootstrap-servers: {bootstrap}
    topic: {input}
    stop-at: latest
    rate: {rate}
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
    type: kafka
    input: count
    bootstrap-servers: {bootstrap}
    topic: {output}
batch:
  size: 64
  linger: 5ms
checkpoints:
  interval: 150ms
{extra}api:
  listen: 127.0.0.1:0
",
        tokenize = operators::TOKENIZE,
        count = operators::COUNT,
    )
}

/// Fills a fresh 2-partition topic with the word-count text repeated `times`.
fn text_topic(broker: &Broker, times: usize) -> String {
    let topic = unique_topic("lines");
    broker.create_topic(&topic, 2);
    let records: Vec<_> = TEXT.repeat(times).lines().enumerate().map(|(i, l)| ((i % 2) as i32, None, l.as_bytes().to_vec(), i as i64)).collect();
    broker.produce(&topic, &records);
    topic
}

/// What an uninterrupted run emits: for each word seen `n` times, `(word, 1..=n)`.
fn expected_counts(times: usize) -> Vec<(String, String)> {
    let mut n: BTreeMap<String, u64> = BTreeMap::new();
    for w in TEXT.repeat(times).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        *n.entry(w.to_lowercase()).or_default() += 1;
    }
    let mut out: Vec<(String, String)> = n.into_iter().flat_map(|(w, n)| (1..=n).map(move |i| (w.clone(), i.to_string()))).collect();
    out.sort();
    out
}

/// The committed records of `topic` as sorted (key, value) text pairs.
fn committed(broker: &Broker, topic: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = broker
        .read_committed(topic)
        .into_iter()
        .map(|(_, k, v)| (String::from_utf8_lossy(&k.unwrap_or_default()).into_owned(), String::from_utf8_lossy(&v).into_owned()))
        .collect();
    out.sort();
    out
}

fn run(p: &Path) -> (bool, String) {
    let out = host(&["run", p.to_str().unwrap(), "--resume"]);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Waits until `log` contains `needle`, while `child` runs.
fn wait_for_log(log: &Path, needle: &str, child: &mut std::process::Child, limit: Duration) {
    let started = Instant::now();
    while !std::fs::read_to_string(log).unwrap_or_default().contains(needle) {
        assert!(started.elapsed() < limit, "no `{needle}` within {limit:?}:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        assert!(child.try_wait().unwrap().is_none(), "the job ended before `{needle}`:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_tokenizer_matches_the_expected_counts() {
    // The reference: an uninterrupted run equals the counts computed here.
    let broker = shared_broker();
    let times = 4;
    let input = text_topic(broker, times);
    let output = unique_topic("counts");
    broker.create_topic(&output, 3);
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &counting_pipeline("kafka-ref", &broker.bootstrap(), &input, &output, 0, ""));
    let (ok, log) = run(&p);
    assert!(ok, "{log}");
    // The end of a partition is not an error.
    assert!(!log.contains("PartitionEOF") && !log.contains(" ERROR "), "{log}");
    assert_eq!(committed(broker, &output), expected_counts(times));
}

#[test]
fn killed_and_resumed_kafka_runs_equal_an_uninterrupted_run() {
    let broker = shared_broker();
    let times = 200; // 7800 lines at 600 lines/s
    let input = text_topic(broker, times);
    let output = unique_topic("counts");
    broker.create_topic(&output, 3);
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &counting_pipeline("kafka-kill", &broker.bootstrap(), &input, &output, 300, ""));
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Rng(seed);
    for round in 0..10 {
        let log = dir.path().join(format!("run-{round}.log"));
        let mut child = spawn_host(&["run", p.to_str().unwrap(), "--resume"], &log);
        wait_for_log(&log, "checkpoint completed", &mut child, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(rng.below(600)));
        assert!(child.try_wait().unwrap().is_none(), "run {round} ended before it was killed (seed {seed})");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (ok, log) = run(&p);
    assert!(ok && log.contains("restoring from checkpoint"), "{log}");
    assert_eq!(committed(broker, &output), expected_counts(times), "seed {seed}");
}

#[test]
fn a_crash_between_checkpoint_and_commit_is_finished_by_the_restore() {
    // Arroyo issue 224: the checkpoint completed, its transaction was never committed.
    let broker = shared_broker();
    let times = 40;
    let input = text_topic(broker, times);
    let output = unique_topic("counts");
    broker.create_topic(&output, 1);
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &counting_pipeline("kafka-commit-crash", &broker.bootstrap(), &input, &output, 0, ""));
    let out = std::process::Command::new(cairn_tests::host_bin())
        .args(["run", p.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .env("CAIRN_KAFKA_FAULT", "exit-before-commit")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{log}");
    assert!(committed(broker, &output).is_empty(), "nothing is committed before the restore");
    let (ok, log) = run(&p);
    assert!(ok, "{log}");
    assert!(log.contains("committed the transaction of the restored checkpoint"), "{log}");
    assert_eq!(committed(broker, &output), expected_counts(times));
}

/// Runs the counting pipeline (with `checkpoints` lines `extra`) on a broker of its
/// own that crashes after the first checkpoint and comes back once the job's log says
/// `back_after`; the job must then finish and have committed exactly the counts.
fn survive_a_broker_crash(name: &str, extra: &str, back_after: &str) -> String {
    let mut broker = Broker::start();
    let times = 40; // 1560 lines at 300 lines/s
    let input = text_topic(&broker, times);
    let output = unique_topic("counts");
    broker.create_topic(&output, 2);
    let dir = tempfile::tempdir().unwrap();
    let yaml = counting_pipeline(name, &broker.bootstrap(), &input, &output, 300, extra).replace("    topic: ", "    connect-timeout: 2s\n    topic: ");
    let p = write_pipeline(dir.path(), &yaml);
    let log = dir.path().join("run.log");
    let mut child = spawn_host(&["run", p.to_str().unwrap()], &log);
    wait_for_log(&log, "checkpoint completed", &mut child, Duration::from_secs(60));
    broker.crash();
    wait_for_log(&log, back_after, &mut child, Duration::from_secs(60));
    broker.resume();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the job did not finish after the broker came back");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{text}");
    assert_eq!(committed(&broker, &output), expected_counts(times));
    text
}

/// Restarts from the last checkpoint, as often as the broker takes to come back.
const PATIENT_RESTARTS: &str = "restart:\n  strategy: fixed-delay\n  attempts: 200\n  delay: 300ms\n";

#[test]
fn a_broker_restart_fails_checkpoints_not_the_job() {
    // The source may read all of its input before the broker comes back (the client
    // fetches ahead of the rate limit): then the final checkpoint fails, and the job
    // restarts from its last checkpoint until the broker serves again.
    let extra = format!("  timeout: 3s\n  tolerable-failures: 1000\n{PATIENT_RESTARTS}");
    survive_a_broker_crash("kafka-broker-restart", &extra, "checkpoint failed");
}

#[test]
fn a_restart_that_cannot_reach_the_broker_is_tried_again() {
    // No failed checkpoint is tolerated: the outage fails the job, and its restarts
    // cannot reach the broker until it is back.
    let extra = format!("  timeout: 3s\n  tolerable-failures: 0\n{PATIENT_RESTARTS}");
    let log = survive_a_broker_crash("kafka-restart-waits", &extra, "the restarted job cannot start yet");
    assert!(log.contains("restoring from checkpoint"), "{log}");
}

/// kafka (4 partitions) -> kafka, source parallelism `n`, no operator.
fn copy_pipeline(bootstrap: &str, input: &str, output: &str, n: usize) -> String {
    format!(
        "name: kafka-rescale
sources:
  - id: in
    type: kafka
    bootstrap-servers: {bootstrap}
    topic: {input}
    parallelism: {n}
    stop-at: latest
    rate: 500
sinks:
  - id: out
    type: kafka
    input: in
    bootstrap-servers: {bootstrap}
    topic: {output}
batch:
  size: 32
  linger: 5ms
checkpoints:
  interval: 200ms
api:
  listen: 127.0.0.1:0
"
    )
}

/// Runs `p` until its first checkpoint, then stops it with a savepoint; returns the savepoint.
fn run_then_stop(p: &Path, from: Option<&str>, log: &Path) -> String {
    let mut args = vec!["run", p.to_str().unwrap()];
    if let Some(f) = from {
        args.extend(["--from", f]);
    }
    let mut child = spawn_host(&args, log);
    wait_for_log(log, "checkpoint completed", &mut child, Duration::from_secs(60));
    let text = std::fs::read_to_string(log).unwrap();
    let line = text.lines().find(|l| l.contains("REST API listening on ")).expect("api line");
    let port = line.rsplit(':').next().unwrap().trim();
    let out = host(&["stop", "--savepoint", "--api", &format!("http://127.0.0.1:{port}")]);
    assert!(out.status.success(), "stop failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(child.wait().unwrap().success(), "{}", std::fs::read_to_string(log).unwrap());
    String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap().to_string()
}

#[test]
fn a_savepoint_restores_at_another_source_parallelism_reading_everything_once() {
    let broker = shared_broker();
    let input = unique_topic("events");
    broker.create_topic(&input, 4);
    let n = 4000;
    let records: Vec<_> = (0..n).map(|i| ((i % 4), Some(format!("k{}", i % 13).into_bytes()), format!("e{i}").into_bytes(), i as i64)).collect();
    broker.produce(&input, &records);
    let output = unique_topic("copied");
    broker.create_topic(&output, 2);
    let dir = tempfile::tempdir().unwrap();
    let write = |par: usize| write_pipeline(dir.path(), &copy_pipeline(&broker.bootstrap(), &input, &output, par));
    let sp1 = run_then_stop(&write(2), None, &dir.path().join("run-2.log"));
    let sp2 = run_then_stop(&write(4), Some(&sp1), &dir.path().join("run-4.log"));
    let out = host(&["run", write(1).to_str().unwrap(), "--from", &sp2]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut got: Vec<String> = broker.read_committed(&output).into_iter().map(|(_, _, v)| String::from_utf8(v).unwrap()).collect();
    got.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    want.sort();
    assert_eq!(got.len(), want.len(), "records read twice or skipped");
    assert_eq!(got, want);
}

fn failing(yaml: &str) -> (String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), yaml);
    let t = Instant::now();
    let out = host(&["run", p.to_str().unwrap()]);
    assert!(!out.status.success());
    (String::from_utf8_lossy(&out.stderr).into_owned(), t.elapsed())
}

fn bad_pipeline(source_bootstrap: &str, topic: &str, sink_bootstrap: &str, out_topic: &str, option: &str) -> String {
    format!(
        "name: kafka-bad
sources:
  - id: in
    type: kafka
    bootstrap-servers: {source_bootstrap}
    topic: {topic}
    connect-timeout: 3s
{option}sinks:
  - id: out
    type: kafka
    input: in
    bootstrap-servers: {sink_bootstrap}
    topic: {out_topic}
    connect-timeout: 3s
api:
  enabled: false
"
    )
}

#[test]
fn bad_kafka_input_fails_before_data_flows_naming_the_connector_and_cause() {
    let broker = shared_broker();
    let good = unique_topic("good");
    broker.create_topic(&good, 1);
    let b = broker.bootstrap();
    let nowhere = format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());

    let (err, took) = failing(&bad_pipeline(&nowhere, &good, &b, &good, ""));
    assert!(err.contains("kafka source `in`") && err.contains("cannot reach the Kafka brokers") && err.contains(&nowhere), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");

    let (err, _) = failing(&bad_pipeline(&b, &good, &nowhere, &good, ""));
    assert!(err.contains("kafka sink `out`") && err.contains("cannot reach the Kafka brokers"), "{err}");

    let (err, _) = failing(&bad_pipeline(&b, "no-such-topic", &b, &good, ""));
    assert!(err.contains("kafka source `in`") && err.contains("topic `no-such-topic` does not exist"), "{err}");

    let (err, _) = failing(&bad_pipeline(&b, &good, &b, "no-such-output", ""));
    assert!(err.contains("kafka sink `out`") && err.contains("topic `no-such-output` does not exist"), "{err}");

    let (err, _) = failing(&bad_pipeline(&b, &good, &b, &good, "    options:\n      no.such.option: \"1\"\n"));
    assert!(err.contains("kafka source `in`") && err.contains("bad client option") && err.contains("no.such.option"), "{err}");

    let (err, _) = failing(&bad_pipeline(&b, &good, &b, &good, "    options:\n      group.id: mine\n"));
    assert!(err.contains("source `in`") && err.contains("group.id"), "{err}");
}

#[test]
fn json_event_time_an_explicit_partition_at_least_once_and_group_offsets() {
    let broker = shared_broker();
    let input = unique_topic("json");
    broker.create_topic(&input, 2);
    let n = 500i64;
    let records: Vec<_> = (0..n)
        .map(|i| ((i % 2) as i32, Some(format!("k{i}").into_bytes()), format!("{{\"ts\": {}, \"i\": {i}}}", 1_700_000_000_000 + i).into_bytes(), 5))
        .collect();
    broker.produce(&input, &records);
    let output = unique_topic("json-out");
    broker.create_topic(&output, 3);
    let b = broker.bootstrap();
    let yaml = format!(
        "name: kafka-json
sources:
  - id: in
    type: kafka
    bootstrap-servers: {b}
    topic: {input}
    stop-at: latest
    timestamp-field: ts
    group-id: cairn-json-monitor
sinks:
  - id: out
    type: kafka
    input: in
    bootstrap-servers: {b}
    topic: {output}
    delivery: at-least-once
    partition: 1
checkpoints:
  interval: 100ms
api:
  enabled: false
"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &yaml);
    let out = host(&["run", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = broker.read_committed_at(&output);
    assert_eq!(got.len(), n as usize);
    for (partition, key, value, ts) in &got {
        assert_eq!(*partition, 1, "the explicit partition");
        let v: serde_json::Value = serde_json::from_slice(value).unwrap();
        assert_eq!(*ts, v["ts"].as_i64().unwrap(), "event time from the JSON field, written as the record timestamp");
        assert_eq!(key.as_deref(), Some(format!("k{}", v["i"]).as_bytes()), "the key is carried");
    }
    // Offsets committed to the group for monitoring: the checkpointed ones, at most the end.
    let committed = broker.group_offsets("cairn-json-monitor", &input, 2);
    assert!(committed.iter().all(|&o| (0..=n / 2).contains(&o)) && committed.iter().any(|&o| o > 0), "{committed:?}");
}

#[test]
fn a_zombie_of_an_earlier_process_is_fenced_and_cannot_commit() {
    let broker = shared_broker();
    let times = 60; // 2340 lines at 300 lines/s
    let input = text_topic(broker, times);
    let output = unique_topic("counts");
    broker.create_topic(&output, 2);
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &counting_pipeline("kafka-zombie", &broker.bootstrap(), &input, &output, 300, "restart:\n  strategy: none\n"));
    // The first process freezes (a long GC pause, a partitioned machine) after a checkpoint…
    let log = dir.path().join("zombie.log");
    let mut zombie = spawn_host(&["run", p.to_str().unwrap()], &log);
    wait_for_log(&log, "checkpoint completed", &mut zombie, Duration::from_secs(60));
    let pid = zombie.id().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    // …its successor takes over and finishes the job…
    let (ok, text) = run(&p);
    assert!(ok && text.contains("restoring from checkpoint"), "{text}");
    // …and when the first one wakes up, its producers are fenced: it fails, committing nothing.
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = zombie.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            zombie.kill().unwrap();
            panic!("the zombie neither failed nor ended:\n{}", std::fs::read_to_string(&log).unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "the zombie must fail:\n{text}");
    assert!(text.to_lowercase().contains("fenced"), "{text}");
    assert_eq!(committed(broker, &output), expected_counts(times));
}
