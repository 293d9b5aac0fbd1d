//! Reading a checkpoint back for a pipeline: matching state to operators by
//! id, spreading it over the subtasks ([`rescale`]), verifying every state
//! file's (or piece's) checksum.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::catalog::Found;
use super::storage::join_relative;
use super::{CheckpointError, RestoreState, StateHandle, rescale};
use crate::control::PieceHandle;
use crate::runtime::{Restore, RestorePiece};
use crate::spec::PipelineSpec;
use bytes::Bytes;

/// Loads what `spec` needs from checkpoint `found`. State for an operator the
/// pipeline no longer has, or an operator with no state in the checkpoint, is an
/// error unless `allow_non_restored`. Reads only: restoring never modifies or
/// deletes what it restores from.
pub async fn load(found: &Found, spec: &PipelineSpec, allow_non_restored: bool, allow_drained: bool) -> Result<RestoreState, CheckpointError> {
    let meta = &found.metadata;
    let here = format!("checkpoint {}", found.url());
    if meta.pipeline != spec.name {
        return Err(CheckpointError::Incompatible(format!("{here} belongs to pipeline `{}`, not `{}`", meta.pipeline, spec.name)));
    }
    if meta.drained && !allow_drained {
        return Err(CheckpointError::Incompatible(format!(
            "{here} was taken by `host stop --drain`: the final watermark passed every operator before it, so an event-time \
             operator (a window, a join) restored from it drops all later input as late. Restore it anyway with \
             --allow-drained-state (fine for operators without event time), or stop with a savepoint without --drain to continue later"
        )));
    }
    let hint = "(pass --allow-non-restored-state to start it without)";
    let mut state = RestoreState { from: Some((found.dir.clone(), meta.id)), ..Default::default() };

    let wanted: BTreeSet<&str> = spec.operators.iter().map(|o| o.id.as_str()).collect();
    for id in meta.operators.keys().filter(|id| !wanted.contains(id.as_str())) {
        if !allow_non_restored {
            return Err(CheckpointError::Incompatible(format!("{here} holds state for operator `{id}`, which the pipeline no longer has {hint}")));
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
        if saved.subtasks.iter().any(|h| h.image.is_some()) {
            let (restores, plan) = load_images(found, &op.id, saved, op.parallelism, &here).await?;
            state.operators.insert(op.id.clone(), restores);
            state.plans.insert(op.id.clone(), plan);
            continue;
        }
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
                        if let std::collections::btree_map::Entry::Vacant(e) = files.entry(pick.from_subtask) {
                            e.insert(read_state(found, handle).await?);
                        }
                        files[&pick.from_subtask].slice(p.offset as usize..(p.offset + p.size) as usize)
                    }
                    Some(p) => read_piece(found, handle, p).await?,
                };
                pieces.push(RestorePiece { kind: pick.piece.as_ref().map(|p| p.kind), from_subtask: pick.from_subtask, bytes });
            }
            let first = &saved.subtasks[0];
            restores.push(Restore { format: first.format.clone(), version: first.version, from_parallelism: plan.from, pieces, image: None });
            files.clear();
        }
        state.operators.insert(op.id.clone(), restores);
        state.plans.insert(op.id.clone(), plan);
    }
    // A source restores no operator state: one the checkpoint has no position
    // for (new since) starts where its spec says, with no flag needed. Whether
    // a position fits the source is checked where the job opens its sources.
    for src in &spec.sources {
        match meta.sources.get(src.id()) {
            Some(pos) => {
                state.sources.insert(src.id().to_string(), pos.clone());
            }
            None => tracing::warn!(source = %src.id(), "{here} has no position for source `{}`: it starts from its beginning", src.id()),
        }
    }
    for sink in &spec.sinks {
        if let Some(s) = meta.sinks.get(sink.id()) {
            state.sinks.insert(sink.id().to_string(), s.clone());
        }
    }
    Ok(state)
}

