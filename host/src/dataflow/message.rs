//! What flows on the channels between tasks: data, watermarks and barriers, in band.

use super::batch::Batch;

/// A checkpoint barrier: every event before it belongs to checkpoint `id`'s state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Barrier {
    /// The checkpoint (or savepoint) id.
    pub id: u64,
    /// The final checkpoint of bounded input: sources end after it, and sinks
    /// wait for its completion to commit their last output.
    pub last: bool,
}

/// One message on an edge.
#[derive(Debug)]
pub enum Message {
    /// Events.
    Data(Batch),
    /// Event time has passed this timestamp on this edge.
    Watermark(i64),
    /// A checkpoint barrier.
    Barrier(Barrier),
    /// The sender has finished: nothing follows.
    End,
}

/// The watermark sent when bounded input is exhausted: every window closes.
pub const FINAL_WATERMARK: i64 = i64::MAX;
