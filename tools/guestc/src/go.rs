//! Go operators: `operators/go/<name>/` (a `package main` importing the
//! `cairn` package of `operators/go`) built with the machine's Go (1.24 or
//! newer: `//go:wasmexport` and `-buildmode=c-shared` for `wasip1`) into a
//! WASI preview 1 reactor module, given the operator world's component-type
//! metadata (what `wasm-tools component embed` adds), and made a component
//! with the same reactor adapter as the C operators.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, WORLD, componentize_core, run};

/// The oldest Go that builds operators.
pub const GO_MIN: (u32, u32) = (1, 24);

/// Flags of `go build` (besides the output), also in docs/operators-go.md.
/// `-checklinkname=0`: the `cairn` package takes argument memory from the
/// runtime's `sbrk` (see operators/go/abi.go).
pub const GO_BUILD_FLAGS: &[&str] = &["build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -checklinkname=0"];

/// Checks that `go` is there and new enough; returns its version line.
pub fn ensure_go_toolchain() -> Result<String, Error> {
    let unavailable = |reason: String| Error::ToolchainUnavailable { lang: "Go", reason };
    let out = run(Command::new("go").arg("version").env("GOTOOLCHAIN", "local")).map_err(unavailable)?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_go_version(&line) {
        Some(v) if v >= GO_MIN => Ok(line),
        _ => Err(unavailable(format!("{line}: operators need Go {}.{} or newer (GOOS=wasip1, //go:wasmexport)", GO_MIN.0, GO_MIN.1))),
    }
}

/// `go version go1.26.8 linux/amd64` -> (1, 26).
fn parse_go_version(line: &str) -> Option<(u32, u32)> {
    let v = line.split_whitespace().find_map(|w| w.strip_prefix("go1."))?;
    let minor = v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some((1, minor))
}

/// The operators of `operators/go`: every directory holding a `main.go`, with
/// its inputs (its own `.go` files, then the `cairn` package's and `go.mod`).
pub fn sources(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, Error> {
    let sdk = go_files(dir)?;
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::build(dir.display().to_string(), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("main.go").is_file())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let mut files = vec![path.join("main.go")];
        files.extend(go_files(&path)?.into_iter().filter(|p| !p.ends_with("main.go")));
        files.extend(sdk.iter().cloned());
        files.push(dir.join("go.mod"));
        found.push((name, files));
    }
    Ok(found)
}

/// The `.go` files directly in `dir` (not its tests), sorted.
fn go_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::build(dir.display().to_string(), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|s| s.to_str()).unwrap_or_default();
            name.ends_with(".go") && !name.ends_with("_test.go")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Builds the Go package in `package_dir` into a component. `cache` holds Go's
/// build cache (under `target/`, so that builds leave nothing elsewhere).
pub fn build_component(wit_dir: &Path, package_dir: &Path, core: &Path, cache: &Path) -> Result<Vec<u8>, Error> {
    let what = || format!("Go operator {}", package_dir.display());
    let mut cmd = Command::new("go");
    cmd.args(GO_BUILD_FLAGS)
        .arg("-o")
        .arg(core)
        .arg(".")
        .current_dir(package_dir)
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        // The machine's Go, never one fetched on the side; no workspace file.
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env("GOFLAGS", "")
        .env("GOCACHE", cache);
    run(&mut cmd).map_err(|e| Error::build(what(), e))?;
    let bytes = std::fs::read(core).map_err(|e| Error::build(what(), e))?;
    let mut bytes = crate::arena::add_adapter_realloc(&bytes).map_err(|e| Error::build(format!("{} (adapter realloc)", what()), e))?;
    embed_metadata(wit_dir, &mut bytes).map_err(|e| Error::build(format!("{} (component-type metadata)", what()), e))?;
    componentize_core(&bytes).map_err(|e| Error::build(format!("{} (component new)", what()), e))
}

/// Adds the operator world's `component-type` custom section to a core module.
fn embed_metadata(wit_dir: &Path, core: &mut Vec<u8>) -> Result<(), String> {
    use wit_bindgen_core::wit_parser::Resolve;
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_path(wit_dir).map_err(|e| format!("reading {}: {e:?}", wit_dir.display()))?;
    let world = resolve.select_world(&[pkg], Some(WORLD)).map_err(|e| format!("{e:?}"))?;
    wit_component::embed_component_metadata(core, &resolve, world, wit_component::StringEncoding::UTF8, false).map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions_are_read() {
        assert_eq!(parse_go_version("go version go1.26.8 linux/amd64"), Some((1, 26)));
        assert_eq!(parse_go_version("go version go1.24rc1 linux/amd64"), Some((1, 24)));
        assert_eq!(parse_go_version("go version devel"), None);
    }
}
