//! What to remove, decided from one [`Inventory`] by one set of [`Rules`], and
//! the removal itself in a safe order: a snapshot's metadata before its other
//! files (a half-deleted snapshot never looks complete), snapshots before the
//! state files they referenced, a state file only if nobody pinned it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use super::super::catalog::{Inventory, referenced_files};
use super::super::lineage::{RunRecord, lineage};
use super::super::metadata::{Kind, METADATA_FILE, Trigger};
use super::super::storage::Listed;
use super::super::{CheckpointError, Pins, Storage, layout};

/// Why something is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Beyond `checkpoints.retain`, counted over the run's lineage.
    Retention,
    /// A checkpoint of a dead run that a later run claimed and has superseded.
    Superseded,
    /// The end-of-job policy of a job that ended (`on-finish`/`on-cancel: delete`).
    Ended,
    /// A periodic savepoint beyond `savepoints.retain` or older than `max-age`.
    PeriodicSavepoint,
    /// A snapshot directory that never got its metadata.
    Incomplete,
    /// A temporary file of a write that was interrupted.
    Temporary,
    /// A state file that no snapshot references.
    Unreferenced,
    /// The record of a run that has nothing left in storage.
    RunRecord,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Why::Retention => "beyond checkpoints.retain",
            Why::Superseded => "checkpoint of a dead run, superseded by the run that claimed it",
            Why::Ended => "the job ended and its policy deletes its checkpoints",
            Why::PeriodicSavepoint => "periodic savepoint beyond savepoints.retain or max-age",
            Why::Incomplete => "snapshot directory without metadata (never completed)",
            Why::Temporary => "temporary file of an interrupted write",
            Why::Unreferenced => "state file no snapshot references",
            Why::RunRecord => "record of a run with nothing left in storage",
        })
    }
}

/// What one removal takes away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A completed snapshot: its metadata first, then its other files.
    Snapshot {
        /// Its directory.
        dir: String,
        /// Its id.
        id: u64,
        /// Its files other than the metadata (Cairn's only: see [`is_ours`]).
        files: Vec<String>,
    },
    /// A directory without metadata, with its files that are Cairn's.
    Leftover {
        /// The directory.
        dir: String,
        /// Its files to remove.
        files: Vec<String>,
    },
    /// A content-addressed state file (removed only if not pinned).
    State(String),
    /// A temporary file (`name#N`).
    Temp(String),
    /// A run record.
    Record(String),
}

/// One thing to remove.
#[derive(Clone, Debug)]
pub struct Removal {
    /// What.
    pub item: Item,
    /// Bytes it frees.
    pub bytes: u64,
    /// Why.
    pub why: Why,
}

impl Removal {
    /// The path it removes (a directory or a file), relative to the storage root.
    pub fn path(&self) -> &str {
        match &self.item {
            Item::Snapshot { dir, .. } | Item::Leftover { dir, .. } => dir,
            Item::State(p) | Item::Temp(p) | Item::Record(p) => p,
        }
    }
}

/// The rules of one pass.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Completed checkpoints to keep per lineage (and per unclaimed dead run).
    pub retain: usize,
    /// The run whose lineage is current: the live run, or for `host storage gc`
    /// the newest run. `None`: no run records (storage of an older host).
    pub current: Option<String>,
    /// Temporary files and directories without metadata last written before this are garbage.
    pub garbage_before: SystemTime,
    /// Unreferenced state files are removed only when written before this
    /// (`None`: whenever unpinned; the live owner, whose uploads pin).
    pub state_before: Option<SystemTime>,
    /// Periodic savepoint retention (count, age), applied by the live owner after a periodic savepoint.
    pub periodic_savepoints: Option<(Option<usize>, Option<Duration>)>,
}

/// An ordered list of removals.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// In the order they are carried out.
    pub removals: Vec<Removal>,
}

/// What a pass removed.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Removed, in order.
    pub removed: Vec<Removal>,
    /// State files left because an upload had pinned them meanwhile.
    pub pinned: usize,
}

impl Report {
    /// Bytes freed.
    pub fn bytes(&self) -> u64 {
        self.removed.iter().map(|r| r.bytes).sum()
    }
}

/// Whether `path` in snapshot directory `dir` of `pipeline` is a file Cairn
/// writes there: anything in a checkpoint directory (that area is Cairn's
/// alone); in a savepoint directory the metadata, the kept marker and state
/// files. Anything else is the user's, and no removal of a directory touches it.
pub fn is_ours(pipeline: &str, dir: &str, path: &str) -> bool {
    match path.strip_prefix(dir).and_then(|p| p.strip_prefix('/')) {
        Some(_) if layout::is_checkpoint_dir(pipeline, dir) => true,
        Some(name) if name == METADATA_FILE || name == layout::KEPT_FILE => true,
        Some(name) => name.strip_prefix("state/").is_some_and(|sha| sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())),
        None => false,
    }
}

