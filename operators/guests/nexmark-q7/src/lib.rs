//! `nexmark-q7`: Nexmark query 7, highest bid.
//!
//! The bids with the highest price in each tumbling window of `size` ms
//! (default 10 000): windows are `[start, start + size)`, `start` a multiple
//! of `size`. When the watermark passes a window's end, every bid of the
//! window whose price equals the window's maximum is emitted (ties all, in
//! arrival order): no key, value `auction,price,bidder,date_time` (ASCII),
//! timestamp `end - 1`. Persons and auctions are ignored; bids for windows
//! already emitted are dropped as late (a warning says how many).
//!
//! Config `stage` splits the query so that it runs in parallel and rescales:
//! `all` (the default, parallelism 1) is the whole query; `partial` (keyed by
//! auction, `key-by: true` with the source's `key: id`) emits, when a window
//! closes, its own best bids in the output's format; `final` (after
//! `partial`, parallelism 1) reads those rows and keeps the window's best.
//!
//! State (version 2): per open window, the highest price and its bids — in
//! one map (`all`, `final`) or per event key (`partial`, a `KeyedState`) —,
//! and where emission has reached.

use std::collections::BTreeMap;
use std::io::Write;

use cairn_guest::{Error, Events, KeyedState, Operator, Output, export_operator, log};
use nexmark_model::Bid;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    #[serde(default = "default_size")]
    size: i64,
    #[serde(default)]
    stage: Stage,
}

/// Which part of the query an instance runs.
#[derive(Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    #[default]
    All,
    Partial,
    Final,
}

fn default_size() -> i64 {
    10_000
}

/// The best bids of one window.
#[derive(Default, Serialize, Deserialize)]
struct Best {
    price: u64,
    /// `(auction, bidder, date_time)` of each bid at `price`.
    bids: Vec<(u64, u64, i64)>,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Window start -> its best bids (`all`, `final`).
    windows: BTreeMap<i64, Best>,
    /// Per event key: window start -> its best bids (`partial`).
    keyed: KeyedState<BTreeMap<i64, Best>>,
    /// Every window starting before this was emitted.
    emitted_until: Option<i64>,
}

struct Q7 {
    size: i64,
    stage: Stage,
    late: u64,
}

impl Best {
    /// Takes bid `(auction, bidder, date_time)` at `price` into account.
    fn offer(&mut self, price: u64, bid: (u64, u64, i64)) {
        if price > self.price || self.bids.is_empty() {
            self.price = price;
            self.bids.clear();
        }
        if price == self.price {
            self.bids.push(bid);
        }
    }
}

/// Emits every bid of `best` (the window ending at `end`).
fn emit(out: &mut Output, end: i64, best: Best) {
    for (auction, bidder, date_time) in best.bids {
        let price = best.price;
        out.emit_with(None, end - 1, |buf| write!(buf, "{auction},{price},{bidder},{date_time}").expect("write to a Vec"));
    }
}

/// A `auction,price,bidder,date_time` row.
fn parse_row(value: &[u8]) -> Option<(u64, u64, u64, i64)> {
    let mut f = std::str::from_utf8(value).ok()?.split(',');
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

impl Operator for Q7 {
    type Config = Option<Config>;
    type State = State;
    const STATE_VERSION: u32 = 2;

    fn init(config: Option<Config>) -> Result<Self, Error> {
        let (size, stage) = config.map_or((default_size(), Stage::All), |c| (c.size, c.stage));
        if size <= 0 {
            return Err(format!("size must be positive, got {size} ms").into());
        }
        Ok(Q7 { size, stage, late: 0 })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, _: &mut Output) -> Result<(), Error> {
        if self.stage != Stage::All {
            for e in input {
                let (auction, price, bidder, date_time) = if self.stage == Stage::Final {
                    parse_row(e.value).ok_or_else(|| format!("not an `auction,price,bidder,date_time` row: {:?}", String::from_utf8_lossy(e.value)))?
                } else {
                    let Some(b) = Bid::decode(e.value) else { continue };
                    (b.auction, b.price, b.bidder, b.date_time)
                };
                let start = date_time.div_euclid(self.size) * self.size;
                if state.emitted_until.is_some_and(|done| start < done) {
                    self.late += 1;
                    continue;
                }
                let windows = if self.stage == Stage::Partial { state.keyed.get_or_default(e.key.unwrap_or_default()) } else { &mut state.windows };
                windows.entry(start).or_default().offer(price, (auction, bidder, date_time));
            }
            return Ok(());
        }
        // Bids arrive in time order mostly: keep the last window's entry at hand.
        let mut cached: Option<(i64, u64)> = None;
        for e in input {
            let Some(bid) = Bid::decode(e.value) else { continue };
            let start = bid.date_time.div_euclid(self.size) * self.size;
            if state.emitted_until.is_some_and(|done| start < done) {
                self.late += 1;
                continue;
            }
            // Most bids are below the window's best: skip the map unless needed.
            if let Some((s, best)) = cached
                && s == start
                && bid.price < best
            {
                continue;
            }
            let best = state.windows.entry(start).or_default();
            best.offer(bid.price, (bid.auction, bid.bidder, bid.date_time));
            cached = Some((start, best.price));
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), Error> {
        let size = self.size;
        if self.stage == Stage::Partial {
            let mut closed: Vec<(i64, u64, Best)> = Vec::new();
            let mut until = state.emitted_until;
            state.keyed.retain(|key, windows| {
                while let Some(entry) = windows.first_entry() {
                    let start = *entry.key();
                    if start.saturating_add(size - 1) > ts {
                        break;
                    }
                    let auction = std::str::from_utf8(key).ok().and_then(|k| k.parse().ok()).unwrap_or(0);
                    closed.push((start, auction, entry.remove()));
                    until = until.max(Some(start.saturating_add(size)));
                }
                !windows.is_empty()
            });
            closed.sort_unstable_by_key(|(start, auction, _)| (*start, *auction));
            for (start, _, best) in closed {
                emit(out, start.saturating_add(size), best);
            }
            // Every window ending at or before `ts` is closed, on every key.
            let next = ts.checked_sub(size - 1).map(|t| t.div_euclid(size).saturating_mul(size).saturating_add(size));
            state.emitted_until = until.max(next);
        }
        while let Some(entry) = state.windows.first_entry() {
            let start = *entry.key();
            if start.saturating_add(self.size - 1) > ts {
                break;
            }
            let best = entry.remove();
            let end = start.saturating_add(self.size);
            emit(out, end, best);
            state.emitted_until = Some(end);
        }
        if self.late > 0 {
            log::warn(&format!("dropped {} late bids (their windows were already emitted)", self.late));
            self.late = 0;
        }
        Ok(())
    }
}

export_operator!(Q7);
