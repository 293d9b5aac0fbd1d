//! Write Cairn operators in Rust.
//!
//! A Cairn operator is a WebAssembly component exporting the
//! `cairn:operator/operator@0.2.0` interface (see `wit/0.2/operator.wit`). With this
//! crate an operator is one short file: implement [`Operator`] and call
//! [`export_operator!`]. State kept in [`KeyedState`] rescales by itself:
//! snapshots split it by key hash, and a subtask of another parallelism gets
//! exactly its keys back. A batch's [`Events::input`] says which of the
//! operator's inputs it came from (joins). The SDK hides the batch columns behind [`Events`] (an
//! iterator of borrowed [`Event`]s) and [`Output`] (a builder writing straight
//! into the returned columns), parses the JSON config into
//! [`Operator::Config`], and snapshots and restores [`Operator::State`] in
//! bounded chunks (postcard encoding, with a schema version and
//! [`Operator::migrate`] for older ones).
//!
//! ```
//! use cairn_guest::{Error, Events, KeyedState, Operator, Output, export_operator};
//!
//! /// Counts events per key.
//! struct Count;
//!
//! impl Operator for Count {
//!     type Config = ();
//!     type State = KeyedState<u64>;
//!
//!     fn init((): ()) -> Result<Self, Error> {
//!         Ok(Count)
//!     }
//!
//!     fn process(
//!         &mut self,
//!         state: &mut Self::State,
//!         input: Events<'_>,
//!         out: &mut Output,
//!     ) -> Result<(), Error> {
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
//! Every method's error is an [`Error`], so `?` works on any
//! `std::error::Error` (`std::io::Error`, `serde_json::Error`, …), on a
//! `String` and on a `&str`; the job fails with its message and causes.
//!
//! An operator run with `state: memory` in pipeline.yaml (the host snapshots
//! its linear memory) implements [`MemoryOperator`] instead, with no `State`
//! and no snapshot code, and is exported with [`export_memory_operator!`].
//!
//! Build the crate as a `cdylib` with `cargo build --release --target
//! wasm32-wasip2`: the result is a component. To test an operator natively,
//! drive a [`runtime::Instance`] directly.
//!
//! The crate carries the contract it implements (`wit/`, the same files as
//! the Cairn repository's `wit/`), so it builds wherever it is copied.
#![warn(missing_docs)]

// Lets the bindings' export macro name this crate as `cairn_guest` from
// inside it too.
extern crate self as cairn_guest;

pub mod bindings;
mod context;
mod error;
mod events;
mod keyed;
pub mod log;
mod operator;
mod output;
pub mod pieces;
pub mod runtime;
pub mod snapshot;

pub use context::{Context, context};
pub use error::Error;
pub use events::{Event, Events};
pub use keyed::KeyedState;
#[doc(hidden)]
pub use operator::InMemory;
pub use operator::{MemoryOperator, Operator};
pub use output::Output;
/// Re-exported so that operator crates can name serde through the SDK.
pub use serde;

/// A batch of events as it crosses the boundary (columns); see [`Events`]
/// and [`Output`] for reading and writing one.
pub use bindings::v1::cairn::operator::types::Batch;
/// What a 0.1.0 snapshot is: format, state schema version and size.
pub use bindings::v1::cairn::operator::types::StateInfo;
/// The types of `cairn:operator@0.2.0` (snapshot pieces, restore info, context).
pub use bindings::v2::cairn::operator0_2_0::types as v2;

/// The part of both export macros that holds the operator: one
/// [`runtime::Instance`] in a thread-local (the component is single-threaded,
/// one instance per subtask), the export struct, and `__with` to reach it.
#[doc(hidden)]
#[macro_export]
macro_rules! __instance_glue {
    ($op:ty) => {
        struct __CairnOperatorExport;

        ::std::thread_local! {
            static __CAIRN_INSTANCE: ::core::cell::RefCell<$crate::runtime::Instance<$op>> =
                const { ::core::cell::RefCell::new($crate::runtime::Instance::new()) };
        }

        fn __with<R>(f: impl FnOnce(&mut $crate::runtime::Instance<$op>) -> R) -> R {
            __CAIRN_INSTANCE.with(|cell| f(&mut cell.borrow_mut()))
        }
    };
}

/// The 0.2.0 exports every operator kind shares (`init`, `process`,
/// `on-watermark`), forwarding to the instance `__instance_glue!` keeps; used
/// inside the `Guest` impls of [`export_operator!`] and [`export_memory_operator!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __v2_stream_exports {
    () => {
        fn init(config: ::std::string::String, context: $crate::v2::Context) -> ::core::result::Result<(), ::std::string::String> {
            let context = $crate::Context {
                operator: context.operator,
                subtask: context.subtask,
                parallelism: context.parallelism,
                key_range: (context.key_range.first, context.key_range.last),
                inputs: context.inputs,
            };
            __with(|i| i.init_with(&config, context))
        }

        fn process(input: u32, batch: $crate::Batch) -> ::core::result::Result<$crate::Batch, ::std::string::String> {
            __with(|i| i.process_input(input, &batch))
        }

        fn on_watermark(ts: i64) -> ::core::result::Result<$crate::Batch, ::std::string::String> {
            __with(|i| i.on_watermark(ts))
        }
    };
}

