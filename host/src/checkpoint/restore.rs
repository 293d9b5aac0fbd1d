//! Reading a checkpoint back for a pipeline: matching state to operators by
//! id, checking parallelism, verifying every state file's checksum.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::catalog::Found;
use super::storage::join_relative;
use super::{CheckpointError, RestoreState, StateHandle};
use bytes::Bytes;
use crate::runtime::Snapshot;
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
        if saved.parallelism != op.parallelism {
            if saved.is_stateful() {
                return Err(CheckpointError::Incompatible(format!(
                    "operator `{}` has parallelism {} but its state in {here} was taken at parallelism {}; \
                     changing the parallelism of a stateful operator is not supported yet",
                    op.id, op.parallelism, saved.parallelism
                )));
            }
            continue; // stateless: nothing to restore
        }
        let mut snapshots = Vec::with_capacity(saved.subtasks.len());
        for handle in &saved.subtasks {
            let bytes = read_state(found, handle).await?;
            snapshots.push(Snapshot::from_bytes(handle.format.clone(), handle.version, bytes));
        }
        state.operators.insert(op.id.clone(), snapshots);
    }
    for src in &spec.sources {
        match meta.sources.get(src.id()) {
            Some(pos) => {
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

/// Reads every state file `found` references and checks each against its
/// SHA-256: whether the snapshot is whole (what `host checkpoint list --verify` reports).
pub async fn verify(found: &Found) -> Result<(), CheckpointError> {
    for handle in found.metadata.operators.values().flat_map(|o| &o.subtasks) {
        read_state(found, handle).await?;
    }
    Ok(())
}
