//! The channels of a job: for every edge of the pipeline, bounded channels from
//! each upstream subtask to the downstream subtasks it routes to (forward,
//! round-robin, by key hash or by key-hash range), grouped per subtask.

use std::collections::BTreeMap;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::dataflow::message::Message;
use crate::dataflow::output::{Edge, Route};
use crate::runtime::{OperatorComponent, World};
use crate::spec::PipelineSpec;

/// Channel ends of one subtask.
#[derive(Default)]
pub(super) struct Wiring {
    /// Its input channels.
    pub inputs: Vec<Receiver<Message>>,
    /// The input (index into the consumer's `input:` list) of each receiver.
    pub input_of: Vec<usize>,
    /// Its output edges.
    pub outputs: Vec<Edge>,
}

/// Every node's subtasks' channel ends, by node id.
pub(super) struct Wires(BTreeMap<String, Vec<Wiring>>);

impl Wires {
    /// Wires every edge of `spec`; `world` gives each operator's contract
    /// version, which decides how a keyed edge into it routes.
    pub(super) fn new(spec: &PipelineSpec, world: impl Fn(&str) -> Option<World>) -> Wires {
        let parallelism = |id: &str| -> usize {
            let source = || spec.sources.iter().find(|s| s.id() == id).map(|s| s.parallelism());
            spec.operators.iter().find(|o| o.id == id).map(|o| o.parallelism).or_else(source).unwrap_or(1)
        };
        let mut wiring: BTreeMap<String, Vec<Wiring>> = BTreeMap::new();
        let consumers = spec
            .operators
            .iter()
            .map(|o| (o.id.as_str(), o.input.ids(), o.parallelism, o.key_by, world(&o.id)))
            .chain(spec.sinks.iter().map(|s| (s.id(), s.input().ids(), 1, false, None)));
        for (id, inputs, n, key_by, world) in consumers {
            for (index, up) in inputs.into_iter().enumerate() {
                let m = parallelism(up);
                let route = match (key_by, world) {
                    (true, Some(World::V0_2)) => Route::KeyRange,
                    (true, _) => Route::KeyHash,
                    (false, _) if m == n => Route::Forward,
                    (false, _) => Route::RoundRobin,
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
        Wires(wiring)
    }

    /// The channel ends of node `id`'s `n` subtasks (none for a node nothing connects to).
    pub(super) fn take(&mut self, id: &str, n: usize) -> Vec<Wiring> {
        self.0.remove(id).unwrap_or_else(|| (0..n).map(|_| Wiring::default()).collect())
    }
}

/// The contract version of each operator's component, by id.
pub(super) fn worlds<'a>(components: impl IntoIterator<Item = (&'a str, &'a OperatorComponent)>) -> BTreeMap<String, World> {
    components.into_iter().map(|(id, c)| (id.to_string(), c.world())).collect()
}
