//! The REST API over real HTTP against a running `host`: every endpoint, the
//! bearer-token rule off loopback, and cancel under each end-of-job policy.

use std::time::{Duration, Instant};

use cairn_tests::{checkpoint_dirs, host, sorted_lines, write_pipeline};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::checkpoints::{counting_pipeline, job_dir, reference_output};
use crate::savepoints::{API, RunningJob, local};

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

fn get(api: &str, path: &str) -> (StatusCode, Value) {
    let r = client().get(format!("{api}{path}")).send().unwrap();
    (r.status(), r.json().unwrap_or(Value::Null))
}

fn post(api: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = client().post(format!("{api}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().unwrap();
    (r.status(), r.json().unwrap_or(Value::Null))
}

/// Polls a trigger until it completes; returns its final state.
fn poll(api: &str, accepted: &Value) -> Value {
    let path = accepted["poll"].as_str().unwrap_or_else(|| panic!("no poll path in {accepted}"));
    let started = Instant::now();
    loop {
        let (status, t) = get(api, path);
        assert_eq!(status, StatusCode::OK, "{t}");
        match t["status"].as_str().unwrap() {
            "completed" => return t,
            "failed" => panic!("trigger failed: {t}"),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(30), "trigger not done after 30 s: {t}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_endpoint_over_http() {
    let dir = job_dir(60);
    let p = write_pipeline(dir.path(), &counting_pipeline("rest", "storage", "300ms", 600, API));
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run.log"));
    let api = job.api.clone();

    let (status, doc) = get(&api, "/v1/openapi.json");
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/v1/job", "/v1/job/stop", "/v1/job/cancel", "/v1/checkpoints", "/v1/checkpoints/{id}", "/v1/savepoints", "/v1/triggers/{trigger-id}"] {
        assert!(paths.contains_key(path), "the OpenAPI document lacks {path}");
    }

    // The API is up while the job starts; wait until data flows.
    let started = Instant::now();
    let j = loop {
        let (status, j) = get(&api, "/v1/job");
        assert_eq!(status, StatusCode::OK);
        if j["status"] != "starting" {
            break j;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "still starting after 60 s: {j}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(j["name"], "rest");
    assert_eq!(j["status"], "running");
    assert!(j["run-id"].as_str().unwrap().starts_with("run-"));
    assert_eq!(j["config"]["operators"][1]["parallelism"], 2);

    // Trigger a checkpoint, poll it, read its details per operator and subtask.
    let (status, accepted) = post(&api, "/v1/checkpoints", None, None);
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let done = poll(&api, &accepted);
    assert_eq!(done["kind"], "checkpoint");
    let id = done["id"].as_u64().unwrap();
    let (status, c) = get(&api, &format!("/v1/checkpoints/{id}"));
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["trigger"], "manual");
    assert_eq!(c["status"], "completed");
    assert_eq!(c["operators"]["count"].as_array().unwrap().len(), 2, "{c}");
    assert!(c["operators"]["count"][0]["size"].as_u64().unwrap() > 0);
    assert_eq!(get(&api, "/v1/checkpoints/999999").0, StatusCode::NOT_FOUND);
    // Every error is JSON with the right code, the framework's own too.
    for (method, path, want) in [
        (reqwest::Method::GET, "/v1/checkpoints/abc", StatusCode::BAD_REQUEST),
        (reqwest::Method::GET, "/v1/nope", StatusCode::NOT_FOUND),
        (reqwest::Method::PUT, "/v1/job", StatusCode::METHOD_NOT_ALLOWED),
        (reqwest::Method::GET, "/v1/job/stop", StatusCode::METHOD_NOT_ALLOWED),
        (reqwest::Method::GET, "/web/nope.js", StatusCode::NOT_FOUND),
    ] {
        let r = client().request(method.clone(), format!("{api}{path}")).send().unwrap();
        assert_eq!(r.status(), want, "{method} {path}");
        let body: Value = r.json().unwrap_or(Value::Null);
        assert!(body["error"].is_string(), "{method} {path}: not a JSON error: {body}");
    }
    let icon = client().get(format!("{api}/favicon.ico")).send().unwrap();
    assert_eq!(icon.status(), StatusCode::OK, "the page's icon");

    // Trigger a savepoint; it shows in the list read from storage.
    let (status, accepted) = post(&api, "/v1/savepoints", None, None);
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let sp = poll(&api, &accepted);
    let sp_path = sp["path"].as_str().unwrap().to_string();
    assert!(local(&sp_path).join("_metadata").is_file());
    let (status, list) = get(&api, "/v1/savepoints");
    assert_eq!(status, StatusCode::OK);
    assert!(list.as_array().unwrap().iter().any(|s| s["path"] == sp_path.as_str()), "{list}");
    assert_eq!(get(&api, "/v1/triggers/nope").0, StatusCode::NOT_FOUND);

    job.wait_for("checkpoint completed");
    let (status, stats) = get(&api, "/v1/checkpoints");
    assert_eq!(status, StatusCode::OK);
    assert!(stats["completed"].as_u64().unwrap() >= 1 && stats["savepoints-completed"] == 1, "{stats}");
    assert!(stats["latest"].as_str().unwrap().contains("/checkpoints/"), "{stats}");
    let history = stats["history"].as_array().unwrap();
    assert!(history.iter().any(|r| r["kind"] == "savepoint" && r["trigger"] == "manual"), "{stats}");

    // A body that cannot be read as what the endpoint takes is refused with a
    // JSON error, and nothing happens: never a stop without the savepoint asked for.
    let raw = |path: &str, content_type: Option<&str>, body: &str| {
        let mut req = client().post(format!("{api}{path}")).body(body.to_string());
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let r = req.send().unwrap();
        (r.status(), r.json::<Value>().unwrap_or(Value::Null))
    };
    let json = Some("application/json");
    for (path, content_type, body, want) in [
        ("/v1/job/stop", Some(""), r#"{"savepoint":true}"#, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("/v1/job/stop", None, r#"{"savepoint":true}"#, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("/v1/job/stop", Some("text/plain"), r#"{"savepoint":true}"#, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("/v1/job/stop", json, "[]", StatusCode::BAD_REQUEST),
        ("/v1/job/stop", json, "[true, true]", StatusCode::BAD_REQUEST),
        ("/v1/job/stop", json, r#"{"savepont": true}"#, StatusCode::BAD_REQUEST),
        ("/v1/job/stop", json, r#"{"savepoint": "yes"}"#, StatusCode::BAD_REQUEST),
        ("/v1/job/stop", json, "{", StatusCode::BAD_REQUEST),
        ("/v1/job/cancel", json, r#"{"savepoint": true}"#, StatusCode::BAD_REQUEST),
        ("/v1/savepoints", json, r#"{"drain": true}"#, StatusCode::BAD_REQUEST),
        ("/v1/checkpoints", json, "null", StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = raw(path, content_type, body);
        assert_eq!(status, want, "{path} {content_type:?} {body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains("takes")), "{path} {body}: a JSON error saying what it takes: {answer}");
    }
    assert_eq!(get(&api, "/v1/job").1["status"], "running", "a refused request changed nothing");
    // The good one stops the job with a savepoint.
    let (status, accepted) = post(&api, "/v1/job/stop", None, Some(json!({ "savepoint": true })));
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    // While it stops, further triggers are refused up front, not accepted and failed later.
    for path in ["/v1/savepoints", "/v1/checkpoints", "/v1/job/stop"] {
        let (status, answer) = post(&api, path, None, None);
        assert_eq!(status, StatusCode::CONFLICT, "{path} during a stop: {answer}");
    }
    let stopped = poll(&api, &accepted);
    assert_eq!(stopped["kind"], "savepoint");
    assert!(stopped["stop"].as_bool().unwrap());
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
    assert!(log.contains("stopped with savepoint"), "{log}");
    assert!(log.contains("event=\"completed\""), "lifecycle lines are structured: {log}");
}

#[test]
fn off_loopback_mutating_endpoints_need_the_bearer_token() {
    let dir = job_dir(40);
    let p = write_pipeline(dir.path(), &counting_pipeline("guarded", "storage", "200ms", 400, "api:\n  listen: 0.0.0.0:0\n"));
    // No token: the job refuses to start, and says why.
    let out = host(&["run", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("CAIRN_API_TOKEN") && err.contains("0.0.0.0"), "{err}");

    let log = dir.path().join("run.log");
    let child = std::process::Command::new(cairn_tests::host_bin())
        .args(["run", p.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .env("CAIRN_API_TOKEN", "s3cret")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut job = RunningJob { child, api: String::new(), log };
    let line = job.wait_for("REST API listening on ");
    let port = line.rsplit(':').next().unwrap().trim();
    let api = format!("http://127.0.0.1:{port}");

    // Off loopback, reading the job's data needs the token too; the page's
    // static files and the API's description do not.
    for path in ["/v1/job", "/v1/checkpoints", "/v1/savepoints", "/v1/checkpoints/1", "/v1/triggers/x", "/metrics"] {
        let r = client().get(format!("{api}{path}")).send().unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path} read without a token");
        assert!(r.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")), "{path}");
        assert_eq!(client().get(format!("{api}{path}")).bearer_auth("guess").send().unwrap().status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in ["/", "/v1/openapi.json"] {
        assert_eq!(get(&api, path).0, StatusCode::OK, "{path} is public");
    }
    // A method no endpoint takes is a 405, not a 401: it reaches nothing.
    assert_eq!(client().put(format!("{api}/v1/job")).send().unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    let read = client().get(format!("{api}/v1/job")).header("authorization", "bearer s3cret").send().unwrap();
    assert_eq!(read.status(), StatusCode::OK, "the scheme is case-insensitive");
    assert_eq!(read.json::<Value>().unwrap()["token-required"], true);
    for path in ["/v1/checkpoints", "/v1/savepoints", "/v1/job/stop", "/v1/job/cancel"] {
        assert_eq!(post(&api, path, None, None).0, StatusCode::UNAUTHORIZED, "{path} without a token");
        assert_eq!(post(&api, path, Some("guess"), None).0, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
    }
    let (status, accepted) = post(&api, "/v1/savepoints", Some("s3cret"), None);
    assert_eq!(status, StatusCode::ACCEPTED);
    let path = accepted["poll"].as_str().unwrap();
    let started = Instant::now();
    while client().get(format!("{api}{path}")).bearer_auth("s3cret").send().unwrap().json::<Value>().unwrap()["status"] != "completed" {
        assert!(started.elapsed() < Duration::from_secs(30), "savepoint not done after 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The CLI sends the token from the same environment variable.
    let out = std::process::Command::new(cairn_tests::host_bin()).args(["cancel", "--api", &api]).env("CAIRN_API_TOKEN", "s3cret").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
    assert!(log.contains("job stopped"), "{log}");
}

#[test]
fn cancel_through_the_api_leaves_what_each_policy_says_and_the_job_resumes() {
    let times = 60;
    let expected = reference_output(times);
    for policy in ["keep", "delete"] {
        let dir = job_dir(times);
        let extra = format!("  on-cancel: {policy}\n{API}");
        let p = write_pipeline(dir.path(), &counting_pipeline(&format!("cancel-{policy}"), "storage", "150ms", 600, &extra));
        let mut job = RunningJob::start(&p, &[], &dir.path().join("run.log"));
        job.wait_for("checkpoint completed");
        job.verb(&["cancel"]);
        let (ok, log) = job.wait();
        assert!(ok, "{log}");
        let left = checkpoint_dirs(&dir.path().join(format!("storage/cancel-{policy}/checkpoints")));
        match policy {
            "keep" => {
                assert_eq!(left.len(), 1, "on-cancel: keep leaves the last checkpoint: {left:?}");
                assert!(left[0].join("_kept").exists());
                assert!(log.contains("kept checkpoint:"), "{log}");
            }
            _ => assert!(left.is_empty(), "on-cancel: delete leaves nothing: {left:?}"),
        }
        // The job restores from what was left (or starts over) and ends exactly-once.
        let out = host(&["run", p.to_str().unwrap(), "--resume"]);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert_eq!(log.contains("restoring from checkpoint"), policy == "keep", "{log}");
        assert_eq!(sorted_lines(&dir.path().join("out/counts.txt")), expected, "policy {policy}");
    }
}

/// Secrets never leave the host: a Kafka source's SASL and SSL options are
/// redacted in `GET /v1/job` (operators' config fields too: the unit tests of
/// `spec::secrets`), read while the source is still trying to reach its
/// broker; and a client error
/// that echoes an option's value does not print it.
#[test]
fn secrets_are_redacted_in_the_api_and_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = |options: &str, timeout: &str| {
        format!(
            "name: secrets
sources:
  - id: lines
    type: kafka
    bootstrap-servers: 127.0.0.1:1
    connect-timeout: {timeout}
    topic: t
    options: {{ {options} }}
sinks:
  - id: out
    type: file
    input: lines
    path: out.txt
{API}"
        )
    };
    let options = "security.protocol: sasl_plaintext, sasl.mechanisms: PLAIN, sasl.username: user-hunter2, sasl.password: pw-hunter2-kafka, ssl.key.password: key-hunter2";
    let p = write_pipeline(dir.path(), &yaml(options, "60s"));
    let mut job = RunningJob::start(&p, &[], &dir.path().join("run.log"));
    let text = client().get(format!("{}/v1/job", job.api)).send().unwrap().text().unwrap();
    job.child.kill().unwrap();
    job.child.wait().unwrap();
    assert!(!text.contains("hunter2"), "a secret in GET /v1/job: {text}");
    let config: Value = serde_json::from_str(&text).unwrap();
    let shown = &config["config"]["sources"][0]["options"];
    assert_eq!(shown["sasl.password"], "<redacted>", "{shown}");
    assert_eq!(shown["security.protocol"], "sasl_plaintext", "what is not secret stays readable: {shown}");
    assert!(!job.log().contains("hunter2"), "a secret in the log: {}", job.log());

    // librdkafka refuses this value and echoes it back in its message.
    let p = write_pipeline(dir.path(), &yaml("security.protocol: sasl_plaintext, sasl.mechanisms: hunter2-mechanism", "1s"));
    let out = host(&["run", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("kafka source `lines`") && err.contains("SASL mechanism"), "the error names the source and what is wrong: {err}");
    assert!(!err.contains("hunter2"), "a secret in the error: {err}");
}

/// A job still starting — its Kafka source waiting for a broker that does not
/// answer — ends at once on a cancel through the API and on Ctrl-C (SIGINT),
/// as a cancel, not after the connect timeout with the connection error.
#[test]
fn a_starting_job_is_cancelled_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: starting\nsources:\n  - id: lines\n    type: kafka\n    bootstrap-servers: 127.0.0.1:1\n    connect-timeout: 600s\n    topic: t\nsinks:\n  - id: out\n    type: file\n    input: lines\n    path: out.txt\n{API}"
    );
    let p = write_pipeline(dir.path(), &yaml);
    for how in ["api", "sigint"] {
        let mut job = RunningJob::start(&p, &[], &dir.path().join(format!("{how}.log")));
        assert_eq!(get(&job.api, "/v1/job").1["status"], "starting");
        match how {
            "api" => assert_eq!(post(&job.api, "/v1/job/cancel", None, None).0, StatusCode::ACCEPTED),
            _ => assert!(std::process::Command::new("kill").args(["-INT", &job.child.id().to_string()]).status().unwrap().success()),
        }
        // Without the fix this waits the whole connect timeout (600 s) and fails with the connection error.
        let started = Instant::now();
        let status = loop {
            if let Some(status) = job.child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{how}: still running 120 s after the cancel:\n{}", job.log());
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = job.log();
        assert!(status.success(), "{how}: a cancel is not a failure:\n{log}");
        assert!(log.contains("cancelled while starting"), "{how}: {log}");
        assert!(!log.contains("cannot reach"), "{how}: {log}");
        let runs = dir.path().join("storage/starting/runs");
        assert!(!runs.exists() || std::fs::read_dir(&runs).unwrap().count() == 0, "{how}: a run that never started left a record");
    }
}
