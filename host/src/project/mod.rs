//! Operator projects of one's own, anywhere: `host new operator` writes one
//! from a template ([`new_operator`]), `host build` turns it into a component
//! ([`build`]) with the toolchains `cairn-guestc` installs on first use.
//!
//! A project is a directory with an `operator.yaml` naming the operator and
//! its language, its sources, a copy of the contract (`wit/`) and a
//! `pipeline.yaml` that runs it. The component goes to `target/<name>.wasm`.
//! A Rust project depends on the `cairn-guest` SDK by path, on the copy this
//! binary installs once per SDK version under [`sdk_dir`] (no copy of the SDK
//! in the project).

mod template;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use template::{SDK_VERSION, install_sdk, new_operator};

/// The project file, beside the sources.
pub const MANIFEST: &str = "operator.yaml";

/// The languages a project can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Rust, with the `cairn-guest` SDK (installed under `$CAIRN_HOME/sdk`), contract 0.2.0.
    Rust,
    /// C, with clang and wasi-libc, contract 0.2.0.
    C,
    /// Python, with componentize-py, contract 0.1.0.
    Python,
    /// JavaScript, with componentize-js, contract 0.1.0.
    Js,
}

impl Language {
    /// The name in `operator.yaml` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::Python => "python",
            Language::Js => "js",
        }
    }

    /// The main source file of operator `name`, relative to the project.
    pub fn main_source(self, name: &str) -> String {
        match self {
            Language::Rust => "Cargo.toml".into(),
            Language::C => format!("{name}.c"),
            Language::Python => "app.py".into(),
            Language::Js => format!("{name}.js"),
        }
    }
}

/// `operator.yaml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// The operator's name: the component is `target/<name>.wasm`.
    pub name: String,
    /// The language of its sources.
    pub language: Language,
}

/// Why a project could not be created or built.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// An operator name that cannot name files and crates alike.
    #[error("invalid operator name `{0}`: use lowercase letters, digits and `-`, starting with a letter (at most 64)")]
    Name(String),
    /// `host new` refuses to write into a directory that has files.
    #[error("{0} exists and is not empty; choose another directory with --dir")]
    NotEmpty(PathBuf),
    /// `operator.yaml` is missing or wrong.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong (the YAML parser's message carries line and column).
        message: String,
    },
    /// The main source the manifest implies is not there.
    #[error("{path} not found: {manifest} names the {language} operator `{name}`, whose source it is")]
    Source {
        /// The missing file.
        path: PathBuf,
        /// The manifest.
        manifest: PathBuf,
        /// The language.
        language: &'static str,
        /// The operator.
        name: String,
    },
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A Rust project depends on an installed SDK this binary cannot provide.
    #[error(
        "{manifest} depends on cairn-guest at {path}, which does not exist{why}; this host installs cairn-guest {SDK_VERSION} at {ours}: \
         change the path in {manifest} to it"
    )]
    Sdk {
        /// The project's Cargo.toml.
        manifest: PathBuf,
        /// The path it names.
        path: PathBuf,
        /// Why it was not installed there.
        why: String,
        /// Where this binary installs the SDK ([`sdk_dir`]).
        ours: PathBuf,
    },
    /// The toolchain is missing or the build failed.
    #[error(transparent)]
    Build(#[from] cairn_guestc::Error),
}

impl ProjectError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectError + '_ {
        move |source| ProjectError::Io { path: path.to_path_buf(), source }
    }
}

/// Checks an operator name: `[a-z][a-z0-9-]*`, at most 64 bytes.
pub fn check_name(name: &str) -> Result<(), ProjectError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok { Ok(()) } else { Err(ProjectError::Name(name.to_string())) }
}

/// Where what projects share is installed: `$CAIRN_HOME`, else
/// `$XDG_CACHE_HOME/cairn`, else `~/.cache/cairn`.
pub fn cairn_home() -> PathBuf {
    let var = |name| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(home) = var("CAIRN_HOME") {
        return home;
    }
    let cache = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache"))).unwrap_or_else(std::env::temp_dir);
    cache.join("cairn")
}

/// Where the Python and JavaScript toolchains of projects are installed:
/// `guest-toolchains/` in [`cairn_home`].
pub fn toolchains_dir() -> PathBuf {
    cairn_home().join("guest-toolchains")
}

/// Where this binary installs the Rust SDK that Rust projects depend on by
/// path: `sdk/cairn-guest-<version>/` in [`cairn_home`] ([`install_sdk`]).
pub fn sdk_dir() -> PathBuf {
    cairn_home().join("sdk").join(format!("cairn-guest-{SDK_VERSION}"))
}

/// Reads `dir/operator.yaml`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, ProjectError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| ProjectError::Manifest {
        message: format!("{e} (a project made by `host new operator` has one; is {} the project's directory?)", dir.display()),
        path: path.clone(),
    })?;
    let manifest: Manifest = yaml_serde::from_str(&text).map_err(|e| ProjectError::Manifest { path: path.clone(), message: e.to_string() })?;
    check_name(&manifest.name).map_err(|e| ProjectError::Manifest { path, message: e.to_string() })?;
    Ok(manifest)
}

/// A project's component, after [`build`].
#[derive(Clone, Debug)]
pub struct BuiltProject {
    /// The operator's name.
    pub name: String,
    /// Its language.
    pub language: Language,
    /// `target/<name>.wasm` in the project.
    pub component: PathBuf,
    /// Whether it was rebuilt (false: its inputs had not changed).
    pub rebuilt: bool,
}

