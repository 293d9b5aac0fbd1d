//! The owner of snapshot data: the one component that deletes anything in a
//! pipeline's storage. Checkpoint retention, the end-of-job policy, periodic
//! savepoint retention, the clean-up of what dead runs left, `host storage gc`
//! and `host savepoint dispose` are all passes of this module.
//!
//! # The invariant
//!
//! *A file referenced by the metadata of any completed snapshot in storage, or
//! by a snapshot in flight (including a state file it found already present and
//! reuses), is never deleted.*
//!
//! # Why it holds
//!
//! A pass is [`scan`](super::catalog::scan) → [`plan`] → [`execute`]: it
//! lists storage, reads every metadata file, and removes only what is neither a
//! kept snapshot nor referenced by one. Two things could make the scan stale
//! before a removal, and each is excluded by construction, not by timing:
//!
//! 1. *A snapshot completes during the pass* (its metadata appears after the
//!    scan, so its files look unreferenced). The live owner's passes run on the
//!    coordinator's own task, awaited between one snapshot's completion and the
//!    next trigger ([`Owner::after_snapshot`]); the end-of-job pass runs after
//!    the coordinator has stopped; the start pass before it starts. So no
//!    snapshot of this job completes while a pass runs. `host storage gc`
//!    refuses to run while the pipeline's newest run is alive.
//! 2. *An upload reuses a file the pass is about to delete* (content-addressed
//!    state: an unchanged snapshot finds its file present and skips the upload).
//!    Uploads pin a digest before they look whether its file exists, and a pass
//!    deletes a state file only while holding the pin lock and only if it is not
//!    pinned. Either the pin comes first (the file stays) or the deletion does
//!    (the upload then finds no file and writes it again). Pins are released
//!    when the snapshot's metadata is written, which (1) orders after the scan
//!    of any pass that could see the file as unreferenced.
//!
//! Garbage (temporary files of interrupted writes, snapshot directories without
//! metadata) is removed once it is older than this process (its writer is
//! dead: one job runs a pipeline at a time) or older than a grace period.
//!
//! # Ownership across runs
//!
//! See [`super::lineage`]: retention counts over the current run's lineage,
//! checkpoints of claimed runs go once the current run has completed its first
//! checkpoint, checkpoints a run restored from without claiming them are never
//! deleted by anyone but the user, and neither are persistent (kept)
//! checkpoints of runs nobody claimed, nor savepoints other than periodic ones.

mod dispose;
mod plan;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use tracing::Instrument;

pub use dispose::{Disposed, dispose};
pub use plan::{Item, Plan, Removal, Report, Rules, Why, execute, plan};

use super::catalog::{self, Inventory};
use super::lineage::{self, Ended, Ending, RunRecord};
use super::{CheckpointError, Pins, Storage, layout};

/// Garbage younger than this, written after this process started, is left for
/// a later pass (its writer may still be at work).
pub const GRACE: Duration = Duration::from_secs(600);

/// When this process's first run began: garbage older than this was left by a dead process.
fn process_start() -> SystemTime {
    static START: OnceLock<SystemTime> = OnceLock::new();
    *START.get_or_init(SystemTime::now)
}

impl Rules {
    /// The rules of a pass of this process for run `current`: garbage older than
    /// the process (or than [`GRACE`]) goes, state files go unless pinned.
    pub fn live(retain: usize, current: &str) -> Rules {
        Rules {
            retain,
            current: Some(current.into()),
            garbage_before: process_start().max(SystemTime::now() - GRACE),
            state_before: None,
            periodic_savepoints: None,
        }
    }
}

/// The live owner of one run's pipeline storage.
pub struct Owner {
    storage: Storage,
    pipeline: String,
    pins: Pins,
    run_id: String,
    record: tokio::sync::Mutex<RunRecord>,
    retain: usize,
    periodic: (Option<usize>, Option<Duration>),
    cache: tokio::sync::Mutex<catalog::MetadataCache>,
}

