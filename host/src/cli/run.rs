//! `host run`: runs a pipeline to the end, restarting it in process from its
//! last checkpoint when a task fails (as its restart strategy allows), with the
//! REST API up for as long as the job lives.

use std::sync::Arc;

use anyhow::Context;

use crate::checkpoint::lineage::Ending;
use crate::checkpoint::setup::StartFrom;
use crate::dataflow::{JobControl, JobStatus, Retry};
use crate::job::{self, JobSummary, Started};
use crate::runtime::Runtime;
use crate::spec::Pipeline;

/// Runs `pipeline` to the end; `ctl` lets a caller stop it.
pub fn run_pipeline(pipeline: &std::path::Path, ctl: Arc<JobControl>) -> anyhow::Result<JobSummary> {
    run_pipeline_with(pipeline, ctl, &StartFrom::default())
}

/// Runs `pipeline` to the end with `opts` (restore from a checkpoint, …). A
/// failure while the job runs restarts it in-process from its last completed
/// checkpoint, as the pipeline's restart strategy allows; failures before any
/// data flows (bad pipeline, bad component, `init` errors) are final.
pub fn run_pipeline_with(pipeline: &std::path::Path, ctl: Arc<JobControl>, opts: &StartFrom) -> anyhow::Result<JobSummary> {
    let pipeline = Pipeline::load(pipeline)?;
    let runtime = Runtime::for_pipeline(&pipeline)?;
    let io = super::io_runtime()?;
    let name = pipeline.spec.name.clone();
    let secrets = crate::spec::Secrets::of(&pipeline.spec);
    let _api = crate::api::serve(&pipeline, ctl.clone(), io.handle()).context(format!("pipeline `{name}` cannot start"))?;
    let restart = &pipeline.spec.restart;
    let policies = &pipeline.spec.checkpoints;
    let mut opts = opts.clone();
    let mut attempt = 0u32;
    loop {
        let Some(started) = start_cancellable(&pipeline, &runtime, &ctl, &opts, io.handle()) else {
            let why = format!("pipeline `{name}` cancelled while starting: nothing ran, nothing was written");
            tracing::warn!(event = "cancelled", "{why}");
            ctl.set_status(JobStatus::Cancelled);
            return Ok(JobSummary::nothing_ran(why, true));
        };
        let job = match started {
            Ok(Started::Finished(last)) => {
                let why = format!(
                    "pipeline `{name}` finished (run {}, {}): nothing to resume, and its committed output stays as it is. \
                     Run it without --resume to process its input again from the start, or with --from to restore a kept checkpoint or a savepoint.",
                    last.run_id,
                    last.ended.as_ref().map_or("", |e| e.at.as_str())
                );
                tracing::warn!(event = "nothing-to-resume", run = %last.run_id, "{why}");
                ctl.set_status(JobStatus::Finished);
                return Ok(JobSummary::nothing_ran(why, false));
            }
            Ok(Started::Ready(job)) => Ok(job),
            Err(e) => Err(e),
        };
        // What failed this attempt; with the run's end and latest checkpoint when a job was built.
        let started = std::time::Instant::now();
        let (error, end, latest) = match job {
            Ok(job) => {
                let stats = job.checkpoint_stats();
                let end = job.end_of_run();
                match job.run() {
                    Ok(mut summary) => {
                        summary.restarts = attempt;
                        // Persistent checkpoints: the policy for a finished or cancelled job.
                        let policy = if summary.stopped { policies.on_cancel } else { policies.on_finish };
                        let (how, reason) = if summary.stopped { (Ending::Cancelled, "cancelled") } else { (Ending::Finished, "finished") };
                        let keep = (policy == crate::spec::EndPolicy::Keep).then_some(reason);
                        match end.apply(how, keep) {
                            Ok(kept) => summary.checkpoints.kept = kept,
                            Err(e) => tracing::warn!(error = %e, "cannot apply the end-of-job checkpoint policy"),
                        }
                        ctl.set_status(if summary.stopped { JobStatus::Cancelled } else { JobStatus::Finished });
                        ctl.linger_for_stop_pollers(std::time::Duration::from_secs(5));
                        return Ok(summary);
                    }
                    Err(e) => {
                        let latest = stats.lock().expect("stats").latest.clone();
                        (e, Some(end), latest)
                    }
                }
            }
            // A restart that cannot reach a broker yet is a failed attempt like any other
            // (the outage that failed the job often outlasts the first restart).
            Err(e) if attempt > 0 && e.retry() == Retry::Transient => (e, None, None),
            Err(e) => {
                ctl.set_status(JobStatus::Failed);
                return Err(anyhow::Error::new(e).context(format!("pipeline `{name}` cannot start")));
            }
        };
        let latest = latest.or_else(|| opts.from.clone());
        let kept = kept_msg(&latest);
        if started.elapsed() >= restart.reset_after.0 {
            attempt = 0;
        }
        attempt += 1;
        // A record a source cannot read fails again on every restart: not retried.
        let deterministic = error.retry() == Retry::Never;
        let Some(wait) = restart.backoff(attempt).filter(|_| !ctl.is_stopped() && !deterministic) else {
            // Failed for good: the last checkpoint is always kept.
            let kept = end.as_ref().and_then(|end| end.apply(Ending::Failed, Some("failed")).ok().flatten());
            let kept = kept.map_or(kept_msg(&latest), |k| format!("kept checkpoint: {k}"));
            ctl.set_status(JobStatus::Failed);
            let why = match restart.strategy {
                _ if deterministic => "not retried: a restart would read the same record again; `on-malformed: skip` or `dead-letter` goes past it".to_string(),
                crate::spec::RestartStrategy::None => "restart strategy `none`".to_string(),
                _ => format!("{} restart attempts used", attempt - 1),
            };
            return Err(anyhow::Error::new(error).context(format!("pipeline `{name}` failed for good ({why}); {kept}")));
        };
        let what = if end.is_some() {
            "task failed; restarting the job from its last completed checkpoint"
        } else {
            "the restarted job cannot start yet; trying again"
        };
        tracing::warn!(event = "restarting", attempt, of = restart.attempts, wait_ms = wait.as_millis() as u64, error = %secrets.scrub(&error.to_string()), "{what} ({kept})");
        ctl.set_status(JobStatus::Restarting);
        std::thread::sleep(wait);
        // Resume from this job's last completed checkpoint (or where it started
        // from), claiming the attempt that failed: its checkpoints are this job's.
        if let Some(l) = latest {
            (opts.from, opts.resume, opts.claim) = (Some(l), false, false);
        }
        opts.claims.push(ctl.run_id());
        let used = ctl.stats().lock().expect("stats").history.iter().map(|r| r.id).max().unwrap_or(0);
        opts.used_ids = opts.used_ids.max(used);
    }
}

