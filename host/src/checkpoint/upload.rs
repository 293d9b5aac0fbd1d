//! Off the event path: hash, pin, upload (unless unchanged) and acknowledge an
//! operator subtask's snapshot, on the checkpoint runtime.

use std::time::Instant;

use bytes::Bytes;
use tracing::Instrument;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;

use super::{Pins, Storage, layout};
use crate::control::{Ack, AckPayload, Event, StateHandle};
use crate::runtime::Snapshot;

/// Uploads snapshots for the tasks of one job.
#[derive(Clone)]
pub struct Uploader {
    storage: Storage,
    pins: Pins,
    pipeline: String,
    runtime: tokio::runtime::Handle,
    inbox: UnboundedSender<Event>,
}

impl Uploader {
    /// An uploader writing into `pipeline`'s state area and acknowledging to `inbox`.
    pub fn new(
        storage: Storage,
        pins: Pins,
        pipeline: &str,
        runtime: tokio::runtime::Handle,
        inbox: UnboundedSender<Event>,
    ) -> Uploader {
        Uploader { storage, pins, pipeline: pipeline.into(), runtime, inbox }
    }

    /// Hands `snapshot` of `node`/`subtask` for checkpoint `id` over; returns at once.
    pub fn upload(&self, id: u64, node: &str, subtask: usize, snapshot: Snapshot) {
        let this = self.clone();
        let node = node.to_string();
        let span = tracing::debug_span!("upload", checkpoint = id, operator = %node, subtask);
        self.runtime.spawn(async move {
            let payload = match this.store(id, snapshot).await {
                Ok((handle, uploaded)) => AckPayload::Operator(handle, uploaded),
                Err(e) => AckPayload::Failed(format!("operator `{node}` subtask {subtask}: {e}")),
            };
            let _ = this.inbox.send(Event::Ack(Ack { checkpoint: id, node, subtask, payload }));
        }.instrument(span));
    }

    async fn store(&self, id: u64, snapshot: Snapshot) -> Result<(StateHandle, u64), super::StorageError> {
        let started = Instant::now();
        let size = snapshot.len() as u64;
        let pieces: Vec<Bytes> = snapshot.pieces;
        let hashed = pieces.clone();
        let sha256 = tokio::task::spawn_blocking(move || {
            let mut h = Sha256::new();
            for p in &hashed {
                h.update(p);
            }
            hex::encode(h.finalize())
        })
        .await
        .unwrap_or_else(|_| String::from("hash-failed"));
        self.pins.pin(id, &sha256).await;
        let path = layout::state_file(&self.pipeline, &sha256);
        let uploaded = if self.storage.exists(&path).await? {
            0
        } else {
            self.storage.put_pieces(&path, pieces).await?;
            size
        };
        tracing::debug!(event = "uploaded", checkpoint = id, size, uploaded, ms = started.elapsed().as_millis() as u64, "state uploaded");
        let handle = StateHandle {
            file: layout::state_ref_from_checkpoint(&sha256),
            sha256,
            size,
            format: snapshot.format,
            version: snapshot.version,
        };
        Ok((handle, uploaded))
    }
}
