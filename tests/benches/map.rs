//! Benchmark: a `map` operator in wasm vs the same map in native Rust, on the
//! same batches in the same run, and the whole pipeline
//! `generator -> wasm map -> blackhole`, at batch sizes 1, 64, 1024 and 4096.
//!
//! Every contender is timed in turns (ten rounds of 0.2 s, the best of each
//! kept), so that a shared machine's load falls on all alike. Then the floor: the `passthrough` guest, which returns its input batch
//! unchanged (a copy into guest memory, a copy out, nothing else), timed
//! against the native map on the same batches: what no guest can beat.
//!
//! Run with `cargo bench -p cairn-tests --bench map` (recipe: `just bench-map`).
//! Prints Markdown tables for BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cairn_host::connectors::Generator;
use cairn_host::dataflow::batch::Batch;
use cairn_host::dataflow::ports::Source;
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

/// A contender: a function from input batch to output batch.
type Contender<'a> = Box<dyn FnMut(&Batch) -> Batch + 'a>;

/// The best [`rate`] of each contender over `rounds` rounds of `slice` each,
/// the contenders taking turns within every round, so that the load of a
/// shared machine falls on all of them alike.
fn rates(batches: &[Batch], rounds: usize, slice: Duration, contenders: &mut [Contender<'_>]) -> Vec<f64> {
    let mut best = vec![0.0f64; contenders.len()];
    for _ in 0..rounds {
        for (f, best) in contenders.iter_mut().zip(&mut best) {
            *best = best.max(rate(batches, slice, f));
        }
    }
    best
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
    let (timed, untimed) = (Runtime::with_options(false, true).unwrap(), Runtime::with_options(false, false).unwrap());
    let open = |epochs: bool, path: &str, config: &str| {
        let runtime = if epochs { &timed } else { &untimed };
        let component = runtime.load("map", path.as_ref()).unwrap();
        let limits = if epochs { Limits::default() } else { Limits { call_timeout: None, ..Limits::default() } };
        let mut instance = component.instantiate(0, limits, &Default::default()).unwrap();
        instance.init(config).unwrap();
        instance
    };
    let map = |epochs| open(epochs, cairn_tests::operators::MAP, r#"{"op": "uppercase"}"#);
    let pass = |epochs| open(epochs, cairn_tests::operators::PASSTHROUGH, "null");
    // With call timeouts (the default: epoch interruption) and without (`call-timeout: none`).
    let (mut instance, mut trusted) = (map(true), map(false));
    let (mut floor, mut floor_untimed) = (pass(true), pass(false));
    let mut floors = Vec::new();
    // `CAIRN_BENCH_BEFORE=DIR`: also time DIR/map.wasm (an earlier build) on the same
    // batches, in a row above the current one, so a change is measured side by side.
    let mut before = std::env::var_os("CAIRN_BENCH_BEFORE").map(|dir| {
        let path = std::path::Path::new(&dir).join("map.wasm").display().to_string();
        (open(true, &path, r#"{"op": "uppercase"}"#), open(false, &path, r#"{"op": "uppercase"}"#))
    });

    println!(
        "| batch | wasm map (events/s) | wasm map, `call-timeout: none` | native map (events/s) | wasm / native | without timeouts / native | pipeline generator → wasm map → blackhole (events/s) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    // `MAP_BATCHES=1024,4096`: only those batch sizes.
    let wanted = |size: usize| std::env::var("MAP_BATCHES").map_or(true, |w| w.split(',').any(|s| s.trim() == size.to_string()));
    for size in BATCH_SIZES.into_iter().filter(|&s| wanted(s)) {
        let input = batches(size, 64 * 1024.max(size));
        // Same output either way: the benchmark compares like with like.
        assert_eq!(instance.process(&input[0]).unwrap(), native_uppercase(&input[0]));
        assert_eq!(trusted.process(&input[0]).unwrap(), native_uppercase(&input[0]));
        assert_eq!(floor.process(&input[0]).unwrap(), input[0]);
        let mut contenders: Vec<Contender<'_>> = vec![
            Box::new(|b| instance.process(b).unwrap()),
            Box::new(|b| trusted.process(b).unwrap()),
            Box::new(native_uppercase),
            Box::new(|b| floor.process(b).unwrap()),
            Box::new(|b| floor_untimed.process(b).unwrap()),
        ];
        if let Some((old, old_untimed)) = before.as_mut() {
            contenders.push(Box::new(|b| old.process(b).unwrap()));
            contenders.push(Box::new(|b| old_untimed.process(b).unwrap()));
        }
        let r = rates(&input, 10, Duration::from_millis(200), &mut contenders);
        drop(contenders);
        let (wasm, untimed, native) = (r[0], r[1], r[2]);
        floors.push((size, r[3], r[4], native));
        let events = match size {
            1 => 300_000,
            64 => 3_000_000,
            _ => 20_000_000,
        };
        if r.len() > 5 {
            let (wasm, untimed) = (r[5], r[6]);
            println!(
                "| {size}, before | {:.2} M | {:.2} M | {:.2} M | {:.2} | {:.2} | – |",
                wasm / 1e6,
                untimed / 1e6,
                native / 1e6,
                wasm / native,
                untimed / native
            );
        }
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
    println!("\nThe floor: `passthrough` (returns its input: a copy in, a copy out) vs the native map, same batches\n");
    println!(
        "| batch | pass-through (events/s) | pass-through, `call-timeout: none` | native map (events/s) | pass-through / native | without timeouts / native |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for (size, through, untimed, native) in floors {
        println!("| {size} | {:.2} M | {:.2} M | {:.2} M | {:.2} | {:.2} |", through / 1e6, untimed / 1e6, native / 1e6, through / native, untimed / native);
    }
}
