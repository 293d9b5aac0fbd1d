//! The example and test operators of `operators/guests`, built into WebAssembly
//! components by this crate's build script (which installs the `wasm32-wasip2`
//! target when it is missing). Each guest has a constant holding the absolute
//! path of its component, e.g. [`COUNT`]; [`ALL`] lists them, and
//! [`for_each_operator!`] lets a test module check that every guest is tested.
//! The components are also copied to `target/operators/<name>.wasm`, the path
//! the example pipelines use.

include!(concat!(env!("OUT_DIR"), "/operators.rs"));
