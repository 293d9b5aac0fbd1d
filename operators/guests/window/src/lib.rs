//! `window`: tumbling event-time windows, summing values per key.
//!
//! Config: `{ "size": <window length in milliseconds> }` (required, > 0).
//! Input value: a decimal `i64` in ASCII (surrounding whitespace ignored).
//! Windows are `[start, start + size)` with `start = ts.div_euclid(size) *
//! size`; keyless events sum under the empty key. A watermark `ts` emits,
//! in order of (start, key), every window whose events all have timestamps
//! `<= ts`: key = the key, value = `"<start>,<end>,<sum>"` (ASCII), timestamp
//! = `end - 1`. Events for windows already emitted are dropped (a warning per
//! watermark says how many). State (version 2): per key (a `KeyedState`, so
//! the operator rescales) its open windows, start → sum; and the highest
//! watermark seen.

use std::collections::BTreeMap;
use std::io::Write;

use cairn_guest::{Error, Events, KeyedState, Operator, Output, export_operator, log};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    size: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Open windows per key: window start -> sum.
    windows: KeyedState<BTreeMap<i64, i64>>,
    /// The highest watermark seen: every window ending at or before it was
    /// emitted already.
    watermark: Option<i64>,
}

struct Window {
    size: i64,
    /// The earliest open window's start, if known (`None` after a restore:
    /// the next watermark looks at every key).
    earliest: Option<i64>,
    /// Whether `earliest` is known.
    known: bool,
    /// Events dropped as late since the last watermark.
    late: u64,
}

impl Window {
    /// The last timestamp inside the window starting at `start`.
    fn last(&self, start: i64) -> i64 {
        start.saturating_add(self.size - 1)
    }
}

impl Operator for Window {
    type Config = Config;
    type State = State;
    const STATE_VERSION: u32 = 2;

