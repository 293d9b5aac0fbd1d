//! Cairn's host: runs pipelines of sandboxed WebAssembly operators.
//!
//! The modules are layers; each imports only the layers below it (the map is
//! in `layers.rs`, and a test holds the code to it). From the top: [`cli`];
//! [`api`] and [`project`]; [`job`] (the one start-up path of `run` and
//! `check`); [`connectors`] (sources and sinks, implementing the dataflow's
//! ports); [`dataflow`] (tasks, channels, partitioning, barrier alignment);
//! [`checkpoint`] (coordinator, uploader, owner of deletion, storage,
//! restore); [`runtime`] (compiled components, one instance per subtask);
//! [`control`] (what tasks and the coordinator exchange); and at the bottom
//! [`spec`] (pipeline.yaml), [`keys`] (the contract's key hash and ranges) and
//! [`alloc`] (the process's allocator, which keeps freed memory).

pub mod alloc;
pub mod api;
pub mod checkpoint;
pub mod cli;
pub mod connectors;
pub mod control;
pub mod dataflow;
pub mod job;
pub mod keys;
mod layers;
pub mod project;
pub mod runtime;
pub mod spec;

#[cfg(test)]
mod fuzz;
