//! The export glue as plain Rust: [`Instance`] implements every function of
//! the `operator` interface on top of an [`Operator`].
//!
//! [`export_operator!`](crate::export_operator) keeps one `Instance` in a
//! thread-local and forwards the component's exports to it. An `Instance` is
//! also the way to test an operator natively (`cargo test`), with no wasm
//! runtime: feed it config, batches and watermarks, snapshot and restore it.

use crate::context::{self, Context};
use crate::error::message;
use crate::pieces::{self, Range};
use crate::snapshot::{self, RestoreWriter, SnapshotReader};
use crate::v2::{KeyRange, Piece, PieceKind, Redistribution, RestoreInfo, SnapshotInfo};
use crate::{Batch, Events, Operator, Output, StateInfo};

/// An operator and its state, plus the snapshot and restore in progress.
pub struct Instance<O: Operator> {
    live: Option<Live<O>>,
    snapshot: SnapshotReader,
    restore: Option<RestoreWriter>,
    /// The pieces of a 0.2.0 restore in progress.
    restore_pieces: Option<RestoreInfo>,
    /// The key hashes this subtask owns.
    range: Range,
}

struct Live<O: Operator> {
    op: O,
    state: O::State,
}

/// Error of every call made before `init` succeeded.
pub const NOT_INITIALISED: &str = "operator not initialised";

impl<O: Operator> Default for Instance<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: Operator> Instance<O> {
    /// An instance whose operator is not initialised yet.
    pub const fn new() -> Self {
        Instance { live: None, snapshot: SnapshotReader::empty(), restore: None, restore_pieces: None, range: (0, u64::MAX) }
    }

    fn live(&mut self) -> Result<&mut Live<O>, String> {
        if self.restore.is_some() {
            return Err("restore in progress: restore-finish was not called".into());
        }
        self.live.as_mut().ok_or_else(|| NOT_INITIALISED.to_string())
    }

    /// `init` of an operator running alone ([`Context::alone`]): parses
    /// `config` (JSON; empty text counts as `null`) into `O::Config` and
    /// builds the operator with default state. Fails if called twice.
    pub fn init(&mut self, config: &str) -> Result<(), String> {
        self.init_with(config, Context::alone())
    }

    /// `init` (0.2.0) as the subtask `context` describes.
    pub fn init_with(&mut self, config: &str, context: Context) -> Result<(), String> {
        self.range = context.key_range;
        context::set(context);
        if self.live.is_some() {
            return Err("init called twice".into());
        }
        let text = if config.trim().is_empty() { "null" } else { config };
        let config: O::Config = serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
        let op = O::init(config).map_err(|e| message(&*e))?;
        self.live = Some(Live { op, state: O::State::default() });
        Ok(())
    }

    /// `process`: runs the operator over `input` (from input 0) and returns what it emitted.
    pub fn process(&mut self, input: &Batch) -> Result<Batch, String> {
        self.process_input(0, input)
    }

    /// `process` (0.2.0): runs the operator over `batch`, which arrived on
    /// input `input`, and returns what it emitted.
    pub fn process_input(&mut self, input: u32, batch: &Batch) -> Result<Batch, String> {
        let live = self.live()?;
        let events = Events::new(batch)?.on_input(input as usize);
        let mut out = Output::new();
        live.op.process(&mut live.state, events, &mut out).map_err(|e| message(&*e))?;
        Ok(out.into_batch())
    }

    /// `on-watermark`: tells the operator that event time passed `ts` and
    /// returns what it emitted.
    pub fn on_watermark(&mut self, ts: i64) -> Result<Batch, String> {
        let live = self.live()?;
        let mut out = Output::new();
        live.op.on_watermark(&mut live.state, ts, &mut out).map_err(|e| message(&*e))?;
        Ok(out.into_batch())
    }

    /// `snapshot`: encodes the state into the snapshot buffer (dropping any
    /// unread previous snapshot) and describes it.
    pub fn snapshot(&mut self) -> Result<StateInfo, String> {
        // Drop the unread previous snapshot first: its memory is reused.
        self.snapshot = SnapshotReader::empty();
        let live = self.live()?;
        let pieces = snapshot::encode_state_in_pieces(&live.state)?;
        let size = pieces.iter().map(Vec::len).sum::<usize>() as u64;
        self.snapshot = SnapshotReader::from_pieces(pieces);
        Ok(StateInfo { format: snapshot::FORMAT.into(), version: O::STATE_VERSION, size })
    }

