//! Building a job from a validated pipeline and running it to the end.
//!
//! Everything that can fail before data flows — components, instances, `init`,
//! sources and sinks — is set up first, so a bad pipeline fails without
//! running half-way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::input::InputSet;
use super::message::Message;
use super::output::{Disconnected, Edge, Outputs, Route};
use super::task::{self, TaskStats};
use crate::connectors::{self, ConnectorError};
use crate::runtime::{OperatorComponent, OperatorInstance, Runtime, RuntimeError};
use crate::spec::Pipeline;

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// An operator could not be loaded or failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A source or sink failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// Something of the host's own (a thread that could not start, …).
    #[error("{0}")]
    Host(String),
}

/// Why a task ended early.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Its own failure.
    #[error(transparent)]
    Job(#[from] JobError),
    /// It stopped because another task failed.
    #[error("cancelled")]
    Cancelled,
}

impl From<RuntimeError> for TaskError {
    fn from(e: RuntimeError) -> Self {
        TaskError::Job(e.into())
    }
}
impl From<ConnectorError> for TaskError {
    fn from(e: ConnectorError) -> Self {
        TaskError::Job(e.into())
    }
}
impl From<Disconnected> for TaskError {
    fn from(_: Disconnected) -> Self {
        TaskError::Cancelled
    }
}

/// Shared switches of a running job.
#[derive(Debug, Default)]
pub struct JobControl {
    stop: AtomicBool,
    abort: AtomicBool,
}

impl JobControl {
    /// Asks the sources to stop reading; the job then drains and ends (Ctrl-C).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }
    pub(super) fn is_aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }
}

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
}

impl std::fmt::Display for JobSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.stopped { "stopped" } else { "finished" };
        writeln!(f, "job {how} in {:.3}s", self.elapsed.as_secs_f64())?;
        writeln!(f, "{:<20} {:<8} {:>4} {:>12} {:>12} {:>10}", "node", "kind", "par", "events in", "events out", "busy (s)")?;
        for n in &self.nodes {
            writeln!(
                f,
                "{:<20} {:<8} {:>4} {:>12} {:>12} {:>10.3}",
                n.id,
                n.kind,
                n.parallelism,
                n.events_in,
                n.events_out,
                n.busy.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

/// Channel ends of one subtask.
#[derive(Default)]
struct Wiring {
    inputs: Vec<Receiver<Message>>,
    outputs: Vec<Edge>,
}

type Launch = Box<dyn FnOnce() -> Result<TaskStats, TaskError> + Send>;

/// A job ready to run: every component compiled, every instance initialised.
pub struct Job {
    tasks: Vec<(String, &'static str, usize, Launch)>,
    order: Vec<(String, &'static str, usize)>,
    ctl: Arc<JobControl>,
}

impl Job {
    /// Compiles, instantiates and initialises everything `pipeline` needs and
    /// wires the channels. Nothing runs yet.
    pub fn build(pipeline: &Pipeline, runtime: &Runtime, ctl: Arc<JobControl>) -> Result<Job, JobError> {
        let spec = &pipeline.spec;
        let parallelism = |id: &str| -> usize {
            spec.operators.iter().find(|o| o.id == id).map_or(1, |o| o.parallelism)
        };

        // Channels, consumer by consumer.
        let mut wiring: BTreeMap<String, Vec<Wiring>> = BTreeMap::new();
        let consumers = spec
            .operators
            .iter()
            .map(|o| (o.id.as_str(), o.input.ids(), o.parallelism, o.key_by))
            .chain(spec.sinks.iter().map(|s| (s.id(), s.input().ids(), 1, false)));
        for (id, inputs, n, key_by) in consumers {
            for up in inputs {
                let m = parallelism(up);
                let route = if key_by {
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
                    downs[c].inputs.extend(rxs);
                }
            }
        }
        let mut take = |id: &str, n: usize| -> Vec<Wiring> {
            wiring.remove(id).unwrap_or_else(|| (0..n).map(|_| Wiring::default()).collect())
        };
        let (size, linger) = (spec.batch.size, spec.batch.linger.0);

        // Operators: compile each distinct component once, then one initialised instance per subtask.
        let mut compiled: BTreeMap<std::path::PathBuf, OperatorComponent> = BTreeMap::new();
        let mut tasks: Vec<(String, &'static str, usize, Launch)> = Vec::new();
        let mut order = Vec::new();
        let mut operator_tasks = Vec::new();
        for op in &spec.operators {
            let path = pipeline.resolve(&op.component);
            let component = match compiled.get(&path) {
                Some(c) => c.clone(),
                None => {
                    let t = Instant::now();
                    let c = runtime.load(&op.id, &path)?;
                    tracing::info!(operator = %op.id, path = %path.display(), digest = %&c.digest()[..12], ms = t.elapsed().as_millis() as u64, "component compiled");
                    compiled.insert(path.clone(), c.clone());
                    c
                }
            };
            let config = op.config.as_ref().map_or_else(|| "null".to_string(), |c| c.to_string());
            let instances = (0..op.parallelism)
                .map(|s| {
                    let mut inst: OperatorInstance = component.instantiate(s)?;
                    inst.init(&config)?;
                    Ok(inst)
                })
                .collect::<Result<Vec<_>, RuntimeError>>()?;
            operator_tasks.push((op.id.clone(), instances));
        }

        for src in &spec.sources {
            let source = connectors::open_source(src, &pipeline.base_dir)?;
            let w = take(src.id(), 1).pop().unwrap_or_default();
            let out = Outputs::new(w.outputs, size, linger);
            let (c, wm) = (ctl.clone(), spec.watermark_interval.0);
            order.push((src.id().to_string(), "source", 1));
            tasks.push((src.id().to_string(), "source", 0, Box::new(move || task::run_source(source, out, size, wm, c)) as Launch));
        }
        for (id, instances) in operator_tasks {
            order.push((id.clone(), "operator", instances.len()));
            for (w, inst) in take(&id, instances.len()).into_iter().zip(instances) {
                let s = inst.subtask();
                let (inputs, out) = (InputSet::new(w.inputs), Outputs::new(w.outputs, size, linger));
                tasks.push((id.clone(), "operator", s, Box::new(move || task::run_operator(inst, inputs, out))));
            }
        }
        for sink_spec in &spec.sinks {
            let sink = connectors::open_sink(sink_spec, &pipeline.base_dir)?;
            let w = take(sink_spec.id(), 1).pop().unwrap_or_default();
            let inputs = InputSet::new(w.inputs);
            order.push((sink_spec.id().to_string(), "sink", 1));
            tasks.push((sink_spec.id().to_string(), "sink", 0, Box::new(move || task::run_sink(sink, inputs))));
        }
        Ok(Job { tasks, order, ctl })
    }

    /// Runs every task to the end. Returns the first failure, if any.
    pub fn run(self) -> Result<JobSummary, JobError> {
        let started = Instant::now();
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
                }
                Err(TaskError::Job(e)) => {
                    failure.get_or_insert(e);
                }
                Err(TaskError::Cancelled) => {}
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
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
        Ok(JobSummary { nodes, elapsed: started.elapsed(), stopped: self.ctl.is_stopped() })
    }
}