/// Starts an attempt on a thread of its own, so that a cancel (the API, Ctrl-C)
/// ends a job that is still starting — waiting for a broker, compiling — at
/// once. `None`: cancelled first (the start-up path writes nothing until its
/// last step, and refuses that step once cancelled).
fn start_cancellable(
    pipeline: &Pipeline,
    runtime: &Runtime,
    ctl: &Arc<JobControl>,
    opts: &StartFrom,
    rt: &tokio::runtime::Handle,
) -> Option<Result<Started, crate::dataflow::JobError>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (pipeline, runtime, c, opts, rt) = (pipeline.clone(), runtime.clone(), ctl.clone(), opts.clone(), rt.clone());
    let spawned = std::thread::Builder::new().name("job-start".into()).spawn(move || {
        let _ = tx.send(job::start(&pipeline, &runtime, &c, &opts, rt));
    });
    if let Err(source) = spawned {
        return Some(Err(crate::dataflow::JobError::Thread { task: "job-start".into(), source }));
    }
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(20)) {
            // A job that started as the cancel came runs as cancelled: its sources stop at once.
            Ok(started) => return Some(started),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if ctl.is_stopped() => return None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Some(Err(crate::dataflow::JobError::Panicked)),
        }
    }
}

fn kept_msg(latest: &Option<String>) -> String {
    latest.as_deref().map_or_else(|| "no checkpoint completed".to_string(), |l| format!("last completed checkpoint: {l}"))
}