impl Owner {
    /// Writes the run's record (what it restored from, what it claims) and
    /// removes what dead runs left behind. Deletes no checkpoint of the lineage:
    /// claimed checkpoints go once this run's first checkpoint completes.
    pub async fn begin(
        storage: Storage,
        pipeline: &str,
        pins: Pins,
        record: RunRecord,
        retain: usize,
        periodic: (Option<usize>, Option<Duration>),
    ) -> Result<Owner, CheckpointError> {
        process_start();
        record.write(&storage, pipeline).await?;
        let owner = Owner {
            storage,
            pipeline: pipeline.into(),
            pins,
            run_id: record.run_id.clone(),
            record: tokio::sync::Mutex::new(record),
            retain,
            periodic,
            cache: Default::default(),
        };
        if let Err(e) = owner.pass(false).await {
            tracing::warn!(error = %e, "cannot clean up what earlier runs left in storage; continuing");
        }
        Ok(owner)
    }

    /// The pipeline's storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The pins of the run's uploads.
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// The pass after a snapshot completed or was aborted; the coordinator awaits
    /// it before it triggers the next one (see the module's argument).
    pub async fn after_snapshot(&self, periodic_savepoint: bool) -> Result<Report, CheckpointError> {
        let started = std::time::Instant::now();
        let report = self.pass(periodic_savepoint).instrument(tracing::debug_span!("retention")).await?;
        tracing::debug!(
            event = "retention",
            removed = report.removed.len(),
            bytes = report.bytes(),
            ms = started.elapsed().as_millis() as u64,
            "retention pass"
        );
        Ok(report)
    }

    async fn pass(&self, periodic_savepoint: bool) -> Result<Report, CheckpointError> {
        let rules = Rules { periodic_savepoints: periodic_savepoint.then_some(self.periodic), ..Rules::live(self.retain, &self.run_id) };
        let mut cache = self.cache.lock().await;
        let report = run_pass(&self.storage, &self.pipeline, &rules, Some(&self.pins), false, &mut cache).await?;
        log_report(&self.storage, &report);
        Ok(report.1)
    }

    /// Applies the end-of-job policy: with `keep`, the newest checkpoint of the
    /// lineage is marked persistent (`_kept`, with `reason`) and its URL returned;
    /// without, every checkpoint of the lineage is deleted. How the run ended is
    /// written to its record *before* anything is deleted, so that a kill in the
    /// middle leaves a state the next `--resume` (or `host storage gc`) finishes.
    pub async fn end(&self, how: Ending, keep: Option<&str>) -> Result<Option<String>, CheckpointError> {
        let inv = catalog::scan_cached(&self.storage, &self.pipeline, &mut *self.cache.lock().await).await?;
        let runs = lineage::runs(&self.storage, &self.pipeline).await?;
        let ours = lineage::lineage(&runs, &self.run_id);
        let newest = inv.completed.iter().rev().find(|(_, m)| ours.contains(&m.run_id)).map(|(d, _)| d.clone());
        let kept = match (keep, &newest) {
            (Some(reason), Some(dir)) => {
                let marker = serde_json::json!({ "reason": reason, "at": lineage::now() });
                self.storage.put(&format!("{dir}/{}", layout::KEPT_FILE), bytes::Bytes::from(marker.to_string())).await?;
                tracing::info!(event = "retained", dir = %self.storage.url_of(dir), reason, "checkpoint kept after the job ended");
                Some(dir.clone())
            }
            _ => None,
        };
        {
            let mut record = self.record.lock().await;
            record.ended = Some(Ended { how, at: lineage::now(), kept: kept.clone() });
            record.write(&self.storage, &self.pipeline).await?;
        }
        self.pass(false).await?;
        Ok(kept.map(|d| self.storage.url_of(&d)))
    }
}

/// One pass: scan, plan by `rules`, and (unless `dry_run`) execute. Returns the
/// plan and what was removed.
pub async fn run_pass(
    storage: &Storage,
    pipeline: &str,
    rules: &Rules,
    pins: Option<&Pins>,
    dry_run: bool,
    cache: &mut catalog::MetadataCache,
) -> Result<(Plan, Report), CheckpointError> {
    let inv: Inventory = catalog::scan_cached(storage, pipeline, cache).await?;
    let runs = lineage::runs(storage, pipeline).await?;
    let temps = storage.temp_files(pipeline);
    let plan = plan::plan(pipeline, &inv, &runs, &temps, rules);
    if dry_run {
        return Ok((plan, Report::default()));
    }
    let report = plan::execute(&plan, storage, pins).await?;
    storage.prune_empty_dirs(&layout::checkpoints_dir(pipeline));
    Ok((plan, report))
}

