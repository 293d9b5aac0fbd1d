//! Finding checkpoints in storage: the newest one to resume from, a path given
//! with `--from`, and the leftovers of checkpoints that never completed.

use std::collections::BTreeMap;
use std::path::Path as FsPath;

use super::metadata::{METADATA_FILE, Metadata};
use super::{CheckpointError, Storage, layout};
use crate::spec::StorageSpec;

/// A checkpoint found in storage.
#[derive(Clone, Debug)]
pub struct Found {
    /// Where it is.
    pub storage: Storage,
    /// Its directory, relative to the storage root.
    pub dir: String,
    /// Its metadata.
    pub metadata: Metadata,
}

/// What a listing of a pipeline's checkpoint area found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Completed checkpoints (with a readable metadata file), oldest first.
    pub completed: Vec<(String, Metadata)>,
    /// Checkpoint directories with no metadata file: never completed, garbage.
    pub incomplete: Vec<String>,
    /// Directories whose metadata could not be read, with why.
    pub unreadable: Vec<(String, String)>,
    /// Completed checkpoints kept when their job ended (persistent), by directory.
    pub kept: std::collections::BTreeSet<String>,
}

/// Lists every checkpoint of `pipeline` in `storage`, across runs.
pub async fn list(storage: &Storage, pipeline: &str) -> Result<Listing, CheckpointError> {
    let mut dirs: BTreeMap<String, bool> = BTreeMap::new();
    let mut listing = Listing::default();
    for item in storage.list(&layout::checkpoints_dir(pipeline)).await? {
        if let Some(dir) = layout::checkpoint_dir_of(&item.path) {
            let is_meta = item.path.ends_with(&format!("/{METADATA_FILE}"));
            if item.path.ends_with(&format!("/{}", super::retention::KEPT_FILE)) {
                listing.kept.insert(dir.clone());
            }
            *dirs.entry(dir).or_default() |= is_meta;
        }
    }
    for (dir, has_meta) in dirs {
        if !has_meta {
            listing.incomplete.push(dir);
            continue;
        }
        let path = format!("{dir}/{METADATA_FILE}");
        match storage.get(&path).await.map_err(CheckpointError::from).and_then(|b| Ok(Metadata::parse(&b, &path)?)) {
            Ok(m) if m.pipeline == pipeline => listing.completed.push((dir, m)),
            Ok(m) => listing.unreadable.push((dir, format!("belongs to pipeline `{}`", m.pipeline))),
            Err(e) => listing.unreadable.push((dir, e.to_string())),
        }
    }
    listing.completed.sort_by_key(|(_, m)| m.id);
    Ok(listing)
}

/// The newest completed checkpoint of `pipeline`, if any.
pub async fn latest(storage: &Storage, pipeline: &str) -> Result<Option<Found>, CheckpointError> {
    let listing = list(storage, pipeline).await?;
    for (dir, why) in &listing.unreadable {
        tracing::warn!(dir = %dir, reason = %why, "ignoring a checkpoint that cannot be read");
    }
    Ok(listing.completed.into_iter().last().map(|(dir, metadata)| Found { storage: storage.clone(), dir, metadata }))
}

