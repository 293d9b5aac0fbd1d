//! The `guestc` command line. (Its builds are tested end to end, with real
//! toolchains and pipelines, in `tests/tests/all/languages.rs`; this test also
//! makes `cargo test --workspace` build `target/<profile>/guestc` for them.)

use std::process::Command;

#[test]
fn rejects_unknown_languages_and_arguments_with_usage() {
    let guestc = env!("CARGO_BIN_EXE_guestc");
    for args in [&[][..], &["cobol"], &["c", "--frobnicate"]] {
        let out = Command::new(guestc).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("usage: guestc c|python|js|go|all"), "{args:?}: {err}");
    }
}
