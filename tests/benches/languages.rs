//! Benchmark: the keyed counter written in Rust, C, Python, JavaScript and Go, and
//! how long the host takes to start a pipeline of each with and without the
//! compile cache.
//!
//! 1. Events/s of each counter's `process` on the same batches (generator
//!    events, 1000 keys, batches of 1024), called directly on one instance, after
//!    checking that every language emits exactly the Rust counter's batches.
//! 2. Wall time of `host run` on a one-line input through `tokenize -> count`
//!    (so: start, compile or load the components, run, final checkpoint, exit),
//!    median of 3, with `CAIRN_COMPILE_CACHE=off` and with a warm cache.
//!
//! `CAIRN_BENCH_COUNTERS=name=path,…` adds counters (e.g. an older build of
//! one, to compare two versions in one run).
//!
//! Run with `just bench-languages` (builds `host` and `guestc`, then
//! `cargo bench -p cairn-tests --bench languages`). Prints Markdown tables for
//! BENCHMARKS.md. A language whose toolchain cannot be installed is left out,
//! with a note.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_host::connectors::Generator;
use cairn_host::dataflow::batch::Batch;
use cairn_host::dataflow::ports::Source;
use cairn_host::runtime::{CompileCache, Limits, Runtime};
use cairn_host::spec::{ByteSize, GeneratorSpec, HumanDuration};
use cairn_tests::{build_guests, guest_component, host_bin, operators, write_pipeline};

const BATCH: usize = 1024;
const KEYS: u64 = 1000;

fn batches(events: usize) -> Vec<Batch> {
    let spec = GeneratorSpec {
        id: "gen".into(),
        count: Some(events as u64),
        rate: None,
        keys: KEYS,
        value_size: ByteSize(16),
        start: 0,
        step: HumanDuration(Duration::from_millis(1)),
        parallelism: 1,
    };
    let mut generator = Generator::new(&spec);
    std::iter::from_fn(|| generator.next_batch(BATCH).unwrap()).collect()
}

/// The counters to compare: Rust always, the others if their toolchain is there.
fn counters() -> Vec<(&'static str, PathBuf)> {
    let mut all = vec![("Rust", PathBuf::from(operators::COUNT))];
    for (name, lang) in [("C", "c"), ("Python", "python"), ("JavaScript", "js"), ("Go", "go")] {
        match build_guests(lang) {
            Ok(()) => all.push((name, guest_component(lang, "count"))),
            Err(reason) => eprintln!("SKIPPED: {name}: toolchain not available: {reason}"),
        }
    }
    // `CAIRN_BENCH_COUNTERS=name=path,…`: more counters (another version of one, for an A/B in one run).
    for extra in std::env::var("CAIRN_BENCH_COUNTERS").unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
        let (name, path) = extra.split_once('=').expect("CAIRN_BENCH_COUNTERS: name=path,…");
        all.push((Box::leak(name.to_string().into_boxed_str()), PathBuf::from(path)));
    }
    all
}

/// Events/s of the counter at `path` over `input`, repeated for at least `min`.
fn throughput(runtime: &Runtime, path: &Path, input: &[Batch], min: Duration) -> f64 {
    let component = runtime.load("count", path).unwrap();
    let mut instance = component.instantiate(0, Limits::default(), &Default::default()).unwrap();
    instance.init("null").unwrap();
    let (mut events, start) = (0u64, Instant::now());
    while start.elapsed() < min {
        for b in input {
            events += std::hint::black_box(instance.process(b).unwrap()).timestamps.len() as u64;
        }
    }
    events as f64 / start.elapsed().as_secs_f64()
}

/// Median wall time of `host run` of a one-line pipeline with `count` as counter.
fn start_time(count: &Path, cache: Option<&Path>) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "one line of text\n").unwrap();
    let yaml = format!(
        "name: start
sources:
  - id: lines
    type: file
    path: input.txt
operators:
  - id: tokenize
    component: {}
    input: lines
  - id: count
    component: {}
    input: tokenize
    key-by: true
    parallelism: 2
sinks:
  - id: out
    type: file
    input: count
    path: out.txt
storage:
  url: storage
",
        operators::TOKENIZE,
        count.display()
    );
    let p = write_pipeline(dir.path(), &yaml);
    let run = || {
        let mut cmd = Command::new(host_bin());
        cmd.args(["run", p.to_str().unwrap()]);
        match cache {
            Some(c) => cmd.env("CAIRN_CACHE_DIR", c).env_remove("CAIRN_COMPILE_CACHE"),
            None => cmd.env("CAIRN_COMPILE_CACHE", "off"),
        };
        let t = Instant::now();
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        t.elapsed()
    };
    if cache.is_some() {
        run(); // fills the cache
    }
    let mut times: Vec<Duration> = (0..3).map(|_| run()).collect();
    times.sort();
    times[1]
}

fn main() {
    let counters = counters();
    let input = batches(256 * BATCH);
    let runtime = Runtime::new().unwrap().with_cache(CompileCache::off());

    // Same output everywhere: each counter's batches equal the Rust counter's.
    let outputs = |path: &Path| {
        let component = runtime.load("count", path).unwrap();
        let mut instance = component.instantiate(0, Limits::default(), &Default::default()).unwrap();
        instance.init("null").unwrap();
        input.iter().take(8).map(|b| instance.process(b).unwrap()).collect::<Vec<_>>()
    };
    let expected = outputs(&counters[0].1);
    for (name, path) in &counters[1..] {
        assert!(outputs(path) == expected, "the {name} counter's output differs from the Rust counter's");
    }

    println!("Counter throughput, `process` on one instance, batches of {BATCH}, {KEYS} keys:\n");
    println!("| counter | events/s | vs Rust | component size |");
    println!("| --- | ---: | ---: | ---: |");
    let mut rust = 0.0;
    for (name, path) in &counters {
        let rate = throughput(&runtime, path, &input, Duration::from_secs(3));
        if *name == "Rust" {
            rust = rate;
        }
        let size = std::fs::metadata(path).unwrap().len();
        println!("| {name} | {:.2} M | {:.2} | {:.1} MB |", rate / 1e6, rate / rust, size as f64 / 1e6);
    }

    println!("\nStart time: `host run` of a one-line tokenize -> count pipeline (median of 3):\n");
    println!("| counter | compile cache off | warm compile cache | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, path) in &counters {
        let cache = tempfile::tempdir().unwrap();
        let cold = start_time(path, None);
        let warm = start_time(path, Some(cache.path()));
        println!("| {name} | {:.2} s | {:.2} s | {:.1}× |", cold.as_secs_f64(), warm.as_secs_f64(), cold.as_secs_f64() / warm.as_secs_f64());
    }
}
