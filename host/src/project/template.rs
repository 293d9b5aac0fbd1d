//! The templates of `host new operator`: a keyed counter with snapshot and
//! restore in each language (the repository's own counters, tested in
//! `tests/tests/all/languages.rs`), a `pipeline.yaml` that runs it on
//! generated events, and the contract's WIT files, all embedded in the binary.
//! The Rust template also carries a copy of the `cairn-guest` SDK, so that it
//! builds anywhere with nothing but cargo and the package registry.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::{Language, MANIFEST, ProjectError, check_name};

/// The contract files, as a project holds them (real files: `wit/0.2/deps`
/// is a symbolic link in this repository).
const WIT: &[(&str, &str)] = &[
    ("wit/operator.wit", include_str!("../../../wit/operator.wit")),
    ("wit/0.2/operator.wit", include_str!("../../../wit/0.2/operator.wit")),
    ("wit/0.2/deps/operator-0.1.0/operator.wit", include_str!("../../../wit/operator.wit")),
];

/// The SDK's sources (`guest-sdk/src`), under `cairn-guest/src/`.
const SDK: &[(&str, &str)] = &[
    ("bindings.rs", include_str!("../../../guest-sdk/src/bindings.rs")),
    ("context.rs", include_str!("../../../guest-sdk/src/context.rs")),
    ("events.rs", include_str!("../../../guest-sdk/src/events.rs")),
    ("keyed.rs", include_str!("../../../guest-sdk/src/keyed.rs")),
    ("lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    ("log.rs", include_str!("../../../guest-sdk/src/log.rs")),
    ("operator.rs", include_str!("../../../guest-sdk/src/operator.rs")),
    ("output.rs", include_str!("../../../guest-sdk/src/output.rs")),
    ("pieces.rs", include_str!("../../../guest-sdk/src/pieces.rs")),
    ("runtime.rs", include_str!("../../../guest-sdk/src/runtime.rs")),
    ("snapshot.rs", include_str!("../../../guest-sdk/src/snapshot.rs")),
];

/// The SDK's manifest in a project: `guest-sdk/Cargo.toml` with the
/// workspace's versions written out.
const SDK_MANIFEST: &str = r#"# The Cairn guest SDK, `cairn-guest` (a copy written by `host new`).
[package]
name = "cairn-guest"
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"
publish = false

[dependencies]
wit-bindgen = { version = "0.63", default-features = false, features = ["macros", "realloc"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
postcard = { version = "1", features = ["use-std"] }
foldhash = "0.2"
xxhash-rust = { version = "0.8", features = ["xxh3"] }
"#;

/// The operator crate's manifest; `{name}` is replaced.
const RUST_MANIFEST: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
cairn-guest = { path = "cairn-guest" }
serde = { version = "1", features = ["derive"] }
itoa = "1"

# A workspace of its own, wherever the project lives.
[workspace]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
panic = "abort"
debug = false
"#;

/// The versions the repository's guests build with (unused entries are dropped by cargo).
const RUST_LOCK: &str = include_str!("../../../operators/guests/Cargo.lock");

/// A line of a template source that names the repository's build, and what it says in a project.
type Replace = (&'static str, &'static str);

const PYTHON_BUILT_BY: Replace =
    ("Built by `guestc python` (componentize-py) into target/operators/python-count.wasm.", "Built by `host build` (componentize-py) into target/{name}.wasm.");
const JS_BUILT_BY: Replace =
    ("// Built by `guestc js` (componentize-js) into target/operators/js-count.wasm.", "// Built by `host build` (componentize-js) into target/{name}.wasm.");

/// The pipeline that runs the operator; `{name}` is replaced.
const PIPELINE: &str = "# Runs the operator `{name}` on generated events: 20 000 events over 100 keys
# -> {name} (keyed, 2 subtasks) -> out/counts.txt (key TAB count, committed at
# checkpoints: exactly once), a checkpoint every second into storage/.
#   host build .            # or: host build DIR, from anywhere
#   host run pipeline.yaml  # paths below are relative to this file
name: {name}
sources:
  - id: events
    type: generator
    count: 20000
    keys: 100
operators:
  - id: {name}
    component: target/{name}.wasm
    input: events
    key-by: true
    parallelism: 2
sinks:
  - id: counts
    type: file
    input: {name}
    path: out/counts.txt
checkpoints:
  interval: 1s
storage:
  url: storage
";

const MANIFEST_TEXT: &str = "# The operator this directory builds: `host build` writes target/{name}.wasm.
name: {name}
language: {language}
";

const GITIGNORE: &str = "target/\nout/\nstorage/\n";

const README: &str = "# {name}

A Cairn operator in {language_title}, made by `host new operator`: a keyed running
count with snapshot and restore ({source}), to change into your own.

```sh
host build .              # -> target/{name}.wasm (installs the toolchain on first use)
host run pipeline.yaml    # generated events -> {name} -> out/counts.txt
host validate pipeline.yaml
```

`operator.yaml` names the operator and its language; `wit/` is the contract
it is built against ({contract}); the guide is {guide} of the Cairn
repository.
";

/// Writes a new operator project `name` in `language` into `dir` (created;
/// refused if it exists with files in it). Returns the files written,
/// relative to `dir`.
pub fn new_operator(name: &str, language: Language, dir: &Path) -> Result<Vec<PathBuf>, ProjectError> {
    check_name(name)?;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(ProjectError::NotEmpty(dir.to_path_buf()));
    }
    let files = files(name, language);
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(ProjectError::io(parent))?;
        }
        std::fs::write(&path, text.as_bytes()).map_err(ProjectError::io(&path))?;
    }
    Ok(files.into_iter().map(|(rel, _)| PathBuf::from(rel)).collect())
}

