//! `passthrough`: returns every input batch unchanged, the very columns the
//! host lowered into its memory, without looking at them.
//!
//! The floor of the boundary: a call costs the host's copy of the batch into
//! guest memory and its copy back out, and nothing else. Benchmarks time it
//! against native operators on the same batches (`cargo bench -p cairn-tests
//! --bench map`). `process` implements the generated export directly (an
//! [`Operator`] would read the input and build a new output); every other
//! export is the SDK's, for a stateless operator.

use cairn_guest::bindings::v2::exports::cairn::operator0_2_0::operator::Guest;
use cairn_guest::runtime::Instance;
use cairn_guest::{Batch, Error, Events, Operator, Output, v2};

/// The same pass-through as an [`Operator`], for the SDK's other exports.
struct Passthrough;

impl Operator for Passthrough {
    type Config = ();
    type State = ();

    fn init((): ()) -> Result<Self, Error> {
        Ok(Passthrough)
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        input.for_each(|e| out.emit_event(&e));
        Ok(())
    }
}

thread_local! {
    static INSTANCE: std::cell::RefCell<Instance<Passthrough>> = const { std::cell::RefCell::new(Instance::new()) };
}

fn with<R>(f: impl FnOnce(&mut Instance<Passthrough>) -> R) -> R {
    INSTANCE.with(|cell| f(&mut cell.borrow_mut()))
}

struct Export;

impl Guest for Export {
    fn init(config: String, context: v2::Context) -> Result<(), String> {
        let context = cairn_guest::Context {
            operator: context.operator,
            subtask: context.subtask,
            parallelism: context.parallelism,
            key_range: (context.key_range.first, context.key_range.last),
            inputs: context.inputs,
        };
        with(|i| i.init_with(&config, context))
    }

    fn process(_input: u32, batch: Batch) -> Result<Batch, String> {
        if with(|i| i.operator().is_none()) {
            return Err(cairn_guest::runtime::NOT_INITIALISED.into());
        }
        Ok(batch)
    }

    fn on_watermark(ts: i64) -> Result<Batch, String> {
        with(|i| i.on_watermark(ts))
    }

    fn snapshot() -> Result<v2::SnapshotInfo, String> {
        with(|i| i.snapshot_pieces())
    }

    fn snapshot_read(max_len: u32) -> Vec<u8> {
        with(|i| i.snapshot_read(max_len))
    }

    fn restore(info: v2::RestoreInfo) -> Result<(), String> {
        with(|i| i.restore_pieces(&info))
    }

    fn restore_write(bytes: Vec<u8>) -> Result<(), String> {
        with(|i| i.restore_write(&bytes))
    }

    fn restore_finish() -> Result<(), String> {
        with(|i| i.restore_finish())
    }
}

cairn_guest::bindings::v2::export_0_2!(Export with_types_in cairn_guest::bindings::v2);
