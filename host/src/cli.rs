//! The `host` command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::dataflow::{Job, JobControl, JobSummary, RunOptions};
use crate::runtime::Runtime;
use crate::spec::Pipeline;

/// Cairn: stream processing with sandboxed WebAssembly operators.
#[derive(Debug, Parser)]
#[command(name = "host", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs of `host`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline until its input ends (or Ctrl-C), then print a summary.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Restore from this checkpoint: its directory (or `_metadata` file) as a path or URL.
        #[arg(long, conflicts_with = "resume")]
        from: Option<String>,
        /// Restore from the newest completed checkpoint of this pipeline (start fresh if there is none).
        #[arg(long)]
        resume: bool,
        /// Let operators without state in the checkpoint start empty, and skip state of removed operators.
        #[arg(long)]
        allow_non_restored_state: bool,
    },
    /// Check a pipeline file and its components without running it.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Checkpoints in storage (also of jobs no longer running).
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Check that a checkpoint or savepoint restores into a pipeline, without
    /// running it: instantiate every operator subtask, `init` it, and `restore`
    /// its saved state (format and version included); report per operator.
    Check {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The checkpoint or savepoint (path or URL).
        #[arg(long)]
        from: String,
        /// Accept operators without state and state of removed operators.
        #[arg(long)]
        allow_non_restored_state: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// `host check`: restores every operator subtask from `from` without running the pipeline.
fn check(pipeline: &std::path::Path, from: &str, allow: bool, json: bool) -> anyhow::Result<()> {
    use crate::checkpoint::{catalog, restore};
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
fn checkpoint_command(cmd: CheckpointCommand) -> anyhow::Result<()> {
    use crate::checkpoint::{Storage, catalog};
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
                    serde_json::json!({
                        "id": m.id, "kind": m.kind, "trigger": m.trigger, "run-id": m.run_id,
                        "triggered-at": m.triggered_at, "state-size": m.state_size,
                        "duration-ms": m.duration_ms, "path": format!("{}/{dir}", storage.url()),
                        "kept": listing.kept.contains(dir),
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:>6}  {:<10} {:<9} {:<25} {:>12}  {:<5} path", "id", "kind", "trigger", "triggered at", "state bytes", "kept");
                for r in &rows {
                    println!(
                        "{:>6}  {:<10} {:<9} {:<25} {:>12}  {:<5} {}",
                        r["id"], r["kind"].as_str().unwrap_or(""), r["trigger"].as_str().unwrap_or(""),
                        r["triggered-at"].as_str().unwrap_or(""), r["state-size"], r["kept"], r["path"].as_str().unwrap_or("")
                    );
                }
                for (dir, why) in &listing.unreadable {
                    eprintln!("unreadable: {dir}: {why}");
                }
            }
        }
        CheckpointCommand::Promote { checkpoint, to, pipeline } => {
            let (spec, base) = match &pipeline {
                Some(p) => {
                    let p = Pipeline::load(p)?;
                    (p.spec.storage.clone(), p.base_dir.clone())
                }
                None => (Default::default(), PathBuf::from(".")),
            };
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
        CheckpointCommand::Inspect { location, pipeline, json } => {
            let (spec, base) = match &pipeline {
                Some(p) => {
                    let p = Pipeline::load(p)?;
                    (p.spec.storage.clone(), p.base_dir.clone())
                }
                None => (Default::default(), PathBuf::from(".")),
            };
            let found = io.block_on(catalog::open(&location, &spec, &base))?;
            let m = &found.metadata;
            if json {
                println!("{}", serde_json::to_string_pretty(m)?);
                return Ok(());
            }
            println!("{} {} of pipeline `{}` (run {}), {:?}, triggered {}, took {} ms", format!("{:?}", m.kind).to_lowercase(), m.id, m.pipeline, m.run_id, m.trigger, m.triggered_at, m.duration_ms);
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
        }
    }
    Ok(())
}

/// The runtime for storage I/O and the checkpoint coordinator (tasks run on their own threads).
pub fn io_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cairn-io")
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")
}

/// Runs `pipeline` to the end; `ctl` lets a caller stop it.
pub fn run_pipeline(pipeline: &std::path::Path, ctl: Arc<JobControl>) -> anyhow::Result<JobSummary> {
    run_pipeline_with(pipeline, ctl, &RunOptions::default())
}

