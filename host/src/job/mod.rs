//! A job, from a pipeline file to its end: the one start-up path that `host
//! run` (and every in-process restart) and `host check` share, and the job it
//! builds.
//!
//! [`start`] decides what to restore (reading only), compiles each component
//! once, sets up every operator subtask in one function (state checked against
//! the component, grants, instantiate, `init`, `restore`), opens every source at
//! its position and checks every sink against its committed output — and only
//! then writes the run's record and wires the tasks. [`check`] walks the same
//! path and stops before anything is written: what it refuses, `run` refuses,
//! naming the same culprit.
//!
//! This module sits on top: it imports `checkpoint`, `connectors`, `dataflow`
//! and `runtime`, and none of them imports it.

mod assemble;
mod build;
mod check;
mod edges;
mod operators;
mod run;
mod summary;
mod wiring;

pub use assemble::{Started, check, start, validate};
pub use build::{EndOfRun, Job};
pub use check::{CheckReport, Row};
pub use summary::{JobSummary, NodeStats};
