# Developer recipes. `just` is optional: each recipe is one plain command.

# Build the example operators (wasm32-wasip2 components) into target/operators/.
operators:
    cargo build --release -p cairn-operators

# The demo: word count over examples/wordcount/input.txt.
demo:
    cargo run --release --bin demo

# The whole test suite (what CI runs, after `fmt-check` and `lint`).
test:
    cargo test --release --workspace

# Format the whole tree (rustfmt.toml), the guest operators' workspace too.
fmt:
    cargo fmt --all && cd operators/guests && cargo fmt --all

# What CI checks before the tests: formatting and clippy with warnings as errors.
fmt-check:
    cargo fmt --all -- --check && cd operators/guests && cargo fmt --all -- --check

lint:
    cargo clippy --release --workspace --all-targets -- -D warnings

# Install the `host` binary (stripped, see [profile.release]) into ~/.cargo/bin.
install:
    cargo install --locked --path host

# wasm map vs native map, and generator -> map -> blackhole, at batch sizes 1..4096.
bench-map:
    cargo bench -p cairn-tests --bench map

# Run any pipeline.
run pipeline:
    cargo run --release --bin host -- run {{pipeline}}

# Property-based fuzzing of the pipeline.yaml parser and the checkpoint metadata reader.
fuzz cases="100000":
    PROPTEST_CASES={{cases}} cargo test --release -p cairn-host fuzz

# Operators in other languages: build operators/c, operators/python, operators/js, operators/go into
# target/operators/<lang>-<name>.wasm, installing the toolchain on first use (docs/operators-*.md).
guests-c:
    cargo run --release -p cairn-guestc -- c

guests-python:
    cargo run --release -p cairn-guestc -- python

guests-js:
    cargo run --release -p cairn-guestc -- js

guests-go:
    cargo run --release -p cairn-guestc -- go

# The counter in Rust, C, Python, JavaScript and Go: events/s, and host start time with and without the compile cache.
bench-languages:
    cargo build --release -p cairn-host -p cairn-guestc && cargo bench -p cairn-tests --bench languages

# Nexmark q0 q1 q2 q5 q7 q17: the source alone, each query with and without checkpoints, wasm vs native (BENCHMARKS.md).
bench-nexmark:
    cargo bench -p cairn-tests --bench nexmark

# Run one Nexmark query (q0 q1 q2 q5 q7 q17) over 1 M events into examples/nexmark/out/<query>.txt.
nexmark query:
    cargo build --release -p cairn-host -p cairn-operators && target/release/host run examples/nexmark/{{query}}.yaml

# A local Apache Kafka broker on 127.0.0.1:9092 with the topics of examples/kafka (Java 17 and Maven; runs until Ctrl-C).
kafka-broker:
    cargo run --release -p cairn-tests --bin kafka-broker -- --port 9092 --topic bids:2 --topic q1:2

# Nexmark q1 from topic `bids` to topic `q1` against that broker (fills `bids` first).
kafka-q1:
    cargo build --release -p cairn-host -p cairn-operators && target/release/host run examples/kafka/fill.yaml && target/release/host run examples/kafka/q1.yaml

# Kafka source and sink throughput, with and without checkpoints (BENCHMARKS.md).
bench-kafka:
    cargo bench -p cairn-tests --bench kafka
