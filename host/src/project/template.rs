//! The templates of `host new operator`: a keyed counter with snapshot and
//! restore in each language (the repository's own counters, tested in
//! `tests/tests/all/languages.rs`), a `pipeline.yaml` that runs it on
//! generated events, and the contract's WIT files, all embedded in the binary.
//! The binary also embeds the `cairn-guest` SDK (sources, WIT, a manifest of
//! its own), which [`install_sdk`] writes once per version under
//! `$CAIRN_HOME/sdk/`: a Rust project depends on that copy by path, so it
//! builds anywhere with nothing but cargo and the package registry, and holds
//! no SDK of its own.

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

/// The SDK's version, the name of its installed directory (`cairn-guest-<version>`).
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The SDK's sources (`guest-sdk/src`), under `src/` of the installed SDK.
const SDK: &[(&str, &str)] = &[
    ("bindings.rs", include_str!("../../../guest-sdk/src/bindings.rs")),
    ("context.rs", include_str!("../../../guest-sdk/src/context.rs")),
    ("error.rs", include_str!("../../../guest-sdk/src/error.rs")),
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

/// The contract the SDK carries (`guest-sdk/wit`, the same files as `wit/`).
const SDK_WIT: &[(&str, &str)] = &[
    ("wit/operator.wit", include_str!("../../../guest-sdk/wit/operator.wit")),
    ("wit/0.2/operator.wit", include_str!("../../../guest-sdk/wit/0.2/operator.wit")),
    ("wit/0.2/deps/operator-0.1.0/operator.wit", include_str!("../../../guest-sdk/wit/0.2/deps/operator-0.1.0/operator.wit")),
];

/// The installed SDK's manifest: `guest-sdk/Cargo.toml` with the
/// workspace's versions written out; `{version}` is replaced.
const SDK_MANIFEST: &str = r#"# The Cairn guest SDK, `cairn-guest` {version}, installed by `host new` and
# `host build` (written again by them when it differs: do not edit it here).
[package]
name = "cairn-guest"
version = "{version}"
edition = "2024"
rust-version = "1.95"
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
# The Cairn guest SDK, installed once per version by `host new` and `host build`
# (under $CAIRN_HOME/sdk, default ~/.cache/cairn/sdk) and shared by every project.
cairn-guest = { path = "{sdk}" }
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
/// relative to `dir`. A Rust project depends on the SDK at
/// [`sdk_dir`](super::sdk_dir), which is installed first.
pub fn new_operator(name: &str, language: Language, dir: &Path) -> Result<Vec<PathBuf>, ProjectError> {
    check_name(name)?;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(ProjectError::NotEmpty(dir.to_path_buf()));
    }
    let sdk = super::sdk_dir();
    if language == Language::Rust {
        install_sdk(&sdk)?;
    }
    let files = files(name, language, &sdk);
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(ProjectError::io(parent))?;
        }
        std::fs::write(&path, text.as_bytes()).map_err(ProjectError::io(&path))?;
    }
    Ok(files.into_iter().map(|(rel, _)| PathBuf::from(rel)).collect())
}

/// The SDK's files as installed (paths relative to its directory).
fn sdk_files() -> Vec<(String, Cow<'static, str>)> {
    let mut files = vec![("Cargo.toml".to_string(), Cow::Owned(SDK_MANIFEST.replace("{version}", SDK_VERSION)))];
    files.extend(SDK.iter().map(|(p, t)| (format!("src/{p}"), Cow::Borrowed(*t))));
    files.extend(SDK_WIT.iter().map(|(p, t)| (p.to_string(), Cow::Borrowed(*t))));
    files
}

