//! Verbs that work on storage directly, also when no job runs: list, inspect,
//! promote and dispose of checkpoints and savepoints, and `check` whether one
//! restores into a pipeline.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::io_runtime;
use crate::checkpoint::{Storage, catalog};
use crate::runtime::Runtime;
use crate::spec::{Pipeline, StorageSpec};

/// `host check`: restores every operator subtask from `from` without running the pipeline.
pub(super) fn check(pipeline: &Path, from: &str, allow: bool, json: bool) -> anyhow::Result<()> {
    use crate::checkpoint::restore;
    let p = Pipeline::load(pipeline)?;
    let io = io_runtime()?;
    let found = io.block_on(catalog::open(from, &p.spec.storage, &p.base_dir))?;
    let mut state = io.block_on(restore::load(&found, &p.spec, allow))?;
    let runtime = Runtime::for_pipeline(&p)?;
    let mut report = Vec::new();
    let mut failed = false;
    for op in &p.spec.operators {
        let saved = found.metadata.operators.get(&op.id);
        let outcome = (|| -> Result<String, String> {
            let component = runtime.load(&op.id, &p.resolve(&op.component)).map_err(|e| e.to_string())?;
            let Some(snaps) = state.operators.remove(&op.id) else {
                return Ok("no state to restore".into());
            };
            let config = op.config.as_ref().map_or_else(|| "null".to_string(), |c| c.to_string());
            for (s, snap) in snaps.iter().enumerate() {
                let mut inst = component
                    .instantiate(s, crate::runtime::Limits::from(&op.limits), &Default::default())
                    .map_err(|e| e.to_string())?;
                inst.init(&config).map_err(|e| e.to_string())?;
                inst.restore(snap).map_err(|e| e.to_string())?;
            }
            let same = saved.is_some_and(|s| s.component_digest == component.digest());
            Ok(format!("restores ({} subtasks{})", snaps.len(), if same { "" } else { ", component changed since the checkpoint" }))
        })();
        failed |= outcome.is_err();
        let versions: Vec<u32> = saved.map(|s| s.subtasks.iter().map(|h| h.version).collect()).unwrap_or_default();
        report.push(serde_json::json!({
            "operator": op.id,
            "ok": outcome.is_ok(),
            "state-versions": versions,
            "result": outcome.unwrap_or_else(|e| e),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for r in &report {
            let mark = if r["ok"].as_bool() == Some(true) { "ok  " } else { "FAIL" };
            println!("{mark} {}: {}", r["operator"].as_str().unwrap_or(""), r["result"].as_str().unwrap_or(""));
        }
    }
    if failed {
        anyhow::bail!("`{from}` does not restore into {}", pipeline.display());
    }
    Ok(())
}

/// `host checkpoint …`
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Trigger a checkpoint on a running job (through its REST API) and wait for it.
    Trigger {
        /// The job's API.
        #[command(flatten)]
        remote: super::remote::Remote,
    },
    /// List the completed checkpoints of a pipeline, oldest first, read from its storage.
    List {
        /// The pipeline file (names the pipeline and its storage).
        pipeline: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show what a checkpoint holds: operators, parallelism, state sizes and
    /// versions, component digests, source positions, kind, trigger and time.
    Inspect {
        /// The checkpoint directory (or its `_metadata`) as a path or URL.
        location: String,
        /// A pipeline file whose storage options (S3 endpoint, credentials) to use.
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Copy a checkpoint into a self-contained, relocatable savepoint that
    /// shares nothing with the checkpoint area (retention can never break it).
    Promote {
        /// The checkpoint directory (or its `_metadata`) as a path or URL.
        checkpoint: String,
        /// Where to write the savepoint (path or URL); default: the pipeline's
        /// savepoint area beside its checkpoints, `savepoints/promoted-<id>`.
        #[arg(long)]
        to: Option<String>,
        /// A pipeline file whose storage options (S3 endpoint, credentials) to use.
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
}

/// Runs a `host checkpoint` verb.
pub(super) fn checkpoint_command(cmd: CheckpointCommand) -> anyhow::Result<()> {
    let io = io_runtime()?;
    match cmd {
        CheckpointCommand::List { pipeline, json } => {
            let p = Pipeline::load(&pipeline)?;
            let storage = Storage::open(&p.spec.storage, &p.base_dir)?;
            let listing = io.block_on(catalog::list(&storage, &p.spec.name))?;
            let rows: Vec<serde_json::Value> = listing
                .completed
                .iter()
                .map(|(dir, m)| {
                    let mut row = m.summary(format!("{}/{dir}", storage.url()));
                    row["kept"] = listing.kept.contains(dir).into();
                    row
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:>6}  {:<10} {:<9} {:<25} {:>12}  {:<5} path", "id", "kind", "trigger", "triggered at", "state bytes", "kept");
                for r in &rows {
                    println!(
                        "{:>6}  {:<10} {:<9} {:<25} {:>12}  {:<5} {}",
                        r["id"].as_u64().unwrap_or(0), r["kind"].as_str().unwrap_or(""), r["trigger"].as_str().unwrap_or(""),
                        r["triggered-at"].as_str().unwrap_or(""), r["state-size"].as_u64().unwrap_or(0), r["kept"].as_bool().unwrap_or(false),
                        r["path"].as_str().unwrap_or("")
                    );
                }
                for (dir, why) in &listing.unreadable {
                    eprintln!("unreadable: {dir}: {why}");
                }
            }
        }
        CheckpointCommand::Trigger { remote } => super::remote::trigger(&remote, "/v1/checkpoints", None)?,
        CheckpointCommand::Promote { checkpoint, to, pipeline } => {
            let (spec, base) = storage_options(pipeline.as_deref())?;
            let found = io.block_on(catalog::open(&checkpoint, &spec, &base))?;
            let (to_storage, to_dir) = match &to {
                Some(t) => catalog::locate(t, &spec, &base)?,
                None => {
                    let Some((root, _)) = found.dir.split_once("/checkpoints/") else {
                        anyhow::bail!("`{checkpoint}` is not in a checkpoint area; say where to write the savepoint with --to");
                    };
                    (found.storage.clone(), format!("{root}/savepoints/promoted-{}", found.metadata.id))
                }
            };
            io.block_on(catalog::promote(&found, &to_storage, &to_dir))?;
            println!("{}/{to_dir}", to_storage.url());
        }
        CheckpointCommand::Inspect { location, pipeline, json } => inspect(&location, pipeline.as_deref(), json)?,
    }
    Ok(())
}


/// The storage options (S3 endpoint, credentials) of `pipeline`, if given.
fn storage_options(pipeline: Option<&Path>) -> anyhow::Result<(StorageSpec, PathBuf)> {
    Ok(match pipeline {
        Some(p) => {
            let p = Pipeline::load(p)?;
            (p.spec.storage.clone(), p.base_dir.clone())
        }
        None => (StorageSpec::default(), PathBuf::from(".")),
    })
}

/// `host checkpoint inspect` and `host savepoint inspect`: what a snapshot holds.
fn inspect(location: &str, pipeline: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let io = io_runtime()?;
    let (spec, base) = storage_options(pipeline)?;
    let found = io.block_on(catalog::open(location, &spec, &base))?;
    let m = &found.metadata;
    if json {
        println!("{}", serde_json::to_string_pretty(m)?);
        return Ok(());
    }
    let kind = format!("{:?}", m.kind).to_lowercase();
    println!("{kind} {} of pipeline `{}` (run {}), {:?}, triggered {}, took {} ms", m.id, m.pipeline, m.run_id, m.trigger, m.triggered_at, m.duration_ms);
    println!("state: {} bytes ({} uploaded for it)", m.state_size, m.uploaded_size);
    for (id, pos) in &m.sources {
        println!("source {id}: position {pos}");
    }
    for (id, op) in &m.operators {
        println!("operator {id}: parallelism {}, component sha256 {}", op.parallelism, op.component_digest);
        for (i, h) in op.subtasks.iter().enumerate() {
            println!("  subtask {i}: {} bytes, {} v{}, sha256 {}", h.size, h.format, h.version, h.sha256);
        }
    }
    for (id, state) in &m.sinks {
        println!("sink {id}: {state}");
    }
    Ok(())
}

/// `host savepoint …`
#[derive(Debug, Subcommand)]
pub enum SavepointCommand {
    /// Trigger a savepoint on a running job (through its REST API) and wait for it.
    Trigger {
        /// The job's API.
        #[command(flatten)]
        remote: super::remote::Remote,
    },
    /// List the savepoints of a pipeline, oldest first, read from its storage
    /// (of every run, also promoted checkpoints).
    List {
        /// The pipeline file (names the pipeline and its storage).
        pipeline: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show what a savepoint holds: operators, parallelism, state sizes and
    /// versions, component digests, source positions, trigger and time.
    Inspect {
        /// The savepoint directory (or its `_metadata`) as a path or URL.
        location: String,
        /// A pipeline file whose storage options (S3 endpoint, credentials) to use.
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Delete a savepoint and nothing else (refuses checkpoints: retention owns them).
    Dispose {
        /// The savepoint directory (or its `_metadata`) as a path or URL.
        location: String,
        /// A pipeline file whose storage options (S3 endpoint, credentials) to use.
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `host savepoint` verb.
pub(super) fn savepoint_command(cmd: SavepointCommand) -> anyhow::Result<()> {
    match cmd {
        SavepointCommand::Trigger { remote } => super::remote::trigger(&remote, "/v1/savepoints", None),
        SavepointCommand::Inspect { location, pipeline, json } => inspect(&location, pipeline.as_deref(), json),
        SavepointCommand::List { pipeline, json } => {
            let io = io_runtime()?;
            let p = Pipeline::load(&pipeline)?;
            let storage = Storage::open(&p.spec.storage, &p.base_dir)?;
            let list = io.block_on(catalog::savepoints(&storage, &p.spec.name))?;
            let rows: Vec<serde_json::Value> = list
                .iter()
                .map(|(dir, m)| m.summary(format!("{}/{dir}", storage.url())))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:>6}  {:<9} {:<25} {:>12}  path", "id", "trigger", "triggered at", "state bytes");
                for r in &rows {
                    println!(
                        "{:>6}  {:<9} {:<25} {:>12}  {}",
                        r["id"].as_u64().unwrap_or(0), r["trigger"].as_str().unwrap_or(""), r["triggered-at"].as_str().unwrap_or(""),
                        r["state-size"].as_u64().unwrap_or(0), r["path"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        SavepointCommand::Dispose { location, pipeline, json } => {
            let io = io_runtime()?;
            let (spec, base) = storage_options(pipeline.as_deref())?;
            let (path, files) = io.block_on(catalog::dispose(&location, &spec, &base))?;
            if json {
                println!("{}", serde_json::json!({ "disposed": path, "files": files }));
            } else {
                println!("disposed of {path} ({files} files)");
            }
            Ok(())
        }
    }
}