/// Every file of the template, `{name}` filled in.
fn files(name: &str, language: Language) -> Vec<(String, Cow<'static, str>)> {
    let fill = |s: &str| Cow::Owned(s.replace("{name}", name));
    let (title, contract, guide) = match language {
        Language::Rust => {
            ("Rust", "cairn:operator@0.2.0, through the `cairn-guest` SDK copied into `cairn-guest/`", "the README's *Writing an operator in Rust*")
        }
        Language::C => ("C", "cairn:operator@0.2.0, `wit/0.2`", "`docs/operators-c.md`"),
        Language::Python => ("Python", "cairn:operator@0.1.0, `wit/operator.wit`", "`docs/operators-python.md`"),
        Language::Js => ("JavaScript", "cairn:operator@0.1.0, `wit/operator.wit`", "`docs/operators-javascript.md`"),
    };
    let source = match language {
        Language::Rust => "`src/count.rs`".to_string(),
        other => format!("`{}`", other.main_source(name)),
    };
    let readme = README
        .replace("{language_title}", title)
        .replace("{source}", &source)
        .replace("{contract}", contract)
        .replace("{guide}", guide)
        .replace("{name}", name);
    let mut files: Vec<(String, Cow<'static, str>)> = vec![
        (MANIFEST.into(), Cow::Owned(MANIFEST_TEXT.replace("{name}", name).replace("{language}", language.name()))),
        ("pipeline.yaml".into(), fill(PIPELINE)),
        (".gitignore".into(), Cow::Borrowed(GITIGNORE)),
        ("README.md".into(), Cow::Owned(readme)),
    ];
    files.extend(WIT.iter().map(|(p, t)| (p.to_string(), Cow::Borrowed(*t))));
    match language {
        Language::Rust => {
            files.push(("Cargo.toml".into(), fill(RUST_MANIFEST)));
            files.push(("Cargo.lock".into(), Cow::Borrowed(RUST_LOCK)));
            files.push(("src/lib.rs".into(), Cow::Borrowed(include_str!("../../../operators/guests/count/src/lib.rs"))));
            files.push(("src/count.rs".into(), Cow::Borrowed(include_str!("../../../operators/guests/count/src/count.rs"))));
            files.push(("cairn-guest/Cargo.toml".into(), Cow::Borrowed(SDK_MANIFEST)));
            files.extend(SDK.iter().map(|(p, t)| (format!("cairn-guest/src/{p}"), Cow::Borrowed(*t))));
        }
        Language::C => {
            files.push((format!("{name}.c"), Cow::Borrowed(include_str!("../../../operators/c/count-0-2.c"))));
            files.push(("counts.h".into(), Cow::Borrowed(include_str!("../../../operators/c/counts.h"))));
        }
        Language::Python => {
            let app = include_str!("../../../operators/python/count/app.py");
            files.push(("app.py".into(), Cow::Owned(replace(app, PYTHON_BUILT_BY, name))));
        }
        Language::Js => {
            let js = include_str!("../../../operators/js/count.js");
            files.push((format!("{name}.js"), Cow::Owned(replace(js, JS_BUILT_BY, name))));
        }
    }
    files
}

fn replace(text: &str, (from, to): Replace, name: &str) -> String {
    text.replace(from, &to.replace("{name}", name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template's copy of the SDK is the whole of `guest-sdk/src` and
    /// depends on what `guest-sdk/Cargo.toml` depends on.
    #[test]
    fn the_sdk_copy_is_complete() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk: Vec<String> =
            std::fs::read_dir(root.join("guest-sdk/src")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        on_disk.sort();
        let embedded: Vec<String> = SDK.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(embedded, on_disk, "list every file of guest-sdk/src in SDK");
        let manifest = std::fs::read_to_string(root.join("guest-sdk/Cargo.toml")).unwrap();
        let deps = manifest.split("[dependencies]").nth(1).unwrap();
        for line in deps.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let dep = line.split(['=', '.']).next().unwrap().trim();
            assert!(SDK_MANIFEST.contains(&format!("\n{dep} = ")), "SDK_MANIFEST lacks `{dep}`");
        }
    }

    /// The lines the templates rewrite are still in the sources they come from.
    #[test]
    fn the_rewritten_lines_are_there() {
        assert!(include_str!("../../../operators/python/count/app.py").contains(PYTHON_BUILT_BY.0));
        assert!(include_str!("../../../operators/js/count.js").contains(JS_BUILT_BY.0));
    }

    #[test]
    fn a_project_is_written_and_a_second_refused() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("counter");
        let files = new_operator("counter", Language::Python, &at).unwrap();
        assert!(files.contains(&PathBuf::from("app.py")) && files.contains(&PathBuf::from("wit/0.2/deps/operator-0.1.0/operator.wit")));
        let manifest = crate::project::read_manifest(&at).unwrap();
        assert_eq!((manifest.name.as_str(), manifest.language), ("counter", Language::Python));
        let pipeline = std::fs::read_to_string(at.join("pipeline.yaml")).unwrap();
        assert!(pipeline.contains("component: target/counter.wasm"), "{pipeline}");
        crate::spec::Pipeline::load(&at.join("pipeline.yaml")).unwrap();
        let err = new_operator("counter", Language::C, &at).unwrap_err().to_string();
        assert!(err.contains("not empty"), "{err}");
    }
}
