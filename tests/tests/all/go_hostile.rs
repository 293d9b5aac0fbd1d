//! A Go operator that panics, loops or allocates without bound is contained
//! like a Rust one (`sandbox`): the job fails with a message naming the
//! operator, subtask, call and cause, and the host process survives. The
//! operator is `operators/go/faulty`, built by `guestc go`; without Go the
//! tests print `SKIPPED: ...` and return.

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
