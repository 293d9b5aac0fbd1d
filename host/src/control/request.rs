//! Snapshots asked for by users (REST API or CLI): the request the
//! coordinator hears, and where it stands as the API reports it.

use super::snapshot::Kind;

/// A snapshot asked for by a user (REST API or CLI).
#[derive(Clone, Debug)]
pub struct Request {
    /// The id the asker polls ([`CheckpointStats::triggers`](crate::control::CheckpointStats::triggers)).
    pub trigger_id: String,
    /// A checkpoint or a savepoint.
    pub kind: Kind,
    /// End the job with this snapshot: `Some(drain)`, where `drain` first sends
    /// the final watermark so that event-time windows flush.
    pub stop: Option<bool>,
}

/// Where a requested snapshot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerState {
    /// Waiting for the snapshot in flight to end.
    Pending,
    /// Barriers are flowing.
    InProgress,
    /// Completed: `path` says where.
    Completed,
    /// Failed: `reason` says why.
    Failed,
}

/// A requested snapshot, as the API reports it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TriggerStatus {
    /// Where it stands.
    pub status: TriggerState,
    /// Checkpoint or savepoint.
    pub kind: Kind,
    /// Whether it ends the job.
    pub stop: bool,
    /// The snapshot id, once triggered.
    pub id: Option<u64>,
    /// Where it was written, once completed.
    pub path: Option<String>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Whether its outcome was reported to a poller (a job that ends with a
    /// stop request keeps its API up a moment until it is).
    #[serde(skip)]
    pub delivered: bool,
}
