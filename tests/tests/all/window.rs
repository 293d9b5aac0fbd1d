//! Tumbling event-time windows over out-of-order input.

use std::collections::BTreeMap;
use std::fmt::Write;

use cairn_tests::{operators, run_in_process, sorted_lines, write_pipeline};

#[test]
fn out_of_order_events_within_the_bound_land_in_their_windows() {
    let dir = tempfile::tempdir().unwrap();
    // Events 100 ms apart, each displaced by up to ±400 ms: out of order, but
    // never later than the 500 ms bound behind the newest event.
    let mut input = String::new();
    let mut expected: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut seed: u64 = 42;
    for i in 0..2000i64 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let jitter = (seed >> 33) as i64 % 801 - 400;
        let ts = 1_700_000_000_000 + i * 100 + jitter;
        let key = ["apples", "pears", "plums"][(seed >> 20) as usize % 3];
        let value = (seed >> 40) as i64 % 100 - 20;
        writeln!(input, r#"{{"key": "{key}", "value": {value}, "ts": {ts}}}"#).unwrap();
        *expected.entry((key.to_string(), ts.div_euclid(1000) * 1000)).or_default() += value;
    }
    std::fs::write(dir.path().join("events.jsonl"), input).unwrap();
    let yaml = format!(
        "name: windows
sources:
  - id: events
    type: file
    path: events.jsonl
    format: json
    out-of-orderness: 500ms
operators:
  - id: sums
    component: {window}
    input: events
    key-by: true
    parallelism: 2
    config: {{ size: 1000 }}
sinks:
  - id: out
    type: file
    input: sums
    path: sums.txt
batch:
  size: 50
watermark-interval: 0s
",
        window = operators::WINDOW
    );
    run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
    let mut want: Vec<String> = expected.iter().map(|((k, start), sum)| format!("{k}\t{start},{},{sum}", start + 1000)).collect();
    want.sort();
    assert_eq!(sorted_lines(&dir.path().join("sums.txt")), want);
}
