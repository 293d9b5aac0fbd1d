//! Off the event path: hash, pin, upload (unless unchanged) and acknowledge an
//! operator subtask's snapshot, on the checkpoint runtime.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;
use tracing::Instrument;

use super::digest::Remembered;
use super::{Pins, Storage, layout};
use std::sync::Arc;

use futures::StreamExt;

use crate::control::{Ack, AckPayload, Event, ImageHandle, StateHandle};
use crate::runtime::Snapshot;
use crate::runtime::image::{Image, PAGE};

/// Why a snapshot could not be stored.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] super::StorageError),
    /// The hashing task failed.
    #[error("hashing the state failed: {0}")]
    Hash(String),
}

/// Uploads snapshots for the tasks of one job.
#[derive(Clone)]
pub struct Uploader {
    storage: Storage,
    pins: Pins,
    pipeline: String,
    runtime: tokio::runtime::Handle,
    inbox: UnboundedSender<Event>,
    /// Each subtask's last digests, so unchanged state is not hashed again.
    digests: Remembered,
}

impl Uploader {
    /// An uploader writing into `pipeline`'s state area and acknowledging to `inbox`.
    pub fn new(storage: Storage, pins: Pins, pipeline: &str, runtime: tokio::runtime::Handle, inbox: UnboundedSender<Event>) -> Uploader {
        Uploader { storage, pins, pipeline: pipeline.into(), runtime, inbox, digests: Remembered::default() }
    }

    /// Hands `snapshot` of `node`/`subtask` for checkpoint `id` over (its inputs
    /// took `alignment` to align on the barrier); returns at once.
    pub fn upload(&self, id: u64, node: &str, subtask: usize, alignment: std::time::Duration, snapshot: Snapshot) {
        let this = self.clone();
        let node = node.to_string();
        let span = tracing::debug_span!("upload", checkpoint = id, operator = %node, subtask);
        self.runtime.spawn(
            async move {
                let payload = match this.store(id, &node, subtask, snapshot).await {
                    Ok((handle, uploaded)) => AckPayload::Operator(handle, uploaded),
                    Err(e) => AckPayload::Failed(format!("operator `{node}` subtask {subtask}: {e}")),
                };
                let _ = this.inbox.send(Event::Ack(Ack { checkpoint: id, node, subtask, alignment, payload }));
            }
            .instrument(span),
        );
    }

    async fn store(&self, id: u64, node: &str, subtask: usize, snapshot: Snapshot) -> Result<(StateHandle, u64), UploadError> {
        if let Some(image) = snapshot.image.clone() {
            return self.store_image(id, image).await;
        }
        let started = Instant::now();
        let size = snapshot.len() as u64;
        let pieces: Vec<Bytes> = snapshot.chunks;
        let (chunks, parts, digests, node_id) = (pieces.clone(), snapshot.parts, self.digests.clone(), node.to_string());
        let digests =
            tokio::task::spawn_blocking(move || digests.hash(&node_id, subtask, &chunks, &parts)).await.map_err(|e| UploadError::Hash(e.to_string()))?;
        let hash_ms = started.elapsed().as_millis() as u64;
        let sha256 = digests.sha256;
        self.pins.pin(id, &sha256).await;
        let path = layout::state_file(&self.pipeline, &sha256);
        let uploaded = if self.storage.exists(&path).await? {
            0
        } else {
            self.storage.put_pieces(&path, pieces).await?;
            size
        };
        tracing::debug!(
            event = "uploaded",
            checkpoint = id,
            size,
            uploaded,
            hashed = digests.hashed,
            hash_ms,
            ms = started.elapsed().as_millis() as u64,
            "state uploaded"
        );
        let handle = StateHandle {
            file: layout::state_ref_from_checkpoint(&sha256),
            sha256,
            size,
            format: snapshot.format,
            version: snapshot.version,
            range: snapshot.range,
            pieces: digests.pieces,
            image: None,
        };
        Ok((handle, uploaded))
    }
}

impl Uploader {
    /// A memory image: every non-zero page is a content-addressed file of its
    /// own, uploaded only if storage does not hold it yet (so a checkpoint
    /// uploads the pages that changed); the globals are one more such file.
    async fn store_image(&self, id: u64, image: Arc<Image>) -> Result<(StateHandle, u64), UploadError> {
        let started = Instant::now();
        let hashed = image.clone();
        let (memories, globals_sha) = tokio::task::spawn_blocking(move || hashed.digests()).await.map_err(|e| UploadError::Hash(e.to_string()))?;
        // Every distinct non-zero page with its bytes, then the globals.
        let mut files: Vec<(String, Bytes)> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (m, pages) in memories.iter().enumerate() {
            for (sha, page) in pages.iter().zip(image.pages(m)) {
                if let Some(sha) = sha.as_ref().filter(|s| seen.insert((*s).clone())) {
                    files.push((sha.clone(), page));
                }
            }
        }
        if seen.insert(globals_sha.clone()) {
            files.push((globals_sha.clone(), image.globals.clone()));
        }
        for (sha, _) in &files {
            self.pins.pin(id, sha).await;
        }
        let (mut uploaded, mut new_pages) = (0u64, 0u64);
        let results = futures::stream::iter(files.into_iter().map(|(sha, bytes)| {
            let path = layout::state_file(&self.pipeline, &sha);
            let storage = self.storage.clone();
            async move {
                if storage.exists(&path).await? {
                    return Ok::<_, super::StorageError>(None);
                }
                let n = bytes.len() as u64;
                storage.put(&path, bytes).await?;
                Ok(Some((sha, n)))
            }
        }))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
        for r in results {
            if let Some((sha, n)) = r? {
                uploaded += n;
                new_pages += u64::from(sha != globals_sha);
            }
        }
        let size = image.len();
        let pages: usize = memories.iter().map(Vec::len).sum();
        tracing::debug!(
            event = "uploaded",
            checkpoint = id,
            size,
            uploaded,
            pages,
            new_pages,
            ms = started.elapsed().as_millis() as u64,
            "memory image uploaded"
        );
        let handle = StateHandle {
            file: layout::state_ref_from_checkpoint(&globals_sha),
            sha256: globals_sha,
            size,
            format: crate::runtime::image::FORMAT.into(),
            version: crate::runtime::image::VERSION,
            range: None,
            pieces: Vec::new(),
            image: Some(ImageHandle { page_size: PAGE as u64, memories, globals: image.globals.len() / 8, new_pages }),
        };
        Ok((handle, uploaded))
    }
}