/// Runs `pipeline` to the end with `opts` (restore from a checkpoint, …). A
/// failure while the job runs restarts it in-process from its last completed
/// checkpoint, as the pipeline's restart strategy allows; failures before any
/// data flows (bad pipeline, bad component, `init` errors) are final.
pub fn run_pipeline_with(pipeline: &std::path::Path, ctl: Arc<JobControl>, opts: &RunOptions) -> anyhow::Result<JobSummary> {
    let pipeline = Pipeline::load(pipeline)?;
    let runtime = Runtime::for_pipeline(&pipeline)?;
    let io = io_runtime()?;
    let name = pipeline.spec.name.clone();
    let restart = &pipeline.spec.restart;
    let policies = &pipeline.spec.checkpoints;
    let mut opts = opts.clone();
    let mut attempt = 0u32;
    loop {
        let job = Job::build(&pipeline, &runtime, ctl.next_attempt(), &opts, io.handle().clone())
            .context(format!("pipeline `{name}` cannot start"))?;
        let stats = job.checkpoint_stats();
        let end = job.end_of_run();
        let started = std::time::Instant::now();
        let error = match job.run() {
            Ok(mut summary) => {
                summary.restarts = attempt;
                // Persistent checkpoints: the policy for a finished or cancelled job.
                let policy = if summary.stopped { policies.on_cancel } else { policies.on_finish };
                let reason = if summary.stopped { "cancelled" } else { "finished" };
                let keep = (policy == crate::spec::EndPolicy::Keep).then_some(reason);
                match end.apply(keep) {
                    Ok(kept) => summary.checkpoints.kept = kept,
                    Err(e) => tracing::warn!(error = %e, "cannot apply the end-of-job checkpoint policy"),
                }
                return Ok(summary);
            }
            Err(e) => e,
        };
        let latest = stats.lock().expect("stats").latest.clone().or_else(|| opts.from.clone());
        let kept = kept_msg(&latest);
        if started.elapsed() >= restart.reset_after.0 {
            attempt = 0;
        }
        attempt += 1;
        let Some(wait) = restart.backoff(attempt).filter(|_| !ctl.is_stopped()) else {
            // Failed for good: the last checkpoint is always kept.
            let kept = end.apply(Some("failed")).ok().flatten();
            let kept = kept.map_or(kept_msg(&latest), |k| format!("kept checkpoint: {k}"));
            let why = match restart.strategy {
                crate::spec::RestartStrategy::None => "restart strategy `none`".to_string(),
                _ => format!("{} restart attempts used", attempt - 1),
            };
            return Err(anyhow::Error::new(error).context(format!("pipeline `{name}` failed for good ({why}); {kept}")));
        };
        tracing::warn!(
            event = "restarting",
            attempt,
            of = restart.attempts,
            wait_ms = wait.as_millis() as u64,
            error = %error,
            "task failed; restarting the job from its last completed checkpoint ({kept})"
        );
        std::thread::sleep(wait);
        // Resume from this job's last completed checkpoint (or where it started from).
        if let Some(l) = latest {
            (opts.from, opts.resume) = (Some(l), false);
        }
    }
}

fn kept_msg(latest: &Option<String>) -> String {
    latest.as_deref().map_or_else(|| "no checkpoint completed".to_string(), |l| format!("last completed checkpoint: {l}"))
}

/// Logs to stderr, filtered by `RUST_LOG` (default: info).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,cranelift=warn,wasmtime=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Entry point of the `host` binary.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Run { pipeline, from, resume, allow_non_restored_state } => {
            let ctl = Arc::new(JobControl::default());
            let on_signal = ctl.clone();
            ctrlc::set_handler(move || {
                tracing::warn!("Ctrl-C: stopping the sources; the job drains and ends");
                on_signal.stop();
            })
            .context("cannot install the Ctrl-C handler")?;
            let opts = RunOptions { from, resume, allow_non_restored_state };
            let summary = run_pipeline_with(&pipeline, ctl, &opts)?;
            eprint!("{summary}");
            Ok(())
        }
        Command::Checkpoint(cmd) => checkpoint_command(cmd),
        Command::Check { pipeline, from, allow_non_restored_state, json } => check(&pipeline, &from, allow_non_restored_state, json),
        Command::Validate { pipeline } => {
            let p = Pipeline::load(&pipeline)?;
            let runtime = Runtime::new()?;
            for op in &p.spec.operators {
                runtime.load(&op.id, &p.resolve(&op.component))?;
            }
            eprintln!("{}: ok ({} sources, {} operators, {} sinks)", pipeline.display(), p.spec.sources.len(), p.spec.operators.len(), p.spec.sinks.len());
            Ok(())
        }
    }
}
