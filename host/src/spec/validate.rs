//! Checks that a parsed pipeline describes a runnable graph: unique ids, inputs that
//! exist, no cycles, sane numbers. Errors point at the line of the culprit.

use std::collections::{BTreeMap, BTreeSet};

use super::PipelineSpec;

/// What a node of the pipeline graph is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A source (index into `sources`).
    Source(usize),
    /// An operator (index into `operators`).
    Operator(usize),
    /// A sink (index into `sinks`).
    Sink(usize),
}

/// The checked graph of a pipeline.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// Every node id with its kind.
    pub nodes: BTreeMap<String, NodeKind>,
    /// Operator indices in an order where every operator comes after its inputs.
    pub operator_order: Vec<usize>,
}

type Failure = (Option<usize>, String);

/// Validates `spec`; `text` is the YAML it came from, used to find line numbers.
pub(super) fn validate(spec: &PipelineSpec, text: &str) -> Result<Topology, Failure> {
    let fail = |id: Option<&str>, message: String| -> Failure { (id.and_then(|i| locate_id(text, i)), message) };
    if spec.name.trim().is_empty() || spec.name.contains(['/', '\\']) || spec.name.starts_with('.') {
        return Err((locate_key(text, "name"), format!("pipeline `name` must be a non-empty name without slashes, not `{}`", spec.name)));
    }
    if spec.sources.is_empty() {
        return Err((None, "the pipeline has no sources".into()));
    }
    if spec.sinks.is_empty() {
        return Err((None, "the pipeline has no sinks".into()));
    }
    if spec.batch.size == 0 {
        return Err((locate_key(text, "size"), "`batch.size` must be at least 1".into()));
    }
    if spec.checkpoints.retain == 0 {
        return Err((locate_key(text, "retain"), "`checkpoints.retain` must be at least 1".into()));
    }
    if spec.checkpoints.interval.is_some_and(|i| i.0.is_zero()) {
        return Err((locate_key(text, "interval"), "`checkpoints.interval` must be more than 0s".into()));
    }
    if spec.savepoints.interval.is_some_and(|i| i.0.is_zero()) {
        return Err((locate_key(text, "savepoints"), "`savepoints.interval` must be more than 0s".into()));
    }
    if spec.savepoints.retain == Some(0) {
        return Err((locate_key(text, "savepoints"), "`savepoints.retain` must be at least 1 (leave it out for no count limit)".into()));
    }
    if spec.api.enabled && spec.api.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err((locate_key(text, "listen"), format!("`api.listen` must be an address like 127.0.0.1:8081, not `{}`", spec.api.listen)));
    }
    if spec.channel_capacity == 0 {
        return Err((locate_key(text, "channel-capacity"), "`channel-capacity` must be at least 1".into()));
    }

    let mut nodes = BTreeMap::new();
    let all_ids = spec
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id(), NodeKind::Source(i)))
        .chain(spec.operators.iter().enumerate().map(|(i, o)| (o.id.as_str(), NodeKind::Operator(i))))
        .chain(spec.sinks.iter().enumerate().map(|(i, s)| (s.id(), NodeKind::Sink(i))));
    for (id, kind) in all_ids {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(fail(Some(id), format!("id `{id}` must be non-empty and use only letters, digits, `-` and `_`")));
        }
        if nodes.insert(id.to_string(), kind).is_some() {
            let line = nth_id_line(text, id, 1);
            return Err((line, format!("duplicate id `{id}`: every source, operator and sink needs its own id")));
        }
    }

    let check_inputs = |owner: &str, inputs: Vec<&str>| -> Result<(), Failure> {
        if inputs.is_empty() {
            return Err(fail(Some(owner), format!("`{owner}` has an empty `input` list")));
        }
        let mut seen = BTreeSet::new();
        for input in inputs {
            let line = locate_id(text, owner).and_then(|l| locate_after(text, l, input));
            match nodes.get(input) {
                None => {
                    return Err((line, format!("`{owner}` names input `{input}`, which is no source or operator of this pipeline")));
                }
                Some(NodeKind::Sink(_)) => {
                    return Err((line, format!("`{owner}` names input `{input}`, which is a sink; sinks produce no events")));
                }
                Some(_) if !seen.insert(input) => {
                    return Err((line, format!("`{owner}` names input `{input}` twice")));
                }
                Some(_) => {}
            }
        }
        Ok(())
    };
    for op in &spec.operators {
        check_inputs(&op.id, op.input.ids())?;
        if op.parallelism == 0 || op.parallelism > 1024 {
            return Err(fail(Some(&op.id), format!("operator `{}`: `parallelism` must be between 1 and 1024", op.id)));
        }
        if op.state == super::StateMode::Memory && !op.grants.dirs.is_empty() {
            return Err(fail(
                Some(&op.id),
                format!(
                    "operator `{}`: `state: memory` cannot be combined with `grants.dirs`: open files live in host tables that a memory \
                     image cannot carry; drop the grant or write `snapshot`/`restore` exports",
                    op.id
                ),
            ));
        }
    }
    for sink in &spec.sinks {
        check_inputs(sink.id(), sink.input().ids())?;
        if let super::SinkSpec::Kafka(k) = sink {
            super::kafka::check_sink(k).map_err(|m| fail(Some(&k.id), m))?;
        }
    }
    for source in &spec.sources {
        if let super::SourceSpec::Kafka(k) = source {
            super::kafka::check_source(k).map_err(|m| fail(Some(&k.id), m))?;
        }
        if source.parallelism() == 0 || source.parallelism() > 1024 {
            let id = source.id();
            return Err(fail(Some(id), format!("source `{id}`: `parallelism` must be between 1 and 1024")));
        }
    }

    let operator_order = topological_order(spec).map_err(|cycle| {
        let first = cycle.first().cloned().unwrap_or_default();
        (locate_id(text, &first), format!("the operators form a cycle: {} -> {first}", cycle.join(" -> ")))
    })?;
    Ok(Topology { nodes, operator_order })
}

