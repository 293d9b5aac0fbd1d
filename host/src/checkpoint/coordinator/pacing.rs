//! When the coordinator triggers next: the periodic checkpoint and periodic
//! savepoint timers, the minimum pause after a checkpoint, and the timeout of
//! the snapshot in flight. Times are passed in, so the rules are testable.

use std::time::{Duration, Instant};

/// How long the coordinator sleeps when nothing is due and nothing is in flight.
const IDLE: Duration = Duration::from_secs(3600);

/// The coordinator's timers.
#[derive(Debug)]
pub(super) struct Pacing {
    /// Periodic checkpoint interval (`None`: only the final checkpoint).
    interval: Option<Duration>,
    /// Periodic savepoint interval (`None`: none).
    savepoint_interval: Option<Duration>,
    /// Least time between one checkpoint's end and the next one's start.
    min_pause: Duration,
    /// How long a snapshot may be in flight.
    timeout: Duration,
    /// When the next periodic checkpoint is due (`None`: never).
    next_checkpoint: Option<Instant>,
    /// When the next periodic savepoint is due (`None`: never).
    next_savepoint: Option<Instant>,
}

impl Pacing {
    /// Timers of a run starting at `now`: the first periodic checkpoint and
    /// savepoint are due one interval later.
    pub(super) fn new(interval: Option<Duration>, savepoint_interval: Option<Duration>, min_pause: Duration, timeout: Duration, now: Instant) -> Pacing {
        Pacing {
            interval,
            savepoint_interval,
            min_pause,
            timeout,
            next_checkpoint: interval.map(|i| now + i),
            next_savepoint: savepoint_interval.map(|i| now + i),
        }
    }

    /// Whether a periodic checkpoint is due at `now`.
    pub(super) fn checkpoint_due(&self, now: Instant) -> bool {
        self.next_checkpoint.is_some_and(|t| now >= t)
    }

    /// Whether a periodic savepoint is due at `now`.
    pub(super) fn savepoint_due(&self, now: Instant) -> bool {
        self.next_savepoint.is_some_and(|t| now >= t)
    }

    /// When the coordinator wakes up on its own: the timeout of the snapshot in
    /// flight (started at `in_flight`), else the next periodic snapshot, else
    /// an hour from `now`.
    pub(super) fn deadline(&self, in_flight: Option<Instant>, now: Instant) -> Instant {
        match in_flight {
            Some(started) => started + self.timeout,
            None => [self.next_checkpoint, self.next_savepoint].into_iter().flatten().min().unwrap_or(now + IDLE),
        }
    }

    /// Whether a snapshot started at `started` has run out of time at `now`.
    pub(super) fn timed_out(&self, started: Instant, now: Instant) -> bool {
        now.saturating_duration_since(started) >= self.timeout
    }

    /// A checkpoint started at `started` ended (completed or failed) at `now`:
    /// the next one is due an interval after its start, but no sooner than the
    /// minimum pause after its end.
    pub(super) fn checkpoint_ended(&mut self, started: Instant, now: Instant) {
        self.next_checkpoint = self.interval.map(|i| (started + i).max(now + self.min_pause));
    }

    /// The run's last checkpoint completed: no periodic checkpoint follows.
    pub(super) fn no_more_checkpoints(&mut self) {
        self.next_checkpoint = None;
    }

    /// A periodic savepoint started at `started` completed: the next one is due
    /// an interval after its start.
    pub(super) fn periodic_savepoint_completed(&mut self, started: Instant) {
        self.next_savepoint = self.savepoint_interval.map(|i| started + i);
    }

