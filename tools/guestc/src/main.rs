//! `guestc`: builds the C, Python, JavaScript and Go operators into components.
//!
//! ```text
//! guestc c|python|js|go|all [--root DIR]
//! ```
//!
//! Installs a missing toolchain first (see the crate docs). Prints one line per
//! operator. Exit status 0 on success, 75 when a toolchain is missing and could
//! not be installed (registry unreachable, no permission), 1 on any other error.

use std::path::PathBuf;
use std::process::ExitCode;

use cairn_guestc::{Error, Lang, Layout, build};

/// Exit status when a toolchain cannot be installed (EX_TEMPFAIL).
const UNAVAILABLE: u8 = 75;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guestc: {e:#}");
            match e.downcast_ref::<Error>() {
                Some(Error::ToolchainUnavailable { .. }) => ExitCode::from(UNAVAILABLE),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: guestc c|python|js|go|all [--root DIR]";
    let which = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let mut layout = Layout::discover();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => layout = Layout::at(PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?)),
            _ => anyhow::bail!("unexpected argument `{arg}`; {usage}"),
        }
    }
    let langs = match which.as_str() {
        "all" => Lang::ALL.to_vec(),
        other => vec![Lang::parse(other).ok_or_else(|| anyhow::anyhow!("unknown language `{other}`; {usage}"))?],
    };
    for lang in langs {
        let started = std::time::Instant::now();
        for b in build(lang, &layout)? {
            let size = std::fs::metadata(&b.path).map(|m| m.len()).unwrap_or(0);
            let state = if b.rebuilt { "built" } else { "up to date" };
            println!("{:<8} {:<10} {} ({} KiB, {state})", lang.name(), b.name, b.path.display(), size / 1024);
        }
        eprintln!("guestc: {} done in {:.1} s", lang.name(), started.elapsed().as_secs_f64());
    }
    Ok(())
}
