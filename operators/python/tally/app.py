"""`tally` in Python: running count of events per key, in a module-level dict,
and no snapshot code at all: it runs with `state: memory`, so the host
snapshots the interpreter's memory (see docs/state-memory.md).

For each input event it increments its key's count (keyless events count
under the empty key) and emits an event with the same key (or none) and
timestamp whose value is the new count in decimal ASCII: the same output as
`count`. No config.

Built by `guestc python` (componentize-py) into target/operators/python-tally.wasm.
"""

from wit_world import exports
from componentize_py_types import Err
from wit_world.imports.types import Batch

from memory_state import MemoryState

counts: dict[bytes, int] = {}


class Operator(MemoryState, exports.Operator):
    def init(self, config: str) -> None:
        if config.strip() not in ("", "null"):
            raise Err(f"invalid config: tally takes none, got {config}")

    def process(self, input: Batch) -> Batch:
        keys, key_ends = input.keys, input.key_ends
        values = bytearray()
        value_ends = []
        start = 0
        for end in key_ends:
            key = keys[start:end]
            start = end
            n = counts.get(key, 0) + 1
            counts[key] = n
            values += str(n).encode()
            value_ends.append(len(values))
        return Batch(keys, list(key_ends), bytes(values), value_ends, list(input.timestamps), list(input.keyless))

    def on_watermark(self, ts: int) -> Batch:
        return Batch(b"", [], b"", [], [], [])
