//! Operators of one's own, anywhere: `host new operator NAME --lang LANG
//! --dir DIR` into a directory outside this repository, `host build DIR`,
//! `host run DIR/pipeline.yaml` from elsewhere — per language, exactly as the
//! guides say. Each template is a keyed counter: its committed output holds
//! every event's running count, per key up to that key's number of events.
//!
//! Toolchains come from `target/guest-toolchains` (`CAIRN_HOME` is `target/`,
//! so they are installed once for these tests and `guestc` alike); the Rust
//! template builds in `target/projects/rust`, against the SDK installed in
//! `target/sdk/`. When a toolchain cannot be
//! installed (no package registry), a test prints `SKIPPED: ...` and returns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_tests::host_bin;

/// The cargo target directory of this build (`target/`).
fn target_dir() -> PathBuf {
    host_bin().parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

/// `host <args>` run in `cwd`, with the shared toolchains and the Rust template's cache.
fn host_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(host_bin())
        .args(args)
        .current_dir(cwd)
        .env("CAIRN_HOME", target_dir())
        .env("CARGO_TARGET_DIR", target_dir().join("projects/rust"))
        .env("RUST_LOG", "info")
        .output()
        .expect("spawn host")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `host new operator my-counter --lang LANG --dir DIR` into a fresh
/// directory outside the repository, then `host build DIR`; `None` when the
/// toolchain cannot be installed here.
fn new_and_build(lang: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let (tmp, dir) = new_project(lang);
    let out = host_in(tmp.path(), &["build", "my-counter"]);
    if skipped(lang, &out) {
        return None;
    }
    assert!(out.status.success(), "host build failed:\n{}", text(&out));
    let component = dir.join("target/my-counter.wasm");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&component.display().to_string()), "{}", text(&out));
    Some((tmp, dir))
}

/// `host new operator my-counter --lang LANG --dir my-counter` in a fresh
/// directory outside the repository.
fn new_project(lang: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = host_in(tmp.path(), &["new", "operator", "my-counter", "--lang", lang, "--dir", "my-counter"]);
    assert!(out.status.success(), "host new failed:\n{}", text(&out));
    assert!(text(&out).contains("host build my-counter"), "{}", text(&out));
    let dir = tmp.path().join("my-counter");
    (tmp, dir)
}

/// Whether `host build` failed for want of a toolchain (said loudly).
fn skipped(lang: &str, out: &Output) -> bool {
    let missing = text(out).contains("toolchain is not available");
    if missing {
        eprintln!("SKIPPED: {lang} project: the toolchain cannot be installed here:\n{}", text(out));
    }
    missing
}

/// Builds the `lang` template, runs its pipeline from another directory and
/// checks the counts; a second build is a no-op.
fn new_build_run(lang: &str) {
    let Some((tmp, dir)) = new_and_build(lang) else { return };
    let pipeline = dir.join("pipeline.yaml");
    let out = host_in(tmp.path(), &["validate", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "host validate failed:\n{}", text(&out));
    run_and_check_counts(tmp.path(), &dir);

    let again = host_in(tmp.path(), &["build", dir.to_str().unwrap()]);
    assert!(again.status.success() && text(&again).contains("up to date"), "{}", text(&again));
}

/// `host run DIR/pipeline.yaml` from `cwd`, and the counts it committed: 20 000
/// generated events over 100 keys, each output line `key TAB count`.
fn run_and_check_counts(cwd: &Path, dir: &Path) {
    let out = host_in(cwd, &["run", dir.join("pipeline.yaml").to_str().unwrap()]);
    assert!(out.status.success(), "host run failed:\n{}", text(&out));
    let counts = std::fs::read_to_string(dir.join("out/counts.txt")).unwrap();
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for line in counts.lines() {
        let (key, n) = line.split_once('\t').unwrap_or_else(|| panic!("not `key TAB count`: {line:?}"));
        let n: u64 = n.parse().unwrap_or_else(|_| panic!("not a count: {line:?}"));
        let seen = last.entry(key).or_default();
        *seen = (*seen).max(n);
    }
    assert_eq!(counts.lines().count(), 20_000, "one output per event");
    assert_eq!(last.len(), 100, "one count per key");
    assert_eq!(last.values().sum::<u64>(), 20_000, "every key counted up to its number of events");
}

/// Where `host_in` has the Rust SDK installed (`$CAIRN_HOME/sdk/cairn-guest-<version>`).
fn installed_sdk() -> PathBuf {
    target_dir().join("sdk").join(format!("cairn-guest-{}", env!("CARGO_PKG_VERSION")))
}

/// The Rust project holds no copy of the SDK: its `Cargo.toml` depends on
/// the copy `host new` installed, this repository's `guest-sdk`; when that
/// copy is gone (a cache wiped), `host build` installs it again.
#[test]
fn a_rust_project_builds_and_runs_outside_the_repository() {
    let (tmp, dir) = new_project("rust");
    let sdk = installed_sdk();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!("cairn-guest = {{ path = \"{}\" }}", sdk.display())), "{manifest}");
    let sources: Vec<_> = std::fs::read_dir(dir.join("src")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(sources.len() == 2 && sources.contains(&"lib.rs".into()) && sources.contains(&"count.rs".into()), "{sources:?}");
    assert!(!dir.join("cairn-guest").exists(), "no copy of the SDK in the project");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in ["src/lib.rs", "src/error.rs", "wit/0.2/operator.wit"] {
        assert_eq!(std::fs::read(sdk.join(file)).unwrap(), std::fs::read(repo.join("guest-sdk").join(file)).unwrap(), "{file} of the installed SDK");
    }

    std::fs::remove_dir_all(&sdk).unwrap();
    let out = host_in(tmp.path(), &["build", "my-counter"]);
    if skipped("rust", &out) {
        return;
    }
    assert!(out.status.success(), "host build failed:\n{}", text(&out));
    assert!(sdk.join("src/lib.rs").is_file(), "host build installed the SDK again");
    let out = host_in(tmp.path(), &["validate", dir.join("pipeline.yaml").to_str().unwrap()]);
    assert!(out.status.success(), "host validate failed:\n{}", text(&out));
    run_and_check_counts(tmp.path(), &dir);
}

