//! Sources and sinks at start-up, the same for `host run` and `host check`:
//! every source subtask opened at its restored position (the position checked
//! against the source's parallelism first), every sink checked against the
//! state it restores (committed output still there, staged parts present,
//! broker and topic reachable). `run` then opens the sinks for real; `check`
//! stops at the check, so that it changes nothing.

use std::collections::BTreeMap;

use crate::connectors;
use crate::dataflow::ports::{ConnectorError, Source};
use crate::spec::{Pipeline, SinkSpec, SourceSpec};

/// Opens every subtask of `spec` at its position in `positions` (when
/// restoring from checkpoint `from`).
pub(super) fn open_source(
    pipeline: &Pipeline,
    spec: &SourceSpec,
    positions: &BTreeMap<String, serde_json::Value>,
    from: Option<&str>,
) -> Result<Vec<Box<dyn Source>>, ConnectorError> {
    let position = positions.get(spec.id());
    if let Some(p) = position {
        let from = from.unwrap_or("the checkpoint");
        connectors::check_position(spec, p).map_err(|e| ConnectorError::Position { id: spec.id().to_string(), message: format!("{e} (in {from})") })?;
    }
    (0..spec.parallelism()).map(|s| connectors::open_source(spec, &pipeline.base_dir, s, position)).collect()
}

/// Checks that sink `spec` can restore `state` and write, without changing anything.
pub(super) fn check_sink(pipeline: &Pipeline, spec: &SinkSpec, state: Option<&serde_json::Value>) -> Result<(), ConnectorError> {
    connectors::check_sink(spec, &pipeline.base_dir, state)
}