/// Cairn's files under snapshot directory `dir` in `inv`, metadata excepted, and their bytes (metadata included).
fn files_under(pipeline: &str, inv: &Inventory, dir: &str) -> (Vec<String>, u64) {
    let prefix = format!("{dir}/");
    let meta = format!("{dir}/{METADATA_FILE}");
    let mut bytes = 0;
    let files = inv
        .objects
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .filter(|(p, _)| is_ours(pipeline, dir, p))
        .inspect(|(_, l)| bytes += l.size)
        .filter(|(p, _)| **p != meta)
        .map(|(p, _)| p.clone())
        .collect();
    (files, bytes)
}

/// Decides what to remove from `inv`, given every run record (`runs`, oldest
/// first), the temporary files found, and `rules`.
pub fn plan(pipeline: &str, inv: &Inventory, runs: &[RunRecord], temps: &[Listed], rules: &Rules) -> Plan {
    let mut doomed: BTreeMap<String, Why> = BTreeMap::new();
    let current = rules.current.as_deref().and_then(|c| runs.iter().find(|r| r.run_id == c));
    let ours = rules.current.as_deref().map(|c| lineage(runs, c)).unwrap_or_default();
    // What runs restored from without claiming it is theirs to keep (NO_CLAIM).
    let protected: BTreeSet<&str> =
        runs.iter().filter_map(|r| r.restored_from.as_ref().filter(|o| !r.claims.contains(&o.run_id)).map(|o| o.path.as_str())).collect();
    let is_protected = |dir: &str| protected.iter().any(|p| p.ends_with(&format!("/{dir}")));

    // The current lineage: retention across its runs once the current run has a
    // checkpoint of its own; everything but the kept one once it ended with a
    // policy that deletes.
    if let Some(cur) = rules.current.as_deref() {
        let lineage_cps: Vec<&(String, super::super::Metadata)> = inv.completed.iter().filter(|(_, m)| ours.contains(&m.run_id)).collect();
        let ended = current.and_then(|r| r.ended.as_ref());
        let doomed_here: Vec<(&String, Why)> = match ended {
            Some(e) if e.kept.is_none() => lineage_cps.iter().map(|(d, _)| (d, Why::Ended)).collect(),
            _ if inv.of_run(cur).next().is_some() => lineage_cps
                .iter()
                .rev()
                .skip(rules.retain)
                .filter(|(d, _)| ended.and_then(|e| e.kept.as_ref()) != Some(d))
                .map(|(d, m)| (d, if m.run_id == cur { Why::Retention } else { Why::Superseded }))
                .collect(),
            _ => Vec::new(), // nothing of the lineage goes before the run's first checkpoint
        };
        // A lineage's runs claimed what they hold (`--resume`, `--claim`, a restart):
        // what another run restored from without claiming does not protect it.
        for (d, why) in doomed_here {
            doomed.insert(d.clone(), why);
        }
    }
    // Dead runs nobody claimed: what their own retention would have kept, and
    // never a persistent (kept) checkpoint.
    let mut by_run: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (d, m) in inv.completed.iter().filter(|(_, m)| !ours.contains(&m.run_id)) {
        by_run.entry(&m.run_id).or_default().push(d);
    }
    for dirs in by_run.values() {
        for d in dirs.iter().rev().skip(rules.retain) {
            if !inv.kept.contains(*d) && !is_protected(d) {
                doomed.insert((*d).clone(), Why::Retention);
            }
        }
    }
    // Periodic savepoints: only those the timer made.
    if let Some((retain, max_age)) = rules.periodic_savepoints {
        let periodic: Vec<&(String, super::super::Metadata)> =
            inv.savepoints.iter().filter(|(_, m)| m.kind == Kind::Savepoint && m.trigger == Trigger::Periodic).collect();
        let now = SystemTime::now();
        let n = periodic.len();
        for (i, (d, m)) in periodic.iter().enumerate() {
            let too_many = retain.is_some_and(|r| n - i > r);
            let too_old = max_age.is_some_and(|age| humantime::parse_rfc3339(&m.triggered_at).is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age)));
            if too_many || too_old {
                doomed.insert(d.clone(), Why::PeriodicSavepoint);
            }
        }
    }

    let mut removals: Vec<Removal> = Vec::new();
    let snapshot_ids: BTreeMap<&str, u64> = inv.snapshots().map(|(d, m)| (d.as_str(), m.id)).collect();
    let mut doomed_sorted: Vec<(&String, &Why)> = doomed.iter().collect();
    doomed_sorted.sort_by_key(|(d, _)| snapshot_ids.get(d.as_str()).copied().unwrap_or(0));
    for (dir, why) in doomed_sorted {
        let id = snapshot_ids.get(dir.as_str()).copied().unwrap_or(0);
        let (files, bytes) = files_under(pipeline, inv, dir);
        removals.push(Removal { item: Item::Snapshot { dir: dir.clone(), id, files }, bytes, why: *why });
    }
    for inc in inv.incomplete.iter().filter(|i| i.newest() < rules.garbage_before) {
        let (files, bytes) = files_under(pipeline, inv, &inc.dir);
        if !files.is_empty() {
            removals.push(Removal { item: Item::Leftover { dir: inc.dir.clone(), files }, bytes, why: Why::Incomplete });
        }
    }
    // State files: only when every metadata could be read (an unreadable one may reference any).
    if inv.unreadable.is_empty() {
        let referenced: BTreeSet<String> = inv.snapshots().filter(|(d, _)| !doomed.contains_key(d)).flat_map(|(d, m)| referenced_files(d, m)).collect();
        for f in &inv.state {
            if !referenced.contains(&f.path) && rules.state_before.is_none_or(|t| f.modified < t) {
                removals.push(Removal { item: Item::State(f.path.clone()), bytes: f.size, why: Why::Unreferenced });
            }
        }
    }
    for t in temps.iter().filter(|t| t.modified < rules.garbage_before) {
        removals.push(Removal { item: Item::Temp(t.path.clone()), bytes: t.size, why: Why::Temporary });
    }
    // Run records: keep the current and the newest run's, those of runs with
    // checkpoints left, and those protecting what they restored from. (Claims are
    // written closed over the claimed runs' own claims, so no record is needed
    // only to link a lineage.)
    let left: BTreeSet<&str> = inv.completed.iter().filter(|(d, _)| !doomed.contains_key(d)).map(|(_, m)| m.run_id.as_str()).collect();
    let origin_left = |r: &RunRecord| {
        r.restored_from
            .as_ref()
            .is_some_and(|o| !r.claims.contains(&o.run_id) && inv.completed.iter().any(|(d, _)| !doomed.contains_key(d) && o.path.ends_with(&format!("/{d}"))))
    };
    let newest = runs.last().map(|r| r.run_id.as_str());
    for r in runs {
        let needed =
            Some(r.run_id.as_str()) == rules.current.as_deref() || Some(r.run_id.as_str()) == newest || left.contains(r.run_id.as_str()) || origin_left(r);
        if !needed {
            let path = layout::run_file(pipeline, &r.run_id);
            let bytes = inv.objects.get(&path).map_or(0, |l| l.size);
            removals.push(Removal { item: Item::Record(path), bytes, why: Why::RunRecord });
        }
    }
    Plan { removals }
}

