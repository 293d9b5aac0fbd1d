//! The `host` command line: `run` a pipeline; drive a running job through its
//! REST API (trigger, stop, cancel); work on checkpoints and savepoints in
//! storage (list, inspect, promote, dispose, check).

mod check;
mod gc;
mod progress;
mod project;
mod remote;
mod run;
mod storage;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

pub use gc::StorageCommand;
pub use run::{run_pipeline, run_pipeline_with};
pub use storage::{CheckpointCommand, SavepointCommand};

use crate::checkpoint::setup::StartFrom;
use crate::dataflow::JobControl;
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
        /// Restore from the newest completed checkpoint of this pipeline (start fresh if there is
        /// none), and take over the checkpoints of every earlier run (they count in
        /// `checkpoints.retain` and go once superseded). If the pipeline's last run finished,
        /// nothing runs: its committed output stays as it is.
        #[arg(long)]
        resume: bool,
        /// With --from: claim that checkpoint's run (Flink's CLAIM mode), so that its
        /// checkpoints, the one restored from included, are deleted once this run supersedes
        /// them. Without it (NO_CLAIM), what --from names is never deleted. Not for savepoints.
        #[arg(long, requires = "from")]
        claim: bool,
        /// Let operators without state in the checkpoint start empty, and skip state of removed operators.
        #[arg(long)]
        allow_non_restored_state: bool,
        /// Restore a snapshot taken by `host stop --drain` although its event-time
        /// operators have seen the final watermark (they drop later input as late).
        #[arg(long)]
        allow_drained_state: bool,
    },
    /// Write a new project from a template: `host new operator NAME --lang LANG`.
    #[command(subcommand)]
    New(project::NewCommand),
    /// Build the operator project in DIR (default: the current directory) into
    /// DIR/target/<name>.wasm, installing its language's toolchain on first use.
    Build {
        /// The project's directory (holding `operator.yaml`).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Check a pipeline file and its components without running it: parse it,
    /// compile every component, and `init` every operator subtask with its config.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Checkpoints: trigger one on a running job; list, inspect and promote
    /// them in storage (also of jobs no longer running).
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Savepoints: trigger one on a running job; list, inspect and dispose of
    /// them in storage (also of jobs no longer running).
    #[command(subcommand)]
    Savepoint(SavepointCommand),
    /// Storage of a pipeline, with no job running: `gc` removes what nothing needs.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Stop a running job with a final snapshot that commits its output: a
    /// savepoint with `--savepoint`, else a checkpoint. Prints where it is.
    Stop {
        /// End with a savepoint (self-contained, in the savepoint area).
        #[arg(long)]
        savepoint: bool,
        /// First send the final watermark, so that event-time windows flush
        /// their results before the snapshot.
        #[arg(long)]
        drain: bool,
        /// The job's API.
        #[command(flatten)]
        remote: remote::Remote,
    },
    /// Cancel a running job: it stops reading and ends without a final
    /// snapshot; `checkpoints.on-cancel` says whether its last checkpoint stays.
    Cancel {
        /// The job's API.
        #[command(flatten)]
        remote: remote::Remote,
    },
    /// Check that the pipeline would start (from a checkpoint or savepoint),
    /// without running it: `host run`'s start-up path up to where data would
    /// flow — every operator subtask instantiated, `init`ed and restored, every
    /// source opened at its position, every sink checked against its committed
    /// output — changing nothing; report per operator, source and sink.
    Check {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The checkpoint or savepoint (path or URL).
        #[arg(long, conflicts_with = "resume")]
        from: Option<String>,
        /// Check what `host run --resume` would restore.
        #[arg(long)]
        resume: bool,
        /// Accept operators without state and state of removed operators.
        #[arg(long)]
        allow_non_restored_state: bool,
        /// Accept a snapshot taken by `host stop --drain`.
        #[arg(long)]
        allow_drained_state: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// The runtime for storage I/O and the checkpoint coordinator (tasks run on their own threads).
pub fn io_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("cairn-io").enable_all().build().context("cannot start the I/O runtime")
}

/// Logs to stderr, filtered by `RUST_LOG` (default: info).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,cranelift=warn,wasmtime=warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Entry point of the `host` binary.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Run { pipeline, from, resume, claim, allow_non_restored_state, allow_drained_state } => {
            let ctl = Arc::new(JobControl::default());
            let on_signal = ctl.clone();
            ctrlc::set_handler(move || {
                tracing::warn!("Ctrl-C: stopping the sources; the job drains and ends");
                on_signal.stop();
            })
            .context("cannot install the Ctrl-C handler")?;
            let opts = StartFrom { from, resume, claim, claims: Vec::new(), allow_non_restored_state, allow_drained_state, used_ids: 0 };
            let _progress = progress::start(ctl.clone());
            let summary = run_pipeline_with(&pipeline, ctl, &opts)?;
            eprint!("{summary}");
            Ok(())
        }
        Command::New(cmd) => project::new(cmd),
        Command::Build { dir } => project::build(&dir),
        Command::Checkpoint(cmd) => storage::checkpoint_command(cmd),
        Command::Savepoint(cmd) => storage::savepoint_command(cmd),
        Command::Storage(cmd) => gc::storage_command(cmd),
        Command::Stop { savepoint, drain, remote } => remote::stop(&remote, savepoint, drain),
        Command::Cancel { remote } => remote::cancel(&remote),
        Command::Check { pipeline, from, resume, allow_non_restored_state, allow_drained_state, json } => {
            let opts = StartFrom { from, resume, claim: false, claims: Vec::new(), allow_non_restored_state, allow_drained_state, used_ids: 0 };
            check::check(&pipeline, &opts, json)
        }
        Command::Validate { pipeline } => {
            let p = Pipeline::load(&pipeline)?;
            let runtime = Runtime::for_pipeline(&p)?;
            let components = crate::job::validate(&p, &runtime).with_context(|| format!("{} is not valid", pipeline.display()))?;
            for (op, c) in p.spec.operators.iter().zip(&components) {
                let inputs = op.input.ids().len();
                let note = match c.world() {
                    crate::runtime::World::V0_1 if inputs > 1 => " (0.1.0 does not tell its inputs apart: their events arrive merged)",
                    crate::runtime::World::V0_1 => " (restores at the parallelism its state was taken at)",
                    crate::runtime::World::V0_2 => " (keyed state rescales; inputs told apart)",
                };
                let state = if c.is_memory_image() { ", state: memory (the host snapshots its memory)" } else { "" };
                eprintln!("operator {}: {}{note}{state}", op.id, c.world());
            }
            eprintln!("{}: ok ({} sources, {} operators, {} sinks)", pipeline.display(), p.spec.sources.len(), p.spec.operators.len(), p.spec.sinks.len());
            Ok(())
        }
    }
}
