//! The `host` command line as a user meets it: help on every verb, and clear
//! errors for wrong arguments.
//!
//! The end-to-end tests live in `tests/` (package cairn-tests) and drive this
//! same binary; this package having an integration test is also what makes
//! `cargo test --workspace` build `target/<profile>/host` for them.

use std::process::Command;

fn host(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_host")).args(args).output().expect("spawn host")
}

#[test]
fn every_verb_has_help() {
    let top = host(&["--help"]);
    assert!(top.status.success());
    let text = String::from_utf8_lossy(&top.stdout);
    for verb in ["run", "validate", "checkpoint", "savepoint", "storage", "stop", "cancel", "check"] {
        assert!(text.contains(verb), "`host --help` does not list `{verb}`:\n{text}");
        let out = host(&[verb, "--help"]);
        assert!(out.status.success(), "`host {verb} --help` failed");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "`host {verb} --help` prints no usage");
    }
    for (noun, verb) in [
        ("checkpoint", "trigger"),
        ("checkpoint", "list"),
        ("checkpoint", "inspect"),
        ("checkpoint", "promote"),
        ("savepoint", "trigger"),
        ("savepoint", "list"),
        ("savepoint", "inspect"),
        ("savepoint", "dispose"),
        ("storage", "gc"),
    ] {
        let out = host(&[noun, verb, "--help"]);
        assert!(out.status.success(), "`host {noun} {verb} --help` failed");
    }
}

#[test]
fn wrong_arguments_are_named() {
    let out = host(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<PIPELINE>"));
    let out = host(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("frobnicate"));
}

#[test]
fn a_missing_pipeline_file_is_named() {
    let out = host(&["validate", "/nonexistent/pipeline.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/pipeline.yaml"));
}

#[test]
fn verbs_against_a_job_that_is_not_there_say_so() {
    let out = host(&["savepoint", "trigger", "--api", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no job answers at http://127.0.0.1:9"), "{err}");
}
