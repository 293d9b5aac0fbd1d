//! Rust bindings for the `cairn:operator` world, generated from `wit/` when
//! this crate is compiled.
//!
//! Operator crates do not use these directly: [`export_operator!`](crate::export_operator)
//! wires an [`Operator`](crate::Operator) to them. They are public because the
//! export macro expands in the operator's crate and has to reach them, so an
//! operator crate never depends on wit-bindgen itself.
//!
//! On targets other than `wasm32` the imported functions are stubs that panic;
//! [`crate::log`] avoids them there, and nothing else in this crate calls them.
#![allow(missing_docs, clippy::all)]

wit_bindgen::generate!({
    world: "operator-world",
    path: "../wit",
    // The `export!` macro is `#[macro_export]`ed from this crate, and
    // `export_operator!` invokes it with `with_types_in $crate::bindings`, so
    // the default module below only matters to someone calling `export!`
    // directly.
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "cairn_guest::bindings",
});
