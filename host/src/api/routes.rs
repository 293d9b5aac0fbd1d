//! The endpoints. Every handler reads the job's shared state or sends it a
//! request; none blocks on a snapshot (triggers are polled). The web view's
//! page is served at `/`, the Prometheus metrics at `/metrics`.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};

use super::body::{self, NoOptions};
use super::{ApiState, OPENAPI, metrics, web};
use crate::checkpoint::{Kind, TriggerState, catalog};
use crate::control::TaskSample;

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
        .route("/metrics", get(prometheus))
        .route("/", get(web::page))
        .route("/web/{asset}", get(web::asset))
        .route("/favicon.ico", get(web::icon))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Any path the API does not have: a JSON 404, like every other error.
async fn not_found(uri: axum::http::Uri) -> Response {
    error(StatusCode::NOT_FOUND, format!("no such endpoint: {} (the endpoints are in /v1/openapi.json)", uri.path()))
}

/// A path the API has, with a method it does not take: a JSON 405.
async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, format!("{} does not take {method} (the endpoints are in /v1/openapi.json)", uri.path()))
}

/// Paths that show nothing of the job (the page's static files, the API's
/// own description): readable without the token everywhere.
fn is_public(path: &str) -> bool {
    matches!(path, "/" | "/favicon.ico" | "/v1/openapi.json") || path.starts_with("/web/")
}

/// The token rule: when a token is set, every request but a `GET` carries it,
/// and off loopback every `GET` of the job's data too (one token for reads and
/// writes, as behind Flink's REST authentication).
async fn authorize(State(state): State<ApiState>, headers: HeaderMap, request: Request, next: Next) -> Response {
    let Some(token) = &state.token else { return next.run(request).await };
    let read = request.method() == Method::GET || request.method() == Method::HEAD;
    // Only POSTs act; any other method reaches no handler and is answered 405 (or 404).
    let needed = if read { state.reads_need_token && !is_public(request.uri().path()) } else { request.method() == Method::POST };
    if needed && !bearer_matches(&headers, token) {
        let mut answer = error(StatusCode::UNAUTHORIZED, "this endpoint needs `Authorization: Bearer <token>` (the job's CAIRN_API_TOKEN)");
        answer.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"cairn\""));
        return answer;
    }
    next.run(request).await
}

/// Whether `headers` carry `Authorization: Bearer <token>` (the scheme in any
/// case), compared in constant time.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some((scheme, given)) = value.trim().split_once(' ') else { return false };
    let (given, token) = (given.trim().as_bytes(), token.as_bytes());
    scheme.eq_ignore_ascii_case("bearer") && given.len() == token.len() && given.iter().zip(token).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// `GET /v1/job`: status and configuration.
async fn job(State(s): State<ApiState>) -> Json<Value> {
    let config = crate::spec::redacted(&s.pipeline.spec);
    let spec = &s.pipeline.spec;
    let samples = s.ctl.counters().read();
    let nodes: Vec<Value> = spec
        .operators
        .iter()
        .map(|o| node(&o.id, "operator", o.parallelism, o.input.ids(), &samples))
        .chain(spec.sources.iter().map(|x| node(x.id(), "source", x.parallelism(), Vec::new(), &samples)))
        .chain(spec.sinks.iter().map(|x| node(x.id(), "sink", 1, x.input().ids(), &samples)))
        .collect();
    Json(json!({
        "name": s.pipeline.spec.name,
        "status": s.ctl.status(),
        "run-id": s.ctl.run_id(),
        "restarts": s.ctl.restarts(),
        "token-required": s.token.is_some(),
        "started-at": s.started_at,
        "pipeline-file": s.pipeline.path,
        "storage": s.storage.url(),
        "nodes": nodes,
        "config": config,
    }))
}

