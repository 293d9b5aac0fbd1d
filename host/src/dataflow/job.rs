//! Building a job from a validated pipeline and running it to the end.
//!
//! Everything that can fail before data flows — components, instances, `init`,
//! sources and sinks — is set up first, so a bad pipeline fails without
//! running half-way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use super::error::{JobError, TaskError};
use super::input::InputSet;
use super::message::Message;
use super::output::{Edge, Outputs, Route};
use super::task::{self, SinkLink, SourceLink, TaskStats};
use crate::checkpoint::coordinator::Participants;
use crate::checkpoint::lineage::Ending;
use crate::checkpoint::owner::Owner;
use crate::checkpoint::setup::RunSetup;
use crate::checkpoint::{CheckpointConfig, CheckpointError, Coordinator, Uploader};
use crate::connectors;
use crate::control::{CheckpointStats, CoordinatorInbox, Event, JobControl, JobStatus};
use crate::runtime::{Grants, Limits, OperatorComponent, OperatorInstance, Runtime, RuntimeError, World};
use crate::spec::Pipeline;

/// Counters of one node (all its subtasks).
#[derive(Clone, Debug, Default)]
pub struct NodeStats {
    /// Node id.
    pub id: String,
    /// `source`, `operator` or `sink`.
    pub kind: &'static str,
    /// Subtasks.
    pub parallelism: usize,
    /// Events received.
    pub events_in: u64,
    /// Events emitted or written.
    pub events_out: u64,
    /// Time inside the operator or connector, summed over subtasks.
    pub busy: Duration,
    /// Longest barrier alignment of any subtask.
    pub max_alignment: Duration,
}

/// What a finished job did.
#[derive(Clone, Debug)]
pub struct JobSummary {
    /// Per node, in pipeline order (sources, operators, sinks).
    pub nodes: Vec<NodeStats>,
    /// Wall time from the first event to the end.
    pub elapsed: Duration,
    /// Whether the job was stopped (Ctrl-C) rather than running out of input.
    pub stopped: bool,
    /// Checkpoints of this run.
    pub checkpoints: CheckpointStats,
    /// In-process restarts before this (successful) attempt.
    pub restarts: u32,
    /// Set when nothing ran: `--resume` of a pipeline that had finished (why, for the user).
    pub nothing_to_resume: Option<String>,
}

impl JobSummary {
    /// The summary of a `--resume` that found the pipeline finished: nothing ran.
    pub fn nothing_to_resume(why: String) -> JobSummary {
        JobSummary {
            nodes: Vec::new(),
            elapsed: Duration::ZERO,
            stopped: false,
            checkpoints: CheckpointStats::default(),
            restarts: 0,
            nothing_to_resume: Some(why),
        }
    }
}

impl std::fmt::Display for JobSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(why) = &self.nothing_to_resume {
            return writeln!(f, "{why}");
        }
        let how = if self.stopped { "stopped" } else { "finished" };
        writeln!(f, "job {how} in {:.3}s", self.elapsed.as_secs_f64())?;
        writeln!(
            f,
            "{:<20} {:<8} {:>4} {:>12} {:>12} {:>12} {:>10} {:>10}",
            "node", "kind", "par", "events in", "events out", "events/s", "busy (s)", "align (ms)"
        )?;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        for n in &self.nodes {
            // A source's rate is what it emitted; every other node's what it received.
            let rate = if n.kind == "source" { n.events_out } else { n.events_in } as f64 / secs;
            writeln!(
                f,
                "{:<20} {:<8} {:>4} {:>12} {:>12} {:>12.0} {:>10.3} {:>10.1}",
                n.id,
                n.kind,
                n.parallelism,
                n.events_in,
                n.events_out,
                rate,
                n.busy.as_secs_f64(),
                n.max_alignment.as_secs_f64() * 1e3
            )?;
        }
        if self.restarts > 0 {
            writeln!(f, "restarts: {}", self.restarts)?;
        }
        let c = &self.checkpoints;
        writeln!(f, "checkpoints: {} completed, {} failed", c.completed, c.failed)?;
        if c.savepoints_completed + c.savepoints_failed > 0 {
            writeln!(f, "savepoints: {} completed, {} failed", c.savepoints_completed, c.savepoints_failed)?;
        }
        if let Some(from) = &c.restored_from {
            writeln!(f, "restored from: {from}")?;
        }
        if let Some(sp) = &c.final_savepoint {
            writeln!(f, "stopped with savepoint: {sp}")?;
        }
        match &c.kept {
            Some(kept) => writeln!(f, "kept checkpoint: {kept}")?,
            None if c.completed > 0 => writeln!(f, "checkpoints of this run deleted (checkpoints.on-finish: keep to keep the last)")?,
            None => {}
        }
        Ok(())
    }
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

