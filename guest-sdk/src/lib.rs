//! Write Cairn operators in Rust.
//!
//! A Cairn operator is a WebAssembly component exporting the
//! `cairn:operator/operator` interface (see `wit/operator.wit`). With this
//! crate an operator is one short file: implement [`Operator`] and call
//! [`export_operator!`]. The SDK hides the batch columns behind [`Events`] (an
//! iterator of borrowed [`Event`]s) and [`Output`] (a builder writing straight
//! into the returned columns), parses the JSON config into
//! [`Operator::Config`], and snapshots and restores [`Operator::State`] in
//! bounded chunks (postcard encoding, with a schema version and
//! [`Operator::migrate`] for older ones).
//!
//! ```
//! use cairn_guest::{Events, KeyedState, Operator, Output, export_operator};
//!
//! /// Counts events per key.
//! struct Count;
//!
//! impl Operator for Count {
//!     type Config = ();
//!     type State = KeyedState<u64>;
//!
//!     fn init((): ()) -> Result<Self, String> {
//!         Ok(Count)
//!     }
//!
//!     fn process(
//!         &mut self,
//!         state: &mut Self::State,
//!         input: Events<'_>,
//!         out: &mut Output,
//!     ) -> Result<(), String> {
//!         for event in input {
//!             let n = state.get_or_default(event.key.unwrap_or_default());
//!             *n += 1;
//!             out.emit(event.key, n.to_string().as_bytes(), event.timestamp);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_operator!(Count);
//! ```
//!
//! Build the crate as a `cdylib` with `cargo build --release --target
//! wasm32-wasip2`: the result is a component. To test an operator natively,
//! drive a [`runtime::Instance`] directly.
#![warn(missing_docs)]

// Lets the bindings' export macro name this crate as `cairn_guest` from
// inside it too.
extern crate self as cairn_guest;

pub mod bindings;
mod events;
mod keyed;
pub mod log;
mod operator;
mod output;
pub mod runtime;
pub mod snapshot;

pub use events::{Event, Events};
pub use keyed::KeyedState;
pub use operator::Operator;
pub use output::Output;
/// Re-exported so that operator crates can name serde through the SDK.
pub use serde;

/// A batch of events as it crosses the boundary (columns); see [`Events`]
/// and [`Output`] for reading and writing one.
pub use bindings::cairn::operator::types::Batch;
/// What a snapshot is: format, state schema version and size.
pub use bindings::cairn::operator::types::StateInfo;

/// Exports an [`Operator`] as the component's `operator` interface.
///
/// Invoke it once, at the top level of a `cdylib` crate, with the operator
/// type: `export_operator!(MyOp);`. It keeps one [`runtime::Instance`] of the
/// operator (the component is single-threaded, one instance per subtask) and
/// forwards every exported function to it.
#[macro_export]
macro_rules! export_operator {
    ($op:ty) => {
        const _: () = {
            struct __CairnOperatorExport;

            ::std::thread_local! {
                static __CAIRN_INSTANCE: ::core::cell::RefCell<$crate::runtime::Instance<$op>> =
                    const { ::core::cell::RefCell::new($crate::runtime::Instance::new()) };
            }

            fn __with<R>(f: impl FnOnce(&mut $crate::runtime::Instance<$op>) -> R) -> R {
                __CAIRN_INSTANCE.with(|cell| f(&mut cell.borrow_mut()))
            }

            impl $crate::bindings::exports::cairn::operator::operator::Guest
                for __CairnOperatorExport
            {
                fn init(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.init(&config))
                }

                fn process(
                    input: $crate::Batch,
                ) -> ::core::result::Result<$crate::Batch, ::std::string::String> {
                    __with(|i| i.process(&input))
                }

                fn on_watermark(
                    ts: i64,
                ) -> ::core::result::Result<$crate::Batch, ::std::string::String> {
                    __with(|i| i.on_watermark(ts))
                }

                fn snapshot()
                -> ::core::result::Result<$crate::StateInfo, ::std::string::String> {
                    __with(|i| i.snapshot())
                }

                fn snapshot_read(max_len: u32) -> ::std::vec::Vec<u8> {
                    __with(|i| i.snapshot_read(max_len))
                }

                fn restore(
                    info: $crate::StateInfo,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore(&info))
                }

                fn restore_write(
                    bytes: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore_write(&bytes))
                }

                fn restore_finish() -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore_finish())
                }
            }

            $crate::bindings::export!(__CairnOperatorExport with_types_in $crate::bindings);
        };
    };
}
