use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Pipeline, SpecError> {
    Pipeline::parse(text, Path::new("dir/pipeline.yaml"))
}

const GOOD: &str = "\
name: wc
sources:
  - id: lines
    type: file
    path: in.txt
operators:
  - id: tok
    component: tok.wasm
    input: lines
  - id: count
    component: count.wasm
    input: tok
    key-by: true
    parallelism: 3
sinks:
  - id: out
    type: file
    input: count
    path: out.txt
batch:
  size: 64
  linger: 5ms
";

#[test]
fn parses_and_orders() {
    let p = parse(GOOD).unwrap();
    assert_eq!(p.spec.operators[1].parallelism, 3);
    assert_eq!(p.spec.batch.linger.0, std::time::Duration::from_millis(5));
    assert_eq!(p.topology.operator_order, vec![0, 1]);
    assert_eq!(p.resolve(Path::new("tok.wasm")), Path::new("dir/tok.wasm"));
}

#[test]
fn unknown_field_names_field_and_line() {
    let err = parse(&GOOD.replace("    key-by: true", "    key_by: true")).unwrap_err().to_string();
    assert!(err.contains("unknown field `key_by`"), "{err}");
    assert!(err.contains("line 13"), "{err}");
}

#[test]
fn malformed_yaml_names_line() {
    let err = parse("name: x\nsources: [\n").unwrap_err().to_string();
    assert!(err.contains("pipeline.yaml") && err.contains("line"), "{err}");
}

#[test]
fn bad_duration_and_size() {
    let err = parse(&GOOD.replace("linger: 5ms", "linger: soon")).unwrap_err().to_string();
    assert!(err.contains("batch: invalid duration `soon`") && err.contains("line 2"), "{err}");
    let generator = GOOD.replace("type: file\n    path: in.txt", "type: generator\n    value-size: 12 parsecs");
    let err = parse(&generator).unwrap_err().to_string();
    assert!(err.contains("invalid size `12 parsecs`"), "{err}");
}

#[test]
fn dangling_input_names_line() {
    let err = parse(&GOOD.replace("input: tok\n", "input: tokk\n")).unwrap_err().to_string();
    assert!(err.contains("dir/pipeline.yaml:12") && err.contains("`count` names input `tokk`"), "{err}");
}

#[test]
fn duplicate_id() {
    let err = parse(&GOOD.replace("id: count", "id: tok")).unwrap_err().to_string();
    assert!(err.contains("duplicate id `tok`") && err.contains(":10"), "{err}");
}

#[test]
fn cycle() {
    let err = parse(&GOOD.replace("input: lines", "input: count")).unwrap_err().to_string();
    assert!(err.contains("cycle") && err.contains("tok -> count") || err.contains("count -> tok"), "{err}");
}

#[test]
fn sink_as_input_and_wrong_source_field() {
    let err = parse(&GOOD.replace("input: tok\n", "input: out\n")).unwrap_err().to_string();
    assert!(err.contains("which is a sink"), "{err}");
    let err = parse(&GOOD.replace("path: in.txt", "path: in.txt\n    count: 5")).unwrap_err().to_string();
    assert!(err.contains("unknown field `count`"), "{err}");
}
