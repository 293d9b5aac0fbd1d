//! Malformed records from sources: `fail` (the default) names source, file and
//! line; `skip` drops them; `dead-letter` writes them with the reason.

use cairn_tests::{operators, run_in_process, write_pipeline};

fn run(policy: &str, format: &str, input: &[u8]) -> (tempfile::TempDir, anyhow::Result<cairn_host::job::JobSummary>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), input).unwrap();
    let yaml = format!(
        "name: malformed
sources:
  - id: src
    type: file
    path: in.txt
    format: {format}
    on-malformed: {policy}
operators:
  - id: op
    component: {}
    input: src
sinks:
  - id: out
    type: file
    input: op
    path: out.txt
    format: value
restart: {{ strategy: none }}
",
        operators::MAP
    );
    let r = run_in_process(&write_pipeline(dir.path(), &yaml));
    (dir, r)
}

const JSON: &[u8] = b"{\"value\": \"good\", \"ts\": 1}\n{\"value\": broken\n{\"value\": \"fine\", \"ts\": 2}\n";

#[test]
fn fail_names_the_source_and_line() {
    let (_dir, r) = run("fail", "json", JSON);
    let err = format!("{:#}", r.unwrap_err());
    assert!(err.contains("`src`") && err.contains("in.txt:2") && err.contains("invalid JSON"), "{err}");
}

#[test]
fn a_malformed_record_is_not_retried_whatever_the_restart_strategy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), JSON).unwrap();
    let yaml = format!(
        "name: malformed\nsources:\n  - id: src\n    type: file\n    path: in.txt\n    format: json\n\
         operators:\n  - id: op\n    component: {}\n    input: src\n\
         sinks:\n  - id: out\n    type: file\n    input: op\n    path: out.txt\n\
         restart: {{ strategy: fixed-delay, attempts: 3, delay: 10ms }}\n",
        operators::MAP
    );
    let err = format!("{:#}", run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap_err());
    assert!(err.contains("not retried") && err.contains("in.txt:2"), "{err}");
}

#[test]
fn json_without_a_named_timestamp_field_takes_arrival_order_and_a_named_one_is_required() {
    let (dir, r) = run("fail", "json", b"{\"value\": \"a\"}\n{\"value\": \"b\", \"ts\": 7}\n");
    r.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "A\nB\n");
    let yaml = std::fs::read_to_string(dir.path().join("pipeline.yaml")).unwrap().replace("format: json", "format: json\n    timestamp-field: at");
    let p = write_pipeline(dir.path(), &yaml);
    let err = format!("{:#}", run_in_process(&p).unwrap_err());
    assert!(err.contains("missing timestamp field `at`") && err.contains("in.txt:1"), "{err}");
}

#[test]
fn skip_drops_and_counts() {
    let (dir, r) = run("skip", "json", JSON);
    r.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "GOOD\nFINE\n");
    let (dir, r) = run("skip", "lines", b"text\n\xff\xfe not utf-8\nmore\n");
    r.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "TEXT\nMORE\n");
}

#[test]
fn dead_letter_keeps_the_record_and_the_reason() {
    let (dir, r) = run("{ dead-letter: rejected.jsonl }", "json", JSON);
    r.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "GOOD\nFINE\n");
    let text = std::fs::read_to_string(dir.path().join("rejected.jsonl")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(rec["line"], 2);
    assert_eq!(rec["record"], "{\"value\": broken");
    assert!(rec["reason"].as_str().unwrap().contains("invalid JSON"), "{rec}");
}
