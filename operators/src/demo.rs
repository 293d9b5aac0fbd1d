//! The demo of the README's quick start: builds the example operators (through
//! this crate's build script) and the `host` binary, and runs
//! `examples/wordcount/pipeline.yaml`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    tracing_init();
    build_host_binary();
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wordcount/pipeline.yaml");
    let pipeline = pipeline.canonicalize()?;
    eprintln!("running {} (components: {})", pipeline.display(), cairn_operators::COUNT);
    let summary = cairn_host::cli::run_pipeline(&pipeline, Arc::new(Default::default()))?;
    eprint!("{summary}");
    let out = pipeline.parent().unwrap().join("out/counts.txt");
    let mut finals = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(&out)?.lines() {
        if let Some((word, n)) = line.split_once('\t') {
            finals.insert(word.to_string(), n.parse::<u64>().unwrap_or(0));
        }
    }
    let mut top: Vec<_> = finals.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("most frequent words ({}):", out.display());
    for (word, n) in top.iter().take(10) {
        println!("{n:>5}  {word}");
    }
    Ok(())
}

/// The quick start promises a `target/release/host` after the demo, but
/// `cargo run --bin demo` builds only the demo. So, when cargo runs it, the
/// demo asks cargo for the `host` binary too: the `cairn-host` library is
/// compiled already (the demo links it), so this only links one more binary.
/// The build selects packages as `cargo run --bin demo` did (the workspace's
/// members, narrowed by the target name): `-p cairn-host` would unify features
/// over that package alone and compile wasmtime a second time.
fn build_host_binary() {
    let Some(cargo) = std::env::var_os("CARGO") else { return };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--bin", "host", "--manifest-path"]).arg(manifest);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    eprintln!("building the `host` binary as well (`cargo build{} --bin host`)", if cfg!(debug_assertions) { "" } else { " --release" });
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("warning: building the `host` binary failed ({s}); the demo runs without it"),
        Err(e) => eprintln!("warning: cannot run cargo to build the `host` binary: {e}"),
    }
}

fn tracing_init() {
    cairn_host::cli::init_logging();
}
