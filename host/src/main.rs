//! The `host` binary: see `host --help`.

fn main() {
    if let Err(e) = cairn_host::cli::main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
