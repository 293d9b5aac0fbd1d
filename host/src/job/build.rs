//! Wiring an assembled job: channels between the tasks, one task (thread) per
//! source, operator subtask and sink, and the checkpoint coordinator that
//! drives them. Nothing here can be refused by the pipeline: every check ran
//! while the job was assembled.

use std::sync::{Arc, Mutex};

use crossbeam_channel::unbounded;

use super::wiring::{Wires, worlds};
use crate::checkpoint::coordinator::Participants;
use crate::checkpoint::lineage::Ending;
use crate::checkpoint::owner::Owner;
use crate::checkpoint::setup::RunSetup;
use crate::checkpoint::{CheckpointConfig, CheckpointError, Coordinator, Uploader};
use crate::control::{CheckpointStats, CoordinatorInbox, JobControl};
use crate::dataflow::input::InputSet;
use crate::dataflow::output::Outputs;
use crate::dataflow::ports::{Sink, Source};
use crate::dataflow::task::{self, SinkLink, SourceLink, TaskStats};
use crate::dataflow::{JobError, TaskError};
use crate::runtime::{OperatorComponent, OperatorInstance};
use crate::spec::{Pipeline, PipelineSpec};

/// What the start-up path produced: every operator subtask initialised (and
/// restored), every source open at its position, every sink open.
pub(super) struct Assembled {
    /// Per operator: its id, component and subtasks' instances.
    pub operators: Vec<(String, OperatorComponent, Vec<OperatorInstance>)>,
    /// Per source: its id and subtasks.
    pub sources: Vec<(String, Vec<Box<dyn Source>>)>,
    /// Per sink: its id and its one subtask.
    pub sinks: Vec<(String, Box<dyn Sink>)>,
    /// The snapshot restored from, as a URL.
    pub restored_from: Option<String>,
}

/// Applies the end-of-job policy to a run's checkpoints (persistent checkpoints).
#[derive(Clone)]
pub struct EndOfRun {
    owner: Arc<Owner>,
    rt: tokio::runtime::Handle,
}

impl EndOfRun {
    /// Records how the run ended, then keeps the newest checkpoint of its
    /// lineage, marked with `keep`'s reason (returns where it is), or, with
    /// `None`, deletes the lineage's checkpoints.
    pub fn apply(&self, how: Ending, keep: Option<&str>) -> Result<Option<String>, CheckpointError> {
        self.rt.block_on(self.owner.end(how, keep))
    }
}

/// A task's body, run on its own thread.
pub(super) type Launch = Box<dyn FnOnce() -> Result<TaskStats, TaskError> + Send>;

/// One task of a job: node id, kind, subtask, and its body.
pub(super) struct TaskEntry {
    pub id: String,
    pub kind: &'static str,
    pub subtask: usize,
    pub launch: Launch,
}

