//! Builds Cairn operators written in C, Python, JavaScript and Go into WebAssembly
//! components, installing each language's toolchain on first use.
//!
//! | language | sources | toolchain (pinned) | output |
//! | --- | --- | --- | --- |
//! | C | `operators/c/<name>.c` | Debian's clang-19, lld-19, wasi-libc; bindings from `wit-bindgen-c`, component from `wit-component` with the WASI preview 1 reactor adapter (both linked into this tool) | `target/operators/c-<name>.wasm` |
//! | Python | `operators/python/<name>/app.py` | componentize-py 0.25.1 in a venv under `target/guest-toolchains/` | `target/operators/python-<name>.wasm` |
//! | JavaScript | `operators/js/<name>.js` | componentize-js 0.23.0 from npm under `target/guest-toolchains/` | `target/operators/js-<name>.wasm` |
//! | Go | `operators/go/<name>/main.go` (with the `cairn` package of `operators/go`) | the machine's Go, 1.24 or newer (nothing to install: the glue is in `operators/go`); metadata and component from `wit-component` with the reactor adapter, as for C | `target/operators/go-<name>.wasm` |
//!
//! [`build`] is what `guestc <lang>` runs (and what the tests call);
//! [`build_cached`] builds one operator of a project elsewhere (what `host
//! build` runs, with toolchains in a cache of the user's), and
//! [`build_rust_crate`] a Rust operator crate. A build is
//! skipped when the output exists and a digest of its inputs (sources, the WIT
//! package, the pinned tool versions) is unchanged. Installing a toolchain that
//! is missing can fail only for reasons outside the project (no registry, not
//! root for `apt-get`): that is [`Error::ToolchainUnavailable`], distinct from
//! a failing build ([`Error::Build`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

mod arena;
mod go;
mod rust;
pub use go::{GO_BUILD_FLAGS, GO_MIN};
pub use rust::{RUST_TARGET, build_rust_crate};

/// componentize-py version (Python guests).
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// componentize-js version (JavaScript guests).
pub const COMPONENTIZE_JS: &str = "0.23.0";
/// Debian packages for C guests.
pub const C_PACKAGES: &[&str] = &["clang-19", "lld-19", "libclang-rt-19-dev-wasm32", "wasi-libc", "libxxhash-dev"];
/// The WIT world every operator targets.
pub const WORLD: &str = "operator-world";

/// Bumped when this tool changes how it builds, so outputs are rebuilt.
const RECIPE: &str = "guestc-1";

/// A guest language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// C, through clang and wasi-libc.
    C,
    /// Python, through componentize-py.
    Python,
    /// JavaScript, through componentize-js.
    Js,
    /// Go, through the machine's Go (GOOS=wasip1) and `operators/go`'s glue.
    Go,
}

impl Lang {
    /// Every language, in a fixed order.
    pub const ALL: [Lang; 4] = [Lang::C, Lang::Python, Lang::Js, Lang::Go];

    /// The name used on the command line, in paths and in output file names.
    pub fn name(self) -> &'static str {
        match self {
            Lang::C => "c",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::Go => "go",
        }
    }

    /// Parses [`Lang::name`] (also `py` and `javascript`).
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "c" => Some(Lang::C),
            "python" | "py" => Some(Lang::Python),
            "js" | "javascript" => Some(Lang::Js),
            "go" => Some(Lang::Go),
            _ => None,
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A toolchain is missing and could not be installed (registry unreachable,
    /// not allowed to install system packages, ...).
    #[error("the {lang} toolchain is not available: {reason}")]
    ToolchainUnavailable {
        /// Language name.
        lang: &'static str,
        /// What failed, with the installer's output.
        reason: String,
    },
    /// The toolchain is there but building an operator failed.
    #[error("building {what} failed: {reason}")]
    Build {
        /// The operator or step.
        what: String,
        /// The compiler's output or the error.
        reason: String,
    },
}

impl Error {
    fn build(what: impl Into<String>, reason: impl std::fmt::Display) -> Error {
        Error::Build { what: what.into(), reason: reason.to_string() }
    }
}

