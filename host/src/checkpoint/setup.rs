//! The checkpoint side of starting a run, before any task exists: open and
//! probe storage, decide what to restore (`--from`, `--resume`, an in-process
//! restart), what the run claims, its first snapshot id, and start the owner
//! of the pipeline's storage with the run's record. [`resolve`] decides and
//! reads only; [`Resolved::begin`] writes. The job's assembly (`crate::job`)
//! runs between the two, so that a run refused at start writes nothing.

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
    /// Restore a snapshot taken by `host stop --drain` (its event-time operators have seen the final watermark).
    pub allow_drained_state: bool,
    /// The highest snapshot id earlier attempts of this job used (completed or
    /// not): an in-process restart numbers its snapshots after it, so that ids
    /// stay unique within a run and its lineage.
    pub used_ids: u64,
}

/// What the checkpoint machinery of one run starts with.
pub struct RunSetup {
    /// The pipeline's storage.
    pub storage: Storage,
    /// The new run's id.
    pub run_id: String,
    /// The snapshot restored from, as a URL.
    pub restored_from: Option<String>,
    /// The id of the run's first snapshot (ids increase across a pipeline's runs).
    pub first_id: u64,
    /// Digests in use by snapshots in flight.
    pub pins: Pins,
    /// The owner of the pipeline's storage for this run.
    pub owner: Arc<Owner>,
}

/// What a run would restore, decided without writing anything: the first half
/// of starting a run, and all that `host check` needs of the checkpoint side.
pub struct Resolved {
    storage: Storage,
    name: String,
    runs: Vec<RunRecord>,
    found: Option<catalog::Found>,
    claims: Vec<String>,
    first_id: u64,
    /// The new run's id (nothing is written under it until [`Resolved::begin`]).
    pub run_id: String,
    /// The state to restore.
    pub restore: RestoreState,
}

/// What [`resolve`] found.
pub enum Resolution {
    /// A run can start (or be checked).
    Run(Box<Resolved>),
    /// `--resume` of a pipeline whose newest run finished: nothing runs.
    Finished(Box<RunRecord>),
}

/// Opens and probes storage and decides what a run of `spec` restores
/// (`--from`, `--resume`, an in-process restart) and what it would claim.
/// Reads only — except that `--resume` of a finished pipeline finishes that
/// run's interrupted clean-up.
pub async fn resolve(spec: &PipelineSpec, base_dir: &Path, opts: &StartFrom) -> Result<Resolution, CheckpointError> {
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
                return Ok(Resolution::Finished(Box::new(last.clone())));
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
        Some(f) => restore::load(f, spec, opts.allow_non_restored_state, opts.allow_drained_state).await?,
        None => RestoreState::default(),
    };
    let first_id = inv.newest_id().max(found.as_ref().map_or(0, |f| f.metadata.id)).max(opts.used_ids) + 1;
    let run_id = layout::new_run_id();
    Ok(Resolution::Run(Box::new(Resolved { storage, name: name.clone(), runs, found, claims, first_id, run_id, restore })))
}

impl Resolved {
    /// The snapshot restored from, as a URL.
    pub fn restored_from(&self) -> Option<String> {
        self.found.as_ref().map(catalog::Found::url)
    }

    /// The digest of the component that wrote operator `id`'s state, if restoring it.
    pub fn saved_digest(&self, id: &str) -> Option<&str> {
        self.found.as_ref()?.metadata.operators.get(id).map(|o| o.component_digest.as_str())
    }

    /// Begins the run: writes its record (origin and claims) and starts the
    /// owner of the pipeline's storage. Nothing before this wrote anything, so
    /// a run refused earlier leaves no record and claims nothing.
    pub async fn begin(self: Box<Self>, spec: &PipelineSpec) -> Result<RunSetup, CheckpointError> {
        let Resolved { storage, name, runs, found, claims, first_id, run_id, restore: _ } = *self;
        if let Some(f) = &found {
            tracing::info!(event = "restoring", checkpoint = f.metadata.id, from = %f.url(), claimed = claims.contains(&f.metadata.run_id), "restoring from checkpoint");
        }
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
        let owner = Owner::begin(storage.clone(), &name, pins.clone(), record, spec.checkpoints.retain, periodic).await?;
        let restored_from = found.as_ref().map(catalog::Found::url);
        Ok(RunSetup { storage, run_id, restored_from, first_id, pins, owner: Arc::new(owner) })
    }
}