/// Carries out `plan` on `storage`, in order. With `pins`, a state file is
/// deleted only while holding the pin lock and only if no upload pinned it.
pub async fn execute(plan: &Plan, storage: &Storage, pins: Option<&Pins>) -> Result<Report, CheckpointError> {
    let mut report = Report::default();
    for r in &plan.removals {
        match &r.item {
            Item::Snapshot { dir, files, .. } => {
                // Metadata first: a half-deleted snapshot must not look complete.
                storage.delete(&format!("{dir}/{METADATA_FILE}")).await?;
                for path in files {
                    storage.delete(path).await?;
                }
                storage.remove_empty_dir(dir);
            }
            Item::Leftover { dir, files } => {
                for path in files {
                    storage.delete(path).await?;
                }
                storage.remove_empty_dir(dir);
            }
            Item::State(path) => {
                let sha = path.rsplit('/').next().unwrap_or_default();
                match pins {
                    Some(pins) => {
                        let pinned = pins.lock().await;
                        if super::super::pins::is_pinned(&pinned, sha) {
                            report.pinned += 1;
                            continue;
                        }
                        storage.delete(path).await?;
                    }
                    None => storage.delete(path).await?,
                }
            }
            Item::Temp(path) => storage.remove_temp(path)?,
            Item::Record(path) => storage.delete(path).await?,
        }
        report.removed.push(r.clone());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::super::catalog::Inventory;
    use super::super::super::lineage::{Ended, Ending, Origin, RunRecord};
    use super::super::super::metadata::{FORMAT, Kind, Metadata, OperatorState, StateHandle, Trigger, VERSION};
    use super::super::super::storage::Listed;
    use super::*;

    const P: &str = "p";

    fn sha(n: u64) -> String {
        format!("{n:064x}")
    }

    fn meta(run: &str, id: u64, kind: Kind, trigger: Trigger, state: &[u64], rel: &str) -> Metadata {
        let subtasks = state
            .iter()
            .map(|s| StateHandle {
                file: format!("{rel}{}", sha(*s)),
                sha256: sha(*s),
                size: 10,
                format: "f".into(),
                version: 1,
                range: None,
                pieces: Vec::new(),
                image: None,
            })
            .collect::<Vec<_>>();
        let op = OperatorState { component_digest: "d".into(), world: crate::runtime::World::V0_1, parallelism: subtasks.len(), subtasks };
        Metadata {
            format: FORMAT.into(),
            version: VERSION,
            pipeline: P.into(),
            run_id: run.into(),
            id,
            kind,
            trigger,
            triggered_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 1,
            state_size: 10,
            uploaded_size: 0,
            sources: BTreeMap::new(),
            operators: BTreeMap::from([("op".to_string(), op)]),
            sinks: BTreeMap::new(),
            promoted_from: None,
            drained: false,
        }
    }

    fn listed(path: String) -> Listed {
        Listed { path, size: 10, modified: SystemTime::UNIX_EPOCH }
    }

    /// Checkpoints `(run, id, state digests)`, savepoints `(name, trigger)` and state files.
    fn inventory(cps: &[(&str, u64, &[u64])], sps: &[(&str, Trigger)], state: &[u64]) -> Inventory {
        let mut inv = Inventory::default();
        for (run, id, st) in cps {
            let dir = format!("{P}/checkpoints/{run}/chk-{id}");
            inv.objects.insert(format!("{dir}/_metadata"), listed(format!("{dir}/_metadata")));
            inv.completed.push((dir, meta(run, *id, Kind::Checkpoint, Trigger::Periodic, st, "../../../state/")));
        }
        for (i, (name, trigger)) in sps.iter().enumerate() {
            let dir = format!("{P}/savepoints/{name}");
            inv.savepoints.push((dir, meta("r", 100 + i as u64, Kind::Savepoint, *trigger, &[900], "state/")));
        }
        inv.state = state.iter().map(|s| listed(format!("{P}/state/{}", sha(*s)))).collect();
        inv
    }

    fn run(id: &str, claims: &[&str]) -> RunRecord {
        RunRecord::new(id, None, claims.iter().map(|c| c.to_string()).collect())
    }

    fn rules(current: &str, retain: usize) -> Rules {
        Rules { retain, current: Some(current.into()), garbage_before: SystemTime::UNIX_EPOCH, state_before: None, periodic_savepoints: None }
    }

    fn removed(plan: &Plan) -> Vec<(String, Why)> {
        plan.removals.iter().map(|r| (r.path().trim_start_matches("p/").to_string(), r.why)).collect()
    }

    #[test]
    fn retention_counts_over_the_lineage_once_the_run_has_its_own_checkpoint() {
        let runs = [run("a", &[]), run("b", &["a"])];
        let before = inventory(&[("a", 1, &[1]), ("a", 2, &[2])], &[], &[1, 2]);
        assert!(removed(&plan(P, &before, &runs, &[], &rules("b", 1))).is_empty(), "nothing of the lineage before b's first checkpoint");
        let after = inventory(&[("a", 1, &[1]), ("a", 2, &[2]), ("b", 3, &[2]), ("b", 4, &[3])], &[], &[1, 2, 3]);
        assert_eq!(
            removed(&plan(P, &after, &runs, &[], &rules("b", 2))),
            vec![
                ("checkpoints/a/chk-1".into(), Why::Superseded),
                ("checkpoints/a/chk-2".into(), Why::Superseded),
                (format!("state/{}", sha(1)), Why::Unreferenced),
                ("runs/a.json".into(), Why::RunRecord),
            ]
        );
    }

    #[test]
    fn dead_runs_nobody_claimed_keep_their_retention_their_kept_checkpoint_and_what_others_restored_from() {
        let mut inv = inventory(&[("a", 1, &[1]), ("a", 2, &[1]), ("a", 3, &[1]), ("a", 4, &[1]), ("b", 5, &[1])], &[], &[1]);
        inv.kept.insert("p/checkpoints/a/chk-1".into());
        let mut b = run("b", &[]);
        b.restored_from = Some(Origin { path: "file:///s/p/checkpoints/a/chk-2".into(), id: 2, run_id: "a".into(), kind: Kind::Checkpoint });
        let got = removed(&plan(P, &inv, &[run("a", &[]), b], &[], &rules("b", 1)));
        assert_eq!(got, vec![("checkpoints/a/chk-3".into(), Why::Retention)]);
    }

    #[test]
    fn an_ended_lineage_goes_entirely_unless_a_checkpoint_was_kept() {
        let inv = inventory(&[("a", 1, &[1]), ("b", 2, &[2]), ("c", 3, &[3])], &[], &[1, 2, 3]);
        let mut b = run("b", &["a"]);
        b.ended = Some(Ended { how: Ending::Finished, at: "t".into(), kept: None });
        let runs = [run("a", &[]), run("c", &[]), b.clone()];
        let got = removed(&plan(P, &inv, &runs, &[], &rules("b", 3)));
        assert!(got.contains(&("checkpoints/a/chk-1".into(), Why::Ended)) && got.contains(&("checkpoints/b/chk-2".into(), Why::Ended)));
        assert!(!got.iter().any(|(p, _)| p.contains("chk-3") || p.ends_with(&sha(3))), "run c is not b's: {got:?}");
        assert!(got.contains(&("runs/a.json".into(), Why::RunRecord)), "{got:?}");
        b.ended = Some(Ended { how: Ending::Cancelled, at: "t".into(), kept: Some("p/checkpoints/b/chk-2".into()) });
        let got = removed(&plan(P, &inv, &[run("a", &[]), run("c", &[]), b], &[], &rules("b", 1)));
        assert_eq!(
            got,
            vec![("checkpoints/a/chk-1".into(), Why::Superseded), (format!("state/{}", sha(1)), Why::Unreferenced), ("runs/a.json".into(), Why::RunRecord)]
        );
    }

    #[test]
    fn state_files_stay_while_any_metadata_is_unreadable_and_young_garbage_stays() {
        let mut inv = inventory(&[("a", 1, &[1])], &[], &[1, 2]);
        let temps = [listed(format!("{P}/state/{}#1", sha(3)))];
        let got = removed(&plan(P, &inv, &[run("a", &[])], &temps, &Rules { garbage_before: SystemTime::now(), ..rules("a", 1) }));
        assert_eq!(got, vec![(format!("state/{}", sha(2)), Why::Unreferenced), (format!("state/{}#1", sha(3)), Why::Temporary)]);
        assert!(removed(&plan(P, &inv, &[run("a", &[])], &temps, &rules("a", 1))).len() == 1, "a temp file newer than the limit stays");
        inv.unreadable.push(("p/checkpoints/x/chk-9".into(), "garbled".into()));
        assert!(removed(&plan(P, &inv, &[run("a", &[])], &[], &rules("a", 1))).is_empty());
    }

    #[test]
    fn periodic_savepoint_retention_touches_only_periodic_savepoints() {
        let sps = [
            ("sp-1", Trigger::Periodic),
            ("promoted-1", Trigger::Promoted),
            ("sp-2", Trigger::Manual),
            ("sp-3", Trigger::Periodic),
            ("sp-4", Trigger::Periodic),
        ];
        let inv = inventory(&[], &sps, &[]);
        let r = Rules { periodic_savepoints: Some((Some(1), None)), ..rules("a", 1) };
        let got = removed(&plan(P, &inv, &[run("a", &[])], &[], &r));
        assert_eq!(got, vec![("savepoints/sp-1".into(), Why::PeriodicSavepoint), ("savepoints/sp-3".into(), Why::PeriodicSavepoint)]);
        assert!(removed(&plan(P, &inv, &[run("a", &[])], &[], &rules("a", 1))).is_empty(), "offline passes never touch savepoints");
    }

    #[test]
    fn only_cairn_files_of_a_directory_are_removed_with_it() {
        assert!(is_ours("p", "p/savepoints/s", "p/savepoints/s/_metadata"));
        assert!(is_ours("p", "p/savepoints/s", &format!("p/savepoints/s/state/{}", sha(1))));
        assert!(!is_ours("p", "p/savepoints/s", "p/savepoints/s/README.txt"));
        assert!(!is_ours("p", "p/savepoints/s", "p/savepoints/s/state/notes.txt"));
        assert!(!is_ours("p", "p/savepoints/s", "p/savepoints/st/_metadata"));
        assert!(is_ours("p", "p/checkpoints/r/chk-1", "p/checkpoints/r/chk-1/partial"));
    }
}
