//! Builds every guest of `operators/guests` into a WebAssembly component, copies
//! them to `<target>/operators/<name>.wasm` (a stable path that example pipelines
//! name), and generates one path constant per guest plus `for_each_operator!`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let guests = manifest_dir.join("guests");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for dir in [guests.clone(), root.join("guest-sdk"), root.join("wit")] {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    println!("cargo:rerun-if-changed=build.rs");

    ensure_target();
    let names = members(&guests.join("Cargo.toml"));
    let target_dir = out_dir.join("guests-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(guests.join("Cargo.toml"))
        .current_dir(&guests) // so the guests' .cargo/config.toml applies
        .env("CARGO_TARGET_DIR", &target_dir);
    // The outer build's settings must not leak into the guests' build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("run cargo to build the guest operators");
    if !output.status.success() {
        panic!("building the guest operators failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }

    let stable = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or_else(|| root.join("target")).join("operators");
    std::fs::create_dir_all(&stable).unwrap();
    let mut consts = String::new();
    let mut all = String::new();
    let mut idents = String::new();
    for name in &names {
        let file = name.replace('-', "_");
        let built = target_dir.join("wasm32-wasip2/release").join(format!("{file}.wasm"));
        let bytes = std::fs::read(&built).unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
        assert!(bytes.starts_with(b"\0asm\x0d\0\x01\0"), "{} is not a component", built.display());
        let dest = stable.join(format!("{name}.wasm"));
        copy_if_changed(&bytes, &dest);
        let konst = file.to_uppercase();
        consts.push_str(&format!(
            "/// The `{name}` operator component (built from `operators/guests/{name}`).\npub const {konst}: &str = {:?};\n",
            dest.display().to_string()
        ));
        all.push_str(&format!("    ({name:?}, {konst}),\n"));
        idents.push_str(&format!(" {file}"));
    }
    let code = format!(
        "{consts}\n/// Every guest operator: (name, component path).\npub const ALL: &[(&str, &str)] = &[\n{all}];\n\n\
         /// Calls `$mac!(name)` for every guest operator, so a test module can\n\
         /// assert that each has a test.\n#[macro_export]\nmacro_rules! for_each_operator {{\n    ($mac:ident) => {{\n{}    }};\n}}\n",
        idents.split_whitespace().map(|i| format!("        $mac!({i});\n")).collect::<String>()
    );
    std::fs::write(out_dir.join("operators.rs"), code).unwrap();
}

/// Installs the wasm32-wasip2 target through rustup when it is missing.
fn ensure_target() {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(o) if String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") => {}
        Ok(_) => {
            let ok = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status().map(|s| s.success());
            if !matches!(ok, Ok(true)) {
                panic!("`rustup target add wasm32-wasip2` failed: the operators cannot be built");
            }
        }
        Err(_) => println!("cargo:warning=rustup not found; assuming the wasm32-wasip2 target is installed"),
    }
}

/// The `members` of the guests' workspace manifest.
fn members(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let start = text.find("\nmembers").expect("guests workspace lists members");
    let list = &text[start..];
    let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
    list.split(',').map(|s| s.trim().trim_matches('"').to_string()).filter(|s| !s.is_empty() && !s.starts_with('#')).collect()
}

fn copy_if_changed(bytes: &[u8], dest: &Path) {
    if std::fs::read(dest).ok().as_deref() != Some(bytes) {
        let tmp = dest.with_extension("wasm.tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, dest).unwrap();
    }
}
