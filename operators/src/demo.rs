//! The demo of the README's quick start: builds the example operators (through
//! this crate's build script) and runs `examples/wordcount/pipeline.yaml`.

use std::path::Path;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    tracing_init();
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

fn tracing_init() {
    cairn_host::cli::init_logging();
}
