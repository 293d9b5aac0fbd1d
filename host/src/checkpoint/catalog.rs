//! Finding snapshots in storage: one scan of a pipeline's objects (checkpoints,
//! savepoints, state files, leftovers of snapshots that never completed), the
//! newest checkpoint to resume from, a location given on the command line, and
//! copying a checkpoint into a self-contained savepoint. Reads only (a savepoint
//! is written, never deleted, here): removing is [`super::owner`]'s.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::layout::KEPT_FILE;
use super::metadata::{METADATA_FILE, Metadata};
use super::storage::{Listed, Target, join_relative};
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

impl Found {
    /// Its directory as a canonical URL.
    pub fn url(&self) -> String {
        self.storage.url_of(&self.dir)
    }
}

/// A snapshot directory without a readable metadata file: garbage once nothing writes to it.
#[derive(Clone, Debug)]
pub struct Incomplete {
    /// The directory.
    pub dir: String,
    /// The objects in it.
    pub files: Vec<Listed>,
}

impl Incomplete {
    /// When its newest object was written.
    pub fn newest(&self) -> SystemTime {
        self.files.iter().map(|f| f.modified).max().unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// Everything of one pipeline in storage, from one listing of `<pipeline>/`.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Completed checkpoints (with a readable metadata file), oldest first.
    pub completed: Vec<(String, Metadata)>,
    /// Savepoints in the savepoint area (of every run, promoted ones too), oldest first.
    pub savepoints: Vec<(String, Metadata)>,
    /// Checkpoint and savepoint directories with objects but no metadata file.
    pub incomplete: Vec<Incomplete>,
    /// Directories whose metadata could not be read, with why.
    pub unreadable: Vec<(String, String)>,
    /// Completed checkpoints kept when their job ended (persistent), by directory.
    pub kept: BTreeSet<String>,
    /// The content-addressed state files.
    pub state: Vec<Listed>,
    /// Every object, by path (sizes and times).
    pub objects: BTreeMap<String, Listed>,
}

impl Inventory {
    /// Every completed snapshot, checkpoints then savepoints.
    pub fn snapshots(&self) -> impl Iterator<Item = &(String, Metadata)> {
        self.completed.iter().chain(&self.savepoints)
    }

    /// The newest snapshot id of the pipeline (0 when there is none).
    pub fn newest_id(&self) -> u64 {
        self.snapshots().map(|(_, m)| m.id).max().unwrap_or(0)
    }

    /// The completed checkpoints of `run`, oldest first.
    pub fn of_run<'a>(&'a self, run: &'a str) -> impl Iterator<Item = &'a (String, Metadata)> + 'a {
        self.completed.iter().filter(move |(_, m)| m.run_id == run)
    }

    /// Listing rows (CLI and REST API) of `snapshots`: each one's summary,
    /// whether it is kept, and how many of its bytes it shares with other
    /// snapshots (deleting it frees at most `exclusive-bytes`).
    pub fn rows<'a>(&self, storage: &Storage, snapshots: impl IntoIterator<Item = &'a (String, Metadata)>) -> Vec<serde_json::Value> {
        let mut users: BTreeMap<String, usize> = BTreeMap::new();
        for (d, m) in self.snapshots() {
            let files: BTreeSet<String> = referenced_files(d, m).into_iter().collect();
            for file in files {
                *users.entry(file).or_default() += 1;
            }
        }
        snapshots
            .into_iter()
            .map(|(dir, m)| {
                let mut seen = BTreeSet::new();
                let (mut bytes, mut shared) = (0u64, 0u64);
                for h in m.operators.values().flat_map(|o| &o.subtasks) {
                    let Some(file) = join_relative(dir, &h.file).filter(|f| seen.insert(f.clone())) else { continue };
                    bytes += h.size;
                    if users.get(&file).is_some_and(|n| *n > 1) {
                        shared += h.size;
                    }
                }
                let mut row = m.summary(storage.url_of(dir));
                row["kept"] = self.kept.contains(dir).into();
                row["shared-bytes"] = shared.into();
                row["exclusive-bytes"] = (bytes - shared).into();
                row
            })
            .collect()
    }
}

/// Which area of a pipeline's storage a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `<pipeline>/checkpoints/`.
    Checkpoints,
    /// `<pipeline>/savepoints/`.
    Savepoints,
}

