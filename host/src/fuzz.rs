//! Property tests (fuzzing) of the two readers of untrusted input: the
//! pipeline.yaml parser/validator and the checkpoint metadata reader. They must
//! never panic, only return errors. Run with `cargo test -p cairn-host fuzz`
//! (`just fuzz`; `PROPTEST_CASES=100000` for a longer run).

use std::path::Path;

use proptest::prelude::*;

use crate::checkpoint::Metadata;
use crate::spec::Pipeline;

const PIPELINE: &str = "name: wc
sources:
  - id: lines
    type: file
    path: in.txt
    format: json
    out-of-orderness: 2s
operators:
  - id: count
    component: count.wasm
    input: [lines]
    key-by: true
    parallelism: 3
    config: { size: 1000 }
    limits: { memory: 64MiB, call-timeout: 1s }
sinks:
  - id: out
    type: file
    input: count
    path: out.txt
batch: { size: 64, linger: 5ms }
checkpoints: { interval: 1s, retain: 2 }
restart: { strategy: fixed-delay, delay: 1s }
";

const METADATA: &str = r#"{"format":"cairn-checkpoint","version":1,"pipeline":"wc","run-id":"run-1","id":3,
"kind":"checkpoint","trigger":"periodic","triggered-at":"2026-11-24T00:00:00Z","duration-ms":5,
"state-size":10,"uploaded-size":10,"sources":{"lines":{"offset":10,"line":2}},
"operators":{"count":{"component-digest":"ab","parallelism":1,"subtasks":[{"file":"../../../state/ab",
"sha256":"ab","size":10,"format":"postcard","version":1}]}},"sinks":{"out":null}}"#;

/// `text` with the bytes in `edits` (position, byte) overwritten, and cut at `cut`.
fn mutate(text: &str, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for &(pos, b) in edits {
        let n = bytes.len();
        bytes[pos % n] = b;
    }
    bytes.truncate(cut.max(1));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn pipeline_parser_never_panics_on_mutations(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in 0usize..2000) {
        let bytes = mutate(PIPELINE, &edits, cut);
        let text = String::from_utf8_lossy(&bytes);
        let _ = Pipeline::parse(&text, Path::new("fuzz.yaml"));
    }

    #[test]
    fn pipeline_parser_never_panics_on_noise(text in "\\PC{0,400}") {
        let _ = Pipeline::parse(&text, Path::new("fuzz.yaml"));
    }

    #[test]
    fn metadata_reader_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in 0usize..2000) {
        let bytes = mutate(METADATA, &edits, cut);
        let _ = Metadata::parse(&bytes, "fuzz/_metadata");
    }

    #[test]
    fn metadata_reader_never_panics_on_noise(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Metadata::parse(&bytes, "fuzz/_metadata");
    }
}

#[test]
fn the_seeds_are_valid() {
    Pipeline::parse(PIPELINE, Path::new("fuzz.yaml")).unwrap();
    Metadata::parse(METADATA.as_bytes(), "fuzz/_metadata").unwrap();
}