/// Installs the SDK this binary embeds into `dir` (`cairn-guest-<version>`):
/// writes every file that is missing or differs (each through a temporary
/// file and a rename, so that a concurrent build reads the old file or the
/// new one), and touches none that is already right, so that cargo does not
/// rebuild it.
pub fn install_sdk(dir: &Path) -> Result<(), ProjectError> {
    for (rel, text) in sdk_files() {
        let path = dir.join(&rel);
        if std::fs::read(&path).is_ok_and(|on_disk| on_disk == text.as_bytes()) {
            continue;
        }
        let parent = path.parent().expect("a file in the SDK");
        std::fs::create_dir_all(parent).map_err(ProjectError::io(parent))?;
        let tmp = parent.join(format!(".{}.{}.tmp", path.file_name().unwrap().to_string_lossy(), std::process::id()));
        std::fs::write(&tmp, text.as_bytes()).map_err(ProjectError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(ProjectError::io(&path))?;
    }
    Ok(())
}

/// `path` as a TOML basic string's contents.
fn toml_escaped(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
}

/// Every file of the template, `{name}` filled in; a Rust project depends on the SDK at `sdk`.
fn files(name: &str, language: Language, sdk: &Path) -> Vec<(String, Cow<'static, str>)> {
    let fill = |s: &str| Cow::Owned(s.replace("{name}", name));
    let (title, contract, guide) = match language {
        Language::Rust => (
            "Rust",
            "cairn:operator@0.2.0, through the `cairn-guest` SDK that `host build` installs (`Cargo.toml` names it)",
            "the README's *Writing an operator in Rust*",
        ),
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
            files.push(("Cargo.toml".into(), Cow::Owned(RUST_MANIFEST.replace("{name}", name).replace("{sdk}", &toml_escaped(sdk)))));
            files.push(("Cargo.lock".into(), Cow::Borrowed(RUST_LOCK)));
            files.push(("src/lib.rs".into(), Cow::Borrowed(include_str!("../../../operators/guests/count/src/lib.rs"))));
            files.push(("src/count.rs".into(), Cow::Borrowed(include_str!("../../../operators/guests/count/src/count.rs"))));
        }
        Language::C => {
            files.push((format!("{name}.c"), Cow::Borrowed(include_str!("../../../operators/c/count-0-2.c"))));
            files.push(("counts.h".into(), Cow::Borrowed(include_str!("../../../operators/c/counts.h"))));
            // For an operator run with `state: memory`: the state exports as refusals.
            files.push(("memory_state_v2.h".into(), Cow::Borrowed(include_str!("../../../operators/c/memory_state_v2.h"))));
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

    /// The SDK the binary installs is the whole of `guest-sdk/src` and
    /// depends on what `guest-sdk/Cargo.toml` depends on.
    #[test]
    fn the_embedded_sdk_is_complete() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk: Vec<String> =
            std::fs::read_dir(root.join("guest-sdk/src")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        on_disk.sort();
        let embedded: Vec<String> = SDK.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(embedded, on_disk, "list every file of guest-sdk/src in SDK");
        let manifest = std::fs::read_to_string(root.join("guest-sdk/Cargo.toml")).unwrap();
        let deps = manifest.split("[dependencies]").nth(1).unwrap();
        for line in deps.lines().take_while(|l| !l.starts_with('[')).filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let dep = line.split(['=', '.']).next().unwrap().trim();
            assert!(SDK_MANIFEST.contains(&format!("\n{dep} = ")), "SDK_MANIFEST lacks `{dep}`");
        }
    }

    /// The SDK carries the contract (so that it builds where it is
    /// installed, and packages): `guest-sdk/wit` must be the repository's
    /// `wit/`, file for file and byte for byte.
    #[test]
    fn the_sdk_carries_the_repositorys_wit() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        fn files(dir: &Path, rel: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir.join(rel)).unwrap() {
                let rel = rel.join(entry.unwrap().file_name());
                // `metadata` follows symbolic links (`wit/0.2/deps` is one).
                if std::fs::metadata(dir.join(&rel)).unwrap().is_dir() {
                    files(dir, &rel, out);
                } else {
                    out.push((rel.clone(), std::fs::read(dir.join(&rel)).unwrap()));
                }
            }
        }
        let (mut repo, mut sdk) = (Vec::new(), Vec::new());
        files(&root.join("wit"), Path::new(""), &mut repo);
        files(&root.join("guest-sdk/wit"), Path::new(""), &mut sdk);
        repo.sort();
        sdk.sort();
        let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        assert_eq!(names(&sdk), names(&repo), "guest-sdk/wit must hold the files of wit/");
        for ((path, a), (_, b)) in repo.iter().zip(&sdk) {
            assert!(a == b, "guest-sdk/wit/{} differs from wit/{0}: copy wit/ into guest-sdk/wit", path.display());
        }
        let mut embedded: Vec<PathBuf> = SDK_WIT.iter().map(|(p, _)| Path::new(p).strip_prefix("wit").unwrap().to_path_buf()).collect();
        embedded.sort();
        assert_eq!(embedded, names(&sdk), "list every file of guest-sdk/wit in SDK_WIT");
    }

    /// The installed SDK's directory names the SDK's own version.
    #[test]
    fn the_sdk_version_is_the_sdks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let sdk = std::fs::read_to_string(root.join("guest-sdk/Cargo.toml")).unwrap();
        let version = if sdk.contains("version.workspace = true") { std::fs::read_to_string(root.join("Cargo.toml")).unwrap() } else { sdk };
        assert!(version.contains(&format!("\nversion = \"{SDK_VERSION}\"\n")), "the SDK's version is not {SDK_VERSION}");
    }

    /// A Rust project names the installed SDK by path and holds no copy of it;
    /// installing twice rewrites nothing, and a changed file is written again.
    #[test]
    fn a_rust_project_depends_on_the_installed_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = dir.path().join("home/sdk/cairn-guest-0.1.0");
        install_sdk(&sdk).unwrap();
        for (rel, text) in sdk_files() {
            assert_eq!(std::fs::read_to_string(sdk.join(&rel)).unwrap(), text, "{rel}");
        }
        let lib = sdk.join("src/lib.rs");
        let written = std::fs::metadata(&lib).unwrap().modified().unwrap();
        std::fs::write(sdk.join("src/error.rs"), "changed").unwrap();
        install_sdk(&sdk).unwrap();
        assert_eq!(std::fs::metadata(&lib).unwrap().modified().unwrap(), written, "an unchanged file is not written again");
        assert_eq!(std::fs::read_to_string(sdk.join("src/error.rs")).unwrap(), SDK.iter().find(|(p, _)| *p == "error.rs").unwrap().1);

        let files = files("counter", Language::Rust, &sdk);
        assert!(files.iter().all(|(p, _)| !p.starts_with("cairn-guest") && !p.ends_with("bindings.rs")), "no SDK in the project");
        let manifest = &files.iter().find(|(p, _)| p == "Cargo.toml").unwrap().1;
        assert_eq!(crate::project::sdk_dependency(manifest), Some(sdk.clone()), "{manifest}");
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
