"""`filter` in Python: keeps the events whose value contains a substring.

The same operator as the Rust `operators/guests/filter`. Config:
`{"contains": "<substring>", "invert": false}` (`contains` required; `invert`
optional, default false, keeps the events that do *not* contain it). Matching
is on bytes. Events pass through unchanged. Stateless.

Built by `guestc python` (componentize-py) into target/operators/python-filter.wasm.
"""

import json

from wit_world import exports
from componentize_py_types import Err
from wit_world.imports.types import Batch, StateInfo


class _Config:
    """The parsed config. It lives at module level: componentize-py may create
    a fresh `Operator` object for every call, so `self` keeps nothing."""

    needle = b""
    invert = False


class Operator(exports.Operator):
    """The exported `operator` interface."""

    def init(self, config: str) -> None:
        try:
            cfg = json.loads(config) if config.strip() else None
        except ValueError as e:
            raise Err(f"invalid config: {e}")
        if not isinstance(cfg, dict):
            raise Err("invalid config: expected an object with `contains`")
        unknown = set(cfg) - {"contains", "invert"}
        if unknown:
            raise Err(f"invalid config: unknown field `{sorted(unknown)[0]}`")
        if not isinstance(cfg.get("contains"), str):
            raise Err("invalid config: missing field `contains` (a string)")
        if not isinstance(cfg.get("invert", False), bool):
            raise Err("invalid config: `invert` must be true or false")
        _Config.needle = cfg["contains"].encode()
        _Config.invert = cfg.get("invert", False)

    def process(self, input: Batch) -> Batch:
        keys, values = input.keys, input.values
        keyless = set(input.keyless)
        out = Batch(bytearray(), [], bytearray(), [], [], [])
        key_start = value_start = 0
        for i, (key_end, value_end) in enumerate(zip(input.key_ends, input.value_ends)):
            value = values[value_start:value_end]
            if (_Config.needle in value) != _Config.invert:
                if i in keyless:
                    out.keyless.append(len(out.timestamps))
                out.keys += keys[key_start:key_end]
                out.key_ends.append(len(out.keys))
                out.values += value
                out.value_ends.append(len(out.values))
                out.timestamps.append(input.timestamps[i])
            key_start, value_start = key_end, value_end
        out.keys, out.values = bytes(out.keys), bytes(out.values)
        return out

    def on_watermark(self, ts: int) -> Batch:
        return Batch(b"", [], b"", [], [], [])

    # Stateless: an empty snapshot, and only an empty one restores.
    def snapshot(self) -> StateInfo:
        return StateInfo("postcard", 1, 0)  # postcard of "no state": zero bytes, like the Rust filter

    def snapshot_read(self, max_len: int) -> bytes:
        return b""

    def restore(self, info: StateInfo) -> None:
        if info.size != 0:
            raise Err(f"filter is stateless but was handed {info.size} bytes of state")

    def restore_write(self, bytes: bytes) -> None:
        if bytes:
            raise Err("filter is stateless")

    def restore_finish(self) -> None:
        pass