/// A job ready to run: every component compiled, every instance initialised
/// (and restored), every connector open.
pub struct Job {
    pub(super) end: EndOfRun,
    pub(super) tasks: Vec<TaskEntry>,
    pub(super) order: Vec<(String, &'static str, usize)>,
    pub(super) ctl: Arc<JobControl>,
    pub(super) rt: tokio::runtime::Handle,
    pub(super) coordinator: Coordinator,
    pub(super) inbox: CoordinatorInbox,
    pub(super) stats: Arc<Mutex<CheckpointStats>>,
}

impl Job {
    /// Wires what was assembled into tasks and a coordinator. Nothing runs yet.
    pub(super) fn build(pipeline: &Pipeline, assembled: Assembled, setup: RunSetup, ctl: Arc<JobControl>, rt: tokio::runtime::Handle) -> Result<Job, JobError> {
        let spec = &pipeline.spec;
        let RunSetup { storage, run_id, restored_from: _, first_id, pins, owner } = setup;
        for sink in &spec.sinks {
            if let crate::spec::SinkSpec::Stdout(s) = sink {
                tracing::info!(sink = %s.id, "stdout sink is at-least-once: after a restore it repeats what it printed since the checkpoint");
            }
        }
        let Assembled { operators, sources, sinks, restored_from } = assembled;
        let world = worlds(operators.iter().map(|(id, c, _)| (id.as_str(), c)));
        let mut wires = Wires::new(spec, |id| world.get(id).copied());
        let (size, linger) = (spec.batch.size, spec.batch.linger.0);
        let mut tasks = Vec::new();
        let mut order = Vec::new();
        let mut parts = Participants::default();
        let (inbox, inbox_rx) = tokio::sync::mpsc::unbounded_channel();
        let uploader = Uploader::new(storage.clone(), pins.clone(), &spec.name, rt.clone(), inbox.clone());

        for (id, component, instances) in &operators {
            parts.operators.insert(id.clone(), (component.digest().to_string(), instances.len(), component.world()));
        }
        for (id, subtasks) in sources {
            order.push((id.clone(), "source", subtasks.len()));
            for ((s, w), source) in wires.take(&id, subtasks.len()).into_iter().enumerate().zip(subtasks) {
                let out = Outputs::new(w.outputs, size, linger);
                let (c, wm) = (ctl.clone(), spec.watermark_interval.0);
                let (tx, commands) = unbounded();
                parts.sources.push((id.clone(), tx));
                parts.tasks.insert((id.clone(), s));
                let counters = ctl.counters().task(&id, "source", s);
                let link = SourceLink { id: id.clone(), subtask: s, commands, inbox: inbox.clone(), counters };
                let launch: Launch = Box::new(move || task::run_source(source, out, size, wm, link, c));
                tasks.push(TaskEntry { id: id.clone(), kind: "source", subtask: s, launch });
            }
        }
        for (id, _, instances) in operators {
            order.push((id.clone(), "operator", instances.len()));
            for (w, inst) in wires.take(&id, instances.len()).into_iter().zip(instances) {
                let s = inst.subtask();
                parts.tasks.insert((id.clone(), s));
                let (inputs, out) = (InputSet::with_inputs(w.inputs, w.input_of), Outputs::new(w.outputs, size, linger));
                let (up, counters) = (uploader.clone(), ctl.counters().task(&id, "operator", s));
                let launch: Launch = Box::new(move || task::run_operator(inst, inputs, out, up, counters));
                tasks.push(TaskEntry { id: id.clone(), kind: "operator", subtask: s, launch });
            }
        }
        for (id, sink) in sinks {
            let w = wires.take(&id, 1).pop().unwrap_or_default();
            let inputs = InputSet::new(w.inputs);
            let (tx, commands) = unbounded();
            parts.sinks.push((id.clone(), tx));
            parts.tasks.insert((id.clone(), 0));
            let link = SinkLink { id: id.clone(), commands, inbox: inbox.clone(), counters: ctl.counters().task(&id, "sink", 0) };
            let c = ctl.clone();
            order.push((id.clone(), "sink", 1));
            tasks.push(TaskEntry { id, kind: "sink", subtask: 0, launch: Box::new(move || task::run_sink(sink, inputs, link, c)) });
        }

        let stats = ctl.stats();
        stats.lock().expect("stats").restored_from = restored_from;
        ctl.set_run_id(run_id.clone());
        let end = EndOfRun { owner: owner.clone(), rt: rt.clone() };
        let coordinator = Coordinator::new(checkpoint_config(spec, run_id, first_id), owner, inbox_rx, parts, ctl.clone(), stats.clone());
        Ok(Job { end, tasks, order, ctl, rt, coordinator, inbox, stats })
    }

    /// What applies the end-of-job checkpoint policy once the job has ended.
    pub fn end_of_run(&self) -> EndOfRun {
        self.end.clone()
    }

    /// The checkpoint statistics, readable while and after the job runs (also when it failed).
    pub fn checkpoint_stats(&self) -> Arc<Mutex<CheckpointStats>> {
        self.stats.clone()
    }
}

/// The coordinator's configuration for run `run_id` of `spec`.
fn checkpoint_config(spec: &PipelineSpec, run_id: String, first_id: u64) -> CheckpointConfig {
    CheckpointConfig {
        pipeline: spec.name.clone(),
        run_id,
        interval: spec.checkpoints.interval.map(|i| i.0),
        timeout: spec.checkpoints.timeout.0,
        min_pause: spec.checkpoints.min_pause.0,
        tolerable_failures: spec.checkpoints.tolerable_failures,
        retain: spec.checkpoints.retain,
        first_id,
        savepoint_interval: spec.savepoints.interval.map(|i| i.0),
        savepoint_retain: spec.savepoints.retain,
        savepoint_max_age: spec.savepoints.max_age.map(|a| a.0),
    }
}