/// Where sources are read and everything is written.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The repository root (holding `wit/` and `operators/`).
    pub root: PathBuf,
    /// The cargo target directory: components go to `<target>/operators/`,
    /// toolchains to `<target>/guest-toolchains/`, intermediates to
    /// `<target>/guest-build/`.
    pub target: PathBuf,
}

impl Layout {
    /// The repository this tool was built from, and its target directory
    /// (`$CARGO_TARGET_DIR` when absolute, else `<root>/target`), like
    /// `operators/build.rs`.
    pub fn discover() -> Layout {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().unwrap_or(root);
        Layout::at(root)
    }

    /// The layout of the repository at `root` (a relative root is taken from the
    /// working directory: the toolchains run in other directories).
    pub fn at(root: PathBuf) -> Layout {
        let root = std::path::absolute(&root).unwrap_or(root);
        let root = root.canonicalize().unwrap_or(root);
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or_else(|| root.join("target"));
        Layout { root, target }
    }

    /// `<target>/operators`, where components are written.
    pub fn operators_dir(&self) -> PathBuf {
        self.target.join("operators")
    }

    /// `<target>/guest-toolchains`, where Python and JavaScript toolchains are installed.
    pub fn toolchains_dir(&self) -> PathBuf {
        self.target.join("guest-toolchains")
    }

    fn build_dir(&self, lang: Lang) -> PathBuf {
        self.target.join("guest-build").join(lang.name())
    }

    /// The component path of operator `name` in `lang`: `<target>/operators/<lang>-<name>.wasm`.
    pub fn component(&self, lang: Lang, name: &str) -> PathBuf {
        self.operators_dir().join(format!("{}-{name}.wasm", lang.name()))
    }
}

/// One built operator.
#[derive(Clone, Debug)]
pub struct Built {
    /// Operator name (file or directory stem).
    pub name: String,
    /// The component.
    pub path: PathBuf,
    /// Whether it was rebuilt now (false: up to date).
    pub rebuilt: bool,
}

/// Installs `lang`'s toolchain if missing and builds every operator of that
/// language into `<target>/operators/<lang>-<name>.wasm`.
pub fn build(lang: Lang, layout: &Layout) -> Result<Vec<Built>, Error> {
    let build_dir = layout.build_dir(lang);
    std::fs::create_dir_all(&build_dir).map_err(|e| Error::build(build_dir.display().to_string(), e))?;
    std::fs::create_dir_all(layout.operators_dir()).map_err(|e| Error::build("target/operators", e))?;
    // One build per language at a time, also across processes (tests run in parallel).
    let _lock = lock(&build_dir.with_extension("lock"))?;
    let sources = sources(lang, layout)?;
    let wit = wit_digest(&layout.root.join("wit"))?;
    let dirs = BuildDirs { wit_base: &layout.root, toolchains: &layout.toolchains_dir(), build: &build_dir };
    let mut built = Vec::new();
    for (name, files) in sources {
        let out = layout.component(lang, &name);
        let rebuilt = build_cached(lang, &name, &files, &dirs, &wit, &out)?;
        built.push(Built { name, path: out, rebuilt });
    }
    Ok(built)
}

/// Where one build reads the contract and keeps its toolchains and intermediates.
#[derive(Clone, Copy, Debug)]
pub struct BuildDirs<'a> {
    /// The directory holding the WIT tree `wit/` (contract 0.1.0) and
    /// `wit/0.2/` (0.2.0, with its `deps/`): this repository, or an operator
    /// project made by `host new`.
    pub wit_base: &'a Path,
    /// Where the Python and JavaScript toolchains are installed (and found).
    pub toolchains: &'a Path,
    /// Intermediate files (generated bindings, core modules, build stamps).
    pub build: &'a Path,
}

