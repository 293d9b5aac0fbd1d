//! Nexmark benchmark (being written).
fn main() {}
