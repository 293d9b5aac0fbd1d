//! The `cairn:operator/log` import: guest log records into the host's tracing,
//! tagged with operator id and subtask, within the subtask's log budget
//! ([`LogBudget`](super::budget::LogBudget), shared with its stdout and stderr).

use super::bindings::v1::cairn::operator::log::{Host, Level};
use super::store::StoreData;

/// Longest message kept from a guest; the rest is cut so a hostile operator cannot flood the log.
const MAX_MESSAGE: usize = 4096;

impl Host for StoreData {
    fn log(&mut self, level: Level, mut message: String) {
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if !self.log.admit(message.len()) {
            return;
        }
        let (op, subtask) = (&*self.tag.operator, self.tag.subtask);
        match level {
            Level::Trace => tracing::trace!(target: "cairn::guest", operator = op, subtask, "{message}"),
            Level::Debug => tracing::debug!(target: "cairn::guest", operator = op, subtask, "{message}"),
            Level::Info => tracing::info!(target: "cairn::guest", operator = op, subtask, "{message}"),
            Level::Warn => tracing::warn!(target: "cairn::guest", operator = op, subtask, "{message}"),
            Level::Error => tracing::error!(target: "cairn::guest", operator = op, subtask, "{message}"),
        }
    }
}
