//! Benchmark: a `map` operator in wasm vs the same map in native Rust, on the
//! same batches in the same run, and the whole pipeline
//! `generator -> wasm map -> blackhole`, at batch sizes 1, 64, 1024 and 4096.
//!
//! Run with `cargo bench -p cairn-tests --bench map` (recipe: `just bench-map`).
//! Prints a Markdown table for BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cairn_host::connectors::{Generator, Source};
use cairn_host::dataflow::batch::Batch;
use cairn_host::runtime::{Limits, Runtime};
use cairn_host::spec::{ByteSize, GeneratorSpec, HumanDuration};

const BATCH_SIZES: [usize; 4] = [1, 64, 1024, 4096];
const VALUE_SIZE: u64 = 32;

/// The native twin of the `map` guest with `op: uppercase`: same input, same output batch.
fn native_uppercase(input: &Batch) -> Batch {
    let mut out = Batch::with_capacity(input.len(), input.values.len());
    for ev in input.iter() {
        out.push_with(ev.key, ev.timestamp, |buf| buf.extend(ev.value.iter().map(u8::to_ascii_uppercase)));
    }
    out
}

fn batches(size: usize, events: usize) -> Vec<Batch> {
    let spec = GeneratorSpec {
        id: "gen".into(),
        count: Some(events as u64),
        rate: None,
        keys: 1000,
        value_size: ByteSize(VALUE_SIZE),
        start: 0,
        step: HumanDuration(Duration::from_millis(1)),
        parallelism: 1,
    };
    let mut generator = Generator::new(&spec);
    std::iter::from_fn(|| generator.next_batch(size).unwrap()).collect()
}

/// Events per second of `f` over `batches`, repeated until at least `min` elapsed.
fn rate(batches: &[Batch], min: Duration, mut f: impl FnMut(&Batch) -> Batch) -> f64 {
    let (mut events, start) = (0u64, Instant::now());
    while start.elapsed() < min {
        for b in batches {
            events += black_box(f(b)).len() as u64;
        }
    }
    events as f64 / start.elapsed().as_secs_f64()
}

fn pipeline_rate(batch: usize, events: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: bench-map
sources:
  - id: gen
    type: generator
    count: {events}
    keys: 1000
    value-size: {VALUE_SIZE}
operators:
  - id: map
    component: {map}
    input: gen
    config: {{ op: uppercase }}
sinks:
  - id: sink
    type: blackhole
    input: map
batch:
  size: {batch}
  linger: 50ms
channel-capacity: 16
",
        map = cairn_tests::operators::MAP
    );
    let summary = cairn_tests::run_in_process(&cairn_tests::write_pipeline(dir.path(), &yaml)).unwrap();
    assert_eq!(summary.nodes.last().unwrap().events_in, events);
    events as f64 / summary.elapsed.as_secs_f64()
}

fn main() {
    let instance = |epochs: bool| {
        let runtime = Runtime::with_options(false, epochs).unwrap();
        let component = runtime.load("map", cairn_tests::operators::MAP.as_ref()).unwrap();
        let limits = if epochs { Limits::default() } else { Limits { call_timeout: None, ..Limits::default() } };
        let mut instance = component.instantiate(0, limits, &Default::default()).unwrap();
        instance.init(r#"{"op": "uppercase"}"#).unwrap();
        instance
    };
    // With call timeouts (the default: epoch interruption) and without (`call-timeout: none`).
    let (mut instance, mut trusted) = (instance(true), instance(false));

    println!(
        "| batch | wasm map (events/s) | wasm map, `call-timeout: none` | native map (events/s) | wasm / native | without timeouts / native | pipeline generator → wasm map → blackhole (events/s) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in BATCH_SIZES {
        let input = batches(size, 64 * 1024.max(size));
        // Same output either way: the benchmark compares like with like.
        assert_eq!(instance.process(&input[0]).unwrap(), native_uppercase(&input[0]));
        let min = Duration::from_secs(2);
        assert_eq!(trusted.process(&input[0]).unwrap(), native_uppercase(&input[0]));
        let wasm = rate(&input, min, |b| instance.process(b).unwrap());
        let untimed = rate(&input, min, |b| trusted.process(b).unwrap());
        let native = rate(&input, min, native_uppercase);
        let events = match size {
            1 => 300_000,
            64 => 3_000_000,
            _ => 20_000_000,
        };
        let pipeline = pipeline_rate(size, events);
        println!(
            "| {size} | {:.2} M | {:.2} M | {:.2} M | {:.2} | {:.2} | {:.2} M |",
            wasm / 1e6,
            untimed / 1e6,
            native / 1e6,
            wasm / native,
            untimed / native,
            pipeline / 1e6
        );
    }
}
