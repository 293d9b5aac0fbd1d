//! Where things live under the storage root.
//!
//! ```text
//! <pipeline>/checkpoints/<run-id>/chk-<id>/_metadata   written last: the checkpoint exists once it is there
//! <pipeline>/state/<sha256>                           operator state, content-addressed, shared by checkpoints
//! <pipeline>/savepoints/savepoint-<id>-<unix-ms>/_metadata   a savepoint: self-contained, relocatable
//! <pipeline>/savepoints/savepoint-<id>-<unix-ms>/state/<sha256>
//! <pipeline>/savepoints/promoted-<id>/…                      a checkpoint promoted to a savepoint
//! ```
//!
//! State handles in the metadata are relative to the metadata's directory
//! (`../../../state/<sha256>`), so a self-contained copy can use `state/<sha256>`.

/// The checkpoint area of a pipeline.
pub fn checkpoints_dir(pipeline: &str) -> String {
    format!("{pipeline}/checkpoints")
}

/// The directory of one checkpoint.
pub fn checkpoint_dir(pipeline: &str, run_id: &str, id: u64) -> String {
    format!("{pipeline}/checkpoints/{run_id}/chk-{id}")
}

/// The savepoint area of a pipeline.
pub fn savepoints_dir(pipeline: &str) -> String {
    format!("{pipeline}/savepoints")
}

/// The directory of a new savepoint `id` taken now.
pub fn savepoint_dir(pipeline: &str, id: u64) -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    format!("{pipeline}/savepoints/savepoint-{id}-{ms}")
}

/// The directory of a savepoint (`<pipeline>/savepoints/<name>`) containing `path`, if any.
pub fn savepoint_dir_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts.iter().position(|p| *p == "savepoints")?;
    Some(parts.get(..at + 2)?.join("/"))
}

/// The content-addressed state area of a pipeline.
pub fn state_dir(pipeline: &str) -> String {
    format!("{pipeline}/state")
}

/// A state file by its digest.
pub fn state_file(pipeline: &str, sha256: &str) -> String {
    format!("{pipeline}/state/{sha256}")
}

/// The reference to a state file written into a checkpoint's metadata.
pub fn state_ref_from_checkpoint(sha256: &str) -> String {
    format!("../../../state/{sha256}")
}

/// The checkpoint directory containing `path` (`<pipeline>/checkpoints/<run>/chk-<id>`), if any.
pub fn checkpoint_dir_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts.iter().position(|p| *p == "checkpoints")?;
    let dir = parts.get(..at + 3)?;
    dir.last().filter(|l| l.starts_with("chk-"))?;
    Some(dir.join("/"))
}

/// A new run id: sortable by start time.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("run-{}-{:04x}", now.as_millis(), std::process::id() & 0xffff)
}
