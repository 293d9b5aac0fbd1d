//! The endpoints. Every handler reads the job's shared state or sends it a
//! request; none blocks on a snapshot (triggers are polled).

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiState, OPENAPI};
use crate::checkpoint::{Kind, TriggerState, catalog};

/// Every route of the API.
pub(super) fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/job", get(job))
        .route("/v1/job/stop", post(stop))
        .route("/v1/job/cancel", post(cancel))
        .route("/v1/checkpoints", get(checkpoints).post(trigger_checkpoint))
        .route("/v1/checkpoints/{id}", get(checkpoint))
        .route("/v1/savepoints", get(savepoints).post(trigger_savepoint))
        .route("/v1/triggers/{trigger_id}", get(trigger))
        .route("/v1/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Mutating requests carry the bearer token when one is set.
async fn authorize(State(state): State<ApiState>, headers: HeaderMap, request: Request, next: Next) -> Response {
    if request.method() != Method::GET
        && let Some(token) = &state.token
    {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return error(StatusCode::UNAUTHORIZED, "this endpoint needs `Authorization: Bearer <token>` (the job's CAIRN_API_TOKEN)");
        }
    }
    next.run(request).await
}

/// `GET /v1/job`: status and configuration.
async fn job(State(s): State<ApiState>) -> Json<Value> {
    let mut config = serde_json::to_value(&s.pipeline.spec).unwrap_or(Value::Null);
    // Storage options may hold credentials.
    if let Some(options) = config.pointer_mut("/storage/options").and_then(Value::as_object_mut) {
        for v in options.values_mut() {
            *v = json!("<redacted>");
        }
    }
    let nodes: Vec<Value> = s
        .pipeline
        .spec
        .operators
        .iter()
        .map(|o| json!({ "id": o.id, "kind": "operator", "parallelism": o.parallelism }))
        .chain(s.pipeline.spec.sources.iter().map(|x| json!({ "id": x.id(), "kind": "source", "parallelism": x.parallelism() })))
        .chain(s.pipeline.spec.sinks.iter().map(|x| json!({ "id": x.id(), "kind": "sink", "parallelism": 1 })))
        .collect();
    Json(json!({
        "name": s.pipeline.spec.name,
        "status": s.ctl.status(),
        "run-id": s.ctl.run_id(),
        "restarts": s.ctl.restarts(),
        "started-at": s.started_at,
        "pipeline-file": s.pipeline.path,
        "storage": s.storage.url(),
        "nodes": nodes,
        "config": config,
    }))
}

/// `GET /v1/checkpoints`: counts, latest, restored-from and the history.
async fn checkpoints(State(s): State<ApiState>) -> Json<Value> {
    let stats = s.ctl.stats().lock().expect("stats").clone();
    Json(serde_json::to_value(stats).unwrap_or(Value::Null))
}

/// `GET /v1/checkpoints/{id}`: one checkpoint or savepoint of this job, per operator and subtask.
async fn checkpoint(State(s): State<ApiState>, Path(id): Path<u64>) -> Response {
    let stats = s.ctl.stats();
    let stats = stats.lock().expect("stats");
    match stats.history.iter().rev().find(|r| r.id == id) {
        Some(r) => Json(serde_json::to_value(r).unwrap_or(Value::Null)).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("this job has no checkpoint {id}")),
    }
}

/// `GET /v1/savepoints`: every savepoint of the pipeline in storage, of every run.
async fn savepoints(State(s): State<ApiState>) -> Response {
    match catalog::scan(&s.storage, &s.pipeline.spec.name).await {
        Ok(inv) => {
            let rows = inv.rows(&s.storage, &inv.savepoints);
            Json(Value::Array(rows)).into_response()
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, format!("cannot list savepoints in {}: {e}", s.storage.url())),
    }
}

fn requested(result: Result<String, String>) -> Response {
    match result {
        Ok(id) => (StatusCode::ACCEPTED, Json(json!({ "trigger-id": id, "poll": format!("/v1/triggers/{id}") }))).into_response(),
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}

/// `POST /v1/checkpoints`: trigger a checkpoint.
async fn trigger_checkpoint(State(s): State<ApiState>) -> Response {
    requested(s.ctl.request(Kind::Checkpoint, None))
}

/// `POST /v1/savepoints`: trigger a savepoint.
async fn trigger_savepoint(State(s): State<ApiState>) -> Response {
    requested(s.ctl.request(Kind::Savepoint, None))
}

/// Body of `POST /v1/job/stop`.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
struct StopBody {
    /// End with a savepoint (else with a checkpoint that commits the sinks).
    savepoint: bool,
    /// Send the final watermark first, so that event-time windows flush.
    drain: bool,
}

/// `POST /v1/job/stop`: end the job with a final snapshot.
async fn stop(State(s): State<ApiState>, body: Option<Json<StopBody>>) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let kind = if body.savepoint { Kind::Savepoint } else { Kind::Checkpoint };
    requested(s.ctl.request(kind, Some(body.drain)))
}

/// `POST /v1/job/cancel`: stop reading and end without a final snapshot; the
/// `checkpoints.on-cancel` policy applies.
async fn cancel(State(s): State<ApiState>) -> Response {
    tracing::warn!("cancel requested through the REST API");
    s.ctl.stop();
    (StatusCode::ACCEPTED, Json(json!({ "status": "cancelling" }))).into_response()
}

/// `GET /v1/triggers/{trigger_id}`: where a requested snapshot stands.
async fn trigger(State(s): State<ApiState>, Path(trigger_id): Path<String>) -> Response {
    let stats = s.ctl.stats();
    let mut stats = stats.lock().expect("stats");
    match stats.triggers.get_mut(&trigger_id) {
        Some(t) => {
            t.delivered |= matches!(t.status, TriggerState::Completed | TriggerState::Failed);
            Json(serde_json::to_value(&*t).unwrap_or(Value::Null)).into_response()
        }
        None => error(StatusCode::NOT_FOUND, format!("no trigger `{trigger_id}`")),
    }
}

/// `GET /v1/openapi.json`.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