/// Exports an [`Operator`] as a `cairn:operator@0.2.0` component: keyed
/// state that rescales, inputs told apart.
///
/// Invoke it once, at the top level of a `cdylib` crate, with the operator
/// type: `export_operator!(MyOp);`. It keeps one [`runtime::Instance`] of the
/// operator (the component is single-threaded, one instance per subtask) and
/// forwards every exported function to it.
#[macro_export]
macro_rules! export_operator {
    ($op:ty) => {
        const _: () = {
            $crate::__instance_glue!($op);

            impl $crate::bindings::v2::exports::cairn::operator0_2_0::operator::Guest for __CairnOperatorExport {
                $crate::__v2_stream_exports!();

                fn snapshot() -> ::core::result::Result<$crate::v2::SnapshotInfo, ::std::string::String> {
                    __with(|i| i.snapshot_pieces())
                }

                fn snapshot_read(max_len: u32) -> ::std::vec::Vec<u8> {
                    __with(|i| i.snapshot_read(max_len))
                }

                fn restore(info: $crate::v2::RestoreInfo) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore_pieces(&info))
                }

                fn restore_write(bytes: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore_write(&bytes))
                }

                fn restore_finish() -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore_finish())
                }
            }

    $crate::bindings::v2::export_0_2!(__CairnOperatorExport with_types_in $crate::bindings::v2);
        };
    };
}

/// What the snapshot and restore exports of a [`MemoryOperator`] answer:
/// the host never calls them when the operator runs with `state: memory`.
pub const MEMORY_STATE_MISSING: &str = "this operator's state is taken by the host: set `state: memory` on it in pipeline.yaml";

/// Exports a [`MemoryOperator`] as a `cairn:operator@0.2.0` component whose
/// state the host takes as a memory image: run it with `state: memory` in
/// pipeline.yaml (docs/state-memory.md).
///
/// Invoke it once, at the top level of a `cdylib` crate:
/// `export_memory_operator!(MyOp);`. `init`, `process` and `on-watermark` go
/// to the operator; the contract's snapshot and restore exports, which the host
/// does not call for such an operator, refuse with
/// [`MEMORY_STATE_MISSING`] (so a pipeline that forgot `state: memory` fails
/// at its first checkpoint saying what is missing).
///
/// ```
/// use std::collections::HashMap;
///
/// use cairn_guest::{Error, Events, MemoryOperator, Output, export_memory_operator};
///
/// /// Counts events per key in a plain `HashMap`: the host snapshots it.
/// #[derive(Default)]
/// struct Tally {
///     counts: HashMap<Vec<u8>, u64>,
/// }
///
/// impl MemoryOperator for Tally {
///     type Config = ();
///
///     fn init((): ()) -> Result<Self, Error> {
///         Ok(Tally::default())
///     }
///
///     fn process(&mut self, input: Events<'_>, out: &mut Output) -> Result<(), Error> {
///         for event in input {
///             let n = self.counts.entry(event.key.unwrap_or_default().to_vec()).or_default();
///             *n += 1;
///             out.emit(event.key, n.to_string().as_bytes(), event.timestamp);
///         }
///         Ok(())
///     }
/// }
///
/// export_memory_operator!(Tally);
/// ```
#[macro_export]
macro_rules! export_memory_operator {
    ($op:ty) => {
        const _: () = {
            $crate::__instance_glue!($crate::InMemory<$op>);

            impl $crate::bindings::v2::exports::cairn::operator0_2_0::operator::Guest for __CairnOperatorExport {
                $crate::__v2_stream_exports!();

                fn snapshot() -> ::core::result::Result<$crate::v2::SnapshotInfo, ::std::string::String> {
                    ::core::result::Result::Err($crate::MEMORY_STATE_MISSING.into())
                }

                fn snapshot_read(_max_len: u32) -> ::std::vec::Vec<u8> {
                    ::std::vec::Vec::new()
                }

                fn restore(_info: $crate::v2::RestoreInfo) -> ::core::result::Result<(), ::std::string::String> {
                    ::core::result::Result::Err($crate::MEMORY_STATE_MISSING.into())
                }

                fn restore_write(_bytes: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    ::core::result::Result::Err($crate::MEMORY_STATE_MISSING.into())
                }

                fn restore_finish() -> ::core::result::Result<(), ::std::string::String> {
                    ::core::result::Result::Err($crate::MEMORY_STATE_MISSING.into())
                }
            }

    $crate::bindings::v2::export_0_2!(__CairnOperatorExport with_types_in $crate::bindings::v2);
        };
    };
}

/// Exports an [`Operator`] as a `cairn:operator@0.1.0` component: one input,
/// state the host restores at the parallelism it was taken at only. For
/// checkpoints and tools of the first contract; new operators use
/// [`export_operator!`].
#[macro_export]
macro_rules! export_operator_0_1 {
    ($op:ty) => {
        const _: () = {
            $crate::__instance_glue!($op);

            impl $crate::bindings::v1::exports::cairn::operator::operator::Guest for __CairnOperatorExport {
                fn init(config: ::std::string::String) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.init(&config))
                }

                fn process(input: $crate::Batch) -> ::core::result::Result<$crate::Batch, ::std::string::String> {
                    __with(|i| i.process(&input))
                }

                fn on_watermark(ts: i64) -> ::core::result::Result<$crate::Batch, ::std::string::String> {
                    __with(|i| i.on_watermark(ts))
                }

                fn snapshot() -> ::core::result::Result<$crate::StateInfo, ::std::string::String> {
                    __with(|i| i.snapshot())
                }

                fn snapshot_read(max_len: u32) -> ::std::vec::Vec<u8> {
                    __with(|i| i.snapshot_read(max_len))
                }

                fn restore(info: $crate::StateInfo) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore(&info))
                }

                fn restore_write(bytes: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore_write(&bytes))
                }

                fn restore_finish() -> ::core::result::Result<(), ::std::string::String> {
                    __with(|i| i.restore_finish())
                }
            }

    $crate::bindings::v1::export_0_1!(__CairnOperatorExport with_types_in $crate::bindings::v1);
        };
    };
}