/// Builds operator `name` of `lang` from `files` (its main source first, then
/// the other inputs) into `out`, unless `out` exists and a digest of the
/// inputs is the one recorded beside the intermediates (`wit` is
/// [`wit_digest`] of the WIT tree). Returns whether it was rebuilt.
pub fn build_cached(lang: Lang, name: &str, files: &[PathBuf], dirs: &BuildDirs<'_>, wit: &str, out: &Path) -> Result<bool, Error> {
    let stamp_path = dirs.build.join(format!("{name}.stamp"));
    let stamp = stamp(lang, wit, files)?;
    if out.exists() && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(false);
    }
    let bytes = build_source(lang, name, files, dirs)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::build(parent.display().to_string(), e))?;
    }
    write_atomic(out, &bytes).map_err(|e| Error::build(out.display().to_string(), e))?;
    write_atomic(&stamp_path, stamp.as_bytes()).map_err(|e| Error::build("stamp", e))?;
    Ok(true)
}

/// Installs `lang`'s toolchain if missing and builds operator `name` from
/// `files` (main source first) into a component, returned as bytes.
pub fn build_source(lang: Lang, name: &str, files: &[PathBuf], dirs: &BuildDirs<'_>) -> Result<Vec<u8>, Error> {
    std::fs::create_dir_all(dirs.build).map_err(|e| Error::build(dirs.build.display().to_string(), e))?;
    let main = files.first().ok_or_else(|| Error::build(name, "no source file"))?;
    let bytes = match lang {
        Lang::C => {
            ensure_c_toolchain()?;
            build_c(dirs.wit_base, dirs.build, name, main)?
        }
        Lang::Python => build_python(dirs, name, main)?,
        Lang::Js => build_js(dirs, name, main)?,
        Lang::Go => {
            go::ensure_go_toolchain()?;
            build_go(dirs.wit_base, dirs.build, name, main)?
        }
    };
    if !bytes.starts_with(b"\0asm\x0d\0\x01\0") {
        return Err(Error::build(name, "the toolchain did not produce a component"));
    }
    Ok(bytes)
}

/// The operators of `lang`: (name, [main source, other inputs...]), sorted.
fn sources(lang: Lang, layout: &Layout) -> Result<Vec<(String, Vec<PathBuf>)>, Error> {
    let dir = layout.root.join("operators").join(lang.name());
    if lang == Lang::Go {
        let found = go::sources(&dir)?;
        if found.is_empty() {
            return Err(Error::build(dir.display().to_string(), "no operators found"));
        }
        return Ok(found);
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::build(dir.display().to_string(), e))?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut found = Vec::new();
    for path in &paths {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        match lang {
            // Every .c file is one operator; headers beside them are inputs of all.
            Lang::C if path.extension().is_some_and(|e| e == "c") => {
                let mut files = vec![path.clone()];
                files.extend(paths.iter().filter(|p| p.extension().is_some_and(|e| e == "h")).cloned());
                found.push((stem, files));
            }
            Lang::Python if path.join("app.py").is_file() => {
                let mut files = vec![path.join("app.py")];
                let mut more: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| Error::build(path.display().to_string(), e))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "py") && !p.ends_with("app.py"))
                    .collect();
                more.sort();
                files.extend(more);
                found.push((stem, files));
            }
            Lang::Js if path.extension().is_some_and(|e| e == "js") => found.push((stem, vec![path.clone()])),
            _ => {}
        }
    }
    if found.is_empty() {
        return Err(Error::build(dir.display().to_string(), "no operators found"));
    }
    Ok(found)
}

/// A digest of every `.wit` file under `dir`, following symbolic links (every contract version: `wit/`
/// and `wit/0.2/`, with its `deps/`).
pub fn wit_digest(dir: &Path) -> Result<String, Error> {
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(d) = dirs.pop() {
        for path in std::fs::read_dir(&d).map_err(|e| Error::build(d.display().to_string(), e))?.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "wit") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(std::fs::read(&f).map_err(|e| Error::build(f.display().to_string(), e))?);
    }
    Ok(hex::encode(h.finalize()))
}

