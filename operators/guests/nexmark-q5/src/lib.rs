//! `nexmark-q5`: Nexmark query 5, hot items.
//!
//! Which auctions got the most bids in each sliding window of `size` ms
//! (default 10 000) starting every `slide` ms (default 2 000; `size` must be
//! a multiple of it)? Windows are `[start, start + size)`, `start` a multiple
//! of `slide`. When the watermark passes a window's end, every auction whose
//! bid count in it equals the window's maximum is emitted (ties all, in
//! auction order): no key, value `start,end,auction,count` (ASCII), timestamp
//! `end - 1`. Windows without bids emit nothing. Persons and auctions are
//! ignored; bids for windows already emitted are dropped as late (a warning
//! says how many).
//!
//! State (version 1): bid counts per auction per pane of `slide` ms (a window
//! sums `size / slide` panes), and where emission has reached.

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
    #[serde(default = "default_slide")]
    slide: i64,
}

fn default_size() -> i64 {
    10_000
}
fn default_slide() -> i64 {
    2_000
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Pane start -> auction -> bids.
    panes: BTreeMap<i64, BTreeMap<u64, u64>>,
    /// Every window starting before this was emitted.
    emitted_until: Option<i64>,
}

struct Q5 {
    size: i64,
    slide: i64,
    late: u64,
}

impl Operator for Q5 {
    type Config = Option<Config>;
    type State = State;
    const STATE_VERSION: u32 = 1;

    fn init(config: Option<Config>) -> Result<Self, String> {
        let Config { size, slide } = config.unwrap_or(Config { size: default_size(), slide: default_slide() });
        if slide <= 0 || size <= 0 || size % slide != 0 {
            return Err(format!("size ({size} ms) must be a positive multiple of slide ({slide} ms)"));
        }
        Ok(Q5 { size, slide, late: 0 })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, _: &mut Output) -> Result<(), String> {
        for e in input {
            let Some(bid) = Bid::decode(e.value) else { continue };
            let pane = bid.date_time.div_euclid(self.slide) * self.slide;
            if state.emitted_until.is_some_and(|done| pane < done) {
                self.late += 1;
                continue;
            }
            let counts = state.panes.entry(pane).or_default();
            *counts.entry(bid.auction).or_insert(0) += 1;
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), String> {
        let (Some(&first), Some(&last)) = (state.panes.keys().next(), state.panes.keys().next_back()) else {
            return Ok(());
        };
        let mut start = first.saturating_sub(self.size - self.slide);
        if let Some(done) = state.emitted_until {
            start = start.max(done);
        }
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        while start <= last && start.saturating_add(self.size - 1) <= ts {
            let end = start.saturating_add(self.size);
            counts.clear();
            for (_, pane) in state.panes.range(start..end) {
                for (&auction, &n) in pane {
                    *counts.entry(auction).or_insert(0) += n;
                }
            }
            let max = counts.values().copied().max().unwrap_or(0);
            for (&auction, &n) in &counts {
                if n == max {
                    out.emit_with(None, end - 1, |buf| write!(buf, "{start},{end},{auction},{n}").expect("write to a Vec"));
                }
            }
            start = start.saturating_add(self.slide);
            state.emitted_until = Some(start);
            while state.panes.first_key_value().is_some_and(|(&p, _)| p < start) {
                state.panes.pop_first();
            }
        }
        if self.late > 0 {
            log::warn(&format!("dropped {} late bids (their windows were already emitted)", self.late));
            self.late = 0;
        }
        Ok(())
    }
}

export_operator!(Q5);
