//! Retention and garbage collection: keep this run's newest N checkpoints,
//! delete the rest, the leftovers of checkpoints that never completed, and
//! state files no kept checkpoint references. Runs in the background; it only
//! holds the pin lock for one deletion at a time, so it never blocks a checkpoint.

use std::collections::BTreeSet;

use super::metadata::METADATA_FILE;
use super::pins::is_pinned;
use super::storage::join_relative;
use super::{CheckpointError, Pins, Storage, catalog, layout};

/// What a retention pass removed.
#[derive(Debug, Default)]
pub struct Report {
    /// Checkpoint directories deleted (old or incomplete).
    pub checkpoints_deleted: Vec<String>,
    /// Unreferenced state files deleted.
    pub state_files_deleted: usize,
}

/// Keeps the newest `retain` completed checkpoints of run `run_id` (other runs'
/// checkpoints are never touched: a run restored from one must not delete it),
/// removes incomplete checkpoint directories (`keep_dirs` excepted: in flight) and
/// unreferenced, unpinned state files.
pub async fn run(
    storage: &Storage,
    pins: &Pins,
    pipeline: &str,
    run_id: &str,
    retain: usize,
    keep_dirs: &BTreeSet<String>,
) -> Result<Report, CheckpointError> {
    let listing = catalog::list(storage, pipeline).await?;
    let mut report = Report::default();
    let ours: Vec<&(String, super::Metadata)> = listing.completed.iter().filter(|(_, m)| m.run_id == run_id).collect();
    let expired: BTreeSet<String> = ours.iter().rev().skip(retain).map(|(d, _)| d.clone()).collect();
    for dir in &expired {
        // Metadata first: a half-deleted checkpoint must not look complete.
        storage.delete(&format!("{dir}/{METADATA_FILE}")).await?;
        storage.delete_all(dir).await?;
        tracing::info!(event = "deleted", dir = %dir, "checkpoint deleted by retention");
        report.checkpoints_deleted.push(dir.clone());
    }
    for dir in listing.incomplete.iter().filter(|d| !keep_dirs.contains(*d)) {
        storage.delete_all(dir).await?;
        tracing::info!(event = "deleted", dir = %dir, "incomplete checkpoint removed");
        report.checkpoints_deleted.push(dir.clone());
    }

    let mut referenced = BTreeSet::new();
    for (dir, meta) in listing.completed.iter().filter(|(d, _)| !expired.contains(d)) {
        for op in meta.operators.values() {
            for h in &op.subtasks {
                if let Some(p) = join_relative(dir, &h.file) {
                    referenced.insert(p);
                }
            }
        }
    }
    storage.prune_empty_dirs(&layout::checkpoints_dir(pipeline));
    // Checkpoints that could not be read may still be someone's: keep what they might reference.
    if !listing.unreadable.is_empty() {
        return Ok(report);
    }
    for file in storage.list(&layout::state_dir(pipeline)).await? {
        if referenced.contains(&file.path) {
            continue;
        }
        let sha = file.path.rsplit('/').next().unwrap_or_default().to_string();
        let pinned = pins.lock().await;
        if !is_pinned(&pinned, &sha) {
            storage.delete(&file.path).await?;
            report.state_files_deleted += 1;
        }
        drop(pinned);
    }
    if report.state_files_deleted > 0 {
        tracing::info!(event = "deleted", files = report.state_files_deleted, "unreferenced state files removed");
    }
    Ok(report)
}

/// Marker file of a checkpoint kept when its job ended (persistent checkpoint).
pub const KEPT_FILE: &str = "_kept";

/// Applies the end-of-job policy to run `run_id`: with `keep = Some(reason)` the
/// newest completed checkpoint of the run is marked persistent (and returned);
/// with `None` every checkpoint of the run is deleted, then unreferenced state.
pub async fn end_of_run(
    storage: &Storage,
    pins: &Pins,
    pipeline: &str,
    run_id: &str,
    keep: Option<&str>,
) -> Result<Option<String>, CheckpointError> {
    let listing = catalog::list(storage, pipeline).await?;
    let ours: Vec<&String> = listing.completed.iter().filter(|(_, m)| m.run_id == run_id).map(|(d, _)| d).collect();
    match keep {
        Some(reason) => {
            let Some(last) = ours.last() else { return Ok(None) };
            let marker = serde_json::json!({
                "reason": reason,
                "at": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            });
            storage.put(&format!("{last}/{KEPT_FILE}"), bytes::Bytes::from(marker.to_string())).await?;
            tracing::info!(event = "retained", dir = %last, reason, "checkpoint kept after the job ended");
            Ok(Some(format!("{}/{last}", storage.url())))
        }
        None => {
            for dir in ours {
                storage.delete(&format!("{dir}/{METADATA_FILE}")).await?;
                storage.delete_all(dir).await?;
                tracing::info!(event = "deleted", dir = %dir, "checkpoint deleted: the job finished");
            }
            run(storage, pins, pipeline, run_id, usize::MAX, &BTreeSet::new()).await?;
            Ok(None)
        }
    }
}

/// Retention of periodic savepoints: keeps the newest `retain` (all when `None`)
/// and deletes those triggered more than `max_age` ago. Savepoints taken on
/// request, on stop or by promotion are never touched. Returns the directories deleted.
pub async fn periodic_savepoints(
    storage: &Storage,
    pipeline: &str,
    retain: Option<usize>,
    max_age: Option<std::time::Duration>,
) -> Result<Vec<String>, CheckpointError> {
    let periodic: Vec<(String, super::Metadata)> = catalog::savepoints(storage, pipeline)
        .await?
        .into_iter()
        .filter(|(_, m)| m.kind == super::Kind::Savepoint && m.trigger == super::Trigger::Periodic)
        .collect();
    let now = std::time::SystemTime::now();
    let too_old = |m: &super::Metadata| {
        max_age.is_some_and(|age| {
            humantime::parse_rfc3339(&m.triggered_at).is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age))
        })
    };
    let n = periodic.len();
    let mut deleted = Vec::new();
    for (i, (dir, m)) in periodic.iter().enumerate() {
        let beyond_count = retain.is_some_and(|r| n - i > r);
        if !(beyond_count || too_old(m)) {
            continue;
        }
        storage.delete(&format!("{dir}/{METADATA_FILE}")).await?;
        storage.delete_all(dir).await?;
        storage.remove_empty_dir(dir);
        tracing::info!(event = "deleted", savepoint = m.id, dir = %dir, "periodic savepoint deleted by its retention");
        deleted.push(dir.clone());
    }
    Ok(deleted)
}
