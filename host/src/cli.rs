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
    let mut opts = opts.clone();
    let mut attempt = 0u32;
    loop {
        let job = Job::build(&pipeline, &runtime, ctl.next_attempt(), &opts, io.handle().clone())
            .context(format!("pipeline `{name}` cannot start"))?;
        let stats = job.checkpoint_stats();
        let started = std::time::Instant::now();
        let error = match job.run() {
            Ok(mut summary) => {
                summary.restarts = attempt;
                return Ok(summary);
            }
            Err(e) => e,
        };
        let latest = stats.lock().expect("stats").latest.clone().or_else(|| opts.from.clone());
        let kept = latest.as_deref().map_or_else(|| "no checkpoint completed".to_string(), |l| format!("last completed checkpoint: {l}"));
        if started.elapsed() >= restart.reset_after.0 {
            attempt = 0;
        }
        attempt += 1;
        let Some(wait) = restart.backoff(attempt).filter(|_| !ctl.is_stopped()) else {
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
        match latest {
            Some(l) => (opts.from, opts.resume) = (Some(l), false),
            None => {}
        }
    }
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
