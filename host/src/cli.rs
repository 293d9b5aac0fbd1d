//! The `host` command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::dataflow::{Job, JobControl, JobSummary};
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
    },
    /// Check a pipeline file and its components without running it.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
}

/// Runs `pipeline` to the end; `ctl` lets a caller stop it.
pub fn run_pipeline(pipeline: &std::path::Path, ctl: Arc<JobControl>) -> anyhow::Result<JobSummary> {
    let pipeline = Pipeline::load(pipeline)?;
    let runtime = Runtime::new()?;
    let job = Job::build(&pipeline, &runtime, ctl).context(format!("pipeline `{}` cannot start", pipeline.spec.name))?;
    let summary = job.run().context(format!("pipeline `{}` failed", pipeline.spec.name))?;
    Ok(summary)
}

/// Entry point of the `host` binary.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,cranelift=warn,wasmtime=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run { pipeline } => {
            let ctl = Arc::new(JobControl::default());
            let on_signal = ctl.clone();
            ctrlc::set_handler(move || {
                tracing::warn!("Ctrl-C: stopping the sources; the job drains and ends");
                on_signal.stop();
            })
            .context("cannot install the Ctrl-C handler")?;
            let summary = run_pipeline(&pipeline, ctl)?;
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
