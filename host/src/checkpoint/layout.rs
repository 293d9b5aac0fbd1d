//! Where things live under the storage root.
//!
//! ```text
//! <pipeline>/checkpoints/<run-id>/chk-<id>/_metadata   written last: the checkpoint exists once it is there
//! <pipeline>/state/<sha256>                           operator state, content-addressed, shared by checkpoints
//! <pipeline>/savepoints/savepoint-<id>-<unix-ms>/_metadata   a savepoint: self-contained, relocatable
//! <pipeline>/savepoints/savepoint-<id>-<unix-ms>/state/<sha256>
//! <pipeline>/savepoints/promoted-<id>/…                      a checkpoint promoted to a savepoint
//! <pipeline>/runs/<run-id>.json                              a run's record: origin, claims, end
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

/// The directory of a new savepoint `id` taken now.
pub fn savepoint_dir(pipeline: &str, id: u64) -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    format!("{pipeline}/savepoints/savepoint-{id}-{ms}")
}

/// A state file by its digest.
pub fn state_file(pipeline: &str, sha256: &str) -> String {
    format!("{pipeline}/state/{sha256}")
}

/// The reference to a state file written into a checkpoint's metadata.
pub fn state_ref_from_checkpoint(sha256: &str) -> String {
    format!("../../../state/{sha256}")
}

/// A new run id: sortable by start time.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("run-{}-{:04x}", now.as_millis(), std::process::id() & 0xffff)
}

/// Marker file of a checkpoint kept when its job ended (persistent checkpoint).
pub const KEPT_FILE: &str = "_kept";

/// Where the run records of a pipeline are.
pub fn runs_dir(pipeline: &str) -> String {
    format!("{pipeline}/runs")
}

/// The record of one run.
pub fn run_file(pipeline: &str, run_id: &str) -> String {
    format!("{pipeline}/runs/{run_id}.json")
}

/// The snapshot directory (`<pipeline>/checkpoints/<run>/chk-<id>` or
/// `<pipeline>/savepoints/<name>`) that `path` lies in, if any.
pub fn snapshot_dir_of(pipeline: &str, path: &str) -> Option<String> {
    let rest = path.strip_prefix(pipeline)?.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let depth = match *parts.first()? {
        "checkpoints" if parts.get(2).is_some_and(|c| c.starts_with("chk-")) => 3,
        "savepoints" => 2,
        _ => return None,
    };
    (parts.len() > depth).then(|| format!("{pipeline}/{}", parts[..depth].join("/")))
}

/// Whether `dir` is in the checkpoint area of `pipeline` (else: the savepoint area).
pub fn is_checkpoint_dir(pipeline: &str, dir: &str) -> bool {
    dir.starts_with(&format!("{pipeline}/checkpoints/"))
}

/// Whether `path` is a content-addressed state file of `pipeline`.
pub fn is_state_file(pipeline: &str, path: &str) -> bool {
    path.strip_prefix(&format!("{pipeline}/state/")).is_some_and(|f| !f.is_empty() && !f.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified_by_area() {
        assert_eq!(snapshot_dir_of("p", "p/checkpoints/run-1/chk-3/_metadata").as_deref(), Some("p/checkpoints/run-1/chk-3"));
        assert_eq!(snapshot_dir_of("p", "p/savepoints/savepoint-4-9/state/ab").as_deref(), Some("p/savepoints/savepoint-4-9"));
        assert_eq!(snapshot_dir_of("p", "p/checkpoints/run-1/stray"), None);
        assert_eq!(snapshot_dir_of("p", "p/state/ab"), None);
        assert_eq!(snapshot_dir_of("p", "q/savepoints/x/_metadata"), None);
        assert!(is_state_file("p", "p/state/ab") && !is_state_file("p", "p/state/a/b"));
        assert!(is_checkpoint_dir("p", "p/checkpoints/r/chk-1") && !is_checkpoint_dir("p", "p/savepoints/x"));
    }
}
