//! `join`: a tumbling-window equi-join of two inputs on the event key.
//!
//! Config: `{ "size": <window length in ms> }` (required, > 0), optional
//! `"separator"` (default `","`). The operator has exactly two inputs
//! (`input: [left, right]` in pipeline.yaml; run it with `key-by: true` so
//! both sides of a key meet in one subtask). An event belongs to the window
//! `[start, start + size)` with `start = ts.div_euclid(size) * size`. When the
//! watermark passes a window's end, every pair of a left and a right event
//! with the same key in that window is emitted: key = the key, value =
//! `<left value><separator><right value>`, timestamp = the window's last
//! millisecond; in order of (window start, key, left arrival, right
//! arrival). Keys seen on one side only emit nothing (an inner join). Events
//! for windows already emitted are dropped as late (a warning says how many).
//!
//! An event without a key has no key to be equal to (as SQL's NULL): by
//! default it joins nothing and is dropped (a warning says how many). With
//! `"keyless": "join"`, keyless events join each other as if under one empty
//! key — every keyless left event with every keyless right event of a window,
//! a cross product; ask for it only when that is meant.
//!
//! State (version 1): per key (a `KeyedState`, so the join rescales) the open
//! windows' events of each side, and the highest watermark seen.

use std::collections::BTreeMap;

use cairn_guest::{Error, Events, KeyedState, Operator, Output, context, export_operator, log};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    size: u64,
    #[serde(default = "default_separator")]
    separator: String,
    #[serde(default)]
    keyless: Keyless,
}

/// What an event without a key does.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Keyless {
    /// Joins nothing; dropped and counted.
    #[default]
    Drop,
    /// Joins every keyless event of the other side in its window.
    Join,
}

fn default_separator() -> String {
    ",".into()
}

/// The events of one window of one key, per side.
#[derive(Default, Serialize, Deserialize)]
struct Sides {
    left: Vec<Vec<u8>>,
    right: Vec<Vec<u8>>,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Per key: window start -> its events.
    windows: KeyedState<BTreeMap<i64, Sides>>,
    /// The highest watermark seen.
    watermark: Option<i64>,
}

struct Join {
    size: i64,
    separator: Vec<u8>,
    keyless: Keyless,
    late: u64,
    dropped_keyless: u64,
}

impl Operator for Join {
    type Config = Config;
    type State = State;
    const STATE_VERSION: u32 = 1;

    fn init(config: Config) -> Result<Self, Error> {
        let size = i64::try_from(config.size).ok().filter(|&s| s > 0).ok_or("size must be between 1 and 2^63-1 ms")?;
        let inputs = context().inputs;
        if inputs.len() != 2 {
            return Err(format!("a join has two inputs (left and right), this one has {}: {inputs:?}", inputs.len()).into());
        }
        Ok(Join { size, separator: config.separator.into_bytes(), keyless: config.keyless, late: 0, dropped_keyless: 0 })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, _: &mut Output) -> Result<(), Error> {
        let left = input.input() == 0;
        for e in input {
            let start = e.timestamp.div_euclid(self.size).saturating_mul(self.size);
            if state.watermark.is_some_and(|wm| start.saturating_add(self.size - 1) <= wm) {
                self.late += 1;
                continue;
            }
            let key = match e.key {
                Some(k) => k,
                None if self.keyless == Keyless::Join => &[][..],
                None => {
                    self.dropped_keyless += 1;
                    continue;
                }
            };
            let sides = state.windows.get_or_default(key).entry(start).or_default();
            if left { &mut sides.left } else { &mut sides.right }.push(e.value.to_vec());
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), Error> {
        let watermark = state.watermark.map_or(ts, |wm| wm.max(ts));
        state.watermark = Some(watermark);
        let size = self.size;
        let due = |start: i64| start.saturating_add(size - 1) <= watermark;
        let mut closed: Vec<(i64, Vec<u8>, Sides)> = Vec::new();
        state.windows.retain(|key, windows| {
            while let Some(w) = windows.first_entry() {
                if !due(*w.key()) {
                    break;
                }
                let (start, sides) = w.remove_entry();
                closed.push((start, key.to_vec(), sides));
            }
            !windows.is_empty()
        });
        closed.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (start, key, sides) in closed {
            let last = start.saturating_add(size - 1);
            for l in &sides.left {
                for r in &sides.right {
                    out.emit_with(Some(&key), last, |buf| {
                        buf.extend_from_slice(l);
                        buf.extend_from_slice(&self.separator);
                        buf.extend_from_slice(r);
                    });
                }
            }
        }
        if self.dropped_keyless > 0 {
            log::warn(&format!("dropped {} events without a key (they join nothing; `keyless: join` joins them with each other)", self.dropped_keyless));
            self.dropped_keyless = 0;
        }
        if self.late > 0 {
            log::warn(&format!("dropped {} late events (their windows were already emitted)", self.late));
            self.late = 0;
        }
        Ok(())
    }
}

export_operator!(Join);

#[cfg(test)]
mod tests {
    use cairn_guest::{Batch, Context, Events, Output, runtime::Instance};

    fn batch(events: &[(&str, &str, i64)]) -> Batch {
        let mut out = Output::new();
        for &(k, v, t) in events {
            out.emit(Some(k.as_bytes()), v.as_bytes(), t);
        }
        out.into_batch()
    }

    fn rows(b: &Batch) -> Vec<(String, String, i64)> {
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        Events::new(b).unwrap().map(|e| (text(e.key.unwrap()), text(e.value), e.timestamp)).collect()
    }

    fn two_inputs() -> Context {
        Context { inputs: vec!["orders".into(), "customers".into()], ..Context::alone() }
    }

    #[test]
    fn joins_the_two_inputs_per_window_and_key() {
        let mut op = Instance::<super::Join>::new();
        assert!(op.init_with(r#"{"size": 10}"#, Context::alone()).unwrap_err().contains("two inputs"));
        let mut op = Instance::<super::Join>::new();
        op.init_with(r#"{"size": 10, "separator": "|"}"#, two_inputs()).unwrap();
        op.process_input(0, &batch(&[("a", "o1", 1), ("b", "o2", 2), ("a", "o3", 12)])).unwrap();
        op.process_input(1, &batch(&[("a", "alice", 5), ("c", "carol", 5), ("a", "anna", 15)])).unwrap();
        assert!(rows(&op.on_watermark(8).unwrap()).is_empty());
        assert_eq!(rows(&op.on_watermark(9).unwrap()), [("a".into(), "o1|alice".into(), 9)]);
        op.process_input(1, &batch(&[("a", "late", 3)])).unwrap();
        assert_eq!(rows(&op.on_watermark(i64::MAX).unwrap()), [("a".into(), "o3|anna".into(), 19)]);
    }
}
