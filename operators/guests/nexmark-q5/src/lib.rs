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
//! Config `stage` splits the query so that it runs in parallel and rescales:
//! - `all` (the default): the whole query, at parallelism 1.
//! - `counts`: keyed by auction (`key-by: true`, the source's `key: id`):
//!   when a window closes, each auction's bid count in it, value
//!   `start,end,auction,count`, timestamp `end - 1`. Its state is a
//!   `KeyedState` per auction: it rescales.
//! - `hottest`: after `counts`, at parallelism 1: per window, the auctions
//!   with the most bids, as `all` emits them.
//!
//! State (version 2): bid counts per auction per pane of `slide` ms (a window
//! sums `size / slide` panes) — in one map (`all`) or per event key
//! (`counts`) —, the counts received per window (`hottest`), and where
//! emission has reached.

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
    #[serde(default = "default_slide")]
    slide: i64,
    #[serde(default)]
    stage: Stage,
}

/// Which part of the query an instance runs.
#[derive(Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    #[default]
    All,
    Counts,
    Hottest,
}

fn default_size() -> i64 {
    10_000
}
fn default_slide() -> i64 {
    2_000
}

/// Pane start -> auction -> bids.
type Panes = BTreeMap<i64, BTreeMap<u64, u64>>;

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// `all`: every auction's panes.
    panes: Panes,
    /// `counts`: the panes per event key (auction).
    keyed: KeyedState<Panes>,
    /// `hottest`: window start -> (end, auction -> bids).
    windows: BTreeMap<i64, (i64, BTreeMap<u64, u64>)>,
    /// Every window starting before this was emitted.
    emitted_until: Option<i64>,
}

struct Q5 {
    size: i64,
    slide: i64,
    stage: Stage,
    late: u64,
}

impl Q5 {
    /// The first window start (a multiple of `slide`) not closed at watermark `ts`.
    fn open_from(&self, ts: i64) -> i64 {
        (ts - self.size + 1).div_euclid(self.slide).saturating_mul(self.slide).saturating_add(self.slide)
    }
}

impl Operator for Q5 {
    type Config = Option<Config>;
    type State = State;
    const STATE_VERSION: u32 = 2;

    fn init(config: Option<Config>) -> Result<Self, Error> {
        let Config { size, slide, stage } = config.unwrap_or(Config { size: default_size(), slide: default_slide(), stage: Stage::All });
        if slide <= 0 || size <= 0 || size % slide != 0 {
            return Err(format!("size ({size} ms) must be a positive multiple of slide ({slide} ms)").into());
        }
        Ok(Q5 { size, slide, stage, late: 0 })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, _: &mut Output) -> Result<(), Error> {
        if self.stage == Stage::Hottest {
            for e in input {
                let text = std::str::from_utf8(e.value).map_err(|_| "a count is not UTF-8".to_string())?;
                let parse = || -> Option<(i64, i64, u64, u64)> {
                    let mut f = text.split(',');
                    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
                };
                let (start, end, auction, n) = parse().ok_or_else(|| format!("not a `start,end,auction,count` row: {text:?}"))?;
                *state.windows.entry(start).or_insert((end, BTreeMap::new())).1.entry(auction).or_insert(0) += n;
            }
            return Ok(());
        }
        let keyed = self.stage == Stage::Counts;
        for e in input {
            let Some(bid) = Bid::decode(e.value) else { continue };
            let pane = bid.date_time.div_euclid(self.slide) * self.slide;
            if state.emitted_until.is_some_and(|done| pane < done) {
                self.late += 1;
                continue;
            }
            let panes = if keyed { state.keyed.get_or_default(e.key.unwrap_or_default()) } else { &mut state.panes };
            *panes.entry(pane).or_default().entry(bid.auction).or_insert(0) += 1;
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), Error> {
        match self.stage {
            Stage::All => self.all(state, ts, out),
            Stage::Counts => self.counts(state, ts, out),
            Stage::Hottest => self.hottest(state, ts, out),
        }
        if self.late > 0 {
            log::warn(&format!("dropped {} late bids (their windows were already emitted)", self.late));
            self.late = 0;
        }
        Ok(())
    }
}

impl Q5 {
    /// `counts`: every closed window's count of each auction, key by key.
    fn counts(&mut self, state: &mut State, ts: i64, out: &mut Output) {
        let next = self.open_from(ts);
        if state.emitted_until.is_some_and(|done| done >= next) {
            return;
        }
        let (size, slide) = (self.size, self.slide);
        let mut rows: Vec<(i64, u64, u64)> = Vec::new();
        state.keyed.retain(|_, panes| {
            let (Some(&first), Some(&last)) = (panes.keys().next(), panes.keys().next_back()) else { return false };
            let mut start = first.saturating_sub(size - slide);
            if let Some(done) = state.emitted_until {
                start = start.max(done);
            }
            // Windows past the key's last pane hold none of its bids.
            while start < next && start <= last {
                let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
                for (_, pane) in panes.range(start..start.saturating_add(size)) {
                    for (&auction, &n) in pane {
                        *counts.entry(auction).or_insert(0) += n;
                    }
                }
                rows.extend(counts.into_iter().map(|(a, n)| (start, a, n)));
                start = start.saturating_add(slide);
            }
            while panes.first_key_value().is_some_and(|(&p, _)| p < next) {
                panes.pop_first();
            }
            !panes.is_empty()
        });
        rows.sort_unstable();
        for (start, auction, n) in rows {
            let end = start.saturating_add(size);
            out.emit_with(None, end - 1, |buf| write!(buf, "{start},{end},{auction},{n}").expect("write to a Vec"));
        }
        state.emitted_until = Some(next);
    }

    /// `hottest`: per closed window, the auctions with the most bids.
    fn hottest(&mut self, state: &mut State, ts: i64, out: &mut Output) {
        while let Some(entry) = state.windows.first_entry() {
            let (start, (end, _)) = (*entry.key(), entry.get());
            if end - 1 > ts {
                break;
            }
            let (end, counts) = entry.remove();
            let max = counts.values().copied().max().unwrap_or(0);
            for (&auction, &n) in counts.iter().filter(|(_, n)| **n == max) {
                out.emit_with(None, end - 1, |buf| write!(buf, "{start},{end},{auction},{n}").expect("write to a Vec"));
            }
        }
    }

    /// `all`: the whole query over one map of panes.
    fn all(&mut self, state: &mut State, ts: i64, out: &mut Output) {
        let (Some(&first), Some(&last)) = (state.panes.keys().next(), state.panes.keys().next_back()) else {
            return;
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
    }
}

export_operator!(Q5);
