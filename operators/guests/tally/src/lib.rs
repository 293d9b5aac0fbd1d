//! `tally`: the running count of `count`, with no snapshot code at all. Run
//! it with `state: memory` in pipeline.yaml: the host snapshots the
//! instance's linear memory, so the counts live in a plain `HashMap` of the
//! operator and the SDK writes the contract's snapshot and restore exports as
//! refusals the host never calls (`export_memory_operator!`).
//!
//! For each input event, increments its key's count (keyless events count
//! under the empty key) and emits an event with the same key and timestamp
//! whose value is the new count in decimal ASCII: exactly what `count` emits.
//! No config.

use std::collections::HashMap;

use cairn_guest::{Error, Events, MemoryOperator, Output, export_memory_operator};

#[derive(Default)]
struct Tally {
    counts: HashMap<Vec<u8>, u64>,
}

impl MemoryOperator for Tally {
    type Config = ();

    fn init((): ()) -> Result<Self, Error> {
        Ok(Tally::default())
    }

    fn process(&mut self, input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        for event in input {
            let n = self.counts.entry(event.key.unwrap_or_default().to_vec()).or_default();
            *n += 1;
            out.emit(event.key, n.to_string().as_bytes(), event.timestamp);
        }
        Ok(())
    }
}

export_memory_operator!(Tally);
