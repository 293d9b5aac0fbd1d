//! The checkpoint side of starting a run, before any task exists: open and
//! probe storage, decide what to restore (`--from`, `--resume`, an in-process
//! restart), what the run claims, its first snapshot id, and start the owner
//! of the pipeline's storage with the run's record. `Job::build` only wires
//! what this produced.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::lineage::{self, Ending, Origin, RunRecord};
use super::owner::{self, Owner};
use super::{CheckpointError, Kind, Pins, RestoreState, Storage, catalog, layout, restore};
use crate::spec::PipelineSpec;

/// Where a run starts from.
#[derive(Clone, Debug, Default)]
pub struct StartFrom {
    /// Restore from this snapshot (path or URL).
    pub from: Option<String>,
    /// Restore from the newest completed checkpoint of the pipeline, claiming every earlier run.
    pub resume: bool,
    /// With `from`: claim the run of that checkpoint (Flink's CLAIM mode), so
    /// that it is deleted once this run supersedes it. Refused for savepoints.
    pub claim: bool,
    /// Runs claimed besides (an in-process restart claims the attempt it replaces).
    pub claims: Vec<String>,
    /// Let operators without state start empty and skip state of removed operators.
    pub allow_non_restored_state: bool,
}

/// What the checkpoint machinery of one run starts with.
pub struct RunSetup {
    /// The pipeline's storage.
    pub storage: Storage,
    /// The new run's id.
    pub run_id: String,
    /// The state to restore.
    pub restore: RestoreState,
    /// The snapshot restored from, as a URL.
    pub restored_from: Option<String>,
    /// The id of the run's first snapshot (ids increase across a pipeline's runs).
    pub first_id: u64,
    /// Digests in use by snapshots in flight.
    pub pins: Pins,
    /// The owner of the pipeline's storage for this run.
    pub owner: Arc<Owner>,
}

/// How a run starts.
pub enum Start {
    /// Run, from [`RunSetup`].
    Run(RunSetup),
    /// `--resume` of a pipeline whose newest run finished: nothing runs, nothing
    /// is rewritten. The record of that run.
    Finished(RunRecord),
}

/// Prepares the checkpoint side of a run of `spec` (relative storage paths are
/// taken from `base_dir`).
pub async fn prepare(spec: &PipelineSpec, base_dir: &Path, opts: &StartFrom) -> Result<Start, CheckpointError> {
    let storage = Storage::open(&spec.storage, base_dir)?;
    storage.check_reachable(Duration::from_secs(15)).await?;
    let name = &spec.name;
    let inv = catalog::scan(&storage, name).await?;
    let runs = lineage::runs(&storage, name).await?;
    let mut claims = opts.claims.clone();
    let found = match (&opts.from, opts.resume) {
        (Some(from), _) => {
            let found = catalog::open(from, &spec.storage).await?;
            if opts.claim {
                if found.metadata.kind == Kind::Savepoint {
                    return Err(CheckpointError::Incompatible(format!(
                        "--claim: {} is a savepoint, and savepoints are never claimed (they are the user's)",
                        found.url()
                    )));
                }
                let area = storage.url_of(&layout::checkpoints_dir(name));
                if !found.url().starts_with(&format!("{area}/")) {
                    return Err(CheckpointError::Incompatible(format!("--claim: {} is not in the checkpoint area of pipeline `{name}` ({area})", found.url())));
                }
                claims.push(found.metadata.run_id.clone());
            }
            Some(found)
        }
        (None, true) => {
            // A pipeline whose newest run finished has nothing to resume.
            if let Some(last) = runs.last().filter(|r| r.ended.as_ref().is_some_and(|e| e.how == Ending::Finished)) {
                owner::finish_clean_up(&storage, name, spec.checkpoints.retain, last).await?;
                return Ok(Start::Finished(last.clone()));
            }
            // Resuming claims every earlier run.
            claims.extend(runs.iter().map(|r| r.run_id.clone()).chain(inv.completed.iter().map(|(_, m)| m.run_id.clone())));
            let latest = catalog::latest(&storage, &inv);
            if latest.is_none() {
                tracing::warn!(storage = %storage.url(), "--resume: no completed checkpoint of `{name}` yet; starting from the beginning");
            }
            latest
        }
        (None, false) => None,
    };
    let restore = match &found {
        Some(f) => {
            let r = restore::load(f, spec, opts.allow_non_restored_state).await?;
            tracing::info!(event = "restoring", checkpoint = f.metadata.id, from = %f.url(), claimed = claims.contains(&f.metadata.run_id), "restoring from checkpoint");
            r
        }
        None => RestoreState::default(),
    };
    let first_id = inv.newest_id().max(found.as_ref().map_or(0, |f| f.metadata.id)) + 1;
    let run_id = layout::new_run_id();
    // Close the claims over what the claimed runs claimed, so that a lineage never
    // depends on the record of a run that has nothing left.
    let mut claims: Vec<String> = claims.iter().flat_map(|c| lineage::lineage(&runs, c)).collect();
    claims.sort();
    claims.dedup();
    claims.retain(|c| c != &run_id);
    let origin = found.as_ref().map(|f| Origin { path: f.url(), id: f.metadata.id, run_id: f.metadata.run_id.clone(), kind: f.metadata.kind });
    let record = RunRecord::new(&run_id, origin, claims);
    let pins = Pins::default();
    let periodic = (spec.savepoints.retain, spec.savepoints.max_age.map(|a| a.0));
    let owner = Owner::begin(storage.clone(), name, pins.clone(), record, spec.checkpoints.retain, periodic).await?;
    Ok(Start::Run(RunSetup { storage, run_id, restore, restored_from: found.as_ref().map(catalog::Found::url), first_id, pins, owner: Arc::new(owner) }))
}
