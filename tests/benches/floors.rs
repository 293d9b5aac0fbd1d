//! Benchmark: the floors of `process` in the interpreted guests (issue 12).
//!
//! A throwaway world (`benches/floors/floor.wit`, not an operator contract)
//! exports, per guest, six functions on the same generator batches as the
//! `languages` bench (1024 events, 1000 keys): `empty` returns an empty batch
//! without touching its input (the cost of lifting the input into the
//! interpreter), `echo` returns its input (lifting and lowering), `count` is
//! the keyed counter of `operators/python/count` / `operators/js/count.js` as
//! they were before issue 12; `empty-b`, `echo-b`, `count-b` (and the variant
//! `count-b2`) do the same on a batch whose integer columns cross as
//! little-endian bytes (`list<u8>`), which Python reads with
//! `memoryview(...).cast("I")` and JavaScript with typed-array views. Every
//! counter's first batch is checked against the counts computed here.
//!
//! The guests are built by hand (the world is not one `guestc` builds):
//!
//!     cd tests/benches/floors
//!     mkdir -p py wit && cp floor.py py/app.py && cp floor.wit wit/
//!     ../../../target/guest-toolchains/componentize-py-0.25.1/bin/componentize-py -d wit -w floors componentize -p py app -o py-floors.wasm
//!     ../../../target/guest-toolchains/componentize-js-0.23.0/node_modules/.bin/componentize-js --wit wit --world-name floors -d http fetch-event -o js-floors.wasm floor.js
//!
//! then `FLOOR_COMPONENTS=Python=$PWD/py-floors.wasm,JavaScript=$PWD/js-floors.wasm
//! cargo bench -p cairn-tests --bench floors` (absolute paths: a bench runs
//! in `tests/`). `FLOOR_SECS` sets the time per cell (default 2 s). Prints a
//! Markdown table of events/s.

use std::time::{Duration, Instant};

use cairn_host::connectors::Generator;
use cairn_host::dataflow::ports::Source;
use cairn_host::spec::{ByteSize, GeneratorSpec, HumanDuration};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({ path: "benches/floors/floor.wit", world: "floors" });
use exports::scratch::floor::floor::{Batch as B, Bbatch};

struct S {
    wasi: WasiCtx,
    table: ResourceTable,
}
impl WasiView for S {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|x| f(*x)).collect()
}

fn main() {
    let spec = GeneratorSpec {
        id: "gen".into(),
        count: Some(256 * 1024),
        rate: None,
        keys: 1000,
        value_size: ByteSize(16),
        start: 0,
        step: HumanDuration(Duration::from_millis(1)),
        parallelism: 1,
    };
    let mut generator = Generator::new(&spec);
    let input: Vec<B> = std::iter::from_fn(|| generator.next_batch(1024).unwrap())
        .map(|b| B { keys: b.keys, key_ends: b.key_ends, values: b.values, value_ends: b.value_ends, timestamps: b.timestamps, keyless: b.keyless })
        .collect();
    let binput: Vec<Bbatch> = input
        .iter()
        .map(|b| Bbatch {
            keys: b.keys.clone(),
            key_ends: le(&b.key_ends, u32::to_le_bytes),
            values: b.values.clone(),
            value_ends: le(&b.value_ends, u32::to_le_bytes),
            timestamps: le(&b.timestamps, i64::to_le_bytes),
            keyless: le(&b.keyless, u32::to_le_bytes),
        })
        .collect();
    // The first batch's counter output, counted here.
    let expected = {
        let b = &input[0];
        let (mut counts, mut values, mut ends, mut start) = (std::collections::HashMap::new(), Vec::new(), Vec::new(), 0usize);
        for &end in &b.key_ends {
            let c = counts.entry(b.keys[start..end as usize].to_vec()).or_insert(0u64);
            *c += 1;
            start = end as usize;
            values.extend_from_slice(c.to_string().as_bytes());
            ends.push(values.len() as u32);
        }
        (values, ends)
    };
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = Engine::new(&config).unwrap();
    let mut linker = Linker::<S>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let secs: f64 = std::env::var("FLOOR_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    println!("| guest | empty | echo | count | empty-b | echo-b | count-b | count-b2 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for entry in std::env::var("FLOOR_COMPONENTS").unwrap().split(',') {
        let (name, path) = entry.split_once('=').unwrap();
        let component = Component::from_file(&engine, path).unwrap();
        let mut row = format!("| {name} |");
        for f in 0..7 {
            let mut store = Store::new(&engine, S { wasi: WasiCtx::builder().build(), table: ResourceTable::new() });
            let w = Floors::instantiate(&mut store, &component, &linker).unwrap();
            let fl = w.scratch_floor_floor();
            let (mut events, start) = (0u64, Instant::now());
            let mut first = true;
            while start.elapsed().as_secs_f64() < secs {
                for (b, bb) in input.iter().zip(&binput) {
                    let n = b.timestamps.len() as u64;
                    if first && f == 2 {
                        let o = fl.call_count(&mut store, b).unwrap().unwrap();
                        assert_eq!((&o.values, &o.value_ends), (&expected.0, &expected.1), "{name} count");
                        events += n;
                        first = false;
                        continue;
                    }
                    if first && f >= 5 {
                        let o = if f == 5 { fl.call_count_b(&mut store, bb) } else { fl.call_count_b2(&mut store, bb) };
                        let o = o.unwrap().unwrap();
                        assert_eq!((&o.values, &o.value_ends), (&expected.0, &le(&expected.1, u32::to_le_bytes)), "{name} fn {f}");
                        assert_eq!((&o.keys, &o.key_ends, &o.timestamps, &o.keyless), (&bb.keys, &bb.key_ends, &bb.timestamps, &bb.keyless));
                        events += n;
                        first = false;
                        continue;
                    }
                    let ok = match f {
                        0 => fl.call_empty(&mut store, b).unwrap().map(|o| o.timestamps.len()),
                        1 => fl.call_echo(&mut store, b).unwrap().map(|o| o.timestamps.len()),
                        2 => fl.call_count(&mut store, b).unwrap().map(|o| o.timestamps.len()),
                        3 => fl.call_empty_b(&mut store, bb).unwrap().map(|o| o.timestamps.len() / 8),
                        4 => fl.call_echo_b(&mut store, bb).unwrap().map(|o| o.timestamps.len() / 8),
                        5 => fl.call_count_b(&mut store, bb).unwrap().map(|o| o.timestamps.len() / 8),
                        _ => fl.call_count_b2(&mut store, bb).unwrap().map(|o| o.timestamps.len() / 8),
                    }
                    .unwrap();
                    if first && f != 0 && f != 3 {
                        assert_eq!(ok as u64, n, "{name} fn {f}");
                    }
                    first = false;
                    events += n;
                }
            }
            row += &format!(" {:.2} M |", events as f64 / start.elapsed().as_secs_f64() / 1e6);
        }
        println!("{row}");
    }
}