    /// `snapshot-read`: the next at most `max_len` bytes of the last
    /// snapshot, empty once all were read.
    pub fn snapshot_read(&mut self, max_len: u32) -> Vec<u8> {
        self.snapshot.read(max_len as usize)
    }

    /// `restore`: starts restoring state described by `info` (after `init`).
    /// Fails if the format is not postcard. A restore already in progress is
    /// abandoned.
    pub fn restore(&mut self, info: &StateInfo) -> Result<(), String> {
        self.restore = None;
        self.restore_pieces = None;
        self.live()?;
        self.restore = Some(RestoreWriter::begin(info)?);
        Ok(())
    }

    /// `restore-write`: appends the next chunk of the state being restored.
    /// An error abandons the restore.
    pub fn restore_write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let writer = self.restore.as_mut().ok_or("restore-write called without restore")?;
        writer.write(bytes).inspect_err(|_| self.restore = None)
    }

    /// `restore-finish`: decodes the restored bytes (through
    /// [`Operator::migrate`] when their version is not
    /// [`Operator::STATE_VERSION`]) and installs them as the state. On error
    /// the state is left as it was.
    pub fn restore_finish(&mut self) -> Result<(), String> {
        let writer = self.restore.take().ok_or("restore-finish called without restore")?;
        let pieces = self.restore_pieces.take();
        self.live()?;
        let (version, bytes) = writer.finish()?;
        if let Some(info) = pieces {
            return self.finish_pieces(info, version, &bytes);
        }
        let live = self.live()?;
        live.state = if version == O::STATE_VERSION {
            snapshot::decode_state(&bytes).map_err(|e| format!("state version {version}: {e}"))?
        } else {
            O::migrate(version, &bytes).map_err(|e| message(&*e))?
        };
        Ok(())
    }

    /// `snapshot` (0.2.0): splits the state into an operator piece and keyed
    /// pieces by key hash ([`crate::pieces`]) in the snapshot buffer, and
    /// describes them.
    pub fn snapshot_pieces(&mut self) -> Result<SnapshotInfo, String> {
        self.snapshot = SnapshotReader::empty();
        let range = self.range;
        let live = self.live()?;
        let split = pieces::split(&live.state, range)?;
        let mut list = vec![Piece { kind: PieceKind::Operator(Redistribution::Union), size: split.operator.len() as u64 }];
        let mut bytes = vec![split.operator];
        for ((first, last), b) in split.keyed {
            list.push(Piece { kind: PieceKind::Keyed(KeyRange { first, last }), size: b.len() as u64 });
            bytes.push(b);
        }
        self.snapshot = SnapshotReader::from_pieces(bytes);
        Ok(SnapshotInfo { format: snapshot::FORMAT.into(), version: O::STATE_VERSION, pieces: list })
    }

    /// `restore` (0.2.0): starts restoring the pieces `info` lists.
    pub fn restore_pieces(&mut self, info: &RestoreInfo) -> Result<(), String> {
        self.restore = None;
        self.restore_pieces = None;
        self.live()?;
        let size = info.pieces.iter().map(|p| p.size).sum();
        let whole = StateInfo { format: info.format.clone(), version: info.version, size };
        self.restore = Some(RestoreWriter::begin(&whole)?);
        self.restore_pieces = Some(info.clone());
        Ok(())
    }

    fn finish_pieces(&mut self, info: RestoreInfo, version: u32, bytes: &[u8]) -> Result<(), String> {
        let range = self.range;
        let mut operator: Vec<(u32, &[u8])> = Vec::new();
        let mut keyed: Vec<(Range, &[u8])> = Vec::new();
        let mut at = 0usize;
        for p in &info.pieces {
            let b = &bytes[at..at + p.size as usize];
            at += p.size as usize;
            match p.kind {
                PieceKind::Operator(_) => operator.push((p.from_subtask, b)),
                PieceKind::Keyed(r) => keyed.push(((r.first, r.last), b)),
            }
        }
        operator.sort_by_key(|(s, _)| *s);
        let operator: Vec<&[u8]> = operator.into_iter().map(|(_, b)| b).collect();
        let decode = |b: &[u8]| -> Result<O::State, String> {
            if version == O::STATE_VERSION {
                snapshot::decode_state(b).map_err(|e| format!("state version {version}: {e}"))
            } else {
                O::migrate(version, b).map_err(|e| message(&*e))
            }
        };
        let state = pieces::merge(&operator, &keyed, range, decode, O::merge_operator_state)?;
        self.live()?.state = state;
        Ok(())
    }

    /// The operator's current state, once initialised (for tests).
    pub fn state(&self) -> Option<&O::State> {
        self.live.as_ref().map(|l| &l.state)
    }

    /// The operator itself, once initialised (for tests).
    pub fn operator(&self) -> Option<&O> {
        self.live.as_ref().map(|l| &l.op)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::KeyedState;

    /// Sums values (one byte each) per key; config picks a multiplier.
    struct Summer {
        factor: u64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SummerConfig {
        factor: u64,
    }

    impl Operator for Summer {
        type Config = Option<SummerConfig>;
        type State = KeyedState<u64>;
        const STATE_VERSION: u32 = 2;

        fn init(config: Self::Config) -> Result<Self, crate::Error> {
            let factor = config.map_or(1, |c| c.factor);
            if factor == 0 {
                return Err("factor must not be 0".into());
            }
            Ok(Summer { factor })
        }

        fn process(&mut self, state: &mut Self::State, input: Events<'_>, out: &mut Output) -> Result<(), crate::Error> {
            for e in input {
                let v = e.value.first().copied().ok_or("empty value")? as u64;
                *state.get_or_default(e.key.unwrap_or_default()) += v * self.factor;
            }
            out.emit(None, b"done", 0);
            Ok(())
        }

        fn on_watermark(&mut self, state: &mut Self::State, ts: i64, out: &mut Output) -> Result<(), crate::Error> {
            for (k, v) in state.iter() {
                out.emit(Some(k), v.to_string().as_bytes(), ts);
            }
            Ok(())
        }

        fn migrate(from_version: u32, bytes: &[u8]) -> Result<Self::State, crate::Error> {
            match from_version {
                // Version 1 kept u32 counts.
                1 => Ok(snapshot::decode_state::<KeyedState<u32>>(bytes)?.iter().map(|(k, v)| (k, u64::from(*v))).collect()),
                v => Err(format!("unknown version {v}").into()),
            }
        }
    }

    /// No config, no state, default migrate.
    struct Nothing;

    impl Operator for Nothing {
        type Config = ();
        type State = ();

        fn init((): ()) -> Result<Self, crate::Error> {
            Ok(Nothing)
        }

        fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), crate::Error> {
            input.for_each(|e| out.emit_event(&e));
            Ok(())
        }
    }

    /// A [`MemoryOperator`](crate::MemoryOperator): its state in `self`, an
    /// error from `?` on a standard error.
    struct Last {
        last: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    }

    impl crate::MemoryOperator for Last {
        type Config = ();

        fn init((): ()) -> Result<Self, crate::Error> {
            Ok(Last { last: Default::default() })
        }

        fn process(&mut self, input: Events<'_>, out: &mut Output) -> Result<(), crate::Error> {
            for e in input {
                let number: u32 = std::str::from_utf8(e.value)?.parse()?;
                let key = e.key.unwrap_or_default().to_vec();
                if let Some(previous) = self.last.insert(key, e.value.to_vec()) {
                    out.emit(e.key, &previous, i64::from(number));
                }
            }
            Ok(())
        }
    }

    #[test]
    fn a_memory_operator_keeps_its_state_in_itself_and_its_errors_reach_the_host() {
        let mut inst = Instance::<crate::InMemory<Last>>::new();
        inst.init("null").unwrap();
        assert!(events(&inst.process(&batch(&[(Some(b"a"), b"1", 1), (Some(b"b"), b"2", 2)])).unwrap()).is_empty());
        let out = inst.process(&batch(&[(Some(b"a"), b"3", 3)])).unwrap();
        assert_eq!(events(&out), vec![(Some(b"a".to_vec()), b"1".to_vec(), 3)]);
        assert_eq!(inst.operator().unwrap().get().last.len(), 2);
        let err = inst.process(&batch(&[(Some(b"a"), b"x", 4)])).unwrap_err();
        assert_eq!(err, "invalid digit found in string");
        let err = inst.process(&batch(&[(Some(b"a"), &[0xff], 4)])).unwrap_err();
        assert!(err.contains("invalid utf-8"), "{err}");
    }

    /// An event to put in a batch: key, value, timestamp.
    type Ev<'a> = (Option<&'a [u8]>, &'a [u8], i64);

    fn batch(events: &[Ev<'_>]) -> Batch {
        let mut out = Output::new();
        for &(k, v, t) in events {
            out.emit(k, v, t);
        }
        out.into_batch()
    }

    fn events(b: &Batch) -> Vec<(Option<Vec<u8>>, Vec<u8>, i64)> {
        Events::new(b).unwrap().map(|e| (e.key.map(<[u8]>::to_vec), e.value.to_vec(), e.timestamp)).collect()
    }

    fn take_snapshot<O: Operator>(inst: &mut Instance<O>, chunk: u32) -> (StateInfo, Vec<u8>) {
        let info = inst.snapshot().unwrap();
        let mut bytes = Vec::new();
        loop {
            let piece = inst.snapshot_read(chunk);
            if piece.is_empty() {
                break;
            }
            assert!(piece.len() <= chunk as usize);
            bytes.extend_from_slice(&piece);
        }
        assert_eq!(bytes.len() as u64, info.size);
        (info, bytes)
    }

    fn restore<O: Operator>(inst: &mut Instance<O>, info: &StateInfo, bytes: &[u8]) -> Result<(), String> {
        inst.restore(info)?;
        for chunk in bytes.chunks(3) {
            inst.restore_write(chunk)?;
        }
        inst.restore_finish()
    }

    #[test]
    fn calls_before_init_fail() {
        let mut inst = Instance::<Summer>::new();
        assert_eq!(inst.process(&batch(&[])).unwrap_err(), NOT_INITIALISED);
        assert_eq!(inst.on_watermark(0).unwrap_err(), NOT_INITIALISED);
        assert_eq!(inst.snapshot().unwrap_err(), NOT_INITIALISED);
        let info = StateInfo { format: "postcard".into(), version: 2, size: 0 };
        assert_eq!(inst.restore(&info).unwrap_err(), NOT_INITIALISED);
        assert!(inst.snapshot_read(10).is_empty());
        assert!(inst.state().is_none());
    }

    #[test]
    fn config_handling() {
        let mut inst = Instance::<Summer>::new();
        let err = inst.init(r#"{"factor": "x"}"#).unwrap_err();
        assert!(err.starts_with("invalid config: invalid type: string"), "{err}");
        let err = inst.init(r#"{"factr": 2}"#).unwrap_err();
        assert!(err.contains("unknown field `factr`"), "{err}");
        assert_eq!(inst.init(r#"{"factor": 0}"#).unwrap_err(), "factor must not be 0");
        inst.init("null").unwrap();
        assert_eq!(inst.init("null").unwrap_err(), "init called twice");
        assert_eq!(inst.operator().unwrap().factor, 1);

        let mut inst = Instance::<Summer>::new();
        inst.init(r#"{"factor": 3}"#).unwrap();
        assert_eq!(inst.operator().unwrap().factor, 3);

        // `()` config: null or absent is fine, anything else is not.
        Instance::<Nothing>::new().init("null").unwrap();
        Instance::<Nothing>::new().init("").unwrap();
        let err = Instance::<Nothing>::new().init("{}").unwrap_err();
        assert!(err.starts_with("invalid config:"), "{err}");
    }

    #[test]
    fn process_and_watermark() {
        let mut inst = Instance::<Summer>::new();
        inst.init(r#"{"factor": 2}"#).unwrap();
        let out = inst.process(&batch(&[(Some(b"a"), &[1], 1), (None, &[5], 2), (Some(b"a"), &[3], 3)])).unwrap();
        assert_eq!(events(&out), vec![(None, b"done".to_vec(), 0)]);
        assert_eq!(inst.process(&batch(&[(Some(b"b"), &[], 1)])).unwrap_err(), "empty value");
        let out = inst.on_watermark(9).unwrap();
        assert_eq!(events(&out), vec![(Some(vec![]), b"10".to_vec(), 9), (Some(b"a".to_vec()), b"8".to_vec(), 9)]);

        let mut bad = batch(&[(None, b"x", 1)]);
        bad.keyless = vec![3];
        assert!(inst.process(&bad).unwrap_err().starts_with("malformed batch"));

        let mut nothing = Instance::<Nothing>::new();
        nothing.init("null").unwrap();
        let input = [(Some(&b"k"[..]), &b"v"[..], 4), (None, b"w", 5)];
        let out = nothing.process(&batch(&input)).unwrap();
        assert_eq!(events(&out), events(&batch(&input)));
        assert!(events(&nothing.on_watermark(7).unwrap()).is_empty());
    }

    #[test]
    fn snapshot_restore_cycle() {
        let mut a = Instance::<Summer>::new();
        a.init("null").unwrap();
        a.process(&batch(&[(Some(b"x"), &[4], 1), (Some(b"y"), &[2], 1)])).unwrap();
        let (info, bytes) = take_snapshot(&mut a, 2);
        assert_eq!((info.format.as_str(), info.version), ("postcard", 2));

        let mut b = Instance::<Summer>::new();
        b.init("null").unwrap();
        restore(&mut b, &info, &bytes).unwrap();
        assert_eq!(b.state(), a.state());
        // A fresh snapshot of the restored state is identical.
        assert_eq!(take_snapshot(&mut b, 1000).1, bytes);

        // Unit state snapshots to nothing and restores from nothing.
        let mut n = Instance::<Nothing>::new();
        n.init("null").unwrap();
        let (info, bytes) = take_snapshot(&mut n, 8);
        assert_eq!((info.size, info.version), (0, 1));
        restore(&mut n, &info, &bytes).unwrap();
    }

    #[test]
    fn restore_errors() {
        let mut a = Instance::<Summer>::new();
        a.init("null").unwrap();
        a.process(&batch(&[(Some(b"x"), &[4], 1)])).unwrap();
        let (info, bytes) = take_snapshot(&mut a, 64);

        let mut b = Instance::<Summer>::new();
        b.init("null").unwrap();
        let json = StateInfo { format: "json".into(), ..info.clone() };
        let err = b.restore(&json).unwrap_err();
        assert!(err.contains("\"json\""), "{err}");

        assert!(b.restore_write(b"x").unwrap_err().contains("without restore"));
        assert!(b.restore_finish().unwrap_err().contains("without restore"));

        // Too many bytes: the restore is abandoned.
        b.restore(&info).unwrap();
        assert!(b.process(&batch(&[])).unwrap_err().contains("restore in progress"));
        let mut too_long = bytes.clone();
        too_long.push(0);
        assert!(b.restore_write(&too_long).is_err());
        assert!(b.restore_finish().unwrap_err().contains("without restore"));

        // Too few bytes.
        b.restore(&info).unwrap();
        b.restore_write(&bytes[..bytes.len() - 1]).unwrap();
        assert!(b.restore_finish().unwrap_err().contains("restore-finish"));

        // Garbage of the right length: state left as it was.
        b.process(&batch(&[(Some(b"q"), &[1], 1)])).unwrap();
        let garbage = vec![0xff; bytes.len()];
        let err = restore(&mut b, &info, &garbage).unwrap_err();
        assert!(err.starts_with("state version 2: cannot decode state"), "{err}");
        assert_eq!(b.state().unwrap().get(b"q"), Some(&1));

        // A version without migration.
        let mut n = Instance::<Nothing>::new();
        n.init("null").unwrap();
        let v9 = StateInfo { format: "postcard".into(), version: 9, size: 0 };
        let err = restore(&mut n, &v9, &[]).unwrap_err();
        assert!(err.contains("version 9") && err.contains("version 1"), "{err}");
    }

    #[test]
    fn restore_migrates_old_versions() {
        let old: KeyedState<u32> = [("a", 7u32), ("b", 8)].into_iter().collect();
        let bytes = snapshot::encode_state(&old).unwrap();
        let info = StateInfo { format: "postcard".into(), version: 1, size: bytes.len() as u64 };
        let mut inst = Instance::<Summer>::new();
        inst.init("null").unwrap();
        restore(&mut inst, &info, &bytes).unwrap();
        assert_eq!(inst.state().unwrap().get(b"b"), Some(&8u64));
        let err = restore(&mut inst, &StateInfo { version: 5, ..info }, &bytes).unwrap_err();
        assert_eq!(err, "unknown version 5");
    }
}
