//! What a snapshot is, as the tasks, the coordinator and the metadata file
//! name it: its kind, what started it, and an operator subtask's state file.
//! The metadata file ([`crate::checkpoint::metadata`]) serializes these as they are.

use serde::{Deserialize, Serialize};

use crate::keys::HashRange;

/// What kind of snapshot this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A checkpoint, in the job's checkpoint area.
    Checkpoint,
    /// A savepoint, self-contained, in the savepoint area.
    Savepoint,
}

/// What started the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The periodic timer.
    Periodic,
    /// Bounded input ended: the last snapshot, which commits the sinks' tail.
    Final,
    /// Asked for by a user.
    Manual,
    /// Asked for by a user stopping the job: the last snapshot of the run, which
    /// commits the sinks' tail.
    Stop,
    /// A copy of another snapshot made by `host checkpoint promote` (its
    /// metadata's `promoted-from` says of what): only the user deletes it.
    Promoted,
}

/// One operator subtask's state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StateHandle {
    /// The file, relative to the directory holding the metadata file.
    pub file: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Encoding name declared by the operator.
    pub format: String,
    /// State schema version declared by the operator.
    pub version: u32,
    /// The key hashes the subtask owned (state written by a
    /// `cairn:operator@0.2.0` component; absent for 0.1.0 state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<HashRange>,
    /// The pieces of the file, in order (0.2.0 state): what each holds, where
    /// it lies in the file and its own SHA-256, so that a restore at another
    /// parallelism reads only the pieces it needs, and checks each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<PieceHandle>,
    /// A memory image taken by the host (`state: memory`, format
    /// `memory-image`): then `file` holds the globals, `size` counts the whole
    /// image, and the pages are files of their own beside `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageHandle>,
}

/// The pages of a memory image: content-addressed files in the same
/// directory as the handle's `file`, shared by every snapshot that has them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageHandle {
    /// Bytes per page (64 KiB).
    pub page_size: u64,
    /// Per captured memory, its pages in order: the SHA-256 of the page's
    /// file, or `null` for a page of zeros (nothing stored).
    pub memories: Vec<Vec<Option<String>>>,
    /// Captured globals.
    pub globals: usize,
    /// Pages that this snapshot uploaded (not in storage before it).
    pub new_pages: u64,
}

impl StateHandle {
    /// Every file the handle references, relative to the metadata's
    /// directory: its `file`, and a memory image's page files.
    pub fn files(&self) -> Vec<String> {
        let mut files = vec![self.file.clone()];
        if let Some(image) = &self.image {
            let dir = self.file.rsplit_once('/').map_or("", |(d, _)| d);
            let mut seen = std::collections::BTreeSet::new();
            for sha in image.memories.iter().flatten().flatten() {
                if seen.insert(sha) {
                    files.push(if dir.is_empty() { sha.clone() } else { format!("{dir}/{sha}") });
                }
            }
        }
        files
    }
}

/// What happens to non-keyed operator state at a restore with another parallelism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Redistribution {
    /// Every new subtask receives every old subtask's operator pieces.
    Union,
    /// Only new subtask 0 receives them.
    FirstSubtask,
}

/// What one piece of 0.2.0 state holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PieceKind {
    /// The state of the keys whose hash lies in the range.
    Keyed(HashRange),
    /// Operator (non-keyed) state, redistributed as declared.
    Operator(Redistribution),
}

/// One piece of a state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PieceHandle {
    /// What it holds.
    pub kind: PieceKind,
    /// Where it starts in the file, bytes.
    pub offset: u64,
    /// Its length, bytes.
    pub size: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memory image references its globals file and each distinct stored
    /// page beside it: what the owner counts as referenced and pins.
    #[test]
    fn a_memory_image_references_its_pages_beside_its_file() {
        let page = |s: &str| Some(s.to_string());
        let image =
            ImageHandle { page_size: 65536, memories: vec![vec![page("aa"), None, page("bb"), page("aa")], vec![page("cc")]], globals: 2, new_pages: 1 };
        let h = StateHandle {
            file: "../../../state/gg".into(),
            sha256: "gg".into(),
            size: 5 * 65536 + 16,
            format: "memory-image".into(),
            version: 1,
            range: None,
            pieces: Vec::new(),
            image: Some(image),
        };
        assert_eq!(h.files(), ["../../../state/gg", "../../../state/aa", "../../../state/bb", "../../../state/cc"]);
    }
}
