//! Verbs that drive a running job through its REST API: trigger a checkpoint
//! or a savepoint, stop (with a final snapshot), cancel.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::api::TOKEN_ENV;

/// Where a running job's API is.
#[derive(Debug, clap::Args)]
pub struct Remote {
    /// The job's REST API (printed in its log: "REST API listening on …").
    #[arg(long, env = "CAIRN_API", default_value = "http://127.0.0.1:8081")]
    pub api: String,
    /// Return once triggered, printing the trigger id, instead of waiting for the snapshot.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this long.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

fn client() -> anyhow::Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().context("cannot build the HTTP client")
}

/// Sends a request with the bearer token from the environment, if set; returns the JSON body.
fn call(remote: &Remote, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
    let url = format!("{}{path}", remote.api.trim_end_matches('/'));
    let mut req = client()?.request(method, &url);
    if let Ok(token) = std::env::var(TOKEN_ENV) {
        req = req.bearer_auth(token);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().with_context(|| format!("no job answers at {}: is it running, and is --api right?", remote.api))?;
    let status = resp.status();
    let value: Value = resp.json().unwrap_or(Value::Null);
    if !status.is_success() {
        let why = value.get("error").and_then(Value::as_str).unwrap_or("no reason given");
        bail!("{url}: {status}: {why}");
    }
    Ok(value)
}

/// Triggers a snapshot with `POST path` and, unless `--no-wait`, polls it to the end.
pub(super) fn trigger(remote: &Remote, path: &str, body: Option<Value>) -> anyhow::Result<()> {
    let accepted = call(remote, reqwest::Method::POST, path, body)?;
    let id = accepted["trigger-id"].as_str().context("the job's answer has no trigger id")?.to_string();
    if remote.no_wait {
        if remote.json {
            println!("{accepted}");
        } else {
            println!("{id}");
        }
        return Ok(());
    }
    let started = std::time::Instant::now();
    loop {
        let t = call(remote, reqwest::Method::GET, &format!("/v1/triggers/{id}"), None)?;
        match t["status"].as_str() {
            Some("completed") => {
                if remote.json {
                    println!("{t}");
                } else {
                    println!("{}", t["path"].as_str().unwrap_or(""));
                }
                return Ok(());
            }
            Some("failed") => bail!("{} {} failed: {}", t["kind"].as_str().unwrap_or("snapshot"), t["id"], t["reason"].as_str().unwrap_or("no reason given")),
            _ if started.elapsed() > remote.timeout => bail!("trigger {id} has not completed after {:?}", remote.timeout),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// `host stop`: ends the job with a final savepoint (or checkpoint).
pub(super) fn stop(remote: &Remote, savepoint: bool, drain: bool) -> anyhow::Result<()> {
    trigger(remote, "/v1/job/stop", Some(serde_json::json!({ "savepoint": savepoint, "drain": drain })))
}

/// `host cancel`: the job stops reading and ends without a final snapshot.
pub(super) fn cancel(remote: &Remote) -> anyhow::Result<()> {
    let answer = call(remote, reqwest::Method::POST, "/v1/job/cancel", None)?;
    if remote.json {
        println!("{answer}");
    } else {
        println!("cancelling");
    }
    Ok(())
}
