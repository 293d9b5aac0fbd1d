//! `host savepoint dispose`: removes a savepoint's metadata, then the state
//! files it references inside its own directory, then the directory if nothing
//! else is in it; whatever else the user put there stays, and is named.

use std::collections::BTreeSet;

use super::super::CheckpointError;
use super::super::catalog::{Found, referenced_files};
use super::super::layout::KEPT_FILE;
use super::super::metadata::{Kind, METADATA_FILE};

/// What a disposal did.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Disposed {
    /// The savepoint, as a URL.
    pub disposed: String,
    /// Files removed (metadata and state), as URLs.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub bytes: u64,
    /// What was left in its directory (not the savepoint's), as URLs.
    pub left: Vec<String>,
    /// State references outside its directory, left alone (as URLs).
    pub outside: Vec<String>,
}

/// Disposes of the savepoint `found`; refuses a checkpoint (retention owns those).
pub async fn dispose(found: &Found) -> Result<Disposed, CheckpointError> {
    let (storage, dir) = (&found.storage, found.dir.as_str());
    if found.metadata.kind != Kind::Savepoint {
        return Err(CheckpointError::Incompatible(format!(
            "{} is a checkpoint, not a savepoint: checkpoints are deleted by retention (promote one to keep it)",
            found.url()
        )));
    }
    let listed = storage.list(dir).await?;
    let size_of = |p: &str| listed.iter().find(|l| l.path == p).map_or(0, |l| l.size);
    let inside = format!("{dir}/");
    let referenced: BTreeSet<String> = referenced_files(dir, &found.metadata).into_iter().collect();
    let mut out = Disposed { disposed: found.url(), removed: Vec::new(), bytes: 0, left: Vec::new(), outside: Vec::new() };
    // Metadata first: a half-disposed savepoint must not look complete.
    let ours = std::iter::once(format!("{dir}/{METADATA_FILE}"))
        .chain(std::iter::once(format!("{dir}/{KEPT_FILE}")).filter(|k| listed.iter().any(|l| &l.path == k)))
        .chain(referenced.iter().filter(|p| p.starts_with(&inside)).cloned());
    for path in ours {
        storage.delete(&path).await?;
        out.bytes += size_of(&path);
        out.removed.push(storage.url_of(&path));
    }
    out.outside = referenced.iter().filter(|p| !p.starts_with(&inside)).map(|p| storage.url_of(p)).collect();
    storage.remove_empty_dir(dir);
    let gone: BTreeSet<&String> = out.removed.iter().collect();
    out.left = listed.iter().map(|l| storage.url_of(&l.path)).filter(|u| !gone.contains(u)).collect();
    tracing::info!(event = "deleted", savepoint = found.metadata.id, path = %out.disposed, files = out.removed.len(), left = out.left.len(), "savepoint disposed");
    Ok(out)
}
