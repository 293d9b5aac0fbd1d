//! Go beyond what `languages` checks for every language. A Go operator that
//! panics, loops or allocates without bound is contained like a Rust one
//! (`sandbox`): the job fails with a message naming the operator, subtask,
//! call and cause, and the host process survives (the operator is
//! `operators/go/faulty`, built by `guestc go`). And the Go unit tests of
//! `operators/go` (the `cairn` package, the counter's state format) pass.
//! Without Go the tests print `SKIPPED: ...` and return.

use std::path::Path;
use std::process::Command;

use cairn_tests::guest_component;

use crate::languages::toolchain;
use crate::sandbox::run_hostile;

fn faulty() -> Option<String> {
    toolchain("go", "go faulty")?;
    Some(guest_component("go", "faulty").to_str().unwrap().to_string())
}

#[test]
fn a_go_panic_traps_the_call() {
    let Some(faulty) = faulty() else { return };
    let err = run_hostile(&faulty, "{ how: panic }", "{}");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("`process` trapped"), "{err}");
}

#[test]
fn a_go_endless_loop_hits_the_call_timeout() {
    let Some(faulty) = faulty() else { return };
    let err = run_hostile(&faulty, "{ how: endless-loop }", "{ call-timeout: 300ms }");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("`process`"), "{err}");
    assert!(err.contains("call timeout of 300ms"), "{err}");
}

#[test]
fn a_go_memory_bomb_hits_the_memory_limit() {
    let Some(faulty) = faulty() else { return };
    let err = run_hostile(&faulty, "{ how: memory-bomb }", "{ memory: 64MiB }");
    assert!(err.contains("operator `bad` subtask 0") && err.contains("`process`") && err.contains("limits.memory"), "{err}");
}

#[test]
fn a_go_error_is_reported_as_the_operators_error() {
    let Some(faulty) = faulty() else { return };
    let err = run_hostile(&faulty, "{ how: error }", "{}");
    assert!(err.contains("operator `bad` subtask 0: `process` returned an error: faulty: an error from process"), "{err}");
}

/// `go test ./...` in `operators/go`, natively (the glue is left out there).
#[test]
fn the_go_unit_tests_pass() {
    let Some(()) = toolchain("go", "go unit tests") else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../operators/go");
    let target = guest_component("go", "count").parent().and_then(Path::parent).unwrap().to_path_buf();
    let cache = target.join("guest-build/go/go-test-cache");
    let out = Command::new("go")
        .args(["test", "./..."])
        .current_dir(&dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env("GOFLAGS", "")
        .env("GOCACHE", &cache)
        .output()
        .expect("run go test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "go test failed:\n{text}");
    assert!(text.contains("ok  \tcairn\t") && text.contains("ok  \tcairn/count"), "{text}");
}