impl Inventory {
    /// Listing rows for the snapshots of `area` whose metadata cannot be read:
    /// `{"path", "kind", "broken": <why>}`. A listing shows them with the
    /// others; it never leaves a snapshot out silently.
    pub fn broken_rows(&self, storage: &Storage, area: Area) -> Vec<serde_json::Value> {
        let (marker, kind) = match area {
            Area::Checkpoints => ("/checkpoints/", "checkpoint"),
            Area::Savepoints => ("/savepoints/", "savepoint"),
        };
        self.unreadable
            .iter()
            .filter(|(dir, _)| format!("/{dir}").contains(marker))
            .map(|(dir, why)| serde_json::json!({ "path": storage.url_of(dir), "kind": kind, "broken": why }))
            .collect()
    }
}

/// The state files (paths under the storage root) that the snapshot in `dir` references.
pub fn referenced_files(dir: &str, meta: &Metadata) -> Vec<String> {
    meta.operators.values().flat_map(|o| &o.subtasks).flat_map(|h| h.files()).filter_map(|f| join_relative(dir, &f)).collect()
}

/// Metadata files already read, by path, with the size and time they were
/// listed with: a metadata file is written once, so a later scan that lists it
/// unchanged need not read it again (a pass after every checkpoint would
/// otherwise read every retained checkpoint's metadata each time).
#[derive(Debug, Default)]
pub struct MetadataCache {
    entries: BTreeMap<String, (u64, SystemTime, Metadata)>,
}

/// Reads everything of `pipeline` in `storage`: one listing, then each metadata file.
pub async fn scan(storage: &Storage, pipeline: &str) -> Result<Inventory, CheckpointError> {
    scan_cached(storage, pipeline, &mut MetadataCache::default()).await
}

/// [`scan`], reading only the metadata files `cache` does not hold as listed.
pub async fn scan_cached(storage: &Storage, pipeline: &str, cache: &mut MetadataCache) -> Result<Inventory, CheckpointError> {
    let mut inv = Inventory::default();
    let mut dirs: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
    for item in storage.list(pipeline).await? {
        if let Some(dir) = layout::snapshot_dir_of(pipeline, &item.path) {
            if item.path == format!("{dir}/{KEPT_FILE}") {
                inv.kept.insert(dir.clone());
            }
            dirs.entry(dir).or_default().push(item.clone());
        } else if layout::is_state_file(pipeline, &item.path) {
            inv.state.push(item.clone());
        }
        inv.objects.insert(item.path.clone(), item);
    }
    for (dir, files) in dirs {
        let path = format!("{dir}/{METADATA_FILE}");
        let Some(listed) = files.iter().find(|f| f.path == path).map(|f| (f.size, f.modified)) else {
            inv.incomplete.push(Incomplete { dir, files });
            continue;
        };
        let read = match cache.entries.get(&path) {
            Some((size, modified, m)) if (*size, *modified) == listed => Ok(m.clone()),
            _ => match storage.get(&path).await {
                Err(super::StorageError::NotFound { .. }) => continue, // deleted since the listing
                other => other.map_err(CheckpointError::from).and_then(|b| Ok(Metadata::parse(&b, &storage.url_of(&path))?)),
            },
        };
        if let Ok(m) = &read {
            cache.entries.insert(path.clone(), (listed.0, listed.1, m.clone()));
        }
        match read {
            Ok(m) if m.pipeline != pipeline => inv.unreadable.push((dir, format!("belongs to pipeline `{}`", m.pipeline))),
            Ok(m) if layout::is_checkpoint_dir(pipeline, &dir) => inv.completed.push((dir, m)),
            Ok(m) => inv.savepoints.push((dir, m)),
            Err(e) => inv.unreadable.push((dir, e.to_string())),
        }
    }
    cache.entries.retain(|p, _| inv.objects.contains_key(p));
    inv.kept.retain(|d| inv.completed.iter().any(|(c, _)| c == d));
    inv.completed.sort_by_key(|(_, m)| m.id);
    inv.savepoints.sort_by(|(a, x), (b, y)| (&x.triggered_at, x.id, a).cmp(&(&y.triggered_at, y.id, b)));
    Ok(inv)
}

/// The newest completed checkpoint in `inv`, if any.
pub fn latest(storage: &Storage, inv: &Inventory) -> Option<Found> {
    for (dir, why) in &inv.unreadable {
        tracing::warn!(dir = %storage.url_of(dir), reason = %why, "ignoring a snapshot that cannot be read");
    }
    inv.completed.last().map(|(dir, metadata)| Found { storage: storage.clone(), dir: dir.clone(), metadata: metadata.clone() })
}