/// Channel ends of one subtask.
#[derive(Default)]
struct Wiring {
    inputs: Vec<Receiver<Message>>,
    /// The input (index into the consumer's `input:` list) of each receiver.
    input_of: Vec<usize>,
    outputs: Vec<Edge>,
}

type Launch = Box<dyn FnOnce() -> Result<TaskStats, TaskError> + Send>;

/// A job ready to run: every component compiled, every instance initialised
/// (and restored), every connector open.
pub struct Job {
    end: EndOfRun,
    tasks: Vec<(String, &'static str, usize, Launch)>,
    order: Vec<(String, &'static str, usize)>,
    ctl: Arc<JobControl>,
    rt: tokio::runtime::Handle,
    coordinator: Coordinator,
    inbox: CoordinatorInbox,
    stats: Arc<Mutex<CheckpointStats>>,
}

impl Job {
    /// Compiles, instantiates, initialises and restores everything `pipeline`
    /// needs and wires the channels. Nothing runs yet. `rt` runs storage I/O.
    pub fn build(pipeline: &Pipeline, runtime: &Runtime, ctl: Arc<JobControl>, setup: RunSetup, rt: tokio::runtime::Handle) -> Result<Job, JobError> {
        let spec = &pipeline.spec;
        let RunSetup { storage, run_id, mut restore, restored_from, first_id, pins, owner } = setup;
        for sink in &spec.sinks {
            if let crate::spec::SinkSpec::Stdout(s) = sink {
                tracing::info!(sink = %s.id, "stdout sink is at-least-once: after a restore it repeats what it printed since the checkpoint");
            }
        }

        // Compile each distinct component once: the contract version of an
        // operator decides how keyed edges into it route.
        let mut compiled: BTreeMap<(std::path::PathBuf, crate::spec::StateMode), OperatorComponent> = BTreeMap::new();
        let mut components: BTreeMap<&str, OperatorComponent> = BTreeMap::new();
        for op in &spec.operators {
            let path = pipeline.resolve(&op.component);
            let component = match compiled.get(&(path.clone(), op.state)) {
                Some(c) => c.for_operator(&op.id),
                None => {
                    let t = Instant::now();
                    let c = runtime.load_as(&op.id, &path, op.state)?;
                    tracing::info!(operator = %op.id, path = %path.display(), digest = %&c.digest()[..12], world = %c.world(), ms = t.elapsed().as_millis() as u64, "component compiled");
                    compiled.insert((path.clone(), op.state), c.clone());
                    c
                }
            };
            components.insert(op.id.as_str(), component);
        }

        let parallelism = |id: &str| -> usize {
            let source = || spec.sources.iter().find(|s| s.id() == id).map(|s| s.parallelism());
            spec.operators.iter().find(|o| o.id == id).map(|o| o.parallelism).or_else(source).unwrap_or(1)
        };
        // Channels, consumer by consumer.
        let mut wiring: BTreeMap<String, Vec<Wiring>> = BTreeMap::new();
        let consumers = spec
            .operators
            .iter()
            .map(|o| (o.id.as_str(), o.input.ids(), o.parallelism, o.key_by, components.get(o.id.as_str()).map(|c| c.world())))
            .chain(spec.sinks.iter().map(|s| (s.id(), s.input().ids(), 1, false, None)));
        for (id, inputs, n, key_by, world) in consumers {
            for (index, up) in inputs.into_iter().enumerate() {
                let m = parallelism(up);
                let route = if key_by && world == Some(World::V0_2) {
                    Route::KeyRange
                } else if key_by {
                    Route::KeyHash
                } else if m == n {
                    Route::Forward
                } else {
                    Route::RoundRobin
                };
                let mut senders: Vec<Vec<Sender<Message>>> = (0..m).map(|_| Vec::new()).collect();
                let mut receivers: Vec<Vec<Receiver<Message>>> = (0..n).map(|_| Vec::new()).collect();
                for (u, row) in senders.iter_mut().enumerate() {
                    let targets: Vec<usize> = if route == Route::Forward { vec![u] } else { (0..n).collect() };
                    for c in targets {
                        let (tx, rx) = bounded(spec.channel_capacity);
                        row.push(tx);
                        receivers[c].push(rx);
                    }
                }
                let ups = wiring.entry(up.to_string()).or_insert_with(|| (0..m).map(|_| Wiring::default()).collect());
                for (u, row) in senders.into_iter().enumerate() {
                    ups[u].outputs.push(Edge::new(route, row));
                }
                let downs = wiring.entry(id.to_string()).or_insert_with(|| (0..n).map(|_| Wiring::default()).collect());
                for (c, rxs) in receivers.into_iter().enumerate() {
                    downs[c].input_of.extend(rxs.iter().map(|_| index));
                    downs[c].inputs.extend(rxs);
                }
            }
        }
        let mut take = |id: &str, n: usize| -> Vec<Wiring> { wiring.remove(id).unwrap_or_else(|| (0..n).map(|_| Wiring::default()).collect()) };
        let (size, linger) = (spec.batch.size, spec.batch.linger.0);

        // Operators: one initialised (and restored) instance per subtask.
        let mut tasks: Vec<(String, &'static str, usize, Launch)> = Vec::new();
        let mut order = Vec::new();
        let mut operator_tasks = Vec::new();
        let mut parts = Participants::default();
        let (inbox, inbox_rx) = tokio::sync::mpsc::unbounded_channel();
        let uploader = Uploader::new(storage.clone(), pins.clone(), &spec.name, rt.clone(), inbox.clone());
        for op in &spec.operators {
            let component = components[op.id.as_str()].clone();
            let config = op.config.as_ref().map_or_else(|| "null".to_string(), |c| c.to_string());
            let restores = restore.operators.remove(&op.id);
            let image = restores.as_ref().is_some_and(|r| r.iter().any(|r| r.image.is_some()));
            if let Some(plan) = restore.plans.get(&op.id).filter(|p| image && p.world != component.world()) {
                return Err(JobError::Host(format!(
                    "operator `{}`: its state is a memory image taken by a {} component, and the component is now {}: a memory \
                     image fits only the exact binary that took it; to change the component, give it `snapshot`/`restore` \
                     exports (and drop `state: memory`), or start without this state (--allow-non-restored-state)",
                    op.id,
                    plan.world,
                    component.world()
                )));
            }
            if let Some(plan) = restore.plans.get(&op.id).filter(|p| p.world != component.world()) {
                return Err(JobError::Host(format!(
                    "operator `{}`: its state was written by a {} component and the component is now {}; state crosses between \
                     contract versions only by starting without it (--allow-non-restored-state and no state for this operator), \
                     so restore it with a component of the version that wrote it",
                    op.id,
                    plan.world,
                    component.world()
                )));
            }
            let mut grants = Grants::default();
            for name in &op.grants.env {
                let value = std::env::var(name)
                    .map_err(|_| JobError::Host(format!("operator `{}` is granted environment variable `{name}`, which is not set", op.id)))?;
                grants.env.push((name.clone(), value));
            }
            for d in &op.grants.dirs {
                let host = pipeline.resolve(&d.host);
                if !host.is_dir() {
                    return Err(JobError::Host(format!("operator `{}` is granted directory {}, which does not exist", op.id, host.display())));
                }
                grants.dirs.push((host, d.guest.clone()));
            }
            let input_ids: Vec<String> = op.input.ids().into_iter().map(str::to_string).collect();
            let instances = (0..op.parallelism)
                .map(|s| {
                    let mut inst: OperatorInstance = component.instantiate(s, Limits::from(&op.limits), &grants)?;
                    inst.init_in(&config, op.parallelism, &input_ids)?;
                    if let Some(r) = restores.as_ref().and_then(|v| v.get(s)) {
                        inst.restore(r)?;
                    }
                    Ok(inst)
                })
                .collect::<Result<Vec<_>, RuntimeError>>()?;
            parts.operators.insert(op.id.clone(), (component.digest().to_string(), op.parallelism, component.world()));
            for s in 0..op.parallelism {
                parts.tasks.insert((op.id.clone(), s));
            }
            operator_tasks.push((op.id.clone(), instances));
        }

        for src in &spec.sources {
            let n = src.parallelism();
            order.push((src.id().to_string(), "source", n));
            for (s, w) in take(src.id(), n).into_iter().enumerate() {
                let source = connectors::open_source(src, &pipeline.base_dir, s, restore.sources.get(src.id()))?;
                let out = Outputs::new(w.outputs, size, linger);
                let (c, wm) = (ctl.clone(), spec.watermark_interval.0);
                let (tx, commands) = unbounded();
                parts.sources.push((src.id().to_string(), tx));
                parts.tasks.insert((src.id().to_string(), s));
                let counters = ctl.counters().task(src.id(), "source", s);
                let link = SourceLink { id: src.id().to_string(), subtask: s, commands, inbox: inbox.clone(), counters };
                tasks.push((src.id().to_string(), "source", s, Box::new(move || task::run_source(source, out, size, wm, link, c)) as Launch));
            }
        }
        for (id, instances) in operator_tasks {
            order.push((id.clone(), "operator", instances.len()));
            for (w, inst) in take(&id, instances.len()).into_iter().zip(instances) {
                let s = inst.subtask();
                let (inputs, out) = (InputSet::with_inputs(w.inputs, w.input_of), Outputs::new(w.outputs, size, linger));
                let (up, counters) = (uploader.clone(), ctl.counters().task(&id, "operator", s));
                tasks.push((id.clone(), "operator", s, Box::new(move || task::run_operator(inst, inputs, out, up, counters))));
            }
        }
        for sink_spec in &spec.sinks {
            let id = sink_spec.id().to_string();
            let sink = connectors::open_sink(sink_spec, &pipeline.base_dir, &spec.name, &run_id, restore.sinks.get(&id))?;
            let w = take(&id, 1).pop().unwrap_or_default();
            let inputs = InputSet::new(w.inputs);
            let (tx, commands) = unbounded();
            parts.sinks.push((id.clone(), tx));
            parts.tasks.insert((id.clone(), 0));
            let link = SinkLink { id: id.clone(), commands, inbox: inbox.clone(), counters: ctl.counters().task(&id, "sink", 0) };
            let c = ctl.clone();
            order.push((id.clone(), "sink", 1));
            tasks.push((id, "sink", 0, Box::new(move || task::run_sink(sink, inputs, link, c))));
        }

        let stats = ctl.stats();
        stats.lock().expect("stats").restored_from = restored_from;
        ctl.set_run_id(run_id.clone());
        let cfg = CheckpointConfig {
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
        };
        let end = EndOfRun { owner: owner.clone(), rt: rt.clone() };
        let coordinator = Coordinator::new(cfg, owner, inbox_rx, parts, ctl.clone(), stats.clone());
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

    /// Runs every task to the end. Returns the first failure, if any.
    pub fn run(self) -> Result<JobSummary, JobError> {
        let started = Instant::now();
        let coordinator = self.rt.spawn(self.coordinator.run());
        self.ctl.attach(Some(self.inbox.clone()));
        self.ctl.set_status(JobStatus::Running);
        let mut handles = Vec::new();
        for (id, kind, subtask, launch) in self.tasks {
            let ctl = self.ctl.clone();
            let name = format!("{kind}-{id}-{subtask}");
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    let span = tracing::info_span!("task", node = %id, subtask);
                    let _e = span.enter();
                    let r = launch();
                    if matches!(r, Err(TaskError::Job(_))) {
                        ctl.abort();
                    }
                    (id, r)
                })
                .map_err(|e| JobError::Host(format!("cannot start task thread {name}: {e}")))?;
            handles.push(handle);
        }
        let mut stats: BTreeMap<String, NodeStats> = BTreeMap::new();
        let mut failure = None;
        for h in handles {
            let (id, result) = h.join().map_err(|_| JobError::Host("a task thread panicked".into()))?;
            match result {
                Ok(s) => {
                    let n = stats.entry(id).or_default();
                    n.events_in += s.events_in;
                    n.events_out += s.events_out;
                    n.busy += s.busy;
                    n.max_alignment = n.max_alignment.max(s.max_alignment);
                }
                Err(TaskError::Job(e)) => {
                    failure.get_or_insert(e);
                }
                Err(TaskError::Cancelled) => {}
            }
        }
        self.ctl.attach(None);
        let _ = self.inbox.send(Event::Shutdown);
        let coordinated = self.rt.block_on(coordinator).map_err(|e| JobError::Host(format!("checkpoint coordinator crashed: {e}")))?;
        if let Some(e) = failure {
            return Err(e);
        }
        coordinated?;
        if self.ctl.is_aborted() {
            return Err(JobError::Host("the job was cancelled".into()));
        }
        let nodes = self
            .order
            .into_iter()
            .map(|(id, kind, parallelism)| {
                let s = stats.remove(&id).unwrap_or_default();
                NodeStats { id, kind, parallelism, ..s }
            })
            .collect();
        let checkpoints = self.stats.lock().expect("stats").clone();
        Ok(JobSummary { nodes, elapsed: started.elapsed(), stopped: self.ctl.is_stopped(), checkpoints, restarts: 0, nothing_to_resume: None })
    }
}
