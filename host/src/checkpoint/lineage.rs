//! The runs of a pipeline and who owns whose checkpoints (Flink's FLIP-193).
//!
//! Every run writes a small record, `<pipeline>/runs/<run-id>.json`, before
//! its first checkpoint: what it restored from, which earlier runs it claims,
//! and (once it ends) how it ended. A run *claims* a predecessor when it takes
//! over its checkpoints: `--resume` claims every earlier run, an in-process
//! restart claims the attempt it replaces, `--from X --claim` claims X's run;
//! `--from X` alone claims nothing (NO_CLAIM), and savepoints are never
//! claimed. A run's *lineage* is itself plus, transitively, what it claimed:
//! retention counts over the lineage, and the end-of-job policy applies to it.
//!
//! The newest record says what `--resume` does: a pipeline whose newest run
//! finished has nothing to resume (its committed output stays as it is).

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{CheckpointError, Storage, layout};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// Its input ended, or it was stopped with a final snapshot.
    Finished,
    /// Cancelled (Ctrl-C, `host cancel`).
    Cancelled,
    /// Failed for good (restarts used up).
    Failed,
}

/// The end of a run, written before its end-of-job clean-up so that a kill in
/// the middle of that clean-up is finished by whoever comes next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Ended {
    /// How.
    pub how: Ending,
    /// When, RFC 3339.
    pub at: String,
    /// The checkpoint the end-of-job policy keeps (persistent), as a directory
    /// under the storage root; every other checkpoint of the lineage goes.
    pub kept: Option<String>,
}

/// Where a run started from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Origin {
    /// The snapshot, as a URL.
    pub path: String,
    /// Its id.
    pub id: u64,
    /// The run that took it.
    pub run_id: String,
    /// `checkpoint` or `savepoint`.
    pub kind: super::Kind,
}

/// One run's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunRecord {
    /// The run.
    pub run_id: String,
    /// When it started, RFC 3339.
    pub started_at: String,
    /// What it restored from.
    pub restored_from: Option<Origin>,
    /// The earlier runs whose checkpoints it took over.
    pub claims: Vec<String>,
    /// The process that ran it, so that `host storage gc` can tell a live job.
    pub pid: u32,
    /// The boot of the machine that ran it (with `pid`, names one process).
    pub boot: String,
    /// How it ended; absent while it runs, and forever when it was killed.
    pub ended: Option<Ended>,
}

/// What a new run claims.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Claim {
    /// Nothing (a fresh start, or `--from X` without `--claim`).
    #[default]
    Nothing,
    /// Every earlier run of the pipeline (`--resume`).
    Earlier,
    /// These runs (an in-process restart claims the attempt it replaces; `--claim` the restored run).
    Runs(Vec<String>),
}

/// This machine's boot id (empty where the system does not say).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

impl RunRecord {
    /// A record for run `run_id` of this process, started now.
    pub fn new(run_id: &str, restored_from: Option<Origin>, claims: Vec<String>) -> RunRecord {
        RunRecord { run_id: run_id.into(), started_at: now(), restored_from, claims, pid: std::process::id(), boot: boot_id(), ended: None }
    }

    /// Writes (or rewrites) the record.
    pub async fn write(&self, storage: &Storage, pipeline: &str) -> Result<(), CheckpointError> {
        let bytes = serde_json::to_vec_pretty(self).expect("run record serializes");
        storage.put(&layout::run_file(pipeline, &self.run_id), Bytes::from(bytes)).await?;
        Ok(())
    }

    /// Whether the process that ran it is alive on this machine: `Some(true)`
    /// or `Some(false)`, or `None` when it ran on another machine (or before a reboot).
    pub fn alive(&self) -> Option<bool> {
        if self.boot.is_empty() || self.boot != boot_id() {
            return None;
        }
        Some(std::path::Path::new(&format!("/proc/{}", self.pid)).exists())
    }
}

/// The current time, RFC 3339 with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Every readable run record of `pipeline`, oldest first (run ids sort by start
/// time); unreadable ones are logged and skipped.
pub async fn runs(storage: &Storage, pipeline: &str) -> Result<Vec<RunRecord>, CheckpointError> {
    let mut out = Vec::new();
    for item in storage.list(&layout::runs_dir(pipeline)).await? {
        if !item.path.ends_with(".json") {
            continue;
        }
        let bytes = match storage.get(&item.path).await {
            Ok(b) => b,
            Err(super::StorageError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        match serde_json::from_slice::<RunRecord>(&bytes) {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!(path = %storage.url_of(&item.path), error = %e, "ignoring a run record that cannot be read"),
        }
    }
    out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(out)
}

/// The lineage of `run_id`: itself and, transitively, every run it claimed.
pub fn lineage(runs: &[RunRecord], run_id: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([run_id.to_string()]);
    let mut todo = vec![run_id.to_string()];
    while let Some(r) = todo.pop() {
        if let Some(rec) = runs.iter().find(|x| x.run_id == r) {
            for c in &rec.claims {
                if seen.insert(c.clone()) {
                    todo.push(c.clone());
                }
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, claims: &[&str]) -> RunRecord {
        RunRecord { claims: claims.iter().map(|s| s.to_string()).collect(), ..RunRecord::new(id, None, vec![]) }
    }

    #[test]
    fn lineage_follows_claims_transitively_and_stops_at_cycles() {
        let runs = vec![rec("a", &[]), rec("b", &["a"]), rec("c", &["b"]), rec("d", &[]), rec("e", &["e", "c"])];
        assert_eq!(lineage(&runs, "c"), BTreeSet::from(["a".into(), "b".into(), "c".into()]));
        assert_eq!(lineage(&runs, "d"), BTreeSet::from(["d".into()]));
        assert_eq!(lineage(&runs, "e").len(), 4);
        assert_eq!(lineage(&runs, "unknown"), BTreeSet::from(["unknown".into()]));
    }

    #[test]
    fn a_record_of_this_process_is_alive() {
        let r = rec("a", &[]);
        if !r.boot.is_empty() {
            assert_eq!(r.alive(), Some(true));
            assert_eq!(RunRecord { pid: u32::MAX, ..r.clone() }.alive(), Some(false));
            assert_eq!(RunRecord { boot: "elsewhere".into(), ..r }.alive(), None);
        }
    }
}