    fn init(config: Config) -> Result<Self, Error> {
        let size = i64::try_from(config.size).ok().filter(|&s| s > 0).ok_or_else(|| format!("size must be between 1 and {} ms", i64::MAX))?;
        Ok(Window {
            size,
            earliest: None,
            // A restore may follow `init`: the first watermark looks at every key.
            known: false,
            late: 0,
        })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, _: &mut Output) -> Result<(), Error> {
        for (i, event) in input.enumerate() {
            let value: i64 = std::str::from_utf8(event.value).ok().and_then(|text| text.trim().parse().ok()).ok_or_else(|| {
                let text = String::from_utf8_lossy(event.value);
                format!("event {i}: value {text:?} is not a decimal integer")
            })?;
            let start = event.timestamp.div_euclid(self.size).checked_mul(self.size);
            let start = start.ok_or_else(|| format!("event {i}: timestamp {} out of range", event.timestamp))?;
            if state.watermark.is_some_and(|wm| self.last(start) <= wm) {
                self.late += 1;
                continue;
            }
            let key = event.key.unwrap_or_default();
            let sum = state.windows.get_or_default(key).entry(start).or_insert(0);
            *sum = sum.checked_add(value).ok_or_else(|| {
                let key = String::from_utf8_lossy(key);
                format!("event {i}: sum overflows for key {key:?} in window at {start}")
            })?;
            if self.known {
                self.earliest = Some(self.earliest.map_or(start, |e| e.min(start)));
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), Error> {
        let watermark = state.watermark.map_or(ts, |wm| wm.max(ts));
        state.watermark = Some(watermark);
        let due = |start: i64| start.saturating_add(self.size - 1) <= watermark;
        if !self.known || self.earliest.is_some_and(due) {
            // Every due window, in order of (start, key).
            let mut closed: Vec<(i64, Vec<u8>, i64)> = Vec::new();
            let mut earliest: Option<i64> = None;
            state.windows.retain(|key, windows| {
                while let Some(w) = windows.first_entry() {
                    if !due(*w.key()) {
                        break;
                    }
                    let (start, sum) = w.remove_entry();
                    closed.push((start, key.to_vec(), sum));
                }
                if let Some((&start, _)) = windows.first_key_value() {
                    earliest = Some(earliest.map_or(start, |e| e.min(start)));
                }
                !windows.is_empty()
            });
            closed.sort_unstable();
            for (start, key, sum) in closed {
                let end = i128::from(start) + i128::from(self.size);
                out.emit_with(Some(&key), self.last(start), |buf| write!(buf, "{start},{end},{sum}").expect("writing to a Vec cannot fail"));
            }
            (self.earliest, self.known) = (earliest, true);
        }
        if self.late > 0 {
            log::warn(&format!("dropped {} late events (their windows were already emitted)", self.late));
            self.late = 0;
        }
        Ok(())
    }
}

export_operator!(Window);

#[cfg(test)]
mod tests {
    use cairn_guest::{Batch, Events, Output, runtime::Instance};

    fn batch(events: &[(Option<&str>, &str, i64)]) -> Batch {
        let mut out = Output::new();
        for &(k, v, t) in events {
            out.emit(k.map(str::as_bytes), v.as_bytes(), t);
        }
        out.into_batch()
    }

    fn emitted(b: &Batch) -> Vec<(String, String, i64)> {
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        Events::new(b).unwrap().map(|e| (text(e.key.unwrap()), text(e.value), e.timestamp)).collect()
    }

    fn row(k: &str, v: &str, t: i64) -> (String, String, i64) {
        (k.into(), v.into(), t)
    }

    #[test]
    fn sums_per_window_and_key() {
        let mut op = Instance::<super::Window>::new();
        assert!(op.init(r#"{"size": 0}"#).is_err());
        assert!(op.init("null").is_err());
        op.init(r#"{"size": 10}"#).unwrap();
        let input = [(Some("b"), "1", 3), (Some("a"), " 2\n", 9), (Some("b"), "4", 5), (None, "-5", -1)];
        op.process(&batch(&input)).unwrap();
        op.process(&batch(&[(Some("a"), "7", 10)])).unwrap();
        assert!(emitted(&op.on_watermark(-2).unwrap()).is_empty());
        assert_eq!(emitted(&op.on_watermark(-1).unwrap()), [row("", "-10,0,-5", -1)]);
        assert_eq!(emitted(&op.on_watermark(9).unwrap()), [row("a", "0,10,2", 9), row("b", "0,10,5", 9)]);
        // Late: window [0, 10) is gone; [10, 20) is still open.
        op.process(&batch(&[(Some("a"), "100", 8), (Some("a"), "1", 11)])).unwrap();

        // Survives a restore, watermark included.
        let info = op.snapshot().unwrap();
        let bytes = op.snapshot_read(u32::MAX);
        let mut op = Instance::<super::Window>::new();
        op.init(r#"{"size": 10}"#).unwrap();
        op.restore(&info).unwrap();
        op.restore_write(&bytes).unwrap();
        op.restore_finish().unwrap();
        op.process(&batch(&[(Some("a"), "100", 0)])).unwrap();
        assert_eq!(emitted(&op.on_watermark(i64::MAX).unwrap()), [row("a", "10,20,8", 19)]);

        let err = op.process(&batch(&[(None, "1", 50), (None, "x1", 50)])).unwrap_err();
        assert_eq!(err, r#"event 1: value "x1" is not a decimal integer"#);
    }

    #[test]
    fn extreme_timestamps() {
        let mut op = Instance::<super::Window>::new();
        op.init(r#"{"size": 1000}"#).unwrap();
        op.process(&batch(&[(Some("k"), "1", i64::MAX)])).unwrap();
        assert!(emitted(&op.on_watermark(i64::MAX - 1).unwrap()).is_empty());
        let start = i64::MAX / 1000 * 1000;
        let end = i128::from(start) + 1000;
        assert_eq!(emitted(&op.on_watermark(i64::MAX).unwrap()), [row("k", &format!("{start},{end},1"), i64::MAX)]);
    }
}
