//! Rust operators outside this repository: a `cdylib` crate depending on
//! `cairn-guest`, built with the machine's cargo for `wasm32-wasip2` (the
//! target installed through rustup when missing).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// The Rust target operators are built for (its output is a component).
pub const RUST_TARGET: &str = "wasm32-wasip2";

/// Builds the crate whose manifest is `dir/Cargo.toml` in release mode for
/// [`RUST_TARGET`] and returns the component it produced (the `.wasm` of its
/// `cdylib`). Cargo's progress and errors go to this process's stderr.
pub fn build_rust_crate(dir: &Path) -> Result<PathBuf, Error> {
    let what = || format!("Rust operator {}", dir.display());
    ensure_target(dir)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", RUST_TARGET, "--message-format", "json-render-diagnostics", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    // A cargo that runs us (a build script, a test) must not pass its own settings on.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "CARGO_MAKEFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER", "CARGO_PRIMARY_PACKAGE"] {
        cmd.env_remove(var);
    }
    let out = cmd.output().map_err(|e| Error::build(what(), format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        return Err(Error::build(what(), format!("`cargo build` failed ({}); its errors are above", out.status)));
    }
    artifact(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| Error::build(what(), "cargo built no `cdylib` (is `crate-type = [\"cdylib\"]` in `[lib]`?)"))
}

/// The `.wasm` file of the `cdylib` among cargo's JSON messages.
fn artifact(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib")))
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
}

/// Installs [`RUST_TARGET`] through rustup when it is missing (as seen from
/// `dir`, so that a toolchain file there applies).
fn ensure_target(dir: &Path) -> Result<(), Error> {
    let unavailable = |reason: String| Error::ToolchainUnavailable { lang: "Rust", reason };
    let Ok(listed) = Command::new("rustup").args(["target", "list", "--installed"]).current_dir(dir).output() else {
        return Ok(()); // no rustup: a toolchain installed otherwise, assumed to have the target
    };
    if String::from_utf8_lossy(&listed.stdout).lines().any(|l| l.trim() == RUST_TARGET) {
        return Ok(());
    }
    eprintln!("guestc: installing the Rust target {RUST_TARGET}: rustup target add {RUST_TARGET}");
    crate::run(Command::new("rustup").args(["target", "add", RUST_TARGET]).current_dir(dir)).map_err(unavailable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cdylib_is_found_among_cargos_messages() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/t/libcairn_guest.rlib"]}"#,
            "not json",
            r#"{"reason":"compiler-artifact","target":{"kind":["cdylib"]},"filenames":["/t/wasm32-wasip2/release/counter.wasm"]}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(artifact(&messages), Some(PathBuf::from("/t/wasm32-wasip2/release/counter.wasm")));
        assert_eq!(artifact(&messages.lines().take(2).collect::<Vec<_>>().join("\n")), None);
    }
}
