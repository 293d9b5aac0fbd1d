//! Event time of a source subtask that reads several partitions: a watermark per
//! partition (its newest event time less the allowed out-of-orderness), combined
//! as the minimum over the partitions that are not idle. A partition is idle when
//! it has had no record for the idle timeout (or has ended); when every partition
//! is idle the watermark is the largest of theirs, so silence stalls nothing.

use std::time::{Duration, Instant};

/// Watermarks of the partitions of one subtask, by index.
#[derive(Debug)]
pub(super) struct Watermarks {
    /// Newest event time per partition (`i64::MIN`: none yet).
    max_ts: Vec<i64>,
    /// When each partition last had a record (`None`: not since the start).
    seen: Vec<Option<Instant>>,
    /// Partitions that ended (bounded sources).
    ended: Vec<bool>,
    out_of_orderness: i64,
    idle: Option<Duration>,
    started: Instant,
}

impl Watermarks {
    /// Watermarks for `n` partitions, started at `now`.
    pub(super) fn new(n: usize, out_of_orderness: i64, idle: Option<Duration>, now: Instant) -> Watermarks {
        Watermarks { max_ts: vec![i64::MIN; n], seen: vec![None; n], ended: vec![false; n], out_of_orderness, idle, started: now }
    }

    /// A record of partition `p` with event time `ts` arrived at `now`.
    pub(super) fn observe(&mut self, p: usize, ts: i64, now: Instant) {
        self.max_ts[p] = self.max_ts[p].max(ts);
        self.seen[p] = Some(now);
    }

    /// Partition `p` has ended.
    pub(super) fn end(&mut self, p: usize) {
        self.ended[p] = true;
    }

    fn idle(&self, p: usize, now: Instant) -> bool {
        self.ended[p] || self.idle.is_some_and(|t| now.duration_since(self.seen[p].unwrap_or(self.started)) >= t)
    }

    /// The subtask's watermark at `now` (`None`: nothing known yet).
    pub(super) fn current(&self, now: Instant) -> Option<i64> {
        let of = |ts: i64| ts.saturating_sub(self.out_of_orderness).saturating_sub(1);
        let active = (0..self.max_ts.len()).filter(|&p| !self.idle(p, now)).map(|p| self.max_ts[p]).min();
        let ts = match active {
            Some(ts) => ts,
            None => self.max_ts.iter().copied().max()?,
        };
        (ts > i64::MIN).then(|| of(ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_active_partition_holds_the_watermark() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(2, 10, Some(Duration::from_secs(5)), t0);
        assert_eq!(w.current(t0), None);
        w.observe(0, 100, t0);
        assert_eq!(w.current(t0), None, "partition 1 has said nothing yet and is not idle yet");
        w.observe(1, 50, t0);
        assert_eq!(w.current(t0), Some(39));
        w.observe(0, 200, t0 + Duration::from_secs(6));
        assert_eq!(w.current(t0 + Duration::from_secs(6)), Some(189), "partition 1 went idle");
        w.observe(1, 60, t0 + Duration::from_secs(7));
        assert_eq!(w.current(t0 + Duration::from_secs(7)), Some(49), "active again");
    }

    #[test]
    fn without_an_idle_timeout_a_silent_partition_holds_it() {
        let t0 = Instant::now();
        let mut w = Watermarks::new(2, 0, None, t0);
        w.observe(0, 100, t0);
        assert_eq!(w.current(t0 + Duration::from_secs(3600)), None);
        w.end(1);
        assert_eq!(w.current(t0), Some(99));
    }
}
