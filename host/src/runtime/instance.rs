//! One operator subtask's instance and the calls the host makes into it,
//! whichever contract version (0.1.0 or 0.2.0) its component targets.

use wasmtime::Store;

use super::bindings::{Batch, StateInfo, v1, v2};
use super::store::StoreData;
use super::{Limits, RuntimeError, World};
use crate::control::{PieceKind, Redistribution};
use crate::keys::{self, HashRange};

/// Most bytes of state moved per `snapshot-read` or `restore-write` call:
/// state crosses the boundary in bounded pieces, whatever its size.
pub const STATE_CHUNK: u32 = 8 << 20;

/// An operator's state as copied out of its instance: the chunks exactly as
/// they crossed the boundary (no copy into one buffer), in order.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Encoding name, as the operator declared it.
    pub format: String,
    /// State schema version, as the operator declared it.
    pub version: u32,
    /// The state bytes, in chunks of at most [`STATE_CHUNK`] bytes each.
    pub chunks: Vec<bytes::Bytes>,
    /// What the bytes hold, piece by piece, in order (a 0.2.0 snapshot);
    /// empty for 0.1.0, whose state is one piece the host cannot look into.
    pub parts: Vec<Part>,
    /// The key hashes the subtask owned (0.2.0).
    pub range: Option<HashRange>,
    /// A memory image copied out by the host (`state: memory`); then `chunks` is empty.
    pub image: Option<std::sync::Arc<super::image::Image>>,
}

/// One piece of a 0.2.0 snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// What it holds.
    pub kind: PieceKind,
    /// Its length, bytes.
    pub size: u64,
}

impl Snapshot {
    /// A 0.1.0 snapshot of `bytes` in one chunk (as read back from storage).
    pub fn from_bytes(format: String, version: u32, bytes: bytes::Bytes) -> Snapshot {
        Snapshot { format, version, chunks: vec![bytes], parts: Vec::new(), range: None, image: None }
    }

    /// Total bytes (of the memory image, for `state: memory`).
    pub fn len(&self) -> usize {
        match &self.image {
            Some(image) => image.len() as usize,
            None => self.chunks.iter().map(bytes::Bytes::len).sum(),
        }
    }

