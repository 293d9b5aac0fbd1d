//! Operators at start-up: each distinct component compiled once, then each
//! operator's subtasks set up by one function — the state to restore checked
//! against the component (contract version, memory image), grants resolved,
//! every subtask instantiated, `init`ed and `restore`d — that `host run` and
//! `host check` both call.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::checkpoint::rescale::OperatorPlan;
use crate::runtime::{Grants, Limits, OperatorComponent, OperatorInstance, Restore, Runtime, RuntimeError};
use crate::spec::{OperatorSpec, Pipeline, StateMode};

/// Compiles the component of every operator of `pipeline`, each distinct file
/// (and state mode) once. One result per operator, in pipeline order.
pub(super) fn compile(pipeline: &Pipeline, runtime: &Runtime) -> Vec<Result<OperatorComponent, RuntimeError>> {
    let mut compiled: BTreeMap<(PathBuf, StateMode), OperatorComponent> = BTreeMap::new();
    let mut out = Vec::with_capacity(pipeline.spec.operators.len());
    for op in &pipeline.spec.operators {
        let path = pipeline.resolve(&op.component);
        let component = match compiled.get(&(path.clone(), op.state)) {
            Some(c) => Ok(c.for_operator(&op.id)),
            None => {
                let t = Instant::now();
                runtime.load_as(&op.id, &path, op.state).inspect(|c| {
                    tracing::info!(operator = %op.id, path = %path.display(), digest = %&c.digest()[..12], world = %c.world(), ms = t.elapsed().as_millis() as u64, "component compiled");
                    compiled.insert((path.clone(), op.state), c.clone());
                })
            }
        };
        out.push(component);
    }
    out
}

/// What an operator starts from: its restores (one per new subtask) and the
/// plan that spread them, as the checkpoint loader produced them.
pub(super) struct Saved {
    /// One restore per subtask, if the operator has state.
    pub restores: Option<Vec<Restore>>,
    /// How its state was spread over the subtasks.
    pub plan: Option<OperatorPlan>,
}

/// An operator ready to run: one initialised (and restored) instance per subtask.
pub(super) struct Prepared {
    /// The subtasks' instances, in order.
    pub instances: Vec<OperatorInstance>,
    /// Whether state was restored into them.
    pub restored: bool,
}

/// Checks that `saved` fits `component`, resolves the grants, and creates,
/// `init`s and restores every subtask of `op`. State that does not fit is
/// dropped with a warning when `allow_non_restored` (the flag the refusals
/// name), and refused otherwise.
pub(super) fn prepare(
    pipeline: &Pipeline,
    op: &OperatorSpec,
    component: &OperatorComponent,
    saved: Saved,
    allow_non_restored: bool,
) -> Result<Prepared, RuntimeError> {
    let restores = match fits(op, component, &saved) {
        Ok(()) => saved.restores,
        Err(message) if allow_non_restored => {
            tracing::warn!(operator = %op.id, "starting without its state (--allow-non-restored-state): {message}");
            None
        }
        Err(message) => {
            return Err(RuntimeError::Refused {
                operator: op.id.clone(),
                message: format!("{message}, or start it without this state (--allow-non-restored-state)"),
            });
        }
    };
    let grants = grants(pipeline, op)?;
    let config = op.config.as_ref().map_or_else(|| "null".to_string(), |c| c.to_string());
    let inputs: Vec<String> = op.input.ids().into_iter().map(str::to_string).collect();
    let instances = (0..op.parallelism)
        .map(|s| {
            let mut inst = component.instantiate(s, Limits::from(&op.limits), &grants)?;
            inst.init_in(&config, op.parallelism, &inputs)?;
            if let Some(r) = restores.as_ref().and_then(|v| v.get(s)) {
                inst.restore(r)?;
            }
            Ok(inst)
        })
        .collect::<Result<Vec<_>, RuntimeError>>()?;
    Ok(Prepared { instances, restored: restores.is_some() })
}

/// Whether the saved state can be restored into `component`; why not, and what would help.
fn fits(op: &OperatorSpec, component: &OperatorComponent, saved: &Saved) -> Result<(), String> {
    let Some(restores) = &saved.restores else { return Ok(()) };
    let image = restores.iter().find_map(|r| r.image.as_ref());
    if let Some(plan) = saved.plan.as_ref().filter(|p| p.world != component.world()) {
        return Err(if image.is_some() {
            format!(
                "its state is a memory image taken by a {} component, and the component is now {}: a memory image fits only the exact \
                 binary that took it; to change the component, give it `snapshot`/`restore` exports (and drop `state: memory`)",
                plan.world,
                component.world()
            )
        } else {
            format!(
                "its state was written by a {} component and the component is now {}; state does not cross contract versions, so \
                 restore it with a component of the version that wrote it",
                plan.world,
                component.world()
            )
        });
    }
    match (image, component.is_memory_image()) {
        (Some((_, from)), true) if from != component.digest() => Err(format!(
            "its state is a memory image taken by component sha256 {from}, and this component ({}) is sha256 {}: a memory image fits only \
             the exact binary that took it; to upgrade the component, give the operator `snapshot`/`restore` exports (and drop `state: memory`)",
            op.component.display(),
            component.digest()
        )),
        (Some(_), false) => Err("its state is a memory image (the operator had `state: memory`): set `state: memory` again to restore it".into()),
        (None, true) => {
            let format = restores.first().map_or("", |r| r.format.as_str());
            Err(format!(
                "the operator has `state: memory`, and its state was written by its `snapshot` export (format `{format}`): drop `state: memory` to restore it"
            ))
        }
        _ => Ok(()),
    }
}

/// The environment variables and directories `op` is granted, read from the host.
fn grants(pipeline: &Pipeline, op: &OperatorSpec) -> Result<Grants, RuntimeError> {
    let refused = |message: String| RuntimeError::Refused { operator: op.id.clone(), message };
    let mut grants = Grants::default();
    for name in &op.grants.env {
        let value = std::env::var(name).map_err(|_| refused(format!("it is granted environment variable `{name}`, which is not set")))?;
        grants.env.push((name.clone(), value));
    }
    for d in &op.grants.dirs {
        let host = pipeline.resolve(&d.host);
        if !host.is_dir() {
            return Err(refused(format!("it is granted directory {}, which does not exist", host.display())));
        }
        grants.dirs.push((host, d.guest.clone()));
    }
    Ok(grants)
}
