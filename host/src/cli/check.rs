//! `host check`: `host run`'s start-up path up to where data would flow —
//! every operator subtask instantiated, `init`ed and restored, every source
//! opened at its position, every sink checked against its committed output —
//! then stop, report, and change nothing.

use std::path::Path;

use super::io_runtime;
use crate::checkpoint::setup::StartFrom;
use crate::runtime::Runtime;
use crate::spec::Pipeline;

/// Checks `pipeline` against where `opts` would start it; prints one row per
/// operator, source and sink (or JSON) and fails with `host run`'s error.
pub(super) fn check(pipeline: &Path, opts: &StartFrom, json: bool) -> anyhow::Result<()> {
    let p = Pipeline::load(pipeline)?;
    let runtime = Runtime::for_pipeline(&p)?;
    let io = io_runtime()?;
    let name = &p.spec.name;
    let report = match crate::job::check(&p, &runtime, opts, io.handle()) {
        Ok(r) => r,
        // Refused before any operator, source or sink is reached (the snapshot as a whole).
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "from": opts.from, "ok": false, "error": e.to_string(), "rows": [] }));
            } else {
                println!("FAIL {}: {e}", opts.from.as_deref().unwrap_or("start"));
            }
            return Err(anyhow::Error::new(e).context(format!("pipeline `{name}` cannot start")));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        if let Some(last) = &report.finished {
            println!("pipeline `{name}` finished (run {}): --resume would run nothing", last.run_id);
        }
        if let Some(from) = &report.from {
            println!("from {from}");
        }
        for r in &report.rows {
            let mark = if r.ok { "ok  " } else { "FAIL" };
            println!("{mark} {}: {}", r.id, r.result);
            for t in r.detail["subtasks"].as_array().into_iter().flatten() {
                let from: Vec<String> = t["from-subtasks"].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
                println!(
                    "       subtask {} ← old subtask{} {}: {} pieces, {} bytes",
                    t["subtask"],
                    if from.len() == 1 { "" } else { "s" },
                    from.join(", "),
                    t["pieces"],
                    t["bytes"]
                );
            }
        }
    }
    match report.first_error {
        Some(e) => Err(anyhow::Error::new(e).context(format!("pipeline `{name}` cannot start"))),
        None => Ok(()),
    }
}
