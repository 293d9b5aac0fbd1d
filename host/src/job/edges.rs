//! Sources at start-up, the same for `host run` and `host check`: every source
//! subtask opened at its restored position, the position checked against the
//! source's parallelism first. (Sinks: `run` opens them, `check` calls
//! `connectors::check_sink`, which refuses what opening would and changes nothing.)

use std::collections::BTreeMap;

use crate::connectors;
use crate::dataflow::ports::{ConnectorError, Source};
use crate::spec::{Pipeline, SourceSpec};

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
