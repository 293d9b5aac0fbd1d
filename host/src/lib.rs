//! Cairn's host: runs pipelines of sandboxed WebAssembly operators.
//!
//! Data flows one way through the modules: [`spec`] (pipeline.yaml) →
//! [`runtime`] (compiled components, one instance per subtask) → [`dataflow`]
//! (tasks, channels, partitioning) with [`connectors`] at the edges.
//! [`checkpoint`] coordinates snapshots of the running job; what its
//! coordinator and the tasks exchange lives in [`control`], below both, and
//! the contract's key hash and hash ranges in [`keys`], below everything.
//! [`project`] writes and builds operator projects of one's own, beside the rest.
//! [`alloc`] (the process's allocator, which keeps freed memory) depends on nothing.

pub mod alloc;
pub mod api;
pub mod checkpoint;
pub mod cli;
pub mod connectors;
pub mod control;
pub mod dataflow;
pub mod keys;
pub mod project;
pub mod runtime;
pub mod spec;

#[cfg(test)]
mod fuzz;
