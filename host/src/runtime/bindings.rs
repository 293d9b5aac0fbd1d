//! Host bindings of the `cairn:operator` world (generated from `wit/`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "operator-world",
    additional_derives: [PartialEq, Eq],
});

pub use cairn::operator::log::Level;
pub use cairn::operator::types::{Batch, StateInfo};

/// The `types` interface only declares types: nothing to implement.
impl cairn::operator::types::Host for super::store::StoreData {}
