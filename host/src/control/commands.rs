//! What the coordinator tells tasks: the barrier a source injects (also to
//! stop), and the commit a sink waits for.

/// A checkpoint barrier: every event before it belongs to checkpoint `id`'s state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Barrier {
    /// The checkpoint (or savepoint) id.
    pub id: u64,
    /// The final checkpoint of bounded input: sources end after it, and sinks
    /// wait for its completion to commit their last output.
    pub last: bool,
}

/// From the coordinator to a source.
#[derive(Debug, Clone, Copy)]
pub enum SourceCommand {
    /// Inject this barrier now.
    Trigger(Barrier),
    /// Stop: inject this (last) barrier, then end. With `drain`, first send the
    /// final watermark so that every event-time window flushes before it.
    Stop {
        /// The barrier of the stopping snapshot.
        barrier: Barrier,
        /// Send the final watermark first.
        drain: bool,
    },
}

/// From the coordinator to a sink.
#[derive(Debug, Clone, Copy)]
pub enum SinkCommand {
    /// Checkpoint `id` completed: commit the output it covers.
    Commit(u64),
}
