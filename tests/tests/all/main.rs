//! End-to-end tests: real pipelines of real components on real files.
//! One test binary, a module per area (see wasmtime's `tests/all`).

mod bad_input;
mod checkpoints;
mod golang;
mod guests;
mod kafka;
mod languages;
mod malformed;
mod memory_state;
mod metrics;
mod nexmark;
mod ownership;
mod projects;
mod rescale;
mod rest;
mod restart;
mod s3;
mod sandbox;
mod savepoints;
mod sources;
mod startup;
mod stop;
mod web;
mod window;
mod wordcount;

/// Every guest in `operators/guests` has a test named after it in [`guests`]:
/// adding a guest without a test fails the build.
macro_rules! assert_guest_has_test {
    ($name:ident) => {
        #[allow(unused_imports)]
        use guests::$name as _;
    };
}
cairn_tests::operators::for_each_operator!(assert_guest_has_test);
