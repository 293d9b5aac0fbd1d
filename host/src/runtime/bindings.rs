//! Host bindings of the `cairn:operator` worlds (generated from `wit/`):
//! [`v1`] for `cairn:operator@0.1.0`, [`v2`] for `cairn:operator@0.2.0`,
//! which reuses 0.1.0's `batch` record and `log` import, so one batch type
//! and one log implementation serve both.

/// `cairn:operator@0.1.0` (`wit/operator.wit`).
pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "operator-world",
        additional_derives: [PartialEq, Eq],
    });
}

/// `cairn:operator@0.2.0` (`wit/0.2/operator.wit`).
pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2",
        world: "cairn:operator/operator-world-v2@0.2.0",
        additional_derives: [PartialEq, Eq],
        with: {
            "cairn:operator/types@0.1.0": super::v1::cairn::operator::types,
            "cairn:operator/log@0.1.0": super::v1::cairn::operator::log,
        },
    });

    /// The 0.2.0 `types` interface (the generated path carries the version,
    /// since the world sees both versions of the package).
    pub use self::cairn::operator0_2_0::types;
}

pub use v1::cairn::operator::log::Level;
pub use v1::cairn::operator::types::{Batch, StateInfo};

/// The `types` interfaces only declare types: nothing to implement.
impl v1::cairn::operator::types::Host for super::store::StoreData {}
impl v2::types::Host for super::store::StoreData {}