/// Opens the checkpoint or savepoint at `location`: a directory (or its
/// `_metadata` file) as a local path, `file://` URL, `s3://bucket/key` or
/// `memory://name/key`. S3 options come from the pipeline's storage section.
pub async fn open(location: &str, spec: &StorageSpec, base_dir: &FsPath) -> Result<Found, CheckpointError> {
    let (storage, dir) = locate(location, spec, base_dir)?;
    let path = format!("{dir}/{METADATA_FILE}");
    let bytes = match storage.get(&path).await {
        Ok(b) => b,
        Err(super::StorageError::NotFound { .. }) => {
            return Err(CheckpointError::NotFound(format!(
                "no checkpoint at `{location}`: `{METADATA_FILE}` is missing (a checkpoint without it never completed)"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let metadata = Metadata::parse(&bytes, &format!("{location}/{METADATA_FILE}"))?;
    Ok(Found { storage, dir, metadata })
}

/// The storage and directory a location names: a local path, `file://`,
/// `s3://bucket/key` or `memory://name/key` (a trailing `_metadata` is dropped).
pub fn locate(location: &str, spec: &StorageSpec, base_dir: &FsPath) -> Result<(Storage, String), CheckpointError> {
    let trimmed = location.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(&format!("/{METADATA_FILE}")).unwrap_or(trimmed);
    let (storage, dir) = if let Some(rest) = trimmed.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let spec = StorageSpec { url: format!("s3://{bucket}"), options: spec.options.clone() };
        (Storage::open(&spec, base_dir)?, key.to_string())
    } else if let Some(rest) = trimmed.strip_prefix("memory://") {
        let (name, key) = rest.split_once('/').unwrap_or((rest, ""));
        let spec = StorageSpec { url: format!("memory://{name}"), options: Default::default() };
        (Storage::open(&spec, base_dir)?, key.to_string())
    } else {
        let raw = trimmed.strip_prefix("file://").unwrap_or(trimmed);
        let path = std::path::absolute(raw).map_err(|e| CheckpointError::NotFound(format!("`{location}`: {e}")))?;
        let spec = StorageSpec { url: "/".into(), options: Default::default() };
        (Storage::open(&spec, FsPath::new("/"))?, path.to_string_lossy().trim_start_matches('/').to_string())
    };
    Ok((storage, dir))
}

/// Copies checkpoint `found` into `to` as a self-contained, relocatable
/// savepoint: its own copy of every state file under `state/`, referenced
/// relatively, so retention of the checkpoint area can never break it.
pub async fn promote(found: &Found, to: &Storage, to_dir: &str) -> Result<Metadata, CheckpointError> {
    let meta = write_self_contained(found, to, to_dir).await?;
    tracing::info!(event = "promoted", checkpoint = meta.id, to = %format!("{}/{to_dir}", to.url()), "checkpoint promoted to a savepoint");
    Ok(meta)
}

/// Writes `found` (its metadata, and the state files it references relative to
/// its directory) to `to_dir` as a savepoint that shares nothing with the
/// checkpoint area. The metadata is written last.
pub async fn write_self_contained(found: &Found, to: &Storage, to_dir: &str) -> Result<Metadata, CheckpointError> {
    let mut meta = found.metadata.clone();
    meta.kind = super::Kind::Savepoint;
    for op in meta.operators.values_mut() {
        for h in &mut op.subtasks {
            let src = super::storage::join_relative(&found.dir, &h.file)
                .ok_or_else(|| CheckpointError::Incompatible(format!("bad state reference `{}`", h.file)))?;
            let rel = format!("state/{}", h.sha256);
            let dst = format!("{to_dir}/{rel}");
            if !to.exists(&dst).await? {
                to.put(&dst, found.storage.get(&src).await?).await?;
            }
            h.file = rel;
        }
    }
    // Metadata last: the savepoint exists once it is written.
    to.put(&format!("{to_dir}/{METADATA_FILE}"), bytes::Bytes::from(meta.to_bytes())).await?;
    Ok(meta)
}

/// Every savepoint of `pipeline` in its savepoint area (of every run, also
/// promoted checkpoints), oldest first; unreadable ones are logged and skipped.
pub async fn savepoints(storage: &Storage, pipeline: &str) -> Result<Vec<(String, Metadata)>, CheckpointError> {
    let mut dirs = std::collections::BTreeSet::new();
    for item in storage.list(&layout::savepoints_dir(pipeline)).await? {
        if let Some(dir) = layout::savepoint_dir_of(&item.path)
            && item.path == format!("{dir}/{METADATA_FILE}")
        {
            dirs.insert(dir);
        }
    }
    let mut found = Vec::new();
    for dir in dirs {
        let path = format!("{dir}/{METADATA_FILE}");
        match storage.get(&path).await.map_err(CheckpointError::from).and_then(|b| Ok(Metadata::parse(&b, &path)?)) {
            Ok(m) if m.pipeline == pipeline => found.push((dir, m)),
            Ok(m) => tracing::warn!(dir = %dir, "ignoring a savepoint of pipeline `{}`", m.pipeline),
            Err(e) => tracing::warn!(dir = %dir, error = %e, "ignoring a savepoint that cannot be read"),
        }
    }
    found.sort_by(|(a, x), (b, y)| (&x.triggered_at, x.id, a).cmp(&(&y.triggered_at, y.id, b)));
    Ok(found)
}

/// Deletes the savepoint at `location` and nothing else: refuses anything that
/// is not a savepoint (checkpoints belong to retention). Metadata first, so a
/// half-deleted savepoint never looks complete. Returns the files removed.
pub async fn dispose(location: &str, spec: &StorageSpec, base_dir: &FsPath) -> Result<(String, usize), CheckpointError> {
    let found = open(location, spec, base_dir).await?;
    if found.metadata.kind != super::Kind::Savepoint {
        return Err(CheckpointError::Incompatible(format!(
            "`{location}` is a checkpoint, not a savepoint: checkpoints are deleted by retention (promote one to keep it)"
        )));
    }
    let dir = &found.dir;
    found.storage.delete(&format!("{dir}/{METADATA_FILE}")).await?;
    let removed = 1 + found.storage.delete_all(dir).await?;
    found.storage.remove_empty_dir(dir);
    let path = format!("{}/{dir}", found.storage.url());
    tracing::info!(event = "deleted", savepoint = found.metadata.id, path = %path, files = removed, "savepoint disposed");
    Ok((path, removed))
}