/// The memory images of operator `id` (`state: memory`), one per subtask, read
/// and checked page by page. A memory image is one instance's memory: it
/// restores only at the parallelism it was taken at.
async fn load_images(
    found: &Found,
    id: &str,
    saved: &super::metadata::OperatorState,
    parallelism: usize,
    here: &str,
) -> Result<(Vec<Restore>, rescale::OperatorPlan), CheckpointError> {
    if saved.parallelism != parallelism {
        return Err(CheckpointError::Incompatible(format!(
            "operator `{id}`: its state in {here} is a memory image taken at parallelism {}, and the pipeline asks for {parallelism}; \
             a memory image is one instance's memory and cannot be split or merged: run it at parallelism {}, or give the operator \
             `snapshot`/`restore` exports with keyed state (cairn:operator@0.2.0) to rescale",
            saved.parallelism, saved.parallelism
        )));
    }
    let mut restores = Vec::with_capacity(parallelism);
    for handle in &saved.subtasks {
        let image = read_image(found, handle).await?;
        restores.push(Restore {
            format: handle.format.clone(),
            version: handle.version,
            from_parallelism: saved.parallelism,
            pieces: Vec::new(),
            image: Some((std::sync::Arc::new(image), saved.component_digest.clone())),
        });
    }
    let subtasks = (0..parallelism).map(|s| vec![rescale::Pick { from_subtask: s, piece: None }]).collect();
    let plan = rescale::OperatorPlan { operator: id.into(), world: saved.world, from: saved.parallelism, to: parallelism, subtasks };
    Ok((restores, plan))
}

/// Reads a memory image (`handle.image`): its globals file and every page
/// file, each checked against its SHA-256; zero pages are not stored.
pub async fn read_image(found: &Found, handle: &StateHandle) -> Result<crate::runtime::image::Image, CheckpointError> {
    use futures::StreamExt;
    let Some(pages) = &handle.image else {
        return Err(CheckpointError::Incompatible(format!("{}: `{}` is not a memory image", found.url(), handle.file)));
    };
    if pages.page_size != crate::runtime::image::PAGE as u64 {
        return Err(CheckpointError::Incompatible(format!("{}: memory image pages of {} bytes (this host reads 64 KiB pages)", found.url(), pages.page_size)));
    }
    let globals = found.storage.get(&resolve(found, &handle.file)?).await?;
    check(found, &handle.file, &globals, &handle.sha256)?;
    let dir = handle.file.rsplit_once('/').map_or(String::new(), |(d, _)| format!("{d}/"));
    let zero = Bytes::from(vec![0u8; crate::runtime::image::PAGE]);
    let mut memories = Vec::with_capacity(pages.memories.len());
    for list in &pages.memories {
        let read = futures::stream::iter(list.iter().map(|sha| {
            let (zero, rel) = (zero.clone(), sha.as_ref().map(|s| format!("{dir}{s}")));
            async move {
                let (Some(rel), Some(sha)) = (rel, sha) else { return Ok::<_, CheckpointError>(zero) };
                let bytes = found.storage.get(&resolve(found, &rel)?).await?;
                check(found, &rel, &bytes, sha)?;
                Ok(bytes)
            }
        }))
        .buffered(32)
        .collect::<Vec<_>>()
        .await;
        memories.push(read.into_iter().collect::<Result<Vec<Bytes>, _>>()?);
    }
    Ok(crate::runtime::image::Image { memories, globals })
}

fn resolve(found: &Found, rel: &str) -> Result<String, CheckpointError> {
    join_relative(&found.dir, rel).ok_or_else(|| CheckpointError::Incompatible(format!("{}: bad state reference `{rel}`", found.url())))
}

fn check(found: &Found, rel: &str, bytes: &[u8], sha: &str) -> Result<(), CheckpointError> {
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != sha {
        return Err(CheckpointError::Corrupt { path: found.storage.url_of(&resolve(found, rel)?), expected: sha.into(), actual });
    }
    Ok(())
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
        if handle.image.is_some() {
            read_image(found, handle).await?;
        } else {
            read_state(found, handle).await?;
        }
    }
    Ok(())
}