fn stamp(lang: Lang, wit: &str, files: &[PathBuf]) -> Result<String, Error> {
    let mut h = Sha256::new();
    h.update(format!("{RECIPE} {} {COMPONENTIZE_PY} {COMPONENTIZE_JS} {C_PACKAGES:?} {wit}", lang.name()));
    if lang == Lang::Go {
        // A different Go may build a different module.
        h.update(format!("{} {GO_BUILD_FLAGS:?}", go::ensure_go_toolchain()?));
    }
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(f).map_err(|e| Error::build(f.display().to_string(), e))?);
    }
    Ok(hex::encode(h.finalize()))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Takes an exclusive lock on `path` (created if missing), held until the
/// returned file is dropped: one installer or build at a time, also across processes.
fn lock(path: &Path) -> Result<std::fs::File, Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::build(parent.display().to_string(), e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::build(format!("lock file {}", path.display()), e))?;
    file.lock().map_err(|e| Error::build(format!("lock file {}", path.display()), e))?;
    Ok(file)
}

/// Runs `cmd`, returning its output, or a description of the failure with
/// the tool's output ([`shown_output`]).
fn run(cmd: &mut Command) -> Result<Output, String> {
    let shown = format!("{cmd:?}");
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(o),
        Ok(o) => Err(format!(
            "`{shown}` failed ({}):\n{}{}",
            o.status,
            shown_output(&String::from_utf8_lossy(&o.stdout)),
            shown_output(&String::from_utf8_lossy(&o.stderr))
        )),
        Err(e) => Err(format!("cannot run `{shown}`: {e}")),
    }
}

/// At most this many lines of a failing tool's output are shown, its first
/// ones and its last ones: the cause (a Python traceback, a compiler error)
/// is usually at the top, the summary at the bottom.
const SHOWN_LINES: usize = 200;

/// A failing tool's output as shown in an error: without the stack
/// backtraces of the tool's own Rust code (componentize-py prints one under
/// `RUST_BACKTRACE=1`; they say nothing about the operator), and, when longer
/// than [`SHOWN_LINES`], its first and last lines with a note of how many
/// were left out between them.
pub fn shown_output(s: &str) -> String {
    let mut lines = Vec::new();
    let mut in_backtrace = false;
    for line in s.lines() {
        if line.trim_start().starts_with("Stack backtrace:") {
            in_backtrace = true;
            continue;
        }
        // A backtrace's frames are indented ("   0: ...", "      at ..."); it ends at the first line that is not.
        if in_backtrace && (line.starts_with(' ') || line.is_empty()) {
            continue;
        }
        in_backtrace = false;
        lines.push(line);
    }
    let mut out = String::new();
    if lines.len() <= SHOWN_LINES {
        lines.iter().for_each(|l| out.extend([*l, "\n"]));
    } else {
        let (head, tail) = (SHOWN_LINES * 3 / 4, SHOWN_LINES / 4);
        lines[..head].iter().for_each(|l| out.extend([*l, "\n"]));
        out.push_str(&format!("[... {} lines left out ...]\n", lines.len() - head - tail));
        lines[lines.len() - tail..].iter().for_each(|l| out.extend([*l, "\n"]));
    }
    out
}

// ---------------------------------------------------------------- C

/// What the C build needs from Debian's packages.
const C_FILES: &[&str] = &[
    "/usr/bin/clang-19",
    "/usr/bin/wasm-ld-19",
    "/usr/lib/wasm32-wasi/libc.a",
    "/usr/lib/wasm32-wasi/crt1-reactor.o",
    "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a",
    XXHASH_H,
];

/// The XXH3 implementation (header-only with `XXH_INLINE_ALL`) that a C
/// operator of contract 0.2.0 hashes keys with; copied alone into the build's
/// include directory (the rest of `/usr/include` is the host's libc).
const XXHASH_H: &str = "/usr/include/xxhash.h";

/// The WIT directory (under the repository root or project) and world a C source
/// targets: `cairn:operator@0.2.0` when it includes `operator_world_v2.h`,
/// else 0.1.0.
fn c_world(source: &Path) -> (&'static str, &'static str) {
    let text = std::fs::read_to_string(source).unwrap_or_default();
    if text.contains("#include \"operator_world_v2.h\"") { ("wit/0.2", "operator-world-v2") } else { ("wit", WORLD) }
}

