//! Off the event path: hash, pin, upload (unless unchanged) and acknowledge an
//! operator subtask's snapshot, on the checkpoint runtime.

use std::time::Instant;

use bytes::Bytes;
use tracing::Instrument;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;

use super::{Pins, Storage, layout};
use std::sync::Arc;

use futures::StreamExt;

use crate::control::{Ack, AckPayload, Event, ImageHandle, PieceHandle, StateHandle};
use crate::runtime::image::{Image, PAGE};
use crate::runtime::{Part, Snapshot};

/// Why a snapshot could not be stored.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] super::StorageError),
    /// The hashing task failed.
    #[error("hashing the memory image failed: {0}")]
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

    /// Hands `snapshot` of `node`/`subtask` for checkpoint `id` over (its inputs
    /// took `alignment` to align on the barrier); returns at once.
    pub fn upload(&self, id: u64, node: &str, subtask: usize, alignment: std::time::Duration, snapshot: Snapshot) {
        let this = self.clone();
        let node = node.to_string();
        let span = tracing::debug_span!("upload", checkpoint = id, operator = %node, subtask);
        self.runtime.spawn(async move {
            let payload = match this.store(id, snapshot).await {
                Ok((handle, uploaded)) => AckPayload::Operator(handle, uploaded),
                Err(e) => AckPayload::Failed(format!("operator `{node}` subtask {subtask}: {e}")),
            };
            let _ = this.inbox.send(Event::Ack(Ack { checkpoint: id, node, subtask, alignment, payload }));
        }.instrument(span));
    }

    async fn store(&self, id: u64, snapshot: Snapshot) -> Result<(StateHandle, u64), UploadError> {
        if let Some(image) = snapshot.image.clone() {
            return self.store_image(id, image).await;
        }
        let started = Instant::now();
        let size = snapshot.len() as u64;
        let pieces: Vec<Bytes> = snapshot.chunks;
        let hashed = pieces.clone();
        let parts = snapshot.parts;
        let (sha256, handles) = tokio::task::spawn_blocking(move || hash(&hashed, &parts))
            .await
            .unwrap_or_else(|_| (String::from("hash-failed"), Vec::new()));
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
            range: snapshot.range,
            pieces: handles,
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
        let (memories, globals_sha) = tokio::task::spawn_blocking(move || hashed.digests())
            .await
            .map_err(|e| UploadError::Hash(e.to_string()))?;
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
        tracing::debug!(event = "uploaded", checkpoint = id, size, uploaded, pages, new_pages, ms = started.elapsed().as_millis() as u64, "memory image uploaded");
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

/// SHA-256 of the whole file, and the handle of each of its `parts` (offset,
/// size, own SHA-256), in one pass over the chunks.
fn hash(chunks: &[Bytes], parts: &[Part]) -> (String, Vec<PieceHandle>) {
    let mut whole = Sha256::new();
    let mut handles = Vec::with_capacity(parts.len());
    let mut parts = parts.iter();
    let mut current = parts.next().map(|p| (*p, 0u64, Sha256::new()));
    let mut offset = 0u64;
    for chunk in chunks {
        whole.update(chunk);
        let mut rest: &[u8] = chunk;
        while let Some((part, done, h)) = current.as_mut() {
            let n = (part.size - *done).min(rest.len() as u64) as usize;
            h.update(&rest[..n]);
            *done += n as u64;
            rest = &rest[n..];
            if *done < part.size {
                break;
            }
            let (part, _, h) = current.take().expect("current part");
            handles.push(PieceHandle { kind: part.kind, offset, size: part.size, sha256: hex::encode(h.finalize()) });
            offset += part.size;
            current = parts.next().map(|p| (*p, 0u64, Sha256::new()));
        }
    }
    // Empty parts at the end (no bytes left to walk).
    while let Some((part, _, h)) = current.take() {
        handles.push(PieceHandle { kind: part.kind, offset, size: part.size, sha256: hex::encode(h.finalize()) });
        offset += part.size;
        current = parts.next().map(|p| (*p, 0u64, Sha256::new()));
    }
    (hex::encode(whole.finalize()), handles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{PieceKind, Redistribution};
    use crate::keys::HashRange;

    #[test]
    fn pieces_are_hashed_across_chunk_boundaries() {
        let data: Vec<u8> = (0..100u8).collect();
        let chunks = vec![Bytes::copy_from_slice(&data[..7]), Bytes::copy_from_slice(&data[7..60]), Bytes::copy_from_slice(&data[60..])];
        let kind = PieceKind::Keyed(HashRange::ALL);
        let op = PieceKind::Operator(Redistribution::Union);
        let parts = [Part { kind: op, size: 0 }, Part { kind, size: 10 }, Part { kind, size: 90 }, Part { kind: op, size: 0 }];
        let (whole, handles) = hash(&chunks, &parts);
        assert_eq!(whole, hex::encode(Sha256::digest(&data)));
        let got: Vec<(u64, u64, String)> = handles.iter().map(|h| (h.offset, h.size, h.sha256.clone())).collect();
        let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
        assert_eq!(got, vec![(0, 0, sha(b"")), (0, 10, sha(&data[..10])), (10, 90, sha(&data[10..])), (100, 0, sha(b""))]);
    }
}
