//! Verbs that work on storage directly, also when no job runs: list, inspect,
//! promote and dispose of checkpoints and savepoints.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::io_runtime;
use crate::checkpoint::{Storage, catalog, owner};
use crate::spec::{Pipeline, StorageSpec};

/// `host checkpoint …`
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Trigger a checkpoint on a running job (through its REST API) and wait for it.
    Trigger {
        /// The job's API.
        #[command(flatten)]
        remote: super::remote::Remote,
    },
    /// List the completed checkpoints of a pipeline, oldest first, read from its
    /// storage: state bytes, bytes shared with other snapshots, kept or not.
    List {
        /// The pipeline file (names the pipeline and its storage).
        pipeline: PathBuf,
        /// Also read every state file and check its SHA-256 (column `verified`);
        /// exits non-zero if any listed checkpoint is broken.
        #[arg(long)]
        verify: bool,
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
        CheckpointCommand::List { pipeline, verify, json } => {
            let p = Pipeline::load(&pipeline)?;
            let storage = Storage::open(&p.spec.storage, &p.base_dir)?;
            let inv = io.block_on(catalog::scan(&storage, &p.spec.name))?;
            let mut rows = inv.rows(&storage, &inv.completed);
            let unreadable = inv.broken_rows(&storage, catalog::Area::Checkpoints);
            let mut broken = unreadable.len();
            if verify {
                broken += verify_rows(&io, &storage, &inv.completed, &mut rows);
            }
            rows.extend(unreadable);
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                // A broken one (unreadable, or failing --verify) is a row marked BROKEN with the reason.
                print_rows(&rows, true);
            }
            if verify && broken > 0 {
                anyhow::bail!("{broken} of {} checkpoints are broken", rows.len());
            }
        }
        CheckpointCommand::Trigger { remote } => super::remote::trigger(&remote, "/v1/checkpoints", None)?,
        CheckpointCommand::Promote { checkpoint, to, pipeline } => {
            let spec = storage_options(pipeline.as_deref())?;
            let found = io.block_on(catalog::open(&checkpoint, &spec))?;
            let (to_storage, to_dir) = match &to {
                Some(t) => catalog::locate(t, &spec)?,
                None => {
                    let Some((root, _)) = found.dir.split_once("/checkpoints/") else {
                        anyhow::bail!("`{checkpoint}` is not in a checkpoint area; say where to write the savepoint with --to");
                    };
                    (found.storage.clone(), format!("{root}/savepoints/promoted-{}", found.metadata.id))
                }
            };
            io.block_on(catalog::promote(&found, &to_storage, &to_dir))?;
            println!("{}", to_storage.url_of(&to_dir));
        }
        CheckpointCommand::Inspect { location, pipeline, json } => inspect(&location, pipeline.as_deref(), json)?,
    }
    Ok(())
}

/// Reads every state file of each of `snapshots` and checks its SHA-256 (`--verify`):
/// marks its row `verified`, and a failing one `broken` with the reason (and `error`,
/// as before). Returns how many are broken.
fn verify_rows(io: &tokio::runtime::Runtime, storage: &Storage, snapshots: &[(String, crate::checkpoint::Metadata)], rows: &mut [serde_json::Value]) -> usize {
    let mut broken = 0;
    for ((dir, m), row) in snapshots.iter().zip(rows) {
        let found = catalog::Found { storage: storage.clone(), dir: dir.clone(), metadata: m.clone() };
        let outcome = io.block_on(crate::checkpoint::restore::verify(&found));
        row["verified"] = outcome.is_ok().into();
        if let Err(e) = outcome {
            broken += 1;
            row["broken"] = e.to_string().into();
            row["error"] = e.to_string().into();
        }
    }
    broken
}

/// The storage options (S3 endpoint, credentials) of `pipeline`, if given.
fn storage_options(pipeline: Option<&Path>) -> anyhow::Result<StorageSpec> {
    Ok(match pipeline {
        Some(p) => Pipeline::load(p)?.spec.storage,
        None => StorageSpec::default(),
    })
}

