//! `nexmark-q17`: Nexmark query 17, auction statistics per day.
//!
//! ```sql
//! SELECT auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day,
//!        count(*) AS total_bids,
//!        count(*) FILTER (WHERE price < 10000) AS rank1_bids,
//!        count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
//!        count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
//!        min(price), max(price), avg(price), sum(price)
//! FROM bid GROUP BY auction, day
//! ```
//!
//! Days are UTC. Each (auction, day) row is emitted once, final, when the
//! watermark passes the end of its day (at the end of bounded input for the
//! last day): no key, value
//! `auction,day,total,rank1,rank2,rank3,min,max,avg,sum` (ASCII; `avg` is
//! `sum / total` rounded down, as an average of integers), timestamp the
//! day's last millisecond; rows of one watermark in order of (day, auction).
//! Persons and auctions are ignored; bids for days already emitted are
//! dropped as late (a warning says how many). Runs keyed (`key-by: true`
//! with the source's `key: id`) or not.
//!
//! State (version 2): per event key (a `KeyedState`, so the query rescales;
//! keyed by auction, one auction per key) the aggregates per (day, auction)
//! in a map ordered by day, and the highest watermark seen. The inner map
//! keeps integer keys, which compare inline (a map keyed by byte strings ran
//! this query at a fifth of the speed).

use std::collections::BTreeMap;
use std::io::Write;

use cairn_guest::{Error, Events, KeyedState, Operator, Output, export_operator, log};
use nexmark_model::Bid;
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;

/// The running aggregate of one auction on one day.
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
struct Agg {
    total: u64,
    rank1: u64,
    rank2: u64,
    rank3: u64,
    min: u64,
    max: u64,
    sum: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Per event key: (day since 1970-01-01, auction) -> aggregate, ordered by day.
    aggs: KeyedState<BTreeMap<(i64, u64), Agg>>,
    watermark: Option<i64>,
}

/// `yyyy-mm-dd` of a day number since 1970-01-01 (proleptic Gregorian).
fn date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

struct Q17 {
    late: u64,
}

impl Operator for Q17 {
    type Config = Option<()>;
    type State = State;
    const STATE_VERSION: u32 = 2;

    fn init(_: Option<()>) -> Result<Self, Error> {
        Ok(Q17 { late: 0 })
    }

    fn process(&mut self, state: &mut State, input: Events<'_>, _: &mut Output) -> Result<(), Error> {
        for e in input {
            let Some(bid) = Bid::decode(e.value) else { continue };
            let day = bid.date_time.div_euclid(DAY_MS);
            if state.watermark.is_some_and(|wm| (day + 1) * DAY_MS - 1 <= wm) {
                self.late += 1;
                continue;
            }
            let agg = state.aggs.get_or_default(e.key.unwrap_or_default()).entry((day, bid.auction)).or_default();
            let p = bid.price;
            if agg.total == 0 {
                (agg.min, agg.max) = (p, p);
            } else {
                agg.min = agg.min.min(p);
                agg.max = agg.max.max(p);
            }
            agg.total += 1;
            agg.sum += p;
            match p {
                0..10_000 => agg.rank1 += 1,
                10_000..1_000_000 => agg.rank2 += 1,
                _ => agg.rank3 += 1,
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut State, ts: i64, out: &mut Output) -> Result<(), Error> {
        let wm = state.watermark.map_or(ts, |w| w.max(ts));
        state.watermark = Some(wm);
        let closes = |day: i64| day.saturating_add(1).saturating_mul(DAY_MS).saturating_sub(1);
        // Closed days come first in each key's map: stop at its first open one.
        let mut closed: Vec<((i64, u64), Agg)> = Vec::new();
        state.aggs.retain(|_, aggs| {
            while let Some(entry) = aggs.first_entry() {
                if closes(entry.key().0) > wm {
                    break;
                }
                closed.push(entry.remove_entry());
            }
            !aggs.is_empty()
        });
        closed.sort_unstable_by_key(|(k, _)| *k);
        for ((day, auction), a) in closed {
            let last = closes(day);
            let (y, m, d) = date(day);
            out.emit_with(None, last, |buf| {
                write!(buf, "{auction},{y:04}-{m:02}-{d:02},{},{},{},{},{},{},{},{}", a.total, a.rank1, a.rank2, a.rank3, a.min, a.max, a.sum / a.total, a.sum)
                    .expect("write to a Vec")
            });
        }
        if self.late > 0 {
            log::warn(&format!("dropped {} late bids (their days were already emitted)", self.late));
            self.late = 0;
        }
        Ok(())
    }
}

export_operator!(Q17);

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), (1970, 1, 1));
        assert_eq!(super::date(-1), (1969, 12, 31));
        assert_eq!(super::date(19_782), (2024, 2, 29));
        assert_eq!(super::date(20_000), (2024, 10, 4));
    }
}