/// Kahn's algorithm over the operators; on failure returns the ids on a cycle.
fn topological_order(spec: &PipelineSpec) -> Result<Vec<usize>, Vec<String>> {
    let index: BTreeMap<&str, usize> = spec.operators.iter().enumerate().map(|(i, o)| (o.id.as_str(), i)).collect();
    let deps: Vec<Vec<usize>> = spec.operators.iter().map(|o| o.input.ids().iter().filter_map(|i| index.get(i).copied()).collect()).collect();
    let mut done = vec![false; deps.len()];
    let mut order = Vec::with_capacity(deps.len());
    while order.len() < deps.len() {
        let ready: Vec<usize> = (0..deps.len()).filter(|&i| !done[i] && deps[i].iter().all(|&d| done[d])).collect();
        if ready.is_empty() {
            // Walk the remaining graph from any stuck operator until a node repeats.
            let mut path = vec![(0..deps.len()).find(|&i| !done[i]).unwrap_or(0)];
            loop {
                let last = *path.last().unwrap_or(&0);
                let next = deps[last].iter().copied().find(|&d| !done[d]).unwrap_or(last);
                if let Some(pos) = path.iter().position(|&p| p == next) {
                    let mut cycle: Vec<String> = path[pos..].iter().map(|&i| spec.operators[i].id.clone()).collect();
                    cycle.reverse();
                    return Err(cycle);
                }
                path.push(next);
            }
        }
        for i in ready {
            done[i] = true;
            order.push(i);
        }
    }
    Ok(order)
}

/// Line (1-based) of the first `id: <id>` entry.
fn locate_id(text: &str, id: &str) -> Option<usize> {
    nth_id_line(text, id, 0)
}

/// Line of the `n`th (0-based) `id: <id>` entry.
fn nth_id_line(text: &str, id: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix("id:").is_some_and(|v| v.trim().trim_matches(['"', '\'']) == id)
        })
        .nth(n)
        .map(|(i, _)| i + 1)
}

/// Line of the first top-level-or-nested `key:`.
fn locate_key(text: &str, key: &str) -> Option<usize> {
    let prefix = format!("{key}:");
    text.lines().position(|l| l.trim_start().trim_start_matches("- ").starts_with(&prefix)).map(|i| i + 1)
}

/// First line after `from` (1-based) that mentions `needle` as a word.
fn locate_after(text: &str, from: usize, needle: &str) -> Option<usize> {
    text.lines().enumerate().skip(from).find_map(|(i, l)| {
        let mut words = l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        words.any(|w| w == needle).then_some(i + 1)
    })
}
