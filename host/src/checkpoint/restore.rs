//! Reading a checkpoint back for a pipeline: matching state to operators by
//! id, spreading it over the subtasks ([`rescale`]), verifying every state
//! file's (or piece's) checksum.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::catalog::Found;
use super::storage::join_relative;
use super::{CheckpointError, RestoreState, StateHandle, rescale};
use bytes::Bytes;
use crate::control::PieceHandle;
use crate::runtime::{Restore, RestorePiece};
use crate::spec::PipelineSpec;

/// Loads what `spec` needs from checkpoint `found`. State for an operator the
/// pipeline no longer has, or an operator with no state in the checkpoint, is an
/// error unless `allow_non_restored`. Reads only: restoring never modifies or
/// deletes what it restores from.
pub async fn load(found: &Found, spec: &PipelineSpec, allow_non_restored: bool) -> Result<RestoreState, CheckpointError> {
    let meta = &found.metadata;
    let here = format!("{} `{}`", "checkpoint", found.dir);
    if meta.pipeline != spec.name {
        return Err(CheckpointError::Incompatible(format!(
            "{here} belongs to pipeline `{}`, not `{}`",
            meta.pipeline, spec.name
        )));
    }
    let hint = "(pass --allow-non-restored-state to start it without)";
    let mut state = RestoreState { from: Some((found.dir.clone(), meta.id)), ..Default::default() };

    let wanted: BTreeSet<&str> = spec.operators.iter().map(|o| o.id.as_str()).collect();
    for id in meta.operators.keys().filter(|id| !wanted.contains(id.as_str())) {
        if !allow_non_restored {
            return Err(CheckpointError::Incompatible(format!(
                "{here} holds state for operator `{id}`, which the pipeline no longer has {hint}"
            )));
        }
        tracing::warn!(operator = %id, "skipping state of an operator the pipeline no longer has");
    }
    for op in &spec.operators {
        let Some(saved) = meta.operators.get(&op.id) else {
            if !allow_non_restored {
                return Err(CheckpointError::Incompatible(format!("{here} has no state for operator `{}` {hint}", op.id)));
            }
            tracing::warn!(operator = %op.id, "operator starts without state");
            continue;
        };
        let plan = rescale::plan(&op.id, saved, op.parallelism).map_err(|e| CheckpointError::Incompatible(format!("{e} (in {here})")))?;
        let Some(plan) = plan else {
            continue; // stateless at another parallelism: nothing to restore
        };
        let mut restores = Vec::with_capacity(plan.subtasks.len());
        let mut files: BTreeMap<usize, Bytes> = BTreeMap::new();
        for picks in &plan.subtasks {
            let mut pieces = Vec::with_capacity(picks.len());
            for pick in picks {
                let handle = &saved.subtasks[pick.from_subtask];
                let bytes = match &pick.piece {
                    None => read_state(found, handle).await?,
                    // At the same parallelism every piece of the file is needed: read it once, whole.
                    Some(p) if plan.from == plan.to => {
                        if !files.contains_key(&pick.from_subtask) {
                            files.insert(pick.from_subtask, read_state(found, handle).await?);
                        }
                        files[&pick.from_subtask].slice(p.offset as usize..(p.offset + p.size) as usize)
                    }
                    Some(p) => read_piece(found, handle, p).await?,
                };
                pieces.push(RestorePiece { kind: pick.piece.as_ref().map(|p| p.kind), from_subtask: pick.from_subtask, bytes });
            }
            let first = &saved.subtasks[0];
            restores.push(Restore { format: first.format.clone(), version: first.version, from_parallelism: plan.from, pieces });
            files.clear();
        }
        state.operators.insert(op.id.clone(), restores);
        state.plans.insert(op.id.clone(), plan);
    }
    for src in &spec.sources {
        match meta.sources.get(src.id()) {
            Some(pos) => {
                crate::connectors::check_position(src, pos).map_err(|e| CheckpointError::Incompatible(format!("{e} (in {here})")))?;
                state.sources.insert(src.id().to_string(), pos.clone());
            }
            None if allow_non_restored => tracing::warn!(source = %src.id(), "source starts from the beginning"),
            None => {
                return Err(CheckpointError::Incompatible(format!("{here} has no position for source `{}` {hint}", src.id())));
            }
        }
    }
    for sink in &spec.sinks {
        if let Some(s) = meta.sinks.get(sink.id()) {
            state.sinks.insert(sink.id().to_string(), s.clone());
        }
    }
    Ok(state)
}

/// Reads one state file of `found` and checks it against its handle (size and SHA-256).
pub async fn read_state(found: &Found, handle: &StateHandle) -> Result<Bytes, CheckpointError> {
    let path = join_relative(&found.dir, &handle.file)
        .ok_or_else(|| CheckpointError::Incompatible(format!("{}: bad state reference `{}`", found.url(), handle.file)))?;
    let bytes = found.storage.get(&path).await?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != handle.sha256 || bytes.len() as u64 != handle.size {
        return Err(CheckpointError::Corrupt { path: found.storage.url_of(&path), expected: handle.sha256.clone(), actual });
    }
    Ok(bytes)
}

/// Reads one piece of a state file (a ranged read) and checks its size and SHA-256.
pub async fn read_piece(found: &Found, handle: &StateHandle, piece: &PieceHandle) -> Result<Bytes, CheckpointError> {
    let path = join_relative(&found.dir, &handle.file)
        .ok_or_else(|| CheckpointError::Incompatible(format!("{}: bad state reference `{}`", found.url(), handle.file)))?;
    let bytes = found.storage.get_range(&path, piece.offset..piece.offset + piece.size).await?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != piece.sha256 || bytes.len() as u64 != piece.size {
        let at = format!("{} (bytes {}..{})", found.storage.url_of(&path), piece.offset, piece.offset + piece.size);
        return Err(CheckpointError::Corrupt { path: at, expected: piece.sha256.clone(), actual });
    }
    Ok(bytes)
}

/// Reads every state file `found` references and checks each against its
/// SHA-256: whether the snapshot is whole (what `host checkpoint list --verify` reports).
pub async fn verify(found: &Found) -> Result<(), CheckpointError> {
    for handle in found.metadata.operators.values().flat_map(|o| &o.subtasks) {
        read_state(found, handle).await?;
    }
    Ok(())
}