#[test]
fn a_c_project_builds_and_runs_outside_the_repository() {
    new_build_run("c");
}

/// A C project made by `host new` carries `memory_state_v2.h`: the counter
/// with its snapshot and restore code cut off and the header included instead
/// runs with `state: memory` and counts as before.
#[test]
fn a_c_project_runs_with_state_memory_through_the_header_it_was_given() {
    let (tmp, dir) = new_project("c");
    let source = dir.join("my-counter.c");
    let text_of = std::fs::read_to_string(&source).unwrap();
    let marker = "// ------------------------------------------------------------ snapshot and restore";
    let (operator, _) = text_of.split_once(marker).expect("the counter's snapshot section");
    std::fs::write(&source, format!("{operator}#include \"memory_state_v2.h\"\n")).unwrap();
    let pipeline = dir.join("pipeline.yaml");
    let yaml = std::fs::read_to_string(&pipeline).unwrap();
    let yaml =
        yaml.replace("    parallelism: 2\n", "    parallelism: 2\n    state: memory\n").replace("  interval: 1s\n", "  interval: 1s\n  on-finish: keep\n");
    std::fs::write(&pipeline, yaml).unwrap();
    let out = host_in(tmp.path(), &["build", "my-counter"]);
    if skipped("c", &out) {
        return;
    }
    assert!(out.status.success(), "host build failed:\n{}", text(&out));
    run_and_check_counts(tmp.path(), &dir);
    let chk = cairn_tests::checkpoint_dirs(&dir.join("storage")).pop().expect("a checkpoint");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(chk.join("_metadata")).unwrap()).unwrap();
    assert_eq!(meta["operators"]["my-counter"]["subtasks"][0]["format"], "memory-image", "{meta}");
}

#[test]
fn a_python_project_builds_and_runs_outside_the_repository() {
    new_build_run("python");
}

#[test]
fn a_javascript_project_builds_and_runs_outside_the_repository() {
    new_build_run("js");
}

/// A Python error in `app.py` is shown as Python reports it, naming the
/// project's file and line, with no backtrace of componentize-py's own code
/// (it prints one under `RUST_BACKTRACE=1`).
#[test]
fn a_python_error_names_the_file_and_line() {
    let (tmp, dir) = new_project("python");
    let app = dir.join("app.py");
    let source = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, source.replace("FORMAT = \"postcard\"", "FORMAT = undefined_name")).unwrap();
    let line = source.lines().position(|l| l == "FORMAT = \"postcard\"").expect("the FORMAT line") + 1;
    let out = Command::new(host_bin())
        .args(["build", dir.to_str().unwrap()])
        .current_dir(tmp.path())
        .env("CAIRN_HOME", target_dir())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = text(&out);
    if skipped("python", &out) {
        return;
    }
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("File \"{}\", line {line}", app.display())), "{err}");
    assert!(err.contains("NameError: name 'undefined_name' is not defined"), "{err}");
    assert!(!err.contains("Stack backtrace") && !err.contains("anyhow"), "{err}");
}

/// `host new` refuses a bad name and a directory with files, naming them;
/// `host build` of a directory that is no project says what is missing.
#[test]
fn bad_names_and_directories_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = host_in(tmp.path(), &["new", "operator", "My_Op", "--lang", "c"]);
    assert!(!out.status.success() && text(&out).contains("invalid operator name `My_Op`"), "{}", text(&out));
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let out = host_in(tmp.path(), &["new", "operator", "op", "--lang", "js", "--dir", "."]);
    assert!(!out.status.success() && text(&out).contains("not empty"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(), "mine");
    let out = host_in(tmp.path(), &["build", "."]);
    assert!(!out.status.success() && text(&out).contains("operator.yaml"), "{}", text(&out));
}
