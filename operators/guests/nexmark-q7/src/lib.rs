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
//! State (version 1): per open window, the highest price and its bids.

use std::collections::BTreeMap;
use std::io::Write;

use cairn_guest::{Events, Operator, Output, export_operator, log};
use nexmark_model::Bid;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    #[serde(default = "default_size")]
    size: i64,
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
    /// Window start -> its best bids.
    windows: BTreeMap<i64, Best>,
    /// Every window starting before this was emitted.
    emitted_until: Option<i64>,
}

struct Q7 {
    size: i64,
    late: u64,
}

impl Operator for Q7 {
    type Config = Option<Config>;
    type State = State;
    const STATE_VERSION: u32 = 1;

    fn init(config: Option<Config>) -> Result<Self, String> {
        let size = config.map_or(default_size(), |c| c.size);
        if size <= 0 {
            return Err(format!("size must be positive, got {size} ms"));
        }
        Ok(Q7 { size, late: 0 })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, _: &mut Output) -> Result<(), String> {
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
            if bid.price > best.price || best.bids.is_empty() {
                best.price = bid.price;
                best.bids.clear();
            }
            if bid.price == best.price {
                best.bids.push((bid.auction, bid.bidder, bid.date_time));
            }
            cached = Some((start, best.price));
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), String> {
        while let Some(entry) = state.windows.first_entry() {
            let start = *entry.key();
            if start.saturating_add(self.size - 1) > ts {
                break;
            }
            let best = entry.remove();
            let end = start.saturating_add(self.size);
            for (auction, bidder, date_time) in best.bids {
                let price = best.price;
                out.emit_with(None, end - 1, |buf| {
                    write!(buf, "{auction},{price},{bidder},{date_time}").expect("write to a Vec")
                });
            }
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
