//! Content-addressed state files are shared between checkpoints, so deleting an
//! unreferenced one must not race with an upload that found it present and
//! skipped it. Uploads pin a digest before looking; the janitor deletes a file
//! only while holding the same lock, and only if it is not pinned.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Mutex;

/// Digests in use by checkpoints not yet complete.
#[derive(Clone, Default)]
pub struct Pins {
    inner: Arc<Mutex<BTreeMap<u64, BTreeSet<String>>>>,
}

impl Pins {
    /// Pins `sha256` for checkpoint `id`; call before looking whether the file exists.
    pub async fn pin(&self, id: u64, sha256: &str) {
        self.inner.lock().await.entry(id).or_default().insert(sha256.to_string());
    }

    /// Releases every pin of checkpoint `id` (it completed: its metadata references the
    /// files now; or it was aborted).
    pub async fn release(&self, id: u64) {
        self.inner.lock().await.remove(&id);
    }

    /// Locks the pins: hold the guard across "is it pinned?" and the deletion, so
    /// no pin can appear in between.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, BTreeMap<u64, BTreeSet<String>>> {
        self.inner.lock().await
    }
}

/// Whether `sha256` is pinned in the locked map.
pub fn is_pinned(map: &BTreeMap<u64, BTreeSet<String>>, sha256: &str) -> bool {
    map.values().any(|s| s.contains(sha256))
}
