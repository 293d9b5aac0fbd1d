//! Word count over real text, at several parallelisms.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_tests::{operators, run_in_process, sorted_lines, write_pipeline};

const TEXT: &str = include_str!("../../../examples/wordcount/input.txt");

/// Every running-count update the pipeline must emit, computed without Cairn:
/// for a word seen n times, `word\t1` … `word\tn`.
fn expected_updates(text: &str) -> Vec<String> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    let mut lines: Vec<String> = counts.iter().flat_map(|(w, &n)| (1..=n).map(move |i| format!("{w}\t{i}"))).collect();
    lines.sort();
    lines
}

fn wordcount_yaml(input: &Path, parallelism: usize, batch: usize) -> String {
    format!(
        "name: wordcount
sources:
  - id: lines
    type: file
    path: {input}
operators:
  - id: tokenize
    component: {tokenize}
    input: lines
  - id: count
    component: {count}
    input: tokenize
    key-by: true
    parallelism: {parallelism}
sinks:
  - id: out
    type: file
    input: count
    path: out/counts.txt
batch:
  size: {batch}
  linger: 5ms
",
        input = input.display(),
        tokenize = operators::TOKENIZE,
        count = operators::COUNT,
    )
}

#[test]
fn counts_equal_an_independent_count_of_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, TEXT).unwrap();
    let pipeline = write_pipeline(dir.path(), &wordcount_yaml(&input, 2, 64));
    let summary = run_in_process(&pipeline).unwrap();

    let expected = expected_updates(TEXT);
    assert!(expected.len() > 300, "the text should be long enough to matter");
    assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), expected);
    let lines = summary.nodes.iter().find(|n| n.id == "lines").unwrap();
    assert_eq!(lines.events_out, TEXT.lines().count() as u64);
    let count = summary.nodes.iter().find(|n| n.id == "count").unwrap();
    assert_eq!((count.parallelism, count.events_in, count.events_out), (2, expected.len() as u64, expected.len() as u64));
    // The printed summary gives each node's rate: events over the job's wall time.
    let text = summary.to_string();
    let header = text.lines().nth(1).unwrap();
    assert!(header.contains("events/s"), "{text}");
    let row = text.lines().find(|l| l.starts_with("count ")).unwrap();
    let rate: f64 = row.split_whitespace().nth(5).unwrap().parse().unwrap();
    let want = expected.len() as f64 / summary.elapsed.as_secs_f64();
    assert!((rate - want).abs() <= want * 0.01 + 1.0, "count's rate {rate}, expected {want}:\n{text}");
}

#[test]
fn parallelism_one_and_three_give_the_same_counts() {
    // A larger input: the text many times over, so every subtask sees many batches.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    let text = TEXT.repeat(40);
    std::fs::write(&input, &text).unwrap();
    let mut outputs = Vec::new();
    for parallelism in [1, 3] {
        let run = dir.path().join(format!("p{parallelism}"));
        std::fs::create_dir(&run).unwrap();
        let pipeline = write_pipeline(&run, &wordcount_yaml(&input, parallelism, 100));
        run_in_process(&pipeline).unwrap();
        outputs.push(sorted_lines(&run.join("out/counts.txt")));
    }
    assert_eq!(outputs[0], expected_updates(&text));
    assert_eq!(outputs[0], outputs[1]);
}
