//! Benchmark: restoring keyed state at the same parallelism vs rescaled.
//! `generator (N distinct keys) -> count (keyed, parallelism 2) -> blackhole`
//! ends with a kept checkpoint; then `host check` restores every subtask of
//! it (reads the pieces from `file://`, checks their SHA-256, restores them
//! into fresh instances) at parallelism 2 and at 3. Prints the median of 3
//! runs each, and the bytes each new subtask read.
//! Run with `cargo bench -p cairn-tests --bench rescale` (`CAIRN_BENCH_KEYS`
//! sets N, default 8 000 000).

use std::time::Instant;

fn main() {
    let keys: u64 = std::env::var("CAIRN_BENCH_KEYS").ok().and_then(|k| k.parse().ok()).unwrap_or(8_000_000);
    let dir = tempfile::tempdir().unwrap();
    let yaml = |par: usize| {
        format!(
            "name: bench-rescale
sources:
  - id: gen
    type: generator
    count: {keys}
    keys: {keys}
    value-size: 1
operators:
  - id: count
    component: {count}
    input: gen
    key-by: true
    parallelism: {par}
    limits: {{ memory: 3GiB, max-snapshot: 2GiB }}
sinks:
  - id: sink
    type: blackhole
    input: count
batch:
  size: 4096
checkpoints:
  on-finish: keep
",
            count = cairn_tests::operators::COUNT
        )
    };
    let p = cairn_tests::write_pipeline(dir.path(), &yaml(2));
    let out = cairn_tests::host(&["run", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let chk = cairn_tests::checkpoint_dirs(&dir.path().join("storage")).pop().expect("kept checkpoint");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(chk.join("_metadata")).unwrap()).unwrap();
    let state = meta["state-size"].as_u64().unwrap();
    println!("{keys} keys, {:.1} MiB of keyed state at parallelism 2", state as f64 / (1 << 20) as f64);
    println!("| restore at | time (median of 3) | bytes read per new subtask |");
    println!("| --- | ---: | --- |");
    let mut medians = Vec::new();
    for par in [2usize, 3] {
        cairn_tests::write_pipeline(dir.path(), &yaml(par));
        let mut times = Vec::new();
        let mut bytes = String::new();
        for _ in 0..3 {
            let t = Instant::now();
            let out = cairn_tests::host(&["check", p.to_str().unwrap(), "--from", chk.to_str().unwrap(), "--json"]);
            times.push(t.elapsed().as_secs_f64());
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let count = report.as_array().unwrap().iter().find(|r| r["operator"] == "count").unwrap();
            bytes = count["subtasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| format!("{:.1} MiB", s["bytes"].as_u64().unwrap() as f64 / (1 << 20) as f64))
                .collect::<Vec<_>>()
                .join(", ");
        }
        times.sort_by(f64::total_cmp);
        medians.push(times[1]);
        println!("| parallelism {par}{} | {:.2} s | {bytes} |", if par == 2 { " (same)" } else { " (rescaled 2 → 3)" }, times[1]);
    }
    println!("rescaled / same: {:.2}×", medians[1] / medians[0]);
}
