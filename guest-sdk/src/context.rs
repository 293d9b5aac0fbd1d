//! Where a subtask stands: [`Context`], given by the host to `init` (0.2.0).

use std::cell::RefCell;

/// Which subtask this instance is, the key hashes it owns and its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The operator's id in pipeline.yaml.
    pub operator: String,
    /// This subtask's index, `0 .. parallelism`.
    pub subtask: u32,
    /// How many subtasks the operator has.
    pub parallelism: u32,
    /// The key hashes this subtask owns, both ends included.
    pub key_range: (u64, u64),
    /// The ids of the operator's inputs, in the order of its `input:` list.
    pub inputs: Vec<String>,
}

impl Context {
    /// An operator running alone: subtask 0 of 1, owning every hash, one
    /// input named `input` (what a 0.1.0 instance and native tests get).
    pub fn alone() -> Context {
        Context { operator: "operator".into(), subtask: 0, parallelism: 1, key_range: (0, u64::MAX), inputs: vec!["input".into()] }
    }
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// The context the host gave this instance's `init` ([`Context::alone`]
/// before `init`, and for a 0.1.0 component).
pub fn context() -> Context {
    CONTEXT.with(|c| c.borrow().clone()).unwrap_or_else(Context::alone)
}

pub(crate) fn set(context: Context) {
    CONTEXT.with(|c| *c.borrow_mut() = Some(context));
}
