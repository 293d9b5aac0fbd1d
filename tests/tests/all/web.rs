//! The web view served at `/`, driven in headless Chromium (Debian's
//! `chromium`, driven by `playwright-core` from npm; both installed here when
//! missing) against a running job with an API token: the graph shows events
//! flowing, "Trigger savepoint" sends the token and the new savepoint is
//! listed. The page's screenshot is written to `target/web-view.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_tests::{target_dir, write_pipeline};
use serde_json::Value;

use crate::checkpoints::{counting_pipeline, job_dir};
use crate::savepoints::{API, RunningJob, local};

/// The pinned version of the browser driver.
const PLAYWRIGHT_CORE: &str = "playwright-core@1.65.1";
const CHROMIUM: &str = "/usr/bin/chromium";

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Installs Chromium (apt-get) and playwright-core (npm, under `target/web-test`)
/// when missing; returns the path of playwright-core.
fn ensure_browser() -> PathBuf {
    if !Path::new(CHROMIUM).exists() {
        let apt = |args: &[&str]| {
            let mut c = Command::new("apt-get");
            c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        run(&mut apt(&["update", "-qq"]));
        run(&mut apt(&["install", "-y", "-qq", "chromium"]));
    }
    let dir = target_dir().join("web-test");
    let module = dir.join("node_modules/playwright-core");
    let version = PLAYWRIGHT_CORE.rsplit('@').next().unwrap();
    let installed = std::fs::read_to_string(module.join("package.json")).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok());
    if installed.as_ref().and_then(|p| p["version"].as_str()) != Some(version) {
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("npm").args(["install", "--no-audit", "--no-fund", "--no-save", PLAYWRIGHT_CORE]).current_dir(&dir));
    }
    module
}

#[test]
fn the_web_view_shows_the_job_and_triggers_a_savepoint_with_the_token() {
    let playwright = ensure_browser();
    // Input for a minute and more at 600 lines/s: the job runs until the test cancels it.
    let dir = job_dir(1000);
    let p = write_pipeline(dir.path(), &counting_pipeline("web", "storage", "300ms", 600, API));
    let log = dir.path().join("run.log");
    let child = Command::new(cairn_tests::host_bin())
        .args(["run", p.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .env("CAIRN_API_TOKEN", "s3cret")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut job = RunningJob { child, api: String::new(), log };
    let line = job.wait_for("REST API listening on ");
    let port = line.rsplit(':').next().unwrap().trim();
    job.api = format!("http://127.0.0.1:{port}");
    job.wait_for("checkpoint completed");

    let screenshot = target_dir().join("web-view.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("web/drive.js"))
        .args([&job.api, screenshot.to_str().unwrap()])
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", CHROMIUM)
        .env("TOKEN", "s3cret")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the page test failed:\n{stdout}{}\n{}", String::from_utf8_lossy(&out.stderr), job.log());
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(seen["errors"], Value::Array(vec![]), "script errors on the page: {seen}");
    for node in ["lines", "tokenize", "count", "out"] {
        assert!(seen["nodes"].as_array().unwrap().iter().any(|n| n == node), "the graph lacks {node}: {seen}");
    }
    assert!(seen["message"].as_str().unwrap().contains("completed"), "{seen}");
    let path = seen["paths"][0].as_str().unwrap_or_else(|| panic!("no savepoint listed: {seen}"));
    assert!(local(path).join("_metadata").is_file(), "the listed savepoint is not in storage: {path}");
    assert!(job.log().contains("savepoint"), "{}", job.log());
    assert!(std::fs::metadata(&screenshot).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot at {}", screenshot.display());

    let status = Command::new(cairn_tests::host_bin()).args(["cancel", "--api", &job.api]).env("CAIRN_API_TOKEN", "s3cret").status().unwrap();
    assert!(status.success());
    let (ok, log) = job.wait();
    assert!(ok, "{log}");
}
