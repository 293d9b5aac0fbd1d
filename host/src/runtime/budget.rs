//! A subtask's log budget: how many lines and bytes per second its guest may
//! log (the `log` import, stdout and stderr together), and the count of what
//! was dropped beyond it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::tag::SubtaskTag;

/// How much a subtask may log per second (`limits.log-lines`, `limits.log-bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRate {
    /// Lines per second.
    pub lines: u64,
    /// Bytes per second.
    pub bytes: u64,
}

/// One subtask's log budget: lines beyond its [`LogRate`] in a second are
/// dropped and counted; the first line admitted after that (or the end of the
/// instance) is preceded by one line saying how many were dropped.
pub(crate) struct LogBudget {
    rate: LogRate,
    tag: Arc<SubtaskTag>,
    window: Mutex<Window>,
}

/// The current one-second window.
struct Window {
    start: Instant,
    lines: u64,
    bytes: u64,
    dropped_lines: u64,
    dropped_bytes: u64,
}

impl LogBudget {
    /// A fresh budget for `tag`'s instance.
    pub(crate) fn new(tag: Arc<SubtaskTag>, rate: LogRate) -> Self {
        let window = Window { start: Instant::now(), lines: 0, bytes: 0, dropped_lines: 0, dropped_bytes: 0 };
        LogBudget { rate, tag, window: Mutex::new(window) }
    }

    /// Whether a line of `len` bytes may be written now (else it is counted as dropped).
    pub(crate) fn admit(&self, len: usize) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.start.elapsed() >= Duration::from_secs(1) {
            self.report(&mut w);
            w.start = Instant::now();
            w.lines = 0;
            w.bytes = 0;
        }
        if w.lines < self.rate.lines && w.bytes.saturating_add(len as u64) <= self.rate.bytes {
            w.lines += 1;
            w.bytes += len as u64;
            true
        } else {
            w.dropped_lines += 1;
            w.dropped_bytes += len as u64;
            false
        }
    }

    /// Writes the summary of dropped lines, if any, and resets the count.
    fn report(&self, w: &mut Window) {
        if w.dropped_lines == 0 {
            return;
        }
        let (lines, bytes) = (std::mem::take(&mut w.dropped_lines), std::mem::take(&mut w.dropped_bytes));
        tracing::warn!(
            target: "cairn::guest",
            operator = &*self.tag.operator,
            subtask = self.tag.subtask,
            dropped_lines = lines,
            dropped_bytes = bytes,
            "{lines} lines dropped ({bytes} bytes): the operator logs more than {} lines or {} bytes per second (limits.log-lines, limits.log-bytes)",
            self.rate.lines,
            self.rate.bytes,
        );
    }
}

impl Drop for LogBudget {
    fn drop(&mut self) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        self.report(&mut w);
    }
}
