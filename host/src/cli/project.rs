//! `host new operator` and `host build`: an operator project of one's own,
//! anywhere (see [`crate::project`]).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::project::{self, Language};

/// What `host new` writes.
#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// An operator project: a keyed counter with snapshot and restore to
    /// change into your own, its `pipeline.yaml`, and the contract's WIT files.
    Operator {
        /// The operator's name (lowercase letters, digits and `-`): the
        /// component is `target/<NAME>.wasm`.
        name: String,
        /// Its language.
        #[arg(long, value_enum)]
        lang: Language,
        /// Where to write it (default: ./NAME); must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Runs `host new`.
pub fn new(cmd: NewCommand) -> anyhow::Result<()> {
    let NewCommand::Operator { name, lang, dir } = cmd;
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    let files = project::new_operator(&name, lang, &dir)?;
    let shown = |p: &Path| p.display().to_string();
    println!("created the {} operator `{name}` in {} ({} files):", lang.name(), shown(&dir), files.len());
    for f in files.iter().filter(|f| !f.starts_with("wit") && !f.starts_with("cairn-guest")) {
        println!("  {}", f.display());
    }
    println!("  wit/ (the contract)");
    if lang == Language::Rust {
        println!("  depends on the cairn-guest SDK installed at {}", project::sdk_dir().display());
    }
    println!("next:");
    println!("  host build {}", shown(&dir));
    println!("  host run {}", shown(&dir.join("pipeline.yaml")));
    Ok(())
}

/// Runs `host build DIR` and prints where the component went.
pub fn build(dir: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let built = project::build(dir)?;
    let size = std::fs::metadata(&built.component).map(|m| m.len()).unwrap_or(0);
    let state = if built.rebuilt { "built" } else { "up to date" };
    println!("{} ({} KiB, {state})", built.component.display(), size / 1024);
    eprintln!("{} operator `{}` {state} in {:.1} s", built.language.name(), built.name, started.elapsed().as_secs_f64());
    Ok(())
}
