# Developer recipes. `just` is optional: each recipe is one plain command.

# Build the example operators (wasm32-wasip2 components) into target/operators/.
operators:
    cargo build --release -p cairn-operators

# The demo: word count over examples/wordcount/input.txt.
demo:
    cargo run --release --bin demo

# The whole test suite (what CI runs).
test:
    cargo test --release --workspace

# wasm map vs native map, and generator -> map -> blackhole, at batch sizes 1..4096.
bench-map:
    cargo bench -p cairn-tests --bench map

# Run any pipeline.
run pipeline:
    cargo run --release --bin host -- run {{pipeline}}

# Property-based fuzzing of the pipeline.yaml parser and the checkpoint metadata reader.
fuzz cases="100000":
    PROPTEST_CASES={{cases}} cargo test --release -p cairn-host fuzz