/// Installs clang-19, lld-19, the wasm32 runtime library and wasi-libc with
/// apt-get when any is missing (as root, or through `sudo -n`).
fn ensure_c_toolchain() -> Result<(), Error> {
    if C_FILES.iter().all(|f| Path::new(f).exists()) {
        return Ok(());
    }
    let unavailable = |reason: String| Error::ToolchainUnavailable { lang: "C", reason };
    if !Path::new("/usr/bin/apt-get").exists() {
        return Err(unavailable(format!("apt-get not found; install {} (Debian names) by hand", C_PACKAGES.join(" "))));
    }
    let root = run(Command::new("id").arg("-u")).map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut cmd = if root { Command::new("apt-get") } else { Command::new("sudo") };
        if !root {
            cmd.args(["-n", "apt-get"]);
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    eprintln!("guestc: installing the C toolchain: apt-get install {}", C_PACKAGES.join(" "));
    run(&mut apt(&["update", "-qq"])).map_err(unavailable)?;
    run(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(C_PACKAGES)).map_err(unavailable)?;
    if let Some(missing) = C_FILES.iter().find(|f| !Path::new(f).exists()) {
        return Err(unavailable(format!("{missing} is still missing after installing {}", C_PACKAGES.join(" "))));
    }
    Ok(())
}

/// Generates the C bindings of the operator world (what `wit-bindgen c` does)
/// into `gen`: `operator_world.h`, `operator_world.c` and
/// `operator_world_component_type.o`.
pub fn generate_c_bindings(wit_dir: &Path, gen_dir: &Path) -> Result<(), Error> {
    generate_c_bindings_of(wit_dir, WORLD, gen_dir)
}

/// [`generate_c_bindings`] of world `world` of the package in `wit_dir`
/// (`<world>.h`, with `-` as `_`).
pub fn generate_c_bindings_of(wit_dir: &Path, world: &str, gen_dir: &Path) -> Result<(), Error> {
    use wit_bindgen_core::wit_parser::Resolve;
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_path(wit_dir).map_err(|e| Error::build("reading wit/", format!("{e:?}")))?;
    let world = resolve.select_world(&[pkg], Some(world)).map_err(|e| Error::build("wit world", format!("{e:?}")))?;
    let mut files = wit_bindgen_core::Files::default();
    let opts = wit_bindgen_c::Opts::default();
    opts.build().generate(&mut resolve, world, &mut files).map_err(|e| Error::build("C bindings", format!("{e:?}")))?;
    std::fs::create_dir_all(gen_dir).map_err(|e| Error::build("C bindings", e))?;
    for (name, bytes) in files.iter() {
        write_atomic(&gen_dir.join(name), bytes).map_err(|e| Error::build("C bindings", e))?;
    }
    Ok(())
}

/// Makes a component of a core module built against WASI preview 1 (what
/// `wasm-tools component new --adapt wasi_snapshot_preview1=<reactor adapter>` does).
pub fn componentize_core(core: &[u8]) -> Result<Vec<u8>, String> {
    use wasi_preview1_component_adapter_provider::{WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER};
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|e| e.adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER))
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("{e:?}"))
}

