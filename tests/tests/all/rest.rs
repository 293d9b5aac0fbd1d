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

    let (status, j) = get(&api, "/v1/job");
    assert_eq!(status, StatusCode::OK);
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

    // A malformed stop body is refused; a good one stops the job with a savepoint.
    let r = client().post(format!("{api}/v1/job/stop")).header("content-type", "application/json").body("{\"savepont\": true}").send().unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let (status, accepted) = post(&api, "/v1/job/stop", None, Some(json!({ "savepoint": true })));
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
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

    assert_eq!(get(&api, "/v1/job").0, StatusCode::OK, "reading needs no token");
    for path in ["/v1/checkpoints", "/v1/savepoints", "/v1/job/stop", "/v1/job/cancel"] {
        assert_eq!(post(&api, path, None, None).0, StatusCode::UNAUTHORIZED, "{path} without a token");
        assert_eq!(post(&api, path, Some("guess"), None).0, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
    }
    let (status, accepted) = post(&api, "/v1/savepoints", Some("s3cret"), None);
    assert_eq!(status, StatusCode::ACCEPTED);
    poll(&api, &accepted);
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
