//! Benchmark: memory images (`state: memory`). Copy-out and restore rates of
//! the `blob` operator's memory image for 16 MiB, 256 MiB and 1 GiB of state,
//! beside the same operator's serialised snapshot; then the bytes a checkpoint
//! uploads when 0 %, 1 % and 100 % of the state's pages changed (the C `last`
//! operator, 1 600 keys of 64 KiB values, counted by the host's own rule: a
//! page whose digest an earlier checkpoint stored is not uploaded again).
//! Run with `cargo bench -p cairn-tests --bench memory_image` (builds the C
//! operators with `guestc c` first).

use std::collections::HashSet;
use std::time::Instant;

use cairn_host::runtime::{Batch, Limits, OperatorComponent, Restore, Runtime};
use cairn_host::spec::StateMode;

const MIB: u64 = 1 << 20;

fn rates(component: &OperatorComponent, size: u64, image: bool) -> (f64, f64, u64) {
    let limits = Limits { memory: 4 << 30, max_snapshot: 2 << 30, ..Limits::default() };
    let config = format!(r#"{{"size": {size}}}"#);
    let mut inst = component.instantiate(0, limits, &Default::default()).unwrap();
    inst.init(&config).unwrap();
    inst.process(&empty()).unwrap(); // fills the blob
    let reps = (1024 * MIB / size).clamp(1, 8);
    let t = Instant::now();
    let mut snap = None;
    for _ in 0..reps {
        snap = Some(inst.snapshot().unwrap());
    }
    let snap = snap.unwrap();
    let bytes = snap.len() as u64;
    let copy_out = (bytes * reps) as f64 / t.elapsed().as_secs_f64();
    let restore = if image { Restore::own_image(&snap, component.digest()) } else { Restore::own(&snap, 0, 1) };
    drop(inst);
    let mut secs = 0.0;
    for _ in 0..reps {
        let mut fresh = component.instantiate(0, limits, &Default::default()).unwrap();
        fresh.init(&config).unwrap();
        let t = Instant::now();
        fresh.restore(&restore).unwrap();
        secs += t.elapsed().as_secs_f64();
    }
    (copy_out / 1e9, (bytes * reps) as f64 / secs / 1e9, bytes)
}

fn empty() -> Batch {
    Batch { keys: vec![], key_ends: vec![], values: vec![], value_ends: vec![], timestamps: vec![], keyless: vec![] }
}

/// `n` events with keys `k<first>`… and 64 KiB values filled with `fill`.
fn updates(first: usize, n: usize, fill: u8) -> Batch {
    let mut b = empty();
    for i in first..first + n {
        b.keys.extend_from_slice(format!("k{i}").as_bytes());
        b.key_ends.push(b.keys.len() as u32);
        b.values.extend(std::iter::repeat_n(fill.wrapping_add(i as u8), 64 << 10));
        b.value_ends.push(b.values.len() as u32);
        b.timestamps.push(0);
    }
    b
}

fn main() {
    let runtime = Runtime::new().unwrap();
    let blob = cairn_tests::operators::BLOB;
    let exports = runtime.load_as("blob", blob.as_ref(), StateMode::Exports).unwrap();
    let memory = runtime.load_as("blob", blob.as_ref(), StateMode::Memory).unwrap();
    println!("| state | image size | image copy-out | image restore | serialised copy-out | serialised restore |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in [16 * MIB, 256 * MIB, 1024 * MIB] {
        let (io, ir, bytes) = rates(&memory, size, true);
        let (so, sr, _) = rates(&exports, size, false);
        println!("| {} MiB | {} MiB | {io:.2} GB/s | {ir:.2} GB/s | {so:.2} GB/s | {sr:.2} GB/s |", size / MIB, bytes / MIB);
    }

    if let Err(reason) = cairn_tests::build_guests("c") {
        println!("\n(no C toolchain, no incremental figures: {reason})");
        return;
    }
    let last = runtime.load_as("last", &cairn_tests::guest_component("c", "last"), StateMode::Memory).unwrap();
    let limits = Limits { memory: 1 << 30, ..Limits::default() };
    let mut inst = last.instantiate(0, limits, &Default::default()).unwrap();
    inst.init("null").unwrap();
    const KEYS: usize = 1600;
    for first in (0..KEYS).step_by(4) {
        inst.process(&updates(first, 4, 1)).unwrap();
    }
    let mut stored: HashSet<String> = HashSet::new();
    let mut checkpoint = |inst: &mut cairn_host::runtime::OperatorInstance| {
        let image = inst.snapshot().unwrap().image.unwrap();
        let (pages, globals) = image.digests();
        let mut uploaded = 0u64;
        for sha in pages.iter().flatten().flatten().chain(std::iter::once(&globals)) {
            if stored.insert(sha.clone()) {
                uploaded += if *sha == globals { image.globals.len() as u64 } else { 64 << 10 };
            }
        }
        (image.len(), uploaded)
    };
    let (state, first) = checkpoint(&mut inst);
    println!("\nC `last`, {KEYS} keys of 64 KiB: image {} MiB; the first checkpoint uploads {} MiB", state / MIB, first / MIB);
    println!("\n| keys updated since the last checkpoint | bytes uploaded | of the image |");
    println!("| ---: | ---: | ---: |");
    for (label, n, fill) in [("0 %", 0, 0), ("1 %", KEYS / 100, 7), ("100 %", KEYS, 13)] {
        for first in (0..n).step_by(4) {
            inst.process(&updates(first, 4.min(n - first), fill)).unwrap();
        }
        if n == 0 {
            inst.process(&empty()).unwrap();
        }
        let (state, uploaded) = checkpoint(&mut inst);
        println!("| {label} ({n}) | {uploaded} | {:.2} % |", uploaded as f64 * 100.0 / state as f64);
    }
}
