//! `faulty`: a test operator that fails on purpose, where and how its config says.
//!
//! Config: `{ fail-in: init | process | on-watermark | snapshot | restore, how: error | panic |
//! divide-by-zero | unreachable | endless-loop | memory-bomb | stack-overflow | flood |
//! log-flood | print-flood | big-output,
//! until: <ms>, from: <ms> }` (ms since the epoch: with `until` it fails only
//! before then, with `from` only from then on).
//! `snapshot` and `restore` fail inside the encoding and decoding of its state
//! (a count of events), which the SDK derives. Until
//! it fails it passes events through unchanged; `flood` emits a thousand
//! events of 1 KiB for every event it gets; `log-flood` calls `log` and
//! `print-flood` prints to stdout a million lines per batch (and passes events
//! through); `big-output` emits 8 Mi events of 16 bytes in one `process` call.

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use serde::Deserialize;

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Place {
    Init,
    Process,
    OnWatermark,
    Snapshot,
    Restore,
}

thread_local! {
    /// How the state's encoding and decoding fail (they have no access to the config).
    static STATE_FAULT: std::cell::Cell<Option<(Place, How)>> = const { std::cell::Cell::new(None) };
}

/// The state: a counter whose snapshot (encoding) or restore (decoding) fails
/// when the config says so.
#[derive(Default)]
struct Fragile(u64);

impl serde::Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Some((Place::Snapshot, how)) = STATE_FAULT.get() {
            fail(how, "snapshot").map_err(serde::ser::Error::custom)?;
        }
        s.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Fragile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        if let Some((Place::Restore, how)) = STATE_FAULT.get() {
            fail(how, "restore").map_err(serde::de::Error::custom)?;
        }
        Ok(Fragile(n))
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum How {
    Error,
    Panic,
    DivideByZero,
    Unreachable,
    EndlessLoop,
    MemoryBomb,
    StackOverflow,
    Flood,
    LogFlood,
    PrintFlood,
    BigOutput,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    fail_in: Place,
    how: How,
    /// Fail only before this wall-clock time (ms since the Unix epoch): a transient fault.
    #[serde(default)]
    until: Option<i64>,
    /// Fail only from this wall-clock time on (ms since the Unix epoch): a late fault.
    #[serde(default)]
    from: Option<i64>,
}

impl Config {
    fn failing_now(&self) -> bool {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        self.until.is_none_or(|until| now < until) && self.from.is_none_or(|from| now >= from)
    }
}

struct Faulty {
    config: Config,
}

/// Fails as configured; `Ok` never returns for the trapping kinds.
fn fail(how: How, place: &str) -> Result<(), String> {
    match how {
        How::Error => Err(format!("asked to fail in {place}")),
        How::Panic => panic!("asked to panic in {place}"),
        How::DivideByZero => {
            let zero = std::hint::black_box(0u32);
            Err(format!("{}", 1 / zero))
        }
        How::Unreachable => std::process::abort(),
        How::EndlessLoop => {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        How::MemoryBomb => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        How::StackOverflow => {
            let depth = recurse(std::hint::black_box(1));
            Err(format!("recursion ended at {depth}"))
        }
        How::Flood | How::LogFlood | How::PrintFlood | How::BigOutput => Ok(()),
    }
}

/// Endless recursion, with a frame on the guest's stack in linear memory.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 64]);
    if std::hint::black_box(n) == 0 { frame[3] } else { recurse(n + 1).wrapping_add(frame[7]) }
}

impl Operator for Faulty {
    type Config = Config;
    type State = Fragile;

    fn init(config: Config) -> Result<Self, Error> {
        if matches!(config.fail_in, Place::Snapshot | Place::Restore) && config.failing_now() {
            STATE_FAULT.set(Some((config.fail_in, config.how)));
        }
        if config.fail_in == Place::Init && config.failing_now() {
            fail(config.how, "init")?;
        }
        Ok(Faulty { config })
    }

    fn process(&mut self, state: &mut Fragile, input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        state.0 += input.len() as u64;
        let how = self.config.how;
        if self.config.fail_in == Place::Process && !matches!(how, How::Flood | How::LogFlood | How::PrintFlood | How::BigOutput) && self.config.failing_now() {
            fail(how, "process")?;
        }
        match how {
            How::LogFlood => (0..1_000_000).for_each(|i| cairn_guest::log::info(&format!("line {i} of a flood"))),
            How::PrintFlood => (0..1_000_000).for_each(|i| println!("line {i} of a flood")),
            How::BigOutput => (0..8u64 << 20).for_each(|i| out.emit(None, &i.to_le_bytes(), 0)),
            _ => {}
        }
        let flood = matches!(how, How::Flood);
        for e in input {
            if flood {
                for _ in 0..1000 {
                    out.emit(e.key, &[b'x'; 1024], e.timestamp);
                }
            } else {
                out.emit(e.key, e.value, e.timestamp);
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, _state: &mut Fragile, _ts: i64, _out: &mut Output) -> Result<(), Error> {
        if self.config.fail_in == Place::OnWatermark && self.config.failing_now() {
            fail(self.config.how, "on-watermark")?;
        }
        Ok(())
    }
}

export_operator!(Faulty);
