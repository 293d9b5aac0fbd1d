//! Benchmark: the cost of checkpoints. `generator -> count (stateful, keyed) ->
//! blackhole`, with a checkpoint every second vs periodic checkpoints off, in the
//! same run. Run with `cargo bench -p cairn-tests --bench checkpoints`.

const EVENTS: u64 = 30_000_000;

fn run(interval: Option<&str>) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = interval.map(|i| format!("checkpoints:\n  interval: {i}\n")).unwrap_or_default();
    let yaml = format!(
        "name: bench-checkpoints
sources:
  - id: gen
    type: generator
    count: {EVENTS}
    keys: 100000
    value-size: 16
operators:
  - id: count
    component: {count}
    input: gen
    key-by: true
sinks:
  - id: sink
    type: blackhole
    input: count
batch:
  size: 1024
{checkpoints}",
        count = cairn_tests::operators::COUNT
    );
    let summary = cairn_tests::run_in_process(&cairn_tests::write_pipeline(dir.path(), &yaml)).unwrap();
    assert_eq!(summary.nodes.last().unwrap().events_in, EVENTS);
    (EVENTS as f64 / summary.elapsed.as_secs_f64(), summary.checkpoints.completed)
}

/// Alignment under skew: a fast and a slow source feed a keyed count; the fast
/// input's barrier queues behind its backlog while the slow one's arrives at once.
fn alignment() -> (f64, u64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: bench-alignment
sources:
  - id: fast
    type: generator
    count: 10000000
    keys: 1000
  - id: slow
    type: generator
    count: 4000
    rate: 1000
    keys: 1000
operators:
  - id: count
    component: {count}
    input: [fast, slow]
    key-by: true
    parallelism: 2
sinks:
  - id: sink
    type: blackhole
    input: count
checkpoints:
  interval: 500ms
",
        count = cairn_tests::operators::COUNT
    );
    let summary = cairn_tests::run_in_process(&cairn_tests::write_pipeline(dir.path(), &yaml)).unwrap();
    let count = summary.nodes.iter().find(|n| n.id == "count").unwrap();
    let sink = summary.nodes.last().unwrap();
    (count.max_alignment.as_secs_f64() * 1e3, summary.checkpoints.completed, sink.max_alignment.as_secs_f64() * 1e3)
}

fn main() {
    let mut off = Vec::new();
    let mut on = Vec::new();
    for _ in 0..2 {
        off.push(run(None));
        on.push(run(Some("1s")));
    }
    let best = |v: &[(f64, u64)]| v.iter().cloned().fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
    let (off, on) = (best(&off), best(&on));
    println!("| checkpoints | events/s | checkpoints completed |");
    println!("| --- | ---: | ---: |");
    println!("| off (final only) | {:.2} M | {} |", off.0 / 1e6, off.1);
    println!("| every 1 s | {:.2} M | {} |", on.0 / 1e6, on.1);
    println!("\ncost of checkpoints every 1 s: {:.1}% (best of 2 runs each, interleaved)", (1.0 - on.0 / off.0) * 100.0);
    let (count, completed, sink) = alignment();
    println!("\nalignment under skew (fast + slow source into a keyed count, checkpoints every 500 ms, {completed} completed):");
    println!("longest alignment: count subtasks {count:.1} ms, sink {sink:.1} ms");
}