    /// Whether the state is empty (a stateless operator's).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All the bytes in one buffer (a copy; for tests and tools).
    pub fn to_vec(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

impl PartialEq for Snapshot {
    /// Equal format, version, parts and bytes, however they are split into chunks.
    fn eq(&self, other: &Snapshot) -> bool {
        self.format == other.format && self.version == other.version && self.parts == other.parts && self.to_vec() == other.to_vec()
    }
}

/// What a subtask is restored from: the pieces the host chose for it.
#[derive(Clone, Debug, Default)]
pub struct Restore {
    /// Encoding name, as the snapshot declared it.
    pub format: String,
    /// State schema version, as the snapshot declared it.
    pub version: u32,
    /// Parallelism the snapshot was taken at.
    pub from_parallelism: usize,
    /// The pieces, in order.
    pub pieces: Vec<RestorePiece>,
    /// A memory image (`state: memory`), and the digest of the component that
    /// took it; then `pieces` is empty.
    pub image: Option<(std::sync::Arc<super::image::Image>, String)>,
}

/// One piece handed to a restoring subtask.
#[derive(Clone, Debug)]
pub struct RestorePiece {
    /// What it holds; `None`: a 0.1.0 subtask's whole state.
    pub kind: Option<PieceKind>,
    /// The old subtask that wrote it.
    pub from_subtask: usize,
    /// Its bytes.
    pub bytes: bytes::Bytes,
}

impl Restore {
    /// Subtask `subtask` of `parallelism` restoring its own snapshot at the same parallelism.
    pub fn own(snapshot: &Snapshot, subtask: usize, parallelism: usize) -> Restore {
        let bytes = bytes::Bytes::from(snapshot.to_vec());
        let pieces = if snapshot.parts.is_empty() {
            vec![RestorePiece { kind: None, from_subtask: subtask, bytes }]
        } else {
            let mut at = 0usize;
            snapshot
                .parts
                .iter()
                .map(|p| {
                    let piece = RestorePiece { kind: Some(p.kind), from_subtask: subtask, bytes: bytes.slice(at..at + p.size as usize) };
                    at += p.size as usize;
                    piece
                })
                .collect()
        };
        Restore { format: snapshot.format.clone(), version: snapshot.version, from_parallelism: parallelism, pieces, image: None }
    }

    /// Restoring `snapshot`, a memory image taken by an instance of the component of digest `digest`.
    pub fn own_image(snapshot: &Snapshot, digest: &str) -> Restore {
        Restore {
            format: snapshot.format.clone(),
            version: snapshot.version,
            from_parallelism: 1,
            pieces: Vec::new(),
            image: snapshot.image.clone().map(|i| (i, digest.to_string())),
        }
    }

    /// Total bytes.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.bytes.len()).sum()
    }

    /// Whether there is nothing to restore.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

/// The generated bindings of an instance, by contract version.
pub(super) enum Bound {
    V1(v1::OperatorWorld),
    V2(v2::OperatorWorldV2),
}

/// A live instance of an operator component, owned by one subtask.
pub struct OperatorInstance {
    store: Store<StoreData>,
    world: Bound,
    limits: Limits,
    deadline: u64,
    /// Subtasks of the operator (set by `init`).
    parallelism: usize,
    /// The accessors of a `state: memory` operator, and its component's digest.
    image: Option<(super::image::Access, String)>,
    /// Host resources the instance held after `init` (a memory image can
    /// carry handles to those only: a fresh instance gets them from its own `init`).
    resources_after_init: usize,
}

impl OperatorInstance {
    /// `epochs`: whether the engine interrupts by epoch (else no deadline is armed).
    pub(super) fn new(store: Store<StoreData>, world: Bound, limits: Limits, epochs: bool, image: Option<(super::image::Access, String)>) -> Self {
        let deadline = if epochs { super::ticks(limits.call_timeout) } else { 0 };
        OperatorInstance { store, world, limits, deadline, parallelism: 1, image, resources_after_init: 0 }
    }

    /// The contract version the component targets.
    pub fn world(&self) -> World {
        match self.world {
            Bound::V1(_) => World::V0_1,
            Bound::V2(_) => World::V0_2,
        }
    }

    /// The key hashes this subtask owns (a 0.2.0 operator's keyed state).
    pub fn range(&self) -> HashRange {
        HashRange::of_subtask(self.subtask(), self.parallelism)
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
            _ if format!("{e:?}").contains("fuel allocated for hostcalls") => format!(
                "handed the host more than {} MiB in one call (limits.max-call-output; raise it, or give the operator smaller input batches)",
                self.limits.max_call_output as f64 / (1 << 20) as f64
            ),
            _ if format!("{e:?}").contains("growing memory") => {
                format!("tried to grow its memory beyond the limit of {} bytes (limits.memory): {}", self.limits.memory, describe_trap(&e))
            }
            _ => describe_trap(&e),
        };
        RuntimeError::Trap { operator: self.operator().into(), subtask: self.subtask(), call, message }
    }

    fn guest(&self, call: &'static str, message: String) -> RuntimeError {
        RuntimeError::Guest { operator: self.operator().into(), subtask: self.subtask(), call, message }
    }

    /// The host's own refusal (state that does not fit this instance), not a trap.
    fn refused(&self, message: String) -> RuntimeError {
        RuntimeError::Refused { operator: self.operator().into(), message }
    }

    fn broke_contract(&self, call: &'static str, message: String) -> RuntimeError {
        RuntimeError::Trap { operator: self.operator().into(), subtask: self.subtask(), call, message }
    }

    /// Calls `init` with the operator's config as JSON text, for an operator
    /// running alone (parallelism 1, one input): tools and benchmarks.
    pub fn init(&mut self, config_json: &str) -> Result<(), RuntimeError> {
        self.init_in(config_json, 1, &["input".to_string()])
    }

    /// Calls `init` with the operator's config as JSON text, as subtask
    /// [`subtask`](Self::subtask) of `parallelism`, fed by `inputs` (their ids,
    /// in the order of the operator's `input:` list; a 0.1.0 operator is not told).
    pub fn init_in(&mut self, config_json: &str, parallelism: usize, inputs: &[String]) -> Result<(), RuntimeError> {
        if self.subtask() >= parallelism {
            return Err(self.broke_contract("init", format!("subtask {} of parallelism {parallelism}", self.subtask())));
        }
        self.parallelism = parallelism;
        self.arm();
        let r = match &self.world {
            Bound::V1(w) => w.cairn_operator_operator().call_init(&mut self.store, config_json),
            Bound::V2(w) => {
                let range = self.range();
                let context = v2::types::Context {
                    operator: self.operator().to_string(),
                    subtask: self.subtask() as u32,
                    parallelism: parallelism as u32,
                    key_range: v2::types::KeyRange { first: range.first, last: range.last },
                    inputs: inputs.to_vec(),
                };
                w.cairn_operator0_2_0_operator().call_init(&mut self.store, config_json, &context)
            }
        };
        r.map_err(|e| self.trap("init", e))?.map_err(|m| self.guest("init", m))?;
        self.resources_after_init = self.store.data_mut().resources();
        Ok(())
    }

    /// Calls `process` with one batch that arrived on input 0.
    pub fn process(&mut self, batch: &Batch) -> Result<Batch, RuntimeError> {
        self.process_input(0, batch)
    }

    /// Calls `process` with one batch that arrived on input `input` (its index
    /// in the operator's `input:` list; a 0.1.0 operator is not told).
    pub fn process_input(&mut self, input: usize, batch: &Batch) -> Result<Batch, RuntimeError> {
        self.arm();
        let r = match &self.world {
            Bound::V1(w) => w.cairn_operator_operator().call_process(&mut self.store, batch),
            Bound::V2(w) => w.cairn_operator0_2_0_operator().call_process(&mut self.store, input as u32, batch),
        };
        let out = r.map_err(|e| self.trap("process", e))?.map_err(|m| self.guest("process", m))?;
        check_batch(&out).map_err(|m| self.broke_contract("process", m))?;
        Ok(out)
    }

    /// Calls `on-watermark`.
    pub fn on_watermark(&mut self, ts: i64) -> Result<Batch, RuntimeError> {
        self.arm();
        let r = match &self.world {
            Bound::V1(w) => w.cairn_operator_operator().call_on_watermark(&mut self.store, ts),
            Bound::V2(w) => w.cairn_operator0_2_0_operator().call_on_watermark(&mut self.store, ts),
        };
        let out = r.map_err(|e| self.trap("on-watermark", e))?.map_err(|m| self.guest("on-watermark", m))?;
        check_batch(&out).map_err(|m| self.broke_contract("on-watermark", m))?;
        Ok(out)
    }

    /// Copies the operator's state out through `snapshot` and `snapshot-read`;
    /// a 0.2.0 snapshot's pieces are checked against the hashes the subtask owns.
    pub fn snapshot(&mut self) -> Result<Snapshot, RuntimeError> {
        self.arm();
        if let Some((access, _)) = &self.image {
            let held = self.store.data_mut().resources();
            if held != self.resources_after_init {
                return Err(self.broke_contract(
                    "snapshot (memory image)",
                    format!(
                        "holds handles to {held} host resources (WASI streams, files, …) where it held {} after `init`: handles \
                         acquired after `init` live in host tables that a memory image cannot carry, so this state cannot be \
                         captured; acquire them in `init`, or write `snapshot`/`restore` exports and drop `state: memory`",
                        self.resources_after_init
                    ),
                ));
            }
            let image = access.copy_out(&mut self.store).map_err(|e| self.trap("snapshot (memory image)", e))?;
            return Ok(Snapshot {
                format: super::image::FORMAT.into(),
                version: super::image::VERSION,
                chunks: Vec::new(),
                parts: Vec::new(),
                range: None,
                image: Some(std::sync::Arc::new(image)),
            });
        }
        // A 0.1.0 snapshot is one piece the host cannot look into: no parts.
        let (format, version, parts, announced) = match &self.world {
            Bound::V1(w) => {
                let info = w.cairn_operator_operator().call_snapshot(&mut self.store);
                let info = info.map_err(|e| self.trap("snapshot", e))?.map_err(|m| self.guest("snapshot", m))?;
                (info.format, info.version, Vec::new(), Some(info.size))
            }
            Bound::V2(w) => {
                let info = w.cairn_operator0_2_0_operator().call_snapshot(&mut self.store);
                let info = info.map_err(|e| self.trap("snapshot", e))?.map_err(|m| self.guest("snapshot", m))?;
                let parts: Vec<Part> = info.pieces.iter().map(|p| Part { kind: from_wit(&p.kind), size: p.size }).collect();
                let total = parts.iter().try_fold(0u64, |a, p| a.checked_add(p.size));
                (info.format, info.version, parts, total)
            }
        };
        let announced = announced.ok_or_else(|| self.broke_contract("snapshot", "announced pieces whose sizes overflow".into()))?;
        if announced > self.limits.max_snapshot {
            return Err(self.broke_contract(
                "snapshot",
                format!("announced a state of {announced} bytes, over the limit of {} bytes (limits.max-snapshot)", self.limits.max_snapshot),
            ));
        }
        let range = match self.world {
            Bound::V1(_) => None,
            Bound::V2(_) => {
                let own = self.range();
                let keyed: Vec<HashRange> = parts
                    .iter()
                    .filter_map(|p| match p.kind {
                        PieceKind::Keyed(r) => Some(r),
                        PieceKind::Operator(_) => None,
                    })
                    .collect();
                keys::check_cover(&keyed, own)
                    .map_err(|m| self.broke_contract("snapshot", format!("returned keyed pieces that do not fit the hashes it owns ({own}): {m}")))?;
                Some(own)
            }
        };
        let size = usize::try_from(announced).map_err(|_| self.broke_contract("snapshot", "state too large".into()))?;
        let (mut chunks, mut total) = (Vec::new(), 0usize);
        loop {
            self.arm();
            let chunk = match &self.world {
                Bound::V1(w) => w.cairn_operator_operator().call_snapshot_read(&mut self.store, STATE_CHUNK),
                Bound::V2(w) => w.cairn_operator0_2_0_operator().call_snapshot_read(&mut self.store, STATE_CHUNK),
            };
            let chunk = chunk.map_err(|e| self.trap("snapshot-read", e))?;
            if chunk.is_empty() {
                break;
            }
            if chunk.len() > STATE_CHUNK as usize || total + chunk.len() > size {
                return Err(self.broke_contract("snapshot-read", format!("returned more bytes than asked for or than the {size} bytes `snapshot` announced")));
            }
            total += chunk.len();
            chunks.push(bytes::Bytes::from(chunk));
        }
        if total != size {
            return Err(self.broke_contract("snapshot-read", format!("returned {total} bytes but `snapshot` announced {size}")));
        }
        Ok(Snapshot { format, version, chunks, parts, range, image: None })
    }

    /// Restores state through `restore`, `restore-write` and `restore-finish`;
    /// a memory image is written by the host into this (initialised) instance,
    /// which must be of the identical component.
    pub fn restore(&mut self, restore: &Restore) -> Result<(), RuntimeError> {
        self.arm();
        match (&self.image, &restore.image) {
            (None, None) => {}
            (Some((access, digest)), Some((image, from))) => {
                if digest != from {
                    return Err(self.refused(format!(
                        "the state is a memory image taken by component sha256 {from}, and this component is sha256 {digest}: a memory image \
                             fits only the exact binary that took it. To upgrade the component, give the operator `snapshot`/`restore` \
                             exports (and drop `state: memory`), or start without this state (--allow-non-restored-state)"
                    )));
                }
                return access.write(&mut self.store, image).map_err(|e| match e {
                    super::image::WriteError::Call(e) => self.trap("restore (memory image)", e),
                    other => self.broke_contract("restore (memory image)", other.to_string()),
                });
            }
            (Some(_), None) => {
                return Err(self.refused(format!("the operator has `state: memory`, and the state was written by its `snapshot` export (format `{}`): drop `state: memory` to restore it, or start without it (--allow-non-restored-state)", restore.format),
                ));
            }
            (None, Some(_)) => {
                return Err(self.refused(
                    "the state is a memory image (the operator had `state: memory`): set `state: memory` again to restore it, or start without it (--allow-non-restored-state)".into(),
                ));
            }
        }
        let r = match &self.world {
            Bound::V1(w) => {
                let [RestorePiece { kind: None, .. }] = restore.pieces.as_slice() else {
                    return Err(self.broke_contract("restore", "a cairn:operator@0.1.0 component restores one whole 0.1.0 state only".into()));
                };
                let info = StateInfo { format: restore.format.clone(), version: restore.version, size: restore.len() as u64 };
                w.cairn_operator_operator().call_restore(&mut self.store, &info)
            }
            Bound::V2(w) => {
                let mut pieces = Vec::with_capacity(restore.pieces.len());
                for p in &restore.pieces {
                    let Some(kind) = p.kind else {
                        return Err(self
                            .broke_contract("restore", "state written by a cairn:operator@0.1.0 component cannot be restored into a 0.2.0 component".into()));
                    };
                    pieces.push(v2::types::RestorePiece { kind: to_wit(kind), size: p.bytes.len() as u64, from_subtask: p.from_subtask as u32 });
                }
                let info = v2::types::RestoreInfo {
                    format: restore.format.clone(),
                    version: restore.version,
                    from_parallelism: restore.from_parallelism as u32,
                    pieces,
                };
                w.cairn_operator0_2_0_operator().call_restore(&mut self.store, &info)
            }
        };
        r.map_err(|e| self.trap("restore", e))?.map_err(|m| self.guest("restore", m))?;
        for chunk in restore.pieces.iter().flat_map(|p| p.bytes.chunks(STATE_CHUNK as usize)) {
            self.arm();
            let r = match &self.world {
                Bound::V1(w) => w.cairn_operator_operator().call_restore_write(&mut self.store, chunk),
                Bound::V2(w) => w.cairn_operator0_2_0_operator().call_restore_write(&mut self.store, chunk),
            };
            r.map_err(|e| self.trap("restore-write", e))?.map_err(|m| self.guest("restore-write", m))?;
        }
        self.arm();
        let r = match &self.world {
            Bound::V1(w) => w.cairn_operator_operator().call_restore_finish(&mut self.store),
            Bound::V2(w) => w.cairn_operator0_2_0_operator().call_restore_finish(&mut self.store),
        };
        r.map_err(|e| self.trap("restore-finish", e))?.map_err(|m| self.guest("restore-finish", m))
    }
}

fn from_wit(kind: &v2::types::PieceKind) -> PieceKind {
    use v2::types::{PieceKind as K, Redistribution as R};
    match kind {
        K::Keyed(r) => PieceKind::Keyed(HashRange { first: r.first, last: r.last }),
        K::Operator(R::Union) => PieceKind::Operator(Redistribution::Union),
        K::Operator(R::FirstSubtask) => PieceKind::Operator(Redistribution::FirstSubtask),
    }
}

fn to_wit(kind: PieceKind) -> v2::types::PieceKind {
    use v2::types::{KeyRange, PieceKind as K, Redistribution as R};
    match kind {
        PieceKind::Keyed(r) => K::Keyed(KeyRange { first: r.first, last: r.last }),
        PieceKind::Operator(Redistribution::Union) => K::Operator(R::Union),
        PieceKind::Operator(Redistribution::FirstSubtask) => K::Operator(R::FirstSubtask),
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
        return Err(format!("returned a malformed batch: {n} timestamps, {} key ends, {} value ends", b.key_ends.len(), b.value_ends.len()));
    }
    // One pass with no early exit over two slices, which vectorises (a batch is
    // well formed nearly always, so stopping early saves nothing).
    let monotonic = |ends: &[u32], len: usize| {
        let rising = ends.iter().zip(ends.get(1..).unwrap_or_default()).fold(true, |ok, (a, b)| ok & (a <= b));
        rising && ends.last().is_none_or(|&e| e as usize == len)
    };
    if !monotonic(&b.key_ends, b.keys.len()) || !monotonic(&b.value_ends, b.values.len()) {
        return Err("returned a malformed batch: offsets decrease or do not end at the data's length".into());
    }
    if b.keyless.windows(2).any(|w| w[0] >= w[1]) || b.keyless.last().is_some_and(|&i| i as usize >= n) {
        return Err("returned a malformed batch: `keyless` indices out of order or out of range".into());
    }
    Ok(())
}

/// The trap in one line with where it happened, e.g. "wasm trap: integer
/// divide by zero, at faulty::fail ← faulty::process ← …" (function names when
/// the component keeps them, else `wasm function N` of its core module), and a
/// stack overflow named as such: a guest whose stack in linear memory runs out
/// traps as an out-of-bounds access, which is told apart by a backtrace that
/// is one function recursing.
fn describe_trap(e: &wasmtime::Error) -> String {
    let trap = e.downcast_ref::<wasmtime::Trap>();
    let what = match trap {
        Some(t) => t.to_string(),
        None => format!("{e:#}").lines().next().unwrap_or_default().to_string(),
    };
    let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return what;
    };
    let frames = bt.frames();
    let name = |f: &wasmtime::FrameInfo| match f.func_name() {
        Some(n) => n.to_string(),
        None => format!("wasm function {}{}", f.func_index(), f.module().name().map(|m| format!(" of {m}")).unwrap_or_default()),
    };
    let mut counts = std::collections::HashMap::<u32, usize>::new();
    frames.iter().for_each(|f| *counts.entry(f.func_index()).or_default() += 1);
    let (top, top_count) = counts.into_iter().max_by_key(|&(_, n)| n).unwrap_or_default();
    let recursing = frames.len() >= RECURSION_FRAMES && top_count * 4 >= frames.len() * 3;
    if matches!(trap, Some(wasmtime::Trap::StackOverflow)) || (recursing && matches!(trap, Some(wasmtime::Trap::MemoryOutOfBounds))) {
        let top = frames.iter().find(|f| f.func_index() == top).map(name).unwrap_or_default();
        return format!(
            "stack overflow: the guest ran out of stack in a deep or endless recursion of {top} ({what}; a stack in linear memory that runs out reads as an out-of-bounds access)"
        );
    }
    if frames.is_empty() {
        return what;
    }
    let shown: Vec<String> = frames.iter().take(6).map(name).collect();
    let more = if frames.len() > shown.len() { format!(" ← … ({} frames)", frames.len()) } else { String::new() };
    let hint =
        if frames.iter().all(|f| f.func_name().is_none()) { " (the component has no function names: build it with a name section to see them)" } else { "" };
    format!("{what}, at {}{more}{hint}", shown.join(" ← "))
}

/// A backtrace this deep (wasmtime keeps 20 frames), three quarters of it one
/// function, that ends out of bounds is a stack overflow.
const RECURSION_FRAMES: usize = 16;