/// One node of `GET /v1/job`: its inputs, and its live counters summed over
/// its subtasks and per subtask.
fn node(id: &str, kind: &str, parallelism: usize, inputs: Vec<&str>, samples: &[TaskSample]) -> Value {
    let mine: Vec<&TaskSample> = samples.iter().filter(|t| t.node == id).collect();
    let sum = |f: fn(&TaskSample) -> u64| mine.iter().map(|t| f(t)).sum::<u64>();
    let subtasks: Vec<Value> = mine
        .iter()
        .map(|t| {
            let r = &t.reading;
            json!({
                "subtask": t.subtask, "events-in": r.events_in, "events-out": r.events_out,
                "busy-ms": r.busy.as_millis() as u64, "queued": r.queued, "capacity": r.capacity,
                "watermark": r.watermark, "alignment-ms": r.alignment.as_secs_f64() * 1e3,
            })
        })
        .collect();
    json!({
        "id": id,
        "kind": kind,
        "parallelism": parallelism,
        "inputs": inputs,
        "events-in": sum(|t| t.reading.events_in),
        "events-out": sum(|t| t.reading.events_out),
        "busy-ms": sum(|t| t.reading.busy.as_millis() as u64),
        "queued": sum(|t| t.reading.queued),
        "capacity": sum(|t| t.reading.capacity),
        "watermark": mine.iter().filter_map(|t| t.reading.watermark).min(),
        "subtasks": subtasks,
    })
}

/// `GET /metrics`: the Prometheus exposition.
async fn prometheus(State(s): State<ApiState>) -> Response {
    let tasks = s.ctl.counters().read();
    let stats = s.ctl.stats().lock().expect("stats").clone();
    let status = serde_json::to_value(s.ctl.status()).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let scrape = metrics::Scrape { job: &s.pipeline.spec.name, status: &status, restarts: s.ctl.restarts(), tasks: &tasks, stats: &stats };
    match metrics::encode(&scrape) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode the metrics: {e}")),
    }
}

/// `GET /v1/checkpoints`: counts, latest, restored-from and the history.
async fn checkpoints(State(s): State<ApiState>) -> Json<Value> {
    let stats = s.ctl.stats().lock().expect("stats").clone();
    Json(serde_json::to_value(stats).unwrap_or(Value::Null))
}

/// `GET /v1/checkpoints/{id}`: one checkpoint or savepoint of this job, per operator and subtask.
async fn checkpoint(State(s): State<ApiState>, id: Result<Path<u64>, axum::extract::rejection::PathRejection>) -> Response {
    let Ok(Path(id)) = id else {
        return error(StatusCode::BAD_REQUEST, "a checkpoint id is a number: GET /v1/checkpoints/{id}");
    };
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
            let mut rows = inv.rows(&s.storage, &inv.savepoints);
            rows.extend(inv.broken_rows(&s.storage, catalog::Area::Savepoints));
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

/// Reads a request's body strictly ([`body::read`]).
fn options<T: serde::de::DeserializeOwned + Default>(headers: &HeaderMap, bytes: &Bytes, takes: &str) -> Result<T, body::Refused> {
    body::read(headers, bytes, takes)
}

/// The JSON error answering a refused body.
fn refused(r: body::Refused) -> Response {
    error(r.status, r.message)
}

/// `POST /v1/checkpoints`: trigger a checkpoint.
async fn trigger_checkpoint(State(s): State<ApiState>, headers: HeaderMap, bytes: Bytes) -> Response {
    match options::<NoOptions>(&headers, &bytes, "{}") {
        Ok(_) => requested(s.ctl.request(Kind::Checkpoint, None)),
        Err(r) => refused(r),
    }
}

/// `POST /v1/savepoints`: trigger a savepoint.
async fn trigger_savepoint(State(s): State<ApiState>, headers: HeaderMap, bytes: Bytes) -> Response {
    match options::<NoOptions>(&headers, &bytes, "{}") {
        Ok(_) => requested(s.ctl.request(Kind::Savepoint, None)),
        Err(r) => refused(r),
    }
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

/// `POST /v1/job/stop`: end the job with a final snapshot. A body that cannot
/// be read as [`StopBody`] is refused: it is never carried out as a stop
/// without the savepoint it may have asked for.
async fn stop(State(s): State<ApiState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let body: StopBody = match options(&headers, &bytes, r#"{"savepoint": bool, "drain": bool}"#) {
        Ok(b) => b,
        Err(r) => return refused(r),
    };
    let kind = if body.savepoint { Kind::Savepoint } else { Kind::Checkpoint };
    requested(s.ctl.request(kind, Some(body.drain)))
}

/// `POST /v1/job/cancel`: stop reading and end without a final snapshot; the
/// `checkpoints.on-cancel` policy applies.
async fn cancel(State(s): State<ApiState>, headers: HeaderMap, bytes: Bytes) -> Response {
    if let Err(r) = options::<NoOptions>(&headers, &bytes, "{}") {
        return refused(r);
    }
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
