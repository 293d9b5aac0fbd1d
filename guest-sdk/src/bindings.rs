//! Rust bindings for the `cairn:operator` worlds, generated from `wit/` when
//! this crate is compiled: [`v2`] for `cairn:operator@0.2.0` (what
//! [`export_operator!`](crate::export_operator) exports) and [`v1`] for
//! 0.1.0 (what [`export_operator_0_1!`](crate::export_operator_0_1) exports).
//! 0.2.0 reuses 0.1.0's `batch` record and `log` import, so both share one
//! [`Batch`](crate::Batch) type.
//!
//! Operator crates do not use these directly: the export macros wire an
//! [`Operator`](crate::Operator) to them. They are public because the export
//! macros expand in the operator's crate and have to reach them, so an
//! operator crate never depends on wit-bindgen itself.
//!
//! On targets other than `wasm32` the imported functions are stubs that panic;
//! [`crate::log`] avoids them there, and nothing else in this crate calls them.
#![allow(missing_docs, clippy::all)]

/// `cairn:operator@0.1.0` (`wit/operator.wit`).
pub mod v1 {
    wit_bindgen::generate!({
        world: "operator-world",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "export_0_1",
        default_bindings_module: "cairn_guest::bindings::v1",
    });
}

/// `cairn:operator@0.2.0` (`wit/0.2/operator.wit`).
pub mod v2 {
    wit_bindgen::generate!({
        world: "cairn:operator/operator-world-v2@0.2.0",
        path: "wit/0.2",
        with: {
            "cairn:operator/types@0.1.0": crate::bindings::v1::cairn::operator::types,
            "cairn:operator/log@0.1.0": crate::bindings::v1::cairn::operator::log,
        },
        pub_export_macro: true,
        export_macro_name: "export_0_2",
        default_bindings_module: "cairn_guest::bindings::v2",
    });
}
