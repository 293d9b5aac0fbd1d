//! `host storage gc`: with no job running, remove what the owner of a
//! pipeline's storage would remove, and say what and how many bytes.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::io_runtime;
use crate::checkpoint::{Storage, owner};
use crate::spec::Pipeline;

/// `host storage …`
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Remove, with no job of the pipeline running, what the owner of its
    /// storage would remove: checkpoints of dead runs that a later run
    /// superseded, checkpoints beyond `checkpoints.retain`, the end-of-job
    /// clean-up of a job killed while it ended, unreferenced state files,
    /// temporary files of interrupted writes and snapshot directories without
    /// metadata older than the grace period, and records of runs with nothing
    /// left. Never touches savepoints or kept checkpoints. Prints what it removes.
    Gc {
        /// The pipeline file (names the pipeline, its storage and its retention).
        pipeline: PathBuf,
        /// Print what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave garbage and unreferenced state younger than this.
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        grace: Duration,
        /// Run even if the pipeline's newest run, started on another machine or
        /// before a reboot, has not recorded its end (make sure no job runs).
        #[arg(long)]
        force: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (for example 10m, 30s, 0s)"))
}

/// Runs a `host storage` verb.
pub(super) fn storage_command(cmd: StorageCommand) -> anyhow::Result<()> {
    let StorageCommand::Gc { pipeline, dry_run, grace, force, json } = cmd;
    let io = io_runtime()?;
    let p = Pipeline::load(&pipeline)?;
    let storage = Storage::open(&p.spec.storage, &p.base_dir)?;
    let opts = owner::GcOptions { retain: p.spec.checkpoints.retain, grace, dry_run, force };
    let (plan, report) = io.block_on(owner::gc(&storage, &p.spec.name, &opts))?;
    let done = if dry_run { &plan.removals } else { &report.removed };
    let bytes: u64 = done.iter().map(|r| r.bytes).sum();
    if json {
        let rows: Vec<serde_json::Value> =
            done.iter().map(|r| serde_json::json!({ "path": storage.url_of(r.path()), "bytes": r.bytes, "why": r.why.to_string() })).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "dry-run": dry_run, "removed": rows, "bytes": bytes }))?);
        return Ok(());
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for r in done {
        println!("{verb} {} ({} bytes): {}", storage.url_of(r.path()), r.bytes, r.why);
    }
    if report.pinned > 0 {
        println!("left {} state files that an upload is using", report.pinned);
    }
    println!(
        "{} {} objects, {bytes} bytes{}",
        if dry_run { "would free" } else { "freed" },
        done.len(),
        if dry_run { " (dry run: nothing removed)" } else { "" }
    );
    Ok(())
}