/// Builds the project in `dir` into `dir/target/<name>.wasm`, installing the
/// language's toolchain on first use ([`toolchains_dir`]; the C toolchain
/// comes from Debian's packages, Rust's target from rustup).
pub fn build(dir: &Path) -> Result<BuiltProject, ProjectError> {
    let dir = std::path::absolute(dir).map_err(ProjectError::io(dir))?;
    let manifest = read_manifest(&dir)?;
    let (name, language) = (manifest.name, manifest.language);
    let main = dir.join(language.main_source(&name));
    if !main.is_file() {
        return Err(ProjectError::Source { path: main, manifest: dir.join(MANIFEST), language: language.name(), name });
    }
    let target = dir.join("target");
    let component = target.join(format!("{name}.wasm"));
    let rebuilt = match language {
        Language::Rust => {
            ensure_sdk(&dir)?;
            let built = cairn_guestc::build_rust_crate(&dir)?;
            let bytes = std::fs::read(&built).map_err(ProjectError::io(&built))?;
            std::fs::create_dir_all(&target).map_err(ProjectError::io(&target))?;
            let changed = std::fs::read(&component).ok().as_deref() != Some(&bytes[..]);
            if changed {
                std::fs::write(&component, &bytes).map_err(ProjectError::io(&component))?;
            }
            changed
        }
        Language::C | Language::Python | Language::Js => {
            let (lang, extra) = match language {
                Language::C => (cairn_guestc::Lang::C, "h"),
                Language::Python => (cairn_guestc::Lang::Python, "py"),
                _ => (cairn_guestc::Lang::Js, "js"),
            };
            // Every other file of the extension beside the main source is an input too.
            let mut files = vec![main.clone()];
            let mut more: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(ProjectError::io(&dir))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == extra) && *p != main)
                .collect();
            more.sort();
            files.extend(more);
            let build_dir = target.join("guest-build");
            let toolchains = toolchains_dir();
            let dirs = cairn_guestc::BuildDirs { wit_base: &dir, toolchains: &toolchains, build: &build_dir };
            let wit = cairn_guestc::wit_digest(&dir.join("wit"))?;
            cairn_guestc::build_cached(lang, &name, &files, &dirs, &wit, &component)?
        }
    };
    Ok(BuiltProject { name, language, component, rebuilt })
}

/// Before a Rust project builds: (re)installs the SDK its `Cargo.toml`
/// depends on when that is the copy this binary installs ([`sdk_dir`]), or a
/// missing copy of the same version elsewhere (a project made under another
/// `$CAIRN_HOME`). A path to any other SDK (a checkout of your own) is left
/// alone.
fn ensure_sdk(project: &Path) -> Result<(), ProjectError> {
    let manifest = project.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(ProjectError::io(&manifest))?;
    let Some(path) = sdk_dependency(&text) else { return Ok(()) };
    let path = project.join(path);
    let ours = sdk_dir();
    if path == ours {
        return install_sdk(&ours);
    }
    if path.join("Cargo.toml").is_file() {
        return Ok(());
    }
    let why = if path.file_name() == ours.file_name() {
        match install_sdk(&path) {
            Ok(()) => return Ok(()),
            Err(e) => format!(" and cannot be installed there ({e})"),
        }
    } else {
        String::new()
    };
    Err(ProjectError::Sdk { manifest, path, why, ours })
}

/// The path of the `cairn-guest` dependency in a project's `Cargo.toml`
/// (`cairn-guest = { path = "..." }`, as `host new` writes it).
fn sdk_dependency(manifest: &str) -> Option<PathBuf> {
    let line = manifest.lines().map(str::trim).find(|l| l.starts_with("cairn-guest") && l[11..].trim_start().starts_with('='))?;
    let (_, rest) = line.split_once("path")?;
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..rest[1..].find(quote)? + 1];
    Some(PathBuf::from(if quote == '"' { value.replace("\\\\", "\\") } else { value.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_dependency_is_read_from_the_manifest() {
        let manifest = "[dependencies]\ncairn-guest = { path = \"/home/me/.cache/cairn/sdk/cairn-guest-0.1.0\" }\nserde = \"1\"\n";
        assert_eq!(sdk_dependency(manifest), Some(PathBuf::from("/home/me/.cache/cairn/sdk/cairn-guest-0.1.0")));
        assert_eq!(sdk_dependency("cairn-guest = { path = '../sdk' }"), Some(PathBuf::from("../sdk")));
        assert_eq!(sdk_dependency("cairn-guest = \"0.1\"\n"), None);
        assert_eq!(sdk_dependency("cairn-guest-extra = { path = \"x\" }\n"), None);
    }

    #[test]
    fn names_that_cannot_name_files_and_crates_are_refused() {
        for good in ["counter", "my-op2", "a"] {
            check_name(good).unwrap();
        }
        for bad in ["", "Counter", "2op", "my_op", "op-", "a/b", "ö", &"a".repeat(65)] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn a_bad_manifest_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("operator.yaml") && err.contains("host new operator"), "{err}");
        std::fs::write(dir.path().join(MANIFEST), "name: counter\nlanguage: cobol\n").unwrap();
        let err = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("operator.yaml") && err.contains("cobol") && err.contains("line 2"), "{err}");
        std::fs::write(dir.path().join(MANIFEST), "name: Counter\nlanguage: c\n").unwrap();
        let err = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("invalid operator name `Counter`"), "{err}");
    }
}
