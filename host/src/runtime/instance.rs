//! One operator subtask's instance and the calls the host makes into it.

use wasmtime::Store;

use super::bindings::{Batch, OperatorWorld, StateInfo};
use super::store::StoreData;
use super::{Limits, RuntimeError};

/// Most bytes of state moved per `snapshot-read` or `restore-write` call:
/// state crosses the boundary in bounded pieces, whatever its size.
pub const STATE_CHUNK: u32 = 8 << 20;

/// An operator's state as copied out of its instance: the pieces exactly as
/// they crossed the boundary (no copy into one buffer), in order.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Encoding name, as the operator declared it.
    pub format: String,
    /// State schema version, as the operator declared it.
    pub version: u32,
    /// The state bytes, in pieces of at most [`STATE_CHUNK`] bytes each.
    pub pieces: Vec<bytes::Bytes>,
}

impl Snapshot {
    /// A snapshot of `bytes` in one piece (as read back from storage).
    pub fn from_bytes(format: String, version: u32, bytes: bytes::Bytes) -> Snapshot {
        Snapshot { format, version, pieces: vec![bytes] }
    }

    /// Total bytes.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(bytes::Bytes::len).sum()
    }

    /// Whether the state is empty (a stateless operator's).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All the bytes in one buffer (a copy; for tests and tools).
    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces.concat()
    }
}

impl PartialEq for Snapshot {
    /// Equal format, version and bytes, however they are split into pieces.
    fn eq(&self, other: &Snapshot) -> bool {
        self.format == other.format && self.version == other.version && self.to_vec() == other.to_vec()
    }
}

/// A live instance of an operator component, owned by one subtask.
pub struct OperatorInstance {
    store: Store<StoreData>,
    world: OperatorWorld,
    limits: Limits,
    deadline: u64,
}

impl OperatorInstance {
    /// `epochs`: whether the engine interrupts by epoch (else no deadline is armed).
    pub(super) fn new(store: Store<StoreData>, world: OperatorWorld, limits: Limits, epochs: bool) -> Self {
        let deadline = if epochs { super::ticks(limits.call_timeout) } else { 0 };
        OperatorInstance { store, world, limits, deadline }
    }

    /// Arms the call timeout (and the fuel, if any) for the next call.
    #[inline]
    fn arm(&mut self) {
        arm(&mut self.store, self.deadline, self.limits.fuel);
    }

    /// Operator id.
    pub fn operator(&self) -> &str {
        &self.store.data().tag.operator
    }

    /// Subtask index.
    pub fn subtask(&self) -> usize {
        self.store.data().tag.subtask
    }

