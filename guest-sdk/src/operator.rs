//! The [`Operator`] trait: what an operator author implements.

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Events, Output};

/// A stream operator. Implement this and name the type in
/// [`export_operator!`](crate::export_operator); the SDK does the rest (config
/// parsing, batch columns, state snapshots and restores).
///
/// The host keeps one instance per operator subtask. The operator value
/// (`Self`) holds what is rebuilt from config; everything that must survive a
/// restart goes in [`State`](Operator::State), which is passed to every call
/// and snapshotted for you.
pub trait Operator: Sized + 'static {
    /// The operator's configuration, deserialized from the JSON text given to
    /// `init` (`null` when pipeline.yaml has no `config` block). Use `()` for
    /// an operator without configuration (it then rejects any config but
    /// `null`), or `Option<T>` to accept a missing one.
    type Config: DeserializeOwned;

    /// The operator's durable state. Starts as `Default::default()`; snapshots
    /// are its postcard encoding (format name `"postcard"`).
    ///
    /// Keep per-key state in [`KeyedState`](crate::KeyedState) fields (the
    /// whole state, or fixed fields of a struct; not inside collections): a
    /// 0.2.0 snapshot splits their entries by key hash, so the operator
    /// rescales with no code of its own. Everything else is operator state:
    /// at the same parallelism each subtask gets its own back; at another,
    /// every new subtask starts from the lowest old subtask's and is handed each
    /// other old subtask's through
    /// [`merge_operator_state`](Operator::merge_operator_state).
    type State: Serialize + DeserializeOwned + Default;

    /// Declared state schema version, written in every snapshot. Bump it when
    /// `State` changes incompatibly, and implement [`migrate`](Operator::migrate).
    const STATE_VERSION: u32 = 1;

    /// Builds the operator from its configuration. An error fails the job
    /// before any data flows. Every method's error is an [`Error`]: `?` works
    /// on any `std::error::Error`, a `String` or a `&str`.
    fn init(config: Self::Config) -> Result<Self, Error>;

    /// Processes one batch: reads `input`, updates `state`, emits into `out`.
    /// An error fails the subtask.
    fn process(&mut self, state: &mut Self::State, input: Events<'_>, out: &mut Output) -> Result<(), Error>;

    /// Event time has passed `ts`: no event with a timestamp at or before
    /// `ts` will arrive any more (`i64::MAX` at the end of bounded input).
    /// Window operators emit here. Does nothing by default.
    fn on_watermark(&mut self, state: &mut Self::State, ts: i64, out: &mut Output) -> Result<(), Error> {
        let _ = (state, ts, out);
        Ok(())
    }

    /// At a restore with another parallelism: folds `other`, the operator state
    /// of one more old subtask (its `KeyedState`s empty: their keys are already
    /// in `state`), into `state`. By default ignores it, which is right for
    /// values every subtask holds alike (such as the highest watermark seen,
    /// since watermarks reach every subtask).
    fn merge_operator_state(state: &mut Self::State, other: Self::State) {
        let _ = (state, other);
    }

    /// Converts a snapshot written with another state schema version into
    /// the current `State`. Called on restore when the snapshot's version is
    /// not [`STATE_VERSION`](Operator::STATE_VERSION); `bytes` are that
    /// version's postcard encoding (read them with
    /// [`snapshot::decode_state`](crate::snapshot::decode_state) into the old
    /// type). By default, fails naming both versions.
    fn migrate(from_version: u32, bytes: &[u8]) -> Result<Self::State, Error> {
        let _ = bytes;
        Err(format!(
            "cannot restore state version {from_version}: this operator reads state version {} \
             only (it implements no migration)",
            Self::STATE_VERSION
        )
        .into())
    }
}

/// An operator whose state the host takes as a memory image: run it with
/// `state: memory` in pipeline.yaml (docs/state-memory.md) and name it in
/// [`export_memory_operator!`](crate::export_memory_operator).
///
/// There is no `State`, no snapshot and no restore: keep whatever the operator
/// needs in `self` (any type, serializable or not), and the host copies the
/// instance's linear memory at every checkpoint and writes it back on restore.
/// Such state restores only into the identical component (the same build) at
/// the same parallelism; an [`Operator`] is the way to rescale or change the
/// code while state survives.
pub trait MemoryOperator: Sized + 'static {
    /// The operator's configuration, deserialized from the JSON text given to
    /// `init`, as [`Operator::Config`].
    type Config: DeserializeOwned;

    /// Builds the operator from its configuration. An error fails the job
    /// before any data flows. On restore the host calls `init` with the same
    /// configuration, then writes the memory image over what it built.
    fn init(config: Self::Config) -> Result<Self, Error>;

    /// Processes one batch: reads `input`, updates `self`, emits into `out`.
    /// An error fails the subtask.
    fn process(&mut self, input: Events<'_>, out: &mut Output) -> Result<(), Error>;

    /// Event time has passed `ts` (see [`Operator::on_watermark`]). Does
    /// nothing by default.
    fn on_watermark(&mut self, ts: i64, out: &mut Output) -> Result<(), Error> {
        let _ = (ts, out);
        Ok(())
    }
}

/// A [`MemoryOperator`] as an [`Operator`] with no state, for the SDK's
/// export glue ([`export_memory_operator!`](crate::export_memory_operator)
/// refuses its snapshot and restore).
#[doc(hidden)]
pub struct InMemory<M>(M);

impl<M: MemoryOperator> Operator for InMemory<M> {
    type Config = M::Config;
    type State = ();

    fn init(config: M::Config) -> Result<Self, Error> {
        M::init(config).map(InMemory)
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        self.0.process(input, out)
    }

    fn on_watermark(&mut self, (): &mut (), ts: i64, out: &mut Output) -> Result<(), Error> {
        self.0.on_watermark(ts, out)
    }
}

impl<M> InMemory<M> {
    /// The operator itself.
    pub fn get(&self) -> &M {
        &self.0
    }
}
