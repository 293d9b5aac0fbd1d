//! `guestc`: builds the C, Python, JavaScript and Go operators into components.
//!
//! ```text
//! guestc c|python|js|go|all [--root DIR]
//! guestc go DIR -o OUT.wasm [--root DIR]
//! ```
//!
//! The second form builds one Go operator of your own: the `package main` in
//! DIR (a module that requires the `cairn` package of `operators/go`) into the
//! component OUT.wasm, against this repository's `wit/` (or `--root`'s).
//!
//! For an operator of your own outside this repository, `host new operator
//! NAME --lang c|python|js|rust` writes a project (with the WIT files it
//! needs) and `host build DIR` builds it, with this crate as its library.
//!
//! Installs a missing toolchain first (see the crate docs). Prints one line per
//! operator. Exit status 0 on success, 75 when a toolchain is missing and could
//! not be installed (registry unreachable, no permission), 1 on any other error.

use std::path::PathBuf;
use std::process::ExitCode;

use cairn_guestc::{Error, Lang, Layout, build, build_go_package};

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
    let usage = "usage: guestc c|python|js|go|all [--root DIR] | guestc go DIR -o OUT.wasm [--root DIR]";
    let which = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let mut layout = Layout::discover();
    let (mut package, mut out) = (None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().map(PathBuf::from).ok_or_else(|| anyhow::anyhow!(usage));
        match arg.as_str() {
            "--root" => layout = Layout::at(value()?),
            "-o" | "--out" if which == "go" => out = Some(value()?),
            _ if which == "go" && package.is_none() && !arg.starts_with('-') => package = Some(PathBuf::from(arg)),
            _ => anyhow::bail!("unexpected argument `{arg}`; {usage}"),
        }
    }
    match (package, out) {
        (Some(dir), Some(out)) => {
            let bytes = build_go_package(&layout, &dir)?;
            std::fs::write(&out, &bytes)?;
            println!("go       {} ({} KiB)", out.display(), bytes.len() / 1024);
            return Ok(());
        }
        (None, None) => {}
        _ => anyhow::bail!("{usage}"),
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