fn print_rows(rows: &[serde_json::Value], checkpoints: bool) {
    println!(
        "{:>6}  {:<10} {:<9} {:<25} {:>12} {:>12}  {:<5} path",
        "id",
        "kind",
        "trigger",
        "triggered at",
        "state bytes",
        "shared",
        if checkpoints { "kept" } else { "" }
    );
    for r in rows {
        if let Some(why) = r["broken"].as_str() {
            println!(
                "{:>6}  {:<10} BROKEN: {why}  {}",
                r["id"].as_u64().map_or("?".into(), |i| i.to_string()),
                r["kind"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or("")
            );
            continue;
        }
        let kept = if checkpoints { r["kept"].as_bool().unwrap_or(false).to_string() } else { String::new() };
        println!(
            "{:>6}  {:<10} {:<9} {:<25} {:>12} {:>12}  {:<5} {}",
            r["id"].as_u64().unwrap_or(0),
            r["kind"].as_str().unwrap_or(""),
            r["trigger"].as_str().unwrap_or(""),
            r["triggered-at"].as_str().unwrap_or(""),
            r["state-size"].as_u64().unwrap_or(0),
            r["shared-bytes"].as_u64().unwrap_or(0),
            kept,
            r["path"].as_str().unwrap_or("")
        );
    }
}

/// `host checkpoint inspect` and `host savepoint inspect`: what a snapshot holds.
fn inspect(location: &str, pipeline: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let io = io_runtime()?;
    let spec = storage_options(pipeline)?;
    let found = io.block_on(catalog::open(location, &spec))?;
    let m = &found.metadata;
    if json {
        println!("{}", serde_json::to_string_pretty(m)?);
        return Ok(());
    }
    let name = |v: serde_json::Result<serde_json::Value>| v.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let (kind, trigger) = (name(serde_json::to_value(m.kind)), name(serde_json::to_value(m.trigger)));
    println!("{kind} {} of pipeline `{}` (run {}), trigger {trigger}, triggered {}, took {} ms", m.id, m.pipeline, m.run_id, m.triggered_at, m.duration_ms);
    println!("at {}", found.url());
    if m.drained {
        println!("drained: taken by `host stop --drain` (event-time operators have seen the final watermark; a restore needs --allow-drained-state)");
    }
    if let Some(o) = &m.promoted_from {
        println!("promoted from {:?} {} ({:?}) at {}", o.kind, o.id, o.trigger, o.path);
    }
    println!("state: {} bytes ({} uploaded for it)", m.state_size, m.uploaded_size);
    for (id, pos) in &m.sources {
        println!("source {id}: position {pos}");
    }
    for (id, op) in &m.operators {
        println!("operator {id}: parallelism {}, cairn:operator@{}, component sha256 {}", op.parallelism, op.world.version(), op.component_digest);
        for (i, h) in op.subtasks.iter().enumerate() {
            println!("  subtask {i}: {} bytes, {} v{}, sha256 {}", h.size, h.format, h.version, h.sha256);
            if let Some(image) = &h.image {
                let pages: usize = image.memories.iter().map(Vec::len).sum();
                let stored = image.memories.iter().flatten().filter(|p| p.is_some()).count();
                println!(
                    "    memory image: {} memories, {pages} pages of {} bytes ({stored} stored, {} zero), {} globals; {} pages new in this snapshot",
                    image.memories.len(),
                    image.page_size,
                    pages - stored,
                    image.globals,
                    image.new_pages
                );
            }
            if let Some(r) = h.range {
                let keyed = h.pieces.iter().filter(|p| matches!(p.kind, crate::control::PieceKind::Keyed(_))).count();
                println!("    key hashes {r}: {keyed} keyed pieces, {} operator pieces", h.pieces.len() - keyed);
            }
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
        /// Also read every state file and check its SHA-256; exits non-zero if
        /// any listed savepoint is broken.
        #[arg(long)]
        verify: bool,
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
        SavepointCommand::List { pipeline, verify, json } => {
            let io = io_runtime()?;
            let p = Pipeline::load(&pipeline)?;
            let storage = Storage::open(&p.spec.storage, &p.base_dir)?;
            let inv = io.block_on(catalog::scan(&storage, &p.spec.name))?;
            let mut rows = inv.rows(&storage, &inv.savepoints);
            let unreadable = inv.broken_rows(&storage, catalog::Area::Savepoints);
            let mut broken = unreadable.len();
            if verify {
                broken += verify_rows(&io, &storage, &inv.savepoints, &mut rows);
            }
            rows.extend(unreadable);
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_rows(&rows, false);
            }
            if verify && broken > 0 {
                anyhow::bail!("{broken} of {} savepoints are broken", rows.len());
            }
            Ok(())
        }
        SavepointCommand::Dispose { location, pipeline, json } => {
            let io = io_runtime()?;
            let spec = storage_options(pipeline.as_deref())?;
            let found = io.block_on(catalog::open(&location, &spec))?;
            let d = io.block_on(owner::dispose(&found))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!("disposed of {} ({} files, {} bytes)", d.disposed, d.removed.len(), d.bytes);
                for l in &d.left {
                    println!("left (not the savepoint's): {l}");
                }
                for o in &d.outside {
                    println!("left (referenced from outside its directory): {o}");
                }
            }
            Ok(())
        }
    }
}