    fn trap(&self, call: &'static str, e: wasmtime::Error) -> RuntimeError {
        let message = match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => {
                format!("ran out of fuel ({} per call, limits.fuel)", self.limits.fuel.unwrap_or_default())
            }
            Some(wasmtime::Trap::Interrupt) => {
                format!("ran longer than its call timeout of {:?} (limits.call-timeout)", self.limits.call_timeout.unwrap_or_default())
            }
            _ if format!("{e:?}").contains("growing memory") => format!(
                "tried to grow its memory beyond the limit of {} bytes (limits.memory): {}",
                self.limits.memory,
                describe_trap(&e)
            ),
            _ => describe_trap(&e),
        };
        RuntimeError::Trap { operator: self.operator().into(), subtask: self.subtask(), call, message }
    }

    fn guest(&self, call: &'static str, message: String) -> RuntimeError {
        RuntimeError::Guest { operator: self.operator().into(), subtask: self.subtask(), call, message }
    }

    fn broke_contract(&self, call: &'static str, message: String) -> RuntimeError {
        RuntimeError::Trap { operator: self.operator().into(), subtask: self.subtask(), call, message }
    }

    /// Calls `init` with the operator's config as JSON text.
    pub fn init(&mut self, config_json: &str) -> Result<(), RuntimeError> {
        self.arm();
        let r = self.world.cairn_operator_operator().call_init(&mut self.store, config_json);
        r.map_err(|e| self.trap("init", e))?.map_err(|m| self.guest("init", m))
    }

    /// Calls `process` with one batch.
    pub fn process(&mut self, input: &Batch) -> Result<Batch, RuntimeError> {
        self.arm();
        let r = self.world.cairn_operator_operator().call_process(&mut self.store, input);
        let out = r.map_err(|e| self.trap("process", e))?.map_err(|m| self.guest("process", m))?;
        check_batch(&out).map_err(|m| self.broke_contract("process", m))?;
        Ok(out)
    }

    /// Calls `on-watermark`.
    pub fn on_watermark(&mut self, ts: i64) -> Result<Batch, RuntimeError> {
        self.arm();
        let r = self.world.cairn_operator_operator().call_on_watermark(&mut self.store, ts);
        let out = r.map_err(|e| self.trap("on-watermark", e))?.map_err(|m| self.guest("on-watermark", m))?;
        check_batch(&out).map_err(|m| self.broke_contract("on-watermark", m))?;
        Ok(out)
    }

    /// Copies the operator's state out through `snapshot` and `snapshot-read`.
    pub fn snapshot(&mut self) -> Result<Snapshot, RuntimeError> {
        let ops = self.world.cairn_operator_operator();
        arm(&mut self.store, self.deadline, self.limits.fuel);
        let info = ops.call_snapshot(&mut self.store);
        let info = info.map_err(|e| self.trap("snapshot", e))?.map_err(|m| self.guest("snapshot", m))?;
        if info.size > self.limits.max_snapshot {
            return Err(self.broke_contract(
                "snapshot",
                format!("announced a state of {} bytes, over the limit of {} bytes (limits.max-snapshot)", info.size, self.limits.max_snapshot),
            ));
        }
        let size = usize::try_from(info.size).map_err(|_| self.broke_contract("snapshot", "state too large".into()))?;
        let (mut pieces, mut total) = (Vec::new(), 0usize);
        loop {
            arm(&mut self.store, self.deadline, self.limits.fuel);
            let chunk = ops.call_snapshot_read(&mut self.store, STATE_CHUNK).map_err(|e| self.trap("snapshot-read", e))?;
            if chunk.is_empty() {
                break;
            }
            if chunk.len() > STATE_CHUNK as usize || total + chunk.len() > size {
                return Err(self.broke_contract(
                    "snapshot-read",
                    format!("returned more bytes than asked for or than the {size} bytes `snapshot` announced"),
                ));
            }
            total += chunk.len();
            pieces.push(bytes::Bytes::from(chunk));
        }
        if total != size {
            return Err(self.broke_contract("snapshot-read", format!("returned {total} bytes but `snapshot` announced {size}")));
        }
        Ok(Snapshot { format: info.format, version: info.version, pieces })
    }

    /// Restores state through `restore`, `restore-write` and `restore-finish`.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<(), RuntimeError> {
        let ops = self.world.cairn_operator_operator();
        let info = StateInfo {
            format: snapshot.format.clone(),
            version: snapshot.version,
            size: snapshot.len() as u64,
        };
        arm(&mut self.store, self.deadline, self.limits.fuel);
        let r = ops.call_restore(&mut self.store, &info);
        r.map_err(|e| self.trap("restore", e))?.map_err(|m| self.guest("restore", m))?;
        for chunk in snapshot.pieces.iter().flat_map(|p| p.chunks(STATE_CHUNK as usize)) {
            arm(&mut self.store, self.deadline, self.limits.fuel);
            let r = ops.call_restore_write(&mut self.store, chunk);
            r.map_err(|e| self.trap("restore-write", e))?.map_err(|m| self.guest("restore-write", m))?;
        }
        arm(&mut self.store, self.deadline, self.limits.fuel);
        let r = ops.call_restore_finish(&mut self.store);
        r.map_err(|e| self.trap("restore-finish", e))?.map_err(|m| self.guest("restore-finish", m))
    }
}

/// Sets the epoch deadline (0: no epochs) (and the fuel, when fuel is on) for the next call.
#[inline]
fn arm(store: &mut Store<StoreData>, deadline: u64, fuel: Option<u64>) {
    if deadline != 0 {
        store.set_epoch_deadline(deadline);
    }
    if let Some(f) = fuel {
        let _ = store.set_fuel(f);
    }
}

/// Checks that a batch returned by a guest is well formed, so a buggy operator
/// fails its own task instead of corrupting the ones downstream.
pub fn check_batch(b: &Batch) -> Result<(), String> {
    let n = b.timestamps.len();
    if b.key_ends.len() != n || b.value_ends.len() != n {
        return Err(format!(
            "returned a malformed batch: {n} timestamps, {} key ends, {} value ends",
            b.key_ends.len(),
            b.value_ends.len()
        ));
    }
    let monotonic = |ends: &[u32], len: usize| ends.windows(2).all(|w| w[0] <= w[1]) && ends.last().is_none_or(|&e| e as usize == len);
    if !monotonic(&b.key_ends, b.keys.len()) || !monotonic(&b.value_ends, b.values.len()) {
        return Err("returned a malformed batch: offsets decrease or do not end at the data's length".into());
    }
    if b.keyless.windows(2).any(|w| w[0] >= w[1]) || b.keyless.last().is_some_and(|&i| i as usize >= n) {
        return Err("returned a malformed batch: `keyless` indices out of order or out of range".into());
    }
    Ok(())
}

/// The trap and its root cause in one line, e.g. "wasm trap: integer divide by zero".
fn describe_trap(e: &wasmtime::Error) -> String {
    let text = format!("{e:?}");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or_default().to_string();
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) if !first.contains(&trap.to_string()) => format!("{trap}; {first}"),
        _ => text.lines().take(12).collect::<Vec<_>>().join("\n"),
    }
}
