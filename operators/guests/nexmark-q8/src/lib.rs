//! `nexmark-q8`: Nexmark query 8, monitor new users: the people who created
//! an auction in the same 10 s tumbling window in which they registered.
//!
//! ```sql
//! SELECT P.id, P.name, P.starttime
//! FROM (SELECT id, name, TUMBLE_START(dateTime, INTERVAL '10' SECOND) AS starttime
//!       FROM person GROUP BY id, name, TUMBLE(dateTime, INTERVAL '10' SECOND)) P
//! JOIN (SELECT seller, TUMBLE_START(dateTime, INTERVAL '10' SECOND) AS starttime
//!       FROM auction GROUP BY seller, TUMBLE(dateTime, INTERVAL '10' SECOND)) A
//! ON P.id = A.seller AND P.starttime = A.starttime
//! ```
//!
//! A window join of two inputs, in three stages of this one component
//! (config `stage`; `size`, the window in ms, default 10 000):
//! - `persons`: of the Nexmark stream, the persons, keyed by id (decimal
//!   ASCII), value the name;
//! - `auctions`: the auctions, keyed by seller, no value;
//! - `join`: `input: [persons, auctions]`, `key-by: true`: when the watermark
//!   passes a window's end, for every person seen in it who also created an
//!   auction in it, no key, value `id,name,start` (ASCII), timestamp the
//!   window's last millisecond; in order of (start, id).
//!
//! State of `join` (version 1): per key (person id; a `KeyedState`, so the
//! join rescales) the open windows' name and whether an auction was seen,
//! and the highest watermark seen.

use std::collections::BTreeMap;
use std::io::Write;

use cairn_guest::{Error, Events, KeyedState, Operator, Output, export_operator, log};
use nexmark_model::Event;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    stage: Stage,
    #[serde(default = "default_size")]
    size: i64,
}

fn default_size() -> i64 {
    10_000
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    Persons,
    Auctions,
    Join,
}

/// What one window of one person id saw.
#[derive(Default, Serialize, Deserialize)]
struct Seen {
    name: Option<String>,
    auction: bool,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Per person id: window start -> what it saw.
    windows: KeyedState<BTreeMap<i64, Seen>>,
    watermark: Option<i64>,
}

struct Q8 {
    stage: Stage,
    size: i64,
    late: u64,
}

impl Operator for Q8 {
    type Config = Config;
    type State = State;
    const STATE_VERSION: u32 = 1;

    fn init(config: Config) -> Result<Self, Error> {
        if config.size <= 0 {
            return Err(format!("size must be positive, got {} ms", config.size).into());
        }
        let inputs = cairn_guest::context().inputs;
        if config.stage == Stage::Join && inputs.len() != 2 {
            return Err(format!("the join stage has two inputs (persons, auctions), this one has {inputs:?}").into());
        }
        Ok(Q8 { stage: config.stage, size: config.size, late: 0 })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        let mut id = itoa::Buffer::new();
        match self.stage {
            Stage::Persons => {
                for e in input {
                    if let Ok(Event::Person(p)) = Event::decode(e.value) {
                        out.emit(Some(id.format(p.id).as_bytes()), p.name.as_bytes(), p.date_time);
                    }
                }
            }
            Stage::Auctions => {
                for e in input {
                    if let Ok(Event::Auction(a)) = Event::decode(e.value) {
                        out.emit(Some(id.format(a.seller).as_bytes()), b"", a.date_time);
                    }
                }
            }
            Stage::Join => {
                let persons = input.input() == 0;
                for e in input {
                    let start = e.timestamp.div_euclid(self.size).saturating_mul(self.size);
                    if state.watermark.is_some_and(|wm| start.saturating_add(self.size - 1) <= wm) {
                        self.late += 1;
                        continue;
                    }
                    let seen = state.windows.get_or_default(e.key.unwrap_or_default()).entry(start).or_default();
                    if persons {
                        seen.name = Some(String::from_utf8_lossy(e.value).into_owned());
                    } else {
                        seen.auction = true;
                    }
                }
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), Error> {
        if self.stage != Stage::Join {
            return Ok(());
        }
        let wm = state.watermark.map_or(ts, |w| w.max(ts));
        state.watermark = Some(wm);
        let size = self.size;
        let mut rows: Vec<(i64, u64, String)> = Vec::new();
        state.windows.retain(|key, windows| {
            while let Some(w) = windows.first_entry() {
                if w.key().saturating_add(size - 1) > wm {
                    break;
                }
                let (start, seen) = w.remove_entry();
                if let (Some(name), true) = (seen.name, seen.auction) {
                    let id = std::str::from_utf8(key).ok().and_then(|k| k.parse().ok()).unwrap_or(u64::MAX);
                    rows.push((start, id, name));
                }
            }
            !windows.is_empty()
        });
        rows.sort_unstable();
        for (start, id, name) in rows {
            out.emit_with(None, start.saturating_add(size - 1), |buf| write!(buf, "{id},{name},{start}").expect("write to a Vec"));
        }
        if self.late > 0 {
            log::warn(&format!("dropped {} late persons or auctions (their windows were already emitted)", self.late));
            self.late = 0;
        }
        Ok(())
    }
}

export_operator!(Q8);
