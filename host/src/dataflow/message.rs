//! What flows on the channels between tasks: data, watermarks and barriers, in band.

use super::batch::Batch;
use crate::control::Barrier;

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