/// Opens the checkpoint or savepoint at `location`: a directory (or its
/// `_metadata` file) as a local path, `file://` URL, `s3://bucket/key` or
/// `memory://name/key`. S3 options come from the pipeline's storage section.
pub async fn open(location: &str, spec: &StorageSpec) -> Result<Found, CheckpointError> {
    let (storage, dir) = locate(location, spec)?;
    let path = format!("{dir}/{METADATA_FILE}");
    let bytes = match storage.get(&path).await {
        Ok(b) => b,
        Err(super::StorageError::NotFound { .. }) => {
            return Err(CheckpointError::NotFound(format!(
                "no snapshot (checkpoint or savepoint) at {}: `{METADATA_FILE}` is missing (a snapshot without it never completed)",
                storage.url_of(&dir)
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let metadata = Metadata::parse(&bytes, &storage.url_of(&path))?;
    Ok(Found { storage, dir, metadata })
}

/// The storage and directory a location names: a local path (relative to the
/// working directory, `..` and `./` allowed), `file://`, `s3://bucket/key` or
/// `memory://name/key`; a trailing `_metadata` is dropped. The one parser of
/// location arguments ([`super::storage::Target`]); S3 options come from `spec`.
pub fn locate(location: &str, spec: &StorageSpec) -> Result<(Storage, String), CheckpointError> {
    let trimmed = location.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(METADATA_FILE).map(|t| t.trim_end_matches('/')).filter(|t| !t.is_empty()).unwrap_or(trimmed);
    let cwd = std::env::current_dir().map_err(|e| CheckpointError::NotFound(format!("`{location}`: {e}")))?;
    let (target, key) = Target::parse(trimmed, &cwd)?;
    Ok(match target {
        Target::Local(path) => {
            let root = Storage::open_target(Target::Local("/".into()), "/", &Default::default())?;
            (root, path.to_string_lossy().trim_start_matches('/').to_string())
        }
        t @ Target::S3(_) => (Storage::open_target(t, trimmed, &spec.options)?, key),
        t => (Storage::open_target(t, trimmed, &Default::default())?, key),
    })
}

/// Copies checkpoint `found` into `to` as a self-contained, relocatable
/// savepoint: its own copy of every state file under `state/`, referenced
/// relatively, so retention of the checkpoint area can never break it. It
/// records `trigger: promoted` and where it came from, so that no retention
/// (periodic savepoints' included) ever treats it as its own.
pub async fn promote(found: &Found, to: &Storage, to_dir: &str) -> Result<Metadata, CheckpointError> {
    let mut source = found.clone();
    source.metadata.promoted_from =
        Some(super::metadata::PromotedFrom { path: found.url(), id: found.metadata.id, kind: found.metadata.kind, trigger: found.metadata.trigger });
    source.metadata.trigger = super::Trigger::Promoted;
    let meta = write_self_contained(&source, to, to_dir).await?;
    tracing::info!(event = "promoted", checkpoint = meta.id, to = %to.url_of(to_dir), "checkpoint promoted to a savepoint");
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
            let src =
                super::storage::join_relative(&found.dir, &h.file).ok_or_else(|| CheckpointError::Incompatible(format!("bad state reference `{}`", h.file)))?;
            let rel = format!("state/{}", h.sha256);
            let dst = format!("{to_dir}/{rel}");
            if !to.exists(&dst).await? {
                to.put(&dst, found.storage.get(&src).await?).await?;
            }
            // A memory image's pages lie beside its `file`, here and there.
            for page in h.files().into_iter().skip(1) {
                let name = page.rsplit('/').next().unwrap_or(&page).to_string();
                let src =
                    super::storage::join_relative(&found.dir, &page).ok_or_else(|| CheckpointError::Incompatible(format!("bad state reference `{page}`")))?;
                let dst = format!("{to_dir}/state/{name}");
                if !to.exists(&dst).await? {
                    to.put(&dst, found.storage.get(&src).await?).await?;
                }
            }
            h.file = rel;
        }
    }
    // Metadata last: the savepoint exists once it is written.
    to.put(&format!("{to_dir}/{METADATA_FILE}"), bytes::Bytes::from(meta.to_bytes())).await?;
    Ok(meta)
}