fn log_report(storage: &Storage, (_, report): &(Plan, Report)) {
    let mut files = 0usize;
    for r in &report.removed {
        match &r.item {
            Item::Snapshot { dir, id, .. } => {
                let what = match r.why {
                    Why::PeriodicSavepoint => "periodic savepoint deleted by its retention",
                    Why::Superseded => "checkpoint of a dead run deleted: the run that claimed it superseded it",
                    Why::Ended => "checkpoint deleted: the job ended",
                    _ => "checkpoint deleted by retention",
                };
                tracing::info!(event = "deleted", checkpoint = id, dir = %storage.url_of(dir), reason = %r.why, "{what}")
            }
            Item::Leftover { dir, .. } => tracing::info!(event = "deleted", dir = %storage.url_of(dir), reason = %r.why, "incomplete snapshot removed"),
            _ => files += 1,
        }
    }
    if files > 0 {
        tracing::info!(event = "deleted", files, bytes = report.bytes(), "unreferenced state, temporary files and old run records removed");
    }
}

/// Options of `host storage gc`.
#[derive(Clone, Debug)]
pub struct GcOptions {
    /// `checkpoints.retain` of the pipeline.
    pub retain: usize,
    /// Garbage and unreferenced state younger than this stays.
    pub grace: Duration,
    /// Say what would be removed; remove nothing.
    pub dry_run: bool,
    /// Run even when the newest run's process cannot be checked (another machine, a reboot).
    pub force: bool,
}

/// `host storage gc`: with no job running, removes what the owner would:
/// superseded checkpoints of dead runs, checkpoints beyond retention, the
/// clean-up of a job killed while it ended, unreferenced state files,
/// temporary files and directories without metadata older than the grace
/// period, and records of runs with nothing left. Never a savepoint, a kept
/// checkpoint nobody claimed, or a checkpoint a run restored from without claiming it.
pub async fn gc(storage: &Storage, pipeline: &str, opts: &GcOptions) -> Result<(Plan, Report), CheckpointError> {
    let runs = lineage::runs(storage, pipeline).await?;
    if let Some(newest) = runs.last().filter(|r| r.ended.is_none()) {
        match newest.alive() {
            Some(true) => {
                return Err(CheckpointError::Incompatible(format!(
                    "a job of pipeline `{pipeline}` is running (run {}, pid {}): stop it first; its own retention cleans up while it runs",
                    newest.run_id, newest.pid
                )));
            }
            None if !opts.force => {
                return Err(CheckpointError::Incompatible(format!(
                    "run {} of pipeline `{pipeline}` has not ended and ran on another machine (or before a reboot): \
                     if no job of this pipeline runs anywhere, pass --force",
                    newest.run_id
                )));
            }
            _ => {}
        }
    }
    let before = SystemTime::now() - opts.grace;
    let rules = Rules {
        retain: opts.retain,
        current: runs.last().map(|r| r.run_id.clone()),
        garbage_before: before,
        state_before: Some(before),
        periodic_savepoints: None,
    };
    run_pass(storage, pipeline, &rules, None, opts.dry_run, &mut Default::default()).await
}

/// Completes the end-of-job clean-up of `last`, a finished run, in case a kill
/// interrupted it (a `--resume` of a finished pipeline runs nothing else).
pub async fn finish_clean_up(storage: &Storage, pipeline: &str, retain: usize, last: &RunRecord) -> Result<Report, CheckpointError> {
    let rules = Rules::live(retain, &last.run_id);
    let (_, report) = run_pass(storage, pipeline, &rules, None, false, &mut Default::default()).await?;
    if !report.removed.is_empty() {
        tracing::info!(removed = report.removed.len(), "finished the end-of-job clean-up of the last run, which had been interrupted");
    }
    Ok(report)
}
