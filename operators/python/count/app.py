"""`count` in Python: running count of events per key.

The same operator as the Rust `operators/guests/count`: for each input event,
increments its key's count (keyless events count under the empty key) and
emits an event with the same key (or none) and timestamp whose value is the new
count in decimal ASCII. No config.

State: the counts, format "postcard", version 1 -- the byte layout of the Rust
counter's `KeyedState<u64>` (a varint entry count, then per key in ascending
byte order: varint key length, key bytes, varint count), so a checkpoint of
either restores into the other.

Built by `guestc python` (componentize-py) into target/operators/python-count.wasm.
"""

from itertools import accumulate

from wit_world import exports
from componentize_py_types import Err
from wit_world.imports import log
from wit_world.imports.types import Batch, StateInfo

FORMAT = "postcard"
STATE_VERSION = 1


def _varint(n: int, out: bytearray) -> None:
    """Appends `n` (unsigned) as a LEB128 varint, postcard's integer encoding."""
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Reads a varint at `pos`; returns (value, next position)."""
    n = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def encode_counts(counts: dict) -> bytes:
    """The counts in the Rust counter's snapshot layout."""
    out = bytearray()
    _varint(len(counts), out)
    for key in sorted(counts):
        _varint(len(key), out)
        out += key
        _varint(counts[key], out)
    return bytes(out)


def decode_counts(buf: bytes) -> dict:
    """Inverse of `encode_counts`; every byte must be used."""
    n, pos = _read_varint(buf, 0)
    counts = {}
    for _ in range(n):
        klen, pos = _read_varint(buf, pos)
        if pos + klen > len(buf):
            raise ValueError("truncated key")
        key = bytes(buf[pos : pos + klen])
        pos += klen
        counts[key], pos = _read_varint(buf, pos)
    if pos != len(buf):
        raise ValueError(f"{len(buf) - pos} bytes left over after the state")
    return counts


class _State:
    """The instance's state. It lives at module level: componentize-py may
    create a fresh `Operator` object for every call, so `self` keeps nothing."""

    counts: dict[bytes, int] = {}
    pending = b""  # snapshot bytes not read yet
    restoring: bytearray | None = None  # state bytes being restored
    restore_size = 0


class Operator(exports.Operator):
    """The exported `operator` interface. The component is one instance per
    subtask: init, then process per batch, snapshot and restore at checkpoints."""

    def init(self, config: str) -> None:
        if config.strip() not in ("", "null"):
            raise Err(f"invalid config: count takes none, got {config}")
        log.log(log.Level.DEBUG, "python count ready")

    def process(self, input: Batch) -> Batch:
        if _State.restoring is not None:
            raise Err("process called while a restore is in progress")
        # The fast way in Python: the loop does only what needs one step per
        # event (slice the key, bump its count); whole columns are left to
        # built-ins (join, accumulate) and the input's columns are returned as
        # they came, without a copy.
        keys, counts = input.keys, _State.counts
        get = counts.get  # looked up once, not once per event
        texts = []
        append = texts.append
        start = 0
        for end in input.key_ends:
            key = keys[start:end]
            start = end
            n = get(key, 0) + 1
            counts[key] = n
            append(str(n))
        values = "".join(texts).encode()  # decimal ASCII, all events at once
        value_ends = list(accumulate(map(len, texts)))
        # Keys, their ends, timestamps and keyless events are the input's.
        return Batch(keys, input.key_ends, values, value_ends, input.timestamps, input.keyless)

    def on_watermark(self, ts: int) -> Batch:
        return Batch(b"", [], b"", [], [], [])

    def snapshot(self) -> StateInfo:
        _State.pending = encode_counts(_State.counts)
        return StateInfo(FORMAT, STATE_VERSION, len(_State.pending))

    def snapshot_read(self, max_len: int) -> bytes:
        piece, _State.pending = _State.pending[:max_len], _State.pending[max_len:]
        return piece

    def restore(self, info: StateInfo) -> None:
        if info.format != FORMAT:
            raise Err(f"cannot restore state in format {info.format!r}: count reads {FORMAT!r} only")
        if info.version != STATE_VERSION:
            raise Err(f"cannot restore state version {info.version}: count reads version {STATE_VERSION} only")
        _State.restoring = bytearray()
        _State.restore_size = info.size

    def restore_write(self, bytes: bytes) -> None:
        if _State.restoring is None:
            raise Err("restore-write without restore")
        if len(_State.restoring) + len(bytes) > _State.restore_size:
            _State.restoring = None
            raise Err(f"restore-write: more bytes than the {_State.restore_size} announced")
        _State.restoring += bytes

    def restore_finish(self) -> None:
        if _State.restoring is None:
            raise Err("restore-finish without restore")
        buf, _State.restoring = _State.restoring, None
        if len(buf) != _State.restore_size:
            raise Err(f"restore-finish: {len(buf)} bytes written but the state has {_State.restore_size} bytes")
        try:
            _State.counts = decode_counts(bytes(buf))
        except ValueError as e:
            raise Err(f"state version {STATE_VERSION}: cannot decode state: {e}")
        log.log(log.Level.INFO, f"python count restored {len(_State.counts)} keys")
