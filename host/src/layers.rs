//! The map of the host's modules, kept true by a test: each module imports
//! (`crate::…`) only modules of the layers below its own. Top to bottom:
//!
//! | layer | modules | what |
//! | --- | --- | --- |
//! | 8 | `cli` | the `host` command line |
//! | 7 | `api`, `project` | the REST API, web page and metrics; `host new` and `host build` |
//! | 6 | `job` | the one start-up path of `run` and `check`, and the job it builds |
//! | 5 | `connectors` | sources and sinks, implementing `dataflow`'s ports |
//! | 4 | `dataflow` | tasks, channels, partitioning, barrier alignment, the ports |
//! | 3 | `checkpoint` | coordinator, uploader, owner of deletion, lineage, storage, restore |
//! | 2 | `runtime` | wasmtime, components compiled once, one instance per subtask |
//! | 1 | `control` | what tasks and the coordinator exchange |
//! | 0 | `spec`, `keys`, `alloc` | pipeline.yaml; the contract's key hash; the allocator |

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The layers, bottom first.
    const LAYERS: &[&[&str]] =
        &[&["spec", "keys", "alloc"], &["control"], &["runtime"], &["checkpoint"], &["dataflow"], &["connectors"], &["job"], &["api", "project"], &["cli"]];

    fn layer(module: &str) -> Option<usize> {
        LAYERS.iter().position(|l| l.contains(&module))
    }

    /// Every `crate::x` a file imports outside comments and its unit tests.
    fn imports(text: &str) -> Vec<String> {
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        let mut found = Vec::new();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + 7..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                found.push(name);
            }
        }
        found
    }

    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn no_module_imports_one_above_its_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        let mut against = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap();
            let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
            let Some(own) = layer(&top) else { continue };
            for imported in imports(&std::fs::read_to_string(&f).unwrap()) {
                if let Some(theirs) = layer(&imported).filter(|&t| t > own || (t == own && imported != top)) {
                    against.push(format!("{} (layer {own}) imports crate::{imported} (layer {theirs})", rel.display()));
                }
            }
        }
        assert!(against.is_empty(), "imports against the map in host/src/layers.rs:\n{}", against.join("\n"));
    }
}