fn build_c(wit_base: &Path, build_dir: &Path, name: &str, source: &Path) -> Result<Vec<u8>, Error> {
    let (wit, world) = c_world(source);
    let gen_dir = build_dir.join(format!("gen-{world}"));
    generate_c_bindings_of(&wit_base.join(wit), world, &gen_dir)?;
    let include = build_dir.join("include");
    std::fs::create_dir_all(&include).map_err(|e| Error::build(name, e))?;
    std::fs::copy(XXHASH_H, include.join("xxhash.h")).map_err(|e| Error::build(format!("C operator `{name}`: copying {XXHASH_H}"), e))?;
    let core = build_dir.join(format!("{name}.core.wasm"));
    let stem = world.replace('-', "_");
    let mut cmd = Command::new("clang-19");
    cmd.args(["--target=wasm32-wasi", "-Os", "-Wall", "-Werror", "-mexec-model=reactor", "-Wl,--no-entry", "-Wl,--strip-all"])
        .arg("-I")
        .arg(&gen_dir)
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(source.parent().unwrap_or(Path::new(".")))
        .arg(source)
        .arg(gen_dir.join(format!("{stem}.c")))
        .arg(gen_dir.join(format!("{stem}_component_type.o")))
        .arg("-o")
        .arg(&core);
    run(&mut cmd).map_err(|e| Error::build(format!("C operator `{name}`"), e))?;
    let core = std::fs::read(&core).map_err(|e| Error::build(name, e))?;
    componentize_core(&core).map_err(|e| Error::build(format!("C operator `{name}` (component new)"), e))
}

// ---------------------------------------------------------------- Python

/// Installs componentize-py into a venv under `toolchains` if missing;
/// returns its executable.
fn ensure_componentize_py(toolchains: &Path) -> Result<PathBuf, Error> {
    let _lock = lock(&toolchains.join("componentize-py.lock"))?;
    let venv = toolchains.join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let exe = venv.join("bin/componentize-py");
    if venv.join(".installed").exists() && exe.exists() {
        return Ok(exe);
    }
    let unavailable = |reason: String| Error::ToolchainUnavailable { lang: "Python", reason };
    eprintln!("guestc: installing componentize-py {COMPONENTIZE_PY} into {}", venv.display());
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).map_err(unavailable)?;
    run(Command::new(venv.join("bin/pip")).args(["install", "-q", "--disable-pip-version-check"]).arg(format!("componentize-py=={COMPONENTIZE_PY}")))
        .map_err(unavailable)?;
    std::fs::write(venv.join(".installed"), COMPONENTIZE_PY).map_err(|e| Error::build("venv", e))?;
    Ok(exe)
}

fn build_python(dirs: &BuildDirs<'_>, name: &str, app: &Path) -> Result<Vec<u8>, Error> {
    let exe = ensure_componentize_py(dirs.toolchains)?;
    let out = dirs.build.join(format!("{name}.wasm"));
    let app_dir = std::path::absolute(app.parent().unwrap_or(Path::new("."))).map_err(|e| Error::build(name, e))?;
    let mut cmd = Command::new(exe);
    // No __pycache__ beside the sources; no backtrace of componentize-py's own code.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .arg("-d")
        .arg(dirs.wit_base.join("wit"))
        .args(["-w", WORLD, "componentize", "-p"])
        .arg(&app_dir)
        .arg("app")
        .arg("-o")
        .arg(&out);
    // componentize-py runs the app in a sandbox where its directory is `/0`:
    // tracebacks name the real file instead.
    run(&mut cmd).map_err(|e| Error::build(format!("Python operator `{name}`"), e.replace("File \"/0/", &format!("File \"{}/", app_dir.display()))))?;
    std::fs::read(&out).map_err(|e| Error::build(name, e))
}

// ---------------------------------------------------------------- JavaScript

/// Installs the componentize-js CLI with npm under `toolchains` if missing;
/// returns its executable.
fn ensure_componentize_js(toolchains: &Path) -> Result<PathBuf, Error> {
    let _lock = lock(&toolchains.join("componentize-js.lock"))?;
    let dir = toolchains.join(format!("componentize-js-{COMPONENTIZE_JS}"));
    let exe = dir.join("node_modules/.bin/componentize-js");
    if dir.join(".installed").exists() && exe.exists() {
        return Ok(exe);
    }
    let unavailable = |reason: String| Error::ToolchainUnavailable { lang: "JavaScript", reason };
    eprintln!("guestc: installing componentize-js {COMPONENTIZE_JS} into {}", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::build("npm prefix", e))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix", "."])
        .arg(format!("@bytecodealliance/componentize-js@{COMPONENTIZE_JS}"))
        .current_dir(&dir))
    .map_err(unavailable)?;
    std::fs::write(dir.join(".installed"), COMPONENTIZE_JS).map_err(|e| Error::build("npm prefix", e))?;
    Ok(exe)
}

