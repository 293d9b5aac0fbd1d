//! The report of `host check`: one row per operator, source and sink, in the
//! order `host run` sets them up, and the first refusal — the error `host run`
//! would stop with.

use serde_json::{Value, json};

use super::operators::Saved;
use crate::checkpoint::lineage::RunRecord;
use crate::dataflow::JobError;
use crate::runtime::OperatorComponent;
use crate::spec::{OperatorSpec, SinkSpec, SourceSpec};

/// One operator, source or sink of a check.
#[derive(Debug)]
pub struct Row {
    /// `operator`, `source` or `sink`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// What it restores, for the report (JSON).
    pub detail: Value,
    /// What it would do, or why it is refused.
    pub result: String,
    /// Whether it would start.
    pub ok: bool,
}

impl Row {
    /// A row for operator `op` (its component, when it compiled, and its saved state).
    pub(super) fn operator(op: &OperatorSpec, component: Option<&OperatorComponent>, saved: Option<&Saved>) -> Row {
        let restores = saved.and_then(|s| s.restores.as_ref());
        let plan = saved.and_then(|s| s.plan.as_ref());
        let subtasks: Vec<Value> = restores
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(j, r)| {
                let mut from: Vec<usize> = r.pieces.iter().map(|p| p.from_subtask).collect();
                from.dedup();
                let bytes: usize = r.pieces.iter().map(|p| p.bytes.len()).sum();
                json!({ "subtask": j, "from-subtasks": from, "pieces": r.pieces.len(), "bytes": bytes, "image": r.image.is_some() })
            })
            .collect();
        let detail = json!({
            "world": component.map(|c| c.world().to_string()),
            "state-world": plan.map(|p| p.world.to_string()),
            "state-versions": restores.map(|r| r.iter().map(|r| r.version).collect::<Vec<_>>()),
            "from-parallelism": plan.map(|p| p.from),
            "parallelism": op.parallelism,
            "subtasks": subtasks,
        });
        let world = component.map_or_else(String::new, |c| format!(", {}", c.world()));
        let what = match (restores, plan) {
            (Some(r), Some(p)) if p.from != p.to => format!("restores ({} subtasks{world}, rescaled {} → {})", r.len(), p.from, p.to),
            (Some(r), _) => format!("restores ({} subtasks{world})", r.len()),
            (None, _) => "no state to restore".into(),
        };
        Row { kind: "operator", id: op.id.clone(), detail, result: what, ok: true }
    }

    /// A row for source `spec`; `positioned`: the checkpoint has its position.
    pub(super) fn source(spec: &SourceSpec, positioned: bool) -> Row {
        let result = if positioned { "source, starts at its position in the checkpoint" } else { "source, starts from its beginning" };
        Row {
            kind: "source",
            id: spec.id().into(),
            detail: json!({ "parallelism": spec.parallelism(), "restored": positioned }),
            result: result.into(),
            ok: true,
        }
    }

    /// A row for sink `spec`; `restored`: the checkpoint has its state.
    pub(super) fn sink(spec: &SinkSpec, restored: bool) -> Row {
        let result = if restored { "sink, its committed output is as the checkpoint left it" } else { "sink, starts fresh" };
        Row { kind: "sink", id: spec.id().into(), detail: json!({ "restored": restored }), result: result.into(), ok: true }
    }
}

/// What `host check` found.
#[derive(Debug)]
pub struct CheckReport {
    /// The snapshot checked, as a URL.
    pub from: Option<String>,
    /// Every operator, source and sink, in start-up order.
    pub rows: Vec<Row>,
    /// The first refusal: the error `host run` would stop with.
    pub first_error: Option<JobError>,
    /// `--resume` of a finished pipeline: nothing would run.
    pub finished: Option<RunRecord>,
}

impl CheckReport {
    pub(super) fn new(from: Option<String>) -> CheckReport {
        CheckReport { from, rows: Vec::new(), first_error: None, finished: None }
    }

    pub(super) fn finished(last: RunRecord) -> CheckReport {
        CheckReport { from: None, rows: Vec::new(), first_error: None, finished: Some(last) }
    }

    /// Adds `row` with how setting it up went (`Ok(restored)` or the refusal).
    pub(super) fn push(&mut self, mut row: Row, outcome: Result<bool, JobError>) {
        match outcome {
            Ok(false) if row.kind == "operator" && row.result.starts_with("restores") => {
                row.result = "starts without its state (--allow-non-restored-state)".into()
            }
            Ok(_) => {}
            Err(e) => {
                row.ok = false;
                row.result = e.to_string();
                self.first_error.get_or_insert(e);
            }
        }
        self.rows.push(row);
    }

    /// The report as JSON: `{ "from", "ok", "error", "rows": [...] }`.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self.rows.iter().map(|r| json!({ "kind": r.kind, "id": r.id, "ok": r.ok, "result": r.result, "detail": r.detail })).collect();
        json!({ "from": self.from, "ok": self.first_error.is_none(), "error": self.first_error.as_ref().map(ToString::to_string), "rows": rows })
    }
}
