//! The identity of an operator subtask's instance, which its store, its log
//! import and its stdout and stderr tag their output with.

use std::sync::Arc;

/// Which operator subtask an instance is.
#[derive(Clone, Debug)]
pub struct SubtaskTag {
    /// Operator id from pipeline.yaml.
    pub operator: Arc<str>,
    /// Subtask index, from 0.
    pub subtask: usize,
}