    /// A periodic savepoint failed at `now`: the next one is due an interval later.
    pub(super) fn periodic_savepoint_failed(&mut self, now: Instant) {
        self.next_savepoint = self.savepoint_interval.map(|i| now + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn pacing(interval: Option<u64>, savepoint_interval: Option<u64>, min_pause: u64, timeout: u64, now: Instant) -> Pacing {
        Pacing::new(
            interval.map(Duration::from_secs),
            savepoint_interval.map(Duration::from_secs),
            Duration::from_secs(min_pause),
            Duration::from_secs(timeout),
            now,
        )
    }

    #[test]
    fn without_intervals_nothing_is_ever_due() {
        let t0 = Instant::now();
        let p = pacing(None, None, 0, 60, t0);
        assert!(!p.checkpoint_due(t0 + 1000 * S));
        assert!(!p.savepoint_due(t0 + 1000 * S));
        assert_eq!(p.deadline(None, t0), t0 + IDLE);
    }

    #[test]
    fn the_first_snapshots_are_due_one_interval_after_the_start() {
        let t0 = Instant::now();
        let p = pacing(Some(10), Some(30), 0, 60, t0);
        assert!(!p.checkpoint_due(t0 + 9 * S));
        assert!(p.checkpoint_due(t0 + 10 * S));
        assert!(!p.savepoint_due(t0 + 29 * S));
        assert!(p.savepoint_due(t0 + 30 * S));
        assert_eq!(p.deadline(None, t0), t0 + 10 * S, "the earlier of the two timers");
    }

    #[test]
    fn a_snapshot_in_flight_wakes_the_coordinator_at_its_timeout() {
        let t0 = Instant::now();
        let p = pacing(Some(10), None, 0, 60, t0);
        let started = t0 + 10 * S;
        assert_eq!(p.deadline(Some(started), started), started + 60 * S);
        assert!(!p.timed_out(started, started + 59 * S));
        assert!(p.timed_out(started, started + 60 * S));
        assert!(!p.timed_out(started, t0), "a clock before the start is no timeout");
    }

    #[test]
    fn the_next_checkpoint_waits_an_interval_after_the_start_of_the_last() {
        let t0 = Instant::now();
        let mut p = pacing(Some(10), None, 2, 60, t0);
        p.checkpoint_ended(t0 + 10 * S, t0 + 13 * S);
        assert!(!p.checkpoint_due(t0 + 19 * S));
        assert!(p.checkpoint_due(t0 + 20 * S));
    }

    #[test]
    fn the_minimum_pause_follows_the_end_of_a_slow_checkpoint() {
        let t0 = Instant::now();
        let mut p = pacing(Some(10), None, 5, 60, t0);
        // Started at 10 s, ended at 19 s: 20 s would leave 1 s of pause, so 24 s.
        p.checkpoint_ended(t0 + 10 * S, t0 + 19 * S);
        assert!(!p.checkpoint_due(t0 + 23 * S));
        assert!(p.checkpoint_due(t0 + 24 * S));
        assert_eq!(p.deadline(None, t0 + 19 * S), t0 + 24 * S);
    }

    #[test]
    fn after_the_last_checkpoint_no_periodic_one_follows() {
        let t0 = Instant::now();
        let mut p = pacing(Some(10), None, 0, 60, t0);
        p.no_more_checkpoints();
        assert!(!p.checkpoint_due(t0 + 1000 * S));
        // Without an interval, an ended checkpoint schedules nothing either.
        let mut q = pacing(None, None, 0, 60, t0);
        q.checkpoint_ended(t0, t0 + S);
        assert!(!q.checkpoint_due(t0 + 1000 * S));
    }

    #[test]
    fn periodic_savepoints_count_from_the_start_when_completed_and_from_the_failure_when_failed() {
        let t0 = Instant::now();
        let mut p = pacing(None, Some(30), 5, 60, t0);
        p.periodic_savepoint_completed(t0 + 30 * S);
        assert!(!p.savepoint_due(t0 + 59 * S));
        assert!(p.savepoint_due(t0 + 60 * S), "no minimum pause for savepoints");
        p.periodic_savepoint_failed(t0 + 70 * S);
        assert!(!p.savepoint_due(t0 + 99 * S));
        assert!(p.savepoint_due(t0 + 100 * S));
    }
}
