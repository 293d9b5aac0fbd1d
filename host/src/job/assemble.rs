//! The one start-up path. [`start`] (`host run`, every in-process restart) and
//! [`check`] (`host check`) walk it the same way: decide what to restore
//! (reading only), compile the components, set up every operator subtask,
//! open every source at its position, check every sink against its state.
//! `start` then opens the sinks, begins the run (its record, the owner of its
//! storage) and wires the tasks; `check` stops there and reports.

use std::sync::Arc;

use super::build::{Assembled, Job};
use super::check::{CheckReport, Row};
use super::edges;
use super::operators::{self, Saved};
use crate::checkpoint::RestoreState;
use crate::checkpoint::lineage::RunRecord;
use crate::checkpoint::setup::{self, Resolution, StartFrom};
use crate::connectors;
use crate::dataflow::{JobControl, JobError};
use crate::runtime::Runtime;
use crate::spec::Pipeline;

/// How [`start`] went.
pub enum Started {
    /// A job ready to run.
    Ready(Box<Job>),
    /// `--resume` of a pipeline whose newest run finished: nothing runs. That run's record.
    Finished(Box<RunRecord>),
}

/// Starts a run of `pipeline` as `opts` says, up to the point where data would
/// flow. A refusal at any step leaves storage as it was: the run's record is
/// written only once everything else is ready.
/// `ctl` is the job's control; each call is one attempt of it.
pub fn start(pipeline: &Pipeline, runtime: &Runtime, ctl: &Arc<JobControl>, opts: &StartFrom, rt: tokio::runtime::Handle) -> Result<Started, JobError> {
    let spec = &pipeline.spec;
    let mut resolved = match rt.block_on(setup::resolve(spec, &pipeline.base_dir, opts))? {
        Resolution::Finished(last) => return Ok(Started::Finished(last)),
        Resolution::Run(r) => r,
    };
    let ctl = ctl.next_attempt();
    let mut restore = std::mem::take(&mut resolved.restore);
    let from = resolved.restored_from();
    let components = operators::compile(pipeline, runtime).into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut prepared = Vec::with_capacity(components.len());
    for (op, component) in spec.operators.iter().zip(&components) {
        let p = operators::prepare(pipeline, op, component, take_saved(&mut restore, &op.id), opts.allow_non_restored_state)?;
        prepared.push((op.id.clone(), component.clone(), p.instances));
    }
    let mut sources = Vec::with_capacity(spec.sources.len());
    for src in &spec.sources {
        sources.push((src.id().to_string(), edges::open_source(pipeline, src, &restore.sources, from.as_deref())?));
    }
    let mut sinks = Vec::with_capacity(spec.sinks.len());
    for sink in &spec.sinks {
        let state = restore.sinks.get(sink.id());
        sinks.push((sink.id().to_string(), connectors::open_sink(sink, &pipeline.base_dir, &spec.name, &resolved.run_id, state)?));
    }
    if ctl.is_stopped() {
        // Cancelled while starting: the run is not begun, so nothing is written.
        return Err(JobError::Aborted);
    }
    let setup = rt.block_on(resolved.begin(spec))?;
    let assembled = Assembled { operators: prepared, sources, sinks, restored_from: from };
    Ok(Started::Ready(Box::new(Job::build(pipeline, assembled, setup, ctl, rt)?)))
}

/// What `host check` does: [`start`]'s path up to where the run would begin,
/// changing nothing — sinks are checked, not opened. Every operator, source
/// and sink gets a row; the first refusal is the one `host run` would give.
pub fn check(pipeline: &Pipeline, runtime: &Runtime, opts: &StartFrom, rt: &tokio::runtime::Handle) -> Result<CheckReport, JobError> {
    let spec = &pipeline.spec;
    let mut resolved = match rt.block_on(setup::resolve(spec, &pipeline.base_dir, opts))? {
        Resolution::Finished(last) => return Ok(CheckReport::finished(*last)),
        Resolution::Run(r) => r,
    };
    let mut restore = std::mem::take(&mut resolved.restore);
    let from = resolved.restored_from();
    let mut report = CheckReport::new(from.clone());
    let components = operators::compile(pipeline, runtime);
    let mut compiled = Vec::with_capacity(components.len());
    for (op, component) in spec.operators.iter().zip(components) {
        match component {
            Ok(c) => compiled.push(Some(c)),
            Err(e) => {
                report.push(Row::operator(op, None, None), Err(e.into()));
                compiled.push(None);
            }
        }
    }
    for (op, component) in spec.operators.iter().zip(&compiled) {
        let Some(component) = component else { continue };
        let saved = take_saved(&mut restore, &op.id);
        let mut row = Row::operator(op, Some(component), Some(&saved));
        if saved.restores.is_some() && resolved.saved_digest(&op.id).is_some_and(|d| d != component.digest()) {
            row.result.push_str(", component changed since the checkpoint");
        }
        let outcome = operators::prepare(pipeline, op, component, saved, opts.allow_non_restored_state);
        report.push(row, outcome.map(|p| p.restored).map_err(JobError::from));
    }
    for src in &spec.sources {
        let outcome = edges::open_source(pipeline, src, &restore.sources, from.as_deref());
        report.push(Row::source(src, restore.sources.contains_key(src.id())), outcome.map(|_| false).map_err(JobError::from));
    }
    for sink in &spec.sinks {
        let state = restore.sinks.get(sink.id());
        let outcome = connectors::check_sink(sink, &pipeline.base_dir, state);
        report.push(Row::sink(sink, state.is_some()), outcome.map(|_| state.is_some()).map_err(JobError::from));
    }
    Ok(report)
}

/// `host validate`: every operator's component compiled and every subtask
/// instantiated and `init`ed with its config and grants (so that a config its
/// `init` refuses is caught here, not at `host run`); nothing is restored and
/// no connector opened. The components, in pipeline order.
pub fn validate(pipeline: &Pipeline, runtime: &Runtime) -> Result<Vec<crate::runtime::OperatorComponent>, JobError> {
    let components = operators::compile(pipeline, runtime).into_iter().collect::<Result<Vec<_>, _>>()?;
    for (op, component) in pipeline.spec.operators.iter().zip(&components) {
        operators::prepare(pipeline, op, component, Saved { restores: None, plan: None }, false)?;
    }
    Ok(components)
}

/// The state operator `id` restores, taken out of `restore`.
fn take_saved(restore: &mut RestoreState, id: &str) -> Saved {
    Saved { restores: restore.operators.remove(id), plan: restore.plans.remove(id) }
}