fn build_js(dirs: &BuildDirs<'_>, name: &str, source: &Path) -> Result<Vec<u8>, Error> {
    let exe = ensure_componentize_js(dirs.toolchains)?;
    let out = std::path::absolute(dirs.build.join(format!("{name}.wasm"))).map_err(|e| Error::build(name, e))?;
    let source = std::path::absolute(source).map_err(|e| Error::build(name, e))?;
    // componentize-js reads the WIT folder relative to the working directory.
    let mut cmd = Command::new(exe);
    cmd.args(["--wit", "wit", "--world-name", WORLD, "-d", "http", "fetch-event", "-o"]).arg(&out).arg(&source).current_dir(dirs.wit_base);
    run(&mut cmd).map_err(|e| Error::build(format!("JavaScript operator `{name}`"), e))?;
    std::fs::read(&out).map_err(|e| Error::build(name, e))
}

// ---------------------------------------------------------------- Go

/// Builds the Go `package main` in `dir` (an operator outside `operators/go`)
/// into a component, against `layout`'s `wit/`; what `guestc go DIR -o OUT` runs.
pub fn build_go_package(layout: &Layout, dir: &Path) -> Result<Vec<u8>, Error> {
    go::ensure_go_toolchain()?;
    let build_dir = layout.build_dir(Lang::Go);
    std::fs::create_dir_all(&build_dir).map_err(|e| Error::build(build_dir.display().to_string(), e))?;
    let dir = std::path::absolute(dir).map_err(|e| Error::build(dir.display().to_string(), e))?;
    let core = build_dir.join(format!("package-{}.core.wasm", std::process::id()));
    let bytes = go::build_component(&layout.root.join("wit"), &dir, &core, &build_dir.join("go-cache"));
    let _ = std::fs::remove_file(&core);
    bytes
}

fn build_go(wit_base: &Path, build_dir: &Path, name: &str, main: &Path) -> Result<Vec<u8>, Error> {
    let core = build_dir.join(format!("{name}.core.wasm"));
    let package = main.parent().unwrap_or(Path::new("."));
    go::build_component(&wit_base.join("wit"), package, &core, &build_dir.join("go-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_root_is_made_absolute() {
        let layout = Layout::at(PathBuf::from("."));
        assert!(layout.root.is_absolute(), "{}", layout.root.display());
        assert_eq!(layout.root, std::env::current_dir().unwrap().canonicalize().unwrap());
    }

    /// What componentize-py prints for a Python error under `RUST_BACKTRACE=1`:
    /// the traceback stays, the Rust backtrace after it goes.
    #[test]
    fn a_tools_backtrace_is_left_out_and_its_cause_kept() {
        let mut out = String::from(
            "Traceback (most recent call last):\n  File \"/0/app.py\", line 21, in <module>\n    FORMAT = oops\nNameError: name 'oops' is not defined\n\nCaused by:\n    NameError: name 'oops' is not defined\n\nStack backtrace:\n",
        );
        for i in 0..60 {
            out.push_str(&format!("  {i}: frame\n             at ./src/lib.rs:{i}:1\n"));
        }
        let shown = shown_output(&out);
        assert!(shown.contains("app.py\", line 21") && shown.contains("NameError: name 'oops'"), "{shown}");
        assert!(!shown.contains("backtrace") && !shown.contains("frame"), "{shown}");
    }

    #[test]
    fn long_output_keeps_its_first_and_last_lines() {
        let out: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let shown = shown_output(&out);
        assert_eq!(shown.lines().count(), SHOWN_LINES + 1);
        assert!(shown.starts_with("line 0\n") && shown.ends_with("line 999\n"), "{shown}");
        assert!(shown.contains("[... 800 lines left out ...]"), "{shown}");
    }
}
