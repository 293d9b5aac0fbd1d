//! Helpers shared by the end-to-end tests and the benchmarks: the built operator
//! components, the `host` binary, and running pipelines written on the fly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

pub use cairn_operators as operators;

pub mod kafka;

/// The `host` binary of this build (next to the test or bench executable's `deps/`).
pub fn host_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let bin = dir.join(format!("host{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} missing: run the tests with `cargo test --workspace`", bin.display());
    bin
}

/// Writes `yaml` as `pipeline.yaml` in `dir` and returns its path.
pub fn write_pipeline(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).expect("write pipeline.yaml");
    path
}

/// Runs a pipeline in this process, to the end.
pub fn run_in_process(pipeline: &Path) -> anyhow::Result<cairn_host::job::JobSummary> {
    cairn_host::cli::run_pipeline(pipeline, Arc::new(cairn_host::dataflow::JobControl::default()))
}

/// Runs `host <args>` and returns its output.
pub fn host(args: &[&str]) -> Output {
    Command::new(host_bin()).args(args).env("RUST_LOG", "info").output().expect("spawn host")
}

/// What a `host` run printed: stdout, then stderr.
fn printed(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `host <args>`, asserting that it succeeds; returns what it printed (stdout, then stderr).
pub fn run_ok(args: &[&str]) -> String {
    let out = host(args);
    let text = printed(&out);
    assert!(out.status.success(), "host {args:?} failed:\n{text}");
    text
}

/// Runs `host <args>`, asserting that it fails; returns what it printed (stdout, then stderr).
pub fn run_err(args: &[&str]) -> String {
    let out = host(args);
    let text = printed(&out);
    assert!(!out.status.success(), "host {args:?} should have failed:\n{text}");
    text
}

/// Runs `host <args>`, asserting that it succeeds; returns its stdout alone (JSON, paths).
pub fn run_stdout(args: &[&str]) -> String {
    let out = host(args);
    assert!(out.status.success(), "host {args:?} failed:\n{}", printed(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

/// The target directory: above the profile directory the running binary is in
/// (`target/release/deps/…` for tests and benchmarks, `target/release/…` for binaries).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile = exe.ancestors().find(|a| a.file_name().is_some_and(|n| n == "release" || n == "debug")).expect("a release or debug directory");
    profile.parent().expect("target dir").to_path_buf()
}

/// The lines of a file, sorted (output order across subtasks is not defined).
pub fn sorted_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Runs `host <args>` in the background, with its log on stderr captured to `log`.
pub fn spawn_host(args: &[&str], log: &Path) -> std::process::Child {
    let err = std::fs::File::create(log).expect("log file");
    Command::new(host_bin()).args(args).env("RUST_LOG", "info").stdout(std::process::Stdio::null()).stderr(err).spawn().expect("spawn host")
}

/// Every completed checkpoint directory (holding `_metadata`) under `root`, sorted.
pub fn checkpoint_dirs(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "_metadata") {
                found.push(dir.clone());
            }
        }
    }
    found.sort();
    found
}

/// A small deterministic random sequence for tests (seed printed by the caller).
pub struct Rng(pub u64);

impl Rng {
    /// The next value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// The `guestc` binary of this build (built by `cargo test --workspace`, next to `host`).
pub fn guestc_bin() -> PathBuf {
    let bin = host_bin().with_file_name(format!("guestc{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} missing: run the tests with `cargo test --workspace`", bin.display());
    bin
}

/// Runs `guestc <lang>` (what `just guests-<lang>` runs): installs the
/// language's toolchain if missing and builds its operators into
/// `target/operators/<lang>-<name>.wasm`. `Err(reason)` when the toolchain
/// cannot be installed (no package registry: guestc exits with 75); panics
/// when the build itself fails.
pub fn build_guests(lang: &str) -> Result<(), String> {
    let out = Command::new(guestc_bin()).arg(lang).output().expect("spawn guestc");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(75) => Err(stderr),
        _ => panic!("guestc {lang} failed:\n{}{stderr}", String::from_utf8_lossy(&out.stdout)),
    }
}

/// The component `guestc` builds for operator `name` in `lang`:
/// `target/operators/<lang>-<name>.wasm`, beside the Rust operators.
pub fn guest_component(lang: &str, name: &str) -> PathBuf {
    Path::new(operators::COUNT).with_file_name(format!("{lang}-{name}.wasm"))
}
